package probe

import (
	"context"
	"errors"
)

// PostgresSpec is the `postgres` probe's settings. (stub: being written)
type PostgresSpec struct{}

// Validate implements Spec.
func (s *PostgresSpec) Validate() error { return nil }

// PostgresObservation is what a `postgres` probe saw.
type PostgresObservation struct{}

func probePostgres(ctx context.Context, env Env, s *PostgresSpec) (PostgresObservation, error) {
	return PostgresObservation{}, errors.New("postgres: not implemented")
}
