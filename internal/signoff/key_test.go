package signoff

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fastKDF keeps tests quick; one TestKeyRoundTrip case runs the real cost.
func fastKDF() kdfParams { return kdfParams{logN: 10, r: 8, p: 1} }

func newKey(t *testing.T, email string, roles ...string) *Key {
	t.Helper()
	if len(roles) == 0 {
		roles = []string{"CTO"}
	}
	k, err := GenerateKey("Test "+email, email, roles)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func staticPass(p string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(p), nil }
}

func TestKeyRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		passphrase []byte
		kdf        kdfParams
	}{
		{"plain", nil, fastKDF()},
		{"encrypted", []byte("correct horse battery staple"), fastKDF()},
		{"encrypted, default cost", []byte("correct horse battery staple"), defaultKDF()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "config", "prf", "keys")
			k := newKey(t, "Alice@Example.com", "Security Lead", "  CTO ")
			path, err := saveKey(dir, k, tc.passphrase, tc.kdf)
			if err != nil {
				t.Fatal(err)
			}
			if path != filepath.Join(dir, "alice@example.com.key") {
				t.Errorf("path = %s, want <dir>/alice@example.com.key", path)
			}
			assertMode(t, path, 0o600)
			assertMode(t, dir, 0o700)

			data, _ := os.ReadFile(path)
			seed := k.Private.Seed()
			if strings.Contains(string(data), string(seed)) || (tc.passphrase != nil && strings.Contains(string(data), "plain")) {
				t.Error("the encrypted key file holds the seed in the clear")
			}
			called := false
			got, err := LoadKey(dir, "alice@EXAMPLE.com", func() ([]byte, error) { called = true; return tc.passphrase, nil })
			if err != nil {
				t.Fatal(err)
			}
			if called != (tc.passphrase != nil) {
				t.Errorf("passphrase asked for: %v, want %v", called, tc.passphrase != nil)
			}
			if !got.Private.Equal(k.Private) || got.Email != "Alice@Example.com" || got.Name != k.Name || strings.Join(got.Roles, "|") != "Security Lead|CTO" {
				t.Errorf("loaded %+v, want %+v", got, k)
			}
			msg := []byte("hello")
			sig, err := got.Sign(msg)
			if err != nil || !ed25519.Verify(k.Public(), msg, sig) {
				t.Errorf("a loaded key's signature does not verify: %v", err)
			}
			ki, err := ReadKeyInfo(dir, "alice@example.com")
			if err != nil || ki.Encrypted != (tc.passphrase != nil) || ki.Person.PublicKey != FormatPublicKey(k.Public()) || ki.Unprotected() {
				t.Errorf("ReadKeyInfo = %+v, %v", ki, err)
			}
		})
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Errorf("%s: mode %04o, want %04o", path, st.Mode().Perm(), want)
	}
}

func TestLoadKeyRefuses(t *testing.T) {
	pass := []byte("s3cret passphrase")
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string, k *Key) // after an encrypted save
		pass  func() ([]byte, error)
		want  string
		is    error
	}{
		{name: "wrong passphrase", pass: staticPass("not it"), want: "wrong passphrase", is: ErrWrongPassphrase},
		{name: "no passphrase given", pass: nil, want: "passphrase-protected and no passphrase was given"},
		{name: "passphrase source fails", pass: func() ([]byte, error) { return nil, errors.New("PW is not set") }, want: "passphrase: PW is not set"},
		{name: "empty passphrase", pass: staticPass(""), want: "passphrase given is empty"},
		{
			name:  "group-readable",
			setup: func(t *testing.T, dir string, k *Key) { os.Chmod(filepath.Join(dir, "a@example.com.key"), 0o640) },
			pass:  staticPass(string(pass)),
			want:  "has mode 0640: others may read it, so it is refused; run chmod 600",
		},
		{
			name:  "world-readable",
			setup: func(t *testing.T, dir string, k *Key) { os.Chmod(filepath.Join(dir, "a@example.com.key"), 0o604) },
			pass:  staticPass(string(pass)),
			want:  "has mode 0604",
		},
		{
			name: "public key swapped in the file",
			setup: func(t *testing.T, dir string, k *Key) {
				editKeyFile(t, dir, func(kf *keyFile) { kf.PublicKey = bobPub })
			},
			pass: staticPass(string(pass)),
			want: "wrong passphrase (or the key file was altered)",
		},
		{
			name: "email changed in the file",
			setup: func(t *testing.T, dir string, k *Key) {
				editKeyFile(t, dir, func(kf *keyFile) { kf.Email = "b@example.com" })
			},
			pass: staticPass(string(pass)),
			want: "holds the key of b@example.com, not a@example.com",
		},
		{
			name:  "unknown field",
			setup: func(t *testing.T, dir string, k *Key) { writeKeyFile(t, dir, `{"version":1,"extra":true}`) },
			want:  `unknown field "extra"`,
		},
		{
			name:  "newer version",
			setup: func(t *testing.T, dir string, k *Key) { editKeyFile(t, dir, func(kf *keyFile) { kf.Version = 2 }) },
			want:  "has version 2; this prf reads version 1",
		},
		{
			name: "absurd scrypt cost",
			setup: func(t *testing.T, dir string, k *Key) {
				editKeyFile(t, dir, func(kf *keyFile) { kf.Private.LogN = 40 })
			},
			pass: staticPass(string(pass)),
			want: "out of range",
		},
		{
			name:  "no key",
			setup: func(t *testing.T, dir string, k *Key) { os.Remove(filepath.Join(dir, "a@example.com.key")) },
			want:  "no key for a@example.com in",
			is:    ErrNoKey,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			k := newKey(t, "a@example.com")
			if _, err := saveKey(dir, k, pass, fastKDF()); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(t, dir, k)
			}
			got, err := LoadKey(dir, "a@example.com", tc.pass)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want it to match %v", err, tc.is)
			}
			if got != nil {
				t.Error("a key came back with the error")
			}
			if strings.Contains(err.Error(), string(pass)) {
				t.Error("the error shows the passphrase")
			}
		})
	}
}

func editKeyFile(t *testing.T, dir string, edit func(*keyFile)) {
	t.Helper()
	path := filepath.Join(dir, "a@example.com.key")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		t.Fatal(err)
	}
	edit(&kf)
	data, _ = json.Marshal(kf)
	writeKeyFile(t, dir, string(data))
}

func writeKeyFile(t *testing.T, dir, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "a@example.com.key"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSaveKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	k := newKey(t, "a@example.com")
	if _, err := SaveKey(dir, k, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "a@example.com.key"))
	other := newKey(t, "A@example.com")
	if _, err := SaveKey(dir, other, nil); !errors.Is(err, ErrKeyExists) {
		t.Errorf("overwrite: err = %v, want ErrKeyExists", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "a@example.com.key"))
	if string(before) != string(after) {
		t.Error("a refused save changed the key file")
	}
	if _, err := SaveKey(dir, newKey(t, "b@example.com"), []byte{}); err == nil || !strings.Contains(err.Error(), "empty passphrase") {
		t.Errorf("empty passphrase: err = %v", err)
	}
	if _, err := SaveKey(dir, &Key{Email: "c@example.com"}, nil); err == nil {
		t.Error("saved a key with no private key")
	}
}

func TestGenerateKeyRefuses(t *testing.T) {
	tests := []struct {
		name, full, email string
		roles             []string
		want              string
	}{
		{"no name", " ", "a@example.com", []string{"CTO"}, "empty name"},
		{"no roles", "A", "a@example.com", nil, "no roles"},
		{"empty role", "A", "a@example.com", []string{"CTO", "  "}, "empty role"},
		{"role twice", "A", "a@example.com", []string{"CTO", "cto"}, `role "cto" listed twice`},
		{"not an email", "A", "alice", []string{"CTO"}, "not an email address"},
		{"path in the email", "A", "x/../../etc/passwd@x", []string{"CTO"}, `holds '/'`},
		{"leading dot", "A", ".a@example.com", []string{"CTO"}, "starts with a dot"},
		{"non-ASCII, folds to another", "A", "\u017fam@example.com", []string{"CTO"}, "ASCII email addresses only"},
		{"newline in the name", "A\nB", "a@example.com", []string{"CTO"}, "control character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := GenerateKey(tc.full, tc.email, tc.roles)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestListKeys(t *testing.T) {
	dir := t.TempDir()
	if ps, err := ListKeys(filepath.Join(dir, "none")); err != nil || len(ps) != 0 {
		t.Errorf("missing dir: %v, %v; want no keys and no error", ps, err)
	}
	for _, e := range []string{"b@example.com", "a@example.com"} {
		if _, err := saveKey(dir, newKey(t, e), []byte("pw"), fastKDF()); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "broken@example.com.key"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a key"), 0o600)
	people, err := ListKeys(dir)
	if len(people) != 2 || people[0].Email != "a@example.com" || people[1].Email != "b@example.com" {
		t.Errorf("people = %+v, want a@ and b@", people)
	}
	if err == nil || !strings.Contains(err.Error(), "broken@example.com.key") {
		t.Errorf("err = %v, want the broken file named", err)
	}
	infos, err := ListKeyInfo(dir)
	if err != nil || len(infos) != 3 || !infos[0].Encrypted || infos[2].Err == nil {
		t.Errorf("ListKeyInfo = %+v, %v", infos, err)
	}
}

func TestKeyDir(t *testing.T) {
	got, err := KeyDir(func(k string) string { return map[string]string{"PRF_KEY_DIR": "/keys"}[k] })
	if err != nil || got != "/keys" {
		t.Errorf("KeyDir with PRF_KEY_DIR = %q, %v", got, err)
	}
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	got, err = KeyDir(func(string) string { return "" })
	if err != nil || got != filepath.Join("/cfg", "prf", "keys") {
		t.Errorf("KeyDir = %q, %v; want /cfg/prf/keys", got, err)
	}
}
