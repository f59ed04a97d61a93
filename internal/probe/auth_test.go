package probe

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	authTestUser     = "alice"
	authTestPassword = "s3cret-pa55word"
	authTestIssuer   = "https://auth.test"
	authTestAudience = "prf-api"
	authTestLifetime = 15 * time.Minute
)

// authTestServer is a login service with a protected endpoint whose flaws are
// switched on per case.
type authTestServer struct {
	authTestConfig
	secret []byte
	key    *rsa.PrivateKey

	mu     sync.Mutex
	issued []string
}

// authTestConfig switches the test server's behaviour.
type authTestConfig struct {
	alg        string // HS256 or RS256
	kid        string
	opaque     bool   // issue random opaque tokens instead of JWTs
	form       bool   // login takes a form body, not JSON
	tokenPath  string // where the token goes: "access_token", "data.access_token", "token", "header"
	acceptNone bool   // vulnerable: accepts alg none
	ignoreExp  bool   // vulnerable: does not check exp
	confusable bool   // vulnerable: verifies HS256 tokens with the public key PEM as secret
	noAuth     bool   // protected endpoint needs no token at all
}

func (s *authTestServer) pubPEM(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func (s *authTestServer) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var user, pass string
		if s.form {
			if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
				http.Error(w, "form expected", http.StatusUnsupportedMediaType)
				return
			}
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			if r.PostForm.Get("grant_type") != "password" {
				http.Error(w, "grant_type", http.StatusBadRequest)
				return
			}
			user, pass = r.PostForm.Get("login"), r.PostForm.Get("secret")
		} else {
			var m map[string]string
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
				http.Error(w, "bad json", http.StatusBadRequest)
				return
			}
			user, pass = m["username"], m["password"]
		}
		if user != authTestUser || pass != authTestPassword {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_credentials"}`))
			return
		}
		tok := s.issue(t)
		w.Header().Set("Content-Type", "application/json")
		switch s.tokenPath {
		case "header":
			w.Header().Set("X-Auth-Token", tok)
			_, _ = w.Write([]byte(`{"ok":true}`))
		case "data.access_token":
			_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"access_token": tok, "expires_in": 900}})
		case "token":
			_ = json.NewEncoder(w).Encode(map[string]any{"token": tok})
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer"})
		}
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		pub := s.key.PublicKey
		b64 := base64.RawURLEncoding
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": s.kid, "use": "sig", "alg": "RS256",
			"n": b64.EncodeToString(pub.N.Bytes()),
			"e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("GET /protected", func(w http.ResponseWriter, r *http.Request) {
		if s.noAuth || s.allowed(t, r) {
			_, _ = w.Write([]byte(`{"secret":"data"}`))
			return
		}
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
	})
	return mux
}

func (s *authTestServer) issue(t *testing.T) string {
	var tok string
	if s.opaque {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		tok = base64.RawURLEncoding.EncodeToString(b)
	} else {
		now := time.Now()
		claims := jwt.MapClaims{
			"sub": authTestUser, "iss": authTestIssuer, "aud": authTestAudience,
			"iat": now.Unix(), "exp": now.Add(authTestLifetime).Unix(),
		}
		var err error
		switch s.alg {
		case "RS256":
			t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
			t.Header["kid"] = s.kid
			tok, err = t.SignedString(s.key)
		default:
			tok, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
		}
		if err != nil {
			t.Error(err)
		}
	}
	s.mu.Lock()
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	return tok
}

func (s *authTestServer) allowed(t *testing.T, r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || scheme != "Bearer" || tok == "" {
		return false
	}
	if s.opaque {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, x := range s.issued {
			if x == tok {
				return true
			}
		}
		return false
	}
	var opts []jwt.ParserOption
	if s.ignoreExp {
		opts = append(opts, jwt.WithoutClaimsValidation())
	}
	methods := []string{s.alg}
	if s.acceptNone {
		methods = append(methods, "none")
	}
	if s.confusable {
		methods = append(methods, "HS256")
	}
	opts = append(opts, jwt.WithValidMethods(methods))
	_, err := jwt.NewParser(opts...).Parse(tok, func(tk *jwt.Token) (any, error) {
		switch tk.Method.Alg() {
		case "none":
			return jwt.UnsafeAllowNoneSignatureType, nil
		case "HS256":
			if s.alg == "RS256" {
				return s.pubPEM(t), nil // the confusion bug
			}
			return s.secret, nil
		case "RS256":
			return &s.key.PublicKey, nil
		}
		return nil, errors.New("unexpected alg")
	})
	return err == nil
}

type authWant struct {
	login, without, with, tampered, none, expired, confusion int
	issued                                                   bool
	tokenType, alg                                           string
	verified                                                 bool
}

func TestAuthProbe(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secret := []byte("hmac-signing-secret-0123456789abcdef")
	secretFile := filepath.Join(dir, "hmac.key")
	if err := os.WriteFile(secretFile, append(append([]byte(nil), secret...), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	writePub := func(name string, k *rsa.PrivateKey) string {
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pubFile := writePub("pub.pem", rsaKey)
	otherPubFile := writePub("other.pem", otherKey)

	strictHS := authWant{login: 200, without: 401, with: 200, tampered: 401, none: 401, expired: 401, confusion: -1, issued: true, tokenType: "jwt", alg: "HS256", verified: true}
	tests := []struct {
		name   string
		server authTestConfig
		tls    bool
		spec   func(s *AuthSpec, base string)
		want   authWant
		check  func(t *testing.T, obs AuthObservation)
	}{
		{
			name:   "hs256 strict server with key file",
			server: authTestConfig{alg: "HS256"},
			spec:   func(s *AuthSpec, _ string) { s.JWTKeyFile = secretFile },
			want:   strictHS,
			check: func(t *testing.T, obs AuthObservation) {
				j := obs.JWT
				if !j.HasExp || j.Lifetime != authTestLifetime || j.Iss != authTestIssuer || len(j.Aud) != 1 || j.Aud[0] != authTestAudience || !j.HasSub {
					t.Errorf("jwt facts = %+v", j)
				}
				if d := time.Until(j.Exp); d < authTestLifetime-time.Minute || d > authTestLifetime {
					t.Errorf("exp in %v, want about %v", d, authTestLifetime)
				}
				if !j.ClaimsValid || j.ClaimsError != "" || j.VerifyError != "" || j.Typ != "JWT" {
					t.Errorf("claims_valid %v (%q), verify_error %q, typ %q", j.ClaimsValid, j.ClaimsError, j.VerifyError, j.Typ)
				}
				if obs.LoginLatency <= 0 {
					t.Errorf("login_latency = %v", obs.LoginLatency)
				}
			},
		},
		{
			name:   "hs256 server accepts alg none and ignores exp",
			server: authTestConfig{alg: "HS256", acceptNone: true, ignoreExp: true},
			spec:   func(s *AuthSpec, _ string) { s.JWTKeyFile = secretFile },
			want:   authWant{login: 200, without: 401, with: 200, tampered: 401, none: 200, expired: 200, confusion: -1, issued: true, tokenType: "jwt", alg: "HS256", verified: true},
		},
		{
			name:   "hs256 without key: nothing crafted that needs the secret",
			server: authTestConfig{alg: "HS256"},
			want:   authWant{login: 200, without: 401, with: 200, tampered: 401, none: 401, expired: -1, confusion: -1, issued: true, tokenType: "jwt", alg: "HS256"},
			check: func(t *testing.T, obs AuthObservation) {
				if obs.JWT.SignatureVerified || obs.JWT.VerifyError != "" {
					t.Errorf("no key given, but signature_verified %v, verify_error %q", obs.JWT.SignatureVerified, obs.JWT.VerifyError)
				}
			},
		},
		{
			name:   "rs256 verified with jwks",
			server: authTestConfig{alg: "RS256", kid: "k1"},
			spec:   func(s *AuthSpec, base string) { s.JWKSURL = base + "/jwks" },
			want:   authWant{login: 200, without: 401, with: 200, tampered: 401, none: 401, expired: -1, confusion: 401, issued: true, tokenType: "jwt", alg: "RS256", verified: true},
			check: func(t *testing.T, obs AuthObservation) {
				if obs.JWT.Kid != "k1" {
					t.Errorf("kid = %q", obs.JWT.Kid)
				}
			},
		},
		{
			name:   "rs256 server open to key confusion",
			server: authTestConfig{alg: "RS256", confusable: true},
			spec:   func(s *AuthSpec, _ string) { s.JWTKeyFile = pubFile },
			want:   authWant{login: 200, without: 401, with: 200, tampered: 401, none: 401, expired: -1, confusion: 200, issued: true, tokenType: "jwt", alg: "RS256", verified: true},
		},
		{
			name:   "rs256 against the wrong public key",
			server: authTestConfig{alg: "RS256"},
			spec:   func(s *AuthSpec, _ string) { s.JWTKeyFile = otherPubFile },
			want:   authWant{login: 200, without: 401, with: 200, tampered: 401, none: 401, expired: -1, confusion: 401, issued: true, tokenType: "jwt", alg: "RS256"},
			check: func(t *testing.T, obs AuthObservation) {
				if !strings.Contains(obs.JWT.VerifyError, "verification") {
					t.Errorf("verify_error = %q", obs.JWT.VerifyError)
				}
			},
		},
		{
			name:   "unexpected issuer and audience",
			server: authTestConfig{alg: "HS256"},
			spec: func(s *AuthSpec, _ string) {
				s.ExpectedIssuer = "https://other.test"
				s.ExpectedAudience = authTestAudience
			},
			want: authWant{login: 200, without: 401, with: 200, tampered: 401, none: 401, expired: -1, confusion: -1, issued: true, tokenType: "jwt", alg: "HS256"},
			check: func(t *testing.T, obs AuthObservation) {
				if obs.JWT.ClaimsValid || !strings.Contains(obs.JWT.ClaimsError, "iss") {
					t.Errorf("claims_valid %v, claims_error %q", obs.JWT.ClaimsValid, obs.JWT.ClaimsError)
				}
			},
		},
		{
			name:   "no authentication at all",
			server: authTestConfig{noAuth: true},
			spec:   func(s *AuthSpec, _ string) { s.LoginURL = "" },
			want:   authWant{login: -1, without: 200, with: -1, tampered: -1, none: -1, expired: -1, confusion: -1},
		},
		{
			name:   "wrong password",
			server: authTestConfig{alg: "HS256"},
			spec:   func(s *AuthSpec, _ string) { s.Password = "wrong" },
			want:   authWant{login: 401, without: 401, with: -1, tampered: -1, none: -1, expired: -1, confusion: -1},
		},
		{
			name:   "token_path nested",
			server: authTestConfig{alg: "HS256", tokenPath: "data.access_token"},
			spec:   func(s *AuthSpec, _ string) { s.TokenPath = "data.access_token" },
			want:   authWant{login: 200, without: 401, with: 200, tampered: 401, none: 401, expired: -1, confusion: -1, issued: true, tokenType: "jwt", alg: "HS256"},
		},
		{
			name:   "token_path default finds token",
			server: authTestConfig{alg: "HS256", tokenPath: "token"},
			want:   authWant{login: 200, without: 401, with: 200, tampered: 401, none: 401, expired: -1, confusion: -1, issued: true, tokenType: "jwt", alg: "HS256"},
		},
		{
			name:   "token_path header",
			server: authTestConfig{alg: "HS256", tokenPath: "header"},
			spec:   func(s *AuthSpec, _ string) { s.TokenPath = "header:X-Auth-Token" },
			want:   authWant{login: 200, without: 401, with: 200, tampered: 401, none: 401, expired: -1, confusion: -1, issued: true, tokenType: "jwt", alg: "HS256"},
		},
		{
			name:   "token_path that matches nothing",
			server: authTestConfig{alg: "HS256"},
			spec:   func(s *AuthSpec, _ string) { s.TokenPath = "data.jwt" },
			want:   authWant{login: 200, without: 401, with: -1, tampered: -1, none: -1, expired: -1, confusion: -1},
		},
		{
			name:   "form login with extra fields",
			server: authTestConfig{alg: "HS256", form: true},
			spec: func(s *AuthSpec, _ string) {
				s.ContentType = "form"
				s.UsernameField, s.PasswordField = "login", "secret"
				s.ExtraFields = map[string]string{"grant_type": "password"}
			},
			want: authWant{login: 200, without: 401, with: 200, tampered: 401, none: 401, expired: -1, confusion: -1, issued: true, tokenType: "jwt", alg: "HS256"},
		},
		{
			name:   "opaque token",
			server: authTestConfig{opaque: true},
			want:   authWant{login: 200, without: 401, with: 200, tampered: 401, none: -1, expired: -1, confusion: -1, issued: true, tokenType: "opaque"},
		},
		{
			name:   "hs256 over tls with ca_file",
			server: authTestConfig{alg: "HS256"},
			tls:    true,
			spec:   func(s *AuthSpec, _ string) { s.JWTKeyFile = secretFile },
			want:   strictHS,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &authTestServer{authTestConfig: tc.server, secret: secret, key: rsaKey}
			var ts *httptest.Server
			if tc.tls {
				ts = httptest.NewTLSServer(srv.handler(t))
			} else {
				ts = httptest.NewServer(srv.handler(t))
			}
			defer ts.Close()
			spec := authNewSpec(t)
			spec.LoginURL = ts.URL + "/login"
			spec.ProtectedURL = ts.URL + "/protected"
			spec.Username, spec.Password = authTestUser, authTestPassword
			if tc.tls {
				spec.CAFile = authWriteCA(t, ts)
			}
			if tc.spec != nil {
				tc.spec(spec, ts.URL)
			}
			if err := spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			var logs []string
			env := Env{Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			obs, err := probeAuth(ctx, env, spec)
			if err != nil {
				t.Fatalf("probeAuth: %v", err)
			}
			got := authWant{
				login: obs.LoginStatus, without: obs.WithoutTokenStatus, with: obs.WithTokenStatus,
				tampered: obs.TamperedTokenStatus, none: obs.NoneAlgStatus, expired: obs.ExpiredTokenStatus,
				confusion: obs.AlgConfusionStatus, issued: obs.TokenIssued, tokenType: obs.TokenType,
				alg: obs.JWT.Alg, verified: obs.JWT.SignatureVerified,
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v\n(verify_error %q)", got, tc.want, obs.JWT.VerifyError)
			}
			if tc.check != nil {
				tc.check(t, obs)
			}
			// No secret in the observation or the log: not the password,
			// not the HMAC secret, no issued token nor its signature.
			raw, err := json.Marshal(obs)
			if err != nil {
				t.Fatal(err)
			}
			text := string(raw) + strings.Join(logs, "\n") + fmt.Sprint(Flatten(obs))
			secrets := []string{authTestPassword, string(secret)}
			srv.mu.Lock()
			for _, tok := range srv.issued {
				secrets = append(secrets, tok)
				if parts := strings.Split(tok, "."); len(parts) == 3 {
					secrets = append(secrets, parts[2])
				}
			}
			srv.mu.Unlock()
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("observation or log holds a secret (%d chars)", len(s))
				}
			}
			if obs.TokenIssued && obs.TokenLength == 0 {
				t.Errorf("token_length = 0")
			}
		})
	}
}

func authNewSpec(t *testing.T) *AuthSpec {
	t.Helper()
	_, s := registrySpec[*AuthSpec](t, "auth")
	return s
}

func authWriteCA(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthProbeErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(hang)
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()

	tests := []struct {
		name    string
		spec    func(s *AuthSpec)
		timeout time.Duration
		want    string
	}{
		{"refused", func(s *AuthSpec) { s.ProtectedURL = closedURL + "/p" }, 5 * time.Second, "protected request without token"},
		{"login refused", func(s *AuthSpec) {
			s.ProtectedURL = tlsSrv.URL
			s.InsecureSkipVerify = true
			s.LoginURL = closedURL + "/login"
		}, 5 * time.Second, "login request"},
		{"untrusted certificate", func(s *AuthSpec) { s.ProtectedURL = tlsSrv.URL }, 5 * time.Second, "certificate"},
		{"context deadline", func(s *AuthSpec) { s.ProtectedURL = slow.URL }, 200 * time.Millisecond, "deadline exceeded"},
		{"per-request timeout", func(s *AuthSpec) { s.ProtectedURL = slow.URL; s.Timeout = 100 * time.Millisecond }, 5 * time.Second, "deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := authNewSpec(t)
			tc.spec(spec)
			if err := spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			start := time.Now()
			_, err := probeAuth(ctx, Env{}, spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func TestAuthProbeKeyFileError(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	defer ts.Close()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x"}).SignedString([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	spec := authNewSpec(t)
	spec.ProtectedURL, spec.Token, spec.JWTKeyFile = ts.URL, tok, "/nonexistent/key"
	_, err = probeAuth(context.Background(), Env{}, spec)
	if err == nil || !strings.Contains(err.Error(), "jwt_key_file") {
		t.Fatalf("error = %v, want jwt_key_file error", err)
	}
	if strings.Contains(err.Error(), tok) {
		t.Fatal("error holds the token")
	}
}

func TestAuthSpecValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(s *AuthSpec)
		field string
	}{
		{"ok", func(s *AuthSpec) {}, ""},
		{"no protected_url", func(s *AuthSpec) { s.ProtectedURL = "" }, "protected_url"},
		{"relative protected_url", func(s *AuthSpec) { s.ProtectedURL = "/p" }, "protected_url"},
		{"ftp login_url", func(s *AuthSpec) { s.LoginURL = "ftp://x/login" }, "login_url"},
		{"token and login_url", func(s *AuthSpec) { s.Token = "t" }, "token"},
		{"bad content_type", func(s *AuthSpec) { s.ContentType = "xml" }, "content_type"},
		{"bad method", func(s *AuthSpec) { s.Method = "post" }, "method"},
		{"bad protected_method", func(s *AuthSpec) { s.ProtectedMethod = "" }, "protected_method"},
		{"jwks and key file", func(s *AuthSpec) { s.JWKSURL = "http://127.0.0.1/jwks"; s.JWTKeyFile = "k" }, "jwt_key_file"},
		{"bad jwks_url", func(s *AuthSpec) { s.JWKSURL = "jwks" }, "jwks_url"},
		{"empty token_path element", func(s *AuthSpec) { s.TokenPath = "data..token" }, "token_path"},
		{"empty header token_path", func(s *AuthSpec) { s.TokenPath = "header:" }, "token_path"},
		{"empty username_field", func(s *AuthSpec) { s.UsernameField = "" }, "username_field"},
		{"negative timeout", func(s *AuthSpec) { s.Timeout = -time.Second }, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := authNewSpec(t)
			s.LoginURL, s.ProtectedURL = "https://127.0.0.1/login", "https://127.0.0.1/p"
			tc.edit(s)
			checkFieldError(t, s.Validate(), tc.field)
		})
	}
}

func TestAuthFindToken(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer hdr-token")
	tests := []struct {
		body, path, want string
	}{
		{`{"access_token":"a","token":"b"}`, "", "a"},
		{`{"token":"b","id_token":"c"}`, "", "b"},
		{`{"id_token":"c"}`, "", "c"},
		{`{"data":{"access_token":"d"}}`, "data.access_token", "d"},
		{`{"items":[{"jwt":"e"}]}`, "items.0.jwt", "e"},
		{`{"items":[{"jwt":"e"}]}`, "items.1.jwt", ""},
		{`{"token":123}`, "token", ""},
		{`not json`, "", "hdr-token"},
		{`{}`, "header:Authorization", "hdr-token"},
	}
	for _, tc := range tests {
		t.Run(tc.body+"|"+tc.path, func(t *testing.T) {
			if got := authFindToken([]byte(tc.body), h, tc.path); got != tc.want {
				t.Errorf("authFindToken = %q, want %q", got, tc.want)
			}
		})
	}
}
