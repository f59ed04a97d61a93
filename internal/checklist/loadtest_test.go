package checklist

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prfhq/prf/internal/probe"
)

// A loadtest checkpoint can carry its scenario inline: the checklist's
// decoder reads it with positions, ${vars.X} is the checklist's, and
// {{NAME}} (a value extracted at run time) is left alone.
func TestInlineLoadTestScenario(t *testing.T) {
	dir := t.TempDir()
	good := `version: 1
name: lt
vars: {base: "http://127.0.0.1:8080"}
checkpoints:
  - id: perf.load
    title: load
    domain: performance
    owner: SRE Lead
    timeout: 2m
    probe:
      kind: loadtest
      scenario:
        base_url: ${vars.base}
        vus: 5
        duration: 30s
        steps:
          - {name: login, path: /login, json: {user: ann}, extract: {token: json.token}}
          - {name: data, path: /data, headers: {Authorization: "Bearer {{token}}"}}
        thresholds:
          http_req_duration{step:data}:
            - {threshold: "p(95)<200 over 10s", abort_on_fail: true}
    expect: thresholds_ok && latency_ms.p95 < 300
`
	p := filepath.Join(dir, "good.yaml")
	os.WriteFile(p, []byte(good), 0o644)
	cl, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cl.Spec(cl.Checkpoints[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := spec.(*probe.LoadTestSpec).Scenario
	if sc.BaseURL != "http://127.0.0.1:8080" || sc.Steps[1].Headers["Authorization"] != "Bearer {{token}}" || len(sc.Thresholds["http_req_duration{step:data}"]) != 1 {
		t.Errorf("decoded %+v", sc)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"duration: 30s", "duraton: 30s", `good.yaml:15:9: checkpoint "perf.load": probe.scenario.duraton: unknown field "duraton" (did you mean "duration"?)`},
		{`"p(95)<200 over 10s"`, `"p(95)<200 over soon"`, `good.yaml:21:13: checkpoint "perf.load": probe.scenario.thresholds.http_req_duration{step:data}: threshold "p(95)<200 over soon": bad window "soon"`},
		{"{{token}}", "{{tokn}}", `good.yaml:18:48: checkpoint "perf.load": probe.scenario.steps[1].headers: {{tokn}} is not extracted by an earlier step`},
		{"expect: thresholds_ok", "expect: threshold_ok", `undeclared reference to 'threshold_ok'`},
	} {
		b := filepath.Join(dir, "good.yaml")
		os.WriteFile(b, []byte(strings.Replace(good, tc.from, tc.to, 1)), 0o644)
		_, err := Load(b, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: got %v\nwant %s", tc.from, tc.to, err, tc.want)
		}
	}
}
