package probe

import (
	"context"
	"errors"
)

// KubernetesSpec is the `kubernetes` probe's settings. (stub: being written)
type KubernetesSpec struct{}

// Validate implements Spec.
func (s *KubernetesSpec) Validate() error { return nil }

// KubernetesObservation is what a `kubernetes` probe saw.
type KubernetesObservation struct{}

func probeKubernetes(ctx context.Context, env Env, s *KubernetesSpec) (KubernetesObservation, error) {
	return KubernetesObservation{}, errors.New("kubernetes: not implemented")
}
