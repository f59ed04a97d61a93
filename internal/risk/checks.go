package risk

import (
	"cmp"
	"math"
	"slices"
)

// Check prioritization: run first the checkpoints most likely to fail, so
// that a run with --fail-fast stops as early as it can.

// CheckRun is one past run as prioritization sees it: which checkpoints
// it ran and which of those failed (fail or error).
type CheckRun struct {
	Ran    []string
	Failed map[string]bool
}

// CheckHalfLife is how many runs back a failure weighs half as much as
// one in the latest run.
const CheckHalfLife = 5.0

// CheckPriorities estimates, for each checkpoint seen in history (oldest
// run first), its probability of failing in the next run: recency-
// weighted failures over recency-weighted runs, smoothed toward the
// history's overall failure rate by one pseudo-run (so a checkpoint seen
// once does not jump to 0 or 1).
func CheckPriorities(history []CheckRun) map[string]float64 {
	type acc struct{ fail, ran float64 }
	by := map[string]*acc{}
	var allFail, allRan float64
	for k, r := range history {
		w := math.Exp2(-float64(len(history)-1-k) / CheckHalfLife)
		for _, id := range r.Ran {
			a := by[id]
			if a == nil {
				a = &acc{}
				by[id] = a
			}
			a.ran += w
			allRan += w
			if r.Failed[id] {
				a.fail += w
				allFail += w
			}
		}
	}
	base := 0.0
	if allRan > 0 {
		base = allFail / allRan
	}
	out := make(map[string]float64, len(by))
	for id, a := range by {
		out[id] = (a.fail + base) / (a.ran + 1)
	}
	return out
}

// Order puts ids (in file order) in priority order: highest first, ties
// in file order. Checkpoints without history keep priority 0.
func Order(ids []string, prio map[string]float64) []string {
	out := slices.Clone(ids)
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(prio[b], prio[a]) })
	return out
}

// ReplayReport says how much earlier prioritization finds a run's first
// failure, replayed over history: each run is ordered by the priorities
// learnt from the runs before it only.
type ReplayReport struct {
	Runs        int `json:"runs"`         // runs with at least one failure, after the first
	FileChecks  int `json:"file_checks"`  // checks run up to and including the first failure, in file order, summed
	PrioChecks  int `json:"prio_checks"`  // the same in priority order
	Earlier     int `json:"earlier"`      // runs where priority order found it sooner
	Later       int `json:"later"`        // ... later
	TotalChecks int `json:"total_checks"` // checks in those runs, summed
}

// Saved is the share of checks before the first failure that priority
// order saves over file order.
func (r ReplayReport) Saved() float64 {
	if r.FileChecks == 0 {
		return 0
	}
	return 1 - float64(r.PrioChecks)/float64(r.FileChecks)
}

// Replay measures prioritization on history (oldest first), one
// checkpoint at a time, as with --concurrency 1 --fail-fast.
func Replay(history []CheckRun) ReplayReport {
	var rep ReplayReport
	for k := 1; k < len(history); k++ {
		r := history[k]
		first := func(order []string) int {
			for i, id := range order {
				if r.Failed[id] {
					return i + 1
				}
			}
			return 0
		}
		f := first(r.Ran)
		if f == 0 {
			continue
		}
		p := first(Order(r.Ran, CheckPriorities(history[:k])))
		rep.Runs++
		rep.FileChecks += f
		rep.PrioChecks += p
		rep.TotalChecks += len(r.Ran)
		switch {
		case p < f:
			rep.Earlier++
		case p > f:
			rep.Later++
		}
	}
	return rep
}
