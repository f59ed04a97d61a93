package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/atomicfile"
	"github.com/prfhq/prf/internal/audit"
	"github.com/prfhq/prf/internal/catalog"
	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/report"
	"github.com/prfhq/prf/internal/risk"
	"github.com/prfhq/prf/internal/runner"
	"github.com/prfhq/prf/internal/signoff"
	"github.com/prfhq/prf/internal/store"
)

type checkOpts struct {
	File        string
	Env         string
	Concurrency int
	Format      string
	Out         string
	Vars        []string
	Secrets     []string
	Catalog     bool
	Only        []string
	Tags        []string
	Quiet       bool
	Color       bool
	Prioritize  bool
	FailFast    bool
}

func newCheckCmd(d *deps, g *globalOpts, runF func(context.Context, *checkOpts) error) *cobra.Command {
	o := &checkOpts{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Run a checklist and report whether the system is ready",
		Long: `Run every checkpoint of a checklist, in parallel, and store the results.

Automated checkpoints run their probe and judge the observation with their
expect expression; manual ones are reported pending until their owner
attests them. A checkpoint whose dependency did not pass is skipped, and
so is one that reads a variable or secret nobody set ("not configured":
counted in the summary, never failed).

--catalog runs PRF's built-in catalogue (prf catalog list) with no file:
say where the system is with --var (api_url, prometheus_url, redis_addr,
s3_bucket, kubeconfig, chain_rpc_url, ...) and give secrets as references
with --secret (database_dsn=env:DATABASE_URL, auth_password=file:/run/pw).

Exit status: 0 ready, 1 not ready (a blocking checkpoint failed, errored,
was skipped or is pending), 2 bad checklist or usage, 3 internal error,
130 interrupted (the results finished so far are stored).

--prioritize with --fail-fast finds a failing release soonest: the
checkpoints that failed most, most recently, in this checklist's stored
runs start first, and the run stops at the first blocking failure.`,
		Example: `  prf check -f prf.yaml
  prf check --catalog --var api_url=https://api.example.com --secret auth_password=env:API_PASSWORD
  prf check -f prf.yaml --env staging -o junit --out report.xml
  prf check -f prf.yaml --var base=https://staging.example.test --tag security
  PRF_DB=/var/lib/prf/prf.db prf check -o markdown > comment.md
  prf check -f prf.yaml --prioritize --fail-fast`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runCheck(cmd.Context(), d, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.File, "file", "f", "prf.yaml", "checklist file")
	f.StringVar(&o.Env, "env", "", "environment label stored with the run (e.g. staging, production)")
	f.IntVar(&o.Concurrency, "concurrency", runner.DefaultConcurrency, "checkpoints run at once (a load test, or any exclusive checkpoint, runs alone)")
	f.StringVarP(&o.Format, "output", "o", "table", "report format: "+strings.Join(report.Names(), ", "))
	f.StringVar(&o.Out, "out", "", "write the report to this file instead of standard output")
	f.StringArrayVar(&o.Vars, "var", nil, "set a variable, NAME=VALUE (repeatable)")
	f.StringArrayVar(&o.Secrets, "secret", nil, "set a secret reference, NAME=env:VAR or NAME=file:PATH (repeatable; never a value)")
	f.BoolVar(&o.Catalog, "catalog", false, "run the built-in catalogue instead of a checklist file")
	f.StringSliceVar(&o.Only, "only", nil, "run only these checkpoint ids (comma-separated)")
	f.StringSliceVar(&o.Tags, "tag", nil, "run only checkpoints with one of these tags")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress output")
	f.BoolVar(&o.Color, "color", false, "colour the table report")
	f.BoolVar(&o.Prioritize, "prioritize", false, "start the checkpoints most likely to fail first, learnt from this checklist's stored runs (recent runs weigh more; prf risk checks shows the order)")
	f.BoolVar(&o.FailFast, "fail-fast", false, "stop starting checkpoints after the first blocking failure; the rest are recorded as skipped (fail_fast) and the run is not ready")
	return cmd
}

func parseVars(kvs []string) (map[string]string, error) {
	vars := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--var %q: want NAME=VALUE", kv)
		}
		vars[k] = v
	}
	return vars, nil
}

// parseSecrets reads --secret NAME=REF; a value instead of a reference is
// refused, so that no secret lands in shell history or a process list.
func parseSecrets(kvs []string) (map[string]string, error) {
	secrets := map[string]string{}
	for _, kv := range kvs {
		k, ref, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--secret %q: want NAME=env:VAR or NAME=file:PATH", redactArg(kv))
		}
		if !strings.HasPrefix(ref, "env:") && !strings.HasPrefix(ref, "file:") {
			return nil, usagef("--secret %s: want a reference, env:VAR or file:PATH, not a value", k)
		}
		secrets[k] = ref
	}
	return secrets, nil
}

// redactArg keeps the name of a malformed --secret argument and hides the
// rest, which may be a value.
func redactArg(kv string) string {
	if len(kv) > 4 {
		return kv[:4] + "…"
	}
	return "…"
}

func loadOptions(varArgs, secretArgs []string) (checklist.Options, error) {
	vars, err := parseVars(varArgs)
	if err != nil {
		return checklist.Options{}, err
	}
	secrets, err := parseSecrets(secretArgs)
	if err != nil {
		return checklist.Options{}, err
	}
	return checklist.Options{Vars: vars, Secrets: secrets}, nil
}

// loadChecklist loads a file, or the built-in catalogue with --catalog.
func loadChecklist(file string, useCatalog bool, opts checklist.Options) (*checklist.Checklist, error) {
	if useCatalog {
		return catalog.Load(opts)
	}
	return checklist.Load(file, opts)
}

func runCheck(ctx context.Context, d *deps, g *globalOpts, o *checkOpts) error {
	format, err := reportFormat(d, o.Format, o.Out, o.Color)
	if err != nil {
		return err
	}
	if o.Concurrency < 1 {
		return usagef("--concurrency must be at least 1")
	}
	opts, err := loadOptions(o.Vars, o.Secrets)
	if err != nil {
		return err
	}
	opts.ResolveSecrets = true
	cl, err := loadChecklist(o.File, o.Catalog, opts)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return usageError{fmt.Errorf("%w (create one, or start from 'prf demo checklist')", err)}
		}
		return err
	}
	sel, err := selector(cl, o.Only, o.Tags)
	if err != nil {
		return err
	}
	st, err := g.openStore(ctx, d)
	if err != nil {
		return err
	}
	defer st.Close()
	ropts := runner.Options{Concurrency: o.Concurrency, Environment: o.Env, Select: sel, FailFast: o.FailFast}
	if o.Prioritize {
		if ropts.Priority, err = checkPriorities(ctx, st, cl.Name); err != nil {
			return err
		}
	}
	return checkAndReport(ctx, d, st, cl, ropts, format, o.Out, o.Quiet)
}

// checkAndReport runs a loaded checklist with progress, then writes the
// report from the stored results. It is shared by check and demo.
func checkAndReport(ctx context.Context, d *deps, st store.Store, cl *checklist.Checklist, ropts runner.Options, format report.Format, out string, quiet bool) error {
	var progress *report.Progress
	if !quiet {
		progress = report.NewProgress(d.ErrOut, countSelected(cl, ropts.Select), d.Terminal(d.ErrOut))
		ropts.Observer = func(e runner.Event) {
			switch e.Type {
			case runner.EventStarted:
				progress.Started(e.Checkpoint.ID, e.Checkpoint.Title)
			case runner.EventFinished:
				progress.Finished(*e.Result)
			}
		}
	}
	if ropts.RunID == "" {
		ropts.RunID = runner.NewRunID(time.Now())
	}
	auditRun := runAuditor(d, st)
	auditRun(ctx, audit.KindRunStarted, map[string]any{"run": ropts.RunID, "checklist": cl.Name, "checklist_sha256": cl.Digest})
	run, runErr := runner.Run(ctx, cl, st, ropts)
	var (
		stored    *store.Run
		results   []store.Result
		reportErr error
	)
	if run != nil {
		// Read once, as stored: the audit log's digest and the report.
		stored, results, reportErr = runResults(context.WithoutCancel(ctx), st, run.ID)
		payload := map[string]any{"run": run.ID, "state": run.State, "verdict": run.Verdict, "summary": run.Summary}
		if reportErr == nil {
			payload["results_sha256"] = signoff.ResultsDigest(results)
		}
		auditRun(context.WithoutCancel(ctx), audit.KindRunFinished, payload)
	}
	if progress != nil {
		progress.Done()
	}
	if run == nil {
		return runErr
	}
	if reportErr == nil {
		reportErr = writeReport(d, stored, results, format, out)
	}
	if reportErr != nil {
		return errors.Join(runErr, reportErr)
	}
	if runErr != nil {
		return runErr
	}
	if run.Verdict != store.VerdictReady {
		return errNotReady
	}
	return nil
}

// runAuditor returns what appends a run's automatic events to the store's
// audit log, signed by the instance key (in $PRF_INSTANCE_KEY_DIR or beside
// the database), loaded once for all of them. A store without a log (or a
// failure) is reported, never fatal to the run.
func runAuditor(d *deps, st store.Store) func(ctx context.Context, kind string, payload any) {
	as, ok := st.(audit.Store)
	p, hasPath := st.(interface{ Path() string })
	var signer audit.Signer
	var keyErr error
	return func(ctx context.Context, kind string, payload any) {
		if !ok || !hasPath {
			return
		}
		if signer == nil && keyErr == nil {
			signer, keyErr = instanceKey(d, p.Path())
		}
		err := keyErr
		if err == nil {
			_, err = audit.Append(ctx, as, signer, kind, payload)
		}
		if err != nil {
			fmt.Fprintf(d.ErrOut, "prf: audit log: %s: %v\n", kind, err)
		}
	}
}

func countSelected(cl *checklist.Checklist, sel func(*checklist.Checkpoint) bool) int {
	if sel == nil {
		return len(cl.Checkpoints)
	}
	n := 0
	for _, cp := range cl.Checkpoints {
		if sel(cp) {
			n++
		}
	}
	return n
}

func selector(cl *checklist.Checklist, only, tags []string) (func(*checklist.Checkpoint) bool, error) {
	if len(only) == 0 && len(tags) == 0 {
		return nil, nil
	}
	for _, id := range only {
		if cl.Lookup(id) == nil {
			return nil, usagef("--only: no checkpoint %q in %s", id, cl.File)
		}
	}
	// A tag that selects nothing is a typo, not an empty (and so "ready")
	// gate.
	for _, t := range tags {
		found := false
		for _, cp := range cl.Checkpoints {
			if slices.Contains(cp.Tags, t) {
				found = true
				break
			}
		}
		if !found {
			return nil, usagef("--tag: no checkpoint in %s has tag %q", cl.File, t)
		}
	}
	return func(cp *checklist.Checkpoint) bool {
		if slices.Contains(only, cp.ID) {
			return true
		}
		for _, t := range tags {
			if slices.Contains(cp.Tags, t) {
				return true
			}
		}
		return false
	}, nil
}

// writeReport renders a run as the store holds it (runResults), never
// from memory, so a report always shows what an auditor would find.
func writeReport(d *deps, run *store.Run, results []store.Result, format report.Format, out string) error {
	rep := &report.Report{Run: *run, Results: results, Tool: "prf " + version}
	return writeTo(d, out, func(w io.Writer) error { return format.Write(w, rep) })
}

// writeTo writes to the named file (atomically) or to standard output.
func writeTo(d *deps, out string, write func(io.Writer) error) error {
	if out == "" || out == "-" {
		return write(d.Out)
	}
	if err := atomicfile.Write(out, 0o666, write); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(d.ErrOut, "report written to %s\n", out)
	return nil
}

// checkPriorities is each checkpoint's likelihood of failing, learnt from
// the checklist's stored runs (prf check --prioritize).
func checkPriorities(ctx context.Context, st store.Store, checklist string) (map[string]float64, error) {
	history, err := checkHistory(ctx, st, checklist, checkHistoryRuns)
	if err != nil {
		return nil, err
	}
	return risk.CheckPriorities(history), nil
}

// checkHistoryRuns is how many of a checklist's latest stored runs
// prioritization learns from.
const checkHistoryRuns = 100

// checkHistory reads the latest n completed runs of a checklist, oldest
// first, as prioritization sees them: what ran (not skipped) and what
// failed or errored.
func checkHistory(ctx context.Context, st store.Store, checklist string, n int) ([]risk.CheckRun, error) {
	runs, err := st.ListRuns(ctx, store.RunFilter{Checklist: checklist, Limit: n})
	if err != nil {
		return nil, err
	}
	var out []risk.CheckRun
	for i := len(runs) - 1; i >= 0; i-- { // ListRuns gives the newest first
		if runs[i].State != store.RunCompleted {
			continue
		}
		results, err := st.Results(ctx, runs[i].ID)
		if err != nil {
			return nil, err
		}
		// File order: replays compare against it.
		slices.SortStableFunc(results, func(a, b store.Result) int { return cmp.Compare(a.Position, b.Position) })
		cr := risk.CheckRun{Failed: map[string]bool{}}
		for _, r := range results {
			if r.Status == store.StatusSkipped || r.Status == store.StatusPending {
				continue
			}
			cr.Ran = append(cr.Ran, r.ID)
			if r.Status == store.StatusFail || r.Status == store.StatusError {
				cr.Failed[r.ID] = true
			}
		}
		out = append(out, cr)
	}
	return out, nil
}
