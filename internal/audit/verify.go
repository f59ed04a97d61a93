package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"
	"strings"
	"sync"
)

// Break is the first entry where verification failed.
type Break struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// Report is what Verify found.
//
// Entries counts the entries checked: all of them when OK, up to and
// including the broken one otherwise. Head is the hash of the last entry that
// verified: the log's head when OK (the value to keep as an anchor), the end
// of the trustworthy prefix otherwise; "" when none did.
type Report struct {
	Entries int    `json:"entries"`
	Head    string `json:"head"`
	OK      bool   `json:"ok"`
	Broken  *Break `json:"broken,omitempty"`
}

// batchSize is how many entries' signatures are checked at once, in
// parallel; the chain itself is checked in order as entries arrive.
const batchSize = 512

// Verify checks a log, entry by entry in the order given:
//
//   - seq runs 1, 2, 3, … without gaps or repeats;
//   - prev is the previous entry's hash ("" for the first);
//   - hash is the hash of the entry's contents (ComputeHash);
//   - payload is compact JSON, as Append writes it (no export could carry
//     anything else);
//   - actor has a key in keys, and sig is that key's signature of the hash.
//
// When anchor is not "", a hash printed earlier as the log's head, it must
// be the hash of one of the entries: a log cut back to before the anchor, or
// rewritten up to it, fails. Verify stops at the first failure and reports
// that entry with the reason; an anchor that is never reached is reported
// at the seq after the last entry. Nil keys know no actor.
//
// The chain is checked in order; signatures, which are most of the cost,
// are checked a batch at a time on every core.
func Verify(entries iter.Seq[Entry], keys Keys, anchor string) Report {
	v := newVerifier(keys, anchor)
	for e := range entries {
		if !v.add(e) {
			break
		}
	}
	return v.finish()
}

// VerifyStore verifies the log in st (see Verify). The error is for a store
// that cannot be read; a log that does not verify is a Report with OK false.
// An entry the store cannot decode is reported as the broken entry.
func VerifyStore(ctx context.Context, st Store, keys Keys, anchor string) (Report, error) {
	errStop := errors.New("stop")
	v := newVerifier(keys, anchor)
	err := st.AuditEntries(ctx, func(e Entry) error {
		if !v.add(e) {
			return errStop
		}
		return nil
	})
	var ce *CorruptError
	switch {
	case err == nil, errors.Is(err, errStop):
	case errors.As(err, &ce):
		// The entries before it have been read: it is the break unless one
		// of them broke first.
		v.settle(&Break{Seq: ce.Seq, Reason: fmt.Sprintf("stored entry cannot be read: %v", ce.Err)})
	default:
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	return v.finish(), nil
}

// VerifyJSONL verifies a log exported as JSON Lines (see Export and Verify).
// A line that is not an entry is reported as the broken entry, at the seq
// that should have been there, with its line number. The error is for a
// reader that fails.
func VerifyJSONL(r io.Reader, keys Keys, anchor string) (Report, error) {
	v := newVerifier(keys, anchor)
	for e, err := range ReadJSONL(r) {
		var le *LineError
		if errors.As(err, &le) {
			v.settle(&Break{Seq: v.lastSeq + 1, Reason: le.Error()})
			break
		}
		if err != nil {
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		if !v.add(e) {
			break
		}
	}
	return v.finish(), nil
}

func newVerifier(keys Keys, anchor string) *verifier {
	if keys == nil {
		keys = &KeySet{}
	}
	return &verifier{keys: keys, anchor: strings.ToLower(strings.TrimSpace(anchor))}
}

// verifier checks the chain in order as entries arrive and queues their
// signatures, which it checks a batch at a time on every core.
type verifier struct {
	keys   Keys
	anchor string
	// history: people's keys as the log's trust.changed entries (signed by
	// an instance key) recorded them; they take precedence over keys, so
	// an entry signed before a key was rotated or removed still verifies.
	history map[string]ed25519.PublicKey

	lastSeq  int64  // of the last entry whose chain checks passed (0: none yet)
	lastHash string // its hash

	batch   []sigJob
	scratch bytes.Buffer

	// Settled: what is known to verify.
	entries     int
	head        string
	anchorFound bool
	broken      *Break
}

type sigJob struct {
	seq  int64
	hash [32]byte
	hexh string
	pub  ed25519.PublicKey
	sig  []byte
	// actor, for the message.
	actor string
	bad   bool
}

// add checks e against the chain and queues its signature. It returns false
// once the log is known to be broken.
func (v *verifier) add(e Entry) bool {
	if v.broken != nil {
		return false
	}
	if b := v.check(&e); b != nil {
		v.settle(b)
		return false
	}
	if len(v.batch) == batchSize {
		v.flush()
		if v.broken != nil {
			return false
		}
	}
	return true
}

// settle records b, found after the entries read so far, as the break
// unless the signatures of those entries, checked now, break first.
func (v *verifier) settle(b *Break) {
	v.flush()
	if v.broken == nil {
		v.entries++
		v.broken = b
	}
}

// check runs the in-order checks and, when they pass, queues the signature.
func (v *verifier) check(e *Entry) *Break {
	want := v.lastSeq + 1
	switch {
	case e.Seq != want && v.lastSeq == 0:
		why := ""
		if e.Seq > 1 {
			why = fmt.Sprintf(": %s missing", missing(1, e.Seq-1))
		}
		return &Break{Seq: e.Seq, Reason: fmt.Sprintf("the log starts at seq %d, want 1%s", e.Seq, why)}
	case e.Seq > want:
		return &Break{Seq: e.Seq, Reason: fmt.Sprintf("seq %d follows seq %d: %s missing", e.Seq, v.lastSeq, missing(want, e.Seq-1))}
	case e.Seq != want:
		return &Break{Seq: e.Seq, Reason: fmt.Sprintf("seq %d follows seq %d, want %d (entries out of order or repeated)", e.Seq, v.lastSeq, want)}
	}
	if e.Prev != v.lastHash {
		if v.lastSeq == 0 {
			return &Break{Seq: e.Seq, Reason: fmt.Sprintf("prev is %q, want \"\" for the first entry", e.Prev)}
		}
		return &Break{Seq: e.Seq, Reason: fmt.Sprintf("prev %s is not the hash of seq %d (%s)", orEmpty(e.Prev), v.lastSeq, v.lastHash)}
	}
	sum := entryHash(e)
	if got := hex.EncodeToString(sum[:]); e.Hash != got {
		return &Break{Seq: e.Seq, Reason: fmt.Sprintf("hash %s does not match the entry's contents, which hash to %s", orEmpty(e.Hash), got)}
	}
	if !isCompact(&v.scratch, e.Payload) {
		return &Break{Seq: e.Seq, Reason: "payload is not compact JSON"}
	}
	pub, ok := v.history[e.Actor]
	if !ok {
		pub, ok = v.keys.PublicKey(e.Actor)
	}
	if !ok || len(pub) != ed25519.PublicKeySize {
		return &Break{Seq: e.Seq, Reason: fmt.Sprintf("actor %q has no known public key", e.Actor)}
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(e.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return &Break{Seq: e.Seq, Reason: fmt.Sprintf("sig is not the base64 of a %d-byte Ed25519 signature", ed25519.SignatureSize)}
	}
	v.batch = append(v.batch, sigJob{seq: e.Seq, hash: sum, hexh: e.Hash, pub: pub, sig: sig, actor: e.Actor})
	v.lastSeq, v.lastHash = e.Seq, e.Hash
	if e.Kind == KindTrustChanged && strings.HasPrefix(e.Actor, instancePrefix) {
		// Its signature is checked with the batch; if it fails, the log
		// breaks here, before any entry the keys it lists would admit.
		v.recordTrust(e.Payload)
	}
	return nil
}

// recordTrust replaces the key history with the people a trust.changed
// entry lists.
func (v *verifier) recordTrust(payload []byte) {
	var p TrustChange
	if json.Unmarshal(payload, &p) != nil {
		return
	}
	h := map[string]ed25519.PublicKey{}
	for _, person := range p.People {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(person.PublicKey, "ed25519:"))
		if err == nil && len(raw) == ed25519.PublicKeySize && person.Email != "" {
			h[person.Email] = ed25519.PublicKey(raw)
		}
	}
	v.history = h
}

func missing(from, to int64) string {
	if from == to {
		return fmt.Sprintf("seq %d is", from)
	}
	return fmt.Sprintf("seq %d to %d are", from, to)
}

func orEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// flush checks the queued signatures and settles the entries up to the
// first that fails.
func (v *verifier) flush() {
	if len(v.batch) == 0 {
		return
	}
	verifyAll(v.batch)
	for i := range v.batch {
		j := &v.batch[i]
		v.entries++
		if j.bad {
			v.broken = &Break{Seq: j.seq, Reason: fmt.Sprintf("sig is not a valid signature of the hash by %q's key", j.actor)}
			break
		}
		v.head = j.hexh
		if v.anchor != "" && j.hexh == v.anchor {
			v.anchorFound = true
		}
	}
	v.batch = v.batch[:0]
}

// verifyAll checks the signatures on every core.
func verifyAll(jobs []sigJob) {
	workers := min(runtime.GOMAXPROCS(0), (len(jobs)+63)/64)
	if workers <= 1 {
		for i := range jobs {
			jobs[i].bad = !ed25519.Verify(jobs[i].pub, jobs[i].hash[:], jobs[i].sig)
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(jobs) + workers - 1) / workers
	for lo := 0; lo < len(jobs); lo += per {
		part := jobs[lo:min(lo+per, len(jobs))]
		wg.Go(func() {
			for i := range part {
				part[i].bad = !ed25519.Verify(part[i].pub, part[i].hash[:], part[i].sig)
			}
		})
	}
	wg.Wait()
}

func (v *verifier) finish() Report {
	v.flush()
	if v.broken == nil && v.anchor != "" && !v.anchorFound {
		end := "the log is empty"
		if v.entries > 0 {
			end = fmt.Sprintf("the log ends at seq %d (hash %s)", v.lastSeq, v.head)
		}
		v.broken = &Break{Seq: v.lastSeq + 1, Reason: fmt.Sprintf("anchor %s is not in the log: %s; entries after it were removed, or the log was rewritten", v.anchor, end)}
	}
	return Report{Entries: v.entries, Head: v.head, OK: v.broken == nil, Broken: v.broken}
}
