// Package audit is PRF's append-only, hash-chained, signed audit log.
//
// Every event that matters to an auditor (a run started or finished, an
// attestation, a sign-off, an authorization, an override, a trust-file
// change) is one Entry. Each entry holds the hash of the entry before it, so
// changing, removing, inserting or reordering entries breaks the chain, and
// each is signed by its actor (a person's key, or the PRF instance key for
// automatic events), so a forged entry needs a key the forger should not
// have. Verify finds the first entry where either fails. Cutting entries off
// the end leaves a shorter valid chain; an anchor (the head hash written down
// elsewhere earlier, see Report.Head) detects that.
//
// The log lives in the store (Store, implemented by sqlite.DB) and travels
// as JSON Lines (Export, ReadJSONL), which VerifyJSONL checks without the
// database.
package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prfhq/prf/internal/store"
)

// Kinds of entries written by PRF. The list is open: a Kind is any
// non-empty string, and these are the ones PRF's own code writes.
const (
	KindRunStarted    = "run.started"
	KindRunFinished   = "run.finished"
	KindAttestation   = "attestation"
	KindSignoff       = "signoff"
	KindSignoffStale  = "signoff.stale"
	KindAuthorization = "authorization"
	KindOverride      = "override"
	KindTrustChanged  = "trust.changed"
)

// TrustChange is the payload of a KindTrustChanged entry, signed by an
// instance key: the trust file as it now stands. Verify takes people's
// keys from the latest one, so that entries signed before a key was
// rotated or removed still verify.
type TrustChange struct {
	File   string        `json:"file"`
	SHA256 string        `json:"sha256"` // of the file's bytes
	People []TrustPerson `json:"people"`
}

// TrustPerson is one person of a TrustChange.
type TrustPerson struct {
	Email     string   `json:"email"`
	Roles     []string `json:"roles"`
	PublicKey string   `json:"public_key"` // "ed25519:<base64 of 32 bytes>"
}

// Entry is one event in the log. The store holds it (store.AuditEntry)
// without knowing how it is hashed, signed or verified.
type Entry = store.AuditEntry

// hashDomain starts the canonical bytes, so that an entry's hash can never
// be the hash of some other PRF structure, and names the encoding's version.
const hashDomain = "prf audit entry v1"

// timeLayout is the canonical form of Entry.Time: UTC, nine fractional
// digits, so one instant has exactly one form.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// ComputeHash returns the hex SHA-256 of the entry's canonical bytes: the
// domain string, then seq as 8 bytes big-endian, then time (UTC, nine
// fractional digits), actor, kind, payload and prev, each preceded by its
// length as 8 bytes big-endian. Fixed order and length prefixes mean no two
// different entries have the same bytes (moving a character from actor to
// kind changes the lengths). Hash and Sig are not covered.
func ComputeHash(e *Entry) string {
	sum := entryHash(e)
	return hex.EncodeToString(sum[:])
}

func entryHash(e *Entry) [sha256.Size]byte {
	ts := e.Time.UTC().Format(timeLayout)
	n := 8 + len(hashDomain) + 8 + 6*8 + len(ts) + len(e.Actor) + len(e.Kind) + len(e.Payload) + len(e.Prev)
	b := make([]byte, 0, n)
	field := func(s []byte) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	field([]byte(hashDomain))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	field([]byte(ts))
	field([]byte(e.Actor))
	field([]byte(e.Kind))
	field(e.Payload)
	field([]byte(e.Prev))
	return sha256.Sum256(b)
}

// Signer signs entries as one actor.
type Signer interface {
	KeyID() string                   // the actor written in the entries it signs
	Sign(msg []byte) ([]byte, error) // an Ed25519 signature of msg
}

// Keys finds an actor's public key.
type Keys interface {
	PublicKey(keyID string) (ed25519.PublicKey, bool)
}

// Store is what the log needs from a database; *sqlite.DB implements it.
// The log is append-only: a Store has no way to change or remove entries.
type Store interface {
	// AppendAudit runs build with the current head (nil when the log is
	// empty) inside one write transaction and stores the entry it returns,
	// which must have the next seq; concurrent appenders (goroutines or
	// processes) serialize. build must not use the store.
	AppendAudit(ctx context.Context, build func(head *Entry) (*Entry, error)) (*Entry, error)
	// AuditEntries calls fn for every entry in seq order, from one
	// consistent snapshot, and stops at fn's first error, returning it. A
	// stored entry that cannot be decoded is a *CorruptError.
	AuditEntries(ctx context.Context, fn func(Entry) error) error
	// AuditEntriesOfKind is AuditEntries for the entries of one kind
	// only, picked out by the store, so that looking up one kind of event
	// does not read the whole log.
	AuditEntriesOfKind(ctx context.Context, kind string, fn func(Entry) error) error
}

// CorruptError is a stored entry that a Store cannot decode (a time that
// does not parse, say); verification reports it as the broken entry.
type CorruptError = store.AuditCorruptError

// Append signs an event with s and appends it to the log: the next seq, now,
// s's key id as actor, payload as compact JSON (a json.RawMessage is taken
// as is, compacted), and the hash of the current head as prev. It returns
// the stored entry.
//
// Signing happens inside the store's write transaction (the hash covers prev,
// which is only known there), so s should sign from a key in memory.
func Append(ctx context.Context, st Store, s Signer, kind string, payload any) (*Entry, error) {
	if s == nil {
		return nil, errors.New("audit: append: nil signer")
	}
	actor := s.KeyID()
	if actor == "" {
		return nil, errors.New("audit: append: signer has an empty key id")
	}
	if kind == "" {
		return nil, errors.New("audit: append: empty kind")
	}
	// json.Marshal writes compact JSON (a json.RawMessage is compacted)
	// with <, >, & and U+2028, U+2029 escaped: bytes that Export and
	// ReadJSONL carry unchanged.
	p, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("audit: append %s: payload: %w", kind, err)
	}
	e, err := st.AppendAudit(ctx, func(head *Entry) (*Entry, error) {
		e := &Entry{Seq: 1, Time: time.Now().UTC(), Actor: actor, Kind: kind, Payload: p}
		if head != nil {
			e.Seq, e.Prev = head.Seq+1, head.Hash
		}
		sum := entryHash(e)
		sig, err := s.Sign(sum[:])
		if err != nil {
			return nil, fmt.Errorf("sign as %s: %w", actor, err)
		}
		if len(sig) != ed25519.SignatureSize {
			return nil, fmt.Errorf("sign as %s: signature is %d bytes, want %d", actor, len(sig), ed25519.SignatureSize)
		}
		e.Hash, e.Sig = hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sig)
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: append %s: %w", kind, err)
	}
	return e, nil
}

// NewSigner returns a Signer that signs as keyID with priv, held in memory.
func NewSigner(keyID string, priv ed25519.PrivateKey) Signer {
	return &keySigner{id: keyID, priv: priv}
}

type keySigner struct {
	id   string
	priv ed25519.PrivateKey
}

func (k *keySigner) KeyID() string { return k.id }

func (k *keySigner) Sign(msg []byte) ([]byte, error) {
	if len(k.priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("private key is %d bytes, want %d", len(k.priv), ed25519.PrivateKeySize)
	}
	return ed25519.Sign(k.priv, msg), nil
}
