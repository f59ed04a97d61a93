package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"
)

// HTTPSpec is the `http` probe's settings.
type HTTPSpec struct {
	Method          string            `yaml:"method" json:"method,omitempty" doc:"request method (default GET)"`
	URL             string            `yaml:"url" json:"url" doc:"absolute http:// or https:// URL to request"`
	Headers         map[string]string `yaml:"headers" json:"headers,omitempty" doc:"request headers; use a secret reference for credentials"`
	Body            string            `yaml:"body" json:"body,omitempty" doc:"request body"`
	FollowRedirects bool              `yaml:"follow_redirects" json:"follow_redirects,omitempty" doc:"follow 3xx redirects (default false: the 3xx itself is observed)"`
	MaxRedirects    int               `yaml:"max_redirects" json:"max_redirects,omitempty" doc:"most redirects to follow; past it the last 3xx is observed (default 10)"`
	MaxBodyBytes    int64             `yaml:"max_body_bytes" json:"max_body_bytes,omitempty" doc:"most body bytes read; the rest is dropped and body_truncated set (default 1 MiB)"`
	TLSOptions      `yaml:",inline"`
	Timeout         time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"whole-request timeout, body included (default: the checkpoint's)"`
}

const (
	defaultMaxRedirects = 10
	defaultMaxBodyBytes = 1 << 20
)

func (s *HTTPSpec) defaults() {
	s.Method = http.MethodGet
	s.MaxRedirects = defaultMaxRedirects
	s.MaxBodyBytes = defaultMaxBodyBytes
}

// Validate implements Spec.
func (s *HTTPSpec) Validate() error {
	if err := checkURL("url", s.URL); err != nil {
		return err
	}
	if s.Method != "" && !isToken(s.Method) {
		return Fieldf("method", "%q is not a valid HTTP method", s.Method)
	}
	for k, v := range s.Headers {
		if !isToken(k) {
			return Fieldf("headers", "%q is not a valid header name", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			// Never echo the value: it may be a credential.
			return Fieldf("headers", "value of %s holds a line break or NUL", k)
		}
	}
	if s.MaxRedirects < 0 {
		return Fieldf("max_redirects", "must not be negative")
	}
	if s.MaxBodyBytes <= 0 {
		return Fieldf("max_body_bytes", "must be positive")
	}
	if s.MaxBodyBytes > 1<<30 {
		return Fieldf("max_body_bytes", "must be at most 1 GiB (1073741824)")
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token (method and header names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// HTTPObservation is what a `http` probe saw. For a followed redirect chain
// it describes the last response.
type HTTPObservation struct {
	Status        int               `json:"status"`
	Headers       map[string]string `json:"headers"`   // canonical names; repeated headers joined with ", "
	BodyText      string            `json:"body_text"` // at most max_body_bytes
	Body          any               `json:"body"`      // body_text decoded as JSON, or nil when it is not JSON (or truncated)
	BodyTruncated bool              `json:"body_truncated"`
	Size          int64             `json:"size"`           // body bytes read (at most max_body_bytes)
	ContentLength int64             `json:"content_length"` // as announced by the server, -1 when unknown
	Latency       time.Duration     `json:"latency"`        // start to last body byte, redirects included
	TTFB          time.Duration     `json:"ttfb"`           // start to first byte of the last response
	Proto         string            `json:"proto"`          // e.g. "HTTP/1.1", "HTTP/2.0"
	Redirects     int               `json:"redirects"`      // redirects followed
	FinalURL      string            `json:"final_url"`      // URL of the last request, password redacted
	TLS           *HTTPTLS          `json:"tls"`            // nil over plain http
}

// HTTPTLS is the TLS connection of an https response.
type HTTPTLS struct {
	Version          string    `json:"version"` // "TLS1.2", "TLS1.3"
	Cipher           string    `json:"cipher"`
	ServerName       string    `json:"server_name"`
	PeerCertificates int       `json:"peer_certificates"`
	NotAfter         time.Time `json:"not_after"`      // leaf certificate
	DaysToExpiry     int       `json:"days_to_expiry"` // leaf; negative once expired
	Verified         bool      `json:"verified"`       // false when insecure_skip_verify skipped verification
}

func probeHTTP(ctx context.Context, env Env, s *HTTPSpec) (HTTPObservation, error) {
	var obs HTTPObservation
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	method := s.Method
	if method == "" {
		method = http.MethodGet
	}
	target := redactURL(s.URL)

	client, err := s.TLSOptions.HTTPClient(s.FollowRedirects, s.MaxRedirects)
	if err != nil {
		return obs, fmt.Errorf("tls options: %w", err)
	}
	defer client.CloseIdleConnections()
	// Count the redirects followed, and observe the last 3xx instead of
	// failing once max_redirects is reached.
	redirects := 0
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !s.FollowRedirects || len(via) > s.MaxRedirects {
			return http.ErrUseLastResponse
		}
		redirects = len(via)
		return nil
	}

	var body io.Reader
	if s.Body != "" {
		body = strings.NewReader(s.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL, body)
	if err != nil {
		return obs, fmt.Errorf("%s %s: %w", method, target, unwrapURLError(err))
	}
	setHeaders(req, s.Headers)

	var (
		mu        sync.Mutex
		firstByte time.Time
	)
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() {
		mu.Lock()
		firstByte = time.Now() // the last response's first byte wins
		mu.Unlock()
	}}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))

	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		err = ctxError(ctx, unwrapURLError(err))
		env.logf("%s %s: %v", method, target, err)
		return obs, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer resp.Body.Close()

	obs.Status = resp.StatusCode
	obs.Proto = resp.Proto
	obs.Redirects = redirects
	obs.ContentLength = resp.ContentLength
	obs.FinalURL = resp.Request.URL.Redacted()
	obs.Headers = make(map[string]string, len(resp.Header))
	for k, vs := range resp.Header {
		obs.Headers[http.CanonicalHeaderKey(k)] = strings.Join(vs, ", ")
	}
	if resp.TLS != nil {
		obs.TLS = httpTLS(resp.TLS, time.Now())
	}

	data, err := io.ReadAll(io.LimitReader(resp.Body, s.MaxBodyBytes+1))
	obs.Latency = time.Since(start)
	mu.Lock()
	if !firstByte.IsZero() {
		obs.TTFB = firstByte.Sub(start)
	}
	mu.Unlock()
	if int64(len(data)) > s.MaxBodyBytes {
		data = data[:s.MaxBodyBytes]
		obs.BodyTruncated = true
	}
	obs.Size = int64(len(data))
	obs.BodyText = string(data)
	if err != nil {
		err = ctxError(ctx, err)
		env.logf("%s %s: read body: %v", method, target, err)
		return obs, fmt.Errorf("%s %s: read body: %w", method, target, err)
	}
	if !obs.BodyTruncated {
		obs.Body = decodeJSON(data)
	}
	env.logf("%s %s: %s %d, %d body bytes in %s", method, target, resp.Proto, resp.StatusCode, obs.Size, obs.Latency)
	return obs, nil
}

// decodeJSON returns data decoded as JSON, or nil when it is not JSON.
func decodeJSON(data []byte) any {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || !json.Valid(data) {
		return nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil
	}
	return v
}

func httpTLS(cs *tls.ConnectionState, now time.Time) *HTTPTLS {
	t := &HTTPTLS{
		Version:          tlsVersionName(cs.Version),
		Cipher:           tls.CipherSuiteName(cs.CipherSuite),
		ServerName:       cs.ServerName,
		PeerCertificates: len(cs.PeerCertificates),
		Verified:         len(cs.VerifiedChains) > 0,
	}
	if len(cs.PeerCertificates) > 0 {
		t.NotAfter = cs.PeerCertificates[0].NotAfter
		t.DaysToExpiry = daysUntil(t.NotAfter, now)
	}
	return t
}

// redactURL is the URL for errors and logs: no user info, no query (either
// may carry a credential).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid url)"
	}
	u.User = nil
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String()
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// full URL (query included); callers add a redacted URL themselves.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ctxError makes sure an error caused by ctx ending says so and matches
// context.DeadlineExceeded or context.Canceled with errors.Is.
func ctxError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if cerr == nil {
		// An I/O deadline set from ctx's deadline can fire a moment before
		// ctx itself reports it.
		var ne net.Error
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) && errors.As(err, &ne) && ne.Timeout() {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}
