package loadtest

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// target is an httptest server that counts requests and connections.
type target struct {
	*httptest.Server
	reqs    atomic.Int64
	conns   atomic.Int64
	inFl    atomic.Int64
	maxInFl atomic.Int64
	start   time.Time
}

func newTarget(t *testing.T, h func(tg *target, w http.ResponseWriter, r *http.Request)) *target {
	t.Helper()
	tg := &target{start: time.Now()}
	tg.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.reqs.Add(1)
		n := tg.inFl.Add(1)
		for {
			m := tg.maxInFl.Load()
			if n <= m || tg.maxInFl.CompareAndSwap(m, n) {
				break
			}
		}
		defer tg.inFl.Add(-1)
		if h != nil {
			h(tg, w, r)
			return
		}
		w.Write([]byte("ok"))
	}))
	tg.Server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			tg.conns.Add(1)
		}
	}
	tg.Start()
	t.Cleanup(tg.Close)
	return tg
}

func mustScenario(t *testing.T, doc string, vars map[string]string) *Scenario {
	t.Helper()
	return scnParse(t, doc, LoadOptions{Vars: vars})
}

func run(t *testing.T, sc *Scenario, opt Options) (*Result, *Summary) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, sum, err := Run(ctx, sc, opt)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res, sum
}

func TestRunConstantVUsOneConnectionPerVU(t *testing.T) {
	tg := newTarget(t, nil)
	sc, err := Quick(tg.URL+"/x", 5, 0, 0, 400*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	_, s := run(t, sc, Options{})
	if s.Requests == 0 || s.Requests != tg.reqs.Load() {
		t.Errorf("summary counts %d requests, the server saw %d", s.Requests, tg.reqs.Load())
	}
	if got := tg.conns.Load(); got != 5 {
		t.Errorf("5 VUs opened %d connections, want 5 (one keep-alive connection each)", got)
	}
	if s.VUsMax != 5 || s.Failed != 0 || s.Status["2xx"] != s.Requests {
		t.Errorf("vus_max %d failed %d status %v", s.VUsMax, s.Failed, s.Status)
	}
	if s.Iterations != s.Requests {
		t.Errorf("one step: iterations %d != requests %d", s.Iterations, s.Requests)
	}
	// Every response is "HTTP/1.1 200 OK" + Date + Content-Length + Content-Type + "ok".
	if s.DataReceived < s.Requests*60 || s.DataSent < s.Requests*40 {
		t.Errorf("data received %d sent %d for %d requests: too little", s.DataReceived, s.DataSent, s.Requests)
	}
	if s.Latency.P50 <= 0 || s.Latency.P50 > s.Latency.P99 || s.Latency.P99 > s.Latency.Max {
		t.Errorf("latency not ordered: %+v", s.Latency)
	}
}

func TestRunRampingVUsFollowsStages(t *testing.T) {
	tg := newTarget(t, func(_ *target, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(2 * time.Millisecond)
		w.Write([]byte("ok"))
	})
	sc := mustScenario(t, `
name: ramp
base_url: `+tg.URL+`
stages:
  - {duration: 300ms, target: 6}
  - {duration: 300ms, target: 6}
  - {duration: 300ms, target: 0}
steps:
  - path: /
`, nil)
	if sc.Executor != RampingVUs {
		t.Fatalf("executor %q, want ramping-vus inferred from stages", sc.Executor)
	}
	_, s := run(t, sc, Options{})
	if s.VUsMax != 6 {
		t.Errorf("vus_max %d, want 6", s.VUsMax)
	}
	if m := tg.maxInFl.Load(); m > 6 || m < 4 {
		t.Errorf("server saw at most %d requests at once, want 4..6", m)
	}
	if len(s.Stages) != 3 {
		t.Fatalf("%d stages reported, want 3", len(s.Stages))
	}
	// The plateau runs 6 VUs throughout; the ramps average about 3.
	// Under -race the collector cuts buckets late, which blurs the stages.
	if !raceEnabled && (s.Stages[1].Requests <= s.Stages[0].Requests || s.Stages[1].Requests <= s.Stages[2].Requests) {
		t.Errorf("plateau should carry the most requests: %d %d %d", s.Stages[0].Requests, s.Stages[1].Requests, s.Stages[2].Requests)
	}
	var sum int64
	for _, st := range s.Stages {
		sum += st.Requests
	}
	if sum != s.Requests {
		t.Errorf("stages add up to %d requests, total %d", sum, s.Requests)
	}
}

func TestRunArrivalRateSendsTheSchedule(t *testing.T) {
	tg := newTarget(t, nil)
	sc, err := Quick(tg.URL+"/", 0, 500, 20, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, s := run(t, sc, Options{})
	if s.Iterations+s.DroppedIterations != 500 {
		t.Errorf("iterations %d + dropped %d, want exactly 500 scheduled", s.Iterations, s.DroppedIterations)
	}
	if s.VUsMax != 20 {
		t.Errorf("vus_max %d, want max_vus 20", s.VUsMax)
	}
	if s.DroppedIterations != 0 || tg.reqs.Load() != 500 {
		t.Errorf("dropped %d, server saw %d, want 0 and 500", s.DroppedIterations, tg.reqs.Load())
	}
}

func TestRunRampingArrivalRate(t *testing.T) {
	tg := newTarget(t, nil)
	sc := mustScenario(t, `
base_url: `+tg.URL+`
executor: ramping-arrival-rate
start_rate: 0
stages:
  - {duration: 500ms, target: 400}
  - {duration: 500ms, target: 400}
max_vus: 20
steps: [{path: /}]
`, nil)
	_, s := run(t, sc, Options{})
	// 0→400/s over 0.5 s is 100 iterations, then 200 more.
	if got := s.Iterations + s.DroppedIterations; got != 300 {
		t.Errorf("scheduled %d iterations, want 300", got)
	}
	// Buckets end near the stage boundary, not on it: allow a few requests
	// either side (more under -race, where the collector runs late).
	slack := int64(10)
	if raceEnabled {
		slack = 40
	}
	if d0, d1 := s.Stages[0].Requests-100, s.Stages[1].Requests-200; d0 < -slack || d0 > slack || d1 < -slack || d1 > slack {
		t.Errorf("per stage %d and %d, want about 100 and 200", s.Stages[0].Requests, s.Stages[1].Requests)
	}
}

func TestScheduleInvertsTheRamp(t *testing.T) {
	sc := &Scenario{Executor: RampingArrivalRate, TimeUnit: time.Second, StartRate: 10, Stages: []Stage{{Duration: 2 * time.Second, Target: 30}, {Duration: time.Second, Target: 0}}}
	s := newSchedule(sc)
	// 10→30 over 2 s: 40 iterations; 30→0 over 1 s: 15 more.
	n := int64(0)
	prev := time.Duration(-1)
	for {
		at, ok := s.at(n)
		if !ok {
			break
		}
		if at <= prev {
			t.Fatalf("iteration %d at %s, not after %s", n, at, prev)
		}
		prev = at
		n++
	}
	if n != 55 {
		t.Errorf("%d iterations scheduled, want 55", n)
	}
	if at, _ := s.at(40); at < 2*time.Second || at > 2*time.Second+time.Millisecond {
		t.Errorf("iteration 40 at %s, want the start of stage 2", at)
	}
}

func TestRunDropsWhatNoVUCanTake(t *testing.T) {
	tg := newTarget(t, func(_ *target, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(100 * time.Millisecond)
	})
	sc, err := Quick(tg.URL+"/", 0, 200, 2, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	_, s := run(t, sc, Options{})
	if s.Iterations+s.DroppedIterations != 100 {
		t.Errorf("iterations %d + dropped %d, want 100", s.Iterations, s.DroppedIterations)
	}
	if s.Iterations > 14 || s.DroppedIterations < 80 {
		t.Errorf("2 VUs at 100 ms each should run about 10 of 100: ran %d, dropped %d", s.Iterations, s.DroppedIterations)
	}
	if m := tg.maxInFl.Load(); m > 2 {
		t.Errorf("max_vus 2 but %d requests in flight", m)
	}
}

// A stall of the target delays iterations that no VU was free to start:
// their latency counts from when they should have been sent, so the stall
// shows in the percentiles instead of vanishing (coordinated omission).
func TestRunOpenModelMeasuresFromIntendedTime(t *testing.T) {
	if raceEnabled {
		t.Skip("compares latencies over time: too slow under -race")
	}
	var stall sync.Mutex
	var stalled atomic.Bool
	tg := newTarget(t, func(tg *target, w http.ResponseWriter, _ *http.Request) {
		// One stall only: two requests in the window, each stalling in
		// turn, would hold the target for 500 ms, past what max_vus covers.
		if since := time.Since(tg.start); since > 300*time.Millisecond && since < 320*time.Millisecond && stalled.CompareAndSwap(false, true) {
			stall.Lock()
			time.Sleep(250 * time.Millisecond)
			stall.Unlock()
		}
		stall.Lock()
		stall.Unlock() //nolint:staticcheck // wait out a stall
		w.Write([]byte("ok"))
	})
	sc := mustScenario(t, `
base_url: `+tg.URL+`
rate: 100
duration: 1s
max_vus: 50
pre_allocated_vus: 1
steps: [{path: /}]
`, nil)
	tg.start = time.Now()
	_, s := run(t, sc, Options{})
	if s.DroppedIterations != 0 {
		t.Errorf("dropped %d, want 0 (VUs can be added)", s.DroppedIterations)
	}
	// About 25 of 100 iterations fall in the stall.
	if s.Latency.P90 < 50 {
		t.Errorf("p90 %.1f ms: the 250 ms stall was hidden", s.Latency.P90)
	}
	if s.Latency.P50 > 50 {
		t.Errorf("p50 %.1f ms: most requests were not stalled", s.Latency.P50)
	}
}

func TestRunMultiStepCarriesTheToken(t *testing.T) {
	var issued sync.Map
	var n atomic.Int64
	tg := newTarget(t, func(_ *target, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			var in struct{ User string }
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.User != "ann" || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "bad login", 400)
				return
			}
			tok := "t" + string(rune('a'+n.Add(1)%26))
			issued.Store(tok, true)
			w.Header().Set("X-Issued", "yes")
			json.NewEncoder(w).Encode(map[string]any{"token": tok, "n": 3})
		case "/data":
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if _, ok := issued.Load(tok); !ok {
				http.Error(w, "no", 401)
				return
			}
			w.Write([]byte(`{"results":[1,2]}`))
		}
	})
	doc := `
base_url: ${vars.base}
vars: {base: "", user: ann}
vus: 3
duration: 300ms
steps:
  - name: login
    path: /login
    json: {user: "${vars.user}"}
    checks:
      status is 200: status == 200
      header: headers["x-issued"] == "yes"
    extract: {token: EXPR}
  - name: data
    path: /data
    headers: {Authorization: "Bearer {{token}}"}
    checks:
      has results: size(json.results) == 2
thresholds:
  checks: ["rate>0.99"]
  http_req_failed{step:data}: ["rate<0.01"]
`
	_, s := run(t, mustScenario(t, strings.Replace(doc, "EXPR", "json.token", 1), map[string]string{"base": tg.URL}), Options{})
	if !s.ThresholdsOK || s.ChecksRate != 1 || s.Steps[1].Requests == 0 || s.Steps[1].FailedRate != 0 {
		t.Fatalf("token flow: thresholds_ok %v checks %.3f data %+v errors %v", s.ThresholdsOK, s.ChecksRate, s.Steps[1], s.Errors)
	}
	if len(s.Checks) != 3 || s.Checks[0].Name != "login: header" {
		t.Errorf("checks %+v", s.Checks)
	}
	// Extracting a missing field sends no token: data fails and so do its checks.
	_, s = run(t, mustScenario(t, strings.Replace(doc, "EXPR", "json.nope", 1), map[string]string{"base": tg.URL}), Options{})
	if s.ThresholdsOK || s.Steps[1].FailedRate != 1 || s.Errors["extract token failed"] == 0 {
		t.Errorf("missing token: thresholds_ok %v data failed %.2f errors %v", s.ThresholdsOK, s.Steps[1].FailedRate, s.Errors)
	}
}

func TestRunAbortOnFailStopsEarly(t *testing.T) {
	tg := newTarget(t, func(_ *target, w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", 503) })
	sc := mustScenario(t, `
base_url: `+tg.URL+`
vus: 2
duration: 10s
steps: [{path: /}]
thresholds:
  http_req_failed:
    - {threshold: "rate<0.01", abort_on_fail: true, delay_abort_eval: 200ms}
`, nil)
	start := time.Now()
	_, s := run(t, sc, Options{})
	if time.Since(start) > 5*time.Second || s.Aborted == "" {
		t.Fatalf("not aborted: took %s, aborted %q", time.Since(start), s.Aborted)
	}
	if s.ThresholdsOK || !s.Thresholds[0].Aborted || s.Status["5xx"] == 0 {
		t.Errorf("thresholds %+v status %v", s.Thresholds, s.Status)
	}
}

// A bad fifth of a second fails a windowed threshold that the whole
// test's percentile averages away.
func TestRunSlidingWindowCatchesABadMoment(t *testing.T) {
	if raceEnabled {
		t.Skip("compares latencies over time: too slow under -race")
	}
	tg := newTarget(t, func(tg *target, w http.ResponseWriter, _ *http.Request) {
		if since := time.Since(tg.start); since > 800*time.Millisecond && since < 900*time.Millisecond {
			time.Sleep(30 * time.Millisecond)
		}
		w.Write([]byte("ok"))
	})
	// At a fixed rate the samples are spread evenly in time: 20 of 600
	// are slow, under the 5% a p95 ignores, but a third of one window.
	sc := mustScenario(t, `
base_url: `+tg.URL+`
rate: 200
max_vus: 50
duration: 3s
steps: [{path: /}]
thresholds:
  http_req_duration: ["p(95)<20", "p(95)<20 over 300ms"]
`, nil)
	tg.start = time.Now()
	_, s := run(t, sc, Options{})
	var whole, window *ThresholdResult
	for i := range s.Thresholds {
		if s.Thresholds[i].Scope == "window" {
			window = &s.Thresholds[i]
		} else {
			whole = &s.Thresholds[i]
		}
	}
	if whole == nil || window == nil {
		t.Fatalf("thresholds %+v", s.Thresholds)
	}
	if !whole.OK {
		t.Errorf("whole-test p95 %.2f ms should hold", whole.Value)
	}
	if window.OK || window.Value < 20 || window.AtS < 0.4 || window.AtS > 1.1 {
		t.Errorf("window threshold %+v: want failed, from about 0.5-1.0 s", window)
	}
}

func TestRunPerStageThreshold(t *testing.T) {
	if raceEnabled {
		t.Skip("compares latencies over time: too slow under -race")
	}
	tg := newTarget(t, func(tg *target, w http.ResponseWriter, _ *http.Request) {
		if time.Since(tg.start) > 450*time.Millisecond {
			time.Sleep(25 * time.Millisecond)
		}
		w.Write([]byte("ok"))
	})
	sc := mustScenario(t, `
base_url: `+tg.URL+`
executor: ramping-arrival-rate
start_rate: 200
stages: [{duration: 400ms, target: 200}, {duration: 400ms, target: 200}]
max_vus: 50
steps: [{path: /}]
thresholds:
  http_req_duration:
    - {threshold: "p(95)<20", per_stage: true}
`, nil)
	tg.start = time.Now()
	_, s := run(t, sc, Options{})
	if len(s.Thresholds) != 2 || !s.Thresholds[0].OK || s.Thresholds[1].OK || s.Thresholds[1].Scope != "stage 2" {
		t.Errorf("per-stage results %+v", s.Thresholds)
	}
	if s.Stages[1].Latency.P95 < 20 || s.Stages[0].Latency.P95 > 20 {
		t.Errorf("stage p95 %.1f / %.1f", s.Stages[0].Latency.P95, s.Stages[1].Latency.P95)
	}
}

func TestRunShardsMergeToTheWhole(t *testing.T) {
	tg := newTarget(t, nil)
	sc := func() *Scenario {
		s, err := Quick(tg.URL+"/", 0, 400, 20, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		s.Thresholds = map[string][]*Threshold{MetricDuration: {{Threshold: "p(99)<1000"}}}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	var wg sync.WaitGroup
	res := make([]*Result, 2)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := Run(context.Background(), sc(), Options{Shard: i, Shards: 2})
			if err != nil {
				t.Error(err)
			}
			res[i] = r
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	m, err := Merge(res)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Summarize(false)
	if err != nil {
		t.Fatal(err)
	}
	if s.Iterations+s.DroppedIterations != 400 || s.Requests != tg.reqs.Load() {
		t.Errorf("merged %d iterations + %d dropped (want 400), %d requests (server saw %d)", s.Iterations, s.DroppedIterations, s.Requests, tg.reqs.Load())
	}
	s0, _ := res[0].Summarize(false)
	s1, _ := res[1].Summarize(false)
	if s0.Requests+s1.Requests != s.Requests || s.Latency.Max != max(s0.Latency.Max, s1.Latency.Max) {
		t.Errorf("shards %d+%d, max %.3f/%.3f; merged %d, max %.3f", s0.Requests, s1.Requests, s0.Latency.Max, s1.Latency.Max, s.Requests, s.Latency.Max)
	}
	if len(s.Thresholds) != 1 || !s.Thresholds[0].OK {
		t.Errorf("merged thresholds %+v", s.Thresholds)
	}
	if _, err := Merge([]*Result{res[0], res[0]}); err == nil {
		t.Error("merging a shard with itself was accepted")
	}
	other := *res[1]
	other.Steps = []string{"other"}
	if _, err := Merge([]*Result{res[0], &other}); err == nil {
		t.Error("merging results of different scenarios was accepted")
	}
}

func TestRunTimeoutFailsTheRequest(t *testing.T) {
	release := make(chan struct{})
	tg := newTarget(t, func(_ *target, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	sc := mustScenario(t, `
base_url: `+tg.URL+`
vus: 1
duration: 600ms
timeout: 150ms
graceful_stop: 100ms
steps: [{path: /}]
`, nil)
	_, s := run(t, sc, Options{})
	if s.Errors["timeout"] < 2 || s.FailedRate != 1 {
		t.Errorf("errors %v failed rate %.2f: want timeouts", s.Errors, s.FailedRate)
	}
	if s.Latency.P50 < 140 || s.Latency.P50 > 400 {
		t.Errorf("a timed-out request lasted %.1f ms, want about 150", s.Latency.P50)
	}
}

func TestRunInterruptedKeepsWhatWasMeasured(t *testing.T) {
	tg := newTarget(t, nil)
	sc, _ := Quick(tg.URL+"/", 2, 0, 0, 20*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	res, s, err := Run(ctx, sc, Options{})
	if err != context.Canceled {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if s.Requests == 0 || s.Aborted != "interrupted" || len(res.Buckets) == 0 || s.DurationS > 5 {
		t.Errorf("requests %d aborted %q buckets %d duration %.1f", s.Requests, s.Aborted, len(res.Buckets), s.DurationS)
	}
}

func TestRunMaxRequestsBoundsTheTest(t *testing.T) {
	tg := newTarget(t, nil)
	sc := mustScenario(t, `
base_url: `+tg.URL+`
vus: 4
duration: 20s
max_requests: 200
steps: [{path: /}]
`, nil)
	_, s := run(t, sc, Options{})
	if s.Requests < 200 || s.Requests > 204 {
		t.Errorf("%d requests, want 200 (at most one more per VU in flight)", s.Requests)
	}
}

func TestRunHTTPSGoesThroughNetHTTP(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
		w.Write([]byte(`{"ok":true}`))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	defer srv.Close()
	sc := mustScenario(t, `
base_url: `+srv.URL+`
insecure: true
vus: 2
duration: 300ms
steps:
  - path: /
    checks: {ok: 'json.ok && headers["x-proto"].startsWith("HTTP/")'}
`, nil)
	_, s := run(t, sc, Options{})
	if s.Requests == 0 || s.FailedRate != 0 || s.ChecksRate != 1 || s.DataReceived == 0 {
		t.Errorf("requests %d failed %.2f checks %.2f received %d errors %v", s.Requests, s.FailedRate, s.ChecksRate, s.DataReceived, s.Errors)
	}
	// Without trusting the test CA the handshake fails.
	sc.Insecure = false
	_, s = run(t, sc, Options{})
	if s.FailedRate != 1 {
		t.Errorf("untrusted certificate: failed rate %.2f, want 1", s.FailedRate)
	}
}
