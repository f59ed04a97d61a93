package demo

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Certificate lifetimes. The server certificate lives 90 days so that a
// "certificate expires in more than 30 days" check passes on a healthy demo.
const (
	caLifetime     = 365 * 24 * time.Hour
	serverLifetime = 90 * 24 * time.Hour
)

// pki is the demo's certificate authority and the server certificate it signed.
type pki struct {
	caCert    *x509.Certificate
	caPEM     []byte
	serverTLS tls.Certificate
}

// newPKI makes a CA and a server certificate for the loopback names plus
// extraIPs. With expired set, the server certificate's validity ended a day
// before now (the CA stays valid, so only the expiry is wrong). With weakKey
// set, the server key is 1024-bit RSA (still signed by the CA, so the chain
// verifies and only the key strength is wrong).
func newPKI(now time.Time, extraIPs []net.IP, expired, weakKey bool) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ca key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "PRF Demo CA", Organization: []string{"PRF demo"}},
		NotBefore:             now.Add(-7 * 24 * time.Hour), // before the expired-cert leaf's validity
		NotAfter:              now.Add(caLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create ca certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse ca certificate: %w", err)
	}

	var srvKey crypto.Signer
	if weakKey {
		srvKey, err = rsa.GenerateKey(rand.Reader, 1024)
	} else {
		srvKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	notBefore, notAfter := now.Add(-time.Hour), now.Add(serverLifetime)
	if expired {
		notBefore, notAfter = now.Add(-5*24*time.Hour), now.Add(-24*time.Hour)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, ip := range extraIPs {
		if ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
			ips = append(ips, ip)
		}
	}
	keyUsage := x509.KeyUsageDigitalSignature
	if weakKey {
		keyUsage |= x509.KeyUsageKeyEncipherment // RSA key exchange
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"PRF demo"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		DNSNames:     []string{"localhost"},
		IPAddresses:  ips,
		KeyUsage:     keyUsage,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, srvKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("create server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(srvDER)
	if err != nil {
		return nil, fmt.Errorf("parse server certificate: %w", err)
	}
	return &pki{
		caCert: caCert,
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		serverTLS: tls.Certificate{
			Certificate: [][]byte{srvDER, caDER},
			PrivateKey:  srvKey,
			Leaf:        leaf,
		},
	}, nil
}

func randomSerial() *big.Int {
	// 128 random bits; rand.Int never fails with crypto/rand.Reader.
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return n.Add(n, big.NewInt(1))
}

// weakCipherSuites are offered with the weak-tls fault: the GCM suites HTTP/2
// needs first, then the CBC suites a TLS 1.0/1.1 client can use with an ECDSA
// certificate.
func weakCipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	}
}

// serverTLSConfig is the HTTPS configuration: TLS 1.2 minimum, or TLS 1.0
// with CBC suites when weak is set.
func (p *pki) serverTLSConfig(weak bool) *tls.Config {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{p.serverTLS},
		MinVersion:   tls.VersionTLS12,
	}
	if weak {
		cfg.MinVersion = tls.VersionTLS10
		cfg.CipherSuites = weakCipherSuites()
	}
	return cfg
}
