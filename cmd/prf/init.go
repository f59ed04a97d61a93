package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/atomicfile"
	"github.com/prfhq/prf/internal/catalog"
	"github.com/prfhq/prf/internal/checklist"
)

func newInitCmd(d *deps) *cobra.Command {
	var file, name string
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a prf.yaml that builds on the built-in catalogue",
		Long: `Write a checklist that includes the built-in catalogue and declares the
variables it reads, each with what it means. Fill in where your system is
(api_url, prometheus_url, ...); checkpoints whose variables stay empty are
skipped as "not configured", never failed. Secrets are references
(env:NAME or file:PATH), resolved only when checks run.

The file also shows how to disable catalogue checkpoints (a reason is
required and reported), override their severity or expect, and add your own.`,
		Example: `  prf init
  prf init -f deploy/prf.yaml --name payments-api
  prf lint -f prf.yaml && prf check -f prf.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				abs, err := filepath.Abs(filepath.Dir(file))
				if err != nil {
					return err
				}
				name = filepath.Base(abs)
			}
			if _, err := os.Stat(file); err == nil && !force {
				return usagef("%s exists (use --force to replace it)", file)
			}
			data, err := initChecklist(name)
			if err != nil {
				return err
			}
			if dir := filepath.Dir(file); dir != "." {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
			}
			if err := atomicfile.WriteFile(file, data, 0o666); err != nil {
				return err
			}
			fmt.Fprintf(d.Out, "wrote %s: the built-in catalogue plus the variables it reads\n", file)
			fmt.Fprintf(d.Out, "next: set api_url and the others in it, then 'prf lint -f %s' and 'prf check -f %s'\n", file, file)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "prf.yaml", "file to write")
	cmd.Flags().StringVar(&name, "name", "", "checklist name (default: the directory's name)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing file")
	return cmd
}

var plainScalar = regexp.MustCompile(`^[A-Za-z0-9_./:@-]*$`)

func yamlString(s string) string {
	if s != "" && plainScalar.MatchString(s) && !strings.Contains(s, ": ") {
		if _, err := strconv.ParseFloat(s, 64); err != nil && s != "true" && s != "false" && s != "null" && s != "yes" && s != "no" {
			return s
		}
	}
	return strconv.Quote(s)
}

// initChecklist renders prf.yaml: where the system is (empty variables, to
// fill in), then thresholds and paths with the catalogue's defaults
// (commented out: uncomment to change), then secrets.
func initChecklist(name string) ([]byte, error) {
	cl, err := catalog.Load(checklist.Options{})
	if err != nil {
		return nil, err
	}
	used := map[string]int{}
	for _, cp := range cl.Checkpoints {
		for _, r := range cp.Refs() {
			used[r]++
		}
	}
	// Declaration order, split: where the system is (empty variables), then
	// defaults, then secrets.
	var where, defaults, secrets []checklist.Decl
	for _, d := range cl.Decls {
		ns, name, _ := strings.Cut(d.Key, ".")
		switch {
		case ns == "secrets":
			secrets = append(secrets, d)
		case cl.Vars[name] == "":
			where = append(where, d)
		default:
			defaults = append(defaults, d)
		}
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, `# PRF checklist: the built-in catalogue (prf catalog list), configured for
# this system. Checkpoints whose variables are empty are skipped as
# "not configured" and counted in the summary; fill in what you run.
# Check it with: prf lint -f prf.yaml    Run it with: prf check -f prf.yaml
version: 1
name: %s
include: [catalog]

vars:
  # --- Where the system is (empty: the checkpoints that read it are not configured)
`, yamlString(name))
	comment := func(d checklist.Decl) string {
		if d.Doc != "" {
			fmt.Fprintf(&b, "  # %s", d.Doc)
			if n := used[d.Key]; n > 0 {
				fmt.Fprintf(&b, " (%d checkpoints)", n)
			}
			b.WriteString("\n")
		} else if n := used[d.Key]; n > 0 {
			fmt.Fprintf(&b, "  # read by %d checkpoints\n", n)
		}
		_, name, _ := strings.Cut(d.Key, ".")
		return name
	}
	for _, d := range where {
		fmt.Fprintf(&b, "  %s: \"\"\n", comment(d))
	}
	b.WriteString("\n  # --- Thresholds, paths and names: the document's values; uncomment to change\n")
	for _, d := range defaults {
		name := comment(d)
		fmt.Fprintf(&b, "  # %s: %s\n", name, yamlString(cl.Vars[name]))
	}
	b.WriteString("\nsecrets:\n  # References, never values: env:NAME or file:PATH, resolved when checks run.\n")
	for _, d := range secrets {
		name := comment(d)
		fmt.Fprintf(&b, "  %s: \"\"   # e.g. env:%s\n", name, "PRF_"+strings.ToUpper(name))
	}
	b.WriteString(`
# Leave catalogue checkpoints out, by id or by tag; the reason is reported.
disable: []
#  - id: sec.network.vpn-access
#    reason: no VPN; operators reach the cluster through the SSO bastion
#  - tag: blockchain
#    reason: this service has no chain nodes

# Change catalogue checkpoints without copying them.
override: []
#  - id: app.gateway.health
#    severity: warning
#    timeout: 60s

# Your own checkpoints (prf schema prints every field and probe setting).
checkpoints: []
`)
	return b.Bytes(), nil
}
