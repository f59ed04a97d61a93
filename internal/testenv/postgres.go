package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresBinDirs are where Debian's postgresql-15 keeps its server binaries.
var postgresBinDirs = []string{"/usr/lib/postgresql/15/bin"}

const postgresInstall = "apt-get install -y postgresql-15"

// PostgresOptions configure StartPostgres.
type PostgresOptions struct {
	// SSL turns on ssl=on with a self-signed P-256 certificate (SAN
	// localhost and 127.0.0.1), whose PEM is at Postgres.CAFile.
	SSL bool
	// Password of the superuser "postgres" (default: a random one).
	Password string
	// Archive turns on WAL archiving (archive_mode=on) with an
	// archive_command that copies each segment into Postgres.ArchiveDir.
	Archive bool
	// RequireSSL replaces pg_hba.conf with rules that accept TCP clients
	// only over TLS (hostssl) and reject the rest (hostnossl … reject); it
	// needs SSL. The rules allow no replication connections.
	RequireSSL bool
	// Checksums initializes the cluster with data checksums
	// (initdb --data-checksums; StartPostgres only).
	Checksums bool
	// Preload names libraries for shared_preload_libraries (e.g.
	// "pgaudit"); each must be installed in the server's lib directory.
	Preload []string
	// Config holds extra server settings as "name=value", passed as -c.
	// Settings given so outrank ALTER SYSTEM: a test that changes one
	// later (pg_reload_conf) must not set it here.
	Config []string
}

// Postgres is a PostgreSQL server started for a test, reachable over TCP
// on 127.0.0.1 with password authentication (scram-sha-256).
type Postgres struct {
	*Process
	Port       int
	User       string // the superuser, "postgres"
	Password   string
	SSL        bool
	CAFile     string // PEM of the server's self-signed certificate; "" without SSL
	DataDir    string
	SocketDir  string
	ArchiveDir string // where archived WAL segments land; "" without Archive

	base   string   // owns everything above; removed when the test ends
	osUser string   // the OS user the server runs as ("" when not root)
	bin    string   // directory of initdb, postgres, pg_basebackup
	argv   []string // the server's command line, for Restart
}

// StartPostgres initializes a fresh cluster in a temporary directory and
// starts it on a free loopback port; it is stopped and removed when the
// test ends. As root the server runs as the OS user "postgres", which must
// own its data directory.
func StartPostgres(t testing.TB, opts PostgresOptions) *Postgres {
	t.Helper()
	initdb := Require(t, "initdb", postgresInstall, postgresBinDirs...)
	p := newPostgres(t, filepath.Dir(initdb), opts.Password)
	pwfile := filepath.Join(p.base, "pwfile")
	p.writeFile(t, pwfile, []byte(p.Password+"\n"), 0o600)
	args := []string{initdb, "--no-sync", "-D", p.DataDir, "-U", p.User,
		"-A", "scram-sha-256", "--pwfile=" + pwfile, "-E", "UTF8", "--locale=C"}
	if opts.Checksums {
		args = append(args, "--data-checksums")
	}
	out, err := p.command(args...).CombinedOutput()
	_ = os.Remove(pwfile)
	if err != nil {
		t.Fatalf("testenv: initdb: %v\n%s", err, out)
	}
	p.start(t, opts)
	return p
}

// StartPostgresReplica starts a streaming replica of primary, cloned with
// pg_basebackup -R; it has the primary's superuser and password.
func StartPostgresReplica(t testing.TB, primary *Postgres, opts PostgresOptions) *Postgres {
	t.Helper()
	basebackup := Require(t, "pg_basebackup", postgresInstall, primary.bin)
	p := newPostgres(t, primary.bin, primary.Password)
	cmd := p.command(basebackup, "-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port), "-U", primary.User,
		"-D", p.DataDir, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+primary.Password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: pg_basebackup: %v\n%s", err, out)
	}
	p.start(t, opts)
	return p
}

func newPostgres(t testing.TB, bin, password string) *Postgres {
	t.Helper()
	if password == "" {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		password = hex.EncodeToString(b)
	}
	// Not t.TempDir(): its parents may not be traversable by the postgres
	// user. The base directory is world-traversable and owned by the
	// server's user; the data directory inside it is private.
	base, err := os.MkdirTemp("", "prf-pg-")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) }) // registered first, so it runs after the server stops
	p := &Postgres{
		Port:      FreePort(t),
		User:      "postgres",
		Password:  password,
		DataDir:   filepath.Join(base, "data"),
		SocketDir: filepath.Join(base, "sock"),
		base:      base,
		bin:       bin,
	}
	if os.Geteuid() == 0 {
		p.osUser = "postgres"
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	p.chown(t, base)
	p.mkdir(t, p.SocketDir)
	return p
}

func (p *Postgres) start(t testing.TB, opts PostgresOptions) {
	t.Helper()
	postgres := filepath.Join(p.bin, "postgres")
	argv := []string{postgres, "-D", p.DataDir, "-p", strconv.Itoa(p.Port), "-k", p.SocketDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=20", "-c", "shared_buffers=16MB",
	}
	if opts.SSL {
		cert, key := p.writeCert(t)
		p.SSL, p.CAFile = true, cert
		argv = append(argv, "-c", "ssl=on", "-c", "ssl_cert_file="+cert, "-c", "ssl_key_file="+key)
	}
	if opts.RequireSSL {
		if !opts.SSL {
			t.Fatal("testenv: PostgresOptions.RequireSSL needs SSL")
		}
		hba := "local all all scram-sha-256\n" +
			"hostssl all all 127.0.0.1/32 scram-sha-256\n" +
			"hostnossl all all all reject\n"
		p.writeFile(t, filepath.Join(p.DataDir, "pg_hba.conf"), []byte(hba), 0o600)
	}
	if opts.Archive {
		p.ArchiveDir = filepath.Join(p.base, "archive")
		p.mkdir(t, p.ArchiveDir)
		argv = append(argv, "-c", "archive_mode=on",
			"-c", fmt.Sprintf("archive_command=cp %%p %s/%%f", p.ArchiveDir))
	}
	if len(opts.Preload) > 0 {
		for _, lib := range opts.Preload {
			Require(t, lib+".so", postgresInstall+" postgresql-15-"+lib, filepath.Join(filepath.Dir(p.bin), "lib"))
		}
		argv = append(argv, "-c", "shared_preload_libraries="+strings.Join(opts.Preload, ","))
	}
	for _, c := range opts.Config {
		argv = append(argv, "-c", c)
	}
	p.argv = argv
	p.launch(t)
}

// Restart stops the server, if it runs, and starts it again on the same
// data directory, port and settings, waiting until it accepts connections.
// The server shuts down once its clients have disconnected: close them
// first.
func (p *Postgres) Restart(t testing.TB) {
	t.Helper()
	p.Stop()
	// Stop may return before the postmaster has finished: wait for it to
	// remove its lock file.
	pid := filepath.Join(p.DataDir, "postmaster.pid")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(pid); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: postgres still running 30s after it was stopped; its log:\n%s", p.Log())
		}
	}
	p.launch(t)
}

func (p *Postgres) launch(t testing.TB) {
	t.Helper()
	p.Process = Start(t, "postgres", p.argv, Options{Dir: p.base, User: p.osUser})
	dsn := p.DSN("postgres")
	p.WaitReady(t, 30*time.Second, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
}

// DSN is a URL for database db as the superuser: sslmode=verify-full with
// the server's certificate when SSL is on, sslmode=disable otherwise. Each
// param ("key=value") adds or replaces a query parameter.
func (p *Postgres) DSN(db string, params ...string) string {
	q := url.Values{}
	if p.SSL {
		q.Set("sslmode", "verify-full")
		q.Set("sslrootcert", p.CAFile)
	} else {
		q.Set("sslmode", "disable")
	}
	for _, kv := range params {
		k, v, _ := strings.Cut(kv, "=")
		q.Set(k, v)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(p.User, p.Password),
		Host:     Addr(p.Port),
		Path:     "/" + db,
		RawQuery: q.Encode(),
	}
	return u.String()
}

// Connect opens a connection to database db as the superuser; it is closed
// when the test ends.
func (p *Postgres) Connect(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(db))
	if err != nil {
		t.Fatalf("testenv: connect to %s: %v", db, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return conn
}

// Exec runs sql (one statement per call when args are given) in database db
// as the superuser, for test setup.
func (p *Postgres) Exec(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(db))
	if err != nil {
		t.Fatalf("testenv: connect to %s: %v", db, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("testenv: %s: %v", oneLine(sql), err)
	}
}

// CreateDB creates database name.
func (p *Postgres) CreateDB(t testing.TB, name string) {
	t.Helper()
	p.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// command runs a server tool as the server's OS user.
func (p *Postgres) command(argv ...string) *exec.Cmd {
	if p.osUser != "" {
		argv = append([]string{"runuser", "-u", p.osUser, "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.base
	return cmd
}

func (p *Postgres) mkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	p.chown(t, dir)
}

func (p *Postgres) writeFile(t testing.TB, name string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, data, perm); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	p.chown(t, name)
}

func (p *Postgres) chown(t testing.TB, name string) {
	t.Helper()
	if p.osUser == "" {
		return
	}
	u, err := user.Lookup(p.osUser)
	if err != nil {
		t.Fatalf("testenv: user %s: %v (install: %s)", p.osUser, err, postgresInstall)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(name, uid, gid); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// writeCert writes a self-signed certificate for localhost and 127.0.0.1
// and its key (0600), both owned by the server's user.
func (p *Postgres) writeCert(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	now := time.Now()
	certFile, keyFile = WriteKeyPair(t, p.base, "server", SelfSigned(t, "localhost", now.Add(-time.Hour), now.Add(24*time.Hour)))
	p.chown(t, certFile)
	p.chown(t, keyFile)
	return certFile, keyFile
}
