package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/checklist"
)

func newSchemaCmd(d *deps) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the checklist format, for editors",
		Long: `Print a JSON Schema (draft 2020-12) of the checklist format. Point your
editor's YAML language server at it for completion and inline errors:

  # yaml-language-server: $schema=./prf.schema.json`,
		Example: `  prf schema > prf.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b, err := checklist.Schema(nil)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(d.Out, string(b))
			return err
		},
	}
}
