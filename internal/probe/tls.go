package probe

import (
	"context"
	"errors"
)

// TLSSpec is the `tls` probe's settings. (stub: being written)
type TLSSpec struct{}

// Validate implements Spec.
func (s *TLSSpec) Validate() error { return nil }

// TLSObservation is what a `tls` probe saw.
type TLSObservation struct{}

func probeTLS(ctx context.Context, env Env, s *TLSSpec) (TLSObservation, error) {
	return TLSObservation{}, errors.New("tls: not implemented")
}
