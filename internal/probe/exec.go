package probe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ExecSpec is the `exec` probe's settings.
type ExecSpec struct {
	Command        []string          `yaml:"command" json:"command" doc:"program and arguments (argv; no shell); a bare program name is searched in PATH"`
	Env            map[string]string `yaml:"env" json:"env,omitempty" doc:"environment variables, added to a minimal environment of PATH and HOME"`
	Dir            string            `yaml:"dir" json:"dir,omitempty" doc:"working directory (default: PRF's)"`
	Timeout        time.Duration     `yaml:"timeout" json:"timeout,omitempty" doc:"kill the command (and its children) after this long; observed as timed_out"`
	MaxOutputBytes int               `yaml:"max_output_bytes" json:"max_output_bytes,omitempty" doc:"most bytes kept of stdout and of stderr each (default 64 KiB)"`
}

const defaultMaxOutputBytes = 64 << 10

// execWaitDelay bounds how long Wait waits for output pipes after the
// process is killed, in case a grandchild left the process group.
const execWaitDelay = 2 * time.Second

func (s *ExecSpec) defaults() { s.MaxOutputBytes = defaultMaxOutputBytes }

// Validate implements Spec.
func (s *ExecSpec) Validate() error {
	if len(s.Command) == 0 || s.Command[0] == "" {
		return Fieldf("command", "is required: the program and its arguments, as a list")
	}
	for i, a := range s.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return Fieldf("command", "argument %d holds a NUL byte", i)
		}
	}
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return Fieldf("env", "%q is not a valid variable name", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return Fieldf("env", "value of %s holds a NUL byte", k) // never echo a value: it may be a secret
		}
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	if s.MaxOutputBytes <= 0 {
		return Fieldf("max_output_bytes", "must be positive")
	}
	return nil
}

// ExecObservation is what an `exec` probe saw. A non-zero exit is an
// observation; only a command that cannot start is a probe error.
type ExecObservation struct {
	ExitCode        int           `json:"exit_code"` // -1 when killed by a signal (timeout included)
	Stdout          string        `json:"stdout"`    // at most max_output_bytes
	Stderr          string        `json:"stderr"`
	StdoutTruncated bool          `json:"stdout_truncated"`
	StderrTruncated bool          `json:"stderr_truncated"`
	Duration        time.Duration `json:"duration"`
	TimedOut        bool          `json:"timed_out"` // killed because the spec's timeout passed
}

func probeExec(ctx context.Context, env Env, s *ExecSpec) (ExecObservation, error) {
	var obs ExecObservation
	parent := ctx
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	limit := s.MaxOutputBytes
	if limit <= 0 {
		limit = defaultMaxOutputBytes
	}
	environ := execEnviron(s.Env)
	name := s.Command[0]
	path, err := lookPathIn(name, envValue(environ, "PATH"), s.Dir)
	if err != nil {
		return obs, err
	}

	cmd := exec.CommandContext(ctx, path, s.Command[1:]...)
	cmd.Args[0] = name
	cmd.Env = environ
	cmd.Dir = s.Dir
	cmd.Stdin = nil // /dev/null
	stdout, stderr := &capWriter{max: limit}, &capWriter{max: limit}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Own process group, so that on timeout or cancel the whole tree dies,
	// not just the direct child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = execWaitDelay

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return obs, fmt.Errorf("start %s: %w", name, err)
	}
	waitErr := cmd.Wait()
	// Make sure no stray member of the group outlives the probe, even when
	// the leader exited on its own.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	obs.Duration = time.Since(start)
	obs.ExitCode = cmd.ProcessState.ExitCode()
	obs.Stdout, obs.StdoutTruncated = stdout.result()
	obs.Stderr, obs.StderrTruncated = stderr.result()
	// ExitCode is -1 when a signal ended the command; a command that exited
	// by itself just before the deadline keeps its own exit code.
	if ctx.Err() != nil && obs.ExitCode == -1 {
		obs.TimedOut = true
		if parent.Err() != nil {
			// The checkpoint's own deadline or a cancel: the probe did not finish.
			return obs, fmt.Errorf("run %s: %w", name, parent.Err())
		}
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && !obs.TimedOut && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return obs, fmt.Errorf("run %s: %w", name, waitErr)
	}
	env.logf("%s: exit %d in %s (timed_out=%v)", name, obs.ExitCode, obs.Duration, obs.TimedOut)
	return obs, nil
}

// execEnviron is the command's environment: PATH and HOME from PRF's own
// environment, then the spec's variables, sorted.
func execEnviron(extra map[string]string) []string {
	vars := map[string]string{}
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			vars[k] = v
		}
	}
	if _, ok := vars["PATH"]; !ok {
		vars["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	for k, v := range extra {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func envValue(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// lookPathIn finds name like exec.LookPath, but in the command's own PATH
// (which env may set) rather than PRF's. A name with a slash is used as is
// (relative to dir). Relative PATH entries are skipped, as exec.LookPath
// refuses them too.
func lookPathIn(name, pathEnv, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		if err := isExecutableFile(p); err != nil {
			return "", fmt.Errorf("command %s: %w", name, err)
		}
		return name, nil
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		if isExecutableFile(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %s: %w", name, exec.ErrNotFound)
}

func isExecutableFile(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}

// capWriter keeps the first max bytes written and counts the rest away.
type capWriter struct {
	mu        sync.Mutex
	max       int
	buf       []byte
	truncated bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - len(w.buf); room > 0 {
		if len(p) > room {
			w.buf = append(w.buf, p[:room]...)
			w.truncated = true
		} else {
			w.buf = append(w.buf, p...)
		}
	} else if len(p) > 0 {
		w.truncated = true
	}
	return len(p), nil
}

func (w *capWriter) result() (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf), w.truncated
}
