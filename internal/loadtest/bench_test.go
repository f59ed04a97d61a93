package loadtest

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkEngineRequest is the engine's cost per request, end to end (VU
// loop, h1 client, histograms), with one VU against a server that does no
// work: ns/op is client and server together on one core pair; allocs/op
// are the client's (the raw server allocates nothing per request).
func BenchmarkEngineRequest(b *testing.B) {
	srv, _ := scriptedServer(b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok", 0, false)
	for _, engine := range []string{EngineVU, EngineLoop} {
		b.Run(engine, func(b *testing.B) {
			sc, err := Quick(srv.url()+"/", 1, 0, 0, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			sc.MaxRequests = int64(b.N)
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			b.ResetTimer()
			_, s, err := Run(context.Background(), sc, Options{BucketWidth: time.Hour, Engine: engine})
			b.StopTimer()
			runtime.ReadMemStats(&m1)
			if err != nil || s.Failed > 0 {
				b.Fatalf("err %v, %d failed", err, s.Failed)
			}
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(s.Requests), "allocs/req")
			b.ReportMetric(float64(s.Requests)/s.DurationS, "req/s")
		})
	}
}

// BenchmarkIdleVUs measures the memory of 5,000 open-model VUs waiting for
// their iteration (heap and goroutine stacks, per VU).
func BenchmarkIdleVUs(b *testing.B) {
	const n = 5000
	for i := 0; i < b.N; i++ {
		sc := &Scenario{Name: "idle", Executor: ConstantArrivalRate, Rate: 1, Duration: time.Hour, MaxVUs: n,
			Steps: []*Step{{Path: "http://127.0.0.1:1/"}}}
		if err := sc.Validate(); err != nil {
			b.Fatal(err)
		}
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			Run(ctx, sc, Options{BucketWidth: time.Hour})
			close(done)
		}()
		// Wait until every VU has been started and parked.
		for j := 0; j < 200 && runtime.NumGoroutine() < n; j++ {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		cancel()
		<-done
		used := float64((m1.HeapAlloc + m1.StackInuse) - (m0.HeapAlloc + m0.StackInuse))
		b.ReportMetric(used/n/1024, "KiB/VU")
	}
}
