package risk

import (
	"math"
	"slices"

	"github.com/prfhq/prf/internal/change"
)

// HistoryWindow is how many earlier changes of the same project a change's
// experience metrics are ranked against.
const HistoryWindow = 2000

// experienceFeatures are the metrics that grow with a project's age (its
// developers, files and authors accumulate history): NDEV, AGE, NUC, EXP,
// REXP, SEXP. A threshold learnt on 2015's values is stale in 2018, so
// the ensemble sees them as ranks among the project's recent changes.
var experienceFeatures = [...]int{int(change.NDEV), int(change.AGE), int(change.NUC), int(change.EXP), int(change.REXP), int(change.SEXP)}

// RankHistory returns a copy of time-ordered rows of one project in which
// each experience metric is replaced by its rank among the same metric of
// the HistoryWindow changes before it: the share of them below it, ties
// counting one half, 0.5 for the first change. It reads no label, only
// earlier changes, so a change can be ranked the moment it is made.
func RankHistory(rows []Row) []Row {
	out := slices.Clone(rows)
	for _, j := range experienceFeatures {
		vals := make([]float64, len(rows))
		for i := range rows {
			vals[i] = rows[i].X[j]
		}
		for i, r := range rollingRanks(vals, HistoryWindow) {
			out[i].X[j] = r
		}
	}
	return out
}

// History is a repository's change metrics, oldest first, and the same
// with the experience metrics ranked (RankHistory), computed once for
// every release measured in it.
type History struct {
	Raw, Ranked [][NumFeatures]float64
}

// NewHistory ranks a repository's change metrics (oldest first).
func NewHistory(raw [][NumFeatures]float64) *History {
	rows := make([]Row, len(raw))
	for i := range raw {
		rows[i].X = raw[i]
	}
	h := &History{Raw: raw, Ranked: make([][NumFeatures]float64, len(raw))}
	for i, r := range RankHistory(rows) {
		h.Ranked[i] = r.X
	}
	return h
}

// rollingRanks ranks each value among the window values before it, with
// a Fenwick tree over the compressed values: O(n log n).
func rollingRanks(vals []float64, window int) []float64 {
	sorted := slices.Clone(vals)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	pos := func(v float64) int { i, _ := slices.BinarySearch(sorted, v); return i }
	tree := make([]int, len(sorted)+1)
	add := func(i, d int) {
		for i++; i < len(tree); i += i & -i {
			tree[i] += d
		}
	}
	prefix := func(i int) int { // count of compressed indexes < i
		s := 0
		for ; i > 0; i -= i & -i {
			s += tree[i]
		}
		return s
	}
	out := make([]float64, len(vals))
	for i, v := range vals {
		n := min(i, window)
		if n == 0 {
			out[i] = 0.5
		} else {
			p := pos(v)
			below := prefix(p)
			eq := prefix(p+1) - below
			out[i] = (float64(below) + 0.5*float64(eq)) / float64(n)
		}
		add(pos(v), 1)
		if i >= window {
			add(pos(vals[i-window]), -1)
		}
	}
	return out
}

// RecencyHalfLife is the age, as a share of the training span, at which a
// change weighs half as much as the latest one when the ensemble's trees
// are fitted.
const RecencyHalfLife = 0.5

// recencyWeights weighs time-ordered rows by 2^(−age/half), age being the
// row's distance from the latest row as a share of the rows' time span.
func recencyWeights(rows []Row, half float64) []float64 {
	w := make([]float64, len(rows))
	t0, t1 := float64(rows[0].Time), float64(rows[len(rows)-1].Time)
	for i := range rows {
		if t1 <= t0 {
			w[i] = 1
			continue
		}
		w[i] = math.Exp2(-(t1 - float64(rows[i].Time)) / (t1 - t0) / half)
	}
	return w
}
