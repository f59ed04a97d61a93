package signoff

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/store"
)

// roleTeam makes a key for each role and a trust file holding them all.
func roleTeam(t *testing.T, roles ...string) (*Trust, map[string]*Key) {
	t.Helper()
	keys := map[string]*Key{}
	doc := []byte("people:\n")
	for i, r := range roles {
		k, err := GenerateKey("P"+string(rune('a'+i)), string(rune('a'+i))+"@example.com", []string{r})
		if err != nil {
			t.Fatal(err)
		}
		keys[r] = k
		b, err := FormatPerson(k.Person())
		if err != nil {
			t.Fatal(err)
		}
		doc = append(doc, b...)
	}
	tr, err := ParseTrust("trust.yaml", doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return tr, keys
}

func allRoles() []string {
	var rs []string
	for _, a := range DefaultMatrix {
		rs = append(rs, a.Role)
	}
	return append(rs, Authorizer)
}

func results(statuses ...store.Status) []store.Result {
	domains := []string{"infrastructure", "security", "performance", "compliance", "rollback", "post-deployment", "approval"}
	var rs []store.Result
	for i, st := range statuses {
		rs = append(rs, store.Result{ID: "cp" + string(rune('a'+i)), Domain: domains[i%len(domains)], Severity: "blocking", Mode: "enforce", Status: st})
	}
	return rs
}

func signAll(t *testing.T, keys map[string]*Key, runID string, rs []store.Result, artifact string, now time.Time) []store.Signoff {
	t.Helper()
	var out []store.Signoff
	for _, a := range DefaultMatrix {
		st, err := SignStatement(keys[a.Role], KindSignoff, a.Role, SignoffBody{Run: runID, ResultsSHA256: ResultsDigest(rs), Artifact: artifact}, now)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(st)
		out = append(out, store.Signoff{RunID: runID, Role: a.Role, Signer: keys[a.Role].Email, ResultsDigest: ResultsDigest(rs), At: now, Statement: raw})
	}
	return out
}

func TestResultsDigestChangesWithResults(t *testing.T) {
	a := results(store.StatusPass, store.StatusPending)
	b := results(store.StatusPass, store.StatusPass)
	if ResultsDigest(a) == ResultsDigest(b) {
		t.Error("an attestation did not change the digest")
	}
	rev := []store.Result{a[1], a[0]}
	if ResultsDigest(a) != ResultsDigest(rev) {
		t.Error("the digest depends on the order results were stored in")
	}
	c := results(store.StatusPass, store.StatusPending)
	c[0].Message = "other"
	if ResultsDigest(a) == ResultsDigest(c) {
		t.Error("a changed message did not change the digest")
	}
}

func TestEvaluateAndAuthorize(t *testing.T) {
	const runID = "20261126-100000-abcdef"
	tr, keys := roleTeam(t, allRoles()...)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	rs := results(store.StatusPass, store.StatusPass, store.StatusPass, store.StatusPass, store.StatusPass, store.StatusPass, store.StatusPending)
	// The pending approval checkpoint (domain approval) does not block.
	if bl := Blocking(rs); len(bl) != 0 {
		t.Fatalf("blocking %v", bl)
	}
	st := Evaluate(runID, rs, nil, DefaultMatrix, tr)
	if st.Ready || len(st.Missing) != len(DefaultMatrix) {
		t.Fatalf("no sign-offs: ready %v missing %v", st.Ready, st.Missing)
	}
	sos := signAll(t, keys, runID, rs, "sha256:abc", now)
	st = Evaluate(runID, rs, sos, DefaultMatrix, tr)
	if !st.Ready {
		t.Fatalf("all signed: missing %v", st.Missing)
	}
	// A change of the results makes every sign-off stale.
	rs2 := append([]store.Result(nil), rs...)
	rs2[6].Status = store.StatusPass // an approval checkpoint: not part of the digest
	if ResultsDigest(rs2) != ResultsDigest(rs) {
		t.Error("attesting an approval checkpoint changed the results digest")
	}
	rs2[5].Message = "re-run"
	st2 := Evaluate(runID, rs2, sos, DefaultMatrix, tr)
	if st2.Ready || !st2.Roles[0].Stale || !strings.Contains(strings.Join(st2.Missing, "\n"), "stale") {
		t.Errorf("after a change: ready %v roles %+v", st2.Ready, st2.Roles[0])
	}
	// A sign-off whose statement does not verify does not count.
	forged := append([]store.Signoff(nil), sos...)
	forged[1].Statement = []byte(strings.Replace(string(forged[1].Statement), "sha256:abc", "sha256:evil", 1))
	if st3 := Evaluate(runID, rs, forged, DefaultMatrix, tr); st3.Ready {
		t.Error("a tampered sign-off counted")
	}
	// A blocking failure outside the approvals is missing too.
	rs4 := append([]store.Result(nil), rs...)
	rs4[1].Status = store.StatusFail
	if st4 := Evaluate(runID, rs4, sos, DefaultMatrix, tr); st4.Ready || st4.Blocking[0] != "cpb" {
		t.Errorf("blocking failure: %+v", st4)
	}

	run := &store.Run{ID: runID, Checklist: "prod", ChecklistDigest: "d1"}
	form := NewForm(run, rs, st, "sha256:abc", now)
	if form.DeploymentID != "PROD-2026-11-26-abcdef" || len(form.Signoffs) != len(DefaultMatrix) {
		t.Errorf("form %+v", form)
	}
	for _, b := range form.Validation {
		if !b.Checked {
			t.Errorf("box %q unchecked: %s", b.Label, b.Detail)
		}
	}
	stmt, err := SignStatement(keys[Authorizer], KindAuthorization, Authorizer, AuthorizationBody{DeploymentID: form.DeploymentID, Run: run.ID, FormSHA256: form.FormSHA256()}, now)
	if err != nil {
		t.Fatal(err)
	}
	auth := &Authorization{Form: *form, Authorization: stmt}
	b, _ := json.Marshal(auth)
	var back Authorization
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if errs := VerifyAuthorization(&back, tr); len(errs) != 0 {
		t.Fatalf("valid form: %v", errs)
	}
	md := back.Markdown()
	for _, want := range []string{"Deployment ID: PROD-2026-11-26-abcdef", "- [x] All infrastructure checks passed", "| Security Lead |", "Authorized by"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	for name, mutate := range map[string]func(a *Authorization){
		"artifact changed":        func(a *Authorization) { a.Artifact = "sha256:other" },
		"box ticked by hand":      func(a *Authorization) { a.Rollback[0].Checked = !a.Rollback[0].Checked },
		"sign-off dropped":        func(a *Authorization) { a.Signoffs = a.Signoffs[1:] },
		"signature swapped":       func(a *Authorization) { a.Signoffs[0].Signature = a.Signoffs[1].Signature },
		"authorizer not CTO":      func(a *Authorization) { a.Authorization.Role = "SRE Lead" },
		"no authorization":        func(a *Authorization) { a.Authorization = nil },
		"sign-off of another run": func(a *Authorization) { a.Run = "other" },
	} {
		var c Authorization
		json.Unmarshal(b, &c)
		mutate(&c)
		if errs := VerifyAuthorization(&c, tr); len(errs) == 0 {
			t.Errorf("%s: verified", name)
		}
	}
}
