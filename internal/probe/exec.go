package probe

import (
	"context"
	"errors"
)

// ExecSpec is the `exec` probe's settings. (stub: being written)
type ExecSpec struct{}

// Validate implements Spec.
func (s *ExecSpec) Validate() error { return nil }

// ExecObservation is what a `exec` probe saw.
type ExecObservation struct{}

func probeExec(ctx context.Context, env Env, s *ExecSpec) (ExecObservation, error) {
	return ExecObservation{}, errors.New("exec: not implemented")
}
