package loadtest

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/prfhq/prf/internal/atomicfile"
)

// ResultVersion is the format version of a --out result file.
const ResultVersion = 1

// Result is everything a run measured, bucket by bucket, with histograms,
// so that shards merge exactly and two runs can be compared later. It is
// what --out writes and `prf loadtest merge` reads.
type Result struct {
	Version     int            `json:"version"`
	Name        string         `json:"name"`
	Executor    string         `json:"executor"`
	Shard       string         `json:"shard,omitempty"` // "i/N"
	Started     time.Time      `json:"started"`
	Elapsed     time.Duration  `json:"elapsed"`
	Open        bool           `json:"open_model"`
	Steps       []string       `json:"steps"`
	Checks      []string       `json:"checks"`
	Stages      []StageSpan    `json:"stages"`
	Thresholds  []ThresholdDef `json:"thresholds,omitempty"`
	Aborted     string         `json:"aborted,omitempty"`
	Buckets     []wireBucket   `json:"buckets"`
	ClampedHigh int64          `json:"clamped_high,omitempty"`
}

// StageSpan is one stage of the plan, on the test's clock.
type StageSpan struct {
	Start  time.Duration `json:"start"`
	End    time.Duration `json:"end"`
	Target float64       `json:"target"` // VUs or rate at the end of the stage
}

// ThresholdDef is a threshold with its metric, as stored with a result.
type ThresholdDef struct {
	Metric string `json:"metric"`
	Threshold
}

// UnmarshalJSON reads the flattened form json.Marshal writes (the embedded
// Threshold's UnmarshalText would otherwise take the whole object).
func (d *ThresholdDef) UnmarshalJSON(b []byte) error {
	type fields Threshold // Threshold's fields without its UnmarshalText
	var w struct {
		Metric string `json:"metric"`
		fields
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*d = ThresholdDef{Metric: w.Metric, Threshold: Threshold(w.fields)}
	if err := d.compile(); err != nil {
		return fmt.Errorf("threshold %s: %w", d.Metric, err)
	}
	return nil
}

type wireSeries struct {
	Dur        []byte          `json:"dur,omitempty"`
	Reqs       int64           `json:"reqs,omitempty"`
	Failed     int64           `json:"failed,omitempty"`
	ChecksPass int64           `json:"checks_pass,omitempty"`
	ChecksFail int64           `json:"checks_fail,omitempty"`
	Status     [statuses]int64 `json:"status"`
	Sent       int64           `json:"sent,omitempty"`
	Recvd      int64           `json:"recvd,omitempty"`
}

type wireBucket struct {
	Start      time.Duration    `json:"start"`
	End        time.Duration    `json:"end"`
	Stage      int              `json:"stage"`
	VUs        int              `json:"vus"`
	VUsMax     int              `json:"vus_max"`
	All        wireSeries       `json:"all"`
	Steps      []wireSeries     `json:"steps"`
	Checks     [][2]int64       `json:"checks,omitempty"`
	Iter       []byte           `json:"iter,omitempty"`
	Iterations int64            `json:"iterations,omitempty"`
	Dropped    int64            `json:"dropped,omitempty"`
	Errors     map[string]int64 `json:"errors,omitempty"`
}

func encodeHist(h *hdr.Histogram) []byte {
	if h.TotalCount() == 0 {
		return nil
	}
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil
	}
	return b
}

func decodeHist(b []byte) (*hdr.Histogram, error) {
	if len(b) == 0 {
		return newHist(), nil
	}
	h, err := hdr.Decode(b)
	if err != nil {
		return nil, err
	}
	// Normalise the geometry so merges are exact.
	out := newHist()
	if dropped := out.Merge(h); dropped != 0 {
		return nil, fmt.Errorf("histogram holds %d values outside 1 µs..10 min", dropped)
	}
	return out, nil
}

func toWire(b *Bucket) wireBucket {
	ws := func(s *series) wireSeries {
		return wireSeries{Dur: encodeHist(s.Dur), Reqs: s.Reqs, Failed: s.Failed, ChecksPass: s.ChecksPass, ChecksFail: s.ChecksFail, Status: s.Status, Sent: s.Sent, Recvd: s.Recvd}
	}
	w := wireBucket{Start: b.Start, End: b.End, Stage: b.Stage, VUs: b.VUs, VUsMax: b.VUsMax, All: ws(&b.All),
		Checks: append([][2]int64(nil), b.Checks...), Iter: encodeHist(b.Iter), Iterations: b.Iterations, Dropped: b.Dropped}
	for i := range b.Steps {
		w.Steps = append(w.Steps, ws(&b.Steps[i]))
	}
	if len(b.Errors) > 0 {
		w.Errors = map[string]int64{}
		for k, v := range b.Errors {
			w.Errors[k] = v
		}
	}
	return w
}

func (w *wireBucket) decode(steps, checks int) (*Bucket, error) {
	if len(w.Steps) != steps || (len(w.Checks) != 0 && len(w.Checks) != checks) {
		return nil, fmt.Errorf("bucket at %s: %d steps and %d checks, want %d and %d", w.Start, len(w.Steps), len(w.Checks), steps, checks)
	}
	a := &acc{Steps: make([]series, steps), Checks: make([][2]int64, checks), Iterations: w.Iterations, Dropped: w.Dropped, Errors: map[string]int64{}}
	ds := func(in *wireSeries, out *series) error {
		h, err := decodeHist(in.Dur)
		if err != nil {
			return err
		}
		*out = series{Dur: h, Reqs: in.Reqs, Failed: in.Failed, ChecksPass: in.ChecksPass, ChecksFail: in.ChecksFail, Status: in.Status, Sent: in.Sent, Recvd: in.Recvd}
		return nil
	}
	if err := ds(&w.All, &a.All); err != nil {
		return nil, err
	}
	for i := range w.Steps {
		if err := ds(&w.Steps[i], &a.Steps[i]); err != nil {
			return nil, err
		}
	}
	copy(a.Checks, w.Checks)
	var err error
	if a.Iter, err = decodeHist(w.Iter); err != nil {
		return nil, err
	}
	for k, v := range w.Errors {
		a.Errors[k] = v
	}
	return &Bucket{Start: w.Start, End: w.End, Stage: w.Stage, VUs: w.VUs, VUsMax: w.VUsMax, acc: a}, nil
}

// WriteFile writes the result as JSON, atomically.
func (r *Result) WriteFile(path string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o666)
}

// ReadResult reads a --out result file.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not a prf loadtest result: %w", path, err)
	}
	if r.Version != ResultVersion {
		return nil, fmt.Errorf("%s: result format version %d, this build reads %d", path, r.Version, ResultVersion)
	}
	return &r, nil
}

// Merge sums shard results bucket by bucket: histograms merge, counters
// add, so the merged summary is exactly that of one run of the whole load.
// Shards must come from the same scenario; buckets are aligned by their
// position on each shard's clock.
func Merge(rs []*Result) (*Result, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("nothing to merge")
	}
	base := rs[0]
	out := *base
	out.Shard = ""
	out.Buckets = nil
	seen := map[string]bool{}
	for i, r := range rs {
		if r.Name != base.Name || r.Executor != base.Executor || !slices.Equal(r.Steps, base.Steps) || !slices.Equal(r.Checks, base.Checks) || len(r.Stages) != len(base.Stages) {
			return nil, fmt.Errorf("result %d (%s, shard %s) is not from the same scenario as the first (%s)", i+1, r.Name, r.Shard, base.Name)
		}
		if r.Shard != "" {
			if seen[r.Shard] {
				return nil, fmt.Errorf("shard %s given twice", r.Shard)
			}
			seen[r.Shard] = true
		}
		if r.Elapsed > out.Elapsed {
			out.Elapsed = r.Elapsed
		}
		if r.Started.Before(out.Started) {
			out.Started = r.Started
		}
		if out.Aborted == "" {
			out.Aborted = r.Aborted
		}
		out.ClampedHigh += r.ClampedHigh
	}
	out.ClampedHigh -= base.ClampedHigh
	n := 0
	for _, r := range rs {
		n = max(n, len(r.Buckets))
	}
	for i := 0; i < n; i++ {
		var sum *Bucket
		for _, r := range rs {
			if i >= len(r.Buckets) {
				continue
			}
			b, err := r.Buckets[i].decode(len(base.Steps), len(base.Checks))
			if err != nil {
				return nil, fmt.Errorf("shard %s: %w", r.Shard, err)
			}
			if sum == nil {
				sum = b
				continue
			}
			sum.acc.add(b.acc)
			sum.VUs += b.VUs
			sum.VUsMax += b.VUsMax
			sum.End = max(sum.End, b.End)
		}
		out.Buckets = append(out.Buckets, toWire(sum))
	}
	return &out, nil
}

// Summary is the end-of-test report: what `-o json` prints and what a
// loadtest checkpoint's expect reads.
type Summary struct {
	Name              string            `json:"name"`
	Executor          string            `json:"executor"`
	Shard             string            `json:"shard,omitempty"`
	DurationS         float64           `json:"duration_s"`
	Requests          int64             `json:"requests"`
	RPS               float64           `json:"rps"`
	Failed            int64             `json:"failed"`
	FailedRate        float64           `json:"failed_rate"`
	ChecksPassed      int64             `json:"checks_passed"`
	ChecksFailed      int64             `json:"checks_failed"`
	ChecksRate        float64           `json:"checks_rate"`
	Iterations        int64             `json:"iterations"`
	IterationsRate    float64           `json:"iterations_rate"`
	DroppedIterations int64             `json:"dropped_iterations"`
	DataSent          int64             `json:"data_sent"`
	DataReceived      int64             `json:"data_received"`
	VUs               int               `json:"vus"`
	VUsMax            int               `json:"vus_max"`
	Latency           Latency           `json:"latency_ms"`
	IterationDuration Latency           `json:"iteration_duration_ms"`
	Status            map[string]int64  `json:"status"`
	Errors            map[string]int64  `json:"errors"`
	Steps             []StepSummary     `json:"steps"`
	Checks            []CheckSummary    `json:"checks"`
	Stages            []StageSummary    `json:"stages"`
	Thresholds        []ThresholdResult `json:"thresholds"`
	ThresholdsOK      bool              `json:"thresholds_ok"`
	Aborted           string            `json:"aborted,omitempty"`
	Timeline          []Point           `json:"timeline,omitempty"`
}

// StepSummary is one step's request metrics.
type StepSummary struct {
	Name       string  `json:"name"`
	Requests   int64   `json:"requests"`
	Failed     int64   `json:"failed"`
	FailedRate float64 `json:"failed_rate"`
	ChecksRate float64 `json:"checks_rate"`
	Latency    Latency `json:"latency_ms"`
}

// CheckSummary is one check's tally.
type CheckSummary struct {
	Name   string `json:"name"`
	Passed int64  `json:"passed"`
	Failed int64  `json:"failed"`
}

// StageSummary is one stage's request metrics.
type StageSummary struct {
	Stage      int     `json:"stage"` // 1-based
	StartS     float64 `json:"start_s"`
	EndS       float64 `json:"end_s"`
	Target     float64 `json:"target"`
	Requests   int64   `json:"requests"`
	RPS        float64 `json:"rps"`
	FailedRate float64 `json:"failed_rate"`
	Dropped    int64   `json:"dropped_iterations"`
	Latency    Latency `json:"latency_ms"`
}

// Point is one bucket of the timeline, for progress and plots.
type Point struct {
	AtS        float64 `json:"at_s"`
	VUs        int     `json:"vus"`
	RPS        float64 `json:"rps"`
	P95        float64 `json:"p95_ms"`
	FailedRate float64 `json:"failed_rate"`
}

func statusMap(s [statuses]int64) map[string]int64 {
	m := map[string]int64{}
	for i, n := range s {
		if n == 0 {
			continue
		}
		if i == 0 {
			m["none"] = n
		} else {
			m[fmt.Sprintf("%dxx", i)] = n
		}
	}
	return m
}

func rate(num, den int64) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// aggregator consumes buckets in order and keeps the totals, the
// per-stage sums and the sliding windows the thresholds need. The live
// run and `merge` both go through it, so a merged summary is computed by
// the same code as a single run's.
type aggregator struct {
	res     *Result
	total   *acc
	stages  []*acc
	defs    []ThresholdDef
	windows map[int]*windowState // by threshold index
	last    *Bucket
	vusMax  int
	points  []Point
}

type windowState struct {
	ring  []*Bucket
	worst ThresholdResult
	seen  bool
}

func newAggregator(r *Result) *aggregator {
	a := &aggregator{res: r, total: newAcc(len(r.Steps), len(r.Checks)), defs: r.Thresholds, windows: map[int]*windowState{}}
	for range r.Stages {
		a.stages = append(a.stages, newAcc(len(r.Steps), len(r.Checks)))
	}
	if len(a.stages) == 0 {
		a.stages = append(a.stages, newAcc(len(r.Steps), len(r.Checks)))
	}
	for i, d := range a.defs {
		if d.expr.window > 0 {
			a.windows[i] = &windowState{worst: ThresholdResult{Metric: d.Metric, Threshold: d.Threshold.Threshold, OK: true, Scope: "window"}}
		}
	}
	return a
}

func (a *aggregator) stepIndex(metric string) (string, int) {
	name, step := splitMetric(metric)
	if step == "" {
		return name, -1
	}
	for i, s := range a.res.Steps {
		if s == step {
			return name, i
		}
	}
	return name, -1
}

// add consumes one bucket; it returns the first threshold with
// abort_on_fail that now fails, if any.
func (a *aggregator) add(b *Bucket) *ThresholdResult {
	a.total.add(b.acc)
	st := min(max(b.Stage, 0), len(a.stages)-1)
	a.stages[st].add(b.acc)
	a.last = b
	a.vusMax = max(a.vusMax, b.VUsMax)
	secs := (b.End - b.Start).Seconds()
	a.points = append(a.points, Point{AtS: b.End.Seconds(), VUs: b.VUs, RPS: float64(b.All.Reqs) / max(secs, 1e-9),
		P95: float64(b.All.Dur.ValueAtQuantile(95)) / 1000, FailedRate: rate(b.All.Failed, b.All.Reqs)})
	var abort *ThresholdResult
	for i, d := range a.defs {
		name, step := a.stepIndex(d.Metric)
		if w := a.windows[i]; w != nil {
			w.ring = append(w.ring, b)
			for len(w.ring) > 0 && w.ring[0].Start < b.End-d.expr.window {
				w.ring = w.ring[1:]
			}
			if b.End < d.expr.window && !a.final(b) {
				continue // not a full window yet
			}
			v, ok := aggregateMany(w.ring, name, d.expr, step)
			if !ok {
				continue
			}
			first := !w.seen
			w.seen = true
			if w.worst.OK {
				if !d.expr.holds(v) {
					w.worst.OK, w.worst.Value, w.worst.AtS = false, v, w.ring[0].Start.Seconds()
				} else if first || worse(d.expr, v, w.worst.Value) {
					w.worst.Value = v
				}
			}
			if !w.worst.OK && d.AbortOnFail && b.End >= d.DelayAbortEval && abort == nil {
				r := w.worst
				abort = &r
			}
			continue
		}
		if d.AbortOnFail && !d.PerStage && b.End >= d.DelayAbortEval && abort == nil {
			if v, ok := aggregate(a.total, name, d.expr, b.End.Seconds(), step); ok && !d.expr.holds(v) {
				abort = &ThresholdResult{Metric: d.Metric, Threshold: d.Threshold.Threshold, Value: v, Scope: "test"}
			}
		}
		if d.AbortOnFail && d.PerStage && b.End >= d.DelayAbortEval && abort == nil {
			sp := a.stageSpan(st)
			secs := min(b.End, sp.End).Seconds() - sp.Start.Seconds()
			if v, ok := aggregate(a.stages[st], name, d.expr, secs, step); ok && !d.expr.holds(v) {
				abort = &ThresholdResult{Metric: d.Metric, Threshold: d.Threshold.Threshold, Value: v, Scope: fmt.Sprintf("stage %d", st+1)}
			}
		}
	}
	return abort
}

// final marks the last bucket, so a window longer than the test is still
// judged once, over the whole test.
func (a *aggregator) final(b *Bucket) bool { return b.End >= a.res.Elapsed && a.res.Elapsed > 0 }

func worse(e *thresholdExpr, v, than float64) bool {
	if e.op == "<" || e.op == "<=" {
		return v > than
	}
	return v < than
}

func (a *aggregator) stageSpan(i int) StageSpan {
	if i < len(a.res.Stages) {
		return a.res.Stages[i]
	}
	return StageSpan{End: a.res.Elapsed}
}

func aggregateMany(bs []*Bucket, metric string, e *thresholdExpr, step int) (float64, bool) {
	if len(bs) == 0 {
		return 0, false
	}
	sum := newAcc(len(bs[0].Steps), len(bs[0].Checks))
	for _, b := range bs {
		sum.add(b.acc)
	}
	secs := (bs[len(bs)-1].End - bs[0].Start).Seconds()
	return aggregate(sum, metric, e, secs, step)
}

// summary computes the report from what was added.
func (a *aggregator) summary(withTimeline bool) *Summary {
	r := a.res
	t := a.total
	secs := r.Elapsed.Seconds()
	s := &Summary{
		Name: r.Name, Executor: r.Executor, Shard: r.Shard, DurationS: secs,
		Requests: t.All.Reqs, Failed: t.All.Failed, FailedRate: rate(t.All.Failed, t.All.Reqs),
		ChecksPassed: t.All.ChecksPass, ChecksFailed: t.All.ChecksFail, ChecksRate: rate(t.All.ChecksPass, t.All.ChecksPass+t.All.ChecksFail),
		Iterations: t.Iterations, DroppedIterations: t.Dropped, DataSent: t.All.Sent, DataReceived: t.All.Recvd,
		VUsMax: a.vusMax, Latency: latencyOf(t.All.Dur), IterationDuration: latencyOf(t.Iter),
		Status: statusMap(t.All.Status), Errors: map[string]int64{}, Aborted: r.Aborted, ThresholdsOK: true,
		Steps: []StepSummary{}, Checks: []CheckSummary{}, Stages: []StageSummary{}, Thresholds: []ThresholdResult{},
	}
	if secs > 0 {
		s.RPS = float64(t.All.Reqs) / secs
		s.IterationsRate = float64(t.Iterations) / secs
	}
	if a.last != nil {
		s.VUs = a.last.VUs
	}
	for k, v := range t.Errors {
		s.Errors[k] = v
	}
	for i, name := range r.Steps {
		se := &t.Steps[i]
		s.Steps = append(s.Steps, StepSummary{Name: name, Requests: se.Reqs, Failed: se.Failed, FailedRate: rate(se.Failed, se.Reqs),
			ChecksRate: rate(se.ChecksPass, se.ChecksPass+se.ChecksFail), Latency: latencyOf(se.Dur)})
	}
	for i, name := range r.Checks {
		s.Checks = append(s.Checks, CheckSummary{Name: name, Passed: t.Checks[i][0], Failed: t.Checks[i][1]})
	}
	for i, sa := range a.stages {
		sp := a.stageSpan(i)
		end := min(sp.End, r.Elapsed)
		if i == len(a.stages)-1 {
			end = r.Elapsed // the graceful stop belongs to the last stage
		}
		ss := StageSummary{Stage: i + 1, StartS: sp.Start.Seconds(), EndS: end.Seconds(), Target: sp.Target, Requests: sa.All.Reqs,
			FailedRate: rate(sa.All.Failed, sa.All.Reqs), Dropped: sa.Dropped, Latency: latencyOf(sa.All.Dur)}
		if d := (end - sp.Start).Seconds(); d > 0 {
			ss.RPS = float64(sa.All.Reqs) / d
		}
		s.Stages = append(s.Stages, ss)
	}
	for i, d := range a.defs {
		name, step := a.stepIndex(d.Metric)
		switch {
		case a.windows[i] != nil:
			w := a.windows[i]
			res := w.worst
			res.NoData = !w.seen
			s.Thresholds = append(s.Thresholds, res)
		case d.PerStage:
			for si, sa := range a.stages {
				sp := a.stageSpan(si)
				v, ok := aggregate(sa, name, d.expr, (min(sp.End, r.Elapsed) - sp.Start).Seconds(), step)
				s.Thresholds = append(s.Thresholds, ThresholdResult{Metric: d.Metric, Threshold: d.Threshold.Threshold, OK: !ok || d.expr.holds(v), Value: v, NoData: !ok, Scope: fmt.Sprintf("stage %d", si+1)})
			}
		default:
			v, ok := aggregate(t, name, d.expr, secs, step)
			s.Thresholds = append(s.Thresholds, ThresholdResult{Metric: d.Metric, Threshold: d.Threshold.Threshold, OK: !ok || d.expr.holds(v), Value: v, NoData: !ok, Scope: "test"})
		}
	}
	for i := range s.Thresholds {
		if !s.Thresholds[i].OK {
			s.ThresholdsOK = false
		}
		if r.Aborted != "" && !s.Thresholds[i].OK && a.defs != nil {
			s.Thresholds[i].Aborted = true
		}
	}
	if withTimeline {
		s.Timeline = a.points
	}
	return s
}

// Summarize recomputes the summary of a stored or merged result.
func (r *Result) Summarize(withTimeline bool) (*Summary, error) {
	a := newAggregator(r)
	for i := range r.Buckets {
		b, err := r.Buckets[i].decode(len(r.Steps), len(r.Checks))
		if err != nil {
			return nil, err
		}
		a.add(b)
	}
	return a.summary(withTimeline), nil
}
