package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/change"
	"github.com/prfhq/prf/internal/loadtest"
	"github.com/prfhq/prf/internal/report"
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
	Trust          string
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
readiness run's blocking failures, warnings, load-test margin and restore
test, and the approval roles still without a fresh sign-off of it (judged
against --trust).`,
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
	f.StringVar(&o.Trust, "trust", "", trustHelp)
	f.StringVarP(&o.Output, "output", "o", "text", "output: text or json")
	return cmd
}

func runRiskPredict(ctx context.Context, d *deps, g *globalOpts, o *riskPredictOpts) error {
	if err := textOrJSON(o.Output); err != nil {
		return err
	}
	p, rel, err := assessRisk(ctx, d, g, o)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return writeJSON(d.Out, p)
	}
	return writePrediction(d.Out, rel, p)
}

// assessRisk measures the release and predicts (predict, and authorize
// --risk-from).
func assessRisk(ctx context.Context, d *deps, g *globalOpts, o *riskPredictOpts) (*risk.Prediction, *change.Release, error) {
	if (o.Service == "") != (o.Env == "") {
		return nil, nil, usagef("--service and --env go together")
	}
	if o.Trust != "" && o.Run == "" && o.Service == "" {
		return nil, nil, usagef("--trust judges the sign-offs of a run: give --run, or --service and --env")
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
	hist := historyOf(rel)
	in := releaseInput(rel, hist, at)
	in.Owners = rel.Owners(3)

	var team *risk.TeamModel
	why := "no --service and --env: the team's deployments are not consulted"
	if o.Service != "" || o.Run != "" {
		st, err := openDeploymentStore(ctx, d, g)
		if err != nil {
			return nil, nil, err
		}
		defer st.Close()
		rr, err := newRunReader(st, o.Trust)
		if err != nil {
			return nil, nil, err
		}
		if o.Run != "" {
			if err := rr.addRun(ctx, o.Run, in); err != nil {
				return nil, nil, err
			}
		}
		if o.Service != "" {
			team, why, err = teamModel(ctx, st, rr, prior, rel, hist, o, in, at)
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

// historyOf is the release's history as the model reads it, ranked once
// for it and every earlier release measured from it (Release.Sub).
func historyOf(rel *change.Release) *risk.History {
	raw := make([][risk.NumFeatures]float64, len(rel.HistoryMetrics))
	for i, m := range rel.HistoryMetrics {
		raw[i] = m
	}
	return risk.NewHistory(raw)
}

// releaseInput turns a measured release into the model's input; hist is
// historyOf the release (or of the release it was measured from).
func releaseInput(rel *change.Release, hist *risk.History, at time.Time) *risk.ReleaseInput {
	in := &risk.ReleaseInput{At: at, History: hist, Index: rel.Index, Services: rel.Services,
		MigrationFiles: rel.MigrationFiles, DependencyManifests: rel.DependencyManifests,
		Values: map[string]float64{}, Notes: map[string]string{}}
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
	in.Deploy = risk.DeployFeatures{Commits: a.Commits, Churn: a.LA + a.LD, Migrations: len(rel.MigrationFiles) > 0,
		Dependencies: len(rel.DependencyManifests) > 0, ConfigOnly: rel.ConfigOnly, OffHours: risk.OffHours(at)}
	return in
}

// runReader reads readiness runs into release inputs, loading the trust
// file once and each checklist's approval matrix once, however many runs
// a team's history names.
type runReader struct {
	st       store.Store
	trust    *signoff.Trust // nil: no trust file, sign-offs are not judged
	matrices map[string][]signoff.Approval
}

// trustHelp describes --trust where sign-offs feed the risk model.
const trustHelp = "trust file that judges the run's sign-offs (default " + defaultTrustFile + " when it exists; without one, sign-offs are not counted)"

// newRunReader loads the trust file: the one named, which must exist, or
// the default one if there is one.
func newRunReader(st store.Store, trustFile string) (*runReader, error) {
	t, err := loadOptionalTrust(trustFile)
	if err != nil {
		return nil, err
	}
	return &runReader{st: st, trust: t, matrices: map[string][]signoff.Approval{}}, nil
}

// loadOptionalTrust loads a --trust file. The default one (path "" or
// defaultTrustFile) may be missing: no trust file, nil. A file named
// otherwise must exist; one that does not load is an error either way.
func loadOptionalTrust(path string) (*signoff.Trust, error) {
	t, err := signoff.LoadTrust(cmp.Or(path, defaultTrustFile))
	switch {
	case err == nil:
		return t, nil
	case errors.Is(err, os.ErrNotExist) && cmp.Or(path, defaultTrustFile) == defaultTrustFile:
		return nil, nil
	case errors.Is(err, os.ErrNotExist):
		return nil, usagef("--trust %s: not found", path)
	}
	return nil, err
}

// addRun reads a readiness run's results into the input: blocking
// failures, warnings, waived checkpoints, load-test headroom, missing
// sign-offs, and whether a restore test passed.
func (rr *runReader) addRun(ctx context.Context, id string, in *risk.ReleaseInput) error {
	run, results, err := runResults(ctx, rr.st, id)
	if err != nil {
		return err
	}
	in.RunID = run.ID
	restore := ""
	for i := range results {
		r := &results[i]
		switch {
		case (r.Status == store.StatusFail || r.Status == store.StatusError) && r.Blocks():
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
		if r.Kind == "loadtest" {
			addLoadTest(r.Observation, &in.Deploy)
		}
	}
	in.Deploy.SignoffsMissing = rr.signoffsMissing(ctx, run, results)
	switch {
	case restore == "":
		in.NoRestoreTest = "run " + run.ID + " has no restore checkpoint"
	case restore != "pass":
		in.NoRestoreTest = "the restore checkpoint of run " + run.ID + " is " + restore
	}
	in.Deploy.BlockingFailures, in.Deploy.Warnings = len(in.BlockingFailures), len(in.Warnings)
	return nil
}

// addLoadTest keeps the smallest headroom of a load test's thresholds
// (its stored observation is the summary).
func addLoadTest(observation json.RawMessage, f *risk.DeployFeatures) {
	var obs struct {
		Thresholds []loadtest.ThresholdResult `json:"thresholds"`
	}
	if json.Unmarshal(observation, &obs) != nil {
		return
	}
	for _, t := range obs.Thresholds {
		if h, ok := t.Headroom(); ok && (!f.HasLoadTest || h < f.LoadHeadroom) {
			f.LoadHeadroom, f.HasLoadTest = h, true
		}
	}
}

// signoffsMissing counts the approval roles without a fresh sign-off of
// the run, judged against the trust file in .prf/; 0 without a trust file
// (nothing to judge by).
func (rr *runReader) signoffsMissing(ctx context.Context, run *store.Run, results []store.Result) int {
	as, ok := rr.st.(approvalStore)
	if !ok || rr.trust == nil {
		return 0
	}
	key := run.ChecklistFile + "\x00" + run.ChecklistDigest
	matrix, ok := rr.matrices[key]
	if !ok {
		var err error
		if matrix, err = matrixFor(run, ""); err != nil {
			return 0
		}
		rr.matrices[key] = matrix
	}
	sos, err := as.Signoffs(ctx, run.ID)
	if err != nil {
		return 0
	}
	n := 0
	for _, r := range signoff.Evaluate(run.ID, results, sos, matrix, rr.trust).Roles {
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
// range, scored by the prior as a release is; the run it deployed after,
// when stored) with the context it had: the recent failure rate and the
// time since the previous deployment. Ranges are measured from base's
// history (base.Sub, hist its ranks), read from git once; a range off
// that history (another branch) is read on its own. A zero until reads
// every recorded deployment.
func loadTeamHistory(ctx context.Context, st deploymentStore, rr *runReader, prior *risk.Trained, base *change.Release, hist *risk.History, service, env string, until time.Time) (*teamHistory, error) {
	recorded, err := st.Deployments(ctx, store.DeploymentFilter{Service: service, Environment: env, Until: until, Limit: maxTeamHistory})
	if err != nil {
		return nil, err
	}
	h := &teamHistory{}
	for _, dep := range recorded {
		failed, known := dep.Failed()
		dhist := hist
		drel, err := base.Sub(ctx, dep.FromRev, dep.ToRev)
		if errors.Is(err, change.ErrNotInHistory) {
			if drel, err = change.Range(ctx, base.Repo, dep.FromRev, dep.ToRev); err == nil {
				dhist = historyOf(drel)
			}
		}
		if err != nil {
			h.skipped++ // a range this repository cannot measure (another repo, a rewritten history)
		} else {
			din := releaseInput(drel, dhist, dep.Time)
			if dep.RunID != "" {
				// The run it deployed after; one that is gone leaves the
				// readiness features at zero.
				_ = rr.addRun(ctx, dep.RunID, din)
			}
			logit := risk.ReleaseLogit(prior.Model, din)
			h.context(&din.Deploy, dep.Time)
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
func teamModel(ctx context.Context, st deploymentStore, rr *runReader, prior *risk.Trained, rel *change.Release, hist *risk.History, o *riskPredictOpts, in *risk.ReleaseInput, at time.Time) (*risk.TeamModel, string, error) {
	h, err := loadTeamHistory(ctx, st, rr, prior, rel, hist, o.Service, o.Env, at)
	if err != nil {
		return nil, "", err
	}
	in.Service = o.Service + "/" + o.Env
	in.RecentDeploys, in.RecentFailures = recent(h.outcomes)
	h.context(&in.Deploy, at)
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

// context sets what the history so far says about a deployment at time
// at: the recent failure rate and the time since the previous deployment.
func (h *teamHistory) context(f *risk.DeployFeatures, at time.Time) {
	f.RecentFailureRate = failureRate(h.outcomes)
	if !h.last.IsZero() {
		f.SincePrevious = at.Sub(h.last)
	}
}

// recent counts the last recentWindow known outcomes and the failures
// among them.
func recent(outcomes []bool) (n, failed int) {
	last := outcomes[max(0, len(outcomes)-recentWindow):]
	for _, f := range last {
		if f {
			failed++
		}
	}
	return len(last), failed
}

// failureRate is the share of failures among the recent outcomes; 0
// without any.
func failureRate(outcomes []bool) float64 {
	n, failed := recent(outcomes)
	if n == 0 {
		return 0
	}
	return float64(failed) / float64(n)
}

func writePrediction(w io.Writer, rel *change.Release, p *risk.Prediction) error {
	name := releaseName(rel)
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
		fmt.Fprintf(tw, "%s %s\t%s\t%.1f%%\n", h, report.Truncate(c.Subject, 50), c.Author, 100*c.Prob)
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

// releaseName is "FROM..TO", or "TO" for a first deployment.
func releaseName(rel *change.Release) string {
	if rel.From == "" {
		return rel.To
	}
	return rel.From + ".." + rel.To
}

// riskSummary is the prediction as the authorization form states it.
func riskSummary(rel *change.Release, p *risk.Prediction) string {
	name := releaseName(rel)
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
