package change

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Commit is one non-merge commit and the files it changes.
type Commit struct {
	Hash    string
	Author  string    // author e-mail (after .mailmap), lower-cased
	Time    time.Time // committer time, UTC: when the change entered the history
	Subject string
	Files   []FileChange
}

// FileChange is one file of a commit, as git log --numstat reports it.
type FileChange struct {
	Path    string // the path after the commit (the new path of a rename)
	OldPath string // the path before a rename; empty otherwise
	Added   int    // lines added (0 for a binary file)
	Deleted int    // lines deleted (0 for a binary file)
	Binary  bool   // git counts no lines for it ("-" in numstat)
}

// Separators of the log format: a record starts with recordSep, and its
// header fields are split by fieldSep. The subject comes last, so a
// subject holding either byte still parses.
const (
	recordSep = '\x1e'
	fieldSep  = '\x1f'
)

// logFormat is the --format of git log for parseLog: hash, author e-mail
// (mailmapped), committer time (unix seconds), subject.
const logFormat = "--format=%x1e%H%x1f%aE%x1f%ct%x1f%s"

// errLog marks output of git log that parseLog cannot read.
var errLog = errors.New("unreadable git log output")

// parseLog reads the output of git log -z --numstat with logFormat.
//
// With -z every item ends in a NUL: a header "\x1eHASH\x1fEMAIL\x1fTIME
// \x1fSUBJECT", then one item per file "ADDED\tDELETED\tPATH" (the first
// behind a newline), or for a rename "ADDED\tDELETED\t" followed by two
// items, the old path and the new one. Binary files count "-" lines.
// Paths are raw bytes, never quoted.
func parseLog(r io.Reader) ([]Commit, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		commits []Commit
		cur     = -1 // index of the commit the files belong to
		first   bool // the next item is the first after a header
	)
	next := func() (string, bool, error) {
		item, err := br.ReadString(0)
		if errors.Is(err, io.EOF) {
			if item == "" {
				return "", false, nil
			}
			return item, true, nil // the last item may lack its NUL
		}
		if err != nil {
			return "", false, err
		}
		return item[:len(item)-1], true, nil
	}
	for {
		item, ok, err := next()
		if err != nil {
			return nil, fmt.Errorf("read git log: %w", err)
		}
		if !ok {
			return commits, nil
		}
		if len(item) > 0 && item[0] == recordSep {
			c, err := parseHeader(item[1:])
			if err != nil {
				return nil, err
			}
			commits = append(commits, c)
			cur, first = len(commits)-1, true
			continue
		}
		if first {
			item = strings.TrimPrefix(item, "\n")
			first = false
		}
		if cur < 0 {
			if item == "" {
				continue
			}
			return nil, fmt.Errorf("%w: file line %q before the first commit", errLog, clip(item))
		}
		if item == "" {
			continue // a trailing separator
		}
		fc, rename, err := parseNumstat(item)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", commits[cur].Hash, err)
		}
		if rename {
			from, okFrom, err1 := next()
			to, okTo, err2 := next()
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("read git log: %w", err)
			}
			if !okFrom || !okTo || from == "" || to == "" {
				return nil, fmt.Errorf("commit %s: %w: rename without its two paths", commits[cur].Hash, errLog)
			}
			fc.OldPath, fc.Path = from, to
		}
		commits[cur].Files = append(commits[cur].Files, fc)
	}
}

// parseHeader reads "HASH\x1fEMAIL\x1fTIME\x1fSUBJECT".
func parseHeader(h string) (Commit, error) {
	f := strings.SplitN(h, string(fieldSep), 4)
	if len(f) != 4 {
		return Commit{}, fmt.Errorf("%w: commit header %q has %d fields, want 4", errLog, clip(h), len(f))
	}
	if !isHex(f[0]) {
		return Commit{}, fmt.Errorf("%w: commit header %q: hash %q is not hexadecimal", errLog, clip(h), clip(f[0]))
	}
	sec, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return Commit{}, fmt.Errorf("%w: commit %s: time %q: %w", errLog, f[0], clip(f[2]), err)
	}
	return Commit{
		Hash:    f[0],
		Author:  strings.ToLower(f[1]),
		Time:    time.Unix(sec, 0).UTC(),
		Subject: f[3],
	}, nil
}

// parseNumstat reads "ADDED\tDELETED\tPATH"; rename reports an empty
// PATH, whose two paths follow as items of their own.
func parseNumstat(item string) (fc FileChange, rename bool, err error) {
	added, rest, ok1 := strings.Cut(item, "\t")
	deleted, path, ok2 := strings.Cut(rest, "\t")
	if !ok1 || !ok2 {
		return fc, false, fmt.Errorf("%w: numstat %q: want ADDED<tab>DELETED<tab>PATH", errLog, clip(item))
	}
	a, binA, errA := parseCount(added)
	d, binD, errD := parseCount(deleted)
	if err := errors.Join(errA, errD); err != nil {
		return fc, false, fmt.Errorf("%w: numstat %q: %w", errLog, clip(item), err)
	}
	if binA != binD {
		return fc, false, fmt.Errorf("%w: numstat %q: one count is \"-\", the other is not", errLog, clip(item))
	}
	return FileChange{Path: path, Added: a, Deleted: d, Binary: binA}, path == "", nil
}

// parseCount reads a line count of numstat: digits, or "-" for a binary
// file.
func parseCount(s string) (n int, binary bool, err error) {
	if s == "-" {
		return 0, true, nil
	}
	if s == "" || len(s) > 15 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false, fmt.Errorf("line count %q is not a number", clip(s))
	}
	n, err = strconv.Atoi(s)
	return n, false, err
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// clip shortens s for an error message.
func clip(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
