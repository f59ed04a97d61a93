package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
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
	// PromJob. StartPrometheus returns once each has been scraped once (up
	// or down).
	ScrapeTargets []string
}

// Prometheus is a Prometheus server started for a test.
type Prometheus struct {
	*Process
	URL  string // http://127.0.0.1:PORT
	Addr string
}

// StartPrometheus starts Prometheus on a free loopback port with a 1s scrape
// and evaluation interval, and waits until every scrape target has an `up`
// sample and the rules are loaded: /-/ready alone comes ~6s before the
// first scrape is queryable.
func StartPrometheus(t testing.TB, opts PromOptions) *Prometheus {
	t.Helper()
	bin := Require(t, "prometheus", prometheusInstall, "/usr/bin", "/usr/local/bin")
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	if opts.Rules != "" {
		if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(opts.Rules), 0o600); err != nil {
			t.Fatalf("testenv: prometheus rules: %v", err)
		}
		cfg.WriteString("rule_files:\n  - rules.yml\n")
	}
	cfg.WriteString("scrape_configs:\n")
	if len(opts.ScrapeTargets) > 0 {
		fmt.Fprintf(&cfg, "  - job_name: %s\n    static_configs:\n      - targets:\n", PromJob)
		for _, tg := range opts.ScrapeTargets {
			fmt.Fprintf(&cfg, "          - %q\n", tg)
		}
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatalf("testenv: prometheus config: %v", err)
	}
	port := FreePort(t)
	addr := Addr(port)
	argv := []string{bin,
		"--config.file=" + cfgPath,
		"--web.listen-address=" + addr,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=1h",
		"--log.level=warn",
		"--web.console.templates=" + dir, // the packaged defaults may be missing
		"--web.console.libraries=" + dir,
	}
	p := Start(t, "prometheus", argv, Options{Dir: dir})
	pr := &Prometheus{Process: p, URL: "http://" + addr, Addr: addr}
	p.WaitReady(t, 45*time.Second, func(ctx context.Context) error {
		if err := httpOK(ctx, pr.URL+"/-/ready"); err != nil {
			return err
		}
		if n := len(opts.ScrapeTargets); n > 0 {
			var res struct {
				Data struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			q := url.Values{"query": {fmt.Sprintf("up{job=%q}", PromJob)}}
			if err := getJSON(ctx, pr.URL+"/api/v1/query?"+q.Encode(), &res); err != nil {
				return err
			}
			if len(res.Data.Result) < n {
				return fmt.Errorf("%d of %d targets scraped so far", len(res.Data.Result), n)
			}
		}
		if opts.Rules != "" {
			var res struct {
				Data struct {
					Groups []json.RawMessage `json:"groups"`
				} `json:"data"`
			}
			if err := getJSON(ctx, pr.URL+"/api/v1/rules", &res); err != nil {
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
	port := FreePort(t)
	addr := Addr(port)
	argv := []string{bin,
		"--config.file=" + cfgPath,
		"--web.listen-address=" + addr,
		"--cluster.listen-address=",
		"--storage.path=" + filepath.Join(dir, "data"),
		"--log.level=warn",
	}
	p := Start(t, "alertmanager", argv, Options{Dir: dir})
	am := &Alertmanager{Process: p, URL: "http://" + addr, Addr: addr}
	p.WaitReady(t, 20*time.Second, func(ctx context.Context) error { return httpOK(ctx, am.URL+"/-/ready") })
	return am
}

func httpOK(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

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
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strconv.Quote(string(body)))
	}
	return json.Unmarshal(body, v)
}
