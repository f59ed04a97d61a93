package rollout

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/yamlx"
)

func TestReadDeploymentsCSV(t *testing.T) {
	src := "\ufeffService, ENV ,from_rev,to_rev,time,outcome,run_id,note,id\n" +
		"api,prod,,v1,2026-11-02T11:00:00+01:00,Success,,,d1\n" +
		"api,prod,v1,v2,1763900000,rolled_back,20261123-120000-abcdef,\"p99, doubled\",\n" +
		"web,staging,,w1,2026-11-24 08:30:00,unknown,,,d3\n"
	ds, idPos, err := ReadDeploymentsCSV("h.csv", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Deployment{
		{ID: "d1", Service: "api", Environment: "prod", ToRev: "v1", Time: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC), Outcome: store.OutcomeSuccess},
		{Service: "api", Environment: "prod", FromRev: "v1", ToRev: "v2", Time: time.Unix(1763900000, 0).UTC(), Outcome: store.OutcomeRolledBack, RunID: "20261123-120000-abcdef", Note: "p99, doubled"},
		{ID: "d3", Service: "web", Environment: "staging", ToRev: "w1", Time: time.Date(2026, 11, 24, 8, 30, 0, 0, time.UTC), Outcome: "unknown"},
	}
	if len(ds) != len(want) {
		t.Fatalf("%d deployments, want %d", len(ds), len(want))
	}
	for i := range want {
		if ds[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i+2, ds[i], want[i])
		}
	}
	if p := idPos["d3"]; p.Line != 4 || p.Col != 47 {
		t.Errorf("d3 at %d:%d, want 4:47", p.Line, p.Col)
	}
}

// FuzzReadDeploymentsCSV: any input is read or refused with positions,
// never a panic; what is read holds every required value and a known
// outcome, and no id twice.
func FuzzReadDeploymentsCSV(f *testing.F) {
	f.Add("service,env,to_rev,time,outcome\napi,prod,v1,2026-11-02T10:00:00Z,success\n")
	f.Add("service,environment,to_rev,time,outcome,id\napi,prod,v1,1763900000,incident,a\napi,prod,v2,1763900001,success,a\n")
	f.Add("service,env,rev\n")
	f.Add("")
	f.Add("service,env,to_rev,time,outcome\n\"api,prod\n")
	f.Fuzz(func(t *testing.T, src string) {
		ds, idPos, err := ReadDeploymentsCSV("f.csv", strings.NewReader(src))
		if err != nil {
			var errs yamlx.Errors
			if errors.As(err, &errs) {
				for _, e := range errs {
					if e.Line < 1 || e.Col < 1 || e.File != "f.csv" {
						t.Fatalf("error without a position: %+v", e)
					}
				}
			}
			return
		}
		ids := 0
		for _, d := range ds {
			if d.Service == "" || d.Environment == "" || d.ToRev == "" || d.Time.IsZero() || !slices.Contains(store.Outcomes, d.Outcome) {
				t.Fatalf("read an incomplete deployment %+v", d)
			}
			if d.ID != "" {
				ids++
			}
		}
		if ids != len(idPos) {
			t.Fatalf("%d ids, %d positions: an id was read twice", ids, len(idPos))
		}
	})
}
