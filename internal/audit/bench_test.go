package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prfhq/prf/internal/audit"
	"github.com/prfhq/prf/internal/store/sqlite"
)

// BenchmarkVerify100k: verify throughput on a log of 100,000 entries by
// three signers, built once in memory (the same entries Append writes, with
// realistic payloads) and loaded into SQLite in one transaction and into a
// JSON Lines export.
//
//	go test -run x -bench Verify100k -benchtime 3x ./internal/audit
func BenchmarkVerify100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	f := memFixture(b, n)
	path := filepath.Join(b.TempDir(), "prf.db")
	db, err := sqlite.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bulkInsert(b, path, f.entries)
	var jsonl bytes.Buffer
	if err := audit.Export(ctx, db, &jsonl); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d entries: SQLite file, %.1f MB of JSON Lines", n, float64(jsonl.Len())/1e6)

	check := func(b *testing.B, rep audit.Report) {
		if !rep.OK || rep.Entries != n {
			b.Fatalf("report %+v", rep)
		}
	}
	perSec := func(b *testing.B) {
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		b.ReportMetric(0, "ns/op") // per op is per 100k: entries/s says it
	}
	b.Run("VerifyStore", func(b *testing.B) {
		for b.Loop() {
			rep, err := audit.VerifyStore(ctx, db, f.keys, f.entries[n-1].Hash)
			if err != nil {
				b.Fatal(err)
			}
			check(b, rep)
		}
		perSec(b)
	})
	b.Run("VerifyJSONL", func(b *testing.B) {
		for b.Loop() {
			rep, err := audit.VerifyJSONL(bytes.NewReader(jsonl.Bytes()), f.keys, f.entries[n-1].Hash)
			if err != nil {
				b.Fatal(err)
			}
			check(b, rep)
		}
		perSec(b)
	})
	b.Run("VerifyMemory", func(b *testing.B) {
		for b.Loop() {
			check(b, audit.Verify(slices.Values(f.entries), f.keys, f.entries[n-1].Hash))
		}
		perSec(b)
	})
	b.Run("Export", func(b *testing.B) {
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := audit.Export(ctx, db, &buf); err != nil {
				b.Fatal(err)
			}
		}
		perSec(b)
	})
}

// bulkInsert writes entries straight into the audit_log table in one
// transaction: building 100,000 entries through Append would take a
// transaction each.
func bulkInsert(b *testing.B, path string, entries []audit.Entry) {
	b.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin()
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO audit_log (seq, time, actor, kind, payload, prev, hash, sig) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if _, err := stmt.Exec(e.Seq, e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z"), e.Actor, e.Kind, string(e.Payload), e.Prev, e.Hash, e.Sig); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppend: the latency of one Append into SQLite (hash, sign, one
// write transaction), on a log that already holds entries.
//
//	go test -run x -bench Append ./internal/audit
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "prf.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, pub := newSigner(b, alice)
	keys := &audit.KeySet{}
	if err := keys.Add(alice, pub); err != nil {
		b.Fatal(err)
	}
	payload := json.RawMessage(`{"run_id":"20261125-1930-ab12","checkpoint":"SEC-004","status":"pass","evidence":"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}`)
	for range 1000 {
		if _, err := audit.Append(ctx, db, s, audit.KindAttestation, payload); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := audit.Append(ctx, db, s, audit.KindAttestation, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Four appenders at once on one handle: they queue on the write
	// connection, so this is throughput, not lower latency.
	b.Run("Parallel4", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := audit.Append(ctx, db, s, audit.KindAttestation, payload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	rep, err := audit.VerifyStore(ctx, db, keys, "")
	if err != nil || !rep.OK {
		b.Fatalf("after the benchmark: %+v, %v", rep, err)
	}
}
