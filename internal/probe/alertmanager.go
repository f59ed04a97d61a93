package probe

import (
	"context"
	"errors"
)

// AlertmanagerSpec is the `alertmanager` probe's settings. (stub: being written)
type AlertmanagerSpec struct{}

// Validate implements Spec.
func (s *AlertmanagerSpec) Validate() error { return nil }

// AlertmanagerObservation is what a `alertmanager` probe saw.
type AlertmanagerObservation struct{}

func probeAlertmanager(ctx context.Context, env Env, s *AlertmanagerSpec) (AlertmanagerObservation, error) {
	return AlertmanagerObservation{}, errors.New("alertmanager: not implemented")
}
