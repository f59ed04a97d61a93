//go:build unix

package signoff

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockWait is how long a writer waits for another to finish.
const lockWait = 30 * time.Second

// lockDir holds an exclusive lock on dir until unlock is called, so that
// writers of a file in it (prf identity new, from two shells or two CI
// jobs) read, change and replace it one at a time. The directory is locked,
// not the file, because the write replaces the file's inode. Where the
// filesystem cannot lock a directory (NFS without local locks, some FUSE
// and SMB mounts), writers go on unserialized, as before there was a lock.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		case errors.Is(err, syscall.EWOULDBLOCK) && time.Now().Before(deadline):
			time.Sleep(20 * time.Millisecond)
		case errors.Is(err, syscall.EWOULDBLOCK):
			f.Close()
			return nil, fmt.Errorf("lock %s: another prf has held it for %s; try again once it is done", dir, lockWait)
		case errors.Is(err, syscall.ENOTSUP), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOSYS),
			errors.Is(err, syscall.ENOLCK), errors.Is(err, syscall.EBADF), errors.Is(err, syscall.EINVAL):
			f.Close()
			return func() {}, nil // no locks here: unserialized
		default:
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
	}
}
