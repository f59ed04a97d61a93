package demo

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// metrics counts requests for /metrics: the demo's own prf_demo_* series,
// and the conventional application metrics a real deployment's
// instrumentation exports (what the catalogue's PromQL and the reference
// alert rules read): http_requests_total{code,route},
// http_request_duration_seconds{route} and KServe's request_predict_seconds.
type metrics struct {
	mu          sync.Mutex
	requests    map[requestKey]uint64
	wafBlocks   map[string]uint64
	rateLimited uint64

	reg      *prometheus.Registry
	reqTotal *prometheus.CounterVec
	reqDur   *prometheus.HistogramVec
	predict  prometheus.Histogram
}

// Histogram buckets, in seconds. They hold the catalogue's bounds as exact
// edges: 0.1 (inference), 0.2 (the k6 p(95)<200 threshold) and 0.5 (the
// response time alert).
var (
	requestBuckets = []float64{.005, .01, .025, .05, .1, .2, .3, .5, 1, 2.5, 5, 10}
	predictBuckets = []float64{.005, .01, .025, .05, .075, .1, .2, .5, 1, 2.5, 5}
)

// predictRoute is the route whose successful requests are model predictions.
const predictRoute = "POST /ai/predict"

type requestKey struct {
	route string
	code  int
}

func newMetrics() *metrics {
	m := &metrics{
		requests:  map[requestKey]uint64{},
		wafBlocks: map[string]uint64{},
		reg:       prometheus.NewRegistry(),
		reqTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests by status code and route.",
		}, []string{"code", "route"}),
		reqDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request duration in seconds, by route.",
			Buckets: requestBuckets,
		}, []string{"route"}),
		predict: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "request_predict_seconds",
			Help:    "Model prediction time in seconds (successful /ai/predict requests).",
			Buckets: predictBuckets,
		}),
	}
	m.reg.MustRegister(m.reqTotal, m.reqDur, m.predict)
	return m
}

func (m *metrics) addRequest(route string, code int, took time.Duration) {
	m.mu.Lock()
	m.requests[requestKey{route, code}]++
	m.mu.Unlock()
	m.reqTotal.WithLabelValues(strconv.Itoa(code), route).Inc()
	m.reqDur.WithLabelValues(route).Observe(took.Seconds())
	if route == predictRoute && code == http.StatusOK {
		m.predict.Observe(took.Seconds())
	}
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
		took := time.Since(began)
		t.metrics.addRequest(route, code, took)
		t.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", code,
			"duration_ms", took.Milliseconds(), "remote", r.RemoteAddr)
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
	// Every rule's counter is exported from the start, at 0 until it
	// blocks: increase() then sees the first block too.
	rules := make([]string, 0, len(m.wafBlocks)+len(t.waf.rules))
	for r := range m.wafBlocks {
		rules = append(rules, r)
	}
	for _, r := range t.waf.rules {
		rules = append(rules, r.name)
	}
	slices.Sort(rules)
	rules = slices.Compact(rules)
	b.WriteString("# HELP prf_demo_waf_blocked_total Requests blocked by the WAF, by rule.\n# TYPE prf_demo_waf_blocked_total counter\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "prf_demo_waf_blocked_total{rule=%q} %d\n", r, m.wafBlocks[r])
	}
	fmt.Fprintf(&b, "# HELP prf_demo_rate_limited_total Requests answered 429.\n# TYPE prf_demo_rate_limited_total counter\nprf_demo_rate_limited_total %d\n", m.rateLimited)
	m.mu.Unlock()

	if mfs, err := m.reg.Gather(); err == nil {
		enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				break
			}
		}
	}

	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
