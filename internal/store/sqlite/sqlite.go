// Package sqlite is the default store: one file, no server, no cgo
// (modernc.org/sqlite).
//
// One writer connection takes every write, so writers queue in Go instead of
// spinning on SQLITE_BUSY; a separate pool of read-only connections serves
// reads, which in WAL mode never wait on the writer.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	msqlite "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/prfhq/prf/internal/store"
)

var _ store.Store = (*DB)(nil)

// busyTimeout is how long a statement waits for another process's lock
// (another prf sharing the file) before it fails with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// DB is a store.Store in one SQLite file. It is safe for concurrent use.
type DB struct {
	path      string
	w         *sql.DB   // exactly one connection: every write goes through it
	r         *sql.DB   // read-only connections
	insResult *sql.Stmt // prepared on w
	runHead   *sql.Stmt // prepared on w: does the run exist, its next seq
}

// Open opens the database at path, creating the file and its parent
// directories when they are missing, and applies any pending migrations.
func Open(path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := prepareFile(abs); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	// Durability: journal_mode=WAL with synchronous=NORMAL. A commit appends
	// to the WAL with write(2) and returns without fsync; the WAL is synced
	// at checkpoints. Data written with write(2) is in the kernel's page
	// cache, so it survives the process crashing or being killed (kill -9):
	// every AddResults that returned is on disk as far as any later process
	// can tell. Only an OS crash or power loss can lose the last commits
	// before a checkpoint, and even then the database stays consistent.
	// synchronous=FULL would fsync every commit and cap group commit at the
	// disk's fsync rate for no gain against the failures PRF guards against
	// (a runner crashing or being killed).
	uriPath := filepath.ToSlash(abs)
	if !strings.HasPrefix(uriPath, "/") {
		uriPath = "/" + uriPath // file:///C:/… on Windows
	}
	// A file: URI, escaped, so that '?', '#' or '%' in the path stay in the path.
	base := (&url.URL{Scheme: "file", Path: uriPath}).String()
	pragma := func(ps ...string) string {
		q := make([]string, 0, len(ps))
		for _, p := range ps {
			q = append(q, "_pragma="+url.QueryEscape(p))
		}
		return strings.Join(q, "&")
	}
	bt := fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds())
	writeDSN := base + "?" + pragma(bt, "foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)") +
		"&_txlock=immediate" // take the write lock at BEGIN: no deadlock upgrading a read lock
	readDSN := base + "?" + pragma(bt, "foreign_keys(1)", "query_only(1)")

	db := &DB{path: abs}
	ctx := context.Background()
	if db.w, err = sql.Open("sqlite", writeDSN); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	fail := func(what string, err error) (*DB, error) {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %s%w", path, what, describe(err))
	}
	// The first statement opens the file; migrations write to it, which
	// catches a file that is not a database or cannot be written.
	if err := migrate(ctx, db.w); err != nil {
		return fail("", err)
	}
	// Opened after the migrations, so readers find the file in WAL mode.
	if db.r, err = sql.Open("sqlite", readDSN); err != nil {
		return fail("", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	if err := db.r.PingContext(ctx); err != nil {
		return fail("readers: ", err)
	}
	if db.insResult, err = db.w.PrepareContext(ctx, insertResultSQL); err != nil {
		return fail("prepare: ", err)
	}
	if db.runHead, err = db.w.PrepareContext(ctx, runHeadSQL); err != nil {
		return fail("prepare: ", err)
	}
	return db, nil
}

// prepareFile creates the parent directories and, for a new database, an
// empty file readable by its owner only (results hold observations; SQLite
// gives its -wal and -shm files the same mode as the database).
func prepareFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return errors.New("is a directory")
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil // created by another process in the meantime
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// describe adds a hint to SQLite errors whose message alone does not say
// what is wrong with the file.
func describe(err error) error {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("not a PRF database or corrupted: %w", err)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		return fmt.Errorf("cannot write the database file or its directory: %w", err)
	}
	return err
}

// Path is the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// Close closes the database. The last connection to close checkpoints the
// WAL into the database file.
func (db *DB) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{db.insResult, db.runHead} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", db.path, err)
	}
	return nil
}

// timeLayout is RFC 3339 in UTC with a fixed nine-digit fraction: exact, and
// text order is time order (RFC3339Nano trims zeros and would not sort).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func checkTime(field string, t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("%s: year %d out of range", field, y)
	}
	return nil
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("column %s: %w", field, err)
	}
	return t, nil
}

func isConstraint(err error, code int) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code() == code
}

// --- runs

const runColumns = `id, checklist, checklist_digest, checklist_file, environment,
	started_at, finished_at, state, verdict, summary, total, host, pid`

// CreateRun stores a new run. An empty State is stored, and set, as running.
func (db *DB) CreateRun(ctx context.Context, run *store.Run) error {
	if run == nil || run.ID == "" {
		return errors.New("sqlite: create run: empty run id")
	}
	if err := checkTime("started_at", run.StartedAt); err != nil {
		return fmt.Errorf("sqlite: create run %s: %w", run.ID, err)
	}
	if run.State == "" {
		run.State = store.RunRunning
	}
	summary, err := marshalSummary(run.Summary)
	if err != nil {
		return fmt.Errorf("sqlite: create run %s: %w", run.ID, err)
	}
	var finished any
	if run.FinishedAt != nil {
		if err := checkTime("finished_at", *run.FinishedAt); err != nil {
			return fmt.Errorf("sqlite: create run %s: %w", run.ID, err)
		}
		finished = formatTime(*run.FinishedAt)
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO runs (`+runColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		run.ID, run.Checklist, run.ChecklistDigest, run.ChecklistFile, run.Environment,
		formatTime(run.StartedAt), finished, string(run.State), string(run.Verdict), summary,
		run.Total, run.Host, run.PID)
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("sqlite: create run %s: a run with this id exists: %w", run.ID, err)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create run %s: %w", run.ID, err)
	}
	return nil
}

// FinishRun sets the run's state, verdict, summary and end time. A nil
// FinishedAt is stored, and set, as now.
func (db *DB) FinishRun(ctx context.Context, run *store.Run) error {
	if run == nil || run.ID == "" {
		return errors.New("sqlite: finish run: empty run id")
	}
	if run.State == "" {
		return fmt.Errorf("sqlite: finish run %s: empty state", run.ID)
	}
	if run.FinishedAt == nil {
		now := time.Now().UTC()
		run.FinishedAt = &now
	}
	if err := checkTime("finished_at", *run.FinishedAt); err != nil {
		return fmt.Errorf("sqlite: finish run %s: %w", run.ID, err)
	}
	summary, err := marshalSummary(run.Summary)
	if err != nil {
		return fmt.Errorf("sqlite: finish run %s: %w", run.ID, err)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE runs SET state = ?, verdict = ?, summary = ?, finished_at = ? WHERE id = ?`,
		string(run.State), string(run.Verdict), summary, formatTime(*run.FinishedAt), run.ID)
	if err != nil {
		return fmt.Errorf("sqlite: finish run %s: %w", run.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: finish run %s: %w", run.ID, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: finish run %s: %w", run.ID, store.ErrNotFound)
	}
	return nil
}

// GetRun finds a run by its id or by a prefix that only one run's id has.
// An exact id wins over a longer id that it prefixes.
func (db *DB) GetRun(ctx context.Context, id string) (*store.Run, error) {
	if id == "" {
		return nil, fmt.Errorf("sqlite: get run: empty id: %w", store.ErrNotFound)
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: get run %s: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only

	run, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if err == nil {
		return run, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get run %s: %w", id, err)
	}
	// Ids sort bytewise (BINARY collation), so the ids that start with id
	// are the first ones after it: two rows tell unique from ambiguous,
	// through the primary key, without LIKE and its wildcards and case folding.
	rows, err := tx.QueryContext(ctx, `SELECT id FROM runs WHERE id > ? ORDER BY id LIMIT 2`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get run %s: %w", id, err)
	}
	var matches []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: get run %s: %w", id, err)
		}
		if strings.HasPrefix(m, id) {
			matches = append(matches, m)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: get run %s: %w", id, err)
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("sqlite: get run %s: %w", id, store.ErrNotFound)
	case 2:
		return nil, fmt.Errorf("sqlite: get run %s: matches %s, %s, …: %w", id, matches[0], matches[1], store.ErrAmbiguous)
	}
	run, err = scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, matches[0]))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get run %s: %w", id, err)
	}
	return run, nil
}

// ListRuns lists runs newest first (by started_at, then id).
func (db *DB) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	q := `SELECT ` + runColumns + ` FROM runs`
	var args []any
	if f.Checklist != "" {
		q += ` WHERE checklist = ?`
		args = append(args, f.Checklist)
	}
	q += ` ORDER BY started_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", err)
	}
	defer rows.Close()
	runs := []store.Run{}
	for rows.Next() {
		run, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list runs: %w", err)
		}
		runs = append(runs, *run)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", err)
	}
	return runs, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanRun(s scanner) (*store.Run, error) {
	var (
		run              store.Run
		started, state   string
		verdict          string
		finished, summry sql.NullString
	)
	if err := s.Scan(&run.ID, &run.Checklist, &run.ChecklistDigest, &run.ChecklistFile, &run.Environment,
		&started, &finished, &state, &verdict, &summry, &run.Total, &run.Host, &run.PID); err != nil {
		return nil, err
	}
	run.State, run.Verdict = store.RunState(state), store.Verdict(verdict)
	var err error
	if run.StartedAt, err = parseTime("started_at", started); err != nil {
		return nil, fmt.Errorf("run %s: %w", run.ID, err)
	}
	if finished.Valid {
		t, err := parseTime("finished_at", finished.String)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", run.ID, err)
		}
		run.FinishedAt = &t
	}
	if summry.Valid {
		if err := json.Unmarshal([]byte(summry.String), &run.Summary); err != nil {
			return nil, fmt.Errorf("run %s: column summary: %w", run.ID, err)
		}
	}
	return &run, nil
}

func marshalSummary(m map[store.Status]int) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	return string(b), nil
}

// RecoverInterrupted marks every run still running whose process is gone
// as interrupted and not ready. Its summary is counted from its stored
// results, and its end is when its last result ended (now if it has none).
func (db *DB) RecoverInterrupted(ctx context.Context, alive func(host string, pid int) bool) ([]string, error) {
	if alive == nil {
		return nil, errors.New("sqlite: recover interrupted runs: nil alive func")
	}
	type candidate struct {
		id, host string
		pid      int
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, host, pid FROM runs WHERE state = ? ORDER BY started_at, id`, string(store.RunRunning))
	if err != nil {
		return nil, fmt.Errorf("sqlite: recover interrupted runs: %w", err)
	}
	var cands []candidate
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.id, &c.host, &c.pid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: recover interrupted runs: %w", err)
		}
		cands = append(cands, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: recover interrupted runs: %w", err)
	}

	ids := []string{}
	for _, c := range cands {
		if alive(c.host, c.pid) {
			continue
		}
		ok, err := db.markInterrupted(ctx, c.id)
		if err != nil {
			return ids, fmt.Errorf("sqlite: recover interrupted run %s: %w", c.id, err)
		}
		if ok {
			ids = append(ids, c.id)
		}
	}
	return ids, nil
}

// markInterrupted reports false when the run stopped running meanwhile
// (its process finished it after we looked).
func (db *DB) markInterrupted(ctx context.Context, id string) (ok bool, err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || !ok {
			_ = tx.Rollback()
		}
	}()
	rows, err := tx.QueryContext(ctx, `SELECT status, started_at, duration_ms FROM results WHERE run_id = ? ORDER BY seq`, id)
	if err != nil {
		return false, err
	}
	var (
		results []store.Result
		last    time.Time
	)
	for rows.Next() {
		var (
			status, started string
			dur             float64
		)
		if err := rows.Scan(&status, &started, &dur); err != nil {
			rows.Close()
			return false, err
		}
		t, err := parseTime("started_at", started)
		if err != nil {
			rows.Close()
			return false, err
		}
		if end := t.Add(time.Duration(dur * float64(time.Millisecond))); end.After(last) {
			last = end
		}
		results = append(results, store.Result{Status: store.Status(status)})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return false, err
	}
	if len(results) == 0 {
		last = time.Now()
	}
	summary, err := marshalSummary(store.Summarize(results))
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE runs SET state = ?, verdict = ?, finished_at = ?, summary = ? WHERE id = ? AND state = ?`,
		string(store.RunInterrupted), string(store.VerdictNotReady), formatTime(last), summary, id, string(store.RunRunning))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	return true, tx.Commit()
}

// --- results

const insertResultSQL = `INSERT INTO results (run_id, seq, checkpoint_id, title, domain, category,
	owner, severity, mode, kind, validation, controls, tags, status, message, expect,
	expect_values, observation, log, started_at, duration_ms, attempts, position, skip, source)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const resultColumns = 25

const runHeadSQL = `SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?),
	(SELECT COALESCE(MAX(seq), 0) + 1 FROM results WHERE run_id = ?)`

// AddResults stores results in one transaction, committed when it returns.
// A result whose Seq is 0 gets the run's next seq; the caller's slice is
// not modified.
func (db *DB) AddResults(ctx context.Context, runID string, results []store.Result) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlite: add results to run %s: %w", runID, err)
		}
	}()
	if runID == "" {
		return errors.New("empty run id")
	}
	// Encode before taking the writer, so that concurrent callers encode in
	// parallel and the write lock is held only for the inserts.
	args := make([]any, 0, len(results)*resultColumns)
	for i := range results {
		if args, err = appendResultArgs(args, runID, &results[i]); err != nil {
			return fmt.Errorf("result %d (%q): %w", i, results[i].ID, err)
		}
	}

	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var exists bool
	var next int
	if err := tx.StmtContext(ctx, db.runHead).QueryRowContext(ctx, runID, runID).Scan(&exists, &next); err != nil {
		return err
	}
	if !exists {
		return store.ErrNotFound
	}
	stmt := tx.StmtContext(ctx, db.insResult)
	for i := range results {
		row := args[i*resultColumns : (i+1)*resultColumns]
		if seq := results[i].Seq; seq == 0 {
			row[1] = next
			next++
		} else {
			row[1] = seq
			next = max(next, seq+1)
		}
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			switch {
			case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE):
				return fmt.Errorf("checkpoint %q: already stored in this run: %w", results[i].ID, err)
			case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
				return fmt.Errorf("checkpoint %q: seq %d already stored in this run: %w", results[i].ID, row[1], err)
			}
			return fmt.Errorf("checkpoint %q: %w", results[i].ID, err)
		}
	}
	return tx.Commit()
}

func appendResultArgs(args []any, runID string, r *store.Result) ([]any, error) {
	if r.RunID != "" && r.RunID != runID {
		return nil, fmt.Errorf("result belongs to run %s", r.RunID)
	}
	if r.ID == "" {
		return nil, errors.New("empty checkpoint id")
	}
	if r.Seq < 0 {
		return nil, fmt.Errorf("negative seq %d", r.Seq)
	}
	if math.IsNaN(r.DurationMS) {
		return nil, errors.New("duration_ms is NaN")
	}
	if err := checkTime("started_at", r.StartedAt); err != nil {
		return nil, err
	}
	controls, err := marshalStrings(r.Controls)
	if err != nil {
		return nil, fmt.Errorf("controls: %w", err)
	}
	tags, err := marshalStrings(r.Tags)
	if err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	log, err := marshalStrings(r.Log)
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	return append(args,
		runID, r.Seq, r.ID, r.Title, r.Domain, r.Category,
		r.Owner, r.Severity, r.Mode, r.Kind, r.Validation, controls, tags, string(r.Status), r.Message, r.Expect,
		rawText(r.Values), rawText(r.Observation), log, formatTime(r.StartedAt), r.DurationMS, r.Attempts, r.Position, r.Skip, r.Source,
	), nil
}

// marshalStrings keeps nil (NULL) apart from empty ("[]").
func marshalStrings(s []string) (any, error) {
	if s == nil {
		return nil, nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func unmarshalStrings(col string, v sql.NullString) ([]string, error) {
	if !v.Valid {
		return nil, nil
	}
	var s []string
	if err := json.Unmarshal([]byte(v.String), &s); err != nil {
		return nil, fmt.Errorf("column %s: %w", col, err)
	}
	return s, nil
}

// rawText stores a message verbatim, nil as NULL.
func rawText(m json.RawMessage) any {
	if m == nil {
		return nil
	}
	return string(m)
}

func rawMessage(v sql.NullString) json.RawMessage {
	if !v.Valid {
		return nil
	}
	return json.RawMessage(v.String)
}

// Results returns a run's results in seq order.
func (db *DB) Results(ctx context.Context, runID string) (results []store.Result, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlite: results of run %s: %w", runID, err)
		}
	}()
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	rows, err := tx.QueryContext(ctx, `SELECT seq, checkpoint_id, title, domain, category,
		owner, severity, mode, kind, validation, controls, tags, status, message, expect,
		expect_values, observation, log, started_at, duration_ms, attempts, position, skip, source
		FROM results WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	results = []store.Result{}
	for rows.Next() {
		r := store.Result{RunID: runID}
		var (
			controls, tags, log, values, obs sql.NullString
			status, started                  string
		)
		if err := rows.Scan(&r.Seq, &r.ID, &r.Title, &r.Domain, &r.Category,
			&r.Owner, &r.Severity, &r.Mode, &r.Kind, &r.Validation, &controls, &tags, &status, &r.Message, &r.Expect,
			&values, &obs, &log, &started, &r.DurationMS, &r.Attempts, &r.Position, &r.Skip, &r.Source); err != nil {
			return nil, err
		}
		r.Status = store.Status(status)
		r.Values, r.Observation = rawMessage(values), rawMessage(obs)
		if r.Controls, err = unmarshalStrings("controls", controls); err != nil {
			return nil, fmt.Errorf("seq %d: %w", r.Seq, err)
		}
		if r.Tags, err = unmarshalStrings("tags", tags); err != nil {
			return nil, fmt.Errorf("seq %d: %w", r.Seq, err)
		}
		if r.Log, err = unmarshalStrings("log", log); err != nil {
			return nil, fmt.Errorf("seq %d: %w", r.Seq, err)
		}
		if r.StartedAt, err = parseTime("started_at", started); err != nil {
			return nil, fmt.Errorf("seq %d: %w", r.Seq, err)
		}
		results = append(results, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(results) == 0 {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?)`, runID).Scan(&exists); err != nil {
			return nil, err
		}
		if !exists {
			return nil, store.ErrNotFound
		}
	}
	return results, nil
}
