package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/store"
)

// deploymentsDB runs prf deployments against a database of its own.
type deploymentsDB struct {
	dir, db string
}

func newDeploymentsDB(t *testing.T) *deploymentsDB {
	dir := t.TempDir()
	return &deploymentsDB{dir: dir, db: filepath.Join(dir, "prf.db")}
}

func (e *deploymentsDB) prf(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return prf(t, append(append([]string{"deployments"}, args...), "--db", e.db)...)
}

// list returns what list -o json prints for the extra args.
func (e *deploymentsDB) list(t *testing.T, args ...string) []store.Deployment {
	t.Helper()
	code, out, errOut := e.prf(t, append([]string{"list", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("list %v: exit %d\n%s", args, code, errOut)
	}
	var ds []store.Deployment
	if err := json.Unmarshal([]byte(out), &ds); err != nil || ds == nil {
		t.Fatalf("list %v -o json: %v (want a JSON array)\n%s", args, err, out)
	}
	return ds
}

func toRevs(ds []store.Deployment) string {
	revs := make([]string, len(ds))
	for i, d := range ds {
		revs[i] = d.ToRev
	}
	return strings.Join(revs, " ")
}

func TestDeploymentsRecordList(t *testing.T) {
	e := newDeploymentsDB(t)
	if ds := e.list(t); len(ds) != 0 {
		t.Fatalf("empty database lists %v", ds)
	}
	code, out, errOut := e.prf(t, "record", "--service", "checkout", "--env", "prod", "--from", "9f2c1e0aa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
		"--to", "4b7d2a1", "--time", "2026-11-20T15:05:00+01:00", "--outcome", "Rolled_Back", "--run", "20261120-140000-abcdef", "--note", "p99 doubled")
	if code != 0 {
		t.Fatalf("record: exit %d\n%s", code, errOut)
	}
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "20261120-140500-") {
		t.Errorf("record printed %q, want the new id alone, time-ordered", out)
	}
	before := time.Now()
	if code, _, errOut := e.prf(t, "record", "--service", "checkout", "--env", "prod", "--to", "c03e9d8", "--outcome", "unknown"); code != 0 {
		t.Fatalf("record with the default time: exit %d\n%s", code, errOut)
	}

	ds := e.list(t)
	if len(ds) != 2 {
		t.Fatalf("listed %d deployments, want 2: %+v", len(ds), ds)
	}
	want := store.Deployment{ID: id, Service: "checkout", Environment: "prod", FromRev: "9f2c1e0aa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", ToRev: "4b7d2a1",
		Time: time.Date(2026, 11, 20, 14, 5, 0, 0, time.UTC), Outcome: store.OutcomeRolledBack, RunID: "20261120-140000-abcdef", Note: "p99 doubled"}
	got := ds[0]
	if got.RecordedAt.IsZero() || !got.Time.Equal(want.Time) {
		t.Errorf("times: %v, recorded %v", got.Time, got.RecordedAt)
	}
	got.Time, got.RecordedAt, want.Time = time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("listed\n%+v\nwant\n%+v", got, want)
	}
	if d := ds[1]; d.Outcome != store.OutcomeUnknown || d.FromRev != "" || d.Time.Before(before.Add(-time.Second)) {
		t.Errorf("second deployment %+v: want unknown, no from_rev, deployed now", d)
	}

	// The table shortens a full hash, and counts the failure rate over the
	// known outcomes only.
	code, out, _ = e.prf(t, "list")
	for _, s := range []string{"9f2c1e0..4b7d2a1", "rolled_back", "20261120-140000-abcdef", "2026-11-20 14:05:00",
		"checkout prod: 2 deployments, failure rate 100.0% (1 of 1 with a known outcome)"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("list: exit %d, want %q in\n%s", code, s, out)
		}
	}
}

func TestDeploymentsRecordBadInput(t *testing.T) {
	e := newDeploymentsDB(t)
	base := []string{"record", "--service", "api", "--env", "prod", "--to", "abc"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing flags", []string{"record", "--service", "api"}, "give --env, --to, --outcome"},
		{"bad outcome", append(base, "--outcome", "boom"), `--outcome: want success, rolled_back, incident or unknown, got "boom"`},
		{"bad time", append(base, "--outcome", "success", "--time", "yesterday"), `--time: want RFC 3339`},
		{"no run to be last", append(base, "--outcome", "success", "--run", "last"), "no runs stored yet"},
		{"argument", append(base, "--outcome", "success", "extra"), `unknown command "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := e.prf(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want 2 and %q in\n%s", code, tc.want, errOut)
			}
		})
	}
	if ds := e.list(t); len(ds) != 0 {
		t.Errorf("bad input stored %v", ds)
	}
}

const goodDeploymentsCSV = "\ufeffTo_Rev,SERVICE,env,time,outcome,from_rev,note,id,run_id\n" +
	"v2,api,prod,2026-11-02T10:00:00Z,success,v1,,a1,\n" +
	"v3,api,prod,1793700000,ROLLED_BACK,v2,\"p99, doubled\",,r1\n" + // 2026-11-03T10:00:00Z
	"v1,web,staging,2026-11-01 09:30:00,incident,,,,\n"

func TestDeploymentsImport(t *testing.T) {
	e := newDeploymentsDB(t)
	file := writeFile(t, e.dir, "history.csv", goodDeploymentsCSV)

	code, out, errOut := e.prf(t, "import", file, "--dry-run")
	if code != 0 || !strings.Contains(out, "3 deployments, all valid (dry run: nothing imported)") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if ds := e.list(t); len(ds) != 0 {
		t.Fatalf("dry run stored %v", ds)
	}

	code, out, errOut = e.prf(t, "import", file)
	if code != 0 || !strings.Contains(out, "imported 3 deployments from "+file) {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	ds := e.list(t)
	if toRevs(ds) != "v1 v2 v3" {
		t.Fatalf("imported, oldest first: %s", toRevs(ds))
	}
	for i, want := range []struct {
		svc, env, from, outcome, note, run, id string
		at                                     time.Time
	}{
		{"web", "staging", "", store.OutcomeIncident, "", "", "", time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)},
		{"api", "prod", "v1", store.OutcomeSuccess, "", "", "a1", time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)},
		{"api", "prod", "v2", store.OutcomeRolledBack, "p99, doubled", "r1", "", time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)},
	} {
		d := ds[i]
		if d.Service != want.svc || d.Environment != want.env || d.FromRev != want.from || d.Outcome != want.outcome ||
			d.Note != want.note || d.RunID != want.run || !d.Time.Equal(want.at) || (want.id != "" && d.ID != want.id) || d.ID == "" {
			t.Errorf("deployment %d: %+v, want %+v", i, d, want)
		}
	}

	// Again: the ids in the file are stored already, and nothing is added.
	code, _, errOut = e.prf(t, "import", file)
	if code != 2 || !strings.Contains(errOut, file+`:2:46: column "id": deployment "a1" is already stored; nothing imported`) {
		t.Errorf("import again: exit %d\n%s", code, errOut)
	}
	if n := len(e.list(t)); n != 3 {
		t.Errorf("%d deployments after a refused import, want 3", n)
	}
}

// Every bad cell is reported at FILE:LINE:COL, and nothing is imported.
func TestDeploymentsImportBad(t *testing.T) {
	const header = "service,environment,to_rev,time,outcome,id\n"
	const good = "api,prod,v1,2026-11-02T10:00:00Z,success,a1\n"
	for _, tc := range []struct {
		name, csv string
		want      []string // after FILE:
	}{
		{"bad outcome", header + good + "api,prod,v2,2026-11-03T10:00:00Z,boom,\n",
			[]string{`3:34: column "outcome": want success, rolled_back, incident or unknown, got "boom"`}},
		{"every bad cell", header + ",prod,,yesterday,ok,a1\n" + good,
			[]string{`2:1: column "service": want a value, got ""`, `2:7: column "to_rev": want a value, got ""`,
				`2:8: column "time": want RFC 3339 (2026-11-25T19:30:12Z), unix seconds or 2006-01-02 15:04:05 (UTC), got "yesterday"`,
				`2:18: column "outcome": want success, rolled_back, incident or unknown, got "ok"`,
				`3:42: column "id": "a1" is also the id on line 2`}},
		{"column named as written", "Service,ENV,to_rev,time,outcome\napi,,v1,2026-11-02T10:00:00Z,success\n",
			[]string{`2:5: column "ENV": want a value, got ""`}},
		{"field count", header + good + "api,prod\n", []string{`3:1: 2 fields, want 6 as in the header`}},
		{"unknown and missing columns", "service,env,rev,time\n" + "api,prod,v1,2026-11-02T10:00:00Z\n",
			[]string{`1:1: missing column(s) to_rev, outcome`, `1:13: unknown column "rev"`}},
		{"column twice", "service,env,environment,to_rev,time,outcome\n",
			[]string{`1:13: column "environment" again (env and environment are the same column)`}},
		{"empty file", "", []string{`1:1: empty file: want a header row`}},
		{"quote", header + "api,prod,v\"1,2026-11-02T10:00:00Z,success,\n", []string{`2:11: bare " in non-quoted-field`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDeploymentsDB(t)
			file := writeFile(t, e.dir, "bad.csv", tc.csv)
			for _, dry := range []bool{true, false} {
				args := []string{"import", file}
				if dry {
					args = append(args, "--dry-run")
				}
				code, out, errOut := e.prf(t, args...)
				if code != 2 || out != "" || !strings.Contains(errOut, "nothing imported") {
					t.Errorf("%v: exit %d, want 2 and nothing imported\n%s%s", args, code, out, errOut)
				}
				for _, w := range tc.want {
					if !strings.Contains(errOut, file+":"+w) {
						t.Errorf("%v: want %q in\n%s", args, file+":"+w, errOut)
					}
				}
			}
			if ds := e.list(t); len(ds) != 0 {
				t.Errorf("a bad file stored %v", ds)
			}
		})
	}
}

func TestDeploymentsOutcome(t *testing.T) {
	e := newDeploymentsDB(t)
	_, out, _ := e.prf(t, "record", "--service", "api", "--env", "prod", "--to", "v1", "--outcome", "unknown", "--note", "by CI")
	id := strings.TrimSpace(out)

	if code, out, errOut := e.prf(t, "outcome", id, "success"); code != 0 || out != "deployment "+id+": success\n" {
		t.Fatalf("outcome: exit %d\n%s%s", code, out, errOut)
	}
	if d := e.list(t)[0]; d.Outcome != store.OutcomeSuccess || d.Note != "by CI" {
		t.Errorf("after outcome success: %+v, want success with the note kept", d)
	}
	if code, _, errOut := e.prf(t, "outcome", id, "incident", "--note", "INC-7"); code != 0 {
		t.Fatalf("outcome with a note: exit %d\n%s", code, errOut)
	}
	if d := e.list(t)[0]; d.Outcome != store.OutcomeIncident || d.Note != "INC-7" {
		t.Errorf("after outcome incident --note: %+v", d)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown id", []string{"outcome", "nope", "success"}, `no deployment "nope"`},
		{"bad outcome", []string{"outcome", id, "fine"}, `want success, rolled_back, incident or unknown, got "fine"`},
		{"one argument", []string{"outcome", id}, "accepts 2 arg(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, errOut := e.prf(t, tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want 2 and %q in\n%s", code, tc.want, errOut)
			}
		})
	}
	if d := e.list(t)[0]; d.Outcome != store.OutcomeIncident {
		t.Errorf("refused updates changed the outcome: %+v", d)
	}
}

func TestDeploymentsListFilters(t *testing.T) {
	e := newDeploymentsDB(t)
	now := time.Now().UTC()
	day := func(n int) string { return now.AddDate(0, 0, -n).Format(time.RFC3339) }
	csv := "service,env,to_rev,time,outcome\n" +
		"api,prod,a40," + day(40) + ",incident\n" +
		"api,prod,a10," + day(10) + ",success\n" +
		"api,staging,s5," + day(5) + ",rolled_back\n" +
		"web,prod,w3," + day(3) + ",unknown\n" +
		"api,prod,a1," + day(1) + ",success\n"
	if code, _, errOut := e.prf(t, "import", writeFile(t, e.dir, "h.csv", csv)); code != 0 {
		t.Fatalf("import: exit %d\n%s", code, errOut)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"all", nil, "a40 a10 s5 w3 a1"},
		{"service", []string{"--service", "api"}, "a40 a10 s5 a1"},
		{"env", []string{"--env", "prod"}, "a40 a10 w3 a1"},
		{"service and env", []string{"--service", "api", "--env", "prod"}, "a40 a10 a1"},
		{"since days", []string{"--since", "7d"}, "s5 w3 a1"},
		{"since hours", []string{"--since", "100h"}, "w3 a1"},
		{"since date", []string{"--since", now.AddDate(0, 0, -11).Format(time.DateOnly)}, "a10 s5 w3 a1"},
		{"limit keeps the latest", []string{"--limit", "2"}, "w3 a1"},
		{"everything", []string{"--service", "api", "--since", "30d", "-n", "2"}, "s5 a1"},
		{"none", []string{"--service", "db"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := toRevs(e.list(t, tc.args...)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	code, out, _ := e.prf(t, "list", "--service", "api")
	for _, s := range []string{
		"api prod: 3 deployments, failure rate 33.3% (1 of 3 with a known outcome)",
		"api staging: 1 deployment, failure rate 100.0% (1 of 1 with a known outcome)",
	} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("list --service api: exit %d, want %q in\n%s", code, s, out)
		}
	}
	if _, out, _ := e.prf(t, "list", "--service", "web"); !strings.Contains(out, "web prod: 1 deployment, no known outcome") {
		t.Errorf("list --service web:\n%s", out)
	}
	for _, args := range [][]string{{"--since", "soon"}, {"-o", "yaml"}, {"--limit", "-1"}} {
		if code, _, errOut := e.prf(t, append([]string{"list"}, args...)...); code != 2 {
			t.Errorf("list %v: exit %d, want 2\n%s", args, code, errOut)
		}
	}
}
