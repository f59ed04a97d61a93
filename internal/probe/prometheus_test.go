package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/expect"
	"github.com/prfhq/prf/internal/testenv"
)

func promSpec(url string, mod func(*PrometheusSpec)) *PrometheusSpec {
	s := &PrometheusSpec{URL: url, Timeout: 10 * time.Second}
	if mod != nil {
		mod(s)
	}
	return s
}

// promWaitValue polls an instant query until it returns want (bounded).
func promWaitValue(t *testing.T, url, query string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		obs, err := probePrometheus(context.Background(), Env{}, promSpec(url, func(s *PrometheusSpec) { s.Query = query }))
		if err == nil && obs.Value != nil && *obs.Value == want {
			return
		}
		last = fmt.Sprintf("value %s, err %v", obs.ValueText, err)
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s never became %v: %s", query, want, last)
}

func TestPrometheusProbe(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile("testdata/prometheus-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	exp := testenv.StartExporter(t)
	exp.Set("prf_test_cpu_usage_ratio", 0.9)
	exp.Set("prf_test_memory_usage_ratio", 0.5)
	exp.Set("prf_test_request_duration_seconds", 0.125)
	closed := refusedAddr(t)
	prom := testenv.StartPrometheus(t, testenv.PromOptions{Rules: string(rules), ScrapeTargets: []string{exp.Addr, closed}})

	// CPU was 0.9 for a scrape or more, and is 0.42 now.
	promWaitValue(t, prom.URL, "prf_test_cpu_usage_ratio", 0.9)
	exp.Set("prf_test_cpu_usage_ratio", 0.42)
	promWaitValue(t, prom.URL, "prf_test_cpu_usage_ratio", 0.42)
	// The rules are evaluated every second: wait until ExporterDown has
	// seen the closed target (pending), not just until the rules loaded.
	promWaitValue(t, prom.URL, `count(ALERTS{alertname="ExporterDown",alertstate="pending"})`, 1)

	tests := []struct {
		name    string
		mod     func(*PrometheusSpec)
		wantErr string
		check   func(t *testing.T, obs PrometheusObservation)
		expect  map[string]bool // checkpoint expressions over the observation → verdict
	}{
		{
			name: "instant query of a gauge",
			mod:  func(s *PrometheusSpec) { s.Query = "prf_test_cpu_usage_ratio" },
			check: func(t *testing.T, obs PrometheusObservation) {
				promCheckValue(t, obs, 0.42)
				if obs.Count != 1 || obs.Query != "prf_test_cpu_usage_ratio" || obs.Unit != "ratio" || obs.ResultType != "vector" || obs.Mode != "query" {
					t.Errorf("count %d, query %q, unit %q, result_type %q, mode %q", obs.Count, obs.Query, obs.Unit, obs.ResultType, obs.Mode)
				}
				if len(obs.Values) != 1 || obs.Values[0].Labels["instance"] != exp.Addr || obs.Values[0].Labels["job"] != testenv.PromJob {
					t.Errorf("values = %+v", obs.Values)
				}
			},
			expect: map[string]bool{"value < 0.7": true, "value < 0.4": false, `values[0].labels.job == "prf-test"`: true},
		},
		{
			name: "instant query above the §3.1 CPU target",
			mod:  func(s *PrometheusSpec) { s.Query = "prf_test_cpu_usage_ratio > 0.7" },
			check: func(t *testing.T, obs PrometheusObservation) {
				if obs.Value != nil || obs.Count != 0 || obs.ValueText != "" {
					t.Errorf("value %v (%q), count %d: want no data", obs.Value, obs.ValueText, obs.Count)
				}
			},
			expect: map[string]bool{"count == 0": true},
		},
		{
			name: "scalar with the unit setting",
			mod:  func(s *PrometheusSpec) { s.Query = "scalar(prf_test_request_duration_seconds) * 1000"; s.Unit = "ms" },
			check: func(t *testing.T, obs PrometheusObservation) {
				promCheckValue(t, obs, 125)
				if obs.ResultType != "scalar" || obs.Unit != "ms" || obs.Count != 1 {
					t.Errorf("result_type %q, unit %q, count %d", obs.ResultType, obs.Unit, obs.Count)
				}
			},
		},
		{
			name: "unit from the metric name",
			mod:  func(s *PrometheusSpec) { s.Query = `prf_test_request_duration_seconds{job="prf-test"}` },
			check: func(t *testing.T, obs PrometheusObservation) {
				promCheckValue(t, obs, 0.125)
				if obs.Unit != "seconds" {
					t.Errorf("unit = %q, want seconds", obs.Unit)
				}
			},
		},
		{
			name:    "bad query",
			mod:     func(s *PrometheusSpec) { s.Query = "sum(prf_test_cpu_usage_ratio" },
			wantErr: "bad_data",
		},
		{
			name: "range max sees the earlier 0.9",
			mod: func(s *PrometheusSpec) {
				s.Range = PrometheusRange{Query: "prf_test_cpu_usage_ratio", Window: 2 * time.Minute, Step: time.Second, Aggregate: "max"}
			},
			check: func(t *testing.T, obs PrometheusObservation) {
				promCheckValue(t, obs, 0.9)
				if obs.Mode != "range" || obs.Query != "prf_test_cpu_usage_ratio" || obs.Samples < 2 || obs.Count != 1 || obs.Step != time.Second || obs.Window != 2*time.Minute {
					t.Errorf("mode %q, query %q, samples %d, count %d, step %s, window %s", obs.Mode, obs.Query, obs.Samples, obs.Count, obs.Step, obs.Window)
				}
			},
		},
		{
			name: "range min and last",
			mod: func(s *PrometheusSpec) {
				s.Range = PrometheusRange{Query: "prf_test_cpu_usage_ratio", Window: 2 * time.Minute, Aggregate: "min"}
			},
			check: func(t *testing.T, obs PrometheusObservation) {
				promCheckValue(t, obs, 0.42)
				if obs.Step != 2*time.Second {
					t.Errorf("default step = %s, want window/60 = 2s", obs.Step)
				}
			},
		},
		{
			name: "range last",
			mod: func(s *PrometheusSpec) {
				s.Range = PrometheusRange{Query: "prf_test_cpu_usage_ratio", Window: time.Minute, Step: time.Second, Aggregate: "last"}
			},
			check: func(t *testing.T, obs PrometheusObservation) { promCheckValue(t, obs, 0.42) },
		},
		{
			name: "range avg lies between",
			mod: func(s *PrometheusSpec) {
				s.Range = PrometheusRange{Query: "prf_test_cpu_usage_ratio", Window: 2 * time.Minute, Step: time.Second}
			},
			check: func(t *testing.T, obs PrometheusObservation) {
				if obs.Value == nil || *obs.Value <= 0.42 || *obs.Value >= 0.9 || obs.Aggregate != "avg" {
					t.Errorf("avg = %v (%s), want between 0.42 and 0.9", obs.Value, obs.Aggregate)
				}
			},
		},
		{
			name: "targets: one down with its error",
			mod:  func(s *PrometheusSpec) { s.Targets = true },
			check: func(t *testing.T, obs PrometheusObservation) {
				if obs.TargetsUp != 1 || obs.TargetsDown != 1 || len(obs.Down) != 1 {
					t.Fatalf("up %d, down %d %v; want 1, 1", obs.TargetsUp, obs.TargetsDown, obs.Down)
				}
				if want := testenv.PromJob + "/" + closed + ": "; !strings.HasPrefix(obs.Down[0], want) || !strings.Contains(obs.Down[0], "refused") {
					t.Errorf("down[0] = %q, want %q… with the refusal", obs.Down[0], want)
				}
			},
			expect: map[string]bool{"targets_down == 0": false, "targets_up >= 1": true},
		},
		{
			name: "targets of another job",
			mod:  func(s *PrometheusSpec) { s.Targets = true; s.Job = "payments" },
			check: func(t *testing.T, obs PrometheusObservation) {
				if obs.TargetsUp+obs.TargetsDown+obs.TargetsUnknown != 0 || len(obs.Down) != 0 {
					t.Errorf("up %d, down %d, unknown %d: want none", obs.TargetsUp, obs.TargetsDown, obs.TargetsUnknown)
				}
			},
		},
		{
			name: "alert rule by name: threshold, for, severity",
			mod:  func(s *PrometheusSpec) { s.AlertRules.Alert = "HighCPUUsage" },
			check: func(t *testing.T, obs PrometheusObservation) {
				if !obs.Found || obs.Name != "HighCPUUsage" || obs.Threshold == nil || *obs.Threshold != 0.7 || obs.Operator != ">" {
					t.Fatalf("found %t, name %q, threshold %v, operator %q", obs.Found, obs.Name, obs.Threshold, obs.Operator)
				}
				if obs.For != 5*time.Minute || obs.Severity != "critical" || obs.Labels["team"] != "platform" {
					t.Errorf("for %s, severity %q, labels %v", obs.For, obs.Severity, obs.Labels)
				}
				if obs.Group != "prf-test-infrastructure" || !strings.HasSuffix(obs.File, "rules.yml") || (obs.State != "inactive" && obs.State != "pending") {
					t.Errorf("group %q, file %q, state %q", obs.Group, obs.File, obs.State)
				}
				if obs.RulesLoaded != 4 || obs.AlertingRules != 3 || obs.Matches != 1 {
					t.Errorf("rules_loaded %d, alerting_rules %d, matches %d; want 4, 3, 1", obs.RulesLoaded, obs.AlertingRules, obs.Matches)
				}
			},
			expect: map[string]bool{
				`found && threshold <= 0.8 && for_duration >= duration("5m") && severity == "critical"`: true,
				`threshold <= 0.6`: false,
			},
		},
		{
			name: "alert rule by metric, number on the left",
			mod:  func(s *PrometheusSpec) { s.AlertRules.Metric = "prf_test_memory_usage_ratio" },
			check: func(t *testing.T, obs PrometheusObservation) {
				if !obs.Found || obs.Name != "HighMemoryUsage" || obs.Threshold == nil || *obs.Threshold != 0.85 || obs.Operator != ">" || obs.Severity != "warning" || obs.For != 10*time.Minute {
					t.Errorf("found %t, name %q, threshold %v %q, severity %q, for %s", obs.Found, obs.Name, obs.Threshold, obs.Operator, obs.Severity, obs.For)
				}
			},
		},
		{
			name: "alert rule firing",
			mod:  func(s *PrometheusSpec) { s.AlertRules.Alert = "ExporterDown" },
			check: func(t *testing.T, obs PrometheusObservation) {
				// the closed target's up == 0 holds; for: 1m keeps it pending
				if !obs.Found || *obs.Threshold != 0 || obs.Operator != "==" || obs.State != "pending" || obs.Health != "ok" {
					t.Errorf("found %t, threshold %v %q, state %q, health %q", obs.Found, obs.Threshold, obs.Operator, obs.State, obs.Health)
				}
			},
		},
		{
			name: "alert rule missing",
			mod:  func(s *PrometheusSpec) { s.AlertRules.Alert = "DiskAlmostFull" },
			check: func(t *testing.T, obs PrometheusObservation) {
				if obs.Found || obs.Matches != 0 || obs.Threshold != nil || obs.RulesLoaded != 4 {
					t.Errorf("found %t, matches %d, threshold %v, rules_loaded %d", obs.Found, obs.Matches, obs.Threshold, obs.RulesLoaded)
				}
			},
			expect: map[string]bool{`found && severity == "critical"`: false},
		},
		{
			name: "alert name and metric must both hold",
			mod: func(s *PrometheusSpec) {
				s.AlertRules = PrometheusAlertRuleMatch{Alert: "HighCPUUsage", Metric: "prf_test_memory_usage_ratio"}
			},
			check: func(t *testing.T, obs PrometheusObservation) {
				if obs.Found {
					t.Errorf("found %s", obs.Name)
				}
			},
		},
	}
	kind, _ := Default().Lookup("prometheus")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs, err := probePrometheus(context.Background(), Env{Logf: t.Logf}, promSpec(prom.URL, tc.mod))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := json.Marshal(Flatten(obs)); err != nil {
				t.Errorf("observation does not marshal: %v", err)
			}
			tc.check(t, obs)
			for src, want := range tc.expect {
				prog, err := expect.Compile(src, kind.Fields())
				if err != nil {
					t.Fatalf("%s: %v", src, err)
				}
				if v := prog.Eval(Flatten(obs)); v.Err != nil || v.Pass != want {
					t.Errorf("%s = %t (%v), want %t", src, v.Pass, v.Err, want)
				}
			}
		})
	}
}

func promCheckValue(t *testing.T, obs PrometheusObservation, want float64) {
	t.Helper()
	if obs.Value == nil || *obs.Value != want {
		t.Errorf("value = %v (%q), want %v", obs.Value, obs.ValueText, want)
	}
}

func TestPrometheusProbeErrors(t *testing.T) {
	t.Parallel()
	const token = "prom-bearer-token-secret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"NaN"]}}`)
	}))
	t.Cleanup(srv.Close)

	t.Run("bearer token sent", func(t *testing.T) {
		obs, err := probePrometheus(context.Background(), Env{}, promSpec(srv.URL, func(s *PrometheusSpec) { s.Query = "vector(0)/0"; s.BearerToken = token }))
		if err != nil {
			t.Fatal(err)
		}
		if obs.Value != nil || obs.ValueText != "NaN" {
			t.Errorf("value %v, value_text %q; want null, NaN", obs.Value, obs.ValueText)
		}
		if data, err := json.Marshal(Flatten(obs)); err != nil || strings.Contains(string(data), token) {
			t.Errorf("observation %s (%v)", data, err)
		}
	})
	tests := []struct {
		name    string
		url     string
		token   string
		wantErr string
	}{
		{"wrong token", srv.URL, "not-the-" + token, "401"},
		{"no token", srv.URL, "", "401"},
		{"nothing listening", "", "", "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.url == "" {
				tc.url = "http://" + refusedAddr(t)
			}
			var logs []string
			env := Env{Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }}
			_, err := probePrometheus(context.Background(), env, promSpec(tc.url, func(s *PrometheusSpec) { s.Targets = true; s.BearerToken = tc.token }))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			t.Logf("error: %v", err)
			if strings.Contains(err.Error()+strings.Join(logs, "\n"), token) {
				t.Errorf("token in error or log: %v", err)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leave
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}))
		t.Cleanup(slow.Close)
		start := time.Now()
		_, err := probePrometheus(context.Background(), Env{}, promSpec(slow.URL, func(s *PrometheusSpec) { s.Query = "up"; s.Timeout = 200 * time.Millisecond }))
		if err == nil || !strings.Contains(err.Error(), "deadline") || time.Since(start) > 3*time.Second {
			t.Errorf("err = %v after %s, want a deadline error soon", err, time.Since(start))
		}
	})
}

func TestPrometheusSpecYAML(t *testing.T) {
	tests := []struct {
		name, src string
		check     func(s *PrometheusSpec) bool
	}{
		{"query", "url: http://prometheus:9090\nquery: avg(rate(cpu_seconds_total[5m]))\nunit: ratio\nbearer_token: t\ninsecure_skip_verify: true\n",
			func(s *PrometheusSpec) bool {
				return s.Query == "avg(rate(cpu_seconds_total[5m]))" && s.Unit == "ratio" && s.BearerToken == "t" && s.InsecureSkipVerify
			}},
		{"range", "url: http://prometheus:9090\nrange: {query: up, window: 5m, step: 15s, aggregate: max}\ntimeout: 3s\n",
			func(s *PrometheusSpec) bool {
				return s.Range == PrometheusRange{Query: "up", Window: 5 * time.Minute, Step: 15 * time.Second, Aggregate: "max"} && s.Timeout == 3*time.Second
			}},
		{"targets", "url: http://prometheus:9090\ntargets: true\njob: api\n",
			func(s *PrometheusSpec) bool { return s.Targets && s.Job == "api" }},
		{"alert_rules", "url: http://prometheus:9090\nalert_rules: {alert: HighCPUUsage, metric: cpu_usage_ratio}\n",
			func(s *PrometheusSpec) bool {
				return s.AlertRules == PrometheusAlertRuleMatch{Alert: "HighCPUUsage", Metric: "cpu_usage_ratio"}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s PrometheusSpec
			dec := yaml.NewDecoder(strings.NewReader(tc.src))
			dec.KnownFields(true)
			if err := dec.Decode(&s); err != nil {
				t.Fatal(err)
			}
			if !tc.check(&s) {
				t.Errorf("decoded %+v", s)
			}
			if err := s.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPrometheusValidate(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*PrometheusSpec)
		field string
	}{
		{"query", func(s *PrometheusSpec) { s.Query = "up" }, ""},
		{"range", func(s *PrometheusSpec) {
			s.Range = PrometheusRange{Query: "up", Window: 5 * time.Minute, Aggregate: "max"}
		}, ""},
		{"targets with job", func(s *PrometheusSpec) { s.Targets = true; s.Job = "api" }, ""},
		{"alert rules", func(s *PrometheusSpec) { s.AlertRules.Alert = "HighCPUUsage" }, ""},
		{"nothing to observe", nil, "query"},
		{"two modes", func(s *PrometheusSpec) { s.Query = "up"; s.Targets = true }, "query"},
		{"no url", func(s *PrometheusSpec) { s.URL = ""; s.Query = "up" }, "url"},
		{"ftp url", func(s *PrometheusSpec) { s.URL = "ftp://prom"; s.Query = "up" }, "url"},
		{"range without query", func(s *PrometheusSpec) { s.Range.Window = time.Minute }, "range.query"},
		{"range without window", func(s *PrometheusSpec) { s.Range.Query = "up" }, "range.window"},
		{"range step over window", func(s *PrometheusSpec) { s.Range = PrometheusRange{Query: "up", Window: time.Minute, Step: time.Hour} }, "range.step"},
		{"range too many points", func(s *PrometheusSpec) {
			s.Range = PrometheusRange{Query: "up", Window: 24 * time.Hour, Step: time.Second}
		}, "range.step"},
		{"range aggregate", func(s *PrometheusSpec) { s.Range = PrometheusRange{Query: "up", Window: time.Minute, Aggregate: "p95"} }, "range.aggregate"},
		{"job without targets", func(s *PrometheusSpec) { s.Query = "up"; s.Job = "api" }, "job"},
		{"bad metric name", func(s *PrometheusSpec) { s.AlertRules.Metric = "cpu usage" }, "alert_rules.metric"},
		{"negative timeout", func(s *PrometheusSpec) { s.Query = "up"; s.Timeout = -1 }, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &PrometheusSpec{URL: "http://127.0.0.1:9090"}
			if tc.mod != nil {
				tc.mod(s)
			}
			checkFieldError(t, s.Validate(), tc.field)
		})
	}
}

func TestPromThreshold(t *testing.T) {
	tests := []struct {
		expr string
		op   string
		th   float64
		ok   bool
	}{
		{`cpu_usage > 0.7`, ">", 0.7, true},
		{`avg by (instance) (rate(cpu_seconds_total{mode!="idle"}[5m])) >= 0.8`, ">=", 0.8, true},
		{`0.85 < mem_ratio`, ">", 0.85, true},
		{`100 >= errors`, "<=", 100, true},
		{`up{job="api"} == 0`, "==", 0, true},
		{`rate(x[5m]) > bool 1e3`, ">", 1000, true},
		{`histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m]))) > (0.5)`, ">", 0.5, true},
		{`(sum(rate(errors_total[5m])) / sum(rate(requests_total[5m]))) > 0.01 and on() vector(1)`, ">", 0.01, true},
		{`absent(up{job="api"}) or up{job="api"} < 1`, "<", 1, true},
		{`x > 0x10`, ">", 16, true},
		{`x{label=">5"} > 3 # was 5`, ">", 3, true},
		{`x > y`, "", 0, false},
		{`x > 0.7 * 100`, "", 0, false},
		{`absent(up{job="api"})`, "", 0, false},
		{`max_over_time(x[5m] offset 1m) < 10`, "<", 10, true},
		{`x != 2 unless y`, "!=", 2, true},
		{`x > Inf`, "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			op, th, ok := promThreshold(tc.expr)
			if op != tc.op || th != tc.th || ok != tc.ok {
				t.Errorf("promThreshold(%q) = %q %v %t, want %q %v %t", tc.expr, op, th, ok, tc.op, tc.th, tc.ok)
			}
		})
	}
}

func TestPromExprReads(t *testing.T) {
	tests := []struct {
		expr, metric string
		want         bool
	}{
		{`cpu_usage > 0.7`, "cpu_usage", true},
		{`rate(cpu_usage_total[5m])`, "cpu_usage", false},
		{`{__name__="cpu_usage"} > 1`, "cpu_usage", true},
		{`up{job="cpu_usage"}`, "cpu_usage", false},
		{`sum(node:cpu_usage:rate5m)`, "cpu_usage", false},
		{`sum(node:cpu_usage:rate5m)`, "node:cpu_usage:rate5m", true},
	}
	for _, tc := range tests {
		if got := promExprReads(tc.expr, tc.metric); got != tc.want {
			t.Errorf("promExprReads(%q, %q) = %t, want %t", tc.expr, tc.metric, got, tc.want)
		}
	}
}

func TestPromUnit(t *testing.T) {
	tests := []struct {
		setting, query, name, want string
	}{
		{"", "http_request_duration_seconds", "", "seconds"},
		{"", `node_memory_MemAvailable_bytes{instance="a"}`, "", "bytes"},
		{"", "x", "disk_used_ratio", "ratio"},
		{"", "rate(http_request_duration_seconds_sum[5m])", "", ""},
		{"", "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", "", "seconds"},
		{"", "http_requests_total", "", ""},
		{"", "sum(cpu_seconds_total) / 4", "", ""},
		{"ms", "anything", "", "ms"},
	}
	for _, tc := range tests {
		if got := promUnit(tc.setting, tc.query, tc.name); got != tc.want {
			t.Errorf("promUnit(%q, %q, %q) = %q, want %q", tc.setting, tc.query, tc.name, got, tc.want)
		}
	}
}
