package catalog

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/demo"
	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/testenv"
)

// The observability checkpoints (§3.1 targets and §3.2 thresholds read from
// Prometheus, §4.1 alert rules and routing, the alerting pipeline, §6.1's
// monitoring rows, §7.1's metrics row and §8.1's Prometheus triggers) run
// against a real Prometheus and real Alertmanagers (the Debian binaries)
// that carry the reference system's monitoring configuration
// (demo.PrometheusRules, demo.AlertmanagerConfig). The application metrics
// come from the demo target itself, under load; what a demo target cannot
// export (cAdvisor's container_*, node_exporter's disks, blackbox_exporter's
// ICMP round trips, the image scanner's findings) comes from exporters whose
// gauges the test sets, standing in for those exporters.

// obsPromIDs are the observability checkpoints read from Prometheus.
var obsPromIDs = []string{
	"perf.targets.api-response-time",
	"perf.targets.ai-inference",
	"perf.targets.memory",
	"perf.targets.cpu",
	"perf.targets.disk-io",
	"perf.targets.network-latency",
	"perf.load.duration-threshold",
	"perf.load.failed-rate-threshold",
	"perf.load.error-rate-threshold",
	"ops.app.response-time-alert",
	"ops.app.error-rate-alert",
	"ops.app.throughput-alert",
	"ops.infra.cpu-alert",
	"ops.infra.memory-alert",
	"ops.infra.disk-alert",
	"ops.db.connections-alert",
	"ops.db.query-performance-alert",
	"ops.db.replication-lag-alert",
	"ops.chain.block-time-alert",
	"ops.chain.validator-alert",
	"ops.chain.hash-rate-alert",
	"ops.security.failed-logins-alert",
	"ops.security.suspicious-activity-alert",
	"ops.alerting.rules-evaluate",
	"ops.alerting.prometheus-to-alertmanager",
	"ops.alerting.watchdog-rule",
	"ops.alerting.notifications-delivered",
	"final.infra.no-critical-alerts",
	"final.infra.monitoring-configured",
	"final.infra.alert-rules-loaded",
	"post.health.metrics",
	"rollback.security.critical-vulnerability",
	"rollback.performance.degradation",
	"rollback.errors.rate",
}

// obsAlertmanagerIDs are the observability checkpoints read from
// Alertmanager.
var obsAlertmanagerIDs = []string{
	"ops.app.response-time-routing",
	"ops.app.error-rate-routing",
	"ops.app.throughput-routing",
	"ops.infra.cpu-routing",
	"ops.infra.memory-routing",
	"ops.infra.disk-routing",
	"ops.db.connections-routing",
	"ops.db.query-performance-routing",
	"ops.db.replication-lag-routing",
	"ops.chain.block-time-routing",
	"ops.chain.validator-routing",
	"ops.chain.hash-rate-routing",
	"ops.security.failed-logins-routing",
	"ops.security.suspicious-activity-routing",
	"ops.alerting.watchdog-routing",
	"ops.alerting.alertmanager-ha",
}

// obsPerfWindow is the §3.1 window: the stacks live for seconds.
const obsPerfWindow = "30s"

// obsRequestTimeout bounds each request of the test's own polls of
// Prometheus and Alertmanager.
const obsRequestTimeout = 3 * time.Second

// The §3.1 CPU and disk queries rate counters over 5s instead of 5m: the
// stacks' series are seconds old, and rate() over a window longer than a
// series' life divides its increase by the whole window (an idle-looking
// 1/30 of the truth after 10s). A team with a short-lived environment sets
// the same variables.
const (
	obsCPUQuery = `max(sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!=""}[5s]))
  / sum by (namespace, pod, container) ((container_spec_cpu_quota{container!=""} > 0) / container_spec_cpu_period{container!=""}))`
	obsDiskIOQuery = `max(rate(node_disk_io_time_seconds_total[5s]))`
	// obsCountersSettled holds once both counters have more than 6s of
	// samples, so that their 5s rates are whole.
	obsCountersSettled = `count_over_time(container_cpu_usage_seconds_total[10s]) >= 7 and on () count_over_time(node_disk_io_time_seconds_total[10s]) >= 7`
)

// TestObservabilityReference runs the reference system as a team would
// deploy it: the demo target under load, Prometheus with the reference
// rules scraping it, the infrastructure exporters, itself and a clustered
// pair of Alertmanagers with the reference routing, whose notifications
// reach a (local) PagerDuty, Slack and dead man's switch. Every
// observability checkpoint passes. Then a critical vulnerability shows up
// in a running image while the chat and paging webhooks reject
// Alertmanager: the P0 rollback trigger is met, a critical alert fires and
// notifications fail.
func TestObservabilityReference(t *testing.T) {
	t.Parallel()
	st := obsStartStack(t, obsStackOptions{
		rules:     demo.PrometheusRules(),
		amConfig:  demo.AlertmanagerConfig,
		clustered: true,
		alerting:  true,
		infra:     obsHealthyInfra,
		load:      50 * time.Millisecond,
	})
	st.waitFor(t,
		`sum(rate(http_request_duration_seconds_count[5m])) > 0`,
		`sum(rate(request_predict_seconds_count[5m])) > 0`,
		obsCountersSettled,
		`max(probe_icmp_duration_seconds) > 0`,
		`max(prometheus_notifications_alertmanagers_discovered) >= 1`,
		`sum(increase(alertmanager_notifications_failed_total[1h])) >= 0`,
		`sum(increase(prometheus_rule_evaluation_failures_total[1h])) >= 0`,
		`sum(rate(prometheus_tsdb_head_samples_appended_total[2m])) > 0`,
		`ALERTS{alertname="Watchdog",alertstate="firing"}`,
	)
	st.waitRulesEvaluated(t)
	st.waitCluster(t, 2)
	st.waitHeartbeat(t)

	all := append(append([]string{}, obsPromIDs...), obsAlertmanagerIDs...)
	expectAll(t, runCatalog(t, st.system(), all...), store.StatusPass, all...)
	if t.Failed() {
		st.dumpLogs(t)
		return
	}

	// The image scanner reports a critical vulnerability in a running
	// image, and PagerDuty and Slack answer 403 (a revoked key, a deleted
	// webhook): the security alert fires and its notifications fail.
	st.sink.broken.Store(true)
	st.infra.trivy.Set("trivy_image_vulnerabilities", 3)
	st.waitFor(t,
		`ALERTS{alertname="CriticalSecurityVulnerability",alertstate="firing",severity="critical"}`,
		`sum(increase(alertmanager_notifications_failed_total[1h])) > 0`,
	)
	expectStatus(t, runCatalog(t, st.system(),
		"rollback.security.critical-vulnerability",
		"final.infra.no-critical-alerts",
		"ops.alerting.notifications-delivered",
	), map[string]store.Status{
		"rollback.security.critical-vulnerability": store.StatusFail,
		"final.infra.no-critical-alerts":           store.StatusFail,
		"ops.alerting.notifications-delivered":     store.StatusWarn, // warning severity
	})
	if t.Failed() {
		st.dumpLogs(t)
	}
}

// TestObservabilityBroken runs a broken deployment of the same system: the
// gateway is slow and failing (slow-health, health-down), the model is slow
// (ai-slow), the containers, disk and network are over their targets, the
// image scanner reports a critical vulnerability, a scrape target is down,
// the rules were edited badly (thresholds, severities and `for:` changed,
// rules deleted, one rule's join errs), Prometheus sends its alerts to no
// Alertmanager, and the lone Alertmanager's routing swaps critical and
// warning, has no security team and silences the Watchdog. Every
// observability checkpoint fails; post.health.metrics fails once
// Prometheus is stopped.
func TestObservabilityBroken(t *testing.T) {
	t.Parallel()
	st := obsStartStack(t, obsStackOptions{
		faults:     []string{demo.FaultSlowHealth, demo.FaultHealthDown, demo.FaultAISlow},
		rules:      obsBreakRules(t, demo.PrometheusRules()),
		amConfig:   obsBrokenAlertmanagerConfig,
		infra:      obsBrokenInfra,
		load:       100 * time.Millisecond,
		deadTarget: true,
	})
	st.waitFor(t,
		`sum(rate(http_requests_total{code=~"5.."}[5m])) > 0`,
		`sum(rate(request_predict_seconds_count[5m])) > 0`,
		obsCountersSettled,
		`max(probe_icmp_duration_seconds) > 0`,
		`sum(increase(prometheus_rule_evaluation_failures_total[1h])) > 0`,
		`ALERTS{alertname="CriticalSecurityVulnerability",alertstate="firing"}`,
		`up{job="postgres"} == 0`,
	)
	st.waitRulesEvaluated(t)

	var ids []string
	for _, id := range append(append([]string{}, obsPromIDs...), obsAlertmanagerIDs...) {
		switch id {
		case "post.health.metrics", // Prometheus works: checked stopped below
			"ops.alerting.notifications-delivered": // no Alertmanager gets alerts: see TestObservabilityReference
			continue
		}
		ids = append(ids, id)
	}
	res := runCatalog(t, st.system(), ids...)
	want := map[string]store.Status{}
	for _, id := range ids {
		want[id] = store.StatusFail
	}
	want["ops.alerting.alertmanager-ha"] = store.StatusWarn // warning severity
	expectStatus(t, res, want)

	// Prometheus stopped: no metrics are collected, and the check says so.
	st.prom.Stop()
	expectStatus(t, runCatalog(t, st.system(), "post.health.metrics"),
		map[string]store.Status{"post.health.metrics": store.StatusError})
	if t.Failed() {
		st.dumpLogs(t)
	}
}

// obsBrokenAlertmanagerConfig is a routing tree gone wrong: critical and
// warning receivers swapped, no route to the security team, and the
// Watchdog sent to a null receiver (kube-prometheus's default).
func obsBrokenAlertmanagerConfig(base string) string {
	return strings.ReplaceAll(`route:
  receiver: "null"
  group_by: [namespace]
  routes:
    - receiver: "null"
      matchers: ['alertname="Watchdog"']
    - receiver: team-slack
      matchers: ['severity="critical"']
    - receiver: oncall
      matchers: ['severity="warning"']
receivers:
  - name: "null"
  - name: team-slack
    slack_configs:
      - api_url: BASE/slack/alerts
        channel: '#alerts'
  - name: oncall
    pagerduty_configs:
      - routing_key: broken-routing-key
        url: BASE/pagerduty/v2/enqueue
    slack_configs:
      - api_url: BASE/slack/oncall
        channel: '#oncall'
`, "BASE", base)
}

// obsBreakRules edits the reference rules the way rule files go wrong:
// every §4.1 rule, the Watchdog and the target-down rules get one fault;
// the security vulnerability rule stays (it fires: see obsBrokenInfra).
func obsBreakRules(t *testing.T, rules string) string {
	t.Helper()
	type rule = map[string]any
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(rules), &doc); err != nil {
		t.Fatalf("reference rules: %v", err)
	}
	replace := func(old, new string) func(r rule) {
		return func(r rule) {
			expr, _ := r["expr"].(string)
			if !strings.Contains(expr, old) {
				t.Fatalf("rule %v: %q not in its expression %q", r["alert"], old, expr)
			}
			r["expr"] = strings.Replace(expr, old, new, 1)
		}
	}
	severity := func(s string) func(r rule) {
		return func(r rule) { r["labels"].(map[string]any)["severity"] = s }
	}
	wait := func(d string) func(r rule) { return func(r rule) { r["for"] = d } }
	const drop = "drop"
	breakage := map[string]any{
		"HighResponseTime": replace("> 0.5", "> 2"),
		// A join that errs: many series on the right for one match group.
		"HighErrorRate": func(r rule) {
			r["expr"] = `sum by (route) (rate(http_requests_total{code=~"5.."}[5m])) / on () sum by (route) (rate(http_requests_total[5m])) > 0.01`
		},
		"LowThroughput":                 wait("30m"),
		"HighCPUUsage":                  drop,
		"HighMemoryUsage":               replace("> 0.85", "> 0.95"),
		"HighDiskUsage":                 severity("warning"),
		"TargetDown":                    drop,
		"DatabaseConnectionsHigh":       drop,
		"SlowQueries":                   wait("1h"),
		"ReplicationLag":                replace("> 10", "> 60"),
		"SlowBlockTime":                 severity("info"),
		"ValidatorDown":                 drop,
		"LowHashRate":                   replace("< 0.5", "< 0.1"),
		"FailedLoginsHigh":              severity("warning"),
		"SuspiciousActivity":            wait("15m"),
		"Watchdog":                      drop,
		"CriticalSecurityVulnerability": nil,
	}
	seen := 0
	for gi := range doc.Groups {
		kept := doc.Groups[gi].Rules[:0]
		for _, r := range doc.Groups[gi].Rules {
			name, _ := r["alert"].(string)
			b, ok := breakage[name]
			if !ok {
				t.Fatalf("reference rule %q has no breakage here: add one", name)
			}
			seen++
			switch b := b.(type) {
			case string: // drop
				continue
			case func(rule):
				b(r)
			}
			kept = append(kept, r)
		}
		doc.Groups[gi].Rules = kept
	}
	if seen != len(breakage) {
		t.Fatalf("%d reference rules, %d breakages: a rule is missing", seen, len(breakage))
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// obsInfraValues are what the stand-in exporters report.
type obsInfraValues struct {
	memoryBytes, memoryLimit float64 // cAdvisor working set and limit
	cpuPerSecond             float64 // CPU seconds used per second
	cpuQuota, cpuPeriod      float64 // the container's CPU limit
	diskBusyPerSecond        float64 // node_disk_io_time_seconds_total per second
	icmpRTT                  float64 // blackbox ICMP round trip, seconds
	criticalVulns            float64 // trivy-operator's critical findings
}

var (
	// Well inside §3.1: memory 29%, CPU 20%, disk 20% busy, 1.5ms RTT.
	obsHealthyInfra = obsInfraValues{
		memoryBytes: 300 << 20, memoryLimit: 1 << 30,
		cpuPerSecond: 0.1, cpuQuota: 50000, cpuPeriod: 100000,
		diskBusyPerSecond: 0.2, icmpRTT: 0.0015,
	}
	// Over §3.1: memory 93%, CPU 90%, disk 95% busy, 40ms RTT; and a
	// critical vulnerability in a running image.
	obsBrokenInfra = obsInfraValues{
		memoryBytes: 950 << 20, memoryLimit: 1 << 30,
		cpuPerSecond: 0.45, cpuQuota: 50000, cpuPeriod: 100000,
		diskBusyPerSecond: 0.95, icmpRTT: 0.04,
		criticalVulns: 3,
	}
)

// obsInfra are the exporters that stand in for cAdvisor, node_exporter,
// blackbox_exporter and trivy-operator. Each is scraped as its own job with
// the target labels the real exporter's series carry.
type obsInfra struct {
	cadvisor, node, blackbox, trivy *testenv.Exporter
}

func obsStartInfra(t *testing.T, v obsInfraValues) *obsInfra {
	in := &obsInfra{
		cadvisor: testenv.StartExporter(t),
		node:     testenv.StartExporter(t),
		blackbox: testenv.StartExporter(t),
		trivy:    testenv.StartExporter(t),
	}
	in.cadvisor.Set("container_memory_working_set_bytes", v.memoryBytes)
	in.cadvisor.Set("container_spec_memory_limit_bytes", v.memoryLimit)
	in.cadvisor.Set("container_spec_cpu_quota", v.cpuQuota)
	in.cadvisor.Set("container_spec_cpu_period", v.cpuPeriod)
	in.cadvisor.Set("container_cpu_usage_seconds_total", 1000)
	in.node.Set("node_disk_io_time_seconds_total", 5000)
	in.blackbox.Set("probe_icmp_duration_seconds", v.icmpRTT)
	in.trivy.Set("trivy_image_vulnerabilities", v.criticalVulns)

	// The two counters advance at their rates, as the kernel's would.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		const tick = 100 * time.Millisecond
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				in.cadvisor.Gauge("container_cpu_usage_seconds_total").Add(v.cpuPerSecond * tick.Seconds())
				in.node.Gauge("node_disk_io_time_seconds_total").Add(v.diskBusyPerSecond * tick.Seconds())
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return in
}

// obsSink stands in for PagerDuty, Slack and the dead man's switch
// service: it answers like them, or 403 once broken.
type obsSink struct {
	URL        string
	broken     atomic.Bool
	received   atomic.Int64
	rejected   atomic.Int64
	heartbeats atomic.Int64
}

func obsStartSink(t *testing.T) *obsSink {
	s := &obsSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		if s.broken.Load() {
			s.rejected.Add(1)
			http.Error(w, "invalid_token", http.StatusForbidden)
			return
		}
		s.received.Add(1)
		switch {
		case r.URL.Path == "/heartbeat":
			s.heartbeats.Add(1)
		case strings.HasPrefix(r.URL.Path, "/pagerduty/"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"status":"success","message":"Event processed"}`)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

type obsStackOptions struct {
	faults     []string            // demo target faults
	rules      string              // Prometheus rule file
	amConfig   func(string) string // alertmanager.yml from the sink's base URL
	clustered  bool                // two Alertmanagers in a cluster, else one alone
	alerting   bool                // Prometheus sends alerts to the Alertmanager(s)
	infra      obsInfraValues
	load       time.Duration // one /health and one /ai/predict request this often
	deadTarget bool          // a scrape target that is down (a stopped postgres_exporter)
}

type obsStack struct {
	tgt   *demo.Target
	infra *obsInfra
	sink  *obsSink
	ams   []*testenv.Alertmanager
	prom  *testenv.Prometheus
}

func obsStartStack(t *testing.T, o obsStackOptions) *obsStack {
	t.Helper()
	st := &obsStack{sink: obsStartSink(t), infra: obsStartInfra(t, o.infra)}

	tgt, err := demo.NewTarget(demo.Options{Faults: o.faults})
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tgt.Close() })
	st.tgt = tgt
	caFile := filepath.Join(t.TempDir(), "demo-ca.pem")
	if err := os.WriteFile(caFile, tgt.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}

	amCfg := o.amConfig(st.sink.URL)
	if o.clustered {
		st.ams = testenv.StartAlertmanagerCluster(t, amCfg, 2)
	} else {
		st.ams = []*testenv.Alertmanager{testenv.StartAlertmanager(t, amCfg)}
	}

	// Prometheus scrapes itself and the jobs every second, evaluates the
	// rules every second and sends alerts to the Alertmanagers.
	u, _ := url.Parse(tgt.URL())
	po := testenv.PromOptions{Rules: o.rules, ScrapeSelf: true, Jobs: []testenv.ScrapeJob{
		{Name: "api", Scheme: "https", CAFile: caFile, Targets: []string{u.Host}},
		{Name: "cadvisor", Targets: []string{st.infra.cadvisor.Addr},
			Labels: map[string]string{"namespace": "prf", "pod": "api-0", "container": "api"}},
		{Name: "node", Targets: []string{st.infra.node.Addr}, Labels: map[string]string{"device": "nvme0n1"}},
		{Name: "blackbox", Targets: []string{st.infra.blackbox.Addr}, Labels: map[string]string{"phase": "rtt"}},
		{Name: "trivy", Targets: []string{st.infra.trivy.Addr}, Labels: map[string]string{"severity": "Critical"}},
	},
		// Resend firing alerts every second (default 1m): alerts fired
		// before the Alertmanagers are discovered (5s after start) are
		// dropped until the next resend.
		Flags: []string{"--rules.alert.resend-delay=1s"},
	}
	var amAddrs []string
	for _, am := range st.ams {
		amAddrs = append(amAddrs, am.Addr)
	}
	if o.alerting {
		po.Alertmanagers = amAddrs
		po.Jobs = append(po.Jobs, testenv.ScrapeJob{Name: "alertmanager", Targets: amAddrs})
	}
	if o.deadTarget {
		po.Jobs = append(po.Jobs, testenv.ScrapeJob{Name: "postgres", Targets: []string{testenv.Addr(testenv.FreePort(t))}})
	}
	st.prom = testenv.StartPrometheus(t, po)

	st.startLoad(t, o.load)
	return st
}

// system is how the catalogue reaches this stack.
func (st *obsStack) system() system {
	return system{Vars: map[string]string{
		"prometheus_url":   st.prom.URL,
		"alertmanager_url": st.ams[0].URL,
		"perf_window":      obsPerfWindow,
		"cpu_query":        obsCPUQuery,
		"disk_io_query":    obsDiskIOQuery,
	}}
}

// startLoad sends /health and /ai/predict requests, like users, until the
// test ends: the application's metrics come from real requests.
func (st *obsStack) startLoad(t *testing.T, every time.Duration) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(st.tgt.CACertPEM())
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64},
		Timeout:   10 * time.Second,
	}
	base := st.tgt.URL()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	do := func(method, path, body string) {
		defer wg.Done()
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			return
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(every)
		defer tk.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			wg.Add(2)
			go do(http.MethodGet, "/health", "")
			go do(http.MethodPost, "/ai/predict", fmt.Sprintf(`{"input":"transaction %d"}`, n))
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		client.CloseIdleConnections()
	})
}

// waitFor waits until each PromQL expression returns at least one series.
func (st *obsStack) waitFor(t *testing.T, exprs ...string) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for _, q := range exprs {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), obsRequestTimeout)
			n, err := st.prom.Series(ctx, q)
			cancel()
			if err == nil && n > 0 {
				break
			}
			if time.Now().After(deadline) {
				st.dumpLogs(t)
				t.Fatalf("prometheus: %s: still %d series (%v)", q, n, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// waitRulesEvaluated waits until every loaded rule has been evaluated once
// (its health is no longer "unknown").
func (st *obsStack) waitRulesEvaluated(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var res struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name   string `json:"name"`
						Health string `json:"health"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), obsRequestTimeout)
		err := st.prom.GetJSON(ctx, "/api/v1/rules", &res)
		cancel()
		var pending []string
		for _, g := range res.Data.Groups {
			for _, r := range g.Rules {
				if r.Health == "unknown" || r.Health == "" {
					pending = append(pending, r.Name)
				}
			}
		}
		if err == nil && len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules not evaluated yet: %v (%v)", pending, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitCluster waits until every Alertmanager reports its cluster ready with
// n members.
func (st *obsStack) waitCluster(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, am := range st.ams {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), obsRequestTimeout)
			status, peers, err := am.Cluster(ctx)
			cancel()
			if err == nil && status == "ready" && peers >= n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("alertmanager %s: cluster %q with %d peers (%v), want ready with %d; its log:\n%s", am.Addr, status, peers, err, n, am.Log())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// waitHeartbeat waits until the Watchdog's notification reached the dead
// man's switch: the pipeline from rule to receiver works.
func (st *obsStack) waitHeartbeat(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for st.sink.heartbeats.Load() == 0 {
		if time.Now().After(deadline) {
			st.dumpLogs(t)
			t.Fatal("no Watchdog notification reached the dead man's switch")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (st *obsStack) dumpLogs(t *testing.T) {
	t.Helper()
	t.Logf("prometheus log:\n%s", st.prom.Log())
	for _, am := range st.ams {
		t.Logf("alertmanager %s log:\n%s", am.Addr, am.Log())
	}
	t.Logf("webhook sink: %d notifications received, %d rejected", st.sink.received.Load(), st.sink.rejected.Load())
}
