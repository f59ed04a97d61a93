package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Version is what the demo's /health reports.
const Version = "1.0.0-demo"

// DefaultListen is the HTTPS address used when Options.Listen is empty.
const DefaultListen = "127.0.0.1:0"

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("demo target closed")

// Options configure a Target. The zero value is a healthy target on a
// random loopback port.
type Options struct {
	// Listen is the HTTPS address; default DefaultListen.
	Listen string
	// HTTPListen, when set, is a plain-HTTP address that serves the same
	// handler (without HSTS), for checks that TLS is enforced.
	HTTPListen string
	// Faults are fault names from Faults(); an unknown name is an error.
	Faults []string
	// Username and Password are the demo login, DefaultUsername and
	// DefaultPassword when empty. They are a demonstration credential.
	Username string
	Password string
	// TokenSecret, when set, makes the access tokens HS256, signed with this
	// secret (the JWKS then publishes no key), as many gateways do. By
	// default they are ES256, signed with a key made at start.
	TokenSecret []byte
	// Logger receives request and WAF logs; nil discards them. Tokens,
	// passwords and bodies are never logged.
	Logger *slog.Logger
}

// Target is the local reference system: one HTTPS server (and optionally a
// plain HTTP one) with the checklist's endpoints.
type Target struct {
	opts    Options
	faults  faultSet
	log     *slog.Logger
	started time.Time

	pki     *pki
	signer  *signer
	waf     *waf
	limiter *limiter
	metrics *metrics
	handler http.Handler

	httpsSrv *http.Server
	httpSrv  *http.Server

	baseCtx    context.Context
	cancelBase context.CancelFunc
	done       chan struct{}
	closeOnce  sync.Once
	closeErr   error

	mu       sync.Mutex
	running  bool
	closed   bool
	httpsURL string
	httpURL  string
}

// NewTarget validates opts and makes the target's keys and certificates. It
// does not listen yet; see Start and Serve.
func NewTarget(opts Options) (*Target, error) {
	fs, err := parseFaults(opts.Faults)
	if err != nil {
		return nil, err
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.Username == "" {
		opts.Username = DefaultUsername
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var extraIPs []net.IP
	for _, addr := range []string{opts.Listen, opts.HTTPListen} {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			extraIPs = append(extraIPs, net.ParseIP(host))
		}
	}
	now := time.Now()
	p, err := newPKI(now, extraIPs, fs.has(FaultExpiredCert), fs.has(FaultWeakKey))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	s, err := newSigner(opts.TokenSecret, fs.has(FaultJWKSRotated))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	baseCtx, cancel := context.WithCancel(context.Background())
	t := &Target{
		opts:       opts,
		faults:     fs,
		log:        log,
		started:    now,
		pki:        p,
		signer:     s,
		waf:        wafFor(fs),
		limiter:    newLimiter(RateBurst, RateRefillPerSecond),
		metrics:    newMetrics(),
		baseCtx:    baseCtx,
		cancelBase: cancel,
		done:       make(chan struct{}),
	}
	t.handler = t.routes()
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	newServer := func() *http.Server {
		return &http.Server{
			Handler:           t.handler,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          errLog,
			BaseContext:       func(net.Listener) context.Context { return baseCtx },
		}
	}
	t.httpsSrv = newServer()
	t.httpsSrv.TLSConfig = p.serverTLSConfig(fs.has(FaultWeakTLS))
	t.httpSrv = newServer()
	return t, nil
}

// Start listens on Options.Listen (and Options.HTTPListen when set) and
// serves in the background. It returns once the listeners are open; the
// target runs until Close or until ctx is cancelled.
func (t *Target) Start(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return ErrClosed
	case t.running:
		return errors.New("demo: target already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", t.opts.Listen)
	if err != nil {
		return fmt.Errorf("demo: listen %s: %w", t.opts.Listen, err)
	}
	var hl net.Listener
	if t.opts.HTTPListen != "" {
		if hl, err = lc.Listen(ctx, "tcp", t.opts.HTTPListen); err != nil {
			ln.Close()
			return fmt.Errorf("demo: listen %s: %w", t.opts.HTTPListen, err)
		}
	}
	t.running = true
	t.setURLLocked(&t.httpsURL, "https", ln.Addr())
	go t.serveLogged("https", func() error { return t.httpsSrv.ServeTLS(ln, "", "") })
	if hl != nil {
		t.setURLLocked(&t.httpURL, "http", hl.Addr())
		go t.serveLogged("http", func() error { return t.httpSrv.Serve(hl) })
	}
	go func() {
		select {
		case <-ctx.Done():
			t.Close()
		case <-t.done:
		}
	}()
	t.log.Info("demo target listening", "url", t.httpsURL, "http_url", t.httpURL, "faults", t.faults.names())
	return nil
}

// Serve serves HTTPS on ln until Close, like http.Server.ServeTLS. It
// returns nil after Close. URL reports ln's address if Start has not set one.
func (t *Target) Serve(ln net.Listener) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	t.running = true
	if t.httpsURL == "" {
		t.setURLLocked(&t.httpsURL, "https", ln.Addr())
	}
	t.mu.Unlock()
	if err := t.httpsSrv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("demo: serve: %w", err)
	}
	return nil
}

func (t *Target) serveLogged(name string, serve func() error) {
	if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.log.Error("demo target stopped serving", "listener", name, "err", err)
	}
}

// setURLLocked records scheme://addr, with an unspecified host (0.0.0.0,
// ::) replaced by 127.0.0.1 so the URL can be dialled.
func (t *Target) setURLLocked(dst *string, scheme string, addr net.Addr) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		*dst = scheme + "://" + addr.String()
		return
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	*dst = (&url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}).String()
}

// URL is the HTTPS base URL (https://127.0.0.1:PORT), empty before Start or
// Serve.
func (t *Target) URL() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.httpsURL
}

// HTTPURL is the plain-HTTP base URL, empty unless Options.HTTPListen is set
// and the target started.
func (t *Target) HTTPURL() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.httpURL
}

// CACertPEM is the PEM of the CA that signed the server certificate.
func (t *Target) CACertPEM() []byte { return slices.Clone(t.pki.caPEM) }

// Username is the demo login's user name (the password is in Options).
func (t *Target) Username() string { return t.opts.Username }

// ActiveFaults are the faults this target was made with, in Faults order.
func (t *Target) ActiveFaults() []string { return t.faults.names() }

// Handler is the target's HTTP handler, for tests that want no listener.
func (t *Target) Handler() http.Handler { return t.handler }

// Done is closed when the target has been closed.
func (t *Target) Done() <-chan struct{} { return t.done }

// Close stops the servers: in-flight requests are cancelled and given two
// seconds to finish. Close is safe to call more than once.
func (t *Target) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		t.cancelBase()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var errs []error
		for _, srv := range []*http.Server{t.httpsSrv, t.httpSrv} {
			if srv.Shutdown(ctx) != nil {
				// In-flight requests outlived the grace period: force them.
				if err := srv.Close(); err != nil {
					errs = append(errs, err)
				}
			}
		}
		t.closeErr = errors.Join(errs...)
		close(t.done)
	})
	return t.closeErr
}

// wafFor is the WAF of a target with faults fs.
func wafFor(fs faultSet) *waf {
	if fs.has(FaultWAFParanoid) {
		return newParanoidWAF()
	}
	return newWAF()
}
