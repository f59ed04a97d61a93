//go:build unix

package signoff

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Writers that add people at the same time (two shells, two CI jobs) are
// serialized: every person ends up in the file, none is lost to another
// writer's replace.
func TestAppendPersonConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".prf", "trust.yaml")
	const writers, each = 6, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				k, err := GenerateKey("P", fmt.Sprintf("p%d-%d@example.com", w, i), []string{"SRE Lead"})
				if err == nil {
					err = AppendPerson(path, Person{Name: k.Name, Email: k.Email, Roles: k.Roles, PublicKey: FormatPublicKey(k.Public())})
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	tr, err := LoadTrust(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.People) != writers*each {
		t.Errorf("%d people in the trust file, want %d: concurrent writers lost some", len(tr.People), writers*each)
	}
}

// A writer waits for another's lock, then writes.
func TestAppendPersonWaitsForLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trust.yaml")
	unlock, err := lockDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- AppendPerson(path, person("Bob", "bob@example.com", bobPub, "CTO")) }()
	select {
	case err := <-done:
		t.Fatalf("wrote while another writer held the lock (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if tr, err := LoadTrust(path); err != nil || len(tr.People) != 1 {
		t.Fatalf("after the wait: %v, %v", tr, err)
	}
}
