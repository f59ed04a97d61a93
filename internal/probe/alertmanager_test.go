package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/expect"
	"github.com/prfhq/prf/internal/testenv"
)

func amSpec(url string, labels map[string]string) *AlertmanagerSpec {
	return &AlertmanagerSpec{URL: url, Labels: labels, Timeout: 10 * time.Second}
}

func TestAlertmanagerProbe(t *testing.T) {
	t.Parallel()
	cfg, err := os.ReadFile("testdata/alertmanager-routes.yml")
	if err != nil {
		t.Fatal(err)
	}
	am := testenv.StartAlertmanager(t, string(cfg))

	tests := []struct {
		name      string
		labels    map[string]string
		receivers []string
		wantType  string // an integration type of the first receiver
	}{
		{"critical pages", map[string]string{"alertname": "HighErrorRate", "severity": "critical"}, []string{"oncall-pagerduty"}, "pagerduty"},
		{"warning goes to slack", map[string]string{"alertname": "HighCPU", "severity": "warning"}, []string{"team-slack"}, "slack"},
		{"nothing matches: default", map[string]string{"alertname": "Odd", "severity": "page-me-maybe"}, []string{"default-webhook"}, "webhook"},
		{"no labels: default", nil, []string{"default-webhook"}, "webhook"},
		{"continue: two receivers", map[string]string{"severity": "critical", "team": "payments"}, []string{"payments-email", "oncall-pagerduty"}, "email"},
		{"regex matcher: null receiver", map[string]string{"severity": "info", "service": "batch-nightly"}, []string{"blackhole"}, ""},
		{"regex matcher not matched", map[string]string{"severity": "info", "service": "api"}, []string{"default-webhook"}, "webhook"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs, err := probeAlertmanager(context.Background(), Env{Logf: t.Logf}, amSpec(am.URL, tc.labels))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(obs.Receivers, tc.receivers) || obs.Receiver != tc.receivers[0] {
				t.Errorf("receivers %v (receiver %q), want %v", obs.Receivers, obs.Receiver, tc.receivers)
			}
			types := obs.ReceiverTypes[obs.Receiver]
			if tc.wantType == "" && len(types) != 0 || tc.wantType != "" && !slices.Contains(types, tc.wantType) {
				t.Errorf("receiver_types[%s] = %v, want it to hold %q", obs.Receiver, types, tc.wantType)
			}
			if len(obs.Routes) != len(tc.receivers) {
				t.Errorf("routes = %+v", obs.Routes)
			}
			if obs.RoutesCount != 5 || obs.ClusterStatus != "disabled" || obs.Version == "" || obs.Uptime < 0 || obs.StartedAt.IsZero() {
				t.Errorf("routes_count %d, cluster_status %q, version %q, uptime %s", obs.RoutesCount, obs.ClusterStatus, obs.Version, obs.Uptime)
			}
		})
	}

	// The §4.1 checkpoints as a checklist writes them.
	const pages = `"pagerduty" in receiver_types[receiver]`
	const slack = `"slack" in receiver_types[receiver] && !("pagerduty" in receiver_types[receiver])`
	expectations := []struct {
		labels map[string]string
		expr   string
		pass   bool
	}{
		{map[string]string{"severity": "critical"}, pages, true},
		{map[string]string{"severity": "warning"}, pages, false},
		{map[string]string{"severity": "warning"}, slack, true},
		{map[string]string{"severity": "critical"}, slack, false},
		{map[string]string{"severity": "critical", "team": "payments"}, `size(receivers) == 2 && receivers[1] == "oncall-pagerduty" && routes[0].continue`, true},
		{map[string]string{"severity": "none"}, `receiver == "default-webhook" && routes[0].group_wait == duration("10s")`, true},
	}
	k, _ := Default().Lookup("alertmanager")
	for _, e := range expectations {
		t.Run(fmt.Sprintf("expect %s for %v", e.expr, e.labels), func(t *testing.T) {
			prog, err := expect.Compile(e.expr, k.Fields())
			if err != nil {
				t.Fatal(err)
			}
			obs, err := probeAlertmanager(context.Background(), Env{}, amSpec(am.URL, e.labels))
			if err != nil {
				t.Fatal(err)
			}
			if v := prog.Eval(Flatten(obs)); v.Err != nil || v.Pass != e.pass {
				t.Errorf("%s = %t (%v), want %t", e.expr, v.Pass, v.Err, e.pass)
			}
		})
	}

	t.Run("route facts and no secrets", func(t *testing.T) {
		obs, err := probeAlertmanager(context.Background(), Env{}, amSpec(am.URL, map[string]string{"severity": "critical"}))
		if err != nil {
			t.Fatal(err)
		}
		r := obs.Routes[0]
		if !slices.Equal(r.GroupBy, []string{"alertname"}) || r.RepeatInterval != time.Hour || r.GroupWait != 10*time.Second ||
			!slices.Equal(r.Matchers, []string{`severity="critical"`}) || r.Continue {
			t.Errorf("route = %+v", r)
		}
		if got := obs.ReceiverTypes["oncall-pagerduty"]; !slices.Equal(got, []string{"pagerduty", "slack"}) {
			t.Errorf("receiver_types[oncall-pagerduty] = %v, want [pagerduty slack]", got)
		}
		data, _ := json.Marshal(Flatten(obs))
		if strings.Contains(string(data), "pd-routing-key") {
			t.Errorf("observation shows the PagerDuty routing key: %s", data)
		}
	})
}

func TestAlertmanagerProbeErrors(t *testing.T) {
	t.Parallel()
	serve := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v2/status" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	status := func(cfg string) string {
		b, _ := json.Marshal(map[string]any{"cluster": map[string]any{"status": "ready"}, "config": map[string]string{"original": cfg}})
		return string(b)
	}
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{"nothing listening", "", "refused"},
		{"not found", serve(http.StatusNotFound, "no"), "404"},
		{"unauthorized", serve(http.StatusUnauthorized, ""), "401"},
		{"not json", serve(http.StatusOK, "<html>"), "not an Alertmanager status"},
		{"no config", serve(http.StatusOK, `{"cluster":{"status":"ready"}}`), "no config.original"},
		{"bad config", serve(http.StatusOK, status("route:\n  receiver: nowhere\nreceivers: []\n")), "parse its configuration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.url == "" {
				tc.url = "http://" + refusedAddr(t)
			}
			_, err := probeAlertmanager(context.Background(), Env{}, amSpec(tc.url, map[string]string{"severity": "critical"}))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestAlertmanagerSpecYAML(t *testing.T) {
	src := `
url: https://alertmanager.example:9093
bearer_token: tok
ca_file: /etc/prf/ca.pem
server_name: alertmanager.internal
labels: {severity: critical, team: payments}
timeout: 5s
`
	var s AlertmanagerSpec
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	if s.URL != "https://alertmanager.example:9093" || s.BearerToken != "tok" || s.CAFile != "/etc/prf/ca.pem" || s.ServerName != "alertmanager.internal" ||
		s.Labels["severity"] != "critical" || s.Labels["team"] != "payments" || s.Timeout != 5*time.Second {
		t.Errorf("decoded %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}

func TestAlertmanagerValidate(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*AlertmanagerSpec)
		field string
	}{
		{"ok", nil, ""},
		{"no url", func(s *AlertmanagerSpec) { s.URL = "" }, "url"},
		{"relative url", func(s *AlertmanagerSpec) { s.URL = "/api" }, "url"},
		{"url with query", func(s *AlertmanagerSpec) { s.URL = "http://am:9093/?x=1" }, "url"},
		{"bad label name", func(s *AlertmanagerSpec) { s.Labels = map[string]string{"": "x"} }, "labels"},
		{"reserved label name", func(s *AlertmanagerSpec) { s.Labels = map[string]string{"__name__": "x"} }, "labels"},
		{"token with newline", func(s *AlertmanagerSpec) { s.BearerToken = "a\nb" }, "bearer_token"},
		{"negative timeout", func(s *AlertmanagerSpec) { s.Timeout = -1 }, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := amSpec("http://127.0.0.1:9093", map[string]string{"severity": "critical"})
			if tc.mod != nil {
				tc.mod(s)
			}
			checkFieldError(t, s.Validate(), tc.field)
		})
	}
}
