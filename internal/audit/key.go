package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/prfhq/prf/internal/atomicfile"
)

// Files of the instance key, in the directory given to
// LoadOrCreateInstanceKey.
const (
	InstanceKeyFile = "instance.key" // PKCS #8 PEM, mode 0600
	InstancePubFile = "instance.pub" // PKIX PEM ("PUBLIC KEY"), for verifiers
)

// InstanceKeyID is the actor of entries signed by a PRF instance key:
// "prf-instance:" and the first 16 hex digits of the SHA-256 of the key.
func InstanceKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return instancePrefix + hex.EncodeToString(sum[:8])
}

// LoadOrCreateInstanceKey returns PRF's own signer, for automatic events,
// its public key, and whether this call made the key. The private key is
// dir/instance.key (created with mode 0600 on first use, dir with 0700 when
// missing); its public key is written to dir/instance.pub for verifiers.
// Two processes creating it at once end up with the same key, and only one
// of them reports making it. A key file that others can read, or a public
// key file that does not match the key, is an error.
func LoadOrCreateInstanceKey(dir string) (s Signer, pub ed25519.PublicKey, created bool, err error) {
	keyPath := filepath.Join(dir, InstanceKeyFile)
	priv, err := readPrivateKey(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		priv, created, err = createPrivateKey(dir, keyPath)
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("audit: instance key: %w", err)
	}
	pub = priv.Public().(ed25519.PublicKey)
	if err := writePublicKey(filepath.Join(dir, InstancePubFile), pub); err != nil {
		return nil, nil, false, fmt.Errorf("audit: instance key: %w", err)
	}
	return NewSigner(InstanceKeyID(pub), priv), pub, created, nil
}

func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("%s: readable by others (mode %04o): chmod 600 it", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, want an Ed25519 key", path, k)
	}
	return priv, nil
}

// createPrivateKey writes a new key to a temporary file and links it into
// place, so that no reader sees a half-written key and, when two processes
// race, the first link wins and both use its key; created is false for
// the one that lost.
func createPrivateKey(dir, path string) (priv ed25519.PrivateKey, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	_, priv, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, err
	}
	tmp, err := writeTemp(dir, InstanceKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			priv, err := readPrivateKey(path) // another process was first
			return priv, false, err
		}
		return nil, false, err
	}
	return priv, true, nil
}

func writePublicKey(path string, pub ed25519.PublicKey) error {
	want, err := MarshalPublicKey(pub)
	if err != nil {
		return err
	}
	have, err := readPublicKey(path)
	switch {
	case err == nil:
		if !have.Equal(pub) {
			return fmt.Errorf("%s does not hold the public key of %s", path, filepath.Join(filepath.Dir(path), InstanceKeyFile))
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	if err := atomicfile.WriteFile(path, want, 0o644); err != nil {
		return err
	}
	return os.Chmod(path, 0o644) // readable by verifiers whatever the umask
}

// writeTemp writes b to a new file (mode 0600) in dir and syncs it.
func writeTemp(dir, name string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// MarshalPublicKey encodes pub as a PKIX PEM "PUBLIC KEY" block, the form of
// instance.pub (openssl pkey -pubin reads it).
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey reads an Ed25519 public key as a PKIX PEM "PUBLIC KEY"
// block, or as the standard base64 of its 32 bytes.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	b = bytes.TrimSpace(b)
	if bytes.HasPrefix(b, []byte("-----BEGIN")) {
		block, _ := pem.Decode(b)
		if block == nil || block.Type != "PUBLIC KEY" {
			return nil, errors.New("not a PEM \"PUBLIC KEY\" block")
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %T, want an Ed25519 key", k)
		}
		return pub, nil
	}
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("neither a PEM \"PUBLIC KEY\" block nor the base64 of a 32-byte Ed25519 key")
	}
	return ed25519.PublicKey(raw), nil
}

// KeySet is a Keys held in memory. The zero value is empty and ready.
type KeySet struct {
	keys map[string]ed25519.PublicKey
}

// PublicKey returns keyID's key.
func (ks *KeySet) PublicKey(keyID string) (ed25519.PublicKey, bool) {
	pub, ok := ks.keys[keyID]
	return pub, ok
}

// Add sets keyID's key. A second, different key for the same id is an
// error: an actor has one key.
func (ks *KeySet) Add(keyID string, pub ed25519.PublicKey) error {
	if keyID == "" {
		return errors.New("audit: add key: empty key id")
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("audit: add key %s: %d bytes, want %d", keyID, len(pub), ed25519.PublicKeySize)
	}
	if have, ok := ks.keys[keyID]; ok {
		if have.Equal(pub) {
			return nil
		}
		return fmt.Errorf("audit: add key %s: a different key is already set for it", keyID)
	}
	if ks.keys == nil {
		ks.keys = make(map[string]ed25519.PublicKey)
	}
	ks.keys[keyID] = pub
	return nil
}

// LoadPub adds the public key in the file at path (see ParsePublicKey) as
// keyID's.
func (ks *KeySet) LoadPub(keyID, path string) error {
	pub, err := readPublicKey(path)
	if err != nil {
		return fmt.Errorf("audit: load key %s: %w", keyID, err)
	}
	return ks.Add(keyID, pub)
}

// LoadInstancePub adds an instance public key file (instance.pub), whose
// key id is derived from the key, and returns that id.
func (ks *KeySet) LoadInstancePub(path string) (string, error) {
	pub, err := readPublicKey(path)
	if err != nil {
		return "", fmt.Errorf("audit: load instance key: %w", err)
	}
	id := InstanceKeyID(pub)
	return id, ks.Add(id, pub)
}

// readPublicKey reads the public key in the file at path (ParsePublicKey).
func readPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// instancePrefix starts the key id of every PRF instance key.
const instancePrefix = "prf-instance:"
