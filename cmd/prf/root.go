package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/prfhq/prf/internal/audit"
	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/report"
	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/store/sqlite"
)

// Exit codes, in one place.
const (
	exitReady       = 0
	exitNotReady    = 1
	exitBadInput    = 2
	exitInternal    = 3
	exitInterrupted = 130
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// deps are what commands need from the outside world; tests replace them.
type deps struct {
	In       io.Reader
	Out      io.Writer
	ErrOut   io.Writer
	Getenv   func(string) string
	Terminal func(w io.Writer) bool // is w an interactive terminal
	Width    func(w io.Writer) int  // its width in columns, 0 when unknown
	// ReadPassword shows prompt and reads a line from the terminal without
	// echoing it; errNoTerminal when there is no terminal to ask on.
	ReadPassword func(prompt string) ([]byte, error)
}

// readPassword asks on the terminal (stdin) without echo. An interrupt
// while it waits restores the terminal, echo included, and cancels.
func readPassword(prompt string) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, errNoTerminal
	}
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	fmt.Fprint(os.Stderr, prompt)
	defer fmt.Fprintln(os.Stderr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	type answer struct {
		b   []byte
		err error
	}
	got := make(chan answer, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		got <- answer{b, err}
	}()
	select {
	case a := <-got:
		return a.b, a.err
	case <-sig:
		term.Restore(fd, state)
		return nil, context.Canceled
	}
}

// errNoTerminal: a passphrase could not be asked for, stdin is not a
// terminal.
var errNoTerminal = errors.New("stdin is not a terminal")

func defaultDeps() *deps {
	return &deps{
		In:     os.Stdin,
		Out:    os.Stdout,
		ErrOut: os.Stderr,
		Getenv: os.Getenv,
		Terminal: func(w io.Writer) bool {
			f, ok := w.(*os.File)
			return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
		},
		ReadPassword: readPassword,
		Width: func(w io.Writer) int {
			if f, ok := w.(*os.File); ok {
				if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
					return cols
				}
			}
			return 0
		},
	}
}

// Error kinds that map to exit codes.
var (
	errNotReady = errors.New("not ready")
)

type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	var ce checklist.Errors
	var ue usageError
	switch {
	case err == nil:
		return exitReady
	case errors.Is(err, errNotReady):
		return exitNotReady
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ce), errors.As(err, &ue):
		return exitBadInput
	}
	return exitInternal
}

func execute(ctx context.Context, d *deps, args []string) int {
	root := newRootCmd(d)
	root.SetArgs(args)
	root.SetIn(d.In)
	root.SetOut(d.Out)
	root.SetErr(d.ErrOut)
	err := root.ExecuteContext(ctx)
	code := exitCode(err)
	if err != nil && !errors.Is(err, errNotReady) {
		if code == exitInterrupted {
			fmt.Fprintln(d.ErrOut, "prf: interrupted")
		} else {
			fmt.Fprintf(d.ErrOut, "prf: %v\n", err)
		}
	}
	return code
}

type globalOpts struct {
	DB string
}

func newRootCmd(d *deps) *cobra.Command {
	g := &globalOpts{}
	root := &cobra.Command{
		Use:   "prf",
		Short: "Production Readiness Framework: a deployment checklist as code that runs",
		Long: `prf turns a production deployment checklist into code that runs.

A checklist (prf.yaml) lists checkpoints. Each is automated by a probe
(http, tls, dns, tcp, exec, auth, ratelimit, waf) whose observation a CEL
expression judges, or is manual and waits for its owner's attestation.
prf check runs them in parallel, stores every result in SQLite and prints a
verdict that a CI pipeline can gate on.

Start here:
  prf demo                       run the built-in catalogue against a local reference system
  prf init                       write a prf.yaml built on the catalogue
  prf check --catalog --var api_url=https://...   run the catalogue against your system
  prf catalog list|show|coverage browse the catalogue and its control mapping
  prf lint -f prf.yaml           check a checklist: every problem with file:line:col
  prf check -f prf.yaml          run it; exit 0 ready, 1 not ready, 2 bad input
  prf loadtest --url URL --vus 50 --duration 30s   load test (or -f scenario.yaml)
  prf identity new --email E --role R   a signing key; attest, signoff, authorize, override use it
  prf audit verify               the hash-chained, signed audit log
  prf risk eval --data FILE.csv  evaluate the risk model on change data (time split)
  prf runs list                  history of runs
  prf schema > prf.schema.json   JSON Schema for editors`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().StringVar(&g.DB, "db", "", "SQLite database file (default $PRF_DB or .prf/prf.db)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())}
	})
	root.AddCommand(
		newCheckCmd(d, g, nil),
		newLintCmd(d, nil),
		newSchemaCmd(d),
		newRunsCmd(d, g),
		newDemoCmd(d, g),
		newInitCmd(d),
		newCatalogCmd(d),
		newLoadtestCmd(d, g),
		newAuditCmd(d, g),
		newIdentityCmd(d),
		newAttestCmd(d, g),
		newSignoffCmd(d, g),
		newAuthorizeCmd(d, g),
		newOverrideCmd(d, g),
		newRiskCmd(d, g),
		newDeploymentsCmd(d, g),
	)
	badInputArgs(root)
	return root
}

// textOrJSON checks an -o value of the commands that print text or JSON.
func textOrJSON(output string) error {
	if output != "text" && output != "json" {
		return usagef("-o %q: want text or json", output)
	}
	return nil
}

// badInputArgs makes a wrong number of arguments, on any command, bad
// input (exit 2) with a pointer to the command's help, as the flag error
// function does for flags.
func badInputArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{fmt.Errorf("%w\nrun '%s --help' for usage", err, cmd.CommandPath())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		badInputArgs(sub)
	}
}

// reportFormat looks a format up, sizing the table to the terminal that
// will show it (--out files and pipes get the default width).
func reportFormat(d *deps, name, out string, color bool) (report.Format, error) {
	opt := report.Options{Color: color}
	if (out == "" || out == "-") && d.Width != nil {
		if w := d.Width(d.Out); w >= 60 {
			opt.Width = w
		}
	}
	f, err := report.New(name, opt)
	if err != nil {
		return nil, usageError{err}
	}
	return f, nil
}

// dbPath resolves the database location.
func (g *globalOpts) dbPath(d *deps) string {
	if g.DB != "" {
		return g.DB
	}
	if p := d.Getenv("PRF_DB"); p != "" {
		return p
	}
	return filepath.Join(".prf", "prf.db")
}

// instanceKeyDir is where PRF's instance key (instance.key, instance.pub)
// lives: $PRF_INSTANCE_KEY_DIR, or beside the database. Kept apart from a
// database others can write, it stops them from forging automatic events.
func (g *globalOpts) instanceKeyDir(d *deps) string { return instanceKeyDir(d, g.dbPath(d)) }

func instanceKeyDir(d *deps, dbPath string) string {
	if p := d.Getenv("PRF_INSTANCE_KEY_DIR"); p != "" {
		return p
	}
	return filepath.Dir(dbPath)
}

// instanceKey loads PRF's instance key for the database at dbPath, making
// it on first use. A key made in $PRF_INSTANCE_KEY_DIR is announced: a
// mistyped or missing variable would otherwise start a second key that the
// log's earlier entries do not verify with.
func instanceKey(d *deps, dbPath string) (audit.Signer, error) {
	dir := instanceKeyDir(d, dbPath)
	s, _, created, err := audit.LoadOrCreateInstanceKey(dir)
	if created && d.Getenv("PRF_INSTANCE_KEY_DIR") != "" {
		fmt.Fprintf(d.ErrOut, "prf: made a new instance key in $PRF_INSTANCE_KEY_DIR (%s); automatic audit entries from now on verify with its instance.pub\n", dir)
	}
	return s, err
}

// openStore opens the store and marks runs left by a dead process as
// interrupted, telling the user about them.
func (g *globalOpts) openStore(ctx context.Context, d *deps) (store.Store, error) {
	db, err := sqlite.Open(g.dbPath(d))
	if err != nil {
		return nil, err
	}
	ids, err := db.RecoverInterrupted(ctx, processAlive)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("recover interrupted runs: %w", err)
	}
	for _, id := range ids {
		fmt.Fprintf(d.ErrOut, "prf: run %s did not finish (its process is gone); marked interrupted, its stored results are kept\n", id)
	}
	return db, nil
}

// processAlive reports whether the process that started a run still runs.
func processAlive(host string, pid int) bool {
	if h, _ := os.Hostname(); h != host {
		return true // another machine's run: not ours to judge
	}
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
