package loadtest

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Workers raising the VU peak side by side end at the highest, whatever
// the order. A smoke test, not a proof: against the old load-then-store
// it failed in about 1 run of 4 under -race and 1 of 30 without, so the
// compare-and-swap loop rests on reading it.
func TestRaiseToKeepsThePeak(t *testing.T) {
	for range 50 {
		var v atomic.Int64
		var wg sync.WaitGroup
		for n := int64(1); n <= 64; n++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				raiseTo(&v, n)
			}()
		}
		wg.Wait()
		if v.Load() != 64 {
			t.Fatalf("peak %d, want 64", v.Load())
		}
	}
}
