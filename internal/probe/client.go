package probe

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// TLSOptions are the TLS settings shared by every probe that speaks TLS
// (http, tls, auth, ratelimit, waf). YAML keys are inlined into the spec.
type TLSOptions struct {
	CAFile             string `yaml:"ca_file" json:"ca_file,omitempty" doc:"PEM file of CA certificates to trust (besides the system pool)"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" json:"insecure_skip_verify,omitempty" doc:"do not verify the server certificate (the tls probe still reports whether it would verify)"`
	ServerName         string `yaml:"server_name" json:"server_name,omitempty" doc:"SNI and verification name (default: the URL's host)"`
}

// Config builds a *tls.Config from the options.
func (o TLSOptions) Config() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: o.ServerName, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // user's explicit choice
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// HTTPClient returns a client with these TLS options that never reuses
// connections across probes and does not follow redirects unless follow is
// set. Timeouts come from the caller's context.
func (o TLSOptions) HTTPClient(follow bool, maxRedirects int) (*http.Client, error) {
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:                 nil, // probes talk to the target, never via a proxy from the environment
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	c := &http.Client{Transport: tr}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		if len(via) > maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}
	return c, nil
}

// setHeaders sets a probe's configured headers on req; "Host" sets the
// request's host (Go ignores a Host header field).
func setHeaders(req *http.Request, headers map[string]string) {
	for k, v := range headers {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
}

// checkAddress validates a required host:port setting.
func checkAddress(field, addr string) error {
	if addr == "" {
		return Fieldf(field, "is required")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Fieldf(field, "%v", err)
	}
	return nil
}

// checkMethod validates the method of a probe that sends standard requests
// (auth, ratelimit, waf): upper-case letters, e.g. GET or POST. The http
// probe accepts any RFC 9110 token instead, for extension methods.
func checkMethod(field, m string) error {
	if m == "" {
		return Fieldf(field, "%q is not an HTTP method", m)
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return Fieldf(field, "%q is not an HTTP method", m)
		}
	}
	return nil
}

// checkURL validates an absolute http(s) URL setting. Its errors never quote
// the URL, which may carry a token or an API key.
func checkURL(field, raw string) error {
	if raw == "" {
		return Fieldf(field, "is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Fieldf(field, "not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Fieldf(field, "must be absolute, with scheme http or https")
	}
	if u.Host == "" {
		return Fieldf(field, "has no host")
	}
	return nil
}
