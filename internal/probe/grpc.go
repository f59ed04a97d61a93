package probe

import (
	"context"
	"errors"
)

// GRPCSpec is the `grpc` probe's settings. (stub: being written)
type GRPCSpec struct{}

// Validate implements Spec.
func (s *GRPCSpec) Validate() error { return nil }

// GRPCObservation is what a `grpc` probe saw.
type GRPCObservation struct{}

func probeGRPC(ctx context.Context, env Env, s *GRPCSpec) (GRPCObservation, error) {
	return GRPCObservation{}, errors.New("grpc: not implemented")
}
