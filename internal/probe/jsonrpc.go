package probe

import (
	"context"
	"errors"
)

// JSONRPCSpec is the `jsonrpc` probe's settings. (stub: being written)
type JSONRPCSpec struct{}

// Validate implements Spec.
func (s *JSONRPCSpec) Validate() error { return nil }

// JSONRPCObservation is what a `jsonrpc` probe saw.
type JSONRPCObservation struct{}

func probeJSONRPC(ctx context.Context, env Env, s *JSONRPCSpec) (JSONRPCObservation, error) {
	return JSONRPCObservation{}, errors.New("jsonrpc: not implemented")
}
