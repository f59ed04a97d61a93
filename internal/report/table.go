package report

import (
	"io"
	"strings"

	"github.com/prfhq/prf/internal/store"
)

// tableFormat is the terminal table: one block per domain, rows grouped by
// category, the message of each failure (fail, error, warn) wrapped under
// its row, then a summary. Lines never exceed the width: the Category,
// Checkpoint, Validation and Owner columns are cut with "…" to fit.
type tableFormat struct{ opt Options }

func (tableFormat) Name() string        { return "table" }
func (tableFormat) ContentType() string { return "text/plain; charset=utf-8" }

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
)

func statusColor(s store.Status) string {
	switch s {
	case store.StatusPass:
		return "\x1b[32m" // green
	case store.StatusFail:
		return "\x1b[1;31m" // bold red
	case store.StatusWarn:
		return "\x1b[33m" // yellow
	case store.StatusError:
		return "\x1b[1;35m" // bold magenta
	case store.StatusSkipped:
		return ansiDim
	case store.StatusPending:
		return "\x1b[36m" // cyan
	}
	return ""
}

// column layout of the table.
const (
	colCategory = iota
	colCheckpoint
	colStatus
	colValidation
	colOwner
	numCols
)

const (
	tableIndent = 2
	tableGap    = 2
)

func (t tableFormat) Write(w io.Writer, rep *Report) error {
	ew := &errWriter{w: w}
	maxW := t.opt.Width
	if maxW <= 0 {
		maxW = DefaultWidth
	}
	paint := func(code, s string) string {
		if !t.opt.Color || code == "" {
			return s
		}
		return code + s + ansiReset
	}

	header := [numCols]string{"CATEGORY", "CHECKPOINT", "STATUS", "VALIDATION", "OWNER"}
	domains := rep.Domains()
	widths := t.widths(header, domains, maxW)

	row := func(cells [numCols]string, status store.Status) string {
		var b strings.Builder
		b.WriteString(strings.Repeat(" ", tableIndent))
		for i, c := range cells {
			if i > 0 {
				b.WriteString(strings.Repeat(" ", tableGap))
			}
			c = truncate(oneLine(c), widths[i])
			padded := pad(c, widths[i])
			if i == colStatus && status != "" {
				padded = paint(statusColor(status), c) + padded[len(c):]
			}
			b.WriteString(padded)
		}
		return strings.TrimRight(b.String(), " ")
	}
	msgIndent := tableIndent + widths[colCategory] + tableGap
	msgWidth := maxW - msgIndent - 2

	if len(domains) == 0 {
		ew.printf("no results\n")
	}
	for di, d := range domains {
		if di > 0 {
			ew.printf("\n")
		}
		ew.printf("%s\n", paint(ansiBold, truncate(oneLine(d.Title()), maxW)))
		ew.printf("%s\n", paint(ansiDim, row(header, "")))
		for _, c := range d.Categories {
			for ri, r := range c.Results {
				cat := ""
				if ri == 0 {
					cat = c.Name
				}
				ew.printf("%s\n", row([numCols]string{cat, checkpointText(r), statusLabel(r.Status), r.Validation, r.Owner}, r.Status))
				if showsMessage(r) {
					for i, line := range wrap(r.Message, msgWidth) {
						mark := "  "
						if i == 0 {
							mark = "↳ "
						}
						ew.printf("%s%s%s\n", strings.Repeat(" ", msgIndent), mark, line)
					}
				}
			}
		}
	}

	verdictColor := "\x1b[1;31m"
	if rep.Verdict() == store.VerdictReady {
		verdictColor = "\x1b[1;32m"
	}
	ew.printf("\n")
	summary := [][2]string{
		{"Summary", rep.CountsText() + " (" + rep.TotalText() + ")"},
		{"Automated", rep.AutomatedText()},
		{"Duration", rep.DurationText()},
		{"Verdict", paint(verdictColor, rep.VerdictText())},
		{"Run", rep.Run.ID},
		{"Checklist", checklistText(rep)},
	}
	if rep.Run.Environment != "" {
		summary = append(summary, [2]string{"Environment", rep.Run.Environment})
	}
	for _, kv := range summary {
		ew.printf("%s%s\n", pad(kv[0], 12), oneLine(kv[1]))
	}
	return ew.err
}

// widths sizes the columns to their widest cell, then narrows the widest
// shrinkable column one cell at a time until a row fits in maxW.
func (t tableFormat) widths(header [numCols]string, domains []Domain, maxW int) [numCols]int {
	var w [numCols]int
	grow := func(cells [numCols]string) {
		for i, c := range cells {
			if n := textWidth(oneLine(c)); n > w[i] {
				w[i] = n
			}
		}
	}
	grow(header)
	for _, d := range domains {
		for _, c := range d.Categories {
			for _, r := range c.Results {
				grow([numCols]string{c.Name, checkpointText(r), statusLabel(r.Status), r.Validation, r.Owner})
			}
		}
	}
	// Narrow to comfortable minimums first, then, on a very narrow
	// terminal, to hard ones. The status column keeps its width.
	for _, floor := range [][numCols]int{{8, 16, w[colStatus], 10, 6}, {3, 8, w[colStatus], 3, 3}} {
		for i := range floor {
			floor[i] = min(floor[i], w[i])
		}
		for {
			total := tableIndent + tableGap*(numCols-1)
			for _, n := range w {
				total += n
			}
			if total <= maxW {
				return w
			}
			best := -1
			for i := range w {
				if w[i] > floor[i] && (best < 0 || w[i] >= w[best]) {
					best = i
				}
			}
			if best < 0 {
				break
			}
			w[best]--
		}
	}
	return w
}

// checklistText is the checklist's name and the start of its digest.
func checklistText(rep *Report) string {
	s := rep.Run.Checklist
	if d := rep.Run.ChecklistDigest; d != "" {
		if len(d) > 12 {
			d = d[:12]
		}
		s += " (sha256 " + d + ")"
	}
	return s
}
