package probe

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/testenv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"gopkg.in/yaml.v3"
)

// startGRPC serves a grpc-go server on loopback for the test. With hs nil
// the server has no health service.
func startGRPC(t *testing.T, hs *health.Server, opts ...grpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	if hs != nil {
		healthpb.RegisterHealthServer(srv, hs)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func grpcSpec(addr, service string) *GRPCSpec {
	return &GRPCSpec{Address: addr, Service: service, Timeout: 5 * time.Second}
}

func TestGRPCHealth(t *testing.T) {
	hs := health.NewServer() // the server as a whole ("") is SERVING
	hs.SetServingStatus("payments", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("ledger", healthpb.HealthCheckResponse_NOT_SERVING)
	addr := startGRPC(t, hs)
	bare := startGRPC(t, nil)

	tests := []struct {
		name    string
		addr    string
		service string
		status  string
		serving bool
		code    string
	}{
		{name: "server overall", addr: addr, service: "", status: "SERVING", serving: true, code: "OK"},
		{name: "payments serving", addr: addr, service: "payments", status: "SERVING", serving: true, code: "OK"},
		{name: "ledger not serving", addr: addr, service: "ledger", status: "NOT_SERVING", code: "OK"},
		{name: "unknown service", addr: addr, service: "nosuch", status: "SERVICE_UNKNOWN", code: "NotFound"},
		{name: "no health service", addr: bare, service: "payments", status: "UNKNOWN", code: "Unimplemented"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := grpcSpec(tc.addr, tc.service)
			if err := spec.Validate(); err != nil {
				t.Fatal(err)
			}
			obs, err := probeGRPC(context.Background(), Env{Logf: t.Logf}, spec)
			if err != nil {
				t.Fatal(err)
			}
			if obs.Status != tc.status || obs.Serving != tc.serving || obs.Code != tc.code {
				t.Errorf("obs = %+v, want status %s serving %v code %s", obs, tc.status, tc.serving, tc.code)
			}
			if obs.Latency <= 0 || obs.Latency > 5*time.Second {
				t.Errorf("latency = %s", obs.Latency)
			}
		})
	}

	t.Run("status change is seen", func(t *testing.T) {
		hs.SetServingStatus("payments", healthpb.HealthCheckResponse_NOT_SERVING)
		defer hs.SetServingStatus("payments", healthpb.HealthCheckResponse_SERVING)
		obs, err := probeGRPC(context.Background(), Env{}, grpcSpec(addr, "payments"))
		if err != nil || obs.Status != "NOT_SERVING" || obs.Serving {
			t.Fatalf("obs = %+v, err = %v", obs, err)
		}
	})
}

func TestGRPCUnreachable(t *testing.T) {
	refused := testenv.Addr(testenv.FreePort(t))
	// A listener that accepts and never speaks HTTP/2: the call must end at
	// the timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	tests := []struct {
		name    string
		addr    string
		timeout time.Duration
		wantErr string
	}{
		{name: "connection refused", addr: refused, timeout: 5 * time.Second, wantErr: "Unavailable"},
		{name: "silent server", addr: silent.Addr().String(), timeout: 500 * time.Millisecond, wantErr: "DeadlineExceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := grpcSpec(tc.addr, "")
			spec.Timeout = tc.timeout
			start := time.Now()
			_, err := probeGRPC(context.Background(), Env{}, spec)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if d := time.Since(start); d > tc.timeout+2*time.Second {
				t.Errorf("took %s with timeout %s", d, tc.timeout)
			}
		})
	}
}

func TestGRPCTLS(t *testing.T) {
	ca := testenv.NewCA(t, "PRF gRPC test CA")
	cert := ca.Leaf(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "grpc.test.internal", "127.0.0.1")
	hs := health.NewServer()
	addr := startGRPC(t, hs, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
	caFile := ca.WriteFile(t)

	t.Run("verified with ca_file", func(t *testing.T) {
		spec := grpcSpec(addr, "")
		spec.TLS, spec.CAFile = true, caFile
		obs, err := probeGRPC(context.Background(), Env{}, spec)
		if err != nil || !obs.Serving {
			t.Fatalf("obs = %+v, err = %v", obs, err)
		}
	})
	t.Run("authority names the certificate", func(t *testing.T) {
		spec := grpcSpec(addr, "")
		spec.TLS, spec.CAFile, spec.Authority = true, caFile, "grpc.test.internal"
		obs, err := probeGRPC(context.Background(), Env{}, spec)
		if err != nil || !obs.Serving {
			t.Fatalf("obs = %+v, err = %v", obs, err)
		}
	})
	t.Run("unknown CA is a probe error", func(t *testing.T) {
		spec := grpcSpec(addr, "")
		spec.TLS = true
		_, err := probeGRPC(context.Background(), Env{}, spec)
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("plaintext to a TLS server is a probe error", func(t *testing.T) {
		spec := grpcSpec(addr, "")
		spec.Timeout = 2 * time.Second
		if _, err := probeGRPC(context.Background(), Env{}, spec); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestGRPCSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		spec    GRPCSpec
		wantErr string
	}{
		{name: "ok", spec: GRPCSpec{Address: "127.0.0.1:50051"}},
		{name: "ok with tls", spec: GRPCSpec{Address: "api.example.com:443", TLS: true, TLSOptions: TLSOptions{ServerName: "api.example.com"}}},
		{name: "no address", spec: GRPCSpec{}, wantErr: "address: is required"},
		{name: "no port", spec: GRPCSpec{Address: "localhost"}, wantErr: "address: address localhost: missing port in address"},
		{name: "tls option without tls", spec: GRPCSpec{Address: "h:1", TLSOptions: TLSOptions{CAFile: "/ca.pem"}}, wantErr: "ca_file: needs tls: true"},
		{name: "negative timeout", spec: GRPCSpec{Address: "h:1", Timeout: -time.Second}, wantErr: "timeout: must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestGRPCFromRegistry(t *testing.T) {
	k, s := registrySpec[*GRPCSpec](t, "grpc")
	dec := yaml.NewDecoder(strings.NewReader("address: payments.internal:443\nservice: payments\ntls: true\nserver_name: payments.internal\nauthority: payments.internal\ntimeout: 3s\n"))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Service != "payments" || !s.TLS || s.ServerName != "payments.internal" || s.Timeout != 3*time.Second {
		t.Errorf("decoded = %+v", s)
	}
	if got := strings.Join(k.Fields(), ","); got != "status,serving,code,message,latency" {
		t.Errorf("fields = %s", got)
	}
}
