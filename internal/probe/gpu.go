package probe

import (
	"context"
	"errors"
)

// GPUSpec is the `gpu` probe's settings. (stub: being written)
type GPUSpec struct{}

// Validate implements Spec.
func (s *GPUSpec) Validate() error { return nil }

// GPUObservation is what a `gpu` probe saw.
type GPUObservation struct{}

func probeGPU(ctx context.Context, env Env, s *GPUSpec) (GPUObservation, error) {
	return GPUObservation{}, errors.New("gpu: not implemented")
}
