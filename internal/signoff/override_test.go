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
	// A forged approval (body changed after signing) does not count.
	ap := sign("CTO", "approve", "rollback", t0.Add(time.Minute))
	ap.Body = []byte(strings.Replace(string(ap.Body), "rollback", "rollback ", 1))
	if st := EvaluateOverride("ov1", []*Statement{req, ap}, tr, DefaultOverridePolicy); st.Effective {
		t.Error("a tampered approval counted")
	}
}
