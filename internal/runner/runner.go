// Package runner plans and runs a checklist: dependencies, concurrency,
// timeouts, retries with backoff, cancellation. It knows no probe kind and
// no report format: it turns checkpoints into stored results and events.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/expect"
	"github.com/prfhq/prf/internal/probe"
	"github.com/prfhq/prf/internal/store"
)

// DefaultConcurrency is how many checkpoints run at once by default.
const DefaultConcurrency = 32

// Recorder is the part of the store the runner writes to.
type Recorder interface {
	CreateRun(ctx context.Context, run *store.Run) error
	AddResults(ctx context.Context, runID string, results []store.Result) error
	FinishRun(ctx context.Context, run *store.Run) error
}

// EventType names what happened.
type EventType string

const (
	EventRunStarted  EventType = "run_started"
	EventStarted     EventType = "checkpoint_started"
	EventFinished    EventType = "checkpoint_finished" // the result is stored
	EventRunFinished EventType = "run_finished"
)

// Event is what the runner emits. Observers are called from several
// goroutines and must be safe for concurrent use and quick.
type Event struct {
	Type       EventType
	Run        *store.Run // for run events
	Checkpoint *checklist.Checkpoint
	Result     *store.Result // for EventFinished
}

// Options configure a run.
type Options struct {
	Concurrency int    // default DefaultConcurrency
	Environment string // label stored with the run
	Observer    func(Event)
	// Secrets are the resolved secret values; nil resolves them from the
	// checklist's references.
	Secrets checklist.Secrets
	// Select, when set, runs only the checkpoints it returns true for (and
	// not their dependencies: a dependency left out counts as not passed).
	Select func(cp *checklist.Checkpoint) bool
	// RunID overrides the generated id (tests).
	RunID string
	// Priority, when set, starts ready checkpoints highest first (ties in
	// checklist order): each checkpoint's likelihood of failing, from its
	// history (risk.CheckPriorities). Dependencies still come first, and a
	// checkpoint that runs alone (Checkpoint.Alone: a load test) still
	// waits until nothing else runs or is ready, whatever its priority;
	// among those waiting, priority picks the next.
	Priority map[string]float64
	// FailFast stops starting checkpoints after the first blocking
	// failure (fail or error); those that did not run are recorded as
	// skipped (store.SkipFailFast), so the run still holds every
	// checkpoint and is not ready.
	FailFast bool
}

// Run executes the checklist and stores its run and results in rec. It
// returns the finished run; when ctx is cancelled the run is stored as
// interrupted with every result that had finished, and Run returns it with
// ctx's error.
func Run(ctx context.Context, cl *checklist.Checklist, rec Recorder, opts Options) (*store.Run, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	secrets := opts.Secrets
	if secrets == nil {
		var err error
		if secrets, err = cl.ResolveSecrets(); err != nil {
			return nil, err
		}
	}
	cps := cl.Checkpoints
	if opts.Select != nil {
		cps = nil
		for _, cp := range cl.Checkpoints {
			if opts.Select(cp) {
				cps = append(cps, cp)
			}
		}
	}
	host, _ := os.Hostname()
	run := &store.Run{
		ID:              opts.RunID,
		Checklist:       cl.Name,
		ChecklistDigest: cl.Digest,
		ChecklistFile:   cl.File,
		Environment:     opts.Environment,
		StartedAt:       time.Now().UTC(),
		State:           store.RunRunning,
		Total:           len(cps),
		Host:            host,
		PID:             os.Getpid(),
	}
	if run.ID == "" {
		run.ID = NewRunID(run.StartedAt)
	}
	// The store outlives cancellation: finishing the run must still work
	// after ctx is done.
	storeCtx := context.WithoutCancel(ctx)
	if err := rec.CreateRun(storeCtx, run); err != nil {
		return nil, fmt.Errorf("create run: %w", err)
	}
	r := &runner{
		rec:      rec,
		cl:       cl,
		opts:     opts,
		secrets:  secrets,
		redact:   newRedactor(secrets.Values()),
		nodes:    make(map[string]*node, len(cps)),
		position: make(map[string]int, len(cl.Checkpoints)),
		results:  make(chan store.Result, 4*min(opts.Concurrency, len(cps)+1)),
	}
	r.emit(Event{Type: EventRunStarted, Run: run})
	for i, cp := range cl.Checkpoints {
		r.position[cp.ID] = i
	}
	nodes := r.plan(cps)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var recErr error
	var tally tally
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		tally, recErr = r.record(storeCtx, run.ID, cancel)
	}()

	r.schedule(runCtx, nodes)
	close(r.results)
	<-recDone

	now := time.Now().UTC()
	run.FinishedAt = &now
	run.Summary = tally.summary
	run.State = store.RunCompleted
	if ctx.Err() != nil || recErr != nil || tally.n < len(cps) {
		run.State = store.RunInterrupted
	}
	run.Verdict = store.VerdictNotReady
	if run.State == store.RunCompleted && !tally.blocked {
		run.Verdict = store.VerdictReady
	}
	if err := rec.FinishRun(storeCtx, run); err != nil {
		return run, errors.Join(recErr, fmt.Errorf("finish run: %w", err))
	}
	r.emit(Event{Type: EventRunFinished, Run: run})
	if recErr != nil {
		return run, recErr
	}
	if ctx.Err() != nil {
		return run, ctx.Err()
	}
	return run, nil
}

// NewRunID returns a time-ordered id such as 20261125-193012-3f9a1c.
func NewRunID(t time.Time) string { return store.NewID(t) }

type runner struct {
	rec      Recorder
	cl       *checklist.Checklist
	opts     Options
	secrets  checklist.Secrets
	redact   *redactor
	nodes    map[string]*node
	position map[string]int // checkpoint id → index in the checklist
	results  chan store.Result
}

func (r *runner) emit(e Event) {
	if r.opts.Observer != nil {
		r.opts.Observer(e)
	}
}

// tally is what a run needs to know of its stored results: it keeps counts,
// not the results, so memory does not grow with the checklist.
type tally struct {
	n       int
	summary map[store.Status]int
	blocked bool
}

// record stores results in batches (group commit) and reports each one only
// once it is durable. On a store error it cancels the run.
func (r *runner) record(ctx context.Context, runID string, cancel context.CancelFunc) (tally, error) {
	t := tally{summary: store.Summarize(nil)}
	batch := make([]store.Result, 0, 256)
	var failed error
	for res := range r.results {
		batch = append(batch[:0], res)
	drain:
		for len(batch) < cap(batch) {
			select {
			case more, ok := <-r.results:
				if !ok {
					break drain
				}
				batch = append(batch, more)
			default:
				break drain
			}
		}
		if failed != nil {
			continue // drain the channel so workers finish
		}
		for i := range batch {
			batch[i].Seq = t.n + i + 1
		}
		if err := r.addResults(ctx, runID, batch); err != nil {
			failed = fmt.Errorf("store results: %w", err)
			cancel()
			continue
		}
		for i := range batch {
			res := batch[i]
			t.n++
			t.summary[res.Status]++
			t.blocked = t.blocked || res.Blocks()
			r.emit(Event{Type: EventFinished, Checkpoint: r.nodes[res.ID].cp, Result: &res})
		}
	}
	return t, failed
}

func (r *runner) addResults(ctx context.Context, runID string, batch []store.Result) error {
	return r.rec.AddResults(ctx, runID, batch)
}

func (r *runner) baseResult(cp *checklist.Checkpoint) store.Result {
	return store.Result{
		ID:         cp.ID,
		Title:      cp.Title,
		Source:     cp.Source,
		Domain:     cp.Domain,
		Category:   cp.Category,
		Owner:      cp.Owner,
		Severity:   cp.Severity,
		Mode:       cp.Mode,
		Kind:       cp.Kind,
		Validation: cp.Validation,
		Controls:   cp.Controls,
		Tags:       cp.Tags,
		Expect:     cp.Expect,
		Position:   r.position[cp.ID],
	}
}

func (r *runner) pending(cp *checklist.Checkpoint) store.Result {
	res := r.baseResult(cp)
	res.Status = store.StatusPending
	res.Message = "needs an attestation by " + cp.Owner
	if cp.Manual.Evidence != "" {
		res.Message += ": " + cp.Manual.Evidence
	}
	res.StartedAt = time.Now().UTC()
	return res
}

func (r *runner) skipped(cp *checklist.Checkpoint, why, kind string) store.Result {
	res := r.baseResult(cp)
	res.Status = store.StatusSkipped
	res.Skip = kind
	res.Message = why
	res.StartedAt = time.Now().UTC()
	return res
}

// execute runs cp's probe with retries and judges the observation.
func (r *runner) execute(ctx context.Context, cp *checklist.Checkpoint) (res store.Result) {
	res = r.baseResult(cp)
	res.StartedAt = time.Now().UTC()
	start := time.Now()
	defer func() { res.DurationMS = float64(time.Since(start).Microseconds()) / 1000 }()

	spec, err := r.cl.Spec(cp, r.secrets)
	if err != nil {
		res.Status, res.Message, res.Attempts = store.StatusError, r.redact.String(err.Error()), 0
		return res
	}
	delay := cp.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		r.attempt(ctx, cp, spec, &res)
		if res.Status == store.StatusPass || attempt > cp.Retries || ctx.Err() != nil {
			return res
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return res
		}
		delay *= 2
	}
}

const maxLogLines = 50

func (r *runner) attempt(ctx context.Context, cp *checklist.Checkpoint, spec probe.Spec, res *store.Result) {
	kind := cp.ProbeKind()
	actx, cancel := context.WithTimeout(ctx, cp.Timeout)
	defer cancel()

	var mu sync.Mutex
	var logs []string
	env := probe.Env{Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(logs) < maxLogLines {
			logs = append(logs, r.redact.String(fmt.Sprintf(format, args...)))
		}
	}}
	type outcome struct {
		obs any
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				// The stack goes to the checkpoint's log, not its message.
				env.Logf("panic: %v\n%s", p, debug.Stack())
				ch <- outcome{err: fmt.Errorf("probe panicked: %v", p)}
			}
		}()
		obs, err := kind.Probe(actx, env, spec)
		ch <- outcome{obs, err}
	}()
	var out outcome
	select {
	case out = <-ch:
	case <-actx.Done():
		// A probe that ignores its context is abandoned, not waited for:
		// no probe outlives its timeout.
		select {
		case out = <-ch:
		case <-time.After(100 * time.Millisecond):
			out = outcome{err: actx.Err()}
		}
	}
	mu.Lock()
	res.Log = append([]string(nil), logs...)
	mu.Unlock()

	obs := probe.Flatten(out.obs)
	res.Observation = r.marshal(obs)
	if out.err != nil {
		res.Status = store.StatusError
		msg := out.err.Error()
		if errors.Is(out.err, context.DeadlineExceeded) && ctx.Err() == nil {
			msg = fmt.Sprintf("timed out after %s: %s", cp.Timeout, msg)
		}
		res.Message = r.redact.String(fmt.Sprintf("probe %s: %s", kind.Name, msg))
		res.Values = nil
		return
	}
	v := cp.Program.Eval(obs)
	// Redact the values before the message quotes and cuts them: a secret
	// escaped by %q or cut at the length limit would no longer match.
	for i := range v.Values {
		v.Values[i].Value = r.redact.Strings(v.Values[i].Value)
	}
	res.Values = r.marshal(valuesMap(v.Values))
	res.Message = r.redact.String(v.Message(cp.Program.Source()))
	switch {
	case v.Pass:
		res.Status = store.StatusPass
	case cp.Severity == checklist.SeverityBlocking && cp.Mode != checklist.ModeWarn:
		res.Status = store.StatusFail
	default:
		res.Status = store.StatusWarn
	}
}

func valuesMap(vs []expect.Value) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = map[string]any{"expr": v.Expr, "value": v.Value}
	}
	return out
}

func (r *runner) marshal(v any) json.RawMessage {
	b, err := json.Marshal(r.redact.Value(v))
	if err != nil {
		b, _ = json.Marshal(map[string]string{"marshal_error": err.Error()})
	}
	return b
}
