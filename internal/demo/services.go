package demo

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/prfhq/prf/internal/proc"
)

// Services are the optional parts of the reference system that `prf demo`
// adds when this machine has them: a Redis server (the document's
// ElastiCache) and a PostgreSQL server with TLS (its RDS database). Each
// runs on loopback in a temporary directory and stops with Close.
type Services struct {
	RedisAddr     string // "" when Redis is not available
	RedisPassword string // secret: handed to the run, never stored
	PostgresDSN   string // secret: "" when PostgreSQL is not available
	MigrationsDir string // the demo database's migration files
	// Skipped says why a service did not start (binary missing, …).
	Skipped map[string]string

	procs []*proc.Process
	dirs  []string
}

// StartServices starts whichever services this machine can run. A service
// that cannot start is skipped with the reason, never an error: the demo
// still runs without it.
func (t *Target) StartServices(ctx context.Context) *Services {
	s := &Services{Skipped: map[string]string{}}
	if err := s.startRedis(ctx); err != nil {
		s.Skipped["redis"] = err.Error()
	}
	if err := s.startPostgres(ctx, t); err != nil {
		s.Skipped["postgres"] = err.Error()
	}
	return s
}

// Close stops every service and removes its files.
func (s *Services) Close() {
	for _, p := range s.procs {
		p.Stop(5 * time.Second)
	}
	for _, d := range s.dirs {
		os.RemoveAll(d)
	}
}

func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// start runs a service's server; it is stopped by Close.
func (s *Services) start(name string, dir string, argv []string) (*proc.Process, error) {
	p, err := proc.Start(name, argv, proc.Options{Dir: dir, LogLimit: 64 << 10})
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// waitReady polls ready for up to 15 s; the error ends with the last line
// the server printed.
func waitReady(ctx context.Context, p *proc.Process, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := p.WaitReady(ctx, time.Second, ready); err != nil {
		if last := lastLine(p.Log()); last != "" {
			return fmt.Errorf("%w: %s", err, last)
		}
		return err
	}
	return nil
}

func (s *Services) startRedis(ctx context.Context) error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return errors.New("redis-server not found (apt-get install redis-server)")
	}
	dir, err := os.MkdirTemp("", "prf-demo-redis-")
	if err != nil {
		return err
	}
	s.dirs = append(s.dirs, dir)
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	pw := randomSecret()
	// The password goes in a config file, not on the command line where
	// any local user could read it.
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir %s\nrequirepass %s\nmaxmemory 64mb\n", port, dir, pw)
	if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o600); err != nil {
		return err
	}
	p, err := s.start("redis", dir, []string{bin, filepath.Join(dir, "redis.conf")})
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	err = waitReady(ctx, p, func(ctx context.Context) error {
		c := redis.NewClient(&redis.Options{Addr: addr, Password: pw, MaxRetries: -1})
		defer c.Close()
		return c.Ping(ctx).Err()
	})
	if err != nil {
		return err
	}
	s.RedisAddr, s.RedisPassword = addr, pw
	return nil
}

// postgresBin finds the newest installed PostgreSQL server binaries.
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries not found (apt-get install postgresql)")
}

func (s *Services) startPostgres(ctx context.Context, t *Target) error {
	bin, err := postgresBin()
	if err != nil {
		return err
	}
	// PostgreSQL refuses to run as root: as root, run it as the postgres
	// user, in a directory that user owns.
	var asUser []string
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return errors.New("running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	dir, err := os.MkdirTemp("", "prf-demo-pg-")
	if err != nil {
		return err
	}
	s.dirs = append(s.dirs, dir)
	chown := func(p string) error {
		if uid < 0 {
			return nil
		}
		return os.Chown(p, uid, gid)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if err := chown(dir); err != nil {
		return err
	}
	pw := randomSecret()
	write := func(name string, data []byte) (string, error) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return "", err
		}
		return p, chown(p)
	}
	pwfile, err := write("pwfile", []byte(pw+"\n"))
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := t.serverKeyPairPEM()
	if err != nil {
		return err
	}
	certFile, err := write("server.crt", certPEM)
	if err != nil {
		return err
	}
	keyFile, err := write("server.key", keyPEM)
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	cmdline := func(args ...string) []string { return append(append([]string{}, asUser...), args...) }
	initArgv := cmdline(filepath.Join(bin, "initdb"), "--no-sync", "-D", data, "-U", "prf", "--auth=scram-sha-256", "--pwfile="+pwfile, "-E", "UTF8", "--data-checksums")
	initdb := exec.CommandContext(ctx, initArgv[0], initArgv[1:]...)
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, strings.TrimSpace(string(out)))
	}
	os.Remove(pwfile)
	// Clients on TCP must use TLS: the reference database refuses plain
	// connections, as a production one should.
	if _, err := write(filepath.Join("data", "pg_hba.conf"), []byte("local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all all reject\n")); err != nil {
		return err
	}
	// WAL is archived, so point-in-time recovery is possible.
	walDir := filepath.Join(dir, "wal-archive")
	if err := os.Mkdir(walDir, 0o700); err != nil {
		return err
	}
	if err := chown(walDir); err != nil {
		return err
	}
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	argv := cmdline(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "ssl=on", "-c", "ssl_cert_file="+certFile, "-c", "ssl_key_file="+keyFile, "-c", "max_connections=20",
		"-c", "archive_mode=on", "-c", "archive_command=cp %p "+walDir+"/%f", "-c", "archive_timeout=60")
	p, err := s.start("postgres", dir, argv)
	if err != nil {
		return err
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, t.CACertPEM(), 0o644); err != nil {
		return err
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword("prf", pw), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/postgres",
		RawQuery: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {caFile}}.Encode()}
	dsn := u.String()
	err = waitReady(ctx, p, func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
	if err != nil {
		return err
	}
	if err := s.seedMigrations(ctx, dsn); err != nil {
		return err
	}
	if err := switchWAL(ctx, dsn); err != nil {
		return err
	}
	s.PostgresDSN = dsn
	return nil
}

// switchWAL closes the current WAL segment so that the archiver has
// archived one by the time the checks run.
func switchWAL(ctx context.Context, dsn string) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "SELECT pg_switch_wal()"); err != nil {
		return fmt.Errorf("switch wal: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int64
		if err := c.QueryRow(ctx, "SELECT archived_count FROM pg_stat_archiver").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("postgres: no WAL segment archived within 10s")
}

// seedMigrations gives the demo database what a migrated service has: a
// golang-migrate table at version 3 and the directory its files came from.
func (s *Services) seedMigrations(ctx context.Context, dsn string) error {
	dir, err := os.MkdirTemp("", "prf-demo-migrations-")
	if err != nil {
		return err
	}
	s.dirs = append(s.dirs, dir)
	files := map[string]string{
		"1_init.up.sql":          "CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL);",
		"2_balances.up.sql":      "ALTER TABLE accounts ADD COLUMN balance numeric NOT NULL DEFAULT 0;",
		"3_accounts_name.up.sql": "CREATE INDEX accounts_name ON accounts (name);",
	}
	for name, sql := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql+"\n"), 0o644); err != nil {
			return err
		}
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for _, name := range []string{"1_init.up.sql", "2_balances.up.sql", "3_accounts_name.up.sql"} {
		if _, err := c.Exec(ctx, files[name]); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	_, err = c.Exec(ctx, `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
		INSERT INTO schema_migrations VALUES (3, false);`)
	if err != nil {
		return fmt.Errorf("migration table: %w", err)
	}
	s.MigrationsDir = dir
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// serverKeyPairPEM returns the target's server certificate chain and key,
// so the demo's PostgreSQL serves TLS from the same CA.
func (t *Target) serverKeyPairPEM() (certPEM, keyPEM []byte, err error) {
	for _, der := range t.pki.serverTLS.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(t.pki.serverTLS.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("server key: %w", err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), nil
}
