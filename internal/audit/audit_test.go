package audit_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/audit"
	"github.com/prfhq/prf/internal/store/sqlite"
)

const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

// fixture is a log of n entries written round-robin by the instance key,
// alice and bob (seq 1 instance, 2 alice, 3 bob, 4 instance, …), in a
// closed database file that each test copies.
type fixture struct {
	path    string // the database to copy
	keys    *audit.KeySet
	signers []audit.Signer // instance, alice, bob
	entries []audit.Entry  // as appended
}

func newSigner(t testing.TB, id string) (audit.Signer, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return audit.NewSigner(id, priv), pub
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	inst, _, _, err := audit.LoadOrCreateInstanceKey(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{path: filepath.Join(dir, "prf.db"), keys: &audit.KeySet{}, signers: []audit.Signer{inst}}
	if id, err := f.keys.LoadInstancePub(filepath.Join(dir, "keys", audit.InstancePubFile)); err != nil || id != inst.KeyID() {
		t.Fatalf("LoadInstancePub = %q, %v; want %q", id, err, inst.KeyID())
	}
	for _, id := range []string{alice, bob} {
		s, pub := newSigner(t, id)
		if err := f.keys.Add(id, pub); err != nil {
			t.Fatal(err)
		}
		f.signers = append(f.signers, s)
	}
	db, err := sqlite.Open(f.path)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{audit.KindRunStarted, audit.KindAttestation, audit.KindSignoff, audit.KindRunFinished}
	for i := range n {
		payload := map[string]any{"run_id": fmt.Sprintf("run-%03d", i/4), "i": i,
			"note": "<b>& \"quoted\" ünïcode \u2028 " + strings.Repeat("x", i)}
		e, err := audit.Append(ctx, db, f.signers[i%3], kinds[i%len(kinds)], payload)
		if err != nil {
			t.Fatal(err)
		}
		f.entries = append(f.entries, *e)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return f
}

// memFixture is a log of n entries like newFixture's, built in memory
// only (its path is empty).
func memFixture(t testing.TB, n int) *fixture {
	t.Helper()
	f := &fixture{keys: &audit.KeySet{}}
	for _, id := range []string{"prf-instance:0123456789abcdef", alice, bob} {
		s, pub := newSigner(t, id)
		if err := f.keys.Add(id, pub); err != nil {
			t.Fatal(err)
		}
		f.signers = append(f.signers, s)
	}
	start := time.Date(2026, 11, 25, 19, 30, 0, 0, time.UTC)
	prev := ""
	for i := range n {
		e := audit.Entry{Seq: int64(i + 1), Time: start.Add(time.Duration(i) * time.Millisecond), Actor: f.signers[i%3].KeyID(),
			Kind: audit.KindAttestation, Payload: json.RawMessage(fmt.Sprintf(`{"run_id":"run-%06d","checkpoint":"SEC-%03d","i":%d}`, i/40, i%40, i)), Prev: prev}
		e = forge(t, f.signers[i%3], e)
		f.entries = append(f.entries, e)
		prev = e.Hash
	}
	return f
}

// copyDB copies the fixture's database into a new directory and returns
// its path.
func (f *fixture) copyDB(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "prf.db")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func openDB(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tamper runs SQL straight on the file, as someone with the file would,
// after dropping the triggers that stop an UPDATE or DELETE by mistake.
func tamper(t *testing.T, path string, stmts ...string) {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range append([]string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`}, stmts...) {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// forge signs an entry as s, with a correct hash for its contents.
func forge(t testing.TB, s audit.Signer, e audit.Entry) audit.Entry {
	t.Helper()
	e.Hash = audit.ComputeHash(&e)
	h, err := hex.DecodeString(e.Hash)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(h)
	if err != nil {
		t.Fatal(err)
	}
	e.Sig = base64.StdEncoding.EncodeToString(sig)
	return e
}

func insertSQL(e audit.Entry) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return fmt.Sprintf(`INSERT INTO audit_log (seq, time, actor, kind, payload, prev, hash, sig) VALUES (%d, %s, %s, %s, %s, %s, %s, %s)`,
		e.Seq, q(e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z")), q(e.Actor), q(e.Kind), q(string(e.Payload)), q(e.Prev), q(e.Hash), q(e.Sig))
}

func TestVerifyUntouched(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 50)
	db := openDB(t, f.copyDB(t))
	head := f.entries[49].Hash
	for _, anchor := range []string{"", head, strings.ToUpper(head), f.entries[0].Hash, f.entries[24].Hash} {
		rep, err := audit.VerifyStore(ctx, db, f.keys, anchor)
		if err != nil {
			t.Fatal(err)
		}
		want := audit.Report{Entries: 50, Head: head, OK: true}
		if !equalReport(rep, want) {
			t.Errorf("anchor %q: report %s, want %s", anchor, js(rep), js(want))
		}
	}
	// Each of the three signers wrote entries.
	actors := map[string]int{}
	for _, e := range f.entries {
		actors[e.Actor]++
	}
	if len(actors) != 3 || actors[alice] == 0 || actors[bob] == 0 {
		t.Errorf("actors = %v", actors)
	}
	// The stored entries are the appended ones.
	var stored []audit.Entry
	if err := db.AuditEntries(ctx, func(e audit.Entry) error { stored = append(stored, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 50 {
		t.Fatalf("%d stored entries", len(stored))
	}
	for i := range stored {
		if a, b := js(stored[i]), js(f.entries[i]); a != b {
			t.Errorf("stored %s\nappended %s", a, b)
		}
	}
	if f.entries[0].Prev != "" || f.entries[1].Prev != f.entries[0].Hash {
		t.Errorf("prev of seq 1, 2 = %q, %q", f.entries[0].Prev, f.entries[1].Prev)
	}
}

func TestVerifyEmpty(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "prf.db"))
	rep, err := audit.VerifyStore(ctx, db, &audit.KeySet{}, "")
	if err != nil || !equalReport(rep, audit.Report{OK: true}) {
		t.Errorf("empty log: %s, %v", js(rep), err)
	}
	rep, err = audit.VerifyStore(ctx, db, &audit.KeySet{}, strings.Repeat("ab", 32))
	if err != nil || rep.OK || rep.Broken.Seq != 1 || !strings.Contains(rep.Broken.Reason, "the log is empty") {
		t.Errorf("empty log with an anchor: %s, %v", js(rep), err)
	}
}

// TestTamper applies each mutation straight to the database and checks
// that verify reports the first entry it breaks, from the database and
// from its export.
func TestTamper(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 50)
	e := func(seq int) audit.Entry { return f.entries[seq-1] }
	head := e(50).Hash
	stranger, _ := newSigner(t, "mallory@example.com")
	// A substitute key for alice: the trust file edited to hold another key.
	_, otherPub := newSigner(t, alice)
	substituted := &audit.KeySet{}
	for _, s := range f.signers {
		id := s.KeyID()
		pub, _ := f.keys.PublicKey(id)
		if id == alice {
			pub = otherPub
		}
		if err := substituted.Add(id, pub); err != nil {
			t.Fatal(err)
		}
	}

	// Forged at the tail: a valid hash and chain, signed by a key nobody
	// trusts.
	tail := forge(t, stranger, audit.Entry{Seq: 51, Time: time.Now().UTC(), Actor: "mallory@example.com", Kind: audit.KindOverride,
		Payload: json.RawMessage(`{"approved":true}`), Prev: head})
	// Forged at the tail in a trusted actor's name, signed by another key.
	tailAsAlice := forge(t, stranger, audit.Entry{Seq: 51, Time: time.Now().UTC(), Actor: alice, Kind: audit.KindOverride,
		Payload: json.RawMessage(`{"approved":true}`), Prev: head})
	// Inserted in the middle by a trusted key (bob's, stolen): seq 26 after
	// 25, correctly signed, the entries after it moved up by one.
	middle := forge(t, f.signers[2], audit.Entry{Seq: 26, Time: e(25).Time.Add(time.Millisecond), Actor: bob, Kind: audit.KindAuthorization,
		Payload: json.RawMessage(`{"run_id":"run-006"}`), Prev: e(25).Hash})

	tests := []struct {
		name   string
		sql    []string
		keys   audit.Keys
		anchor string
		seq    int64  // first broken entry; 0: verifies
		reason string // in the reason

		entries  int  // checked, when not seq
		noExport bool // the damage makes Export fail, naming the entry
	}{
		{name: "time", sql: []string{`UPDATE audit_log SET time = '2030-01-01T00:00:00.000000000Z' WHERE seq = 17`}, seq: 17, reason: "does not match the entry's contents"},
		{name: "time by a nanosecond", sql: []string{fmt.Sprintf(`UPDATE audit_log SET time = '%s' WHERE seq = 17`, e(17).Time.Add(time.Nanosecond).Format("2006-01-02T15:04:05.000000000Z"))}, seq: 17, reason: "does not match"},
		{name: "time unreadable", sql: []string{`UPDATE audit_log SET time = 'yesterday' WHERE seq = 12`}, seq: 12, reason: "cannot be read", noExport: true},
		{name: "actor", sql: []string{fmt.Sprintf(`UPDATE audit_log SET actor = '%s' WHERE seq = 18`, alice)}, seq: 18, reason: "does not match"},
		{name: "kind", sql: []string{`UPDATE audit_log SET kind = 'signoff.stale' WHERE seq = 19`}, seq: 19, reason: "does not match"},
		{name: "payload", sql: []string{`UPDATE audit_log SET payload = replace(payload, '"i":19', '"i":91') WHERE seq = 20`}, seq: 20, reason: "does not match"},
		{name: "payload whitespace", sql: []string{`UPDATE audit_log SET payload = payload || ' ' WHERE seq = 20`}, seq: 20, reason: "does not match", noExport: true},
		{name: "payload not JSON", sql: []string{`UPDATE audit_log SET payload = 'approved' WHERE seq = 20`}, seq: 20, reason: "does not match", noExport: true},
		{name: "prev", sql: []string{fmt.Sprintf(`UPDATE audit_log SET prev = '%s' WHERE seq = 21`, e(19).Hash)}, seq: 21, reason: "is not the hash of seq 20"},
		{name: "prev of the first", sql: []string{fmt.Sprintf(`UPDATE audit_log SET prev = '%s' WHERE seq = 1`, e(2).Hash)}, seq: 1, reason: "want \"\" for the first entry"},
		{name: "hash", sql: []string{fmt.Sprintf(`UPDATE audit_log SET hash = '%s' WHERE seq = 22`, strings.Repeat("0", 64))}, seq: 22, reason: "hash 0000"},
		{name: "hash of the head", sql: []string{fmt.Sprintf(`UPDATE audit_log SET hash = '%s' WHERE seq = 50`, e(49).Hash)}, seq: 50, reason: "does not match"},
		{name: "sig", sql: []string{fmt.Sprintf(`UPDATE audit_log SET sig = '%s' WHERE seq = 23`, flipSig(e(23).Sig))}, seq: 23, reason: "not a valid signature"},
		{name: "sig not base64", sql: []string{`UPDATE audit_log SET sig = 'not base64!' WHERE seq = 23`}, seq: 23, reason: "not the base64"},
		{name: "delete middle", sql: []string{`DELETE FROM audit_log WHERE seq = 25`}, seq: 26, reason: "seq 26 follows seq 24: seq 25 is missing", entries: 25},
		{name: "delete several", sql: []string{`DELETE FROM audit_log WHERE seq BETWEEN 25 AND 27`}, seq: 28, reason: "seq 25 to 27 are missing", entries: 25},
		{name: "delete first", sql: []string{`DELETE FROM audit_log WHERE seq = 1`}, seq: 2, reason: "the log starts at seq 2, want 1: seq 1 is missing", entries: 1},
		{name: "insert forged by unknown key", sql: []string{insertSQL(tail)}, seq: 51, reason: `actor "mallory@example.com" has no known public key`},
		{name: "insert forged in a known actor's name", sql: []string{insertSQL(tailAsAlice)}, seq: 51, reason: "not a valid signature"},
		{name: "insert signed by a known key", sql: []string{
			`UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 26`,
			`UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000`,
			insertSQL(middle),
		}, seq: 27, reason: "is not the hash of seq 26"},
		{name: "reorder", sql: []string{
			`UPDATE audit_log SET seq = -1 WHERE seq = 30`,
			`UPDATE audit_log SET seq = 30 WHERE seq = 31`,
			`UPDATE audit_log SET seq = 31 WHERE seq = -1`,
		}, seq: 30, reason: "is not the hash of seq 29"},
		{name: "truncate without anchor", sql: []string{`DELETE FROM audit_log WHERE seq > 40`}, entries: 40},
		{name: "truncate with anchor", sql: []string{`DELETE FROM audit_log WHERE seq > 40`}, anchor: head, seq: 41, reason: "anchor " + head + " is not in the log: the log ends at seq 40"},
		{name: "truncate and append with a known key", sql: []string{
			`DELETE FROM audit_log WHERE seq > 40`,
			insertSQL(forge(t, f.signers[0], audit.Entry{Seq: 41, Time: time.Now().UTC(), Actor: f.signers[0].KeyID(), Kind: audit.KindRunFinished, Payload: json.RawMessage(`{}`), Prev: e(40).Hash})),
		}, anchor: head, seq: 42, reason: "is not in the log"},
		{name: "swap sigs", sql: []string{
			fmt.Sprintf(`UPDATE audit_log SET sig = '%s' WHERE seq = 33`, e(36).Sig),
			fmt.Sprintf(`UPDATE audit_log SET sig = '%s' WHERE seq = 36`, e(33).Sig),
		}, seq: 33, reason: "not a valid signature"},
		{name: "substituted public key", keys: substituted, seq: 2, reason: `by "alice@example.com"'s key`},
		{name: "unknown anchor", anchor: strings.Repeat("ab", 32), seq: 51, reason: "is not in the log: the log ends at seq 50"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := f.copyDB(t)
			if len(tc.sql) > 0 {
				tamper(t, path, tc.sql...)
			}
			keys := tc.keys
			if keys == nil {
				keys = f.keys
			}
			db := openDB(t, path)
			rep, err := audit.VerifyStore(ctx, db, keys, tc.anchor)
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, "store", rep, tc.seq, tc.reason)
			if want := cmp.Or(tc.entries, int(tc.seq), 50); rep.Entries != want && tc.anchor == "" {
				t.Errorf("entries checked = %d, want %d", rep.Entries, want)
			}

			var buf bytes.Buffer
			err = audit.Export(ctx, db, &buf)
			if tc.noExport {
				// The file could not hold the entry as stored.
				if want := fmt.Sprintf("seq %d:", tc.seq); err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Export = %v, want an error naming %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			frep, err := audit.VerifyJSONL(&buf, keys, tc.anchor)
			if err != nil {
				t.Fatal(err)
			}
			if !equalReport(frep, rep) {
				t.Errorf("from the export: %s\nfrom the store: %s", js(frep), js(rep))
			}
		})
	}
}

func checkReport(t *testing.T, from string, rep audit.Report, seq int64, reason string) {
	t.Helper()
	if seq == 0 {
		if !rep.OK || rep.Broken != nil {
			t.Errorf("%s: %s, want OK", from, js(rep))
		}
		return
	}
	if rep.OK || rep.Broken == nil {
		t.Fatalf("%s: %s, want broken at seq %d", from, js(rep), seq)
	}
	if rep.Broken.Seq != seq || !strings.Contains(rep.Broken.Reason, reason) {
		t.Errorf("%s: broken at seq %d: %s\nwant seq %d: …%s…", from, rep.Broken.Seq, rep.Broken.Reason, seq, reason)
	}
	if rep.Head == "" && seq > 1 && !strings.HasPrefix(rep.Broken.Reason, "the log starts") {
		t.Errorf("%s: empty head before a break at seq %d", from, seq)
	}
}

func flipSig(s string) string {
	b, _ := base64.StdEncoding.DecodeString(s)
	b[10] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

func TestAppendConcurrent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "prf.db")
	// Two handles on one file stand for two processes; each has two
	// goroutines appending.
	dbs := []*sqlite.DB{openDB(t, path), openDB(t, path)}
	keys := &audit.KeySet{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		s, pub := newSigner(t, fmt.Sprintf("p%d@example.com", g))
		if err := keys.Add(s.KeyID(), pub); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range 100 {
				if _, err := audit.Append(ctx, dbs[g%2], s, audit.KindAttestation, map[string]int{"g": g, "i": i}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep, err := audit.VerifyStore(ctx, dbs[0], keys, "")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != 400 {
		t.Fatalf("after 4×100 concurrent appends: %s", js(rep))
	}
	// Each goroutine's entries are in its own order.
	next := map[string]int{}
	if err := dbs[1].AuditEntries(ctx, func(e audit.Entry) error {
		var p map[string]int
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			return err
		}
		if p["i"] != next[e.Actor] {
			return fmt.Errorf("seq %d: %s entry %d, want %d", e.Seq, e.Actor, p["i"], next[e.Actor])
		}
		next[e.Actor]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestExportReadVerify(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 50)
	db := openDB(t, f.copyDB(t))
	var buf bytes.Buffer
	if err := audit.Export(ctx, db, &buf); err != nil {
		t.Fatal(err)
	}
	exported := buf.String()
	lines := strings.Split(strings.TrimSuffix(exported, "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines", len(lines))
	}
	if !strings.Contains(lines[0], `,"payload":`+string(f.entries[0].Payload)+`,`) {
		t.Errorf("payload not written as stored: %s", lines[0])
	}

	storeRep, err := audit.VerifyStore(ctx, db, f.keys, f.entries[49].Hash)
	if err != nil {
		t.Fatal(err)
	}
	var entries []audit.Entry
	for e, err := range audit.ReadJSONL(strings.NewReader(exported)) {
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	memRep := audit.Verify(slices.Values(entries), f.keys, f.entries[49].Hash)
	fileRep, err := audit.VerifyJSONL(strings.NewReader(exported), f.keys, f.entries[49].Hash)
	if err != nil {
		t.Fatal(err)
	}
	if !storeRep.OK || !equalReport(storeRep, memRep) || !equalReport(storeRep, fileRep) {
		t.Errorf("store %s\nmemory %s\nfile %s", js(storeRep), js(memRep), js(fileRep))
	}

	edit := func(line int, fn func(string) string) string {
		ls := slices.Clone(lines)
		ls[line-1] = fn(ls[line-1])
		return strings.Join(ls, "\n") + "\n"
	}
	tests := []struct {
		name   string
		text   string
		seq    int64
		reason string
	}{
		{"payload", edit(30, func(s string) string { return strings.Replace(s, `"i":29`, `"i":92`, 1) }), 30, "does not match"},
		{"time", edit(31, func(s string) string {
			return strings.Replace(s, f.entries[30].Time.Format(time.RFC3339Nano), f.entries[30].Time.Add(time.Second).Format(time.RFC3339Nano), 1)
		}), 31, "does not match"},
		{"bad JSON", edit(10, func(s string) string { return s[:len(s)/2] }), 10, "line 10:"},
		{"unknown field", edit(11, func(s string) string { return `{"extra":1,` + s[1:] }), 11, `line 11: json: unknown field "extra"`},
		{"two objects", edit(12, func(s string) string { return s + s }), 12, "line 12: data after"},
		{"line removed", edit(13, func(string) string { return "" }), 14, "seq 14 follows seq 12: seq 13 is missing"},
		{"blank lines and CRLF", strings.ReplaceAll("\n"+exported+"\n\n", "\n", "\r\n"), 0, ""},
		{"no final newline", strings.TrimSuffix(exported, "\n"), 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := audit.VerifyJSONL(strings.NewReader(tc.text), f.keys, "")
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, "file", rep, tc.seq, tc.reason)
		})
	}

	// A long line (a payload over the reader's 64 KiB buffer) reads whole.
	big, err := audit.Append(ctx, db, f.signers[1], audit.KindAttestation, map[string]string{"evidence": strings.Repeat("e", 200<<10)})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := audit.Export(ctx, db, &buf); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyJSONL(&buf, f.keys, big.Hash)
	if err != nil || !rep.OK || rep.Entries != 51 {
		t.Errorf("with a 200 KiB line: %s, %v", js(rep), err)
	}

	// A reader that fails is an error, not a broken log.
	_, err = audit.VerifyJSONL(io.MultiReader(strings.NewReader(lines[0]+"\n"), errReader{}), f.keys, "")
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("failing reader: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestVerifyStopsEarly(t *testing.T) {
	f := newFixture(t, 10)
	bad := slices.Clone(f.entries)
	bad[2].Kind = "forged"
	read := 0
	rep := audit.Verify(func(yield func(audit.Entry) bool) {
		for _, e := range bad {
			read++
			if !yield(e) {
				return
			}
		}
	}, f.keys, "")
	if rep.OK || rep.Broken.Seq != 3 || read != 3 {
		t.Errorf("report %s after reading %d entries; want broken at 3 after 3", js(rep), read)
	}
	if rep.Entries != 3 || rep.Head != f.entries[1].Hash {
		t.Errorf("entries %d head %s; want 3 and the hash of seq 2", rep.Entries, rep.Head)
	}
}

// TestVerifyPayloadNotCompact: an entry hashed and signed by a trusted key
// but not written by Append (its payload has spaces) is reported, since no
// export could carry it.
func TestVerifyPayloadNotCompact(t *testing.T) {
	f := newFixture(t, 3)
	last := f.entries[2]
	es := append(slices.Clone(f.entries), forge(t, f.signers[1], audit.Entry{Seq: 4, Time: last.Time, Actor: alice,
		Kind: audit.KindSignoff, Payload: json.RawMessage(`{"role": "CTO"}`), Prev: last.Hash}))
	rep := audit.Verify(slices.Values(es), f.keys, "")
	checkReport(t, "memory", rep, 4, "payload is not compact JSON")
}

// TestVerifyBatches: a broken signature far into the log, past the first
// batch of parallel checks, and a chain break in the same batch after it.
func TestVerifyBatches(t *testing.T) {
	f := memFixture(t, 1200)
	for _, tc := range []struct {
		name string
		mut  func([]audit.Entry)
		seq  int64
	}{
		{"none", func([]audit.Entry) {}, 0},
		{"sig at 1100", func(es []audit.Entry) { es[1099].Sig = flipSig(es[1099].Sig) }, 1100},
		{"sig at 1100, chain at 1101", func(es []audit.Entry) {
			es[1099].Sig = flipSig(es[1099].Sig)
			es[1100].Prev = ""
		}, 1100},
		{"chain at 1100, sig at 1101", func(es []audit.Entry) {
			es[1099].Prev = ""
			es[1100].Sig = flipSig(es[1100].Sig)
		}, 1100},
		{"sig at 1 and 1200", func(es []audit.Entry) {
			es[0].Sig = flipSig(es[0].Sig)
			es[1199].Sig = flipSig(es[1199].Sig)
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := slices.Clone(f.entries)
			tc.mut(es)
			rep := audit.Verify(slices.Values(es), f.keys, "")
			checkReport(t, "memory", rep, tc.seq, "")
			if tc.seq > 1 && rep.Head != f.entries[tc.seq-2].Hash {
				t.Errorf("head %s, want the hash of seq %d", rep.Head, tc.seq-1)
			}
		})
	}
}

func TestComputeHash(t *testing.T) {
	base := audit.Entry{Seq: 7, Time: time.Date(2026, 11, 25, 19, 30, 0, 5, time.UTC), Actor: "ab", Kind: "c",
		Payload: json.RawMessage(`{"x":1}`), Prev: strings.Repeat("0", 64)}
	// Pinned: a change to the canonical encoding would break every stored
	// log, so it must be deliberate (a new domain string, "… v2").
	const want = "b5f71e1e49f577af0eda6c8065ad7905a0977a07d740c9fe0acc1b37c979f72b"
	got := audit.ComputeHash(&base)
	if got != want {
		t.Errorf("hash of the pinned entry = %s, want %s", got, want)
	}
	local := base
	local.Time = base.Time.In(time.FixedZone("CET", 3600))
	if audit.ComputeHash(&local) != got {
		t.Error("the same instant in another zone hashes differently")
	}
	variants := map[string]func(*audit.Entry){
		"seq":             func(e *audit.Entry) { e.Seq++ },
		"time":            func(e *audit.Entry) { e.Time = e.Time.Add(time.Nanosecond) },
		"actor":           func(e *audit.Entry) { e.Actor = "ab " },
		"kind":            func(e *audit.Entry) { e.Kind = "C" },
		"payload":         func(e *audit.Entry) { e.Payload = json.RawMessage(`{"x": 1}`) },
		"prev":            func(e *audit.Entry) { e.Prev = "" },
		"actor|kind move": func(e *audit.Entry) { e.Actor, e.Kind = "a", "bc" },
		"kind|payload":    func(e *audit.Entry) { e.Kind, e.Payload = `c{"x":1}`, nil },
	}
	seen := map[string]string{got: "base"}
	for name, mut := range variants {
		e := base
		mut(&e)
		h := audit.ComputeHash(&e)
		if other, dup := seen[h]; dup {
			t.Errorf("%s hashes like %s", name, other)
		}
		seen[h] = name
	}
	// Hash and Sig are not covered.
	e := base
	e.Hash, e.Sig = "x", "y"
	if audit.ComputeHash(&e) != got {
		t.Error("hash covers Hash or Sig")
	}
}

func TestAppendErrors(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "prf.db"))
	s, _ := newSigner(t, alice)
	for _, tc := range []struct {
		name    string
		signer  audit.Signer
		kind    string
		payload any
		want    string
	}{
		{"nil signer", nil, "signoff", nil, "nil signer"},
		{"empty key id", audit.NewSigner("", nil), "signoff", nil, "empty key id"},
		{"empty kind", s, "", nil, "empty kind"},
		{"payload", s, "signoff", make(chan int), "payload"},
		{"raw payload", s, "signoff", json.RawMessage(`{bad`), "payload"},
		{"signer fails", audit.NewSigner(alice, ed25519.PrivateKey{1, 2}), "signoff", nil, "sign as alice@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.Append(ctx, db, tc.signer, tc.kind, tc.payload)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Append = %v, want an error with %q", err, tc.want)
			}
		})
	}
	rep, err := audit.VerifyStore(ctx, db, &audit.KeySet{}, "")
	if err != nil || rep.Entries != 0 {
		t.Errorf("failed appends stored entries: %s, %v", js(rep), err)
	}
	// A raw payload is stored compact.
	e, err := audit.Append(ctx, db, s, "signoff", json.RawMessage(` { "a" : [1, 2] } `))
	if err != nil || string(e.Payload) != `{"a":[1,2]}` {
		t.Errorf("raw payload stored as %s, %v", e.Payload, err)
	}
}

func TestInstanceKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s1, pub1, created, err := audit.LoadOrCreateInstanceKey(dir)
	if err != nil || !created {
		t.Fatalf("first load: created %v, %v", created, err)
	}
	if want := audit.InstanceKeyID(pub1); s1.KeyID() != want || !strings.HasPrefix(want, "prf-instance:") || len(want) != len("prf-instance:")+16 {
		t.Errorf("key id %q, want %q", s1.KeyID(), want)
	}
	for name, want := range map[string]os.FileMode{"": 0o700, audit.InstanceKeyFile: 0o600, audit.InstancePubFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", filepath.Join(dir, name), fi.Mode().Perm(), want)
		}
	}
	s2, pub2, created, err := audit.LoadOrCreateInstanceKey(dir)
	if err != nil || created || !pub2.Equal(pub1) || s2.KeyID() != s1.KeyID() {
		t.Fatalf("second load: %v, made again %v, same key %v", err, created, pub2.Equal(pub1))
	}
	sig, err := s2.Sign([]byte("m"))
	if err != nil || !ed25519.Verify(pub1, []byte("m"), sig) {
		t.Errorf("signature by the reloaded key does not verify: %v", err)
	}
	ks := &audit.KeySet{}
	if id, err := ks.LoadInstancePub(filepath.Join(dir, audit.InstancePubFile)); err != nil || id != s1.KeyID() {
		t.Errorf("LoadInstancePub = %q, %v", id, err)
	}

	// Created by several at once: one key.
	dir2 := filepath.Join(t.TempDir(), "race")
	var mu sync.Mutex
	ids := map[string]bool{}
	makers := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s, _, created, err := audit.LoadOrCreateInstanceKey(dir2)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			ids[s.KeyID()] = true
			if created {
				makers++
			}
		})
	}
	wg.Wait()
	if makers != 1 {
		t.Errorf("%d of 8 loads say they made the key, want 1", makers)
	}
	if len(ids) != 1 {
		t.Errorf("concurrent creation made %d keys", len(ids))
	}

	// A pub file for another key is refused.
	_, other := newSigner(t, "x")
	b, _ := audit.MarshalPublicKey(other)
	if err := os.WriteFile(filepath.Join(dir, audit.InstancePubFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := audit.LoadOrCreateInstanceKey(dir); err == nil || !strings.Contains(err.Error(), "does not hold the public key") {
		t.Errorf("mismatched instance.pub: %v", err)
	}
	// A key file others can read is refused.
	if err := os.Chmod(filepath.Join(dir, audit.InstanceKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := audit.LoadOrCreateInstanceKey(dir); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("instance.key mode 0644: %v", err)
	}
}

func TestKeySet(t *testing.T) {
	_, pub := newSigner(t, alice)
	_, other := newSigner(t, alice)
	ks := &audit.KeySet{}
	if _, ok := ks.PublicKey(alice); ok {
		t.Error("empty set has a key")
	}
	if err := ks.Add(alice, pub); err != nil {
		t.Fatal(err)
	}
	if err := ks.Add(alice, pub); err != nil {
		t.Errorf("adding the same key again: %v", err)
	}
	if err := ks.Add(alice, other); err == nil {
		t.Error("a second, different key for alice was accepted")
	}
	if err := ks.Add("", pub); err == nil {
		t.Error("empty key id accepted")
	}
	dir := t.TempDir()
	b64 := filepath.Join(dir, "bob.b64")
	if err := os.WriteFile(b64, []byte(base64.StdEncoding.EncodeToString(other)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ks.LoadPub(bob, b64); err != nil {
		t.Fatal(err)
	}
	if got, ok := ks.PublicKey(bob); !ok || !got.Equal(other) {
		t.Error("bob's base64 key not loaded")
	}
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ks.LoadPub("carol@example.com", junk); err == nil || !strings.Contains(err.Error(), "neither a PEM") {
		t.Errorf("junk key file: %v", err)
	}
}

func equalReport(a, b audit.Report) bool { return js(a) == js(b) }

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
