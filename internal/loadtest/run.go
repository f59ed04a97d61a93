package loadtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options are the inputs of a run besides the scenario.
type Options struct {
	// Shard and Shards select 1/Shards of the load (Shard is 0-based): VU
	// targets are split as evenly as whole VUs allow, and in the open model
	// shard i runs iterations i, i+N, i+2N… of the whole test's schedule,
	// so the shards together send exactly the unsharded schedule.
	Shard, Shards int
	// Progress, when set, is called after every bucket (from one goroutine).
	Progress func(Progress)
	// BucketWidth is the time resolution of the timeline, the sliding
	// windows and progress (default 1s, less for short tests).
	BucketWidth time.Duration
	// Save, when set, is called with the result so far every SaveEvery of
	// test time (default 10s), from the collector goroutine, so that a
	// crash or a kill loses at most that much of a long test.
	Save      func(*Result)
	SaveEvery time.Duration
	// Engine picks how the closed model runs: "" (auto: the event loop
	// when the scenario allows it, see eventloop_linux.go), EngineVU (a
	// goroutine per VU) or EngineLoop (the event loop, or an error).
	Engine string
	// Workers is the event loop's thread count (default: half the cores,
	// at least one).
	Workers int
}

// Engines of the closed model.
const (
	EngineVU   = "vu"
	EngineLoop = "loop"
)

// Progress is the live state of a run.
type Progress struct {
	Elapsed, Total time.Duration
	Stage          int // 1-based
	VUs, VUsMax    int
	Requests       int64
	Failed         int64
	Dropped        int64
	RPS            float64 // over the last bucket
	P95            float64 // ms, over the last bucket
}

// dropSlack is how late an open-model iteration may start when no VU was
// free at its intended time before it is dropped instead.
const dropSlack = 10 * time.Millisecond

type engine struct {
	sc      *Scenario
	c       *compiled
	opt     Options
	rec     *recorder
	start   time.Time
	total   time.Duration
	open    bool
	stages  []StageSpan
	stopped atomic.Bool
	stopCh  chan struct{}
	stopMu  sync.Mutex
	reason  string
	hard    context.Context
	cut     context.CancelFunc
	reqs    atomic.Int64
	wg      sync.WaitGroup
	vusMu   sync.Mutex
	vus     []*vu
	active  atomic.Int64 // VUs running an iteration (open) or started (closed)
	alive   atomic.Int64 // VUs started
	target  atomic.Int64 // closed model: this shard's VU target
	claim   atomic.Int64 // open model: next local iteration index
	sched   schedule
	maxVUs  int64
	// open model: iterations started and dropped, to account at the end
	// for the scheduled ones no VU came back in time to claim.
	started, droppedN atomic.Int64
}

// Run runs the scenario and returns its result (buckets with histograms)
// and summary. It returns what was measured even when ctx is cancelled
// (with ctx's error) or a threshold aborts it (no error; the summary says).
func Run(ctx context.Context, sc *Scenario, opt Options) (*Result, *Summary, error) {
	if opt.Shards <= 0 {
		opt.Shards = 1
	}
	if opt.Shard < 0 || opt.Shard >= opt.Shards {
		return nil, nil, fmt.Errorf("shard %d/%d: want 1..%d", opt.Shard+1, opt.Shards, opt.Shards)
	}
	c, err := compile(sc)
	if err != nil {
		return nil, nil, sc.placeError(err)
	}
	e := &engine{sc: sc, c: c, opt: opt, total: sc.TotalDuration(), open: sc.Open(), stopCh: make(chan struct{})}
	switch opt.Engine {
	case "", EngineVU:
	case EngineLoop:
		if !e.eventLoopEligible() {
			return nil, nil, fmt.Errorf("engine loop: runs only the closed model with static plain-HTTP steps to one host and no checks, extract or think time")
		}
	default:
		return nil, nil, fmt.Errorf("engine %q: want %q or %q", opt.Engine, EngineVU, EngineLoop)
	}
	e.stages = e.plan()
	if opt.BucketWidth <= 0 {
		opt.BucketWidth = time.Second
		if e.total < 20*time.Second {
			opt.BucketWidth = max(50*time.Millisecond, (e.total / 20).Round(time.Millisecond))
		}
		for _, ts := range sc.Thresholds {
			for _, t := range ts {
				if t.expr != nil && t.expr.window > 0 {
					opt.BucketWidth = min(opt.BucketWidth, max(10*time.Millisecond, t.expr.window/5))
				}
			}
		}
		e.opt.BucketWidth = opt.BucketWidth
	}
	nshards := 4 * runtime.GOMAXPROCS(0)
	e.rec = newRecorder(nshards, len(c.steps), len(c.checkNames))
	res := &Result{Version: ResultVersion, Name: sc.Name, Executor: sc.Executor, Open: e.open, Stages: e.stages, Checks: c.checkNames}
	if opt.Shards > 1 {
		res.Shard = fmt.Sprintf("%d/%d", opt.Shard+1, opt.Shards)
	}
	for _, st := range c.steps {
		res.Steps = append(res.Steps, st.name)
	}
	for _, m := range sortedKeys(sc.Thresholds) {
		for _, t := range sc.Thresholds[m] {
			res.Thresholds = append(res.Thresholds, ThresholdDef{Metric: m, Threshold: *t})
		}
	}
	agg := newAggregator(res)
	hard, cut := context.WithCancel(context.Background())
	defer cut()
	e.hard, e.cut = hard, cut

	e.start = time.Now()
	res.Started = e.start
	done := make(chan struct{})
	go func() {
		e.launch()
		e.wg.Wait()
		e.accountUnclaimed()
		close(done)
	}()
	sweepDone := make(chan struct{})
	go e.sweep(sweepDone)
	defer close(sweepDone)

	var prev, lastSave time.Duration
	var sent0, recv0 int64
	saveEvery := opt.SaveEvery
	if saveEvery <= 0 {
		saveEvery = 10 * time.Second
	}
	width := opt.BucketWidth
	nextCut := func(now time.Duration) time.Duration {
		n := (now/width + 1) * width
		for _, s := range e.stages {
			if s.End > now && s.End < n {
				n = s.End
			}
		}
		if e.total > now && e.total < n {
			n = e.total
		}
		return n
	}
	timer := time.NewTimer(0)
	<-timer.C
	graceTimer := (<-chan time.Time)(nil)
	finished := false
	flush := func() {
		now := time.Since(e.start)
		a := e.rec.cut()
		s, r := c.counter.sent.Load(), c.counter.recv.Load()
		a.All.Sent += s - sent0
		a.All.Recvd += r - recv0
		sent0, recv0 = s, r
		// A late cut may straddle a stage boundary: the bucket goes to the
		// stage that holds most of it.
		b := &Bucket{Start: prev, End: now, Stage: e.stageAt(prev + (now-prev)/2), VUs: int(e.active.Load()), VUsMax: int(e.alive.Load()), acc: a}
		prev = now
		res.Elapsed = now
		res.Buckets = append(res.Buckets, toWire(b))
		if opt.Save != nil && now-lastSave >= saveEvery {
			lastSave = now
			opt.Save(res)
		}
		if ab := agg.add(b); ab != nil {
			e.stop(fmt.Sprintf("threshold %s: %s failed (%s %.4g)", ab.Metric, ab.Threshold, ab.Scope, ab.Value))
			e.cut()
			e.interruptAll()
		}
		if opt.Progress != nil {
			t := agg.total
			secs := (b.End - b.Start).Seconds()
			opt.Progress(Progress{Elapsed: now, Total: e.total, Stage: b.Stage + 1, VUs: b.VUs, VUsMax: b.VUsMax,
				Requests: t.All.Reqs, Failed: t.All.Failed, Dropped: t.Dropped,
				RPS: float64(b.All.Reqs) / max(secs, 1e-9), P95: float64(b.All.Dur.ValueAtQuantile(95)) / 1000})
		}
	}
	var runErr error
	for !finished {
		now := time.Since(e.start)
		timer.Reset(max(0, nextCut(now)-now))
		select {
		case <-done:
			timer.Stop()
			finished = true
		case <-timer.C:
			if time.Since(e.start) >= e.total && graceTimer == nil {
				e.stop("")
				graceTimer = time.After(e.sc.GracefulStop)
			}
		case <-graceTimer:
			e.cut()
			e.interruptAll()
			graceTimer = nil
			timer.Stop()
		case <-ctx.Done():
			timer.Stop()
			runErr = ctx.Err()
			e.stop("interrupted")
			e.cut()
			e.interruptAll()
			<-done
			finished = true
		}
		flush()
	}
	res.Aborted = e.reason
	if c.httpClient != nil {
		c.httpClient.CloseIdleConnections()
	}
	return res, agg.summary(true), runErr
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// accountUnclaimed counts as dropped the scheduled iterations of this
// shard that no VU claimed because every VU was busy until the end. A test
// cut short (aborted, interrupted, max_requests) leaves its unsent
// schedule uncounted: those iterations were not due to be dropped.
func (e *engine) accountUnclaimed() {
	e.stopMu.Lock()
	reason := e.reason
	e.stopMu.Unlock()
	if !e.open || reason != "" || (e.sc.MaxRequests > 0 && e.reqs.Load() >= e.share(e.sc.MaxRequests)) {
		return
	}
	var scheduled int64
	for m := int64(0); ; m++ {
		if _, ok := e.sched.at(int64(e.opt.Shard) + int64(e.opt.Shards)*m); !ok {
			break
		}
		scheduled++
	}
	if n := scheduled - e.started.Load() - e.droppedN.Load(); n > 0 {
		e.rec.shards[0].dropped(n)
	}
}

// plan lays the stages on the clock.
func (e *engine) plan() []StageSpan {
	sc := e.sc
	switch sc.Executor {
	case ConstantVUs:
		return []StageSpan{{End: sc.Duration, Target: float64(sc.VUs)}}
	case ConstantArrivalRate:
		return []StageSpan{{End: sc.Duration, Target: sc.Rate}}
	}
	var out []StageSpan
	var t time.Duration
	for _, s := range sc.Stages {
		out = append(out, StageSpan{Start: t, End: t + s.Duration, Target: s.Target})
		t += s.Duration
	}
	return out
}

func (e *engine) stageAt(t time.Duration) int {
	for i, s := range e.stages {
		if t < s.End {
			return i
		}
	}
	return len(e.stages) - 1
}

func (e *engine) stop(reason string) {
	e.stopMu.Lock()
	defer e.stopMu.Unlock()
	if reason != "" && e.reason == "" {
		e.reason = reason
	}
	if e.stopped.CompareAndSwap(false, true) {
		close(e.stopCh)
	}
}

func (e *engine) interruptAll() {
	e.vusMu.Lock()
	defer e.vusMu.Unlock()
	for _, v := range e.vus {
		for _, c := range v.conns {
			c.interrupt()
		}
	}
}

// sweep enforces the request timeout on the h1 client: a request in flight
// longer than the timeout has its connection's deadline set to the past.
func (e *engine) sweep(done chan struct{}) {
	every := min(100*time.Millisecond, max(time.Millisecond, e.sc.Timeout/10))
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-done:
			return
		case <-tk.C:
		}
		now := time.Now().UnixNano()
		e.vusMu.Lock()
		vs := e.vus
		e.vusMu.Unlock()
		for _, v := range vs {
			if s := v.inflight.Load(); s != 0 && now-s > int64(e.sc.Timeout) && !v.timedOut.Load() {
				v.timedOut.Store(true)
				for _, c := range v.conns {
					c.interrupt()
				}
			}
		}
	}
}

// share is this shard's part of n whole units.
func (e *engine) share(n int64) int64 {
	i, k := int64(e.opt.Shard), int64(e.opt.Shards)
	return n*(i+1)/k - n*i/k
}

func (e *engine) launch() {
	sc := e.sc
	if e.open {
		e.sched = newSchedule(sc)
		e.maxVUs = max(1, e.share(int64(sc.MaxVUs)))
		pre := max(1, e.share(int64(sc.PreAllocatedVUs)))
		// Count them all first: a VU that starts late may add more, and
		// must see the pre-allocated ones against max_vus.
		e.alive.Store(pre)
		for i := int64(0); i < pre; i++ {
			e.spawn(e.openLoop)
		}
		return
	}
	// Closed model: a ramp goroutine keeps the VU count on target; the
	// event loop's workers follow the target themselves.
	loop := e.eventLoopEligible()
	if loop {
		e.target.Store(e.share(e.vusAt(0)))
		if err := e.runEventLoop(); err != nil {
			e.stop("event loop: " + err.Error())
			return
		}
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			t := time.Since(e.start)
			if t >= e.total || e.stopped.Load() {
				return
			}
			want := e.share(e.vusAt(t))
			e.target.Store(want)
			for !loop && e.alive.Load() < want {
				e.alive.Add(1)
				e.spawn(e.closedLoop)
			}
			select {
			case <-tk.C:
			case <-e.stopCh:
				return
			}
		}
	}()
}

// vusAt is the whole test's VU target at t, ramping linearly as k6 does.
func (e *engine) vusAt(t time.Duration) int64 {
	sc := e.sc
	if sc.Executor == ConstantVUs {
		return int64(sc.VUs)
	}
	from := float64(sc.VUs)
	for _, s := range e.stages {
		if t < s.End {
			f := float64(t-s.Start) / float64(s.End-s.Start)
			return int64(math.Round(from + (s.Target-from)*f))
		}
		from = s.Target
	}
	return int64(from)
}

func (e *engine) spawn(loop func(*vu)) {
	v := e.newVU()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer v.close()
		loop(v)
	}()
}

// closedLoop is a VU of the closed model: iterations back to back (with
// think time) while the test runs and the VU is within the target.
func (e *engine) closedLoop(v *vu) {
	e.active.Add(1)
	parked := false
	defer func() {
		if !parked {
			e.active.Add(-1)
		}
	}()
	for {
		if e.stopped.Load() || time.Since(e.start) >= e.total {
			return
		}
		if int64(v.id) >= e.target.Load() {
			// Ramped down: park until the target grows again.
			if !parked {
				parked = true
				e.active.Add(-1)
			}
			if !v.sleep(10 * time.Millisecond) {
				return
			}
			continue
		}
		if parked {
			parked = false
			e.active.Add(1)
		}
		t0 := time.Now()
		v.iteration(time.Time{})
		v.sh.iteration(time.Since(t0))
		if e.sc.ThinkTime > 0 && !v.sleep(e.sc.ThinkTime) {
			return
		}
	}
}

// openLoop is a VU of the open model. It claims the next iteration of the
// schedule, sleeps until its intended time, and runs it. A VU that claims
// an iteration whose time has already passed knows no VU was free then:
// it starts one more VU (up to max_vus) and runs the iteration late, with
// its first request's latency measured from the intended time, or, at
// max_vus, drops it once it is more than dropSlack late.
func (e *engine) openLoop(v *vu) {
	var dropped int64
	defer func() {
		if dropped > 0 {
			v.sh.dropped(dropped)
		}
	}()
	shards := int64(e.opt.Shards)
	for {
		if e.stopped.Load() {
			return
		}
		g := int64(e.opt.Shard) + shards*(e.claim.Add(1)-1)
		at, ok := e.sched.at(g)
		if !ok {
			return
		}
		late := time.Since(e.start) - at
		if late > 0 {
			if a := e.alive.Load(); a < e.maxVUs && e.alive.CompareAndSwap(a, a+1) {
				e.spawn(e.openLoop)
			} else if late > dropSlack {
				dropped++
				e.droppedN.Add(1)
				if dropped >= 64 {
					v.sh.dropped(dropped)
					dropped = 0
				}
				continue
			}
		} else if !v.sleepUntilCut(-late) {
			return
		}
		intended := time.Time{}
		if late > 0 {
			intended = e.start.Add(at)
		}
		e.started.Add(1)
		e.active.Add(1)
		t0 := time.Now()
		v.iteration(intended)
		v.sh.iteration(time.Since(t0))
		e.active.Add(-1)
	}
}

// schedule gives the intended start of iteration k of the open model.
type schedule struct {
	perSec []float64 // rate at each stage's start, then its end
	spans  []StageSpan
	cum    []float64 // iterations before each stage
	total  time.Duration
}

func newSchedule(sc *Scenario) schedule {
	unit := sc.TimeUnit.Seconds()
	s := schedule{total: sc.TotalDuration()}
	if sc.Executor == ConstantArrivalRate {
		s.spans = []StageSpan{{End: sc.Duration, Target: sc.Rate}}
		s.perSec = []float64{sc.Rate / unit, sc.Rate / unit}
	} else {
		from := sc.StartRate / unit
		var t time.Duration
		for _, st := range sc.Stages {
			s.spans = append(s.spans, StageSpan{Start: t, End: t + st.Duration, Target: st.Target})
			s.perSec = append(s.perSec, from, st.Target/unit)
			from = st.Target / unit
			t += st.Duration
		}
	}
	c := 0.0
	for i, sp := range s.spans {
		s.cum = append(s.cum, c)
		c += (s.perSec[2*i] + s.perSec[2*i+1]) / 2 * (sp.End - sp.Start).Seconds()
	}
	s.cum = append(s.cum, c)
	return s
}

func (s schedule) at(k int64) (time.Duration, bool) {
	m := float64(k)
	for i, sp := range s.spans {
		if m >= s.cum[i+1] {
			continue
		}
		local := m - s.cum[i]
		r0, r1 := s.perSec[2*i], s.perSec[2*i+1]
		d := (sp.End - sp.Start).Seconds()
		var tau float64
		if r0 == r1 {
			tau = local / r0
		} else {
			a := (r1 - r0) / (2 * d)
			disc := r0*r0 + 4*a*local
			if disc < 0 {
				disc = 0
			}
			tau = 2 * local / (r0 + math.Sqrt(disc))
		}
		t := sp.Start + time.Duration(tau*float64(time.Second))
		if t >= s.total {
			return 0, false
		}
		return t, true
	}
	return 0, false
}

// vu is one virtual user: its connections, buffers and extracted values.
type vu struct {
	id       int
	e        *engine
	sh       *shard
	conns    []*h1Conn // by step
	buf      []byte
	resp     response
	act      activation
	vars     map[string]string
	smp      sample
	checkOK  []bool
	timer    *time.Timer
	inflight atomic.Int64
	timedOut atomic.Bool
}

func (e *engine) newVU() *vu {
	e.vusMu.Lock()
	defer e.vusMu.Unlock()
	v := &vu{id: len(e.vus), e: e, vars: map[string]string{}}
	v.sh = &e.rec.shards[v.id%len(e.rec.shards)]
	byAddr := map[string]*h1Conn{}
	for _, st := range e.c.steps {
		if !st.h1 {
			v.conns = append(v.conns, nil)
			continue
		}
		c := byAddr[st.addr]
		if c == nil {
			c = &h1Conn{addr: st.addr, timeout: e.sc.Timeout}
			byAddr[st.addr] = c
		}
		v.conns = append(v.conns, c)
	}
	v.act.hmap = map[string]string{}
	e.vus = append(e.vus, v)
	return v
}

func (v *vu) close() {
	for _, c := range v.conns {
		if c != nil {
			c.close()
		}
	}
	if v.timer != nil {
		v.timer.Stop()
	}
}

// sleepUntilCut waits d unless the test is cut (aborted, interrupted, past
// its graceful stop): an open-model VU keeps the iteration it claimed
// before the end.
func (v *vu) sleepUntilCut(d time.Duration) bool {
	return v.wait(d, v.e.hard.Done(), func() bool { return v.e.hard.Err() == nil })
}

// sleep waits d or until the test stops; it reports whether to go on.
func (v *vu) sleep(d time.Duration) bool {
	return v.wait(d, v.e.stopCh, func() bool { return !v.e.stopped.Load() })
}

func (v *vu) wait(d time.Duration, stop <-chan struct{}, goOn func() bool) bool {
	if d <= 0 {
		return goOn()
	}
	if v.timer == nil {
		v.timer = time.NewTimer(d)
	} else {
		v.timer.Reset(d)
	}
	select {
	case <-v.timer.C:
		return goOn()
	case <-stop:
		v.timer.Stop()
		return false
	}
}

// iteration runs every step once. intended is the open model's intended
// start when the iteration starts late, else zero.
func (v *vu) iteration(intended time.Time) {
	e := v.e
	for i, cs := range e.c.steps {
		if e.hard.Err() != nil {
			return
		}
		start := time.Now()
		v.inflight.Store(start.UnixNano())
		var err error
		if cs.h1 {
			req := cs.static
			if req == nil {
				v.buf = cs.appendRequest(v.buf[:0], v.vars)
				req = v.buf
			}
			err = v.conns[i].do(req, cs.head, cs.needHdr, cs.needBody, &v.resp)
		} else {
			clear(v.act.hmap)
			err = cs.doNetHTTP(e.hard, e.c.httpClient, v.vars, &v.resp, v.act.hmap)
		}
		end := time.Now()
		v.inflight.Store(0)
		timedOut := v.timedOut.Swap(false)
		dur := end.Sub(start)
		if i == 0 && !intended.IsZero() {
			dur = end.Sub(intended)
		}
		x := &v.smp
		*x = sample{step: i, dur: dur, status: v.resp.status, sent: v.resp.sent, recv: v.resp.recv, checkIDs: cs.checks}
		if err != nil {
			if e.hard.Err() != nil && !timedOut {
				return // cut at the end of the test: not a measurement
			}
			x.failed, x.status = true, 0
			x.errKind = errKind(err, timedOut)
		} else if v.resp.status >= 400 {
			x.failed = true
		}
		if len(cs.checks) > 0 || len(cs.extract) > 0 {
			v.checkOK = v.checkOK[:0]
			v.act.reset(&v.resp, dur, !cs.h1)
			for _, ch := range cs.checks {
				ok := false
				if err == nil {
					ok, _ = evalBool(ch.prg, &v.act)
				}
				v.checkOK = append(v.checkOK, ok)
			}
			for _, ex := range cs.extract {
				val, xerr := "", err
				if err == nil {
					val, xerr = evalString(ex.prg, &v.act)
				}
				if xerr != nil {
					delete(v.vars, ex.name)
					if x.errKind == "" {
						x.errKind = "extract " + ex.name + " failed"
					}
					continue
				}
				v.vars[ex.name] = val
			}
			x.checkOK = v.checkOK
		}
		v.sh.request(x)
		if e.sc.MaxRequests > 0 && e.reqs.Add(1) >= e.share(e.sc.MaxRequests) {
			e.stop("")
		}
		if cs.thinkTime > 0 && !v.sleep(cs.thinkTime) {
			return
		}
	}
}

// errKind names a transport error without addresses, so errors group.
func errKind(err error, timedOut bool) string {
	var ne net.Error
	switch {
	case timedOut || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, errMalformed):
		return "malformed response"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return msg
}
