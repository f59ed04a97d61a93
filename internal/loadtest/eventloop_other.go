//go:build !linux

package loadtest

import "errors"

// The event loop needs epoll; elsewhere every VU is a goroutine.
func (e *engine) eventLoopEligible() bool { return false }

func (e *engine) runEventLoop() error { return errors.New("the event loop needs Linux") }
