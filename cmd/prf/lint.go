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
	Secrets   []string
	Catalog   bool
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
	cmd.Flags().StringArrayVar(&o.Secrets, "secret", nil, "set a secret reference, NAME=env:VAR or NAME=file:PATH (repeatable)")
	cmd.Flags().BoolVar(&o.Catalog, "catalog", false, "lint the built-in catalogue with these variables")
	cmd.Flags().BoolVar(&o.NoSecrets, "no-secrets", false, "do not try to resolve secret references")
	return cmd
}

func runLint(d *deps, o *lintOpts) error {
	opts, err := loadOptions(o.Vars, o.Secrets)
	if err != nil {
		return err
	}
	opts.ResolveSecrets = !o.NoSecrets
	files := o.Files
	if o.Catalog {
		files = []string{"catalog"}
	}
	var all checklist.Errors
	var other []error
	for _, f := range files {
		cl, err := loadChecklist(f, o.Catalog, opts)
		var errs checklist.Errors
		switch {
		case errors.As(err, &errs):
			all = append(all, errs...)
		case err != nil:
			other = append(other, fmt.Errorf("%s: %w", f, err))
		default:
			auto, manual, unset := 0, 0, 0
			for _, cp := range cl.Checkpoints {
				switch {
				case cp.Manual != nil:
					manual++
				case len(cp.NotConfigured) > 0:
					unset++
					auto++
				default:
					auto++
				}
			}
			msg := fmt.Sprintf("%s: ok: %d checkpoints (%d automated, %d manual)", f, len(cl.Checkpoints), auto, manual)
			if unset > 0 {
				msg += fmt.Sprintf("; %d not configured (their variables are empty), judged once set", unset)
			}
			fmt.Fprintln(d.Out, msg)
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
