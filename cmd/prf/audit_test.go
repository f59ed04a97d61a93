package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prfhq/prf/internal/audit"
	"github.com/prfhq/prf/internal/store/sqlite"
)

// auditLog writes a log of n entries to dir/prf.db, by the instance key
// (its files in dir, beside the database) and alice, alternately, and
// returns the database path, alice's --pub flag and the entries.
func auditLog(t *testing.T, dir string, n int) (db, pubFlag string, entries []audit.Entry) {
	t.Helper()
	ctx := context.Background()
	db = filepath.Join(dir, "prf.db")
	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	inst, _, _, err := audit.LoadOrCreateInstanceKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := audit.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	alicePub := writeFile(t, dir, "alice.pub", string(b))
	signers := []audit.Signer{inst, audit.NewSigner("alice@example.com", priv)}
	for i := range n {
		e, err := audit.Append(ctx, st, signers[i%2], audit.KindSignoff, map[string]any{"i": i, "role": "Security Lead"})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, *e)
	}
	return db, "alice@example.com=" + alicePub, entries
}

func sqlExec(t *testing.T, db string, stmts ...string) {
	t.Helper()
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	db, alice, entries := auditLog(t, dir, 10)
	head := entries[9].Hash

	code, out, errOut := prf(t, "audit", "verify", "--db", db, "--pub", alice)
	if code != 0 || errOut != "" {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"10 entries checked\n", "head " + head + "\n", "OK: the chain and every signature verify\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	if code, out, _ := prf(t, "audit", "verify", "--db", db, "--pub", alice, "--anchor", strings.ToUpper(head)); code != 0 || !strings.Contains(out, "holds the anchor") {
		t.Errorf("verify --anchor head: exit %d\n%s", code, out)
	}

	// Alice's key not given: her first entry (seq 2) is broken.
	code, out, _ = prf(t, "audit", "verify", "--db", db)
	if code != 1 || !strings.Contains(out, `BROKEN at seq 2: actor "alice@example.com" has no known public key`) ||
		!strings.Contains(out, "head "+entries[0].Hash+" (the last entry that verifies)") {
		t.Errorf("verify without alice's key: exit %d\n%s", code, out)
	}
	// The instance key not found: a note, and seq 1 is broken.
	other := t.TempDir()
	otherDB := filepath.Join(other, "prf.db")
	b, _ := os.ReadFile(db)
	if err := os.WriteFile(otherDB, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = prf(t, "audit", "verify", "--db", otherDB, "--pub", alice)
	if code != 1 || !strings.Contains(errOut, "no instance public key at "+filepath.Join(other, "instance.pub")) || !strings.Contains(out, "BROKEN at seq 1:") {
		t.Errorf("verify without the instance key: exit %d\n%s%s", code, out, errOut)
	}
	// Named with --keys, it verifies.
	if code, out, errOut := prf(t, "audit", "verify", "--db", otherDB, "--pub", alice, "--keys", filepath.Join(dir, "instance.pub")); code != 0 {
		t.Errorf("verify --keys: exit %d\n%s%s", code, out, errOut)
	}

	// Tampered: a payload changed at seq 5.
	sqlExec(t, db, `DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET payload = '{"i":4,"role":"CTO"}' WHERE seq = 5`)
	code, out, errOut = prf(t, "audit", "verify", "--db", db, "--pub", alice)
	if code != 1 || errOut != "" || !strings.Contains(out, "5 entries checked\n") || !strings.Contains(out, "BROKEN at seq 5: hash "+entries[4].Hash+" does not match the entry's contents") {
		t.Errorf("verify tampered: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = prf(t, "audit", "verify", "--db", db, "--pub", alice, "-o", "json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.OK || rep.Broken == nil || rep.Broken.Seq != 5 || rep.Entries != 5 || rep.Head != entries[3].Hash {
		t.Errorf("verify -o json: exit %d, %v\n%s", code, err, out)
	}
}

func TestAuditTruncationAndAnchor(t *testing.T) {
	dir := t.TempDir()
	db, alice, entries := auditLog(t, dir, 10)

	code, out, _ := prf(t, "audit", "anchor", "--db", db, "--pub", alice)
	if want := "seq  10\nhash " + entries[9].Hash + "\n"; code != 0 || out != want {
		t.Errorf("anchor: exit %d\n%s\nwant\n%s", code, out, want)
	}
	code, out, _ = prf(t, "audit", "anchor", "--db", db, "--pub", alice, "-q")
	if code != 0 || out != entries[9].Hash+"\n" {
		t.Errorf("anchor -q: exit %d\n%s", code, out)
	}
	anchor := strings.TrimSpace(out)

	// Cut the last three entries off: still a valid chain, but not the
	// anchored one.
	sqlExec(t, db, `DROP TRIGGER audit_log_no_delete`, `DELETE FROM audit_log WHERE seq > 7`)
	if code, out, _ := prf(t, "audit", "verify", "--db", db, "--pub", alice); code != 0 || !strings.Contains(out, "7 entries checked") {
		t.Errorf("truncated, without anchor: exit %d\n%s", code, out)
	}
	code, out, _ = prf(t, "audit", "verify", "--db", db, "--pub", alice, "--anchor", anchor)
	if code != 1 || !strings.Contains(out, "BROKEN at seq 8: anchor "+anchor+" is not in the log: the log ends at seq 7") {
		t.Errorf("truncated, with the anchor: exit %d\n%s", code, out)
	}

	// A broken log is not anchored.
	sqlExec(t, db, `DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET kind = 'override' WHERE seq = 3`)
	code, out, errOut := prf(t, "audit", "anchor", "--db", db, "--pub", alice)
	if code != 1 || out != "" || !strings.Contains(errOut, "broken at seq 3") || !strings.Contains(errOut, "not anchoring") {
		t.Errorf("anchor of a broken log: exit %d\n%s%s", code, out, errOut)
	}
	// Nor an empty one.
	code, _, errOut = prf(t, "audit", "anchor", "--db", filepath.Join(t.TempDir(), "empty.db"), "--keys", filepath.Join(dir, "instance.pub"))
	if code != 1 || !strings.Contains(errOut, "empty") {
		t.Errorf("anchor of an empty log: exit %d\n%s", code, errOut)
	}
}

func TestAuditExport(t *testing.T) {
	dir := t.TempDir()
	db, alice, entries := auditLog(t, dir, 10)
	keys := filepath.Join(dir, "instance.pub")
	file := filepath.Join(t.TempDir(), "audit.jsonl")

	if code, out, errOut := prf(t, "audit", "export", "--db", db, "--out", file); code != 0 || out != "" || errOut != "" {
		t.Fatalf("export --out: exit %d\n%s%s", code, out, errOut)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v, mode %v", err, fi.Mode())
	}
	code, stdout, _ := prf(t, "audit", "export", "--db", db)
	b, _ := os.ReadFile(file)
	if code != 0 || stdout != string(b) || strings.Count(stdout, "\n") != 10 {
		t.Errorf("export to stdout differs from --out:\n%s\n%s", stdout, b)
	}

	// The file verifies without the database; the default instance key is
	// looked for beside the database, so name it.
	code, out, _ := prf(t, "audit", "verify", "--file", file, "--keys", keys, "--pub", alice, "--anchor", entries[9].Hash,
		"--db", filepath.Join(t.TempDir(), "none", "prf.db"))
	if code != 0 || !strings.Contains(out, "10 entries checked") {
		t.Errorf("verify --file: exit %d\n%s", code, out)
	}

	// A tampered line is reported with its seq.
	lines := strings.SplitAfter(string(b), "\n")
	lines[6] = strings.Replace(lines[6], `"role":"Security Lead"`, `"role":"CTO"`, 1)
	tampered := writeFile(t, t.TempDir(), "tampered.jsonl", strings.Join(lines, ""))
	code, out, _ = prf(t, "audit", "verify", "--file", tampered, "--keys", keys, "--pub", alice)
	if code != 1 || !strings.Contains(out, "BROKEN at seq 7: hash") {
		t.Errorf("verify --file tampered: exit %d\n%s", code, out)
	}
	// A line that is not an entry.
	lines[6] = "{not json\n"
	garbled := writeFile(t, t.TempDir(), "garbled.jsonl", strings.Join(lines, ""))
	code, out, _ = prf(t, "audit", "verify", "--file", garbled, "--keys", keys, "--pub", alice)
	if code != 1 || !strings.Contains(out, "BROKEN at seq 7: line 7:") {
		t.Errorf("verify --file garbled: exit %d\n%s", code, out)
	}
	// From stdin.
	var o, e strings.Builder
	dd := testDeps(&o, &e)
	dd.In = strings.NewReader(string(b))
	if code := execute(context.Background(), dd, []string{"audit", "verify", "--file", "-", "--keys", keys, "--pub", alice}); code != 0 {
		t.Errorf("verify --file -: exit %d\n%s%s", code, o.String(), e.String())
	}
}

func TestAuditUsage(t *testing.T) {
	dir := t.TempDir()
	db, alice, _ := auditLog(t, dir, 2)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad anchor", []string{"audit", "verify", "--db", db, "--anchor", "xyz"}, "want the 64 hex digits"},
		{"short anchor", []string{"audit", "verify", "--db", db, "--anchor", "abcd"}, "want the 64 hex digits"},
		{"pub without =", []string{"audit", "verify", "--db", db, "--pub", "alice.pub"}, "want KEYID=PATH"},
		{"pub missing file", []string{"audit", "verify", "--db", db, "--pub", "a@b=" + filepath.Join(dir, "nope.pub")}, "no such file"},
		{"pub not a key", []string{"audit", "verify", "--db", db, "--pub", "a@b=" + db}, "neither a PEM"},
		{"keys missing", []string{"audit", "verify", "--db", db, "--keys", filepath.Join(dir, "nope.pub")}, "--keys"},
		{"file missing", []string{"audit", "verify", "--file", filepath.Join(dir, "nope.jsonl"), "--pub", alice}, "--file"},
		{"bad output", []string{"audit", "verify", "--db", db, "-o", "yaml"}, "want text or json"},
		{"argument", []string{"audit", "verify", "extra"}, "unknown command"},
		{"unknown flag", []string{"audit", "export", "--bogus"}, "unknown flag"},
		{"export dir missing", []string{"audit", "export", "--db", db, "--out", filepath.Join(dir, "no", "dir", "x.jsonl")}, "--out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := prf(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want 2 with %q\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
}

func TestAuditHelp(t *testing.T) {
	for _, args := range [][]string{{"audit", "--help"}, {"audit", "verify", "--help"}, {"audit", "export", "--help"}, {"audit", "anchor", "--help"}} {
		code, out, _ := prf(t, args...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "prf audit") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
}

// $PRF_INSTANCE_KEY_DIR keeps the instance key away from the database:
// runs sign their events with it there, and verify finds its public key
// there; the database's directory gets no key.
func TestInstanceKeyDir(t *testing.T) {
	e := newIdentityEnv(t)
	dir := t.TempDir()
	keys := filepath.Join(t.TempDir(), "instance")
	e.env = map[string]string{"PRF_INSTANCE_KEY_DIR": keys}
	db := filepath.Join(dir, "prf.db")
	cl := writeFile(t, dir, "prf.yaml", "version: 1\nname: k\ncheckpoints:\n"+tcpCheckpoint("svc.port", listen(t), "blocking"))
	for i, want := range []bool{true, false} { // announced when it is made, only then
		code, _, errOut := e.prf(t, "check", "-q", "--db", db, "-f", cl)
		if code != 0 {
			t.Fatalf("check: exit %d\n%s", code, errOut)
		}
		if got := strings.Contains(errOut, "made a new instance key in $PRF_INSTANCE_KEY_DIR ("+keys+")"); got != want {
			t.Errorf("run %d: announced a new key %v, want %v\n%s", i+1, got, want, errOut)
		}
	}
	for _, f := range []string{"instance.key", "instance.pub"} {
		if _, err := os.Stat(filepath.Join(keys, f)); err != nil {
			t.Errorf("%s not in $PRF_INSTANCE_KEY_DIR: %v", f, err)
		}
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s beside the database: %v", f, err)
		}
	}
	if code, out, errOut := e.prf(t, "audit", "verify", "--db", db); code != 0 || !strings.Contains(out, "4 entries") {
		t.Errorf("verify with the key dir: exit %d\n%s%s", code, out, errOut)
	}
	e.env = nil
	if code, _, errOut := e.prf(t, "audit", "verify", "--db", db); code != 1 || !strings.Contains(errOut, "no instance public key at "+filepath.Join(dir, "instance.pub")) {
		t.Errorf("verify without it: exit %d\n%s", code, errOut)
	}
}
