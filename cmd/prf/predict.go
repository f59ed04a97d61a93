package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/change"
	"github.com/prfhq/prf/internal/risk"
	"github.com/prfhq/prf/internal/signoff"
	"github.com/prfhq/prf/internal/store"
)

type riskPredictOpts struct {
	Repo, From, To string
	Run            string
	Service, Env   string
	At             string
	Model          string
	Output         string
}

func newRiskPredictCmd(d *deps, g *globalOpts) *cobra.Command {
	o := &riskPredictOpts{}
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Predict the risk of deploying a release: probability, level, reasons, what to do",
		Long: `Read the release --from..--to of a local git repository, measure each commit
(Kamei's 14 change metrics, against the whole history before it) and
predict how likely the deployment is to fail.

The prior (embedded in prf, trained on public change data; prf risk train)
scores each commit; the release's prior probability is the chance that at
least one of its commits induces a defect. With --service and --env, the
deployments recorded for them (prf deployments) train a team model once
there are 30 with a known outcome and 5 of each kind: a logistic regression
that starts from the prior's log-odds and learns how this team's
deployments depart from it (size, migrations, dependency changes, hours,
time since the previous deployment, recent failures, the run's results).

The level (low, medium, high) is cut at the 60th and 90th percentiles of
the model's own history: with the prior, of its per-change probabilities,
applied to the riskiest commit (a release of many commits would otherwise
always be high); with the team model, of the team's releases, applied to
the release's probability. Factors split the log-odds by
metric, exactly (the logistic terms and TreeSHAP); recommendations come
from the top factors and the deployment's context. --run adds the
readiness run's blocking failures, warnings and restore test.`,
		Example: `  prf risk predict --repo . --from v1.4.0 --to HEAD
  prf risk predict --repo . --from $(git describe --abbrev=0) --to HEAD --run last --service api --env production -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runRiskPredict(c.Context(), d, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Repo, "repo", ".", "local git repository")
	f.StringVar(&o.From, "from", "", "the deployed revision (empty: the whole history, a first deployment)")
	f.StringVar(&o.To, "to", "HEAD", "the candidate revision")
	f.StringVar(&o.Run, "run", "", "readiness run id (or last) whose results add to the prediction")
	f.StringVar(&o.Service, "service", "", "service, to learn from its recorded deployments")
	f.StringVar(&o.Env, "env", "", "environment of --service")
	f.StringVar(&o.At, "at", "", "when the deployment would happen (RFC 3339; default now)")
	f.StringVar(&o.Model, "model", "", "model file from prf risk train (default: the embedded prior)")
	f.StringVarP(&o.Output, "output", "o", "text", "output: text or json")
	return cmd
}

func runRiskPredict(ctx context.Context, d *deps, g *globalOpts, o *riskPredictOpts) error {
	if o.Output != "text" && o.Output != "json" {
		return usagef("-o %q: want text or json", o.Output)
	}
	p, rel, err := assessRisk(ctx, d, g, o)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		enc := json.NewEncoder(d.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	return writePrediction(d.Out, rel, p)
}

// assessRisk measures the release and predicts (predict, and authorize
// --risk-from).
func assessRisk(ctx context.Context, d *deps, g *globalOpts, o *riskPredictOpts) (*risk.Prediction, *change.Release, error) {
	if (o.Service == "") != (o.Env == "") {
		return nil, nil, usagef("--service and --env go together")
	}
	at := time.Now()
	if o.At != "" {
		t, err := time.Parse(time.RFC3339, o.At)
		if err != nil {
			return nil, nil, usagef("--at %q: want RFC 3339, e.g. 2026-11-26T14:00:00+01:00", o.At)
		}
		at = t
	}
	prior, err := loadPrior(o.Model)
	if err != nil {
		return nil, nil, err
	}
	rel, err := change.Range(ctx, o.Repo, o.From, o.To)
	if err != nil {
		if errors.Is(err, change.ErrNotRepository) || errors.Is(err, change.ErrUnknownRevision) || errors.Is(err, change.ErrNotAncestor) || errors.Is(err, change.ErrEmptyRange) {
			return nil, nil, usageError{err}
		}
		return nil, nil, err
	}
	in := releaseInput(rel, at)
	in.Owners = owners(ctx, o.Repo, rel)

	var team *risk.TeamModel
	why := "no --service and --env: the team's deployments are not consulted"
	if o.Service != "" || o.Run != "" {
		st, err := openDeploymentStore(ctx, d, g)
		if err != nil {
			return nil, nil, err
		}
		defer st.Close()
		if o.Run != "" {
			if err := addRun(ctx, st, o.Run, in); err != nil {
				return nil, nil, err
			}
		}
		if o.Service != "" {
			team, why, err = teamModel(ctx, st, prior, o, in, at)
			if err != nil {
				return nil, nil, err
			}
		}
	}
	return risk.Predict(prior, team, why, in), rel, nil
}

func loadPrior(file string) (*risk.Trained, error) {
	if file == "" {
		return risk.Prior()
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usageError{err}
	}
	t, err := risk.ParseTrained(b, file)
	if err != nil {
		return nil, usageError{err}
	}
	return t, nil
}

// releaseInput turns a measured release into the model's input.
func releaseInput(rel *change.Release, at time.Time) *risk.ReleaseInput {
	in := &risk.ReleaseInput{At: at, Index: rel.Index, Files: rel.Files, Services: rel.Services,
		MigrationFiles: rel.MigrationFiles, DependencyManifests: rel.DependencyManifests,
		Values: map[string]float64{}, Notes: map[string]string{}}
	in.History = make([][risk.NumFeatures]float64, len(rel.HistoryMetrics))
	for i, m := range rel.HistoryMetrics {
		in.History[i] = m
	}
	for _, c := range rel.Commits {
		in.Commits = append(in.Commits, risk.CommitRisk{Hash: c.Hash, Subject: c.Subject, Author: c.Author, Time: c.Time})
	}
	a := rel.Aggregate
	for name, v := range map[string]float64{"NS": float64(a.NS), "ND": float64(a.ND), "NF": float64(a.NF), "Entropy": a.Entropy,
		"LA": float64(a.LA), "LD": float64(a.LD), "LT": float64(a.LT), "FIX": float64(a.Fixes)} {
		in.Values[name] = v
	}
	in.Notes["FIX"] = "fix commits"
	for j, name := range change.MetricNames() {
		switch name {
		case "EXP", "REXP", "SEXP":
			in.Values[name], in.Notes[name] = a.Min[j], "the least experienced author's"
		case "NDEV", "NUC":
			in.Values[name], in.Notes[name] = a.Max[j], "the most of any commit"
		case "AGE":
			in.Values[name], in.Notes[name] = a.Mean[j], "days, mean over commits"
		}
	}
	in.Deploy = risk.DeployFeatures{Commits: a.Commits, Churn: a.LA + a.LD, Migrations: rel.Migrations > 0,
		Dependencies: len(rel.DependencyManifests) > 0, ConfigOnly: rel.ConfigOnly, OffHours: risk.OffHours(at)}
	return in
}

// owners are the authors who changed the release's files most before it
// (up to three), to name as reviewers.
func owners(ctx context.Context, repo string, rel *change.Release) []string {
	if len(rel.Files) == 0 {
		return nil
	}
	rev := rel.FromHash
	if rev == "" {
		return nil // a first deployment: nobody changed these files before
	}
	files := rel.Files[:min(50, len(rel.Files))]
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo, "log", "--no-merges", "--format=%ae", rev, "--"}, files...)...)
	out, err := cmd.Output()
	if err != nil {
		return nil // a best effort: the recommendation then names nobody
	}
	counts := map[string]int{}
	authors := map[string]bool{}
	for _, c := range rel.Commits {
		authors[strings.ToLower(c.Author)] = true
	}
	for _, a := range strings.Fields(strings.ToLower(string(out))) {
		if !authors[a] {
			counts[a]++
		}
	}
	names := make([]string, 0, len(counts))
	for a := range counts {
		names = append(names, a)
	}
	slices.SortFunc(names, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	return names[:min(3, len(names))]
}

// addRun reads a readiness run's results into the input: blocking
// failures, warnings, and whether a restore test passed.
func addRun(ctx context.Context, st store.Store, id string, in *risk.ReleaseInput) error {
	run, results, err := runResults(ctx, st, id)
	if err != nil {
		return err
	}
	in.RunID = run.ID
	restore := ""
	for i := range results {
		r := &results[i]
		switch {
		case r.Status == store.StatusFail || r.Status == store.StatusError && r.Blocks():
			in.BlockingFailures = append(in.BlockingFailures, r.ID)
		case r.Status == store.StatusWarn:
			in.Warnings = append(in.Warnings, r.ID)
		case r.Status == store.StatusSkipped && r.Skip == store.SkipDisabled:
			in.Deploy.Waived++
		}
		if strings.Contains(r.ID, "restore") && restore != "pass" {
			restore = string(r.Status)
			if r.Skip != "" {
				restore += " (" + strings.ReplaceAll(r.Skip, "_", " ") + ")"
			}
		}
	}
	for i := range results {
		if results[i].Kind != "loadtest" || len(results[i].Observation) == 0 {
			continue
		}
		var obs struct {
			Thresholds []risk.Threshold `json:"thresholds"`
		}
		if json.Unmarshal(results[i].Observation, &obs) != nil {
			continue
		}
		if h, ok := risk.LoadHeadroom(obs.Thresholds); ok && (!in.Deploy.HasLoadTest || h < in.Deploy.LoadHeadroom) {
			in.Deploy.LoadHeadroom, in.Deploy.HasLoadTest = h, true
		}
	}
	in.Deploy.SignoffsMissing = signoffsMissing(ctx, st, run, results)
	switch {
	case restore == "":
		in.NoRestoreTest = "run " + run.ID + " has no restore checkpoint"
	case restore != "pass":
		in.NoRestoreTest = "the restore checkpoint of run " + run.ID + " is " + restore
	}
	in.Deploy.BlockingFailures, in.Deploy.Warnings = len(in.BlockingFailures), len(in.Warnings)
	return nil
}

// signoffsMissing counts the approval roles without a fresh sign-off of
// the run, judged against the trust file in .prf/; 0 when there is no
// trust file or the run's checklist is gone (nothing to judge by).
func signoffsMissing(ctx context.Context, st store.Store, run *store.Run, results []store.Result) int {
	as, ok := st.(approvalStore)
	if !ok {
		return 0
	}
	trust, err := signoff.LoadTrust(defaultTrustFile)
	if err != nil {
		return 0
	}
	matrix, err := matrixFor(run, "")
	if err != nil {
		return 0
	}
	sos, err := as.Signoffs(ctx, run.ID)
	if err != nil {
		return 0
	}
	n := 0
	for _, r := range signoff.Evaluate(run.ID, results, sos, matrix, trust).Roles {
		if !r.Fresh {
			n++
		}
	}
	return n
}

// maxTeamHistory is how many of a service's latest deployments the team
// model learns from.
const maxTeamHistory = 200

// recentWindow is how many earlier known outcomes the recent failure
// rate counts.
const recentWindow = 10

// teamHistory is a service's recorded deployments as the team model
// learns from them, oldest first.
type teamHistory struct {
	deployments []risk.Deployment
	outcomes    []bool    // known outcomes, oldest first: failed?
	last        time.Time // the latest deployment's time
	skipped     int       // recorded ranges this repository cannot measure
}

// loadTeamHistory measures each recorded deployment of a service (its
// range in the repository, scored by the prior as a release is; the run
// it deployed after, when stored) with the context it had: the recent
// failure rate and the time since the previous deployment.
func loadTeamHistory(ctx context.Context, st deploymentStore, prior *risk.Trained, repo, service, env string, until time.Time) (*teamHistory, error) {
	recorded, err := st.Deployments(ctx, store.DeploymentFilter{Service: service, Environment: env, Until: until, Limit: maxTeamHistory})
	if err != nil {
		return nil, err
	}
	h := &teamHistory{}
	for _, dep := range recorded {
		failed, known := dep.Failed()
		drel, err := change.Range(ctx, repo, dep.FromRev, dep.ToRev)
		if err != nil {
			h.skipped++ // a range this repository cannot measure (another repo, a rewritten history)
		} else {
			din := releaseInput(drel, dep.Time)
			if dep.RunID != "" {
				// The run it deployed after; one that is gone leaves the
				// readiness features at zero.
				_ = addRun(ctx, st, dep.RunID, din)
			}
			_, logit := risk.PriorLogit(prior.Model, din)
			din.Deploy.RecentFailureRate = failureRate(h.outcomes)
			if !h.last.IsZero() {
				din.Deploy.SincePrevious = dep.Time.Sub(h.last)
			}
			h.deployments = append(h.deployments, risk.Deployment{Time: dep.Time, PriorLogit: logit, X: din.Deploy.Vector(), Failed: failed, Known: known})
		}
		if known {
			h.outcomes = append(h.outcomes, failed)
		}
		h.last = dep.Time
	}
	return h, nil
}

// teamModel fills the release's context from the service's history and
// trains the team model when the history is large enough; otherwise it
// says why the prior alone predicts.
func teamModel(ctx context.Context, st deploymentStore, prior *risk.Trained, o *riskPredictOpts, in *risk.ReleaseInput, at time.Time) (*risk.TeamModel, string, error) {
	h, err := loadTeamHistory(ctx, st, prior, o.Repo, o.Service, o.Env, at)
	if err != nil {
		return nil, "", err
	}
	in.Service = o.Service + "/" + o.Env
	in.Deploy.RecentFailureRate = failureRate(h.outcomes)
	if !h.last.IsZero() {
		in.Deploy.SincePrevious = at.Sub(h.last)
	}
	last := h.outcomes[max(0, len(h.outcomes)-recentWindow):]
	in.RecentDeploys = len(last)
	for _, f := range last {
		if f {
			in.RecentFailures++
		}
	}
	if ok, why := risk.TeamReady(h.deployments); !ok {
		if h.skipped > 0 {
			why += fmt.Sprintf(" (%d recorded deployments are not ranges of this repository)", h.skipped)
		}
		return nil, why, nil
	}
	tm, err := risk.TrainTeam(h.deployments)
	if err != nil {
		return nil, err.Error(), nil
	}
	return tm, "", nil
}

func failureRate(outcomes []bool) float64 {
	last := outcomes[max(0, len(outcomes)-recentWindow):]
	if len(last) == 0 {
		return 0
	}
	n := 0
	for _, f := range last {
		if f {
			n++
		}
	}
	return float64(n) / float64(len(last))
}

func writePrediction(w io.Writer, rel *change.Release, p *risk.Prediction) error {
	name := rel.To
	if rel.From != "" {
		name = rel.From + ".." + rel.To
	}
	fmt.Fprintf(w, "release %s: %d commits\n", name, p.NCommits)
	if p.Model == "team" {
		fmt.Fprintf(w, "risk: %s, %.1f%% that the deployment fails (team model; the prior alone says %.1f%%; medium from %.1f%%, high from %.1f%%)\n",
			strings.ToUpper(p.Level), 100*p.Probability, 100*p.PriorProbability, 100*p.Levels.Medium, 100*p.Levels.High)
	} else {
		fmt.Fprintf(w, "risk: %s: the riskiest commit %.1f%% (prior model; medium from %.1f%%, high from %.1f%% per change)\n",
			strings.ToUpper(p.Level), 100*p.Commits[0].Prob, 100*p.Levels.Medium, 100*p.Levels.High)
		fmt.Fprintf(w, "chance that at least one of the %d commits induces a defect: %.1f%%\n", p.NCommits, 100*p.Probability)
	}
	if p.Why != "" {
		fmt.Fprintf(w, "prior only: %s\n", p.Why)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nfactor\tvalue\tlog-odds\n")
	for _, f := range p.Factors {
		v := risk.FormatValue(f.Value)
		if f.Note != "" {
			v += " (" + f.Note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%+.3f\n", f.Name, v, f.Share)
	}
	for _, f := range p.DeployFactors {
		fmt.Fprintf(tw, "%s\t%s\t%+.3f\n", f.Name, risk.FormatValue(f.Value), f.Share)
	}
	fmt.Fprintf(tw, "\nriskiest commits\t\t\n")
	for _, c := range p.Commits {
		h := c.Hash[:min(10, len(c.Hash))]
		fmt.Fprintf(tw, "%s %s\t%s\t%.1f%%\n", h, clipText(c.Subject, 50), c.Author, 100*c.Prob)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nrecommendations:")
	for _, r := range p.Recommendations {
		fmt.Fprintf(w, "  - %s\n", r)
	}
	return nil
}

func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// riskSummary is the prediction as the authorization form states it.
func riskSummary(rel *change.Release, p *risk.Prediction) string {
	name := rel.To
	if rel.From != "" {
		name = rel.From + ".." + rel.To
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %.1f%% (%s model; release %s, %d commits", strings.ToUpper(p.Level), 100*p.Probability, p.Model, name, p.NCommits)
	if p.LevelFrom == "riskiest_commit" && len(p.Commits) > 0 {
		fmt.Fprintf(&b, "; level from the riskiest commit, %.1f%%", 100*p.Commits[0].Prob)
	}
	b.WriteString(")")
	var fs []string
	for _, f := range p.Factors[:min(3, len(p.Factors))] {
		fs = append(fs, fmt.Sprintf("%s %s (%+.2f)", f.Name, risk.FormatValue(f.Value), f.Share))
	}
	if len(fs) > 0 {
		b.WriteString(". Top factors: " + strings.Join(fs, ", "))
	}
	b.WriteString(". Recommendations: " + strings.Join(p.Recommendations, " "))
	return b.String()
}
