package signoff

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Key is a person's key pair, as kept on their machine.
type Key struct {
	Name, Email string
	Roles       []string
	Private     ed25519.PrivateKey
}

// KeyID is the name the key has in the trust file: the email.
func (k *Key) KeyID() string { return k.Email }

// Sign signs msg with the private key.
func (k *Key) Sign(msg []byte) ([]byte, error) {
	if k == nil || len(k.Private) != ed25519.PrivateKeySize {
		return nil, errors.New("sign: no private key")
	}
	return ed25519.Sign(k.Private, msg), nil
}

// Public returns the public half of the key.
func (k *Key) Public() ed25519.PublicKey {
	if len(k.Private) != ed25519.PrivateKeySize {
		return nil
	}
	return k.Private.Public().(ed25519.PublicKey)
}

// Person is the key's public part: the entry the trust file needs.
func (k *Key) Person() Person {
	return Person{Name: k.Name, Email: k.Email, Roles: slices.Clone(k.Roles), PublicKey: FormatPublicKey(k.Public())}
}

// GenerateKey makes a new Ed25519 key pair for a person. The name must not
// be empty, the email must be an address (it names the key file), and there
// must be at least one role.
func GenerateKey(name, email string, roles []string) (*Key, error) {
	name, roles, err := cleanIdentity(name, email, roles)
	if err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return &Key{Name: name, Email: email, Roles: roles, Private: priv}, nil
}

// KeyDir is where private keys live: $PRF_KEY_DIR, else prf/keys in the
// user's config directory (~/.config/prf/keys on Linux).
func KeyDir(getenv func(string) string) (string, error) {
	if getenv != nil {
		if d := getenv("PRF_KEY_DIR"); d != "" {
			return d, nil
		}
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("key directory: %w (set PRF_KEY_DIR)", err)
	}
	return filepath.Join(base, "prf", "keys"), nil
}

// The key file, JSON. The private part holds the 32-byte Ed25519 seed,
// either in the clear (plain) or sealed with AES-256-GCM under a key that
// scrypt derives from the passphrase; the sealing authenticates the email
// and public key too, so neither can be swapped under the private key.
const (
	keyFileVersion = 1
	keyFileExt     = ".key"
	kdfScrypt      = "scrypt"
	cipherAESGCM   = "aes-256-gcm"
	maxKeyFileSize = 64 << 10
)

type keyFile struct {
	Version   int         `json:"version"`
	Name      string      `json:"name"`
	Email     string      `json:"email"`
	Roles     []string    `json:"roles"`
	PublicKey string      `json:"public_key"`
	Private   privatePart `json:"private"`
}

type privatePart struct {
	Plain      string `json:"plain,omitempty"` // base64 seed, when not encrypted
	KDF        string `json:"kdf,omitempty"`   // "scrypt"
	LogN       int    `json:"log_n,omitempty"` // scrypt N = 2^log_n
	R          int    `json:"r,omitempty"`
	P          int    `json:"p,omitempty"`
	Salt       string `json:"salt,omitempty"`
	Cipher     string `json:"cipher,omitempty"` // "aes-256-gcm"
	Nonce      string `json:"nonce,omitempty"`
	Ciphertext string `json:"ciphertext,omitempty"`
}

func (pp privatePart) encrypted() bool { return pp.Plain == "" }

// kdfParams are scrypt's cost parameters.
type kdfParams struct{ logN, r, p int }

// defaultKDF is scrypt at N=2^17, r=8, p=1 (128 MiB, about half a second):
// the minimum OWASP recommends for scrypt.
func defaultKDF() kdfParams { return kdfParams{logN: 17, r: 8, p: 1} }

// check bounds what a key file may ask of the machine (at most 1 GiB).
func (kp kdfParams) check() error {
	if kp.logN < 10 || kp.logN > 20 || kp.r < 1 || kp.r > 32 || kp.p < 1 || kp.p > 16 || 128*kp.r<<kp.logN > 1<<30 {
		return fmt.Errorf("scrypt parameters log_n=%d r=%d p=%d are out of range", kp.logN, kp.r, kp.p)
	}
	return nil
}

func (kp kdfParams) derive(passphrase, salt []byte) ([]byte, error) {
	if err := kp.check(); err != nil {
		return nil, err
	}
	return scrypt.Key(passphrase, salt, 1<<kp.logN, kp.r, kp.p, 32)
}

// keyAAD is the additional data the private key is sealed with.
func keyAAD(email, publicKey string) []byte {
	return []byte("prf-key-v1\n" + email + "\n" + publicKey)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// keyFileName is the key file's name for an email: lower-cased, so that
// Alice@Example.com and alice@example.com are one key.
func keyFileName(email string) string {
	return strings.ToLower(email) + keyFileExt
}

// SaveKey writes k to <dir>/<email>.key with mode 0600, creating dir with
// mode 0700, and returns the file's path. A non-nil passphrase encrypts the
// private key (scrypt, AES-256-GCM); nil stores it in the clear, readable
// by the user's account only. An existing key file is never overwritten
// (ErrKeyExists).
func SaveKey(dir string, k *Key, passphrase []byte) (string, error) {
	return saveKey(dir, k, passphrase, defaultKDF())
}

func saveKey(dir string, k *Key, passphrase []byte, kp kdfParams) (string, error) {
	if k == nil || len(k.Private) != ed25519.PrivateKeySize {
		return "", errors.New("save key: no private key")
	}
	if err := checkEmail(k.Email); err != nil {
		return "", fmt.Errorf("save key: %w", err)
	}
	if passphrase != nil && len(passphrase) == 0 {
		return "", errors.New("save key: empty passphrase (give none to store the key unencrypted)")
	}
	seed := k.Private.Seed()
	defer clear(seed)
	kf := keyFile{Version: keyFileVersion, Name: k.Name, Email: k.Email, Roles: slices.Clone(k.Roles), PublicKey: FormatPublicKey(k.Public())}
	if passphrase == nil {
		kf.Private.Plain = base64.StdEncoding.EncodeToString(seed)
	} else {
		salt := make([]byte, 16)
		nonce := make([]byte, 12)
		if _, err := io.ReadFull(rand.Reader, salt); err != nil {
			return "", err
		}
		if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
			return "", err
		}
		dk, err := kp.derive(passphrase, salt)
		if err != nil {
			return "", fmt.Errorf("save key: %w", err)
		}
		aead, err := newGCM(dk)
		clear(dk)
		if err != nil {
			return "", err
		}
		ct := aead.Seal(nil, nonce, seed, keyAAD(kf.Email, kf.PublicKey))
		kf.Private = privatePart{
			KDF: kdfScrypt, LogN: kp.logN, R: kp.r, P: kp.p, Salt: base64.StdEncoding.EncodeToString(salt),
			Cipher: cipherAESGCM, Nonce: base64.StdEncoding.EncodeToString(nonce), Ciphertext: base64.StdEncoding.EncodeToString(ct),
		}
	}
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("key directory: %w", err)
		}
		if err := os.Chmod(dir, 0o700); err != nil { // whatever the umask
			return "", fmt.Errorf("key directory: %w", err)
		}
	}
	path := filepath.Join(dir, keyFileName(k.Email))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("%s: %w (a key is never overwritten: move the old one away first if you mean to replace it)", path, ErrKeyExists)
	}
	if err != nil {
		return "", fmt.Errorf("save key: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("save key: %w", err)
	}
	return path, nil
}

// readKeyFile reads and decodes a key file without decrypting it.
func readKeyFile(path string) (*keyFile, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, info, fmt.Errorf("key file %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, info, err
	}
	if len(data) > maxKeyFileSize {
		return nil, info, fmt.Errorf("key file %s is larger than %d bytes: not a key", path, maxKeyFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var kf keyFile
	if err := dec.Decode(&kf); err != nil {
		return nil, info, fmt.Errorf("key file %s: %w", path, err)
	}
	if kf.Version != keyFileVersion {
		return nil, info, fmt.Errorf("key file %s has version %d; this prf reads version %d", path, kf.Version, keyFileVersion)
	}
	if err := checkEmail(kf.Email); err != nil {
		return nil, info, fmt.Errorf("key file %s: %w", path, err)
	}
	if _, err := ParsePublicKey(kf.PublicKey); err != nil {
		return nil, info, fmt.Errorf("key file %s: public_key: %w", path, err)
	}
	pp := kf.Private
	if pp.encrypted() && (pp.KDF != kdfScrypt || pp.Cipher != cipherAESGCM) {
		return nil, info, fmt.Errorf("key file %s: private key sealed with kdf %q and cipher %q; this prf knows %s and %s", path, pp.KDF, pp.Cipher, kdfScrypt, cipherAESGCM)
	}
	return &kf, info, nil
}

// unprotected reports whether a key file's mode lets others read or write
// it; like ssh, PRF then refuses to use it. Windows has no such bits.
func unprotected(mode fs.FileMode) bool {
	return runtime.GOOS != "windows" && mode.Perm()&0o077 != 0
}

// LoadKey reads the key for email from dir. passphrase is called only when
// the key is encrypted; a wrong one gives ErrWrongPassphrase. A key file
// that the group or others may read or write is refused, as ssh refuses
// one.
func LoadKey(dir, email string, passphrase func() ([]byte, error)) (*Key, error) {
	if err := checkEmail(email); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, keyFileName(email))
	kf, info, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w for %s in %s (create one with prf identity new, or point PRF_KEY_DIR at where it is)", ErrNoKey, email, dir)
	}
	if err != nil {
		return nil, err
	}
	if unprotected(info.Mode()) {
		return nil, fmt.Errorf("key file %s has mode %04o: others may read it, so it is refused; run chmod 600 %s (and consider the key exposed)", path, info.Mode().Perm(), path)
	}
	if !strings.EqualFold(kf.Email, email) {
		return nil, fmt.Errorf("key file %s holds the key of %s, not %s", path, kf.Email, email)
	}
	seed, err := kf.seed(passphrase)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", email, err)
	}
	defer clear(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	if FormatPublicKey(priv.Public().(ed25519.PublicKey)) != kf.PublicKey {
		return nil, fmt.Errorf("key file %s is damaged: its private key does not match its public key", path)
	}
	return &Key{Name: kf.Name, Email: kf.Email, Roles: kf.Roles, Private: priv}, nil
}

// seed returns the private key's seed, decrypting it if need be.
func (kf *keyFile) seed(passphrase func() ([]byte, error)) ([]byte, error) {
	pp := kf.Private
	if !pp.encrypted() {
		seed, err := base64.StdEncoding.DecodeString(pp.Plain)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, errors.New("key file is damaged: private.plain is not a base64 Ed25519 seed")
		}
		return seed, nil
	}
	salt, err1 := base64.StdEncoding.DecodeString(pp.Salt)
	nonce, err2 := base64.StdEncoding.DecodeString(pp.Nonce)
	ct, err3 := base64.StdEncoding.DecodeString(pp.Ciphertext)
	if err := errors.Join(err1, err2, err3); err != nil || len(salt) < 8 || len(nonce) != 12 || len(ct) != ed25519.SeedSize+16 {
		return nil, errors.New("key file is damaged: its salt, nonce or ciphertext is malformed")
	}
	kp := kdfParams{logN: pp.LogN, r: pp.R, p: pp.P}
	if err := kp.check(); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if passphrase == nil {
		return nil, errors.New("the key is passphrase-protected and no passphrase was given")
	}
	pass, err := passphrase()
	if err != nil {
		return nil, fmt.Errorf("passphrase: %w", err)
	}
	if len(pass) == 0 {
		return nil, errors.New("the key is passphrase-protected and the passphrase given is empty")
	}
	dk, err := kp.derive(pass, salt)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(dk)
	clear(dk)
	if err != nil {
		return nil, err
	}
	seed, err := aead.Open(nil, nonce, ct, keyAAD(kf.Email, kf.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("%w (or the key file was altered)", ErrWrongPassphrase)
	}
	return seed, nil
}

// KeyInfo is what a key file says without being decrypted.
type KeyInfo struct {
	Path      string
	Person    Person // name, email, roles and public key
	Encrypted bool
	Mode      fs.FileMode // permission bits; LoadKey refuses group/other access
	Err       error       // the file could not be read; the rest is unset
}

// Unprotected reports whether others may read or write the key file, so
// that LoadKey refuses it.
func (ki KeyInfo) Unprotected() bool { return unprotected(ki.Mode) }

// ReadKeyInfo describes the key for email in dir; the error wraps ErrNoKey
// when there is none.
func ReadKeyInfo(dir, email string) (KeyInfo, error) {
	if err := checkEmail(email); err != nil {
		return KeyInfo{}, err
	}
	ki := keyInfo(filepath.Join(dir, keyFileName(email)))
	if errors.Is(ki.Err, fs.ErrNotExist) {
		return ki, fmt.Errorf("%w for %s in %s", ErrNoKey, email, dir)
	}
	return ki, ki.Err
}

func keyInfo(path string) KeyInfo {
	ki := KeyInfo{Path: path}
	kf, info, err := readKeyFile(path)
	if info != nil {
		ki.Mode = info.Mode().Perm()
	}
	if err != nil {
		ki.Err = err
		return ki
	}
	ki.Person = Person{Name: kf.Name, Email: kf.Email, Roles: kf.Roles, PublicKey: kf.PublicKey}
	ki.Encrypted = kf.Private.encrypted()
	return ki
}

// ListKeyInfo describes every *.key file in dir, sorted by file name; a
// file that does not read has its Err set. A missing dir has no keys.
func ListKeyInfo(dir string) ([]KeyInfo, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	var out []KeyInfo
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), keyFileExt) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, keyInfo(filepath.Join(dir, e.Name())))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ListKeys returns the public part of every key in dir, sorted by email.
// Key files that do not read are left out and reported in the error,
// joined, next to the keys that did read.
func ListKeys(dir string) ([]Person, error) {
	infos, err := ListKeyInfo(dir)
	if err != nil {
		return nil, err
	}
	var people []Person
	var errs []error
	for _, ki := range infos {
		if ki.Err != nil {
			errs = append(errs, ki.Err)
			continue
		}
		people = append(people, ki.Person)
	}
	return people, errors.Join(errs...)
}
