package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TLSSpec is the `tls` probe's settings.
//
// The probe always completes the handshake without verifying, then verifies
// the chain itself, so an expired, self-signed or wrongly named certificate
// is observed (hostname_verified false, verify_error set) rather than being
// a probe error; insecure_skip_verify therefore changes nothing here.
//
// TLS 1.0 and 1.1: Go's client offers them when MinVersion asks for them
// (this probe does, for its version handshakes), with every cipher suite Go
// implements, insecure ones included, so a legacy-only server is found out.
// Go's server side refuses them unless its config sets MinVersion (or
// GODEBUG=tls10server=1). Under GODEBUG=fips140=only Go restricts itself to
// FIPS-approved versions and suites, so TLS1.0/TLS1.1 read false there
// whatever the server accepts.
type TLSSpec struct {
	Address       string `yaml:"address" json:"address" doc:"host:port to connect to"`
	TLSOptions    `yaml:",inline"`
	CheckVersions bool          `yaml:"check_versions" json:"check_versions" doc:"handshake once per TLS version to fill accepts (default true)"`
	CheckHSTS     bool          `yaml:"check_hsts" json:"check_hsts" doc:"send GET / over HTTPS to read Strict-Transport-Security (default true)"`
	Timeout       time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"timeout for the whole probe (default: the checkpoint's)"`
}

func (s *TLSSpec) defaults() {
	s.CheckVersions = true
	s.CheckHSTS = true
}

// Validate implements Spec.
func (s *TLSSpec) Validate() error {
	if err := checkAddress("address", s.Address); err != nil {
		return err
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// TLSObservation is what a `tls` probe saw.
type TLSObservation struct {
	Version               string          `json:"version"` // negotiated: "TLS1.3", "TLS1.2", …
	Cipher                string          `json:"cipher"`
	ServerName            string          `json:"server_name"` // name verified against (and sent as SNI unless an IP)
	Latency               time.Duration   `json:"latency"`     // connect and handshake
	Chain                 []TLSCert       `json:"chain"`       // as sent by the server, leaf first
	DaysToExpiry          int             `json:"days_to_expiry"`
	ExpiresAt             time.Time       `json:"expires_at"`
	Verified              bool            `json:"verified"`          // the chain verifies against the trust pool now (name not checked)
	HostnameVerified      bool            `json:"hostname_verified"` // …and the leaf is valid for server_name
	VerifyError           string          `json:"verify_error"`      // why hostname_verified is false
	Accepts               map[string]bool `json:"accepts"`           // TLS1.0…TLS1.3; only the negotiated one when check_versions is false
	LegacyTLS             bool            `json:"legacy_tls"`        // accepts TLS1.0 or TLS1.1
	HSTS                  string          `json:"hsts"`              // Strict-Transport-Security of GET /, "" if none
	HSTSMaxAge            int             `json:"hsts_max_age"`      // seconds
	HSTSIncludeSubdomains bool            `json:"hsts_include_subdomains"`
	HSTSError             string          `json:"hsts_error"` // why GET / got no response, if it did not
}

// TLSCert is one certificate of the chain.
type TLSCert struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	DaysToExpiry       int       `json:"days_to_expiry"`
	DNSNames           []string  `json:"dns_names"`
	IPAddresses        []string  `json:"ip_addresses"`
	IsCA               bool      `json:"is_ca"`
	SignatureAlgorithm string    `json:"signature_algorithm"`
	KeyAlgorithm       string    `json:"key_algorithm"` // RSA, ECDSA, Ed25519
	KeyBits            int       `json:"key_bits"`
}

// tlsVersions are the versions the probe tries, by observation name.
var tlsVersions = []struct {
	name string
	v    uint16
}{
	{"TLS1.0", tls.VersionTLS10},
	{"TLS1.1", tls.VersionTLS11},
	{"TLS1.2", tls.VersionTLS12},
	{"TLS1.3", tls.VersionTLS13},
}

func probeTLS(ctx context.Context, env Env, s *TLSSpec) (TLSObservation, error) {
	var obs TLSObservation
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	host, _, err := net.SplitHostPort(s.Address)
	if err != nil {
		return obs, fmt.Errorf("address: %w", err)
	}
	serverName := s.ServerName
	if serverName == "" {
		serverName = host
	}
	obs.ServerName = serverName
	base, err := s.TLSOptions.Config()
	if err != nil {
		return obs, fmt.Errorf("tls options: %w", err)
	}

	start := time.Now()
	cs, err := tlsHandshake(ctx, s.Address, serverName, tls.VersionTLS10, tls.VersionTLS13)
	obs.Latency = time.Since(start)
	if err != nil {
		env.logf("handshake with %s: %v", s.Address, err)
		return obs, err
	}
	now := time.Now()
	obs.Version = tlsVersionName(cs.Version)
	obs.Cipher = tls.CipherSuiteName(cs.CipherSuite)
	certs := cs.PeerCertificates
	for _, c := range certs {
		obs.Chain = append(obs.Chain, tlsCert(c, now))
	}
	if len(certs) > 0 {
		obs.ExpiresAt = certs[0].NotAfter
		obs.DaysToExpiry = daysUntil(certs[0].NotAfter, now)
	}
	obs.Verified, obs.HostnameVerified, obs.VerifyError = verifyChain(certs, base.RootCAs, serverName, now)
	env.logf("%s: %s %s, %d certificates, hostname_verified=%v", s.Address, obs.Version, obs.Cipher, len(certs), obs.HostnameVerified)

	obs.Accepts = map[string]bool{obs.Version: true}
	if s.CheckVersions {
		for _, tv := range tlsVersions {
			if tv.v == cs.Version {
				continue
			}
			_, err := tlsHandshake(ctx, s.Address, serverName, tv.v, tv.v)
			if ctx.Err() != nil {
				return obs, fmt.Errorf("handshake %s with %s: %w", tv.name, s.Address, ctx.Err())
			}
			obs.Accepts[tv.name] = err == nil
			if err != nil {
				env.logf("%s: %s refused: %v", s.Address, tv.name, err)
			}
		}
	}
	obs.LegacyTLS = obs.Accepts["TLS1.0"] || obs.Accepts["TLS1.1"]

	if s.CheckHSTS {
		hsts, err := getHSTS(ctx, s.Address, serverName)
		if ctx.Err() != nil {
			return obs, fmt.Errorf("get / for hsts: %w", ctx.Err())
		}
		if err != nil {
			obs.HSTSError = err.Error()
			env.logf("%s: get / for hsts: %v", s.Address, err)
		}
		obs.HSTS = hsts
		obs.HSTSMaxAge, obs.HSTSIncludeSubdomains = parseHSTS(hsts)
	}
	return obs, nil
}

// tlsHandshake connects to addr and completes a handshake without
// verification, offering versions min…max and every cipher suite Go has.
func tlsHandshake(ctx context.Context, addr, serverName string, minV, maxV uint16) (tls.ConnectionState, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, ctxError(ctx, err) // "dial tcp host:port: …"
	}
	defer raw.Close()
	conn := tls.Client(raw, legacyConfig(serverName, minV, maxV))
	if err := conn.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, fmt.Errorf("handshake with %s: %w", addr, ctxError(ctx, err))
	}
	return conn.ConnectionState(), nil
}

// legacyConfig is a client config that observes rather than protects: no
// verification (the caller verifies), any version asked for, all suites.
func legacyConfig(serverName string, minV, maxV uint16) *tls.Config {
	return &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: true, //nolint:gosec // the chain is verified by verifyChain
		MinVersion:         minV, //nolint:gosec // finding out whether legacy versions are accepted is the point
		MaxVersion:         maxV,
		CipherSuites:       allTLS12Suites(),
	}
}

// allTLS12Suites lists every TLS 1.0–1.2 suite Go implements, insecure ones
// included (Go orders them by its own preference, insecure last).
func allTLS12Suites() []uint16 {
	var ids []uint16
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, cs := range list {
			for _, v := range cs.SupportedVersions {
				if v <= tls.VersionTLS12 {
					ids = append(ids, cs.ID)
					break
				}
			}
		}
	}
	return ids
}

// verifyChain verifies certs (leaf first) against roots (nil: the system
// pool) as a browser would, once without and once with the name.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, serverName string, now time.Time) (trusted, named bool, verifyErr string) {
	if len(certs) == 0 {
		return false, false, "server sent no certificate"
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now}
	if _, err := certs[0].Verify(opts); err != nil {
		return false, false, err.Error()
	}
	opts.DNSName = serverName
	if _, err := certs[0].Verify(opts); err != nil {
		return true, false, err.Error()
	}
	return true, true, ""
}

// hstsTimeout bounds GET / so that a TLS service that is not HTTP does not
// use up the probe's whole timeout.
const hstsTimeout = 5 * time.Second

func getHSTS(ctx context.Context, addr, serverName string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, hstsTimeout)
	defer cancel()
	tr := &http.Transport{
		Proxy:             nil,
		TLSClientConfig:   legacyConfig(serverName, tls.VersionTLS10, tls.VersionTLS13),
		DisableKeepAlives: true,
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/", nil)
	if err != nil {
		return "", err
	}
	if host, port, err := net.SplitHostPort(addr); err == nil && serverName != host {
		req.Host = serverName
		if port != "443" {
			req.Host = net.JoinHostPort(serverName, port)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", ctxError(ctx, unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.Header.Get("Strict-Transport-Security"), nil
}

// parseHSTS reads max-age and includeSubDomains from a
// Strict-Transport-Security value (RFC 6797 §6.1).
func parseHSTS(v string) (maxAge int, includeSubdomains bool) {
	for _, d := range strings.Split(v, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "max-age":
			n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`))
			if err == nil && n >= 0 {
				maxAge = n
			}
		case "includesubdomains":
			includeSubdomains = true
		}
	}
	return maxAge, includeSubdomains
}

func tlsCert(c *x509.Certificate, now time.Time) TLSCert {
	tc := TLSCert{
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		NotBefore:          c.NotBefore,
		NotAfter:           c.NotAfter,
		DaysToExpiry:       daysUntil(c.NotAfter, now),
		DNSNames:           append([]string{}, c.DNSNames...),
		IPAddresses:        []string{},
		IsCA:               c.IsCA,
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		KeyAlgorithm:       c.PublicKeyAlgorithm.String(),
	}
	for _, ip := range c.IPAddresses {
		tc.IPAddresses = append(tc.IPAddresses, ip.String())
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		tc.KeyBits = k.N.BitLen()
	case *ecdsa.PublicKey:
		tc.KeyBits = k.Curve.Params().BitSize
	case ed25519.PublicKey:
		tc.KeyBits = 256
	}
	return tc
}

// daysUntil is the number of whole days from now to t, rounded down:
// negative once t has passed (-1 on the first day after).
func daysUntil(t, now time.Time) int {
	return int(math.Floor(t.Sub(now).Hours() / 24))
}

// tlsVersionName names a TLS version as observations do: "TLS1.3".
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionSSL30: //nolint:staticcheck // naming it, not using it
		return "SSL3.0"
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}
