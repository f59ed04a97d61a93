package probe

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// PostgresSpec is the `postgres` probe's settings.
type PostgresSpec struct {
	DSN        string                 `yaml:"dsn" json:"-" doc:"connection string, URL or key=value (sslmode, sslrootcert, … go here); normally ${secrets.db_dsn}: never logged or observed"`
	Query      string                 `yaml:"query" json:"query,omitempty" doc:"SQL run in a read-only transaction; its rows are observed under query (default: none)"`
	MaxRows    int                    `yaml:"max_rows" json:"max_rows,omitempty" doc:"most query rows kept; the rest are counted and truncated set (default 100)"`
	Migrations PostgresMigrationsSpec `yaml:"migrations" json:"migrations,omitempty" doc:"compare the schema version a migration tool recorded with a directory of migration files"`
	Timeout    time.Duration          `yaml:"timeout" json:"timeout,omitempty" doc:"whole-probe timeout, connect and queries included (default: the checkpoint's)"`
}

// PostgresMigrationsSpec names a migration tool's history table and,
// optionally, the directory of migration files it applies.
type PostgresMigrationsSpec struct {
	Tool  string `yaml:"tool" json:"tool,omitempty" doc:"golang-migrate, goose or flyway (default: no migrations check)"`
	Table string `yaml:"table" json:"table,omitempty" doc:"history table, optionally schema-qualified (default: schema_migrations, goose_db_version or flyway_schema_history by tool)"`
	Dir   string `yaml:"dir" json:"dir,omitempty" doc:"directory of migration files; the highest version there, by the tool's file naming, is compared with the applied one"`
}

const defaultMaxRows = 100

// The migration tools and their default history tables.
var postgresMigrationTables = map[string]string{
	"golang-migrate": "schema_migrations",
	"goose":          "goose_db_version",
	"flyway":         "flyway_schema_history",
}

var postgresTableRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$`)

func (s *PostgresSpec) defaults() { s.MaxRows = defaultMaxRows }

// Validate implements Spec. The DSN is checked only for its shape: at load
// time a secret reference stands in for it.
func (s *PostgresSpec) Validate() error {
	if strings.TrimSpace(s.DSN) == "" {
		return Fieldf("dsn", "is required")
	}
	if strings.HasPrefix(s.DSN, "postgres://") || strings.HasPrefix(s.DSN, "postgresql://") {
		if _, err := url.Parse(s.DSN); err != nil {
			return Fieldf("dsn", "not a valid URL") // never echo it: it holds a password
		}
	}
	if s.MaxRows < 0 {
		return Fieldf("max_rows", "must not be negative")
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	m := s.Migrations
	if m.Tool == "" {
		if m.Table != "" || m.Dir != "" {
			return Fieldf("migrations.tool", "is required when table or dir is set (one of golang-migrate, goose, flyway)")
		}
		return nil
	}
	if _, ok := postgresMigrationTables[m.Tool]; !ok {
		return Fieldf("migrations.tool", "unknown tool %q (one of golang-migrate, goose, flyway)", m.Tool)
	}
	if m.Table != "" && !postgresTableRE.MatchString(m.Table) {
		return Fieldf("migrations.table", "%q is not a table name (name or schema.name)", m.Table)
	}
	return nil
}

// PostgresObservation is what a `postgres` probe saw.
type PostgresObservation struct {
	ServerVersion    string        `json:"server_version"`     // e.g. "15.8 (Debian 15.8-0+deb12u1)"
	ServerVersionNum int           `json:"server_version_num"` // e.g. 150008
	Database         string        `json:"database"`           // current_database()
	User             string        `json:"user"`               // current_user
	Latency          time.Duration `json:"latency"`            // connect plus the first query
	SSL              bool          `json:"ssl"`                // this connection uses TLS (pg_stat_ssl.ssl)
	SSLVersion       string        `json:"ssl_version"`        // e.g. "TLSv1.3"; "" without TLS
	SSLCipher        string        `json:"ssl_cipher"`
	SSLSetting       string        `json:"ssl_setting"` // SHOW ssl: "on" or "off"

	Query       PostgresQuery       `json:"query"`
	Connections PostgresConnections `json:"connections"`
	Replication PostgresReplication `json:"replication"`
	Archiver    PostgresArchiver    `json:"archiver"`
	Migrations  PostgresMigrations  `json:"migrations"`
}

// PostgresQuery is the result of the spec's query ("" text when none).
type PostgresQuery struct {
	Text      string           `json:"text"`
	Columns   []string         `json:"columns"`
	Rows      []map[string]any `json:"rows"`      // at most max_rows, keyed by column name
	RowCount  int              `json:"row_count"` // every row the query returned, kept or not
	Truncated bool             `json:"truncated"` // row_count > max_rows
	Latency   time.Duration    `json:"latency"`   // query sent to last row read
}

// PostgresConnections compares client connections with max_connections.
type PostgresConnections struct {
	InUse int     `json:"in_use"` // client backends in pg_stat_activity, this probe's included
	Max   int     `json:"max"`    // max_connections
	Ratio float64 `json:"ratio"`  // in_use / max
}

// PostgresReplication is the server's replication role and lag.
type PostgresReplication struct {
	IsReplica bool `json:"is_replica"` // pg_is_in_recovery()
	Replicas  int  `json:"replicas"`   // rows in pg_stat_replication
	// On a primary the largest replay_lag of its replicas (0 once they
	// have caught up); on a replica the time since the last replayed
	// transaction (0 when all received WAL is replayed); -1 when not
	// applicable (no replicas) or not visible (needs pg_monitor).
	MaxLagSeconds float64 `json:"max_lag_seconds"`
}

// PostgresArchiver is pg_stat_archiver: WAL archiving for backups and PITR.
type PostgresArchiver struct {
	Mode                   string    `json:"mode"` // archive_mode: "off", "on", "always"
	ArchivedCount          int64     `json:"archived_count"`
	FailedCount            int64     `json:"failed_count"`
	LastArchivedWAL        string    `json:"last_archived_wal"`
	LastArchivedAt         time.Time `json:"last_archived_at"` // zero when never
	LastFailedWAL          string    `json:"last_failed_wal"`
	LastFailedAt           time.Time `json:"last_failed_at"`            // zero when never
	LastArchivedAgeSeconds float64   `json:"last_archived_age_seconds"` // -1 when never
}

// PostgresMigrations is the schema version a migration tool recorded,
// against the migration files in dir.
type PostgresMigrations struct {
	Tool        string `json:"tool"`          // "" when no migrations check is configured
	Table       string `json:"table"`         // the history table read
	Exists      bool   `json:"exists"`        // the history table exists
	Version     string `json:"version"`       // highest applied version; "" when none
	Dirty       bool   `json:"dirty"`         // golang-migrate's dirty flag; flyway: a failed migration is recorded
	LatestInDir string `json:"latest_in_dir"` // highest version among the files in dir; "" without dir
	Files       int    `json:"files"`         // migration files found in dir
	Pending     int    `json:"pending"`       // files in dir newer than version
	UpToDate    bool   `json:"up_to_date"`    // exists, a version is applied, not dirty, nothing pending
}

func probePostgres(ctx context.Context, env Env, s *PostgresSpec) (PostgresObservation, error) {
	obs := PostgresObservation{
		Query:       PostgresQuery{Columns: []string{}, Rows: []map[string]any{}},
		Replication: PostgresReplication{MaxLagSeconds: -1},
		Archiver:    PostgresArchiver{LastArchivedAgeSeconds: -1},
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	cfg, err := pgx.ParseConfig(s.DSN)
	if err != nil {
		return obs, newPGRedactor(s.DSN, "").err(fmt.Errorf("dsn: %w", err))
	}
	red := newPGRedactor(s.DSN, cfg.Password)
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "prf"
	}
	// One round trip per query and no named prepared statements, so the
	// probe also works through PgBouncer in transaction mode.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	target := fmt.Sprintf("%s:%d/%s as %s", cfg.Host, cfg.Port, cfg.Database, cfg.User)

	start := time.Now()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		env.logf("connect %s: failed after %s", red.str(target), time.Since(start).Round(time.Millisecond))
		return obs, red.err(ctxError(ctx, fmt.Errorf("connect: %w", err)))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()

	step := func(name string, fn func() error) error {
		if err := fn(); err != nil {
			return red.err(ctxError(ctx, fmt.Errorf("%s: %w", name, err)))
		}
		return nil
	}
	if err := step("server facts", func() error { return postgresFacts(ctx, conn, &obs) }); err != nil {
		return obs, err
	}
	obs.Latency = time.Since(start)
	env.logf("connected to %s in %s: PostgreSQL %s, ssl %v %s", red.str(target), obs.Latency.Round(time.Microsecond), obs.ServerVersion, obs.SSL, obs.SSLVersion)

	if err := step("replication", func() error { return postgresReplication(ctx, env, conn, &obs.Replication) }); err != nil {
		return obs, err
	}
	if err := step("archiver", func() error { return postgresArchiver(ctx, conn, &obs.Archiver) }); err != nil {
		return obs, err
	}
	if s.Migrations.Tool != "" {
		if err := step("migrations", func() error { return postgresMigrations(ctx, env, conn, s.Migrations, &obs.Migrations) }); err != nil {
			return obs, err
		}
	}
	if strings.TrimSpace(s.Query) != "" {
		if err := step("query", func() error { return postgresQuery(ctx, conn, s.Query, s.MaxRows, &obs.Query) }); err != nil {
			return obs, err
		}
		env.logf("query: %d rows (%d kept) in %s", obs.Query.RowCount, len(obs.Query.Rows), obs.Query.Latency.Round(time.Microsecond))
	}
	return obs, nil
}

// postgresFacts is the first query: version, TLS and connection counts in
// one round trip.
func postgresFacts(ctx context.Context, conn *pgx.Conn, obs *PostgresObservation) error {
	const q = `SELECT current_setting('server_version'), current_setting('server_version_num')::int,
	current_database(), current_user::text, current_setting('ssl'),
	coalesce(s.ssl, false), coalesce(s.version, ''), coalesce(s.cipher, ''),
	pg_is_in_recovery(), current_setting('max_connections')::int,
	(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int,
	current_setting('archive_mode')
FROM (SELECT 1) AS one LEFT JOIN pg_stat_ssl AS s ON s.pid = pg_backend_pid()`
	c := &obs.Connections
	err := conn.QueryRow(ctx, q).Scan(&obs.ServerVersion, &obs.ServerVersionNum,
		&obs.Database, &obs.User, &obs.SSLSetting,
		&obs.SSL, &obs.SSLVersion, &obs.SSLCipher,
		&obs.Replication.IsReplica, &c.Max, &c.InUse, &obs.Archiver.Mode)
	if err != nil {
		return err
	}
	if c.Max > 0 {
		c.Ratio = float64(c.InUse) / float64(c.Max)
	}
	return nil
}

func postgresReplication(ctx context.Context, env Env, conn *pgx.Conn, r *PostgresReplication) error {
	// For a role without pg_read_all_stats (pg_monitor) the rows are there
	// but their columns are NULL: count(state) tells the two apart.
	const q = `SELECT count(*)::int, count(state)::int, extract(epoch FROM max(replay_lag))::float8 FROM pg_stat_replication`
	var visible int
	var lag *float64
	if err := conn.QueryRow(ctx, q).Scan(&r.Replicas, &visible, &lag); err != nil {
		return err
	}
	if r.IsReplica {
		const rq = `SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
	WHEN pg_last_xact_replay_timestamp() IS NULL THEN NULL
	ELSE greatest(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)::float8 END`
		var rlag *float64
		if err := conn.QueryRow(ctx, rq).Scan(&rlag); err != nil {
			return err
		}
		if rlag != nil {
			r.MaxLagSeconds = math.Max(*rlag, 0)
		}
		return nil
	}
	switch {
	case r.Replicas == 0:
	case lag != nil:
		r.MaxLagSeconds = *lag
	case visible > 0:
		r.MaxLagSeconds = 0 // replay_lag turns NULL once a replica has caught up and WAL is idle
	default:
		env.logf("replication: %d replicas, lag not visible to this role (grant pg_monitor)", r.Replicas)
	}
	return nil
}

func postgresArchiver(ctx context.Context, conn *pgx.Conn, a *PostgresArchiver) error {
	const q = `SELECT archived_count, failed_count, coalesce(last_archived_wal, ''), last_archived_time,
	coalesce(last_failed_wal, ''), last_failed_time,
	CASE WHEN last_archived_time IS NULL THEN -1
		ELSE greatest(extract(epoch FROM clock_timestamp() - last_archived_time), 0) END::float8
FROM pg_stat_archiver`
	var archived, failed *time.Time
	err := conn.QueryRow(ctx, q).Scan(&a.ArchivedCount, &a.FailedCount, &a.LastArchivedWAL, &archived,
		&a.LastFailedWAL, &failed, &a.LastArchivedAgeSeconds)
	if err != nil {
		return err
	}
	if archived != nil {
		a.LastArchivedAt = *archived
	}
	if failed != nil {
		a.LastFailedAt = *failed
	}
	return nil
}

func postgresQuery(ctx context.Context, conn *pgx.Conn, sql string, maxRows int, out *PostgresQuery) error {
	out.Text = sql
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	start := time.Now()
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return err
	}
	defer rows.Close()
	names := postgresColumns(rows.FieldDescriptions())
	out.Columns = names
	for rows.Next() {
		out.RowCount++
		if len(out.Rows) >= maxRows {
			out.Truncated = true
			continue
		}
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		row := make(map[string]any, len(vals))
		for i, v := range vals {
			if i < len(names) {
				row[names[i]] = postgresValue(v)
			}
		}
		out.Rows = append(out.Rows, row)
	}
	rows.Close()
	out.Latency = time.Since(start)
	return rows.Err()
}

// postgresColumns names the columns, suffixing repeated names ("?column?",
// "?column?_2") so that no value is lost in a row map.
func postgresColumns(fds []pgconn.FieldDescription) []string {
	names := make([]string, len(fds))
	seen := make(map[string]bool, len(fds))
	for i, fd := range fds {
		name := fd.Name
		for n := 2; seen[name]; n++ {
			name = fmt.Sprintf("%s_%d", fd.Name, n)
		}
		seen[name] = true
		names[i] = name
	}
	return names
}

// postgresValue turns what pgx decoded into a JSON-friendly value: nil,
// bool, int64, float64, string, time.Time, time.Duration, []any or
// map[string]any.
func postgresValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64, float64, time.Time:
		return x
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return float64(x)
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return `\x` + hex.EncodeToString(x)
	case [16]byte: // uuid
		h := hex.EncodeToString(x[:])
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	case pgtype.Numeric:
		return postgresNumeric(x)
	case pgtype.Interval:
		if !x.Valid {
			return nil
		}
		// Months as 30 days, as PostgreSQL's own justify_days does.
		return time.Duration(x.Microseconds)*time.Microsecond +
			time.Duration(x.Days)*24*time.Hour + time.Duration(x.Months)*30*24*time.Hour
	case pgtype.Time:
		if !x.Valid {
			return nil
		}
		d := time.Duration(x.Microseconds) * time.Microsecond
		return fmt.Sprintf("%02d:%02d:%02d.%06d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60, x.Microseconds%1e6)
	case netip.Prefix:
		if x.IsSingleIP() {
			return x.Addr().String()
		}
		return x.String()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = postgresValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = postgresValue(e)
		}
		return out
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// postgresNumeric is an int64 when the number is whole and fits, else a
// float64; NaN and the infinities are strings, as in PostgreSQL's output.
func postgresNumeric(n pgtype.Numeric) any {
	switch {
	case !n.Valid:
		return nil
	case n.NaN:
		return "NaN"
	case n.InfinityModifier == pgtype.Infinity:
		return "Infinity"
	case n.InfinityModifier == pgtype.NegativeInfinity:
		return "-Infinity"
	}
	if n.Exp >= 0 && n.Int.IsInt64() {
		if i, err := n.Int64Value(); err == nil && i.Valid {
			return i.Int64
		}
	}
	f, err := n.Float64Value()
	if err != nil || !f.Valid {
		b, _ := n.MarshalJSON()
		return string(b)
	}
	return f.Float64
}

func postgresMigrations(ctx context.Context, env Env, conn *pgx.Conn, spec PostgresMigrationsSpec, m *PostgresMigrations) error {
	m.Tool, m.Table = spec.Tool, spec.Table
	if m.Table == "" {
		m.Table = postgresMigrationTables[spec.Tool]
	}
	var files []string
	if spec.Dir != "" {
		var err error
		if files, err = migrationFiles(spec.Tool, spec.Dir); err != nil {
			return err
		}
		m.Files = len(files)
		if len(files) > 0 {
			m.LatestInDir = files[len(files)-1]
		}
	}
	ident := pgx.Identifier(strings.Split(m.Table, ".")).Sanitize()
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, ident).Scan(&m.Exists); err != nil {
		return err
	}
	if m.Exists {
		var err error
		switch spec.Tool {
		case "golang-migrate":
			err = migrateVersion(ctx, conn, ident, m)
		case "goose":
			err = gooseVersion(ctx, conn, ident, m)
		case "flyway":
			err = flywayVersion(ctx, conn, ident, m)
		}
		if err != nil {
			return fmt.Errorf("table %s: %w", m.Table, err)
		}
	}
	for _, f := range files {
		if m.Version == "" || compareVersions(f, m.Version) > 0 {
			m.Pending++
		}
	}
	m.UpToDate = m.Exists && m.Version != "" && !m.Dirty && m.Pending == 0
	env.logf("migrations (%s, %s): exists %v, version %q, dirty %v, latest in dir %q, %d pending",
		m.Tool, m.Table, m.Exists, m.Version, m.Dirty, m.LatestInDir, m.Pending)
	return nil
}

// migrateVersion reads golang-migrate's one-row table (version, dirty); an
// empty table means nothing is applied.
func migrateVersion(ctx context.Context, conn *pgx.Conn, table string, m *PostgresMigrations) error {
	var v int64
	err := conn.QueryRow(ctx, `SELECT version, dirty FROM `+table+` LIMIT 1`).Scan(&v, &m.Dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	m.Version = strconv.FormatInt(v, 10)
	return nil
}

// gooseVersion follows goose's own rule: newest row first, a version whose
// newest row says not applied (rolled back) is skipped.
func gooseVersion(ctx context.Context, conn *pgx.Conn, table string, m *PostgresMigrations) error {
	rows, err := conn.Query(ctx, `SELECT version_id, is_applied FROM `+table+` ORDER BY id DESC`)
	if err != nil {
		return err
	}
	type row struct {
		v       int64
		applied bool
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.v, &x.applied)
		return x, err
	})
	if err != nil {
		return err
	}
	skip := map[int64]bool{}
	for _, r := range all {
		if skip[r.v] {
			continue
		}
		if r.applied {
			m.Version = strconv.FormatInt(r.v, 10)
			return nil
		}
		skip[r.v] = true
	}
	return nil
}

// flywayVersion is the highest successful versioned migration; a failed
// one (success false) makes the schema dirty until `flyway repair`.
func flywayVersion(ctx context.Context, conn *pgx.Conn, table string, m *PostgresMigrations) error {
	rows, err := conn.Query(ctx, `SELECT version, success FROM `+table+` WHERE version IS NOT NULL`)
	if err != nil {
		return err
	}
	type row struct {
		v  string
		ok bool
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.v, &x.ok)
		return x, err
	})
	if err != nil {
		return err
	}
	for _, r := range all {
		if !r.ok {
			m.Dirty = true
			continue
		}
		if m.Version == "" || compareVersions(r.v, m.Version) > 0 {
			m.Version = r.v
		}
	}
	return nil
}

var migrationFileRE = map[string]*regexp.Regexp{
	// {version}_{title}.up.{ext}
	"golang-migrate": regexp.MustCompile(`^([0-9]+)_.*\.up\.[^.]+$`),
	// {version}_{name}.sql or .go
	"goose": regexp.MustCompile(`^([0-9]+)_.+\.(?:sql|go)$`),
	// V{version}__{description}.sql, version parts split by . or _
	"flyway": regexp.MustCompile(`^V([0-9]+(?:[._][0-9]+)*)__.*\.sql$`),
}

// migrationFiles lists the versions of the migration files in dir, by the
// tool's naming, lowest first.
func migrationFiles(tool, dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	re := migrationFileRE[tool]
	var out []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, "_test.go") {
			continue
		}
		sm := re.FindStringSubmatch(name)
		if sm == nil {
			continue
		}
		v := sm[1]
		switch tool {
		case "flyway":
			v = strings.ReplaceAll(v, "_", ".")
		default:
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				v = strconv.FormatUint(n, 10) // goose's 00001 is version 1
			}
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool { return compareVersions(out[i], out[j]) < 0 })
	return out, nil
}

// compareVersions compares dotted versions part by part, numerically where
// both parts are numbers ("1.10" > "1.9", "001" == "1"); a missing part
// counts as 0.
func compareVersions(a, b string) int {
	pa := strings.Split(strings.ReplaceAll(a, "_", "."), ".")
	pb := strings.Split(strings.ReplaceAll(b, "_", "."), ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		x, y := "0", "0"
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if c := compareVersionPart(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func compareVersionPart(x, y string) int {
	if isDigits(x) && isDigits(y) {
		x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(x, y)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// pgRedactor removes the DSN and its passwords from error and log text.
type pgRedactor struct{ secrets []string }

func newPGRedactor(dsn, password string) *pgRedactor {
	r := &pgRedactor{}
	r.add(dsn)
	r.add(password)
	return r
}

func (r *pgRedactor) add(secret string) {
	if secret == "" {
		return
	}
	for _, s := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), url.UserPassword("", secret).String()[1:]} {
		if s != "" && s != ":" {
			r.secrets = append(r.secrets, s)
		}
	}
	// Longest first, so a DSN goes whole before its password is looked for.
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

func (r *pgRedactor) str(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "xxxxx")
	}
	return s
}

func (r *pgRedactor) err(err error) error {
	if err == nil {
		return nil
	}
	return &pgRedactedError{msg: r.str(err.Error()), err: err}
}

// pgRedactedError is an error whose text had secrets removed; it still
// unwraps, so errors.Is(err, context.DeadlineExceeded) holds.
type pgRedactedError struct {
	msg string
	err error
}

func (e *pgRedactedError) Error() string { return e.msg }
func (e *pgRedactedError) Unwrap() error { return e.err }
