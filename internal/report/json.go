package report

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/prfhq/prf/internal/store"
)

// jsonFormat writes one indented JSON object: the run, its summary and every
// result in report order. Every key is always present (empty lists are [],
// missing values null), so consumers need no special cases.
type jsonFormat struct{}

func (jsonFormat) Name() string        { return "json" }
func (jsonFormat) ContentType() string { return "application/json" }

// JSONReport is the document the json format writes.
type JSONReport struct {
	Tool            string         `json:"tool"`
	RunID           string         `json:"run_id"`
	Checklist       string         `json:"checklist"`
	ChecklistSHA256 string         `json:"checklist_sha256"`
	ChecklistFile   string         `json:"checklist_file"`
	Environment     string         `json:"environment"`
	Host            string         `json:"host"`
	StartedAt       time.Time      `json:"started_at"`
	FinishedAt      *time.Time     `json:"finished_at"`
	DurationMS      *float64       `json:"duration_ms"`
	State           store.RunState `json:"state"`
	Verdict         store.Verdict  `json:"verdict"`
	Total           int            `json:"total"`
	Summary         Summary        `json:"summary"`
	Skipped         map[string]int `json:"skipped_by"` // skipped results by why: dependency, not_configured, disabled
	Automated       int            `json:"automated"`
	AutomatedShare  float64        `json:"automated_share"`
	Results         []JSONResult   `json:"results"`
}

// JSONResult is one result in the json format.
type JSONResult struct {
	ID          string          `json:"id"`
	Title       string          `json:"title"`
	Source      string          `json:"source,omitempty"`
	Domain      string          `json:"domain"`
	Category    string          `json:"category"`
	Owner       string          `json:"owner"`
	Severity    string          `json:"severity"`
	Mode        string          `json:"mode"`
	Kind        string          `json:"kind"`
	Manual      bool            `json:"manual"`
	Validation  string          `json:"validation"`
	Status      store.Status    `json:"status"`
	Skip        string          `json:"skip,omitempty"`
	Message     string          `json:"message"`
	StartedAt   *time.Time      `json:"started_at"` // null when it never ran
	DurationMS  float64         `json:"duration_ms"`
	Attempts    int             `json:"attempts"`
	Expect      string          `json:"expect"`
	Values      json.RawMessage `json:"values"`
	Observation json.RawMessage `json:"observation"`
	Controls    []string        `json:"controls"`
	Tags        []string        `json:"tags"`
	Log         []string        `json:"log"`
}

// Summary counts results by status; it encodes as an object with every
// status, in store.Statuses order.
type Summary map[store.Status]int

// MarshalJSON writes the statuses in store.Statuses order, then any other
// status found, in sorted order.
func (s Summary) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, st := range store.Statuses {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(string(st))
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(s[st]))
	}
	var extra []string
	for st := range s {
		if !knownStatus(st) {
			extra = append(extra, string(st))
		}
	}
	slices.Sort(extra)
	for _, st := range extra {
		k, _ := json.Marshal(st)
		b.WriteByte(',')
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(s[store.Status(st)]))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func knownStatus(s store.Status) bool {
	for _, st := range store.Statuses {
		if st == s {
			return true
		}
	}
	return false
}

// JSON builds the json format's document.
func (rep *Report) JSON() JSONReport {
	doc := JSONReport{
		Tool:            rep.Tool,
		RunID:           rep.Run.ID,
		Checklist:       rep.Run.Checklist,
		ChecklistSHA256: rep.Run.ChecklistDigest,
		ChecklistFile:   rep.Run.ChecklistFile,
		Environment:     rep.Run.Environment,
		Host:            rep.Run.Host,
		StartedAt:       rep.Run.StartedAt,
		FinishedAt:      rep.Run.FinishedAt,
		State:           rep.Run.State,
		Verdict:         rep.Verdict(),
		Total:           max(rep.Run.Total, len(rep.Results)),
		Summary:         Summary(rep.Counts()),
		Skipped:         rep.SkipCounts(),
		Automated:       rep.Automated(),
		AutomatedShare:  roundTo(rep.AutomatedShare(), 4),
		Results:         []JSONResult{},
	}
	if d, ok := rep.Duration(); ok {
		ms := roundTo(float64(d)/float64(time.Millisecond), 3)
		doc.DurationMS = &ms
	}
	for _, r := range rep.Ordered() {
		doc.Results = append(doc.Results, JSONResult{
			ID:          r.ID,
			Title:       r.Title,
			Source:      r.Source,
			Skip:        r.Skip,
			Domain:      r.Domain,
			Category:    r.Category,
			Owner:       r.Owner,
			Severity:    r.Severity,
			Mode:        r.Mode,
			Kind:        r.Kind,
			Manual:      r.Manual(),
			Validation:  r.Validation,
			Status:      r.Status,
			Message:     r.Message,
			StartedAt:   timePtr(r.StartedAt),
			DurationMS:  r.DurationMS,
			Attempts:    r.Attempts,
			Expect:      r.Expect,
			Values:      rawJSON(r.Values),
			Observation: rawJSON(r.Observation),
			Controls:    nonNil(r.Controls),
			Tags:        nonNil(r.Tags),
			Log:         nonNil(r.Log),
		})
	}
	return doc
}

func (jsonFormat) Write(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep.JSON())
}

// rawJSON passes stored JSON through; empty becomes null, and bytes that
// are not valid JSON become a JSON string, so one bad row cannot break the
// document.
func rawJSON(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("null")
	}
	if !json.Valid(b) {
		s, _ := json.Marshal(string(b))
		return s
	}
	return b
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func roundTo(f float64, places int) float64 {
	p, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', places, 64), 64)
	return p
}
