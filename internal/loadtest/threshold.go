package loadtest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Metric names, as in k6.
const (
	MetricReqs         = "http_reqs"
	MetricDuration     = "http_req_duration"
	MetricFailed       = "http_req_failed"
	MetricChecks       = "checks"
	MetricIterations   = "iterations"
	MetricIterDuration = "iteration_duration"
	MetricDropped      = "dropped_iterations"
	MetricDataSent     = "data_sent"
	MetricDataReceived = "data_received"
)

type metricType int

const (
	trendMetric   metricType = iota // avg, min, max, med, p(N) in ms
	rateMetric                      // rate: share of true samples
	counterMetric                   // count, rate per second
)

var metrics = map[string]metricType{
	MetricReqs: counterMetric, MetricDuration: trendMetric, MetricFailed: rateMetric,
	MetricChecks: rateMetric, MetricIterations: counterMetric, MetricIterDuration: trendMetric,
	MetricDropped: counterMetric, MetricDataSent: counterMetric, MetricDataReceived: counterMetric,
}

// perStep lists the metrics that can be selected per step.
var perStep = map[string]bool{MetricReqs: true, MetricDuration: true, MetricFailed: true, MetricChecks: true}

func metricKind(key string) metricType {
	name, _ := splitMetric(key)
	return metrics[name]
}

// splitMetric splits "http_req_duration{step:login}" into its name and
// step; a selector that is not {step:NAME} gives a step starting with NUL,
// which checkMetric reports.
func splitMetric(key string) (name, step string) {
	name, sel, ok := strings.Cut(key, "{")
	if !ok {
		return strings.TrimSpace(key), ""
	}
	sel = strings.TrimSpace(sel)
	if !strings.HasSuffix(sel, "}") {
		return strings.TrimSpace(name), "\x00" + sel
	}
	sel = strings.TrimSuffix(sel, "}")
	k, v, _ := strings.Cut(sel, ":")
	if strings.TrimSpace(k) != "step" || strings.TrimSpace(v) == "" {
		return strings.TrimSpace(name), "\x00" + sel
	}
	return strings.TrimSpace(name), strings.TrimSpace(v)
}

func checkMetric(key string, steps map[string]bool) error {
	name, step := splitMetric(key)
	if _, ok := metrics[name]; !ok {
		return fmt.Errorf("unknown metric %q (known: %s)", name, strings.Join(sortedKeys(metrics), ", "))
	}
	if strings.HasPrefix(step, "\x00") {
		return fmt.Errorf("bad selector {%s} (want {step:NAME})", step[1:])
	}
	if step != "" {
		if !perStep[name] {
			return fmt.Errorf("%s is not measured per step", name)
		}
		if !steps[step] {
			return fmt.Errorf("no step named %q", step)
		}
	}
	return nil
}

// Threshold is one pass/fail rule over a metric, as in k6, plus two
// things k6 users ask for: per_stage (hold in every stage, not only over
// the whole test) and a sliding window (`p(95)<200 over 30s`: hold in
// every 30 s window, so a bad minute is not averaged away).
type Threshold struct {
	Threshold      string        `yaml:"threshold" json:"threshold" doc:"expression, e.g. p(95)<200, rate<0.01, count>100, avg<50 over 30s"`
	AbortOnFail    bool          `yaml:"abort_on_fail" json:"abort_on_fail,omitempty" doc:"stop the test as soon as the threshold fails"`
	DelayAbortEval time.Duration `yaml:"delay_abort_eval" json:"delay_abort_eval,omitempty" doc:"do not abort before this much of the test has run (samples need time to settle)"`
	PerStage       bool          `yaml:"per_stage" json:"per_stage,omitempty" doc:"the threshold must hold in every stage separately"`

	expr *thresholdExpr
}

// UnmarshalText lets a threshold be written as a bare string.
func (t *Threshold) UnmarshalText(b []byte) error {
	e, err := parseThreshold(string(b))
	if err != nil {
		return err
	}
	t.Threshold, t.expr = string(b), e
	return nil
}

// compile parses the expression of the mapping form.
func (t *Threshold) compile() error {
	if t.expr != nil {
		return nil
	}
	e, err := parseThreshold(t.Threshold)
	if err != nil {
		return err
	}
	t.expr = e
	return nil
}

type thresholdExpr struct {
	agg    string  // avg min max med p rate count
	pct    float64 // for p
	op     string
	value  float64
	window time.Duration // 0: whole test (or stage)
}

var ops = []string{"<=", ">=", "==", "!=", "<", ">"}

// ParseThreshold parses "p(95)<200", "rate<0.01", "avg<=50 over 30s".
func parseThreshold(s string) (*thresholdExpr, error) {
	src := strings.TrimSpace(s)
	if src == "" {
		return nil, fmt.Errorf("empty threshold")
	}
	e := &thresholdExpr{}
	if i := strings.Index(src, " over "); i >= 0 {
		w, err := time.ParseDuration(strings.TrimSpace(src[i+6:]))
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("threshold %q: bad window %q (use e.g. over 30s)", s, strings.TrimSpace(src[i+6:]))
		}
		e.window = w
		src = strings.TrimSpace(src[:i])
	}
	var lhs, rhs string
	for _, op := range ops {
		if i := strings.Index(src, op); i >= 0 {
			lhs, rhs, e.op = strings.TrimSpace(src[:i]), strings.TrimSpace(src[i+len(op):]), op
			break
		}
	}
	if e.op == "" {
		return nil, fmt.Errorf("threshold %q: want AGGREGATE OP NUMBER, e.g. p(95)<200 or rate<0.01", s)
	}
	v, err := strconv.ParseFloat(rhs, 64)
	if err != nil || math.IsNaN(v) {
		return nil, fmt.Errorf("threshold %q: %q is not a number", s, rhs)
	}
	e.value = v
	switch {
	case lhs == "avg" || lhs == "min" || lhs == "max" || lhs == "med" || lhs == "rate" || lhs == "count":
		e.agg = lhs
	case strings.HasPrefix(lhs, "p(") && strings.HasSuffix(lhs, ")"):
		p, err := strconv.ParseFloat(lhs[2:len(lhs)-1], 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return nil, fmt.Errorf("threshold %q: percentile %q must be a number from 0 to 100", s, lhs[2:len(lhs)-1])
		}
		e.agg, e.pct = "p", p
	default:
		return nil, fmt.Errorf("threshold %q: unknown aggregate %q (want avg, min, max, med, p(N), rate or count)", s, lhs)
	}
	return e, nil
}

func (e *thresholdExpr) validFor(t metricType) error {
	ok := false
	switch t {
	case trendMetric:
		ok = e.agg == "avg" || e.agg == "min" || e.agg == "max" || e.agg == "med" || e.agg == "p"
	case rateMetric:
		ok = e.agg == "rate"
	case counterMetric:
		ok = e.agg == "count" || e.agg == "rate"
	}
	if !ok {
		want := map[metricType]string{trendMetric: "avg, min, max, med or p(N)", rateMetric: "rate", counterMetric: "count or rate"}[t]
		return fmt.Errorf("aggregate %s does not apply to this metric (want %s)", e.label(), want)
	}
	return nil
}

func (e *thresholdExpr) label() string {
	if e.agg == "p" {
		return "p(" + strconv.FormatFloat(e.pct, 'f', -1, 64) + ")"
	}
	return e.agg
}

func (e *thresholdExpr) holds(v float64) bool {
	switch e.op {
	case "<":
		return v < e.value
	case "<=":
		return v <= e.value
	case ">":
		return v > e.value
	case ">=":
		return v >= e.value
	case "==":
		return v == e.value
	case "!=":
		return v != e.value
	}
	return false
}

// ThresholdResult is the verdict of one threshold over one scope.
type ThresholdResult struct {
	Metric    string  `json:"metric"`
	Threshold string  `json:"threshold"`
	OK        bool    `json:"ok"`
	Value     float64 `json:"value"`          // the aggregate that decided (the worst one for stages and windows)
	Scope     string  `json:"scope"`          // "test", "stage N" or "window"
	AtS       float64 `json:"at_s,omitempty"` // for a window: start of the first window that broke it
	NoData    bool    `json:"no_data,omitempty"`
	Aborted   bool    `json:"aborted,omitempty"`
}
