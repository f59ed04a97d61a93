package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/audit"
)

// The audit log runs on this store; the store itself does not import it.
var _ audit.Store = (*DB)(nil)

// next builds the entry after head; hashes and signatures are
// internal/audit's business and not checked here.
func next(head *audit.Entry) *audit.Entry {
	e := &audit.Entry{Seq: 1, Time: time.Date(2026, 11, 25, 19, 30, 0, 123456789, time.UTC), Actor: "a", Kind: "k",
		Payload: json.RawMessage(`{"x":"<y>"}`), Hash: "h", Sig: "s"}
	if head != nil {
		e.Seq, e.Prev, e.Hash = head.Seq+1, head.Hash, head.Hash+"h"
	}
	return e
}

func TestAuditAppendAndRead(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	defer db.Close()

	n := 0
	if err := db.AuditEntries(ctx, func(audit.Entry) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("empty log: %d entries, %v", n, err)
	}
	var heads []*audit.Entry
	for range 3 {
		if _, err := db.AppendAudit(ctx, func(head *audit.Entry) (*audit.Entry, error) {
			heads = append(heads, head)
			return next(head), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if heads[0] != nil || heads[1].Seq != 1 || heads[2].Seq != 2 || heads[2].Hash != "hh" {
		t.Errorf("heads passed to build: %+v", heads)
	}
	var got []audit.Entry
	if err := db.AuditEntries(ctx, func(e audit.Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d entries", len(got))
	}
	want := next(&got[1])
	if e := got[2]; e.Seq != 3 || !e.Time.Equal(want.Time) || e.Time.Location() != time.UTC || string(e.Payload) != `{"x":"<y>"}` ||
		e.Prev != "hh" || e.Hash != "hhh" || e.Actor != "a" || e.Kind != "k" || e.Sig != "s" {
		t.Errorf("entry 3 read back as %+v", e)
	}

	// One kind only, in seq order.
	if _, err := db.AppendAudit(ctx, func(head *audit.Entry) (*audit.Entry, error) {
		e := next(head)
		e.Kind = "other"
		return e, nil
	}); err != nil {
		t.Fatal(err)
	}
	for kind, want := range map[string][]int64{"k": {1, 2, 3}, "other": {4}, "none": nil} {
		var seqs []int64
		if err := db.AuditEntriesOfKind(ctx, kind, func(e audit.Entry) error { seqs = append(seqs, e.Seq); return nil }); err != nil || !slices.Equal(seqs, want) {
			t.Errorf("AuditEntriesOfKind(%q) = %v, %v; want %v", kind, seqs, err, want)
		}
	}

	// fn's error stops the walk and comes back as is.
	stop := errors.New("stop")
	n = 0
	if err := db.AuditEntries(ctx, func(audit.Entry) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("AuditEntries with a failing fn = %v after %d entries", err, n)
	}
}

func TestAuditAppendRefused(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	defer db.Close()
	if _, err := db.AppendAudit(ctx, func(head *audit.Entry) (*audit.Entry, error) { return next(head), nil }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		build func(*audit.Entry) (*audit.Entry, error)
		want  string
	}{
		{"build fails", func(*audit.Entry) (*audit.Entry, error) { return nil, errors.New("no key") }, "no key"},
		{"no entry", func(*audit.Entry) (*audit.Entry, error) { return nil, nil }, "no entry"},
		{"seq repeated", func(h *audit.Entry) (*audit.Entry, error) { e := next(h); e.Seq = h.Seq; return e, nil }, "seq 1, want 2"},
		{"seq skipped", func(h *audit.Entry) (*audit.Entry, error) { e := next(h); e.Seq += 5; return e, nil }, "seq 7, want 2"},
		{"time out of range", func(h *audit.Entry) (*audit.Entry, error) {
			e := next(h)
			e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			return e, nil
		}, "year 10000"},
		{"nil build", nil, "nil build"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.AppendAudit(ctx, tc.build)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("AppendAudit = %v, want an error with %q", err, tc.want)
			}
		})
	}
	n := 0
	if err := db.AuditEntries(ctx, func(audit.Entry) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("after refused appends: %d entries, %v", n, err)
	}
	// The write connection is free again.
	if _, err := db.AppendAudit(ctx, func(head *audit.Entry) (*audit.Entry, error) { return next(head), nil }); err != nil {
		t.Fatal(err)
	}
}

// TestAuditAppendOnly: the table refuses UPDATE and DELETE (the triggers of
// migration 0004).
func TestAuditAppendOnly(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	defer db.Close()
	if _, err := db.AppendAudit(ctx, func(head *audit.Entry) (*audit.Entry, error) { return next(head), nil }); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit_log SET kind = 'x'`, `DELETE FROM audit_log`, `UPDATE audit_log SET seq = 2`} {
		if _, err := db.w.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused", q, err)
		}
	}
}

func TestAuditCorruptTime(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	defer db.Close()
	for range 2 {
		if _, err := db.AppendAudit(ctx, func(head *audit.Entry) (*audit.Entry, error) { return next(head), nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET time = 'soon' WHERE seq = 2`} {
		if _, err := db.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	err := db.AuditEntries(ctx, func(audit.Entry) error { n++; return nil })
	var ce *audit.CorruptError
	if !errors.As(err, &ce) || ce.Seq != 2 || n != 1 {
		t.Errorf("AuditEntries over a bad time = %v after %d entries, want a CorruptError at seq 2", err, n)
	}
	// Appending after a damaged head still extends it.
	e, err := db.AppendAudit(ctx, func(head *audit.Entry) (*audit.Entry, error) { return next(head), nil })
	if err != nil || e.Seq != 3 || e.Prev != "hh" {
		t.Errorf("append after a damaged head: %+v, %v", e, err)
	}
}

// The entries of one kind are found by the kind index, in seq order,
// without a scan of the log or a sort.
func TestAuditEntriesOfKindUsesTheIndex(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	rows, err := db.r.Query(`EXPLAIN QUERY PLAN SELECT `+auditColumns+` FROM audit_log WHERE kind = ? ORDER BY seq`, "override")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	got := strings.Join(plan, "; ")
	if !strings.Contains(got, "USING INDEX audit_log_kind") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("query plan %q: want the kind index and no sort", got)
	}
}
