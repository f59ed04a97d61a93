package signoff

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prfhq/prf/internal/store"
)

// Approval is one row of the approval matrix (§9.1): a role and what its
// sign-off vouches for.
type Approval struct {
	Role           string `yaml:"role" json:"role"`
	Responsibility string `yaml:"responsibility" json:"responsibility"`
	// AllowException lets the role sign off a run that is not ready, with
	// a written reason that is signed and shown on the authorization.
	AllowException bool `yaml:"allow_exception" json:"allow_exception,omitempty"`
}

// DefaultMatrix is the document's §9.1 matrix; the CTO's approval is the
// deployment authorization itself.
var DefaultMatrix = []Approval{
	{Role: "Development Lead", Responsibility: "Code quality and functionality"},
	{Role: "Security Lead", Responsibility: "Security compliance and validation"},
	{Role: "DevOps Lead", Responsibility: "Infrastructure and deployment readiness"},
	{Role: "SRE Lead", Responsibility: "Monitoring and operational readiness"},
	{Role: "Compliance Officer", Responsibility: "Regulatory compliance validation"},
	{Role: "Product Owner", Responsibility: "Business requirements and acceptance"},
}

// Authorizer is the role that issues the deployment authorization.
const Authorizer = "CTO"

// Statement kinds.
const (
	KindAttestation   = "attestation"
	KindSignoff       = "signoff"
	KindAuthorization = "authorization"
	KindOverride      = "override"
)

// ApprovalDomain is the checklist domain of the §9.1 approval checkpoints:
// sign-offs satisfy them, so they do not count against a run's readiness
// for sign-off.
const ApprovalDomain = "approval"

// ResultsDigest is the SHA-256 of a run's results as they stand: every
// checkpoint's id, status and message, in id order. A re-run or a new
// attestation changes it, which makes earlier sign-offs stale. The
// approval checkpoints (§9.1) are left out: the sign-offs themselves
// attest them.
func ResultsDigest(results []store.Result) string {
	rs := slices.DeleteFunc(slices.Clone(results), func(r store.Result) bool { return r.Domain == ApprovalDomain })
	slices.SortFunc(rs, func(a, b store.Result) int { return strings.Compare(a.ID, b.ID) })
	h := sha256.New()
	for _, r := range rs {
		for _, f := range []string{r.ID, string(r.Status), r.Skip, r.Message} {
			fmt.Fprintf(h, "%d:%s", len(f), f)
		}
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Blocking lists the results that keep a run from being signed off: every
// blocking result outside the approval domain (whose checkpoints the
// sign-offs themselves satisfy).
func Blocking(results []store.Result) []store.Result {
	var out []store.Result
	for _, r := range results {
		if r.Domain == ApprovalDomain {
			continue
		}
		if r.Blocks() {
			out = append(out, r)
		}
	}
	return out
}

// Evidence is what an attestation points at: a URL, or a file stored by
// its SHA-256 digest.
type Evidence struct {
	URL    string `json:"url,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Name   string `json:"name,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// AttestationBody is what an attestation statement signs.
type AttestationBody struct {
	Run        string     `json:"run"`
	Checkpoint string     `json:"checkpoint"`
	Status     string     `json:"status"`
	Note       string     `json:"note,omitempty"`
	Evidence   []Evidence `json:"evidence,omitempty"`
}

// SignoffBody is what a sign-off statement signs: the run, its results and
// checklist as they are, and the artifact to be deployed.
type SignoffBody struct {
	Run             string `json:"run"`
	ResultsSHA256   string `json:"results_sha256"`
	ChecklistSHA256 string `json:"checklist_sha256"`
	Artifact        string `json:"artifact"`
	Exception       string `json:"exception,omitempty"` // why a role signs a run that is not ready
}

// RoleState is one required role's standing on a run.
type RoleState struct {
	Role           string     `json:"role"`
	Responsibility string     `json:"responsibility"`
	Signer         string     `json:"signer,omitempty"`
	At             *time.Time `json:"at,omitempty"`
	Fresh          bool       `json:"fresh"`
	Stale          bool       `json:"stale"` // signed, but the results changed since
	Statement      *Statement `json:"statement,omitempty"`
}

// Standing is what a run lacks before it can be authorized.
type Standing struct {
	Run           string      `json:"run"`
	ResultsSHA256 string      `json:"results_sha256"`
	Roles         []RoleState `json:"roles"`
	Blocking      []string    `json:"blocking,omitempty"` // checkpoint ids
	Missing       []string    `json:"missing,omitempty"`  // what stops the authorization, in words
	Ready         bool        `json:"ready"`
	signoffs      []*Statement
}

// Evaluate compares a run's results and sign-offs with the matrix.
// Sign-offs whose statement no longer verifies against the trust file are
// ignored (and reported missing); the latest valid sign-off of a role counts.
func Evaluate(runID string, results []store.Result, signoffs []store.Signoff, matrix []Approval, trust *Trust) *Standing {
	st := &Standing{Run: runID, ResultsSHA256: ResultsDigest(results)}
	for _, r := range Blocking(results) {
		st.Blocking = append(st.Blocking, r.ID)
		st.Missing = append(st.Missing, fmt.Sprintf("checkpoint %s is %s", r.ID, r.Status))
	}
	for _, a := range matrix {
		rs := RoleState{Role: a.Role, Responsibility: a.Responsibility}
		for i := len(signoffs) - 1; i >= 0; i-- {
			so := signoffs[i]
			if !sameRole(so.Role, a.Role) {
				continue
			}
			var s Statement
			if json.Unmarshal(so.Statement, &s) != nil || trust.Verify(&s) != nil {
				continue
			}
			at := so.At
			rs.Signer, rs.At, rs.Statement = so.Signer, &at, &s
			rs.Fresh = so.ResultsDigest == st.ResultsSHA256
			rs.Stale = !rs.Fresh
			break
		}
		switch {
		case rs.Signer == "":
			st.Missing = append(st.Missing, "no sign-off by the "+a.Role)
		case rs.Stale:
			st.Missing = append(st.Missing, fmt.Sprintf("the %s's sign-off (%s) is stale: the results changed since", a.Role, rs.Signer))
		}
		st.Roles = append(st.Roles, rs)
	}
	st.Ready = len(st.Missing) == 0
	return st
}

// ApprovalCheckpoints are the run's pending manual approval checkpoints
// (domain approval) that a sign-off in role satisfies.
func ApprovalCheckpoints(results []store.Result, role string) []store.Result {
	var out []store.Result
	for _, r := range results {
		if r.Domain == ApprovalDomain && r.Manual() && r.Status != store.StatusPass && sameRole(r.Owner, role) {
			out = append(out, r)
		}
	}
	return out
}

// sameRole reports whether a and b name one role (see NormalizeRole).
func sameRole(a, b string) bool { return NormalizeRole(a) == NormalizeRole(b) }

// Box is one line of the authorization form, checked from real results.
type Box struct {
	Label   string `json:"label"`
	Checked bool   `json:"checked"`
	Detail  string `json:"detail,omitempty"`
}

// Form is the Deployment Authorization (§9.2): what it authorizes, the
// boxes derived from the run, and every signature it rests on.
type Form struct {
	DeploymentID    string       `json:"deployment_id"`
	Run             string       `json:"run"`
	Checklist       string       `json:"checklist"`
	ChecklistSHA256 string       `json:"checklist_sha256"`
	ResultsSHA256   string       `json:"results_sha256"`
	Artifact        string       `json:"artifact"`
	Date            time.Time    `json:"date"`
	Validation      []Box        `json:"validation"`
	Risk            string       `json:"risk"`
	Rollback        []Box        `json:"rollback"`
	Signoffs        []*Statement `json:"signoffs"`
}

// FormSHA256 is the digest the authorizer signs: the form without the
// authorizer's own statement.
func (f *Form) FormSHA256() string {
	b, _ := json.Marshal(f)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// AuthorizationBody is what the authorizer's statement signs.
type AuthorizationBody struct {
	DeploymentID string `json:"deployment_id"`
	Run          string `json:"run"`
	FormSHA256   string `json:"form_sha256"`
}

// Authorization is a signed form, as written to a file.
type Authorization struct {
	Form
	Authorization *Statement `json:"authorization"`
}

// domainBox checks a box when no blocking result of the domains fails.
func domainBox(label string, results []store.Result, domains ...string) Box {
	n, bad := 0, []string{}
	for _, r := range results {
		if !slices.Contains(domains, r.Domain) {
			continue
		}
		n++
		if r.Blocks() {
			bad = append(bad, r.ID)
		}
	}
	b := Box{Label: label, Checked: n > 0 && len(bad) == 0}
	switch {
	case n == 0:
		b.Detail = "no checkpoint in this run"
	case len(bad) > 0:
		b.Detail = fmt.Sprintf("%d of %d blocking: %s", len(bad), n, strings.Join(bad, ", "))
	default:
		b.Detail = fmt.Sprintf("%d checkpoints", n)
	}
	return b
}

// NewForm builds the form for a run whose standing is ready.
func NewForm(run *store.Run, results []store.Result, st *Standing, artifact string, now time.Time) *Form {
	f := &Form{
		DeploymentID: fmt.Sprintf("PROD-%s-%s", now.UTC().Format("2006-01-02"), shortID(run.ID)),
		Run:          run.ID, Checklist: run.Checklist, ChecklistSHA256: run.ChecklistDigest,
		ResultsSHA256: st.ResultsSHA256, Artifact: artifact, Date: now.UTC().Truncate(time.Second),
		Risk: "not assessed (prf authorize --risk-from REV assesses the release with prf's risk model)",
	}
	f.Validation = []Box{
		domainBox("All infrastructure checks passed", results, "infrastructure"),
		domainBox("All security validations completed", results, "security"),
		domainBox("All performance benchmarks met", results, "performance"),
		domainBox("All compliance requirements satisfied", results, "compliance"),
	}
	signed := 0
	for _, r := range st.Roles {
		if r.Fresh {
			signed++
			f.Signoffs = append(f.Signoffs, r.Statement)
		}
	}
	f.Validation = append(f.Validation, Box{Label: "All stakeholder approvals obtained", Checked: signed == len(st.Roles),
		Detail: fmt.Sprintf("%d of %d roles signed off", signed, len(st.Roles))})
	f.Rollback = []Box{
		domainBox("Rollback procedures tested", results, "rollback"),
		{Label: "Rollback approval matrix defined", Checked: true, Detail: "emergency overrides need two people holding the override roles (prf override)"},
		domainBox("Emergency contacts notified", results, "post-deployment"),
	}
	return f
}

func shortID(id string) string {
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// VerifyAuthorization checks every signature of an authorization file and
// that the authorizer signed this very form.
func VerifyAuthorization(a *Authorization, trust *Trust) []error {
	var errs []error
	for i, s := range a.Signoffs {
		if err := trust.Verify(s); err != nil {
			errs = append(errs, fmt.Errorf("sign-off %d (%s, %s): %w", i+1, s.Role, s.Signer, err))
			continue
		}
		var b SignoffBody
		if err := json.Unmarshal(s.Body, &b); err != nil || b.Run != a.Run || b.ResultsSHA256 != a.ResultsSHA256 {
			errs = append(errs, fmt.Errorf("sign-off %d (%s, %s) is for another run or other results", i+1, s.Role, s.Signer))
		}
	}
	if a.Authorization == nil {
		return append(errs, fmt.Errorf("the form carries no authorization"))
	}
	if err := trust.Verify(a.Authorization); err != nil {
		return append(errs, fmt.Errorf("authorization (%s): %w", a.Authorization.Signer, err))
	}
	if !sameRole(a.Authorization.Role, Authorizer) {
		errs = append(errs, fmt.Errorf("authorization signed as %q, not as the %s", a.Authorization.Role, Authorizer))
	}
	var b AuthorizationBody
	if err := json.Unmarshal(a.Authorization.Body, &b); err != nil || b.FormSHA256 != a.Form.FormSHA256() || b.Run != a.Run || b.DeploymentID != a.DeploymentID {
		errs = append(errs, fmt.Errorf("the authorization does not sign this form (the form was changed after signing)"))
	}
	return errs
}

// Markdown renders the form as §9.2 lays it out.
func (a *Authorization) Markdown() string {
	var b strings.Builder
	box := func(x Box) {
		mark := " "
		if x.Checked {
			mark = "x"
		}
		fmt.Fprintf(&b, "- [%s] %s", mark, x.Label)
		if x.Detail != "" {
			fmt.Fprintf(&b, " (%s)", x.Detail)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "# Production Deployment Authorization\n\n")
	fmt.Fprintf(&b, "- Deployment ID: %s\n- Date: %s\n- Run: %s (%s)\n- Artifact: %s\n- Checklist SHA-256: %s\n- Results SHA-256: %s\n\n",
		a.DeploymentID, a.Date.Format(time.RFC3339), a.Run, a.Checklist, a.Artifact, a.ChecklistSHA256, a.ResultsSHA256)
	b.WriteString("## Pre-Deployment Validation\n\n")
	for _, x := range a.Validation {
		box(x)
	}
	fmt.Fprintf(&b, "\n## Risk Assessment\n\n%s\n\n## Rollback Plan\n\n", a.Risk)
	for _, x := range a.Rollback {
		box(x)
	}
	b.WriteString("\n## Sign-offs\n\n| Role | Signer | Signed at | Exception |\n|---|---|---|---|\n")
	for _, s := range a.Signoffs {
		var body SignoffBody
		_ = json.Unmarshal(s.Body, &body)
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", s.Role, s.Signer, s.Time.UTC().Format(time.RFC3339), body.Exception)
	}
	if a.Authorization != nil {
		fmt.Fprintf(&b, "\n## Final Authorization\n\nAuthorized by %s (%s) at %s. Signature (Ed25519): `%s`\n\nVerify offline with `prf authorize verify FILE.json`.\n",
			a.Authorization.Signer, a.Authorization.Role, a.Authorization.Time.UTC().Format(time.RFC3339), a.Authorization.Signature)
	}
	return b.String()
}
