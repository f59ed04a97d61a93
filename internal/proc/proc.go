// Package proc runs server processes for the reference system and the test
// harness: each in its own process group (so a stop reaches its children),
// with its output kept for the error that says why it did not come up.
package proc

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DefaultLogLimit is how much output a process keeps by default: enough
// to say why it failed.
const DefaultLogLimit = 1 << 20

// Options for Start.
type Options struct {
	Dir      string   // working directory
	Env      []string // extra environment
	User     string   // run as this user (e.g. "postgres") via runuser, when root
	LogLimit int      // bytes of output kept (default DefaultLogLimit)
}

// Process is a started server.
type Process struct {
	Name string
	cmd  *exec.Cmd
	log  *Buffer
	done chan struct{}
	err  error
}

// Start runs argv in its own process group.
func Start(name string, argv []string, opts Options) (*Process, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("start %s: no command", name)
	}
	if opts.User != "" && os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", opts.User, "--"}, argv...)
	}
	limit := opts.LogLimit
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	p := &Process{Name: name, log: &Buffer{Limit: limit}, done: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.cmd = cmd
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *Process) Stop(grace time.Duration) {
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

// WaitReady polls ready (each call limited to attempt) until it returns
// nil, the process exits, or ctx is done. The error says which, with the
// last readiness error.
func (p *Process) WaitReady(ctx context.Context, attempt time.Duration, ready func(ctx context.Context) error) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, attempt)
		last := ready(rctx)
		cancel()
		if last == nil {
			return nil
		}
		if exited, err := p.Exited(); exited {
			return fmt.Errorf("%s exited before it was ready (%v)", p.Name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", p.Name, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a server that must be told its port.
//
// The port is drawn at random below Linux's ephemeral range (32768 and
// up), so that the source port of some outgoing connection, a load test's
// for instance, cannot take it between FreePort and the server's bind
// (the kernel hands bind(0) and source ports out of that same range).
func FreePort() (int, error) {
	for range 200 {
		p := 20000 + rand.IntN(12768)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		ln.Close()
		return p, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Buffer is a bytes.Buffer that may be written and read at once, keeping
// at most Limit bytes (0: no limit) and dropping the rest.
type Buffer struct {
	Limit int
	mu    sync.Mutex
	b     bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Limit > 0 && s.b.Len() > s.Limit {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
