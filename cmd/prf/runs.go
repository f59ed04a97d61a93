package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/report"
	"github.com/prfhq/prf/internal/signoff"
	"github.com/prfhq/prf/internal/store"
)

func newRunsCmd(d *deps, g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Browse stored runs: list, show, diff",
		Long: `Browse the runs stored in the database. RUN is a run id, a unique prefix
of one, or "last" for the newest run.`,
	}
	cmd.AddCommand(newRunsListCmd(d, g), newRunsShowCmd(d, g), newRunsDiffCmd(d, g))
	return cmd
}

func newRunsListCmd(d *deps, g *globalOpts) *cobra.Command {
	var limit int
	var name string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx, d)
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.ListRuns(ctx, store.RunFilter{Checklist: name, Limit: limit})
			if err != nil {
				return err
			}
			if len(runs) == 0 {
				fmt.Fprintln(d.ErrOut, "no runs stored yet in "+g.dbPath(d))
				return nil
			}
			tw := tabwriter.NewWriter(d.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tCHECKLIST\tENV\tSTARTED\tDURATION\tSTATE\tVERDICT\tPASS\tFAIL\tWARN\tERROR\tSKIP\tPENDING")
			for _, r := range runs {
				dur := "-"
				if r.FinishedAt != nil {
					dur = r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
				}
				s := r.Summary
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", r.ID, r.Checklist, dash(r.Environment),
					r.StartedAt.Local().Format("2006-01-02 15:04:05"), dur, r.State, dash(string(r.Verdict)),
					s[store.StatusPass], s[store.StatusFail], s[store.StatusWarn], s[store.StatusError], s[store.StatusSkipped], s[store.StatusPending])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "how many runs (0: all)")
	cmd.Flags().StringVar(&name, "checklist", "", "only runs of this checklist name")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// resolveRun accepts an id, a unique prefix, or "last".
// isLatestRun reports whether a run argument names the newest run.
func isLatestRun(id string) bool { return id == "last" || id == "latest" }

func resolveRun(ctx context.Context, st store.Store, id string) (*store.Run, error) {
	if isLatestRun(id) {
		runs, err := st.ListRuns(ctx, store.RunFilter{Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(runs) == 0 {
			return nil, usagef("no runs stored yet")
		}
		return &runs[0], nil
	}
	r, err := st.GetRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAmbiguous) {
		return nil, usageError{err} // the user named a run that is not there
	}
	return r, err
}

// runResults resolves a run (resolveRun) and reads its results.
func runResults(ctx context.Context, st store.Store, id string) (*store.Run, []store.Result, error) {
	run, err := resolveRun(ctx, st, id)
	if err != nil {
		return nil, nil, err
	}
	results, err := st.Results(ctx, run.ID)
	if err != nil {
		return nil, nil, err
	}
	return run, results, nil
}

func newRunsShowCmd(d *deps, g *globalOpts) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "show RUN",
		Short: "Show a stored run's report",
		Example: `  prf runs show last
  prf runs show 20261125-1930 -o markdown --out report.md`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f, err := reportFormat(d, format, out, false)
			if err != nil {
				return err
			}
			st, err := g.openStore(ctx, d)
			if err != nil {
				return err
			}
			defer st.Close()
			run, results, err := runResults(ctx, st, args[0])
			if err != nil {
				return err
			}
			if err := writeReport(d, run, results, f, out); err != nil {
				return err
			}
			if (format == "table" || format == "markdown") && (out == "" || out == "-") {
				return writeSignoffs(ctx, d, st, run.ID, results)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", "report format: "+strings.Join(report.Names(), ", "))
	cmd.Flags().StringVar(&out, "out", "", "write to this file")
	return cmd
}

func newRunsDiffCmd(d *deps, g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:     "diff RUN_A RUN_B",
		Short:   "Show which checkpoints changed status between two runs",
		Example: `  prf runs diff 20261124-0900 last`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx, d)
			if err != nil {
				return err
			}
			defer st.Close()
			var reps [2]report.Report
			for i, id := range args {
				run, results, err := runResults(ctx, st, id)
				if err != nil {
					return err
				}
				reps[i] = report.Report{Run: *run, Results: results, Tool: "prf " + version}
			}
			return report.RunDiff(d.Out, reps[0], reps[1])
		},
	}
}

// writeSignoffs adds the run's sign-offs to a report: who signed in which
// role, and whether the results are still what they signed (fresh) or
// changed since (stale) against its stored results. prf signoff status
// also verifies the signatures.
func writeSignoffs(ctx context.Context, d *deps, st store.Store, runID string, results []store.Result) error {
	ss, ok := st.(interface {
		Signoffs(ctx context.Context, runID string) ([]store.Signoff, error)
	})
	if !ok {
		return nil
	}
	sos, err := ss.Signoffs(ctx, runID)
	if err != nil || len(sos) == 0 {
		return err
	}
	digest := signoff.ResultsDigest(results)
	fmt.Fprintf(d.Out, "\nSign-offs (signatures: prf signoff status %s):\n", runID)
	for _, s := range sos {
		state := "fresh"
		if s.ResultsDigest != digest {
			state = "STALE: the results changed since"
		}
		fmt.Fprintf(d.Out, "  %-20s %-28s %s  %s\n", s.Role, s.Signer, s.At.UTC().Format(time.RFC3339), state)
	}
	return nil
}
