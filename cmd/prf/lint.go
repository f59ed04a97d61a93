package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/checklist"
)

type lintOpts struct {
	Files     []string
	Vars      []string
	NoSecrets bool
}

func newLintCmd(d *deps, runF func(context.Context, *lintOpts) error) *cobra.Command {
	o := &lintOpts{}
	cmd := &cobra.Command{
		Use:   "lint [-f FILE]...",
		Short: "Check checklist files and report every problem with file:line:col",
		Long: `Check checklist files without running them. Every problem is reported,
not just the first: unknown or misspelt fields, wrong types, duplicate ids,
unknown probe kinds or settings, expect expressions that do not compile,
unknown or cyclic depends_on, and secret references that cannot be resolved
in this environment (skip that with --no-secrets, e.g. on a laptop).

Exit status: 0 clean, 2 problems found.`,
		Example: `  prf lint -f prf.yaml
  prf lint -f base.yaml -f prod.yaml --no-secrets`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runLint(d, o)
		},
	}
	cmd.Flags().StringArrayVarP(&o.Files, "file", "f", []string{"prf.yaml"}, "checklist file (repeatable)")
	cmd.Flags().StringArrayVar(&o.Vars, "var", nil, "override a variable, NAME=VALUE (repeatable)")
	cmd.Flags().BoolVar(&o.NoSecrets, "no-secrets", false, "do not try to resolve secret references")
	return cmd
}

func runLint(d *deps, o *lintOpts) error {
	vars, err := parseVars(o.Vars)
	if err != nil {
		return err
	}
	var all checklist.Errors
	var other []error
	for _, f := range o.Files {
		cl, err := checklist.Load(f, checklist.Options{Vars: vars, ResolveSecrets: !o.NoSecrets})
		var errs checklist.Errors
		switch {
		case errors.As(err, &errs):
			all = append(all, errs...)
		case err != nil:
			other = append(other, fmt.Errorf("%s: %w", f, err))
		default:
			auto, manual := 0, 0
			for _, cp := range cl.Checkpoints {
				if cp.Manual != nil {
					manual++
				} else {
					auto++
				}
			}
			fmt.Fprintf(d.Out, "%s: ok: %d checkpoints (%d automated, %d manual)\n", f, len(cl.Checkpoints), auto, manual)
		}
	}
	for _, e := range all {
		fmt.Fprintln(d.Out, e.Error())
	}
	for _, e := range other {
		fmt.Fprintln(d.Out, e.Error())
	}
	if n := len(all) + len(other); n > 0 {
		return usageError{fmt.Errorf("%d problem(s) found", n)}
	}
	return nil
}
