package probe

import (
	"context"
	"errors"
)

// RateLimitSpec is the `ratelimit` probe's settings. (stub: being written)
type RateLimitSpec struct{}

// Validate implements Spec.
func (s *RateLimitSpec) Validate() error { return nil }

// RateLimitObservation is what a `ratelimit` probe saw.
type RateLimitObservation struct{}

func probeRateLimit(ctx context.Context, env Env, s *RateLimitSpec) (RateLimitObservation, error) {
	return RateLimitObservation{}, errors.New("ratelimit: not implemented")
}
