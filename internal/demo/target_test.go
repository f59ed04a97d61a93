package demo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// startTarget starts a target on 127.0.0.1:0 and returns it with a client
// that trusts its CA.
func startTarget(t *testing.T, opts Options) (*Target, *http.Client) {
	t.Helper()
	tgt, err := NewTarget(opts)
	if err != nil {
		t.Fatalf("NewTarget: %v", err)
	}
	if err := tgt.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := tgt.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if !strings.HasPrefix(tgt.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL() = %q, want https://127.0.0.1:PORT", tgt.URL())
	}
	return tgt, &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, tgt)}},
	}
}

func caPool(t *testing.T, tgt *Target) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(tgt.CACertPEM()) {
		t.Fatal("CACertPEM: no certificate")
	}
	return pool
}

type response struct {
	code   int
	header http.Header
	body   []byte
	json   map[string]any
}

// do sends one request; body, when not nil, is sent as JSON (a string is
// sent as is).
func do(t *testing.T, c *http.Client, method, u string, body any, hdr map[string]string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{code: resp.StatusCode, header: resp.Header, body: raw}
	_ = json.Unmarshal(raw, &r.json)
	return r
}

func wantCode(t *testing.T, r response, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("status = %d, want %d; body %s", r.code, code, r.body)
	}
}

func login(t *testing.T, tgt *Target, c *http.Client) string {
	t.Helper()
	r := do(t, c, "POST", tgt.URL()+"/auth/login", map[string]string{"username": DefaultUsername, "password": DefaultPassword}, nil)
	wantCode(t, r, http.StatusOK)
	tok, _ := r.json["access_token"].(string)
	if tok == "" {
		t.Fatalf("login: no access_token in %s", r.body)
	}
	return tok
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func TestHealthyEndpoints(t *testing.T) {
	tgt, c := startTarget(t, Options{HTTPListen: "127.0.0.1:0"})
	base := tgt.URL()

	t.Run("health", func(t *testing.T) {
		r := do(t, c, "GET", base+"/health", nil, nil)
		wantCode(t, r, http.StatusOK)
		if r.json["status"] != "healthy" || r.json["version"] != Version {
			t.Errorf("body = %s", r.body)
		}
		if _, ok := r.json["uptime_s"].(float64); !ok {
			t.Errorf("uptime_s missing: %s", r.body)
		}
		if hsts := r.header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
			t.Errorf("Strict-Transport-Security = %q", hsts)
		}
	})

	t.Run("plain http listener", func(t *testing.T) {
		if !strings.HasPrefix(tgt.HTTPURL(), "http://127.0.0.1:") {
			t.Fatalf("HTTPURL() = %q", tgt.HTTPURL())
		}
		r := do(t, http.DefaultClient, "GET", tgt.HTTPURL()+"/health", nil, nil)
		wantCode(t, r, http.StatusOK)
		if r.header.Get("Strict-Transport-Security") != "" {
			t.Error("HSTS sent over plain HTTP")
		}
	})

	t.Run("auth health", func(t *testing.T) {
		r := do(t, c, "GET", base+"/auth/health", nil, nil)
		wantCode(t, r, http.StatusOK)
		if r.json["status"] != "ready" {
			t.Errorf("body = %s", r.body)
		}
	})

	t.Run("login and token verified by jwks", func(t *testing.T) {
		r := do(t, c, "POST", base+"/auth/login", map[string]string{"username": "demo", "password": "demo-password"}, nil)
		wantCode(t, r, http.StatusOK)
		if r.json["token_type"] != "Bearer" || r.json["expires_in"] != float64(900) {
			t.Errorf("body = %s", r.body)
		}
		tok := r.json["access_token"].(string)

		jr := do(t, c, "GET", base+"/.well-known/jwks.json", nil, nil)
		wantCode(t, jr, http.StatusOK)
		var set struct {
			Keys []struct{ Kty, Crv, X, Y, Kid, Alg string }
		}
		if err := json.Unmarshal(jr.body, &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("jwks = %s (%v)", jr.body, err)
		}
		k := set.Keys[0]
		if k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" || k.Kid == "" {
			t.Fatalf("jwk = %+v", k)
		}
		x, _ := base64.RawURLEncoding.DecodeString(k.X)
		y, _ := base64.RawURLEncoding.DecodeString(k.Y)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatalf("jwk point: %v", err)
		}
		var cl jwt.RegisteredClaims
		parsed, err := jwt.ParseWithClaims(tok, &cl, func(tk *jwt.Token) (any, error) {
			if tk.Header["kid"] != k.Kid {
				t.Errorf("kid = %v, want %s", tk.Header["kid"], k.Kid)
			}
			return pub, nil
		}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer("prf-demo"), jwt.WithExpirationRequired())
		if err != nil || !parsed.Valid {
			t.Fatalf("token does not verify against the JWKS: %v", err)
		}
		if cl.Subject != "demo" || cl.IssuedAt == nil || cl.ExpiresAt.Sub(cl.IssuedAt.Time) != 15*time.Minute {
			t.Errorf("claims = %+v", cl)
		}
	})

	t.Run("login rejects bad credentials", func(t *testing.T) {
		for _, body := range []any{
			map[string]string{"username": "demo", "password": "wrong"},
			map[string]string{"username": "root", "password": "demo-password"},
			map[string]string{},
		} {
			wantCode(t, do(t, c, "POST", base+"/auth/login", body, nil), http.StatusUnauthorized)
		}
		wantCode(t, do(t, c, "POST", base+"/auth/login", "{not json", nil), http.StatusBadRequest)
	})

	tok := login(t, tgt, c)

	t.Run("protected endpoints", func(t *testing.T) {
		for _, p := range []string{"/api/v1/protected", "/api/v1/data"} {
			r := do(t, c, "GET", base+p, nil, nil)
			wantCode(t, r, http.StatusUnauthorized)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate = %q", p, r.header.Get("WWW-Authenticate"))
			}
			wantCode(t, do(t, c, "GET", base+p, nil, bearer(tok)), http.StatusOK)
		}
		r := do(t, c, "GET", base+"/api/v1/data", nil, bearer(tok))
		if recs, _ := r.json["results"].([]any); len(recs) == 0 || r.json["subject"] != "demo" {
			t.Errorf("data = %s", r.body)
		}
	})

	t.Run("bad tokens are rejected", func(t *testing.T) {
		for name, bad := range badTokens(t, tgt, tok) {
			t.Run(name, func(t *testing.T) {
				wantCode(t, do(t, c, "GET", base+"/api/v1/protected", nil, bearer(bad)), http.StatusUnauthorized)
			})
		}
		wantCode(t, do(t, c, "GET", base+"/api/v1/protected", nil, map[string]string{"Authorization": "Basic ZGVtbzpkZW1v"}), http.StatusUnauthorized)
	})

	t.Run("api test", func(t *testing.T) {
		for _, m := range []string{"GET", "POST"} {
			r := do(t, c, m, base+"/api/v1/test", nil, nil)
			wantCode(t, r, http.StatusOK)
			if r.header.Get("X-RateLimit-Limit") != "20" {
				t.Errorf("X-RateLimit-Limit = %q", r.header.Get("X-RateLimit-Limit"))
			}
		}
	})

	t.Run("ai", func(t *testing.T) {
		r := do(t, c, "GET", base+"/ai/health", nil, nil)
		wantCode(t, r, http.StatusOK)
		if r.json["status"] != "healthy" || r.json["model_loaded"] != true || r.json["model"] != ModelName {
			t.Errorf("ai health = %s", r.body)
		}
		p1 := do(t, c, "POST", base+"/ai/predict", map[string]any{"input": "test_data"}, bearer(tok))
		wantCode(t, p1, http.StatusOK)
		conf, _ := p1.json["confidence"].(float64)
		if p, _ := p1.json["prediction"].(string); p == "" || conf <= 0 || conf > 1 {
			t.Errorf("predict = %s", p1.body)
		}
		if _, ok := p1.json["latency_ms"].(float64); !ok {
			t.Errorf("latency_ms missing: %s", p1.body)
		}
		p2 := do(t, c, "POST", base+"/ai/predict", map[string]any{"input": "test_data"}, nil)
		if p1.json["prediction"] != p2.json["prediction"] || p1.json["confidence"] != p2.json["confidence"] {
			t.Errorf("prediction not deterministic: %s vs %s", p1.body, p2.body)
		}
		wantCode(t, do(t, c, "POST", base+"/ai/predict", map[string]any{"features": []float64{0.1, 2}}, nil), http.StatusOK)
		wantCode(t, do(t, c, "POST", base+"/ai/predict", map[string]any{"other": 1}, nil), http.StatusBadRequest)
		wantCode(t, do(t, c, "POST", base+"/ai/predict", "nope", nil), http.StatusBadRequest)
	})

	t.Run("blockchain advances", func(t *testing.T) {
		r1 := do(t, c, "GET", base+"/blockchain/status", nil, nil)
		wantCode(t, r1, http.StatusOK)
		if r1.json["synced"] != true || r1.json["catching_up"] != false || r1.json["status"] != "healthy" {
			t.Errorf("status = %s", r1.body)
		}
		for _, f := range []string{"peers", "validators", "block_time_ms"} {
			if v, _ := r1.json[f].(float64); v <= 0 {
				t.Errorf("%s = %v", f, r1.json[f])
			}
		}
		time.Sleep(3 * BlockInterval)
		r2 := do(t, c, "GET", base+"/blockchain/status", nil, nil)
		h1, h2 := r1.json["height"].(float64), r2.json["height"].(float64)
		if h2 < h1+2 {
			t.Errorf("height %v then %v after %v, want it to advance", h1, h2, 3*BlockInterval)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		r := do(t, c, "GET", base+"/metrics", nil, nil)
		wantCode(t, r, http.StatusOK)
		for _, want := range []string{"prf_demo_up 1", "prf_demo_block_height ", `route="GET /health",code="200"`} {
			if !strings.Contains(string(r.body), want) {
				t.Errorf("metrics lack %q:\n%s", want, r.body)
			}
		}
	})

	t.Run("not found", func(t *testing.T) {
		wantCode(t, do(t, c, "GET", base+"/nope", nil, nil), http.StatusNotFound)
	})

	t.Run("tls versions", func(t *testing.T) {
		addr := strings.TrimPrefix(base, "https://")
		for _, tc := range []struct {
			name    string
			version uint16
			ok      bool
		}{
			{"tls1.0 refused", tls.VersionTLS10, false},
			{"tls1.1 refused", tls.VersionTLS11, false},
			{"tls1.2 accepted", tls.VersionTLS12, true},
			{"tls1.3 accepted", tls.VersionTLS13, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := dialVersion(t, tgt, addr, tc.version)
				if (err == nil) != tc.ok {
					t.Errorf("dial with only %s: err = %v, want ok=%v", tls.VersionName(tc.version), err, tc.ok)
				}
			})
		}
	})
}

// dialVersion makes a TLS connection that offers exactly one version (and,
// below 1.2, the CBC suites an old client would offer) and returns the
// negotiated version.
func dialVersion(t *testing.T, tgt *Target, addr string, v uint16) (uint16, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: caPool(t, tgt), MinVersion: v, MaxVersion: v}
	if v < tls.VersionTLS12 {
		cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
	}
	d := tls.Dialer{Config: cfg}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().Version, nil
}

// badTokens are tokens a correct verifier must refuse.
func badTokens(t *testing.T, tgt *Target, good string) map[string]string {
	t.Helper()
	now := time.Now()
	base := func() claims {
		return claims{RegisteredClaims: jwt.RegisteredClaims{
			Issuer: TokenIssuer, Subject: "demo", Audience: jwt.ClaimStrings{TokenAudience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}}
	}
	sign := func(m jwt.SigningMethod, c claims, key any) string {
		tk := jwt.NewWithClaims(m, c)
		tk.Header["kid"] = tgt.signer.kid
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatalf("sign %s: %v", m.Alg(), err)
		}
		return s
	}
	expired := base()
	expired.IssuedAt = jwt.NewNumericDate(now.Add(-2 * time.Hour))
	expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour))
	noExp := base()
	noExp.ExpiresAt = nil
	wrongIss := base()
	wrongIss.Issuer = "someone-else"
	wrongAud := base()
	wrongAud.Audience = jwt.ClaimStrings{"other-api"}

	// Tampered: the payload of a valid token changed, its signature kept.
	parts := strings.Split(good, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = bytes.Replace(payload, []byte(`"sub":"demo"`), []byte(`"sub":"admin"`), 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	// Flipped signature byte.
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 0xff
	badSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&tgt.signer.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"alg none":            sign(jwt.SigningMethodNone, base(), jwt.UnsafeAllowNoneSignatureType),
		"hs256 key confusion": sign(jwt.SigningMethodHS256, base(), pubDER),
		"other es256 key":     sign(jwt.SigningMethodES256, base(), otherKey),
		"expired":             sign(jwt.SigningMethodES256, expired, tgt.signer.key),
		"no exp":              sign(jwt.SigningMethodES256, noExp, tgt.signer.key),
		"wrong issuer":        sign(jwt.SigningMethodES256, wrongIss, tgt.signer.key),
		"wrong audience":      sign(jwt.SigningMethodES256, wrongAud, tgt.signer.key),
		"tampered payload":    tampered,
		"tampered signature":  badSig,
		"garbage":             "not.a.token",
	}
}

func TestRateLimit(t *testing.T) {
	tgt, c := startTarget(t, Options{})
	var codes []int
	var limited response
	for i := range 100 { // bounded: the burst is 20
		r := do(t, c, "GET", tgt.URL()+"/api/v1/test", nil, nil)
		codes = append(codes, r.code)
		if r.code == http.StatusTooManyRequests {
			limited = r
			break
		}
		if r.code != http.StatusOK {
			t.Fatalf("request %d: status %d", i, r.code)
		}
	}
	if limited.code != http.StatusTooManyRequests {
		t.Fatalf("no 429 in %d requests", len(codes))
	}
	if len(codes) <= RateBurst {
		t.Errorf("429 after %d requests, want the first %d to pass", len(codes), RateBurst)
	}
	if ra := limited.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	m := do(t, c, "GET", tgt.URL()+"/metrics", nil, nil)
	if !strings.Contains(string(m.body), "prf_demo_rate_limited_total 1") {
		t.Errorf("metrics do not count the 429:\n%s", m.body)
	}
}

// wafCase is a request to /api/v1/test that carries a payload somewhere.
type wafCase struct {
	name, query, header, body, rawPath string
}

func (wc wafCase) send(t *testing.T, c *http.Client, base string) response {
	t.Helper()
	u := base + "/api/v1/test"
	if wc.rawPath != "" {
		u = base + wc.rawPath
	}
	if wc.query != "" {
		u += "?q=" + url.QueryEscape(wc.query)
	}
	method, hdr := "GET", map[string]string{}
	var body any
	if wc.body != "" {
		method, body = "POST", wc.body
	}
	if wc.header != "" {
		hdr["X-Api-Version"] = wc.header
	}
	return do(t, c, method, u, body, hdr)
}

func wafCases() (malicious, benign []wafCase) {
	malicious = []wafCase{
		{name: "sqli query", query: "' OR 1=1--"},
		{name: "sqli body", body: `{"user":"admin' OR '1'='1"}`},
		{name: "xss query", query: "<script>alert(1)</script>"},
		{name: "xss json escaped", body: `{"comment":"\u003cscript\u003ealert(1)\u003c/script\u003e"}`},
		{name: "traversal query", query: "../../etc/passwd"},
		{name: "traversal path", rawPath: "/api/v1/test/..%2f..%2fetc%2fpasswd"},
		{name: "jndi header", header: "${jndi:ldap://127.0.0.1/a}"},
		{name: "jndi query", query: "${jndi:ldap://127.0.0.1/a}"},
		{name: "command injection", query: "127.0.0.1; cat /etc/shadow"},
		{name: "ssrf metadata", query: "http://169.254.169.254/latest/meta-data/"},
		{name: "ssrf loopback", body: `{"callback":"http://localhost:6379/"}`},
		{name: "checklist marker", body: "malicious_payload"},
	}
	benign = []wafCase{
		{name: "apostrophe name", query: "O'Brien"},
		{name: "apostrophe in json", body: `{"name":"Seán O'Brien","note":"it's fine"}`},
		{name: "ordinary search", query: "union members select a new chair"},
		{name: "ampersand", query: "rock & roll; cats and dogs"},
		{name: "external url", query: "https://example.com/docs?page=2"},
	}
	return malicious, benign
}

func TestWAF(t *testing.T) {
	tgt, c := startTarget(t, Options{})
	malicious, benign := wafCases()
	for _, wc := range malicious {
		t.Run("blocks "+wc.name, func(t *testing.T) {
			r := wc.send(t, c, tgt.URL())
			wantCode(t, r, http.StatusForbidden)
			if r.header.Get("X-WAF-Rule") == "" {
				t.Error("no X-WAF-Rule header")
			}
		})
	}
	for _, wc := range benign {
		t.Run("passes "+wc.name, func(t *testing.T) {
			wantCode(t, wc.send(t, c, tgt.URL()), http.StatusOK)
		})
	}
	t.Run("authorization header not inspected", func(t *testing.T) {
		r := do(t, c, "GET", tgt.URL()+"/api/v1/protected", nil, map[string]string{"Authorization": "Bearer ' OR 1=1--"})
		wantCode(t, r, http.StatusUnauthorized)
	})
	t.Run("outside /api/ not inspected", func(t *testing.T) {
		r := do(t, c, "POST", tgt.URL()+"/auth/login", map[string]string{"username": "demo", "password": "' OR 1=1--"}, nil)
		wantCode(t, r, http.StatusUnauthorized)
	})
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault string
		check func(t *testing.T, tgt *Target, c *http.Client)
	}{
		{FaultHealthDown, func(t *testing.T, tgt *Target, c *http.Client) {
			r := do(t, c, "GET", tgt.URL()+"/health", nil, nil)
			wantCode(t, r, http.StatusServiceUnavailable)
			if r.json["status"] != "unhealthy" {
				t.Errorf("body = %s", r.body)
			}
		}},
		{FaultSlowHealth, func(t *testing.T, tgt *Target, c *http.Client) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", tgt.URL()+"/health", nil)
			asked := time.Now()
			// On a starved machine the client's deadline can fire late, so
			// an answer is wrong only when it came fast.
			if resp, err := c.Do(req); err == nil && time.Since(asked) < time.Second {
				resp.Body.Close()
				t.Errorf("a 300ms client got an answer (%d) after %v", resp.StatusCode, time.Since(asked))
			} else if err == nil {
				resp.Body.Close()
			}
			began := time.Now()
			wantCode(t, do(t, c, "GET", tgt.URL()+"/health", nil, nil), http.StatusOK)
			if d := time.Since(began); d < time.Second {
				t.Errorf("/health took %v, want about %v", d, SlowDelay)
			}
		}},
		{FaultAuthBroken, func(t *testing.T, tgt *Target, c *http.Client) {
			wantCode(t, do(t, c, "POST", tgt.URL()+"/auth/login", map[string]string{"username": "demo", "password": "demo-password"}, nil), http.StatusInternalServerError)
			wantCode(t, do(t, c, "GET", tgt.URL()+"/auth/health", nil, nil), http.StatusOK)
		}},
		{FaultNoAuth, func(t *testing.T, tgt *Target, c *http.Client) {
			wantCode(t, do(t, c, "GET", tgt.URL()+"/api/v1/protected", nil, nil), http.StatusOK)
			wantCode(t, do(t, c, "GET", tgt.URL()+"/api/v1/data", nil, nil), http.StatusOK)
		}},
		{FaultNoRateLimit, func(t *testing.T, tgt *Target, c *http.Client) {
			for i := range 3 * RateBurst {
				if r := do(t, c, "GET", tgt.URL()+"/api/v1/test", nil, nil); r.code != http.StatusOK {
					t.Fatalf("request %d: status %d, want 200", i, r.code)
				}
			}
		}},
		{FaultWAFOff, func(t *testing.T, tgt *Target, c *http.Client) {
			malicious, _ := wafCases()
			for _, wc := range malicious {
				if wc.rawPath != "" {
					continue // the mux answers a cleaned path with a redirect or 404
				}
				if r := wc.send(t, c, tgt.URL()); r.code == http.StatusForbidden {
					t.Errorf("%s: 403 with the WAF off", wc.name)
				}
			}
		}},
		{FaultAISlow, func(t *testing.T, tgt *Target, c *http.Client) {
			began := time.Now()
			r := do(t, c, "POST", tgt.URL()+"/ai/predict", map[string]any{"input": "test_data"}, nil)
			wantCode(t, r, http.StatusOK)
			if d := time.Since(began); d < time.Second {
				t.Errorf("/ai/predict took %v, want about %v", d, SlowDelay)
			}
			if ms, _ := r.json["latency_ms"].(float64); ms < 1000 {
				t.Errorf("latency_ms = %v", r.json["latency_ms"])
			}
		}},
		{FaultModelUnloaded, func(t *testing.T, tgt *Target, c *http.Client) {
			r := do(t, c, "GET", tgt.URL()+"/ai/health", nil, nil)
			wantCode(t, r, http.StatusServiceUnavailable)
			if r.json["model_loaded"] != false {
				t.Errorf("body = %s", r.body)
			}
			wantCode(t, do(t, c, "POST", tgt.URL()+"/ai/predict", map[string]any{"input": "x"}, nil), http.StatusServiceUnavailable)
		}},
		{FaultChainUnsynced, func(t *testing.T, tgt *Target, c *http.Client) {
			r1 := do(t, c, "GET", tgt.URL()+"/blockchain/status", nil, nil)
			if r1.json["synced"] != false || r1.json["catching_up"] != true {
				t.Errorf("body = %s", r1.body)
			}
			time.Sleep(3 * BlockInterval)
			r2 := do(t, c, "GET", tgt.URL()+"/blockchain/status", nil, nil)
			if r1.json["height"] != r2.json["height"] {
				t.Errorf("height moved: %v then %v", r1.json["height"], r2.json["height"])
			}
		}},
		{FaultExpiredCert, func(t *testing.T, tgt *Target, c *http.Client) {
			_, err := c.Get(tgt.URL() + "/health")
			var inv x509.CertificateInvalidError
			if !errors.As(err, &inv) || inv.Reason != x509.Expired {
				t.Fatalf("err = %v, want a certificate expiry error", err)
			}
			// Only the dates are wrong: the chain is the demo CA's.
			conn, err := tls.Dial("tcp", strings.TrimPrefix(tgt.URL(), "https://"), &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			leaf := conn.ConnectionState().PeerCertificates[0]
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: caPool(t, tgt), DNSName: "127.0.0.1", CurrentTime: leaf.NotAfter.Add(-time.Hour)}); err != nil {
				t.Errorf("expired leaf does not chain to the CA: %v", err)
			}
		}},
		{FaultWeakTLS, func(t *testing.T, tgt *Target, c *http.Client) {
			addr := strings.TrimPrefix(tgt.URL(), "https://")
			for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
				got, err := dialVersion(t, tgt, addr, v)
				if err != nil || got != v {
					t.Errorf("%s-only client: version %s, err %v; want accepted", tls.VersionName(v), tls.VersionName(got), err)
				}
			}
			wantCode(t, do(t, c, "GET", tgt.URL()+"/health", nil, nil), http.StatusOK)
		}},
		{FaultInsecureHeaders, func(t *testing.T, tgt *Target, c *http.Client) {
			r := do(t, c, "GET", tgt.URL()+"/health", nil, nil)
			wantCode(t, r, http.StatusOK)
			for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Strict-Transport-Security"} {
				if v := r.header.Get(h); v != "" {
					t.Errorf("%s: %q, want none", h, v)
				}
			}
			if r.header.Get("X-Powered-By") == "" || !strings.ContainsAny(r.header.Get("Server"), "0123456789") {
				t.Errorf("no version disclosed: %v", r.header)
			}
		}},
		{FaultAuthDown, func(t *testing.T, tgt *Target, c *http.Client) {
			r := do(t, c, "GET", tgt.URL()+"/auth/health", nil, nil)
			wantCode(t, r, http.StatusServiceUnavailable)
			if r.json["status"] == "ready" {
				t.Errorf("body = %s", r.body)
			}
			wantCode(t, do(t, c, "POST", tgt.URL()+"/auth/login", map[string]string{"username": DefaultUsername, "password": DefaultPassword}, nil), http.StatusServiceUnavailable)
		}},
		{FaultLoginNoToken, func(t *testing.T, tgt *Target, c *http.Client) {
			r := do(t, c, "POST", tgt.URL()+"/auth/login", map[string]string{"username": DefaultUsername, "password": DefaultPassword}, nil)
			wantCode(t, r, http.StatusOK)
			if _, ok := r.json["access_token"]; ok {
				t.Errorf("body = %s, want no token", r.body)
			}
		}},
		{FaultAPISlow, func(t *testing.T, tgt *Target, c *http.Client) {
			began := time.Now()
			tok := login(t, tgt, c)
			wantCode(t, do(t, c, "GET", tgt.URL()+"/api/v1/data", nil, bearer(tok)), http.StatusOK)
			if d := time.Since(began); d < 2*SlowDelay {
				t.Errorf("login and data took %v, want at least %v", d, 2*SlowDelay)
			}
		}},
		{FaultJWTUnverified, func(t *testing.T, tgt *Target, c *http.Client) {
			good := login(t, tgt, c)
			for name, tok := range badTokens(t, tgt, good) {
				if name == "garbage" {
					continue // not a JWT at all: still refused below
				}
				if r := do(t, c, "GET", tgt.URL()+"/api/v1/protected", nil, bearer(tok)); r.code != http.StatusOK {
					t.Errorf("%s token: status %d, want 200 (accepted unverified)", name, r.code)
				}
			}
			wantCode(t, do(t, c, "GET", tgt.URL()+"/api/v1/protected", nil, bearer("not-a-jwt")), http.StatusUnauthorized)
		}},
		{FaultJWKSRotated, func(t *testing.T, tgt *Target, c *http.Client) {
			tok := login(t, tgt, c)
			wantCode(t, do(t, c, "GET", tgt.URL()+"/api/v1/protected", nil, bearer(tok)), http.StatusOK)
			p, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
			if err != nil {
				t.Fatal(err)
			}
			r := do(t, c, "GET", tgt.URL()+"/.well-known/jwks.json", nil, nil)
			keys, _ := r.json["keys"].([]any)
			for _, k := range keys {
				if k.(map[string]any)["kid"] == p.Header["kid"] {
					t.Errorf("the JWKS publishes the signing key %v", p.Header["kid"])
				}
			}
			if len(keys) == 0 {
				t.Error("the JWKS publishes no key")
			}
		}},
		{FaultChainDown, func(t *testing.T, tgt *Target, c *http.Client) {
			wantCode(t, do(t, c, "GET", tgt.URL()+"/blockchain/status", nil, nil), http.StatusServiceUnavailable)
		}},
		{FaultDataDegraded, func(t *testing.T, tgt *Target, c *http.Client) {
			r := do(t, c, "GET", tgt.URL()+"/api/v1/data", nil, bearer(login(t, tgt, c)))
			wantCode(t, r, http.StatusOK)
			if _, ok := r.json["results"]; ok {
				t.Errorf("body = %s, want no results", r.body)
			}
		}},
		{FaultNoPrediction, func(t *testing.T, tgt *Target, c *http.Client) {
			r := do(t, c, "POST", tgt.URL()+"/ai/predict", map[string]any{"input": "x"}, nil)
			wantCode(t, r, http.StatusOK)
			if _, ok := r.json["prediction"]; ok {
				t.Errorf("body = %s, want no prediction", r.body)
			}
		}},
		{FaultWeakKey, func(t *testing.T, tgt *Target, c *http.Client) {
			wantCode(t, do(t, c, "GET", tgt.URL()+"/health", nil, nil), http.StatusOK)
			conn, err := tls.Dial("tcp", strings.TrimPrefix(tgt.URL(), "https://"), &tls.Config{RootCAs: caPool(t, tgt)})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			pub, ok := conn.ConnectionState().PeerCertificates[0].PublicKey.(*rsa.PublicKey)
			if !ok || pub.N.BitLen() != 1024 {
				t.Errorf("server key %T, want 1024-bit RSA", conn.ConnectionState().PeerCertificates[0].PublicKey)
			}
		}},
		{FaultWAFParanoid, func(t *testing.T, tgt *Target, c *http.Client) {
			wantCode(t, wafCase{query: "O'Brien"}.send(t, c, tgt.URL()), http.StatusForbidden)
			wantCode(t, wafCase{query: "' OR 1=1--"}.send(t, c, tgt.URL()), http.StatusForbidden)
			wantCode(t, wafCase{query: "running shoes"}.send(t, c, tgt.URL()), http.StatusOK)
		}},
	}
	if len(tests) != len(Faults()) {
		t.Errorf("%d fault cases for %d faults", len(tests), len(Faults()))
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			t.Parallel()
			tgt, c := startTarget(t, Options{Faults: []string{tc.fault}})
			if got := tgt.ActiveFaults(); len(got) != 1 || got[0] != tc.fault {
				t.Errorf("ActiveFaults() = %v", got)
			}
			tc.check(t, tgt, c)
		})
	}
}

func TestHMACTokens(t *testing.T) {
	secret := []byte("demo-hmac-secret-0123456789abcdef")
	tgt, c := startTarget(t, Options{TokenSecret: secret})
	tok := login(t, tgt, c)
	p, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return secret, nil }, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil || !p.Valid {
		t.Fatalf("token does not verify with the secret: %v", err)
	}
	wantCode(t, do(t, c, "GET", tgt.URL()+"/api/v1/protected", nil, bearer(tok)), http.StatusOK)
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: TokenIssuer, Subject: "demo", Audience: jwt.ClaimStrings{TokenAudience},
		IssuedAt: jwt.NewNumericDate(time.Now().Add(-2 * time.Hour)), ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Hour)),
	}}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, do(t, c, "GET", tgt.URL()+"/api/v1/protected", nil, bearer(expired)), http.StatusUnauthorized)
	other, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: TokenIssuer, Subject: "demo", Audience: jwt.ClaimStrings{TokenAudience},
		IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}}).SignedString([]byte("another-secret"))
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, do(t, c, "GET", tgt.URL()+"/api/v1/protected", nil, bearer(other)), http.StatusUnauthorized)
	r := do(t, c, "GET", tgt.URL()+"/.well-known/jwks.json", nil, nil)
	if keys, _ := r.json["keys"].([]any); len(keys) != 0 {
		t.Errorf("JWKS publishes %v with an HMAC secret", keys)
	}
}

func TestSecurityHeadersAndPrivacy(t *testing.T) {
	tgt, c := startTarget(t, Options{})
	r := do(t, c, "GET", tgt.URL()+"/health", nil, nil)
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", r.header.Get("Content-Security-Policy"))
	}
	if r.header.Get("Server") != "" || r.header.Get("X-Powered-By") != "" {
		t.Errorf("server software disclosed: %v", r.header)
	}
	p := do(t, c, "GET", tgt.URL()+"/privacy", nil, nil)
	wantCode(t, p, http.StatusOK)
	if !strings.Contains(string(p.body), "Privacy policy") || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		t.Errorf("privacy page: %s %s", p.header.Get("Content-Type"), p.body)
	}
}

func TestFaultList(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Faults() {
		if f.Name == "" || f.Description == "" || seen[f.Name] {
			t.Errorf("bad fault entry %+v", f)
		}
		seen[f.Name] = true
	}
}

func TestUnknownFault(t *testing.T) {
	_, err := NewTarget(Options{Faults: []string{"health-down", "disk-full"}})
	if !errors.Is(err, ErrUnknownFault) {
		t.Fatalf("err = %v, want ErrUnknownFault", err)
	}
	for _, want := range []string{`"disk-full"`, "health-down", "weak-tls"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Run("context cancel closes", func(t *testing.T) {
		tgt, err := NewTarget(Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		if err := tgt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tgt.Start(ctx); err == nil {
			t.Error("second Start succeeded")
		}
		cancel()
		select {
		case <-tgt.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("target still running 5s after its context was cancelled")
		}
		if err := tgt.Start(t.Context()); !errors.Is(err, ErrClosed) {
			t.Errorf("Start after close: %v, want ErrClosed", err)
		}
	})
	t.Run("serve on a listener", func(t *testing.T) {
		tgt, err := NewTarget(Options{Username: "alice", Password: "s3cret-demo"})
		if err != nil {
			t.Fatal(err)
		}
		var lc net.ListenConfig
		ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- tgt.Serve(ln) }()
		base := "https://" + ln.Addr().String()
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, tgt)}}}
		wantCode(t, do(t, c, "POST", base+"/auth/login", map[string]string{"username": "alice", "password": "s3cret-demo"}, nil), http.StatusOK)
		wantCode(t, do(t, c, "POST", base+"/auth/login", map[string]string{"username": "demo", "password": "demo-password"}, nil), http.StatusUnauthorized)
		if tgt.URL() != base {
			t.Errorf("URL() = %q, want %q", tgt.URL(), base)
		}
		if err := tgt.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve = %v, want nil after Close", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return after Close")
		}
	})
	t.Run("close cancels slow requests", func(t *testing.T) {
		tgt, c := startTarget(t, Options{Faults: []string{FaultSlowHealth}})
		errc := make(chan error, 1)
		go func() {
			resp, err := c.Get(tgt.URL() + "/health")
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond)
		began := time.Now()
		tgt.Close()
		if d := time.Since(began); d > time.Second {
			t.Errorf("Close took %v with a slow request in flight", d)
		}
		<-errc
	})
}
