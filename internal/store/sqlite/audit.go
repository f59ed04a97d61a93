package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/prfhq/prf/internal/store"
)

const auditColumns = `seq, time, actor, kind, payload, prev, hash, sig`

// AppendAudit stores the entry that build makes from the log's head (nil
// when the log is empty), in one write transaction: this process's writers
// queue on the one write connection, and another process's wait on the
// database's write lock, taken at BEGIN (IMMEDIATE), so every appender sees
// the head it extends. The entry must have the head's seq plus one (1 for
// the first). build must not use db: the write connection is held.
func (db *DB) AppendAudit(ctx context.Context, build func(head *store.AuditEntry) (*store.AuditEntry, error)) (e *store.AuditEntry, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlite: append audit entry: %w", err)
		}
	}()
	if build == nil {
		return nil, errors.New("nil build func")
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	head, err := scanAudit(tx.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_log ORDER BY seq DESC LIMIT 1`))
	var ce *store.AuditCorruptError
	switch {
	case errors.Is(err, sql.ErrNoRows):
		head, err = nil, nil
	case errors.As(err, &ce):
		// The head's time does not parse; its seq and hash are what the
		// next entry needs, and verification reports the damage.
		err = nil
	case err != nil:
		return nil, err
	}
	e, err = build(head)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, errors.New("build returned no entry")
	}
	want := int64(1)
	if head != nil {
		want = head.Seq + 1
	}
	if e.Seq != want {
		return nil, fmt.Errorf("entry has seq %d, want %d (one past the head)", e.Seq, want)
	}
	if err := checkTime("time", e.Time); err != nil {
		return nil, fmt.Errorf("seq %d: %w", e.Seq, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, formatTime(e.Time), e.Actor, e.Kind, string(e.Payload), e.Prev, e.Hash, e.Sig); err != nil {
		return nil, fmt.Errorf("seq %d: %w", e.Seq, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return e, nil
}

// AuditEntries calls fn for every audit entry in seq order, read from one
// snapshot (appends committed meanwhile are not seen), and stops at fn's
// first error, which it returns as is. An entry whose time does not parse
// is an *store.AuditCorruptError.
func (db *DB) AuditEntries(ctx context.Context, fn func(store.AuditEntry) error) error {
	return db.auditEntries(ctx, fn, ``)
}

// AuditEntriesOfKind is AuditEntries for the entries of one kind.
func (db *DB) AuditEntriesOfKind(ctx context.Context, kind string, fn func(store.AuditEntry) error) error {
	return db.auditEntries(ctx, fn, `WHERE kind = ?`, kind)
}

func (db *DB) auditEntries(ctx context.Context, fn func(store.AuditEntry) error, where string, args ...any) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: audit entries: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log `+where+` ORDER BY seq`, args...)
	if err != nil {
		return fmt.Errorf("sqlite: audit entries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			var ce *store.AuditCorruptError
			if errors.As(err, &ce) {
				return err
			}
			return fmt.Errorf("sqlite: audit entries: %w", err)
		}
		if err := fn(*e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: audit entries: %w", err)
	}
	return nil
}

// scanAudit reads one row. A time that does not parse is returned as an
// *store.AuditCorruptError along with the rest of the entry.
func scanAudit(s scanner) (*store.AuditEntry, error) {
	var (
		e        store.AuditEntry
		ts, pl   string
		parseErr error
	)
	if err := s.Scan(&e.Seq, &ts, &e.Actor, &e.Kind, &pl, &e.Prev, &e.Hash, &e.Sig); err != nil {
		return nil, err
	}
	e.Payload = []byte(pl)
	if e.Time, parseErr = parseTime("time", ts); parseErr != nil {
		return &e, &store.AuditCorruptError{Seq: e.Seq, Err: parseErr}
	}
	return &e, nil
}
