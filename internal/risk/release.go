package risk

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// A release is what a deployment ships: the commits between the deployed
// revision and the candidate. The per-change model scores each commit;
// the release's prior probability is the chance that at least one of them
// induces a defect (noisy-OR, the commits taken as independent).

// CommitRisk is one commit of a release, scored.
type CommitRisk struct {
	Hash    string    `json:"hash"`
	Subject string    `json:"subject"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
	// Metrics are Kamei's 14 as measured (experience metrics not ranked).
	Metrics map[string]float64 `json:"metrics"`
	Prob    float64            `json:"probability"`
	// Shares split the commit's log-odds by metric (Model.Explain).
	Shares map[string]float64 `json:"shares"`
	Base   float64            `json:"base"`
	// Ranks are the experience metrics as a Ranked model reads them: the
	// share of the project's recent commits below this one's.
	Ranks map[string]float64 `json:"ranks,omitempty"`
}

// ScoreCommits scores each commit of a release with a per-change model.
// x holds each commit's raw metrics; ranked, each commit's metrics as the
// model reads them (History.Ranked when the model is Ranked, else the
// same as x).
func ScoreCommits(m *Model, info []CommitRisk, x, ranked [][NumFeatures]float64) []CommitRisk {
	out := slices.Clone(info)
	names := FeatureNames()
	for i := range out {
		c := &out[i]
		c.Prob = m.Prob(&ranked[i])
		base, shares := m.Explain(&ranked[i])
		c.Base = base
		c.Metrics, c.Shares = map[string]float64{}, map[string]float64{}
		for j, n := range names {
			c.Metrics[n] = x[i][j]
			c.Shares[n] = shares[j]
		}
		if m.Ranked {
			c.Ranks = map[string]float64{}
			for _, j := range experienceFeatures {
				c.Ranks[names[j]] = ranked[i][j]
			}
		}
	}
	return out
}

// NoisyOr is the probability that at least one of independent events of
// probabilities p happens.
func NoisyOr(p []float64) float64 {
	none := 1.0
	for _, v := range p {
		none *= 1 - v
	}
	return 1 - none
}

// ReleaseFactors sums the commits' shares per metric, each commit
// weighted by its share of the release's risk (p_i / Σp), so the
// riskiest commits speak loudest; sorted by share, largest first.
func ReleaseFactors(commits []CommitRisk) []Factor {
	var total float64
	for _, c := range commits {
		total += c.Prob
	}
	if total == 0 {
		return nil
	}
	var fs []Factor
	for _, n := range FeatureNames() {
		f := Factor{Name: n}
		for _, c := range commits {
			f.Share += c.Prob / total * c.Shares[n]
		}
		fs = append(fs, f)
	}
	sortFactors(fs)
	return fs
}

// Factor is one reason behind a prediction: a feature, its value and its
// share of the log-odds (positive: raises the risk).
type Factor struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Share float64 `json:"share"`
	// Note says what the value means, when the name alone does not.
	Note string `json:"note,omitempty"`
}

func sortFactors(fs []Factor) {
	slices.SortStableFunc(fs, func(a, b Factor) int { return cmp.Compare(b.Share, a.Share) })
}

// Deployment features: what the team model adds to the prior's log-odds.
// Each is a number a person can check.
var deployFeatureNames = [...]string{
	"commits",             // log1p of the number of commits in the release
	"churn",               // log1p of lines added plus deleted
	"migrations",          // 1 when database migrations ship
	"dependencies",        // 1 when a dependency manifest changed
	"config_only",         // 1 when only configuration changed
	"off_hours",           // 1 outside Monday–Friday 09:00–17:00 (deployer's clock)
	"since_previous",      // log1p of hours since the service's previous deployment
	"recent_failure_rate", // rolled back or incident, among the last 10 known outcomes
	"blocking_failures",   // log1p of failed blocking checkpoints in the run
	"warnings",            // log1p of warnings in the run
	"waived",              // log1p of checkpoints disabled (waived) in the run
	"signoffs_missing",    // log1p of approval roles without a fresh sign-off of the run
	"load_tight",          // how close the run's load test came to its thresholds: 0 with room (or none), 1 at a limit, more past it
}

// NumDeployFeatures is the number of deployment features.
const NumDeployFeatures = len(deployFeatureNames)

// DeployFeatureNames returns the deployment features in vector order.
func DeployFeatureNames() []string { return deployFeatureNames[:] }

// Deployment is one deployment as the team model sees it.
type Deployment struct {
	Time time.Time
	// PriorLogit is the prior's log-odds for the release (logit of the
	// noisy-OR of its commits).
	PriorLogit float64
	X          [NumDeployFeatures]float64
	// Failed: rolled back or incident. Known: the outcome is known.
	Failed, Known bool
}

// DeployFeatures fills the deployment feature vector from plain counts.
type DeployFeatures struct {
	Commits, Churn                     int
	Migrations, Dependencies           bool
	ConfigOnly, OffHours               bool
	SincePrevious                      time.Duration // 0: no previous deployment
	RecentFailureRate                  float64
	BlockingFailures, Warnings, Waived int
	SignoffsMissing                    int
	// LoadHeadroom is the load test's smallest margin to a threshold, as
	// a share of the limit (0.25: 25% below a "<" limit; negative: past
	// it); HasLoadTest says whether the run had one.
	LoadHeadroom float64
	HasLoadTest  bool
}

// Vector is the features in model order.
func (f DeployFeatures) Vector() [NumDeployFeatures]float64 {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	l := func(v int) float64 { return math.Log1p(float64(max(0, v))) }
	return [NumDeployFeatures]float64{
		l(f.Commits), l(f.Churn), b(f.Migrations), b(f.Dependencies), b(f.ConfigOnly), b(f.OffHours),
		math.Log1p(max(0, f.SincePrevious.Hours())), f.RecentFailureRate,
		l(f.BlockingFailures), l(f.Warnings), l(f.Waived), l(f.SignoffsMissing), f.loadTight(),
	}
}

// loadTight maps the load test's headroom to a risk feature: 0 with 100%
// headroom or more (or no load test), 1 at a limit, 2 at twice past it.
func (f DeployFeatures) loadTight() float64 {
	if !f.HasLoadTest {
		return 0
	}
	return math.Min(2, math.Max(0, 1-f.LoadHeadroom))
}

// OffHours reports whether t falls outside Monday–Friday 09:00–17:00 in
// t's own location.
func OffHours(t time.Time) bool {
	wd := t.Weekday()
	return wd == time.Saturday || wd == time.Sunday || t.Hour() < 9 || t.Hour() >= 17
}

// Team history thresholds: below them the prior alone predicts.
const (
	MinTeamDeployments = 30 // with a known outcome
	MinTeamFailures    = 5  // and at least this many of each outcome
)

// TeamLambda is the L2 penalty of the team model on standardized
// features: strong, so that a short history moves the prior a little and
// a long one a lot.
const TeamLambda = 5.0

// TeamModel corrects the prior with a team's own deployment history: a
// logistic regression whose offset is the prior's log-odds, so with no
// evidence it is the prior, and each coefficient says how the team's
// history departs from it.
type TeamModel struct {
	Features  []string  `json:"features"`
	Mean      []float64 `json:"mean"`
	Std       []float64 `json:"std"`
	Coef      []float64 `json:"coef"`
	Intercept float64   `json:"intercept"` // added to the prior's log-odds
	PriorCoef float64   `json:"prior_coef"`
	N         int       `json:"n"`
	Failures  int       `json:"failures"`
	Levels    Levels    `json:"levels"`
}

// TeamReady reports whether a history is large enough for a team model,
// and if not, why.
func TeamReady(history []Deployment) (bool, string) {
	n, f := 0, 0
	for _, d := range history {
		if d.Known {
			n++
			if d.Failed {
				f++
			}
		}
	}
	switch {
	case n < MinTeamDeployments:
		return false, fmt.Sprintf("%d deployments with a known outcome, the team model needs %d", n, MinTeamDeployments)
	case f < MinTeamFailures || n-f < MinTeamFailures:
		return false, fmt.Sprintf("%d failures and %d successes, the team model needs %d of each", f, n-f, MinTeamFailures)
	}
	return true, ""
}

// TrainTeam fits the team model on the deployments with a known outcome.
// The prior's log-odds enter both as the offset and as a feature (its
// coefficient rescales the prior when the team's failures are more or
// less predictable than the public data's). Level cut points are the
// 60th and 90th percentiles of the model's probabilities on the history.
func TrainTeam(history []Deployment) (*TeamModel, error) {
	if ok, why := TeamReady(history); !ok {
		return nil, fmt.Errorf("team model: %s", why)
	}
	var known []Deployment
	for _, d := range history {
		if d.Known {
			known = append(known, d)
		}
	}
	n := len(known)
	d := NumDeployFeatures + 2
	tm := &TeamModel{Features: DeployFeatureNames(), Mean: make([]float64, NumDeployFeatures), Std: make([]float64, NumDeployFeatures), N: n}
	for _, k := range known {
		if k.Failed {
			tm.Failures++
		}
	}
	moments(n, NumDeployFeatures, func(i, j int) float64 { return known[i].X[j] }, tm.Mean, tm.Std)
	z := make([][]float64, n)
	y, w, off := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, k := range known {
		z[i] = make([]float64, d)
		z[i][0] = 1
		z[i][1] = k.PriorLogit
		for j, v := range k.X {
			z[i][2+j] = (v - tm.Mean[j]) / tm.Std[j]
		}
		if k.Failed {
			y[i] = 1
		}
		w[i] = 1
		off[i] = k.PriorLogit
	}
	beta, _, err := irls(z, y, w, off, LROptions{Lambda: TeamLambda})
	if err != nil {
		return nil, fmt.Errorf("team model: %w", err)
	}
	tm.Intercept, tm.PriorCoef, tm.Coef = beta[0], beta[1], beta[2:]
	p := make([]float64, n)
	for i, k := range known {
		p[i] = tm.Prob(k)
	}
	tm.Levels = levelsFrom(p)
	return tm, nil
}

// Explain splits the team model's log-odds: the prior's (rescaled) part,
// the intercept, and one share per deployment feature.
func (tm *TeamModel) Explain(d Deployment) (prior, base float64, shares []float64) {
	shares = make([]float64, NumDeployFeatures)
	for j, v := range d.X {
		shares[j] = tm.Coef[j] * (v - tm.Mean[j]) / tm.Std[j]
	}
	return (1 + tm.PriorCoef) * d.PriorLogit, tm.Intercept, shares
}

// Logit is the team model's log-odds for a deployment.
func (tm *TeamModel) Logit(d Deployment) float64 {
	prior, base, shares := tm.Explain(d)
	s := prior + base
	for _, v := range shares {
		s += v
	}
	return s
}

// Prob is the team model's probability that the deployment fails.
func (tm *TeamModel) Prob(d Deployment) float64 { return sigmoid(tm.Logit(d)) }

// Logit of a probability, clamped away from 0 and 1.
func Logit(p float64) float64 {
	p = math.Min(math.Max(p, 1e-9), 1-1e-9)
	return math.Log(p / (1 - p))
}

// SliceEval compares the prior with the team model on one held-out time
// slice of a deployment history: the team model is trained on every
// deployment before the slice, both predict the slice.
type SliceEval struct {
	Trained    int     `json:"trained"` // known outcomes before the slice
	Test       int     `json:"test"`
	Failures   int     `json:"failures"` // in the slice
	PriorBrier float64 `json:"prior_brier"`
	TeamBrier  float64 `json:"team_brier"`
	PriorAUC   float64 `json:"prior_auc"` // NaN when the slice has one class
	TeamAUC    float64 `json:"team_auc"`
	// Team: the team model was trained (the history was large enough);
	// otherwise the team column repeats the prior, as predict would.
	Team bool `json:"team"`
}

// EvaluateHistory walks a deployment history in time order in slices of
// size step: for each, it trains the team model on everything before (when
// TeamReady) and scores the slice with it and with the prior. This shows
// from how many deployments the team's own model wins.
func EvaluateHistory(history []Deployment, step int) []SliceEval {
	h := slices.Clone(history)
	slices.SortStableFunc(h, func(a, b Deployment) int { return a.Time.Compare(b.Time) })
	var out []SliceEval
	for lo := step; lo < len(h); lo += step {
		test := h[lo:min(len(h), lo+step)]
		se := SliceEval{}
		for _, d := range h[:lo] {
			if d.Known {
				se.Trained++
			}
		}
		tm, err := TrainTeam(h[:lo])
		se.Team = err == nil
		var pp, tp []float64
		var lab []bool
		for _, d := range test {
			if !d.Known {
				continue
			}
			p := sigmoid(d.PriorLogit)
			t := p
			if tm != nil {
				t = tm.Prob(d)
			}
			pp, tp, lab = append(pp, p), append(tp, t), append(lab, d.Failed)
			if d.Failed {
				se.Failures++
			}
		}
		se.Test = len(lab)
		if se.Test == 0 {
			continue
		}
		se.PriorBrier, se.TeamBrier = Brier(pp, lab), Brier(tp, lab)
		se.PriorAUC, se.TeamAUC = math.NaN(), math.NaN()
		if se.Failures > 0 && se.Failures < se.Test {
			se.PriorAUC, se.TeamAUC = AUC(pp, lab), AUC(tp, lab)
		}
		out = append(out, se)
	}
	return out
}

// ReleasesFromChanges groups a project's changes (time order) into
// releases of the changes made within each period (a day: daily
// deployments), scores them with the per-change prior, and labels a
// release failed when it holds a defect-inducing change. It turns public
// change data into a deployment history with known outcomes, to show how
// the team model departs from the prior; the deployment context the
// change data lacks (migrations, run results) stays zero.
func ReleasesFromChanges(m *Model, rows []Row, period time.Duration) []Deployment {
	ranked := rows
	if m.Ranked {
		ranked = RankHistory(rows)
	}
	var out []Deployment
	var prev time.Time
	for lo := 0; lo < len(rows); {
		start := time.Unix(rows[lo].Time, 0).UTC().Truncate(period)
		hi := lo
		var probs []float64
		failed := false
		churn := 0
		for hi < len(rows) && time.Unix(rows[hi].Time, 0).UTC().Truncate(period).Equal(start) {
			probs = append(probs, m.Prob(&ranked[hi].X))
			failed = failed || rows[hi].Label
			churn += int(rows[hi].X[featLA] + rows[hi].X[featLD])
			hi++
		}
		at := time.Unix(rows[hi-1].Time, 0).UTC()
		f := DeployFeatures{Commits: hi - lo, Churn: churn, OffHours: OffHours(at)}
		if !prev.IsZero() {
			f.SincePrevious = at.Sub(prev)
		}
		// The recent failure rate is left out: with labels known only
		// long after (SZZ), it would leak the future.
		out = append(out, Deployment{Time: at, PriorLogit: Logit(NoisyOr(probs)), X: f.Vector(), Failed: failed, Known: true})
		prev = at
		lo = hi
	}
	return out
}

// HistoryWins sums EvaluateHistory over the slices where the team model
// was trained.
type HistoryWins struct {
	TeamSlices int     `json:"team_slices"`
	TeamBetter int     `json:"team_better"` // slices where its Brier is lower
	TeamBrier  float64 `json:"team_brier"`  // mean over those slices
	PriorBrier float64 `json:"prior_brier"`
	// From is the known-outcome count from which the team model won every
	// later slice; 0 when it never settled.
	From int `json:"from"`
}

// Wins summarises slices.
func Wins(slices []SliceEval) HistoryWins {
	var w HistoryWins
	for _, s := range slices {
		if !s.Team {
			continue
		}
		w.TeamSlices++
		w.TeamBrier += s.TeamBrier
		w.PriorBrier += s.PriorBrier
		if s.TeamBrier < s.PriorBrier {
			w.TeamBetter++
			if w.From == 0 {
				w.From = s.Trained
			}
		} else {
			w.From = 0
		}
	}
	if w.TeamSlices > 0 {
		w.TeamBrier /= float64(w.TeamSlices)
		w.PriorBrier /= float64(w.TeamSlices)
	}
	return w
}
