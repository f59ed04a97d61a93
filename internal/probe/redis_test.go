package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/expect"
	"github.com/prfhq/prf/internal/testenv"
)

const redisTestPassword = "s3cret-Redis-pw"

func redisSpec(addr string, mod func(*RedisSpec)) *RedisSpec {
	s := &RedisSpec{}
	s.defaults()
	s.Address = addr
	s.Timeout = 10 * time.Second
	if mod != nil {
		mod(s)
	}
	return s
}

// redisAdmin is a go-redis client the test uses to change the server.
func redisAdmin(t *testing.T, r *testenv.Redis) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisProbe(t *testing.T) {
	t.Parallel()
	open := testenv.StartRedis(t, testenv.RedisOptions{})
	locked := testenv.StartRedis(t, testenv.RedisOptions{Password: redisTestPassword})
	admin := redisAdmin(t, open)
	ctx := context.Background()

	tests := []struct {
		name    string
		addr    string
		mod     func(*RedisSpec)
		setup   func(t *testing.T)
		wantErr string // substring of the probe error; "" for success
		check   func(t *testing.T, obs RedisObservation)
	}{
		{
			name: "open server: pong and info",
			addr: open.Addr,
			check: func(t *testing.T, obs RedisObservation) {
				if !obs.Pong || obs.PingLatency <= 0 || obs.ConnectLatency <= 0 {
					t.Errorf("pong %t, ping_latency %s, connect_latency %s", obs.Pong, obs.PingLatency, obs.ConnectLatency)
				}
				if obs.AuthRequired || obs.Authenticated || obs.TLS {
					t.Errorf("auth_required %t, authenticated %t, tls %t; want all false", obs.AuthRequired, obs.Authenticated, obs.TLS)
				}
				in := obs.Info
				if in.Role != "master" || in.RedisVersion == "" || in.UptimeSeconds < 0 {
					t.Errorf("role %q, redis_version %q", in.Role, in.RedisVersion)
				}
				if in.UsedMemory <= 0 || in.ConnectedClients < 1 || in.MaxMemory != 0 || in.MemoryRatio != 0 {
					t.Errorf("info %+v: want used_memory > 0, connected_clients >= 1, maxmemory 0, memory_ratio 0", in)
				}
				if obs.WriteCheck != nil {
					t.Errorf("write_check = %+v without write_check set", obs.WriteCheck)
				}
			},
		},
		{
			name: "write check ok, key removed",
			addr: open.Addr,
			mod:  func(s *RedisSpec) { s.WriteCheck = true; s.KeyPrefix = "prf:test:" },
			check: func(t *testing.T, obs RedisObservation) {
				wc := obs.WriteCheck
				if wc == nil || !wc.OK || wc.Error != "" || wc.Latency <= 0 || !strings.HasPrefix(wc.Key, "prf:test:") {
					t.Fatalf("write_check = %+v, want ok with a prf:test: key", wc)
				}
				if n, err := admin.Exists(ctx, wc.Key).Result(); err != nil || n != 0 {
					t.Errorf("probe key still exists (%d, %v)", n, err)
				}
			},
		},
		{
			name: "maxmemory set: ratio is used/max",
			addr: open.Addr,
			setup: func(t *testing.T) {
				if err := admin.ConfigSet(ctx, "maxmemory", "512mb").Err(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { admin.ConfigSet(ctx, "maxmemory", "0") })
			},
			check: func(t *testing.T, obs RedisObservation) {
				in := obs.Info
				if in.MaxMemory != 512<<20 {
					t.Fatalf("maxmemory = %d, want %d", in.MaxMemory, 512<<20)
				}
				want := float64(in.UsedMemory) / float64(in.MaxMemory)
				if in.MemoryRatio != want || in.MemoryRatio <= 0 || in.MemoryRatio >= 0.5 {
					t.Errorf("memory_ratio = %v, want %v (small)", in.MemoryRatio, want)
				}
			},
		},
		{
			name: "out of memory: write check fails, ratio above 1",
			addr: open.Addr,
			mod:  func(s *RedisSpec) { s.WriteCheck = true },
			setup: func(t *testing.T) {
				if err := admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
					t.Fatal(err)
				}
				if err := admin.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { admin.ConfigSet(ctx, "maxmemory", "0") })
			},
			check: func(t *testing.T, obs RedisObservation) {
				wc := obs.WriteCheck
				if wc == nil || wc.OK || !strings.Contains(wc.Error, "OOM") {
					t.Fatalf("write_check = %+v, want not ok with an OOM error", wc)
				}
				if obs.Info.MemoryRatio <= 1 || obs.Info.MaxMemoryPolicy != "noeviction" {
					t.Errorf("memory_ratio %v, policy %q: want > 1, noeviction", obs.Info.MemoryRatio, obs.Info.MaxMemoryPolicy)
				}
			},
		},
		{
			name: "requirepass: right password",
			addr: locked.Addr,
			mod:  func(s *RedisSpec) { s.Password = redisTestPassword; s.WriteCheck = true },
			check: func(t *testing.T, obs RedisObservation) {
				if !obs.Pong || !obs.AuthRequired || !obs.Authenticated {
					t.Errorf("pong %t, auth_required %t, authenticated %t; want all true", obs.Pong, obs.AuthRequired, obs.Authenticated)
				}
				if obs.WriteCheck == nil || !obs.WriteCheck.OK {
					t.Errorf("write_check = %+v", obs.WriteCheck)
				}
				k, _ := Default().Lookup("redis")
				for src, want := range map[string]bool{
					`pong && auth_required && write_check.ok && ping_latency < duration("1s")`: true,
					`info.memory_ratio < 0.8 && info.role == "master"`:                         true,
					`info.evicted_keys > 0`: false,
				} {
					prog, err := expect.Compile(src, k.Fields())
					if err != nil {
						t.Fatalf("%s: %v", src, err)
					}
					if v := prog.Eval(Flatten(obs)); v.Err != nil || v.Pass != want {
						t.Errorf("%s = %t (%v), want %t", src, v.Pass, v.Err, want)
					}
				}
			},
		},
		{
			name:    "requirepass: wrong password",
			addr:    locked.Addr,
			mod:     func(s *RedisSpec) { s.Password = "not-the-" + redisTestPassword },
			wantErr: "WRONGPASS",
		},
		{
			name:    "requirepass: no password",
			addr:    locked.Addr,
			wantErr: "NOAUTH",
		},
		{
			name:    "requirepass: unknown ACL user",
			addr:    locked.Addr,
			mod:     func(s *RedisSpec) { s.Username = "nobody"; s.Password = redisTestPassword },
			wantErr: "WRONGPASS",
		},
		{
			// Redis 7 lets HELLO AUTH through for a default user with
			// nopass; auth_required tells the truth.
			name: "password against a server without one",
			addr: open.Addr,
			mod:  func(s *RedisSpec) { s.Password = redisTestPassword },
			check: func(t *testing.T, obs RedisObservation) {
				if obs.AuthRequired {
					t.Errorf("auth_required = true against a server without requirepass")
				}
			},
		},
		{
			name:    "nothing listening",
			addr:    "", // a refused port, picked when the case runs
			wantErr: "refused",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			var logs []string
			env := Env{Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }}
			if tc.addr == "" {
				tc.addr = refusedAddr(t)
			}
			spec := redisSpec(tc.addr, tc.mod)
			obs, err := probeRedis(ctx, env, spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				t.Logf("error: %v", err)
			} else if err != nil {
				t.Fatalf("probe: %v", err)
			}
			if err != nil && spec.Password != "" && strings.Contains(err.Error(), spec.Password) {
				t.Errorf("error shows the password: %v", err)
			}
			if strings.Contains(strings.Join(logs, "\n"), redisTestPassword) {
				t.Errorf("log shows the password")
			}
			if tc.check != nil {
				tc.check(t, obs)
			}
		})
	}
}

func TestRedisProbeTLS(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t, "PRF Redis test CA")
	leaf := ca.Leaf(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), "localhost", "127.0.0.1")
	certFile, keyFile := testenv.WriteKeyPair(t, t.TempDir(), "redis", leaf)
	srv := testenv.StartRedis(t, testenv.RedisOptions{Password: redisTestPassword, TLSCertFile: certFile, TLSKeyFile: keyFile})
	caFile := ca.WriteFile(t)

	tests := []struct {
		name    string
		mod     func(*RedisSpec)
		wantErr string
	}{
		{"verified with ca_file", func(s *RedisSpec) { s.TLS = true; s.CAFile = caFile }, ""},
		{"unknown authority", func(s *RedisSpec) { s.TLS = true }, "certificate"},
		{"wrong server name", func(s *RedisSpec) { s.TLS = true; s.CAFile = caFile; s.ServerName = "redis.example" }, "certificate"},
		{"plain text against a TLS port", func(s *RedisSpec) { s.Timeout = 2 * time.Second }, "tls: true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := redisSpec(srv.Addr, func(s *RedisSpec) {
				s.Password = redisTestPassword
				tc.mod(s)
			})
			obs, err := probeRedis(context.Background(), Env{}, spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !obs.TLS || obs.TLSVersion != "TLS1.3" || !obs.Pong || !obs.AuthRequired || !obs.Authenticated {
				t.Errorf("tls %t %q, pong %t, auth_required %t, authenticated %t", obs.TLS, obs.TLSVersion, obs.Pong, obs.AuthRequired, obs.Authenticated)
			}
		})
	}
}

func TestRedisProbeTimeout(t *testing.T) {
	t.Parallel()
	addr := silentListener(t)
	spec := redisSpec(addr, func(s *RedisSpec) { s.Timeout = 300 * time.Millisecond })
	start := time.Now()
	_, err := probeRedis(context.Background(), Env{}, spec)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s past a 300ms timeout", d)
	}
}

func TestRedisSpecYAML(t *testing.T) {
	src := `
address: redis.internal:6380
username: probe
password: pw
db: 2
tls: true
ca_file: /etc/prf/redis-ca.pem
write_check: true
key_prefix: "prf:ci:"
timeout: 2s
`
	s := redisSpec("", nil)
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		t.Fatal(err)
	}
	want := RedisSpec{Address: "redis.internal:6380", Username: "probe", Password: "pw", DB: 2, TLS: true,
		TLSOptions: TLSOptions{CAFile: "/etc/prf/redis-ca.pem"}, WriteCheck: true, KeyPrefix: "prf:ci:", Timeout: 2 * time.Second}
	if *s != want {
		t.Errorf("decoded %+v, want %+v", *s, want)
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}

func TestRedisValidate(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*RedisSpec)
		field string
	}{
		{"ok", nil, ""},
		{"ok with tls", func(s *RedisSpec) { s.TLS = true; s.CAFile = "/ca.pem" }, ""},
		{"no address", func(s *RedisSpec) { s.Address = "" }, "address"},
		{"url address", func(s *RedisSpec) { s.Address = "redis://127.0.0.1:6379" }, "address"},
		{"no port", func(s *RedisSpec) { s.Address = "127.0.0.1" }, "address"},
		{"negative db", func(s *RedisSpec) { s.DB = -1 }, "db"},
		{"username without password", func(s *RedisSpec) { s.Username = "probe" }, "password"},
		{"tls options without tls", func(s *RedisSpec) { s.CAFile = "/ca.pem" }, "tls"},
		{"empty key prefix", func(s *RedisSpec) { s.WriteCheck = true; s.KeyPrefix = "" }, "key_prefix"},
		{"negative timeout", func(s *RedisSpec) { s.Timeout = -time.Second }, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkFieldError(t, redisSpec("127.0.0.1:6379", tc.mod).Validate(), tc.field)
		})
	}
}

func TestRedisDefaultsFromRegistry(t *testing.T) {
	k, ok := Default().Lookup("redis")
	if !ok {
		t.Fatal("redis kind not registered")
	}
	s, ok := k.NewSpec().(*RedisSpec)
	if !ok || s.KeyPrefix != "prf:probe:" || s.WriteCheck {
		t.Fatalf("NewSpec() = %#v, want key_prefix prf:probe:, write_check false", k.NewSpec())
	}
	fields := strings.Join(k.Fields(), ",")
	for _, f := range []string{"pong", "ping_latency", "auth_required", "authenticated", "tls", "info", "write_check"} {
		if !strings.Contains(","+fields+",", ","+f+",") {
			t.Errorf("observation fields %s lack %s", fields, f)
		}
	}
}

func TestParseRedisInfo(t *testing.T) {
	text := "# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:42\r\n# Clients\r\nconnected_clients:3\r\n" +
		"# Memory\r\nused_memory:1000\r\nmaxmemory:4000\r\nmaxmemory_policy:allkeys-lru\r\n# Stats\r\nevicted_keys:7\r\n" +
		"# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=10.0.0.2,port=6379,state=online\r\n"
	got := parseRedisInfo(text)
	want := RedisInfo{Role: "master", ConnectedReplicas: 2, UsedMemory: 1000, MaxMemory: 4000, MemoryRatio: 0.25,
		MaxMemoryPolicy: "allkeys-lru", EvictedKeys: 7, UptimeSeconds: 42, RedisVersion: "7.0.15", ConnectedClients: 3}
	if got != want {
		t.Errorf("parseRedisInfo =\n%+v\nwant\n%+v", got, want)
	}
}
