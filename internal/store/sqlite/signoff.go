package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/prfhq/prf/internal/store"
)

// Attest records an attestation of a manual checkpoint in one transaction:
// the result takes the attested status and message, the signed statement
// is kept, and the run's summary and verdict are recomputed.
func (db *DB) Attest(ctx context.Context, a *store.Attestation) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlite: attest %s in run %s: %w", a.CheckpointID, a.RunID, err)
		}
	}()
	if err := checkTime("at", a.At); err != nil {
		return err
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
	res, err := tx.ExecContext(ctx, `UPDATE results SET status = ?, message = ? WHERE run_id = ? AND checkpoint_id = ?`,
		string(a.Status), a.Message, a.RunID, a.CheckpointID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO attestations (run_id, seq, checkpoint_id, status, signer, at, statement)
		VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM attestations WHERE run_id = ?), ?, ?, ?, ?, ?)`,
		a.RunID, a.RunID, a.CheckpointID, string(a.Status), a.Signer, formatTime(a.At), string(a.Statement)); err != nil {
		return err
	}
	if err := resummarize(ctx, tx, a.RunID); err != nil {
		return err
	}
	return tx.Commit()
}

// resummarize recounts a run's results and sets its verdict.
func resummarize(ctx context.Context, tx *sql.Tx, runID string) error {
	rows, err := tx.QueryContext(ctx, `SELECT status, mode, severity, skip FROM results WHERE run_id = ?`, runID)
	if err != nil {
		return err
	}
	var rs []store.Result
	for rows.Next() {
		var r store.Result
		var st string
		if err := rows.Scan(&st, &r.Mode, &r.Severity, &r.Skip); err != nil {
			rows.Close()
			return err
		}
		r.Status = store.Status(st)
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	verdict := store.VerdictReady
	for i := range rs {
		if rs[i].Blocks() {
			verdict = store.VerdictNotReady
		}
	}
	sum, err := marshalSummary(store.Summarize(rs))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE runs SET summary = ?, verdict = CASE WHEN state = 'running' THEN verdict ELSE ? END WHERE id = ?`, sum, string(verdict), runID)
	return err
}

// AddSignoff stores a role's sign-off of a run.
func (db *DB) AddSignoff(ctx context.Context, s *store.Signoff) error {
	if err := checkTime("at", s.At); err != nil {
		return err
	}
	if s.RunID == "" || s.Role == "" || s.Signer == "" {
		return errors.New("sqlite: sign-off: empty run, role or signer")
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO signoffs (run_id, seq, role, signer, results_digest, at, statement)
		VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM signoffs WHERE run_id = ?), ?, ?, ?, ?, ?)`,
		s.RunID, s.RunID, s.Role, s.Signer, s.ResultsDigest, formatTime(s.At), string(s.Statement))
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return fmt.Errorf("sqlite: sign-off of run %s: %w", s.RunID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: sign-off of run %s: %w", s.RunID, err)
	}
	return nil
}

// Signoffs lists a run's sign-offs in the order they were made.
func (db *DB) Signoffs(ctx context.Context, runID string) ([]store.Signoff, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT role, signer, results_digest, at, statement FROM signoffs WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sign-offs of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []store.Signoff
	for rows.Next() {
		s := store.Signoff{RunID: runID}
		var at, stmt string
		if err := rows.Scan(&s.Role, &s.Signer, &s.ResultsDigest, &at, &stmt); err != nil {
			return nil, err
		}
		s.Statement = json.RawMessage(stmt)
		if s.At, err = parseTime("at", at); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
