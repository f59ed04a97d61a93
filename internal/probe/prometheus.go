package probe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// PrometheusSpec is the `prometheus` probe's settings. Exactly one of
// query, range, targets and alert_rules says what to observe.
type PrometheusSpec struct {
	URL         string `yaml:"url" json:"url" doc:"base URL of the Prometheus server (or compatible API), e.g. http://prometheus:9090"`
	BearerToken string `yaml:"bearer_token" json:"-" doc:"bearer token sent as Authorization (use ${secrets.NAME}); never observed or logged"`
	TLSOptions  `yaml:",inline"`

	Query      string                   `yaml:"query" json:"query,omitempty" doc:"instant PromQL query evaluated now; observes value, values, count"`
	Range      PrometheusRange          `yaml:"range" json:"range,omitempty" doc:"range query over a trailing window, reduced to one value"`
	Targets    bool                     `yaml:"targets" json:"targets,omitempty" doc:"observe scrape targets: targets_up, targets_down, down"`
	Job        string                   `yaml:"job" json:"job,omitempty" doc:"with targets: only targets of this job (scrape pool)"`
	AlertRules PrometheusAlertRuleMatch `yaml:"alert_rules" json:"alert_rules,omitempty" doc:"find a loaded alerting rule by alert name or by a metric its expression reads"`
	Unit       string                   `yaml:"unit" json:"unit,omitempty" doc:"unit of the value, echoed in the observation (default: from the metric name's suffix when the query is a plain selector)"`
	Timeout    time.Duration            `yaml:"timeout" json:"timeout,omitempty" doc:"whole-probe timeout (default: the checkpoint's)"`
}

// PrometheusRange is a range query reduced to one value.
type PrometheusRange struct {
	Query     string        `yaml:"query" json:"query,omitempty" doc:"PromQL query evaluated over the window"`
	Window    time.Duration `yaml:"window" json:"window,omitempty" doc:"how far back from now, e.g. 5m"`
	Step      time.Duration `yaml:"step" json:"step,omitempty" doc:"resolution (default: window/60, at least 1s)"`
	Aggregate string        `yaml:"aggregate" json:"aggregate,omitempty" doc:"how the points reduce to value: max, min, avg or last (default avg)"`
}

// PrometheusAlertRuleMatch picks one loaded alerting rule.
type PrometheusAlertRuleMatch struct {
	Alert  string `yaml:"alert" json:"alert,omitempty" doc:"the rule's alert name"`
	Metric string `yaml:"metric" json:"metric,omitempty" doc:"a metric name the rule's expression reads (with alert: both must hold)"`
}

func (r PrometheusRange) set() bool {
	return r.Query != "" || r.Window != 0 || r.Step != 0 || r.Aggregate != ""
}

func (m PrometheusAlertRuleMatch) set() bool { return m.Alert != "" || m.Metric != "" }

// Prometheus probe modes, in the observation's `mode`.
const (
	promModeQuery      = "query"
	promModeRange      = "range"
	promModeTargets    = "targets"
	promModeAlertRules = "alert_rules"
)

var promAggregates = []string{"max", "min", "avg", "last"}

var promMetricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

func (s *PrometheusSpec) mode() string {
	switch {
	case s.Query != "":
		return promModeQuery
	case s.Range.set():
		return promModeRange
	case s.Targets:
		return promModeTargets
	case s.AlertRules.set():
		return promModeAlertRules
	}
	return ""
}

// Validate implements Spec.
func (s *PrometheusSpec) Validate() error {
	if err := validateAPIURL(s.URL); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{s.Query != "", s.Range.set(), s.Targets, s.AlertRules.set()} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return Fieldf("query", "one of query, range, targets or alert_rules is required")
	case n > 1:
		return Fieldf("query", "set only one of query, range, targets and alert_rules")
	}
	if strings.ContainsAny(s.BearerToken, "\r\n\x00") {
		return Fieldf("bearer_token", "holds a line break or NUL")
	}
	if s.Range.set() {
		r := s.Range
		if r.Query == "" {
			return Fieldf("range.query", "is required")
		}
		if r.Window <= 0 {
			return Fieldf("range.window", "must be positive, e.g. 5m")
		}
		if r.Step < 0 {
			return Fieldf("range.step", "must not be negative")
		}
		if r.Step > r.Window {
			return Fieldf("range.step", "must not exceed window (%s)", r.Window)
		}
		if r.Step > 0 && r.Window/r.Step > 11000 {
			return Fieldf("range.step", "too small: more than 11000 points per series")
		}
		if r.Aggregate != "" && !slices.Contains(promAggregates, r.Aggregate) {
			return Fieldf("range.aggregate", "must be one of %s", strings.Join(promAggregates, ", "))
		}
	}
	if s.Job != "" && !s.Targets {
		return Fieldf("job", "applies only with targets: true")
	}
	if m := s.AlertRules.Metric; m != "" && !promMetricName.MatchString(m) {
		return Fieldf("alert_rules.metric", "%q is not a metric name", m)
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// validateAPIURL checks the `url` setting of an HTTP API probe.
func validateAPIURL(raw string) error {
	if err := checkURL("url", raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	if u.RawQuery != "" || u.Fragment != "" {
		return Fieldf("url", "must not have a query or fragment")
	}
	return nil
}

// PrometheusObservation is what a `prometheus` probe saw. Fields of the
// modes not run stay zero.
type PrometheusObservation struct {
	Mode    string        `json:"mode"` // query, range, targets or alert_rules
	Latency time.Duration `json:"latency"`

	// query and range
	Query      string             `json:"query"`       // the PromQL evaluated
	Value      *float64           `json:"value"`       // query: first sample or the scalar; range: the aggregate; null when no data (or NaN/±Inf)
	ValueText  string             `json:"value_text"`  // the value as Prometheus wrote it ("0.42", "NaN"); "" when no data
	Unit       string             `json:"unit"`        // "seconds", "bytes", "ratio"…; "" when unknown
	Values     []PrometheusSample `json:"values"`      // every series: its labels and value (range: its own aggregate)
	Count      int                `json:"count"`       // series in the result (1 for a scalar)
	ResultType string             `json:"result_type"` // vector, scalar, matrix or string
	Aggregate  string             `json:"aggregate,omitempty"`
	Window     time.Duration      `json:"window,omitempty"`
	Step       time.Duration      `json:"step,omitempty"`
	Samples    int                `json:"samples,omitempty"` // range: points reduced
	Warnings   []string           `json:"warnings,omitempty"`

	// targets
	TargetsUp      int      `json:"targets_up"`
	TargetsDown    int      `json:"targets_down"`
	TargetsUnknown int      `json:"targets_unknown"` // not scraped yet
	Down           []string `json:"down"`            // "job/instance: lastError" of each target down

	// alert_rules
	RulesLoaded   int               `json:"rules_loaded"`   // every rule, alerting and recording
	AlertingRules int               `json:"alerting_rules"` // alerting rules loaded
	Matches       int               `json:"matches"`        // alerting rules that matched; the first is described below
	Found         bool              `json:"found"`
	Name          string            `json:"name"`
	Expr          string            `json:"expr"`
	For           time.Duration     `json:"for_duration"` // the rule's `for:` ("for" is reserved in CEL)
	Threshold     *float64          `json:"threshold"`    // number the expression compares against; null when none
	Operator      string            `json:"operator"`     // >, >=, <, <=, ==, != as "value OP threshold"
	Labels        map[string]string `json:"labels"`
	Severity      string            `json:"severity"` // labels.severity
	Health        string            `json:"health"`   // ok, err, unknown
	LastError     string            `json:"last_error"`
	State         string            `json:"state"` // inactive, pending, firing
	Group         string            `json:"group"`
	File          string            `json:"file"`
}

// PrometheusSample is one series of a result.
type PrometheusSample struct {
	Labels    map[string]string `json:"labels"`
	Value     *float64          `json:"value"` // null for NaN/±Inf
	ValueText string            `json:"value_text"`
}

func probePrometheus(ctx context.Context, env Env, s *PrometheusSpec) (PrometheusObservation, error) {
	obs := PrometheusObservation{Mode: s.mode()}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	target := redactURL(s.URL)
	hc, err := apiHTTPClient(s.TLSOptions, s.BearerToken)
	if err != nil {
		return obs, fmt.Errorf("prometheus %s: tls options: %w", target, err)
	}
	defer hc.CloseIdleConnections()
	client, err := api.NewClient(api.Config{Address: s.URL, Client: hc})
	if err != nil {
		return obs, fmt.Errorf("prometheus %s: %w", target, err)
	}
	papi := v1.NewAPI(client)

	start := time.Now()
	switch obs.Mode {
	case promModeQuery:
		err = promInstant(ctx, papi, s, &obs)
	case promModeRange:
		err = promRange(ctx, papi, s, &obs)
	case promModeTargets:
		err = promTargets(ctx, papi, s, &obs)
	case promModeAlertRules:
		err = promAlertRules(ctx, papi, s, &obs)
	default:
		err = errors.New("nothing to observe: set query, range, targets or alert_rules")
	}
	obs.Latency = time.Since(start)
	if err != nil {
		err = redactSecret(ctxError(ctx, promError(err)), s.BearerToken)
		env.logf("prometheus %s: %s: %v", target, obs.Mode, err)
		return obs, fmt.Errorf("prometheus %s: %s: %w", target, obs.Mode, err)
	}
	switch obs.Mode {
	case promModeQuery, promModeRange:
		env.logf("prometheus %s: %s %q: %d series, value %s in %s", target, obs.Mode, obs.Query, obs.Count, strings.TrimSpace(promOrNone(obs.ValueText)+" "+obs.Unit), obs.Latency)
	case promModeTargets:
		env.logf("prometheus %s: targets: %d up, %d down, %d unknown", target, obs.TargetsUp, obs.TargetsDown, obs.TargetsUnknown)
	case promModeAlertRules:
		env.logf("prometheus %s: %d rules loaded, %d alerting rules match", target, obs.RulesLoaded, obs.Matches)
	}
	return obs, nil
}

func promOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// apiHTTPClient is the HTTP client of the prometheus and alertmanager
// probes: the TLS options, no proxy, and a bearer token when one is set.
func apiHTTPClient(o TLSOptions, bearer string) (*http.Client, error) {
	hc, err := o.HTTPClient(false, 0)
	if err != nil {
		return nil, err
	}
	if bearer != "" {
		hc.Transport = &bearerTransport{next: hc.Transport, token: bearer}
	}
	return hc, nil
}

type bearerTransport struct {
	next  http.RoundTripper
	token string
}

func (b *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func (b *bearerTransport) CloseIdleConnections() {
	if c, ok := b.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// promError drops the *url.Error wrapper (its message repeats the URL,
// query included) from client_golang's errors.
func promError(err error) error {
	var ae *v1.Error
	if errors.As(err, &ae) {
		msg := ae.Msg
		if ae.Detail != "" && ae.Detail != ae.Msg {
			msg += ": " + ae.Detail
		}
		if ae.Type == v1.ErrClient || ae.Type == v1.ErrCanceled || ae.Type == v1.ErrTimeout {
			return fmt.Errorf("%s", msg) // already "Post ...: dial tcp ..."
		}
		return fmt.Errorf("%s: %s", ae.Type, msg)
	}
	return unwrapURLError(err)
}

func promInstant(ctx context.Context, papi v1.API, s *PrometheusSpec, obs *PrometheusObservation) error {
	obs.Query = s.Query
	val, warns, _, err := papi.Query(ctx, s.Query, time.Now())
	obs.Warnings = warns
	if err != nil {
		return err
	}
	obs.ResultType = val.Type().String()
	var name string
	switch v := val.(type) {
	case model.Vector:
		obs.Count = len(v)
		for i, smp := range v {
			obs.Values = append(obs.Values, promSample(smp.Metric, float64(smp.Value)))
			if i == 0 {
				obs.Value, obs.ValueText = promFinite(float64(smp.Value))
				name = string(smp.Metric[model.MetricNameLabel])
			}
		}
	case *model.Scalar:
		obs.Count = 1
		obs.Value, obs.ValueText = promFinite(float64(v.Value))
	case model.Matrix: // a range selector queried instantly: each series' newest point
		obs.Count = len(v)
		for i, ss := range v {
			if len(ss.Values) == 0 {
				continue
			}
			last := float64(ss.Values[len(ss.Values)-1].Value)
			obs.Values = append(obs.Values, promSample(ss.Metric, last))
			if i == 0 {
				obs.Value, obs.ValueText = promFinite(last)
				name = string(ss.Metric[model.MetricNameLabel])
			}
		}
	case *model.String:
		obs.Count = 1
		obs.ValueText = v.Value
	}
	obs.Unit = promUnit(s.Unit, s.Query, name)
	return nil
}

func promRange(ctx context.Context, papi v1.API, s *PrometheusSpec, obs *PrometheusObservation) error {
	r := s.Range
	obs.Query = r.Query
	obs.Window = r.Window
	obs.Aggregate = r.Aggregate
	if obs.Aggregate == "" {
		obs.Aggregate = "avg"
	}
	obs.Step = r.Step
	if obs.Step == 0 {
		obs.Step = max(r.Window/60, time.Second).Truncate(time.Second)
	}
	end := time.Now()
	val, warns, _, err := papi.QueryRange(ctx, r.Query, v1.Range{Start: end.Add(-r.Window), End: end, Step: obs.Step})
	obs.Warnings = warns
	if err != nil {
		return err
	}
	obs.ResultType = val.Type().String()
	m, ok := val.(model.Matrix)
	if !ok {
		return fmt.Errorf("range query returned a %s, want a matrix", obs.ResultType)
	}
	obs.Count = len(m)
	var (
		all    = newPromAgg(obs.Aggregate)
		name   string
		newest model.Time
	)
	for i, ss := range m {
		one := newPromAgg(obs.Aggregate)
		for _, p := range ss.Values {
			one.add(float64(p.Value))
			if obs.Aggregate == "last" {
				if all.n == 0 || p.Timestamp > newest {
					newest = p.Timestamp
					all.v = float64(p.Value)
				}
				all.n++
				continue
			}
			all.add(float64(p.Value))
		}
		obs.Samples += len(ss.Values)
		if one.n > 0 {
			obs.Values = append(obs.Values, promSample(ss.Metric, one.result()))
		}
		if i == 0 {
			name = string(ss.Metric[model.MetricNameLabel])
		}
	}
	if all.n > 0 {
		obs.Value, obs.ValueText = promFinite(all.result())
	}
	obs.Unit = promUnit(s.Unit, r.Query, name)
	return nil
}

// promAgg reduces points with max, min, avg or last.
type promAgg struct {
	how string
	n   int
	v   float64 // max/min/last so far, or the sum for avg
}

func newPromAgg(how string) *promAgg { return &promAgg{how: how} }

func (a *promAgg) add(x float64) {
	if a.n == 0 {
		a.v = x
		a.n = 1
		return
	}
	a.n++
	switch a.how {
	case "max":
		if x > a.v || math.IsNaN(a.v) {
			a.v = x
		}
	case "min":
		if x < a.v || math.IsNaN(a.v) {
			a.v = x
		}
	case "avg":
		a.v += x
	default: // last: points come in time order
		a.v = x
	}
}

func (a *promAgg) result() float64 {
	if a.how == "avg" && a.n > 0 {
		return a.v / float64(a.n)
	}
	return a.v
}

func promSample(m model.Metric, v float64) PrometheusSample {
	labels := make(map[string]string, len(m))
	for k, lv := range m {
		labels[string(k)] = string(lv)
	}
	p, text := promFinite(v)
	return PrometheusSample{Labels: labels, Value: p, ValueText: text}
}

// finite returns v (nil for NaN and ±Inf, which JSON cannot carry) and v
// as Prometheus writes it.
func promFinite(v float64) (*float64, string) {
	text := strconv.FormatFloat(v, 'g', -1, 64)
	switch {
	case math.IsNaN(v):
		return nil, "NaN"
	case math.IsInf(v, 1):
		return nil, "+Inf"
	case math.IsInf(v, -1):
		return nil, "-Inf"
	}
	return &v, text
}

// promUnitSuffixes are Prometheus's base-unit metric name suffixes.
var promUnitSuffixes = []string{
	"seconds", "milliseconds", "bytes", "ratio", "percent", "celsius",
	"meters", "grams", "volts", "amperes", "joules", "watts", "hertz",
}

var (
	promPlainSelector = regexp.MustCompile(`^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\[[^\]]*\])?\s*$`)
	promQuantile      = regexp.MustCompile(`^\s*histogram_quantile\s*\(.*?([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\b`)
)

// promUnit is the unit of a query's value: the setting; else the metric
// name's suffix when the query is a plain selector (name is the result's
// __name__, which only survives when no function was applied) or a
// histogram_quantile over a _bucket series; else "".
func promUnit(setting, query, name string) string {
	if setting != "" {
		return setting
	}
	if name == "" {
		if m := promPlainSelector.FindStringSubmatch(query); m != nil {
			name = m[1]
		} else if m := promQuantile.FindStringSubmatch(query); m != nil {
			name = m[1]
		}
	}
	if name == "" || strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_count") || strings.HasSuffix(name, "_bucket") {
		return ""
	}
	for _, u := range promUnitSuffixes {
		if strings.HasSuffix(name, "_"+u) {
			return u
		}
	}
	return ""
}

func promTargets(ctx context.Context, papi v1.API, s *PrometheusSpec, obs *PrometheusObservation) error {
	res, err := papi.Targets(ctx)
	if err != nil {
		return err
	}
	obs.Down = []string{}
	for _, tg := range res.Active {
		job := string(tg.Labels[model.JobLabel])
		if job == "" {
			job = tg.ScrapePool
		}
		if s.Job != "" && job != s.Job && tg.ScrapePool != s.Job {
			continue
		}
		switch tg.Health {
		case v1.HealthGood:
			obs.TargetsUp++
		case v1.HealthBad:
			obs.TargetsDown++
			instance := string(tg.Labels[model.InstanceLabel])
			if instance == "" {
				instance = redactURL(tg.ScrapeURL)
			}
			obs.Down = append(obs.Down, fmt.Sprintf("%s/%s: %s", job, instance, tg.LastError))
		default:
			obs.TargetsUnknown++
		}
	}
	return nil
}

func promAlertRules(ctx context.Context, papi v1.API, s *PrometheusSpec, obs *PrometheusObservation) error {
	res, err := papi.Rules(ctx, nil)
	if err != nil {
		return err
	}
	m := s.AlertRules
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			obs.RulesLoaded++
			ar, ok := r.(v1.AlertingRule)
			if !ok {
				continue
			}
			obs.AlertingRules++
			if m.Alert != "" && ar.Name != m.Alert {
				continue
			}
			if m.Metric != "" && !promExprReads(ar.Query, m.Metric) {
				continue
			}
			obs.Matches++
			if obs.Found {
				continue
			}
			obs.Found = true
			obs.Name = ar.Name
			obs.Expr = ar.Query
			obs.For = time.Duration(ar.Duration * float64(time.Second))
			obs.Labels = make(map[string]string, len(ar.Labels))
			for k, v := range ar.Labels {
				obs.Labels[string(k)] = string(v)
			}
			obs.Severity = obs.Labels["severity"]
			obs.Health = string(ar.Health)
			obs.LastError = ar.LastError
			obs.State = ar.State
			obs.Group = g.Name
			obs.File = g.File
			if op, th, ok := promThreshold(ar.Query); ok {
				obs.Operator = op
				obs.Threshold = &th
			}
		}
	}
	return nil
}

// promExprReads reports whether a PromQL expression reads the metric: the
// name as a whole identifier outside strings, or __name__="metric".
func promExprReads(expr, metric string) bool {
	if strings.Contains(expr, `__name__="`+metric+`"`) || strings.Contains(expr, `__name__='`+metric+`'`) {
		return true
	}
	code := promStripStrings(expr)
	for i := 0; ; {
		j := strings.Index(code[i:], metric)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(metric)
		if (j == 0 || !promIdentChar(code[j-1])) && (end == len(code) || !promIdentChar(code[end])) {
			return true
		}
		i = j + 1
	}
}

func promIdentChar(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// promStripStrings blanks string literals and comments, keeping offsets.
func promStripStrings(expr string) string {
	b := []byte(expr)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"', '\'', '`':
			j := i + 1
			for ; j < len(b) && b[j] != c; j++ {
				if b[j] == '\\' && c != '`' {
					b[j] = ' '
					j++
					if j < len(b) {
						b[j] = ' '
					}
					continue
				}
				b[j] = ' '
			}
			i = j
		case '#':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
		}
	}
	return string(b)
}

// promThreshold finds the first comparison against a number literal at the
// top level of a PromQL expression (split at top-level and/or/unless):
// `x > 0.7`, `x > bool 0.7`, `0.7 < x`. The operator is returned as it
// reads with the number on the right.
func promThreshold(expr string) (op string, threshold float64, ok bool) {
	code := promStripStrings(expr)
	type cmp struct {
		op         string
		start, end int // the operator's byte range
	}
	type segment struct {
		start, end int // byte range between and/or/unless keywords
		cmps       []cmp
	}
	segs := []segment{{start: 0}}
	depth := 0
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch c {
		case '(', '{', '[':
			depth++
			continue
		case ')', '}', ']':
			depth--
			continue
		}
		if depth != 0 {
			continue
		}
		last := &segs[len(segs)-1]
		switch c {
		case '>', '<', '=', '!':
			two := ""
			if i+1 < len(code) {
				two = code[i : i+2]
			}
			switch {
			case two == ">=" || two == "<=" || two == "==" || two == "!=":
				last.cmps = append(last.cmps, cmp{two, i, i + 2})
				i++
			case c == '>' || c == '<':
				last.cmps = append(last.cmps, cmp{string(c), i, i + 1})
			}
			continue
		}
		if promIdentChar(c) && (i == 0 || !promIdentChar(code[i-1])) {
			j := i
			for j < len(code) && promIdentChar(code[j]) {
				j++
			}
			switch strings.ToLower(code[i:j]) {
			case "and", "or", "unless":
				last.end = i
				segs = append(segs, segment{start: j})
			}
			i = j - 1
		}
	}
	segs[len(segs)-1].end = len(code)

	for _, sg := range segs {
		for ci, c := range sg.cmps {
			left, right := code[sg.start:c.start], code[c.end:sg.end]
			if ci > 0 {
				left = code[sg.cmps[ci-1].end:c.start]
			}
			if ci+1 < len(sg.cmps) {
				right = code[c.end:sg.cmps[ci+1].start]
			}
			if v, ok := promNumber(right, true); ok {
				return c.op, v, true
			}
			if v, ok := promNumber(left, false); ok {
				return promFlip(c.op), v, true
			}
		}
	}
	return "", 0, false
}

// promNumber parses an operand that is a number literal, after dropping
// a leading `bool` (right side only) and enclosing parentheses.
func promNumber(s string, right bool) (float64, bool) {
	s = strings.TrimSpace(s)
	if right && len(s) >= 4 && strings.EqualFold(s[:4], "bool") && (len(s) == 4 || !promIdentChar(s[4])) {
		s = strings.TrimSpace(s[4:])
	}
	for strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if s == "" {
		return 0, false
	}
	low := strings.ToLower(strings.TrimLeft(s, "+-"))
	if strings.HasPrefix(low, "inf") || strings.HasPrefix(low, "nan") {
		return 0, false // a comparison against Inf/NaN is no threshold
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if n, perr := strconv.ParseInt(s, 0, 64); perr == nil { // 0x hex
			return float64(n), true
		}
		return 0, false
	}
	return v, true
}

func promFlip(op string) string {
	switch op {
	case ">":
		return "<"
	case "<":
		return ">"
	case ">=":
		return "<="
	case "<=":
		return ">="
	}
	return op
}
