package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

const riskJDT = "../../../shared/data/jit/issta21-jitdp/jdt.csv"

func TestRiskEvalJSON(t *testing.T) {
	if _, err := os.Stat(riskJDT); err != nil {
		t.Skipf("public data not here: %v", err)
	}
	code, out, errOut := prf(t, "risk", "eval", "--data", riskJDT, "--split", "time", "--train-frac", "0.8", "--model", "lr", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"auc", "brier", "caught_at", "caught_at_size", "ece", "f1", "model", "n_test", "n_train", "pr_auc", "precision", "recall", "threshold"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v\nwant %v", keys, want)
	}
	var r struct {
		AUC      float64            `json:"auc"`
		CaughtAt map[string]float64 `json:"caught_at"`
		NTest    int                `json:"n_test"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.AUC <= 0.65 || r.NTest != 656 {
		t.Errorf("auc %.3f n_test %d, want > .65 and 656", r.AUC, r.NTest)
	}
	for _, k := range []string{"0.05", "0.10", "0.20"} {
		if _, ok := r.CaughtAt[k]; !ok {
			t.Errorf("caught_at has no %q", k)
		}
	}
	// Same data, same bytes.
	if _, again, _ := prf(t, "risk", "eval", "--data", riskJDT, "--model", "lr", "-o", "json"); again != out {
		t.Errorf("a second eval printed different JSON:\n%s\n%s", out, again)
	}
	code, text, _ := prf(t, "risk", "eval", "--data", riskJDT)
	if code != 0 || !strings.Contains(text, "ROC AUC") || !strings.Contains(text, "by size (LA+LD)") {
		t.Errorf("text output (exit %d):\n%s", code, text)
	}
}

func TestRiskEvalModels(t *testing.T) {
	if _, err := os.Stat(riskJDT); err != nil {
		t.Skipf("public data not here: %v", err)
	}
	for _, model := range []string{"ens", "gbdt", "auto"} {
		code, out, errOut := prf(t, "risk", "eval", "--data", riskJDT, "--model", model, "-o", "json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", model, code, errOut)
		}
		var r struct {
			AUC   float64 `json:"auc"`
			ECE   float64 `json:"ece"`
			Model string  `json:"model"`
			NTest int     `json:"n_test"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.AUC <= 0.65 || r.ECE >= 0.1 || r.NTest != 656 || !strings.HasPrefix(r.Model, model) {
			t.Errorf("%s: auc %.3f ece %.3f n_test %d model %q", model, r.AUC, r.ECE, r.NTest, r.Model)
		}
		if _, again, _ := prf(t, "risk", "eval", "--data", riskJDT, "--model", model, "-o", "json"); again != out {
			t.Errorf("%s: a second eval printed different JSON", model)
		}
	}
}

func TestRiskEvalBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("date,bug\n1,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"gbdt bad data", []string{"--data", bad, "--model", "gbdt"}, bad + ":1: bad change data: missing column(s) ns"},
		{"auto bad data", []string{"--data", bad, "--model", "auto"}, bad + ":1: bad change data: missing column(s) ns"},
		{"unknown model", []string{"--data", bad, "--model", "svm"}, `--model "svm": want ens, lr, gbdt, auto`},
		{"no data", nil, "--data is required"},
		{"random split", []string{"--data", bad, "--split", "random"}, `--split "random": want time`},
		{"train frac", []string{"--data", bad, "--train-frac", "1"}, "--train-frac 1: want 0 < frac < 1"},
		{"output", []string{"--data", bad, "-o", "yaml"}, `-o "yaml": want text or json`},
		{"missing columns", []string{"--data", bad}, bad + ":1: bad change data: missing column(s) ns"},
		{"no file", []string{"--data", filepath.Join(dir, "none.csv")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := prf(t, append([]string{"risk", "eval"}, tc.args...)...)
			if code != exitBadInput || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, exitBadInput, tc.want)
			}
		})
	}
}

func TestRiskHelp(t *testing.T) {
	code, out, _ := prf(t, "risk", "--help")
	for _, sub := range []string{"eval", "train", "predict", "checks"} {
		if code != 0 || !strings.Contains(out, "prf risk "+sub) {
			t.Errorf("exit %d, no prf risk %s:\n%s", code, sub, out)
		}
	}
}

func TestRiskEvalReleases(t *testing.T) {
	kamei := strings.Replace(riskJDT, "issta21-jitdp/jdt.csv", "kamei2013/columba.csv", 1)
	if _, err := os.Stat(kamei); err != nil {
		t.Skipf("public data not here: %v", err)
	}
	code, out, errOut := prf(t, "risk", "eval", "--data", kamei, "--releases", "24h", "--step", "100", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct {
		Deployments int `json:"deployments"`
		Slices      []struct {
			Trained, Test int
			Team          bool
		} `json:"slices"`
		Summary struct {
			TeamSlices int `json:"team_slices"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Deployments < 500 || len(r.Slices) != (r.Deployments-1)/100 || r.Summary.TeamSlices != len(r.Slices) {
		t.Errorf("%d deployments, %d slices, team on %d", r.Deployments, len(r.Slices), r.Summary.TeamSlices)
	}
	for _, bad := range [][]string{{"--releases", "1s"}, {"--releases", "24h", "--step", "2"}} {
		if code, _, errOut := prf(t, append([]string{"risk", "eval", "--data", kamei}, bad...)...); code != exitBadInput {
			t.Errorf("%v: exit %d (%s), want %d", bad, code, errOut, exitBadInput)
		}
	}
}

// A checkpoint that failed in the stored runs starts first with
// --prioritize; with --fail-fast the run stops there and records the rest
// as skipped. prf risk checks shows the order and replays the history.
func TestCheckPrioritizeFailFast(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "broken")
	var b strings.Builder
	b.WriteString("version: 1\nname: prio\ncheckpoints:\n")
	for i := range 6 {
		// cp5, last in the file, fails while the flag file exists.
		cmd := `["true"]`
		if i == 5 {
			cmd = `["test", "!", "-e", "` + flag + `"]`
		}
		fmt.Fprintf(&b, "  - id: cp%d\n    title: T%d\n    domain: application\n    owner: Dev Lead\n    probe: {kind: exec, command: %s}\n    expect: exit_code == 0\n", i, i, cmd)
	}
	cl := writeFile(t, dir, "prf.yaml", b.String())
	db := filepath.Join(dir, "prf.db")
	check := func(extra ...string) (int, []struct{ ID, Status, Skip string }) {
		t.Helper()
		code, out, errOut := prf(t, append([]string{"check", "-q", "--db", db, "-f", cl, "-o", "json", "--concurrency", "1"}, extra...)...)
		var rep struct {
			Results []struct{ ID, Status, Skip string } `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("exit %d: %v\n%s\n%s", code, err, out, errOut)
		}
		return code, rep.Results
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if code, _ := check(); code != 1 {
			t.Fatalf("exit %d, want 1 (cp5 fails)", code)
		}
	}
	code, res := check("--fail-fast")
	if code != 1 || len(res) != 6 {
		t.Fatalf("exit %d, %d results", code, len(res))
	}
	// In file order, cp0..cp4 pass before cp5 fails: nothing is left.
	for _, r := range res {
		if r.Skip != "" {
			t.Errorf("file order: %s skipped (%s)", r.ID, r.Skip)
		}
	}
	code, res = check("--fail-fast", "--prioritize")
	skipped := 0
	for _, r := range res {
		switch {
		case r.ID == "cp5" && r.Status != "fail":
			t.Errorf("cp5: %s", r.Status)
		case r.ID != "cp5" && r.Skip == "fail_fast":
			skipped++
		}
	}
	if code != 1 || skipped != 5 {
		t.Errorf("prioritized: exit %d, %d skipped by --fail-fast, want 5: %+v", code, skipped, res)
	}
	code, out, errOut := prf(t, "risk", "checks", "--db", db, "-o", "json")
	if code != 0 {
		t.Fatalf("risk checks: exit %d: %s", code, errOut)
	}
	var rc struct {
		Checklist string
		Runs      int
		Top       []struct{ ID string }
		Replay    struct{ Runs, Earlier int }
	}
	if err := json.Unmarshal([]byte(out), &rc); err != nil {
		t.Fatal(err)
	}
	if rc.Checklist != "prio" || rc.Runs != 5 || len(rc.Top) == 0 || rc.Top[0].ID != "cp5" || rc.Replay.Runs != 4 || rc.Replay.Earlier != 3 {
		t.Errorf("risk checks: %+v", rc)
	}
	if code, _, _ := prf(t, "risk", "checks", "--db", filepath.Join(dir, "empty.db")); code != exitBadInput {
		t.Errorf("no runs: exit %d", code)
	}
}
