package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/atomicfile"
	"github.com/prfhq/prf/internal/audit"
)

// A log that does not verify, or one with nothing to anchor: exit 1, like a
// run that is not ready, with the reason already printed.
var (
	errAuditBroken = fmt.Errorf("audit log broken: %w", errNotReady)
	errAuditEmpty  = fmt.Errorf("audit log empty: %w", errNotReady)
)

func newAuditCmd(d *deps, g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify, export and anchor the tamper-evident audit log",
		Long: `The audit log records every event that matters to an auditor: runs started
and finished, attestations, sign-offs (and sign-offs gone stale),
authorizations, emergency overrides and trust-file changes.

It is append-only and tamper-evident. Each entry holds the SHA-256 hash of
the entry before it, so changing, removing, inserting or reordering entries
breaks the chain; and each entry is signed with Ed25519 by its actor (a
person's key, or this PRF instance's key for automatic events), so a forged
entry needs a key the forger should not have. prf audit verify checks both.

Removing entries from the end leaves a shorter log that is still valid. To
catch that, run prf audit anchor from time to time and keep the hash it
prints somewhere else (a ticket, the release notes, another system); verify
--anchor HASH then fails if the log no longer contains that entry.`,
		Example: `  prf audit verify
  prf audit anchor -q > anchor.txt
  prf audit export --out audit.jsonl
  prf audit verify --file audit.jsonl --anchor "$(cat anchor.txt)" --keys instance.pub --pub alice@example.com=alice.pub`,
	}
	cmd.AddCommand(newAuditVerifyCmd(d, g, nil), newAuditExportCmd(d, g, nil), newAuditAnchorCmd(d, g, nil))
	return cmd
}

// auditNoArgs refuses arguments as bad input (exit 2); cobra.NoArgs alone
// returns a plain error, which exits 3.
func auditNoArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}

// auditKeyOpts are the public keys that signatures are checked against.
type auditKeyOpts struct {
	Instance []string // instance.pub files
	Pubs     []string // KEYID=PATH
	Trust    string   // trust file: people's keys
}

func (o *auditKeyOpts) flags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&o.Instance, "keys", nil, "a PRF instance public key file (instance.pub), repeatable (default: instance.pub in $PRF_INSTANCE_KEY_DIR or beside the database)")
	cmd.Flags().StringArrayVar(&o.Pubs, "pub", nil, "a person's public key, KEYID=PATH (PEM or base64), repeatable (for keys no longer in the trust file)")
	cmd.Flags().StringVar(&o.Trust, "trust", defaultTrustFile, "trust file whose people's public keys verify their entries")
}

// load reads the keys. A missing default instance.pub is a note, not an
// error: a log with no automatic events does not need it.
func (o *auditKeyOpts) load(d *deps, g *globalOpts) (*audit.KeySet, error) {
	ks := &audit.KeySet{}
	paths := o.Instance
	if len(paths) == 0 {
		def := filepath.Join(g.instanceKeyDir(d), audit.InstancePubFile)
		if _, err := os.Stat(def); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(d.ErrOut, "prf: no instance public key at %s: entries signed by a PRF instance will not verify (--keys PATH names one)\n", def)
		} else {
			paths = []string{def}
		}
	}
	for _, p := range paths {
		if _, err := ks.LoadInstancePub(p); err != nil {
			return nil, usageError{fmt.Errorf("--keys %s: %w", p, err)}
		}
	}
	if o.Trust != "" {
		// Without the default trust file (no team yet), entries signed by
		// people verify with --pub.
		trust, err := loadOptionalTrust(o.Trust)
		if err != nil {
			return nil, err
		}
		if trust != nil {
			for _, p := range trust.People {
				pub, _ := trust.PublicKey(p.Email)
				if err := ks.Add(p.Email, pub); err != nil {
					return nil, usageError{fmt.Errorf("--trust %s: %w", o.Trust, err)}
				}
			}
		}
	}
	for _, kv := range o.Pubs {
		id, path, ok := strings.Cut(kv, "=")
		if !ok || id == "" || path == "" {
			return nil, usagef("--pub %q: want KEYID=PATH, e.g. alice@example.com=alice.pub", kv)
		}
		if err := ks.LoadPub(id, path); err != nil {
			return nil, usageError{fmt.Errorf("--pub %s: %w", kv, err)}
		}
	}
	return ks, nil
}

// openAudit opens the store's audit log.
func openAudit(ctx context.Context, d *deps, g *globalOpts) (audit.Store, func(), error) {
	st, err := g.openStore(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	as, ok := st.(audit.Store)
	if !ok {
		st.Close()
		return nil, nil, fmt.Errorf("the store at %s has no audit log", g.dbPath(d))
	}
	return as, func() { st.Close() }, nil
}

// --- verify

type auditVerifyOpts struct {
	File   string
	Anchor string
	Output string
	Keys   auditKeyOpts
}

func newAuditVerifyCmd(d *deps, g *globalOpts, runF func(context.Context, *auditVerifyOpts) error) *cobra.Command {
	o := &auditVerifyOpts{}
	cmd := &cobra.Command{
		Use:   "verify [--file LOG.jsonl] [--anchor HASH] [--keys PATH]... [--pub KEYID=PATH]...",
		Short: "Check the audit log's hash chain and signatures; report the first broken entry",
		Long: `Check every entry of the audit log and report the first one that fails:

  - seq runs 1, 2, 3, … with no gaps or repeats (a deleted, inserted or
    reordered entry);
  - prev is the hash of the entry before (the chain);
  - hash is the SHA-256 of the entry's contents (a changed field), and the
    payload is compact JSON, as PRF writes it;
  - sig is a valid Ed25519 signature of the hash by the actor's public key
    (a forged entry, or a substituted key). An actor with no key is broken.

The log is read from the database (--db), or from a JSON Lines file written
by prf audit export (--file, "-" for stdin), which needs no database.

Public keys:
  --keys PATH       a PRF instance's public key (instance.pub), which signs
                    automatic events such as runs started and finished;
                    default: instance.pub in $PRF_INSTANCE_KEY_DIR, or beside
                    the database (.prf/instance.pub). An auditor passes a
                    copy kept where the database's writers cannot reach.
  --trust FILE      the trust file (default .prf/trust.yaml): the public
                    keys of the people who attest, sign off and authorize
  --pub KEYID=PATH  a person's public key, e.g. alice@example.com=alice.pub
                    (PEM "PUBLIC KEY" or base64), for a key no longer in the
                    trust file

--anchor HASH is a head hash printed earlier by prf audit anchor: the log must
still hold that entry, which detects entries cut off the end.

Exit status: 0 the log verifies, 1 it is broken, 2 bad input, 3 the log
could not be read.`,
		Example: `  prf audit verify --pub alice@example.com=keys/alice.pub
  prf audit verify --anchor 3f1c…e09a
  prf audit verify --file audit.jsonl --keys instance.pub -o json`,
		Args: auditNoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runAuditVerify(cmd.Context(), d, g, o)
		},
	}
	cmd.Flags().StringVar(&o.File, "file", "", `verify this JSON Lines export instead of the database ("-": stdin)`)
	cmd.Flags().StringVar(&o.Anchor, "anchor", "", "a head hash from prf audit anchor that the log must still contain")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text, json")
	o.Keys.flags(cmd)
	return cmd
}

func runAuditVerify(ctx context.Context, d *deps, g *globalOpts, o *auditVerifyOpts) error {
	if err := textOrJSON(o.Output); err != nil {
		return err
	}
	anchor, err := parseAnchor(o.Anchor)
	if err != nil {
		return err
	}
	keys, err := o.Keys.load(d, g)
	if err != nil {
		return err
	}
	var rep audit.Report
	if o.File != "" {
		r := d.In
		if o.File != "-" {
			f, err := os.Open(o.File)
			if err != nil {
				return usageError{fmt.Errorf("--file: %w", err)}
			}
			defer f.Close()
			r = f
		}
		if rep, err = audit.VerifyJSONL(r, keys, anchor); err != nil {
			return err
		}
	} else {
		st, done, err := openAudit(ctx, d, g)
		if err != nil {
			return err
		}
		defer done()
		if rep, err = audit.VerifyStore(ctx, st, keys, anchor); err != nil {
			return err
		}
	}
	if err := writeAuditReport(d.Out, o.Output, rep, anchor); err != nil {
		return err
	}
	if !rep.OK {
		return errAuditBroken
	}
	return nil
}

// parseAnchor accepts the 64 hex digits of a SHA-256, in either case.
func parseAnchor(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return "", usagef("--anchor %q: want the 64 hex digits of a head hash, as prf audit anchor prints", s)
	}
	return s, nil
}

func writeAuditReport(w io.Writer, format string, rep audit.Report, anchor string) error {
	if format == "json" {
		return writeJSON(w, rep)
	}
	fmt.Fprintf(w, "%d entries checked\n", rep.Entries)
	switch {
	case rep.OK && rep.Entries == 0:
		fmt.Fprintln(w, "head (empty log)")
	case rep.OK:
		fmt.Fprintf(w, "head %s\n", rep.Head)
	case rep.Head != "":
		fmt.Fprintf(w, "head %s (the last entry that verifies)\n", rep.Head)
	}
	if !rep.OK {
		_, err := fmt.Fprintf(w, "BROKEN at seq %d: %s\n", rep.Broken.Seq, rep.Broken.Reason)
		return err
	}
	msg := "OK: the chain and every signature verify"
	if anchor != "" {
		msg += ", and the log holds the anchor"
	}
	_, err := fmt.Fprintln(w, msg)
	return err
}

// --- export

type auditExportOpts struct {
	Out string
}

func newAuditExportCmd(d *deps, g *globalOpts, runF func(context.Context, *auditExportOpts) error) *cobra.Command {
	o := &auditExportOpts{}
	cmd := &cobra.Command{
		Use:   "export [--out FILE]",
		Short: "Write the audit log as JSON Lines, for verification without the database",
		Long: `Write every audit log entry, in order, as JSON Lines: one object per line
with seq, time, actor, kind, payload, prev, hash and sig, exactly as stored.
prf audit verify --file checks the file anywhere, with only the public keys.

The log is written as it is, without verifying it, so a damaged log can be
examined elsewhere. An entry that a line cannot hold as stored (its payload
is not compact JSON) stops the export with an error naming its seq.`,
		Example: `  prf audit export --out audit-2026-11.jsonl
  prf audit export | gzip > audit.jsonl.gz`,
		Args: auditNoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runAuditExport(cmd.Context(), d, g, o)
		},
	}
	cmd.Flags().StringVar(&o.Out, "out", "", `write to this file (mode 0600) instead of stdout ("-")`)
	return cmd
}

func runAuditExport(ctx context.Context, d *deps, g *globalOpts, o *auditExportOpts) error {
	st, done, err := openAudit(ctx, d, g)
	if err != nil {
		return err
	}
	defer done()
	if o.Out == "" || o.Out == "-" {
		return audit.Export(ctx, st, d.Out)
	}
	if fi, err := os.Stat(filepath.Dir(o.Out)); err != nil || !fi.IsDir() {
		return usagef("--out %s: its directory is not there", o.Out)
	}
	// Private (the log names people), and atomic: a failed export leaves
	// no partial file behind.
	return atomicfile.Write(o.Out, 0o600, func(w io.Writer) error { return audit.Export(ctx, st, w) })
}

// --- anchor

type auditAnchorOpts struct {
	Quiet bool
	Keys  auditKeyOpts
}

func newAuditAnchorCmd(d *deps, g *globalOpts, runF func(context.Context, *auditAnchorOpts) error) *cobra.Command {
	o := &auditAnchorOpts{}
	cmd := &cobra.Command{
		Use:   "anchor [-q] [--keys PATH]... [--pub KEYID=PATH]...",
		Short: "Print the audit log's head hash and seq, to keep somewhere else",
		Long: `Verify the audit log (as prf audit verify does, with the same keys) and
print its head: the last entry's seq and hash. Keep the hash outside this
database (a ticket, the release notes, another system): prf audit verify
--anchor HASH fails if the log no longer holds that entry, which is the only
way to detect entries cut off the end of the log.

A log that does not verify is not anchored (exit 1): anchoring it would
vouch for the damage. An empty log has nothing to anchor (exit 1).

Exit status: 0 printed, 1 broken or empty log, 2 bad input, 3 the log could
not be read.`,
		Example: `  prf audit anchor
  prf audit anchor -q >> anchors.txt`,
		Args: auditNoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runAuditAnchor(cmd.Context(), d, g, o)
		},
	}
	cmd.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "print only the hash")
	o.Keys.flags(cmd)
	return cmd
}

func runAuditAnchor(ctx context.Context, d *deps, g *globalOpts, o *auditAnchorOpts) error {
	keys, err := o.Keys.load(d, g)
	if err != nil {
		return err
	}
	st, done, err := openAudit(ctx, d, g)
	if err != nil {
		return err
	}
	defer done()
	rep, err := audit.VerifyStore(ctx, st, keys, "")
	if err != nil {
		return err
	}
	switch {
	case !rep.OK:
		fmt.Fprintf(d.ErrOut, "prf: the audit log is broken at seq %d: %s\nprf: not anchoring a log that does not verify\n", rep.Broken.Seq, rep.Broken.Reason)
		return errAuditBroken
	case rep.Entries == 0:
		fmt.Fprintln(d.ErrOut, "prf: the audit log is empty: nothing to anchor")
		return errAuditEmpty
	}
	if o.Quiet {
		_, err = fmt.Fprintln(d.Out, rep.Head)
		return err
	}
	// Seq runs 1, 2, 3, … in a log that verifies: the head's is the count.
	_, err = fmt.Fprintf(d.Out, "seq  %d\nhash %s\n", rep.Entries, rep.Head)
	return err
}
