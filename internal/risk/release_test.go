package risk

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestNoisyOr(t *testing.T) {
	for _, tc := range []struct {
		p    []float64
		want float64
	}{{nil, 0}, {[]float64{0.3}, 0.3}, {[]float64{0.5, 0.5}, 0.75}, {[]float64{0.1, 0.2, 1}, 1}} {
		if got := NoisyOr(tc.p); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("NoisyOr(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestOffHours(t *testing.T) {
	for _, tc := range []struct {
		at   string
		want bool
	}{
		{"2026-11-25T10:00:00Z", false}, // Wednesday morning
		{"2026-11-25T08:59:00Z", true},
		{"2026-11-25T17:00:00Z", true},
		{"2026-11-25T16:59:00Z", false},
		{"2026-11-28T11:00:00Z", true}, // Saturday
		{"2026-11-29T11:00:00Z", true}, // Sunday
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		if got := OffHours(at); got != tc.want {
			t.Errorf("OffHours(%s) = %v", tc.at, got)
		}
	}
}

// history draws deployments whose true failure probability is the
// prior's shifted by shift log-odds, plus 1.5 for a database migration.
func history(n int, shift float64, seed uint64) []Deployment {
	rng := rand.New(rand.NewPCG(seed, 7))
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	out := make([]Deployment, n)
	for i := range out {
		prior := rng.NormFloat64() - 1.5
		f := DeployFeatures{Commits: 1 + rng.IntN(20), Migrations: rng.IntN(4) == 0}
		truth := prior + shift
		if f.Migrations {
			truth += 1.5
		}
		out[i] = Deployment{Time: at.Add(time.Duration(i) * time.Hour), PriorLogit: prior, X: f.Vector(),
			Failed: rng.Float64() < sigmoid(truth), Known: true}
	}
	return out
}

func TestTeamModelNeedsHistory(t *testing.T) {
	h := history(MinTeamDeployments-1, 0, 1)
	if ok, why := TeamReady(h); ok || why == "" {
		t.Errorf("ready with %d deployments", len(h))
	}
	if _, err := TrainTeam(h); err == nil {
		t.Error("trained on too short a history")
	}
	h = history(200, 0, 1)
	for i := range h {
		h[i].Failed = false // no failure at all
	}
	if _, err := TrainTeam(h); err == nil {
		t.Error("trained without failures")
	}
}

// A team whose deployments fail more often than the prior says, and more
// when migrations ship: the team model learns both and beats the prior
// on later, held-out slices.
func TestTeamModelLearnsTheTeam(t *testing.T) {
	h := history(1200, 1, 2)
	tm, err := TrainTeam(h[:800])
	if err != nil {
		t.Fatal(err)
	}
	mig := 2 // index of "migrations"
	if DeployFeatureNames()[mig] != "migrations" || tm.Coef[mig] <= 0 || tm.Intercept <= 0 {
		t.Errorf("migration coefficient %.3f, intercept %.3f: want both positive", tm.Coef[mig], tm.Intercept)
	}
	// The explanation's parts sum to the fitted linear predictor: the
	// prior's log-odds as offset, plus intercept, the prior's coefficient
	// and each standardized feature's term.
	d := h[900]
	prior, base, shares := tm.Explain(d)
	s := prior + base
	for _, v := range shares {
		s += v
	}
	fitted := d.PriorLogit + tm.Intercept + tm.PriorCoef*d.PriorLogit
	for j, v := range d.X {
		fitted += tm.Coef[j] * (v - tm.Mean[j]) / tm.Std[j]
	}
	if math.Abs(s-fitted) > 1e-9 || math.Abs(tm.Logit(d)-fitted) > 1e-9 {
		t.Errorf("explanation sums to %v, logit %v, fitted predictor %v", s, tm.Logit(d), fitted)
	}
	w := Wins(EvaluateHistory(h, 200))
	if w.TeamSlices != 5 || w.TeamBetter < 4 || w.TeamBrier >= w.PriorBrier {
		t.Errorf("%+v: want the team model trained on every slice and better on most", w)
	}
	// A team the prior already describes: nothing to correct, and the
	// strong penalty keeps the team model near the prior.
	w = Wins(EvaluateHistory(history(1200, 0, 3), 200))
	if w.TeamBrier > w.PriorBrier*1.05 {
		t.Errorf("%+v: the team model strays from a prior that is right", w)
	}
}

func TestReleasesFromChanges(t *testing.T) {
	m, err := Prior()
	if err != nil {
		t.Fatal(err)
	}
	day := int64(86400)
	t0 := int64(1_700_000_000) / day * day
	rows := []Row{
		{Time: t0 + 3600}, {Time: t0 + 7200, Label: true}, // day 1: two changes, one bad
		{Time: t0 + day + 100},                             // day 2
		{Time: t0 + 3*day + 100}, {Time: t0 + 3*day + 200}, // day 4
	}
	for i := range rows {
		rows[i].X[featLA] = 10
		rows[i].X[2] = 1
	}
	got := ReleasesFromChanges(m.Model, rows, 24*time.Hour)
	if len(got) != 3 {
		t.Fatalf("%d releases, want 3", len(got))
	}
	if !got[0].Failed || got[1].Failed || got[2].Failed {
		t.Errorf("failed: %v %v %v, want true false false", got[0].Failed, got[1].Failed, got[2].Failed)
	}
	if got[0].X[0] != math.Log1p(2) || got[1].X[0] != math.Log1p(1) {
		t.Errorf("commits feature %v %v", got[0].X[0], got[1].X[0])
	}
	// Two changes are riskier together than one alone.
	if !(got[0].PriorLogit > got[1].PriorLogit) {
		t.Errorf("prior logits %v (2 changes) vs %v (1)", got[0].PriorLogit, got[1].PriorLogit)
	}
	if got[1].X[6] != math.Log1p(got[1].Time.Sub(got[0].Time).Hours()) {
		t.Errorf("since_previous %v", got[1].X[6])
	}
}

// load_tight reads the load test's headroom (loadtest's
// ThresholdResult.Headroom): 0 with room or no test, 1 at a limit, 2 at
// most.
func TestLoadTight(t *testing.T) {
	tight := func(h float64, has bool) float64 {
		return DeployFeatures{LoadHeadroom: h, HasLoadTest: has}.Vector()[NumDeployFeatures-1]
	}
	if tight(0.9, false) != 0 || math.Abs(tight(0.25, true)-0.75) > 1e-12 || tight(-5, true) != 2 || tight(3, true) != 0 {
		t.Errorf("load_tight: %v %v %v %v", tight(0.9, false), tight(0.25, true), tight(-5, true), tight(3, true))
	}
}

func TestRecommendations(t *testing.T) {
	p, err := Prior()
	if err != nil {
		t.Fatal(err)
	}
	var x [NumFeatures]float64
	x[featLA], x[2] = 5000, 40 // a big change in 40 files
	in := &ReleaseInput{History: NewHistory([][NumFeatures]float64{x}), Index: []int{0}, Commits: []CommitRisk{{Hash: "abc", Subject: "big"}},
		Values: map[string]float64{"LA": 5000, "NF": 40}, At: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), RunID: "r1",
		Warnings: []string{"perf.x"}, NoRestoreTest: "run r1 has no restore checkpoint",
		Deploy: DeployFeatures{SignoffsMissing: 2, HasLoadTest: true, LoadHeadroom: -0.2}}
	recs := strings.Join(Predict(p, nil, "", in).Recommendations, "\n")
	for _, want := range []string{"Split the release", "failing warnings of run r1: perf.x", "Run a restore test", "2 roles of the approval matrix have no fresh sign-off",
		"broke a threshold by 20%"} {
		if !strings.Contains(recs, want) {
			t.Errorf("no %q in:\n%s", want, recs)
		}
	}
	if strings.Contains(recs, "staffed hours") {
		t.Errorf("Wednesday 10:00 is staffed:\n%s", recs)
	}
	in.BlockingFailures = []string{"sec.tls"}
	if recs := Predict(p, nil, "", in).Recommendations; !strings.HasPrefix(recs[0], "Do not deploy: blocking checkpoints fail in run r1: sec.tls") {
		t.Errorf("first recommendation %q", recs[0])
	}
}

// ReleaseLogit is PriorLogit's log-odds, bit for bit, without the
// explanations a team history does not read.
func TestReleaseLogitIsPriorLogits(t *testing.T) {
	prior, err := Prior()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	raw := make([][NumFeatures]float64, 60)
	for i := range raw {
		for j := range raw[i] {
			raw[i][j] = float64(rng.IntN(200))
		}
		raw[i][3] = rng.Float64() // entropy
	}
	in := &ReleaseInput{History: NewHistory(raw), Index: []int{40, 47, 59}, Commits: make([]CommitRisk, 3)}
	_, want := PriorLogit(prior.Model, in)
	if got := ReleaseLogit(prior.Model, in); got != want {
		t.Errorf("ReleaseLogit %v, PriorLogit %v", got, want)
	}
}
