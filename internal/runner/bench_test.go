package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/probe"
	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/store/sqlite"
)

func trivialChecklist(tb testing.TB, n int) []byte {
	tb.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nname: bench\nsecrets: {pw: env:PRF_RUNNER_PW}\ncheckpoints:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - id: c.%05d\n    title: trivial %d\n    domain: application\n    owner: SRE Lead\n    probe: {kind: fake, value: 1}\n    expect: value == 1\n", i, i)
	}
	return []byte(b.String())
}

// peakHeap samples live heap bytes until stop is closed.
func peakHeap(stop <-chan struct{}) *atomic.Uint64 {
	var peak atomic.Uint64
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return &peak
}

// BenchmarkRun10kSQLite: runner plus durable SQLite storage for 10,000
// checkpoints of a trivial probe. Reports results/s and peak live heap.
func BenchmarkRun10kSQLite(b *testing.B) {
	b.Setenv("PRF_RUNNER_PW", "x")
	const n = 10000
	f := &fakeKind{attempts: map[string]int{}}
	cl, err := checklist.Parse(trivialChecklist(b, n), "bench.yaml", checklist.Options{Registry: probe.NewRegistry(f.kind())})
	if err != nil {
		b.Fatal(err)
	}
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "prf.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	stop := make(chan struct{})
	peak := peakHeap(stop)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		run, err := Run(context.Background(), cl, db, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if run.Summary[store.StatusPass] != n {
			b.Fatalf("summary %v", run.Summary)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(n*b.N)/el.Seconds(), "results/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}

// BenchmarkLoad10k: loading and compiling a 10,000-checkpoint checklist.
func BenchmarkLoad10k(b *testing.B) {
	f := &fakeKind{attempts: map[string]int{}}
	src := trivialChecklist(b, 10000)
	reg := probe.NewRegistry(f.kind())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := checklist.Parse(src, "bench.yaml", checklist.Options{Registry: reg}); err != nil {
			b.Fatal(err)
		}
	}
}
