package signoff

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/yamlx"
)

const (
	alicePub = "ed25519:1b9KP8znF7A4i8wnSevBSK2ZabI/Re4bYF/Vh3hXasQ="
	bobPub   = "ed25519:7MG1hyfz8SsxlIgansud4LKM57IHIw2Okw/hvOdeJWw="
	carolPub = "ed25519:JrHHKEm5PKU2ZMqCQGQ8UUxHHKCkpCTiTPLMyAo5kz4="
)

func TestLoadTrustGood(t *testing.T) {
	path := filepath.Join("testdata", "trust.good.yaml")
	tr, err := LoadTrust(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	sum := sha256.Sum256(data)
	if tr.File != path || tr.Digest != hex.EncodeToString(sum[:]) {
		t.Errorf("File, Digest = %q, %q; want %q and the file's SHA-256", tr.File, tr.Digest, path)
	}
	if len(tr.People) != 2 {
		t.Fatalf("got %d people, want 2", len(tr.People))
	}
	a := tr.People[0]
	if a.Name != "Alice Example" || a.Email != "alice@example.com" || strings.Join(a.Roles, "|") != "Security Lead|CTO" || a.PublicKey != alicePub {
		t.Errorf("people[0] = %+v", *a)
	}
	if p := a.Pos.At("email"); p.Line != 5 || p.Col != 12 {
		t.Errorf("people[0] email position = %d:%d, want 5:12", p.Line, p.Col)
	}
	if !reflect.DeepEqual(tr.Override, DefaultOverridePolicy) {
		t.Errorf("override without an override: mapping = %+v, want the default %+v", tr.Override, DefaultOverridePolicy)
	}
	// The override: mapping sets the two-person rule; what it leaves out
	// keeps the default.
	for _, tc := range []struct {
		yaml string
		want OverridePolicy
	}{
		{"override: {roles: [SRE Lead, Incident Commander], required: 3, window: 15m}\n",
			OverridePolicy{Roles: []string{"SRE Lead", "Incident Commander"}, Required: 3, Window: 15 * time.Minute}},
		{"override:\n  window: 2h\n",
			OverridePolicy{Roles: DefaultOverridePolicy.Roles, Required: 2, Window: 2 * time.Hour}},
	} {
		tr, err := ParseTrust("t.yaml", append(data, tc.yaml...))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if !reflect.DeepEqual(tr.Override, tc.want) {
			t.Errorf("%q: override = %+v, want %+v", tc.yaml, tr.Override, tc.want)
		}
	}

	tests := []struct {
		name        string
		email, role string
		want        bool
	}{
		{"exact", "alice@example.com", "Security Lead", true},
		{"case and spaces", "ALICE@example.com", "  security   LEAD ", true},
		{"second role", "alice@example.com", "cto", true},
		{"role written with odd spacing", "bob@example.com", "DevOps Lead", true},
		{"not held", "bob@example.com", "CTO", false},
		{"empty role", "alice@example.com", "", false},
		{"unknown person", "carol@example.com", "CTO", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tr.HasRole(tc.email, tc.role); got != tc.want {
				t.Errorf("HasRole(%q, %q) = %v, want %v", tc.email, tc.role, got, tc.want)
			}
		})
	}
	if got := tr.WithRole("devops lead"); len(got) != 1 || got[0].Email != "Bob@Example.com" {
		t.Errorf("WithRole(devops lead) = %v", got)
	}
	if got := tr.WithRole("SRE Lead"); len(got) != 0 {
		t.Errorf("WithRole(SRE Lead) = %v, want none", got)
	}
	pub, ok := tr.PublicKey("bob@example.com")
	if !ok || FormatPublicKey(pub) != bobPub {
		t.Errorf("PublicKey(bob) = %v, %v", pub, ok)
	}
	if _, ok := tr.PublicKey("carol@example.com"); ok {
		t.Error("PublicKey(carol) found a key for someone not in the file")
	}
	var nilTrust *Trust
	if _, ok := nilTrust.Person("a@b"); ok || nilTrust.HasRole("a@b", "CTO") || nilTrust.WithRole("CTO") != nil {
		t.Error("a nil *Trust must know nobody")
	}
}

func TestLoadTrustBad(t *testing.T) {
	tests := []struct {
		file string
		want []string // every error, in order, exactly
	}{
		{"unknown-key.bad.yaml", []string{
			`4:5: people[0].role: unknown field "role" (did you mean "roles"?)`,
			`7:1: peeple: unknown field "peeple" (did you mean "people"?)`,
		}},
		{"duplicate-email.bad.yaml", []string{
			`7:12: people[1].email: ALICE@example.com is already listed at line 3 (an email names one key)`,
		}},
		{"duplicate-key.bad.yaml", []string{
			`9:17: people[1].public_key: the same key as alice@example.com at line 5 (one key signs for one person)`,
		}},
		{"key-encoding.bad.yaml", []string{
			`5:17: people[0].public_key: key is not valid base64 (illegal base64 data at input byte 3)`,
			`9:17: people[1].public_key: unknown key type "rsa" (want ed25519:<base64 of 32 bytes>)`,
			`13:17: people[2].public_key: want ed25519:<base64 of 32 bytes>`,
		}},
		{"key-length.bad.yaml", []string{
			`5:17: people[0].public_key: key is 31 bytes long, an Ed25519 public key is 32`,
		}},
		{"roles.bad.yaml", []string{
			`4:12: people[0].roles: empty: a person holds at least one role`,
			`6:5: people[1].roles: missing: the roles the person holds (e.g. [Security Lead])`,
			`11:18: people[2].roles[1]: empty role`,
			`11:33: people[2].roles[3]: role "sre  lead" listed twice`,
		}},
		{"missing.bad.yaml", []string{
			`2:5: people[0].name: missing: the person's name`,
			`2:5: people[0].email: missing: the person's email, which names their key`,
			`2:5: people[0].public_key: missing: the person's public key (ed25519:<base64>), printed by prf identity new`,
			`3:11: people[1].name: empty`,
			`4:12: people[1].email: "not-an-email" is not an email address (want name@domain)`,
		}},
		{"shape.bad.yaml", []string{`2:9: people: expected a list, got a mapping`}},
		{"items.bad.yaml", []string{
			`2:4: people[0]: expected a mapping (name, email, roles, public_key), got ""`,
			`3:5: people[1]: expected a mapping (name, email, roles, public_key), got "~"`,
			`4:5: people[2]: expected a mapping (name, email, roles, public_key), got ""`,
			`5:5: people[3]: expected a mapping, got a list`,
		}},
		{"documents.bad.yaml", []string{`2:1: more than one YAML document: a trust file is one document`}},
		{"no-people.bad.yaml", []string{`2:1: people: missing: a trust file lists its people under people:`}},
		{"override.bad.yaml", []string{
			`14:21: override.roles[1]: empty role`,
			`14:25: override.roles[2]: role "sre lead" listed twice`,
			`15:13: override.required: 1: an override needs at least 2 people (the two-person rule)`,
			`16:11: override.window: 48h0m0s: want more than 0 and at most 24h0m0s`,
			`17:3: override.quorum: unknown field "quorum"`,
		}},
		{"override-shape.bad.yaml", []string{`13:11: override: expected a mapping, got a list`}},
		{"override-empty.bad.yaml", []string{
			`14:10: override.roles: empty: name the roles that may request and approve an override`,
			`15:11: override.window: 0s: want more than 0 and at most 24h0m0s`,
		}},
		{"empty.bad.yaml", []string{`1:1: empty document`}},
		{"syntax.bad.yaml", []string{`1:1: did not find expected ',' or ']'`}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			tr, err := LoadTrust(path)
			if tr != nil {
				t.Errorf("got a trust file back with the error")
			}
			var errs yamlx.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v (%T), want yamlx.Errors", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, strings.TrimPrefix(e.Error(), path+":"))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	if _, err := LoadTrust(filepath.Join(t.TempDir(), "none.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want one matching os.ErrNotExist", err)
	}
}

func person(name, email, pub string, roles ...string) Person {
	return Person{Name: name, Email: email, Roles: roles, PublicKey: pub}
}

func TestAppendPerson(t *testing.T) {
	carol := person("Carol O'Neil: SRE", "carol@example.com", carolPub, "SRE Lead", "Compliance Officer")
	tests := []struct {
		name   string
		before string // "" for no file
		// want is the file after, where ENTRY stands for carol's entry as
		// the file's layout indents it.
		want string
	}{
		{
			name: "new file",
			want: trustHeader + "people:\n  ENTRY",
		},
		{
			name:   "after the last person, comments kept",
			before: "# our team\npeople:\n  # alice\n  - name: Alice\n    email: alice@example.com\n    roles: [CTO]   # acting\n    public_key: " + alicePub + "\n# end of list\n",
			want:   "# our team\npeople:\n  # alice\n  - name: Alice\n    email: alice@example.com\n    roles: [CTO]   # acting\n    public_key: " + alicePub + "\n# end of list\n  ENTRY",
		},
		{
			name:   "no newline at the end",
			before: "people:\n  - name: Alice\n    email: alice@example.com\n    roles: [CTO]\n    public_key: " + alicePub,
			want:   "people:\n  - name: Alice\n    email: alice@example.com\n    roles: [CTO]\n    public_key: " + alicePub + "\n  ENTRY",
		},
		{
			name:   "list at the key's indentation",
			before: "people:\n- name: Alice\n  email: alice@example.com\n  roles: [CTO]\n  public_key: " + alicePub + "\n",
			want:   "people:\n- name: Alice\n  email: alice@example.com\n  roles: [CTO]\n  public_key: " + alicePub + "\nENTRY",
		},
		{
			name:   "wide indentation",
			before: "people:\n    -   name: Alice\n        email: alice@example.com\n        roles: [CTO]\n        public_key: " + alicePub + "\n",
			want:   "people:\n    -   name: Alice\n        email: alice@example.com\n        roles: [CTO]\n        public_key: " + alicePub + "\n    WIDE",
		},
		{
			name:   "empty flow list",
			before: "# nobody yet\npeople: [] # add people below\n",
			want:   "# nobody yet\npeople:  # add people below\n  ENTRY",
		},
		{
			name:   "null list",
			before: "people:\n",
			want:   "people:\n  ENTRY",
		},
		{
			name:   "a key after the list",
			before: "people:\n  - name: Alice\n    email: alice@example.com\n    roles: [CTO]\n    public_key: " + alicePub + "\n\n# anchors\nx-roles: &r [CTO]\n",
			want:   "people:\n  - name: Alice\n    email: alice@example.com\n    roles: [CTO]\n    public_key: " + alicePub + "\n  ENTRY\n# anchors\nx-roles: &r [CTO]\n",
		},
		{
			name:   "CRLF line ends",
			before: "people:\r\n  - name: Alice\r\n    email: alice@example.com\r\n    roles: [CTO]\r\n    public_key: " + alicePub + "\r\n",
			want:   "people:\r\n  - name: Alice\r\n    email: alice@example.com\r\n    roles: [CTO]\r\n    public_key: " + alicePub + "\r\n  CRLF",
		},
	}
	entry := "- name: 'Carol O''Neil: SRE'\n    email: carol@example.com\n    roles: [SRE Lead, Compliance Officer]\n    public_key: " + carolPub + "\n"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".prf", "trust.yaml")
			if tc.before != "" {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(tc.before), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			if err := AppendPerson(path, carol); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			want := strings.Replace(tc.want, "ENTRY", entry, 1)
			want = strings.Replace(want, "WIDE", "-   name: 'Carol O''Neil: SRE'\n        email: carol@example.com\n        roles: [SRE Lead, Compliance Officer]\n        public_key: "+carolPub+"\n", 1)
			want = strings.Replace(want, "CRLF", strings.ReplaceAll(entry, "\n", "\r\n"), 1)
			if tc.name == "list at the key's indentation" {
				want = strings.Replace(want, "\n    ", "\n  ", -1)
			}
			if string(got) != want {
				t.Errorf("file after:\n%s\nwant:\n%s", got, want)
			}
			tr, err := LoadTrust(path)
			if err != nil {
				t.Fatal(err)
			}
			if !tr.HasRole("carol@example.com", "compliance officer") {
				t.Error("carol does not hold her role after the append")
			}
			st, _ := os.Stat(path)
			if wantMode := map[bool]os.FileMode{true: 0o644, false: 0o640}[tc.before == ""]; st.Mode().Perm() != wantMode&^umask() {
				t.Errorf("mode %04o, want %04o", st.Mode().Perm(), wantMode&^umask())
			}
			// Appending the same person again is refused, file untouched.
			err = AppendPerson(path, carol)
			if !errors.Is(err, ErrDuplicate) {
				t.Errorf("second append: err = %v, want ErrDuplicate", err)
			}
			again, _ := os.ReadFile(path)
			if !bytes.Equal(again, got) {
				t.Error("a refused append changed the file")
			}
		})
	}
}

func TestAppendPersonRefuses(t *testing.T) {
	good := "people:\n  - name: Alice\n    email: alice@example.com\n    roles: [CTO]\n    public_key: " + alicePub + "\n"
	tests := []struct {
		name   string
		before string
		p      Person
		want   string
		is     error
	}{
		{"same email, other case", good, person("Alice Two", "ALICE@example.com", bobPub, "CTO"), "alice@example.com is listed at line 3", ErrDuplicate},
		{"same key, other email", good, person("Mallory", "mallory@example.com", alicePub, "CTO"), "this public key is alice@example.com's (line 5)", ErrDuplicate},
		{"a file that does not load", "people:\n  - name: Alice\n    email: alice@example.com\n", person("Bob", "bob@example.com", bobPub, "CTO"), "cannot add bob@example.com until", nil},
		{"a flow list with people", "people: [{name: Alice, email: alice@example.com, roles: [CTO], public_key: '" + alicePub + "'}]\n", person("Bob", "bob@example.com", bobPub, "CTO"), "add this entry to it by hand:\n- name: Bob", nil},
		{"no roles", good, person("Bob", "bob@example.com", bobPub), "no roles", nil},
		{"bad key", good, person("Bob", "bob@example.com", "ed25519:AAAA", "CTO"), "public key: key is 3 bytes long", nil},
		{"bad email", good, person("Bob", "bob/../x@example.com", bobPub, "CTO"), `holds '/'`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trust.yaml")
			if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
				t.Fatal(err)
			}
			err := AppendPerson(path, tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want it to match %v", err, tc.is)
			}
			after, _ := os.ReadFile(path)
			if string(after) != tc.before {
				t.Errorf("the file changed:\n%s", after)
			}
		})
	}
}

// umask returns the process umask, which new files' modes pass through.
func umask() os.FileMode {
	dir, _ := os.MkdirTemp("", "umask")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "f")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o777)
	if err != nil {
		return 0o022
	}
	f.Close()
	st, _ := os.Stat(p)
	return 0o777 &^ st.Mode().Perm()
}

func FuzzLoadTrust(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("people:\n  - &p {name: A, email: a@b, roles: [CTO], public_key: '" + alicePub + "'}\n  - *p\n"))
	f.Add([]byte("people: [{<<: {name: A}, email: a@b, roles: [x], public_key: '" + bobPub + "'}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrust("fuzz.yaml", data)
		if err != nil {
			var errs yamlx.Errors
			if errors.As(err, &errs) && len(errs) == 0 {
				t.Fatal("empty Errors")
			}
			_ = err.Error()
			return
		}
		if tr == nil {
			t.Fatal("nil trust without an error")
		}
		for _, p := range tr.People {
			// What loads is usable: every key parses, every person is
			// found by their email and holds each of their roles.
			if _, ok := tr.PublicKey(p.Email); !ok {
				t.Fatalf("%s: key does not parse after a clean load", p.Email)
			}
			if q, ok := tr.Person(p.Email); !ok || q != p {
				t.Fatalf("%s: not found by email", p.Email)
			}
			for _, r := range p.Roles {
				if !tr.HasRole(p.Email, r) {
					t.Fatalf("%s: does not hold %q", p.Email, r)
				}
			}
			if _, err := FormatPerson(*p); err != nil {
				t.Fatalf("%s: a loaded person does not format: %v", p.Email, err)
			}
		}
	})
}

func TestAppendPersonThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "team-trust.yaml")
	if err := AppendPerson(real, person("Alice", "alice@example.com", alicePub, "CTO")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "trust.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Skip(err)
	}
	if err := AppendPerson(link, person("Bob", "bob@example.com", bobPub, "CTO")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced by a file")
	}
	tr, err := LoadTrust(real)
	if err != nil || len(tr.People) != 2 {
		t.Errorf("the linked file after the append: %v, %v", tr, err)
	}
}
