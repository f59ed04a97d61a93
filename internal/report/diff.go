package report

import (
	"io"
	"strings"

	"github.com/prfhq/prf/internal/store"
)

// diffTitleWidth caps the title column of RunDiff.
const diffTitleWidth = 48

// RunDiff writes what changed from run a to run b (`prf runs diff A B`): the
// checkpoints whose status changed (old → new, with the new message), those
// only in b (added) and only in a (removed), then a one-line summary.
// Checkpoints are matched by ID (when a run holds an ID twice, its last
// result counts); changed and added ones are listed in b's report order,
// removed ones in a's.
func RunDiff(w io.Writer, a, b Report) error {
	ew := &errWriter{w: w}
	aRes, aOrder := byID(&a)
	bRes, bOrder := byID(&b)

	var changed, added, removed []*store.Result
	fixed, broken := 0, 0
	for _, id := range bOrder {
		nr := bRes[id]
		or, ok := aRes[id]
		switch {
		case !ok:
			added = append(added, nr)
		case or.Status != nr.Status:
			changed = append(changed, nr)
			if nr.Status == store.StatusPass {
				fixed++
			} else if or.Status == store.StatusPass {
				broken++
			}
		}
	}
	for _, id := range aOrder {
		if _, ok := bRes[id]; !ok {
			removed = append(removed, aRes[id])
		}
	}

	ew.printf("Runs %s → %s\n", orDash(a.Run.ID), orDash(b.Run.ID))
	if a.Run.Checklist != b.Run.Checklist {
		ew.printf("Checklist %s → %s\n", oneLine(orDash(a.Run.Checklist)), oneLine(orDash(b.Run.Checklist)))
	} else if a.Run.ChecklistDigest != b.Run.ChecklistDigest {
		ew.printf("Checklist %s changed (sha256 %s → %s)\n", oneLine(b.Run.Checklist), short(a.Run.ChecklistDigest), short(b.Run.ChecklistDigest))
	}
	verdict := verdictText(a.Verdict()) + " → " + verdictText(b.Verdict())
	if a.Verdict() == b.Verdict() {
		verdict = verdictText(b.Verdict()) + " (unchanged)"
	}
	ew.printf("Verdict %s\n", verdict)

	transition := func(nr *store.Result) string {
		return statusLabel(aRes[nr.ID].Status) + " → " + statusLabel(nr.Status)
	}
	idW, titleW, statusW := 0, 0, 0
	for _, list := range [][]*store.Result{changed, added, removed} {
		for _, r := range list {
			idW = max(idW, textWidth(oneLine(r.ID)))
			titleW = max(titleW, min(diffTitleWidth, textWidth(oneLine(r.Title))))
		}
	}
	for _, r := range changed {
		statusW = max(statusW, textWidth(transition(r)))
	}
	// section lists results under a heading: each with its status and,
	// for a current result that does not pass, its message.
	section := func(heading string, list []*store.Result, status func(*store.Result) string, current bool) {
		if len(list) == 0 {
			return
		}
		ew.printf("\n%s (%d):\n", heading, len(list))
		for _, r := range list {
			s := "  " + pad(oneLine(r.ID), idW) + "  " + pad(truncate(oneLine(r.Title), titleW), titleW) + "  " + pad(status(r), statusW)
			if current && r.Status != store.StatusPass && r.Message != "" {
				s += "  " + oneLine(r.Message)
			}
			ew.printf("%s\n", strings.TrimRight(s, " "))
		}
	}
	section("Changed", changed, transition, true)
	section("Added", added, func(r *store.Result) string { return statusLabel(r.Status) }, true)
	section("Removed", removed, func(r *store.Result) string { return "was " + statusLabel(r.Status) }, false)

	ew.printf("\n%d changed (%d now passing, %d no longer passing), %d added, %d removed; verdict %s\n",
		len(changed), fixed, broken, len(added), len(removed), verdict)
	return ew.err
}

// byID indexes a report's results by checkpoint ID, keeping the last result
// of an ID at the place of its first, in report order.
func byID(rep *Report) (map[string]*store.Result, []string) {
	m := map[string]*store.Result{}
	var order []string
	for _, r := range rep.Ordered() {
		if _, ok := m[r.ID]; !ok {
			order = append(order, r.ID)
		}
		m[r.ID] = r
	}
	return m, order
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return orDash(digest)
}
