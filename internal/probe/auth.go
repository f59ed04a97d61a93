package probe

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AuthSpec is the `auth` probe's settings: the document's login flow
// (§2.2 "Authentication Test") done properly. Without login_url (and without
// token) only the protected endpoint without a token is requested.
type AuthSpec struct {
	LoginURL      string            `yaml:"login_url" json:"login_url,omitempty" doc:"login endpoint that issues a token (omit to only test the protected endpoint without a token, or to use token)"`
	Method        string            `yaml:"method" json:"method,omitempty" doc:"login request method (default POST)"`
	ContentType   string            `yaml:"content_type" json:"content_type,omitempty" doc:"login body encoding: json (default) or form"`
	Username      string            `yaml:"username" json:"-" doc:"login user name (use env:NAME or file:/path)"`
	Password      string            `yaml:"password" json:"-" doc:"login password (use env:NAME or file:/path)"`
	UsernameField string            `yaml:"username_field" json:"username_field,omitempty" doc:"body field that carries the user name (default username)"`
	PasswordField string            `yaml:"password_field" json:"password_field,omitempty" doc:"body field that carries the password (default password)"`
	ExtraFields   map[string]string `yaml:"extra_fields" json:"extra_fields,omitempty" doc:"further login body fields, e.g. grant_type or client_id"`
	Headers       map[string]string `yaml:"headers" json:"headers,omitempty" doc:"headers sent with every request (login and protected)"`
	TokenPath     string            `yaml:"token_path" json:"token_path,omitempty" doc:"where the token is in the login answer: a JSON path like data.access_token, or header:NAME (default: access_token, token, id_token, then the Authorization header)"`
	Token         string            `yaml:"token" json:"-" doc:"an already issued token to inspect instead of logging in (use env:NAME or file:/path)"`
	TokenHeader   string            `yaml:"token_header" json:"token_header,omitempty" doc:"request header that carries the token (default Authorization)"`
	TokenScheme   string            `yaml:"token_scheme" json:"token_scheme,omitempty" doc:"scheme written before the token in token_header (default Bearer; empty for the bare token)"`

	ProtectedURL    string `yaml:"protected_url" json:"protected_url" doc:"endpoint that must require the token"`
	ProtectedMethod string `yaml:"protected_method" json:"protected_method,omitempty" doc:"method for protected_url (default GET)"`

	JWKSURL          string        `yaml:"jwks_url" json:"jwks_url,omitempty" doc:"JWKS document to verify the JWT signature with"`
	JWTKeyFile       string        `yaml:"jwt_key_file" json:"jwt_key_file,omitempty" doc:"PEM public key or certificate, or a file holding the HMAC secret, to verify the JWT signature with"`
	ExpectedIssuer   string        `yaml:"expected_issuer" json:"expected_issuer,omitempty" doc:"issuer (iss) the JWT claims must name for claims_valid"`
	ExpectedAudience string        `yaml:"expected_audience" json:"expected_audience,omitempty" doc:"audience (aud) the JWT claims must contain for claims_valid"`
	Timeout          time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"limit for each request (default: the checkpoint's timeout)"`

	TLSOptions `yaml:",inline"`
}

func (s *AuthSpec) defaults() {
	s.Method = http.MethodPost
	s.ContentType = "json"
	s.UsernameField = "username"
	s.PasswordField = "password"
	s.TokenHeader = "Authorization"
	s.TokenScheme = "Bearer"
	s.ProtectedMethod = http.MethodGet
}

// Validate implements Spec.
func (s *AuthSpec) Validate() error {
	if err := checkURL("protected_url", s.ProtectedURL); err != nil {
		return err
	}
	if s.LoginURL != "" {
		if err := checkURL("login_url", s.LoginURL); err != nil {
			return err
		}
		if s.Token != "" {
			return Fieldf("token", "cannot be used together with login_url")
		}
	}
	if s.JWKSURL != "" {
		if err := checkURL("jwks_url", s.JWKSURL); err != nil {
			return err
		}
		if s.JWTKeyFile != "" {
			return Fieldf("jwt_key_file", "cannot be used together with jwks_url")
		}
	}
	if err := checkMethod("method", s.Method); err != nil {
		return err
	}
	if err := checkMethod("protected_method", s.ProtectedMethod); err != nil {
		return err
	}
	switch s.ContentType {
	case "json", "form":
	default:
		return Fieldf("content_type", "must be json or form, not %q", s.ContentType)
	}
	if s.UsernameField == "" {
		return Fieldf("username_field", "must not be empty")
	}
	if s.PasswordField == "" {
		return Fieldf("password_field", "must not be empty")
	}
	if s.TokenHeader == "" {
		return Fieldf("token_header", "must not be empty")
	}
	if name, ok := strings.CutPrefix(s.TokenPath, "header:"); ok {
		if name == "" {
			return Fieldf("token_path", "header: needs a header name")
		}
	} else if s.TokenPath != "" {
		for _, part := range strings.Split(s.TokenPath, ".") {
			if part == "" {
				return Fieldf("token_path", "%q has an empty element", s.TokenPath)
			}
		}
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// AuthObservation is what an `auth` probe saw. Status fields are -1 when the
// request was not made (no token, not a JWT, no key to craft one with).
type AuthObservation struct {
	LoginStatus         int           `json:"login_status"`          // HTTP status of the login; -1 without login_url
	LoginLatency        time.Duration `json:"login_latency"`         // time to the login answer
	TokenIssued         bool          `json:"token_issued"`          // a token was found in the login answer (or token was given)
	TokenType           string        `json:"token_type"`            // "jwt", "jwe", "opaque", or "" without a token
	TokenLength         int           `json:"token_length"`          // length of the token in characters
	JWT                 AuthJWT       `json:"jwt"`                   // facts of a JWT (zero for other tokens)
	WithoutTokenStatus  int           `json:"without_token_status"`  // protected_url without any token
	WithTokenStatus     int           `json:"with_token_status"`     // protected_url with the issued token
	TamperedTokenStatus int           `json:"tampered_token_status"` // one signature byte flipped (one character for opaque tokens)
	NoneAlgStatus       int           `json:"none_alg_status"`       // same header and claims re-encoded with alg "none", empty signature
	ExpiredTokenStatus  int           `json:"expired_token_status"`  // same claims, exp an hour ago, re-signed (needs the HMAC secret)
	AlgConfusionStatus  int           `json:"alg_confusion_status"`  // same claims signed HS256 with the public key's PEM as secret (needs an RSA/EC public key)
}

// AuthJWT holds the facts of a JWT, never its value.
type AuthJWT struct {
	Alg               string        `json:"alg"`
	Typ               string        `json:"typ"`
	Kid               string        `json:"kid"`
	HasExp            bool          `json:"has_exp"`
	Exp               time.Time     `json:"exp"`      // zero without exp
	Iat               time.Time     `json:"iat"`      // zero without iat
	Lifetime          time.Duration `json:"lifetime"` // exp-iat, or exp-now without iat; 0 without exp
	Iss               string        `json:"iss"`
	Aud               []string      `json:"aud"`
	HasSub            bool          `json:"has_sub"`
	SignatureVerified bool          `json:"signature_verified"` // checked against jwks_url or jwt_key_file
	VerifyError       string        `json:"verify_error"`       // why not; empty when verified or no key given
	ClaimsValid       bool          `json:"claims_valid"`       // exp/nbf/iat hold now, and expected_issuer/expected_audience match
	ClaimsError       string        `json:"claims_error"`
}

func probeAuth(ctx context.Context, env Env, s *AuthSpec) (AuthObservation, error) {
	obs := AuthObservation{
		LoginStatus: -1, WithoutTokenStatus: -1, WithTokenStatus: -1, TamperedTokenStatus: -1,
		NoneAlgStatus: -1, ExpiredTokenStatus: -1, AlgConfusionStatus: -1,
	}
	client, err := s.HTTPClient(false, 0)
	if err != nil {
		return obs, err
	}
	defer client.CloseIdleConnections()
	a := &authRun{spec: s, client: client, env: env}

	// Without a token first, before anything else could set state.
	if obs.WithoutTokenStatus, err = a.protected(ctx, ""); err != nil {
		return obs, fmt.Errorf("protected request without token: %w", err)
	}

	token := s.Token
	if s.LoginURL != "" {
		token, err = a.login(ctx, &obs)
		if err != nil {
			return obs, err
		}
	}
	if token == "" {
		return obs, nil
	}
	obs.TokenIssued = true
	obs.TokenLength = len(token)
	if obs.WithTokenStatus, err = a.protected(ctx, token); err != nil {
		return obs, fmt.Errorf("protected request with token: %w", err)
	}

	parts := strings.Split(token, ".")
	var tok *jwt.Token
	switch {
	case len(parts) == 5:
		obs.TokenType = "jwe"
	case len(parts) == 3:
		tok, _, err = jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
		if err != nil {
			env.logf("token has three segments but is no JWT: %v", authRedact(err, token))
			tok = nil
		}
	}
	if tok == nil {
		if obs.TokenType == "" {
			obs.TokenType = "opaque"
		}
		if obs.TamperedTokenStatus, err = a.protected(ctx, authTamperOpaque(token)); err != nil {
			return obs, fmt.Errorf("protected request with tampered token: %w", err)
		}
		return obs, nil
	}
	obs.TokenType = "jwt"
	claims, _ := tok.Claims.(jwt.MapClaims)
	obs.JWT = authFacts(tok, claims, time.Now())

	keys, err := a.keys(ctx)
	if err != nil {
		return obs, err
	}
	a.verify(token, tok, claims, keys, &obs.JWT)

	if parts[2] != "" {
		if obs.TamperedTokenStatus, err = a.protected(ctx, authTamperJWT(parts)); err != nil {
			return obs, fmt.Errorf("protected request with tampered token: %w", err)
		}
	}
	if none, ok := authNoneToken(parts[0], parts[1]); ok {
		if obs.NoneAlgStatus, err = a.protected(ctx, none); err != nil {
			return obs, fmt.Errorf("protected request with alg none token: %w", err)
		}
	}
	if expired, ok := authExpiredToken(tok, claims, keys, time.Now()); ok {
		if obs.ExpiredTokenStatus, err = a.protected(ctx, expired); err != nil {
			return obs, fmt.Errorf("protected request with expired token: %w", err)
		}
	}
	if confused, ok := authConfusedToken(tok, claims, keys); ok {
		if obs.AlgConfusionStatus, err = a.protected(ctx, confused); err != nil {
			return obs, fmt.Errorf("protected request with alg confusion token: %w", err)
		}
	}
	return obs, nil
}

// authRun carries one auth probe's client and settings.
type authRun struct {
	spec   *AuthSpec
	client *http.Client
	env    Env
}

const authBodyLimit = 1 << 20

func (a *authRun) do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	setHeaders(req, a.spec.Headers)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, authBodyLimit))
	if err != nil {
		return resp, body, fmt.Errorf("read body: %w", err)
	}
	return resp, body, nil
}

func (a *authRun) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.spec.Timeout > 0 {
		return context.WithTimeout(ctx, a.spec.Timeout)
	}
	return context.WithCancel(ctx)
}

// protected requests protected_url with token (none when empty) and returns
// the status.
func (a *authRun) protected(ctx context.Context, token string) (int, error) {
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, a.spec.ProtectedMethod, a.spec.ProtectedURL, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		v := token
		if a.spec.TokenScheme != "" {
			v = a.spec.TokenScheme + " " + token
		}
		req.Header.Set(a.spec.TokenHeader, v)
	}
	resp, _, err := a.do(ctx, req)
	if err != nil {
		return 0, authRedact(err, token)
	}
	return resp.StatusCode, nil
}

// login posts the credentials, records status and latency, and returns the
// token it found ("" when none). A non-2xx answer is an observation.
func (a *authRun) login(ctx context.Context, obs *AuthObservation) (string, error) {
	s := a.spec
	var body []byte
	var ctype string
	switch s.ContentType {
	case "form":
		v := url.Values{}
		for k, x := range s.ExtraFields {
			v.Set(k, x)
		}
		v.Set(s.UsernameField, s.Username)
		v.Set(s.PasswordField, s.Password)
		body, ctype = []byte(v.Encode()), "application/x-www-form-urlencoded"
	default:
		m := make(map[string]string, len(s.ExtraFields)+2)
		for k, x := range s.ExtraFields {
			m[k] = x
		}
		m[s.UsernameField] = s.Username
		m[s.PasswordField] = s.Password
		var err error
		if body, err = json.Marshal(m); err != nil {
			return "", fmt.Errorf("login body: %w", err)
		}
		ctype = "application/json"
	}
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, s.Method, s.LoginURL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("login request: %w", err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, rbody, err := a.do(ctx, req)
	obs.LoginLatency = time.Since(start)
	if err != nil {
		return "", fmt.Errorf("login request: %w", err)
	}
	obs.LoginStatus = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		a.env.logf("login answered %d", resp.StatusCode)
		return "", nil
	}
	token := authFindToken(rbody, resp.Header, s.TokenPath)
	if token == "" {
		a.env.logf("login answered %d but no token found (token_path %q)", resp.StatusCode, s.TokenPath)
	}
	return token, nil
}

// authFindToken looks the token up in the login answer.
func authFindToken(body []byte, h http.Header, path string) string {
	if name, ok := strings.CutPrefix(path, "header:"); ok {
		return authStripScheme(h.Get(name))
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		doc = nil
	}
	if path != "" {
		return authJSONString(doc, path)
	}
	for _, p := range []string{"access_token", "token", "id_token"} {
		if t := authJSONString(doc, p); t != "" {
			return t
		}
	}
	return authStripScheme(h.Get("Authorization"))
}

func authStripScheme(v string) string {
	v = strings.TrimSpace(v)
	if scheme, rest, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "bearer") {
		return strings.TrimSpace(rest)
	}
	return v
}

// authJSONString follows a dot path (object keys, or array indexes) and
// returns the string it ends at, or "".
func authJSONString(doc any, path string) string {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			cur = v[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return ""
			}
			cur = v[i]
		default:
			return ""
		}
	}
	s, _ := cur.(string)
	return strings.TrimSpace(s)
}

// authFacts reads the header and claims of an unverified token.
func authFacts(tok *jwt.Token, claims jwt.MapClaims, now time.Time) AuthJWT {
	f := AuthJWT{}
	f.Alg, _ = tok.Header["alg"].(string)
	f.Typ, _ = tok.Header["typ"].(string)
	f.Kid, _ = tok.Header["kid"].(string)
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		f.HasExp = true
		f.Exp = exp.UTC()
	}
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		f.Iat = iat.UTC()
	}
	switch {
	case f.HasExp && !f.Iat.IsZero():
		f.Lifetime = f.Exp.Sub(f.Iat)
	case f.HasExp:
		f.Lifetime = f.Exp.Sub(now)
	}
	f.Iss, _ = claims.GetIssuer()
	if aud, err := claims.GetAudience(); err == nil {
		f.Aud = []string(aud)
	}
	if f.Aud == nil {
		f.Aud = []string{}
	}
	sub, _ := claims.GetSubject()
	f.HasSub = sub != ""
	return f
}

// authKeys are the verification keys from jwks_url or jwt_key_file.
type authKeys struct {
	source string // "jwks_url" or "jwt_key_file"
	hmac   []byte
	keys   []authKey // public keys (and oct keys from a JWKS)
	err    string    // why no keys could be had (e.g. JWKS unreachable)
}

type authKey struct {
	kid string
	key any    // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
	pem []byte // PEM of a public key, for the alg confusion token
}

func (k *authKeys) empty() bool { return k == nil || (k.hmac == nil && len(k.keys) == 0) }

// keys loads the verification keys; nil when none are configured. An
// unreadable key file is a probe error (the setting is broken); an
// unreachable or bad JWKS is an observation (verify_error).
func (a *authRun) keys(ctx context.Context) (*authKeys, error) {
	switch {
	case a.spec.JWTKeyFile != "":
		data, err := os.ReadFile(a.spec.JWTKeyFile)
		if err != nil {
			return nil, fmt.Errorf("jwt_key_file: %w", err)
		}
		return authKeysFromFile(data), nil
	case a.spec.JWKSURL != "":
		ks := &authKeys{source: "jwks_url"}
		rctx, cancel := a.withTimeout(ctx)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, a.spec.JWKSURL, nil)
		if err != nil {
			return nil, fmt.Errorf("jwks_url: %w", err)
		}
		req.Header.Set("Accept", "application/json")
		resp, body, err := a.do(rctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("jwks_url: %w", err)
			}
			ks.err = "jwks: " + err.Error()
			return ks, nil
		}
		if resp.StatusCode != http.StatusOK {
			ks.err = fmt.Sprintf("jwks: status %d", resp.StatusCode)
			return ks, nil
		}
		ks.keys, err = authParseJWKS(body)
		if err != nil {
			ks.err = "jwks: " + err.Error()
		}
		return ks, nil
	}
	return nil, nil
}

// authKeysFromFile reads a PEM public key or certificate; anything else is
// an HMAC secret (trailing line breaks trimmed, as files usually end in one).
func authKeysFromFile(data []byte) *authKeys {
	ks := &authKeys{source: "jwt_key_file"}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var key any
		var err error
		keyPEM := pem.EncodeToMemory(block)
		switch block.Type {
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = c.PublicKey
				if der, err := x509.MarshalPKIXPublicKey(key); err == nil {
					keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				}
			}
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		default:
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		}
		if err == nil && key != nil {
			ks.keys = append(ks.keys, authKey{key: key, pem: keyPEM})
		}
	}
	if len(ks.keys) == 0 {
		if bytes.Contains(data, []byte("-----BEGIN")) {
			ks.err = "jwt_key_file: no public key or certificate in the PEM data"
			return ks
		}
		ks.hmac = bytes.TrimRight(data, "\r\n")
		if len(ks.hmac) == 0 {
			ks.hmac = nil
			ks.err = "jwt_key_file: empty"
		}
	} else if len(ks.keys) == 1 && !bytes.Contains(data, []byte("CERTIFICATE")) {
		// The file as written is what a confused server uses as the secret.
		ks.keys[0].pem = data
	}
	return ks
}

type authJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	K   string `json:"k"`
}

func authParseJWKS(body []byte) ([]authKey, error) {
	var doc struct {
		Keys []authJWK `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var out []authKey
	var errs []string
	for i, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		key, err := authJWKKey(k)
		if err != nil {
			errs = append(errs, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		ak := authKey{kid: k.Kid, key: key}
		if _, sym := key.([]byte); !sym {
			if der, err := x509.MarshalPKIXPublicKey(key); err == nil {
				ak.pem = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			}
		}
		out = append(out, ak)
	}
	if len(out) == 0 {
		if len(errs) > 0 {
			return nil, errors.New(strings.Join(errs, "; "))
		}
		return nil, errors.New("no signing keys")
	}
	return out, nil
}

func authJWKKey(k authJWK) (any, error) {
	b64 := base64.RawURLEncoding
	dec := func(s string) ([]byte, error) { return b64.DecodeString(strings.TrimRight(s, "=")) }
	switch k.Kty {
	case "RSA":
		n, err := dec(k.N)
		if err != nil || len(n) == 0 {
			return nil, errors.New("bad n")
		}
		e, err := dec(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad e")
		}
		var ei int
		for _, b := range e {
			ei = ei<<8 | int(b)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ei}, nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("curve %q not supported", k.Crv)
		}
		x, err1 := dec(k.X)
		y, err2 := dec(k.Y)
		size := (curve.Params().BitSize + 7) / 8
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("bad x or y")
		}
		return ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
	case "OKP":
		x, err := dec(k.X)
		if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("only Ed25519 OKP keys are supported")
		}
		return ed25519.PublicKey(x), nil
	case "oct":
		secret, err := dec(k.K)
		if err != nil || len(secret) == 0 {
			return nil, errors.New("bad k")
		}
		return secret, nil
	}
	return nil, fmt.Errorf("key type %q not supported", k.Kty)
}

// authKeyFor picks the key for the token's alg (and kid, when both name one).
func authKeyFor(ks *authKeys, alg, kid string) (any, error) {
	if strings.HasPrefix(alg, "HS") && ks.hmac != nil {
		return ks.hmac, nil
	}
	var candidates []authKey
	for _, k := range ks.keys {
		if kid != "" && k.kid != "" && k.kid != kid {
			continue
		}
		if authKeyFits(alg, k.key) {
			candidates = append(candidates, k)
		}
	}
	if len(candidates) == 0 {
		if kid != "" {
			return nil, fmt.Errorf("%s holds no %s key with kid %q", ks.source, alg, kid)
		}
		return nil, fmt.Errorf("%s holds no %s key", ks.source, alg)
	}
	return candidates[0].key, nil
}

func authKeyFits(alg string, key any) bool {
	switch key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == "EdDSA" || alg == "Ed25519"
	case []byte:
		return strings.HasPrefix(alg, "HS")
	}
	return false
}

// verify checks the signature (when keys are configured) and the claims.
func (a *authRun) verify(raw string, tok *jwt.Token, claims jwt.MapClaims, ks *authKeys, f *AuthJWT) {
	switch {
	case ks == nil:
	case ks.err != "" && ks.empty():
		f.VerifyError = ks.err
	case f.Alg == "none" || f.Alg == "":
		f.VerifyError = "token is unsigned (alg none)"
	default:
		_, err := jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithValidMethods([]string{f.Alg})).
			Parse(raw, func(t *jwt.Token) (any, error) { return authKeyFor(ks, f.Alg, f.Kid) })
		if err != nil {
			f.VerifyError = authRedact(err, raw).Error()
		} else {
			f.SignatureVerified = true
		}
	}
	var opts []jwt.ParserOption
	if a.spec.ExpectedIssuer != "" {
		opts = append(opts, jwt.WithIssuer(a.spec.ExpectedIssuer))
	}
	if a.spec.ExpectedAudience != "" {
		opts = append(opts, jwt.WithAudience(a.spec.ExpectedAudience))
	}
	if err := jwt.NewValidator(opts...).Validate(claims); err != nil {
		f.ClaimsError = authRedact(err, raw).Error()
	} else {
		f.ClaimsValid = true
	}
}

// authTamperJWT flips the low bit of the signature's first byte.
func authTamperJWT(parts []string) string {
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	var tampered string
	if err == nil && len(sig) > 0 {
		sig[0] ^= 0x01
		tampered = base64.RawURLEncoding.EncodeToString(sig)
	} else {
		tampered = authTamperOpaque(parts[2])
	}
	return parts[0] + "." + parts[1] + "." + tampered
}

// authTamperOpaque changes the middle character of a token.
func authTamperOpaque(tok string) string {
	if tok == "" {
		return "x"
	}
	b := []byte(tok)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// authNoneToken re-encodes the header with alg "none" and drops the
// signature, keeping the claims segment as issued.
func authNoneToken(headerSeg, claimsSeg string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(headerSeg, "="))
	if err != nil {
		return "", false
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", false
	}
	h["alg"] = "none"
	out, err := json.Marshal(h)
	if err != nil {
		return "", false
	}
	return base64.RawURLEncoding.EncodeToString(out) + "." + claimsSeg + ".", true
}

// authExpiredToken re-signs the claims with exp an hour ago; only possible
// with the HMAC secret.
func authExpiredToken(tok *jwt.Token, claims jwt.MapClaims, ks *authKeys, now time.Time) (string, bool) {
	if ks.empty() {
		return "", false
	}
	alg, _ := tok.Header["alg"].(string)
	if !strings.HasPrefix(alg, "HS") {
		return "", false
	}
	kid, _ := tok.Header["kid"].(string)
	key, err := authKeyFor(ks, alg, kid)
	if err != nil {
		return "", false
	}
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		return "", false
	}
	c := make(jwt.MapClaims, len(claims)+2)
	for k, v := range claims {
		c[k] = v
	}
	c["iat"] = now.Add(-2 * time.Hour).Unix()
	c["exp"] = now.Add(-time.Hour).Unix()
	if _, ok := c["nbf"]; ok {
		c["nbf"] = now.Add(-2 * time.Hour).Unix()
	}
	return authSign(tok, m, c, key)
}

// authConfusedToken signs the claims with HS256 using the server's public
// key PEM as the HMAC secret (the classic RS256→HS256 confusion).
func authConfusedToken(tok *jwt.Token, claims jwt.MapClaims, ks *authKeys) (string, bool) {
	if ks.empty() {
		return "", false
	}
	alg, _ := tok.Header["alg"].(string)
	kid, _ := tok.Header["kid"].(string)
	if alg == "" || strings.HasPrefix(alg, "HS") || alg == "none" {
		return "", false
	}
	for _, k := range ks.keys {
		if len(k.pem) == 0 || (kid != "" && k.kid != "" && k.kid != kid) || !authKeyFits(alg, k.key) {
			continue
		}
		return authSign(tok, jwt.SigningMethodHS256, claims, k.pem)
	}
	return "", false
}

func authSign(orig *jwt.Token, m jwt.SigningMethod, claims jwt.MapClaims, key any) (string, bool) {
	t := jwt.NewWithClaims(m, claims)
	for k, v := range orig.Header {
		if k != "alg" {
			t.Header[k] = v
		}
	}
	s, err := t.SignedString(key)
	if err != nil {
		return "", false
	}
	return s, true
}

// authRedact removes a token (and its segments) from an error message.
func authRedact(err error, token string) error {
	if err == nil || token == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, token) {
		hit := false
		for _, p := range strings.Split(token, ".") {
			if len(p) >= 8 && strings.Contains(msg, p) {
				hit = true
			}
		}
		if !hit {
			return err
		}
	}
	msg = strings.ReplaceAll(msg, token, "[token]")
	for _, p := range strings.Split(token, ".") {
		if len(p) >= 8 {
			msg = strings.ReplaceAll(msg, p, "[token]")
		}
	}
	return errors.New(msg)
}
