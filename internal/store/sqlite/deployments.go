package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/prfhq/prf/internal/store"
)

const deploymentColumns = `id, service, environment, from_rev, to_rev, time, outcome, run_id, note, recorded_at`

// AddDeployments stores deployments in one transaction: all of them or,
// on any error, none. A deployment without an ID gets a new time-ordered
// one from its time (store.NewID), and RecordedAt is set to now where it
// is zero; both are written back to ds once the transaction has
// committed. An ID that is already stored (or given twice) is a
// *store.DuplicateError. The outcome must be one of store.Outcomes; the
// table's CHECK holds that.
func (db *DB) AddDeployments(ctx context.Context, ds []store.Deployment) (n int, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlite: add deployments: %w", err)
		}
	}()
	if len(ds) == 0 {
		return 0, nil
	}
	now := time.Now().UTC()
	rows := make([]store.Deployment, len(ds))
	generated := make([]bool, len(ds))
	for i, d := range ds {
		if err := checkDeployment(&d); err != nil {
			return 0, fmt.Errorf("deployment %d: %w", i+1, err)
		}
		if d.ID == "" {
			d.ID, generated[i] = store.NewID(d.Time), true
		}
		if d.RecordedAt.IsZero() {
			d.RecordedAt = now
		}
		if err := checkTime("recorded_at", d.RecordedAt); err != nil {
			return 0, fmt.Errorf("deployment %s: %w", d.ID, err)
		}
		rows[i] = d
	}

	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO deployments (`+deploymentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for i := range rows {
		d := &rows[i]
		for try := 0; ; try++ {
			_, err = stmt.ExecContext(ctx, d.ID, d.Service, d.Environment, d.FromRev, d.ToRev,
				formatTime(d.Time), d.Outcome, d.RunID, d.Note, formatTime(d.RecordedAt))
			// A generated id that meets another (same second, same random
			// bits) is drawn again; a failed INSERT leaves the transaction
			// as it was.
			if generated[i] && try < 3 && isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
				d.ID = store.NewID(d.Time)
				continue
			}
			break
		}
		switch {
		case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
			return 0, &store.DuplicateError{What: "deployment", ID: d.ID}
		case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_CHECK):
			return 0, fmt.Errorf("deployment %s: %w", d.ID, outcomeError(d.Outcome))
		case err != nil:
			return 0, fmt.Errorf("deployment %s: %w", d.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	copy(ds, rows)
	return len(rows), nil
}

// checkDeployment checks what the table's CHECKs would report without
// saying which column: the fields a deployment cannot be without.
func checkDeployment(d *store.Deployment) error {
	switch {
	case d.Service == "":
		return errors.New("empty service")
	case d.Environment == "":
		return errors.New("empty environment")
	case d.ToRev == "":
		return errors.New("empty to_rev")
	case d.Time.IsZero():
		return errors.New("no time")
	}
	return checkTime("time", d.Time)
}

func outcomeError(got string) error {
	return fmt.Errorf("outcome %q: want one of %s", got, strings.Join(store.Outcomes, ", "))
}

// Deployments returns the deployments that f selects, oldest first
// (deployments at the same time in the order they were stored). With a
// Limit, they are the most recent Limit of them.
func (db *DB) Deployments(ctx context.Context, f store.DeploymentFilter) ([]store.Deployment, error) {
	var (
		where []string
		args  []any
	)
	if f.Service != "" {
		where, args = append(where, `service = ?`), append(args, f.Service)
	}
	if f.Environment != "" {
		where, args = append(where, `environment = ?`), append(args, f.Environment)
	}
	if !f.Since.IsZero() {
		where, args = append(where, `time >= ?`), append(args, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, `time < ?`), append(args, formatTime(f.Until))
	}
	q := `SELECT rowid AS seq, ` + deploymentColumns + ` FROM deployments`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if f.Limit > 0 {
		q = `SELECT * FROM (` + q + ` ORDER BY time DESC, seq DESC LIMIT ?)`
		args = append(args, f.Limit)
	}
	q += ` ORDER BY time, seq`
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: deployments: %w", err)
	}
	defer rows.Close()
	out := []store.Deployment{}
	for rows.Next() {
		var (
			d            store.Deployment
			seq          int64
			at, recorded string
		)
		if err := rows.Scan(&seq, &d.ID, &d.Service, &d.Environment, &d.FromRev, &d.ToRev,
			&at, &d.Outcome, &d.RunID, &d.Note, &recorded); err != nil {
			return nil, fmt.Errorf("sqlite: deployments: %w", err)
		}
		if d.Time, err = parseTime("time", at); err != nil {
			return nil, fmt.Errorf("sqlite: deployment %s: %w", d.ID, err)
		}
		if d.RecordedAt, err = parseTime("recorded_at", recorded); err != nil {
			return nil, fmt.Errorf("sqlite: deployment %s: %w", d.ID, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: deployments: %w", err)
	}
	return out, nil
}

// SetDeploymentOutcome sets a stored deployment's outcome (an unknown one
// once it is known, or a success that later caused an incident). A note
// that is not empty replaces the deployment's note; an empty one keeps it.
// An unknown id is store.ErrNotFound.
func (db *DB) SetDeploymentOutcome(ctx context.Context, id, outcome, note string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE deployments SET outcome = ?, note = CASE WHEN ? = '' THEN note ELSE ? END WHERE id = ?`,
		outcome, note, note, id)
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_CHECK) {
		err = outcomeError(outcome)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set outcome of deployment %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: set outcome of deployment %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: set outcome of deployment %s: %w", id, store.ErrNotFound)
	}
	return nil
}
