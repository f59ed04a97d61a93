package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prfhq/prf/internal/store"
)

// Progress prints a run's progress to a terminal or a log. Its methods are
// safe for concurrent use: the runner calls them from several goroutines.
//
// Interactive mode (a terminal) keeps one status line that it redraws in
// place ("\r" and clear-line) at most about 10 times a second:
//
//	[12/30] 4 running · 2 failed · 1 warn · 3.2s
//
// and prints each fail, error or warn above it as a permanent line. It
// redraws by itself every 250ms while checkpoints run, so the elapsed time
// moves during a long one; call Done to stop that.
//
// Non-interactive mode (CI logs, pipes) prints one plain line per finished
// checkpoint (its duration left out when it did not run), and the message
// under every one that did not pass:
//
//	[ 12/30] ✅ pass  app.health  API Gateway health  (12ms)
//
// Both modes end with one summary line from Done.
type Progress struct {
	mu          sync.Mutex
	w           io.Writer
	total       int
	interactive bool

	now      func() time.Time
	throttle time.Duration // least time between two redraws
	tick     time.Duration // self-redraw period; 0: none

	start    time.Time
	done     int
	failed   int // fail + error
	warned   int
	running  map[string]int
	nRunning int
	lastDraw time.Time
	closed   bool
	stop     chan struct{}
	exited   chan struct{}
}

// NewProgress returns a Progress for total checkpoints writing to w.
// interactive selects the redrawn status line (use it when w is a terminal).
func NewProgress(w io.Writer, total int, interactive bool) *Progress {
	return &Progress{
		w:           w,
		total:       total,
		interactive: interactive,
		now:         time.Now,
		throttle:    100 * time.Millisecond,
		tick:        250 * time.Millisecond,
		start:       time.Now(),
		running:     map[string]int{},
	}
}

// Started records that a checkpoint began.
func (p *Progress) Started(id, title string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.running[id]++
	p.nRunning++
	if p.interactive {
		p.startTickerLocked()
		p.drawLocked(false)
	}
}

// Finished records a checkpoint's result. A result that was never Started
// (a skipped or manual checkpoint) counts as done all the same.
func (p *Progress) Finished(r store.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.running[r.ID] > 0 {
		p.running[r.ID]--
		if p.running[r.ID] == 0 {
			delete(p.running, r.ID)
		}
		p.nRunning--
	}
	p.done++
	switch r.Status {
	case store.StatusFail, store.StatusError:
		p.failed++
	case store.StatusWarn:
		p.warned++
	}
	if !p.interactive {
		p.printResultLocked(&r)
		return
	}
	p.startTickerLocked()
	switch r.Status {
	case store.StatusFail, store.StatusError, store.StatusWarn:
		// A permanent line above the status line.
		fmt.Fprint(p.w, "\r\x1b[2K")
		p.printResultLocked(&r)
		p.drawLocked(true)
	default:
		p.drawLocked(false)
	}
}

// Done stops the redraws and prints the summary line. Later calls to any
// method do nothing.
func (p *Progress) Done() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	stop, exited := p.stop, p.exited
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-exited
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("[%d/%d] done · %s", p.done, p.total, p.countsLocked())
	if p.interactive {
		fmt.Fprintf(p.w, "\r\x1b[2K%s\n", line)
		return
	}
	fmt.Fprintf(p.w, "%s\n", line)
}

func (p *Progress) startTickerLocked() {
	if p.stop != nil || p.tick <= 0 {
		return
	}
	p.stop, p.exited = make(chan struct{}), make(chan struct{})
	go func(stop, exited chan struct{}, every time.Duration) {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.mu.Lock()
				if !p.closed {
					p.drawLocked(false)
				}
				p.mu.Unlock()
			}
		}
	}(p.stop, p.exited, p.tick)
}

// drawLocked redraws the status line, unless the last redraw was less than
// the throttle ago and force is false.
func (p *Progress) drawLocked(force bool) {
	now := p.now()
	if !force && !p.lastDraw.IsZero() && now.Sub(p.lastDraw) < p.throttle {
		return
	}
	p.lastDraw = now
	fmt.Fprintf(p.w, "\r\x1b[2K[%d/%d] %d running · %s", p.done, p.total, p.nRunning, p.countsLocked())
}

func (p *Progress) countsLocked() string {
	parts := []string{fmt.Sprintf("%d failed", p.failed)}
	if p.warned > 0 {
		parts = append(parts, fmt.Sprintf("%d warn", p.warned))
	}
	parts = append(parts, elapsed(p.now().Sub(p.start)))
	return strings.Join(parts, " · ")
}

// printResultLocked prints one finished checkpoint, and its message under
// it when it did not pass.
func (p *Progress) printResultLocked(r *store.Result) {
	digits := max(3, len(strconv.Itoa(p.total)))
	prefix := fmt.Sprintf("[%*d/%d] ", digits, p.done, p.total)
	title := ""
	if r.Title != "" {
		title = "  " + oneLine(r.Title)
	}
	took := ""
	if r.DurationMS > 0 {
		took = "  (" + formatMS(r.DurationMS) + ")"
	}
	fmt.Fprintf(p.w, "%s%s  %s%s%s\n", prefix, statusLabel(r.Status), oneLine(r.ID), title, took)
	if r.Status == store.StatusPass || r.Message == "" {
		return
	}
	indent := strings.Repeat(" ", textWidth(prefix))
	for i, line := range strings.Split(strings.ReplaceAll(r.Message, "\r\n", "\n"), "\n") {
		mark := "  "
		if i == 0 {
			mark = "↳ "
		}
		fmt.Fprintf(p.w, "%s%s%s\n", indent, mark, oneLine(line))
	}
}

// elapsed is "3.2s" under a minute, "1m02s" after.
func elapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
}
