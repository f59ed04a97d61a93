// Package loadtest is PRF's load engine: a scenario of HTTP steps run by
// virtual users in a closed model (constant or ramping VUs) or an open model
// (constant or ramping arrival rate), measured with HDR histograms per step,
// per stage and per time bucket, judged by k6-style thresholds that can also
// hold per stage and over sliding windows. A plain-HTTP scenario runs on a
// lean HTTP/1.1 client (one keep-alive connection per VU, no allocation per
// request); HTTPS and HTTP/2 go through net/http.
package loadtest

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/yamlx"
)

// Executors.
const (
	ConstantVUs         = "constant-vus"
	RampingVUs          = "ramping-vus"
	ConstantArrivalRate = "constant-arrival-rate"
	RampingArrivalRate  = "ramping-arrival-rate"
)

// Executors lists the executor names.
var Executors = []string{ConstantVUs, RampingVUs, ConstantArrivalRate, RampingArrivalRate}

// Limits that keep a scenario bounded.
const (
	MaxVUs      = 100_000
	MaxDuration = 24 * time.Hour
	MaxSteps    = 100
)

// Scenario is a load test as written in a scenario file (or built by quick
// mode). Durations and targets are as written; Plan applies --scale,
// --load-scale and --shard.
type Scenario struct {
	Version     int               `yaml:"version" json:"version" doc:"format version, 1"`
	Name        string            `yaml:"name" json:"name" doc:"name of the test, shown in the summary and stored with the run"`
	Description string            `yaml:"description" json:"description,omitempty" doc:"free text"`
	BaseURL     string            `yaml:"base_url" json:"base_url" doc:"prefix of every step's path, e.g. http://127.0.0.1:8080"`
	Vars        map[string]string `yaml:"vars" json:"vars,omitempty" doc:"variables, used as ${vars.NAME}; --var NAME=VALUE overrides"`
	Secrets     map[string]string `yaml:"secrets" json:"-" doc:"secret references (env:NAME or file:PATH), used as ${secrets.NAME}; resolved at run time, never stored or printed"`

	Executor        string        `yaml:"executor" json:"executor" doc:"constant-vus, ramping-vus, constant-arrival-rate or ramping-arrival-rate (default: ramping-vus with stages, constant-arrival-rate with rate, else constant-vus)"`
	VUs             int           `yaml:"vus" json:"vus,omitempty" doc:"virtual users of constant-vus; the starting VUs of ramping-vus"`
	Duration        time.Duration `yaml:"duration" json:"duration,omitempty" doc:"length of constant-vus and constant-arrival-rate"`
	Stages          []Stage       `yaml:"stages" json:"stages,omitempty" doc:"ramping-vus: VU targets; ramping-arrival-rate: rate targets; each ramps linearly from the previous target over its duration, as in k6"`
	Rate            float64       `yaml:"rate" json:"rate,omitempty" doc:"iterations per time_unit of constant-arrival-rate"`
	StartRate       float64       `yaml:"start_rate" json:"start_rate,omitempty" doc:"rate at the start of ramping-arrival-rate (default 0)"`
	TimeUnit        time.Duration `yaml:"time_unit" json:"time_unit,omitempty" doc:"unit of rate (default 1s)"`
	PreAllocatedVUs int           `yaml:"pre_allocated_vus" json:"pre_allocated_vus,omitempty" doc:"VUs started up front in the open model (default: max_vus)"`
	MaxVUs          int           `yaml:"max_vus" json:"max_vus,omitempty" doc:"cap on VUs (in-flight iterations) in the open model; an iteration that finds none free is dropped and counted (default 100)"`
	ThinkTime       time.Duration `yaml:"think_time" json:"think_time,omitempty" doc:"pause at the end of every iteration (k6's sleep())"`
	GracefulStop    time.Duration `yaml:"graceful_stop" json:"graceful_stop,omitempty" doc:"how long iterations in flight at the end may finish before they are cut (default 5s)"`
	MaxRequests     int64         `yaml:"max_requests" json:"max_requests,omitempty" doc:"stop after this many requests (default: no cap besides the duration)"`
	Timeout         time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"per-request timeout (default 10s); a timed-out request is failed"`
	Client          string        `yaml:"client" json:"client,omitempty" doc:"auto (default: the lean HTTP/1.1 client for http://, net/http for https://), h1 or nethttp"`
	CAFile          string        `yaml:"ca_file" json:"-" doc:"PEM CA bundle trusted for https:// (default: the system roots)"`
	Insecure        bool          `yaml:"insecure" json:"-" doc:"skip TLS verification (test systems only)"`

	Steps      []*Step                 `yaml:"steps" json:"steps" doc:"the requests of one iteration, in order"`
	Thresholds map[string][]*Threshold `yaml:"thresholds" json:"-" doc:"metric (optionally {step:NAME}) -> thresholds such as \"p(95)<200\", \"rate<0.01\", \"p(95)<200 over 30s\", or {threshold, abort_on_fail, delay_abort_eval, per_stage}"`

	Pos  yamlx.Positions `yaml:"-" json:"-"`
	File string          `yaml:"-" json:"-"`
	node *yaml.Node      // the document's mapping, for error positions
}

// Stage is one ramp: to Target (VUs or rate) over Duration.
type Stage struct {
	Duration time.Duration `yaml:"duration" json:"duration" doc:"length of the ramp"`
	Target   float64       `yaml:"target" json:"target" doc:"VUs (ramping-vus) or iterations per time_unit (ramping-arrival-rate) reached at the end"`
}

// Step is one request of an iteration.
type Step struct {
	Name      string            `yaml:"name" json:"name" doc:"step name, used in summaries and thresholds (http_req_duration{step:NAME})"`
	Method    string            `yaml:"method" json:"method" doc:"request method (default GET, or POST with a body)"`
	Path      string            `yaml:"path" json:"path" doc:"path appended to base_url, or an absolute http(s) URL; {{NAME}} inserts an extracted value"`
	Headers   map[string]string `yaml:"headers" json:"headers,omitempty" doc:"request headers; values may use {{NAME}}"`
	Body      string            `yaml:"body" json:"body,omitempty" doc:"request body; may use {{NAME}}"`
	JSON      any               `yaml:"json" json:"json,omitempty" doc:"request body written as YAML, sent as JSON with Content-Type: application/json"`
	Checks    map[string]string `yaml:"checks" json:"checks,omitempty" doc:"check name -> CEL expression over status, headers, body, json, duration_ms; the pass rate is the checks metric"`
	Extract   map[string]string `yaml:"extract" json:"extract,omitempty" doc:"NAME -> CEL expression over the response (e.g. json.token), stored per VU for {{NAME}} in later steps"`
	ThinkTime time.Duration     `yaml:"think_time" json:"think_time,omitempty" doc:"pause after this step"`

	Pos yamlx.Positions `yaml:"-" json:"-"`
}

// LoadOptions are the inputs of Load besides the file.
type LoadOptions struct {
	Vars map[string]string // --var overrides
	// Secrets resolves a secret reference (env:NAME or file:PATH); nil
	// leaves ${secrets.NAME} unresolved (lint).
	Secrets func(ref string) (string, error)
	// SecretRefs overrides or adds secret references (--secret NAME=REF).
	SecretRefs map[string]string
}

// Load reads and validates a scenario file.
func Load(path string, opts LoadOptions) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse decodes and validates a scenario document. Errors are yamlx.Errors
// with file:line:col and the field.
func Parse(file string, data []byte, opts LoadOptions) (*Scenario, error) {
	root, err := yamlx.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var errs yamlx.Errors
	// Variables first, so ${vars.X} can be resolved while decoding the rest.
	vars := map[string]string{}
	secrets := map[string]string{}
	top := root
	if top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		p := yamlx.PosOf(top)
		return nil, yamlx.Errors{{File: file, Line: max(p.Line, 1), Col: max(p.Col, 1), Msg: "a scenario is a mapping (name, base_url, steps, ...), not " + yamlx.KindName(top)}}
	}
	// Their errors are reported once, by the decode of the whole document.
	var ignored yamlx.Errors
	for _, p := range yamlx.Pairs(top) {
		switch p[0].Value {
		case "vars":
			(&yamlx.Decoder{Errs: &ignored, File: file}).Decode(p[1], &vars, "vars")
		case "secrets":
			(&yamlx.Decoder{Errs: &ignored, File: file}).Decode(p[1], &secrets, "secrets")
		}
	}
	for k, v := range opts.Vars {
		vars[k] = v
	}
	for k, v := range opts.SecretRefs {
		secrets[k] = v
	}
	sc := &Scenario{File: file, node: top}
	interp := func(s string) (string, error) {
		return yamlx.Interpolate(s, func(ref string) (string, error) {
			return lookupRef(ref, vars, secrets, opts.Secrets)
		})
	}
	d := &yamlx.Decoder{Errs: &errs, File: file, Interp: interp}
	d.Decode(root, sc, "")
	sc.Vars = vars
	sc.Secrets = secrets
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	if err := sc.Validate(); err != nil {
		return nil, sc.placeError(err)
	}
	return sc, nil
}

func lookupRef(ref string, vars, secrets map[string]string, resolve func(string) (string, error)) (string, error) {
	ns, name, ok := strings.Cut(ref, ".")
	if !ok {
		return "", fmt.Errorf("unknown reference ${%s} (want ${vars.NAME} or ${secrets.NAME})", ref)
	}
	name, def, hasDef := strings.Cut(name, ":-")
	switch ns {
	case "vars":
		v, ok := vars[name]
		if v == "" && hasDef {
			return def, nil // unset or empty
		}
		if !ok {
			return "", fmt.Errorf("undeclared variable ${vars.%s} (declare it under vars: or pass --var %s=VALUE)", name, name)
		}
		return v, nil
	case "secrets":
		r, ok := secrets[name]
		if !ok {
			return "", fmt.Errorf("undeclared secret ${secrets.%s} (declare it under secrets:)", name)
		}
		if resolve == nil {
			return "${secrets." + name + "}", nil
		}
		v, err := resolve(r)
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", name, err)
		}
		return v, nil
	}
	return "", fmt.Errorf("unknown reference ${%s} (want ${vars.NAME} or ${secrets.NAME})", ref)
}

// FieldError is a validation problem in one field, e.g. steps[2].path.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldf(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// placeError turns a FieldError into a yamlx.Error at the field's position.
func (sc *Scenario) placeError(err error) error {
	fe, ok := err.(*FieldError)
	if !ok {
		return err
	}
	p := sc.fieldPos(fe.Field)
	return yamlx.Errors{{File: sc.File, Line: p.Line, Col: p.Col, Field: fe.Field, Msg: fe.Msg}}
}

// fieldPos finds the field in the parsed document; a scenario not from
// Parse (Quick) has no positions.
func (sc *Scenario) fieldPos(field string) yamlx.Pos {
	return yamlx.FieldPos(sc.node, field)
}

// DefaultExecutor picks the executor a scenario without one runs.
func (sc *Scenario) defaultExecutor() string {
	switch {
	case sc.Executor != "":
		return sc.Executor
	case len(sc.Stages) > 0 && (sc.Rate > 0 || sc.StartRate > 0):
		return RampingArrivalRate
	case len(sc.Stages) > 0:
		return RampingVUs
	case sc.Rate > 0:
		return ConstantArrivalRate
	}
	return ConstantVUs
}

// Open reports whether the executor is an arrival-rate (open-model) one.
func (sc *Scenario) Open() bool {
	e := sc.defaultExecutor()
	return e == ConstantArrivalRate || e == RampingArrivalRate
}

// Validate checks a decoded scenario and fills defaults.
func (sc *Scenario) Validate() error {
	if sc.Version != 0 && sc.Version != 1 {
		return fieldf("version", "unsupported version %d (this build reads 1)", sc.Version)
	}
	sc.Executor = sc.defaultExecutor()
	if !slices.Contains(Executors, sc.Executor) {
		return fieldf("executor", "unknown executor %q (want one of %s)", sc.Executor, strings.Join(Executors, ", "))
	}
	if sc.TimeUnit == 0 {
		sc.TimeUnit = time.Second
	}
	if sc.Timeout == 0 {
		sc.Timeout = 10 * time.Second
	}
	if sc.GracefulStop == 0 {
		sc.GracefulStop = 5 * time.Second
	}
	if sc.Client == "" {
		sc.Client = "auto"
	}
	if !slices.Contains([]string{"auto", "h1", "nethttp"}, sc.Client) {
		return fieldf("client", "unknown client %q (want auto, h1 or nethttp)", sc.Client)
	}
	if sc.MaxRequests < 0 {
		return fieldf("max_requests", "must not be negative")
	}
	for i, st := range sc.Stages {
		if st.Duration <= 0 || st.Duration > MaxDuration {
			return fieldf(fmt.Sprintf("stages[%d].duration", i), "stage %d: duration must be positive and at most %s", i+1, MaxDuration)
		}
		if st.Target < 0 || math.IsInf(st.Target, 0) {
			return fieldf(fmt.Sprintf("stages[%d].target", i), "stage %d: target must be a non-negative number", i+1)
		}
	}
	if sc.StartRate < 0 || math.IsInf(sc.StartRate, 0) {
		return fieldf("start_rate", "must be a non-negative number")
	}
	if sc.PreAllocatedVUs < 0 {
		return fieldf("pre_allocated_vus", "must not be negative")
	}
	switch sc.Executor {
	case ConstantVUs:
		if sc.VUs < 1 || sc.VUs > MaxVUs {
			return fieldf("vus", "constant-vus needs vus between 1 and %d, not %d", MaxVUs, sc.VUs)
		}
		if sc.Duration <= 0 {
			return fieldf("duration", "constant-vus needs a positive duration")
		}
		if len(sc.Stages) > 0 {
			return fieldf("stages", "constant-vus takes vus and duration, not stages (use ramping-vus)")
		}
	case RampingVUs:
		if len(sc.Stages) == 0 {
			return fieldf("stages", "ramping-vus needs stages")
		}
		if sc.VUs < 0 || sc.VUs > MaxVUs {
			return fieldf("vus", "must be between 0 and %d", MaxVUs)
		}
		for i, st := range sc.Stages {
			if st.Target > MaxVUs || st.Target != math.Trunc(st.Target) {
				return fieldf(fmt.Sprintf("stages[%d].target", i), "stage %d: target must be a whole number of VUs up to %d", i+1, MaxVUs)
			}
		}
	case ConstantArrivalRate, RampingArrivalRate:
		if sc.Executor == ConstantArrivalRate {
			if sc.Rate <= 0 || math.IsInf(sc.Rate, 0) {
				return fieldf("rate", "constant-arrival-rate needs a positive rate")
			}
			if sc.Duration <= 0 {
				return fieldf("duration", "constant-arrival-rate needs a positive duration")
			}
		} else if len(sc.Stages) == 0 {
			return fieldf("stages", "ramping-arrival-rate needs stages")
		}
		if sc.MaxVUs == 0 {
			sc.MaxVUs = max(100, sc.PreAllocatedVUs)
		}
		if sc.MaxVUs < 1 || sc.MaxVUs > MaxVUs {
			return fieldf("max_vus", "must be between 1 and %d", MaxVUs)
		}
		if sc.PreAllocatedVUs == 0 || sc.PreAllocatedVUs > sc.MaxVUs {
			sc.PreAllocatedVUs = sc.MaxVUs
		}
		if sc.VUs != 0 {
			return fieldf("vus", "an arrival-rate executor takes max_vus (and pre_allocated_vus), not vus")
		}
	}
	if sc.TotalDuration() > MaxDuration {
		return fieldf("duration", "the test would run %s; at most %s", sc.TotalDuration(), MaxDuration)
	}
	if len(sc.Steps) == 0 {
		return fieldf("steps", "a scenario needs at least one step")
	}
	if len(sc.Steps) > MaxSteps {
		return fieldf("steps", "at most %d steps", MaxSteps)
	}
	if sc.BaseURL != "" {
		u, err := url.Parse(sc.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fieldf("base_url", "%q is not an absolute http(s) URL", sc.BaseURL)
		}
	}
	extracted := map[string]bool{}
	names := map[string]bool{}
	env := celEnv()
	for i, st := range sc.Steps {
		f := fmt.Sprintf("steps[%d]", i)
		if st == nil {
			return fieldf(f, "empty step")
		}
		if st.Name == "" {
			st.Name = fmt.Sprintf("step%d", i+1)
		}
		if names[st.Name] {
			return fieldf(f+".name", "duplicate step name %q", st.Name)
		}
		names[st.Name] = true
		if st.Method == "" {
			st.Method = "GET"
			if st.Body != "" || st.JSON != nil {
				st.Method = "POST"
			}
		}
		if strings.ToUpper(st.Method) != st.Method || strings.ContainsAny(st.Method, " \t\r\n") {
			return fieldf(f+".method", "method %q must be an upper-case token such as GET or POST", st.Method)
		}
		if st.Body != "" && st.JSON != nil {
			return fieldf(f+".json", "give body or json, not both")
		}
		if st.Path == "" {
			return fieldf(f+".path", "a step needs a path (or an absolute URL)")
		}
		if _, err := sc.stepURL(st); err != nil {
			return fieldf(f+".path", "%v", err)
		}
		tmplFields := map[string][]string{"path": {st.Path}, "body": {st.Body}, "json": jsonStrings(st.JSON, nil)}
		for _, k := range sortedKeys(st.Headers) {
			tmplFields["headers"] = append(tmplFields["headers"], st.Headers[k])
		}
		for _, key := range []string{"path", "headers", "body", "json"} {
			for _, s := range tmplFields[key] {
				for _, ref := range templateRefs(s) {
					if !extracted[ref] {
						return fieldf(f+"."+key, "{{%s}} is not extracted by an earlier step", ref)
					}
				}
			}
		}
		for k, v := range st.Headers {
			if k == "" || strings.ContainsAny(k, " :\r\n") {
				return fieldf(f+".headers", "bad header name %q", k)
			}
			if strings.ContainsAny(v, "\r\n") {
				return fieldf(f+".headers", "header %s: a value must not hold a line break", k)
			}
		}
		for _, name := range sortedKeys(st.Checks) {
			if _, _, err := compileExpr(env, st.Checks[name], true); err != nil {
				return fieldf(f+".checks", "%q: %v", name, err)
			}
		}
		for _, name := range sortedKeys(st.Extract) {
			if _, _, err := compileExpr(env, st.Extract[name], false); err != nil {
				return fieldf(f+".extract", "%s: %v", name, err)
			}
		}
		for k := range st.Extract {
			if !validName(k) {
				return fieldf(f+".extract", "bad name %q (letters, digits and _)", k)
			}
		}
		for k := range st.Extract {
			extracted[k] = true
		}
	}
	for _, metric := range sortedKeys(sc.Thresholds) {
		ts := sc.Thresholds[metric]
		if err := checkMetric(metric, names); err != nil {
			return fieldf("thresholds."+metric, "%v", err)
		}
		for _, t := range ts {
			if t == nil {
				return fieldf("thresholds."+metric, "empty threshold")
			}
			if err := t.compile(); err != nil {
				return fieldf("thresholds."+metric, "%v", err)
			}
			if err := t.expr.validFor(metricKind(metric)); err != nil {
				return fieldf("thresholds."+metric, "%v", err)
			}
		}
	}
	return nil
}

// jsonStrings lists the strings of a free-form JSON body.
func jsonStrings(v any, out []string) []string {
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			out = jsonStrings(x[k], out)
		}
	case []any:
		for _, e := range x {
			out = jsonStrings(e, out)
		}
	}
	return out
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

// stepURL joins base_url and a step's path (templates left in place).
func (sc *Scenario) stepURL(st *Step) (string, error) {
	p := st.Path
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		u, err := url.Parse(strings.ReplaceAll(strings.ReplaceAll(p, "{{", "x"), "}}", "x"))
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("%q is not a valid URL", p)
		}
		return p, nil
	}
	if sc.BaseURL == "" {
		return "", fmt.Errorf("%q is relative and the scenario has no base_url", p)
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return strings.TrimRight(sc.BaseURL, "/") + p, nil
}

// peakVUs is the most VUs the closed model asks for: vus or a stage's
// target.
func (sc *Scenario) peakVUs() int {
	n := sc.VUs
	for _, st := range sc.Stages {
		n = max(n, int(st.Target))
	}
	return n
}

// TotalDuration is the scheduled length of the test (before graceful stop).
func (sc *Scenario) TotalDuration() time.Duration {
	if len(sc.Stages) > 0 && (sc.Executor == RampingVUs || sc.Executor == RampingArrivalRate || sc.Executor == "") {
		var d time.Duration
		for _, s := range sc.Stages {
			if s.Duration > math.MaxInt64-d {
				return math.MaxInt64 // saturate: Validate refuses it
			}
			d += s.Duration
		}
		return d
	}
	return sc.Duration
}

// Scale multiplies the test's durations (stages, duration, think times) by
// timeFactor and its load (VUs, stage targets, rates) by loadFactor, so the
// same scenario runs in seconds in a test. A factor of 0 leaves it as is.
func (sc *Scenario) Scale(timeFactor, loadFactor float64) {
	sd := func(d time.Duration) time.Duration {
		if timeFactor <= 0 || d == 0 {
			return d
		}
		return max(time.Millisecond, time.Duration(float64(d)*timeFactor))
	}
	sl := func(v float64) float64 {
		if loadFactor <= 0 {
			return v
		}
		return v * loadFactor
	}
	slInt := func(v int) int {
		if loadFactor <= 0 || v == 0 {
			return v
		}
		return max(1, int(math.Round(float64(v)*loadFactor)))
	}
	sc.Duration = sd(sc.Duration)
	sc.ThinkTime = sd(sc.ThinkTime)
	for i := range sc.Stages {
		sc.Stages[i].Duration = sd(sc.Stages[i].Duration)
		if sc.Executor == RampingVUs {
			t := sc.Stages[i].Target
			sc.Stages[i].Target = math.Round(sl(t))
			if t > 0 && loadFactor > 0 {
				sc.Stages[i].Target = max(1, sc.Stages[i].Target)
			}
		} else {
			sc.Stages[i].Target = sl(sc.Stages[i].Target)
		}
	}
	for _, st := range sc.Steps {
		st.ThinkTime = sd(st.ThinkTime)
	}
	sc.VUs = slInt(sc.VUs)
	sc.Rate = sl(sc.Rate)
	sc.StartRate = sl(sc.StartRate)
	sc.MaxVUs = slInt(sc.MaxVUs)
	sc.PreAllocatedVUs = slInt(sc.PreAllocatedVUs)
}
