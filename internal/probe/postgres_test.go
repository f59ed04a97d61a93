package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/expect"
	"github.com/prfhq/prf/internal/testenv"
)

// pgSpec is a postgres spec with its defaults, changed by mod.
func pgSpec(dsn string, mod func(*PostgresSpec)) *PostgresSpec {
	s := &PostgresSpec{}
	s.defaults()
	s.DSN = dsn
	if mod != nil {
		mod(s)
	}
	return s
}

// pgRun validates and runs a postgres probe, and returns what it observed,
// its error and its log lines.
func pgRun(t *testing.T, s *PostgresSpec) (PostgresObservation, error, []string) {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	var mu sync.Mutex
	var logs []string
	env := Env{Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	obs, err := probePostgres(ctx, env, s)
	mu.Lock()
	defer mu.Unlock()
	return obs, err, logs
}

// pgRunWant runs s (pgRun) and fails when secret shows in what it returned.
// With wantErr set it fails unless the run's error contains wantErr, and
// returns false; otherwise it fails on any error, and returns true.
func pgRunWant(t *testing.T, secret string, s *PostgresSpec, wantErr string) (PostgresObservation, bool) {
	t.Helper()
	obs, err, logs := pgRun(t, s)
	pgNoSecret(t, secret, obs, err, logs)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
		return obs, false
	}
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	return obs, true
}

// pgRunUntil runs a postgres probe of dsn (spec changed by mod) every
// 200ms until done holds for what it returned, or for 15 seconds, and
// returns the last run's observation and error.
func pgRunUntil(t *testing.T, dsn string, mod func(*PostgresSpec), done func(PostgresObservation, error) bool) (PostgresObservation, error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		obs, err, _ := pgRun(t, pgSpec(dsn, mod))
		if done(obs, err) || time.Now().After(deadline) {
			return obs, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pgNoSecret fails when secret shows in the error, the logs or the
// observation.
func pgNoSecret(t *testing.T, secret string, obs PostgresObservation, err error, logs []string) {
	t.Helper()
	js, jerr := json.Marshal(Flatten(obs))
	if jerr != nil {
		t.Fatalf("observation does not marshal: %v", jerr)
	}
	texts := append([]string{string(js)}, logs...)
	if err != nil {
		texts = append(texts, err.Error())
	}
	for _, s := range texts {
		if strings.Contains(s, secret) || strings.Contains(s, url.QueryEscape(secret)) {
			t.Errorf("secret %q leaked into %q", secret, s)
		}
	}
}

// pgWithPassword is dsn with another password.
func pgWithPassword(t *testing.T, dsn, pw string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String()
}

func TestPostgresConnect(t *testing.T) {
	const sslPW, plainPW = "ssl-Pw-9f3k2!", "plain-Pw-x7q1@"
	sslPG := testenv.StartPostgres(t, testenv.PostgresOptions{SSL: true, Password: sslPW})
	plainPG := testenv.StartPostgres(t, testenv.PostgresOptions{Password: plainPW})
	refused := (&url.URL{Scheme: "postgres", User: url.UserPassword("postgres", plainPW),
		Host: testenv.Addr(testenv.FreePort(t)), Path: "/postgres", RawQuery: "sslmode=disable"}).String()
	wrongPW := pgWithPassword(t, plainPG.DSN("postgres"), "wrong-"+plainPW)
	sslWrongPW := pgWithPassword(t, sslPG.DSN("postgres"), "wrong-"+sslPW)
	badPort := fmt.Sprintf("host=127.0.0.1 port=notaport user=postgres password=%s sslmode=disable", plainPW)

	tests := []struct {
		name    string
		dsn     string
		secret  string // must appear nowhere
		wantErr string // substring of the probe error; "" for none
		check   func(t *testing.T, o PostgresObservation)
	}{
		{
			name: "ssl verify-full with the CA", dsn: sslPG.DSN("postgres"), secret: sslPW,
			check: func(t *testing.T, o PostgresObservation) {
				if !o.SSL || o.SSLSetting != "on" || !strings.HasPrefix(o.SSLVersion, "TLSv1.") || o.SSLCipher == "" {
					t.Errorf("ssl %v, ssl_setting %q, ssl_version %q, ssl_cipher %q; want true, on, TLSv1.x, a cipher",
						o.SSL, o.SSLSetting, o.SSLVersion, o.SSLCipher)
				}
				if o.ServerVersionNum < 100000 || !strings.HasPrefix(o.ServerVersion, fmt.Sprint(o.ServerVersionNum/10000)) {
					t.Errorf("server_version %q, server_version_num %d", o.ServerVersion, o.ServerVersionNum)
				}
				if o.Database != "postgres" || o.User != "postgres" {
					t.Errorf("database %q, user %q", o.Database, o.User)
				}
				if o.Latency <= 0 || o.Latency > 20*time.Second {
					t.Errorf("latency %s", o.Latency)
				}
			},
		},
		{
			name: "ssl require without a CA", dsn: sslPG.DSN("postgres", "sslmode=require", "sslrootcert="), secret: sslPW,
			check: func(t *testing.T, o PostgresObservation) {
				if !o.SSL {
					t.Error("ssl false, want true")
				}
			},
		},
		{
			name: "ssl server, client disables ssl", dsn: sslPG.DSN("postgres", "sslmode=disable", "sslrootcert="), secret: sslPW,
			check: func(t *testing.T, o PostgresObservation) {
				if o.SSL || o.SSLSetting != "on" || o.SSLVersion != "" {
					t.Errorf("ssl %v, ssl_setting %q, ssl_version %q; want false, on, empty", o.SSL, o.SSLSetting, o.SSLVersion)
				}
			},
		},
		{
			name: "ssl verify-full without the CA", dsn: sslPG.DSN("postgres", "sslrootcert="), secret: sslPW,
			wantErr: "certificate",
		},
		{
			name: "plain", dsn: plainPG.DSN("postgres"), secret: plainPW,
			check: func(t *testing.T, o PostgresObservation) {
				if o.SSL || o.SSLSetting != "off" || o.SSLVersion != "" || o.SSLCipher != "" {
					t.Errorf("ssl %v, ssl_setting %q, ssl_version %q, ssl_cipher %q; want false, off, empty, empty",
						o.SSL, o.SSLSetting, o.SSLVersion, o.SSLCipher)
				}
			},
		},
		{
			name: "plain, sslmode prefer falls back", dsn: plainPG.DSN("postgres", "sslmode=prefer"), secret: plainPW,
			check: func(t *testing.T, o PostgresObservation) {
				if o.SSL {
					t.Error("ssl true, want false")
				}
			},
		},
		{name: "plain, sslmode require", dsn: plainPG.DSN("postgres", "sslmode=require"), secret: plainPW, wantErr: "refused TLS"},
		{name: "wrong password", dsn: wrongPW, secret: plainPW, wantErr: "password authentication failed"},
		{name: "wrong password over ssl", dsn: sslWrongPW, secret: sslPW, wantErr: "password authentication failed"},
		{name: "unknown database", dsn: plainPG.DSN("nosuchdb"), secret: plainPW, wantErr: `database "nosuchdb" does not exist`},
		{name: "connection refused", dsn: refused, secret: plainPW, wantErr: "refused"},
		{name: "unparsable dsn", dsn: badPort, secret: plainPW, wantErr: "dsn: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs, err, logs := pgRun(t, pgSpec(tc.dsn, nil))
			pgNoSecret(t, tc.secret, obs, err, logs)
			pgNoSecret(t, tc.dsn, obs, err, logs)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want one containing %q", tc.wantErr)
				}
				t.Logf("error: %v", err)
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
				}
				if msg := err.Error(); msg[:1] != strings.ToLower(msg[:1]) {
					t.Errorf("error %q does not start lower-case", msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("probe: %v", err)
			}
			tc.check(t, obs)
		})
	}
}

func TestPostgresQuery(t *testing.T) {
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	pg.CreateDB(t, "app")
	pg.Exec(t, "app", `CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), tags text[], meta jsonb, seen timestamptz)`)
	pg.Exec(t, "app", `INSERT INTO items SELECT i, 'item-' || i, i * 1.5, ARRAY['a', 'b'], jsonb_build_object('n', i), '2024-05-06 07:08:09+00'
		FROM generate_series(1, 250) AS i`)
	dsn := pg.DSN("app")

	tests := []struct {
		name    string
		query   string
		maxRows int
		wantErr string
		check   func(t *testing.T, q PostgresQuery)
	}{
		{
			name: "rows", query: "SELECT id, name, price, tags, meta, seen FROM items WHERE id <= 3 ORDER BY id", maxRows: 100,
			check: func(t *testing.T, q PostgresQuery) {
				if q.RowCount != 3 || len(q.Rows) != 3 || q.Truncated {
					t.Fatalf("row_count %d, %d rows, truncated %v; want 3, 3, false", q.RowCount, len(q.Rows), q.Truncated)
				}
				if strings.Join(q.Columns, ",") != "id,name,price,tags,meta,seen" {
					t.Errorf("columns %v", q.Columns)
				}
				r := q.Rows[1]
				want := map[string]any{
					"id": int64(2), "name": "item-2", "price": int64(3), "tags": []any{"a", "b"},
					"meta": map[string]any{"n": float64(2)}, "seen": time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
				}
				for k, w := range want {
					g := r[k]
					if gt, ok := g.(time.Time); ok {
						if !gt.Equal(w.(time.Time)) {
							t.Errorf("%s = %v, want %v", k, g, w)
						}
						continue
					}
					if fmt.Sprintf("%#v", g) != fmt.Sprintf("%#v", w) {
						t.Errorf("%s = %#v, want %#v", k, g, w)
					}
				}
				if r0 := q.Rows[0]["price"]; r0 != 1.5 {
					t.Errorf("price of item 1 = %#v, want 1.5", r0)
				}
				if q.Latency <= 0 {
					t.Errorf("latency %s", q.Latency)
				}
			},
		},
		{
			name: "max_rows truncates but counts", query: "SELECT id FROM items ORDER BY id", maxRows: 100,
			check: func(t *testing.T, q PostgresQuery) {
				if q.RowCount != 250 || len(q.Rows) != 100 || !q.Truncated {
					t.Fatalf("row_count %d, %d rows, truncated %v; want 250, 100, true", q.RowCount, len(q.Rows), q.Truncated)
				}
				if q.Rows[99]["id"] != int64(100) {
					t.Errorf("last kept row %v, want id 100", q.Rows[99])
				}
			},
		},
		{
			name: "max_rows exactly met is not truncated", query: "SELECT id FROM items WHERE id <= 5", maxRows: 5,
			check: func(t *testing.T, q PostgresQuery) {
				if q.RowCount != 5 || len(q.Rows) != 5 || q.Truncated {
					t.Fatalf("row_count %d, %d rows, truncated %v; want 5, 5, false", q.RowCount, len(q.Rows), q.Truncated)
				}
			},
		},
		{
			name: "no rows", query: "SELECT id FROM items WHERE id < 0", maxRows: 10,
			check: func(t *testing.T, q PostgresQuery) {
				if q.RowCount != 0 || q.Rows == nil || len(q.Rows) != 0 || len(q.Columns) != 1 {
					t.Fatalf("row_count %d, rows %#v, columns %v", q.RowCount, q.Rows, q.Columns)
				}
			},
		},
		{
			name: "types", maxRows: 10,
			query: `SELECT 1::int2 AS small, 2.5::float4 AS f4, NULL::int AS nothing, true AS yes, 7::numeric AS whole,
				'NaN'::numeric AS nan, interval '1 day 2 hours' AS iv, '\xdeadbeef'::bytea AS raw,
				'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, '10.1.2.3'::inet AS ip, '10.0.0.0/8'::cidr AS net,
				'12:34:56'::time AS clock, date '2024-02-29' AS day, 1 AS dup, 2 AS dup`,
			check: func(t *testing.T, q PostgresQuery) {
				r := q.Rows[0]
				want := map[string]any{
					"small": int64(1), "f4": 2.5, "nothing": nil, "yes": true, "whole": int64(7), "nan": "NaN",
					"iv": 26 * time.Hour, "raw": `\xdeadbeef`, "id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
					"ip": "10.1.2.3", "net": "10.0.0.0/8", "clock": "12:34:56.000000",
					"day": time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "dup": int64(1), "dup_2": int64(2),
				}
				for k, w := range want {
					if fmt.Sprintf("%#v", r[k]) != fmt.Sprintf("%#v", w) {
						t.Errorf("%s = %#v, want %#v", k, r[k], w)
					}
				}
				if len(r) != len(want) {
					t.Errorf("row has %d columns, want %d: %v", len(r), len(want), r)
				}
			},
		},
		{name: "writes are refused", query: "INSERT INTO items (id) VALUES (1000)", maxRows: 10, wantErr: "read-only transaction"},
		{name: "unknown table", query: "SELECT * FROM nosuch", maxRows: 10, wantErr: `query: ERROR: relation "nosuch" does not exist`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs, ok := pgRunWant(t, pg.Password, pgSpec(dsn, func(s *PostgresSpec) { s.Query, s.MaxRows = tc.query, tc.maxRows }), tc.wantErr)
			if !ok {
				return
			}
			if obs.Query.Text != tc.query {
				t.Errorf("query.text %q", obs.Query.Text)
			}
			tc.check(t, obs.Query)
			if _, err := json.Marshal(Flatten(obs)); err != nil {
				t.Errorf("observation does not marshal: %v", err)
			}
		})
	}

	t.Run("expectations read the observation", func(t *testing.T) {
		k, ok := Default().Lookup("postgres")
		if !ok {
			t.Fatal("postgres not registered")
		}
		obs, err, _ := pgRun(t, pgSpec(dsn, func(s *PostgresSpec) {
			s.Query = "SELECT id, name, price, seen, now() - seen AS age FROM items WHERE id <= 3 ORDER BY id"
		}))
		if err != nil {
			t.Fatal(err)
		}
		flat := Flatten(obs)
		for _, tc := range []struct {
			expr string
			want bool
		}{
			{`!ssl && ssl_setting == "off" && server_version_num >= 100000 && latency < duration("20s")`, true},
			{`query.row_count == 3 && !query.truncated && query.rows[0].name == "item-1" && query.rows[0].price == 1.5`, true},
			{`query.rows[2].price == 4.5 && query.rows.all(r, r.seen < timestamp("2025-01-01T00:00:00Z") && r.age > duration("1h"))`, true},
			{`connections.ratio < 0.9 && connections.max == 20 && !replication.is_replica && replication.max_lag_seconds == -1.0`, true},
			{`archiver.archived_count == 0 && archiver.last_archived_age_seconds < 0.0 && migrations.tool == ""`, true},
			{`query.row_count > 3`, false},
		} {
			prg, err := expect.Compile(tc.expr, k.Fields())
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			if v := prg.Eval(flat); v.Err != nil || v.Pass != tc.want {
				t.Errorf("%s = %v (err %v), want %v", tc.expr, v.Pass, v.Err, tc.want)
			}
		}
	})

	// The write above was refused, not rolled back after the fact.
	obs, err, _ := pgRun(t, pgSpec(dsn, func(s *PostgresSpec) { s.Query = "SELECT count(*) AS n FROM items" }))
	if err != nil || obs.Query.Rows[0]["n"] != int64(250) {
		t.Errorf("after the refused write: rows %v, err %v; want n 250", obs.Query.Rows, err)
	}
}

func TestPostgresServerFacts(t *testing.T) {
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	dsn := pg.DSN("postgres")

	t.Run("no query", func(t *testing.T) {
		obs, err, _ := pgRun(t, pgSpec(dsn, nil))
		if err != nil {
			t.Fatal(err)
		}
		q := obs.Query
		if q.Text != "" || q.RowCount != 0 || q.Rows == nil || q.Columns == nil {
			t.Errorf("query %+v, want empty (non-nil rows and columns)", q)
		}
		if obs.Migrations.Tool != "" || obs.Migrations.Exists {
			t.Errorf("migrations %+v without a migrations setting", obs.Migrations)
		}
	})
	t.Run("connections", func(t *testing.T) {
		for range 3 {
			pg.Connect(t, "postgres")
		}
		obs, err, _ := pgRun(t, pgSpec(dsn, nil))
		if err != nil {
			t.Fatal(err)
		}
		c := obs.Connections
		// The harness sets max_connections=20; three held plus the probe's own.
		if c.Max != 20 || c.InUse < 4 || c.InUse > 6 {
			t.Errorf("connections %+v, want max 20 and in_use 4 (±2 closing)", c)
		}
		if math.Abs(c.Ratio-float64(c.InUse)/20) > 1e-9 {
			t.Errorf("ratio %v, want in_use/max = %v", c.Ratio, float64(c.InUse)/20)
		}
	})
	t.Run("standalone replication", func(t *testing.T) {
		obs, err, _ := pgRun(t, pgSpec(dsn, nil))
		if err != nil {
			t.Fatal(err)
		}
		if r := obs.Replication; r.IsReplica || r.Replicas != 0 || r.MaxLagSeconds != -1 {
			t.Errorf("replication %+v, want not a replica, 0 replicas, lag -1", r)
		}
	})
	t.Run("archiving off", func(t *testing.T) {
		obs, err, _ := pgRun(t, pgSpec(dsn, nil))
		if err != nil {
			t.Fatal(err)
		}
		a := obs.Archiver
		if a.Mode != "off" || a.ArchivedCount != 0 || a.FailedCount != 0 || !a.LastArchivedAt.IsZero() ||
			!a.LastFailedAt.IsZero() || a.LastArchivedAgeSeconds != -1 || a.LastArchivedWAL != "" {
			t.Errorf("archiver %+v, want mode off, zeros and age -1", a)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		_, err, _ := pgRun(t, pgSpec(dsn, func(s *PostgresSpec) {
			s.Query, s.Timeout = "SELECT pg_sleep(10)", 300*time.Millisecond
		}))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want a deadline exceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s with a 300ms timeout", d)
		}
	})
}

func TestPostgresArchiver(t *testing.T) {
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{Archive: true})
	dsn := pg.DSN("postgres")
	pg.Exec(t, "postgres", "CREATE TABLE t AS SELECT generate_series(1, 1000) AS i")
	pg.Exec(t, "postgres", "SELECT pg_switch_wal()")

	obs, err := pgRunUntil(t, dsn, nil, func(obs PostgresObservation, err error) bool {
		return err != nil || obs.Archiver.ArchivedCount >= 1
	})
	if err != nil {
		t.Fatal(err)
	}
	a := obs.Archiver
	if a.Mode != "on" || a.ArchivedCount < 1 || a.LastArchivedWAL == "" || a.LastArchivedAt.IsZero() ||
		a.LastArchivedAgeSeconds < 0 || a.LastArchivedAgeSeconds > 60 || a.FailedCount != 0 {
		t.Fatalf("archiver %+v, want mode on, archived >= 1 just now, no failures", a)
	}
	if _, err := os.Stat(filepath.Join(pg.ArchiveDir, a.LastArchivedWAL)); err != nil {
		t.Errorf("archived segment not in the archive: %v", err)
	}

	// A failing archive_command is counted too: the archive turns read-only.
	if err := os.Chmod(pg.ArchiveDir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(pg.ArchiveDir, 0o700) })
	pg.Exec(t, "postgres", "INSERT INTO t SELECT generate_series(1, 1000)")
	pg.Exec(t, "postgres", "SELECT pg_switch_wal()")
	obs, err = pgRunUntil(t, dsn, nil, func(obs PostgresObservation, err error) bool {
		return err != nil || obs.Archiver.FailedCount >= 1
	})
	if err != nil {
		t.Fatal(err)
	}
	if a := obs.Archiver; a.FailedCount < 1 || a.LastFailedAt.IsZero() || a.LastFailedWAL == "" {
		t.Errorf("archiver %+v, want a failure recorded", a)
	}
}

func TestPostgresReplication(t *testing.T) {
	primary := testenv.StartPostgres(t, testenv.PostgresOptions{})
	replica := testenv.StartPostgresReplica(t, primary, testenv.PostgresOptions{})
	primary.Exec(t, "postgres", "CREATE TABLE t AS SELECT generate_series(1, 100) AS i")

	obs, err := pgRunUntil(t, primary.DSN("postgres"), nil, func(obs PostgresObservation, err error) bool {
		return err != nil || obs.Replication.Replicas >= 1
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := obs.Replication; r.IsReplica || r.Replicas != 1 || r.MaxLagSeconds < 0 || r.MaxLagSeconds > 30 {
		t.Errorf("primary: replication %+v, want a primary with 1 replica and a lag >= 0", r)
	}

	// The replica sees the table once it has replayed it.
	obs, err = pgRunUntil(t, replica.DSN("postgres"), func(s *PostgresSpec) { s.Query = "SELECT count(*) AS n FROM t" },
		func(_ PostgresObservation, err error) bool { return err == nil })
	if err != nil {
		t.Fatalf("replica: %v", err)
	}
	if r := obs.Replication; !r.IsReplica || r.Replicas != 0 || r.MaxLagSeconds < 0 || r.MaxLagSeconds > 30 {
		t.Errorf("replica: replication %+v, want a replica with a lag >= 0", r)
	}
	if obs.Query.Rows[0]["n"] != int64(100) {
		t.Errorf("replica rows %v, want n 100", obs.Query.Rows)
	}
}

// pgMigrationDir writes empty files with the given names into a new
// directory.
func pgMigrationDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("-- test\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPostgresMigrations(t *testing.T) {
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	migrateDir := pgMigrationDir(t, "1_a.up.sql", "1_a.down.sql", "2_b.up.sql", "2_b.down.sql",
		"3_c.up.sql", "3_c.down.sql", "4_d.up.sql", "4_d.down.sql", "README.md")
	gooseDir := pgMigrationDir(t, "00001_x.sql", "00002_y.sql", "00003_z.go", "00003_z_test.go", "helpers.go")
	flywayDir := pgMigrationDir(t, "V1__a.sql", "V2__b.sql", "R__views.sql", "U2__undo_b.sql")
	flywayDotted := pgMigrationDir(t, "V1_9__a.sql", "V1.10__b.sql", "V1__base.sql")
	const migrateTable = `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`
	const gooseTable = `CREATE TABLE %s (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now())`
	const flywayTable = `CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50),
		description varchar(200) NOT NULL, type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum int,
		installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(), execution_time int NOT NULL,
		success boolean NOT NULL)`
	flywayRow := func(rank int, version string, success bool) string {
		v := "NULL"
		if version != "" {
			v = "'" + version + "'"
		}
		return fmt.Sprintf(`INSERT INTO flyway_schema_history VALUES (%d, %s, 'd', 'SQL', 's.sql', 0, 'me', now(), 1, %v)`, rank, v, success)
	}

	tests := []struct {
		name    string
		setup   []string
		spec    PostgresMigrationsSpec
		want    PostgresMigrations
		wantErr string
	}{
		{
			name:  "golang-migrate one behind",
			setup: []string{migrateTable, `INSERT INTO schema_migrations VALUES (3, false)`},
			spec:  PostgresMigrationsSpec{Tool: "golang-migrate", Dir: migrateDir},
			want: PostgresMigrations{Tool: "golang-migrate", Table: "schema_migrations", Exists: true, Version: "3",
				LatestInDir: "4", Files: 4, Pending: 1},
		},
		{
			name:  "golang-migrate up to date",
			setup: []string{migrateTable, `INSERT INTO schema_migrations VALUES (4, false)`},
			spec:  PostgresMigrationsSpec{Tool: "golang-migrate", Dir: migrateDir},
			want: PostgresMigrations{Tool: "golang-migrate", Table: "schema_migrations", Exists: true, Version: "4",
				LatestInDir: "4", Files: 4, UpToDate: true},
		},
		{
			name:  "golang-migrate dirty",
			setup: []string{migrateTable, `INSERT INTO schema_migrations VALUES (4, true)`},
			spec:  PostgresMigrationsSpec{Tool: "golang-migrate", Dir: migrateDir},
			want: PostgresMigrations{Tool: "golang-migrate", Table: "schema_migrations", Exists: true, Version: "4",
				Dirty: true, LatestInDir: "4", Files: 4},
		},
		{
			name:  "golang-migrate without dir",
			setup: []string{migrateTable, `INSERT INTO schema_migrations VALUES (20240102030405, false)`},
			spec:  PostgresMigrationsSpec{Tool: "golang-migrate"},
			want: PostgresMigrations{Tool: "golang-migrate", Table: "schema_migrations", Exists: true,
				Version: "20240102030405", UpToDate: true},
		},
		{
			name:  "golang-migrate nothing applied",
			setup: []string{migrateTable},
			spec:  PostgresMigrationsSpec{Tool: "golang-migrate", Dir: migrateDir},
			want: PostgresMigrations{Tool: "golang-migrate", Table: "schema_migrations", Exists: true,
				LatestInDir: "4", Files: 4, Pending: 4},
		},
		{
			name: "goose with a rolled-back version",
			setup: []string{fmt.Sprintf(gooseTable, "goose_db_version"),
				`INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (3, true), (3, false)`},
			spec: PostgresMigrationsSpec{Tool: "goose", Dir: gooseDir},
			want: PostgresMigrations{Tool: "goose", Table: "goose_db_version", Exists: true, Version: "2",
				LatestInDir: "3", Files: 3, Pending: 1},
		},
		{
			name: "goose in its own schema, up to date",
			setup: []string{"CREATE SCHEMA ops", fmt.Sprintf(gooseTable, "ops.goose_db_version"),
				`INSERT INTO ops.goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (3, true)`},
			spec: PostgresMigrationsSpec{Tool: "goose", Table: "ops.goose_db_version", Dir: gooseDir},
			want: PostgresMigrations{Tool: "goose", Table: "ops.goose_db_version", Exists: true, Version: "3",
				LatestInDir: "3", Files: 3, UpToDate: true},
		},
		{
			name:  "flyway up to date",
			setup: []string{flywayTable, flywayRow(1, "1", true), flywayRow(2, "2", true), flywayRow(3, "", true)},
			spec:  PostgresMigrationsSpec{Tool: "flyway", Dir: flywayDir},
			want: PostgresMigrations{Tool: "flyway", Table: "flyway_schema_history", Exists: true, Version: "2",
				LatestInDir: "2", Files: 2, UpToDate: true},
		},
		{
			name:  "flyway compares versions numerically",
			setup: []string{flywayTable, flywayRow(1, "1", true), flywayRow(2, "1.9", true)},
			spec:  PostgresMigrationsSpec{Tool: "flyway", Dir: flywayDotted},
			want: PostgresMigrations{Tool: "flyway", Table: "flyway_schema_history", Exists: true, Version: "1.9",
				LatestInDir: "1.10", Files: 3, Pending: 1},
		},
		{
			name:  "flyway failed migration",
			setup: []string{flywayTable, flywayRow(1, "1", true), flywayRow(2, "2", false)},
			spec:  PostgresMigrationsSpec{Tool: "flyway", Dir: flywayDir},
			want: PostgresMigrations{Tool: "flyway", Table: "flyway_schema_history", Exists: true, Version: "1",
				Dirty: true, LatestInDir: "2", Files: 2, Pending: 1},
		},
		{
			name: "missing table",
			spec: PostgresMigrationsSpec{Tool: "golang-migrate", Dir: migrateDir},
			want: PostgresMigrations{Tool: "golang-migrate", Table: "schema_migrations", LatestInDir: "4", Files: 4, Pending: 4},
		},
		{
			name:    "missing dir",
			spec:    PostgresMigrationsSpec{Tool: "goose", Dir: filepath.Join(t.TempDir(), "nope")},
			wantErr: "migrations: dir: open ",
		},
		{
			name:    "table of another shape",
			setup:   []string{`CREATE TABLE schema_migrations (v text)`},
			spec:    PostgresMigrationsSpec{Tool: "golang-migrate"},
			wantErr: "migrations: table schema_migrations: ",
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := fmt.Sprintf("m%d", i)
			pg.CreateDB(t, db)
			for _, sql := range tc.setup {
				pg.Exec(t, db, sql)
			}
			obs, ok := pgRunWant(t, pg.Password, pgSpec(pg.DSN(db), func(s *PostgresSpec) { s.Migrations = tc.spec }), tc.wantErr)
			if !ok {
				return
			}
			if obs.Migrations != tc.want {
				t.Errorf("migrations\n got %+v\nwant %+v", obs.Migrations, tc.want)
			}
		})
	}
}

func TestPostgresValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*PostgresSpec)
		wantErr string // "" for valid
	}{
		{name: "minimal", mod: func(s *PostgresSpec) {}},
		{name: "secret placeholder", mod: func(s *PostgresSpec) { s.DSN = "SECRET-db_dsn" }},
		{name: "everything", mod: func(s *PostgresSpec) {
			s.Query, s.MaxRows, s.Timeout = "SELECT 1", 5, time.Second
			s.Migrations = PostgresMigrationsSpec{Tool: "flyway", Table: "app.flyway_schema_history", Dir: "db/migrations"}
		}},
		{name: "no dsn", mod: func(s *PostgresSpec) { s.DSN = " " }, wantErr: "dsn: is required"},
		{name: "bad url", mod: func(s *PostgresSpec) { s.DSN = "postgres://u:p%zz@h/db" }, wantErr: "dsn: not a valid URL"},
		{name: "negative max_rows", mod: func(s *PostgresSpec) { s.MaxRows = -1 }, wantErr: "max_rows: must not be negative"},
		{name: "negative timeout", mod: func(s *PostgresSpec) { s.Timeout = -time.Second }, wantErr: "timeout: must not be negative"},
		{name: "unknown tool", mod: func(s *PostgresSpec) { s.Migrations.Tool = "liquibase" }, wantErr: `migrations.tool: unknown tool "liquibase"`},
		{name: "dir without tool", mod: func(s *PostgresSpec) { s.Migrations.Dir = "db" }, wantErr: "migrations.tool: is required"},
		{name: "bad table", mod: func(s *PostgresSpec) {
			s.Migrations = PostgresMigrationsSpec{Tool: "goose", Table: "x; DROP TABLE y"}
		}, wantErr: "migrations.table: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := pgSpec("postgres://app:hunter2@db.internal:5432/app?sslmode=verify-full", tc.mod)
			err := s.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate: %v, want %q", err, tc.wantErr)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("%T is not a *FieldError", err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "p%zz") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
	k, ok := Default().Lookup("postgres")
	if !ok {
		t.Fatal("postgres not registered")
	}
	spec := k.NewSpec().(*PostgresSpec)
	if spec.MaxRows != defaultMaxRows {
		t.Errorf("default max_rows %d, want %d", spec.MaxRows, defaultMaxRows)
	}
	// Every setting has a snake_case yaml key and a one-line doc.
	for _, typ := range []reflect.Type{reflect.TypeOf(PostgresSpec{}), reflect.TypeOf(PostgresMigrationsSpec{})} {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			y, d := f.Tag.Get("yaml"), f.Tag.Get("doc")
			if y == "" || d == "" || strings.Contains(d, "\n") || y != strings.ToLower(y) {
				t.Errorf("%s.%s: yaml %q doc %q", typ.Name(), f.Name, y, d)
			}
		}
	}
	// The DSN, a secret, is never serialized with the spec.
	if js, _ := json.Marshal(pgSpec("postgres://u:hunter2@h/db", nil)); strings.Contains(string(js), "hunter2") {
		t.Errorf("spec JSON %s shows the dsn", js)
	}
}

func TestPostgresRedact(t *testing.T) {
	const pw = "p@ss w/rd:1"
	dsn := "postgres://app:p%40ss%20w%2Frd%3A1@db:5432/app"
	r := newPGRedactor(dsn, pw)
	for _, msg := range []string{
		"cannot parse `" + dsn + "`: bad",
		"auth failed for password " + pw,
		"url form p%40ss%20w%2Frd%3A1 here",
		"query form p%40ss+w%2Frd%3A1 here",
	} {
		err := r.err(fmt.Errorf("connect: %w", errors.New(msg)))
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "p%40ss") {
			t.Errorf("%q redacted to %q", msg, err)
		}
		if !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("%q redacted to %q, no mask", msg, err)
		}
	}
	wrapped := r.err(fmt.Errorf("query: %w", context.DeadlineExceeded))
	if !errors.Is(wrapped, context.DeadlineExceeded) {
		t.Error("a redacted error no longer unwraps")
	}
}

func TestPostgresCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "2", -1}, {"10", "9", 1}, {"001", "1", 0}, {"1.10", "1.9", 1}, {"1_1", "1.1", 0},
		{"1", "1.0", 0}, {"1.0.1", "1", 1}, {"20240102030405", "20231231235959", 1},
		{"99999999999999999999", "100000000000000000000", -1},
	}
	for _, tc := range tests {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := compareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}
