package risk

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// ReleaseInput is a release as predict reads it: the repository's history
// of change metrics (oldest first, shared by every release of it), where
// the release's commits stand in it, and what the deployment adds.
type ReleaseInput struct {
	History *History
	Index   []int        // the release's commits, positions in History
	Commits []CommitRisk // their hash, subject, author and time
	// Values are the release-level value of each metric (by name) that a
	// factor shows: sums, distinct counts, or the least experienced author.
	Values map[string]float64
	Notes  map[string]string // what a value means, by metric name
	Deploy DeployFeatures
	At     time.Time // when the deployment would happen

	// From the readiness run (optional).
	RunID            string
	BlockingFailures []string // checkpoint ids
	Warnings         []string
	NoRestoreTest    string // why the run shows no passing restore test; "" when it does
	// What the release touches, for recommendations.
	Services, MigrationFiles, DependencyManifests []string
	Owners                                        []string // who changed the touched files most before
	Service                                       string
	RecentDeploys, RecentFailures                 int
}

// Prediction is what predict prints.
type Prediction struct {
	// Probability is the model's for the release: with the prior, the
	// chance that at least one of its commits induces a defect.
	Probability float64 `json:"probability"`
	Level       string  `json:"level"`
	// LevelFrom says which probability the level cuts: the riskiest
	// commit's with the prior (whose cut points are per change), the
	// release's with the team model (cut on the team's releases).
	LevelFrom string `json:"level_from"`
	Levels    Levels `json:"levels"`
	// Model is "prior" (the embedded model trained on public change data)
	// or "team" (the prior corrected by this team's deployments); Why
	// says why the prior alone predicts.
	Model            string       `json:"model"`
	Why              string       `json:"why,omitempty"`
	PriorProbability float64      `json:"prior_probability"`
	Commits          []CommitRisk `json:"riskiest_commits"`
	Factors          []Factor     `json:"factors"`
	DeployFactors    []Factor     `json:"deployment_factors,omitempty"`
	Recommendations  []string     `json:"recommendations"`
	NCommits         int          `json:"commits"`
}

// PriorLogit scores a release's commits with a per-change model and
// returns the scored commits and the release's log-odds (noisy-OR).
func PriorLogit(m *Model, in *ReleaseInput) ([]CommitRisk, float64) {
	raw, ranked := make([][NumFeatures]float64, len(in.Index)), make([][NumFeatures]float64, len(in.Index))
	for i, k := range in.Index {
		raw[i], ranked[i] = in.History.Raw[k], in.History.Raw[k]
		if m.Ranked {
			ranked[i] = in.History.Ranked[k]
		}
	}
	commits := ScoreCommits(m, in.Commits, raw, ranked)
	p := make([]float64, len(commits))
	for i := range commits {
		p[i] = commits[i].Prob
	}
	return commits, Logit(NoisyOr(p))
}

// ReleaseLogit is PriorLogit's log-odds alone, without explaining each
// commit: what a team history needs of each past release.
func ReleaseLogit(m *Model, in *ReleaseInput) float64 {
	p := make([]float64, len(in.Index))
	for i, k := range in.Index {
		x := &in.History.Raw[k]
		if m.Ranked {
			x = &in.History.Ranked[k]
		}
		p[i] = m.Prob(x)
	}
	return Logit(NoisyOr(p))
}

// maxShown is how many commits and factors a prediction lists.
const maxShown = 5

// Predict scores a release with the prior, and with the team model when
// one is given, explains the score and recommends what to do.
func Predict(prior *Trained, team *TeamModel, why string, in *ReleaseInput) *Prediction {
	commits, logit := PriorLogit(prior.Model, in)
	p := &Prediction{PriorProbability: sigmoid(logit), Model: "prior", Why: why, Levels: prior.Levels, NCommits: len(commits)}
	p.Probability = p.PriorProbability
	d := Deployment{PriorLogit: logit, X: in.Deploy.Vector()}
	if team != nil {
		p.Model, p.Why, p.Levels = "team", "", team.Levels
		p.Probability = team.Prob(d)
		_, _, shares := team.Explain(d)
		for j, n := range DeployFeatureNames() {
			p.DeployFactors = append(p.DeployFactors, Factor{Name: n, Value: d.X[j], Share: shares[j]})
		}
		sortFactors(p.DeployFactors)
		p.DeployFactors = p.DeployFactors[:min(maxShown, len(p.DeployFactors))]
	}
	slices.SortStableFunc(commits, func(a, b CommitRisk) int { return cmp.Compare(b.Prob, a.Prob) })
	if team != nil {
		p.Level, p.LevelFrom = p.Levels.Level(p.Probability), "release"
	} else {
		p.Level, p.LevelFrom = p.Levels.Level(commits[0].Prob), "riskiest_commit"
	}
	p.Factors = ReleaseFactors(commits)
	for i := range p.Factors {
		p.Factors[i].Value = in.Values[p.Factors[i].Name]
		p.Factors[i].Note = in.Notes[p.Factors[i].Name]
	}
	p.Factors = p.Factors[:min(maxShown, len(p.Factors))]
	p.Commits = commits[:min(maxShown, len(commits))]
	p.Recommendations = recommend(p, in)
	return p
}

// sizeMetrics and experienceMetrics group the factors recommendations
// speak of.
var (
	sizeMetrics       = []string{"LA", "LD", "LT", "NF", "ND", "NS", "Entropy"}
	experienceMetrics = []string{"EXP", "REXP", "SEXP", "NDEV", "NUC", "AGE"}
)

// minShare is the log-odds share from which a factor is worth acting on.
const minShare = 0.05

// recommend turns the top factors and the deployment's context into
// actions, most important first.
func recommend(p *Prediction, in *ReleaseInput) []string {
	var recs []string
	if len(in.BlockingFailures) > 0 {
		recs = append(recs, fmt.Sprintf("Do not deploy: blocking checkpoints fail in run %s: %s.", in.RunID, list(in.BlockingFailures)))
	}
	top := func(names []string) (Factor, bool) {
		for _, f := range p.Factors[:min(3, len(p.Factors))] {
			if slices.Contains(names, f.Name) && f.Share >= minShare {
				return f, true
			}
		}
		return Factor{}, false
	}
	if f, ok := top(sizeMetrics); ok {
		recs = append(recs, fmt.Sprintf("Split the release: %d commits change %.0f lines (+%.0f −%.0f) in %.0f files across %s; %s adds the most risk. Ship the riskiest commit (%s) on its own.",
			p.NCommits, in.Values["LA"]+in.Values["LD"], in.Values["LA"], in.Values["LD"], in.Values["NF"], plural(len(in.Services), "service"), f.Name, short(p.Commits)))
	}
	// Experience raises the risk here only when it is low: a high rank
	// with a positive share means experienced authors making big changes.
	if f, ok := top(experienceMetrics); ok && len(p.Commits) > 0 {
		if r, ranked := p.Commits[0].Ranks[f.Name]; ranked && r < 0.5 {
			who := "someone who has changed these files before"
			if len(in.Owners) > 0 {
				who = "one who knows these files: " + list(in.Owners)
			}
			recs = append(recs, fmt.Sprintf("Add a reviewer, %s: the riskiest commit's %s is below %.0f%% of the project's recent commits (%s).", who, f.Name, 100*(1-r), fmtValue(f)))
		}
	}
	if OffHours(in.At) {
		recs = append(recs, fmt.Sprintf("Move the deployment into staffed hours (Monday–Friday 09:00–17:00): it is %s.", in.At.Format("Monday 15:04 MST")))
	}
	if len(in.MigrationFiles) > 0 {
		recs = append(recs, fmt.Sprintf("The release ships %s (%s): check they run forward and back, and that the rollback plan covers them.", plural(len(in.MigrationFiles), "database migration"), list(in.MigrationFiles)))
	}
	if len(in.DependencyManifests) > 0 {
		recs = append(recs, fmt.Sprintf("Dependencies changed (%s): review the dependency diff and its security scan.", list(in.DependencyManifests)))
	}
	if len(in.Warnings) > 0 {
		recs = append(recs, fmt.Sprintf("Clear or accept the failing warnings of run %s: %s.", in.RunID, list(in.Warnings)))
	}
	if n := in.Deploy.SignoffsMissing; n > 0 {
		recs = append(recs, fmt.Sprintf("%s of the approval matrix %s no fresh sign-off of run %s: collect them (prf signoff status).", plural(n, "role"), map[bool]string{true: "has", false: "have"}[n == 1], in.RunID))
	}
	if in.Deploy.HasLoadTest && in.Deploy.LoadHeadroom < 0.1 {
		what := fmt.Sprintf("came within %.0f%% of a threshold", 100*max(0, in.Deploy.LoadHeadroom))
		if in.Deploy.LoadHeadroom < 0 {
			what = fmt.Sprintf("broke a threshold by %.0f%%", -100*in.Deploy.LoadHeadroom)
		}
		recs = append(recs, fmt.Sprintf("The load test of run %s %s: find the bottleneck, or deploy with capacity to spare.", in.RunID, what))
	}
	if in.NoRestoreTest != "" {
		recs = append(recs, "Run a restore test before deploying: "+in.NoRestoreTest+".")
	}
	if in.RecentDeploys >= 3 && float64(in.RecentFailures)/float64(in.RecentDeploys) >= 0.3 {
		recs = append(recs, fmt.Sprintf("%d of the last %d deployments of %s failed: deploy behind a canary and watch it.", in.RecentFailures, in.RecentDeploys, in.Service))
	}
	if len(recs) == 0 {
		recs = append(recs, "Nothing stands out: deploy as usual.")
	}
	return recs
}

// FormatValue prints a metric's value: whole numbers whole.
func FormatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func fmtValue(f Factor) string {
	v := f.Name + " " + FormatValue(f.Value)
	if f.Note != "" {
		v += ", " + f.Note
	}
	return v
}

func short(commits []CommitRisk) string {
	if len(commits) == 0 {
		return "none"
	}
	c := commits[0]
	return fmt.Sprintf("%s, %.0f%%", c.Hash[:min(10, len(c.Hash))], 100*c.Prob)
}

// list joins up to 5 names and counts the rest.
func list(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
