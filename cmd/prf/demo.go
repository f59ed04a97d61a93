package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/demo"
	"github.com/prfhq/prf/internal/report"
	"github.com/prfhq/prf/internal/runner"
)

func faultHelp() string {
	var b strings.Builder
	for _, f := range demo.Faults() {
		fmt.Fprintf(&b, "  %-16s %s\n", f.Name, f.Description)
	}
	return b.String()
}

type demoOpts struct {
	Format      string
	Out         string
	Faults      []string
	Concurrency int
	Quiet       bool
	Keep        string
	NoServices  bool
	Vars        []string
	Prioritize  bool
	FailFast    bool
}

func newDemoCmd(d *deps, g *globalOpts) *cobra.Command {
	o := &demoOpts{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start the local reference system and run the built-in catalogue against it",
		Long: `Start a local reference system with the document's endpoints (API gateway,
JWT auth, rate-limited and WAF-protected API, AI inference, blockchain status)
on 127.0.0.1 over HTTPS, run the built-in catalogue (prf catalog list)
configured for it, store the run and print the report. When this machine has
PostgreSQL and Redis, the demo also starts them on loopback (PostgreSQL with
TLS from the demo CA) and checks them like the document's RDS and
ElastiCache. What the reference system lacks (Kubernetes, chain nodes,
Prometheus, S3, ...) is skipped as "not configured" and counted; manual
checkpoints stay pending until attested, so the verdict is NOT READY. Exit
status 0 means the run completed, whatever its verdict.

'prf demo checklist' prints the same checklist for a reference system that
'prf demo target' runs, to run with 'prf check -f'.

Faults make one part misbehave, to watch PRF catch it:
` + faultHelp(),
		Example: `  prf demo
  prf demo --fault no-auth --fault weak-tls
  prf demo -o markdown --out demo.md
  prf demo target --listen 127.0.0.1:8443 --ca-out ca.pem     # the system alone
  prf demo checklist --target https://127.0.0.1:8443 --ca ca.pem > prf.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), d, g, o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.Format, "output", "o", "table", "report format: "+strings.Join(report.Names(), ", "))
	f.StringVar(&o.Out, "out", "", "write the report to this file")
	f.StringArrayVar(&o.Faults, "fault", nil, "inject a fault into the reference system (repeatable)")
	f.IntVar(&o.Concurrency, "concurrency", runner.DefaultConcurrency, "checkpoints run at once (a load test, or any exclusive checkpoint, runs alone)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress output")
	f.StringVar(&o.Keep, "keep", "", "also write the demo's prf.yaml and the CA certificate into this directory")
	f.BoolVar(&o.NoServices, "no-services", false, "do not start PostgreSQL and Redis even when this machine has them")
	f.StringArrayVar(&o.Vars, "var", nil, "override a variable of the demo checklist, NAME=VALUE (repeatable), e.g. cert_soc2_expires=2099-12-31")
	f.BoolVar(&o.Prioritize, "prioritize", false, "as prf check --prioritize: start the checkpoints that failed most in the stored demo runs first")
	f.BoolVar(&o.FailFast, "fail-fast", false, "as prf check --fail-fast: stop at the first blocking failure")
	cmd.AddCommand(newDemoTargetCmd(d), newDemoChecklistCmd(d))
	return cmd
}

func runDemo(ctx context.Context, d *deps, g *globalOpts, o *demoOpts) error {
	format, err := reportFormat(d, o.Format, o.Out, false)
	if err != nil {
		return err
	}
	t, err := demo.NewTarget(demo.Options{Faults: o.Faults})
	if err != nil {
		return usageError{err}
	}
	if err := t.Start(ctx); err != nil {
		return fmt.Errorf("start reference system: %w", err)
	}
	defer t.Close()
	dir := o.Keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "prf-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	caFile := filepath.Join(dir, "demo-ca.pem")
	if err := os.WriteFile(caFile, t.CACertPEM(), 0o644); err != nil {
		return err
	}
	var svc *demo.Services
	if !o.NoServices {
		fmt.Fprintln(d.ErrOut, "starting PostgreSQL and Redis if this machine has them (--no-services to skip)")
		svc = t.StartServices(ctx)
		defer svc.Close()
		for name, why := range svc.Skipped {
			fmt.Fprintf(d.ErrOut, "  %s: skipped: %s\n", name, why)
		}
		if svc.RedisAddr != "" {
			fmt.Fprintf(d.ErrOut, "  redis: %s\n", svc.RedisAddr)
		}
		if svc.PostgresDSN != "" {
			fmt.Fprintln(d.ErrOut, "  postgres: TLS on loopback, certificate from the demo CA")
		}
	}
	cfg := t.CatalogConfig(caFile, svc)
	src := demo.Checklist(cfg)
	clFile := filepath.Join(dir, "prf.yaml")
	if err := os.WriteFile(clFile, src, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(d.ErrOut, "reference system at %s", t.URL())
	if len(o.Faults) > 0 {
		fmt.Fprintf(d.ErrOut, " with faults: %s", strings.Join(o.Faults, ", "))
	}
	fmt.Fprintf(d.ErrOut, "\nchecklist %s: the built-in catalogue, configured for it; what it lacks (Kubernetes, chain nodes, Prometheus, ...) is reported not configured\n", clFile)
	vars, err := parseVars(o.Vars)
	if err != nil {
		return err
	}
	cl, err := checklist.Load(clFile, checklist.Options{Vars: vars})
	if err != nil {
		return usageError{fmt.Errorf("demo checklist: %w", err)}
	}
	// The secrets are handed to the run directly; the checklist file names
	// environment variables, as a real one would.
	secrets := checklist.Secrets(cfg.Secrets)
	st, err := g.openStore(ctx, d)
	if err != nil {
		return err
	}
	defer st.Close()
	ropts := runner.Options{Concurrency: o.Concurrency, Environment: "demo", Secrets: secrets, FailFast: o.FailFast}
	if o.Prioritize {
		if ropts.Priority, err = checkPriorities(ctx, st, cl.Name); err != nil {
			return err
		}
	}
	err = checkAndReport(ctx, d, st, cl, ropts, format, o.Out, o.Quiet)
	if errors.Is(err, errNotReady) {
		return nil // the demo completed; the verdict is in the report
	}
	return err
}

func newDemoTargetCmd(d *deps) *cobra.Command {
	var listen, httpListen, caOut string
	var faults []string
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Run the reference system alone until interrupted",
		Long: `Run the reference system alone, serving HTTPS on --listen with a
certificate from a CA made at start (written to --ca-out so that clients can
trust it), until interrupted. The demo login is user "` + demo.DefaultUsername + `", password in
$` + demo.PasswordEnv + ` for the demo checklist (default "` + demo.DefaultPassword + `").

Faults:
` + faultHelp(),
		Example: `  prf demo target --listen 127.0.0.1:8443 --ca-out ca.pem --fault slow-health`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pw := d.Getenv(demo.PasswordEnv)
			t, err := demo.NewTarget(demo.Options{Listen: listen, HTTPListen: httpListen, Faults: faults, Password: pw})
			if err != nil {
				return usageError{err}
			}
			if err := t.Start(ctx); err != nil {
				return fmt.Errorf("start reference system: %w", err)
			}
			defer t.Close()
			if caOut != "" {
				if err := os.WriteFile(caOut, t.CACertPEM(), 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintln(d.Out, t.URL())
			if httpListen != "" {
				fmt.Fprintln(d.Out, t.HTTPURL())
			}
			fmt.Fprintf(d.ErrOut, "reference system running at %s (CA: %s); Ctrl-C stops it\n", t.URL(), dash(caOut))
			select {
			case <-ctx.Done():
			case <-t.Done():
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8443", "HTTPS address")
	cmd.Flags().StringVar(&httpListen, "http-listen", "", "also serve plain HTTP on this address")
	cmd.Flags().StringVar(&caOut, "ca-out", "", "write the CA certificate (PEM) to this file")
	cmd.Flags().StringArrayVar(&faults, "fault", nil, "inject a fault (repeatable)")
	return cmd
}

func newDemoChecklistCmd(d *deps) *cobra.Command {
	var target, ca string
	cmd := &cobra.Command{
		Use:   "checklist",
		Short: "Print the demo checklist (the catalogue configured for a running reference system)",
		Long: `Print the checklist prf demo runs: the built-in catalogue (include: [catalog])
with its variables set for the reference system at --target, whose CA
certificate is in --ca (prf demo target --ca-out). Secrets are references to
environment variables, set them before prf check:

  ` + demo.PasswordEnv + `   the demo login's password (prf demo target's; default "` + demo.DefaultPassword + `")

What the reference system lacks is reported "not configured". The checklist
prf demo itself writes (--keep) may also name ` + demo.APITokenEnv + ` (a bearer token
of the demo user, from POST /auth/login), ` + demo.RedisPasswordEnv + ` and
` + demo.DatabaseDSNEnv + ` (the services it started).`,
		Example: `  prf demo target --listen 127.0.0.1:8443 --ca-out ca.pem &
  prf demo checklist --target https://127.0.0.1:8443 --ca ca.pem > prf.yaml
  ` + demo.PasswordEnv + `=` + demo.DefaultPassword + ` prf check -f prf.yaml`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := demo.NewCatalogConfig(target, ca)
			if err != nil {
				return usageError{err}
			}
			_, err = d.Out.Write(demo.Checklist(cfg))
			return err
		},
	}
	cmd.Flags().StringVar(&target, "target", "https://127.0.0.1:8443", "base URL of the reference system")
	cmd.Flags().StringVar(&ca, "ca", "", "PEM file of its CA")
	return cmd
}
