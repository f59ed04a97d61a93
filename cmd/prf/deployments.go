package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/rollout"
	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/yamlx"
)

// deploymentStore is what prf deployments needs of the store.
type deploymentStore interface {
	store.Store
	AddDeployments(ctx context.Context, ds []store.Deployment) (int, error)
	Deployments(ctx context.Context, f store.DeploymentFilter) ([]store.Deployment, error)
	SetDeploymentOutcome(ctx context.Context, id, outcome, note string) error
}

func openDeploymentStore(ctx context.Context, d *deps, g *globalOpts) (deploymentStore, error) {
	st, err := g.openStore(ctx, d)
	if err != nil {
		return nil, err
	}
	ds, ok := st.(deploymentStore)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("the store at %s keeps no deployments", g.dbPath(d))
	}
	return ds, nil
}

// deploymentsIntro and outcomesHelp are the help of prf deployments; the
// subcommands repeat outcomesHelp.
const deploymentsIntro = `Deployments are the history a risk model learns from: each is one service
going to one environment, from one git revision to another, at one time,
and how that turned out. Record them as they happen (prf deployments record
in the deploy pipeline), or import a history from CSV; set the outcome once
it is known (prf deployments outcome).

`

const outcomesHelp = `Outcomes:
  success      it stayed: not rolled back, and no incident was traced to it
  rolled_back  it was rolled back (or replaced by a hotfix) because it
               misbehaved
  incident     it stayed but caused an incident
  unknown      not known yet; left out of failure rates until it is set

rolled_back and incident are failures. A failure rate is
(rolled_back + incident) / (deployments whose outcome is known).`

func newDeploymentsCmd(d *deps, g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deployments",
		Short: "Record, import and list deployments and their outcomes (what the risk model learns from)",
		Long:  deploymentsIntro + outcomesHelp,
		Example: `  prf deployments record --service checkout --env prod --from 9f2c1e0 --to 4b7d2a1 --outcome unknown --run last
  prf deployments outcome 20261125-193012-3f9a1c success
  prf deployments import history.csv --dry-run
  prf deployments list --service checkout --env prod --since 30d`,
	}
	cmd.AddCommand(newDeploymentsRecordCmd(d, g), newDeploymentsImportCmd(d, g),
		newDeploymentsListCmd(d, g), newDeploymentsOutcomeCmd(d, g))
	return cmd
}

// --- parsing flags

// parseSince reads how far back to look: a duration before now (72h, 30d,
// 2w) or a time (2026-11-01, or any form rollout.ParseDeployTime reads).
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		per    time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			if n, err := strconv.Atoi(num); err == nil && n >= 0 {
				return now.Add(-time.Duration(n) * u.per), nil
			}
		}
	}
	if dur, err := time.ParseDuration(s); err == nil && dur >= 0 {
		return now.Add(-dur), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := rollout.ParseDeployTime(s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want a duration (72h, 30d, 2w) or a date (2026-11-01, RFC 3339), got %q", s)
}

// shortRev shortens a full git hash as git log --oneline does; tags and
// other names stay as they are.
func shortRev(rev string) string {
	if len(rev) < 12 || strings.Trim(strings.ToLower(rev), "0123456789abcdef") != "" {
		return rev
	}
	return rev[:7]
}

// --- record

type deploymentsRecordOpts struct {
	Service, Env, From, To, Time, Outcome, Run, Note string
}

func newDeploymentsRecordCmd(d *deps, g *globalOpts) *cobra.Command {
	o := &deploymentsRecordOpts{}
	cmd := &cobra.Command{
		Use:   "record --service S --env E --to REV --outcome OUTCOME",
		Short: "Record one deployment; prints its id",
		Long: `Record one deployment: the service, the environment, the git revision
deployed (--to) and the one it replaced (--from, when known), when
(--time, default now) and its outcome. Most pipelines record it with
--outcome unknown as they deploy, and set the outcome later with
prf deployments outcome ID OUTCOME once it has held (or not).

` + outcomesHelp + `

--run names the readiness run the deployment followed ("last" is the newest
run in this database). The new deployment's id is printed on its own, for
scripts.`,
		Example: `  id=$(prf deployments record --service checkout --env prod --from 9f2c1e0 --to 4b7d2a1 --outcome unknown --run last)
  prf deployments outcome "$id" success
  prf deployments record --service api --env staging --to v1.4.2 --time 2026-11-20T14:05:00Z --outcome rolled_back --note "p99 doubled"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeploymentsRecord(cmd.Context(), d, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Service, "service", "", "the service deployed")
	f.StringVar(&o.Env, "env", "", "the environment it was deployed to (prod, staging, …)")
	f.StringVar(&o.From, "from", "", "the git revision it replaced (optional)")
	f.StringVar(&o.To, "to", "", "the git revision deployed")
	f.StringVar(&o.Time, "time", "", "when it was deployed: RFC 3339, unix seconds or '2006-01-02 15:04:05' UTC (default now)")
	f.StringVar(&o.Outcome, "outcome", "", "success, rolled_back, incident or unknown")
	f.StringVar(&o.Run, "run", "", `the readiness run it deployed after (a run id, or "last")`)
	f.StringVar(&o.Note, "note", "", "free text: a ticket, what happened")
	return cmd
}

func runDeploymentsRecord(ctx context.Context, d *deps, g *globalOpts, o *deploymentsRecordOpts) error {
	dep := store.Deployment{Service: strings.TrimSpace(o.Service), Environment: strings.TrimSpace(o.Env),
		FromRev: strings.TrimSpace(o.From), ToRev: strings.TrimSpace(o.To), RunID: strings.TrimSpace(o.Run), Note: o.Note}
	var missing []string
	for _, f := range []struct{ flag, v string }{{"--service", dep.Service}, {"--env", dep.Environment}, {"--to", dep.ToRev}, {"--outcome", o.Outcome}} {
		if f.v == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return usagef("give %s (outcome: %s; unknown if it is not known yet)", strings.Join(missing, ", "), rollout.OutcomeChoices())
	}
	var err error
	if dep.Outcome, err = rollout.ParseOutcome(o.Outcome); err != nil {
		return usagef("--outcome: %v", err)
	}
	dep.Time = time.Now().UTC()
	if o.Time != "" {
		if dep.Time, err = rollout.ParseDeployTime(o.Time); err != nil {
			return usagef("--time: %v", err)
		}
	}
	st, err := openDeploymentStore(ctx, d, g)
	if err != nil {
		return err
	}
	defer st.Close()
	if isLatestRun(dep.RunID) {
		run, err := resolveRun(ctx, st, dep.RunID)
		if err != nil {
			return err
		}
		dep.RunID = run.ID
	}
	ds := []store.Deployment{dep}
	if _, err := st.AddDeployments(ctx, ds); err != nil {
		return err
	}
	fmt.Fprintln(d.Out, ds[0].ID)
	return nil
}

// --- import

type deploymentsImportOpts struct {
	File   string
	DryRun bool
}

func newDeploymentsImportCmd(d *deps, g *globalOpts) *cobra.Command {
	o := &deploymentsImportOpts{}
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import a deployment history from CSV, all rows or none",
		Long: `Import deployments from a CSV file ("-" reads standard input). The first
row names the columns, in any order and any case:

  service       required  the service deployed
  environment   required  where to (the column may also be called env)
  from_rev      optional  the git revision it replaced
  to_rev        required  the git revision deployed
  time          required  RFC 3339 (2026-11-25T19:30:12Z), unix seconds,
                          or 2006-01-02 15:04:05 (read as UTC)
  outcome       required  success, rolled_back, incident or unknown
  run_id        optional  the readiness run it deployed after
  note          optional  free text
  id            optional  the deployment's id; a new one when empty

` + outcomesHelp + `

Every bad cell is reported as FILE:LINE:COL with its column, and then
nothing is imported: an import stores all of its rows in one transaction or
none of them (exit 2). An id that is already stored is an error too, so the
same file cannot be imported twice if it has ids. --dry-run checks the file
and stores nothing.`,
		Example: `  prf deployments import history.csv --dry-run
  prf deployments import history.csv
  ./export-deploys.sh | prf deployments import -

A file:
  service,env,from_rev,to_rev,time,outcome,note
  checkout,prod,9f2c1e0,4b7d2a1,2026-11-20T14:05:00Z,success,
  checkout,prod,4b7d2a1,c03e9d8,1763900000,rolled_back,p99 doubled`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			return runDeploymentsImport(cmd.Context(), d, g, o)
		},
	}
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "check the file and report every problem; store nothing")
	return cmd
}

func runDeploymentsImport(ctx context.Context, d *deps, g *globalOpts, o *deploymentsImportOpts) error {
	name, r := o.File, d.In
	if o.File == "-" {
		name = "stdin"
	} else {
		f, err := os.Open(o.File)
		if err != nil {
			return usageError{err}
		}
		defer f.Close()
		r = f
	}
	ds, idPos, err := rollout.ReadDeploymentsCSV(name, r)
	if err != nil {
		return usageError{fmt.Errorf("%w\nnothing imported", err)}
	}
	if o.DryRun {
		fmt.Fprintf(d.Out, "%s: %d deployments, all valid (dry run: nothing imported)\n", name, len(ds))
		return nil
	}
	st, err := openDeploymentStore(ctx, d, g)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.AddDeployments(ctx, ds)
	var de *store.DuplicateError
	if errors.As(err, &de) {
		if p, ok := idPos[de.ID]; ok {
			return yamlx.Errors{{File: name, Line: p.Line, Col: p.Col, Field: `column "id"`,
				Msg: fmt.Sprintf("deployment %q is already stored; nothing imported", de.ID)}}
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "imported %d deployments from %s\n", n, name)
	return nil
}

// --- list

type deploymentsListOpts struct {
	Service, Env, Since, Output string
	Limit                       int
}

func newDeploymentsListCmd(d *deps, g *globalOpts) *cobra.Command {
	o := &deploymentsListOpts{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List deployments oldest first, with each service's failure rate",
		Long: `List stored deployments, oldest first: when, the service and environment,
the revisions (from..to, full git hashes shortened), the outcome and the
readiness run. Under the table, one line per service and environment counts
the deployments listed and their failure rate: rolled_back and incident
over the deployments whose outcome is known (unknown ones are left out).

--since takes a duration back from now (72h, 30d, 2w) or a date
(2026-11-01, RFC 3339). --limit keeps the most recent N of what matches.
-o json writes the deployments as a JSON array.`,
		Example: `  prf deployments list
  prf deployments list --service checkout --env prod --since 30d
  prf deployments list --limit 50 -o json > deployments.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeploymentsList(cmd.Context(), d, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Service, "service", "", "only this service")
	f.StringVar(&o.Env, "env", "", "only this environment")
	f.StringVar(&o.Since, "since", "", "only deployments since: a duration (30d, 72h) or a date (2026-11-01)")
	f.IntVarP(&o.Limit, "limit", "n", 0, "only the most recent N (0: all)")
	f.StringVarP(&o.Output, "output", "o", "text", "text or json")
	return cmd
}

func runDeploymentsList(ctx context.Context, d *deps, g *globalOpts, o *deploymentsListOpts) error {
	if err := textOrJSON(o.Output); err != nil {
		return err
	}
	if o.Limit < 0 {
		return usagef("--limit %d: want 0 (all) or more", o.Limit)
	}
	f := store.DeploymentFilter{Service: o.Service, Environment: o.Env, Limit: o.Limit}
	if o.Since != "" {
		var err error
		if f.Since, err = parseSince(o.Since, time.Now()); err != nil {
			return usagef("--since: %v", err)
		}
	}
	st, err := openDeploymentStore(ctx, d, g)
	if err != nil {
		return err
	}
	defer st.Close()
	ds, err := st.Deployments(ctx, f)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return writeJSON(d.Out, ds)
	}
	if len(ds) == 0 {
		fmt.Fprintln(d.ErrOut, "no deployments match in "+g.dbPath(d))
		return nil
	}
	tw := tabwriter.NewWriter(d.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME (UTC)\tSERVICE\tENV\tREVISIONS\tOUTCOME\tRUN")
	for _, dep := range ds {
		revs := shortRev(dep.ToRev)
		if dep.FromRev != "" {
			revs = shortRev(dep.FromRev) + ".." + revs
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dep.ID, dep.Time.UTC().Format(rollout.TimeLayout),
			dep.Service, dep.Environment, revs, dep.Outcome, dash(dep.RunID))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(d.Out)
	for _, s := range failureRates(ds) {
		fmt.Fprintln(d.Out, s)
	}
	return nil
}

// deploymentTally counts one service's deployments to one environment.
type deploymentTally struct {
	service, env           string
	total, known, failures int
}

func (t deploymentTally) String() string {
	rate := "no known outcome"
	if t.known > 0 {
		rate = fmt.Sprintf("failure rate %.1f%% (%d of %d with a known outcome)", 100*float64(t.failures)/float64(t.known), t.failures, t.known)
	}
	plural := "s"
	if t.total == 1 {
		plural = ""
	}
	return fmt.Sprintf("%s %s: %d deployment%s, %s", t.service, t.env, t.total, plural, rate)
}

// failureRates tallies deployments per service and environment, in order
// of service and environment.
func failureRates(ds []store.Deployment) []deploymentTally {
	var out []deploymentTally
	index := map[[2]string]int{}
	for _, dep := range ds {
		k := [2]string{dep.Service, dep.Environment}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, deploymentTally{service: dep.Service, env: dep.Environment})
		}
		out[i].total++
		if failed, known := dep.Failed(); known {
			out[i].known++
			if failed {
				out[i].failures++
			}
		}
	}
	slices.SortFunc(out, func(a, b deploymentTally) int {
		return strings.Compare(a.service+"\x00"+a.env, b.service+"\x00"+b.env)
	})
	return out
}

// --- outcome

func newDeploymentsOutcomeCmd(d *deps, g *globalOpts) *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:   "outcome ID OUTCOME",
		Short: "Set a deployment's outcome once it is known",
		Long: `Set the outcome of a stored deployment: typically one recorded as unknown
while it was deployed, once it has held (success) or not (rolled_back,
incident); or a success that turned out to cause an incident later. --note
replaces the deployment's note; without it the note is kept.

` + outcomesHelp,
		Example: `  prf deployments outcome 20261125-193012-3f9a1c success
  prf deployments outcome 20261125-193012-3f9a1c incident --note "INC-2041: checkout 500s"`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			outcome, err := rollout.ParseOutcome(args[1])
			if err != nil {
				return usagef("outcome: %v", err)
			}
			st, err := openDeploymentStore(ctx, d, g)
			if err != nil {
				return err
			}
			defer st.Close()
			err = st.SetDeploymentOutcome(ctx, args[0], outcome, note)
			if errors.Is(err, store.ErrNotFound) {
				return usagef("no deployment %q in %s (prf deployments list shows the ids)", args[0], g.dbPath(d))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(d.Out, "deployment %s: %s\n", args[0], outcome)
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why: a ticket, what happened (replaces the note)")
	return cmd
}
