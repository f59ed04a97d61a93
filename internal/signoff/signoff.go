// Package signoff holds the people whose signatures PRF accepts and what
// they sign.
//
// A person is a name, an email (the key id), roles and an Ed25519 key
// pair. The private key stays in the user's config directory (key.go); the
// public key and the roles live in a trust file in the repository
// (trust.go), so a team reviews who may approve what like any other code.
// Statements (statement.go) are what people sign: attestations, sign-offs,
// authorizations and overrides, verified against the trust file.
//
// Signer is the seam for other ways to sign as a person: a local Key today,
// an OIDC-backed signer in the server later.
package signoff

import (
	"errors"
	"fmt"
	"strings"
)

// Signer is anything that can sign as a person: a local Key, or later a
// server-held key unlocked by an OIDC login. KeyID is the person's email,
// the name their public key has in the trust file.
type Signer interface {
	KeyID() string
	Sign(msg []byte) ([]byte, error)
}

var _ Signer = (*Key)(nil)

// Errors that callers may match with errors.Is.
var (
	// ErrUnknownSigner: the statement's signer is not in the trust file.
	ErrUnknownSigner = errors.New("unknown signer")
	// ErrBadSignature: the signature does not verify against the
	// signer's public key in the trust file.
	ErrBadSignature = errors.New("bad signature")
	// ErrRoleNotHeld: the signer does not hold the role the statement
	// claims.
	ErrRoleNotHeld = errors.New("role not held")
	// ErrWrongPassphrase: a key file could not be decrypted.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrKeyExists: SaveKey would overwrite a key file.
	ErrKeyExists = errors.New("key already exists")
	// ErrDuplicate: AppendPerson was given an email (or a public key)
	// the trust file already lists.
	ErrDuplicate = errors.New("already in the trust file")
	// ErrNoKey: LoadKey found no key file for the email.
	ErrNoKey = errors.New("no key")
)

// NormalizeRole is the form roles are compared in: case-folded, with runs
// of white space made one space and the ends trimmed, so "security  lead"
// holds "Security Lead".
func NormalizeRole(role string) string {
	return strings.ToLower(strings.Join(strings.Fields(role), " "))
}

// cleanRole trims a role and collapses its inner white space, keeping its
// case: how a role is written into a file.
func cleanRole(role string) string {
	return strings.Join(strings.Fields(role), " ")
}

// checkEmail reports why s cannot be a key id. An email names the key file
// (<email>.key), so it must not hold path separators or white space, and
// it is ASCII, so that comparing emails case-insensitively is exact.
func checkEmail(s string) error {
	if s == "" {
		return errors.New("empty email")
	}
	if len(s) > 254 {
		return fmt.Errorf("email is %d characters long, at most 254", len(s))
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return fmt.Errorf("%q is not an email address (want name@domain)", s)
	}
	if strings.HasPrefix(s, ".") {
		return fmt.Errorf("email %q starts with a dot", s)
	}
	for _, r := range s {
		if r > 0x7e {
			// ASCII only, so that emails that differ compare different:
			// Unicode case folding makes "ſ" equal "s".
			return fmt.Errorf("email %q holds %q: PRF takes ASCII email addresses only", s, r)
		}
		if r <= ' ' || r == '/' || r == '\\' || r == ':' || r == '"' || r == '\'' || r == ',' {
			return fmt.Errorf("email %q holds %q, which an email address (and a key file name) cannot", s, r)
		}
	}
	return nil
}

// checkLine reports whether s is free of line breaks and other control
// characters: statement header fields, names and roles are one line.
func checkLine(what, s string) error {
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("%s %q holds a control character", what, s)
		}
	}
	return nil
}

// cleanIdentity checks and cleans what names a person, as a key or a
// trust file entry holds it: the name trimmed, on one line; the email a key
// id (checkEmail); the roles cleaned (cleanRoles).
func cleanIdentity(name, email string, roles []string) (string, []string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil, errors.New("empty name")
	}
	if err := checkLine("name", name); err != nil {
		return "", nil, err
	}
	if err := checkEmail(email); err != nil {
		return "", nil, err
	}
	roles, err := cleanRoles(roles)
	if err != nil {
		return "", nil, err
	}
	return name, roles, nil
}

// cleanRoles checks and cleans a role list: at least one role, none empty,
// none twice (as compared by NormalizeRole).
func cleanRoles(roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, errors.New("no roles: a person needs at least one (e.g. \"Security Lead\")")
	}
	out := make([]string, 0, len(roles))
	seen := map[string]bool{}
	for _, r := range roles {
		c := cleanRole(r)
		if c == "" {
			return nil, errors.New("empty role")
		}
		if err := checkLine("role", c); err != nil {
			return nil, err
		}
		if seen[NormalizeRole(c)] {
			return nil, fmt.Errorf("role %q listed twice", c)
		}
		seen[NormalizeRole(c)] = true
		out = append(out, c)
	}
	return out, nil
}
