package demo

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// metrics counts requests for /metrics.
type metrics struct {
	mu          sync.Mutex
	requests    map[requestKey]uint64
	wafBlocks   map[string]uint64
	rateLimited uint64
}

type requestKey struct {
	route string
	code  int
}

func newMetrics() *metrics {
	return &metrics{requests: map[requestKey]uint64{}, wafBlocks: map[string]uint64{}}
}

func (m *metrics) addRequest(route string, code int) {
	m.mu.Lock()
	m.requests[requestKey{route, code}]++
	m.mu.Unlock()
}

func (m *metrics) addWAFBlock(rule string) {
	m.mu.Lock()
	m.wafBlocks[rule]++
	m.mu.Unlock()
}

func (m *metrics) addRateLimited() {
	m.mu.Lock()
	m.rateLimited++
	m.mu.Unlock()
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe counts every request by route pattern and status and logs it at
// debug level (method, path, status, duration; never headers or bodies).
func (t *Target) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := r.Pattern // set by the mux on this request
		if route == "" || route == "/" {
			route = "other"
		}
		code := rec.code
		if code == 0 {
			code = 499 // the handler gave up: the client went away
		}
		t.metrics.addRequest(route, code)
		t.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", code,
			"duration_ms", time.Since(began).Milliseconds(), "remote", r.RemoteAddr)
	})
}

func (t *Target) handleMetrics(w http.ResponseWriter, r *http.Request) {
	m := t.metrics
	var b strings.Builder
	up := 1
	if t.faults.has(FaultHealthDown) {
		up = 0
	}
	fmt.Fprintf(&b, "# HELP prf_demo_up Whether the demo API gateway reports healthy.\n# TYPE prf_demo_up gauge\nprf_demo_up %d\n", up)
	fmt.Fprintf(&b, "# HELP prf_demo_uptime_seconds Seconds since the demo target started.\n# TYPE prf_demo_uptime_seconds gauge\nprf_demo_uptime_seconds %.3f\n", t.uptime())
	fmt.Fprintf(&b, "# HELP prf_demo_block_height Current block height of the demo chain.\n# TYPE prf_demo_block_height gauge\nprf_demo_block_height %d\n", t.chainHeight(time.Now()))
	model := 1
	if t.faults.has(FaultModelUnloaded) {
		model = 0
	}
	fmt.Fprintf(&b, "# HELP prf_demo_model_loaded Whether the demo model is loaded.\n# TYPE prf_demo_model_loaded gauge\nprf_demo_model_loaded %d\n", model)

	m.mu.Lock()
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b requestKey) int {
		if c := strings.Compare(a.route, b.route); c != 0 {
			return c
		}
		return a.code - b.code
	})
	b.WriteString("# HELP prf_demo_http_requests_total HTTP requests by route and status code.\n# TYPE prf_demo_http_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "prf_demo_http_requests_total{route=%q,code=\"%d\"} %d\n", k.route, k.code, m.requests[k])
	}
	rules := make([]string, 0, len(m.wafBlocks))
	for r := range m.wafBlocks {
		rules = append(rules, r)
	}
	slices.Sort(rules)
	b.WriteString("# HELP prf_demo_waf_blocked_total Requests blocked by the WAF, by rule.\n# TYPE prf_demo_waf_blocked_total counter\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "prf_demo_waf_blocked_total{rule=%q} %d\n", r, m.wafBlocks[r])
	}
	fmt.Fprintf(&b, "# HELP prf_demo_rate_limited_total Requests answered 429.\n# TYPE prf_demo_rate_limited_total counter\nprf_demo_rate_limited_total %d\n", m.rateLimited)
	m.mu.Unlock()

	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
