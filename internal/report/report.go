// Package report renders a stored run (a store.Run and its results) in the
// output formats PRF offers: table, json, markdown, junit and html. Formats
// read only stored data and write to an io.Writer; the CLI picks one with
// --format and the server picks one by Accept header.
//
// Every format is deterministic for a given input: results are grouped by
// domain in a fixed order (DomainOrder(), then other domains alphabetically),
// within a domain by category in order of first appearance, and otherwise
// keep the order in which they were stored.
//
// Status symbols, shared by every format:
//
//	✅ pass   ❌ fail   ⚠ warn   ❗ error   ⏭ skipped   ☐ pending
package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/prfhq/prf/internal/store"
)

// Report is what every format renders: one stored run and its results.
type Report struct {
	Run     store.Run
	Results []store.Result
	Tool    string // the tool and version that renders it, e.g. "prf v0.3.0"
}

// Format renders a Report.
type Format interface {
	Name() string
	ContentType() string
	Write(w io.Writer, rep *Report) error
}

// Options tune a format. Formats ignore options that do not apply to them.
type Options struct {
	// Color turns on ANSI colour (table only). Off by default.
	Color bool
	// Width is the widest line the table prints (table only); columns are
	// truncated with "…" to fit. 0 means DefaultWidth.
	Width int
}

// DefaultWidth is the table's line width when Options.Width is 0.
const DefaultWidth = 120

// ErrUnknownFormat is returned by Lookup and New for a name not in the table.
var ErrUnknownFormat = errors.New("unknown report format")

type formatDef struct {
	name string
	doc  string
	new  func(Options) Format
}

// formats is the one table of report formats. Add a format by adding its
// file and one row here.
func formats() []formatDef {
	return []formatDef{
		{"table", "terminal table grouped by domain and category, with a summary", func(o Options) Format { return tableFormat{opt: o} }},
		{"json", "one JSON object: the run, a summary and every result", func(Options) Format { return jsonFormat{} }},
		{"markdown", "the checklist document's tables with ✅/❌/⚠/☐, for a pull-request comment", func(Options) Format { return markdownFormat{} }},
		{"junit", "JUnit XML for CI test views (one testsuite per domain)", func(Options) Format { return junitFormat{} }},
		{"html", "one self-contained HTML page", func(Options) Format { return htmlFormat{} }},
	}
}

func init() {
	seen := map[string]bool{}
	for _, f := range formats() {
		if seen[f.name] {
			panic("report: duplicate format " + f.name)
		}
		seen[f.name] = true
	}
}

// Names lists the format names, in table order.
func Names() []string {
	var names []string
	for _, f := range formats() {
		names = append(names, f.name)
	}
	return names
}

// Doc returns the one-line description of a format, for --help.
func Doc(name string) string {
	for _, f := range formats() {
		if f.name == name {
			return f.doc
		}
	}
	return ""
}

// Lookup returns the format with the given name and default options.
func Lookup(name string) (Format, error) { return New(name, Options{}) }

// New returns the format with the given name and options.
func New(name string, opt Options) (Format, error) {
	for _, f := range formats() {
		if f.name == name {
			return f.new(opt), nil
		}
	}
	return nil, fmt.Errorf("%w %q (want one of: %s)", ErrUnknownFormat, name, strings.Join(Names(), ", "))
}

// DomainOrder is the order in which domains are reported; other domains
// follow, alphabetically.
func DomainOrder() []string {
	return []string{
		"infrastructure", "application", "security", "performance", "operations",
		"backup", "compliance", "deployment", "post-deployment", "rollback", "approval",
	}
}

// Counts returns the number of results per status, with every status present.
func (rep *Report) Counts() map[store.Status]int { return store.Summarize(rep.Results) }

// Automated returns how many results came from a probe (Kind != "").
func (rep *Report) Automated() int {
	n := 0
	for i := range rep.Results {
		if !rep.Results[i].Manual() {
			n++
		}
	}
	return n
}

// AutomatedShare is the share of results that came from a probe, in [0, 1];
// 0 when there are no results.
func (rep *Report) AutomatedShare() float64 {
	if len(rep.Results) == 0 {
		return 0
	}
	return float64(rep.Automated()) / float64(len(rep.Results))
}

// Verdict is the run's stored verdict. A run without one (still running, or
// interrupted before it was finished) is not ready; so is a completed run
// without a stored verdict that holds a fail or an error.
func (rep *Report) Verdict() store.Verdict {
	if rep.Run.Verdict != "" {
		return rep.Run.Verdict
	}
	if rep.Run.State != store.RunCompleted {
		return store.VerdictNotReady
	}
	c := rep.Counts()
	if c[store.StatusFail] > 0 || c[store.StatusError] > 0 {
		return store.VerdictNotReady
	}
	return store.VerdictReady
}

// VerdictText is "READY", or "NOT READY" with what blocks the run.
func (rep *Report) VerdictText() string {
	v := verdictText(rep.Verdict())
	if why := rep.blockers(); why != "" {
		v += " (" + why + ")"
	}
	return v
}

// blockers says what keeps a run from being ready, e.g. "interrupted" or
// "blocking: 1 fail, 3 pending".
func (rep *Report) blockers() string {
	if rep.Verdict() == store.VerdictReady {
		return ""
	}
	var parts []string
	if rep.Run.State == store.RunInterrupted {
		parts = append(parts, "interrupted")
	}
	counts := map[store.Status]int{}
	for i := range rep.Results {
		if rep.Results[i].Blocks() {
			counts[rep.Results[i].Status]++
		}
	}
	var bs []string
	for _, st := range store.Statuses {
		if n := counts[st]; n > 0 {
			bs = append(bs, fmt.Sprintf("%d %s", n, st))
		}
	}
	if len(bs) > 0 {
		parts = append(parts, "blocking: "+strings.Join(bs, ", "))
	}
	return strings.Join(parts, "; ")
}

func verdictText(v store.Verdict) string {
	if v == store.VerdictReady {
		return "READY"
	}
	return "NOT READY"
}

// Duration is the run's wall time, and false while it has no end time.
func (rep *Report) Duration() (time.Duration, bool) {
	if rep.Run.FinishedAt == nil {
		return 0, false
	}
	return rep.Run.FinishedAt.Sub(rep.Run.StartedAt), true
}

// DurationText is the run's duration rounded to the millisecond, or the
// run's state when it has no end time.
func (rep *Report) DurationText() string {
	d, ok := rep.Duration()
	if !ok {
		if rep.Run.State == "" {
			return "unknown"
		}
		return string(rep.Run.State)
	}
	return d.Round(time.Millisecond).String()
}

// AutomatedText is e.g. "70% (7 of 10)".
func (rep *Report) AutomatedText() string {
	return fmt.Sprintf("%d%% (%d of %d)", int(math.Round(rep.AutomatedShare()*100)), rep.Automated(), len(rep.Results))
}

// CountsText is e.g. "3 pass, 1 fail, 0 warn, 0 error, 5 skipped (4 not
// configured, 1 disabled), 2 pending".
func (rep *Report) CountsText() string {
	c := rep.Counts()
	parts := make([]string, 0, len(store.Statuses))
	for _, s := range store.Statuses {
		part := fmt.Sprintf("%d %s", c[s], s)
		if s == store.StatusSkipped {
			part += rep.skipDetail()
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// SkipCounts counts skipped results by why they did not run.
func (rep *Report) SkipCounts() map[string]int {
	m := map[string]int{}
	for i := range rep.Results {
		if r := &rep.Results[i]; r.Status == store.StatusSkipped && r.Skip != "" {
			m[r.Skip]++
		}
	}
	return m
}

// skipDetail is " (4 not configured, 1 disabled)", or "" when no skipped
// result was left out on purpose or by --fail-fast.
func (rep *Report) skipDetail() string {
	m := rep.SkipCounts()
	var parts []string
	if n := m[store.SkipNotConfigured]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d not configured", n))
	}
	if n := m[store.SkipDisabled]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d disabled", n))
	}
	if n := m[store.SkipFailFast]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d not run after --fail-fast stopped", n))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// TotalText is "N checkpoints", or "N of M checkpoints" when the run
// planned more checkpoints than it recorded (an interrupted run).
func (rep *Report) TotalText() string {
	n := len(rep.Results)
	if rep.Run.Total > n {
		return fmt.Sprintf("%d of %d checkpoints", n, rep.Run.Total)
	}
	return fmt.Sprintf("%d checkpoints", n)
}

// Category is one category's results, in stored order.
type Category struct {
	Name    string
	Results []*store.Result
}

// Domain is one domain's results, by category.
type Domain struct {
	Name       string
	Categories []Category
}

// Title is the domain's heading, e.g. "Post-Deployment".
func (d Domain) Title() string { return domainTitle(d.Name) }

// Results lists the domain's results in report order.
func (d Domain) Results() []*store.Result {
	var rs []*store.Result
	for _, c := range d.Categories {
		rs = append(rs, c.Results...)
	}
	return rs
}

// Domains groups the results in report order: domains in DomainOrder, then
// others alphabetically; categories in order of first appearance; results in
// stored order.
func (rep *Report) Domains() []Domain {
	var domains []Domain
	idx := map[string]int{}
	catIdx := map[[2]string]int{}
	// Checklist order, whatever order the checks finished in.
	order := make([]int, len(rep.Results))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rep.Results[order[a]].Position < rep.Results[order[b]].Position })
	for _, i := range order {
		r := &rep.Results[i]
		di, ok := idx[r.Domain]
		if !ok {
			di = len(domains)
			idx[r.Domain] = di
			domains = append(domains, Domain{Name: r.Domain})
		}
		d := &domains[di]
		key := [2]string{r.Domain, r.Category}
		ci, ok := catIdx[key]
		if !ok {
			ci = len(d.Categories)
			catIdx[key] = ci
			d.Categories = append(d.Categories, Category{Name: r.Category})
		}
		d.Categories[ci].Results = append(d.Categories[ci].Results, r)
	}
	sort.SliceStable(domains, func(i, j int) bool { return domainLess(domains[i].Name, domains[j].Name) })
	return domains
}

// Ordered lists the results in report order (see Domains).
func (rep *Report) Ordered() []*store.Result {
	var rs []*store.Result
	for _, d := range rep.Domains() {
		rs = append(rs, d.Results()...)
	}
	return rs
}

func domainRank(name string) int {
	n := strings.ToLower(name)
	order := DomainOrder()
	for i, d := range order {
		if d == n {
			return i
		}
	}
	return len(order)
}

func domainLess(a, b string) bool {
	ra, rb := domainRank(a), domainRank(b)
	if ra != rb {
		return ra < rb
	}
	return a < b
}

// domainTitle turns "post-deployment" into "Post-Deployment".
func domainTitle(name string) string {
	if name == "" {
		return "(no domain)"
	}
	b := []rune(name)
	up := true
	for i, r := range b {
		if up {
			b[i] = []rune(strings.ToUpper(string(r)))[0]
		}
		up = r == '-' || r == ' ' || r == '_' || r == '/'
	}
	return string(b)
}

// symbol is each status's mark, shared by every format.
func symbol(s store.Status) string {
	switch s {
	case store.StatusPass:
		return "✅"
	case store.StatusFail:
		return "❌"
	case store.StatusWarn:
		return "⚠"
	case store.StatusError:
		return "❗"
	case store.StatusSkipped:
		return "⏭"
	case store.StatusPending:
		return "☐"
	}
	return "?"
}

// statusLabel is the symbol and the status, e.g. "✅ pass".
func statusLabel(s store.Status) string {
	if s == "" {
		s = "unknown"
	}
	return symbol(s) + " " + string(s)
}

// showsMessage reports whether a result's message is shown with its row in
// the table, markdown and progress formats: a failure of any kind.
func showsMessage(r *store.Result) bool {
	if r.Message == "" {
		return false
	}
	switch r.Status {
	case store.StatusFail, store.StatusError, store.StatusWarn:
		return true
	}
	return false
}

// formatMS renders a duration in milliseconds: "0.4ms", "12ms", "1.25s".
func formatMS(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	default:
		return fmt.Sprintf("%.2fs", ms/1000)
	}
}

// checkpointText is "ID title".
func checkpointText(r *store.Result) string {
	if r.Title == "" {
		return r.ID
	}
	return r.ID + " " + r.Title
}

// errWriter keeps the first write error so renderers can write freely and
// check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
