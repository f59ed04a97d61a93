package main

import (
	"encoding/json"
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
	if code != 0 || !strings.Contains(out, "prf risk eval") || !strings.Contains(out, "not built yet") {
		t.Errorf("exit %d:\n%s", code, out)
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
