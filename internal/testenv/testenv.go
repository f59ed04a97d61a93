// Package testenv starts real servers (PostgreSQL, Redis, Prometheus,
// Alertmanager, S3, Kubernetes, chain nodes) on loopback for tests: each on
// a free port in a temporary directory, waited for until ready, stopped
// when the test ends, with its log printed when it fails to start.
//
// A server whose binary is missing makes the test fail under CI (CI=true),
// where `make test` has installed everything, and skip elsewhere with the
// command that installs it.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Addr is "127.0.0.1:PORT".
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Require returns the path of a server binary, looking in dirs and then
// PATH. When it is missing the test fails under CI and skips elsewhere,
// naming how to install it.
func Require(t testing.TB, name, install string, dirs ...string) string {
	t.Helper()
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("testenv: %s not found (install: %s)", name, install)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Process is a server started for a test.
type Process struct {
	Name string
	Dir  string // its temporary directory
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil // keep the first MiB: enough to say why it failed
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Options for Start.
type Options struct {
	Dir   string   // working directory (default: a new temp dir)
	Env   []string // extra environment
	User  string   // run as this user (e.g. "postgres"), via runuser, when root
	Grace time.Duration
}

// Start runs argv as a server for the rest of the test. It is stopped with
// SIGTERM (then SIGKILL after opts.Grace, default 5s) when the test ends.
func Start(t testing.TB, name string, argv []string, opts Options) *Process {
	t.Helper()
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	if opts.User != "" && os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", opts.User, "--"}, argv...)
	}
	p := &Process{Name: name, Dir: dir, log: &syncBuffer{}, done: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v", name, err)
	}
	p.cmd = cmd
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	grace := opts.Grace
	if grace == 0 {
		grace = 5 * time.Second
	}
	t.Cleanup(func() { p.stop(grace) })
	return p
}

// Stop stops the process now (a test that stops a node on purpose).
func (p *Process) Stop() { p.stop(5 * time.Second) }

func (p *Process) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			// A zombie that PID 1 has not reaped yet: treat as stopped.
		}
	}
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Log returns what the process printed so far.
func (p *Process) Log() string { return p.log.String() }

// WaitReady polls ready until it returns nil, the process exits, or the
// timeout passes; then it fails the test with the process's log.
func (p *Process) WaitReady(t testing.TB, timeout time.Duration, ready func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(rctx)
		rcancel()
		if last == nil {
			return
		}
		if exited, err := p.Exited(); exited {
			t.Fatalf("testenv: %s exited before it was ready (%v); its log:\n%s", p.Name, err, p.Log())
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testenv: %s not ready after %s: %v; its log:\n%s", p.Name, timeout, last, p.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// DialReady is a ready func that succeeds once addr accepts TCP connections.
func DialReady(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// CacheDir is where binaries built for tests are kept between runs, outside
// the repository: $PRF_TEST_CACHE, else $XDG_CACHE_HOME/prf-test, else
// ~/.cache/prf-test.
func CacheDir() (string, error) {
	if d := os.Getenv("PRF_TEST_CACHE"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", errors.New("testenv: no cache directory: set PRF_TEST_CACHE")
	}
	return filepath.Join(base, "prf-test"), nil
}
