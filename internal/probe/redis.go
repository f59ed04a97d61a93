package probe

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisSpec is the `redis` probe's settings.
type RedisSpec struct {
	Address    string `yaml:"address" json:"address" doc:"host:port of the Redis server"`
	Username   string `yaml:"username" json:"username,omitempty" doc:"ACL user name (default: the default user)"`
	Password   string `yaml:"password" json:"-" doc:"password (use ${secrets.NAME}); sent with HELLO/AUTH, never observed or logged"`
	DB         int    `yaml:"db" json:"db,omitempty" doc:"database number to SELECT (default 0)"`
	TLS        bool   `yaml:"tls" json:"tls,omitempty" doc:"connect over TLS"`
	TLSOptions `yaml:",inline"`
	WriteCheck bool          `yaml:"write_check" json:"write_check,omitempty" doc:"SET a probe key with a TTL, GET it back and DEL it (default false: read-only)"`
	KeyPrefix  string        `yaml:"key_prefix" json:"key_prefix,omitempty" doc:"prefix of the write_check key (default \"prf:probe:\")"`
	Timeout    time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"whole-probe timeout (default: the checkpoint's)"`
}

const defaultRedisKeyPrefix = "prf:probe:"

func (s *RedisSpec) defaults() { s.KeyPrefix = defaultRedisKeyPrefix }

// Validate implements Spec.
func (s *RedisSpec) Validate() error {
	if strings.Contains(s.Address, "://") {
		return Fieldf("address", "must be host:port, not a URL")
	}
	if err := checkAddress("address", s.Address); err != nil {
		return err
	}
	if s.DB < 0 {
		return Fieldf("db", "must not be negative")
	}
	if s.Username != "" && s.Password == "" {
		return Fieldf("password", "is required with username")
	}
	if !s.TLS && (s.CAFile != "" || s.InsecureSkipVerify || s.ServerName != "") {
		return Fieldf("tls", "must be true when ca_file, insecure_skip_verify or server_name is set")
	}
	if s.WriteCheck && s.KeyPrefix == "" {
		return Fieldf("key_prefix", "must not be empty with write_check")
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// RedisObservation is what a `redis` probe saw.
type RedisObservation struct {
	Pong           bool          `json:"pong"`            // PING answered PONG
	ConnectLatency time.Duration `json:"connect_latency"` // dial, TLS, HELLO/AUTH, SELECT and the first PING
	PingLatency    time.Duration `json:"ping_latency"`    // one PING round trip on the open connection
	// AuthRequired: a connection without credentials was refused with
	// NOAUTH. Checked with a second connection when a password is set.
	AuthRequired  bool             `json:"auth_required"`
	Authenticated bool             `json:"authenticated"` // credentials were given and accepted
	TLS           bool             `json:"tls"`
	TLSVersion    string           `json:"tls_version,omitempty"` // "TLS1.3"
	Info          RedisInfo        `json:"info"`
	WriteCheck    *RedisWriteCheck `json:"write_check"` // nil unless write_check is set
}

// RedisInfo holds facts from INFO. Error is set (and the rest zero) when
// INFO is refused, e.g. renamed away on a managed service.
type RedisInfo struct {
	Role              string  `json:"role"` // "master" or "slave"
	ConnectedReplicas int64   `json:"connected_replicas"`
	UsedMemory        int64   `json:"used_memory"`  // bytes
	MaxMemory         int64   `json:"maxmemory"`    // bytes; 0 means no limit
	MemoryRatio       float64 `json:"memory_ratio"` // used_memory / maxmemory; 0 when maxmemory is 0
	MaxMemoryPolicy   string  `json:"maxmemory_policy"`
	EvictedKeys       int64   `json:"evicted_keys"`
	UptimeSeconds     int64   `json:"uptime_seconds"`
	RedisVersion      string  `json:"redis_version"`
	ConnectedClients  int64   `json:"connected_clients"`
	Error             string  `json:"error,omitempty"`
}

// RedisWriteCheck is the SET/GET/DEL round trip of a probe key.
type RedisWriteCheck struct {
	OK      bool          `json:"ok"`
	Key     string        `json:"key"`
	Latency time.Duration `json:"latency"` // SET + GET + DEL
	Error   string        `json:"error"`
}

func probeRedis(ctx context.Context, env Env, s *RedisSpec) (RedisObservation, error) {
	var obs RedisObservation
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	var tlsCfg *tls.Config
	if s.TLS {
		cfg, err := s.TLSOptions.Config()
		if err != nil {
			return obs, fmt.Errorf("redis %s: tls options: %w", s.Address, err)
		}
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(s.Address)
			cfg.ServerName = host
		}
		cfg.MinVersion = tls.VersionTLS12
		tlsCfg = cfg
	}
	hide := func(err error) error { return redactSecret(err, s.Password) }

	// Dial (and handshake) here rather than inside go-redis, so a refused
	// port or a bad certificate is one attempt and one clear error, not
	// retries and lines on go-redis's own logger.
	start := time.Now()
	first, cs, err := dialRedis(ctx, "tcp", s.Address, tlsCfg)
	if err != nil {
		err = ctxError(ctx, err)
		env.logf("redis %s: %v", s.Address, err)
		return obs, fmt.Errorf("redis %s: %w", s.Address, err)
	}
	if cs != nil {
		obs.TLS = true
		obs.TLSVersion = tlsVersionName(cs.Version)
	}
	var mu sync.Mutex
	takeFirst := func() net.Conn {
		mu.Lock()
		defer mu.Unlock()
		c := first
		first = nil
		return c
	}
	defer func() {
		if c := takeFirst(); c != nil {
			c.Close()
		}
	}()
	client := redis.NewClient(&redis.Options{
		Addr:     s.Address,
		Username: s.Username,
		Password: s.Password,
		DB:       s.DB,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if c := takeFirst(); c != nil {
				return c, nil
			}
			c, _, err := dialRedis(ctx, network, addr, tlsCfg)
			return c, err
		},
		PoolSize:                 1,
		MaxRetries:               -1, // one attempt: a probe reports what it saw
		DialerRetries:            1,
		ContextTimeoutEnabled:    true,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	defer client.Close()

	err = client.Ping(ctx).Err()
	obs.ConnectLatency = time.Since(start)
	if err != nil {
		err = hide(redisError(ctx, err, s.Password != "", s.TLS))
		env.logf("redis %s: %v", s.Address, err)
		return obs, fmt.Errorf("redis %s: %w", s.Address, err)
	}
	obs.Authenticated = s.Password != ""

	start = time.Now()
	pong, err := client.Ping(ctx).Result()
	obs.PingLatency = time.Since(start)
	if err != nil {
		err = hide(ctxError(ctx, err))
		return obs, fmt.Errorf("redis %s: ping: %w", s.Address, err)
	}
	obs.Pong = pong == "PONG"

	if s.Password != "" {
		// Would the server have let us in without the password? (Without
		// one, the PING above answered: it was not required.)
		required, err := redisAuthRequired(ctx, s.Address, tlsCfg)
		if err != nil {
			env.logf("redis %s: unauthenticated check: %v", s.Address, err)
		}
		obs.AuthRequired = required
	}

	// INFO's default sections: several section arguments need Redis 7.
	if info, err := client.Info(ctx).Result(); err != nil {
		if ctx.Err() != nil {
			return obs, fmt.Errorf("redis %s: info: %w", s.Address, ctxError(ctx, err))
		}
		obs.Info.Error = hide(err).Error()
		env.logf("redis %s: info: %v", s.Address, obs.Info.Error)
	} else {
		obs.Info = parseRedisInfo(info)
	}

	if s.WriteCheck {
		obs.WriteCheck = redisWriteCheck(ctx, client, s.KeyPrefix)
		if obs.WriteCheck.Error != "" {
			obs.WriteCheck.Error = hide(errors.New(obs.WriteCheck.Error)).Error()
			if ctx.Err() != nil {
				return obs, fmt.Errorf("redis %s: write check: %w", s.Address, ctx.Err())
			}
		}
	}
	env.logf("redis %s: PONG in %s, version %s, role %s, tls %t", s.Address, obs.PingLatency, obs.Info.RedisVersion, obs.Info.Role, obs.TLS)
	return obs, nil
}

// dialRedis dials addr, with TLS when cfg is set, and returns the handshake
// state so the observation can name the TLS version.
func dialRedis(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, *tls.ConnectionState, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil || cfg == nil {
		return conn, nil, err
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("tls handshake: %w", err)
	}
	cs := tc.ConnectionState()
	return tc, &cs, nil
}

// redisError turns the server's auth refusals and a TLS-only port's
// hang-up into clear messages.
func redisError(ctx context.Context, err error, havePassword, useTLS bool) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "NOAUTH") && havePassword:
		return fmt.Errorf("authentication failed: %w", err)
	case strings.Contains(msg, "NOAUTH"):
		return fmt.Errorf("no password set, but the server requires authentication: %w", err)
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"):
		return fmt.Errorf("authentication failed: %w", err)
	case !useTLS && ctx.Err() == nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		return fmt.Errorf("server closed the connection (a TLS-only port? then set tls: true): %w", err)
	}
	return ctxError(ctx, err)
}

// redisAuthRequired opens a connection without credentials and reports
// whether PING is refused with NOAUTH.
func redisAuthRequired(ctx context.Context, addr string, cfg *tls.Config) (bool, error) {
	conn, _, err := dialRedis(ctx, "tcp", addr, cfg)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return false, err
	}
	line, err := bufio.NewReader(io.LimitReader(conn, 2048)).ReadString('\n')
	if err != nil {
		return false, err
	}
	switch {
	case strings.HasPrefix(line, "+PONG"):
		return false, nil
	case strings.HasPrefix(line, "-NOAUTH"):
		return true, nil
	}
	return false, fmt.Errorf("unexpected reply %q", strings.TrimSpace(line))
}

func redisWriteCheck(ctx context.Context, c *redis.Client, prefix string) *RedisWriteCheck {
	var b [8]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	wc := &RedisWriteCheck{Key: prefix + token}
	ttl := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl) + time.Second; d < ttl {
			ttl = max(d, time.Second)
		}
	}
	start := time.Now()
	defer func() { wc.Latency = time.Since(start) }()
	if err := c.Set(ctx, wc.Key, token, ttl).Err(); err != nil {
		wc.Error = "set: " + err.Error()
		return wc
	}
	got, err := c.Get(ctx, wc.Key).Result()
	// Delete even when GET failed; the TTL covers a failed DEL.
	delErr := c.Del(ctx, wc.Key).Err()
	switch {
	case err != nil:
		wc.Error = "get: " + err.Error()
	case got != token:
		wc.Error = "get: read back a different value"
	case delErr != nil:
		wc.Error = "del: " + delErr.Error()
	default:
		wc.OK = true
	}
	return wc
}

// parseRedisInfo reads the fields PRF observes from INFO's "key:value" lines.
func parseRedisInfo(text string) RedisInfo {
	kv := make(map[string]string)
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			kv[k] = v
		}
	}
	num := func(k string) int64 {
		n, _ := strconv.ParseInt(kv[k], 10, 64)
		return n
	}
	info := RedisInfo{
		Role:              kv["role"],
		ConnectedReplicas: num("connected_slaves"),
		UsedMemory:        num("used_memory"),
		MaxMemory:         num("maxmemory"),
		MaxMemoryPolicy:   kv["maxmemory_policy"],
		EvictedKeys:       num("evicted_keys"),
		UptimeSeconds:     num("uptime_in_seconds"),
		RedisVersion:      kv["redis_version"],
		ConnectedClients:  num("connected_clients"),
	}
	if info.MaxMemory > 0 {
		info.MemoryRatio = float64(info.UsedMemory) / float64(info.MaxMemory)
	}
	return info
}

// redactSecret replaces any occurrence of secret in err's message. The
// result still matches context errors with errors.Is, but does not unwrap to
// the original (whose message holds the secret).
func redactSecret(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), secret, "[redacted]"), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Is(target error) bool {
	return (target == context.DeadlineExceeded || target == context.Canceled) && errors.Is(e.err, target)
}
