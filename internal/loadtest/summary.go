package loadtest

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// WriteText writes a k6-like end-of-test summary: thresholds first, then
// the metrics, then per step, per stage and per check.
func WriteText(w io.Writer, s *Summary) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	shard := ""
	if s.Shard != "" {
		shard = ", shard " + s.Shard
	}
	p("\n  scenario: %s (%s, %d stage(s), %s%s)\n", s.Name, s.Executor, len(s.Stages), fmtSecs(s.DurationS), shard)
	if s.Aborted != "" {
		p("  stopped early: %s\n", s.Aborted)
	}
	if len(s.Thresholds) > 0 {
		p("\n")
		for _, t := range s.Thresholds {
			mark := "✓"
			if !t.OK {
				mark = "✗"
			}
			val := fmtThresholdValue(t)
			scope := ""
			if t.Scope != "test" {
				scope = " [" + t.Scope
				if !t.OK && t.Scope == "window" {
					scope += fmt.Sprintf(" from %s", fmtSecs(t.AtS))
				}
				scope += "]"
			}
			p("  %s %s %s %s%s\n", mark, dots(t.Metric, 34), t.Threshold, val, scope)
		}
	}
	p("\n")
	line := func(name, value string) { p("  %s: %s\n", dots(name, 30), value) }
	if s.ChecksPassed+s.ChecksFailed > 0 {
		line("checks", fmt.Sprintf("%.2f%%  ✓ %d  ✗ %d", 100*s.ChecksRate, s.ChecksPassed, s.ChecksFailed))
	}
	line("data_received", fmt.Sprintf("%s  %s/s", fmtBytes(float64(s.DataReceived)), fmtBytes(perSec(float64(s.DataReceived), s.DurationS))))
	line("data_sent", fmt.Sprintf("%s  %s/s", fmtBytes(float64(s.DataSent)), fmtBytes(perSec(float64(s.DataSent), s.DurationS))))
	if s.DroppedIterations > 0 || strings.Contains(s.Executor, "arrival") {
		line("dropped_iterations", fmt.Sprintf("%d  %.1f/s", s.DroppedIterations, perSec(float64(s.DroppedIterations), s.DurationS)))
	}
	line("http_req_duration", fmtLatency(s.Latency))
	line("http_req_failed", fmt.Sprintf("%.2f%%  %d of %d", 100*s.FailedRate, s.Failed, s.Requests))
	line("http_reqs", fmt.Sprintf("%d  %.1f/s", s.Requests, s.RPS))
	line("iteration_duration", fmtLatency(s.IterationDuration))
	line("iterations", fmt.Sprintf("%d  %.1f/s", s.Iterations, s.IterationsRate))
	line("vus_max", fmt.Sprintf("%d", s.VUsMax))
	if len(s.Status) > 0 {
		keys := sortedKeys(s.Status)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%d", k, s.Status[k])
		}
		line("status", strings.Join(parts, " "))
	}
	if len(s.Errors) > 0 {
		keys := sortedKeys(s.Errors)
		sort.SliceStable(keys, func(i, j int) bool { return s.Errors[keys[i]] > s.Errors[keys[j]] })
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%d", k, s.Errors[k])
		}
		line("errors", strings.Join(parts, ", "))
	}
	if len(s.Steps) > 1 || len(s.Checks) > 0 {
		p("\n  steps:\n")
		for _, st := range s.Steps {
			checks := ""
			if st.ChecksRate > 0 || len(s.Checks) > 0 {
				checks = fmt.Sprintf("  checks %.2f%%", 100*st.ChecksRate)
			}
			p("    %-18s reqs %-8d failed %6.2f%%  p95 %-9s p99 %-9s%s\n", st.Name, st.Requests, 100*st.FailedRate, fmtMs(st.Latency.P95), fmtMs(st.Latency.P99), checks)
		}
	}
	if len(s.Stages) > 1 {
		p("\n  stages:\n")
		for _, st := range s.Stages {
			p("    %-2d %7s–%-7s target %-7g reqs %-8d %8.1f/s  p95 %-9s failed %.2f%%", st.Stage, fmtSecs(st.StartS), fmtSecs(st.EndS), st.Target, st.Requests, st.RPS, fmtMs(st.Latency.P95), 100*st.FailedRate)
			if st.Dropped > 0 {
				p("  dropped %d", st.Dropped)
			}
			p("\n")
		}
	}
	if len(s.Checks) > 0 {
		p("\n  checks:\n")
		for _, c := range s.Checks {
			mark := "✓"
			if c.Failed > 0 {
				mark = "✗"
			}
			p("    %s %s  %.2f%% (%d/%d)\n", mark, c.Name, 100*rate(c.Passed, c.Passed+c.Failed), c.Passed, c.Passed+c.Failed)
		}
	}
	p("\n")
}

func fmtThresholdValue(t ThresholdResult) string {
	if t.NoData {
		return "(no data)"
	}
	return "(" + fmt.Sprintf("%.4g", t.Value) + ")"
}

func dots(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(".", n-len(s))
}

func perSec(v, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return v / secs
}

func fmtSecs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(10 * time.Millisecond).String()
}

func fmtMs(ms float64) string {
	switch {
	case ms == 0:
		return "0s"
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 1000:
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

func fmtLatency(l Latency) string {
	return fmt.Sprintf("avg=%s min=%s med=%s p(90)=%s p(95)=%s p(99)=%s max=%s",
		fmtMs(l.Avg), fmtMs(l.Min), fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P95), fmtMs(l.P99), fmtMs(l.Max))
}

func fmtBytes(b float64) string {
	switch {
	case b >= 1e9:
		return fmt.Sprintf("%.1f GB", b/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.1f MB", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f kB", b/1e3)
	}
	return fmt.Sprintf("%.0f B", b)
}

// Quick builds the one-step scenario of quick mode: closed model with vus,
// or open model with rate (requests per second) and maxVUs.
func Quick(target string, vus int, rate float64, maxVUs int, duration time.Duration) (*Scenario, error) {
	sc := &Scenario{Name: "quick", Duration: duration, Steps: []*Step{{Name: "get", Path: target}}}
	if rate > 0 {
		sc.Executor, sc.Rate, sc.MaxVUs = ConstantArrivalRate, rate, maxVUs
		if vus > 0 {
			return nil, fmt.Errorf("give --vus (closed model) or --rate with --max-vus (open model), not both")
		}
	} else {
		sc.Executor, sc.VUs = ConstantVUs, vus
		if maxVUs > 0 {
			return nil, fmt.Errorf("--max-vus goes with --rate (open model); with --vus the VU count is fixed")
		}
	}
	if err := sc.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			flag := map[string]string{"vus": "--vus", "duration": "--duration", "rate": "--rate", "max_vus": "--max-vus", "steps[0].path": "--url"}[fe.Field]
			if flag != "" {
				return nil, fmt.Errorf("%s: %s", flag, fe.Msg)
			}
		}
		return nil, err
	}
	return sc, nil
}
