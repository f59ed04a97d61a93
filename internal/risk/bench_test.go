package risk

import (
	"os"
	"path/filepath"
	"testing"
)

// publicRows loads the four public projects, each ranked against its own
// history, and repeats them (each copy later in time) until there are n
// rows: the 100,000-row training bar on real distributions.
func publicRows(b *testing.B, n int) []Row {
	b.Helper()
	var one []Row
	for _, f := range PriorFiles {
		p := filepath.Join(sharedData, f)
		if _, err := os.Stat(p); err != nil {
			b.Skipf("public data not here: %v", err)
		}
		ds, err := LoadCSV(p)
		if err != nil {
			b.Fatal(err)
		}
		one = append(one, RankHistory(ds.Rows)...)
	}
	// One project after the other in time, then repeated.
	var rows []Row
	var shift int64
	for len(rows) < n {
		for _, r := range one {
			r.Time = shift + int64(len(rows))
			rows = append(rows, r)
			if len(rows) == n {
				break
			}
		}
		shift += 1e6
	}
	return rows
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

// BenchmarkRankAgainst ranks a change's experience metrics against a full
// window of history, as predict does.
func BenchmarkRankAgainst(b *testing.B) {
	rows := publicRows(b, HistoryWindow)
	x := rows[len(rows)-1].X
	b.ResetTimer()
	for b.Loop() {
		RankAgainst(x, rows)
	}
}
