package risk

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestCheckPriorities(t *testing.T) {
	h := []CheckRun{
		{Ran: []string{"a", "b"}, Failed: map[string]bool{"a": true}},
		{Ran: []string{"a", "b"}, Failed: map[string]bool{}},
		{Ran: []string{"a", "b", "c"}, Failed: map[string]bool{"b": true}},
	}
	p := CheckPriorities(h)
	w := func(age int) float64 { return math.Exp2(-float64(age) / CheckHalfLife) }
	ran := 2*(w(2)+w(1)) + 3*w(0)
	base := (w(2) + w(0)) / ran
	for id, want := range map[string]float64{
		"a": (w(2) + base) / (w(2) + w(1) + w(0) + 1),
		"b": (w(0) + base) / (w(2) + w(1) + w(0) + 1), // the recent failure weighs more
		"c": base / (w(0) + 1),
	} {
		if math.Abs(p[id]-want) > 1e-12 {
			t.Errorf("%s: %v, want %v", id, p[id], want)
		}
	}
	if !(p["b"] > p["a"] && p["a"] > p["c"]) {
		t.Errorf("order %v", p)
	}
	if got := Order([]string{"c", "a", "b", "new"}, p); fmt.Sprint(got) != "[b a c new]" {
		t.Errorf("Order = %v", got)
	}
}

// runs draws a history of 50 checkpoints in file order where the
// checkpoints in hot (late in the file) fail often and the rest rarely.
func runs(n int, hot map[string]float64, seed uint64) []CheckRun {
	rng := rand.New(rand.NewPCG(seed, 9))
	var ids []string
	for i := range 50 {
		ids = append(ids, fmt.Sprintf("cp%02d", i))
	}
	out := make([]CheckRun, n)
	for k := range out {
		out[k] = CheckRun{Ran: ids, Failed: map[string]bool{}}
		for _, id := range ids {
			p := 0.01
			if v, ok := hot[id]; ok {
				p = v
			}
			if rng.Float64() < p {
				out[k].Failed[id] = true
			}
		}
	}
	return out
}

func TestReplay(t *testing.T) {
	// Two checkpoints near the end of the file fail in most runs: learnt
	// from the runs before, priority order finds them at once.
	r := Replay(runs(60, map[string]float64{"cp45": 0.6, "cp40": 0.3}, 1))
	if r.Runs < 30 || r.Saved() < 0.5 || r.Earlier <= 3*r.Later {
		t.Errorf("%+v saved %.2f: want most of the checks before the first failure saved", r, r.Saved())
	}
	// No pattern: every checkpoint equally likely to fail. Priority order
	// cannot help much; it must not hurt much either.
	r = Replay(runs(200, nil, 2))
	if r.Saved() < -0.25 {
		t.Errorf("%+v saved %.2f on a history without pattern", r, r.Saved())
	}
	if r := Replay(nil); r.Runs != 0 || r.Saved() != 0 {
		t.Errorf("empty history: %+v", r)
	}
}
