package checklist

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/probe"
)

func TestLoadGood(t *testing.T) {
	t.Setenv("PRF_TEST_TOKEN", "s3cr3t-value")
	c, err := Load("testdata/basic.good.yaml", Options{ResolveSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "basic" || len(c.Checkpoints) != 3 || len(c.Digest) != 64 {
		t.Fatalf("got name %q, %d checkpoints, digest %q", c.Name, len(c.Checkpoints), c.Digest)
	}
	db := c.Lookup("infra.db.port")
	if db.Kind != "tcp" || db.Program == nil || db.Timeout != 5*time.Second || db.Retries != 2 || db.Mode != ModeEnforce || !db.Blocking() {
		t.Errorf("infra.db.port = %+v", db)
	}
	plan := c.Lookup("infra.db.backup-plan")
	if plan.Manual == nil || plan.Manual.Evidence != "link to the reviewed plan" || plan.Mode != ModeShadow || plan.Blocking() {
		t.Errorf("backup-plan = %+v", plan)
	}
	if rb := c.Lookup("ops.runbook"); rb.Manual == nil || rb.Severity != SeverityBlocking || rb.Timeout != DefaultTimeout {
		t.Errorf("runbook = %+v", rb)
	}
	spec, err := c.Spec(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.(interface{ Validate() error }); got == nil {
		t.Fatal("nil spec")
	}
}

// YAML anchors and merge keys share defaults between checkpoints; the
// mapping's own keys win over merged ones.
func TestMergeKeys(t *testing.T) {
	c, err := Load("testdata/merge.good.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Lookup("a"), c.Lookup("b")
	if a.Domain != "infrastructure" || a.Owner != "DevOps Lead" || a.Timeout != 5*time.Second || a.Kind != "tcp" {
		t.Errorf("a = %+v", a)
	}
	if b.Timeout != 9*time.Second || b.Domain != "infrastructure" {
		t.Errorf("b: own keys must win over merged ones: %+v", b)
	}
	for id, want := range map[string]string{"a": "127.0.0.1:1", "b": "127.0.0.1:2"} {
		spec, err := c.Spec(c.Lookup(id), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := spec.(*probe.TCPSpec).Address; got != want {
			t.Errorf("%s: address %q, want %q", id, got, want)
		}
	}
}

func TestVarsOverride(t *testing.T) {
	t.Setenv("PRF_TEST_TOKEN", "x")
	c, err := Load("testdata/basic.good.yaml", Options{Vars: map[string]string{"host": "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := c.Spec(c.Lookup("infra.db.port"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.(*probe.TCPSpec).Address; got != "localhost:5432" {
		t.Errorf("address = %q, want the overridden var", got)
	}
	_, err = Load("testdata/basic.good.yaml", Options{Vars: map[string]string{"host": "::1"}})
	if err == nil || !strings.Contains(err.Error(), "20:16: checkpoint \"infra.db.port\": probe.address: address ::1:5432: too many colons") {
		t.Fatalf("want the bad override reported at its use, got %v", err)
	}
}

func TestBadChecklists(t *testing.T) {
	tests := []struct {
		file string
		want []string // each a substring of one error line, in order
	}{
		{"unknown-field.bad.yaml", []string{
			`unknown-field.bad.yaml:8:5: checkpoint "a": severty: unknown field "severty" (did you mean "severity"?)`,
			`unknown-field.bad.yaml:11:7: checkpoint "a": probe.adress: unknown field "adress" (did you mean "address"?)`,
		}},
		{"types.bad.yaml", []string{
			`8:14: checkpoint "a": retries: expected an integer, got "many"`,
			`9:14: checkpoint "a": timeout: invalid duration "soon"`,
			`10:11: checkpoint "a": tags: expected a list, got "db"`,
			`13:16: checkpoint "a": probe.address: expected a string, got a list`,
		}},
		{"ids.bad.yaml", []string{
			`9:9: checkpoint "a": id: duplicate id (first at line 4)`,
			`11:13: checkpoint "a": domain: unknown domain "applications"`,
			`14:9: checkpoint "b c": id: invalid id`,
		}},
		{"probe.bad.yaml", []string{
			`9:13: checkpoint "a": probe.kind: unknown probe kind "tcpp" (one of `,
			`18:16: checkpoint "b": probe.address: address no-port: missing port in address`,
			`27:13: checkpoint "c": expect: undeclared reference to 'conected' (did you mean 'connected'?) (a tcp observation has: connected, error, latency, remote_addr)`,
			`34:16: checkpoint "d": probe.address: undefined variable ${vars.nope}`,
			`36:5: checkpoint "e": expect: an automated checkpoint needs an expect`,
			`50:26: checkpoint "f": expect: Syntax error`,
		}},
		{"deps.bad.yaml", []string{
			`14:17: checkpoint "b": depends_on[1]: unknown checkpoint "zzz"`,
			`dependency cycle: `,
		}},
		{"secrets.bad.yaml", []string{
			`4:3: secrets.pw: secret reference "vault:kv/pw": want env:NAME or file:PATH`,
			`4:3: secrets.token: cannot resolve: environment variable PRF_TEST_SURELY_UNSET_VAR is not set`,
			`13:16: checkpoint "a": probe.address: undeclared secret ${secrets.nope}`,
		}},
		{"syntax.bad.yaml", []string{`syntax.bad.yaml:5:1: found unexpected end of stream`}},
		{"empty.bad.yaml", []string{`empty.bad.yaml:1:1: empty checklist`}},
		{"keys.bad.yaml", []string{`keys.bad.yaml:4:5: vars: a key must be a plain value, not a list`}},
		// Merges of merges, 8^7 deep: reported once each, at once.
		{"laughs.bad.yaml", []string{
			`laughs.bad.yaml:3:10: checkpoint "a": k1: unknown field "k1"`,
			`laughs.bad.yaml:3:17: checkpoint "a": k2: unknown field "k2"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tc.file), Options{ResolveSecrets: true})
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v (%T), want Errors", err, err)
			}
			if len(errs) != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(errs), len(tc.want), err)
			}
			for i, w := range tc.want {
				if i >= len(errs) {
					break
				}
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q\nwant it to contain %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func TestSecretResolution(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pw")
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PRF_TEST_PW", "from-env")
	for ref, want := range map[string]string{"env:PRF_TEST_PW": "from-env", "file:" + f: "from-file"} {
		got, err := ResolveSecret(ref)
		if err != nil || got != want {
			t.Errorf("ResolveSecret(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	for _, ref := range []string{"env:PRF_TEST_SURELY_UNSET", "file:" + filepath.Join(dir, "missing"), "plain", "vault:x"} {
		if _, err := ResolveSecret(ref); err == nil {
			t.Errorf("ResolveSecret(%q) succeeded", ref)
		}
	}
}

func TestInterpolate(t *testing.T) {
	lookup := func(ref string) (string, error) {
		if ref == "vars.a" {
			return "A", nil
		}
		return "", errors.New("undefined " + ref)
	}
	tests := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"x${vars.a}y${ vars.a }", "xAyA", ""},
		{"$${vars.a}", "${vars.a}", ""},
		{"${vars.b}", "", "undefined vars.b"},
		{"${vars.a", "", "unterminated"},
	}
	for _, tc := range tests {
		got, err := interpolate(tc.in, lookup)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("interpolate(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("interpolate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"basic.good.yaml", "probe.bad.yaml", "types.bad.yaml", "deps.bad.yaml", "merge.good.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml", Options{})
		if err == nil && c == nil {
			t.Fatal("nil checklist without error")
		}
		if err != nil {
			var errs Errors
			if errors.As(err, &errs) && len(errs) == 0 {
				t.Fatal("empty Errors")
			}
			_ = err.Error()
		}
	})
}

func TestSchemaMatchesLoader(t *testing.T) {
	b, err := Schema(nil)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs struct {
			Checkpoint struct {
				Properties map[string]struct {
					OneOf []struct {
						Title      string         `json:"title"`
						Properties map[string]any `json:"properties"`
					} `json:"oneOf"`
				} `json:"properties"`
			} `json:"checkpoint"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	props := s.Defs.Checkpoint.Properties
	for _, k := range []string{"id", "title", "domain", "severity", "mode", "depends_on", "timeout", "retries", "probe", "expect", "manual", "controls"} {
		if _, ok := props[k]; !ok {
			t.Errorf("checkpoint property %q missing", k)
		}
	}
	if _, ok := props["Pos"]; ok {
		t.Error("internal field in schema")
	}
	kinds := map[string]map[string]any{}
	for _, k := range props["probe"].OneOf {
		kinds[k.Title] = k.Properties
	}
	for _, name := range probe.Default().Names() {
		if kinds[name] == nil {
			t.Errorf("probe kind %s missing from schema", name)
		}
	}
	// Inline TLS options appear as the loader accepts them.
	if _, ok := kinds["http"]["ca_file"]; !ok {
		t.Errorf("http: ca_file missing: %v", kinds["http"])
	}
	if _, ok := kinds["tcp"]["address"]; !ok {
		t.Errorf("tcp: address missing")
	}
}
