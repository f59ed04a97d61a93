package signoff

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Statement is something a person signed: an attestation, a sign-off, an
// authorization or an override. Kind says which; Body holds the kind's
// fields (run id, results digest, artifact...) as canonical compact JSON.
type Statement struct {
	Kind      string          `json:"kind"`
	Signer    string          `json:"signer"` // key id (email)
	Role      string          `json:"role,omitempty"`
	Time      time.Time       `json:"time"`
	Body      json.RawMessage `json:"body"`
	Signature string          `json:"signature"` // base64 Ed25519 over SigningBytes()
}

// statementDomain starts the signed bytes, so that a statement signature
// can never be taken for a signature over anything else PRF signs.
const statementDomain = "prf-statement-v1\n"

// SigningBytes are the bytes the signature covers:
//
//	prf-statement-v1\n<kind>\n<signer>\n<role>\n<time, UTC RFC 3339 with nanoseconds>\n<body>
//
// The body enters in its canonical form (CanonicalJSON), so re-indenting
// the statement or reordering the body's keys does not break the
// signature; a body that has no canonical form enters as it is (and Verify
// refuses it). Kind, signer and role hold no line breaks (SignStatement
// and Verify refuse them), so the fields cannot run into each other.
func (s *Statement) SigningBytes() []byte {
	body := []byte(s.Body)
	if c, err := CanonicalJSON(s.Body); err == nil {
		body = c
	}
	return s.signingBytes(body)
}

// signingBytes is SigningBytes with the body already canonical.
func (s *Statement) signingBytes(body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(statementDomain) + len(s.Kind) + len(s.Signer) + len(s.Role) + 40 + len(body))
	b.WriteString(statementDomain)
	b.WriteString(s.Kind)
	b.WriteByte('\n')
	b.WriteString(s.Signer)
	b.WriteByte('\n')
	b.WriteString(s.Role)
	b.WriteByte('\n')
	b.WriteString(s.Time.UTC().Format(time.RFC3339Nano))
	b.WriteByte('\n')
	b.Write(body)
	return b.Bytes()
}

// DecodeBody decodes the body into v.
func (s *Statement) DecodeBody(v any) error {
	return json.Unmarshal(s.Body, v)
}

// SignStatement makes a statement of kind, by s, claiming role ("" for
// none; its white space is collapsed, its case kept), at now (kept to the microsecond, in UTC: what every store keeps),
// with body, which must encode to a JSON object: a struct or a map, or a
// json.RawMessage holding one.
func SignStatement(s Signer, kind, role string, body any, now time.Time) (*Statement, error) {
	if s == nil {
		return nil, errors.New("sign statement: no signer")
	}
	if err := checkLine("role", role); err != nil {
		return nil, fmt.Errorf("sign statement: %w", err)
	}
	st := &Statement{Kind: kind, Signer: s.KeyID(), Role: cleanRole(role), Time: now.UTC().Truncate(time.Microsecond)}
	if err := st.checkHeader(); err != nil {
		return nil, fmt.Errorf("sign statement: %w", err)
	}
	var raw []byte
	if rm, ok := body.(json.RawMessage); ok {
		raw = rm
	} else {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("sign %s statement: body: %w", kind, err)
		}
		raw = b
	}
	c, err := CanonicalJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("sign %s statement: body: %w", kind, err)
	}
	if len(c) == 0 || c[0] != '{' {
		return nil, fmt.Errorf("sign %s statement: body must be a JSON object, got %.40s", kind, c)
	}
	st.Body = c
	sig, err := s.Sign(st.signingBytes(c))
	if err != nil {
		return nil, fmt.Errorf("sign %s statement as %s: %w", kind, st.Signer, err)
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("sign %s statement as %s: the signer returned %d bytes, not an Ed25519 signature", kind, st.Signer, len(sig))
	}
	st.Signature = base64.StdEncoding.EncodeToString(sig)
	return st, nil
}

// checkHeader checks the fields that precede the body in SigningBytes.
func (s *Statement) checkHeader() error {
	if s.Kind == "" {
		return errors.New("statement has no kind")
	}
	if s.Signer == "" {
		return errors.New("statement has no signer")
	}
	if s.Time.IsZero() {
		return errors.New("statement has no time")
	}
	for _, f := range [][2]string{{"kind", s.Kind}, {"signer", s.Signer}, {"role", s.Role}} {
		if err := checkLine(f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

// Verify checks a statement against the trust file: its signer is listed,
// its signature verifies against the signer's public key there, and, when
// it claims a role, the signer holds it there. The error says which check
// failed and matches ErrUnknownSigner, ErrBadSignature or ErrRoleNotHeld.
func (t *Trust) Verify(s *Statement) error {
	if s == nil {
		return errors.New("verify: no statement")
	}
	if t == nil {
		return errors.New("verify: no trust file")
	}
	what := s.Kind + " statement"
	if err := s.checkHeader(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	what += " by " + s.Signer
	p, ok := t.Person(s.Signer)
	if !ok {
		return fmt.Errorf("%s: %w: %s is not in the trust file %s", what, ErrUnknownSigner, s.Signer, t.File)
	}
	pub, err := ParsePublicKey(p.PublicKey)
	if err != nil {
		return fmt.Errorf("%s: the trust file %s has a bad key for them: %w", what, t.File, err)
	}
	body, err := CanonicalJSON(s.Body)
	if err != nil {
		return fmt.Errorf("%s: body: %w", what, err)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(s.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%s: %w: the signature is not a base64 Ed25519 signature", what, ErrBadSignature)
	}
	if !ed25519.Verify(pub, s.signingBytes(body), sig) {
		return fmt.Errorf("%s: %w: it does not verify against their key in %s (%s): the statement was changed after signing, or signed with another key", what, ErrBadSignature, t.File, Fingerprint(pub))
	}
	if s.Role != "" && !p.HasRole(s.Role) {
		return fmt.Errorf("%s as %q: %w: the trust file %s grants %s only %s", what, s.Role, ErrRoleNotHeld, t.File, s.Signer, strings.Join(p.Roles, ", "))
	}
	return nil
}

// maxJSONDepth bounds how deeply a body may nest.
const maxJSONDepth = 64

// CanonicalJSON returns the canonical form of a JSON text: compact, object
// keys sorted, strings escaped as encoding/json writes them, numbers as
// written. That form is a fixed point of json.Marshal, so a statement
// survives being stored and re-encoded. A text that is not valid UTF-8,
// repeats a key in an object (parsers disagree on which one wins), nests
// deeper than 64 or has trailing data has no canonical form.
func CanonicalJSON(data []byte) ([]byte, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("JSON is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := jsonValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("JSON has data after its value")
	}
	return json.Marshal(v)
}

// jsonValue reads one value, refusing repeated keys.
func jsonValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nests deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, errors.New("no JSON value")
	}
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("invalid JSON: %w", err)
				}
				k, _ := kt.(string)
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("JSON object repeats the key %q", k)
				}
				v, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("invalid JSON: %w", err)
			}
			return m, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("invalid JSON: %w", err)
			}
			return a, nil
		}
		return nil, fmt.Errorf("invalid JSON: unexpected %v", tok)
	}
	return tok, nil
}
