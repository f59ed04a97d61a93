package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/loadtest"
	"github.com/prfhq/prf/internal/runner"
	"github.com/prfhq/prf/internal/secretref"
	"github.com/prfhq/prf/internal/store"
)

type loadtestOpts struct {
	File      string
	URL       string
	VUs       int
	Rate      float64
	MaxVUs    int
	Duration  time.Duration
	Vars      []string
	Secrets   []string
	Scale     float64
	LoadScale float64
	Shard     string
	Format    string
	Out       string
	Quiet     bool
	NoStore   bool
	Engine    string
	Threshold []string
	CAFile    string
	Insecure  bool
	Workers   int
}

func newLoadtestCmd(d *deps, g *globalOpts) *cobra.Command {
	o := &loadtestOpts{}
	cmd := &cobra.Command{
		Use:   "loadtest",
		Short: "Run a load test: stages of VUs or an arrival rate, checks, thresholds",
		Long: `Run a load test from a scenario file, or a one-URL test in quick mode.

A scenario (YAML) has a base_url, steps (method, path, headers, body or
json, checks as CEL over status/headers/body/json/duration_ms, and extract
to carry a value such as a token into later steps as {{NAME}}), an
executor, and thresholds in k6's form:

  closed model: constant-vus (vus, duration) or ramping-vus (stages of
                {duration, target}); each VU loops the steps, think_time
                between iterations.
  open model:   constant-arrival-rate (rate per time_unit, duration) or
                ramping-arrival-rate (start_rate, stages); iterations start
                on schedule whatever the response times, up to max_vus in
                flight; one that finds no VU free is dropped and counted,
                and a late one is measured from when it should have started.
  thresholds:   http_req_duration: ["p(95)<200"], http_req_failed:
                ["rate<0.01"], per step as http_req_duration{step:login},
                over sliding windows as "p(95)<200 over 30s", per stage with
                {threshold: ..., per_stage: true}, abort_on_fail to stop early.

Quick mode needs no file:
  --url URL --vus N --duration D              closed model, one GET
  --url URL --rate R --max-vus N --duration D open model, R requests/s

The summary (k6-like, or -o json) lists every threshold, the request,
iteration and data metrics, each step, each stage and each check. The run
is stored like any check run (prf runs list); --out writes the raw result
with its histograms, which 'prf loadtest merge' combines exactly across
shards (--shard i/N runs 1/N of the load on each machine).

Plain http:// runs on a lean HTTP/1.1 client (one keep-alive connection
per VU); https:// goes through Go's net/http (HTTP/2 when offered).

Exit status: 0 thresholds hold, 1 a threshold failed, 2 bad scenario or
usage, 130 interrupted (what was measured is printed and stored).`,
		Example: `  prf loadtest --url http://127.0.0.1:8080/health --vus 50 --duration 30s
  prf loadtest --url http://127.0.0.1:8080/ --rate 2000 --max-vus 200 --duration 1m -o json
  prf loadtest -f examples/loadtest/seed-k6.yaml --var base_url=http://127.0.0.1:8080 --scale 0.01
  prf loadtest -f load.yaml --shard 1/4 --out shard1.json   # one per machine, then:
  prf loadtest merge shard1.json shard2.json shard3.json shard4.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLoadtest(cmd.Context(), d, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.File, "file", "f", "", "scenario file")
	f.StringVar(&o.URL, "url", "", "quick mode: the URL to GET")
	f.IntVar(&o.VUs, "vus", 0, "quick mode: virtual users (closed model)")
	f.Float64Var(&o.Rate, "rate", 0, "quick mode: requests per second (open model)")
	f.IntVar(&o.MaxVUs, "max-vus", 0, "quick mode with --rate: cap on requests in flight (default 100)")
	f.DurationVar(&o.Duration, "duration", 10*time.Second, "quick mode: length of the test")
	f.StringArrayVar(&o.Vars, "var", nil, "set a scenario variable, NAME=VALUE (repeatable)")
	f.StringArrayVar(&o.Secrets, "secret", nil, "set a scenario secret reference, NAME=env:VAR or NAME=file:PATH (repeatable; never a value)")
	f.Float64Var(&o.Scale, "scale", 0, "multiply every duration (stages, think times) by this factor, e.g. 0.01 to run a 20-minute scenario in 12 s")
	f.Float64Var(&o.LoadScale, "load-scale", 0, "multiply the load (VUs, stage targets, rates) by this factor")
	f.StringVar(&o.Shard, "shard", "", "run shard i of N (i/N, 1-based): 1/N of the VUs or of the arrival schedule")
	f.StringVarP(&o.Format, "output", "o", "text", "summary format: text or json")
	f.StringVar(&o.Out, "out", "", "also write the raw result (histograms per time bucket) to this file, for 'prf loadtest merge' and comparisons; rewritten every 10 s while the test runs")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no live progress")
	f.BoolVar(&o.NoStore, "no-store", false, "do not store the run in the database")
	f.StringVar(&o.CAFile, "ca-file", "", "PEM CA bundle to trust for https:// (overrides the scenario's ca_file)")
	f.BoolVar(&o.Insecure, "insecure", false, "skip TLS verification (test systems only)")
	f.StringArrayVar(&o.Threshold, "threshold", nil, "add a threshold, METRIC:EXPR, e.g. 'http_req_duration:p(95)<200' or 'http_req_failed:rate<0.01' (repeatable; exit 1 when one fails)")
	f.IntVar(&o.Workers, "workers", 0, "event-loop threads (default: half the cores, at least one; more when the target is on another machine)")
	f.StringVar(&o.Engine, "engine", "", "closed-model engine: auto (an epoll event loop per core when every step is a static plain-HTTP request without checks, extract or think time; else a goroutine per VU), vu or loop")
	cmd.AddCommand(newLoadtestMergeCmd(d), newLoadtestCompareCmd(d))
	return cmd
}

func parseShard(s string) (int, int, error) {
	if s == "" {
		return 0, 1, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, usagef("--shard %q: want i/N with 1 <= i <= N, e.g. 2/4", s)
	}
	return i - 1, n, nil
}

func loadScenario(o *loadtestOpts) (*loadtest.Scenario, []byte, error) {
	if o.File != "" && o.URL != "" {
		return nil, nil, usagef("give -f (a scenario) or --url (quick mode), not both")
	}
	if o.File == "" {
		if o.URL == "" {
			return nil, nil, usagef("give -f scenario.yaml, or --url with --vus or --rate (see prf loadtest --help)")
		}
		if o.VUs == 0 && o.Rate == 0 {
			o.VUs = 10
		}
		sc, err := loadtest.Quick(o.URL, o.VUs, o.Rate, o.MaxVUs, o.Duration)
		if err != nil {
			return nil, nil, usageError{err}
		}
		return sc, []byte(o.URL), nil
	}
	if o.VUs != 0 || o.Rate != 0 || o.MaxVUs != 0 {
		return nil, nil, usagef("--vus, --rate and --max-vus are for quick mode; a scenario sets its own load (use --load-scale)")
	}
	vars, err := parseVars(o.Vars)
	if err != nil {
		return nil, nil, err
	}
	secrets, err := parseSecrets(o.Secrets)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(o.File)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("scenario: %w", err)}
	}
	sc, err := loadtest.Parse(o.File, data, loadtest.LoadOptions{Vars: vars, Secrets: secretref.Resolve, SecretRefs: secrets})
	if err != nil {
		return nil, nil, err
	}
	return sc, data, nil
}

func runLoadtest(ctx context.Context, d *deps, g *globalOpts, o *loadtestOpts) error {
	if err := textOrJSON(o.Format); err != nil {
		return err
	}
	shard, shards, err := parseShard(o.Shard)
	if err != nil {
		return err
	}
	if o.Scale < 0 || o.LoadScale < 0 {
		return usagef("--scale and --load-scale must be positive")
	}
	sc, src, err := loadScenario(o)
	if err != nil {
		return err
	}
	sc.Scale(o.Scale, o.LoadScale)
	if o.CAFile != "" {
		sc.CAFile = o.CAFile
	}
	if o.Insecure {
		sc.Insecure = true
	}
	for _, t := range o.Threshold {
		metric, expr, ok := cutThreshold(t)
		if !ok {
			return usagef("--threshold %q: want METRIC:EXPR, e.g. http_req_duration:p(95)<200", t)
		}
		if sc.Thresholds == nil {
			sc.Thresholds = map[string][]*loadtest.Threshold{}
		}
		sc.Thresholds[metric] = append(sc.Thresholds[metric], &loadtest.Threshold{Threshold: expr})
	}
	if err := sc.Validate(); err != nil {
		return usageError{fmt.Errorf("after --scale, --load-scale and --threshold: %w", err)}
	}
	var st store.Store
	var run *store.Run
	if !o.NoStore {
		st, err = g.openStore(ctx, d)
		if err != nil {
			return err
		}
		defer st.Close()
		sum := sha256.Sum256(src)
		host, _ := os.Hostname()
		run = &store.Run{ID: runner.NewRunID(time.Now()), Checklist: "loadtest: " + sc.Name, ChecklistDigest: hex.EncodeToString(sum[:]),
			ChecklistFile: o.File, StartedAt: time.Now().UTC(), State: store.RunRunning, Total: 1, Host: host, PID: os.Getpid()}
		if err := st.CreateRun(ctx, run); err != nil {
			return err
		}
	}
	var prog *ltProgress
	if !o.Quiet {
		prog = &ltProgress{w: d.ErrOut, tty: d.Terminal(d.ErrOut)}
		fmt.Fprintf(d.ErrOut, "prf loadtest: %s, %s for %s%s\n", sc.Name, sc.Executor, sc.TotalDuration(), shardText(o.Shard))
	}
	if o.Engine == "auto" {
		o.Engine = ""
	}
	opt := loadtest.Options{Shard: shard, Shards: shards, Engine: o.Engine, Workers: o.Workers}
	if o.Out != "" {
		// A long test keeps its --out file current: a kill loses at most
		// the last 10 s.
		opt.Save = func(r *loadtest.Result) {
			if err := r.WriteFile(o.Out); err != nil {
				fmt.Fprintf(d.ErrOut, "prf loadtest: --out: %v\n", err)
			}
		}
	}
	if prog != nil {
		opt.Progress = prog.update
	}
	started := time.Now()
	res, sum, runErr := loadtest.Run(ctx, sc, opt)
	if prog != nil {
		prog.done()
	}
	if res == nil {
		if run != nil {
			run.State = store.RunInterrupted
			fin := time.Now().UTC()
			run.FinishedAt = &fin
			_ = st.FinishRun(context.WithoutCancel(ctx), run)
		}
		return runErr
	}
	sum.Timeline = nil
	if o.Out != "" {
		if err := res.WriteFile(o.Out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if run != nil {
		if err := storeLoadtest(context.WithoutCancel(ctx), st, run, sc, sum, started, runErr); err != nil {
			return err
		}
	}
	if o.Format == "json" {
		if err := writeJSON(d.Out, sum); err != nil {
			return err
		}
	} else {
		loadtest.WriteText(d.Out, sum)
		if run != nil {
			fmt.Fprintf(d.Out, "  stored as run %s\n", run.ID)
		}
	}
	if runErr != nil {
		return runErr
	}
	if !sum.ThresholdsOK {
		return errNotReady
	}
	return nil
}

// cutThreshold splits METRIC:EXPR; the metric may hold a {step:NAME}
// selector, whose colon is not the separator.
func cutThreshold(s string) (metric, expr string, ok bool) {
	from := 0
	if i := strings.IndexByte(s, '}'); i >= 0 {
		from = i
	}
	j := strings.IndexByte(s[from:], ':')
	if j < 0 {
		return "", "", false
	}
	metric, expr = strings.TrimSpace(s[:from+j]), strings.TrimSpace(s[from+j+1:])
	return metric, expr, metric != "" && expr != ""
}

func shardText(s string) string {
	if s == "" {
		return ""
	}
	return ", shard " + s
}

// storeLoadtest stores the run with one result: the load test's verdict,
// its summary as the observation.
func storeLoadtest(ctx context.Context, st store.Store, run *store.Run, sc *loadtest.Scenario, sum *loadtest.Summary, started time.Time, runErr error) error {
	obs, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	res := store.Result{ID: "loadtest." + sc.Name, Title: "load test " + sc.Name, Domain: "performance", Category: "load testing",
		Owner: "SRE Lead", Severity: checklist.SeverityBlocking, Mode: checklist.ModeEnforce, Kind: "loadtest",
		Status: store.StatusPass, Message: thresholdMessage(sum), Observation: obs, StartedAt: started.UTC(),
		DurationMS: float64(time.Since(started).Microseconds()) / 1000, Attempts: 1}
	if !sum.ThresholdsOK {
		res.Status = store.StatusFail
	}
	if runErr != nil {
		res.Status, res.Message = store.StatusError, "interrupted: "+res.Message
	}
	if err := st.AddResults(ctx, run.ID, []store.Result{res}); err != nil {
		return err
	}
	fin := time.Now().UTC()
	run.FinishedAt = &fin
	run.State = store.RunCompleted
	if runErr != nil {
		run.State = store.RunInterrupted
	}
	run.Summary = map[store.Status]int{res.Status: 1}
	run.Verdict = store.VerdictReady
	if res.Status != store.StatusPass {
		run.Verdict = store.VerdictNotReady
	}
	return st.FinishRun(ctx, run)
}

func thresholdMessage(s *loadtest.Summary) string {
	var failed []string
	for _, t := range s.Thresholds {
		if !t.OK {
			failed = append(failed, fmt.Sprintf("%s %s (%s: %.4g)", t.Metric, t.Threshold, t.Scope, t.Value))
		}
	}
	base := fmt.Sprintf("%d requests, %.1f/s, p95 %.2f ms, %.2f%% failed", s.Requests, s.RPS, s.Latency.P95, 100*s.FailedRate)
	if s.Aborted != "" {
		base += "; stopped early: " + s.Aborted
	}
	if len(failed) > 0 {
		return "thresholds failed: " + strings.Join(failed, "; ") + "; " + base
	}
	if len(s.Thresholds) > 0 {
		return fmt.Sprintf("%d thresholds hold; %s", len(s.Thresholds), base)
	}
	return base
}

// ltProgress prints the live line: elapsed, stage, VUs, rate, p95, errors.
type ltProgress struct {
	w     io.Writer
	tty   bool
	last  time.Duration
	wrote bool
}

func (p *ltProgress) update(pr loadtest.Progress) {
	errs := 0.0
	if pr.Requests > 0 {
		errs = 100 * float64(pr.Failed) / float64(pr.Requests)
	}
	line := fmt.Sprintf("  %6.1fs/%s  stage %d  VUs %d/%d  %8.1f req/s  p95 %7.2fms  errors %.2f%%  reqs %d",
		pr.Elapsed.Seconds(), pr.Total, pr.Stage, pr.VUs, pr.VUsMax, pr.RPS, pr.P95, errs, pr.Requests)
	if pr.Dropped > 0 {
		line += fmt.Sprintf("  dropped %d", pr.Dropped)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.wrote = true
		return
	}
	if pr.Elapsed-p.last >= 5*time.Second {
		p.last = pr.Elapsed
		fmt.Fprintln(p.w, line)
	}
}

func (p *ltProgress) done() {
	if p.tty && p.wrote {
		fmt.Fprintln(p.w)
	}
}

// maxStartSpread is how far apart shards may start before merge warns.
const maxStartSpread = time.Second

// startSpread is the time between the first and the last shard's start.
func startSpread(rs []*loadtest.Result) time.Duration {
	first, last := rs[0].Started, rs[0].Started
	for _, r := range rs[1:] {
		if r.Started.Before(first) {
			first = r.Started
		}
		if r.Started.After(last) {
			last = r.Started
		}
	}
	return last.Sub(first)
}

func newLoadtestMergeCmd(d *deps) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "merge RESULT.json...",
		Short: "Merge the --out results of shards into one summary",
		Long: `Merge the raw results that 'prf loadtest --shard i/N --out FILE' wrote.

Histograms are merged bucket by bucket and counters added, so percentiles,
rates, per-stage figures and sliding-window thresholds are those of one
run of the whole load, not averages of the shards' summaries. Buckets are
matched by their time into the schedule (the same stage, the same second
of it), so shards should start together; merge warns when they started
more than 1s apart.`,
		Example: `  prf loadtest merge shard1.json shard2.json -o json
  prf loadtest merge shard*.json --out merged.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := textOrJSON(format); err != nil {
				return err
			}
			var rs []*loadtest.Result
			for _, a := range args {
				r, err := loadtest.ReadResult(a)
				if err != nil {
					return usageError{err}
				}
				rs = append(rs, r)
			}
			m, err := loadtest.Merge(rs)
			if err != nil {
				return usageError{err}
			}
			if spread := startSpread(rs); spread > maxStartSpread {
				fmt.Fprintf(d.ErrOut, "warning: the shards started up to %s apart. Their buckets are merged by time into the schedule, so the merged timeline is the load as scheduled, not what the target saw at each moment; start shards together (one Indexed Job).\n", spread.Round(time.Millisecond))
			}
			sum, err := m.Summarize(false)
			if err != nil {
				return usageError{err}
			}
			if out != "" {
				if err := m.WriteFile(out); err != nil {
					return err
				}
			}
			if format == "json" {
				if err := writeJSON(d.Out, sum); err != nil {
					return err
				}
			} else {
				loadtest.WriteText(d.Out, sum)
			}
			if !sum.ThresholdsOK {
				return errNotReady
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "summary format: text or json")
	cmd.Flags().StringVar(&out, "out", "", "also write the merged raw result to this file")
	return cmd
}

func newLoadtestCompareCmd(d *deps) *cobra.Command {
	return &cobra.Command{
		Use:   "compare BASE.json NEW.json",
		Short: "Compare two --out results side by side (latency percentiles, rate, errors)",
		Long: `Compare two raw results that 'prf loadtest --out' wrote, metric by metric,
with the change from BASE to NEW: a release's load test against the last
one, or one configuration against another.`,
		Example: `  prf loadtest compare last-release.json candidate.json`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sums [2]*loadtest.Summary
			for i, a := range args {
				r, err := loadtest.ReadResult(a)
				if err != nil {
					return usageError{err}
				}
				if sums[i], err = r.Summarize(false); err != nil {
					return usageError{fmt.Errorf("%s: %w", a, err)}
				}
			}
			a, b := sums[0], sums[1]
			w := d.Out
			fmt.Fprintf(w, "%-22s %14s %14s %9s\n", "metric", "base", "new", "change")
			row := func(name string, x, y float64, format string) {
				change := "-"
				if x != 0 {
					change = fmt.Sprintf("%+.1f%%", 100*(y-x)/x)
				}
				fmt.Fprintf(w, "%-22s %14s %14s %9s\n", name, fmt.Sprintf(format, x), fmt.Sprintf(format, y), change)
			}
			row("requests", float64(a.Requests), float64(b.Requests), "%.0f")
			row("rps", a.RPS, b.RPS, "%.1f")
			row("failed_rate", a.FailedRate, b.FailedRate, "%.4f")
			row("checks_rate", a.ChecksRate, b.ChecksRate, "%.4f")
			row("dropped_iterations", float64(a.DroppedIterations), float64(b.DroppedIterations), "%.0f")
			for _, p := range []struct {
				name string
				x, y float64
			}{{"p50", a.Latency.P50, b.Latency.P50}, {"p90", a.Latency.P90, b.Latency.P90}, {"p95", a.Latency.P95, b.Latency.P95}, {"p99", a.Latency.P99, b.Latency.P99}, {"max", a.Latency.Max, b.Latency.Max}} {
				row("latency_ms."+p.name, p.x, p.y, "%.3f")
			}
			return nil
		},
	}
}
