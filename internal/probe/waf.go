package probe

import (
	"context"
	"errors"
)

// WAFSpec is the `waf` probe's settings. (stub: being written)
type WAFSpec struct{}

// Validate implements Spec.
func (s *WAFSpec) Validate() error { return nil }

// WAFObservation is what a `waf` probe saw.
type WAFObservation struct{}

func probeWAF(ctx context.Context, env Env, s *WAFSpec) (WAFObservation, error) {
	return WAFObservation{}, errors.New("waf: not implemented")
}
