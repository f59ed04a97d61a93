package probe

import (
	"context"
	"errors"
)

// AuthSpec is the `auth` probe's settings. (stub: being written)
type AuthSpec struct{}

// Validate implements Spec.
func (s *AuthSpec) Validate() error { return nil }

// AuthObservation is what a `auth` probe saw.
type AuthObservation struct{}

func probeAuth(ctx context.Context, env Env, s *AuthSpec) (AuthObservation, error) {
	return AuthObservation{}, errors.New("auth: not implemented")
}
