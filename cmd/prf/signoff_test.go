package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prfhq/prf/internal/signoff"
)

// The whole path of §6.1 and §9: a run with manual checkpoints, owners
// attest them, the six roles sign off, the CTO authorizes, an auditor
// verifies the form and the audit log offline; every refusal on the way.
func TestAttestSignoffAuthorize(t *testing.T) {
	e := newIdentityEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, ".prf", "prf.db")
	addr := listen(t)
	cl := writeFile(t, dir, "prf.yaml", `version: 1
name: release
checkpoints:
`+tcpCheckpoint("svc.port", addr, "blocking")+`
  - id: ops.runbook
    title: runbook reviewed
    domain: operations
    owner: SRE Lead
    manual: {evidence: the reviewed runbook}
  - id: sec.pentest
    title: pentest done
    domain: security
    owner: Security Lead
    manual: {evidence: the pentest report}
`)
	people := map[string]string{}
	for i, role := range append(roleNames(), signoff.Authorizer) {
		email := string(rune('a'+i)) + "@example.com"
		people[role] = email
		if code, _, errOut := e.prf(t, "identity", "new", "--name", role+" person", "--email", email, "--role", role, "--trust", e.trust); code != 0 {
			t.Fatalf("identity new %s: exit %d\n%s", role, code, errOut)
		}
	}
	sre, sec, cto := people["SRE Lead"], people["Security Lead"], people[signoff.Authorizer]
	code, _, errOut := e.prf(t, "check", "-q", "--db", db, "-f", cl)
	if code != 1 {
		t.Fatalf("check with pending manual checkpoints: exit %d, want 1\n%s", code, errOut)
	}
	as := func(who string, args ...string) (int, string, string) {
		return e.prf(t, append(append([]string{}, args...), "--db", db, "--trust", e.trust, "--as", who)...)
	}

	// Not ready: a sign-off is refused, naming what blocks.
	code, _, errOut = as(sre, "signoff", "last", "--role", "SRE Lead", "--artifact", "sha256:a1")
	if code != 1 || !strings.Contains(errOut, "ops.runbook (pending)") {
		t.Fatalf("sign-off of a run that is not ready: exit %d\n%s", code, errOut)
	}
	// Only the owner's role may attest.
	code, _, errOut = as(sec, "attest", "last", "ops.runbook", "--evidence", "https://wiki.example.com/runbook")
	if code != 2 || !strings.Contains(errOut, "its owner is the SRE Lead") {
		t.Fatalf("attest by another role: exit %d\n%s", code, errOut)
	}
	code, _, errOut = as(sre, "attest", "last", "svc.port")
	if code != 2 || !strings.Contains(errOut, "is automated") {
		t.Fatalf("attest an automated checkpoint: exit %d\n%s", code, errOut)
	}
	evidence := writeFile(t, dir, "runbook.md", "# runbook\n")
	if code, out, errOut := as(sre, "attest", "last", "ops.runbook", "--evidence", evidence, "--note", "reviewed with on-call"); code != 0 || !strings.Contains(out, "ops.runbook: pass") {
		t.Fatalf("attest: exit %d\n%s%s", code, out, errOut)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, ".prf", "evidence", "*")); len(files) != 1 || len(filepath.Base(files[0])) != 64 {
		t.Errorf("evidence stored by digest: %v", files)
	}
	if code, _, errOut := as(sec, "attest", "last", "sec.pentest", "--evidence", "https://example.com/pentest.pdf"); code != 0 {
		t.Fatalf("attest pentest: exit %d\n%s", code, errOut)
	}

	// The risk model counts the roles without a fresh sign-off of the run,
	// judged against the trust file.
	repo, h := gitRepo(t, 4)
	riskArgs := []string{"risk", "predict", "-o", "json", "--db", db, "--repo", repo, "--from", h[1], "--to", h[3], "--run", "last"}
	signoffsRec := func(trust ...string) string {
		t.Helper()
		code, out, errOut := e.prf(t, append(append([]string{}, riskArgs...), trust...)...)
		if code != 0 {
			t.Fatalf("risk predict %v: exit %d\n%s", trust, code, errOut)
		}
		var p prediction
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Recommendations {
			if strings.Contains(r, "sign-off") {
				return r
			}
		}
		return ""
	}
	if got := signoffsRec("--trust", e.trust); !strings.HasPrefix(got, "6 roles of the approval matrix have no fresh sign-off of run") {
		t.Errorf("risk predict before the sign-offs: %q", got)
	}
	if got := signoffsRec(); got != "" {
		t.Errorf("risk predict without a trust file judged sign-offs: %q", got)
	}
	if code, _, errOut := e.prf(t, append(riskArgs, "--trust", filepath.Join(dir, "missing.yaml"))...); code != 2 || !strings.Contains(errOut, "missing.yaml: not found") {
		t.Errorf("risk predict --trust missing: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := e.prf(t, "risk", "predict", "--repo", repo, "--from", h[1], "--to", h[3], "--trust", e.trust); code != 2 || !strings.Contains(errOut, "--trust judges the sign-offs of a run") {
		t.Errorf("risk predict --trust without a run: exit %d\n%s", code, errOut)
	}
	bad := writeFile(t, dir, "bad-trust.yaml", "version: 1\npeople:\n  - name: x\n    colour: red\n")
	if code, _, errOut := e.prf(t, append(riskArgs, "--trust", bad)...); code == 0 || !strings.Contains(errOut, "bad-trust.yaml:") {
		t.Errorf("risk predict with a bad trust file: exit %d\n%s", code, errOut)
	}

	// Authorization lists what is missing until every role signs.
	code, out, _ := as(cto, "authorize", "last", "--artifact", "sha256:a1")
	if code != 1 || !strings.Contains(out, "no sign-off by the Development Lead") {
		t.Fatalf("authorize without sign-offs: exit %d\n%s", code, out)
	}
	for _, role := range roleNames() {
		if code, out, errOut := as(people[role], "signoff", "last", "--role", role, "--artifact", "sha256:a1"); code != 0 {
			t.Fatalf("signoff %s: exit %d\n%s%s", role, code, out, errOut)
		}
	}
	if got := signoffsRec("--trust", e.trust); got != "" {
		t.Errorf("risk predict after every sign-off: %q", got)
	}
	if code, _, errOut := as(sre, "signoff", "last", "--role", "Security Lead", "--artifact", "sha256:a1"); code != 2 || !strings.Contains(errOut, "does not hold the role Security Lead") {
		t.Errorf("sign-off in a role not held: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := as(sre, "authorize", "last", "--artifact", "sha256:a1"); code != 2 || !strings.Contains(errOut, "does not hold the role CTO") {
		t.Errorf("authorize by a non-CTO: exit %d\n%s", code, errOut)
	}
	if code, out, _ := as(cto, "authorize", "last", "--artifact", "sha256:other"); code != 1 || !strings.Contains(out, "signed off artifact sha256:a1, not sha256:other") {
		t.Errorf("authorize another artifact: exit %d\n%s", code, out)
	}
	form := filepath.Join(dir, "authorization.json")
	if code, out, errOut := as(cto, "authorize", "last", "--artifact", "sha256:a1", "-o", "json", "--out", form); code != 0 {
		t.Fatalf("authorize: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := e.prf(t, "authorize", "verify", form, "--trust", e.trust); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	var a signoff.Authorization
	b, _ := os.ReadFile(form)
	json.Unmarshal(b, &a)
	if len(a.Signoffs) != 6 || a.Authorization.Signer != cto || !a.Validation[0].Checked {
		t.Errorf("form: %d sign-offs, signer %s, boxes %+v", len(a.Signoffs), a.Authorization.Signer, a.Validation)
	}
	if !strings.HasPrefix(a.Risk, "not assessed") {
		t.Errorf("risk without --risk-from: %q", a.Risk)
	}
	// The risk assessment judges sign-offs by the authorization's own
	// --trust, not by a .prf/trust.yaml in the working directory (a broken
	// one here).
	t.Chdir(t.TempDir())
	if err := os.Mkdir(".prf", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, ".prf", "trust.yaml", "people: [oops\n")
	// --risk-from states the release's risk, from the risk model, on the
	// signed form.
	if code, out, errOut := as(cto, "authorize", "last", "--artifact", "sha256:a1", "--repo", repo, "--risk-from", h[1], "--risk-to", h[3]); code != 0 ||
		!strings.Contains(out, "## Risk Assessment") || !regexp.MustCompile(`(LOW|MEDIUM|HIGH): \d+\.\d% \(prior model; release [0-9a-f]+\.\.[0-9a-f]+, 2 commits`).MatchString(out) ||
		!strings.Contains(out, "Top factors: ") || !strings.Contains(out, "Recommendations: ") {
		t.Errorf("authorize --risk-from: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := as(cto, "authorize", "last", "--artifact", "sha256:a1", "--repo", repo, "--risk-from", "nope"); code != 2 || !strings.Contains(errOut, `"nope"`) {
		t.Errorf("authorize --risk-from nope: exit %d\n%s", code, errOut)
	}
	tampered := writeFile(t, dir, "tampered.json", strings.Replace(string(b), "sha256:a1", "sha256:evil", 1))
	if code, out, _ := e.prf(t, "authorize", "verify", tampered, "--trust", e.trust); code != 1 || !strings.Contains(out, "NOT VALID") {
		t.Errorf("tampered form: exit %d\n%s", code, out)
	}

	// A new attestation changes the results: every sign-off goes stale.
	if code, _, errOut := as(sre, "attest", "last", "ops.runbook", "--fail", "--note", "runbook outdated"); code != 0 || !strings.Contains(errOut, "is now stale") {
		t.Fatalf("re-attest: exit %d\n%s", code, errOut)
	}
	if code, out, _ := as(cto, "authorize", "last", "--artifact", "sha256:a1"); code != 1 || !strings.Contains(out, "stale") || !strings.Contains(out, "ops.runbook is fail") {
		t.Errorf("authorize after a change: exit %d\n%s", code, out)
	}
	if code, out, _ := e.prf(t, "signoff", "status", "last", "--db", db, "--trust", e.trust); code != 1 || strings.Count(out, "STALE") != 6 || !strings.Contains(out, "blocking: ops.runbook") {
		t.Errorf("signoff status: exit %d\n%s", code, out)
	}
	if code, out, _ := e.prf(t, "runs", "show", "last", "--db", db); code != 0 || strings.Count(out, "STALE: the results changed since") != 6 {
		t.Errorf("runs show: exit %d\n%s", code, out)
	}

	// The two-person rule: one signature is not enough, the same person
	// twice is refused, a second person makes it effective.
	code, out, errOut = as(sre, "override", "request", "rollback", "--run", "last", "--reason", "p99 4 s since the deploy")
	if code != 0 || !strings.Contains(out, "not effective") {
		t.Fatalf("override request: exit %d\n%s%s", code, out, errOut)
	}
	id := strings.Fields(out[strings.Index(out, "override approve ")+len("override approve "):])[0]
	if code, out, _ := e.prf(t, "override", "status", id, "--db", db, "--trust", e.trust); code != 1 || !strings.Contains(out, "not effective") {
		t.Errorf("status after one signature: exit %d\n%s", code, out)
	}
	if code, out, errOut := as(sre, "override", "approve", id); code != 2 || !strings.Contains(out+errOut, "needs another person") {
		t.Errorf("self-approval: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := as(sec, "override", "approve", id); code != 2 || !strings.Contains(errOut, "none of the override roles") {
		t.Errorf("approval by a role outside the policy: exit %d\n%s", code, errOut)
	}
	if code, out, errOut := as(cto, "override", "approve", id); code != 0 || !strings.Contains(out, "EFFECTIVE") {
		t.Fatalf("second person: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := e.prf(t, "override", "status", id, "--db", db, "--trust", e.trust); code != 0 || !strings.Contains(out, "EFFECTIVE") {
		t.Errorf("status: exit %d\n%s", code, out)
	}

	// The audit log holds every step and verifies with the trust file.
	code, out, errOut = e.prf(t, "audit", "verify", "--db", db, "--trust", e.trust)
	if code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
	exp := filepath.Join(dir, "audit.jsonl")
	if code, _, errOut := e.prf(t, "audit", "export", "--db", db, "--out", exp); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	log, _ := os.ReadFile(exp)
	for _, kind := range []string{`"kind":"run.started"`, `"kind":"run.finished"`, `"kind":"attestation"`, `"kind":"signoff"`, `"kind":"authorization"`, `"kind":"signoff.stale"`, `"kind":"override"`, `"kind":"trust.changed"`} {
		if !strings.Contains(string(log), kind) {
			t.Errorf("audit log lacks %s", kind)
		}
	}
	// Without the people's keys their entries do not verify.
	if code, out, _ := e.prf(t, "audit", "verify", "--file", exp, "--keys", filepath.Join(dir, ".prf", "instance.pub"), "--trust", filepath.Join(dir, "empty-trust.yaml")); code != 2 {
		t.Errorf("missing trust file: exit %d\n%s", code, out)
	}
}

func roleNames() []string {
	var rs []string
	for _, a := range signoff.DefaultMatrix {
		rs = append(rs, a.Role)
	}
	return rs
}

// A checklist sets its own approval matrix; the run's checklist is the one
// that counts, and a changed file is refused.
func TestApprovalMatrixFromChecklist(t *testing.T) {
	e := newIdentityEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, ".prf", "prf.db")
	body := `version: 1
name: small
approvals:
  - {role: SRE Lead, responsibility: on-call ready}
  - {role: Product Owner, responsibility: accepted}
checkpoints:
` + tcpCheckpoint("svc.port", listen(t), "blocking") + `
  - {id: appr.sre, title: SRE approval, domain: approval, owner: SRE Lead, manual: {evidence: sign-off}}
  - {id: appr.po, title: PO approval, domain: approval, owner: Product Owner, manual: {evidence: sign-off}}
  - {id: appr.cto, title: CTO authorization, domain: approval, owner: CTO, manual: {evidence: authorization}}
`
	cl := writeFile(t, dir, "prf.yaml", body)
	people := map[string]string{}
	for i, role := range []string{"SRE Lead", "Product Owner", "Security Lead", signoff.Authorizer} {
		email := string(rune('a'+i)) + "@example.com"
		people[role] = email
		if code, _, errOut := e.prf(t, "identity", "new", "--name", "x", "--email", email, "--role", role, "--trust", e.trust); code != 0 {
			t.Fatalf("identity new: %s", errOut)
		}
	}
	if code, _, errOut := e.prf(t, "check", "-q", "--db", db, "-f", cl); code != 1 {
		t.Fatalf("check with the approvals pending: exit %d, want 1\n%s", code, errOut)
	}
	as := func(who string, args ...string) (int, string, string) {
		return e.prf(t, append(append([]string{}, args...), "--db", db, "--trust", e.trust, "--as", who)...)
	}
	if code, _, errOut := as(people["SRE Lead"], "signoff", "last", "--role", "SRE Lead", "--artifact", "v1", "--exception", "why not"); code != 2 || !strings.Contains(errOut, "may not sign off with an exception") {
		t.Errorf("an exception the matrix does not allow: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := as(people["Security Lead"], "signoff", "last", "--role", "Security Lead", "--artifact", "v1"); code != 2 || !strings.Contains(errOut, "not in the approval matrix") {
		t.Errorf("a role outside the checklist's matrix: exit %d\n%s", code, errOut)
	}
	for _, role := range []string{"SRE Lead", "Product Owner"} {
		if code, _, errOut := as(people[role], "signoff", "last", "--role", role, "--artifact", "v1"); code != 0 {
			t.Fatalf("signoff %s: exit %d\n%s", role, code, errOut)
		}
	}
	if code, out, errOut := as(people[signoff.Authorizer], "authorize", "last", "--artifact", "v1"); code != 0 || !strings.Contains(out, "2 of 2 roles signed off") {
		t.Errorf("authorize with the checklist's matrix: exit %d\n%s%s", code, out, errOut)
	}
	// The sign-offs and the authorization attested the approval
	// checkpoints: the run is now ready.
	if code, out, _ := e.prf(t, "runs", "show", "last", "--db", db, "-o", "json"); code != 0 || !strings.Contains(out, `"verdict": "ready"`) || strings.Contains(out, `"status": "pending"`) {
		t.Errorf("after authorization: exit %d\n%s", code, out)
	}
	changed := writeFile(t, dir, "other.yaml", strings.Replace(body, "name: small", "name: changed", 1))
	if code, _, errOut := as(people[signoff.Authorizer], "authorize", "last", "--artifact", "v1", "-f", changed); code != 2 || !strings.Contains(errOut, "is not the checklist run") {
		t.Errorf("-f with another checklist: exit %d\n%s", code, errOut)
	}
}

// A role whose approvals row allows it may sign a run that is not ready,
// with a reason; another role may not; the authorization still waits for
// the blocking checkpoint.
func TestSignoffException(t *testing.T) {
	e := newIdentityEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, ".prf", "prf.db")
	cl := writeFile(t, dir, "prf.yaml", `version: 1
name: exc
approvals:
  - {role: SRE Lead, allow_exception: true}
  - {role: Product Owner}
checkpoints:
  - {id: ops.drill, title: drill, domain: operations, owner: SRE Lead, manual: {evidence: the drill report}}
`)
	people := map[string]string{}
	for i, role := range []string{"SRE Lead", "Product Owner", signoff.Authorizer} {
		email := string(rune('a'+i)) + "@example.com"
		people[role] = email
		if code, _, errOut := e.prf(t, "identity", "new", "--name", "x", "--email", email, "--role", role, "--trust", e.trust); code != 0 {
			t.Fatalf("identity new: %s", errOut)
		}
	}
	e.prf(t, "check", "-q", "--db", db, "-f", cl)
	as := func(who string, args ...string) (int, string, string) {
		return e.prf(t, append(append([]string{}, args...), "--db", db, "--trust", e.trust, "--as", who)...)
	}
	if code, out, errOut := as(people["SRE Lead"], "signoff", "last", "--role", "SRE Lead", "--artifact", "v1", "--exception", "drill moved to Friday"); code != 0 {
		t.Fatalf("allowed exception: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := as(people["Product Owner"], "signoff", "last", "--role", "Product Owner", "--artifact", "v1", "--exception", "ship it"); code != 2 || !strings.Contains(errOut, "may not sign off with an exception") {
		t.Errorf("exception not allowed: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := as(people["Product Owner"], "signoff", "last", "--role", "Product Owner", "--artifact", "v1"); code != 1 || !strings.Contains(errOut, "not ready") {
		t.Errorf("not ready: exit %d\n%s", code, errOut)
	}
	if code, out, _ := as(people[signoff.Authorizer], "authorize", "last", "--artifact", "v1"); code != 1 || !strings.Contains(out, "ops.drill is pending") {
		t.Errorf("authorize with a blocking checkpoint: exit %d\n%s", code, out)
	}
}

// A person removed from the trust file (or whose key was rotated) still
// verifies for the entries signed before: the log's own trust.changed
// entries, signed by the instance key, hold the keys of the time. A key
// that never was in the log's history does not.
func TestAuditKeyHistory(t *testing.T) {
	e := newIdentityEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, ".prf", "prf.db")
	cl := writeFile(t, dir, "prf.yaml", "version: 1\nname: h\ncheckpoints:\n  - {id: ops.a, title: a, domain: operations, owner: SRE Lead, manual: {evidence: x}}\n")
	for _, p := range [][2]string{{"old@example.com", "SRE Lead"}, {"new@example.com", "SRE Lead"}} {
		if code, _, errOut := e.prf(t, "identity", "new", "--name", "x", "--email", p[0], "--role", p[1], "--trust", e.trust); code != 0 {
			t.Fatalf("identity new: %s", errOut)
		}
	}
	e.prf(t, "check", "-q", "--db", db, "-f", cl)
	if code, _, errOut := e.prf(t, "attest", "last", "ops.a", "--db", db, "--trust", e.trust, "--as", "old@example.com"); code != 0 {
		t.Fatalf("attest: %s", errOut)
	}
	// old@ leaves: the trust file no longer holds their key.
	b, _ := os.ReadFile(e.trust)
	var kept []string
	skip := false
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "- name:") || strings.HasPrefix(strings.TrimSpace(l), "- email:") {
			skip = false
		}
		if strings.Contains(l, "old@example.com") {
			skip = true
			// drop this person's block, which starts one line up
			if n := len(kept); n > 0 && strings.HasPrefix(strings.TrimSpace(kept[n-1]), "- ") {
				kept = kept[:n-1]
			}
		}
		if !skip {
			kept = append(kept, l)
		}
	}
	os.WriteFile(e.trust, []byte(strings.Join(kept, "")), 0o644)
	if _, err := signoff.LoadTrust(e.trust); err != nil || strings.Contains(strings.Join(kept, ""), "old@example.com") {
		t.Fatalf("trust file after removal: %v\n%s", err, strings.Join(kept, ""))
	}
	if code, _, errOut := e.prf(t, "attest", "last", "ops.a", "--db", db, "--trust", e.trust, "--as", "new@example.com", "--note", "again"); code != 0 {
		t.Fatalf("attest by new: %s", errOut)
	}
	if code, out, errOut := e.prf(t, "audit", "verify", "--db", db, "--trust", e.trust); code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("verify after a person left: exit %d\n%s%s", code, out, errOut)
	}
}

// The trust file's override: mapping sets the two-person rule: its roles,
// how many people, and the window; the default's roles then do not count.
func TestOverridePolicyFromTrust(t *testing.T) {
	e := newIdentityEnv(t)
	db := filepath.Join(t.TempDir(), "prf.db")
	people := map[string]string{"SRE Lead": "sre@example.com", "Security Lead": "sec@example.com", "Development Lead": "dev@example.com", "QA Lead": "qa@example.com"}
	for role, email := range people {
		if code, _, errOut := e.prf(t, "identity", "new", "--name", role+" person", "--email", email, "--role", role, "--trust", e.trust); code != 0 {
			t.Fatalf("identity new %s: exit %d\n%s", role, code, errOut)
		}
	}
	f, err := os.OpenFile(e.trust, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("override:\n  roles: [Security Lead, Development Lead, QA Lead]\n  required: 3\n  window: 10m\n")
	f.Close()
	// Adding a person keeps the rule.
	if code, _, errOut := e.prf(t, "identity", "new", "--name", "Cee Tee", "--email", "cto@example.com", "--role", "CTO", "--trust", e.trust); code != 0 {
		t.Fatalf("identity new after the override rule: exit %d\n%s", code, errOut)
	}
	as := func(who string, args ...string) (int, string, string) {
		return e.prf(t, append(append([]string{}, args...), "--db", db, "--trust", e.trust, "--as", who)...)
	}
	for _, who := range []string{people["SRE Lead"], "cto@example.com"} {
		if code, _, errOut := as(who, "override", "request", "rollback", "--reason", "errors at 9%"); code != 2 || !strings.Contains(errOut, "none of the override roles (Security Lead, Development Lead, QA Lead)") {
			t.Fatalf("request by %s, in a default override role the trust file left out: exit %d\n%s", who, code, errOut)
		}
	}
	// A refusal that needs no store comes before one is opened.
	untouched := filepath.Join(t.TempDir(), "untouched.db")
	if code, _, _ := e.prf(t, "override", "request", "rollback", "--reason", "x", "--db", untouched, "--trust", e.trust, "--as", people["SRE Lead"]); code != 2 {
		t.Errorf("refused request: exit %d", code)
	}
	if _, err := os.Stat(untouched); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused request opened the store: %v", err)
	}
	// A rule no one could meet is refused at the request, not found out in
	// an emergency.
	b, _ := os.ReadFile(e.trust)
	if err := os.WriteFile(e.trust, []byte(strings.Replace(string(b), "required: 3", "required: 4", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := as(people["Security Lead"], "override", "request", "rollback", "--reason", "errors at 9%"); code != 2 || !strings.Contains(errOut, "needs 4 people holding Security Lead, Development Lead, QA Lead, and the trust file "+e.trust+" lists 3") {
		t.Errorf("a rule that cannot be met: exit %d\n%s", code, errOut)
	}
	if err := os.WriteFile(e.trust, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := as(people["Security Lead"], "override", "request", "rollback", "--reason", "errors at 9%")
	if code != 0 || !strings.Contains(out, "needs 2 more signature(s) from Security Lead, Development Lead, QA Lead") {
		t.Fatalf("request: exit %d\n%s%s", code, out, errOut)
	}
	id := strings.Fields(out[strings.Index(out, "override approve ")+len("override approve "):])[0]
	if code, out, errOut := as(people["Development Lead"], "override", "approve", id); code != 0 || !strings.Contains(out, "needs 1 more") {
		t.Fatalf("second of three: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := e.prf(t, "override", "status", id, "--db", db, "--trust", e.trust); code != 1 || !strings.Contains(out, "not effective") {
		t.Errorf("status with two of three: exit %d\n%s", code, out)
	}
	// The request recorded its rule: a trust file loosened afterwards does
	// not make two of three enough.
	if err := os.WriteFile(e.trust, []byte(strings.Replace(string(b), "required: 3", "required: 2", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := e.prf(t, "override", "status", id, "--db", db, "--trust", e.trust); code != 1 || !strings.Contains(out, "needs 1 more") {
		t.Errorf("status with two of three after the rule was loosened: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(e.trust, b, 0o644); err != nil {
		t.Fatal(err)
	}
	list := func(args ...string) string {
		t.Helper()
		code, out, errOut := e.prf(t, append([]string{"override", "list", "--db", db, "--trust", e.trust}, args...)...)
		if code != 0 {
			t.Fatalf("override list %v: exit %d\n%s", args, code, errOut)
		}
		return out
	}
	if out := list(); !strings.Contains(out, id+"  waiting    rollback  by sec@example.com, dev@example.com, 2 of 3 signatures") || !strings.Contains(out, "reason: errors at 9%") {
		t.Errorf("list while it waits:\n%s", out)
	}
	if code, out, errOut := as(people["QA Lead"], "override", "approve", id); code != 0 || !strings.Contains(out, "EFFECTIVE: 3 people signed within 10m0s") {
		t.Fatalf("third person: exit %d\n%s%s", code, out, errOut)
	}
	if out := list(); out != "no override request is waiting for approval\n" {
		t.Errorf("list once effective:\n%s", out)
	}
	if out := list("--all"); !strings.Contains(out, id+"  EFFECTIVE  rollback") {
		t.Errorf("list --all:\n%s", out)
	}
}
