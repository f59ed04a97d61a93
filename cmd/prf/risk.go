package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/atomicfile"
	"github.com/prfhq/prf/internal/change"
	"github.com/prfhq/prf/internal/risk"
)

func newRiskCmd(d *deps, g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "risk",
		Short: "Predict deployment risk from change history, and measure the prediction honestly",
		Long: `prf risk predicts how likely a change is to cause a failure from Kamei's
14 change metrics (NS ND NF Entropy LA LD LT FIX NDEV AGE NUC EXP REXP SEXP),
and says how good that prediction is on data it never saw.

Every evaluation is a time split: the model trains on the earliest share
of the changes and is measured on the latest, never shuffled, so it is
scored on the future as a team would use it.

Commands:
  prf risk eval   train and test on a change-data CSV (the public format of
                  ../shared/data/jit/issta21-jitdp/) with one of
                    ens   PRF's model (the default): lr and gbdt together,
                          their calibrated log-odds summed and calibrated
                          again; the experience metrics (NDEV AGE NUC EXP
                          REXP SEXP) ranked among the project's previous
                          2,000 changes, the trees weighted to recent
                          changes, both refitted on all training rows
                    lr    L2-regularised, class-weighted logistic regression
                          on log-transformed metrics (the baseline)
                    gbdt  gradient-boosted decision trees (logistic loss,
                          histogram splits on log-transformed metrics,
                          depth and class weighting chosen on the
                          calibration slice, early stopping on it),
                          explained per prediction by exact TreeSHAP
                    auto  lr or gbdt, whichever has the higher AUC on the
                          calibration slice
                  all Platt-calibrated

The model is trained on the first 80% (in time) of the training slice;
early stopping, model choice, Platt scaling and the decision threshold (the
one that maximises F1) are fitted on the last 20% of the training slice.
The test slice only reports.

Also:
  prf risk train    the model file (the embedded prior, byte for byte)
  prf risk predict  a release from..to of a git repository: probability,
                    level, factors, recommendations (prior or team model)
  prf risk checks   which checkpoints fail most, for prf check --prioritize`,
		Example: `  prf risk eval --data ../shared/data/jit/issta21-jitdp/jdt.csv
  prf risk eval --data qt.csv --train-frac 0.8 -o json`,
	}
	cmd.AddCommand(newRiskEvalCmd(d, g), newRiskTrainCmd(d), newRiskPredictCmd(d, g), newRiskChecksCmd(d, g))
	return cmd
}

type riskEvalOpts struct {
	Deployments  bool
	Repo         string
	Service, Env string
	Releases     time.Duration
	Step         int
	Data         string
	TrainOn      []string
	Split        string
	TrainFrac    float64
	Model        string
	Trust        string
	Output       string
}

func newRiskEvalCmd(d *deps, g *globalOpts) *cobra.Command {
	o := &riskEvalOpts{}
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Train on the earliest changes, report on the latest",
		Long: `Read a change-data CSV (header naming date, bug, ns, nd, nf, entrophy, la,
ld, lt, fix, ndev, age, nuc, exp, rexp, sexp; other columns ignored), train
on the earliest --train-frac of the rows in time order and report on the
rest:

  auc             ROC AUC (ties count one half)
  pr_auc          average precision
  brier           Brier score of the calibrated probability
  ece             expected calibration error, 10 equal-width bins
  precision, recall, f1   at the threshold chosen on the calibration slice
  caught_at       share of the test failures among the riskiest 5%, 10%,
                  20% of changes
  caught_at_size  the same when ranking by size (LA+LD) alone: the floor
  n_train, n_test, model, threshold`,
		Example: `  prf risk eval --data ../shared/data/jit/issta21-jitdp/openstack.csv -o json
  # cross-project: train on three projects, test on the fourth's latest 20%
  prf risk eval --data jdt.csv --train-on qt.csv --train-on openstack.csv --train-on platform.csv`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runRiskEval(c.Context(), d, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Data, "data", "", "change-data CSV file (required)")
	f.StringArrayVar(&o.TrainOn, "train-on", nil, "cross-project: train on these projects' change data (every row) instead of --data's earliest rows; the test slice is --data's latest rows as before (repeatable)")
	f.StringVar(&o.Split, "split", "time", "how to split: time (earliest rows train)")
	f.Float64Var(&o.TrainFrac, "train-frac", risk.DefaultTrainFrac, "share of rows, earliest first, that trains")
	f.StringVar(&o.Model, "model", risk.ModelEns, "model: ens (PRF's: lr and gbdt together on history-ranked experience metrics), lr (the baseline), gbdt (gradient-boosted trees) or auto (the better of lr and gbdt on the calibration slice)")
	f.StringVarP(&o.Output, "output", "o", "text", "output: text or json")
	f.DurationVar(&o.Releases, "releases", 0, "evaluate the team model instead: group --data's changes into releases of this period (24h: daily deployments), a release failing when it holds a defect-inducing change, and compare, slice by slice in time, the prior (the embedded one, or one trained on --train-on) with the team model trained on the releases before each slice")
	f.IntVar(&o.Step, "step", 50, "with --releases or --deployments: deployments per held-out slice")
	f.BoolVar(&o.Deployments, "deployments", false, "evaluate the team model on this team's own history: the deployments of --service/--env recorded in the store (prf deployments), measured in --repo, slice by slice in time against the prior")
	f.StringVar(&o.Repo, "repo", ".", "with --deployments: the git repository the deployments' revisions are in")
	f.StringVar(&o.Service, "service", "", "with --deployments: the service")
	f.StringVar(&o.Env, "env", "", "with --deployments: its environment")
	f.StringVar(&o.Trust, "trust", "", "with --deployments: the "+trustHelp)
	return cmd
}

func runRiskEval(ctx context.Context, d *deps, g *globalOpts, o *riskEvalOpts) error {
	if err := textOrJSON(o.Output); err != nil {
		return err
	}
	if (o.Deployments || o.Releases != 0) && o.Step < 5 {
		return usagef("--step %d: want at least 5 deployments per slice", o.Step)
	}
	if o.Deployments {
		return runRiskEvalDeployments(ctx, d, g, o)
	}
	if o.Trust != "" {
		return usagef("--trust goes with --deployments: change data has no sign-offs to judge")
	}
	if o.Data == "" {
		return usagef("--data is required")
	}
	if o.Split != "time" {
		return usagef("--split %q: want time", o.Split)
	}
	if !(o.TrainFrac > 0 && o.TrainFrac < 1) {
		return usagef("--train-frac %v: want 0 < frac < 1", o.TrainFrac)
	}
	if !slices.Contains(risk.ModelNames, o.Model) {
		return usagef("--model %q: want %s", o.Model, strings.Join(risk.ModelNames, ", "))
	}
	ds, err := risk.LoadCSV(o.Data)
	if err != nil {
		return usageError{err}
	}
	if o.Releases != 0 {
		return runRiskEvalReleases(d, o, ds)
	}
	opt := risk.EvalOptions{TrainFrac: o.TrainFrac, Model: o.Model}
	var r *risk.Report
	if len(o.TrainOn) > 0 {
		var others []*risk.Dataset
		for _, f := range o.TrainOn {
			od, err := risk.LoadCSV(f)
			if err != nil {
				return usageError{err}
			}
			others = append(others, od)
		}
		r, err = risk.EvaluateCross(ds, others, opt)
	} else {
		r, err = risk.Evaluate(ds, opt)
	}
	if err != nil {
		// Too few rows or one class only: the data cannot be evaluated.
		return usageError{fmt.Errorf("%s: %w", o.Data, err)}
	}
	if o.Output == "json" {
		return writeJSON(d.Out, r)
	}
	return writeRiskText(d.Out, o.Data, r)
}

func writeRiskText(w io.Writer, data string, r *risk.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "data\t%s\n", data)
	fmt.Fprintf(tw, "model\t%s (trained in %s)\n", r.Model, r.TrainTime.Round(1e6))
	fmt.Fprintf(tw, "rows\t%d train (earliest), %d test (latest)\n", r.NTrain, r.NTest)
	fmt.Fprintf(tw, "ROC AUC\t%.3f\n", r.AUC)
	fmt.Fprintf(tw, "PR AUC\t%.3f\n", r.PRAUC)
	fmt.Fprintf(tw, "Brier\t%.3f\n", r.Brier)
	fmt.Fprintf(tw, "ECE\t%.3f\n", r.ECE)
	fmt.Fprintf(tw, "threshold\t%.3f (chosen on the calibration slice)\n", r.Threshold)
	fmt.Fprintf(tw, "precision / recall / F1\t%.3f / %.3f / %.3f\n", r.Precision, r.Recall, r.F1)
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "gated share\tfailures caught\tby size (LA+LD)\n")
	for _, k := range risk.GatedShareKeys() {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\n", k, r.CaughtAt[k], r.CaughtAtSize[k])
	}
	return tw.Flush()
}

func newRiskTrainCmd(d *deps) *cobra.Command {
	var data []string
	var out, public string
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train PRF's model (ens) on change data and write the model file",
		Long: `Train the ensemble on every row of one or more change-data CSV files (the
format prf risk eval reads) and write the model file: the model, its level
cut points (medium and high: the 60th and 90th percentiles of its
probabilities on its calibration slice) and the SHA-256 of each file.

Each project's experience metrics are ranked against its own history; the
projects are then merged in time order. The file holds no time stamp: the
same files in the same order give the same bytes, which is how the prior
model embedded in prf is checked (make prior regenerates it from
` + "`../shared/data/`" + `, and a test compares it byte for byte).`,
		Example: `  D=../shared/data/jit/issta21-jitdp
  prf risk train --data $D/qt.csv --data $D/openstack.csv --out model.json
  # the embedded prior, as make prior regenerates it
  prf risk train --public ../shared/data --out internal/risk/prior.json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if public != "" {
				if len(data) > 0 {
					return usagef("--public and --data: give one")
				}
				for _, f := range risk.PriorFiles {
					data = append(data, filepath.Join(public, f))
				}
			}
			if len(data) == 0 {
				return usagef("--data is required (one or more change-data CSV files), or --public DIR")
			}
			t, err := risk.TrainFiles(data)
			if err != nil {
				return usageError{err}
			}
			b, err := t.Marshal()
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = d.Out.Write(b)
				return err
			}
			if err := atomicfile.WriteFile(out, b, 0o666); err != nil {
				return err
			}
			fmt.Fprintf(d.ErrOut, "wrote %s: %s, %d trees, trained on %d files\n", out, t.Model.Kind, len(t.Model.GBDT.Trees), len(t.Sources))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&data, "data", nil, "change-data CSV file to train on (repeatable, in this order)")
	cmd.Flags().StringVar(&public, "public", "", "train on the public files the embedded prior is trained on, under this data directory (../shared/data): "+strings.Join(risk.PriorFiles, ", "))
	cmd.Flags().StringVar(&out, "out", "", "model file to write (default: standard output)")
	return cmd
}

// runRiskEvalReleases is eval --releases: the team model against the
// prior on held-out time slices of a deployment history made from change
// data.
func runRiskEvalReleases(d *deps, o *riskEvalOpts, ds *risk.Dataset) error {
	if o.Releases < time.Minute {
		return usagef("--releases %v: want a period of a minute or more (24h: daily)", o.Releases)
	}
	prior, source := (*risk.Trained)(nil), "embedded prior"
	var err error
	if len(o.TrainOn) > 0 {
		prior, err = risk.TrainFiles(o.TrainOn)
		source = "prior trained on " + strings.Join(o.TrainOn, ", ")
	} else {
		prior, err = risk.Prior()
	}
	if err != nil {
		return usageError{err}
	}
	history := risk.ReleasesFromChanges(prior.Model, ds.Rows, o.Releases)
	title := fmt.Sprintf("%s: %d releases of %v, %s", o.Data, len(history), o.Releases, source)
	return writeHistoryEval(d, o, title, history)
}

// runRiskEvalDeployments is eval --deployments: the team model against
// the prior on the team's own recorded deployments.
func runRiskEvalDeployments(ctx context.Context, d *deps, g *globalOpts, o *riskEvalOpts) error {
	if o.Service == "" || o.Env == "" {
		return usagef("--deployments needs --service and --env")
	}
	prior, err := risk.Prior()
	if err != nil {
		return err
	}
	st, err := openDeploymentStore(ctx, d, g)
	if err != nil {
		return err
	}
	defer st.Close()
	// Every recorded range is measured from the history up to HEAD, read
	// from git once.
	base, err := change.Range(ctx, o.Repo, "", "HEAD")
	if err != nil {
		return usageError{err}
	}
	rr, err := newRunReader(st, o.Trust)
	if err != nil {
		return err
	}
	h, err := loadTeamHistory(ctx, st, rr, prior, base, historyOf(base), o.Service, o.Env, time.Time{})
	if err != nil {
		return err
	}
	if len(h.deployments) == 0 {
		return usagef("%s/%s: no recorded deployment is a range of %s (prf deployments list)", o.Service, o.Env, o.Repo)
	}
	title := fmt.Sprintf("%s/%s: %d recorded deployments measured in %s", o.Service, o.Env, len(h.deployments), o.Repo)
	if h.skipped > 0 {
		title += fmt.Sprintf(" (%d more are not ranges of it)", h.skipped)
	}
	o.Data = o.Service + "/" + o.Env
	return writeHistoryEval(d, o, title+", embedded prior", h.deployments)
}

// writeHistoryEval evaluates a deployment history slice by slice and
// prints the comparison.
func writeHistoryEval(d *deps, o *riskEvalOpts, title string, history []risk.Deployment) error {
	res := risk.EvaluateHistory(history, o.Step)
	if o.Output == "json" {
		return writeJSON(d.Out, struct {
			Data        string           `json:"data"`
			Title       string           `json:"title"`
			Deployments int              `json:"deployments"`
			Slices      []risk.SliceEval `json:"slices"`
			Summary     risk.HistoryWins `json:"summary"`
		}{o.Data, title, len(history), res, risk.Wins(res)})
	}
	tw := tabwriter.NewWriter(d.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(d.Out, "%s\n\n", title)
	fmt.Fprintf(tw, "trained on\ttest\tfailures\tprior Brier\tteam Brier\tprior AUC\tteam AUC\tmodel\t\n")
	for _, s := range res {
		model := "prior (history too small)"
		if s.Team {
			model = "team"
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.4f\t%.4f\t%s\t%s\t%s\t\n", s.Trained, s.Test, s.Failures, s.PriorBrier, s.TeamBrier, fmtAUC(s.PriorAUC), fmtAUC(s.TeamAUC), model)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	w := risk.Wins(res)
	fmt.Fprintf(d.Out, "\nteam model trained on %d of %d slices; lower Brier than the prior on %d of them (mean %.4f vs %.4f)\n", w.TeamSlices, len(res), w.TeamBetter, w.TeamBrier, w.PriorBrier)
	return nil
}

func fmtAUC(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

func newRiskChecksCmd(d *deps, g *globalOpts) *cobra.Command {
	var name, output string
	var top int
	cmd := &cobra.Command{
		Use:   "checks",
		Short: "Which checkpoints are likeliest to fail, and how much sooner that finds a failure",
		Long: `Learn from a checklist's stored runs (the latest 100 completed) how likely
each checkpoint is to fail next: failures over runs, each run weighing half
as much every 5 runs back, smoothed toward the checklist's overall failure
rate. prf check --prioritize starts checkpoints in this order.

Then replay the history: order each run by what the runs before it teach,
and count the checks run until its first failure (fail or error), against
file order, one at a time as with --concurrency 1 --fail-fast.`,
		Example: `  prf risk checks
  prf risk checks --checklist prf-demo -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := textOrJSON(output); err != nil {
				return err
			}
			ctx := c.Context()
			st, err := g.openStore(ctx, d)
			if err != nil {
				return err
			}
			defer st.Close()
			if name == "" {
				latest, err := resolveRun(ctx, st, "last")
				if err != nil {
					return err
				}
				name = latest.Checklist
			}
			history, err := checkHistory(ctx, st, name, checkHistoryRuns)
			if err != nil {
				return err
			}
			if len(history) == 0 {
				return usagef("checklist %q: no completed runs stored", name)
			}
			prio := risk.CheckPriorities(history)
			order := risk.Order(slices.Sorted(maps.Keys(prio)), prio)
			rep := risk.Replay(history)
			if output == "json" {
				type item struct {
					ID          string  `json:"id"`
					Probability float64 `json:"probability"`
				}
				items := []item{}
				for _, id := range order[:min(top, len(order))] {
					items = append(items, item{id, prio[id]})
				}
				return writeJSON(d.Out, struct {
					Checklist string            `json:"checklist"`
					Runs      int               `json:"runs"`
					Top       []item            `json:"top"`
					Replay    risk.ReplayReport `json:"replay"`
					Saved     float64           `json:"saved"`
				}{name, len(history), items, rep, rep.Saved()})
			}
			fmt.Fprintf(d.Out, "checklist %s: %d completed runs\n\n", name, len(history))
			tw := tabwriter.NewWriter(d.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "checkpoint\tfails next (estimate)\n")
			for _, id := range order[:min(top, len(order))] {
				fmt.Fprintf(tw, "%s\t%.3f\n", id, prio[id])
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if rep.Runs == 0 {
				fmt.Fprintln(d.Out, "\nreplay: no run after the first had a failure")
				return nil
			}
			fmt.Fprintf(d.Out, "\nreplay over %d runs with a failure: first failure after %.1f checks in priority order, %.1f in file order (of %.1f); %.0f%% fewer checks; sooner in %d runs, later in %d\n",
				rep.Runs, float64(rep.PrioChecks)/float64(rep.Runs), float64(rep.FileChecks)/float64(rep.Runs), float64(rep.TotalChecks)/float64(rep.Runs), 100*rep.Saved(), rep.Earlier, rep.Later)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "checklist", "", "checklist name (default: the latest run's)")
	cmd.Flags().IntVarP(&top, "top", "n", 15, "checkpoints to list")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output: text or json")
	return cmd
}
