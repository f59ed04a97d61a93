package signoff

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// OverridePolicy is the two-person rule for emergency actions (an
// emergency rollback, a deployment outside the gates): the action takes
// effect only when Required distinct people, each holding one of Roles,
// have signed it within Window of the request. It replaces the document's
// hard-coded approval code: there is no secret to know, only people to
// convince.
type OverridePolicy struct {
	Roles    []string      `json:"roles"`
	Required int           `json:"required"`
	Window   time.Duration `json:"window"`
}

// DefaultOverridePolicy: two of the SRE Lead, DevOps Lead and CTO within 30
// minutes. A trust file's override: mapping replaces it (Trust.Override).
var DefaultOverridePolicy = OverridePolicy{Roles: []string{"SRE Lead", "DevOps Lead", Authorizer}, Required: 2, Window: 30 * time.Minute}

// Stricter is the rule that holds both p and q: the larger number of
// people, the shorter window, and only the roles both name.
func (p OverridePolicy) Stricter(q OverridePolicy) OverridePolicy {
	out := OverridePolicy{Required: max(p.Required, q.Required), Window: min(p.Window, q.Window)}
	for _, r := range p.Roles {
		if slices.ContainsFunc(q.Roles, func(o string) bool { return sameRole(o, r) }) {
			out.Roles = append(out.Roles, r)
		}
	}
	return out
}

// OverrideBody is what a request or an approval of an override signs.
type OverrideBody struct {
	ID     string `json:"id"`
	Step   string `json:"step"` // "request" or "approve"
	Action string `json:"action"`
	Reason string `json:"reason,omitempty"`
	Run    string `json:"run,omitempty"`
	// Policy is the rule in force when the request was signed (requests
	// only). The override is judged by the stricter of it and the current
	// rule, so a later trust-file change cannot revive an expired or
	// under-signed request.
	Policy *OverridePolicy `json:"policy,omitempty"`
}

// OverrideState is what the signatures of one override add up to.
type OverrideState struct {
	ID        string         `json:"id"`
	Action    string         `json:"action"`
	Reason    string         `json:"reason"`
	Run       string         `json:"run,omitempty"`
	Requested time.Time      `json:"requested"`
	Expires   time.Time      `json:"expires"`
	Signers   []string       `json:"signers"`
	Effective bool           `json:"effective"`
	Problems  []string       `json:"problems,omitempty"` // signatures that do not count, and why
	Statement []*Statement   `json:"statements"`
	Policy    OverridePolicy `json:"policy"` // the rule it was judged by
}

// EvaluateOverride applies the policy to the statements found for one
// override id (in the order they were made). Each counts only when it
// verifies against the trust file, its signer holds one of the policy's
// roles (the role it signed as), it names the requested action, it falls
// within the window, and its signer has not already counted.
func EvaluateOverride(id string, stmts []*Statement, trust *Trust, p OverridePolicy) *OverrideState {
	st := &OverrideState{ID: id, Policy: p}
	var req *OverrideBody
	for _, s := range stmts {
		var b OverrideBody
		if err := json.Unmarshal(s.Body, &b); err != nil || b.ID != id {
			continue
		}
		reject := func(format string, args ...any) {
			st.Problems = append(st.Problems, fmt.Sprintf("%s (%s): ", s.Signer, b.Step)+fmt.Sprintf(format, args...))
		}
		if err := trust.Verify(s); err != nil {
			reject("%v", err)
			continue
		}
		if !slices.ContainsFunc(p.Roles, func(r string) bool { return sameRole(r, s.Role) }) {
			reject("signed as %q, not one of %s", s.Role, strings.Join(p.Roles, ", "))
			continue
		}
		if req == nil {
			if b.Step != "request" {
				reject("an approval before any request")
				continue
			}
			req = &b
			if b.Policy != nil {
				p = p.Stricter(*b.Policy)
				st.Policy = p
			}
			st.Action, st.Reason, st.Run, st.Requested = b.Action, b.Reason, b.Run, s.Time
			st.Expires = s.Time.Add(p.Window)
		} else {
			switch {
			case b.Step != "approve":
				reject("a second request")
				continue
			case b.Action != req.Action || b.Run != req.Run:
				reject("approves %q on %q, not the requested %q on %q", b.Action, b.Run, req.Action, req.Run)
				continue
			case s.Time.After(st.Expires) || s.Time.Before(st.Requested):
				reject("signed at %s, outside the window %s to %s", s.Time.Format(time.RFC3339), st.Requested.Format(time.RFC3339), st.Expires.Format(time.RFC3339))
				continue
			case slices.ContainsFunc(st.Signers, func(e string) bool { return strings.EqualFold(e, s.Signer) }):
				reject("already signed this override: it needs another person")
				continue
			}
		}
		st.Signers = append(st.Signers, s.Signer)
		st.Statement = append(st.Statement, s)
	}
	st.Effective = req != nil && len(st.Signers) >= p.Required
	return st
}
