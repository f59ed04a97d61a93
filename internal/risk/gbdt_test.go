package risk

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// nonlinearRows are changes whose risk depends on an interaction of LA
// and EXP and a threshold on NF, with label noise.
func nonlinearRows(n int, seed uint64) []Row {
	rng := rand.New(rand.NewPCG(seed, 7))
	rows := make([]Row, n)
	for i := range rows {
		rows[i].Time = int64(i)
		for j := range rows[i].X {
			rows[i].X[j] = float64(rng.IntN(200))
		}
		s := 0.0
		if rows[i].X[featLA] > 100 && rows[i].X[11] < 80 {
			s += 2
		}
		if rows[i].X[2] > 150 {
			s += 1
		}
		rows[i].Label = rng.Float64() < sigmoid(s-1.5)
	}
	return rows
}

func TestGBDTLearnsSeparable(t *testing.T) {
	rows := toyRows(2000)
	m, err := TrainGBDT(rows, nil, GBDTOptions{MaxTrees: 50})
	if err != nil {
		t.Fatal(err)
	}
	if auc := AUC(scores(rows, m.Logit), labelsOf(rows)); auc < 0.999 {
		t.Errorf("training AUC %.4f on a separable toy, want ~1", auc)
	}
}

func TestGBDTDeterministicAndEarlyStopping(t *testing.T) {
	rows := nonlinearRows(3000, 1)
	fit, val := rows[:2400], rows[2400:]
	a, err := TrainGBDTSelect(fit, val)
	if err != nil {
		t.Fatal(err)
	}
	b, err := TrainGBDTSelect(fit, val)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("two trainings on the same rows differ")
	}
	if len(a.Trees) == 0 || len(a.Trees) >= a.Options.MaxTrees { // early stopping stopped
		t.Errorf("%d trees kept", len(a.Trees))
	}
	if a.ValAUC < 0.7 {
		t.Errorf("validation AUC %.3f on a learnable toy", a.ValAUC)
	}
	for _, tr := range a.Trees {
		if d := tr.depth(0); d > a.Options.MaxDepth {
			t.Errorf("tree of depth %d, max %d", d, a.Options.MaxDepth)
		}
		for _, n := range tr.Nodes {
			if n.Feature < 0 && n.Cover < float64(a.Options.MinLeaf) {
				t.Errorf("leaf with %v rows, min %d", n.Cover, a.Options.MinLeaf)
			}
		}
	}
}

func TestTreeSHAPSumsToOutput(t *testing.T) {
	rows := nonlinearRows(3000, 2)
	m, err := TrainGBDT(rows[:2400], nil, GBDTOptions{MaxDepth: 5, MaxTrees: 150})
	if err != nil {
		t.Fatal(err)
	}
	ev := m.ExpectedValue()
	// The expected value is the mean logit over the training rows.
	mean := 0.0
	for i := range rows[:2400] {
		mean += m.Logit(&rows[i].X)
	}
	mean /= 2400
	if math.Abs(mean-ev) > 1e-9 {
		t.Errorf("expected value %v, mean training logit %v", ev, mean)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	worst := 0.0
	for k := 0; k < 200; k++ {
		var x [NumFeatures]float64
		for j := range x {
			x[j] = float64(rng.IntN(250))
		}
		phi := m.SHAP(&x)
		s := ev
		for _, p := range phi {
			s += p
		}
		worst = math.Max(worst, math.Abs(s-m.Logit(&x)))
	}
	if worst > 1e-9 {
		t.Errorf("SHAP sum misses logit − expected value by up to %g", worst)
	}
	t.Logf("%d trees: SHAP + E[f] = f(x) within %.1e on 200 random rows", len(m.Trees), worst)
}

// bruteShapley computes the Shapley values of the tree's path-dependent
// conditional expectation (the value function TreeSHAP explains) by
// enumerating every coalition of the features used.
func bruteShapley(t *Tree, z *[NumFeatures]float64, feats []int) map[int]float64 {
	var cond func(i int, in map[int]bool) float64
	cond = func(i int, in map[int]bool) float64 {
		n := &t.Nodes[i]
		if n.Feature < 0 {
			return n.Value
		}
		if in[n.Feature] {
			if z[n.Feature] <= n.Threshold {
				return cond(int(n.Left), in)
			}
			return cond(int(n.Right), in)
		}
		l, r := &t.Nodes[n.Left], &t.Nodes[n.Right]
		return (l.Cover*cond(int(n.Left), in) + r.Cover*cond(int(n.Right), in)) / n.Cover
	}
	fact := func(k int) float64 {
		f := 1.0
		for i := 2; i <= k; i++ {
			f *= float64(i)
		}
		return f
	}
	m := len(feats)
	phi := map[int]float64{}
	for _, f := range feats {
		for mask := 0; mask < 1<<m; mask++ {
			in := map[int]bool{}
			size := 0
			skip := false
			for b, g := range feats {
				if mask&(1<<b) != 0 {
					if g == f {
						skip = true
					}
					in[g] = true
					size++
				}
			}
			if skip {
				continue
			}
			without := cond(0, in)
			in[f] = true
			with := cond(0, in)
			phi[f] += fact(size) * fact(m-size-1) / fact(m) * (with - without)
		}
	}
	return phi
}

func TestTreeSHAPMatchesBruteForce(t *testing.T) {
	// Features 0, 1, 2 (NS, ND, NF); feature 0 splits twice on one path,
	// which exercises unwinding. Thresholds are in log1p space.
	tr := Tree{Nodes: []TreeNode{
		{Feature: 0, Threshold: 1, Left: 1, Right: 2, Cover: 100},
		{Feature: 1, Threshold: 2, Left: 3, Right: 4, Cover: 60},
		{Feature: 2, Threshold: 0.5, Left: 5, Right: 6, Cover: 40},
		{Feature: 0, Threshold: 0.3, Left: 7, Right: 8, Cover: 35},
		{Feature: -1, Value: 1.5, Cover: 25},
		{Feature: -1, Value: -2, Cover: 10},
		{Feature: 1, Threshold: 1, Left: 9, Right: 10, Cover: 30},
		{Feature: -1, Value: 0.25, Cover: 20},
		{Feature: -1, Value: -0.75, Cover: 15},
		{Feature: -1, Value: 3, Cover: 12},
		{Feature: -1, Value: 0.5, Cover: 18},
	}}
	g := &GBDT{Base: 0.1, Trees: []Tree{tr}}
	feats := []int{0, 1, 2}
	raws := []float64{0, 0.2, 1, 2, 5, 20}
	worst := 0.0
	cases := 0
	for _, a := range raws {
		for _, b := range raws {
			for _, c := range raws {
				var x [NumFeatures]float64
				x[0], x[1], x[2] = a, b, c
				z := transform(&x)
				got := g.SHAP(&x)
				want := bruteShapley(&tr, &z, feats)
				for j := range got {
					d := math.Abs(got[j] - want[j])
					worst = math.Max(worst, d)
					if d > 1e-12 {
						t.Errorf("x=%v feature %d: TreeSHAP %v, brute force %v", x[:3], j, got[j], want[j])
					}
				}
				sum := g.ExpectedValue()
				for _, p := range got {
					sum += p
				}
				if math.Abs(sum-g.Logit(&x)) > 1e-12 {
					t.Errorf("x=%v: SHAP sum %v, logit %v", x[:3], sum, g.Logit(&x))
				}
				cases++
			}
		}
	}
	t.Logf("TreeSHAP = brute-force Shapley on %d points within %.1e", cases, worst)
}

func TestTrainGBDTAndAuto(t *testing.T) {
	ds := &Dataset{Rows: nonlinearRows(4000, 5)}
	for _, kind := range []string{ModelGBDT, ModelAuto} {
		r, err := Evaluate(ds, EvalOptions{Model: kind})
		if err != nil {
			t.Fatal(kind, err)
		}
		if r.AUC < 0.65 {
			t.Errorf("%s: test AUC %.3f on a learnable toy", kind, r.AUC)
		}
		if kind == ModelAuto && r.Model != "auto:gbdt" && r.Model != "auto:lr" {
			t.Errorf("auto reported model %q", r.Model)
		}
	}
}

// Nodes of parallelFill rows or more fill their histograms in two halves
// side by side: the model is still the same bit for bit, run after run
// (and the race detector watches the halves in make test).
func TestGBDTParallelFillIsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	rows := make([]Row, 2*parallelFill+123)
	for i := range rows {
		for j := range rows[i].X {
			rows[i].X[j] = float64(rng.IntN(1000))
		}
		rows[i].Label = rng.Float64() < sigmoid((rows[i].X[featLA]-500)/200)
	}
	var first []byte
	for range 3 {
		g, err := TrainGBDT(rows, nil, GBDTOptions{MaxTrees: 15})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(g)
		if first == nil {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Fatal("two trainings on the same rows differ")
		}
	}
}
