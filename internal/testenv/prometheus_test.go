package testenv

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPrometheusAlertmanagerCluster starts two gossiping Alertmanagers and a
// Prometheus that scrapes itself and them, with target labels, alerting
// and an extra flag, and checks that each of those took.
func TestPrometheusAlertmanagerCluster(t *testing.T) {
	t.Parallel()
	ams := StartAlertmanagerCluster(t, "route:\n  receiver: none\nreceivers:\n  - name: none\n", 2)
	addrs := []string{ams[0].Addr, ams[1].Addr}
	prom := StartPrometheus(t, PromOptions{
		ScrapeSelf:    true,
		Jobs:          []ScrapeJob{{Name: "am", Targets: addrs, Labels: map[string]string{"team": "x", "env": "test"}}},
		Alertmanagers: addrs,
		Flags:         []string{"--rules.alert.resend-delay=1s"},
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for q, want := range map[string]int{
		`up{job="prometheus"}`:             1,
		`up{job="am",team="x",env="test"}`: 2,
	} {
		if n, err := prom.Series(ctx, q); err != nil || n != want {
			t.Errorf("%s: %d series (%v), want %d", q, n, err, want)
		}
	}
	var flags struct {
		Data map[string]string `json:"data"`
	}
	if err := prom.GetJSON(ctx, "/api/v1/status/flags", &flags); err != nil {
		t.Fatal(err)
	}
	if got := flags.Data["rules.alert.resend-delay"]; got != "1s" {
		t.Errorf("rules.alert.resend-delay = %q, want 1s", got)
	}
	var cfg struct {
		Data struct {
			YAML string `json:"yaml"`
		} `json:"data"`
	}
	if err := prom.GetJSON(ctx, "/api/v1/status/config", &cfg); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if !containsLine(cfg.Data.YAML, "- "+a) {
			t.Errorf("loaded config names no alertmanager %s:\n%s", a, cfg.Data.YAML)
		}
	}

	for _, am := range ams {
		for {
			status, members, err := am.Cluster(ctx)
			if err == nil && status == "ready" && members == 2 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("alertmanager %s: cluster %q with %d members (%v), want ready with 2; its log:\n%s", am.Addr, status, members, err, am.Log())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	single := StartAlertmanager(t, "route:\n  receiver: none\nreceivers:\n  - name: none\n")
	if status, members, err := single.Cluster(ctx); err != nil || status != "disabled" || members != 0 {
		t.Errorf("lone alertmanager: cluster %q with %d members (%v), want disabled with 0", status, members, err)
	}
}

// containsLine reports whether a line of s, trimmed, is line.
func containsLine(s, line string) bool {
	for l := range strings.Lines(s) {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}
