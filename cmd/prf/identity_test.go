package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/signoff"
)

// identityEnv runs prf with PRF_KEY_DIR pointing at a temp dir and keeps
// every byte prf printed, so the test can check that no private key leaks.
type identityEnv struct {
	keyDir, trust string
	printed       strings.Builder
	answers       []string // what a person types at passphrase prompts; nil: no terminal
	prompts       []string // the prompts shown
	env           map[string]string
}

func newIdentityEnv(t *testing.T) *identityEnv {
	dir := t.TempDir()
	return &identityEnv{keyDir: filepath.Join(dir, "home", "keys"), trust: filepath.Join(dir, "repo", ".prf", "trust.yaml")}
}

func (e *identityEnv) deps(out, errOut *bytes.Buffer) *deps {
	d := testDeps(out, errOut)
	d.Getenv = func(k string) string {
		if k == "PRF_KEY_DIR" {
			return e.keyDir
		}
		return e.env[k]
	}
	d.ReadPassword = func(prompt string) ([]byte, error) {
		if e.answers == nil {
			return nil, errNoTerminal
		}
		e.prompts = append(e.prompts, prompt)
		if len(e.answers) == 0 {
			return nil, errors.New("EOF at the prompt")
		}
		a := e.answers[0]
		e.answers = e.answers[1:]
		return []byte(a), nil
	}
	return d
}

func (e *identityEnv) prf(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var o, er bytes.Buffer
	code := execute(context.Background(), e.deps(&o, &er), args)
	e.printed.WriteString(o.String() + er.String())
	return code, o.String(), er.String()
}

// secretForms are the ways a private key could be printed.
func secretForms(k *signoff.Key) []string {
	seed := k.Private.Seed()
	return []string{
		base64.StdEncoding.EncodeToString(seed), base64.RawStdEncoding.EncodeToString(seed),
		base64.StdEncoding.EncodeToString(k.Private), hex.EncodeToString(seed),
		base64.StdEncoding.EncodeToString(seed)[:16], // any sizeable piece of it
	}
}

func TestIdentityNewListShow(t *testing.T) {
	e := newIdentityEnv(t)
	t.Setenv("PRF_TEST_IDENTITY_PASS", "a long passphrase")

	code, out, errOut := e.prf(t, "identity", "new", "--name", "Alice Example", "--email", "alice@example.com",
		"--role", "Security Lead", "--role", "CTO", "--passphrase", "env:PRF_TEST_IDENTITY_PASS", "--trust", e.trust)
	if code != 0 {
		t.Fatalf("identity new: exit %d\n%s%s", code, out, errOut)
	}
	keyFile := filepath.Join(e.keyDir, "alice@example.com.key")
	for _, want := range []string{"Alice Example <alice@example.com>, roles: Security Lead, CTO", keyFile, "encrypted with the passphrase behind env:PRF_TEST_IDENTITY_PASS",
		"never commit or share it", "public key   ed25519:", "fingerprint  SHA256:", "Added alice@example.com to the trust file " + e.trust, "have the change reviewed",
		"git add " + e.trust} {
		if !strings.Contains(out, want) {
			t.Errorf("identity new output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, "a long passphrase") {
		t.Error("the passphrase was printed")
	}
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, st)
	}
	if st, err := os.Stat(e.keyDir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %v, %v; want 0700", st.Mode().Perm(), err)
	}
	alice, err := signoff.LoadKey(e.keyDir, "alice@example.com", func() ([]byte, error) { return []byte("a long passphrase"), nil })
	if err != nil {
		t.Fatal(err)
	}
	tr, err := signoff.LoadTrust(e.trust)
	if err != nil {
		t.Fatal(err)
	}
	pub := signoff.FormatPublicKey(alice.Public())
	if !tr.HasRole("alice@example.com", "cto") || !tr.HasRole("alice@example.com", "security lead") || tr.People[0].PublicKey != pub {
		t.Errorf("trust file after new: %+v", tr.People[0])
	}
	if !strings.Contains(out, pub) {
		t.Errorf("the public key %s is not printed", pub)
	}

	// A second person, unencrypted: the private key sits in the file in
	// the clear, and still never on the screen.
	code, out, errOut = e.prf(t, "identity", "new", "--name", "Bob", "--email", "bob@example.com", "--role", "DevOps Lead", "--trust", e.trust)
	if code != 0 {
		t.Fatalf("identity new bob: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "not encrypted (no --passphrase)") {
		t.Errorf("bob's output does not say the key is unencrypted:\n%s", out)
	}
	bob, err := signoff.LoadKey(e.keyDir, "bob@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut = e.prf(t, "identity", "list", "--trust", e.trust)
	if code != 0 {
		t.Fatalf("identity list: exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "EMAIL") {
		t.Fatalf("identity list:\n%s", out)
	}
	for i, want := range [][]string{
		{"alice@example.com", "Alice Example", "Security Lead, CTO", signoff.Fingerprint(alice.Public()), "yes", "listed"},
		{"bob@example.com", "Bob", "DevOps Lead", signoff.Fingerprint(bob.Public()), "no", "listed"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("list row %d lacks %q: %s", i+1, w, lines[i+1])
			}
		}
	}

	code, out, _ = e.prf(t, "identity", "list", "--trust", e.trust, "-o", "json")
	var rows []identityRow
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 2 || !rows[0].Encrypted || rows[1].Encrypted || rows[0].Trust != "listed" {
		t.Errorf("list -o json: exit %d, %v: %s", code, err, out)
	}

	code, out, errOut = e.prf(t, "identity", "show", "ALICE@example.com", "--trust", e.trust)
	if code != 0 {
		t.Fatalf("identity show: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"Alice Example <alice@example.com>", pub, signoff.Fingerprint(alice.Public()), keyFile + " (encrypted, mode 0600)",
		"trust file   " + e.trust + ", line 7: grants Security Lead, CTO"} {
		if !strings.Contains(out, want) {
			t.Errorf("identity show lacks %q:\n%s", want, out)
		}
	}

	// The trust file now lists another key for bob: list and show say so.
	data, _ := os.ReadFile(e.trust)
	other, _ := signoff.GenerateKey("x", "x@example.com", []string{"x"})
	swapped := strings.Replace(string(data), signoff.FormatPublicKey(bob.Public()), signoff.FormatPublicKey(other.Public()), 1)
	os.WriteFile(e.trust, []byte(swapped), 0o644)
	_, out, _ = e.prf(t, "identity", "list", "--trust", e.trust)
	if !strings.Contains(out, "other key") {
		t.Errorf("list after the trust file's key for bob changed:\n%s", out)
	}
	_, out, _ = e.prf(t, "identity", "show", "bob@example.com", "--trust", e.trust)
	if !strings.Contains(out, "lists another key for bob@example.com: signatures by this key will not verify") {
		t.Errorf("show after the key changed:\n%s", out)
	}

	for _, k := range []*signoff.Key{alice, bob} {
		for _, s := range secretForms(k) {
			if strings.Contains(e.printed.String(), s) {
				t.Errorf("prf printed %s's private key (%q)", k.Email, s)
			}
		}
	}
}

func TestIdentityNewRefuses(t *testing.T) {
	e := newIdentityEnv(t)
	t.Setenv("PRF_TEST_IDENTITY_PASS", "pw")
	if code, out, errOut := e.prf(t, "identity", "new", "--name", "Alice", "--email", "alice@example.com", "--role", "CTO", "--trust", e.trust); code != 0 {
		t.Fatalf("setup: exit %d\n%s%s", code, out, errOut)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"--email", "z@example.com", "--role", "CTO"}, "--name is required"},
		{"no email", []string{"--name", "Z", "--role", "CTO"}, "--email is required"},
		{"no role", []string{"--name", "Z", "--email", "z@example.com"}, "--role is required"},
		{"not an email", []string{"--name", "Z", "--email", "z", "--role", "CTO"}, `"z" is not an email address`},
		{"a passphrase, not a reference", []string{"--name", "Z", "--email", "z@example.com", "--role", "CTO", "--passphrase", "hunter2"}, "want a reference, env:VAR or file:PATH, or prompt; never the passphrase itself"},
		{"an unset variable", []string{"--name", "Z", "--email", "z@example.com", "--role", "CTO", "--passphrase", "env:PRF_TEST_UNSET_VARIABLE"}, "environment variable PRF_TEST_UNSET_VARIABLE is not set"},
		{"a key already exists", []string{"--name", "Alice", "--email", "Alice@example.com", "--role", "CTO", "--trust", "TRUST"}, "a key for Alice@example.com already exists"},
		{"in the trust file, no local key", []string{"--name", "Alice", "--email", "alice2@example.com", "--role", "CTO", "--trust", "TRUST"}, "alice2@example.com is already in"},
		{"a broken trust file", []string{"--name", "Z", "--email", "z@example.com", "--role", "CTO", "--trust", "BROKEN"}, "people[0].roles: missing"},
	}
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	os.WriteFile(broken, []byte("people:\n  - name: A\n    email: a@example.com\n    public_key: ed25519:1b9KP8znF7A4i8wnSevBSK2ZabI/Re4bYF/Vh3hXasQ=\n"), 0o644)
	// alice2 is in the trust file with no key on this machine.
	k2, _ := signoff.GenerateKey("Alice Two", "alice2@example.com", []string{"CTO"})
	if err := signoff.AppendPerson(e.trust, k2.Person()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(e.trust)
			keysBefore, _ := os.ReadDir(e.keyDir)
			args := []string{"identity", "new", "--trust", e.trust}
			for _, a := range tc.args {
				args = append(args, strings.NewReplacer("TRUST", e.trust, "BROKEN", broken).Replace(a))
			}
			code, out, errOut := e.prf(t, args...)
			if code != exitBadInput || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q (stdout: %s)", code, errOut, tc.want, out)
			}
			after, _ := os.ReadFile(e.trust)
			keysAfter, _ := os.ReadDir(e.keyDir)
			if !bytes.Equal(before, after) || len(keysBefore) != len(keysAfter) {
				t.Error("a refused identity new changed the trust file or the key directory")
			}
			if strings.Contains(out+errOut, "hunter2") {
				t.Error("the would-be passphrase was echoed")
			}
		})
	}
}

func TestIdentityNoTrustAndDefaults(t *testing.T) {
	e := newIdentityEnv(t)
	repo := t.TempDir()
	t.Chdir(repo)

	code, out, errOut := e.prf(t, "identity", "new", "--name", "Carol", "--email", "carol@example.com", "--role", "Product Owner", "--no-trust")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(repo, ".prf")); !errors.Is(err, os.ErrNotExist) {
		t.Error("--no-trust created .prf")
	}
	carol, err := signoff.LoadKey(e.keyDir, "carol@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := signoff.FormatPerson(carol.Person())
	if !strings.Contains(out, "--no-trust") || !strings.Contains(out, indent(string(entry), "  ")) {
		t.Errorf("--no-trust output lacks the entry to add:\n%s", out)
	}

	// Without --trust: .prf/trust.yaml in the working directory, created.
	code, out, errOut = e.prf(t, "identity", "new", "--name", "Dan", "--email", "dan@example.com", "--role", "SRE Lead")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	tr, err := signoff.LoadTrust(filepath.Join(".prf", "trust.yaml"))
	if err != nil || !tr.HasRole("dan@example.com", "SRE Lead") {
		t.Fatalf("default trust file: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(".prf", "trust.yaml"))
	if !strings.HasPrefix(string(data), "# PRF trust file") {
		t.Errorf("a new trust file starts without its header:\n%s", data)
	}

	code, out, _ = e.prf(t, "identity", "list")
	if code != 0 || !strings.Contains(out, "carol@example.com") || !strings.Contains(out, "not listed") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	code, _, errOut = e.prf(t, "identity", "show", "nobody@example.com")
	if code != exitBadInput || !strings.Contains(errOut, "no key for nobody@example.com") {
		t.Errorf("show unknown: exit %d, %s", code, errOut)
	}
	// A teammate in the trust file whose key is elsewhere.
	other, _ := signoff.GenerateKey("Erin", "erin@example.com", []string{"CTO"})
	signoff.AppendPerson(filepath.Join(".prf", "trust.yaml"), other.Person())
	code, out, _ = e.prf(t, "identity", "show", "erin@example.com")
	if code != 0 || !strings.Contains(out, "key file     none in "+e.keyDir) || !strings.Contains(out, "grants CTO") {
		t.Errorf("show erin: exit %d\n%s", code, out)
	}

	// A key file others can read is reported, and refused for signing.
	os.Chmod(filepath.Join(e.keyDir, "carol@example.com.key"), 0o644)
	_, _, errOut = e.prf(t, "identity", "list")
	if !strings.Contains(errOut, "carol@example.com: mode 0644 lets others read the key") {
		t.Errorf("list did not warn about the readable key:\n%s", errOut)
	}
	var o, er bytes.Buffer
	if _, err := loadSigningKey(e.deps(&o, &er), "carol@example.com", ""); err == nil || !strings.Contains(err.Error(), "has mode 0644") {
		t.Errorf("loadSigningKey of a readable key: %v", err)
	}

	code, out, _ = e.prf(t, "identity", "--help")
	if code != 0 || !strings.Contains(out, "review it\nlike code") || !strings.Contains(out, "on your machine only") {
		t.Errorf("identity --help does not teach where the keys live:\n%s", out)
	}
	for _, s := range secretForms(carol) {
		if strings.Contains(e.printed.String(), s) {
			t.Errorf("prf printed carol's private key (%q)", s)
		}
	}
}

func TestIdentityLoadSigningKey(t *testing.T) {
	e := newIdentityEnv(t)
	var o, er bytes.Buffer
	d := e.deps(&o, &er)
	if _, err := loadSigningKey(d, "", ""); exitCode(err) != exitBadInput || !strings.Contains(err.Error(), "no key in") {
		t.Errorf("no keys: %v", err)
	}
	t.Setenv("PRF_TEST_IDENTITY_PASS", "pw for signing")
	if code, out, errOut := e.prf(t, "identity", "new", "--name", "A", "--email", "a@example.com", "--role", "CTO",
		"--passphrase", "env:PRF_TEST_IDENTITY_PASS", "--no-trust"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	k, err := loadSigningKey(d, "", "env:PRF_TEST_IDENTITY_PASS")
	if err != nil || k.Email != "a@example.com" {
		t.Fatalf("the only key: %v, %v", k, err)
	}
	if _, err := loadSigningKey(d, "a@example.com", ""); exitCode(err) != exitBadInput || !strings.Contains(err.Error(), "passphrase-protected: give --passphrase") {
		t.Errorf("no passphrase: %v", err)
	}
	t.Setenv("PRF_TEST_IDENTITY_WRONG", "not it")
	if _, err := loadSigningKey(d, "a@example.com", "env:PRF_TEST_IDENTITY_WRONG"); !errors.Is(err, signoff.ErrWrongPassphrase) || exitCode(err) != exitBadInput {
		t.Errorf("wrong passphrase: %v", err)
	}
	if code, _, _ := e.prf(t, "identity", "new", "--name", "B", "--email", "b@example.com", "--role", "CTO", "--no-trust"); code != 0 {
		t.Fatal("second key")
	}
	if _, err := loadSigningKey(d, "", ""); err == nil || !strings.Contains(err.Error(), "2 keys in") || !strings.Contains(err.Error(), "--as EMAIL") {
		t.Errorf("two keys: %v", err)
	}
	// What the lead's commands will do with it: sign, and verify against
	// the trust file.
	b, err := loadSigningKey(d, "b@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := signoff.SignStatement(b, "signoff", "CTO", map[string]string{"run": "r-1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := signoff.AppendPerson(e.trust, b.Person()); err != nil {
		t.Fatal(err)
	}
	tr, _ := signoff.LoadTrust(e.trust)
	if err := tr.Verify(s); err != nil {
		t.Error(err)
	}
}

// On a terminal, --passphrase prompt asks twice for a new key's passphrase,
// and a command that signs asks for it when the key is encrypted and no
// reference is given. Without a terminal both say what to give instead.
func TestIdentityPassphrasePrompt(t *testing.T) {
	e := newIdentityEnv(t)
	newKey := func(email string, answers ...string) (int, string, string) {
		e.answers, e.prompts = answers, nil
		return e.prf(t, "identity", "new", "--name", "P", "--email", email, "--role", "CTO", "--passphrase", "prompt", "--no-trust")
	}
	if code, _, errOut := newKey("x@example.com", "one", "two"); code != 2 || !strings.Contains(errOut, "the passphrases differ; nothing was written") {
		t.Errorf("two different answers: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := newKey("x@example.com", ""); code != 2 || !strings.Contains(errOut, "empty passphrase") {
		t.Errorf("an empty answer: exit %d\n%s", code, errOut)
	}
	e.answers = nil
	if code, _, errOut := e.prf(t, "identity", "new", "--name", "P", "--email", "x@example.com", "--role", "CTO", "--passphrase", "prompt", "--no-trust"); code != 2 || !strings.Contains(errOut, "--passphrase prompt: stdin is not a terminal; give env:VAR or file:PATH instead") {
		t.Errorf("no terminal: exit %d\n%s", code, errOut)
	}
	if files, _ := filepath.Glob(filepath.Join(e.keyDir, "*")); len(files) != 0 {
		t.Fatalf("a refused key was written: %v", files)
	}
	code, out, errOut := newKey("p@example.com", "correct horse", "correct horse")
	if code != 0 || !strings.Contains(out, "encrypted with the passphrase you typed") || len(e.prompts) != 2 || !strings.Contains(e.prompts[0], "p@example.com") {
		t.Fatalf("prompt twice: exit %d, prompts %q\n%s%s", code, e.prompts, out, errOut)
	}
	if strings.Contains(e.printed.String(), "correct horse") {
		t.Error("the typed passphrase was printed")
	}
	if _, err := signoff.LoadKey(e.keyDir, "p@example.com", func() ([]byte, error) { return []byte("correct horse"), nil }); err != nil {
		t.Fatalf("the key does not open with the typed passphrase: %v", err)
	}

	var o, er bytes.Buffer
	d := e.deps(&o, &er)
	e.answers, e.prompts = []string{"correct horse"}, nil
	if k, err := loadSigningKey(d, "p@example.com", ""); err != nil || k.Email != "p@example.com" || len(e.prompts) != 1 {
		t.Errorf("signing key, asked on the terminal: %v, prompts %q", err, e.prompts)
	}
	e.answers = []string{"wrong horse"}
	if _, err := loadSigningKey(d, "p@example.com", ""); !errors.Is(err, signoff.ErrWrongPassphrase) {
		t.Errorf("a wrong typed passphrase: %v", err)
	}
	e.answers = nil
	if _, err := loadSigningKey(d, "p@example.com", ""); exitCode(err) != exitBadInput || !strings.Contains(err.Error(), "or run on a terminal to be asked") {
		t.Errorf("no terminal, no reference: %v", err)
	}
}
