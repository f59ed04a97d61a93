package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/testenv"
)

func httpSpec(url string, mod func(*HTTPSpec)) *HTTPSpec {
	s := &HTTPSpec{}
	s.defaults()
	s.URL = url
	if mod != nil {
		mod(s)
	}
	return s
}

// testMux is the plain HTTP server most tests use.
func testMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		fmt.Fprint(w, `{"status":"healthy","checks":{"db":"ok"},"replicas":3,"tags":["x","y"]}`)
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "OK")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"db down"}`, http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s", r.Method, r.Header.Get("X-Api-Key"), r.Host, b)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "[")
		for i := 0; i < 1000; i++ {
			fmt.Fprintf(w, "%d,", i)
		}
		fmt.Fprint(w, "0]")
	})
	// /r/N redirects N times, then lands on /text.
	mux.HandleFunc("/r/", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/r/"), "%d", &n)
		if n <= 0 {
			http.Redirect(w, r, "/text", http.StatusFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
	})
	return mux
}

func TestHTTPResponses(t *testing.T) {
	srv := httptest.NewServer(testMux())
	t.Cleanup(srv.Close)

	tests := []struct {
		name      string
		path      string
		mod       func(*HTTPSpec)
		status    int
		bodyText  string // checked when not ""
		body      any
		truncated bool
		size      int64
		redirects int
		finalPath string
	}{
		{name: "json body", path: "/health", status: 200,
			body: map[string]any{"status": "healthy", "checks": map[string]any{"db": "ok"}, "replicas": float64(3), "tags": []any{"x", "y"}},
			size: 71, finalPath: "/health"},
		{name: "text body", path: "/text", status: 200, bodyText: "OK", body: nil, size: 2, finalPath: "/text"},
		{name: "empty body", path: "/empty", status: 204, body: nil, size: 0, finalPath: "/empty"},
		{name: "error status is observed", path: "/fail", status: 503,
			body: map[string]any{"error": "db down"}, size: 20, finalPath: "/fail"},
		{name: "method headers body sent", path: "/echo",
			mod: func(s *HTTPSpec) {
				s.Method = "POST"
				s.Headers = map[string]string{"x-api-key": "k1", "Host": "api.prf.test"}
				s.Body = "payload"
			},
			status: 200, bodyText: "POST k1 api.prf.test payload", size: 28, finalPath: "/echo"},
		{name: "truncated", path: "/big", mod: func(s *HTTPSpec) { s.MaxBodyBytes = 100 },
			status: 200, body: nil, truncated: true, size: 100, finalPath: "/big"},
		{name: "not truncated at exact size", path: "/text", mod: func(s *HTTPSpec) { s.MaxBodyBytes = 2 },
			status: 200, bodyText: "OK", size: 2, finalPath: "/text"},
		{name: "redirect not followed", path: "/r/2", status: 302, redirects: 0, finalPath: "/r/2"},
		{name: "redirects followed", path: "/r/2", mod: func(s *HTTPSpec) { s.FollowRedirects = true },
			status: 200, bodyText: "OK", size: 2, redirects: 3, finalPath: "/text"},
		{name: "redirect limit observed", path: "/r/5", mod: func(s *HTTPSpec) { s.FollowRedirects = true; s.MaxRedirects = 2 },
			status: 302, redirects: 2, finalPath: "/r/3"},
		{name: "redirect limit zero", path: "/r/5", mod: func(s *HTTPSpec) { s.FollowRedirects = true; s.MaxRedirects = 0 },
			status: 302, redirects: 0, finalPath: "/r/5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := httpSpec(srv.URL+tc.path, tc.mod)
			if err := spec.Validate(); err != nil {
				t.Fatal(err)
			}
			obs, err := probeHTTP(context.Background(), Env{Logf: t.Logf}, spec)
			if err != nil {
				t.Fatal(err)
			}
			if obs.Status != tc.status {
				t.Errorf("status = %d, want %d", obs.Status, tc.status)
			}
			if tc.bodyText != "" && obs.BodyText != tc.bodyText {
				t.Errorf("body_text = %q, want %q", obs.BodyText, tc.bodyText)
			}
			if tc.status != 302 && !reflect.DeepEqual(obs.Body, tc.body) {
				t.Errorf("body = %#v, want %#v", obs.Body, tc.body)
			}
			if obs.BodyTruncated != tc.truncated {
				t.Errorf("body_truncated = %v, want %v", obs.BodyTruncated, tc.truncated)
			}
			if tc.status != 302 && (obs.Size != tc.size || int64(len(obs.BodyText)) != tc.size) {
				t.Errorf("size = %d, len(body_text) = %d, want %d", obs.Size, len(obs.BodyText), tc.size)
			}
			if obs.Redirects != tc.redirects {
				t.Errorf("redirects = %d, want %d", obs.Redirects, tc.redirects)
			}
			if obs.FinalURL != srv.URL+tc.finalPath {
				t.Errorf("final_url = %q, want %q", obs.FinalURL, srv.URL+tc.finalPath)
			}
			if obs.Proto != "HTTP/1.1" || obs.TLS != nil {
				t.Errorf("proto %q tls %+v, want HTTP/1.1 and no TLS", obs.Proto, obs.TLS)
			}
			if obs.Latency <= 0 || obs.TTFB <= 0 || obs.TTFB > obs.Latency {
				t.Errorf("latency %v ttfb %v", obs.Latency, obs.TTFB)
			}
			if obs.Headers["Date"] == "" {
				t.Errorf("headers = %v, want a Date", obs.Headers)
			}
		})
	}
}

func TestHTTPHeadersAndFlatten(t *testing.T) {
	srv := httptest.NewServer(testMux())
	t.Cleanup(srv.Close)
	k, spec := registrySpec[*HTTPSpec](t, "http")
	if spec.Method != "GET" || spec.MaxRedirects != 10 || spec.MaxBodyBytes != 1<<20 || spec.FollowRedirects {
		t.Fatalf("defaults = %+v", spec)
	}
	spec.URL = srv.URL + "/health"
	got, err := k.Probe(context.Background(), Env{}, spec)
	if err != nil {
		t.Fatal(err)
	}
	obs := got.(HTTPObservation)
	if obs.Headers["X-Multi"] != "a, b" || obs.Headers["Content-Type"] != "application/json" {
		t.Errorf("headers = %v", obs.Headers)
	}
	// What an expectation reads: body.status, status, latency as a duration.
	flat := Flatten(obs)
	body, _ := flat["body"].(map[string]any)
	if body["status"] != "healthy" || flat["status"] != int64(200) || flat["tls"] != nil {
		t.Errorf("flattened = %v", flat)
	}
	if _, ok := flat["latency"].(time.Duration); !ok {
		t.Errorf("latency flattened to %T", flat["latency"])
	}
	for _, f := range []string{"status", "headers", "body_text", "body", "body_truncated", "latency", "ttfb", "size", "proto", "redirects", "final_url", "tls"} {
		if !slices.Contains(k.Fields(), f) {
			t.Errorf("observation field %q missing from %v", f, k.Fields())
		}
	}
}

func TestHTTPTLS(t *testing.T) {
	root := testenv.NewCA(t, "PRF Test Root")
	caFile := root.WriteFile(t)
	now := time.Now()
	good := root.Leaf(t, now.Add(-time.Hour), now.Add(10*24*time.Hour+time.Hour), "127.0.0.1")
	expired := root.Leaf(t, now.Add(-10*24*time.Hour), now.Add(-36*time.Hour), "127.0.0.1")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secure") })

	t.Run("httptest TLS server", func(t *testing.T) {
		srv := httptest.NewTLSServer(ok)
		t.Cleanup(srv.Close)
		obs, err := probeHTTP(context.Background(), Env{}, httpSpec(srv.URL, func(s *HTTPSpec) { s.InsecureSkipVerify = true }))
		if err != nil {
			t.Fatal(err)
		}
		if obs.TLS == nil || obs.TLS.Verified || obs.TLS.PeerCertificates != 1 || obs.TLS.Version == "" || obs.TLS.Cipher == "" {
			t.Errorf("tls = %+v, want an unverified TLS connection", obs.TLS)
		}
		// Without trust it cannot be fetched at all: a probe error.
		if _, err := probeHTTP(context.Background(), Env{}, httpSpec(srv.URL, nil)); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("untrusted server: err = %v, want a certificate error", err)
		}
	})

	tests := []struct {
		name     string
		cert     func() *httptest.Server
		mod      func(*HTTPSpec)
		verified bool
		days     int
		version  string
	}{
		{"trusted via ca_file", func() *httptest.Server { return startTLS(t, good, 0, 0, ok) },
			func(s *HTTPSpec) { s.CAFile = caFile }, true, 10, "TLS1.3"},
		{"TLS 1.2 server", func() *httptest.Server { return startTLS(t, good, 0, tls.VersionTLS12, ok) },
			func(s *HTTPSpec) { s.CAFile = caFile }, true, 10, "TLS1.2"},
		{"expired, insecure", func() *httptest.Server { return startTLS(t, expired, 0, 0, ok) },
			func(s *HTTPSpec) { s.InsecureSkipVerify = true }, false, -2, "TLS1.3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.cert()
			obs, err := probeHTTP(context.Background(), Env{}, httpSpec(srv.URL, tc.mod))
			if err != nil {
				t.Fatal(err)
			}
			if obs.Status != 200 || obs.BodyText != "secure" || obs.TLS == nil {
				t.Fatalf("status %d body %q tls %+v", obs.Status, obs.BodyText, obs.TLS)
			}
			if obs.TLS.Verified != tc.verified || obs.TLS.DaysToExpiry != tc.days || obs.TLS.Version != tc.version {
				t.Errorf("tls = %+v, want verified %v, days %d, %s", obs.TLS, tc.verified, tc.days, tc.version)
			}
			if obs.TLS.ServerName != "127.0.0.1" && obs.TLS.ServerName != "" {
				t.Errorf("server_name = %q", obs.TLS.ServerName)
			}
		})
	}

	t.Run("expired, verified", func(t *testing.T) {
		srv := startTLS(t, expired, 0, 0, ok)
		_, err := probeHTTP(context.Background(), Env{}, httpSpec(srv.URL, func(s *HTTPSpec) { s.CAFile = caFile }))
		if err == nil || !strings.Contains(err.Error(), "expired") {
			t.Errorf("err = %v, want an expired certificate error", err)
		}
	})
}

func TestHTTPProbeErrors(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		_, err := probeHTTP(context.Background(), Env{}, httpSpec("http://"+refusedAddr(t)+"/", nil))
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("err = %v, want connection refused", err)
		}
	})
	t.Run("never answers, ctx deadline", func(t *testing.T) {
		addr := silentListener(t)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := probeHTTP(ctx, Env{}, httpSpec("http://"+addr+"/", nil))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("returned after %v", d)
		}
	})
	t.Run("never answers, spec timeout", func(t *testing.T) {
		addr := silentListener(t)
		start := time.Now()
		_, err := probeHTTP(context.Background(), Env{}, httpSpec("http://"+addr+"/", func(s *HTTPSpec) { s.Timeout = 300 * time.Millisecond }))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("returned after %v", d)
		}
	})
	t.Run("body stalls", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			fmt.Fprint(w, "partial")
			w.(http.Flusher).Flush()
			<-release
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		obs, err := probeHTTP(ctx, Env{}, httpSpec(srv.URL, nil))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if obs.Status != 200 || obs.BodyText != "partial" {
			t.Errorf("status %d body %q: what arrived should still be observed", obs.Status, obs.BodyText)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		addr := silentListener(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := probeHTTP(ctx, Env{}, httpSpec("http://"+addr+"/", nil))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want canceled", err)
		}
	})
	t.Run("no secrets in errors or logs", func(t *testing.T) {
		var logs []string
		env := Env{Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }}
		spec := httpSpec("http://user:s3cret-pw@"+refusedAddr(t)+"/p?token=s3cret-q", func(s *HTTPSpec) {
			s.Headers = map[string]string{"Authorization": "Bearer s3cret-h"}
		})
		_, err := probeHTTP(context.Background(), env, spec)
		if err == nil {
			t.Fatal("want an error")
		}
		for _, s := range append(logs, err.Error()) {
			if strings.Contains(s, "s3cret") {
				t.Errorf("secret leaked: %q", s)
			}
		}
	})
}

func TestHTTPValidate(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*HTTPSpec)
		field string
	}{
		{"valid", func(s *HTTPSpec) {}, ""},
		{"valid https with options", func(s *HTTPSpec) {
			s.URL = "https://example.com:8443/x?y=1"
			s.Method = "PATCH"
			s.Headers = map[string]string{"X-Trace-Id": "1"}
		}, ""},
		{"missing url", func(s *HTTPSpec) { s.URL = "" }, "url"},
		{"relative url", func(s *HTTPSpec) { s.URL = "/health" }, "url"},
		{"ftp url", func(s *HTTPSpec) { s.URL = "ftp://example.com/" }, "url"},
		{"no host", func(s *HTTPSpec) { s.URL = "http:///x" }, "url"},
		{"bad url", func(s *HTTPSpec) { s.URL = "http://[::1" }, "url"},
		{"bad method", func(s *HTTPSpec) { s.Method = "GE T" }, "method"},
		{"bad header name", func(s *HTTPSpec) { s.Headers = map[string]string{"X Bad": "1"} }, "headers"},
		{"header value with newline", func(s *HTTPSpec) { s.Headers = map[string]string{"Authorization": "a\r\nb"} }, "headers"},
		{"negative max_redirects", func(s *HTTPSpec) { s.MaxRedirects = -1 }, "max_redirects"},
		{"zero max_body_bytes", func(s *HTTPSpec) { s.MaxBodyBytes = 0 }, "max_body_bytes"},
		{"negative timeout", func(s *HTTPSpec) { s.Timeout = -1 }, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := httpSpec("http://example.com/health", tc.mod)
			err := s.Validate()
			checkFieldError(t, err, tc.field)
			if err != nil && strings.Contains(err.Error(), "a\r\nb") {
				t.Errorf("error echoes a header value: %v", err)
			}
		})
	}
}
