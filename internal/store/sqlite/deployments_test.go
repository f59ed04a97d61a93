package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/store"
)

var deployT0 = time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC)

// deployment i of service svc in env, an hour after the one before.
func deployment(svc, env string, i int, outcome string) store.Deployment {
	return store.Deployment{Service: svc, Environment: env, FromRev: fmt.Sprintf("rev%d", i-1), ToRev: fmt.Sprintf("rev%d", i),
		Time: deployT0.Add(time.Duration(i) * time.Hour), Outcome: outcome}
}

func TestDeploymentsRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	defer db.Close()

	if ds, err := db.Deployments(ctx, store.DeploymentFilter{}); err != nil || ds == nil || len(ds) != 0 {
		t.Fatalf("empty: %v, %v; want an empty, non-nil slice", ds, err)
	}
	recorded := time.Date(2026, 3, 3, 0, 0, 0, 1, time.UTC)
	in := []store.Deployment{
		{ID: "d1", Service: "checkout", Environment: "prod", FromRev: "a1b2c3", ToRev: "d4e5f6",
			Time: time.Date(2026, 3, 2, 12, 0, 0, 5, time.FixedZone("CET", 3600)), Outcome: store.OutcomeIncident,
			RunID: "20260302-095000-abcdef", Note: "pager at 12:10", RecordedAt: recorded},
		{Service: "checkout", Environment: "prod", ToRev: "0fedcba", Time: deployT0, Outcome: store.OutcomeUnknown},
	}
	before := time.Now()
	n, err := db.AddDeployments(ctx, in)
	if err != nil || n != 2 {
		t.Fatalf("AddDeployments = %d, %v", n, err)
	}
	if in[0].ID != "d1" || !strings.HasPrefix(in[1].ID, "20260302-100000-") || len(in[1].ID) != len("20260302-100000-abcdef") {
		t.Errorf("ids written back: %q, %q", in[0].ID, in[1].ID)
	}
	if !in[0].RecordedAt.Equal(recorded) || in[1].RecordedAt.Before(before.Add(-time.Second)) {
		t.Errorf("recorded_at written back: %v, %v", in[0].RecordedAt, in[1].RecordedAt)
	}

	// Reopened: what comes back is what went in, in UTC, oldest first.
	path := db.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Deployments(ctx, store.DeploymentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Deployment{in[1], in[0]}
	if len(got) != len(want) {
		t.Fatalf("got %d deployments, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Time.Location() != time.UTC || g.RecordedAt.Location() != time.UTC {
			t.Errorf("deployment %s: times not in UTC: %v, %v", g.ID, g.Time, g.RecordedAt)
		}
		if !g.Time.Equal(w.Time) || !g.RecordedAt.Equal(w.RecordedAt) {
			t.Errorf("deployment %s: times %v, %v; want %v, %v", g.ID, g.Time, g.RecordedAt, w.Time, w.RecordedAt)
		}
		g.Time, g.RecordedAt, w.Time, w.RecordedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if g != w {
			t.Errorf("deployment %d read back as\n%+v\nwant\n%+v", i, g, w)
		}
	}
}

func TestDeploymentsFilterAndOrder(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	defer db.Close()
	// Stored out of time order, across two imports; 3 and 3b share a time.
	first := []store.Deployment{
		deployment("api", "prod", 3, store.OutcomeSuccess),
		deployment("api", "prod", 1, store.OutcomeRolledBack),
		deployment("api", "staging", 2, store.OutcomeSuccess),
	}
	second := []store.Deployment{
		deployment("web", "prod", 4, store.OutcomeIncident),
		deployment("api", "prod", 3, store.OutcomeUnknown),
		deployment("api", "prod", 5, store.OutcomeSuccess),
	}
	second[1].ToRev = "rev3b"
	for _, batch := range [][]store.Deployment{first, second} {
		if _, err := db.AddDeployments(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	at := func(i int) time.Time { return deployT0.Add(time.Duration(i) * time.Hour) }
	for _, tc := range []struct {
		name string
		f    store.DeploymentFilter
		want []string // to_rev
	}{
		{"all", store.DeploymentFilter{}, []string{"rev1", "rev2", "rev3", "rev3b", "rev4", "rev5"}},
		{"service", store.DeploymentFilter{Service: "api"}, []string{"rev1", "rev2", "rev3", "rev3b", "rev5"}},
		{"service and env", store.DeploymentFilter{Service: "api", Environment: "prod"}, []string{"rev1", "rev3", "rev3b", "rev5"}},
		{"env", store.DeploymentFilter{Environment: "prod"}, []string{"rev1", "rev3", "rev3b", "rev4", "rev5"}},
		{"since inclusive", store.DeploymentFilter{Since: at(3)}, []string{"rev3", "rev3b", "rev4", "rev5"}},
		{"until exclusive", store.DeploymentFilter{Until: at(3)}, []string{"rev1", "rev2"}},
		{"since and until", store.DeploymentFilter{Since: at(2), Until: at(4).Add(time.Nanosecond)}, []string{"rev2", "rev3", "rev3b", "rev4"}},
		{"limit keeps the latest", store.DeploymentFilter{Limit: 3}, []string{"rev3b", "rev4", "rev5"}},
		{"limit and filter", store.DeploymentFilter{Service: "api", Environment: "prod", Limit: 2}, []string{"rev3b", "rev5"}},
		{"limit above count", store.DeploymentFilter{Service: "web", Limit: 10}, []string{"rev4"}},
		{"no match", store.DeploymentFilter{Service: "nope"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := db.Deployments(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, d := range ds {
				got = append(got, d.ToRev)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAddDeploymentsRejects(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	defer db.Close()
	if _, err := db.AddDeployments(ctx, []store.Deployment{{ID: "kept", Service: "api", Environment: "prod", ToRev: "r", Time: deployT0, Outcome: store.OutcomeSuccess}}); err != nil {
		t.Fatal(err)
	}
	good := deployment("api", "prod", 1, store.OutcomeSuccess)
	with := func(f func(*store.Deployment)) store.Deployment { d := good; f(&d); return d }
	for _, tc := range []struct {
		name string
		bad  store.Deployment
		want string
	}{
		{"bad outcome (CHECK)", with(func(d *store.Deployment) { d.Outcome = "boom" }), `outcome "boom": want one of success, rolled_back, incident, unknown`},
		{"empty outcome (CHECK)", with(func(d *store.Deployment) { d.Outcome = "" }), `outcome "": want one of`},
		{"stored id", with(func(d *store.Deployment) { d.ID = "kept" }), "deployment kept: this id is already stored"},
		{"empty service", with(func(d *store.Deployment) { d.Service = "" }), "deployment 2: empty service"},
		{"empty environment", with(func(d *store.Deployment) { d.Environment = "" }), "deployment 2: empty environment"},
		{"empty to_rev", with(func(d *store.Deployment) { d.ToRev = "" }), "deployment 2: empty to_rev"},
		{"no time", with(func(d *store.Deployment) { d.Time = time.Time{} }), "deployment 2: no time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The bad row is second: the good one before it is not kept either.
			n, err := db.AddDeployments(ctx, []store.Deployment{deployment("api", "prod", 2, store.OutcomeSuccess), tc.bad})
			if err == nil || n != 0 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("AddDeployments = %d, %v; want 0 and an error with %q", n, err, tc.want)
			}
			if ds, _ := db.Deployments(ctx, store.DeploymentFilter{}); len(ds) != 1 || ds[0].ID != "kept" {
				t.Errorf("after a failed import: %+v, want only the deployment stored before", ds)
			}
		})
	}

	// The same id twice in one import, and a duplicate is a DuplicateError.
	a, b := good, deployment("api", "prod", 2, store.OutcomeSuccess)
	a.ID, b.ID = "twice", "twice"
	_, err := db.AddDeployments(ctx, []store.Deployment{a, b})
	var de *store.DuplicateError
	if !errors.As(err, &de) || de.ID != "twice" || de.What != "deployment" {
		t.Errorf("same id twice: %v, want a *store.DuplicateError for twice", err)
	}
	// The table's CHECK holds whoever writes.
	if _, err := db.w.ExecContext(ctx, `UPDATE deployments SET outcome = 'boom'`); err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
		t.Errorf("UPDATE to a bad outcome: %v, want the CHECK to refuse it", err)
	}
}

func TestSetDeploymentOutcome(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	defer db.Close()
	d := deployment("api", "prod", 1, store.OutcomeUnknown)
	d.ID, d.Note = "d1", "deployed by CI"
	if _, err := db.AddDeployments(ctx, []store.Deployment{d}); err != nil {
		t.Fatal(err)
	}
	get := func() store.Deployment {
		t.Helper()
		ds, err := db.Deployments(ctx, store.DeploymentFilter{})
		if err != nil || len(ds) != 1 {
			t.Fatalf("Deployments = %v, %v", ds, err)
		}
		return ds[0]
	}
	steps := []struct {
		outcome, note string
		wantNote      string
	}{
		{store.OutcomeSuccess, "", "deployed by CI"},                              // an empty note keeps the note
		{store.OutcomeIncident, "INC-42 two days later", "INC-42 two days later"}, // a note replaces it
	}
	for _, s := range steps {
		if err := db.SetDeploymentOutcome(ctx, "d1", s.outcome, s.note); err != nil {
			t.Fatal(err)
		}
		if got := get(); got.Outcome != s.outcome || got.Note != s.wantNote || got.ToRev != d.ToRev || !got.Time.Equal(d.Time) {
			t.Errorf("after SetDeploymentOutcome(%s, %q): %+v", s.outcome, s.note, got)
		}
	}
	if err := db.SetDeploymentOutcome(ctx, "d1", "boom", "x"); err == nil || !strings.Contains(err.Error(), `outcome "boom": want one of`) {
		t.Errorf("bad outcome: %v", err)
	}
	if got := get(); got.Outcome != store.OutcomeIncident || got.Note != "INC-42 two days later" {
		t.Errorf("a refused update changed the deployment: %+v", got)
	}
	if err := db.SetDeploymentOutcome(ctx, "nope", store.OutcomeSuccess, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
}

func TestDeploymentFailed(t *testing.T) {
	for _, tc := range []struct {
		outcome       string
		failed, known bool
	}{
		{store.OutcomeSuccess, false, true},
		{store.OutcomeRolledBack, true, true},
		{store.OutcomeIncident, true, true},
		{store.OutcomeUnknown, false, false},
		{"boom", false, false},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			if f, k := (store.Deployment{Outcome: tc.outcome}).Failed(); f != tc.failed || k != tc.known {
				t.Errorf("Failed() = %v, %v; want %v, %v", f, k, tc.failed, tc.known)
			}
		})
	}
}

const deployCrashEnv = "PRF_SQLITE_DEPLOY_CRASH_HELPER"

// deployBatch is how many deployments the crash helper imports at once.
const deployBatch = 500

// TestDeployCrashHelper is the child of TestDeployCrash: it imports
// batches of deployments, each batch's ids prefixed by its number, until
// it is killed.
func TestDeployCrashHelper(t *testing.T) {
	path := os.Getenv(deployCrashEnv)
	if path == "" {
		t.Skip("helper process for TestDeployCrash")
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for batch := 1; ; batch++ {
		ds := make([]store.Deployment, deployBatch)
		for i := range ds {
			ds[i] = deployment("api", "prod", i, store.OutcomeSuccess)
			ds[i].ID = fmt.Sprintf("b%06d-%04d", batch, i)
		}
		if _, err := db.AddDeployments(context.Background(), ds); err != nil {
			t.Fatal(err)
		}
	}
}

// A kill -9 in the middle of imports loses no import that another process
// saw committed, and leaves none in part: every batch is stored whole or
// not at all.
func TestDeployCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	ctx := context.Background()
	db := openTemp(t) // migrated before the child starts
	defer db.Close()
	child := exec.Command(os.Args[0], "-test.run=^TestDeployCrashHelper$", "-test.count=1")
	child.Env = append(os.Environ(), deployCrashEnv+"="+db.Path())
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()

	// Watch the child's imports land, and kill it once 20 have, most
	// likely in the middle of the next one.
	count := func() int {
		t.Helper()
		var n int
		if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM deployments`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	seen := 0
	for deadline := time.Now().Add(time.Minute); seen < 20*deployBatch; seen = count() {
		select {
		case err := <-exited:
			t.Fatalf("helper ended by itself after %d deployments: %v", seen, err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d deployments imported in a minute", seen)
		}
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited

	ds, err := db.Deployments(ctx, store.DeploymentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < seen {
		t.Errorf("%d deployments stored after the kill, %d were seen committed before it", len(ds), seen)
	}
	perBatch := map[string]int{}
	for _, d := range ds {
		b, _, _ := strings.Cut(d.ID, "-")
		perBatch[b]++
	}
	for b, n := range perBatch {
		if n != deployBatch {
			t.Errorf("batch %s: %d of %d deployments stored: an import was kept in part", b, n, deployBatch)
		}
	}
	var check string
	if err := db.r.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	t.Logf("%d deployments seen before the kill, %d imports stored whole", seen, len(perBatch))
}
