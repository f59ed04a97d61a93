package probe

import (
	"context"
	"errors"
)

// S3Spec is the `s3` probe's settings. (stub: being written)
type S3Spec struct{}

// Validate implements Spec.
func (s *S3Spec) Validate() error { return nil }

// S3Observation is what a `s3` probe saw.
type S3Observation struct{}

func probeS3(ctx context.Context, env Env, s *S3Spec) (S3Observation, error) {
	return S3Observation{}, errors.New("s3: not implemented")
}
