package checklist

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApprovals(t *testing.T) {
	dir := t.TempDir()
	base := "version: 1\nname: a\napprovals:\nAPPROVALS\ncheckpoints:\n  - {id: a, title: a, domain: approval, owner: CTO, manual: {evidence: x}}\n"
	for _, tc := range []struct{ approvals, want string }{
		{"  - {role: SRE Lead}\n  - {role: Product Owner, responsibility: accepted}", ""},
		{"  - {role: CTO}", "4:12: approvals[0].role: the CTO authorizes"},
		{"  - {role: SRE Lead}\n  - {role: sre  lead}", `5:12: approvals[1].role: duplicate role "sre  lead"`},
		{"  - {responsibility: x}", "4:5: approvals[0].role: is required"},
		{"  - {rol: x}", `4:6: approvals[0].rol: unknown field "rol" (did you mean "role"?)`},
	} {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(strings.Replace(base, "APPROVALS", tc.approvals, 1)), 0o644)
		cl, err := Load(p, Options{})
		if tc.want == "" {
			if err != nil || len(cl.Approvals) != 2 || cl.Approvals[1].Responsibility != "accepted" {
				t.Errorf("%s: %v %+v", tc.approvals, err, cl)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %s", tc.approvals, err, tc.want)
		}
	}
}
