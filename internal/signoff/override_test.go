package signoff

import (
	"strings"
	"testing"
	"time"
)

func TestTwoPersonRule(t *testing.T) {
	tr, keys := roleTeam(t, "SRE Lead", "DevOps Lead", "CTO", "Product Owner")
	t0 := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	sign := func(role, step, action string, at time.Time) *Statement {
		s, err := SignStatement(keys[role], KindOverride, role, OverrideBody{ID: "ov1", Step: step, Action: action, Reason: "p99 at 4 s", Run: "r1"}, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	req := sign("SRE Lead", "request", "rollback", t0)
	for _, tc := range []struct {
		name      string
		stmts     []*Statement
		effective bool
		problem   string
	}{
		{"one person", []*Statement{req}, false, ""},
		{"two people in the window", []*Statement{req, sign("DevOps Lead", "approve", "rollback", t0.Add(5*time.Minute))}, true, ""},
		{"the same person twice", []*Statement{req, sign("SRE Lead", "approve", "rollback", t0.Add(time.Minute))}, false, "needs another person"},
		{"too late", []*Statement{req, sign("CTO", "approve", "rollback", t0.Add(31*time.Minute))}, false, "outside the window"},
		{"a role the policy does not name", []*Statement{req, sign("Product Owner", "approve", "rollback", t0.Add(time.Minute))}, false, "not one of"},
		{"another action", []*Statement{req, sign("CTO", "approve", "deploy", t0.Add(time.Minute))}, false, "not the requested"},
		{"approval before request", []*Statement{sign("CTO", "approve", "rollback", t0)}, false, "before any request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := EvaluateOverride("ov1", tc.stmts, tr, DefaultOverridePolicy)
			if st.Effective != tc.effective {
				t.Errorf("effective %v, want %v (signers %v, problems %v)", st.Effective, tc.effective, st.Signers, st.Problems)
			}
			if tc.problem != "" && !strings.Contains(strings.Join(st.Problems, "\n"), tc.problem) {
				t.Errorf("problems %v, want %q", st.Problems, tc.problem)
			}
		})
	}
	// The rule recorded in the request holds against a later, looser trust
	// file: a longer window or fewer people do not revive it.
	recorded := OverridePolicy{Roles: []string{"SRE Lead", "DevOps Lead", "CTO"}, Required: 3, Window: 30 * time.Minute}
	strictReq, err := SignStatement(keys["SRE Lead"], KindOverride, "SRE Lead", OverrideBody{ID: "ov2", Step: "request", Action: "rollback", Run: "r1", Policy: &recorded}, t0)
	if err != nil {
		t.Fatal(err)
	}
	approve := func(role string, at time.Time) *Statement {
		s, err := SignStatement(keys[role], KindOverride, role, OverrideBody{ID: "ov2", Step: "approve", Action: "rollback", Run: "r1"}, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	looser := OverridePolicy{Roles: []string{"SRE Lead", "DevOps Lead", "CTO", "Product Owner"}, Required: 2, Window: 2 * time.Hour}
	st := EvaluateOverride("ov2", []*Statement{strictReq, approve("DevOps Lead", t0.Add(time.Minute))}, tr, looser)
	if st.Effective || st.Policy.Required != 3 || st.Policy.Window != 30*time.Minute || len(st.Policy.Roles) != 3 {
		t.Errorf("two of a recorded three under a looser trust file: effective %v, policy %+v", st.Effective, st.Policy)
	}
	st = EvaluateOverride("ov2", []*Statement{strictReq, approve("DevOps Lead", t0.Add(time.Minute)), approve("CTO", t0.Add(45*time.Minute))}, tr, looser)
	if st.Effective || !strings.Contains(strings.Join(st.Problems, "\n"), "outside the window") {
		t.Errorf("an approval past the recorded window: effective %v, problems %v", st.Effective, st.Problems)
	}
	st = EvaluateOverride("ov2", []*Statement{strictReq, approve("DevOps Lead", t0.Add(time.Minute)), approve("Product Owner", t0.Add(2*time.Minute))}, tr, looser)
	if st.Effective || !strings.Contains(strings.Join(st.Problems, "\n"), "not one of") {
		t.Errorf("a role only the later trust file names: effective %v, problems %v", st.Effective, st.Problems)
	}
	st = EvaluateOverride("ov2", []*Statement{strictReq, approve("DevOps Lead", t0.Add(time.Minute)), approve("CTO", t0.Add(2*time.Minute))}, tr, looser)
	if !st.Effective {
		t.Errorf("three people in the recorded window: problems %v", st.Problems)
	}

	// A forged approval (body changed after signing) does not count.
	ap := sign("CTO", "approve", "rollback", t0.Add(time.Minute))
	ap.Body = []byte(strings.Replace(string(ap.Body), "rollback", "rollback ", 1))
	if st := EvaluateOverride("ov1", []*Statement{req, ap}, tr, DefaultOverridePolicy); st.Effective {
		t.Error("a tampered approval counted")
	}
}
