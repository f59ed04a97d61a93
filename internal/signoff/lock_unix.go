//go:build unix

package signoff

import (
	"fmt"
	"os"
	"syscall"
)

// lockDir holds an exclusive lock on dir until unlock is called, so that
// writers of a file in it (prf identity new, from two shells or two CI
// jobs) read, change and replace it one at a time. The directory is locked,
// not the file, because the write replaces the file's inode.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
