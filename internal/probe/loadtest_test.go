package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/loadtest"
)

func TestLoadTestProbe(t *testing.T) {
	var slow atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(15 * time.Millisecond)
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "s.yaml")
	os.WriteFile(file, []byte(`
name: file
base_url: ${vars.base}
vars: {base: ""}
vus: 2
duration: 10s
steps: [{path: /, checks: {ok: json.ok}}]
thresholds: {http_req_duration: ["p(95)<10"]}
`), 0o644)

	k, _ := registrySpec[*LoadTestSpec](t, "loadtest")
	// From a file, scaled: 10 s becomes 300 ms.
	spec := &LoadTestSpec{File: file, Vars: map[string]string{"base": srv.URL}, Scale: 0.03}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs []string
	env := Env{Logf: func(f string, a ...any) { logs = append(logs, f) }}
	obs, err := k.Probe(context.Background(), env, spec)
	if err != nil {
		t.Fatal(err)
	}
	s := obs.(loadtest.Summary)
	if s.Requests == 0 || !s.ThresholdsOK || s.ChecksRate != 1 || s.DurationS > 2 {
		t.Errorf("summary: requests %d thresholds_ok %v checks %.2f duration %.1fs", s.Requests, s.ThresholdsOK, s.ChecksRate, s.DurationS)
	}
	if len(logs) < 2 {
		t.Errorf("log %v: want the plan and the threshold verdicts", logs)
	}
	// The same threshold fails against a slow target.
	slow.Store(true)
	obs, err = k.Probe(context.Background(), env, spec)
	if err != nil || obs.(loadtest.Summary).ThresholdsOK {
		t.Errorf("slow target: err %v thresholds_ok %v", err, obs.(loadtest.Summary).ThresholdsOK)
	}
	// An expect can read any metric of the summary.
	for _, f := range []string{"latency_ms", "failed_rate", "rps", "thresholds_ok", "dropped_iterations", "stages", "steps"} {
		if !strings.Contains(strings.Join(k.Fields(), " "), f) {
			t.Errorf("observation fields %v lack %s", k.Fields(), f)
		}
	}
	// A cancelled checkpoint (its timeout) returns what was measured.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	spec = &LoadTestSpec{File: file, Vars: map[string]string{"base": srv.URL}}
	spec.Validate()
	obs, err = k.Probe(ctx, env, spec)
	if err == nil || !strings.Contains(err.Error(), "cut short") || obs.(loadtest.Summary).Requests == 0 {
		t.Errorf("cut short: err %v, requests %d", err, obs.(loadtest.Summary).Requests)
	}
}

func TestLoadTestSpecValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("vus: 2\nduraton: 1s\nsteps: [{path: http://127.0.0.1:1/}]\n"), 0o644)
	for _, tc := range []struct {
		name string
		spec *LoadTestSpec
		want string
	}{
		{"neither", &LoadTestSpec{}, "file: give a scenario file or an inline scenario"},
		{"both", &LoadTestSpec{File: bad, Scenario: &loadtest.Scenario{}}, "exactly one"},
		{"missing file", &LoadTestSpec{File: filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"bad file names its line", &LoadTestSpec{File: bad}, "bad.yaml:2:1: duraton: unknown field"},
		{"inline field", &LoadTestSpec{Scenario: &loadtest.Scenario{VUs: 1, Duration: time.Second, Steps: []*loadtest.Step{{Path: "/x"}}}}, "scenario.steps[0].path: \"/x\" is relative"},
		{"negative scale", &LoadTestSpec{File: bad, Scale: -1}, "scale: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
