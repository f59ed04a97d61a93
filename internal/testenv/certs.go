package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority made inside a test: a P-256 key and its
// certificate.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  []byte // Cert, PEM-encoded
}

// NewCA makes a root CA named cn (organization "PRF test"), valid from an
// hour ago for a year.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	now := time.Now()
	return newCA(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"PRF test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil)
}

// Intermediate issues a CA certificate named cn signed by ca, valid from an
// hour ago for 200 days.
func (ca *CA) Intermediate(t testing.TB, cn string) *CA {
	t.Helper()
	now := time.Now()
	return newCA(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(200 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, ca)
}

// Leaf issues a server certificate valid from notBefore to notAfter for
// names (DNS names or IP addresses; the first is also the common name). The
// returned certificate carries the chain ca … up to, not including, the
// root.
func (ca *CA) Leaf(t testing.TB, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, key := issue(t, tmpl, ca)
	chain := [][]byte{der}
	if ca.Cert.Subject.String() != ca.Cert.Issuer.String() { // an intermediate: send it along
		chain = append(chain, ca.Cert.Raw)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key}
}

// WriteFile writes the CA's certificate (PEM) into a new temporary file, for
// a ca_file, and returns its path.
func (ca *CA) WriteFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, ca.PEM, 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return p
}

// SelfSigned makes a certificate that is its own CA, named cn, for
// localhost and 127.0.0.1, valid from notBefore to notAfter, for server
// and client authentication: a server's certificate that is also the
// ca_file its clients trust.
func SelfSigned(t testing.TB, cn string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	der, key := issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}, nil)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// WriteKeyPair writes cert's chain (PEM, 0644) and its ECDSA key (PKCS #8
// PEM, 0600) into dir as name.crt and name.key, for a server that reads
// files.
func WriteKeyPair(t testing.TB, dir, name string, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	var certPEM []byte
	for _, der := range cert.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return certFile, keyFile
}

// newCA issues tmpl for a new key, signed by parent (nil: self-signed).
func newCA(t testing.TB, tmpl *x509.Certificate, parent *CA) *CA {
	t.Helper()
	der, key := issue(t, tmpl, parent)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return &CA{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a P-256 key and a certificate for it from tmpl (given a
// random serial number), signed by parent, or by itself when parent is nil.
func issue(t testing.TB, tmpl *x509.Certificate, parent *CA) (der []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1)) // positive
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.Cert, parent.Key
	}
	if der, err = x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return der, key
}
