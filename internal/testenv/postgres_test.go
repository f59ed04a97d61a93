package testenv

import (
	"context"
	"crypto/tls"
	"testing"
	"time"
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
