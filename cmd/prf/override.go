package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prfhq/prf/internal/audit"
	"github.com/prfhq/prf/internal/signoff"
)

func newOverrideCmd(d *deps, g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "override",
		Short: "Emergency actions under the two-person rule (request, approve, status)",
		Long: `An emergency action (a rollback, a deployment outside the gates) is
allowed only when two different people, each holding one of the override
roles (SRE Lead, DevOps Lead, CTO), have signed it within 30 minutes of the
request. There is no approval code to know: each step is a signed statement
in the audit log, which is where 'status' (and, later, rollback) reads it.

The trust file sets the rule, reviewed with the people it trusts:

  override:
    roles: [SRE Lead, Incident Commander]   # who may request and approve
    required: 2                             # distinct people, at least 2
    window: 15m                             # from the request, at most 24h`,
		Example: `  prf override request rollback --run last --reason "p99 4 s since the deploy" --as sre@example.com
  prf override approve 9f2c41d0a7e3b5c1 --as cto@example.com
  prf override status 9f2c41d0a7e3b5c1
  prf override list                     # every request: waiting, effective or expired`,
	}
	cmd.AddCommand(newOverrideRequestCmd(d, g), newOverrideApproveCmd(d, g), newOverrideStatusCmd(d, g), newOverrideListCmd(d, g))
	return cmd
}

// overrideRole is the role a person signs an override in: --role, else
// the first override role the trust file gives them.
func overrideRole(trust *signoff.Trust, email, role string) (string, error) {
	p := trust.Override
	if role != "" {
		if !trust.HasRole(email, role) {
			return "", usagef("%s does not hold the role %s", email, role)
		}
		return role, nil
	}
	for _, r := range p.Roles {
		if trust.HasRole(email, r) {
			return r, nil
		}
	}
	return "", usagef("%s holds none of the override roles (%s)", email, strings.Join(p.Roles, ", "))
}

// overrideStatements reads the statements of one override from the log.
func overrideStatements(ctx context.Context, st audit.Store, id string) ([]*signoff.Statement, error) {
	_, byID, err := overridesInLog(ctx, st)
	return byID[id], err
}

// overridesInLog reads every override statement in the log, by override
// id; ids lists them in the order of their first statement.
func overridesInLog(ctx context.Context, st audit.Store) (ids []string, byID map[string][]*signoff.Statement, err error) {
	byID = map[string][]*signoff.Statement{}
	err = st.AuditEntriesOfKind(ctx, audit.KindOverride, func(e audit.Entry) error {
		var s signoff.Statement
		var b signoff.OverrideBody
		if json.Unmarshal(e.Payload, &s) != nil || json.Unmarshal(s.Body, &b) != nil || b.ID == "" {
			return nil
		}
		if _, seen := byID[b.ID]; !seen {
			ids = append(ids, b.ID)
		}
		byID[b.ID] = append(byID[b.ID], &s)
		return nil
	})
	return ids, byID, err
}

// openTrusted loads the trust file and opens the store the sign-off
// commands read.
func openTrusted(ctx context.Context, d *deps, g *globalOpts, trustFile string) (*signoff.Trust, approvalStore, error) {
	trust, err := signoff.LoadTrust(trustFile)
	if err != nil {
		return nil, nil, err
	}
	st, err := openApprovalStore(ctx, d, g, trust)
	if err != nil {
		return nil, nil, err
	}
	return trust, st, nil
}

// loadOverride reads an override's statements from the log and applies
// the policy to them; an id the log does not hold is a usage error.
func loadOverride(ctx context.Context, st audit.Store, id string, trust *signoff.Trust) ([]*signoff.Statement, *signoff.OverrideState, error) {
	stmts, err := overrideStatements(ctx, st, id)
	if err != nil {
		return nil, nil, err
	}
	s := signoff.EvaluateOverride(id, stmts, trust, trust.Override)
	if s.Action == "" {
		return nil, nil, usagef("no override %s in the audit log", id)
	}
	return stmts, s, nil
}

func printOverride(d *deps, st *signoff.OverrideState) {
	fmt.Fprintf(d.Out, "override %s: %s", st.ID, st.Action)
	if st.Run != "" {
		fmt.Fprintf(d.Out, " of run %s", st.Run)
	}
	fmt.Fprintf(d.Out, "\n  reason: %s\n  signed by: %s\n", st.Reason, strings.Join(st.Signers, ", "))
	p := st.Policy
	if st.Effective {
		fmt.Fprintf(d.Out, "  EFFECTIVE: %d people signed within %s\n", len(st.Signers), p.Window)
	} else {
		fmt.Fprintf(d.Out, "  not effective: needs %d more signature(s) from %s before %s\n", p.Required-len(st.Signers), strings.Join(p.Roles, ", "), st.Expires.Format(time.RFC3339))
	}
	for _, pr := range st.Problems {
		fmt.Fprintf(d.Out, "  does not count: %s\n", pr)
	}
}

func newOverrideRequestCmd(d *deps, g *globalOpts) *cobra.Command {
	var so signerOpts
	var reason, runArg, role string
	cmd := &cobra.Command{
		Use:   "request ACTION --reason WHY",
		Short: "Request an emergency action; a second person must approve it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if strings.TrimSpace(reason) == "" {
				return usagef("give --reason: it is signed and shown to whoever approves")
			}
			trust, key, st, err := so.open(ctx, d, g, func(trust *signoff.Trust, key *signoff.Key) (err error) {
				if role, err = overrideRole(trust, key.Email, role); err != nil {
					return err
				}
				if p, n := trust.Override, trust.HoldingAny(trust.Override.Roles); n < p.Required {
					return usagef("the override rule needs %d people holding %s, and the trust file %s lists %d: no override could take effect; add people or change the rule",
						p.Required, strings.Join(p.Roles, ", "), so.Trust, n)
				}
				return nil
			})
			if err != nil {
				return err
			}
			defer st.Close()
			if runArg != "" {
				run, err := resolveRun(ctx, st, runArg)
				if err != nil {
					return err
				}
				runArg = run.ID
			}
			var b [8]byte
			_, _ = rand.Read(b[:])
			id := hex.EncodeToString(b[:])
			stmt, err := signoff.SignStatement(key, signoff.KindOverride, role, signoff.OverrideBody{ID: id, Step: "request", Action: args[0], Reason: reason, Run: runArg, Policy: &trust.Override}, time.Now())
			if err != nil {
				return err
			}
			if _, err := audit.Append(ctx, st, key, audit.KindOverride, stmt); err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
			printOverride(d, signoff.EvaluateOverride(id, []*signoff.Statement{stmt}, trust, trust.Override))
			fmt.Fprintf(d.Out, "  a second person approves with: prf override approve %s\n", id)
			return nil
		},
	}
	so.flags(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (signed, and shown to whoever approves)")
	cmd.Flags().StringVar(&runArg, "run", "", "the run it concerns (an id, a prefix or last)")
	cmd.Flags().StringVar(&role, "role", "", "the override role you act in (default: the first you hold)")
	return cmd
}

func newOverrideApproveCmd(d *deps, g *globalOpts) *cobra.Command {
	var so signerOpts
	var role string
	cmd := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve another person's emergency request (two-person rule)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			trust, key, st, err := so.open(ctx, d, g, func(trust *signoff.Trust, key *signoff.Key) (err error) {
				role, err = overrideRole(trust, key.Email, role)
				return err
			})
			if err != nil {
				return err
			}
			defer st.Close()
			stmts, before, err := loadOverride(ctx, st, args[0], trust)
			if err != nil {
				return err
			}
			stmt, err := signoff.SignStatement(key, signoff.KindOverride, role, signoff.OverrideBody{ID: args[0], Step: "approve", Action: before.Action, Reason: before.Reason, Run: before.Run}, time.Now())
			if err != nil {
				return err
			}
			after := signoff.EvaluateOverride(args[0], append(stmts, stmt), trust, trust.Override)
			if len(after.Signers) == len(before.Signers) {
				printOverride(d, after)
				return usagef("your approval would not count (see above)")
			}
			if _, err := audit.Append(ctx, st, key, audit.KindOverride, stmt); err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
			printOverride(d, after)
			return nil
		},
	}
	so.flags(cmd)
	cmd.Flags().StringVar(&role, "role", "", "the override role you act in (default: the first you hold)")
	return cmd
}

func newOverrideStatusCmd(d *deps, g *globalOpts) *cobra.Command {
	var trustFile string
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Whether an emergency override is in effect (exit 0) or not (exit 1)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			trust, st, err := openTrusted(ctx, d, g, trustFile)
			if err != nil {
				return err
			}
			defer st.Close()
			_, s, err := loadOverride(ctx, st, args[0], trust)
			if err != nil {
				return err
			}
			printOverride(d, s)
			if !s.Effective {
				return errNotReady
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&trustFile, "trust", defaultTrustFile, "trust file")
	return cmd
}

func newOverrideListCmd(d *deps, g *globalOpts) *cobra.Command {
	var trustFile string
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List override requests: waiting for a second person, effective, or expired",
		Long: `List the override requests in the audit log, newest first, each judged by
the two-person rule: waiting (it can still take effect), effective, or
expired (its window closed without enough signatures). Waiting requests are
what an approver looks for; --all adds the others.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			trust, st, err := openTrusted(ctx, d, g, trustFile)
			if err != nil {
				return err
			}
			defer st.Close()
			ids, byID, err := overridesInLog(ctx, st)
			if err != nil {
				return err
			}
			now := time.Now()
			shown := 0
			for i := len(ids) - 1; i >= 0; i-- {
				o := signoff.EvaluateOverride(ids[i], byID[ids[i]], trust, trust.Override)
				if o.Action == "" {
					continue // approvals without a request that counts
				}
				state := "waiting"
				switch {
				case o.Effective:
					state = "EFFECTIVE"
				case now.After(o.Expires):
					state = "expired"
				}
				if state != "waiting" && !all {
					continue
				}
				shown++
				fmt.Fprintf(d.Out, "%s  %-9s  %s", o.ID, state, o.Action)
				if o.Run != "" {
					fmt.Fprintf(d.Out, " of run %s", o.Run)
				}
				fmt.Fprintf(d.Out, "  by %s, %d of %d signatures, window until %s\n    reason: %s\n",
					strings.Join(o.Signers, ", "), len(o.Signers), o.Policy.Required, o.Expires.Format(time.RFC3339), o.Reason)
			}
			if shown == 0 {
				what := "no override request is waiting for approval"
				if all {
					what = "no override request in the audit log"
				}
				fmt.Fprintln(d.Out, what)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&trustFile, "trust", defaultTrustFile, "trust file")
	cmd.Flags().BoolVar(&all, "all", false, "also the effective and expired requests")
	return cmd
}
