package loadtest

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/yamlx"
)

// scnParse parses doc as "s.yaml" and fails the test on an error.
func scnParse(t *testing.T, doc string, opts LoadOptions) *Scenario {
	t.Helper()
	sc, err := Parse("s.yaml", []byte(doc), opts)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return sc
}

// scnParseErr parses doc and returns its error; a panic is returned as an
// error too, so that a table of cases goes on.
func scnParseErr(file string, data []byte, opts LoadOptions) (sc *Scenario, err error) {
	defer func() {
		if r := recover(); r != nil {
			sc, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return Parse(file, data, opts)
}

func scnEq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// scnSecrets is a LoadOptions.Secrets that knows a few references and
// records what it was asked.
type scnSecrets struct {
	known map[string]string
	asked []string
}

func (s *scnSecrets) resolve(ref string) (string, error) {
	s.asked = append(s.asked, ref)
	v, ok := s.known[ref]
	if !ok {
		return "", fmt.Errorf("%s is not set", ref)
	}
	return v, nil
}

func TestScenarioGoodFiles(t *testing.T) {
	secrets := &scnSecrets{known: map[string]string{"env:PRF_TEST_API_KEY": "s3cr3t"}}
	tests := []struct {
		file  string
		opts  LoadOptions
		check func(t *testing.T, sc *Scenario)
	}{
		{
			file: "constant-vus.good.yaml",
			check: func(t *testing.T, sc *Scenario) {
				scnEq(t, "Version", sc.Version, 1)
				scnEq(t, "Name", sc.Name, "smoke")
				scnEq(t, "Description", sc.Description, "one page, ten users")
				scnEq(t, "Executor (inferred)", sc.Executor, ConstantVUs)
				scnEq(t, "Open", sc.Open(), false)
				scnEq(t, "VUs", sc.VUs, 10)
				scnEq(t, "Duration", sc.Duration, 30*time.Second)
				scnEq(t, "TotalDuration", sc.TotalDuration(), 30*time.Second)
				scnEq(t, "ThinkTime", sc.ThinkTime, 100*time.Millisecond)
				scnEq(t, "TimeUnit (default)", sc.TimeUnit, time.Second)
				scnEq(t, "Timeout (default)", sc.Timeout, 10*time.Second)
				scnEq(t, "GracefulStop (default)", sc.GracefulStop, 5*time.Second)
				scnEq(t, "Client (default)", sc.Client, "auto")
				scnEq(t, "MaxVUs (closed model: no default)", sc.MaxVUs, 0)
				scnEq(t, "PreAllocatedVUs", sc.PreAllocatedVUs, 0)
				scnEq(t, "len(Steps)", len(sc.Steps), 1)
				st := sc.Steps[0]
				scnEq(t, "Steps[0].Name (default)", st.Name, "step1")
				scnEq(t, "Steps[0].Method (default)", st.Method, "GET")
				u, err := sc.stepURL(st)
				scnEq(t, "stepURL error", err, nil)
				scnEq(t, "stepURL (base_url's trailing / dropped)", u, "http://127.0.0.1:8080/health")
				if p := st.Pos["path"]; p.Line != 11 || p.Col != 11 {
					t.Errorf("Steps[0].Pos[path] = %d:%d, want 11:11", p.Line, p.Col)
				}
				if p := sc.Pos["vus"]; p.Line != 7 || p.Col != 6 {
					t.Errorf("Pos[vus] = %d:%d, want 7:6", p.Line, p.Col)
				}
			},
		},
		{
			file: "ramping-vus.good.yaml",
			check: func(t *testing.T, sc *Scenario) {
				scnEq(t, "Executor (inferred from stages)", sc.Executor, RampingVUs)
				scnEq(t, "VUs (start)", sc.VUs, 2)
				scnEq(t, "Stages", sc.Stages, []Stage{
					{Duration: 10 * time.Second, Target: 20},
					{Duration: time.Minute, Target: 20},
					{Duration: 10 * time.Second, Target: 0},
				})
				scnEq(t, "TotalDuration", sc.TotalDuration(), 80*time.Second)
				scnEq(t, "GracefulStop", sc.GracefulStop, 2*time.Second)
				scnEq(t, "Timeout", sc.Timeout, 3*time.Second)
				scnEq(t, "MaxRequests", sc.MaxRequests, int64(1000))
				scnEq(t, "Client", sc.Client, "h1")
				scnEq(t, "Open", sc.Open(), false)
				scnEq(t, "Steps[0].Name", sc.Steps[0].Name, "home")
				scnEq(t, "Steps[0].ThinkTime", sc.Steps[0].ThinkTime, time.Second)
			},
		},
		{
			file: "constant-arrival-rate.good.yaml",
			check: func(t *testing.T, sc *Scenario) {
				scnEq(t, "Executor (inferred from rate)", sc.Executor, ConstantArrivalRate)
				scnEq(t, "Open", sc.Open(), true)
				scnEq(t, "Rate", sc.Rate, 50.0)
				scnEq(t, "TimeUnit (default)", sc.TimeUnit, time.Second)
				scnEq(t, "MaxVUs (default)", sc.MaxVUs, 100)
				scnEq(t, "PreAllocatedVUs (default: max_vus)", sc.PreAllocatedVUs, 100)
				scnEq(t, "VUs", sc.VUs, 0)
				scnEq(t, "TotalDuration", sc.TotalDuration(), time.Minute)
				u, _ := sc.stepURL(sc.Steps[0])
				scnEq(t, "stepURL (path without a leading /)", u, "http://127.0.0.1:8080/search?q=x")
			},
		},
		{
			file: "ramping-arrival-rate.good.yaml",
			check: func(t *testing.T, sc *Scenario) {
				scnEq(t, "Executor", sc.Executor, RampingArrivalRate)
				scnEq(t, "Open", sc.Open(), true)
				scnEq(t, "StartRate", sc.StartRate, 10.0)
				scnEq(t, "TimeUnit", sc.TimeUnit, time.Minute)
				scnEq(t, "PreAllocatedVUs", sc.PreAllocatedVUs, 20)
				scnEq(t, "MaxVUs", sc.MaxVUs, 50)
				scnEq(t, "Stages", sc.Stages, []Stage{{Duration: 30 * time.Second, Target: 100}, {Duration: 30 * time.Second, Target: 0.5}})
				scnEq(t, "TotalDuration", sc.TotalDuration(), time.Minute)
				scnEq(t, "BaseURL", sc.BaseURL, "")
				scnEq(t, "Steps[0].Method", sc.Steps[0].Method, "HEAD")
				u, _ := sc.stepURL(sc.Steps[0])
				scnEq(t, "stepURL (absolute path)", u, "http://127.0.0.1:9090/api/v1/items")
			},
		},
		{
			// The variables and secret reference come from the options (as
			// --var and --secret would give them); the file declares them too.
			file: "multi-step.good.yaml",
			opts: LoadOptions{
				Vars:       map[string]string{"BASE": "http://127.0.0.1:8080", "USER": "alice", "REGION": ""},
				SecretRefs: map[string]string{"API_KEY": "env:PRF_TEST_API_KEY"},
				Secrets:    secrets.resolve,
			},
			check: func(t *testing.T, sc *Scenario) {
				scnEq(t, "Name", sc.Name, "checkout")
				scnEq(t, "BaseURL (${vars.BASE})", sc.BaseURL, "http://127.0.0.1:8080")
				scnEq(t, "Executor", sc.Executor, ConstantVUs)
				scnEq(t, "Secrets", sc.Secrets, map[string]string{"API_KEY": "env:PRF_TEST_API_KEY"})
				if !slices.Contains(secrets.asked, "env:PRF_TEST_API_KEY") {
					t.Errorf("the secret resolver was asked %q, want env:PRF_TEST_API_KEY", secrets.asked)
				}
				scnEq(t, "len(Steps)", len(sc.Steps), 3)
				if len(sc.Steps) != 3 {
					return
				}
				login, cart, logout := sc.Steps[0], sc.Steps[1], sc.Steps[2]
				scnEq(t, "login.Method (POST: it has a json body)", login.Method, "POST")
				scnEq(t, "login.Headers (${secrets.API_KEY} resolved)", login.Headers, map[string]string{"X-Api-Key": "s3cr3t"})
				scnEq(t, "login.JSON", login.JSON, any(map[string]any{
					"user": "alice", "remember": true, "tags": []any{"a", "b"}, "profile": map[string]any{"age": 42},
				}))
				scnEq(t, "login.Body", login.Body, "")
				scnEq(t, "login.Checks", login.Checks, map[string]string{"status is 200": "status == 200", "has token": "has(json.token)"})
				scnEq(t, "login.Extract", login.Extract, map[string]string{"token": "json.token", "user_id": "string(json.id)"})
				scnEq(t, "cart.Method (POST: it has a body)", cart.Method, "POST")
				scnEq(t, "cart.Path (${vars.REGION:-eu} with REGION empty)", cart.Path, "/users/{{user_id}}/cart?region=eu&user=alice")
				scnEq(t, "cart.Headers", cart.Headers, map[string]string{"Authorization": "Bearer {{token}}", "Accept": "application/json"})
				scnEq(t, "cart.Body", cart.Body, `{"token":"{{token}}"}`)
				scnEq(t, "cart.ThinkTime", cart.ThinkTime, 250*time.Millisecond)
				scnEq(t, "logout.Method", logout.Method, "DELETE")

				keys := make([]string, 0, len(sc.Thresholds))
				for k := range sc.Thresholds {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				scnEq(t, "threshold metrics", keys, []string{"checks", "http_req_duration", "http_req_duration{step:login}", "http_req_failed", "http_reqs"})
				type want struct {
					src      string
					expr     thresholdExpr
					perStage bool
					abort    bool
					delay    time.Duration
				}
				wants := map[string][]want{
					"http_req_duration": {
						{src: "p(95)<200", expr: thresholdExpr{agg: "p", pct: 95, op: "<", value: 200}},
						{src: "p(95)<200 over 30s", expr: thresholdExpr{agg: "p", pct: 95, op: "<", value: 200, window: 30 * time.Second}},
						{src: "p(99)<500", expr: thresholdExpr{agg: "p", pct: 99, op: "<", value: 500}, perStage: true, abort: true, delay: 10 * time.Second},
					},
					"http_req_duration{step:login}": {{src: "avg<100", expr: thresholdExpr{agg: "avg", op: "<", value: 100}}},
					"http_req_failed":               {{src: "rate<0.01", expr: thresholdExpr{agg: "rate", op: "<", value: 0.01}}},
					"checks":                        {{src: "rate>0.99", expr: thresholdExpr{agg: "rate", op: ">", value: 0.99}}},
					"http_reqs": {
						{src: "count>100", expr: thresholdExpr{agg: "count", op: ">", value: 100}},
						{src: "rate>=10", expr: thresholdExpr{agg: "rate", op: ">=", value: 10}},
					},
				}
				for metric, ws := range wants {
					got := sc.Thresholds[metric]
					if len(got) != len(ws) {
						t.Errorf("%s: %d thresholds, want %d", metric, len(got), len(ws))
						continue
					}
					for i, w := range ws {
						g := got[i]
						what := fmt.Sprintf("%s[%d]", metric, i)
						scnEq(t, what+".Threshold", g.Threshold, w.src)
						scnEq(t, what+".PerStage", g.PerStage, w.perStage)
						scnEq(t, what+".AbortOnFail", g.AbortOnFail, w.abort)
						scnEq(t, what+".DelayAbortEval", g.DelayAbortEval, w.delay)
						if g.expr == nil {
							t.Errorf("%s: not compiled by Validate", what)
							continue
						}
						scnEq(t, what+".expr", *g.expr, w.expr)
					}
				}
			},
		},
	}
	files, err := filepath.Glob("testdata/scenarios/*.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{"vars-in-file.good.yaml": true} // TestScenarioVarsDeclaredInTheFile
	for _, tc := range tests {
		listed[tc.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s is not in the table", f)
		}
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "scenarios", tc.file)
			sc, err := Load(path, tc.opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			scnEq(t, "File", sc.File, path)
			tc.check(t, sc)
			// Validate again (prf loadtest does, after --scale): nothing changes.
			before := fmt.Sprintf("%+v", *sc)
			if err := sc.Validate(); err != nil {
				t.Fatalf("Validate again: %v", err)
			}
			if after := fmt.Sprintf("%+v", *sc); after != before {
				t.Errorf("Validate again changed the scenario:\n%s\n%s", before, after)
			}
		})
	}
}

// A scenario file's own vars: and secrets: must be usable without --var
// and --secret.
func TestScenarioVarsDeclaredInTheFile(t *testing.T) {
	secrets := &scnSecrets{known: map[string]string{"env:PRF_TEST_TOKEN": "tok"}}
	sc, err := Load("testdata/scenarios/vars-in-file.good.yaml", LoadOptions{Secrets: secrets.resolve})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	scnEq(t, "BaseURL", sc.BaseURL, "http://127.0.0.1:8080")
	scnEq(t, "Steps[0].Path", sc.Steps[0].Path, "/index")
	scnEq(t, "Steps[0].Headers", sc.Steps[0].Headers, map[string]string{"Authorization": "Bearer tok"})
	scnEq(t, "Vars", sc.Vars, map[string]string{"BASE": "http://127.0.0.1:8080", "PAGE": ""})
	scnEq(t, "Secrets", sc.Secrets, map[string]string{"TOKEN": "env:PRF_TEST_TOKEN"})
}

// A bad vars: or secrets: entry is one problem, reported once.
func TestScenarioVarsErrorReportedOnce(t *testing.T) {
	for _, doc := range []string{
		"vars: [a]\nvus: 1\nduration: 1s\nbase_url: http://h\nsteps: [{path: /}]\n",
		"secrets: {A: [x]}\nvus: 1\nduration: 1s\nbase_url: http://h\nsteps: [{path: /}]\n",
	} {
		_, err := Parse("s.yaml", []byte(doc), LoadOptions{})
		var es yamlx.Errors
		if !errors.As(err, &es) {
			t.Fatalf("error %v", err)
		}
		if len(es) != 1 {
			t.Errorf("%d errors, want 1: %v", len(es), err)
		}
	}
}

func TestScenarioBadFiles(t *testing.T) {
	tests := []struct {
		file string
		// want is "line:col: field: message" (the message may go on).
		want string
	}{
		{file: "unknown-key.bad.yaml", want: `7:5: steps[0].pth: unknown field "pth" (did you mean "path"?)`},
		{file: "unknown-top-key.bad.yaml", want: `3:1: duraton: unknown field "duraton" (did you mean "duration"?)`},
		{file: "duplicate-key.bad.yaml", want: `4:1: vus: duplicate key "vus"`},
		{file: "wrong-type.bad.yaml", want: `2:6: vus: expected an integer, got "ten"`},
		{file: "wrong-type-list.bad.yaml", want: `5:3: steps: expected a list, got a mapping`},
		{file: "bad-duration.bad.yaml", want: `5:15: stages[1].duration: invalid duration "10 seconds"`},
		{file: "negative-duration.bad.yaml", want: `4:13: think_time: duration -5s is negative`},
		{file: "bad-version.bad.yaml", want: `1:10: version: unsupported version 2`},
		{file: "bad-base-url.bad.yaml", want: `1:11: base_url: "127.0.0.1:8080" is not an absolute http(s) URL`},
		{file: "unknown-executor.bad.yaml", want: `2:11: executor: unknown executor "constant-vu" (want one of constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate)`},
		// A missing field is reported at the scenario's mapping.
		{file: "constant-vus-without-vus.bad.yaml", want: `2:1: vus: constant-vus needs vus between 1 and 100000, not 0`},
		{file: "ramping-vus-without-stages.bad.yaml", want: `1:1: stages: ramping-vus needs stages`},
		{file: "negative-stage-target.bad.yaml", want: `6:13: stages[1].target: stage 2: target must be a non-negative number`},
		{file: "arrival-rate-with-vus.bad.yaml", want: `4:6: vus: an arrival-rate executor takes max_vus (and pre_allocated_vus), not vus`},
		{file: "no-steps.bad.yaml", want: `4:8: steps: a scenario needs at least one step`},
		{file: "null-step.bad.yaml", want: `6:5: steps[1]: empty step`},
		{file: "duplicate-step-names.bad.yaml", want: `9:11: steps[2].name: duplicate step name "home"`},
		{file: "lower-case-method.bad.yaml", want: `6:13: steps[0].method: method "post" must be an upper-case token such as GET or POST`},
		{file: "body-and-json.bad.yaml", want: `7:11: steps[0].json: give body or json, not both`},
		{file: "relative-path-without-base-url.bad.yaml", want: `5:11: steps[1].path: "/about" is relative and the scenario has no base_url`},
		{file: "template-not-extracted.bad.yaml", want: `10:11: steps[1].path: {{id}} is not extracted by an earlier step`},
		{file: "template-not-extracted-header.bad.yaml", want: `8:7: steps[0].headers: {{token}} is not extracted by an earlier step`},
		{file: "bad-header-name.bad.yaml", want: `7:7: steps[0].headers: bad header name "X Trace"`},
		{file: "bad-extract-name.bad.yaml", want: `7:7: steps[0].extract: bad name "1token" (letters, digits and _)`},
		{file: "unknown-metric.bad.yaml", want: `7:21: thresholds.http_req_duraton: unknown metric "http_req_duraton" (known: checks, data_received, data_sent, dropped_iterations, http_req_duration, http_req_failed, http_reqs, iteration_duration, iterations)`},
		{file: "unknown-metric-second.bad.yaml", want: `9:16: thresholds.http_errors: unknown metric "http_errors" (known: checks, data_received, data_sent, dropped_iterations, http_req_duration, http_req_failed, http_reqs, iteration_duration, iterations)`},
		{file: "unknown-step-selector.bad.yaml", want: `8:33: thresholds.http_req_duration{step:logn}: no step named "logn"`},
		{file: "bad-selector.bad.yaml", want: `7:34: thresholds.http_req_duration{status:200}: bad selector {status:200} (want {step:NAME})`},
		{file: "not-per-step.bad.yaml", want: `8:23: thresholds.iterations{step:a}: iterations is not measured per step`},
		{file: "aggregate-rate-on-trend.bad.yaml", want: `7:22: thresholds.http_req_duration: aggregate rate does not apply to this metric (want avg, min, max, med or p(N))`},
		{file: "aggregate-p-on-rate.bad.yaml", want: `7:20: thresholds.http_req_failed: aggregate p(95) does not apply to this metric (want rate)`},
		{file: "aggregate-count-on-rate-mapping.bad.yaml", want: `8:5: thresholds.checks: aggregate count does not apply to this metric (want rate)`},
		{file: "aggregate-second.bad.yaml", want: `9:20: thresholds.http_req_failed: aggregate avg does not apply to this metric (want rate)`},
		{file: "threshold-percentile-range.bad.yaml", want: `9:7: thresholds.http_req_duration[1]: threshold "p(101)<1": percentile "101" must be a number from 0 to 100`},
		{file: "threshold-p95.bad.yaml", want: `7:23: thresholds.http_req_duration[0]: threshold "p95<1": unknown aggregate "p95" (want avg, min, max, med, p(N), rate or count)`},
		{file: "threshold-not-a-number.bad.yaml", want: `7:21: thresholds.http_req_failed[0]: threshold "rate<abc": "abc" is not a number`},
		{file: "threshold-bad-window.bad.yaml", want: `7:23: thresholds.http_req_duration[0]: threshold "p(95)<200 over abc": bad window "abc" (use e.g. over 30s)`},
		{file: "undeclared-var.bad.yaml", want: `5:11: steps[0].path: undeclared variable ${vars.QUERY} (declare it under vars: or pass --var QUERY=VALUE)`},
		{file: "undeclared-secret.bad.yaml", want: `7:22: steps[0].headers.Authorization: undeclared secret ${secrets.TOKEN} (declare it under secrets:)`},
		{file: "unterminated-interpolation.bad.yaml", want: `5:11: steps[0].path: unterminated ${ in "${vars.X"`},
		{file: "unknown-reference.bad.yaml", want: `5:11: steps[0].path: unknown reference ${env.HOME} (want ${vars.NAME} or ${secrets.NAME})`},
		// yaml.v3 gives no column.
		{file: "yaml-syntax.bad.yaml", want: `5:1: mapping values are not allowed in this context`},
	}
	files, err := filepath.Glob("testdata/scenarios/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tc := range tests {
		listed[tc.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s is not in the table", f)
		}
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "scenarios", tc.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = scnParseErr(path, data, LoadOptions{})
			if err == nil {
				t.Fatalf("Parse succeeded, want %s", tc.want)
			}
			want := path + ":" + tc.want
			if got := err.Error(); !strings.HasPrefix(got, want) {
				t.Fatalf("error\n got %s\nwant %s…", got, want)
			}
			var es yamlx.Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("error %T with %d errors, want yamlx.Errors with one", err, len(es))
			}
			if es[0].File != path || es[0].Line < 1 || es[0].Col < 1 {
				t.Errorf("error position %s:%d:%d", es[0].File, es[0].Line, es[0].Col)
			}
		})
	}
}

// Decoding goes on after an error: every decode problem is reported, in
// file order.
func TestScenarioReportsEveryDecodeError(t *testing.T) {
	doc := "vus: ten\nduration: soon\nsteps:\n  - path: /\n    metod: GET\n"
	_, err := Parse("s.yaml", []byte(doc), LoadOptions{})
	var es yamlx.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v (%T), want yamlx.Errors", err, err)
	}
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%d:%d %s", e.Line, e.Col, e.Field))
	}
	scnEq(t, "errors", got, []string{"1:6 vus", "2:11 duration", "5:5 steps[0].metod"})
	if !strings.HasPrefix(err.Error(), "3 problems:\ns.yaml:1:6: vus: ") {
		t.Errorf("error text %q", err)
	}
}

func TestScenarioExecutorInference(t *testing.T) {
	const steps = "base_url: http://127.0.0.1:8080\nsteps:\n  - path: /\n"
	tests := []struct {
		name, doc, want string
		open            bool
	}{
		{"vus and duration", "vus: 3\nduration: 1s\n", ConstantVUs, false},
		{"stages", "stages: [{duration: 1s, target: 3}]\n", RampingVUs, false},
		{"stages and vus", "vus: 1\nstages: [{duration: 1s, target: 3}]\n", RampingVUs, false},
		{"rate", "rate: 5\nduration: 1s\n", ConstantArrivalRate, true},
		{"stages and start_rate", "start_rate: 2\nstages: [{duration: 1s, target: 3}]\n", RampingArrivalRate, true},
		{"stages and rate", "rate: 2\nstages: [{duration: 1s, target: 3}]\n", RampingArrivalRate, true},
		{"explicit executor wins", "executor: ramping-arrival-rate\nstages: [{duration: 1s, target: 3}]\n", RampingArrivalRate, true},
		{"explicit constant-arrival-rate", "executor: constant-arrival-rate\nrate: 1\nduration: 1s\n", ConstantArrivalRate, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := scnParse(t, tc.doc+steps, LoadOptions{})
			scnEq(t, "Executor", sc.Executor, tc.want)
			scnEq(t, "Open", sc.Open(), tc.open)
		})
	}
}

func TestScenarioDefaults(t *testing.T) {
	const head = "base_url: http://127.0.0.1:8080\n"
	t.Run("method", func(t *testing.T) {
		sc := scnParse(t, head+`vus: 1
duration: 1s
steps:
  - path: /a
  - path: /b
    body: x
  - path: /c
    json: [1, 2]
  - path: /d
    method: PUT
    body: x
  - path: /e
    method: OPTIONS
  - name: named
    path: /f
    json: false
`, LoadOptions{})
		var got []string
		for _, st := range sc.Steps {
			got = append(got, st.Name+" "+st.Method)
		}
		scnEq(t, "steps", got, []string{"step1 GET", "step2 POST", "step3 POST", "step4 PUT", "step5 OPTIONS", "named POST"})
	})
	t.Run("open model VUs", func(t *testing.T) {
		tests := []struct {
			doc           string
			max, prealloc int
		}{
			{"", 100, 100},
			{"max_vus: 7\n", 7, 7},
			{"pre_allocated_vus: 3\n", 100, 3},
			{"pre_allocated_vus: 150\n", 150, 150},
			{"max_vus: 10\npre_allocated_vus: 30\n", 10, 10},
			{"max_vus: 10\npre_allocated_vus: 4\n", 10, 4},
		}
		for _, tc := range tests {
			sc := scnParse(t, head+"rate: 5\nduration: 1s\nsteps: [{path: /}]\n"+tc.doc, LoadOptions{})
			if sc.MaxVUs != tc.max || sc.PreAllocatedVUs != tc.prealloc {
				t.Errorf("%q: max_vus %d, pre_allocated_vus %d; want %d, %d", tc.doc, sc.MaxVUs, sc.PreAllocatedVUs, tc.max, tc.prealloc)
			}
		}
	})
	t.Run("explicit values kept", func(t *testing.T) {
		sc := scnParse(t, head+"rate: 5\nduration: 1s\ntime_unit: 2s\ntimeout: 1s\ngraceful_stop: 0.5s\nclient: nethttp\nsteps: [{path: /}]\n", LoadOptions{})
		scnEq(t, "TimeUnit", sc.TimeUnit, 2*time.Second)
		scnEq(t, "Timeout", sc.Timeout, time.Second)
		scnEq(t, "GracefulStop", sc.GracefulStop, 500*time.Millisecond)
		scnEq(t, "Client", sc.Client, "nethttp")
	})
}

// Validate errors that have no file of their own.
func TestScenarioValidateErrors(t *testing.T) {
	const head = "base_url: http://127.0.0.1:8080\n"
	tests := []struct{ name, doc, want string }{
		{"unknown client", "vus: 1\nduration: 1s\nclient: h2\nsteps: [{path: /}]\n", `4:9: client: unknown client "h2" (want auto, h1 or nethttp)`},
		{"negative max_requests", "vus: 1\nduration: 1s\nmax_requests: -1\nsteps: [{path: /}]\n", `4:15: max_requests: must not be negative`},
		{"zero stage duration", "stages: [{duration: 0s, target: 1}]\nsteps: [{path: /}]\n", `2:21: stages[0].duration: stage 1: duration must be positive and at most 24h0m0s`},
		{"fractional VU target", "stages: [{duration: 1s, target: 1.5}]\nsteps: [{path: /}]\n", `2:33: stages[0].target: stage 1: target must be a whole number of VUs up to 100000`},
		{"too many VUs", "vus: 100001\nduration: 1s\nsteps: [{path: /}]\n", `2:6: vus: constant-vus needs vus between 1 and 100000, not 100001`},
		{"constant-vus with stages", "executor: constant-vus\nvus: 1\nduration: 1s\nstages: [{duration: 1s, target: 1}]\nsteps: [{path: /}]\n", `5:9: stages: constant-vus takes vus and duration, not stages`},
		{"constant-vus without duration", "vus: 1\nsteps: [{path: /}]\n", `1:1: duration: constant-vus needs a positive duration`},
		{"constant-arrival-rate without rate", "executor: constant-arrival-rate\nduration: 1s\nsteps: [{path: /}]\n", `1:1: rate: constant-arrival-rate needs a positive rate`},
		{"constant-arrival-rate infinite rate", "rate: inf\nduration: 1s\nsteps: [{path: /}]\n", `2:7: rate: constant-arrival-rate needs a positive rate`},
		{"constant-arrival-rate without duration", "rate: 1\nsteps: [{path: /}]\n", `1:1: duration: constant-arrival-rate needs a positive duration`},
		{"ramping-arrival-rate without stages", "executor: ramping-arrival-rate\nsteps: [{path: /}]\n", `1:1: stages: ramping-arrival-rate needs stages`},
		{"negative max_vus", "rate: 1\nduration: 1s\nmax_vus: -1\nsteps: [{path: /}]\n", `4:10: max_vus: must be between 1 and 100000`},
		{"too long", "vus: 1\nduration: 25h\nsteps: [{path: /}]\n", `3:11: duration: the test would run 25h0m0s; at most 24h0m0s`},
		{"too many steps", "vus: 1\nduration: 1s\nsteps: [" + strings.Repeat("{path: /},", MaxSteps) + "{path: /}]\n", `4:8: steps: at most 100 steps`},
		{"duplicate default step name", "vus: 1\nduration: 1s\nsteps: [{path: /a, name: step2}, {path: /b}]\n", `4:34: steps[1].name: duplicate step name "step2"`},
		{"method with a space", "vus: 1\nduration: 1s\nsteps: [{path: /, method: 'GET X'}]\n", `4:27: steps[0].method: method "GET X" must be an upper-case token`},
		{"no path", "vus: 1\nduration: 1s\nsteps: [{name: a}]\n", `4:9: steps[0].path: a step needs a path (or an absolute URL)`},
		{"bad absolute URL", "vus: 1\nduration: 1s\nsteps: [{path: 'http://'}]\n", `4:16: steps[0].path: "http://" is not a valid URL`},
		{"own extraction", "vus: 1\nduration: 1s\nsteps: [{path: '/{{t}}', extract: {t: body}}]\n", `4:16: steps[0].path: {{t}} is not extracted by an earlier step`},
		{"empty threshold", "vus: 1\nduration: 1s\nsteps: [{path: /}]\nthresholds: {http_reqs: [~]}\n", `5:25: thresholds.http_reqs: empty threshold`},
		// A check or extract is CEL: Parse (and so prf lint and the loadtest
		// probe's Validate) reports a bad one with its position, not Run.
		{"bad CEL check", "vus: 1\nduration: 1s\nsteps:\n  - path: /\n    checks: {ok: 'status =='}\n", `6:13: steps[0].checks`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scnParseErr("s.yaml", []byte(head+tc.doc), LoadOptions{})
			if err == nil {
				t.Fatalf("Parse succeeded, want %s", tc.want)
			}
			if want := "s.yaml:" + tc.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error\n got %s\nwant %s…", err, want)
			}
		})
	}
}

func TestScenarioInterpolation(t *testing.T) {
	lookup := func(ref string) (string, error) {
		return lookupRef(ref, map[string]string{"A": "1", "E": ""}, map[string]string{"S": "env:S"}, nil)
	}
	tests := []struct{ in, want, err string }{
		{in: "", want: ""},
		{in: "plain $ and {} and $", want: "plain $ and {} and $"},
		{in: "${vars.A}", want: "1"},
		{in: "a${vars.A}b${ vars.A }c", want: "a1b1c"},
		{in: "$${vars.A}", want: "${vars.A}"},
		{in: "x$${vars.A}${vars.A}", want: "x${vars.A}1"},
		{in: "${vars.E:-def}", want: "def"},
		{in: "${vars.A:-def}", want: "1"},
		{in: "${vars.E}", want: ""},
		{in: "${vars.E:-}", want: ""},
		{in: "${secrets.S}", want: "${secrets.S}"}, // no resolver: left for lint
		{in: "${vars.NOPE}", err: "undeclared variable ${vars.NOPE}"},
		{in: "${secrets.NOPE}", err: "undeclared secret ${secrets.NOPE}"},
		{in: "${A}", err: "unknown reference ${A}"},
		{in: "${env.A}", err: "unknown reference ${env.A}"},
		{in: "a${vars.A", err: `unterminated ${ in "${vars.A"`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := yamlx.Interpolate(tc.in, lookup)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Interpolate(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Interpolate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestScenarioVarsAndSecretsFromOptions(t *testing.T) {
	const doc = `base_url: http://127.0.0.1:8080
vus: 1
duration: 1s
steps:
  - path: /${vars.PAGE:-home}
    headers:
      X-Key: ${secrets.KEY}
`
	t.Run("resolved", func(t *testing.T) {
		sec := &scnSecrets{known: map[string]string{"file:/run/key": "k3y"}}
		sc := scnParse(t, doc, LoadOptions{Vars: map[string]string{"PAGE": "about"}, SecretRefs: map[string]string{"KEY": "file:/run/key"}, Secrets: sec.resolve})
		scnEq(t, "Path", sc.Steps[0].Path, "/about")
		scnEq(t, "Headers", sc.Steps[0].Headers, map[string]string{"X-Key": "k3y"})
		scnEq(t, "asked", sec.asked, []string{"file:/run/key"})
		scnEq(t, "Vars", sc.Vars, map[string]string{"PAGE": "about"})
	})
	t.Run("default for an empty var", func(t *testing.T) {
		sc := scnParse(t, doc, LoadOptions{Vars: map[string]string{"PAGE": ""}, SecretRefs: map[string]string{"KEY": "env:K"}})
		scnEq(t, "Path", sc.Steps[0].Path, "/home")
		// Without a resolver (lint), the secret stays a reference.
		scnEq(t, "Headers", sc.Steps[0].Headers, map[string]string{"X-Key": "${secrets.KEY}"})
	})
	t.Run("resolver error", func(t *testing.T) {
		sec := &scnSecrets{}
		_, err := Parse("s.yaml", []byte(doc), LoadOptions{Vars: map[string]string{"PAGE": ""}, SecretRefs: map[string]string{"KEY": "env:NOT_SET"}, Secrets: sec.resolve})
		if err == nil || !strings.HasPrefix(err.Error(), "s.yaml:7:14: steps[0].headers.X-Key: secret KEY: env:NOT_SET is not set") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("undeclared", func(t *testing.T) {
		noDefault := strings.Replace(doc, "${vars.PAGE:-home}", "${vars.PAGE}", 1)
		_, err := Parse("s.yaml", []byte(noDefault), LoadOptions{SecretRefs: map[string]string{"KEY": "env:K"}})
		if err == nil || !strings.HasPrefix(err.Error(), "s.yaml:5:11: steps[0].path: undeclared variable ${vars.PAGE}") {
			t.Fatalf("error %v", err)
		}
	})
}

// The json body is a request body like body: ${vars.X} and ${secrets.X}
// are resolved in it too.
func TestScenarioJSONBodyInterpolated(t *testing.T) {
	doc := "base_url: http://127.0.0.1:8080\nvus: 1\nduration: 1s\nsteps:\n  - path: /login\n    json: {user: '${vars.USER}', password: '${secrets.PW}'}\n"
	sec := &scnSecrets{known: map[string]string{"env:PW": "hunter2"}}
	sc, err := Parse("s.yaml", []byte(doc), LoadOptions{Vars: map[string]string{"USER": "bob"}, SecretRefs: map[string]string{"PW": "env:PW"}, Secrets: sec.resolve})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"user": "bob", "password": "hunter2"}
	scnEq(t, "JSON", sc.Steps[0].JSON, any(want))
	_, err = Parse("s.yaml", []byte(doc), LoadOptions{Vars: map[string]string{"USER": "bob"}})
	if err == nil || !strings.HasPrefix(err.Error(), "s.yaml:6:11: steps[0].json: undeclared secret ${secrets.PW}") {
		t.Errorf("undeclared secret in json: %v", err)
	}
}

// Documents Parse must refuse, where the test asks only for an error that
// says want ("": any error).
func TestScenarioRejected(t *testing.T) {
	const head = "base_url: http://127.0.0.1:8080\n"
	tests := []struct{ name, doc, want string }{
		// Every {{NAME}} that a request can carry is checked, the json body's too.
		{"json body template", "vus: 1\nduration: 1s\nsteps:\n  - path: /\n    json: {token: '{{nope}}'}\n", "{{nope}} is not extracted"},
		// A header value with CR or LF would split the request the h1 client
		// writes (appendRequest copies it as is).
		{"header value with CRLF", "vus: 1\nduration: 1s\nsteps:\n  - path: /\n    headers: {X-A: \"a\\r\\nInjected: 1\"}\n", ""},
		// Two stages each just under time.Duration's range add up past it.
		{"total duration overflow", "stages: [{duration: 2562047h, target: 1}, {duration: 2562047h, target: 1}]\nsteps: [{path: /}]\n", "at most 24h0m0s"},
		{"negative start_rate", "steps: [{path: /}]\nexecutor: ramping-arrival-rate\nstart_rate: -5\nstages: [{duration: 1s, target: 1}]\n", ""},
		{"infinite start_rate", "steps: [{path: /}]\nexecutor: ramping-arrival-rate\nstart_rate: inf\nstages: [{duration: 1s, target: 1}]\n", ""},
		{"negative pre_allocated_vus", "steps: [{path: /}]\nrate: 5\nduration: 1s\npre_allocated_vus: -3\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scnParseErr("s.yaml", []byte(head+tc.doc), LoadOptions{})
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestQuick(t *testing.T) {
	t.Run("closed", func(t *testing.T) {
		sc, err := Quick("http://127.0.0.1:8080/health", 5, 0, 0, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		scnEq(t, "Name", sc.Name, "quick")
		scnEq(t, "Executor", sc.Executor, ConstantVUs)
		scnEq(t, "VUs", sc.VUs, 5)
		scnEq(t, "Duration", sc.Duration, 10*time.Second)
		scnEq(t, "MaxVUs", sc.MaxVUs, 0)
		scnEq(t, "TimeUnit", sc.TimeUnit, time.Second)
		scnEq(t, "Timeout", sc.Timeout, 10*time.Second)
		scnEq(t, "len(Steps)", len(sc.Steps), 1)
		scnEq(t, "Steps[0].Name", sc.Steps[0].Name, "get")
		scnEq(t, "Steps[0].Method", sc.Steps[0].Method, "GET")
		scnEq(t, "Steps[0].Path", sc.Steps[0].Path, "http://127.0.0.1:8080/health")
	})
	t.Run("open", func(t *testing.T) {
		sc, err := Quick("http://127.0.0.1:8080/", 0, 20, 7, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		scnEq(t, "Executor", sc.Executor, ConstantArrivalRate)
		scnEq(t, "Open", sc.Open(), true)
		scnEq(t, "Rate", sc.Rate, 20.0)
		scnEq(t, "MaxVUs", sc.MaxVUs, 7)
		scnEq(t, "PreAllocatedVUs", sc.PreAllocatedVUs, 7)
		scnEq(t, "VUs", sc.VUs, 0)
	})
	t.Run("open default max-vus", func(t *testing.T) {
		sc, err := Quick("http://127.0.0.1:8080/", 0, 0.5, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		scnEq(t, "MaxVUs", sc.MaxVUs, 100)
	})
	tests := []struct {
		name     string
		url      string
		vus      int
		rate     float64
		maxVUs   int
		duration time.Duration
		want     string
	}{
		{"no vus", "http://h/", 0, 0, 0, time.Second, "--vus: constant-vus needs vus between 1 and 100000, not 0"},
		{"negative vus", "http://h/", -1, 0, 0, time.Second, "--vus: constant-vus needs vus between 1 and 100000, not -1"},
		{"too many vus", "http://h/", MaxVUs + 1, 0, 0, time.Second, "--vus: constant-vus needs vus between 1 and 100000"},
		{"vus and rate", "http://h/", 3, 10, 0, time.Second, "give --vus (closed model) or --rate with --max-vus (open model), not both"},
		{"max-vus without rate", "http://h/", 3, 0, 5, time.Second, "--max-vus goes with --rate"},
		{"negative max-vus", "http://h/", 0, 10, -1, time.Second, "--max-vus: must be between 1 and 100000"},
		{"infinite rate", "http://h/", 0, math.Inf(1), 0, time.Second, "--rate: constant-arrival-rate needs a positive rate"},
		{"no duration, closed", "http://h/", 1, 0, 0, 0, "--duration: constant-vus needs a positive duration"},
		{"no duration, open", "http://h/", 0, 10, 0, 0, "--duration: constant-arrival-rate needs a positive duration"},
		{"too long", "http://h/", 1, 0, 0, 25 * time.Hour, "--duration: the test would run 25h0m0s; at most 24h0m0s"},
		{"no url", "", 1, 0, 0, time.Second, "--url: a step needs a path (or an absolute URL)"},
		{"relative url", "127.0.0.1:8080/x", 1, 0, 0, time.Second, `--url: "127.0.0.1:8080/x" is relative and the scenario has no base_url`},
		{"url without host", "http:///x", 1, 0, 0, time.Second, `--url: "http:///x" is not a valid URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := Quick(tc.url, tc.vus, tc.rate, tc.maxVUs, tc.duration)
			if err == nil {
				t.Fatalf("Quick succeeded (%+v), want %q", sc, tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n got %s\nwant %s…", err, tc.want)
			}
		})
	}
}

func TestScaleClosedModel(t *testing.T) {
	doc := "base_url: http://127.0.0.1:8080\nvus: 10\nduration: 30s\nthink_time: 100ms\ntimeout: 2s\nsteps:\n  - path: /\n    think_time: 1s\n  - path: /b\n"
	tests := []struct {
		name             string
		time, load       float64
		dur, think, step time.Duration
		vus              int
	}{
		{"unscaled", 0, 0, 30 * time.Second, 100 * time.Millisecond, time.Second, 10},
		{"negative is unscaled", -1, -1, 30 * time.Second, 100 * time.Millisecond, time.Second, 10},
		{"one", 1, 1, 30 * time.Second, 100 * time.Millisecond, time.Second, 10},
		{"tenth", 0.1, 0.5, 3 * time.Second, 10 * time.Millisecond, 100 * time.Millisecond, 5},
		{"rounds VUs", 1, 0.25, 30 * time.Second, 100 * time.Millisecond, time.Second, 3}, // 2.5 → 3
		{"rounds VUs down", 1, 0.21, 30 * time.Second, 100 * time.Millisecond, time.Second, 2},
		{"never below 1 ms and 1 VU", 1e-7, 1e-3, time.Millisecond, time.Millisecond, time.Millisecond, 1},
		{"up", 2, 3, time.Minute, 200 * time.Millisecond, 2 * time.Second, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := scnParse(t, doc, LoadOptions{})
			sc.Scale(tc.time, tc.load)
			scnEq(t, "Duration", sc.Duration, tc.dur)
			scnEq(t, "ThinkTime", sc.ThinkTime, tc.think)
			scnEq(t, "Steps[0].ThinkTime", sc.Steps[0].ThinkTime, tc.step)
			scnEq(t, "Steps[1].ThinkTime (zero stays zero)", sc.Steps[1].ThinkTime, time.Duration(0))
			scnEq(t, "VUs", sc.VUs, tc.vus)
			scnEq(t, "Timeout (not scaled)", sc.Timeout, 2*time.Second)
			scnEq(t, "GracefulStop (not scaled)", sc.GracefulStop, 5*time.Second)
			scnEq(t, "MaxVUs (zero stays zero)", sc.MaxVUs, 0)
			if err := sc.Validate(); err != nil {
				t.Errorf("Validate after Scale: %v", err)
			}
		})
	}
}

func TestScaleRampingVUs(t *testing.T) {
	doc := "base_url: http://127.0.0.1:8080\nvus: 4\nstages: [{duration: 10s, target: 20}, {duration: 1m, target: 7}, {duration: 10s, target: 0}]\nsteps: [{path: /}]\n"
	sc := scnParse(t, doc, LoadOptions{})
	sc.Scale(0.01, 0.33)
	scnEq(t, "Stages", sc.Stages, []Stage{
		{Duration: 100 * time.Millisecond, Target: 7}, // 6.6
		{Duration: 600 * time.Millisecond, Target: 2}, // 2.31
		{Duration: 100 * time.Millisecond, Target: 0},
	})
	scnEq(t, "VUs", sc.VUs, 1) // 1.32
	scnEq(t, "TotalDuration", sc.TotalDuration(), 800*time.Millisecond)
	if err := sc.Validate(); err != nil {
		t.Errorf("Validate after Scale: %v", err)
	}
}

// A stage that asks for VUs must keep at least one after --load-scale, as
// vus does; otherwise a scaled-down ramp runs nobody.
func TestScaleRampingVUsKeepsOneVU(t *testing.T) {
	doc := "base_url: http://127.0.0.1:8080\nstages: [{duration: 10s, target: 1}, {duration: 10s, target: 4}, {duration: 10s, target: 0}]\nsteps: [{path: /}]\n"
	sc := scnParse(t, doc, LoadOptions{})
	sc.Scale(1, 0.1)
	got := []float64{sc.Stages[0].Target, sc.Stages[1].Target, sc.Stages[2].Target}
	if !reflect.DeepEqual(got, []float64{1, 1, 0}) {
		t.Fatalf("targets %v", got)
	}
}

func TestScaleOpenModel(t *testing.T) {
	doc := "base_url: http://127.0.0.1:8080\nexecutor: ramping-arrival-rate\nstart_rate: 10\nmax_vus: 100\npre_allocated_vus: 40\nstages: [{duration: 30s, target: 50}, {duration: 30s, target: 5}]\nsteps: [{path: /}]\n"
	sc := scnParse(t, doc, LoadOptions{})
	sc.Scale(0.1, 0.05)
	scnEq(t, "Stages (rates not rounded)", sc.Stages, []Stage{{Duration: 3 * time.Second, Target: 2.5}, {Duration: 3 * time.Second, Target: 0.25}})
	scnEq(t, "StartRate", sc.StartRate, 0.5)
	scnEq(t, "MaxVUs", sc.MaxVUs, 5)
	scnEq(t, "PreAllocatedVUs", sc.PreAllocatedVUs, 2)
	sc.Scale(1, 0.001)
	scnEq(t, "MaxVUs (never below 1)", sc.MaxVUs, 1)
	scnEq(t, "PreAllocatedVUs (never below 1)", sc.PreAllocatedVUs, 1)
	if err := sc.Validate(); err != nil {
		t.Errorf("Validate after Scale: %v", err)
	}

	sc = scnParse(t, "base_url: http://127.0.0.1:8080\nrate: 40\nduration: 1m\nsteps: [{path: /}]\n", LoadOptions{})
	sc.Scale(0.5, 0.25)
	scnEq(t, "Rate", sc.Rate, 10.0)
	scnEq(t, "Duration", sc.Duration, 30*time.Second)
	scnEq(t, "MaxVUs (default 100 scaled)", sc.MaxVUs, 25)
}

func TestThresholdParse(t *testing.T) {
	tests := []struct {
		in   string
		want thresholdExpr
		err  string
	}{
		{in: "avg<50", want: thresholdExpr{agg: "avg", op: "<", value: 50}},
		{in: "min<=1", want: thresholdExpr{agg: "min", op: "<=", value: 1}},
		{in: "max>2.5", want: thresholdExpr{agg: "max", op: ">", value: 2.5}},
		{in: "med>=3", want: thresholdExpr{agg: "med", op: ">=", value: 3}},
		{in: "p(95)<200", want: thresholdExpr{agg: "p", pct: 95, op: "<", value: 200}},
		{in: "p(99.9)<1e3", want: thresholdExpr{agg: "p", pct: 99.9, op: "<", value: 1000}},
		{in: "p(0)>=0", want: thresholdExpr{agg: "p", pct: 0, op: ">=", value: 0}},
		{in: "p(100)<=10", want: thresholdExpr{agg: "p", pct: 100, op: "<=", value: 10}},
		{in: "rate<0.01", want: thresholdExpr{agg: "rate", op: "<", value: 0.01}},
		{in: "rate==1", want: thresholdExpr{agg: "rate", op: "==", value: 1}},
		{in: "count!=0", want: thresholdExpr{agg: "count", op: "!=", value: 0}},
		{in: "count>-1", want: thresholdExpr{agg: "count", op: ">", value: -1}},
		{in: "  p(95) <  200  ", want: thresholdExpr{agg: "p", pct: 95, op: "<", value: 200}},
		{in: "p(95)<200 over 30s", want: thresholdExpr{agg: "p", pct: 95, op: "<", value: 200, window: 30 * time.Second}},
		{in: "avg<=50 over 1m30s", want: thresholdExpr{agg: "avg", op: "<=", value: 50, window: 90 * time.Second}},
		{in: "rate<0.1  over  500ms ", want: thresholdExpr{agg: "rate", op: "<", value: 0.1, window: 500 * time.Millisecond}},
		{in: "", err: "empty threshold"},
		{in: "   ", err: "empty threshold"},
		{in: "p(95)", err: `threshold "p(95)": want AGGREGATE OP NUMBER`},
		{in: "avg=5", err: `threshold "avg=5": want AGGREGATE OP NUMBER`},
		{in: "p(101)<1", err: `threshold "p(101)<1": percentile "101" must be a number from 0 to 100`},
		{in: "p(-1)<1", err: `percentile "-1" must be a number from 0 to 100`},
		{in: "p(abc)<1", err: `percentile "abc" must be a number from 0 to 100`},
		{in: "p()<1", err: `percentile "" must be a number from 0 to 100`},
		{in: "p95<1", err: `threshold "p95<1": unknown aggregate "p95"`},
		{in: "<1", err: `unknown aggregate ""`},
		{in: "avg>5<6", err: `unknown aggregate "avg>5"`},
		{in: "sum<1", err: `unknown aggregate "sum"`},
		{in: "rate<abc", err: `threshold "rate<abc": "abc" is not a number`},
		{in: "rate<", err: `"" is not a number`},
		{in: "avg< =5", err: `"=5" is not a number`},
		{in: "p(95)<200 over abc", err: `threshold "p(95)<200 over abc": bad window "abc" (use e.g. over 30s)`},
		{in: "p(95)<200 over 0s", err: `bad window "0s"`},
		{in: "p(95)<200 over -1s", err: `bad window "-1s"`},
		{in: "p(95)<200 over ", err: `"200 over" is not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			e, err := parseThreshold(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseThreshold(%q) = %+v, %v; want error %q", tc.in, e, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseThreshold(%q): %v", tc.in, err)
			}
			scnEq(t, "expr", *e, tc.want)
			// The text form parses the same, and keeps the source.
			var th Threshold
			if err := th.UnmarshalText([]byte(tc.in)); err != nil || th.Threshold != tc.in || !reflect.DeepEqual(*th.expr, tc.want) {
				t.Errorf("UnmarshalText: %v, %+v", err, th)
			}
			// So does the mapping form, once compiled.
			th = Threshold{Threshold: tc.in}
			if err := th.compile(); err != nil || !reflect.DeepEqual(*th.expr, tc.want) {
				t.Errorf("compile: %v, %+v", err, th.expr)
			}
		})
	}
}

// A percentile or a bound that is not a number must be an error, as p(abc)
// and rate<abc are: NaN makes a threshold that never holds (or always).
func TestThresholdParseNaN(t *testing.T) {
	for _, in := range []string{"p(NaN)<200", "avg<NaN", "rate!=nan"} {
		t.Run(in, func(t *testing.T) {
			if _, err := parseThreshold(in); err == nil {
				t.Fatalf("parseThreshold(%q) accepted", in)
			}
		})
	}
}

func TestThresholdHolds(t *testing.T) {
	// For each operator: does it hold for a value below, equal to and
	// above the bound (10)?
	tests := []struct {
		op                  string
		below, equal, above bool
	}{
		{"<", true, false, false},
		{"<=", true, true, false},
		{">", false, false, true},
		{">=", false, true, true},
		{"==", false, true, false},
		{"!=", true, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			e, err := parseThreshold("avg" + tc.op + "10")
			if err != nil {
				t.Fatal(err)
			}
			scnEq(t, "op", e.op, tc.op)
			got := []bool{e.holds(9.999), e.holds(10), e.holds(10.001)}
			scnEq(t, "holds(below, equal, above)", got, []bool{tc.below, tc.equal, tc.above})
		})
	}
	if (&thresholdExpr{op: "~", value: 1}).holds(1) {
		t.Error("an unknown operator holds")
	}
}

func TestThresholdValidFor(t *testing.T) {
	aggs := []string{"avg", "min", "max", "med", "p(90)", "rate", "count"}
	tests := []struct {
		metric string
		ok     []string
		want   string
	}{
		{MetricDuration, []string{"avg", "min", "max", "med", "p(90)"}, "avg, min, max, med or p(N)"},
		{MetricIterDuration, []string{"avg", "min", "max", "med", "p(90)"}, "avg, min, max, med or p(N)"},
		{MetricFailed, []string{"rate"}, "rate"},
		{MetricChecks, []string{"rate"}, "rate"},
		{MetricReqs, []string{"rate", "count"}, "count or rate"},
		{MetricIterations, []string{"rate", "count"}, "count or rate"},
		{MetricDropped, []string{"rate", "count"}, "count or rate"},
		{MetricDataSent, []string{"rate", "count"}, "count or rate"},
		{MetricDataReceived, []string{"rate", "count"}, "count or rate"},
		{MetricDuration + "{step:a}", []string{"avg", "min", "max", "med", "p(90)"}, "avg, min, max, med or p(N)"},
		{MetricFailed + "{step:a}", []string{"rate"}, "rate"},
	}
	for _, tc := range tests {
		for _, agg := range aggs {
			t.Run(tc.metric+"/"+agg, func(t *testing.T) {
				e, err := parseThreshold(agg + "<1")
				if err != nil {
					t.Fatal(err)
				}
				err = e.validFor(metricKind(tc.metric))
				if slices.Contains(tc.ok, agg) {
					if err != nil {
						t.Errorf("validFor: %v", err)
					}
					return
				}
				want := fmt.Sprintf("aggregate %s does not apply to this metric (want %s)", agg, tc.want)
				if err == nil || err.Error() != want {
					t.Errorf("validFor: %v, want %q", err, want)
				}
			})
		}
	}
}

func TestThresholdMetricSelector(t *testing.T) {
	steps := map[string]bool{"login": true, "cart": true}
	tests := []struct {
		key, name, step string
		err             string
	}{
		{key: "http_req_duration", name: "http_req_duration"},
		{key: " http_reqs ", name: "http_reqs"},
		{key: "http_req_duration{step:login}", name: "http_req_duration", step: "login"},
		{key: "http_req_duration{ step : login }", name: "http_req_duration", step: "login"},
		{key: "http_req_failed {step:cart}", name: "http_req_failed", step: "cart"},
		{key: "checks{step:cart}", name: "checks", step: "cart"},
		{key: "http_reqs{step:cart}", name: "http_reqs", step: "cart"},
		{key: "http_req_duration{step:nope}", name: "http_req_duration", step: "nope", err: `no step named "nope"`},
		{key: "http_req_duration{status:200}", name: "http_req_duration", step: "\x00status:200", err: "bad selector {status:200} (want {step:NAME})"},
		{key: "iterations{step:login}", name: "iterations", step: "login", err: "iterations is not measured per step"},
		{key: "data_sent{step:login}", name: "data_sent", step: "login", err: "data_sent is not measured per step"},
		{key: "http_req_waiting", name: "http_req_waiting", err: `unknown metric "http_req_waiting"`},
		{key: "{step:login}", name: "", step: "login", err: `unknown metric ""`},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			name, step := splitMetric(tc.key)
			if name != tc.name || step != tc.step {
				t.Errorf("splitMetric = %q, %q; want %q, %q", name, step, tc.name, tc.step)
			}
			err := checkMetric(tc.key, steps)
			if tc.err == "" {
				if err != nil {
					t.Errorf("checkMetric: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("checkMetric: %v, want %q", err, tc.err)
			}
		})
	}
}

// A selector that names no step is a mistake, not the whole test.
func TestThresholdEmptyStepSelector(t *testing.T) {
	for _, key := range []string{"http_req_duration{step:}", "http_req_duration{step:login"} {
		t.Run(key, func(t *testing.T) {
			if err := checkMetric(key, map[string]bool{"login": true}); err == nil {
				t.Fatalf("checkMetric(%q) accepted", key)
			}
		})
	}
}

func TestTmplParse(t *testing.T) {
	tests := []struct {
		in     string
		want   tmpl
		refs   []string
		static bool
		out    string // with a=1, b=22
	}{
		{in: "", want: tmpl{{lit: ""}}, static: true, out: ""},
		{in: "plain/path?q=1", want: tmpl{{lit: "plain/path?q=1"}}, static: true, out: "plain/path?q=1"},
		{in: "{{a}}", want: tmpl{{ref: "a"}}, refs: []string{"a"}, out: "1"},
		{in: "{{ a }}", want: tmpl{{ref: "a"}}, refs: []string{"a"}, out: "1"},
		{in: "{{a}}{{b}}", want: tmpl{{ref: "a"}, {ref: "b"}}, refs: []string{"a", "b"}, out: "122"},
		{in: "x{{a}}y{{b}}z", want: tmpl{{lit: "x"}, {ref: "a"}, {lit: "y"}, {ref: "b"}, {lit: "z"}}, refs: []string{"a", "b"}, out: "x1y22z"},
		{in: "/{{a}}/{{a}}", want: tmpl{{lit: "/"}, {ref: "a"}, {lit: "/"}, {ref: "a"}}, refs: []string{"a", "a"}, out: "/1/1"},
		{in: "{{missing}}!", want: tmpl{{ref: "missing"}, {lit: "!"}}, refs: []string{"missing"}, out: "!"},
		{in: "{{}}", want: tmpl{{lit: "{{}}"}}, static: true, out: "{{}}"},
		{in: "{{a", want: tmpl{{lit: "{{a"}}, static: true, out: "{{a"},
		{in: "a}}b", want: tmpl{{lit: "a}}b"}}, static: true, out: "a}}b"},
		{in: "{{a}}{{", want: tmpl{{ref: "a"}, {lit: "{{"}}, refs: []string{"a"}, out: "1{{"},
		{in: "{{a b}}{{b}}", want: tmpl{{lit: "{{a b}}"}, {ref: "b"}}, refs: []string{"b"}, out: "{{a b}}22"},
		{in: "{{1a}}", want: tmpl{{lit: "{{1a}}"}}, static: true, out: "{{1a}}"},
		{in: "{{a_1}}", want: tmpl{{ref: "a_1"}}, refs: []string{"a_1"}, out: ""},
		{in: `{"t":"{{b}}"}`, want: tmpl{{lit: `{"t":"`}, {ref: "b"}, {lit: `"}`}}, refs: []string{"b"}, out: `{"t":"22"}`},
	}
	vars := map[string]string{"a": "1", "b": "22"}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := parseTmpl(tc.in)
			scnEq(t, "parseTmpl", got, tc.want)
			scnEq(t, "templateRefs", templateRefs(tc.in), tc.refs)
			scnEq(t, "static", got.static(), tc.static)
			scnEq(t, "String", got.String(vars), tc.out)
			scnEq(t, "appendTo", string(got.appendTo([]byte("pre:"), vars)), "pre:"+tc.out)
			if tc.static && got.String(nil) != tc.in {
				t.Errorf("a static template changed its text: %q", got.String(nil))
			}
		})
	}
}

// A string without a valid {{NAME}} is written as it is, whatever its
// braces.
func TestTmplLiteralBraces(t *testing.T) {
	vars := map[string]string{"a": "X"}
	for _, s := range []string{"{", "}}", "{{{", "{{{a}}}", "{{ }}", "a{{-}}b", "{{{{a}}}}", "日本{{語}}", "{{a.b}}"} {
		got := parseTmpl(s)
		if refs := templateRefs(s); refs != nil {
			t.Errorf("templateRefs(%q) = %q", s, refs)
		}
		if out := got.String(vars); out != s {
			t.Errorf("parseTmpl(%q).String = %q", s, out)
		}
	}
	scnEq(t, "{{a}}}", parseTmpl("{{a}}}").String(vars), "X}")
	scnEq(t, "}}{{a}}", parseTmpl("}}{{a}}").String(vars), "}}X")
}

// A document that is null is not a scenario: the error says so at 1:1,
// not "vus: constant-vus needs vus" without a position.
func TestScenarioNullDocument(t *testing.T) {
	for _, doc := range []string{"~", "null", "---\n", "# only a comment\n~\n"} {
		t.Run(doc, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(doc), LoadOptions{})
			var es yamlx.Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v", err)
			}
			if es[0].Line < 1 {
				t.Fatalf("error without a position: %v", err)
			}
		})
	}
}

// FuzzParse: Parse never panics, every error is a non-empty yamlx.Errors
// with positions, and a scenario it accepts is whole.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/scenarios/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(""))
	f.Add([]byte("a: &a [*a]\nsteps: *a\n"))
	f.Add([]byte("base: &b {path: /}\nvus: 1\nduration: 1s\nbase_url: http://h\nsteps: [{<<: *b, name: x}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var sc *Scenario
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("Parse panicked: %v\n%s\ninput:\n%q", r, debug.Stack(), data)
				}
			}()
			sc, err = Parse("fuzz.yaml", data, LoadOptions{})
		}()
		if err != nil {
			if sc != nil {
				t.Fatalf("Parse returned a scenario and an error")
			}
			if err.Error() == "" {
				t.Fatalf("empty error for %q", data)
			}
			var es yamlx.Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %q is not yamlx.Errors", err, err)
			}
			for _, e := range es {
				if e.File != "fuzz.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Fatalf("error without a position or message: %#v", e)
				}
			}
			return
		}
		if !slices.Contains(Executors, sc.Executor) {
			t.Fatalf("executor %q", sc.Executor)
		}
		if sc.TimeUnit <= 0 || sc.Timeout <= 0 || sc.GracefulStop <= 0 {
			t.Fatalf("defaults not filled: %+v", sc)
		}
		if d := sc.TotalDuration(); d > MaxDuration || d <= 0 {
			t.Fatalf("TotalDuration %v", d)
		}
		if len(sc.Steps) == 0 || len(sc.Steps) > MaxSteps {
			t.Fatalf("%d steps", len(sc.Steps))
		}
		names := map[string]bool{}
		for _, st := range sc.Steps {
			if st == nil || st.Name == "" || st.Method == "" || names[st.Name] {
				t.Fatalf("bad step %+v", st)
			}
			names[st.Name] = true
			if _, err := sc.stepURL(st); err != nil {
				t.Fatalf("stepURL: %v", err)
			}
		}
		if sc.Open() && (sc.MaxVUs < 1 || sc.PreAllocatedVUs > sc.MaxVUs) {
			t.Fatalf("open model VUs %d/%d", sc.PreAllocatedVUs, sc.MaxVUs)
		}
		for metric, ts := range sc.Thresholds {
			for _, th := range ts {
				if th == nil || th.expr == nil {
					t.Fatalf("%s: threshold not compiled", metric)
				}
			}
		}
		if err := sc.Validate(); err != nil {
			t.Fatalf("Validate again: %v", err)
		}
	})
}
