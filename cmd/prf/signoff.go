package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/audit"
	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/signoff"
	"github.com/prfhq/prf/internal/store"
)

// approvalStore is what attest, signoff and authorize need of the store.
type approvalStore interface {
	store.Store
	audit.Store
	Attest(ctx context.Context, a *store.Attestation) error
	AddSignoff(ctx context.Context, s *store.Signoff) error
	Signoffs(ctx context.Context, runID string) ([]store.Signoff, error)
}

// signerOpts are the flags that say who signs.
type signerOpts struct {
	As         string
	Passphrase string
	Trust      string
	Checklist  string
}

func (o *signerOpts) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.As, "as", "", "your identity (the email of a key made with 'prf identity new'; default: $PRF_IDENTITY, or the only key in the key dir)")
	f.StringVar(&o.Passphrase, "passphrase", "", "the encrypted key's passphrase: env:VAR or file:PATH (default: asked on the terminal)")
	f.StringVar(&o.Trust, "trust", defaultTrustFile, "trust file: the people, their roles and public keys")
}

func (o *signerOpts) checklistFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Checklist, "file", "f", "", "the run's checklist, for its approval matrix (default: the file the run was checked from, if unchanged)")
}

// matrixFor is the approval matrix of the run's checklist: the file given
// (which must be the one the run checked: same digest), else the run's own
// checklist file while it is unchanged, else the document's §9.1 matrix.
func matrixFor(run *store.Run, file string) ([]signoff.Approval, error) {
	path := file
	if path == "" {
		path = run.ChecklistFile
	}
	if path == "" {
		return signoff.DefaultMatrix, nil
	}
	cl, err := checklist.Load(path, checklist.Options{})
	if err != nil {
		if file == "" {
			return signoff.DefaultMatrix, nil // moved or broken since: the default applies
		}
		return nil, err
	}
	if cl.Digest != run.ChecklistDigest {
		if file == "" {
			return signoff.DefaultMatrix, nil
		}
		return nil, usagef("%s is not the checklist run %s checked (its digest changed since)", file, run.ID)
	}
	if len(cl.Approvals) == 0 {
		return signoff.DefaultMatrix, nil
	}
	m := make([]signoff.Approval, len(cl.Approvals))
	for i, a := range cl.Approvals {
		m[i] = signoff.Approval{Role: a.Role, Responsibility: a.Responsibility, AllowException: a.AllowException}
	}
	return m, nil
}

// signer loads the trust file and the signer's key, and checks the key is
// the one the trust file holds for that person.
func (o *signerOpts) signer(d *deps) (*signoff.Trust, *signoff.Key, error) {
	trust, err := signoff.LoadTrust(o.Trust)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, usagef("trust file %s: not found (create one with 'prf identity new ... --trust %s')", o.Trust, o.Trust)
		}
		return nil, nil, err
	}
	email := o.As
	if email == "" {
		email = d.Getenv("PRF_IDENTITY")
	}
	key, err := loadSigningKey(d, email, o.Passphrase)
	if err != nil {
		return nil, nil, err
	}
	p, ok := trust.Person(key.Email)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not in the trust file %s: add the public key there (prf identity show %s) and have it reviewed", key.Email, o.Trust, key.Email)
	}
	if pub, ok := trust.PublicKey(key.Email); !ok || !pub.Equal(key.Private.Public()) {
		return nil, nil, fmt.Errorf("the trust file %s holds another public key for %s than your key", o.Trust, p.Email)
	}
	return trust, key, nil
}

// noteTrust appends a trust.changed event, signed by the instance key,
// when the trust file differs from the one the log last recorded: who
// could sign what, and from when, is part of the record.
func noteTrust(ctx context.Context, d *deps, g *globalOpts, st approvalStore, trust *signoff.Trust) error {
	last := ""
	err := st.AuditEntriesOfKind(ctx, audit.KindTrustChanged, func(e audit.Entry) error {
		var p audit.TrustChange
		if json.Unmarshal(e.Payload, &p) == nil {
			last = p.SHA256
		}
		return nil
	})
	if err != nil || last == trust.Digest {
		return err
	}
	payload := audit.TrustChange{File: trust.File, SHA256: trust.Digest}
	for _, p := range trust.People {
		payload.People = append(payload.People, audit.TrustPerson{Email: p.Email, Roles: p.Roles, PublicKey: p.PublicKey})
	}
	inst, err := instanceSigner(g, d)
	if err != nil {
		return err
	}
	_, err = audit.Append(ctx, st, inst, audit.KindTrustChanged, payload)
	return err
}

// open loads the signer and opens the store: what every signing command
// does first.
func (o *signerOpts) open(ctx context.Context, d *deps, g *globalOpts, checks ...func(*signoff.Trust, *signoff.Key) error) (*signoff.Trust, *signoff.Key, approvalStore, error) {
	trust, key, err := o.signer(d)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, check := range checks { // refusals that need no store come before it opens
		if err := check(trust, key); err != nil {
			return nil, nil, nil, err
		}
	}
	st, err := openApprovalStore(ctx, d, g, trust)
	if err != nil {
		return nil, nil, nil, err
	}
	return trust, key, st, nil
}

// openApprovalStore opens the store and records the trust file in the
// audit log if it changed since the log last saw it.
func openApprovalStore(ctx context.Context, d *deps, g *globalOpts, trust *signoff.Trust) (approvalStore, error) {
	st, err := g.openStore(ctx, d)
	if err != nil {
		return nil, err
	}
	as, ok := st.(approvalStore)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("this store keeps no sign-offs")
	}
	if err := noteTrust(ctx, d, g, as, trust); err != nil {
		as.Close()
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return as, nil
}

// instanceSigner is PRF's own key, for automatic audit events.
func instanceSigner(g *globalOpts, d *deps) (audit.Signer, error) {
	return instanceKey(d, g.dbPath(d))
}

func newAttestCmd(d *deps, g *globalOpts) *cobra.Command {
	var so signerOpts
	var evidence []string
	var note string
	var fail bool
	cmd := &cobra.Command{
		Use:   "attest RUN CHECKPOINT",
		Short: "Attest a manual checkpoint of a run, signed, with evidence",
		Long: `Attest a manual checkpoint: its owner says it holds (or, with --fail, that
it does not), points at the evidence, and signs. The pending result becomes
pass or fail; the signed statement is stored with the run and appended to
the audit log. Only a person whose roles in the trust file include the
checkpoint's owner may attest it.

Evidence is a URL or a file; a file is stored by its SHA-256 digest beside
the database (.prf/evidence/), and the statement signs the digest.

An attestation changes the run's results: sign-offs made before it are
stale and must be made again.`,
		Example: `  prf attest last ops.runbook.reviewed --evidence https://wiki.example.com/runbook --note "reviewed with on-call"
  prf attest 20261125-101500-3f9a1c sec.pentest.done --evidence pentest-2026.pdf --as alice@example.com`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			trust, key, st, err := so.open(ctx, d, g)
			if err != nil {
				return err
			}
			defer st.Close()
			run, results, err := runResults(ctx, st, args[0])
			if err != nil {
				return err
			}
			var res *store.Result
			for i := range results {
				if results[i].ID == args[1] {
					res = &results[i]
				}
			}
			if res == nil {
				return usagef("run %s has no checkpoint %q", run.ID, args[1])
			}
			if !res.Manual() {
				return usagef("checkpoint %s is automated (%s): its result comes from its probe, not from an attestation", res.ID, res.Kind)
			}
			if !trust.HasRole(key.Email, res.Owner) {
				return usagef("%s may not attest %s: its owner is the %s, and the trust file gives %s the roles %s",
					key.Email, res.ID, res.Owner, key.Email, strings.Join(personRoles(trust, key.Email), ", "))
			}
			body := signoff.AttestationBody{Run: run.ID, Checkpoint: res.ID, Status: string(store.StatusPass), Note: note}
			if fail {
				body.Status = string(store.StatusFail)
			}
			for _, e := range evidence {
				ev, err := storeEvidence(filepath.Join(filepath.Dir(g.dbPath(d)), "evidence"), e)
				if err != nil {
					return err
				}
				body.Evidence = append(body.Evidence, ev)
			}
			now := time.Now().UTC()
			stmt, err := signoff.SignStatement(key, signoff.KindAttestation, res.Owner, body, now)
			if err != nil {
				return err
			}
			raw, _ := json.Marshal(stmt)
			status := store.StatusPass
			msg := "attested by " + key.Email
			if fail {
				status = store.StatusFail
				if res.Severity != "blocking" || res.Mode != "enforce" {
					status = store.StatusWarn
				}
				msg = "attested failing by " + key.Email
			}
			if note != "" {
				msg += ": " + note
			}
			before := signoff.ResultsDigest(results)
			if err := st.Attest(ctx, &store.Attestation{RunID: run.ID, CheckpointID: res.ID, Status: status, Message: msg, Signer: key.Email, At: now, Statement: raw}); err != nil {
				return err
			}
			if _, err := audit.Append(ctx, st, key, audit.KindAttestation, stmt); err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
			if err := markStale(ctx, d, g, st, run.ID, before); err != nil {
				return err
			}
			fmt.Fprintf(d.Out, "%s %s: %s (signed by %s as %s)\n", run.ID, res.ID, status, key.Email, res.Owner)
			return nil
		},
	}
	so.flags(cmd)
	cmd.Flags().StringArrayVar(&evidence, "evidence", nil, "a URL or a file that shows it (repeatable)")
	cmd.Flags().StringVar(&note, "note", "", "what you checked")
	cmd.Flags().BoolVar(&fail, "fail", false, "attest that the checkpoint does not hold")
	return cmd
}

// attestApprovals passes the run's §9.1 approval checkpoints of role: a
// sign-off (or the authorization) is their attestation, and the signed
// statement is kept as such.
func attestApprovals(ctx context.Context, st approvalStore, results []store.Result, role, signer string, stmt json.RawMessage, now time.Time) error {
	for _, r := range signoff.ApprovalCheckpoints(results, role) {
		if err := st.Attest(ctx, &store.Attestation{RunID: r.RunID, CheckpointID: r.ID, Status: store.StatusPass,
			Message: "signed off by " + signer + " as " + role, Signer: signer, At: now, Statement: stmt}); err != nil {
			return err
		}
	}
	return nil
}

func personRoles(t *signoff.Trust, email string) []string {
	if p, ok := t.Person(email); ok {
		return p.Roles
	}
	return nil
}

// storeEvidence keeps a file by digest, or records a URL.
func storeEvidence(dir, ref string) (signoff.Evidence, error) {
	if strings.Contains(ref, "://") {
		return signoff.Evidence{URL: ref}, nil
	}
	f, err := os.Open(ref)
	if err != nil {
		return signoff.Evidence{}, usagef("--evidence %s: %v (give a URL or a file)", ref, err)
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return signoff.Evidence{}, err
	}
	tmp, err := os.CreateTemp(dir, ".incoming-*")
	if err != nil {
		return signoff.Evidence{}, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), f)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return signoff.Evidence{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), filepath.Join(dir, sum)); err != nil {
		return signoff.Evidence{}, err
	}
	return signoff.Evidence{SHA256: sum, Name: filepath.Base(ref), Size: n}, nil
}

// markStale records, in the audit log, the sign-offs that a change of the
// run's results (from digest before) made stale.
func markStale(ctx context.Context, d *deps, g *globalOpts, st approvalStore, runID, before string) error {
	sos, err := st.Signoffs(ctx, runID)
	if err != nil {
		return err
	}
	var stale []store.Signoff
	for _, s := range sos {
		if s.ResultsDigest == before {
			stale = append(stale, s)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	inst, err := instanceSigner(g, d)
	if err != nil {
		return err
	}
	for _, s := range stale {
		if _, err := audit.Append(ctx, st, inst, audit.KindSignoffStale, map[string]string{"run": runID, "role": s.Role, "signer": s.Signer, "results_sha256": s.ResultsDigest}); err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		fmt.Fprintf(d.ErrOut, "prf: the %s's sign-off by %s is now stale; it must be signed again\n", s.Role, s.Signer)
	}
	return nil
}

func newSignoffCmd(d *deps, g *globalOpts) *cobra.Command {
	var so signerOpts
	var role, artifact, exception string
	cmd := &cobra.Command{
		Use:   "signoff RUN --role ROLE --artifact DIGEST",
		Short: "Sign off a run in one role of the approval matrix",
		Long: `Sign off a run as one of the roles of the approval matrix (§9.1: Development
Lead, Security Lead, DevOps Lead, SRE Lead, Compliance Officer, Product
Owner). The signed statement binds the run, the SHA-256 of its results as
they are now, the checklist's digest, the artifact to deploy (an image
digest or a git commit) and the role. A later change of the results (an
attestation) makes it stale.

A run with a blocking checkpoint that does not pass (approvals aside) is
refused. A role whose row of the checklist's approvals says
allow_exception: true may sign anyway with --exception "why": the reason is
part of what is signed and shows on the authorization.`,
		Example: `  prf signoff last --role "Security Lead" --artifact sha256:4f1c...
  prf signoff 20261125-101500-3f9a1c --role "SRE Lead" --artifact v1.4.2 --as bob@example.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if role == "" || artifact == "" {
				return usagef("give --role and --artifact (the image digest or git commit to deploy)")
			}
			trust, key, st, err := so.open(ctx, d, g)
			if err != nil {
				return err
			}
			defer st.Close()
			run, results, err := runResults(ctx, st, args[0])
			if err != nil {
				return err
			}
			if run.State == store.RunRunning {
				return usagef("run %s is still running", run.ID)
			}
			matrix, err := matrixFor(run, so.Checklist)
			if err != nil {
				return err
			}
			var approval *signoff.Approval
			for i := range matrix {
				if signoff.NormalizeRole(matrix[i].Role) == signoff.NormalizeRole(role) {
					approval = &matrix[i]
				}
			}
			if approval == nil {
				names := []string{}
				for _, a := range matrix {
					names = append(names, a.Role)
				}
				return usagef("--role %q is not in the approval matrix of run %s (%s; the %s authorizes with prf authorize)", role, run.ID, strings.Join(names, ", "), signoff.Authorizer)
			}
			if !trust.HasRole(key.Email, approval.Role) {
				return usagef("%s does not hold the role %s in %s", key.Email, approval.Role, so.Trust)
			}
			if exception != "" && !approval.AllowException {
				return usagef("the %s may not sign off with an exception: the checklist's approvals do not allow it (allow_exception: true)", approval.Role)
			}
			if bl := signoff.Blocking(results); len(bl) > 0 && exception == "" {
				ids := make([]string, len(bl))
				for i, r := range bl {
					ids[i] = r.ID + " (" + string(r.Status) + ")"
				}
				fmt.Fprintf(d.ErrOut, "prf: run %s is not ready, %d blocking checkpoints: %s (sign anyway only with --exception \"why\")\n", run.ID, len(bl), strings.Join(ids, ", "))
				return errNotReady
			}
			digest := signoff.ResultsDigest(results)
			body := signoff.SignoffBody{Run: run.ID, ResultsSHA256: digest, ChecklistSHA256: run.ChecklistDigest, Artifact: artifact, Exception: exception}
			now := time.Now().UTC()
			stmt, err := signoff.SignStatement(key, signoff.KindSignoff, approval.Role, body, now)
			if err != nil {
				return err
			}
			raw, _ := json.Marshal(stmt)
			if err := st.AddSignoff(ctx, &store.Signoff{RunID: run.ID, Role: approval.Role, Signer: key.Email, ResultsDigest: digest, At: now, Statement: raw}); err != nil {
				return err
			}
			if _, err := audit.Append(ctx, st, key, audit.KindSignoff, stmt); err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
			if err := attestApprovals(ctx, st, results, approval.Role, key.Email, raw, now); err != nil {
				return err
			}
			fmt.Fprintf(d.Out, "%s signed off by %s as %s (results %s…, artifact %s)\n", run.ID, key.Email, approval.Role, digest[:12], artifact)
			return nil
		},
	}
	so.flags(cmd)
	so.checklistFlag(cmd)
	cmd.Flags().StringVar(&role, "role", "", "the role you sign in (it must be yours in the trust file)")
	cmd.Flags().StringVar(&artifact, "artifact", "", "what will be deployed: an image digest or a git commit")
	cmd.Flags().StringVar(&exception, "exception", "", "sign a run that is not ready, saying why (signed, and shown on the authorization)")
	cmd.AddCommand(newSignoffStatusCmd(d, g))
	return cmd
}

// runStanding loads a run, its results and sign-offs, and evaluates them
// against the approval matrix of its checklist.
func runStanding(ctx context.Context, st approvalStore, runArg, checklistFile string, trust *signoff.Trust) (*store.Run, []store.Result, *signoff.Standing, error) {
	run, results, err := runResults(ctx, st, runArg)
	if err != nil {
		return nil, nil, nil, err
	}
	sos, err := st.Signoffs(ctx, run.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	matrix, err := matrixFor(run, checklistFile)
	if err != nil {
		return nil, nil, nil, err
	}
	return run, results, signoff.Evaluate(run.ID, results, sos, matrix, trust), nil
}

func newSignoffStatusCmd(d *deps, g *globalOpts) *cobra.Command {
	var trustFile, format, file string
	cmd := &cobra.Command{
		Use:   "status RUN",
		Short: "Each role's sign-off of a run: fresh, stale (the results changed since) or missing",
		Long: `Show where a run stands against the approval matrix: for each role, who
signed and when, and whether the sign-off is still fresh (the run's results
are what was signed) or stale; the blocking checkpoints; and everything an
authorization still lacks. Exit 0 when it can be authorized, 1 when not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := textOrJSON(format); err != nil {
				return err
			}
			trust, st, err := openTrusted(ctx, d, g, trustFile)
			if err != nil {
				return err
			}
			defer st.Close()
			run, _, standing, err := runStanding(ctx, st, args[0], file, trust)
			if err != nil {
				return err
			}
			if format == "json" {
				if err := writeJSON(d.Out, standing); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(d.Out, "run %s (results %s…)\n", run.ID, standing.ResultsSHA256[:12])
				for _, r := range standing.Roles {
					state := "missing"
					switch {
					case r.Fresh:
						state = "signed by " + r.Signer + " at " + r.At.Format(time.RFC3339)
					case r.Stale:
						state = "STALE: signed by " + r.Signer + " at " + r.At.Format(time.RFC3339) + ", the results changed since"
					}
					fmt.Fprintf(d.Out, "  %-20s %s\n", r.Role, state)
				}
				if len(standing.Blocking) > 0 {
					fmt.Fprintf(d.Out, "  blocking: %s\n", strings.Join(standing.Blocking, ", "))
				}
				if standing.Ready {
					fmt.Fprintf(d.Out, "ready for the %s's authorization\n", signoff.Authorizer)
				}
			}
			if !standing.Ready {
				return errNotReady
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&trustFile, "trust", defaultTrustFile, "trust file")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	cmd.Flags().StringVarP(&file, "file", "f", "", "the run's checklist, for its approval matrix (default: the file the run was checked from, if unchanged)")
	return cmd
}

func newAuthorizeCmd(d *deps, g *globalOpts) *cobra.Command {
	var so signerOpts
	var artifact, out, format string
	ro := &riskPredictOpts{}
	cmd := &cobra.Command{
		Use:   "authorize RUN --artifact DIGEST",
		Short: "Issue the Deployment Authorization (§9.2) when every gate holds",
		Long: `Issue the Deployment Authorization for a run, signed by the CTO. It is
issued only when every blocking checkpoint passes and every role of the
approval matrix has a fresh sign-off for the same artifact; otherwise prf
lists exactly what is missing and exits 1.

The form (Markdown or JSON) carries the pre-deployment validation boxes
derived from the run's results, the rollback boxes, every sign-off with its
signature, and the CTO's signature over the whole form. 'prf authorize
verify FILE.json' checks every signature against the trust file, offline.

--risk-from REV states the release's risk on the form: prf risk predict on
REV..--risk-to of --repo, with this run's results (level, probability, top
factors, recommendations). Without it the form says "not assessed".`,
		Example: `  prf authorize last --artifact sha256:4f1c... --out authorization.json -o json
  prf authorize last --artifact $(git rev-parse HEAD) --risk-from v1.4.0 --service api --env production
  prf authorize verify authorization.json --trust .prf/trust.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if artifact == "" {
				return usagef("give --artifact (the image digest or git commit to deploy)")
			}
			if format != "markdown" && format != "json" {
				return usagef("-o %q: want markdown or json", format)
			}
			trust, key, st, err := so.open(ctx, d, g, func(trust *signoff.Trust, key *signoff.Key) error {
				if !trust.HasRole(key.Email, signoff.Authorizer) {
					return usagef("%s does not hold the role %s in %s", key.Email, signoff.Authorizer, so.Trust)
				}
				return nil
			})
			if err != nil {
				return err
			}
			defer st.Close()
			run, results, standing, err := runStanding(ctx, st, args[0], so.Checklist, trust)
			if err != nil {
				return err
			}
			for _, r := range standing.Roles {
				if r.Fresh {
					var b signoff.SignoffBody
					if json.Unmarshal(r.Statement.Body, &b) == nil && b.Artifact != artifact {
						standing.Missing = append(standing.Missing, fmt.Sprintf("the %s signed off artifact %s, not %s", r.Role, b.Artifact, artifact))
					}
				}
			}
			if len(standing.Missing) > 0 {
				fmt.Fprintf(d.Out, "run %s cannot be authorized yet:\n", run.ID)
				for _, m := range standing.Missing {
					fmt.Fprintf(d.Out, "  - %s\n", m)
				}
				return errNotReady
			}
			now := time.Now().UTC()
			form := signoff.NewForm(run, results, standing, artifact, now)
			if ro.From != "" {
				ro.Run, ro.Trust = run.ID, so.Trust // the trust file this authorization judged by
				p, rel, err := assessRisk(ctx, d, g, ro)
				if err != nil {
					return fmt.Errorf("risk assessment: %w", err)
				}
				form.Risk = riskSummary(rel, p)
			}
			stmt, err := signoff.SignStatement(key, signoff.KindAuthorization, signoff.Authorizer,
				signoff.AuthorizationBody{DeploymentID: form.DeploymentID, Run: run.ID, FormSHA256: form.FormSHA256()}, now)
			if err != nil {
				return err
			}
			auth := &signoff.Authorization{Form: *form, Authorization: stmt}
			if _, err := audit.Append(ctx, st, key, audit.KindAuthorization, auth.Authorization); err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
			raw, _ := json.Marshal(stmt)
			if err := attestApprovals(ctx, st, results, signoff.Authorizer, key.Email, raw, now); err != nil {
				return err
			}
			return writeTo(d, out, func(w io.Writer) error {
				if format == "json" {
					return writeJSON(w, auth)
				}
				_, err := io.WriteString(w, auth.Markdown())
				return err
			})
		},
	}
	so.flags(cmd)
	so.checklistFlag(cmd)
	cmd.Flags().StringVar(&artifact, "artifact", "", "what will be deployed; every sign-off must name the same")
	cmd.Flags().StringVar(&ro.From, "risk-from", "", "assess the release's risk (as prf risk predict) from this deployed revision of --repo to --risk-to, and state it on the form")
	cmd.Flags().StringVar(&ro.To, "risk-to", "HEAD", "the candidate revision, with --risk-from")
	cmd.Flags().StringVar(&ro.Repo, "repo", ".", "git repository, with --risk-from")
	cmd.Flags().StringVar(&ro.Service, "service", "", "with --risk-from: the service whose recorded deployments train the team model")
	cmd.Flags().StringVar(&ro.Env, "env", "", "with --risk-from: its environment")
	cmd.Flags().StringVar(&out, "out", "", "write the form to this file")
	cmd.Flags().StringVarP(&format, "output", "o", "markdown", "markdown or json (json can be verified with prf authorize verify)")
	cmd.AddCommand(newAuthorizeVerifyCmd(d))
	return cmd
}

func newAuthorizeVerifyCmd(d *deps) *cobra.Command {
	var trustFile string
	cmd := &cobra.Command{
		Use:   "verify FILE.json",
		Short: "Check every signature of an authorization against the trust file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return usageError{err}
			}
			var a signoff.Authorization
			if err := json.Unmarshal(b, &a); err != nil {
				return usageError{fmt.Errorf("%s: not an authorization (JSON): %w", args[0], err)}
			}
			trust, err := signoff.LoadTrust(trustFile)
			if err != nil {
				return err
			}
			if errs := signoff.VerifyAuthorization(&a, trust); len(errs) > 0 {
				fmt.Fprintf(d.Out, "%s: NOT VALID\n", args[0])
				for _, e := range errs {
					fmt.Fprintf(d.Out, "  - %v\n", e)
				}
				return errNotReady
			}
			fmt.Fprintf(d.Out, "%s: valid: deployment %s of %s, run %s, %d sign-offs and the %s's authorization by %s verify against %s\n",
				args[0], a.DeploymentID, a.Artifact, a.Run, len(a.Signoffs), signoff.Authorizer, a.Authorization.Signer, trustFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&trustFile, "trust", defaultTrustFile, "trust file")
	return cmd
}
