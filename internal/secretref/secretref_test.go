package secretref

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	t.Setenv("PRF_SECRETREF_TEST", "from-env")
	t.Setenv("PRF_SECRETREF_EMPTY", "")
	for _, tc := range []struct{ ref, want, err string }{
		{ref: "env:PRF_SECRETREF_TEST", want: "from-env"},
		{ref: "file:" + pw, want: "s3cret"},
		{ref: "env:PRF_SECRETREF_UNSET_X", err: "is not set"},
		{ref: "env:PRF_SECRETREF_EMPTY", err: "is empty"},
		{ref: "file:" + empty, err: "is empty"},
		{ref: "file:" + filepath.Join(dir, "nope"), err: "no such file"},
		{ref: "vault:x", err: `unknown scheme "vault"`},
		{ref: "hunter2", err: "want env:NAME or file:PATH"},
	} {
		got, err := Resolve(tc.ref)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Resolve(%q) = %q, %v; want error %q", tc.ref, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
		}
	}
	for ref, ok := range map[string]bool{"env:X": true, "file:/p": true, "env:": false, "x:y": false, "plain": false} {
		if (Check(ref) == nil) != ok {
			t.Errorf("Check(%q) = %v, want ok %v", ref, Check(ref), ok)
		}
	}
}
