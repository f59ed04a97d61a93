package testenv

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestStartPostgres(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts PostgresOptions
		ssl  string
	}{
		{"plain", PostgresOptions{Password: "pw-plain"}, "off"},
		{"ssl", PostgresOptions{SSL: true}, "on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg := StartPostgres(t, tc.opts)
			if tc.opts.Password != "" && pg.Password != tc.opts.Password {
				t.Errorf("Password = %q, want %q", pg.Password, tc.opts.Password)
			}
			if (pg.CAFile != "") != tc.opts.SSL {
				t.Errorf("CAFile = %q with SSL %v", pg.CAFile, tc.opts.SSL)
			}
			pg.CreateDB(t, "app")
			pg.Exec(t, "app", "CREATE TABLE t (id int)")
			pg.Exec(t, "app", "INSERT INTO t VALUES ($1)", 7)
			conn := pg.Connect(t, "app")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var ssl string
			var id int
			if err := conn.QueryRow(ctx, "SELECT current_setting('ssl'), (SELECT id FROM t)").Scan(&ssl, &id); err != nil {
				t.Fatal(err)
			}
			if ssl != tc.ssl || id != 7 {
				t.Errorf("ssl = %q, id = %d; want %q, 7", ssl, id, tc.ssl)
			}
			if _, isTLS := conn.PgConn().Conn().(*tls.Conn); isTLS != tc.opts.SSL {
				t.Errorf("TLS connection = %v, want %v", isTLS, tc.opts.SSL)
			}
		})
	}
}

func TestStartPostgresHardened(t *testing.T) {
	pg := StartPostgres(t, PostgresOptions{
		SSL: true, RequireSSL: true, Archive: true, Checksums: true,
		Preload: []string{"pgaudit"}, Config: []string{"pgaudit.log=ddl"},
	})
	check := func(t *testing.T) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background()) // before Restart: the server waits for its clients
		var checksums, preload, audit, archive string
		if err := conn.QueryRow(ctx, "SELECT current_setting('data_checksums'), current_setting('shared_preload_libraries'), "+
			"current_setting('pgaudit.log'), current_setting('archive_mode')").Scan(&checksums, &preload, &audit, &archive); err != nil {
			t.Fatal(err)
		}
		if checksums != "on" || preload != "pgaudit" || audit != "ddl" || archive != "on" {
			t.Errorf("data_checksums %q, shared_preload_libraries %q, pgaudit.log %q, archive_mode %q", checksums, preload, audit, archive)
		}
		if c, err := pgx.Connect(ctx, pg.DSN("postgres", "sslmode=disable")); err == nil {
			_ = c.Close(ctx)
			t.Error("a connection without TLS was accepted")
		}
	}
	check(t)
	pg.Restart(t)
	check(t)
}
