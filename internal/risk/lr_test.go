package risk

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// toyRows are changes whose label is "LA above 20": separable by one
// metric, with the others noise.
func toyRows(n int) []Row {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]Row, n)
	for i := range rows {
		rows[i].Time = int64(i)
		for j := range rows[i].X {
			rows[i].X[j] = float64(rng.IntN(50))
		}
		rows[i].X[featLA] = float64(rng.IntN(40))
		rows[i].Label = rows[i].X[featLA] > 20
	}
	return rows
}

func TestLRLearnsSeparable(t *testing.T) {
	rows := toyRows(2000)
	m, err := TrainLR(rows, LROptions{})
	if err != nil {
		t.Fatal(err)
	}
	logits := scores(rows, m.Logit)
	if auc := AUC(logits, labelsOf(rows)); auc < 0.999 {
		t.Errorf("training AUC %v on a separable problem, want ≈ 1", auc)
	}
	for j, c := range m.Coef {
		if j != featLA && math.Abs(c) >= m.Coef[featLA]/10 {
			t.Errorf("coef[%s] = %v, not small next to LA's %v", FeatureNames()[j], c, m.Coef[featLA])
		}
	}
	// The explanation is exact: intercept + contributions = logit.
	for i := range 20 {
		sum := m.Intercept
		for _, c := range m.Contributions(&rows[i].X) {
			sum += c
		}
		if math.Abs(sum-logits[i]) > 1e-12 {
			t.Fatalf("row %d: intercept + contributions = %v, logit %v", i, sum, logits[i])
		}
	}
}

func TestLRDeterministic(t *testing.T) {
	rows := toyRows(3000)
	for i := range rows { // overlap, so the fit is not at the penalty's mercy
		rows[i].Label = rows[i].X[featLA]+rows[i].X[0]/2 > 30
	}
	encode := func() []byte {
		m, err := Train(rows, ModelLR)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := encode(), encode()
	if !bytes.Equal(a, b) {
		t.Fatalf("two trainings on the same rows differ:\n%s\n%s", a, b)
	}
}

func TestLRNeedsBothClasses(t *testing.T) {
	rows := toyRows(10)
	for i := range rows {
		rows[i].Label = false
	}
	if _, err := TrainLR(rows, LROptions{}); err == nil {
		t.Error("no error with one class")
	}
}

func TestFitPlatt(t *testing.T) {
	// Outcomes drawn at sigmoid(2s − 1): Platt should recover A≈2, B≈−1.
	rng := rand.New(rand.NewPCG(3, 4))
	n := 20000
	s := make([]float64, n)
	y := make([]bool, n)
	for i := range s {
		s[i] = rng.NormFloat64()
		y[i] = rng.Float64() < sigmoid(2*s[i]-1)
	}
	p, err := FitPlatt(s, y)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.A-2) > 0.15 || math.Abs(p.B+1) > 0.1 {
		t.Errorf("Platt = %+v, want A≈2, B≈−1", p)
	}
}

// jdtPath is the smallest public project, in the shared data next to the
// repository.
const jdtPath = "../../../shared/data/jit/issta21-jitdp/jdt.csv"

func TestEvaluateJDT(t *testing.T) {
	ds := loadJDT(t)
	r, err := Evaluate(ds, EvalOptions{Model: ModelLR})
	if err != nil {
		t.Fatal(err)
	}
	if r.NTrain != 2623 || r.NTest != 656 {
		t.Errorf("split %d/%d, want 2623/656 (int(0.8·3279))", r.NTrain, r.NTest)
	}
	if r.AUC <= 0.65 {
		t.Errorf("AUC %.3f, want > 0.65 (the logistic baseline is about .707)", r.AUC)
	}
	if r.ECE >= 0.1 {
		t.Errorf("ECE %.3f, want calibrated probabilities", r.ECE)
	}
	for _, k := range GatedShareKeys() {
		if _, ok := r.CaughtAt[k]; !ok {
			t.Errorf("caught_at has no %s", k)
		}
	}
}

// Cross-project: trained on another project, tested on the same latest
// slice of jdt as within-project, so the two numbers compare.
func TestEvaluateCrossJDT(t *testing.T) {
	platform := strings.Replace(jdtPath, "jdt.csv", "platform.csv", 1)
	for _, p := range []string{jdtPath, platform} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("public data not here: %v", err)
		}
	}
	target, err := LoadCSV(jdtPath)
	if err != nil {
		t.Fatal(err)
	}
	other, err := LoadCSV(platform)
	if err != nil {
		t.Fatal(err)
	}
	r, err := EvaluateCross(target, []*Dataset{other}, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.NTest != 656 || r.NTrain != len(other.Rows) {
		t.Errorf("n_train %d n_test %d, want %d and 656 (jdt's latest 20%%)", r.NTrain, r.NTest, len(other.Rows))
	}
	if r.AUC < 0.6 {
		t.Errorf("cross-project AUC %.3f: the model learned nothing that carries over", r.AUC)
	}
	if _, err := EvaluateCross(target, nil, EvalOptions{}); err == nil {
		t.Error("no project to train on was accepted")
	}
}
