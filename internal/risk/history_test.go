package risk

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// naiveRank is the definition RankHistory implements.
func naiveRank(vals []float64, i, window int) float64 {
	lo := max(0, i-window)
	if i == lo {
		return 0.5
	}
	below, eq := 0, 0
	for k := lo; k < i; k++ {
		switch {
		case vals[k] < vals[i]:
			below++
		case vals[k] == vals[i]:
			eq++
		}
	}
	return (float64(below) + 0.5*float64(eq)) / float64(i-lo)
}

func TestRollingRanksMatchTheDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name   string
		n, win int
		levels int // distinct values: few means many ties
	}{
		{"one value", 1, 5, 3},
		{"window larger than the series", 40, 100, 1000},
		{"many ties", 300, 17, 4},
		{"window of one", 50, 1, 10},
		{"long series", 2000, 64, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := make([]float64, tc.n)
			for i := range vals {
				vals[i] = float64(rng.IntN(tc.levels))
			}
			got := rollingRanks(vals, tc.win)
			for i := range vals {
				if want := naiveRank(vals, i, tc.win); math.Abs(got[i]-want) > 1e-12 {
					t.Fatalf("rank %d = %v, want %v", i, got[i], want)
				}
			}
		})
	}
}

// NewHistory ranks once what RankHistory ranks, and only the experience
// metrics change.
func TestNewHistory(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	raw := make([][NumFeatures]float64, HistoryWindow+300)
	rows := make([]Row, len(raw))
	for i := range raw {
		for j := range raw[i] {
			raw[i][j] = float64(rng.IntN(200))
		}
		rows[i].X = raw[i]
	}
	h := NewHistory(raw)
	ranked := RankHistory(rows)
	for _, i := range []int{0, 1, 299, HistoryWindow, len(rows) - 1} {
		if h.Ranked[i] != ranked[i].X || h.Raw[i] != raw[i] {
			t.Errorf("row %d: NewHistory %v, RankHistory %v", i, h.Ranked[i], ranked[i].X)
		}
	}
	if h.Ranked[5][featLA] != raw[5][featLA] || h.Ranked[5][11] == raw[5][11] && raw[5][11] > 1 {
		t.Errorf("LA %v→%v EXP %v→%v", raw[5][featLA], h.Ranked[5][featLA], raw[5][11], h.Ranked[5][11])
	}
}

func TestExplainSumsToTheLogit(t *testing.T) {
	ds := loadJDT(t)
	for _, kind := range []string{ModelEns, ModelLR, ModelGBDT} {
		rows := prepare(ds.Rows, kind)[:2000]
		m, err := Train(rows, kind)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 700, 1999} {
			base, shares := m.Explain(&rows[i].X)
			s := base
			for _, v := range shares {
				s += v
			}
			if p := m.Prob(&rows[i].X); math.Abs(sigmoid(s)-p) > 1e-9 {
				t.Errorf("%s row %d: base+shares gives %v, Prob %v", kind, i, sigmoid(s), p)
			}
		}
	}
}

// The ensemble beats the logistic baseline on the smallest public project
// (on its test slice, never used to fit), deterministically.
func TestEnsembleBeatsTheBaseline(t *testing.T) {
	ds := loadJDT(t)
	lr, err := Evaluate(ds, EvalOptions{Model: ModelLR})
	if err != nil {
		t.Fatal(err)
	}
	ens, err := Evaluate(ds, EvalOptions{Model: ModelEns})
	if err != nil {
		t.Fatal(err)
	}
	if ens.AUC <= lr.AUC || ens.ECE >= 0.05 {
		t.Errorf("ens AUC %.4f ECE %.4f, lr AUC %.4f: want ens above lr, calibrated", ens.AUC, ens.ECE, lr.AUC)
	}
	again, _ := Evaluate(ds, EvalOptions{Model: ModelEns})
	a, _ := json.Marshal(ens)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Errorf("two evaluations differ:\n%s\n%s", a, b)
	}
}

// loadJDT loads the smallest public project, or skips where the shared
// data is not next to the repository.
func loadJDT(t *testing.T) *Dataset {
	t.Helper()
	if _, err := os.Stat(jdtPath); err != nil {
		t.Skipf("public data not here: %v", err)
	}
	ds, err := LoadCSV(jdtPath)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}
