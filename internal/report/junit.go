package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/prfhq/prf/internal/store"
)

// junitFormat writes JUnit XML as GitLab, Jenkins and GitHub test views
// read it: <testsuites> holding one <testsuite> per domain (report order),
// each with the run's properties and one <testcase> per result, classname
// "domain.category" (category lower-cased, other characters as "_") and
// name "ID title".
//
//	fail    → <failure message=… type=severity>
//	error   → <error message=… type=severity>
//	skipped → <skipped message="skipped: …">
//	pending → <skipped message="pending: …">
//	warn    → passes; <system-out> starts with "warning: …"
//
// A result's log lines go to its <system-out>.
type junitFormat struct{}

func (junitFormat) Name() string        { return "junit" }
func (junitFormat) ContentType() string { return "application/xml" }

type junitTestsuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	ID         int             `xml:"id,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	Skipped   *junitSkipped `xml:"skipped"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func (junitFormat) Write(w io.Writer, rep *Report) error {
	doc := junitTestsuites{Name: "prf"}
	if rep.Run.Checklist != "" {
		doc.Name = "prf: " + rep.Run.Checklist
	}
	props := []junitProperty{
		{"run_id", rep.Run.ID},
		{"checklist", rep.Run.Checklist},
		{"checklist_sha256", rep.Run.ChecklistDigest},
		{"environment", rep.Run.Environment},
		{"state", string(rep.Run.State)},
		{"verdict", string(rep.Verdict())},
		{"automated_share", strconv.FormatFloat(roundTo(rep.AutomatedShare(), 4), 'f', -1, 64)},
		{"tool", rep.Tool},
	}
	timestamp := ""
	if !rep.Run.StartedAt.IsZero() {
		timestamp = rep.Run.StartedAt.UTC().Format("2006-01-02T15:04:05")
	}
	var sumMS float64
	for i, d := range rep.Domains() {
		s := junitSuite{Name: d.Name, ID: i, Timestamp: timestamp, Hostname: rep.Run.Host, Properties: props}
		var suiteMS float64
		for _, r := range d.Results() {
			c := junitCase{
				Classname: orDash(d.Name) + "." + classPart(r.Category),
				Name:      checkpointText(r),
				Time:      seconds(r.DurationMS),
			}
			var out []string
			switch r.Status {
			case store.StatusPass:
			case store.StatusWarn:
				out = append(out, "warning: "+r.Message)
			case store.StatusFail:
				c.Failure = &junitProblem{Message: r.Message, Type: problemType(r), Body: problemBody(r)}
				s.Failures++
			case store.StatusSkipped, store.StatusPending:
				c.Skipped = &junitSkipped{Message: prefixed(string(r.Status), r.Message)}
				s.Skipped++
			default: // error, or a status this version does not know
				c.Error = &junitProblem{Message: r.Message, Type: problemType(r), Body: problemBody(r)}
				s.Errors++
			}
			out = append(out, r.Log...)
			c.SystemOut = strings.Join(out, "\n")
			s.Tests++
			suiteMS += r.DurationMS
			s.Cases = append(s.Cases, c)
		}
		s.Time = seconds(suiteMS)
		sumMS += suiteMS
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	if d, ok := rep.Duration(); ok {
		doc.Time = seconds(float64(d) / float64(time.Millisecond))
	} else {
		doc.Time = seconds(sumMS)
	}

	ew := &errWriter{w: w}
	ew.printf("%s", xml.Header)
	enc := xml.NewEncoder(ew)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	ew.printf("\n")
	return ew.err
}

// classPart makes a category usable in a dotted classname: "API Gateway"
// becomes "api_gateway"; runs of other characters than a-z and 0-9 become
// one "_".
func classPart(category string) string {
	var b strings.Builder
	gap := false
	for _, r := range strings.ToLower(category) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if gap && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			gap = false
		} else {
			gap = true
		}
	}
	s := b.String()
	if s == "" {
		return "uncategorized"
	}
	return s
}

func problemType(r *store.Result) string {
	if r.Severity != "" {
		return r.Severity
	}
	return string(r.Status)
}

// problemBody is the text of a <failure> or <error>: the message, then what
// was judged.
func problemBody(r *store.Result) string {
	lines := []string{r.Message}
	if r.Expect != "" {
		lines = append(lines, "expect: "+r.Expect)
	}
	if v := strings.TrimSpace(string(r.Values)); v != "" && v != "null" {
		lines = append(lines, "values: "+v)
	}
	lines = append(lines,
		fmt.Sprintf("severity: %s, mode: %s, attempts: %d", orDash(r.Severity), orDash(r.Mode), r.Attempts))
	if r.Validation != "" {
		lines = append(lines, "validation: "+r.Validation)
	}
	if r.Owner != "" {
		lines = append(lines, "owner: "+r.Owner)
	}
	return strings.Join(lines, "\n")
}

func prefixed(prefix, msg string) string {
	if msg == "" {
		return prefix
	}
	return prefix + ": " + msg
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// seconds renders milliseconds as seconds with three decimals.
func seconds(ms float64) string { return strconv.FormatFloat(ms/1000, 'f', 3, 64) }
