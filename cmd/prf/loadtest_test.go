package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func loadTarget(t *testing.T, status int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.WriteHeader(status)
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestLoadtestQuickModeJSON(t *testing.T) {
	srv, n := loadTarget(t, 200)
	db := filepath.Join(t.TempDir(), "prf.db")
	for _, args := range [][]string{
		{"--vus", "3", "--duration", "300ms"},
		{"--rate", "200", "--max-vus", "10", "--duration", "500ms"},
	} {
		n.Store(0)
		code, out, errOut := prf(t, append([]string{"loadtest", "--db", db, "-q", "--url", srv.URL + "/", "-o", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		var s map[string]any
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, out)
		}
		for _, k := range []string{"requests", "rps", "failed_rate", "dropped_iterations", "latency_ms"} {
			if _, ok := s[k]; !ok {
				t.Errorf("%v: no %q in %s", args, k, out)
			}
		}
		lat, _ := s["latency_ms"].(map[string]any)
		for _, k := range []string{"p50", "p90", "p95", "p99", "max"} {
			if v, _ := lat[k].(float64); v <= 0 {
				t.Errorf("%v: latency_ms.%s = %v", args, k, lat[k])
			}
		}
		if got := int64(s["requests"].(float64)); got == 0 || got != n.Load() {
			t.Errorf("%v: %d requests reported, server saw %d", args, got, n.Load())
		}
	}
	// A threshold on the command line decides the exit status.
	code, out, errOut := prf(t, "loadtest", "--db", db, "-q", "--url", srv.URL+"/", "--vus", "2", "--duration", "200ms",
		"--threshold", "http_req_failed:rate<0.01", "--threshold", "http_reqs:count<5")
	if code != 1 || !strings.Contains(out, "✓ http_req_failed") || !strings.Contains(out, "✗ http_reqs") {
		t.Errorf("--threshold: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := prf(t, "loadtest", "--no-store", "--url", srv.URL+"/", "--threshold", "p(95)<1"); code != 2 || !strings.Contains(errOut, "METRIC:EXPR") {
		t.Errorf("--threshold without a metric: exit %d\n%s", code, errOut)
	}
	if code, out, _ := prf(t, "runs", "list", "--db", db); code != 0 || strings.Count(out, "loadtest: quick") != 3 {
		t.Errorf("runs list: exit %d\n%s", code, out)
	}
}

func TestLoadtestScenarioVerdictAndErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "prf.db")
	bad, _ := loadTarget(t, 503)
	scenario := func(url string) string {
		return `name: api
base_url: ${vars.base}
vars: {base: "` + url + `"}
vus: 2
duration: 300ms
steps:
  - name: health
    path: /health
    checks: {up: status == 200}
thresholds:
  http_req_failed: ["rate<0.01"]
`
	}
	f := writeFile(t, dir, "bad.yaml", scenario(bad.URL))
	code, out, errOut := prf(t, "loadtest", "--db", db, "-q", "-f", f)
	if code != 1 {
		t.Fatalf("failing threshold: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "✗ http_req_failed") || !strings.Contains(out, "✗ health: up") || !strings.Contains(out, "stored as run") {
		t.Errorf("summary:\n%s", out)
	}
	good, _ := loadTarget(t, 200)
	if code, out, errOut := prf(t, "loadtest", "--db", db, "-q", "-f", f, "--var", "base="+good.URL); code != 0 {
		t.Fatalf("--var overrides base: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := prf(t, "runs", "list", "--db", db); code != 0 || !strings.Contains(out, "loadtest: api") || !strings.Contains(out, "not_ready") {
		t.Errorf("runs list:\n%s", out)
	}

	typo := writeFile(t, dir, "typo.yaml", strings.Replace(scenario(good.URL), "duration: 300ms", "duraton: 300ms", 1))
	code, _, errOut = prf(t, "loadtest", "--db", db, "-f", typo)
	if code != 2 || !strings.Contains(errOut, "typo.yaml:5:1:") || !strings.Contains(errOut, `did you mean "duration"`) {
		t.Errorf("typo: exit %d\n%s", code, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"loadtest"}, "give -f"},
		{[]string{"loadtest", "-f", f, "--vus", "3"}, "quick mode"},
		{[]string{"loadtest", "-f", f, "--url", good.URL}, "not both"},
		{[]string{"loadtest", "--url", good.URL, "--vus", "2", "--rate", "5"}, "not both"},
		{[]string{"loadtest", "--url", good.URL, "--vus", "2", "--max-vus", "5"}, "--max-vus goes with --rate"},
		{[]string{"loadtest", "--url", "ftp://x/", "--vus", "2"}, "--url"},
		{[]string{"loadtest", "--url", good.URL, "--vus", "2", "--shard", "3/2"}, "--shard"},
		{[]string{"loadtest", "-f", f, "--secret", "pw=hunter2"}, "not a value"},
		{[]string{"loadtest", "-f", f, "-o", "xml"}, "want text or json"},
		{[]string{"loadtest", "-f", filepath.Join(dir, "missing.yaml")}, "no such file"},
	} {
		code, _, errOut := prf(t, append(tc.args, "--db", db)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q\n%s", tc.args, code, tc.want, errOut)
		}
		if strings.Contains(errOut, "hunter2") {
			t.Errorf("%v: the secret value was echoed", tc.args)
		}
	}
}

func TestLoadtestShardsMerge(t *testing.T) {
	srv, n := loadTarget(t, 200)
	dir := t.TempDir()
	var outs []string
	for _, sh := range []string{"1/2", "2/2"} {
		out := filepath.Join(dir, "shard"+sh[:1]+".json")
		outs = append(outs, out)
		if code, _, errOut := prf(t, "loadtest", "--no-store", "-q", "--url", srv.URL+"/", "--rate", "300", "--max-vus", "10", "--duration", "500ms", "--shard", sh, "--out", out,
			"--threshold", "http_req_failed:rate<0.01", "--threshold", "http_req_duration:p(99)<1000 over 200ms"); code != 0 {
			t.Fatalf("shard %s: exit %d\n%s", sh, code, errOut)
		}
	}
	code, out, errOut := prf(t, "loadtest", "merge", "-o", "json", outs[0], outs[1])
	if code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("merge -o json: %v\n%s", err, out)
	}
	if th, _ := m["thresholds"].([]any); len(th) != 2 || m["thresholds_ok"] != true {
		t.Errorf("merged thresholds %v ok %v", m["thresholds"], m["thresholds_ok"])
	}
	if int64(m["requests"].(float64)) != n.Load() || int64(m["iterations"].(float64))+int64(m["dropped_iterations"].(float64)) != 150 {
		t.Errorf("merged %v requests (server saw %d), iterations %v + dropped %v, want 150 scheduled", m["requests"], n.Load(), m["iterations"], m["dropped_iterations"])
	}
	// Shards that started together merge without a warning; one that
	// started an hour later merges all the same, with a warning that the
	// timeline is the schedule's. (The two above ran one after the other.)
	withStart := func(name string, shift time.Duration) string {
		t.Helper()
		var first, raw map[string]any
		b0, _ := os.ReadFile(outs[0])
		b1, _ := os.ReadFile(outs[1])
		if json.Unmarshal(b0, &first) != nil || json.Unmarshal(b1, &raw) != nil {
			t.Fatal("shard results are not JSON")
		}
		started, err := time.Parse(time.RFC3339Nano, first["started"].(string))
		if err != nil {
			t.Fatal(err)
		}
		raw["started"] = started.Add(shift).Format(time.RFC3339Nano)
		b, _ := json.Marshal(raw)
		return writeFile(t, dir, name, string(b))
	}
	if code, _, errOut := prf(t, "loadtest", "merge", outs[0], withStart("together.json", 0)); code != 0 || strings.Contains(errOut, "warning") {
		t.Errorf("merge of shards started together: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := prf(t, "loadtest", "merge", outs[0], withStart("late.json", time.Hour)); code != 0 || !strings.Contains(errOut, "warning: the shards started up to 1h0m0") {
		t.Errorf("merge of shards started an hour apart: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := prf(t, "loadtest", "merge", outs[0], outs[0]); code != 2 || !strings.Contains(errOut, "given twice") {
		t.Errorf("merging a shard twice: exit %d\n%s", code, errOut)
	}
	code, out, errOut = prf(t, "loadtest", "compare", outs[0], outs[1])
	if code != 0 || !strings.Contains(out, "latency_ms.p99") || !strings.Contains(out, "requests") {
		t.Errorf("compare: exit %d\n%s%s", code, out, errOut)
	}
	junk := writeFile(t, dir, "junk.json", "{")
	if code, _, errOut := prf(t, "loadtest", "merge", junk); code != 2 || !strings.Contains(errOut, "not a prf loadtest result") {
		t.Errorf("junk: exit %d\n%s", code, errOut)
	}
}
