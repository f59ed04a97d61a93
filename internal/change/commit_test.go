package change

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	hashA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hashB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestParseLog(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Commit
	}{{
		name: "empty",
		in:   "",
	}, {
		name: "files, a binary file, a rename, an empty commit",
		in: "\x1e" + hashA + "\x1fAlice@Example.COM\x1f1577836800\x1ffirst\x00" +
			"\n3\t1\tsrc/a.go\x00-\t-\timg/logo.png\x00" +
			"2\t0\t\x00old/b.go\x00new/b.go\x00" +
			"\x1e" + hashB + "\x1fbob@example.com\x1f1577923200\x1fsubject \x1f with separators\x00",
		want: []Commit{{
			Hash: hashA, Author: "alice@example.com", Time: time.Unix(1577836800, 0).UTC(), Subject: "first",
			Files: []FileChange{
				{Path: "src/a.go", Added: 3, Deleted: 1},
				{Path: "img/logo.png", Binary: true},
				{Path: "new/b.go", OldPath: "old/b.go", Added: 2},
			},
		}, {
			Hash: hashB, Author: "bob@example.com", Time: time.Unix(1577923200, 0).UTC(), Subject: "subject \x1f with separators",
		}},
	}, {
		name: "paths with tabs, newlines and arrows are taken as they are",
		in:   "\x1e" + hashA + "\x1fa@b\x1f0\x1fs\x00\n1\t0\ta\tb\nc {x => y}\x00",
		want: []Commit{{Hash: hashA, Author: "a@b", Time: time.Unix(0, 0).UTC(), Subject: "s",
			Files: []FileChange{{Path: "a\tb\nc {x => y}", Added: 1}}}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLog(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseLogBad(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a file before any commit", "1\t2\tx\x00", `file line "1\t2\tx" before the first commit`},
		{"a header with too few fields", "\x1e" + hashA + "\x1fa@b\x1f12\x00", "has 3 fields, want 4"},
		{"a hash that is not hexadecimal", "\x1exyz\x1fa@b\x1f12\x1fs\x00", `hash "xyz" is not hexadecimal`},
		{"a time that is not a number", "\x1e" + hashA + "\x1fa@b\x1fnoon\x1fs\x00", `time "noon"`},
		{"a count that is not a number", "\x1e" + hashA + "\x1fa@b\x1f1\x1fs\x00\n1\tx\tf\x00", `line count "x" is not a number`},
		{"a negative count", "\x1e" + hashA + "\x1fa@b\x1f1\x1fs\x00\n-1\t0\tf\x00", `line count "-1" is not a number`},
		{"one binary count", "\x1e" + hashA + "\x1fa@b\x1f1\x1fs\x00\n-\t0\tf\x00", `one count is "-"`},
		{"no tabs", "\x1e" + hashA + "\x1fa@b\x1f1\x1fs\x00\nnonsense\x00", "want ADDED<tab>DELETED<tab>PATH"},
		{"a rename missing its new path", "\x1e" + hashA + "\x1fa@b\x1f1\x1fs\x00\n1\t0\t\x00old\x00", "rename without its two paths"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseLog(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, errLog) {
				t.Errorf("err = %v, want errLog", err)
			}
		})
	}
}

func FuzzParseLog(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("\x1e" + hashA + "\x1fAlice@Example.COM\x1f1577836800\x1ffirst\x00\n3\t1\tsrc/a.go\x00-\t-\timg/logo.png\x002\t0\t\x00old/b.go\x00new/b.go\x00"))
	f.Add([]byte("\x1e" + hashB + "\x1fb@c\x1f-5\x1f\x1f\x00\x1e" + hashA + "\x1f\x1f9223372036854775807\x1fx\x00\n0\t0\tf\x000\t0\tf\x00"))
	f.Add([]byte("\x1e" + hashA + "\x1fa@b\x1f-9223372036854775808\x1fs\x00\n1\t0\t\x00a\x00a\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		commits, err := parseLog(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, c := range commits {
			if !isHex(c.Hash) || c.Author != strings.ToLower(c.Author) {
				t.Fatalf("commit %+v: bad hash or author", c)
			}
			for _, f := range c.Files {
				if f.Added < 0 || f.Deleted < 0 || f.Binary && f.Added+f.Deleted != 0 {
					t.Fatalf("commit %s: bad file %+v", c.Hash, f)
				}
			}
		}
		for _, m := range Compute(commits) {
			for j, v := range m {
				if v < 0 {
					t.Fatalf("%v = %v < 0", Metric(j), v)
				}
			}
		}
	})
}

func TestHistory(t *testing.T) {
	r := newTestRepo(t)
	d := day(2020, 1, 1)
	h0 := r.commit("Alice@Example.COM", d, "add", write("old/a.txt", "1\n2\n3\n4\n"), writeBinary("logo.png", 0, 1, 2))
	h1 := r.commit("bob@example.com", d.AddDate(0, 0, 1), "move a", move("old/a.txt", "new/a.txt"), write("new/a.txt", "1\n2\n3\n4\n5\n"))
	r.git(nil, "checkout", "-q", "-b", "side")
	h2 := r.commit("carol@example.com", d.AddDate(0, 0, 2), "side work", write("side.txt", "x\n"))
	r.git(nil, "checkout", "-q", "main")
	h3 := r.commit("alice@example.com", d.AddDate(0, 0, 3), "main work", remove("logo.png"))
	r.merge("side", d.AddDate(0, 0, 4))
	h5 := r.commit("alice@example.com", d.AddDate(0, 0, 5), "after merge", write("side.txt", "x\ny\n"))

	got := r.history()
	var hashes []string
	for _, c := range got {
		hashes = append(hashes, c.Hash)
	}
	// Topological order, parents first: h2 and h3 are siblings; the merge
	// itself is left out.
	if len(got) != 5 || hashes[0] != h0 || hashes[1] != h1 || hashes[4] != h5 ||
		!(hashes[2] == h2 && hashes[3] == h3 || hashes[2] == h3 && hashes[3] == h2) {
		t.Fatalf("history %v, want %v %v {%v %v} %v", hashes, h0, h1, h2, h3, h5)
	}
	want0 := Commit{Hash: h0, Author: "alice@example.com", Time: d, Subject: "add", Files: []FileChange{
		{Path: "logo.png", Binary: true},
		{Path: "old/a.txt", Added: 4},
	}}
	if !reflect.DeepEqual(got[0], want0) {
		t.Errorf("commit 0 = %+v\nwant %+v", got[0], want0)
	}
	want1 := []FileChange{{Path: "new/a.txt", OldPath: "old/a.txt", Added: 1}}
	if !reflect.DeepEqual(got[1].Files, want1) {
		t.Errorf("commit 1 files = %+v, want %+v", got[1].Files, want1)
	}
	if got[1].Time != d.AddDate(0, 0, 1) || got[1].Author != "bob@example.com" {
		t.Errorf("commit 1 = %v by %v", got[1].Time, got[1].Author)
	}
}
