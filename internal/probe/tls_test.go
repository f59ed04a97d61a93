package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/testenv"
)

// startTLS starts an HTTPS test server with cert and cfg's version limits.
func startTLS(t *testing.T, cert tls.Certificate, minV, maxV uint16, h http.Handler) *httptest.Server {
	t.Helper()
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused versions are expected
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minV, MaxVersion: maxV}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// refusedAddr returns a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	return testenv.Addr(testenv.FreePort(t))
}

// silentListener accepts connections and never writes a byte.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				close(done)
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func tlsSpec(addr string, mod func(*TLSSpec)) *TLSSpec {
	s := &TLSSpec{}
	s.defaults()
	s.Address = addr
	if mod != nil {
		mod(s)
	}
	return s
}

func TestTLSCertificates(t *testing.T) {
	root := testenv.NewCA(t, "PRF Test Root")
	inter := root.Intermediate(t, "PRF Test Intermediate")
	caFile := root.WriteFile(t)
	now := time.Now()
	valid := root.Leaf(t, now.Add(-time.Hour), now.Add(90*24*time.Hour+time.Hour), "prf.test", "127.0.0.1")
	viaInter := inter.Leaf(t, now.Add(-time.Hour), now.Add(30*24*time.Hour+time.Hour), "prf.test")
	expired := root.Leaf(t, now.Add(-30*24*time.Hour), now.Add(-36*time.Hour), "prf.test")
	other := testenv.NewCA(t, "Someone Else")
	untrusted := other.Leaf(t, now.Add(-time.Hour), now.Add(24*time.Hour+time.Hour), "prf.test")

	tests := []struct {
		name       string
		cert       tls.Certificate
		mod        func(*TLSSpec)
		chain      int
		days       int // exact leaf days_to_expiry
		verified   bool
		hostnameOK bool
		verifyErr  string
	}{
		{name: "valid by name", cert: valid, mod: func(s *TLSSpec) { s.CAFile = caFile; s.ServerName = "prf.test" },
			chain: 1, days: 90, verified: true, hostnameOK: true},
		{name: "valid by IP address", cert: valid, mod: func(s *TLSSpec) { s.CAFile = caFile },
			chain: 1, days: 90, verified: true, hostnameOK: true},
		{name: "intermediate sent along", cert: viaInter, mod: func(s *TLSSpec) { s.CAFile = caFile; s.ServerName = "prf.test" },
			chain: 2, days: 30, verified: true, hostnameOK: true},
		{name: "wrong name", cert: valid, mod: func(s *TLSSpec) { s.CAFile = caFile; s.ServerName = "www.example.test" },
			chain: 1, days: 90, verified: true, hostnameOK: false, verifyErr: "www.example.test"},
		{name: "expired", cert: expired, mod: func(s *TLSSpec) { s.CAFile = caFile; s.ServerName = "prf.test" },
			chain: 1, days: -2, verified: false, hostnameOK: false, verifyErr: "expired"},
		{name: "expired with insecure_skip_verify", cert: expired, mod: func(s *TLSSpec) { s.InsecureSkipVerify = true; s.ServerName = "prf.test" },
			chain: 1, days: -2, verified: false, hostnameOK: false, verifyErr: "expired"},
		{name: "untrusted issuer", cert: untrusted, mod: func(s *TLSSpec) { s.CAFile = caFile; s.ServerName = "prf.test" },
			chain: 1, days: 1, verified: false, hostnameOK: false, verifyErr: "unknown authority"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTLS(t, tc.cert, 0, 0, nil)
			addr := srv.Listener.Addr().String()
			spec := tlsSpec(addr, func(s *TLSSpec) { s.CheckVersions = false; s.CheckHSTS = false; tc.mod(s) })
			if err := spec.Validate(); err != nil {
				t.Fatal(err)
			}
			obs, err := probeTLS(context.Background(), Env{Logf: t.Logf}, spec)
			if err != nil {
				t.Fatalf("probe error: %v (an untrusted or expired certificate is an observation)", err)
			}
			if len(obs.Chain) != tc.chain {
				t.Errorf("chain has %d certificates, want %d", len(obs.Chain), tc.chain)
			}
			if obs.DaysToExpiry != tc.days {
				t.Errorf("days_to_expiry = %d, want %d", obs.DaysToExpiry, tc.days)
			}
			if obs.Verified != tc.verified || obs.HostnameVerified != tc.hostnameOK {
				t.Errorf("verified=%v hostname_verified=%v, want %v %v (verify_error %q)", obs.Verified, obs.HostnameVerified, tc.verified, tc.hostnameOK, obs.VerifyError)
			}
			if tc.verifyErr == "" && obs.VerifyError != "" {
				t.Errorf("verify_error = %q, want none", obs.VerifyError)
			}
			if tc.verifyErr != "" && !strings.Contains(obs.VerifyError, tc.verifyErr) {
				t.Errorf("verify_error = %q, want it to mention %q", obs.VerifyError, tc.verifyErr)
			}
			leaf, _ := x509.ParseCertificate(tc.cert.Certificate[0])
			if !obs.ExpiresAt.Equal(leaf.NotAfter) || !obs.Chain[0].NotAfter.Equal(leaf.NotAfter) {
				t.Errorf("expires_at = %v, chain[0].not_after = %v, want %v", obs.ExpiresAt, obs.Chain[0].NotAfter, leaf.NotAfter)
			}
			if obs.Chain[0].Subject != leaf.Subject.String() || obs.Chain[0].Issuer != leaf.Issuer.String() {
				t.Errorf("chain[0] = %q issued by %q", obs.Chain[0].Subject, obs.Chain[0].Issuer)
			}
			if obs.Chain[0].DNSNames[0] != "prf.test" || obs.Chain[0].KeyAlgorithm != "ECDSA" || obs.Chain[0].KeyBits != 256 || obs.Chain[0].IsCA {
				t.Errorf("chain[0] = %+v", obs.Chain[0])
			}
			if tc.chain == 2 && (!obs.Chain[1].IsCA || obs.Chain[1].Subject != "CN=PRF Test Intermediate" || obs.Chain[1].DaysToExpiry < 199) {
				t.Errorf("chain[1] = %+v", obs.Chain[1])
			}
			if obs.Version != "TLS1.3" || obs.Cipher == "" || obs.Latency <= 0 {
				t.Errorf("version %q cipher %q latency %v", obs.Version, obs.Cipher, obs.Latency)
			}
			if len(obs.Accepts) != 1 || !obs.Accepts["TLS1.3"] {
				t.Errorf("accepts = %v, want only the negotiated version when check_versions is false", obs.Accepts)
			}
		})
	}
}

func TestTLSVersions(t *testing.T) {
	root := testenv.NewCA(t, "PRF Test Root")
	cert := root.Leaf(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), "127.0.0.1")
	tests := []struct {
		name       string
		minV, maxV uint16
		version    string
		accepts    map[string]bool
		legacy     bool
	}{
		{"server defaults", 0, 0, "TLS1.3",
			map[string]bool{"TLS1.0": false, "TLS1.1": false, "TLS1.2": true, "TLS1.3": true}, false},
		{"TLS 1.2 only", tls.VersionTLS12, tls.VersionTLS12, "TLS1.2",
			map[string]bool{"TLS1.0": false, "TLS1.1": false, "TLS1.2": true, "TLS1.3": false}, false},
		{"legacy allowed", tls.VersionTLS10, tls.VersionTLS13, "TLS1.3",
			map[string]bool{"TLS1.0": true, "TLS1.1": true, "TLS1.2": true, "TLS1.3": true}, true},
		{"TLS 1.1 at most", tls.VersionTLS10, tls.VersionTLS11, "TLS1.1",
			map[string]bool{"TLS1.0": true, "TLS1.1": true, "TLS1.2": false, "TLS1.3": false}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTLS(t, cert, tc.minV, tc.maxV, nil)
			spec := tlsSpec(srv.Listener.Addr().String(), func(s *TLSSpec) { s.CheckHSTS = false })
			obs, err := probeTLS(context.Background(), Env{Logf: t.Logf}, spec)
			if err != nil {
				t.Fatal(err)
			}
			if obs.Version != tc.version {
				t.Errorf("version = %q, want %q", obs.Version, tc.version)
			}
			for v, want := range tc.accepts {
				if got, ok := obs.Accepts[v]; !ok || got != want {
					t.Errorf("accepts[%s] = %v (present %v), want %v", v, got, ok, want)
				}
			}
			if obs.LegacyTLS != tc.legacy {
				t.Errorf("legacy_tls = %v, want %v", obs.LegacyTLS, tc.legacy)
			}
		})
	}
}

func TestTLSHSTS(t *testing.T) {
	root := testenv.NewCA(t, "PRF Test Root")
	cert := root.Leaf(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), "prf.test")
	tests := []struct {
		name    string
		header  string
		maxAge  int
		subdoms bool
	}{
		{"full", "max-age=31536000; includeSubDomains; preload", 31536000, true},
		{"quoted max-age", `max-age="600"`, 600, false},
		{"none", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var host string
			srv := startTLS(t, cert, 0, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				host = r.Host
				if tc.header != "" {
					w.Header().Set("Strict-Transport-Security", tc.header)
				}
			}))
			spec := tlsSpec(srv.Listener.Addr().String(), func(s *TLSSpec) { s.CheckVersions = false; s.ServerName = "prf.test" })
			obs, err := probeTLS(context.Background(), Env{Logf: t.Logf}, spec)
			if err != nil {
				t.Fatal(err)
			}
			if obs.HSTS != tc.header || obs.HSTSMaxAge != tc.maxAge || obs.HSTSIncludeSubdomains != tc.subdoms || obs.HSTSError != "" {
				t.Errorf("hsts %q max_age %d include_subdomains %v error %q, want %q %d %v", obs.HSTS, obs.HSTSMaxAge, obs.HSTSIncludeSubdomains, obs.HSTSError, tc.header, tc.maxAge, tc.subdoms)
			}
			if _, port, _ := net.SplitHostPort(srv.Listener.Addr().String()); host != "prf.test:"+port {
				t.Errorf("GET / sent Host %q, want the server name", host)
			}
		})
	}

	t.Run("not HTTP", func(t *testing.T) {
		// A TLS service that closes after the handshake: hsts stays empty and
		// the reason is observed, the probe still succeeds.
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		obs, err := probeTLS(context.Background(), Env{Logf: t.Logf}, tlsSpec(ln.Addr().String(), func(s *TLSSpec) { s.CheckVersions = false }))
		if err != nil {
			t.Fatal(err)
		}
		if obs.HSTS != "" || obs.HSTSError == "" || obs.Version != "TLS1.3" {
			t.Errorf("hsts %q hsts_error %q version %q", obs.HSTS, obs.HSTSError, obs.Version)
		}
	})
}

func TestTLSProbeErrors(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		_, err := probeTLS(context.Background(), Env{}, tlsSpec(refusedAddr(t), nil))
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("err = %v, want connection refused", err)
		}
	})
	// A server that never answers the handshake: the caller's deadline or
	// the spec's timeout ends the probe.
	for _, tc := range []struct {
		name       string
		ctxTimeout time.Duration // 0: none
		mod        func(*TLSSpec)
	}{
		{"no handshake answer", 300 * time.Millisecond, nil},
		{"spec timeout", 0, func(s *TLSSpec) { s.Timeout = 300 * time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := silentListener(t)
			ctx := context.Background()
			if tc.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}
			start := time.Now()
			_, err := probeTLS(ctx, Env{}, tlsSpec(addr, tc.mod))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want deadline exceeded", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("returned after %v", d)
			}
		})
	}
	t.Run("missing ca_file", func(t *testing.T) {
		_, err := probeTLS(context.Background(), Env{}, tlsSpec("127.0.0.1:1", func(s *TLSSpec) { s.CAFile = filepath.Join(t.TempDir(), "nope.pem") }))
		if err == nil || !strings.Contains(err.Error(), "ca_file") {
			t.Fatalf("err = %v, want a ca_file error", err)
		}
	})
}

func TestTLSValidate(t *testing.T) {
	tests := []struct {
		name  string
		spec  TLSSpec
		field string // "" = valid
	}{
		{"valid", TLSSpec{Address: "example.com:443"}, ""},
		{"ipv6", TLSSpec{Address: "[::1]:443"}, ""},
		{"missing address", TLSSpec{}, "address"},
		{"no port", TLSSpec{Address: "example.com"}, "address"},
		{"negative timeout", TLSSpec{Address: "example.com:443", Timeout: -time.Second}, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkFieldError(t, tc.spec.Validate(), tc.field)
		})
	}
}

func TestTLSDefaultsFromRegistry(t *testing.T) {
	k, ok := Default().Lookup("tls")
	if !ok {
		t.Fatal("tls kind not registered")
	}
	s, ok := k.NewSpec().(*TLSSpec)
	if !ok || !s.CheckVersions || !s.CheckHSTS {
		t.Fatalf("NewSpec() = %#v, want check_versions and check_hsts on", k.NewSpec())
	}
	for _, f := range []string{"version", "cipher", "chain", "days_to_expiry", "expires_at", "hostname_verified", "verify_error", "accepts", "legacy_tls", "hsts", "hsts_max_age"} {
		if !slices.Contains(k.Fields(), f) {
			t.Errorf("observation field %q missing from %v", f, k.Fields())
		}
	}
}

func TestParseHSTS(t *testing.T) {
	tests := []struct {
		in      string
		maxAge  int
		subdoms bool
	}{
		{"", 0, false},
		{"max-age=0", 0, false},
		{"MAX-AGE=100 ; IncludeSubDomains", 100, true},
		{"max-age=abc", 0, false},
		{"max-age=-5", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if a, s := parseHSTS(tc.in); a != tc.maxAge || s != tc.subdoms {
				t.Errorf("parseHSTS(%q) = %d, %v; want %d, %v", tc.in, a, s, tc.maxAge, tc.subdoms)
			}
		})
	}
}

func TestDaysUntil(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		at   time.Time
		want int
	}{
		{now.Add(48*time.Hour + time.Minute), 2},
		{now.Add(47 * time.Hour), 1},
		{now.Add(time.Minute), 0},
		{now.Add(-time.Minute), -1},
		{now.Add(-49 * time.Hour), -3},
	}
	for _, tc := range tests {
		t.Run(tc.at.String(), func(t *testing.T) {
			if got := daysUntil(tc.at, now); got != tc.want {
				t.Errorf("daysUntil = %d, want %d", got, tc.want)
			}
		})
	}
}
