package proc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBufferKeepsUpToItsLimit(t *testing.T) {
	b := &Buffer{Limit: 4}
	for _, w := range []string{"abc", "de", "fgh"} {
		if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	// Writes go in until the limit is passed, then are dropped.
	if got := b.String(); got != "abcde" {
		t.Errorf("String() = %q, want %q", got, "abcde")
	}
}

func TestStartWaitStop(t *testing.T) {
	p, err := Start("sleeper", []string{"sh", "-c", "echo started; exec sleep 30"}, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Ready once its output says so.
	err = p.WaitReady(context.Background(), time.Second, func(context.Context) error {
		if !strings.Contains(p.Log(), "started") {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Never ready: the context's deadline ends the wait with the last error.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = p.WaitReady(ctx, 100*time.Millisecond, func(context.Context) error { return errors.New("port closed") })
	if err == nil || !strings.Contains(err.Error(), "sleeper not ready: port closed") {
		t.Errorf("WaitReady = %v", err)
	}
	if exited, _ := p.Exited(); exited {
		t.Fatal("exited before Stop")
	}
	p.Stop(2 * time.Second)
	if exited, err := p.Exited(); !exited || err == nil {
		t.Errorf("after Stop: exited %v, err %v (want killed by a signal)", exited, err)
	}
}

func TestWaitReadyOnAnExitedProcess(t *testing.T) {
	p, err := Start("quitter", []string{"sh", "-c", "echo bad config >&2; exit 3"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitReady(context.Background(), time.Second, func(context.Context) error { return errors.New("refused") })
	if err == nil || !strings.Contains(err.Error(), "quitter exited before it was ready (exit status 3)") {
		t.Errorf("WaitReady = %v", err)
	}
	if !strings.Contains(p.Log(), "bad config") {
		t.Errorf("log %q lacks the process's stderr", p.Log())
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start("none", nil, Options{}); err == nil {
		t.Error("Start with no command succeeded")
	}
	if _, err := Start("missing", []string{"/nonexistent/prf-test-binary"}, Options{}); err == nil || !strings.HasPrefix(err.Error(), "start missing: ") {
		t.Errorf("Start of a missing binary = %v", err)
	}
}

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil || port <= 0 || port > 65535 {
		t.Fatalf("FreePort() = %d, %v", port, err)
	}
}
