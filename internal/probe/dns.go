package probe

import (
	"context"
	"errors"
)

// DNSSpec is the `dns` probe's settings. (stub: being written)
type DNSSpec struct{}

// Validate implements Spec.
func (s *DNSSpec) Validate() error { return nil }

// DNSObservation is what a `dns` probe saw.
type DNSObservation struct{}

func probeDNS(ctx context.Context, env Env, s *DNSSpec) (DNSObservation, error) {
	return DNSObservation{}, errors.New("dns: not implemented")
}
