package probe

import (
	"context"
	"errors"
)

// PrometheusSpec is the `prometheus` probe's settings. (stub: being written)
type PrometheusSpec struct{}

// Validate implements Spec.
func (s *PrometheusSpec) Validate() error { return nil }

// PrometheusObservation is what a `prometheus` probe saw.
type PrometheusObservation struct{}

func probePrometheus(ctx context.Context, env Env, s *PrometheusSpec) (PrometheusObservation, error) {
	return PrometheusObservation{}, errors.New("prometheus: not implemented")
}
