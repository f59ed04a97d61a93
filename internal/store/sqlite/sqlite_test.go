package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/store/storetest"
)

func openTemp(t testing.TB) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "prf.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestMigrationFiles(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 || ms[0].name != "0001_init.sql" {
		t.Fatalf("migrations = %+v", ms)
	}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dirs", "prf.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := db.CreateRun(ctx, &store.Run{ID: "r1", Checklist: "prod", StartedAt: started, State: store.RunRunning}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddResults(ctx, "r1", []store.Result{{ID: "A", Status: store.StatusPass}, {ID: "B", Status: store.StatusFail}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("database file mode %v, want owner only", perm)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run, err := db.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if run.ID != "r1" || !run.StartedAt.Equal(started) {
		t.Errorf("reopened run = %+v", run)
	}
	rs, err := db.Results(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].ID != "A" || rs[1].ID != "B" || rs[1].Seq != 2 {
		t.Errorf("reopened results = %+v", rs)
	}
}

func TestMigrationsAppliedOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "prf.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		db, err := Open(path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != len(ms) {
			t.Errorf("open %d: schema version %d, want %d", i, v, len(ms))
		}
		var rows int
		if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != len(ms) {
			t.Errorf("open %d: %d rows in schema_migrations, want %d", i, rows, len(ms))
		}
		var mode string
		if err := db.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Errorf("journal_mode = %q, want wal", mode)
		}
		var fk, sync int
		if err := db.w.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := db.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if fk != 1 || sync != 1 {
			t.Errorf("foreign_keys = %d, synchronous = %d; want 1, 1 (NORMAL)", fk, sync)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prf.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', '')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema = %v, want an error saying so", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("this is not an SQLite database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(dir, "a-file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       string
	}{
		{"corrupted file", garbage, "not a PRF database or corrupted"},
		{"directory", dir, "is a directory"},
		{"parent is a file", filepath.Join(aFile, "prf.db"), "not a directory"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "readonly")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct{ name, path, want string }{"unwritable directory", filepath.Join(ro, "prf.db"), "permission denied"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(tc.path)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%s): no error", tc.path)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "sqlite: open ") || !strings.Contains(msg, tc.path) || !strings.Contains(msg, tc.want) {
				t.Errorf("Open(%s) = %q, want it to name the path and say %q", tc.path, msg, tc.want)
			}
		})
	}
}

func TestPathWithURIChars(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?x=1#frag", "prf%20.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database is not at %s: %v", path, err)
	}
}

// TestTwoHandles: two opens of one file (two prf processes) write at once
// without SQLITE_BUSY: each takes the write lock at BEGIN and waits for it.
func TestTwoHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "prf.db")
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
		if err := db.CreateRun(ctx, &store.Run{ID: fmt.Sprintf("h%d", i), StartedAt: time.Now(), State: store.RunRunning}); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, len(dbs))
	for i, db := range dbs {
		go func() {
			for b := range 50 {
				rs := make([]store.Result, 10)
				for j := range rs {
					rs[j] = store.Result{ID: fmt.Sprintf("C%d-%d", b, j), Status: store.StatusPass}
				}
				if err := db.AddResults(ctx, fmt.Sprintf("h%d", i), rs); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range dbs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range dbs {
		rs, err := dbs[1-i].Results(ctx, fmt.Sprintf("h%d", i))
		if err != nil || len(rs) != 500 {
			t.Errorf("run h%d read through the other handle: %d results, %v", i, len(rs), err)
		}
	}
}

const crashEnv = "PRF_SQLITE_CRASH_HELPER"

// TestCrashHelper is the child of TestCrash: it adds results in a loop and
// prints each seq once AddResults has returned, until it is killed.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestCrash")
	}
	ctx := context.Background()
	db, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	seq := 0
	for batch := 1; ; batch = batch%7 + 1 {
		rs := make([]store.Result, batch)
		for i := range rs {
			seq++
			rs[i] = store.Result{ID: fmt.Sprintf("CHK-%06d", seq), Seq: seq, Status: store.StatusPass,
				Observation: []byte(`{"status":200}`), StartedAt: time.Now()}
		}
		if err := db.AddResults(ctx, "crash", rs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for _, r := range rs {
			fmt.Fprintf(out, "committed %d\n", r.Seq)
		}
		out.Flush()
	}
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "prf.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRun(ctx, &store.Run{ID: "crash", StartedAt: time.Now(), State: store.RunRunning, Host: "h", PID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var printed []int
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "committed ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(line)
		if err != nil {
			continue // a line cut by the kill
		}
		printed = append(printed, n)
		if len(printed) >= 2000 && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true // read on: what it printed before dying is committed too
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper ended by itself after %d results: %v", len(printed), err)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper: %v, want killed by SIGKILL", err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer db.Close()
	var check string
	if err := db.r.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	rs, err := db.Results(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	stored := make([]int, len(rs))
	for i, r := range rs {
		stored[i] = r.Seq
	}
	for _, n := range printed {
		if _, ok := slices.BinarySearch(stored, n); !ok {
			t.Fatalf("seq %d was reported committed but is not stored (%d printed, %d stored)", n, len(printed), len(stored))
		}
	}
	// Stored results are whole batches in order, possibly more than printed
	// (committed, then killed before printing).
	for i, n := range stored {
		if n != i+1 {
			t.Fatalf("stored seqs have a gap at %d: %d", i+1, n)
		}
	}
	t.Logf("%d results reported committed, %d stored", len(printed), len(stored))

	ids, err := db.RecoverInterrupted(ctx, func(string, int) bool { return false })
	if err != nil || !slices.Equal(ids, []string{"crash"}) {
		t.Fatalf("RecoverInterrupted = %v, %v", ids, err)
	}
	run, err := db.GetRun(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	if run.State != store.RunInterrupted || run.Summary[store.StatusPass] != len(stored) {
		t.Errorf("recovered run = %+v, want interrupted with %d passes", run, len(stored))
	}
}

// BenchmarkAddResults stores trivial results in batches; one op is one
// result. Run with -benchtime 20000x to store 20,000 results per batch size.
func BenchmarkAddResults(b *testing.B) {
	for _, batch := range []int{1, 32, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			benchAddResults(b, batch, 1)
		})
	}
	// Several runs writing at once (the server, or parallel check runs).
	b.Run(fmt.Sprintf("batch=32/writers=%d", 2*runtime.GOMAXPROCS(0)), func(b *testing.B) {
		benchAddResults(b, 32, 2*runtime.GOMAXPROCS(0))
	})
}

func benchAddResults(b *testing.B, batch, writers int) {
	ctx := context.Background()
	db := openTemp(b)
	defer db.Close()
	started := time.Now()
	// Every writer has its own run; results are made before the clock starts.
	per := (b.N + writers - 1) / writers
	work := make([][]store.Result, writers)
	for w := range writers {
		id := fmt.Sprintf("bench-%d", w)
		if err := db.CreateRun(ctx, &store.Run{ID: id, StartedAt: started, State: store.RunRunning}); err != nil {
			b.Fatal(err)
		}
		n := min(per, b.N-w*per)
		work[w] = make([]store.Result, max(n, 0))
		for i := range work[w] {
			work[w][i] = store.Result{ID: "CHK-" + strconv.Itoa(i), Status: store.StatusPass, StartedAt: started, DurationMS: 1.5, Attempts: 1}
		}
	}
	b.ResetTimer()
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			rs := work[w]
			for len(rs) > 0 {
				n := min(batch, len(rs))
				if err := db.AddResults(ctx, fmt.Sprintf("bench-%d", w), rs[:n]); err != nil {
					errs <- err
					return
				}
				rs = rs[n:]
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "results/s")
}
