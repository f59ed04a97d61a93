package change

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
)

// Errors of the git side; each comes wrapped with the repository and the
// revision it concerns.
var (
	ErrNotRepository   = errors.New("not a git repository")
	ErrUnknownRevision = errors.New("unknown revision")
	ErrNotAncestor     = errors.New("is not an ancestor of")
	ErrEmptyRange      = errors.New("nothing to deploy")
)

// History returns the non-merge commits reachable from the revision to,
// oldest first in git's topological order (git log --topo-order
// --reverse): every commit comes after its parents, and the commits of a
// side branch stay together. Renames are detected (-M) and reported
// under their new path.
func History(ctx context.Context, repo, to string) ([]Commit, error) {
	r, hash, err := open(ctx, repo, to)
	if err != nil {
		return nil, err
	}
	return r.history(ctx, to, hash)
}

// repository is a git repository on disk, named as the caller named it.
type repository struct{ dir string }

// open checks that dir is (inside) a git repository and resolves the
// revision to in it (resolve): git itself tells a directory that is no
// repository.
func open(ctx context.Context, dir, to string) (repository, string, error) {
	r := repository{dir: dir}
	if dir == "" {
		return r, "", fmt.Errorf("repository %q: %w: empty path", dir, ErrNotRepository)
	}
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return r, "", fmt.Errorf("repository %q: %w: no such directory", dir, ErrNotRepository)
	case err != nil:
		return r, "", fmt.Errorf("repository %q: %w", dir, err)
	case !fi.IsDir():
		return r, "", fmt.Errorf("repository %q: %w: not a directory", dir, ErrNotRepository)
	}
	hash, err := r.resolve(ctx, to)
	return r, hash, err
}

// resolve turns a revision into the hash of the commit it names.
func (r repository) resolve(ctx context.Context, rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("%w %q in repository %q: a revision must not be empty or start with '-'", ErrUnknownRevision, rev, r.dir)
	}
	out, err := r.git(ctx, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		var ge *gitError
		switch {
		case errors.As(err, &ge) && ge.code == 1:
			return "", fmt.Errorf("%w %q in repository %q", ErrUnknownRevision, rev, r.dir)
		case errors.As(err, &ge) && strings.Contains(ge.stderr, "not a git repository"):
			return "", fmt.Errorf("repository %q: %w", r.dir, ErrNotRepository)
		}
		return "", fmt.Errorf("repository %q: revision %q: %w", r.dir, rev, err)
	}
	hash := strings.TrimSpace(string(out))
	if !isHex(hash) {
		return "", fmt.Errorf("repository %q: revision %q: git rev-parse printed %q, want a hash", r.dir, rev, clip(hash))
	}
	return hash, nil
}

// isAncestor reports whether commit a is an ancestor of commit b (or b).
func (r repository) isAncestor(ctx context.Context, a, b string) (bool, error) {
	_, err := r.git(ctx, "merge-base", "--is-ancestor", a, b)
	var ge *gitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ge) && ge.code == 1:
		return false, nil
	default:
		return false, fmt.Errorf("repository %q: %w", r.dir, err)
	}
}

// between lists the hashes of the non-merge commits reachable from to
// and not from from (all of them when from is empty).
func (r repository) between(ctx context.Context, from, to string) (map[string]bool, error) {
	spec := to
	if from != "" {
		spec = from + ".." + to
	}
	out, err := r.git(ctx, "rev-list", "--no-merges", spec)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", r.dir, err)
	}
	set := make(map[string]bool)
	for _, h := range strings.Fields(string(out)) {
		set[h] = true
	}
	return set, nil
}

// history runs git log from hash (rev names it in errors) and parses it
// as it streams.
func (r repository) history(ctx context.Context, rev, hash string) ([]Commit, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	args := []string{"log", "--no-merges", "--topo-order", "--reverse", "-M",
		"--numstat", "-z", "--no-color", "--no-ext-diff", "--no-textconv",
		"--no-show-signature", logFormat, hash, "--"}
	cmd := r.command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("repository %q: history of %q: %w", r.dir, rev, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("repository %q: history of %q: git log: %w", r.dir, rev, err)
	}
	commits, perr := parseLog(out)
	if perr != nil {
		cancel() // stop git; what it says next no longer matters
	}
	werr := cmd.Wait()
	switch {
	case parent.Err() != nil:
		return nil, fmt.Errorf("repository %q: history of %q: %w", r.dir, rev, parent.Err())
	case perr != nil:
		return nil, fmt.Errorf("repository %q: history of %q: %w", r.dir, rev, perr)
	case werr != nil:
		return nil, fmt.Errorf("repository %q: history of %q: %w", r.dir, rev, newGitError(args, werr, stderr.Bytes()))
	}
	return commits, nil
}

// git runs one git command in the repository and returns its stdout.
func (r repository) git(ctx context.Context, args ...string) ([]byte, error) {
	cmd := r.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("git %s: %w", args[0], ctx.Err())
		}
		return nil, newGitError(args, err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

func (r repository) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = gitEnv(os.Environ())
	return cmd
}

// gitEnv is the environment for git: without the variables that would
// point it at another repository than -C names, in the C locale, never
// prompting and taking no optional locks (it only reads).
func gitEnv(env []string) []string {
	out := make([]string, 0, len(env)+3)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE",
			"GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
			"GIT_NAMESPACE", "LC_ALL", "GIT_TERMINAL_PROMPT", "GIT_OPTIONAL_LOCKS":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0")
}

// gitError is a git command that failed: its exit code and the first
// line of what it said.
type gitError struct {
	cmd    string
	code   int // -1 when git did not run or was killed
	stderr string
	err    error
}

func newGitError(args []string, err error, stderr []byte) *gitError {
	ge := &gitError{cmd: "git " + args[0], code: -1, stderr: firstLine(stderr), err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ge.code = ee.ExitCode()
	}
	return ge
}

func (e *gitError) Error() string {
	if e.stderr == "" {
		return fmt.Sprintf("%s: %v", e.cmd, e.err)
	}
	return fmt.Sprintf("%s: %v: %s", e.cmd, e.err, e.stderr)
}

func (e *gitError) Unwrap() error { return e.err }

// firstLine is the first non-empty line of git's stderr, for an error.
func firstLine(b []byte) string {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if s := strings.TrimSpace(string(line)); s != "" {
			return clip(s)
		}
	}
	return ""
}
