package probe

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func execSpec(mod func(*ExecSpec), argv ...string) *ExecSpec {
	s := &ExecSpec{}
	s.defaults()
	s.Command = argv
	if mod != nil {
		mod(s)
	}
	return s
}

func TestExecRuns(t *testing.T) {
	dir := t.TempDir()
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	binDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(binDir, "prf-hello"), []byte("#!/bin/sh\necho hello from PATH\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "local.sh"), []byte("#!/bin/sh\necho local \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		argv      []string
		mod       func(*ExecSpec)
		exit      int
		stdout    string
		stderr    string
		truncated bool
	}{
		{name: "success", argv: []string{"echo", "hello", "world"}, exit: 0, stdout: "hello world\n"},
		{name: "non-zero exit is observed", argv: []string{"sh", "-c", "echo oops >&2; exit 3"}, exit: 3, stderr: "oops\n"},
		{name: "no shell: metacharacters are plain arguments", argv: []string{"echo", "$HOME", ";", "rm"}, exit: 0, stdout: "$HOME ; rm\n"},
		{name: "env added to a minimal environment", argv: []string{"env"},
			mod:  func(s *ExecSpec) { s.Env = map[string]string{"PRF_TEST": "v1"} },
			exit: 0, stdout: "HOME=" + os.Getenv("HOME") + "\nPATH=" + os.Getenv("PATH") + "\nPRF_TEST=v1\n"},
		{name: "dir", argv: []string{"pwd"}, mod: func(s *ExecSpec) { s.Dir = realDir }, exit: 0, stdout: realDir + "\n"},
		{name: "relative path resolved in dir", argv: []string{"./local.sh", "x"}, mod: func(s *ExecSpec) { s.Dir = dir }, exit: 0, stdout: "local x\n"},
		{name: "command found in env PATH", argv: []string{"prf-hello"},
			mod:  func(s *ExecSpec) { s.Env = map[string]string{"PATH": binDir + ":/usr/bin:/bin"} },
			exit: 0, stdout: "hello from PATH\n"},
		{name: "output truncated", argv: []string{"sh", "-c", "i=0; while [ $i -lt 300 ]; do echo 0123456789; i=$((i+1)); done"},
			mod:  func(s *ExecSpec) { s.MaxOutputBytes = 25 },
			exit: 0, stdout: "0123456789\n0123456789\n012", truncated: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := execSpec(tc.mod, tc.argv...)
			if err := spec.Validate(); err != nil {
				t.Fatal(err)
			}
			obs, err := probeExec(context.Background(), Env{Logf: t.Logf}, spec)
			if err != nil {
				t.Fatal(err)
			}
			if obs.ExitCode != tc.exit || obs.Stdout != tc.stdout || obs.Stderr != tc.stderr {
				t.Errorf("exit %d stdout %q stderr %q, want %d %q %q", obs.ExitCode, obs.Stdout, obs.Stderr, tc.exit, tc.stdout, tc.stderr)
			}
			if obs.StdoutTruncated != tc.truncated || obs.StderrTruncated || obs.TimedOut {
				t.Errorf("stdout_truncated %v stderr_truncated %v timed_out %v", obs.StdoutTruncated, obs.StderrTruncated, obs.TimedOut)
			}
			if obs.Duration <= 0 {
				t.Errorf("duration = %v", obs.Duration)
			}
		})
	}
}

func TestExecKilled(t *testing.T) {
	t.Run("spec timeout is observed", func(t *testing.T) {
		start := time.Now()
		obs, err := probeExec(context.Background(), Env{}, execSpec(func(s *ExecSpec) { s.Timeout = 200 * time.Millisecond }, "sleep", "30"))
		if err != nil {
			t.Fatal(err)
		}
		if !obs.TimedOut || obs.ExitCode != -1 {
			t.Errorf("timed_out %v exit_code %d, want true -1", obs.TimedOut, obs.ExitCode)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("sleep 30 killed after %v", d)
		}
	})
	t.Run("ctx deadline is a probe error", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		obs, err := probeExec(ctx, Env{}, execSpec(nil, "sleep", "30"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("sleep 30 killed after %v", d)
		}
		if obs.ExitCode != -1 {
			t.Errorf("exit_code = %d, want -1", obs.ExitCode)
		}
	})
	t.Run("children die with the command", func(t *testing.T) {
		// sh starts a background sleep, prints its pid and waits: killing
		// only sh would leave the sleep running (and holding stdout open).
		start := time.Now()
		obs, err := probeExec(context.Background(), Env{}, execSpec(func(s *ExecSpec) { s.Timeout = 300 * time.Millisecond },
			"sh", "-c", "sleep 30 & echo $!; wait"))
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("returned after %v", d)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(obs.Stdout))
		if err != nil {
			t.Fatalf("stdout %q: %v", obs.Stdout, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for processAlive(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("child sleep (pid %d) survived the probe", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("leftover background child killed after normal exit", func(t *testing.T) {
		obs, err := probeExec(context.Background(), Env{}, execSpec(nil, "sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"))
		if err != nil {
			t.Fatal(err)
		}
		if obs.ExitCode != 0 || obs.TimedOut {
			t.Errorf("exit %d timed_out %v", obs.ExitCode, obs.TimedOut)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(obs.Stdout))
		if err != nil {
			t.Fatalf("stdout %q: %v", obs.Stdout, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for processAlive(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("background sleep (pid %d) outlived the probe", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// processAlive reports whether pid runs (a zombie awaiting its reaper counts
// as dead).
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc: trust kill
	}
	// Fields after the command name in parentheses: "state ppid …".
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func TestExecProbeErrors(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "plain.txt")
	if err := os.WriteFile(plain, []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec *ExecSpec
		is   error
		msg  string
	}{
		{"not found", execSpec(nil, "prf-no-such-command-xyz"), exec.ErrNotFound, "prf-no-such-command-xyz"},
		{"not found in env PATH", execSpec(func(s *ExecSpec) { s.Env = map[string]string{"PATH": t.TempDir()} }, "sh", "-c", "true"), exec.ErrNotFound, "sh"},
		{"path does not exist", execSpec(nil, "/nonexistent/prf-cmd"), os.ErrNotExist, "/nonexistent/prf-cmd"},
		{"not executable", execSpec(nil, plain), os.ErrPermission, plain},
		{"dir does not exist", execSpec(func(s *ExecSpec) { s.Dir = "/nonexistent-prf-dir" }, "true"), os.ErrNotExist, "true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := probeExec(context.Background(), Env{}, tc.spec)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.is, tc.msg)
			}
		})
	}
}

func TestExecValidate(t *testing.T) {
	tests := []struct {
		name  string
		spec  ExecSpec
		field string
	}{
		{"valid", ExecSpec{Command: []string{"true"}, MaxOutputBytes: 1}, ""},
		{"missing command", ExecSpec{MaxOutputBytes: 1}, "command"},
		{"empty program", ExecSpec{Command: []string{""}, MaxOutputBytes: 1}, "command"},
		{"NUL in argument", ExecSpec{Command: []string{"echo", "a\x00b"}, MaxOutputBytes: 1}, "command"},
		{"bad env name", ExecSpec{Command: []string{"true"}, Env: map[string]string{"A=B": "x"}, MaxOutputBytes: 1}, "env"},
		{"negative timeout", ExecSpec{Command: []string{"true"}, Timeout: -1, MaxOutputBytes: 1}, "timeout"},
		{"zero max_output_bytes", ExecSpec{Command: []string{"true"}}, "max_output_bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkFieldError(t, tc.spec.Validate(), tc.field)
		})
	}
	k, _ := Default().Lookup("exec")
	if s := k.NewSpec().(*ExecSpec); s.MaxOutputBytes != 64<<10 {
		t.Errorf("default max_output_bytes = %d, want 64 KiB", s.MaxOutputBytes)
	}
}
