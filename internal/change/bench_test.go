package change

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// syntheticHistory builds n commits in memory: 100 authors and 5,000
// files, both drawn Zipf-skewed (a few hot files and prolific authors,
// as in real projects), 1 to 4 files a commit and one in 50 touching 30,
// two hours apart.
func syntheticHistory(n int) []Commit {
	rng := rand.New(rand.NewPCG(1, 2))
	files := rand.NewZipf(rng, 1.2, 1, 4999)
	authors := rand.NewZipf(rng, 1.5, 1, 99)
	t0 := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	history := make([]Commit, n)
	for i := range history {
		k := 1 + rng.IntN(4)
		if rng.IntN(50) == 0 {
			k = 30
		}
		c := Commit{
			Hash:    fmt.Sprintf("%040x", i),
			Author:  fmt.Sprintf("dev%d@example.com", authors.Uint64()),
			Time:    t0.Add(time.Duration(i) * 2 * time.Hour),
			Subject: "change",
		}
		for range k {
			f := files.Uint64()
			c.Files = append(c.Files, FileChange{
				Path:    fmt.Sprintf("svc%d/pkg%d/file%d.go", f%8, f%40, f),
				Added:   rng.IntN(40),
				Deleted: rng.IntN(20),
			})
		}
		history[i] = c
	}
	return history
}

// BenchmarkCompute measures Compute on histories of growing length: a
// time per commit (ns/commit) that stayed flat would be linear.
func BenchmarkCompute(b *testing.B) {
	for _, n := range []int{2500, 10000, 40000} {
		history := syntheticHistory(n)
		b.Run(fmt.Sprintf("commits=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Compute(history)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/commit")
		})
	}
}
