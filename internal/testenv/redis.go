package testenv

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

const redisInstall = "apt-get install -y redis-server"

// RedisOptions configure StartRedis.
type RedisOptions struct {
	// Password, when set, is passed as --requirepass: every client must AUTH.
	Password string
	// TLSCertFile and TLSKeyFile, when set, make the server speak TLS only
	// (--port 0 --tls-port PORT), without client certificates.
	TLSCertFile, TLSKeyFile string
	// ReplicaOf, when set, is a primary's address (HOST:PORT): the server
	// replicates it (--replicaof), authenticating with Password
	// (--masterauth). StartRedis waits until the replica answers, not
	// until it has synchronized.
	ReplicaOf string
}

// Redis is a redis-server started for a test.
type Redis struct {
	*Process
	Addr     string // 127.0.0.1:PORT
	Password string
	TLS      bool
}

// StartRedis starts redis-server on a free loopback port, without
// persistence, and waits until it answers PING. It is stopped when the test
// ends.
func StartRedis(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	bin := Require(t, "redis-server", redisInstall, "/usr/bin", "/usr/local/bin")
	port := FreePort(t)
	dir := t.TempDir()
	argv := []string{bin}
	if opts.TLSCertFile != "" {
		argv = append(argv, "--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", opts.TLSCertFile, "--tls-key-file", opts.TLSKeyFile,
			"--tls-auth-clients", "no")
	} else {
		argv = append(argv, "--port", strconv.Itoa(port))
	}
	argv = append(argv,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--logfile", "",
	)
	if opts.Password != "" {
		argv = append(argv, "--requirepass", opts.Password)
	}
	if opts.ReplicaOf != "" {
		host, port, err := net.SplitHostPort(opts.ReplicaOf)
		if err != nil {
			t.Fatalf("testenv: ReplicaOf: %v", err)
		}
		argv = append(argv, "--replicaof", host, port)
		if opts.Password != "" {
			argv = append(argv, "--masterauth", opts.Password)
		}
	}
	p := Start(t, "redis-server", argv, Options{Dir: dir})
	r := &Redis{Process: p, Addr: Addr(port), Password: opts.Password, TLS: opts.TLSCertFile != ""}
	p.WaitReady(t, 15*time.Second, func(ctx context.Context) error { return redisPing(ctx, r.Addr, r.Password, r.TLS) })
	return r
}

// redisPing speaks just enough RESP to AUTH (when a password is set) and
// PING, so readiness does not depend on the client under test.
func redisPing(ctx context.Context, addr, password string, useTLS bool) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if useTLS {
		// Readiness only: the test under way checks the certificate.
		c = tls.Client(c, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // loopback readiness check
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	br := bufio.NewReader(c)
	cmd := func(args ...string) (string, error) {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := c.Write([]byte(b.String())); err != nil {
			return "", err
		}
		line, err := br.ReadString('\n')
		return strings.TrimSpace(line), err
	}
	if password != "" {
		line, err := cmd("AUTH", password)
		if err != nil {
			return err
		}
		if line != "+OK" {
			return fmt.Errorf("auth: %s", line)
		}
	}
	line, err := cmd("PING")
	if err != nil {
		return err
	}
	if line != "+PONG" {
		return fmt.Errorf("ping: %s", line)
	}
	return nil
}
