package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	prometheusInstall   = "apt-get install -y prometheus"
	alertmanagerInstall = "apt-get install -y prometheus-alertmanager"

	// PromJob is the job name of PromOptions.ScrapeTargets.
	PromJob = "prf-test"
)

// PromOptions configure StartPrometheus.
type PromOptions struct {
	// Rules is the content of one rule file (Prometheus rule YAML), loaded
	// via rule_files; empty for none.
	Rules string
	// ScrapeTargets are host:port targets scraped every second under job
	// PromJob.
	ScrapeTargets []string
	// Jobs are more scrape jobs, each scraped every second under its own
	// name.
	Jobs []ScrapeJob
	// ScrapeSelf adds a job "prometheus" that scrapes Prometheus itself.
	ScrapeSelf bool
	// Alertmanagers are host:port Alertmanagers that Prometheus sends its
	// alerts to; none: alerts go nowhere.
	Alertmanagers []string
	// Flags are more command-line flags (e.g. "--rules.alert.resend-delay=1s").
	Flags []string
}

// ScrapeJob is one scrape job of PromOptions.Jobs.
type ScrapeJob struct {
	Name    string
	Scheme  string // default http
	CAFile  string // CA of an https target
	Targets []string
	Labels  map[string]string // target labels
}

// Prometheus is a Prometheus server started for a test.
type Prometheus struct {
	*Process
	URL  string // http://127.0.0.1:PORT
	Addr string
}

// StartPrometheus starts Prometheus on a free loopback port with a 1s scrape
// and evaluation interval, and waits until every scrape target (of every
// job) has an `up` sample and the rules are loaded: /-/ready alone comes ~6s
// before the first scrape is queryable.
func StartPrometheus(t testing.TB, opts PromOptions) *Prometheus {
	t.Helper()
	bin := Require(t, "prometheus", prometheusInstall, "/usr/bin", "/usr/local/bin")
	dir := t.TempDir()
	addr := Addr(FreePort(t))
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	if opts.Rules != "" {
		if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(opts.Rules), 0o600); err != nil {
			t.Fatalf("testenv: prometheus rules: %v", err)
		}
		cfg.WriteString("rule_files:\n  - rules.yml\n")
	}
	if len(opts.Alertmanagers) > 0 {
		cfg.WriteString("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets:\n")
		for _, a := range opts.Alertmanagers {
			fmt.Fprintf(&cfg, "            - %q\n", a)
		}
	}
	var jobs []ScrapeJob
	if opts.ScrapeSelf {
		jobs = append(jobs, ScrapeJob{Name: "prometheus", Targets: []string{addr}})
	}
	if len(opts.ScrapeTargets) > 0 {
		jobs = append(jobs, ScrapeJob{Name: PromJob, Targets: opts.ScrapeTargets})
	}
	jobs = append(jobs, opts.Jobs...)
	cfg.WriteString("scrape_configs:\n")
	targets := 0
	for _, j := range jobs {
		fmt.Fprintf(&cfg, "  - job_name: %q\n", j.Name)
		if j.Scheme != "" {
			fmt.Fprintf(&cfg, "    scheme: %s\n", j.Scheme)
		}
		if j.CAFile != "" {
			fmt.Fprintf(&cfg, "    tls_config:\n      ca_file: %q\n", j.CAFile)
		}
		cfg.WriteString("    static_configs:\n      - targets:\n")
		for _, tg := range j.Targets {
			fmt.Fprintf(&cfg, "          - %q\n", tg)
			targets++
		}
		if len(j.Labels) > 0 {
			cfg.WriteString("        labels:\n")
			for _, k := range slices.Sorted(maps.Keys(j.Labels)) {
				fmt.Fprintf(&cfg, "          %s: %q\n", k, j.Labels[k])
			}
		}
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatalf("testenv: prometheus config: %v", err)
	}
	argv := []string{bin,
		"--config.file=" + cfgPath,
		"--web.listen-address=" + addr,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=1h",
		"--log.level=warn",
		"--web.console.templates=" + dir, // the packaged defaults may be missing
		"--web.console.libraries=" + dir,
	}
	argv = append(argv, opts.Flags...)
	p := Start(t, "prometheus", argv, Options{Dir: dir})
	pr := &Prometheus{Process: p, URL: "http://" + addr, Addr: addr}
	p.WaitReady(t, 45*time.Second, func(ctx context.Context) error {
		if err := getJSON(ctx, pr.URL+"/-/ready", nil); err != nil {
			return err
		}
		if targets > 0 {
			n, err := pr.Series(ctx, "up")
			if err != nil {
				return err
			}
			if n < targets {
				return fmt.Errorf("%d of %d targets scraped so far", n, targets)
			}
		}
		if opts.Rules != "" {
			var res struct {
				Data struct {
					Groups []json.RawMessage `json:"groups"`
				} `json:"data"`
			}
			if err := pr.GetJSON(ctx, "/api/v1/rules", &res); err != nil {
				return err
			}
			if len(res.Data.Groups) == 0 {
				return fmt.Errorf("no rule groups loaded yet")
			}
		}
		return nil
	})
	return pr
}

// GetJSON GETs path (e.g. "/api/v1/rules") from Prometheus's HTTP API and
// decodes the JSON answer into v.
func (p *Prometheus) GetJSON(ctx context.Context, path string, v any) error {
	return getJSON(ctx, p.URL+path, v)
}

// Series runs an instant query and returns the number of series it
// returned.
func (p *Prometheus) Series(ctx context.Context, query string) (int, error) {
	var res struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := p.GetJSON(ctx, "/api/v1/query?"+url.Values{"query": {query}}.Encode(), &res); err != nil {
		return 0, err
	}
	return len(res.Data.Result), nil
}

// Exporter is a /metrics endpoint for Prometheus to scrape, with gauges the
// test sets.
type Exporter struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT, a scrape target
	reg  *prometheus.Registry

	mu     sync.Mutex
	gauges map[string]prometheus.Gauge
}

// StartExporter serves a fresh registry over httptest until the test ends.
func StartExporter(t testing.TB) *Exporter {
	t.Helper()
	e := &Exporter{reg: prometheus.NewRegistry(), gauges: map[string]prometheus.Gauge{}}
	srv := httptest.NewServer(promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	e.Addr = strings.TrimPrefix(srv.URL, "http://")
	return e
}

// Gauge returns the gauge of that name, registering it on first use.
func (e *Exporter) Gauge(name string) prometheus.Gauge {
	e.mu.Lock()
	defer e.mu.Unlock()
	g, ok := e.gauges[name]
	if !ok {
		g = prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: name + " (test gauge)"})
		e.reg.MustRegister(g)
		e.gauges[name] = g
	}
	return g
}

// Set sets the named gauge.
func (e *Exporter) Set(name string, v float64) { e.Gauge(name).Set(v) }

// Alertmanager is an Alertmanager started for a test.
type Alertmanager struct {
	*Process
	URL  string // http://127.0.0.1:PORT
	Addr string
}

// StartAlertmanager starts Alertmanager with the given alertmanager.yml
// content on a free loopback port, clustering off, and waits for /-/ready.
func StartAlertmanager(t testing.TB, configYAML string) *Alertmanager {
	t.Helper()
	return startAlertmanager(t, configYAML, "", nil)
}

// StartAlertmanagerCluster starts n Alertmanagers with the same
// alertmanager.yml content, gossiping with each other on loopback, and
// waits until each serves /-/ready (not until the cluster has settled: see
// Alertmanager.Cluster). They gossip fast, so that the cluster settles in
// seconds (it checks its membership every 10 gossip intervals).
func StartAlertmanagerCluster(t testing.TB, configYAML string, n int) []*Alertmanager {
	t.Helper()
	gossip := make([]string, n)
	for i := range gossip {
		gossip[i] = Addr(FreePort(t))
	}
	ams := make([]*Alertmanager, n)
	for i := range ams {
		var peers []string
		for j, g := range gossip {
			if j != i {
				peers = append(peers, g)
			}
		}
		ams[i] = startAlertmanager(t, configYAML, gossip[i], peers)
	}
	return ams
}

// startAlertmanager starts one Alertmanager gossiping on clusterAddr with
// peers; clusterAddr "" turns clustering off.
func startAlertmanager(t testing.TB, configYAML, clusterAddr string, peers []string) *Alertmanager {
	t.Helper()
	// Debian names it prometheus-alertmanager; upstream's release, alertmanager.
	bin, err := exec.LookPath("alertmanager")
	if err != nil {
		bin = Require(t, "prometheus-alertmanager", alertmanagerInstall, "/usr/bin", "/usr/local/bin")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o600); err != nil {
		t.Fatalf("testenv: alertmanager config: %v", err)
	}
	addr := Addr(FreePort(t))
	argv := []string{bin,
		"--config.file=" + cfgPath,
		"--web.listen-address=" + addr,
		"--cluster.listen-address=" + clusterAddr,
		"--storage.path=" + filepath.Join(dir, "data"),
		"--log.level=warn",
	}
	if clusterAddr != "" {
		argv = append(argv, "--cluster.gossip-interval=100ms", "--cluster.pushpull-interval=2s", "--cluster.peer-timeout=2s")
		for _, p := range peers {
			argv = append(argv, "--cluster.peer="+p)
		}
	}
	p := Start(t, "alertmanager", argv, Options{Dir: dir})
	am := &Alertmanager{Process: p, URL: "http://" + addr, Addr: addr}
	p.WaitReady(t, 20*time.Second, func(ctx context.Context) error { return getJSON(ctx, am.URL+"/-/ready", nil) })
	return am
}

// Cluster returns the cluster status ("ready", "settling", "disabled") and
// member count from /api/v2/status.
func (am *Alertmanager) Cluster(ctx context.Context) (status string, members int, err error) {
	var st struct {
		Cluster struct {
			Status string            `json:"status"`
			Peers  []json.RawMessage `json:"peers"`
		} `json:"cluster"`
	}
	if err := getJSON(ctx, am.URL+"/api/v2/status", &st); err != nil {
		return "", 0, err
	}
	return st.Cluster.Status, len(st.Cluster.Peers), nil
}

// getJSON GETs u and decodes its JSON answer into v; with v nil it only
// checks that the answer is 200 OK.
func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strconv.Quote(string(bytes.TrimSpace(body))))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(body, v)
}
