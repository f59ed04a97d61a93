package probe

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// GRPCSpec is the `grpc` probe's settings: one Check call of the gRPC health
// checking protocol (grpc.health.v1.Health/Check).
type GRPCSpec struct {
	Address   string        `yaml:"address" json:"address" doc:"host:port of the gRPC server"`
	Service   string        `yaml:"service" json:"service,omitempty" doc:"service name to ask about, e.g. payments.v1.Payments (empty: the server as a whole)"`
	TLS       bool          `yaml:"tls" json:"tls,omitempty" doc:"connect with TLS (ca_file, server_name and insecure_skip_verify apply)"`
	Authority string        `yaml:"authority" json:"authority,omitempty" doc:"HTTP/2 :authority to send (default: address)"`
	Timeout   time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"limit for the connection and the call (default: the checkpoint's timeout)"`

	TLSOptions `yaml:",inline"`
}

// Validate implements Spec.
func (s *GRPCSpec) Validate() error {
	if err := checkAddress("address", s.Address); err != nil {
		return err
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	if !s.TLS {
		switch {
		case s.CAFile != "":
			return Fieldf("ca_file", "needs tls: true")
		case s.ServerName != "":
			return Fieldf("server_name", "needs tls: true")
		case s.InsecureSkipVerify:
			return Fieldf("insecure_skip_verify", "needs tls: true")
		}
	}
	return nil
}

// Health statuses as the probe reports them: the protocol's ServingStatus
// names, SERVICE_UNKNOWN for a service the server does not know (Check
// answers NotFound), and UNKNOWN when the call failed with another code.
const (
	GRPCServing        = "SERVING"
	GRPCNotServing     = "NOT_SERVING"
	GRPCServiceUnknown = "SERVICE_UNKNOWN"
	GRPCUnknown        = "UNKNOWN"
)

// GRPCObservation is what a `grpc` probe saw. A server that answers with an
// error code (Unimplemented when it has no health service, NotFound for an
// unknown service, PermissionDenied, …) is an observation; a server that
// cannot be reached (Unavailable, DeadlineExceeded) is a probe error.
type GRPCObservation struct {
	Status  string        `json:"status"`  // SERVING, NOT_SERVING, SERVICE_UNKNOWN or UNKNOWN
	Serving bool          `json:"serving"` // status == SERVING
	Code    string        `json:"code"`    // gRPC status code of the call: OK, Unimplemented, NotFound, …
	Message string        `json:"message"` // the status message when code is not OK
	Latency time.Duration `json:"latency"` // the Check call, connection set-up included
}

func probeGRPC(ctx context.Context, env Env, s *GRPCSpec) (GRPCObservation, error) {
	var obs GRPCObservation
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	creds := insecure.NewCredentials()
	if s.TLS {
		cfg, err := s.TLSOptions.Config()
		if err != nil {
			return obs, fmt.Errorf("grpc: %w", err)
		}
		creds = credentials.NewTLS(cfg)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithNoProxy(), // probes talk to the target, never via a proxy from the environment
		grpc.WithUserAgent("prf"),
	}
	if s.Authority != "" {
		opts = append(opts, grpc.WithAuthority(s.Authority))
	}
	// passthrough: the address is dialled as written, without a DNS
	// resolver loop in between.
	conn, err := grpc.NewClient("passthrough:///"+s.Address, opts...)
	if err != nil {
		return obs, fmt.Errorf("grpc: %s: %w", s.Address, err)
	}
	defer conn.Close()

	start := time.Now()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: s.Service})
	obs.Latency = time.Since(start)
	if err != nil {
		st, ok := status.FromError(err)
		if !ok {
			return obs, fmt.Errorf("grpc: health check %s: %w", s.Address, err)
		}
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
			return obs, fmt.Errorf("grpc: health check %s: %s: %s", s.Address, st.Code(), st.Message())
		case codes.NotFound:
			obs.Status = GRPCServiceUnknown
		default:
			obs.Status = GRPCUnknown
		}
		obs.Code = st.Code().String()
		obs.Message = st.Message()
		env.logf("grpc health %s service %q: %s: %s", s.Address, s.Service, obs.Code, obs.Message)
		return obs, nil
	}
	obs.Code = codes.OK.String()
	switch resp.GetStatus() {
	case healthpb.HealthCheckResponse_SERVING:
		obs.Status = GRPCServing
	case healthpb.HealthCheckResponse_NOT_SERVING:
		obs.Status = GRPCNotServing
	case healthpb.HealthCheckResponse_SERVICE_UNKNOWN:
		obs.Status = GRPCServiceUnknown
	default:
		obs.Status = GRPCUnknown
	}
	obs.Serving = obs.Status == GRPCServing
	env.logf("grpc health %s service %q: %s in %s", s.Address, s.Service, obs.Status, obs.Latency)
	return obs, nil
}
