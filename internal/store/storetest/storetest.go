// Package storetest is the contract every store.Store backend passes:
// call Run from the backend's tests with a function that opens an empty
// store.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/store"
)

// Run runs the contract suite. open must return a new, empty store for each
// call; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ListRunsEmpty", testListRunsEmpty},
		{"CreateAndGetRun", testCreateAndGetRun},
		{"CreateRunDuplicate", testCreateRunDuplicate},
		{"ListRuns", testListRuns},
		{"GetRunPrefix", testGetRunPrefix},
		{"AddResults", testAddResults},
		{"AddResultsSeq", testAddResultsSeq},
		{"AddResultsUnknownRun", testAddResultsUnknownRun},
		{"AddResultsDuplicateCheckpoint", testAddResultsDuplicateCheckpoint},
		{"ResultsUnknownRun", testResultsUnknownRun},
		{"FinishRun", testFinishRun},
		{"RecoverInterrupted", testRecoverInterrupted},
		{"ConcurrentAddResults", testConcurrentAddResults},
		{"ConcurrentAddResultsSameRun", testConcurrentAddResultsSameRun},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// base is a time with nanoseconds, in a zone other than UTC, so that a
// backend that drops precision or keeps the zone fails.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+2", 2*3600))

func newRun(id, checklist string, started time.Time) *store.Run {
	return &store.Run{
		ID:              id,
		Checklist:       checklist,
		ChecklistDigest: "sha256:" + strings.Repeat("ab", 32),
		ChecklistFile:   "/etc/prf/" + checklist + ".yaml",
		Environment:     "production",
		StartedAt:       started,
		State:           store.RunRunning,
		Total:           42,
		Host:            "ci-runner-7",
		PID:             4242,
	}
}

func createRun(t *testing.T, s store.Store, run *store.Run) {
	t.Helper()
	if err := s.CreateRun(context.Background(), run); err != nil {
		t.Fatalf("CreateRun(%s): %v", run.ID, err)
	}
}

// result is a checkpoint result with every field set.
func result(i int) store.Result {
	return store.Result{
		ID:          fmt.Sprintf("CHK-%03d", i),
		Title:       fmt.Sprintf("Checkpoint %d — «ünïcode» ☐", i),
		Domain:      "infrastructure",
		Category:    "kubernetes",
		Owner:       "sre",
		Severity:    "critical",
		Mode:        "enforce",
		Kind:        "http",
		Validation:  "curl -f https://api.example.com/health",
		Controls:    []string{"NIST-800-53:SC-8", "SOC2:CC6.1"},
		Tags:        []string{"gateway"},
		Status:      store.Statuses[i%len(store.Statuses)],
		Message:     fmt.Sprintf("status_code (%d) == 200\nsecond line", 200+i),
		Expect:      "status_code == 200 && latency_ms < 500",
		Values:      json.RawMessage(fmt.Sprintf(`{"status_code": %d,"latency_ms":12.5}`, 200+i)),
		Observation: json.RawMessage(`{"status":200, "headers":{"Content-Type":["application/json"]},"body":"{\"ok\":true}"}`),
		Log:         []string{"GET https://api.example.com/health", "200 OK in 12ms"},
		StartedAt:   base.Add(time.Duration(i) * time.Second),
		DurationMS:  12.345678 + float64(i),
		Attempts:    1 + i%3,
		Position:    i * 7,
		Skip:        []string{"", store.SkipDependency, store.SkipNotConfigured, store.SkipDisabled}[i%4],
		Source:      fmt.Sprintf("§2.1 row %d", i+1),
	}
}

func results(from, n int) []store.Result {
	rs := make([]store.Result, n)
	for i := range rs {
		rs[i] = result(from + i)
	}
	return rs
}

// equalRun compares runs: times by instant and required in UTC, the rest exactly.
func equalRun(t *testing.T, got, want *store.Run) {
	t.Helper()
	g, w := *got, *want
	checkTime(t, "run "+want.ID+" started_at", got.StartedAt, want.StartedAt)
	g.StartedAt, w.StartedAt = time.Time{}, time.Time{}
	switch {
	case got.FinishedAt == nil && want.FinishedAt != nil:
		t.Errorf("run %s finished_at = nil, want %v", want.ID, *want.FinishedAt)
	case got.FinishedAt != nil && want.FinishedAt == nil:
		t.Errorf("run %s finished_at = %v, want nil", want.ID, *got.FinishedAt)
	case got.FinishedAt != nil:
		checkTime(t, "run "+want.ID+" finished_at", *got.FinishedAt, *want.FinishedAt)
	}
	g.FinishedAt, w.FinishedAt = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("run %s:\n got  %+v\n want %+v", want.ID, g, w)
	}
}

func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %s, want UTC", what, got.Location())
	}
}

// equalResults compares results field by field: JSON messages byte for
// byte, nil apart from empty, times by instant and in UTC.
func equalResults(t *testing.T, got, want []store.Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		checkTime(t, fmt.Sprintf("result %d (%s) started_at", i, w.ID), g.StartedAt, w.StartedAt)
		g.StartedAt, w.StartedAt = time.Time{}, time.Time{}
		for _, f := range []struct {
			name      string
			got, want any
		}{
			{"controls", g.Controls, w.Controls},
			{"tags", g.Tags, w.Tags},
			{"log", g.Log, w.Log},
			{"values", g.Values, w.Values},
			{"observation", g.Observation, w.Observation},
		} {
			if reflect.ValueOf(f.got).IsNil() != reflect.ValueOf(f.want).IsNil() {
				t.Errorf("result %d (%s) %s = %#v, want %#v (nil and empty differ)", i, w.ID, f.name, f.got, f.want)
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("result %d:\n got  %+v\n want %+v", i, g, w)
		}
	}
}

// withSeq returns results as they read back: run id set, seq from first.
func withSeq(runID string, first int, rs []store.Result) []store.Result {
	out := slices.Clone(rs)
	for i := range out {
		out[i].RunID = runID
		out[i].Seq = first + i
	}
	return out
}

func testListRunsEmpty(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, f := range []store.RunFilter{{}, {Limit: 5}, {Checklist: "prod"}} {
		runs, err := s.ListRuns(ctx, f)
		if err != nil {
			t.Fatalf("ListRuns(%+v): %v", f, err)
		}
		if len(runs) != 0 {
			t.Errorf("ListRuns(%+v) = %d runs, want 0", f, len(runs))
		}
	}
	ids, err := s.RecoverInterrupted(ctx, func(string, int) bool { return false })
	if err != nil || len(ids) != 0 {
		t.Errorf("RecoverInterrupted on an empty store = %v, %v; want none", ids, err)
	}
}

func testCreateAndGetRun(t *testing.T, s store.Store) {
	ctx := context.Background()
	running := newRun("01JPRF0000RUNNING", "prod", base)

	finishedAt := base.Add(90*time.Second + 1)
	done := newRun("01JPRF0000DONE", "prod", base.Add(-time.Hour))
	done.FinishedAt = &finishedAt
	done.State = store.RunCompleted
	done.Verdict = store.VerdictReady
	done.Summary = map[store.Status]int{store.StatusPass: 40, store.StatusWarn: 2, store.StatusFail: 0}

	bare := &store.Run{ID: "01JPRF0000BARE", StartedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), State: store.RunRunning}

	for _, want := range []*store.Run{running, done, bare} {
		t.Run(want.ID, func(t *testing.T) {
			orig := *want
			createRun(t, s, want)
			if !reflect.DeepEqual(*want, orig) {
				t.Errorf("CreateRun changed its argument: %+v, was %+v", *want, orig)
			}
			got, err := s.GetRun(ctx, want.ID)
			if err != nil {
				t.Fatalf("GetRun: %v", err)
			}
			equalRun(t, got, want)
		})
	}
}

func testCreateRunDuplicate(t *testing.T, s store.Store) {
	ctx := context.Background()
	createRun(t, s, newRun("dup", "prod", base))
	second := newRun("dup", "other", base.Add(time.Minute))
	if err := s.CreateRun(ctx, second); err == nil {
		t.Fatal("CreateRun with an existing id: no error")
	} else if !strings.Contains(err.Error(), "dup") {
		t.Errorf("error %q does not name the run", err)
	}
	got, err := s.GetRun(ctx, "dup")
	if err != nil {
		t.Fatal(err)
	}
	if got.Checklist != "prod" {
		t.Errorf("the duplicate overwrote the run: checklist %q", got.Checklist)
	}
}

func testListRuns(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Created out of order; two runs share a start time (ties: id descending).
	specs := []struct {
		id, checklist string
		offset        time.Duration
	}{
		{"r3", "prod", 3 * time.Minute},
		{"r1", "prod", 1 * time.Minute},
		{"r5", "staging", 5 * time.Minute},
		{"r2", "staging", 2 * time.Minute},
		{"r4", "prod", 4*time.Minute + time.Nanosecond},
		{"r4b", "prod", 4*time.Minute + time.Nanosecond},
		{"r0", "prod", 0},
	}
	for _, sp := range specs {
		createRun(t, s, newRun(sp.id, sp.checklist, base.Add(sp.offset)))
	}
	tests := []struct {
		name   string
		filter store.RunFilter
		want   []string
	}{
		{"all", store.RunFilter{}, []string{"r5", "r4b", "r4", "r3", "r2", "r1", "r0"}},
		{"limit", store.RunFilter{Limit: 3}, []string{"r5", "r4b", "r4"}},
		{"limit above count", store.RunFilter{Limit: 100}, []string{"r5", "r4b", "r4", "r3", "r2", "r1", "r0"}},
		{"checklist", store.RunFilter{Checklist: "prod"}, []string{"r4b", "r4", "r3", "r1", "r0"}},
		{"checklist and limit", store.RunFilter{Checklist: "staging", Limit: 1}, []string{"r5"}},
		{"unknown checklist", store.RunFilter{Checklist: "nope"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := s.ListRuns(ctx, tc.filter)
			if err != nil {
				t.Fatalf("ListRuns: %v", err)
			}
			var ids []string
			for _, r := range runs {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("ListRuns(%+v) = %v, want %v", tc.filter, ids, tc.want)
			}
		})
	}
	// Listed runs carry every field.
	runs, err := s.ListRuns(ctx, store.RunFilter{Checklist: "staging", Limit: 1})
	if err != nil || len(runs) != 1 {
		t.Fatalf("ListRuns = %v, %v", runs, err)
	}
	equalRun(t, &runs[0], newRun("r5", "staging", base.Add(5*time.Minute)))
}

func testGetRunPrefix(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"abc123", "abc456", "abd789", "run1", "run10", "x%_*?[y"} {
		createRun(t, s, newRun(id, "prod", base))
	}
	tests := []struct {
		query string
		want  string // "" when err is expected
		err   error
	}{
		{"abc123", "abc123", nil},
		{"abc1", "abc123", nil},
		{"abd", "abd789", nil},
		{"run1", "run1", nil}, // exact id wins over run10
		{"run10", "run10", nil},
		{"run", "", store.ErrAmbiguous},
		{"abc", "", store.ErrAmbiguous},
		{"ab", "", store.ErrAmbiguous},
		{"abc1234", "", store.ErrNotFound},
		{"nope", "", store.ErrNotFound},
		{"ABC", "", store.ErrNotFound}, // ids are case-sensitive
		{"_bc", "", store.ErrNotFound}, // no wildcards
		{"%", "", store.ErrNotFound},
		{"x%_*", "x%_*?[y", nil},
		{"", "", store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			got, err := s.GetRun(ctx, tc.query)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("GetRun(%q) = %v, %v; want %v", tc.query, got, err, tc.err)
				}
				if tc.query != "" && !strings.Contains(err.Error(), tc.query) {
					t.Errorf("error %q does not name the id %q", err, tc.query)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetRun(%q): %v", tc.query, err)
			}
			if got.ID != tc.want {
				t.Errorf("GetRun(%q) = %s, want %s", tc.query, got.ID, tc.want)
			}
		})
	}
}

func testAddResults(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := newRun("run-results", "prod", base)
	createRun(t, s, run)

	got, err := s.Results(ctx, run.ID)
	if err != nil {
		t.Fatalf("Results of a run without results: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("Results of a new run = %d results", len(got))
	}

	var want []store.Result
	add := func(rs []store.Result) {
		t.Helper()
		orig := slices.Clone(rs)
		if err := s.AddResults(ctx, run.ID, rs); err != nil {
			t.Fatalf("AddResults: %v", err)
		}
		if !reflect.DeepEqual(rs, orig) {
			t.Errorf("AddResults changed its argument")
		}
		want = append(want, withSeq(run.ID, len(want)+1, rs)...)
	}

	add(results(0, 1))
	add(results(1, 7))
	add(nil) // an empty batch is fine
	// Nil apart from empty; a JSON null apart from a nil message; zero values.
	edge := []store.Result{
		{ID: "MAN-001", Title: "manual", Status: store.StatusPending, StartedAt: base},
		{ID: "EMPTY", Status: store.StatusSkipped, Message: "dependency CHK-001 failed",
			Controls: []string{}, Tags: []string{}, Log: []string{},
			Values: json.RawMessage(`null`), Observation: json.RawMessage(`{}`), StartedAt: base},
		{ID: "ZERO-TIME", Status: store.StatusError},
		{ID: "JSON", Status: store.StatusFail,
			Values:      json.RawMessage("{\n  \"a\": [1, 2.50, \"\\u00e9\"],\n  \"b\": null\n}"),
			Observation: json.RawMessage(`"just a string"`),
			Log:         []string{"", "tab\there", "quote \" and backslash \\", "emoji 🚀"},
			StartedAt:   time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), DurationMS: 0.001, Attempts: 0},
	}
	add(edge)
	add(results(8, 3))

	got, err = s.Results(ctx, run.ID)
	if err != nil {
		t.Fatalf("Results: %v", err)
	}
	equalResults(t, got, want)

	// A result may name its run; the store sets RunID on the way out anyway.
	named := result(100)
	named.RunID = run.ID
	if err := s.AddResults(ctx, run.ID, []store.Result{named}); err != nil {
		t.Fatalf("AddResults with RunID set: %v", err)
	}
	wrong := result(101)
	wrong.RunID = "another-run"
	if err := s.AddResults(ctx, run.ID, []store.Result{wrong}); err == nil {
		t.Errorf("AddResults with another run's RunID: no error")
	}
}

func testAddResultsSeq(t *testing.T, s store.Store) {
	ctx := context.Background()
	createRun(t, s, newRun("seq", "prod", base))
	createRun(t, s, newRun("other", "prod", base))

	// Seqs count per run.
	if err := s.AddResults(ctx, "other", results(0, 5)); err != nil {
		t.Fatal(err)
	}
	batch := results(0, 4)
	batch[1].Seq = 10 // an explicit seq is kept; the next zero follows it
	if err := s.AddResults(ctx, "seq", batch); err != nil {
		t.Fatal(err)
	}
	if err := s.AddResults(ctx, "seq", results(4, 2)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Results(ctx, "seq")
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int
	var ids []string
	for _, r := range got {
		seqs = append(seqs, r.Seq)
		ids = append(ids, r.ID)
	}
	if want := []int{1, 10, 11, 12, 13, 14}; !slices.Equal(seqs, want) {
		t.Errorf("seqs = %v, want %v", seqs, want)
	}
	if want := []string{"CHK-000", "CHK-001", "CHK-002", "CHK-003", "CHK-004", "CHK-005"}; !slices.Equal(ids, want) {
		t.Errorf("ids in seq order = %v, want %v", ids, want)
	}

	// Results come back in seq order, not insertion order.
	createRun(t, s, newRun("order", "prod", base))
	rs := results(0, 3)
	rs[0].Seq, rs[1].Seq, rs[2].Seq = 3, 1, 2
	if err := s.AddResults(ctx, "order", rs); err != nil {
		t.Fatal(err)
	}
	got, err = s.Results(ctx, "order")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != "CHK-001" || got[1].ID != "CHK-002" || got[2].ID != "CHK-000" {
		t.Errorf("results not in seq order: %+v", got)
	}
}

func testAddResultsUnknownRun(t *testing.T, s store.Store) {
	err := s.AddResults(context.Background(), "no-such-run", results(0, 2))
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AddResults to an unknown run = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "no-such-run") {
		t.Errorf("error %q does not name the run", err)
	}
}

func testAddResultsDuplicateCheckpoint(t *testing.T, s store.Store) {
	ctx := context.Background()
	createRun(t, s, newRun("dup", "prod", base))
	if err := s.AddResults(ctx, "dup", results(0, 2)); err != nil {
		t.Fatal(err)
	}
	// CHK-001 again, in a batch with a new checkpoint: the whole batch fails.
	batch := []store.Result{result(2), result(1)}
	err := s.AddResults(ctx, "dup", batch)
	if err == nil {
		t.Fatal("AddResults with a checkpoint already stored: no error")
	}
	if !strings.Contains(err.Error(), "CHK-001") {
		t.Errorf("error %q does not name the checkpoint", err)
	}
	// Twice in one batch fails too.
	if err := s.AddResults(ctx, "dup", []store.Result{result(3), result(3)}); err == nil {
		t.Error("AddResults with a checkpoint twice in a batch: no error")
	}
	got, err := s.Results(ctx, "dup")
	if err != nil {
		t.Fatal(err)
	}
	equalResults(t, got, withSeq("dup", 1, results(0, 2)))
	// The run goes on after a failed batch.
	if err := s.AddResults(ctx, "dup", results(2, 1)); err != nil {
		t.Fatalf("AddResults after a failed batch: %v", err)
	}
	if got, err := s.Results(ctx, "dup"); err != nil || len(got) != 3 || got[2].Seq != 3 {
		t.Errorf("after a failed batch: %d results, %v (want 3, seq 3 last)", len(got), err)
	}
}

func testResultsUnknownRun(t *testing.T, s store.Store) {
	_, err := s.Results(context.Background(), "no-such-run")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Results of an unknown run = %v, want ErrNotFound", err)
	}
}

func testFinishRun(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := newRun("finish", "prod", base)
	createRun(t, s, run)
	rs := results(0, 6)
	if err := s.AddResults(ctx, run.ID, rs); err != nil {
		t.Fatal(err)
	}
	end := base.Add(3*time.Minute + 7)
	run.FinishedAt = &end
	run.State = store.RunCompleted
	run.Verdict = store.VerdictNotReady
	run.Summary = store.Summarize(rs)
	if err := s.FinishRun(ctx, run); err != nil {
		t.Fatalf("FinishRun: %v", err)
	}
	got, err := s.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	equalRun(t, got, run)

	unknown := newRun("no-such-run", "prod", base)
	unknown.FinishedAt, unknown.State, unknown.Verdict = &end, store.RunCompleted, store.VerdictReady
	if err := s.FinishRun(ctx, unknown); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishRun of an unknown run = %v, want ErrNotFound", err)
	}
}

func testRecoverInterrupted(t *testing.T, s store.Store) {
	ctx := context.Background()

	crashed := newRun("crashed", "prod", base)
	crashed.Host, crashed.PID = "host-a", 100
	createRun(t, s, crashed)
	rs := results(0, 7) // each starts a second after the one before
	if err := s.AddResults(ctx, crashed.ID, rs[:4]); err != nil {
		t.Fatal(err)
	}
	if err := s.AddResults(ctx, crashed.ID, rs[4:]); err != nil {
		t.Fatal(err)
	}

	empty := newRun("crashed-empty", "prod", base)
	empty.Host, empty.PID = "host-a", 101
	createRun(t, s, empty)

	live := newRun("live", "prod", base)
	live.Host, live.PID = "host-a", 200
	createRun(t, s, live)
	if err := s.AddResults(ctx, live.ID, results(0, 2)); err != nil {
		t.Fatal(err)
	}

	end := base.Add(time.Minute)
	done := newRun("done", "prod", base)
	done.Host, done.PID = "host-a", 100 // dead, but finished
	createRun(t, s, done)
	done.State, done.Verdict, done.FinishedAt = store.RunCompleted, store.VerdictReady, &end
	done.Summary = map[store.Status]int{store.StatusPass: 42}
	if err := s.FinishRun(ctx, done); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	asked := map[string]bool{}
	alive := func(host string, pid int) bool {
		mu.Lock()
		defer mu.Unlock()
		asked[fmt.Sprintf("%s/%d", host, pid)] = true
		return host == "host-a" && pid == 200
	}
	before := time.Now()
	ids, err := s.RecoverInterrupted(ctx, alive)
	after := time.Now()
	if err != nil {
		t.Fatalf("RecoverInterrupted: %v", err)
	}
	slices.Sort(ids)
	if want := []string{"crashed", "crashed-empty"}; !slices.Equal(ids, want) {
		t.Errorf("RecoverInterrupted = %v, want %v", ids, want)
	}
	if !asked["host-a/200"] || !asked["host-a/100"] || !asked["host-a/101"] {
		t.Errorf("alive was asked about %v, want host-a/100, /101 and /200", asked)
	}

	got, err := s.GetRun(ctx, "crashed")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.RunInterrupted || got.Verdict != store.VerdictNotReady {
		t.Errorf("crashed run: state %q verdict %q, want interrupted not_ready", got.State, got.Verdict)
	}
	if want := store.Summarize(rs); !reflect.DeepEqual(got.Summary, want) {
		t.Errorf("crashed run summary = %v, want %v", got.Summary, want)
	}
	// Its end is its last stored result: when that started, or ended.
	last := rs[len(rs)-1]
	lastEnd := last.StartedAt.Add(time.Duration(last.DurationMS * float64(time.Millisecond)))
	if got.FinishedAt == nil || got.FinishedAt.Before(last.StartedAt) || got.FinishedAt.After(lastEnd) {
		t.Errorf("crashed run finished_at = %v, want between %v and %v", got.FinishedAt, last.StartedAt, lastEnd)
	}
	if got.FinishedAt != nil && got.FinishedAt.Location() != time.UTC {
		t.Errorf("finished_at location = %s, want UTC", got.FinishedAt.Location())
	}
	// Everything else is untouched.
	want := *crashed
	want.State, want.Verdict, want.FinishedAt, want.Summary = got.State, got.Verdict, got.FinishedAt, got.Summary
	equalRun(t, got, &want)
	if res, err := s.Results(ctx, "crashed"); err != nil {
		t.Fatal(err)
	} else {
		equalResults(t, res, withSeq("crashed", 1, rs))
	}

	got, err = s.GetRun(ctx, "crashed-empty")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.RunInterrupted || got.Verdict != store.VerdictNotReady {
		t.Errorf("empty crashed run: state %q verdict %q", got.State, got.Verdict)
	}
	if want := store.Summarize(nil); !reflect.DeepEqual(got.Summary, want) {
		t.Errorf("empty crashed run summary = %v, want %v", got.Summary, want)
	}
	if got.FinishedAt == nil || got.FinishedAt.Before(before.Add(-time.Second)) || got.FinishedAt.After(after.Add(time.Second)) {
		t.Errorf("empty crashed run finished_at = %v, want about now (%v)", got.FinishedAt, before)
	}

	for _, want := range []*store.Run{live, done} {
		got, err := s.GetRun(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		equalRun(t, got, want)
	}

	// Once recovered, a run is not recovered again.
	ids, err = s.RecoverInterrupted(ctx, func(string, int) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"live"}; !slices.Equal(ids, want) {
		t.Errorf("second RecoverInterrupted (nothing alive) = %v, want %v", ids, want)
	}
}

// testConcurrentAddResults writes to several runs from several goroutines
// while others read; run it under -race.
func testConcurrentAddResults(t *testing.T, s store.Store) {
	ctx := context.Background()
	const (
		writers = 4
		batches = 8
		perTx   = 5
	)
	for w := range writers {
		createRun(t, s, newRun(fmt.Sprintf("conc-%d", w), "prod", base.Add(time.Duration(w)*time.Second)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches+64)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("conc-%d", w)
			for b := range batches {
				if err := s.AddResults(ctx, id, results(b*perTx, perTx)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.ListRuns(ctx, store.RunFilter{Limit: 2}); err != nil {
				errs <- err
				return
			}
			rs, err := s.Results(ctx, "conc-0")
			if err != nil {
				errs <- err
				return
			}
			for i, r := range rs { // a reader sees whole batches, in order
				if r.Seq != i+1 {
					errs <- fmt.Errorf("reader saw seq %d at %d", r.Seq, i)
					return
				}
			}
			if len(rs)%perTx != 0 {
				errs <- fmt.Errorf("reader saw %d results: a partial batch", len(rs))
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range writers {
		id := fmt.Sprintf("conc-%d", w)
		got, err := s.Results(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		equalResults(t, got, withSeq(id, 1, results(0, batches*perTx)))
	}
}

// testConcurrentAddResultsSameRun: seqs handed out concurrently stay unique
// and dense.
func testConcurrentAddResultsSameRun(t *testing.T, s store.Store) {
	ctx := context.Background()
	createRun(t, s, newRun("same", "prod", base))
	const writers, batches, perTx = 4, 5, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := s.AddResults(ctx, "same", results((w*batches+b)*perTx, perTx)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := s.Results(ctx, "same")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*batches*perTx {
		t.Fatalf("got %d results, want %d", len(got), writers*batches*perTx)
	}
	seen := map[string]bool{}
	for i, r := range got {
		if r.Seq != i+1 {
			t.Errorf("result %d has seq %d, want %d", i, r.Seq, i+1)
		}
		seen[r.ID] = true
	}
	if len(seen) != len(got) {
		t.Errorf("%d distinct checkpoints in %d results", len(seen), len(got))
	}
}
