package report

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/proc"
	"github.com/prfhq/prf/internal/store"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newFakeClock(start time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(start.UnixNano())
	return c
}

func testProgress(w *bytes.Buffer, total int, interactive bool) (*Progress, *fakeClock) {
	clock := newFakeClock(t0)
	p := NewProgress(w, total, interactive)
	p.now = clock.now
	p.start = clock.now()
	p.tick = 0 // no self-redraws: output depends only on the calls
	return p, clock
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p, clock := testProgress(&buf, 30, false)
	p.Started("app.health", "API Gateway health")
	clock.add(12 * time.Millisecond)
	p.Finished(store.Result{ID: "app.health", Title: "API Gateway health", Status: store.StatusPass, DurationMS: 12, Message: "ok"})
	p.Started("sec.tls", "TLS valid")
	clock.add(time.Second)
	p.Finished(store.Result{ID: "sec.tls", Title: "TLS valid", Status: store.StatusFail, DurationMS: 1000.4,
		Message: "days_to_expiry (3) >= 14\nsecond line"})
	p.Finished(store.Result{ID: "man.1", Title: "Runbook reviewed", Status: store.StatusPending, Message: "awaiting attestation by SRE"})
	p.Done()
	p.Finished(store.Result{ID: "late", Status: store.StatusPass}) // after Done: ignored
	want := "" +
		"[  1/30] ✅ pass  app.health  API Gateway health  (12ms)\n" +
		"[  2/30] ❌ fail  sec.tls  TLS valid  (1.00s)\n" +
		"         ↳ days_to_expiry (3) >= 14\n" +
		"           second line\n" +
		"[  3/30] ☐ pending  man.1  Runbook reviewed\n" +
		"         ↳ awaiting attestation by SRE\n" +
		"[3/30] done · 1 failed · 1.0s\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestProgressInteractive(t *testing.T) {
	var buf bytes.Buffer
	p, clock := testProgress(&buf, 4, true)
	p.Started("a", "A")
	p.Started("b", "B") // within the throttle: no redraw
	p.Finished(store.Result{ID: "a", Status: store.StatusPass, DurationMS: 1})
	clock.add(150 * time.Millisecond)
	p.Finished(store.Result{ID: "b", Status: store.StatusWarn, DurationMS: 150, Message: "slow"})
	clock.add(50 * time.Millisecond)
	p.Finished(store.Result{ID: "c", Status: store.StatusSkipped}) // throttled
	clock.add(100 * time.Millisecond)
	p.Started("d", "D")
	p.Done()
	want := "" +
		"\r\x1b[2K[0/4] 1 running · 0 failed · 0.0s" +
		"\r\x1b[2K[  2/4] ⚠ warn  b  (150ms)\n" +
		"        ↳ slow\n" +
		"\r\x1b[2K[2/4] 0 running · 0 failed · 1 warn · 0.1s" +
		"\r\x1b[2K[3/4] 1 running · 0 failed · 1 warn · 0.3s" +
		"\r\x1b[2K[3/4] done · 0 failed · 1 warn · 0.3s\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%q\nwant:\n%q", got, want)
	}
}

// TestProgressConcurrent calls Progress from many goroutines with the real
// clock and the self-redraw on; run it with -race.
func TestProgressConcurrent(t *testing.T) {
	for _, interactive := range []bool{false, true} {
		t.Run(fmt.Sprint("interactive=", interactive), func(t *testing.T) {
			var buf proc.Buffer
			const n = 64
			p := NewProgress(&buf, n, interactive)
			p.tick = time.Millisecond
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					id := fmt.Sprintf("c%02d", i)
					p.Started(id, "check "+id)
					time.Sleep(time.Duration(i%5) * time.Millisecond)
					st := store.StatusPass
					if i%7 == 0 {
						st = store.StatusFail
					}
					p.Finished(store.Result{ID: id, Status: st, Message: "m"})
				})
			}
			wg.Wait()
			p.Done()
			p.Done()
			out := buf.String()
			if !strings.Contains(out, fmt.Sprintf("[%d/%d] done · 10 failed · ", n, n)) {
				t.Errorf("final line missing:\n%s", out)
			}
			if strings.Count(out, "done ·") != 1 {
				t.Error("Done printed more than once")
			}
			if !interactive && strings.Count(out, "\n") != n+10+1 {
				t.Errorf("plain mode printed %d lines, want %d", strings.Count(out, "\n"), n+10+1)
			}
		})
	}
}
