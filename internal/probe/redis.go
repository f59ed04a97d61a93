package probe

import (
	"context"
	"errors"
)

// RedisSpec is the `redis` probe's settings. (stub: being written)
type RedisSpec struct{}

// Validate implements Spec.
func (s *RedisSpec) Validate() error { return nil }

// RedisObservation is what a `redis` probe saw.
type RedisObservation struct{}

func probeRedis(ctx context.Context, env Env, s *RedisSpec) (RedisObservation, error) {
	return RedisObservation{}, errors.New("redis: not implemented")
}
