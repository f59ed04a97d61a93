package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/catalog"
	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/report"
)

func newCatalogCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Browse the built-in catalogue of checkpoints",
		Long: `The built-in catalogue is every checkpoint of the production checklist
document (and those it implies: security headers, certificate expiry,
default-deny network policies, ...), each mapped to NIST 800-53, SOC 2,
ISO 27001, FIPS 140, OWASP, GDPR and CCPA controls.

Run it against a system with 'prf check --catalog --var api_url=...', or
start a checklist that builds on it with 'prf init'.`,
		Example: `  prf catalog list --domain security
  prf catalog list --control SOC2:CC6.1 -o markdown
  prf catalog show sec.tls.hsts
  prf catalog coverage`,
	}
	cmd.AddCommand(newCatalogListCmd(d), newCatalogShowCmd(d), newCatalogCoverageCmd(d))
	return cmd
}

func loadCatalog() (*checklist.Checklist, error) {
	cl, err := catalog.Load(checklist.Options{})
	if err != nil {
		return nil, fmt.Errorf("built-in catalogue: %w", err)
	}
	return cl, nil
}

func automatedText(cp *checklist.Checkpoint) string {
	if cp.Manual != nil {
		return "manual"
	}
	return cp.Kind
}

type catalogEntry struct {
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	Source     string   `json:"source,omitempty"`
	Domain     string   `json:"domain"`
	Category   string   `json:"category"`
	Owner      string   `json:"owner"`
	Severity   string   `json:"severity"`
	Kind       string   `json:"kind,omitempty"`
	Manual     bool     `json:"manual"`
	Validation string   `json:"validation"`
	Controls   []string `json:"controls"`
	Tags       []string `json:"tags"`
	Reads      []string `json:"reads"`
	Expect     string   `json:"expect,omitempty"`
	Evidence   string   `json:"evidence,omitempty"`
	DependsOn  []string `json:"depends_on,omitempty"`
	File       string   `json:"file"`
}

func entryOf(cp *checklist.Checkpoint) catalogEntry {
	e := catalogEntry{ID: cp.ID, Title: cp.Title, Source: cp.Source, Domain: cp.Domain, Category: cp.Category,
		Owner: cp.Owner, Severity: cp.Severity, Kind: cp.Kind, Manual: cp.Manual != nil, Validation: cp.Validation,
		Controls: append([]string{}, cp.Controls...), Tags: append([]string{}, cp.Tags...), Reads: cp.Refs(),
		Expect: cp.Expect, DependsOn: cp.DependsOn, File: cp.File}
	if cp.Manual != nil {
		e.Evidence = cp.Manual.Evidence
	}
	return e
}

func newCatalogListCmd(d *deps) *cobra.Command {
	var domain, control, tag, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the catalogue's checkpoints, optionally by domain, control or tag",
		Long: `List the catalogue's checkpoints in order: id, domain, how it is checked
(a probe kind, or manual), severity, its row in the source document, title.

--control matches a control id exactly (SOC2:CC6.1), a framework (SOC2) or
a family (NIST-800-53:AC).`,
		Example: `  prf catalog list
  prf catalog list --domain backup -o json
  prf catalog list --control NIST-800-53:SC -o markdown`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if domain != "" && !slices.Contains(checklist.Domains, domain) {
				return usagef("--domain %q: one of %s", domain, strings.Join(checklist.Domains, ", "))
			}
			cl, err := loadCatalog()
			if err != nil {
				return err
			}
			cps := catalog.Filter(cl, domain, control, tag)
			if len(cps) == 0 {
				return usagef("no checkpoint matches")
			}
			switch format {
			case "table", "":
				tw := tabwriter.NewWriter(d.Out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tDOMAIN\tCHECK\tSEVERITY\tSOURCE\tTITLE")
				for _, cp := range cps {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cp.ID, cp.Domain, automatedText(cp), cp.Severity, dash(cp.Source), cp.Title)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(d.Out, "\n%d checkpoints\n", len(cps))
				return nil
			case "json":
				out := make([]catalogEntry, 0, len(cps))
				for _, cp := range cps {
					out = append(out, entryOf(cp))
				}
				return writeJSON(d.Out, out)
			case "markdown":
				fmt.Fprintln(d.Out, "| ID | Domain | Category | Checkpoint | Source | Check | Owner | Controls |")
				fmt.Fprintln(d.Out, "| --- | --- | --- | --- | --- | --- | --- | --- |")
				for _, cp := range cps {
					fmt.Fprintf(d.Out, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", cp.ID, cp.Domain, report.MarkdownText(cp.Category),
						report.MarkdownText(cp.Title), dash(cp.Source), automatedText(cp), report.MarkdownText(cp.Owner), strings.Join(cp.Controls, ", "))
				}
				return nil
			}
			return usagef("-o %q: one of table, json, markdown", format)
		},
	}
	f := cmd.Flags()
	f.StringVar(&domain, "domain", "", "only this domain ("+strings.Join(checklist.Domains, ", ")+")")
	f.StringVar(&control, "control", "", "only checkpoints mapped to this control, framework or family")
	f.StringVar(&tag, "tag", "", "only checkpoints with this tag")
	f.StringVarP(&format, "output", "o", "table", "table, json or markdown")
	return cmd
}

func newCatalogShowCmd(d *deps) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one checkpoint: what it checks, how, the controls it evidences, the variables it reads",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := loadCatalog()
			if err != nil {
				return err
			}
			cp := cl.Lookup(args[0])
			if cp == nil {
				ids := make([]string, 0, len(cl.Checkpoints))
				for _, c := range cl.Checkpoints {
					ids = append(ids, c.ID)
				}
				return usagef("no checkpoint %q in the catalogue%s (prf catalog list shows them all)", args[0], checklist.Suggest(args[0], ids))
			}
			if format == "json" {
				return writeJSON(d.Out, entryOf(cp))
			}
			if format != "text" && format != "" {
				return usagef("-o %q: text or json", format)
			}
			return showCheckpoint(d.Out, cl, cp)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	return cmd
}

func showCheckpoint(w io.Writer, cl *checklist.Checklist, cp *checklist.Checkpoint) error {
	table, err := catalog.ControlTable()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s  %s\n\n", cp.ID, cp.Title)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-11s %s\n", k+":", v)
		}
	}
	if cp.Source != "" {
		row("source", cp.Source)
	} else {
		row("source", "beyond the document")
	}
	row("domain", cp.Domain+" / "+cp.Category)
	row("owner", cp.Owner)
	row("severity", cp.Severity)
	row("validation", cp.Validation)
	row("tags", strings.Join(cp.Tags, ", "))
	row("depends on", strings.Join(cp.DependsOn, ", "))
	row("timeout", cp.Timeout.String())
	if cp.Description != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cp.Description))
	}
	fmt.Fprintln(w, "\nControls:")
	for _, c := range cp.Controls {
		title := "(not in the controls table)"
		if ctl, ok := table.Lookup(c); ok {
			title = ctl.Title
		}
		fmt.Fprintf(w, "  %-22s %s\n", c, title)
	}
	if cp.Manual != nil {
		fmt.Fprintln(w, "\nManual: needs an attestation by", cp.Owner)
		row("evidence", cp.Manual.Evidence)
		row("how", cp.Manual.Instructions)
		return nil
	}
	probeYAML, err := yaml.Marshal(&cp.ProbeNode)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nProbe:\n%s", indent(string(probeYAML), "  "))
	fmt.Fprintf(w, "Expect:\n  %s\n", strings.TrimSpace(cp.Expect))
	if refs := cp.Refs(); len(refs) > 0 {
		fmt.Fprintln(w, "\nReads (set with --var NAME=VALUE, --secret NAME=env:VAR):")
		for _, r := range refs {
			ns, name, _ := strings.Cut(r, ".")
			cur := "(not set)"
			if ns == "vars" && cl.Vars[name] != "" {
				cur = "default " + cl.Vars[name]
			}
			doc := cl.Doc(r)
			fmt.Fprintf(w, "  %-32s %-22s %s\n", r, cur, doc)
		}
	}
	return nil
}

func newCatalogCoverageCmd(d *deps) *cobra.Command {
	var format string
	var all bool
	cmd := &cobra.Command{
		Use:   "coverage",
		Short: "How much of the document and of each control framework the catalogue covers, and how much is automated",
		Long: `Counts by domain, the automated share next to the document's claim of 85%,
the document rows covered, and each control of the controls table with the
checkpoints that evidence it. Controls evidenced only by manual checkpoints
are listed apart: an auditor asks for those artefacts by hand.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := loadCatalog()
			if err != nil {
				return err
			}
			table, err := catalog.ControlTable()
			if err != nil {
				return err
			}
			cov := catalog.Cover(cl, table)
			switch format {
			case "json":
				return writeJSON(d.Out, cov)
			case "text", "":
				return writeCoverage(d.Out, cov, all)
			}
			return usagef("-o %q: text or json", format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	cmd.Flags().BoolVar(&all, "all", false, "list every control with its checkpoints")
	return cmd
}

func writeCoverage(w io.Writer, cov catalog.Coverage, all bool) error {
	fmt.Fprintf(w, "Built-in catalogue: %d checkpoints, %d from %d rows of the document, %d beyond it\n\n",
		cov.Total, cov.FromDocument, cov.DocumentRows, cov.BeyondDocument)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "DOMAIN\tTOTAL\tAUTOMATED\tMANUAL\tAUTOMATED %\t")
	for _, dc := range cov.Domains {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f%%\t\n", dc.Domain, dc.Total, dc.Automated, dc.Manual, pct(dc.Automated, dc.Total))
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%.0f%%\t\n", cov.Total, cov.Automated, cov.Manual, 100*cov.AutomatedShare)
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "meets"
	if cov.AutomatedShare < cov.DocumentClaim {
		verdict = "falls short of"
	}
	fmt.Fprintf(w, "\nAutomated: %.1f%%, which %s the document's claim of %.0f%%. The rest needs a person:\n"+
		"policies, audits, certifications and sign-offs are evidence, not endpoints.\n",
		100*cov.AutomatedShare, verdict, 100*cov.DocumentClaim)
	covered := len(cov.Controls) - len(cov.Uncovered)
	fmt.Fprintf(w, "\nControls: %d of %d in the table are mapped; %d have an automated check, %d only manual evidence, %d none.\n",
		covered, len(cov.Controls), covered-len(cov.NoAutomated), len(cov.NoAutomated), len(cov.Uncovered))
	byID := map[string]catalog.ControlCoverage{}
	for _, c := range cov.Controls {
		byID[c.ID] = c
	}
	if len(cov.NoAutomated) > 0 {
		fmt.Fprintln(w, "\nControls with no automated check (manual evidence only):")
		for _, id := range cov.NoAutomated {
			c := byID[id]
			fmt.Fprintf(w, "  %-26s %-48s %s\n", id, c.Title, strings.Join(c.Manual, ", "))
		}
	}
	if len(cov.Uncovered) > 0 {
		fmt.Fprintln(w, "\nControls no checkpoint maps to:")
		for _, id := range cov.Uncovered {
			fmt.Fprintf(w, "  %-26s %s\n", id, byID[id].Title)
		}
	}
	if all {
		fmt.Fprintln(w, "\nControl → checkpoints (automated | manual):")
		for _, c := range cov.Controls {
			fmt.Fprintf(w, "  %-26s %s | %s\n", c.ID, strings.Join(c.Automated, ", "), strings.Join(c.Manual, ", "))
		}
	}
	return nil
}

func pct(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}
