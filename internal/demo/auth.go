package demo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token settings of the demo's authentication service.
const (
	TokenIssuer   = "prf-demo"
	TokenAudience = "prf-demo-api"
	TokenLifetime = 15 * time.Minute
)

// Demo credentials used when Options leaves them empty. They are a
// demonstration login for a loopback-only server and protect nothing.
const (
	DefaultUsername = "demo"
	DefaultPassword = "demo-password"
)

// signer issues and verifies access tokens: ES256 with a key made at start,
// or HS256 with Options.TokenSecret.
type signer struct {
	key  *ecdsa.PrivateKey
	kid  string
	jwks []map[string]string // published keys
	hmac []byte              // HS256 secret; nil for ES256
}

// newSigner makes the token key. With rotated, the JWKS publishes another
// (the previous) key instead of the one tokens are signed with.
func newSigner(secret []byte, rotated bool) (*signer, error) {
	if len(secret) > 0 {
		return &signer{hmac: bytes.Clone(secret), jwks: []map[string]string{}}, nil
	}
	key, kid, jwk, err := newTokenKey()
	if err != nil {
		return nil, err
	}
	if rotated {
		if _, _, jwk, err = newTokenKey(); err != nil {
			return nil, err
		}
	}
	return &signer{key: key, kid: kid, jwks: []map[string]string{jwk}}, nil
}

// newTokenKey makes a P-256 key, its RFC 7638 thumbprint (the key id) and
// its JWK.
func newTokenKey() (*ecdsa.PrivateKey, string, map[string]string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", nil, fmt.Errorf("generate token key: %w", err)
	}
	pt, err := key.PublicKey.Bytes() // 0x04 || X || Y, 32 bytes each
	if err != nil {
		return nil, "", nil, fmt.Errorf("encode token key: %w", err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := b64(pt[1:33]), b64(pt[33:65])
	// RFC 7638 thumbprint: the required members in lexicographic order.
	thumb := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	kid := b64(thumb[:])
	return key, kid, map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "sig", "alg": "ES256", "kid": kid}, nil
}

// claims are the access token's claims.
type claims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope,omitempty"`
}

// issue signs a token for subject, valid for TokenLifetime from now.
func (s *signer) issue(subject string, now time.Time) (string, error) {
	jti := make([]byte, 12)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	method := jwt.SigningMethod(jwt.SigningMethodES256)
	if s.hmac != nil {
		method = jwt.SigningMethodHS256
	}
	tok := jwt.NewWithClaims(method, claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    TokenIssuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{TokenAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(TokenLifetime)),
			ID:        hex.EncodeToString(jti),
		},
		Scope: "api:read api:write",
	})
	if s.hmac != nil {
		return tok.SignedString(s.hmac)
	}
	tok.Header["kid"] = s.kid
	return tok.SignedString(s.key)
}

// verify checks signature (the signer's algorithm only: "none" and others
// are refused), issuer, audience and expiry, and returns the claims.
func (s *signer) verify(raw string, now time.Time) (*claims, error) {
	c := &claims{}
	alg := jwt.SigningMethodES256.Alg()
	if s.hmac != nil {
		alg = jwt.SigningMethodHS256.Alg()
	}
	_, err := jwt.ParseWithClaims(raw, c, func(t *jwt.Token) (any, error) {
		if s.hmac != nil {
			return s.hmac, nil
		}
		if kid, _ := t.Header["kid"].(string); kid != s.kid {
			return nil, errors.New("unknown key id")
		}
		return &s.key.PublicKey, nil
	},
		jwt.WithValidMethods([]string{alg}),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithAudience(TokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// bearerToken returns the token of an "Authorization: Bearer …" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

type subjectKey struct{}

// requireAuth answers 401 unless the request carries a valid access token
// (or the no-auth fault is on). The subject is put in the request context.
func (t *Target) requireAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t.faults.has(FaultNoAuth) {
			next(w, r.WithContext(context.WithValue(r.Context(), subjectKey{}, "anonymous")))
			return
		}
		raw, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="prf-demo"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "missing bearer token"})
			return
		}
		c, err := t.signer.verify(raw, time.Now())
		if t.faults.has(FaultJWTUnverified) {
			// The bug: the token is only decoded, never verified.
			c, err = &claims{}, nil
			if _, _, perr := jwt.NewParser().ParseUnverified(raw, c); perr != nil {
				err = perr
			}
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="prf-demo", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid token"})
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), subjectKey{}, c.Subject)))
	}
}

func subjectOf(r *http.Request) string {
	s, _ := r.Context().Value(subjectKey{}).(string)
	return s
}

func (t *Target) handleAuthHealth(w http.ResponseWriter, r *http.Request) {
	if t.faults.has(FaultAuthDown) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "issuer": TokenIssuer})
		return
	}
	alg := "ES256"
	if t.signer.hmac != nil {
		alg = "HS256"
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "issuer": TokenIssuer, "algorithm": alg})
}

func (t *Target) handleLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case t.faults.has(FaultAuthDown):
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "authentication service unavailable"})
		return
	case t.faults.has(FaultAuthBroken):
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "authentication service unavailable"})
		return
	case t.faults.has(FaultAPISlow) && !sleepCtx(r.Context(), SlowDelay):
		return
	}
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "body must be JSON {\"username\",\"password\"}"})
		return
	}
	if !t.credentialsMatch(req.Username, req.Password) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid credentials"})
		return
	}
	if t.faults.has(FaultLoginNoToken) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "message": "logged in"})
		return
	}
	now := time.Now()
	tok, err := t.signer.issue(req.Username, now)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "could not issue token"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(TokenLifetime / time.Second),
	})
}

// credentialsMatch compares in constant time (over fixed-size digests, so
// the length of the secret does not leak either).
func (t *Target) credentialsMatch(user, pass string) bool {
	hu, hp := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	wu, wp := sha256.Sum256([]byte(t.opts.Username)), sha256.Sum256([]byte(t.opts.Password))
	okU := subtle.ConstantTimeCompare(hu[:], wu[:])
	okP := subtle.ConstantTimeCompare(hp[:], wp[:])
	return okU&okP == 1
}

func (t *Target) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{"keys": t.signer.jwks})
}

// decodeJSON reads one JSON value of at most maxBody bytes into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}
