package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/probe"
	"github.com/prfhq/prf/internal/store"
)

// fakeSpec drives the test probe kind.
type fakeSpec struct {
	Value     int           `yaml:"value"`
	Echo      string        `yaml:"echo"`
	Sleep     time.Duration `yaml:"sleep"`
	IgnoreCtx bool          `yaml:"ignore_ctx"`
	FailTimes int           `yaml:"fail_times"` // error on the first N attempts
	Key       string        `yaml:"key"`
	Panic     bool          `yaml:"panic"`
}

func (s *fakeSpec) Validate() error { return nil }

type fakeObs struct {
	Value int    `json:"value"`
	Echo  string `json:"echo"`
}

type fakeKind struct {
	mu       sync.Mutex
	attempts map[string]int
	inflight atomic.Int32
	maxSeen  atomic.Int32
	spans    map[string][2]time.Time // when each key's last attempt ran, if set
}

func (f *fakeKind) kind() probe.Kind {
	return probe.Kind{
		Name:        "fake",
		Observation: fakeObs{},
		NewSpec:     func() probe.Spec { return &fakeSpec{} },
		Probe: func(ctx context.Context, env probe.Env, spec probe.Spec) (any, error) {
			s := spec.(*fakeSpec)
			n := f.inflight.Add(1)
			defer f.inflight.Add(-1)
			for {
				m := f.maxSeen.Load()
				if n <= m || f.maxSeen.CompareAndSwap(m, n) {
					break
				}
			}
			f.mu.Lock()
			f.attempts[s.Key]++
			attempt := f.attempts[s.Key]
			f.mu.Unlock()
			if f.spans != nil {
				began := time.Now()
				defer func() {
					f.mu.Lock()
					f.spans[s.Key] = [2]time.Time{began, time.Now()}
					f.mu.Unlock()
				}()
			}
			env.Logf("attempt %d echo %s", attempt, s.Echo)
			if s.Panic {
				panic("probe bug")
			}
			if s.Sleep > 0 {
				if s.IgnoreCtx {
					time.Sleep(s.Sleep)
				} else {
					select {
					case <-time.After(s.Sleep):
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
			}
			if attempt <= s.FailTimes {
				return nil, fmt.Errorf("connection refused (attempt %d, echo %s)", attempt, s.Echo)
			}
			return fakeObs{Value: s.Value, Echo: s.Echo}, nil
		},
	}
}

// memStore is a minimal Recorder for runner tests (the real stores have
// their own contract suite).
type memStore struct {
	mu      sync.Mutex
	runs    map[string]*store.Run
	results map[string][]store.Result
	failAdd error
}

func newMem() *memStore {
	return &memStore{runs: map[string]*store.Run{}, results: map[string][]store.Result{}}
}

func (m *memStore) CreateRun(_ context.Context, r *store.Run) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *r
	m.runs[r.ID] = &c
	return nil
}

func (m *memStore) AddResults(_ context.Context, id string, rs []store.Result) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAdd != nil {
		return m.failAdd
	}
	m.results[id] = append(m.results[id], rs...)
	return nil
}

func (m *memStore) FinishRun(_ context.Context, r *store.Run) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *r
	m.runs[r.ID] = &c
	return nil
}

func load(t *testing.T, f *fakeKind, body string) *checklist.Checklist {
	t.Helper()
	src := "version: 1\nname: test\nsecrets:\n  pw: env:PRF_RUNNER_PW\ncheckpoints:\n" + body
	cl, err := checklist.Parse([]byte(src), "test.yaml", checklist.Options{Registry: probe.NewRegistry(f.kind())})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func cp(id, extra, probeSettings, expect string) string {
	s := fmt.Sprintf("  - id: %s\n    title: T %s\n    domain: application\n    owner: Dev Lead\n", id, id)
	if extra != "" {
		s += "    " + strings.ReplaceAll(extra, "\n", "\n    ") + "\n"
	}
	if probeSettings == "" {
		return s + "    manual: true\n"
	}
	return s + "    probe: {kind: fake, key: " + id + ", " + probeSettings + "}\n    expect: '" + expect + "'\n"
}

func byID(rs []store.Result) map[string]store.Result {
	m := map[string]store.Result{}
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

func TestStatuses(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "hunter2-secret")
	f := &fakeKind{attempts: map[string]int{}}
	cl := load(t, f,
		cp("pass", "", "value: 1", "value == 1")+
			cp("fail", "", "value: 2", "value == 1")+
			cp("warnsev", "severity: warning", "value: 2", "value == 1")+
			cp("warnmode", "mode: warn", "value: 2", "value == 1")+
			cp("shadow", "mode: shadow", "value: 2", "value == 1")+
			cp("err", "", "fail_times: 9", "value == 1")+
			cp("manual", "", "", "")+
			cp("dep-ok", "depends_on: [pass]", "value: 1", "value == 1")+
			cp("dep-bad", "depends_on: [fail]", "value: 1", "value == 1")+
			cp("dep-chain", "depends_on: [dep-bad]", "value: 1", "value == 1")+
			cp("secret", "", "echo: 'pw=${secrets.pw}'", `echo == "nope"`))
	mem := newMem()
	var events sync.Map
	run, err := Run(context.Background(), cl, mem, Options{Observer: func(e Event) {
		v, _ := events.LoadOrStore(e.Type, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.Status{
		"pass": store.StatusPass, "fail": store.StatusFail, "warnsev": store.StatusWarn,
		"warnmode": store.StatusWarn, "shadow": store.StatusFail, "err": store.StatusError,
		"manual": store.StatusPending, "dep-ok": store.StatusPass, "dep-bad": store.StatusSkipped,
		"dep-chain": store.StatusSkipped, "secret": store.StatusFail,
	}
	got := byID(mem.results[run.ID])
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for id, st := range want {
		if got[id].Status != st {
			t.Errorf("%s: status %s, want %s (%s)", id, got[id].Status, st, got[id].Message)
		}
	}
	if m := got["fail"].Message; m != "value == 1: got value=2" {
		t.Errorf("fail message = %q", m)
	}
	if m := got["dep-bad"].Message; m != `dependency "fail" is fail` {
		t.Errorf("dep-bad message = %q", m)
	}
	if m := got["err"].Message; !strings.Contains(m, "probe fake: connection refused") {
		t.Errorf("err message = %q", m)
	}
	sec := got["secret"]
	for _, s := range []string{sec.Message, string(sec.Observation), string(sec.Values), strings.Join(sec.Log, "\n")} {
		if strings.Contains(s, "hunter2-secret") {
			t.Errorf("secret leaked: %s", s)
		}
		if !strings.Contains(s, redacted) {
			t.Errorf("want %s in %q", redacted, s)
		}
	}
	var obs map[string]any
	if err := json.Unmarshal(got["pass"].Observation, &obs); err != nil || obs["value"] != float64(1) {
		t.Errorf("observation = %s (%v)", got["pass"].Observation, err)
	}
	stored := mem.runs[run.ID]
	if stored.State != store.RunCompleted || stored.Verdict != store.VerdictNotReady || stored.FinishedAt == nil {
		t.Errorf("run = %+v", stored)
	}
	if stored.Summary[store.StatusSkipped] != 2 || stored.Summary[store.StatusPass] != 2 {
		t.Errorf("summary = %v", stored.Summary)
	}
	for typ, n := range map[EventType]int32{EventRunStarted: 1, EventRunFinished: 1, EventFinished: 11, EventStarted: 8} {
		v, _ := events.Load(typ)
		if v == nil || v.(*atomic.Int32).Load() != n {
			t.Errorf("events %s = %v, want %d", typ, v, n)
		}
	}
}

func TestVerdictReady(t *testing.T) {
	f := &fakeKind{attempts: map[string]int{}}
	cl := load(t, f,
		cp("a", "", "value: 1", "value == 1")+
			cp("w", "severity: warning", "value: 2", "value == 1")+
			cp("s", "mode: shadow", "value: 2", "value == 1")+
			cp("m", "severity: info", "", ""))
	mem := newMem()
	t.Setenv("PRF_RUNNER_PW", "x")
	run, err := Run(context.Background(), cl, mem, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Verdict != store.VerdictReady {
		t.Errorf("verdict %s, want ready: %+v", run.Verdict, mem.results[run.ID])
	}
}

func TestRetries(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	f := &fakeKind{attempts: map[string]int{}}
	cl := load(t, f,
		cp("flaky", "retries: 2\nretry_delay: 1ms", "fail_times: 2, value: 1", "value == 1")+
			cp("broken", "retries: 1\nretry_delay: 1ms", "fail_times: 5", "value == 1"))
	mem := newMem()
	run, err := Run(context.Background(), cl, mem, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := byID(mem.results[run.ID])
	if r := got["flaky"]; r.Status != store.StatusPass || r.Attempts != 3 {
		t.Errorf("flaky: %s after %d attempts", r.Status, r.Attempts)
	}
	// Two backoffs of 1ms and 2ms: the duration covers every attempt.
	if r := got["flaky"]; r.DurationMS < 3 {
		t.Errorf("flaky: duration %.3fms, want at least the 3ms of backoff", r.DurationMS)
	}
	if r := got["broken"]; r.Status != store.StatusError || r.Attempts != 2 {
		t.Errorf("broken: %s after %d attempts", r.Status, r.Attempts)
	}
}

func TestTimeoutAbandonsProbe(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	f := &fakeKind{attempts: map[string]int{}}
	cl := load(t, f, cp("hang", "timeout: 50ms", "sleep: 1h, ignore_ctx: true", "value == 1")+
		cp("slow", "timeout: 50ms", "sleep: 1h", "value == 1"))
	mem := newMem()
	done := make(chan struct{})
	var run *store.Run
	go func() {
		defer close(done)
		run, _ = Run(context.Background(), cl, mem, Options{})
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("run did not finish: a probe outlived its timeout")
	}
	for id, r := range byID(mem.results[run.ID]) {
		if r.Status != store.StatusError || !strings.Contains(r.Message, "timed out after 50ms") {
			t.Errorf("%s: %s %q", id, r.Status, r.Message)
		}
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	f := &fakeKind{attempts: map[string]int{}}
	var body string
	for i := 0; i < 12; i++ {
		body += cp(fmt.Sprintf("c%d", i), "", "sleep: 20ms, value: 1", "value == 1")
	}
	cl := load(t, f, body)
	if _, err := Run(context.Background(), cl, newMem(), Options{Concurrency: 3}); err != nil {
		t.Fatal(err)
	}
	if m := f.maxSeen.Load(); m != 3 {
		t.Errorf("max in flight = %d, want 3", m)
	}
}

func TestCancelStoresFinished(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	f := &fakeKind{attempts: map[string]int{}}
	cl := load(t, f, cp("quick", "", "value: 1", "value == 1")+
		cp("slow", "", "sleep: 1h", "value == 1")+
		cp("after", "depends_on: [slow]", "value: 1", "value == 1"))
	mem := newMem()
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	run, err := Run(ctx, cl, mem, Options{Observer: func(e Event) {
		if e.Type == EventFinished && e.Result.ID == "quick" {
			once.Do(cancel)
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	got := byID(mem.results[run.ID])
	if len(got) != 1 || got["quick"].Status != store.StatusPass {
		t.Errorf("results = %+v, want only quick", got)
	}
	if r := mem.runs[run.ID]; r.State != store.RunInterrupted || r.Verdict != store.VerdictNotReady {
		t.Errorf("run = %s %s", r.State, r.Verdict)
	}
}

func TestStoreFailureAborts(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	f := &fakeKind{attempts: map[string]int{}}
	cl := load(t, f, cp("a", "", "value: 1", "value == 1")+cp("b", "", "sleep: 1h", "value == 1"))
	mem := newMem()
	mem.failAdd = errors.New("disk full")
	run, err := Run(context.Background(), cl, mem, Options{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	if run.State != store.RunInterrupted {
		t.Errorf("state = %s", run.State)
	}
}

func TestUnresolvedSecret(t *testing.T) {
	f := &fakeKind{attempts: map[string]int{}}
	cl := load(t, f, cp("a", "", "value: 1", "value == 1"))
	t.Setenv("PRF_RUNNER_PW", "")
	_, err := Run(context.Background(), cl, newMem(), Options{})
	if err == nil || !strings.Contains(err.Error(), `secret "pw"`) {
		t.Fatalf("err = %v", err)
	}
}

// Ready checkpoints start in checklist order: with one slot, a run follows
// the file, and a dependent starts once its dependency has finished.
func TestStartOrder(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	f := &fakeKind{attempts: map[string]int{}}
	cl := load(t, f,
		cp("z-first", "depends_on: [m-third]", "value: 1", "value == 1")+
			cp("b-second", "", "value: 1", "value == 1")+
			cp("m-third", "", "value: 1", "value == 1")+
			cp("a-fourth", "", "value: 1", "value == 1"))
	var mu sync.Mutex
	var started []string
	_, err := Run(context.Background(), cl, newMem(), Options{Concurrency: 1, Observer: func(e Event) {
		if e.Type == EventStarted {
			mu.Lock()
			started = append(started, e.Checkpoint.ID)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "b-second m-third z-first a-fourth"
	if got := strings.Join(started, " "); got != want {
		t.Errorf("start order %q, want %q", got, want)
	}
}

// A failing shadow checkpoint stays out of the verdict, so its dependents
// still run: shadow mode never changes whether a run is ready.
func TestShadowDependencyDoesNotGate(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	f := &fakeKind{attempts: map[string]int{}}
	cl := load(t, f, cp("trial", "mode: shadow", "value: 2", "value == 1")+
		cp("gate", "depends_on: [trial]", "value: 1", "value == 1"))
	mem := newMem()
	run, err := Run(context.Background(), cl, mem, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := byID(mem.results[run.ID])
	if got["trial"].Status != store.StatusFail || got["gate"].Status != store.StatusPass {
		t.Errorf("trial %s, gate %s (%s)", got["trial"].Status, got["gate"].Status, got["gate"].Message)
	}
	if run.Verdict != store.VerdictReady {
		t.Errorf("verdict %s: a shadow failure changed the verdict", run.Verdict)
	}
}

// A probe that panics is an error result, not a crashed run; the stack is
// in the checkpoint's log, the message stays one line.
func TestProbePanic(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	f := &fakeKind{attempts: map[string]int{}}
	cl := load(t, f, cp("boom", "", "panic: true", "value == 1")+cp("fine", "", "value: 1", "value == 1"))
	mem := newMem()
	run, err := Run(context.Background(), cl, mem, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := byID(mem.results[run.ID])
	boom := got["boom"]
	if boom.Status != store.StatusError || boom.Message != "probe fake: probe panicked: probe bug" {
		t.Errorf("boom: %s %q", boom.Status, boom.Message)
	}
	if !strings.Contains(strings.Join(boom.Log, "\n"), "goroutine") {
		t.Errorf("no stack in the log: %q", boom.Log)
	}
	if got["fine"].Status != store.StatusPass {
		t.Errorf("fine: %s", got["fine"].Status)
	}
}

// A checkpoint that reads an empty variable is skipped as not configured,
// one disabled with a reason is skipped as disabled, and neither blocks;
// their dependents are left out the same way. A failed dependency still
// blocks its dependent.
func TestNotConfiguredAndDisabledDoNotBlock(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	f := &fakeKind{attempts: map[string]int{}}
	src := "version: 1\nname: test\nvars: {target: \"\"}\nsecrets: {pw: \"\"}\ndisable:\n  - {id: off, reason: not in this service}\ncheckpoints:\n" +
		cp("unset", "", "echo: '${vars.target}'", "value == 0") +
		cp("unset-secret", "", "echo: '${secrets.pw}'", "value == 0") +
		cp("after-unset", "depends_on: [unset]", "value: 1", "value == 1") +
		cp("off", "", "value: 2", "value == 1") +
		cp("ok", "", "value: 1", "value == 1")
	cl, err := checklist.Parse([]byte(src), "test.yaml", checklist.Options{Registry: probe.NewRegistry(f.kind())})
	if err != nil {
		t.Fatal(err)
	}
	mem := newMem()
	run, err := Run(context.Background(), cl, mem, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := byID(mem.results[run.ID])
	for id, want := range map[string]struct{ skip, msg string }{
		"unset":        {store.SkipNotConfigured, "not configured: set target (--var target=...)"},
		"unset-secret": {store.SkipNotConfigured, "not configured: secret pw (--secret pw=env:NAME)"},
		"after-unset":  {store.SkipNotConfigured, `dependency "unset" is not configured`},
		"off":          {store.SkipDisabled, "disabled: not in this service"},
	} {
		r := got[id]
		if r.Status != store.StatusSkipped || r.Skip != want.skip || r.Message != want.msg || r.Blocks() {
			t.Errorf("%s: %s/%s %q blocks=%v, want skipped/%s %q", id, r.Status, r.Skip, r.Message, r.Blocks(), want.skip, want.msg)
		}
	}
	if f.attempts["unset"]+f.attempts["off"]+f.attempts["after-unset"] != 0 {
		t.Errorf("skipped checkpoints ran: %v", f.attempts)
	}
	if run.Verdict != store.VerdictReady {
		t.Errorf("verdict %s, want ready", run.Verdict)
	}

	// The same checklist with a failing dependency is not ready.
	cl2 := load(t, f, cp("dep", "", "value: 2", "value == 1")+cp("child", "depends_on: [dep]", "value: 1", "value == 1"))
	run2, err := Run(context.Background(), cl2, mem, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := byID(mem.results[run2.ID])["child"]; c.Skip != store.SkipDependency || !c.Blocks() || run2.Verdict != store.VerdictNotReady {
		t.Errorf("child of a failed dependency: skip %q blocks %v verdict %s", c.Skip, c.Blocks(), run2.Verdict)
	}
}

// Priority starts the likeliest failures first (dependencies still come
// first); FailFast stops at the first blocking failure and records the
// rest as skipped, so the run holds every checkpoint and is not ready.
func TestPriorityAndFailFast(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	body := cp("a", "", "value: 1", "value == 1") +
		cp("b", "", "value: 1", "value == 1") +
		cp("c", "", "value: 2", "value == 1") + // fails
		cp("d", "depends_on: [a]", "value: 1", "value == 1") +
		cp("w", "severity: warning", "value: 2", "value == 1") // fails, does not block
	for _, tc := range []struct {
		name     string
		prio     map[string]float64
		failFast bool
		started  string
		skipped  string
	}{
		{"file order", nil, false, "a b c d w", ""},
		{"priority", map[string]float64{"c": 0.9, "w": 0.5, "d": 1}, false, "c w a d b", ""},
		{"fail fast in file order", nil, true, "a b c", "d w"},
		{"fail fast, failure first", map[string]float64{"c": 0.9}, true, "c", "a b d w"},
		{"a warning does not stop", map[string]float64{"w": 0.9, "c": 0.5}, true, "w c", "a b d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKind{attempts: map[string]int{}}
			cl := load(t, f, body)
			var started []string
			mem := newMem()
			run, err := Run(context.Background(), cl, mem, Options{Concurrency: 1, Priority: tc.prio, FailFast: tc.failFast, Observer: func(e Event) {
				if e.Type == EventStarted {
					started = append(started, e.Checkpoint.ID)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(started, " "); got != tc.started {
				t.Errorf("started %q, want %q", got, tc.started)
			}
			var skipped []string
			for _, r := range mem.results[run.ID] {
				if r.Status == store.StatusSkipped {
					skipped = append(skipped, r.ID)
					if r.Skip != store.SkipFailFast || !strings.Contains(r.Message, `--fail-fast stopped the run when "c" failed`) {
						t.Errorf("%s: skip %q: %s", r.ID, r.Skip, r.Message)
					}
				}
			}
			slices.Sort(skipped)
			if got := strings.Join(skipped, " "); got != tc.skipped {
				t.Errorf("skipped %q, want %q", got, tc.skipped)
			}
			if len(mem.results[run.ID]) != 5 || run.Verdict != store.VerdictNotReady || run.State != store.RunCompleted {
				t.Errorf("%d results, verdict %s, state %s", len(mem.results[run.ID]), run.Verdict, run.State)
			}
		})
	}
}

// A checkpoint that runs alone (a load test) starts when nothing else runs
// or is ready, and nothing starts beside it; its dependents then run as
// usual. Kinds like loadtest run alone unless exclusive: false.
func TestExclusiveRunsAlone(t *testing.T) {
	t.Setenv("PRF_RUNNER_PW", "x")
	f := &fakeKind{attempts: map[string]int{}, spans: map[string][2]time.Time{}}
	load := f.kind()
	load.Name, load.Alone = "load", true
	reg := probe.NewRegistry(f.kind(), load)
	one := func(id, kind, extra string) string {
		return fmt.Sprintf("  - id: %s\n    title: T %s\n    domain: performance\n    owner: Dev Lead\n%s    probe: {kind: %s, key: %s, sleep: 30ms, value: 1}\n    expect: value == 1\n", id, id, extra, kind, id)
	}
	src := "version: 1\nname: test\ncheckpoints:\n" +
		one("a", "fake", "") +
		one("k6", "load", "    depends_on: [a]\n") + // alone by its kind
		one("b", "fake", "    depends_on: [a]\n") +
		one("c", "fake", "    depends_on: [k6]\n") +
		one("solo", "fake", "    exclusive: true\n") +
		one("shared", "load", "    exclusive: false\n") +
		one("d", "fake", "")
	cl, err := checklist.Parse([]byte(src), "test.yaml", checklist.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	var alone []string
	for _, cp := range cl.Checkpoints {
		if cp.Alone {
			alone = append(alone, cp.ID)
		}
	}
	if got := strings.Join(alone, " "); got != "k6 solo" {
		t.Fatalf("alone: %q, want \"k6 solo\"", got)
	}
	mem := newMem()
	run, err := Run(context.Background(), cl, mem, Options{Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	if run.Verdict != store.VerdictReady || len(mem.results[run.ID]) != 7 {
		t.Fatalf("verdict %s with %d results, want ready with 7", run.Verdict, len(mem.results[run.ID]))
	}
	for _, id := range alone {
		s := f.spans[id]
		for other, o := range f.spans {
			if other != id && o[0].Before(s[1]) && s[0].Before(o[1]) {
				t.Errorf("%s ran beside %s", other, id)
			}
		}
	}
	if f.maxSeen.Load() < 2 {
		t.Errorf("at most %d probes at once: the others should share", f.maxSeen.Load())
	}
	if f.spans["c"][0].Before(f.spans["k6"][1]) {
		t.Error("c started before k6, which it depends on, finished")
	}

	// One at a time, with priorities: the alone ones still wait for the
	// rest, the likelier first among them, and k6's dependent runs before
	// the last alone one, as soon as it is ready.
	var started []string
	_, err = Run(context.Background(), cl, newMem(), Options{Concurrency: 1, Priority: map[string]float64{"k6": 1, "solo": 0.5}, Observer: func(e Event) {
		if e.Type == EventStarted {
			started = append(started, e.Checkpoint.ID)
		}
	}})
	if got, want := strings.Join(started, " "), "a b shared d k6 c solo"; err != nil || got != want {
		t.Errorf("one at a time with priorities: started %q, want %q (err %v)", got, want, err)
	}

	// Fail-fast skips an alone checkpoint still waiting for its turn.
	f = &fakeKind{attempts: map[string]int{}}
	reg = probe.NewRegistry(f.kind(), load)
	src = strings.Replace(src, "key: d, sleep: 30ms, value: 1", "key: d, sleep: 30ms, value: 2", 1)
	if cl, err = checklist.Parse([]byte(src), "test.yaml", checklist.Options{Registry: reg}); err != nil {
		t.Fatal(err)
	}
	mem = newMem()
	if run, err = Run(context.Background(), cl, mem, Options{Concurrency: 8, FailFast: true}); err != nil {
		t.Fatal(err)
	}
	got := byID(mem.results[run.ID])
	for _, id := range []string{"k6", "solo", "c"} {
		if r := got[id]; r.Status != store.StatusSkipped || r.Skip != store.SkipFailFast {
			t.Errorf("%s: %s (%s), want skipped by fail-fast", id, r.Status, r.Skip)
		}
	}
}
