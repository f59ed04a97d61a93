package probe

import (
	"context"
	"net"
	"time"
)

// TCPSpec is the `tcp` probe's settings.
type TCPSpec struct {
	Address string        `yaml:"address" json:"address" doc:"host:port to connect to"`
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"connect timeout (default: the checkpoint's)"`
}

// Validate implements Spec.
func (s *TCPSpec) Validate() error {
	if err := checkAddress("address", s.Address); err != nil {
		return err
	}
	return nil
}

// TCPObservation is what a `tcp` probe saw.
type TCPObservation struct {
	Connected  bool          `json:"connected"`
	Latency    time.Duration `json:"latency"`
	RemoteAddr string        `json:"remote_addr"`
	Error      string        `json:"error"`
}

func probeTCP(ctx context.Context, env Env, s *TCPSpec) (TCPObservation, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	var d net.Dialer
	start := time.Now()
	conn, err := d.DialContext(ctx, "tcp", s.Address)
	obs := TCPObservation{Latency: time.Since(start)}
	if err != nil {
		// A refused port is an observation (connected == false), not a
		// probe error: "is port 23 closed?" is a fair question.
		if ctx.Err() != nil {
			return obs, ctx.Err()
		}
		obs.Error = err.Error()
		env.logf("dial %s: %v", s.Address, err)
		return obs, nil
	}
	obs.Connected = true
	obs.RemoteAddr = conn.RemoteAddr().String()
	conn.Close()
	return obs, nil
}
