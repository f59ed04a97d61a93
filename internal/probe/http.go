package probe

import (
	"context"
	"errors"
)

// HTTPSpec is the `http` probe's settings. (stub: being written)
type HTTPSpec struct{}

// Validate implements Spec.
func (s *HTTPSpec) Validate() error { return nil }

// HTTPObservation is what a `http` probe saw.
type HTTPObservation struct{}

func probeHTTP(ctx context.Context, env Env, s *HTTPSpec) (HTTPObservation, error) {
	return HTTPObservation{}, errors.New("http: not implemented")
}
