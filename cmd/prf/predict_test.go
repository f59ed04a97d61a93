package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/risk"
	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/store/sqlite"
)

// gitRepo builds a repository of n commits by two authors, each adding
// i·10 lines to its own file; a few touch a migration or go.mod. It
// returns the directory and the commit hashes, oldest first.
func gitRepo(t *testing.T, n int) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(nil, "init", "-q", "-b", "main")
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	var hashes []string
	for i := range n {
		path := fmt.Sprintf("svc%d/f%d.go", i%3, i)
		if i%7 == 6 {
			path = fmt.Sprintf("db/migrations/%04d_step.sql", i)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(strings.Repeat("line\n", 10*(i+1))), 0o644); err != nil {
			t.Fatal(err)
		}
		author := []string{"ann@example.com", "bob@example.com"}[i%2]
		date := fmt.Sprintf("%d +0000", start.Add(time.Duration(i)*24*time.Hour).Unix())
		git(nil, "add", "-A")
		git([]string{"GIT_AUTHOR_NAME=" + author, "GIT_AUTHOR_EMAIL=" + author, "GIT_AUTHOR_DATE=" + date,
			"GIT_COMMITTER_NAME=ci", "GIT_COMMITTER_EMAIL=ci@example.com", "GIT_COMMITTER_DATE=" + date},
			"commit", "-q", "-m", fmt.Sprintf("change %d", i))
		hashes = append(hashes, git(nil, "rev-parse", "HEAD"))
	}
	return dir, hashes
}

type prediction struct {
	Probability      float64 `json:"probability"`
	Level            string  `json:"level"`
	LevelFrom        string  `json:"level_from"`
	Model            string  `json:"model"`
	Why              string  `json:"why"`
	PriorProbability float64 `json:"prior_probability"`
	Commits          []struct {
		Hash  string             `json:"hash"`
		Prob  float64            `json:"probability"`
		Base  float64            `json:"base"`
		Share map[string]float64 `json:"shares"`
	} `json:"riskiest_commits"`
	Factors         []struct{ Name string } `json:"factors"`
	DeployFactors   []struct{ Name string } `json:"deployment_factors"`
	Recommendations []string                `json:"recommendations"`
	N               int                     `json:"commits"`
}

func predict(t *testing.T, args ...string) prediction {
	t.Helper()
	code, out, errOut := prf(t, append([]string{"risk", "predict", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("predict %v: exit %d: %s", args, code, errOut)
	}
	var p prediction
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return p
}

func TestRiskPredictPrior(t *testing.T) {
	repo, h := gitRepo(t, 8)
	p := predict(t, "--repo", repo, "--from", h[4], "--to", h[7], "--at", "2026-11-28T23:00:00Z")
	if p.Model != "prior" || p.N != 3 || len(p.Commits) != 3 || p.LevelFrom != "riskiest_commit" || p.Level == "" {
		t.Fatalf("%+v", p)
	}
	// The release's probability: at least one of three commits.
	none := 1.0
	for _, c := range p.Commits {
		none *= 1 - c.Prob
	}
	if d := p.Probability - (1 - none); d > 1e-9 || d < -1e-9 {
		t.Errorf("probability %v, want the noisy-OR %v", p.Probability, 1-none)
	}
	// Each commit's shares sum, with its base, to its log-odds.
	for _, c := range p.Commits {
		s := c.Base
		for _, v := range c.Share {
			s += v
		}
		if got := 1 / (1 + math.Exp(-s)); got-c.Prob > 1e-9 || c.Prob-got > 1e-9 {
			t.Errorf("%s: shares give %v, probability %v", c.Hash[:8], got, c.Prob)
		}
	}
	recs := strings.Join(p.Recommendations, "\n")
	for _, want := range []string{"Move the deployment into staffed hours", "db/migrations/0006_step.sql"} {
		if !strings.Contains(recs, want) {
			t.Errorf("recommendations lack %q:\n%s", want, recs)
		}
	}
	// A bigger release of the same kind of commits is riskier.
	if big := predict(t, "--repo", repo, "--from", h[0], "--to", h[7]); big.Probability <= p.Probability {
		t.Errorf("7 commits %.3f, 3 commits %.3f", big.Probability, p.Probability)
	}
	code, text, _ := prf(t, "risk", "predict", "--repo", repo, "--from", h[4], "--to", h[7])
	if code != 0 || !strings.Contains(text, "riskiest commits") || !strings.Contains(text, "recommendations:") {
		t.Errorf("text (exit %d):\n%s", code, text)
	}
}

func TestRiskPredictBadInput(t *testing.T) {
	repo, h := gitRepo(t, 3)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--repo", t.TempDir()}, "not a git repository"},
		{[]string{"--repo", repo, "--from", "nope"}, `"nope"`},
		{[]string{"--repo", repo, "--from", h[2], "--to", h[0]}, "not an ancestor"},
		{[]string{"--repo", repo, "--from", h[2], "--to", h[2]}, "holds no commits"},
		{[]string{"--repo", repo, "--service", "api"}, "--service and --env go together"},
		{[]string{"--repo", repo, "--at", "tomorrow"}, "--at"},
		{[]string{"--repo", repo, "-o", "yaml"}, "want text or json"},
		{[]string{"--repo", repo, "--model", filepath.Join(repo, "none.json")}, "no such file"},
	} {
		code, _, errOut := prf(t, append([]string{"risk", "predict"}, tc.args...)...)
		if code != exitBadInput || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errOut, exitBadInput, tc.want)
		}
	}
}

// With 40 recorded deployments, the big ones failed, the team model
// replaces the prior and names the deployment factors.
func TestRiskPredictTeam(t *testing.T) {
	repo, h := gitRepo(t, 42)
	dir := t.TempDir()
	db := filepath.Join(dir, "prf.db")
	var csv strings.Builder
	csv.WriteString("service,env,from_rev,to_rev,time,outcome\n")
	for i := 1; i < 41; i++ {
		outcome := "success"
		if i%3 == 0 { // every third deployment fails
			outcome = "rolled_back"
		}
		at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		fmt.Fprintf(&csv, "api,prod,%s,%s,%s,%s\n", h[i-1], h[i], at.Format(time.RFC3339), outcome)
	}
	file := writeFile(t, dir, "deploys.csv", csv.String())
	if code, _, errOut := prf(t, "deployments", "import", "--db", db, file); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	p := predict(t, "--db", db, "--repo", repo, "--from", h[40], "--to", h[41], "--service", "api", "--env", "prod", "--at", "2026-03-03T10:00:00Z")
	if p.Model != "team" || p.LevelFrom != "release" || len(p.DeployFactors) == 0 || p.Why != "" {
		t.Fatalf("%+v", p)
	}
	// The same history, evaluated slice by slice in time.
	code, out, errOut := prf(t, "risk", "eval", "--deployments", "--db", db, "--repo", repo, "--service", "api", "--env", "prod", "--step", "10", "-o", "json")
	var ev struct {
		Deployments int
		Slices      []struct{ Trained, Test int }
		Summary     struct {
			TeamSlices int `json:"team_slices"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &ev) != nil || ev.Deployments != 40 || len(ev.Slices) != 3 || ev.Summary.TeamSlices != 1 || ev.Slices[2].Trained != 30 {
		t.Errorf("eval --deployments: exit %d %s\n%s", code, errOut, out)
	}
	if code, _, errOut := prf(t, "risk", "eval", "--deployments", "--db", db, "--repo", repo, "--service", "web", "--env", "prod"); code != exitBadInput || !strings.Contains(errOut, "no recorded deployment") {
		t.Errorf("eval --deployments of an unknown service: exit %d %s", code, errOut)
	}
	// Too short a history: the prior, saying why.
	p = predict(t, "--db", db, "--repo", repo, "--from", h[40], "--to", h[41], "--service", "api", "--env", "prod", "--at", "2026-03-01T15:00:00Z")
	if p.Model != "prior" || !strings.Contains(p.Why, "known outcome") {
		t.Errorf("early: %+v", p)
	}
}

// A load test's stored summary gives the release its tightest headroom.
func TestAddLoadTest(t *testing.T) {
	var f risk.DeployFeatures
	addLoadTest(json.RawMessage(`{"thresholds":[{"threshold":"p(95)<200","value":150},{"threshold":"rate<0.01","value":0.009},{"threshold":"p(99)<500","no_data":true}]}`), &f)
	if !f.HasLoadTest || math.Abs(f.LoadHeadroom-0.1) > 1e-12 {
		t.Errorf("headroom %v (load test %v), want 0.1", f.LoadHeadroom, f.HasLoadTest)
	}
	var none risk.DeployFeatures
	addLoadTest(json.RawMessage(`{"requests": 3}`), &none)
	if none.HasLoadTest {
		t.Error("a summary without thresholds counts as a load test")
	}
}

// A run's blocking failures are the failures and errors that block: a
// shadow checkpoint's failure is stored as fail but stays out of them.
func TestAddRunBlockingFailures(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "prf.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run := &store.Run{ID: "r1", Checklist: "c", StartedAt: time.Now(), State: store.RunRunning}
	if err := st.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	res := func(id string, status store.Status, mode, severity string) store.Result {
		return store.Result{ID: id, Status: status, Mode: mode, Severity: severity, Position: len(id)}
	}
	if err := st.AddResults(ctx, "r1", []store.Result{
		res("blocks", store.StatusFail, "enforce", "blocking"),
		res("errs", store.StatusError, "enforce", "blocking"),
		res("shadowed", store.StatusFail, "shadow", "blocking"),
		res("info-error", store.StatusError, "enforce", "info"),
		res("warns", store.StatusWarn, "warn", "blocking"),
	}); err != nil {
		t.Fatal(err)
	}
	rr, err := newRunReader(st, "")
	if err != nil {
		t.Fatal(err)
	}
	var in risk.ReleaseInput
	if err := rr.addRun(ctx, "r1", &in); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(in.BlockingFailures, " "); got != "blocks errs" || in.Deploy.BlockingFailures != 2 {
		t.Errorf("blocking failures %q (%d), want \"blocks errs\"", got, in.Deploy.BlockingFailures)
	}
	if got := strings.Join(in.Warnings, " "); got != "warns" {
		t.Errorf("warnings %q, want \"warns\"", got)
	}
}
