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
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/proc"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := proc.FreePort()
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	return port
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
	*proc.Process
	Dir string // its temporary directory
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
	pp, err := proc.Start(name, argv, proc.Options{Dir: dir, Env: opts.Env, User: opts.User})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	grace := opts.Grace
	if grace == 0 {
		grace = 5 * time.Second
	}
	t.Cleanup(func() { pp.Stop(grace) })
	return &Process{Process: pp, Dir: dir}
}

// Stop stops the process now (a test that stops a node on purpose).
func (p *Process) Stop() { p.Process.Stop(5 * time.Second) }

// WaitReady polls ready until it returns nil, the process exits, or the
// timeout passes; then it fails the test with the process's log.
func (p *Process) WaitReady(t testing.TB, timeout time.Duration, ready func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.Process.WaitReady(ctx, 2*time.Second, ready); err != nil {
		t.Fatalf("testenv: %v (waited up to %s); its log:\n%s", err, timeout, p.Log())
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
