package checklist

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// base is an included checklist: variables left empty are not configured.
const base = `version: 1
name: base
vars:
  # Base URL of the API.
  api_url: ""
  health_path: /health
  p95_ms: "200"
  # CA bundle, optional.
  ca_file: ""
secrets:
  # Password of the test user.
  password: ""
checkpoints:
  - id: gw.health
    title: Health endpoint
    domain: application
    owner: DevOps Lead
    tags: [gateway]
    probe: {kind: http, url: "${vars.api_url}${vars.health_path}", ca_file: "${vars.ca_file:-}"}
    expect: status == 200 && latency < duration("${vars.p95_ms}ms")
  - id: gw.login
    title: Login works
    domain: application
    owner: DevOps Lead
    tags: [gateway, auth]
    probe:
      kind: http
      url: ${vars.api_url}/login
      method: POST
      body: '{"password": "${secrets.password}"}'
    expect: status == 200
  - id: gw.data
    title: Data with the token
    domain: application
    owner: DevOps Lead
    depends_on: [gw.login]
    probe: {kind: tcp, address: 127.0.0.1:1}
    expect: connected
  - id: sec.vpn
    title: VPN audited
    domain: security
    owner: Security Lead
    tags: [network]
    manual: {evidence: VPN audit report}
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestIncludeNotConfigured(t *testing.T) {
	dir := writeFiles(t, map[string]string{"base.yaml": base, "prf.yaml": "version: 1\nname: team\ninclude: [base.yaml]\n"})
	c, err := Load(filepath.Join(dir, "prf.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "team" || len(c.Checkpoints) != 4 {
		t.Fatalf("name %q, %d checkpoints", c.Name, len(c.Checkpoints))
	}
	if got := c.Lookup("gw.health").NotConfigured; !slices.Equal(got, []string{"api_url"}) {
		t.Errorf("gw.health not configured = %v, want [api_url] (ca_file has a default)", got)
	}
	if got := c.Lookup("gw.login").NotConfigured; !slices.Equal(got, []string{"api_url", "secrets.password"}) {
		t.Errorf("gw.login not configured = %v", got)
	}
	if got := c.Lookup("gw.data").NotConfigured; got != nil {
		t.Errorf("gw.data reads no variable but is not configured: %v", got)
	}
	if c.Doc("vars.api_url") != "Base URL of the API." || c.Doc("secrets.password") != "Password of the test user." {
		t.Errorf("var docs = %v", c.Decls)
	}
	if c.Lookup("gw.health").File != filepath.Join(dir, "base.yaml") {
		t.Errorf("checkpoint file = %q", c.Lookup("gw.health").File)
	}

	// Configured by the including file and by options: the expect reads
	// the overridden threshold.
	t.Setenv("PRF_TEST_PW", "pw-value")
	dir2 := writeFiles(t, map[string]string{"base.yaml": base, "prf.yaml": `version: 1
name: team
include: [base.yaml]
vars: {api_url: "https://api.example.test", p95_ms: "150"}
`})
	c2, err := Load(filepath.Join(dir2, "prf.yaml"), Options{Secrets: map[string]string{"password": "env:PRF_TEST_PW"}, ResolveSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"gw.health", "gw.login"} {
		if cp := c2.Lookup(id); cp.NotConfigured != nil || cp.Program == nil {
			t.Errorf("%s: not configured %v, program %v", id, cp.NotConfigured, cp.Program)
		}
	}
	if !strings.Contains(c2.Lookup("gw.health").Program.Source(), `duration("150ms")`) {
		t.Errorf("expect = %q, want the team's threshold", c2.Lookup("gw.health").Program.Source())
	}
	if c2.Digest == c.Digest || len(c2.Digest) != 64 {
		t.Errorf("digest must cover the including file: %s vs %s", c2.Digest, c.Digest)
	}
}

func TestDisableAndOverride(t *testing.T) {
	dir := writeFiles(t, map[string]string{"base.yaml": base, "prf.yaml": `version: 1
name: team
include: [base.yaml]
vars: {api_url: "https://api.example.test"}
disable:
  - id: sec.vpn
    reason: no VPN; access is through the SSO bastion
  - tag: auth
    reason: login is tested by the identity team's checklist
override:
  - id: gw.health
    severity: warning
    timeout: 45s
    retries: 2
    expect: status == 204
checkpoints:
  - id: team.own
    title: Our own check
    domain: application
    owner: DevOps Lead
    probe: {kind: tcp, address: 127.0.0.1:2}
    expect: connected
`})
	c, err := Load(filepath.Join(dir, "prf.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Lookup("sec.vpn").Disabled; got != "no VPN; access is through the SSO bastion" {
		t.Errorf("sec.vpn disabled = %q", got)
	}
	if got := c.Lookup("gw.login").Disabled; got == "" {
		t.Error("gw.login (tag auth) not disabled")
	}
	if c.Lookup("gw.data").Disabled != "" {
		t.Error("gw.data disabled, but it has no disabled tag")
	}
	h := c.Lookup("gw.health")
	if h.Severity != SeverityWarning || h.Timeout != 45*time.Second || h.Retries != 2 || h.Program.Source() != "status == 204" {
		t.Errorf("override not applied: %+v", h)
	}
	if c.Checkpoints[len(c.Checkpoints)-1].ID != "team.own" {
		t.Error("own checkpoints come after included ones")
	}
}

func TestIncludeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, prf string
		extra     map[string]string
		want      []string
	}{
		{"missing file", "version: 1\nname: t\ninclude: [nope.yaml]\n", nil,
			[]string{"prf.yaml:3:10: include[0]: include nope.yaml: stat ", "no such file or directory"}},
		{"device", "version: 1\nname: t\ninclude: [/dev/zero]\n", nil,
			[]string{"include[0]: include /dev/zero: not a regular file"}},
		{"unknown builtin", "version: 1\nname: t\ninclude: [catalogue]\n", nil,
			[]string{`include[0]: no file`, `and no built-in "catalogue"`}},
		{"cycle", "version: 1\nname: t\ninclude: [a.yaml]\n", map[string]string{"a.yaml": "version: 1\nname: a\ninclude: [prf.yaml]\ncheckpoints: []\n"},
			[]string{"include cycle"}},
		{"error in included file names it", "version: 1\nname: t\ninclude: [a.yaml]\n", map[string]string{"a.yaml": `version: 1
name: a
checkpoints:
  - id: x
    title: X
    domain: nowhere
    owner: O
    manual: true
`}, []string{"a.yaml:6:13: checkpoint \"x\": domain: unknown domain \"nowhere\""}},
		{"duplicate id across files", "version: 1\nname: t\ninclude: [base.yaml]\nvars: {api_url: 'https://x'}\ncheckpoints:\n  - {id: sec.vpn, title: V, domain: security, owner: O, manual: true}\n", nil,
			[]string{"prf.yaml:6:10: checkpoint \"sec.vpn\": id: duplicate id (first at", "base.yaml:39; change an included checkpoint with override:)"}},
		{"disable without reason", "version: 1\nname: t\ninclude: [base.yaml]\ndisable:\n  - id: sec.vpn\n", nil,
			[]string{"prf.yaml:5:5: disable[0]: a reason is required"}},
		{"disable unknown id", "version: 1\nname: t\ninclude: [base.yaml]\ndisable:\n  - {id: sec.vppn, reason: r}\n", nil,
			[]string{`disable[0].id: unknown checkpoint "sec.vppn" (did you mean "sec.vpn"?)`}},
		{"disable unknown tag", "version: 1\nname: t\ninclude: [base.yaml]\ndisable:\n  - {tag: nope, reason: r}\n", nil,
			[]string{`disable[0].tag: no checkpoint has the tag "nope"`}},
		{"disable id and tag", "version: 1\nname: t\ninclude: [base.yaml]\ndisable:\n  - {id: sec.vpn, tag: network, reason: r}\n", nil,
			[]string{`disable[0]: give either id or tag`}},
		{"override bad severity", "version: 1\nname: t\ninclude: [base.yaml]\noverride:\n  - {id: sec.vpn, severity: critical}\n", nil,
			[]string{`prf.yaml:5:29: checkpoint "sec.vpn": override[0].severity: unknown severity "critical"`}},
		{"override bad expect names its file", "version: 1\nname: t\ninclude: [base.yaml]\nvars: {api_url: 'https://x'}\noverride:\n  - id: gw.data\n    expect: connectd\n", nil,
			[]string{`prf.yaml:7:13: checkpoint "gw.data": expect: undeclared reference to 'connectd'`}},
		{"undeclared variable even with a default", "version: 1\nname: t\ncheckpoints:\n  - {id: a, title: A, domain: security, owner: O, probe: {kind: tcp, address: '${vars.nope:-127.0.0.1:1}'}, expect: connected}\n", nil,
			[]string{`undefined variable ${vars.nope}`}},
		{"conflicting declarations", "version: 1\nname: t\ninclude: [a.yaml, b.yaml]\ncheckpoints:\n  - {id: a, title: A, domain: security, owner: O, manual: true}\n",
			map[string]string{"a.yaml": "version: 1\nname: a\nvars: {x: \"1\"}\n", "b.yaml": "version: 1\nname: b\nvars: {x: \"2\"}\n"},
			[]string{`b.yaml:3:7: vars.x: declared as "2" here and as "1" in`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"base.yaml": base, "prf.yaml": tc.prf}
			for k, v := range tc.extra {
				files[k] = v
			}
			dir := writeFiles(t, files)
			_, err := Load(filepath.Join(dir, "prf.yaml"), Options{})
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}
