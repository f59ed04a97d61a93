package catalog

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/runner"
	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/store/sqlite"
	"github.com/prfhq/prf/internal/testenv"
)

// The catalogue's end-to-end tests run its automated checkpoints against
// the reference system (internal/demo) and real servers (PostgreSQL, Redis,
// S3, Prometheus, Alertmanager, a Kubernetes control plane, chain nodes),
// healthy and broken. Every result lands in the ledger; after a full run,
// TestMain fails unless every automated checkpoint was seen both passing
// and failing: a check that cannot fail, or cannot pass, is not a check.

func TestMain(m *testing.M) {
	code := testenv.KubeMain(m)
	if code == 0 && fullRun() {
		code = ledger.verify(os.Stderr)
	}
	os.Exit(code)
}

// fullRun reports whether every test of the package ran (no -run, -skip
// or -short), so that the ledger is complete.
func fullRun() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return !testing.Short()
}

type ledgerT struct {
	mu     sync.Mutex
	passed map[string]string // id → test that saw it pass
	failed map[string]string // id → test that saw it fail, warn or error
}

var ledger = &ledgerT{passed: map[string]string{}, failed: map[string]string{}}

func (l *ledgerT) record(test string, r store.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch r.Status {
	case store.StatusPass:
		l.passed[r.ID] = test
	case store.StatusFail, store.StatusWarn, store.StatusError:
		l.failed[r.ID] = test
	}
}

func (l *ledgerT) verify(w *os.File) int {
	cl, err := Load(checklist.Options{})
	if err != nil {
		fmt.Fprintln(w, err)
		return 1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var neverPassed, neverFailed, stale []string
	auto := 0
	for _, cp := range cl.Checkpoints {
		if cp.Manual != nil {
			continue
		}
		auto++
		if _, ok := notExercised[cp.ID]; ok {
			if l.passed[cp.ID] != "" && l.failed[cp.ID] != "" {
				stale = append(stale, cp.ID)
			}
			continue
		}
		if l.passed[cp.ID] == "" {
			neverPassed = append(neverPassed, cp.ID)
		}
		if l.failed[cp.ID] == "" {
			neverFailed = append(neverFailed, cp.ID)
		}
	}
	if len(stale) > 0 {
		fmt.Fprintf(w, "catalogue ledger: now exercised both ways, remove from notExercised: %s\n", strings.Join(stale, ", "))
		return 1
	}
	if len(neverPassed)+len(neverFailed) == 0 {
		fmt.Fprintf(w, "catalogue ledger: %d automated checkpoints seen passing and failing; %d not exercised here, each with its reason in notExercised\n",
			auto-len(notExercised), len(notExercised))
		return 0
	}
	sort.Strings(neverPassed)
	sort.Strings(neverFailed)
	fmt.Fprintf(w, "catalogue ledger: of %d automated checkpoints, %d never passed and %d never failed in any test\n  never passed: %s\n  never failed: %s\n",
		auto, len(neverPassed), len(neverFailed), strings.Join(neverPassed, ", "), strings.Join(neverFailed, ", "))
	return 1
}

// notExercised lists the automated checkpoints no test here can make both
// pass and fail, with why. Keep it short and honest: the ledger fails when
// an entry is exercised after all.
var notExercised = map[string]string{}

// system says where a reference system is: catalogue variables and secret
// values (handed to the run directly, as prf demo does).
type system struct {
	Vars    map[string]string
	Secrets map[string]string
}

// clone copies s, so that a fault case can change a variable.
func (s system) clone() system {
	c := system{Vars: map[string]string{}, Secrets: map[string]string{}}
	for k, v := range s.Vars {
		c.Vars[k] = v
	}
	for k, v := range s.Secrets {
		c.Secrets[k] = v
	}
	return c
}

// runCatalog runs the catalogue checkpoints with the given ids (and the
// ones they depend on) against sys, records every result in the ledger and
// returns them by id. A selected checkpoint that is not configured fails
// the test: the system must say everything the checkpoint reads.
func runCatalog(t *testing.T, sys system, ids ...string) map[string]store.Result {
	t.Helper()
	refs := map[string]string{}
	for name := range sys.Secrets {
		refs[name] = "env:PRF_E2E_HANDED_DIRECTLY" // declared configured; values go to the runner
	}
	cl, err := Load(checklist.Options{Vars: sys.Vars, Secrets: refs})
	if err != nil {
		t.Fatalf("load catalogue: %v", err)
	}
	want := map[string]bool{}
	var add func(id string)
	add = func(id string) {
		cp := cl.Lookup(id)
		if cp == nil {
			t.Fatalf("no checkpoint %q in the catalogue", id)
		}
		if want[id] {
			return
		}
		want[id] = true
		for _, d := range cp.DependsOn {
			add(d)
		}
	}
	for _, id := range ids {
		add(id)
	}
	for id := range want {
		if cp := cl.Lookup(id); len(cp.NotConfigured) > 0 {
			t.Fatalf("%s is not configured: the test's system lacks %v", id, cp.NotConfigured)
		}
	}
	db, err := sqlite.Open(t.TempDir() + "/prf.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run, err := runner.Run(context.Background(), cl, db, runner.Options{
		Secrets: checklist.Secrets(sys.Secrets),
		Select:  func(cp *checklist.Checkpoint) bool { return want[cp.ID] },
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	results, err := db.Results(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Result{}
	for _, r := range results {
		out[r.ID] = r
		ledger.record(t.Name(), r)
	}
	return out
}

// expectStatus checks results: each id must have the given status.
func expectStatus(t *testing.T, results map[string]store.Result, want map[string]store.Status) {
	t.Helper()
	for id, st := range want {
		r, ok := results[id]
		switch {
		case !ok:
			t.Errorf("%s: no result", id)
		case r.Status != st:
			t.Errorf("%s: %s, want %s: %s\n    observation: %.600s", id, r.Status, st, r.Message, r.Observation)
		}
	}
}

// expectAll checks that every id has status st.
func expectAll(t *testing.T, results map[string]store.Result, st store.Status, ids ...string) {
	t.Helper()
	want := map[string]store.Status{}
	for _, id := range ids {
		want[id] = st
	}
	expectStatus(t, results, want)
}
