package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/prfhq/prf/internal/store"
)

// htmlFormat writes one self-contained HTML page: inline CSS that follows
// the reader's light or dark scheme, no scripts, no external assets. A
// summary header with the verdict and counts, then one table per domain;
// every result's message shows under its title and its expectation, values,
// observation and log sit in a <details>. html/template escapes all text.
type htmlFormat struct{}

func (htmlFormat) Name() string        { return "html" }
func (htmlFormat) ContentType() string { return "text/html; charset=utf-8" }

//go:embed html.tmpl
var htmlTemplate string

type htmlPage struct {
	Title, Tool, RunID, Checklist, Environment, State, Started string
	Verdict, VerdictClass, Duration, Total, Automated          string
	Counts                                                     []htmlCount
	Domains                                                    []htmlDomain
}

type htmlCount struct {
	Class, Label string
	N            int
}

type htmlDomain struct {
	Title string
	Rows  []htmlRow
}

type htmlRow struct {
	Category, ID, Title, Class, Status, Message, Validation, Owner, Duration string
	Severity, Mode, Kind, Controls, Tags, Expect, Values, Observation, Log   string
	Attempts                                                                 int
	HasDetails                                                               bool
}

func (htmlFormat) Write(w io.Writer, rep *Report) error {
	tmpl, err := template.New("report").Parse(htmlTemplate)
	if err != nil {
		return fmt.Errorf("html: %w", err)
	}
	page := htmlPage{
		Title:        "Production readiness",
		Tool:         rep.Tool,
		RunID:        rep.Run.ID,
		Checklist:    checklistText(rep),
		Environment:  rep.Run.Environment,
		State:        string(rep.Run.State),
		Started:      "–",
		Verdict:      rep.VerdictText(),
		VerdictClass: string(rep.Verdict()),
		Duration:     rep.DurationText(),
		Total:        rep.TotalText(),
		Automated:    rep.AutomatedText(),
	}
	if rep.Run.Checklist != "" {
		page.Title += ": " + rep.Run.Checklist
	}
	if !rep.Run.StartedAt.IsZero() {
		page.Started = rep.Run.StartedAt.UTC().Format(time.DateTime) + " UTC"
	}
	counts := rep.Counts()
	for _, s := range store.Statuses {
		page.Counts = append(page.Counts, htmlCount{Class: string(s), Label: statusLabel(s), N: counts[s]})
	}
	for _, d := range rep.Domains() {
		hd := htmlDomain{Title: d.Title()}
		for _, c := range d.Categories {
			for i, r := range c.Results {
				row := htmlRow{
					ID:          r.ID,
					Title:       r.Title,
					Class:       statusClass(r.Status),
					Status:      statusLabel(r.Status),
					Message:     r.Message,
					Validation:  r.Validation,
					Owner:       r.Owner,
					Duration:    durationCell(r),
					Severity:    orDash(r.Severity),
					Mode:        orDash(r.Mode),
					Kind:        r.Kind,
					Controls:    strings.Join(r.Controls, ", "),
					Tags:        strings.Join(r.Tags, ", "),
					Expect:      r.Expect,
					Values:      prettyJSON(r.Values),
					Observation: prettyJSON(r.Observation),
					Log:         strings.Join(r.Log, "\n"),
					Attempts:    r.Attempts,
					HasDetails:  true,
				}
				if row.Kind == "" {
					row.Kind = "manual"
				}
				if i == 0 {
					row.Category = c.Name
				}
				hd.Rows = append(hd.Rows, row)
			}
		}
		page.Domains = append(page.Domains, hd)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// durationCell is the result's duration, or "–" when it did not run.
func durationCell(r *store.Result) string {
	if r.DurationMS <= 0 && r.Attempts == 0 {
		return "–"
	}
	return formatMS(r.DurationMS)
}

// statusClass is the CSS class of a status: the status itself when known.
func statusClass(s store.Status) string {
	if knownStatus(s) {
		return string(s)
	}
	return "unknown"
}

// prettyJSON indents stored JSON; empty or null gives "", invalid JSON is
// shown as it is.
func prettyJSON(b json.RawMessage) string {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || string(t) == "null" {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, t, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}
