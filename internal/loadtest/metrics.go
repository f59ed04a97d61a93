package loadtest

import (
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, 1 µs to 10 min, 3 significant
// digits (0.1% resolution); a longer one is recorded as the maximum and
// counted.
const (
	histMin  = 1
	histMax  = int64(10 * time.Minute / time.Microsecond)
	histSig  = 3
	statuses = 6 // 0 (no response), 1xx … 5xx
)

func newHist() *hdr.Histogram { return hdr.New(histMin, histMax, histSig) }

func record(h *hdr.Histogram, d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	h.RecordValue(us) //nolint:errcheck // clamped into range above
}

// series is the request metrics of one step (or of all steps).
type series struct {
	Dur         *hdr.Histogram
	Reqs        int64
	Failed      int64
	ChecksPass  int64
	ChecksFail  int64
	Status      [statuses]int64
	Sent, Recvd int64
}

func newSeries() series { return series{Dur: newHist()} }

func (s *series) add(o *series) {
	s.Dur.Merge(o.Dur)
	s.Reqs += o.Reqs
	s.Failed += o.Failed
	s.ChecksPass += o.ChecksPass
	s.ChecksFail += o.ChecksFail
	for i := range s.Status {
		s.Status[i] += o.Status[i]
	}
	s.Sent += o.Sent
	s.Recvd += o.Recvd
}

func (s *series) reset() {
	s.Dur.Reset()
	h := s.Dur
	*s = series{Dur: h}
}

// acc accumulates everything measured over some span of time: one per
// shard for the current bucket, one per bucket, one per stage, one total.
type acc struct {
	All        series
	Steps      []series
	Checks     [][2]int64 // per check id: passed, failed
	Iter       *hdr.Histogram
	Iterations int64
	Dropped    int64
	Errors     map[string]int64
}

func newAcc(steps, checks int) *acc {
	a := &acc{All: newSeries(), Steps: make([]series, steps), Checks: make([][2]int64, checks), Iter: newHist(), Errors: map[string]int64{}}
	for i := range a.Steps {
		a.Steps[i] = newSeries()
	}
	return a
}

func (a *acc) add(o *acc) {
	a.All.add(&o.All)
	for i := range a.Steps {
		a.Steps[i].add(&o.Steps[i])
	}
	for i := range a.Checks {
		a.Checks[i][0] += o.Checks[i][0]
		a.Checks[i][1] += o.Checks[i][1]
	}
	a.Iter.Merge(o.Iter)
	a.Iterations += o.Iterations
	a.Dropped += o.Dropped
	for k, v := range o.Errors {
		a.Errors[k] += v
	}
}

func (a *acc) reset() {
	a.All.reset()
	for i := range a.Steps {
		a.Steps[i].reset()
	}
	clear(a.Checks)
	a.Iter.Reset()
	a.Iterations, a.Dropped = 0, 0
	clear(a.Errors)
}

// shard is where a group of VUs records. VUs of different shards never
// contend; the collector swaps a shard's acc out once per bucket.
type shard struct {
	mu  sync.Mutex
	cur *acc
	_   [40]byte // keep shards on separate cache lines
}

// sample is one request's measurements.
type sample struct {
	step     int
	dur      time.Duration
	failed   bool
	status   int
	sent     int64
	recv     int64
	errKind  string
	checkOK  []bool // by the step's check order
	checkIDs []ccheck
}

func (s *shard) request(x *sample) {
	s.mu.Lock()
	a := s.cur
	for _, se := range [2]*series{&a.All, &a.Steps[x.step]} {
		record(se.Dur, x.dur)
		se.Reqs++
		if x.failed {
			se.Failed++
		}
		se.Status[min(x.status/100, statuses-1)]++
		se.Sent += x.sent
		se.Recvd += x.recv
		for _, ok := range x.checkOK {
			if ok {
				se.ChecksPass++
			} else {
				se.ChecksFail++
			}
		}
	}
	for i, ok := range x.checkOK {
		if ok {
			a.Checks[x.checkIDs[i].id][0]++
		} else {
			a.Checks[x.checkIDs[i].id][1]++
		}
	}
	if x.errKind != "" {
		a.Errors[x.errKind]++
	}
	s.mu.Unlock()
}

func (s *shard) iteration(d time.Duration) {
	s.mu.Lock()
	record(s.cur.Iter, d)
	s.cur.Iterations++
	s.mu.Unlock()
}

func (s *shard) dropped(n int64) {
	s.mu.Lock()
	s.cur.Dropped += n
	s.mu.Unlock()
}

// Bucket is the measurements of one span of the test: a time bucket
// (1 s by default) that never straddles two stages.
type Bucket struct {
	Start  time.Duration // since the test started
	End    time.Duration
	Stage  int // 0-based
	VUs    int // at the end of the bucket
	VUsMax int // VUs started so far
	*acc
}

// recorder owns the shards and cuts buckets.
type recorder struct {
	shards []shard
	spare  []*acc
	steps  int
	checks int
}

func newRecorder(n, steps, checks int) *recorder {
	r := &recorder{shards: make([]shard, n), steps: steps, checks: checks}
	for i := range r.shards {
		r.shards[i].cur = newAcc(steps, checks)
		r.spare = append(r.spare, newAcc(steps, checks))
	}
	return r
}

// cut swaps every shard's accumulator for an empty one and returns their
// sum as the bucket's acc.
func (r *recorder) cut() *acc {
	out := newAcc(r.steps, r.checks)
	for i := range r.shards {
		s := &r.shards[i]
		fresh := r.spare[i]
		s.mu.Lock()
		old := s.cur
		s.cur = fresh
		s.mu.Unlock()
		out.add(old)
		old.reset()
		r.spare[i] = old
	}
	return out
}

// Latency is a trend in milliseconds.
type Latency struct {
	Min float64 `json:"min"`
	Avg float64 `json:"avg"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func latencyOf(h *hdr.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{
		Min: ms(h.Min()), Avg: h.Mean() / 1000, P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P95: ms(h.ValueAtQuantile(95)), P99: ms(h.ValueAtQuantile(99)), Max: ms(h.Max()),
	}
}

// aggregate is the value of a threshold's aggregate over an acc spanning
// secs seconds; ok is false when there is no data.
func aggregate(a *acc, metric string, e *thresholdExpr, secs float64, stepIdx int) (float64, bool) {
	se := &a.All
	if stepIdx >= 0 {
		se = &a.Steps[stepIdx]
	}
	trend := func(h *hdr.Histogram) (float64, bool) {
		if h.TotalCount() == 0 {
			return 0, false
		}
		switch e.agg {
		case "avg":
			return h.Mean() / 1000, true
		case "min":
			return float64(h.Min()) / 1000, true
		case "max":
			return float64(h.Max()) / 1000, true
		case "med":
			return float64(h.ValueAtQuantile(50)) / 1000, true
		case "p":
			return float64(h.ValueAtQuantile(e.pct)) / 1000, true
		}
		return 0, false
	}
	counter := func(n int64) (float64, bool) {
		if e.agg == "rate" {
			if secs <= 0 {
				return 0, false
			}
			return float64(n) / secs, true
		}
		return float64(n), true
	}
	ratio := func(num, den int64) (float64, bool) {
		if den == 0 {
			return 0, false
		}
		return float64(num) / float64(den), true
	}
	switch metric {
	case MetricDuration:
		return trend(se.Dur)
	case MetricIterDuration:
		return trend(a.Iter)
	case MetricFailed:
		return ratio(se.Failed, se.Reqs)
	case MetricChecks:
		return ratio(se.ChecksPass, se.ChecksPass+se.ChecksFail)
	case MetricReqs:
		return counter(se.Reqs)
	case MetricIterations:
		return counter(a.Iterations)
	case MetricDropped:
		return counter(a.Dropped)
	case MetricDataSent:
		return counter(se.Sent)
	case MetricDataReceived:
		return counter(se.Recvd)
	}
	return 0, false
}
