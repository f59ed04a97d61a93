package risk

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// publicRows loads the public projects (the four of the prior, then the
// four of Kamei et al.), each ranked against its own history and placed
// after the previous one in time, and keeps the first n rows: real,
// distinct changes (126,000 in all) for the 100,000-row training bar.
// Repeating one project instead would let early stopping see copies of
// the training rows and never stop.
func publicRows(b *testing.B, n int) []Row {
	b.Helper()
	files := append(slices.Clone(PriorFiles), "jit/kamei2013/bugzilla.csv", "jit/kamei2013/columba.csv",
		"jit/kamei2013/jdt.csv", "jit/kamei2013/postgres.csv")
	var rows []Row
	for _, f := range files {
		p := filepath.Join(sharedData, f)
		if _, err := os.Stat(p); err != nil {
			b.Skipf("public data not here: %v", err)
		}
		ds, err := LoadCSV(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range RankHistory(ds.Rows) {
			r.Time = int64(len(rows))
			rows = append(rows, r)
		}
	}
	if len(rows) < n {
		b.Fatalf("%d public rows, want %d", len(rows), n)
	}
	return rows[:n]
}

// BenchmarkTrainEns100k: the bar is under 10 s on 2 cores.
func BenchmarkTrainEns100k(b *testing.B) {
	rows := publicRows(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Train(rows, ModelEns); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrainEns100kWorstCase trains on the public projects repeated to
// 100,000 rows: the calibration slice repeats training rows, so early
// stopping never stops and every tree up to the cap is grown, twice.
func BenchmarkTrainEns100kWorstCase(b *testing.B) {
	one := publicRows(b, 61_000)
	var rows []Row
	for len(rows) < 100_000 {
		for _, r := range one[:min(len(one), 100_000-len(rows))] {
			r.Time = int64(len(rows))
			rows = append(rows, r)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		m, err := Train(rows, ModelEns)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(m.GBDT.Trees)), "trees")
	}
}

func BenchmarkTrainLR100k(b *testing.B) {
	rows := publicRows(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Train(rows, ModelLR); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPredict is one change through the embedded prior: probability
// and explanation (the bar: under 1 ms).
func BenchmarkPredict(b *testing.B) {
	p, err := Prior()
	if err != nil {
		b.Fatal(err)
	}
	x := [NumFeatures]float64{1, 2, 3, 0.9, 120, 30, 800, 0, 0.5, 0.3, 0.6, 0.2, 0.4, 0.7}
	b.ResetTimer()
	for b.Loop() {
		_ = p.Model.Prob(&x)
		p.Model.Explain(&x)
	}
}

// BenchmarkNewHistory ranks a 100,000-commit history, once per predict.
func BenchmarkNewHistory(b *testing.B) {
	rows := publicRows(b, 100_000)
	raw := make([][NumFeatures]float64, len(rows))
	for i := range rows {
		raw[i] = rows[i].X
	}
	b.ResetTimer()
	for b.Loop() {
		NewHistory(raw)
	}
}
