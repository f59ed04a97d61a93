package change

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testRepo is a git repository built by a test with the git CLI.
type testRepo struct {
	t   testing.TB
	dir string
}

func newTestRepo(t testing.TB) *testRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	r := &testRepo{t: t, dir: t.TempDir()}
	r.git(nil, "init", "-q", "-b", "main")
	return r
}

// git runs a git command in the repository with a clean configuration.
func (r *testRepo) git(env []string, args ...string) string {
	r.t.Helper()
	argv := append([]string{"-C", r.dir, "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"}, args...)
	cmd := exec.Command("git", argv...)
	cmd.Env = append(gitEnv(os.Environ()), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// op changes the working tree before a commit.
type op func(r *testRepo)

func write(path, content string) op {
	return func(r *testRepo) { r.writeFile(path, []byte(content)) }
}

func writeBinary(path string, data ...byte) op {
	return func(r *testRepo) { r.writeFile(path, data) }
}

func remove(path string) op {
	return func(r *testRepo) { r.git(nil, "rm", "-q", path) }
}

func move(from, to string) op {
	return func(r *testRepo) {
		r.t.Helper()
		if err := os.MkdirAll(filepath.Join(r.dir, filepath.Dir(to)), 0o755); err != nil {
			r.t.Fatal(err)
		}
		r.git(nil, "mv", from, to)
	}
}

func (r *testRepo) writeFile(path string, data []byte) {
	r.t.Helper()
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// dateEnv dates a commit, author and committer, at when.
func dateEnv(author string, when time.Time) []string {
	date := fmt.Sprintf("%d +0000", when.Unix())
	return []string{
		"GIT_AUTHOR_NAME=" + author, "GIT_AUTHOR_EMAIL=" + author, "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=ci", "GIT_COMMITTER_EMAIL=ci@example.com", "GIT_COMMITTER_DATE=" + date,
	}
}

// commit applies ops, commits everything as author at when, and returns
// the new commit's hash.
func (r *testRepo) commit(author string, when time.Time, subject string, ops ...op) string {
	r.t.Helper()
	for _, o := range ops {
		o(r)
	}
	r.git(nil, "add", "-A")
	r.git(dateEnv(author, when), "commit", "-q", "--allow-empty", "-m", subject)
	return r.git(nil, "rev-parse", "HEAD")
}

// merge merges branch into the current one with a merge commit.
func (r *testRepo) merge(branch string, when time.Time) {
	r.t.Helper()
	r.git(dateEnv("merger@example.com", when), "merge", "-q", "--no-ff", "-m", "merge "+branch, branch)
}

// history returns History of the repository's main branch.
func (r *testRepo) history() []Commit {
	r.t.Helper()
	h, err := History(context.Background(), r.dir, "main")
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
