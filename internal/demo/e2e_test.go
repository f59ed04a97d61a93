package demo_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/demo"
	"github.com/prfhq/prf/internal/runner"
	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/store/sqlite"
)

// demoCheckpoints, demoManual: the size of the demo checklist.
const (
	demoCheckpoints = 31
	demoManual      = 3
)

// tb is what the end-to-end helpers need from a test or a benchmark.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

// startDemo starts a demo target with faults, writes its CA to a file and
// returns the target with the parsed demo checklist pointed at it. The
// target is closed by cleanup.
func startDemo(t tb, ctx context.Context, faults ...string) (*demo.Target, *checklist.Checklist) {
	t.Helper()
	tgt, err := demo.NewTarget(demo.Options{Faults: faults})
	if err != nil {
		t.Fatalf("NewTarget(%v): %v", faults, err)
	}
	if err := tgt.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = tgt.Close() })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, tgt.CACertPEM(), 0o600); err != nil {
		t.Fatalf("write CA: %v", err)
	}
	data, err := demo.Checklist(demo.ChecklistOptions{Target: tgt.URL(), CAFile: caFile})
	if err != nil {
		t.Fatalf("Checklist: %v", err)
	}
	cl, err := checklist.Parse(data, "prf-demo.yaml", checklist.Options{})
	if err != nil {
		t.Fatalf("Parse demo checklist: %v", err)
	}
	return tgt, cl
}

// openStore opens a fresh SQLite store in a temp dir, closed by cleanup.
func openStore(t tb) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "prf.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// runDemo runs cl with the demo password and returns the run and its stored
// results.
func runDemo(t tb, ctx context.Context, cl *checklist.Checklist, db *sqlite.DB, concurrency int) (*store.Run, []store.Result) {
	t.Helper()
	run, err := runner.Run(ctx, cl, db, runner.Options{
		Secrets:     checklist.Secrets{"password": demo.DefaultPassword},
		Concurrency: concurrency,
	})
	if err != nil {
		t.Fatalf("runner.Run: %v", err)
	}
	results, err := db.Results(ctx, run.ID)
	if err != nil {
		t.Fatalf("Results(%s): %v", run.ID, err)
	}
	return run, results
}

// notPassing returns the automated checkpoints that did not pass, by id.
func notPassing(results []store.Result) map[string]store.Result {
	out := map[string]store.Result{}
	for _, r := range results {
		if !r.Manual() && r.Status != store.StatusPass {
			out[r.ID] = r
		}
	}
	return out
}

func describe(r store.Result) string {
	return string(r.ID) + ": " + string(r.Status) + ": " + r.Message
}

func TestDemoHealthy(t *testing.T) {
	ctx := t.Context()
	_, cl := startDemo(t, ctx)
	if len(cl.Checkpoints) != demoCheckpoints {
		t.Errorf("demo checklist has %d checkpoints, want %d", len(cl.Checkpoints), demoCheckpoints)
	}
	db := openStore(t)
	run, results := runDemo(t, ctx, cl, db, 0)

	if run.State != store.RunCompleted {
		t.Errorf("run state = %s, want %s", run.State, store.RunCompleted)
	}
	if len(results) != len(cl.Checkpoints) {
		t.Errorf("stored %d results, want %d", len(results), len(cl.Checkpoints))
	}
	manual := 0
	for _, r := range results {
		switch {
		case r.Manual():
			manual++
			if r.Status != store.StatusPending {
				t.Errorf("manual %s", describe(r))
			}
		case r.Status != store.StatusPass:
			t.Errorf("%s (attempts %d, %.0fms)", describe(r), r.Attempts, r.DurationMS)
		}
	}
	if manual != demoManual {
		t.Errorf("%d manual checkpoints, want %d", manual, demoManual)
	}
	// Only the manual checkpoints keep the run from being ready.
	if run.Verdict != store.VerdictNotReady {
		t.Errorf("verdict = %s, want %s (manual checkpoints are pending)", run.Verdict, store.VerdictNotReady)
	}
	if got := run.Summary[store.StatusPass]; got != demoCheckpoints-demoManual {
		t.Errorf("summary pass = %d, want %d (%v)", got, demoCheckpoints-demoManual, run.Summary)
	}
}

// httpsChecks are the checkpoints that speak TLS to the target, i.e. every
// automated one but the TCP, DNS and exec probes. Under expired-cert the
// certificate no longer verifies, so each of them errors (or, for the
// dependents of app.auth.login, is skipped).
var httpsChecks = []string{
	"app.gateway.health",
	"app.auth.health",
	"app.auth.login",
	"app.ai.health",
	"app.chain.synced",
	"app.chain.peers",
	"sec.tls.version",
	"sec.tls.certificate",
	"sec.tls.hsts",
	"sec.auth.required",
	"sec.auth.forged-tokens",
	"sec.auth.jwt",
	"sec.api.data-protected",
	"sec.ratelimit",
	"sec.waf.sqli",
	"sec.waf.xss",
	"sec.waf.traversal-injection",
	"sec.waf.ssrf-jndi",
	"sec.waf.false-positives",
	"perf.gateway.latency",
	"perf.ai.inference",
	"ops.metrics.exposed",
	"post.integration.user-flow",
	"post.integration.ai-flow",
	"post.integration.chain-flow",
}

func TestDemoFaults(t *testing.T) {
	// want maps each fault to every automated checkpoint that must not pass
	// under it, with its status. Everything else must pass, so a checkpoint
	// that fails for the wrong reason is caught.
	tests := map[string]map[string]store.Status{}
	_ = httpsChecks
	for _, f := range demo.Faults() {
		tests[f.Name] = nil // EXPLORE
	}

	for _, f := range demo.Faults() {
		if _, ok := tests[f.Name]; !ok {
			t.Errorf("fault %q has no row in TestDemoFaults: add the checkpoints it breaks", f.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(tests)) {
		want := tests[name]
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			_, cl := startDemo(t, ctx, name)
			run, results := runDemo(t, ctx, cl, openStore(t), 0)
			if run.State != store.RunCompleted {
				t.Errorf("run state = %s, want %s", run.State, store.RunCompleted)
			}
			if run.Verdict != store.VerdictNotReady {
				t.Errorf("verdict = %s, want %s", run.Verdict, store.VerdictNotReady)
			}
			got := notPassing(results)
			for _, id := range slices.Sorted(maps.Keys(got)) {
				r := got[id]
				ws, ok := want[id]
				switch {
				case !ok:
					t.Errorf("unexpected %s", describe(r))
				case r.Status != ws:
					t.Errorf("status %s, want %s: %s", r.Status, ws, describe(r))
				}
			}
			for _, id := range slices.Sorted(maps.Keys(want)) {
				if _, ok := got[id]; !ok {
					t.Errorf("%s passed, want %s under %s", id, want[id], name)
				}
			}
			if t.Failed() {
				var lines []string
				for _, id := range slices.Sorted(maps.Keys(got)) {
					lines = append(lines, describe(got[id]))
				}
				t.Logf("not passing under %s:\n%s", name, strings.Join(lines, "\n"))
			}
		})
	}
}
