package demo

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Environment variables the demo checklist ([Checklist]) reads the
// catalogue's secrets from: references, never literals. `prf demo target`
// reads the demo login's password from PasswordEnv too.
const (
	PasswordEnv      = "PRF_DEMO_PASSWORD"       // auth_password: the demo login's password
	RedisPasswordEnv = "PRF_DEMO_REDIS_PASSWORD" // redis_password
	DatabaseDSNEnv   = "PRF_DEMO_DB_DSN"         // database_dsn
	APITokenEnv      = "PRF_DEMO_API_TOKEN"      // api_token: a bearer token of the demo user
)

var secretEnvs = map[string]string{
	"auth_password":  PasswordEnv,
	"redis_password": RedisPasswordEnv,
	"database_dsn":   DatabaseDSNEnv,
	"api_token":      APITokenEnv,
}

// SecretEnv is the environment variable the demo checklist reads the
// catalogue secret name from: one of the constants above, or
// PRF_DEMO_<NAME>.
func SecretEnv(name string) string {
	if env, ok := secretEnvs[name]; ok {
		return env
	}
	return "PRF_DEMO_" + strings.ToUpper(name)
}

// Checklist is the demo's prf.yaml: the built-in catalogue with cfg's
// variables, and its secrets as references to the environment variables
// [SecretEnv] names (their values are not written; prf demo hands them to
// the run directly).
func Checklist(cfg CatalogConfig) []byte {
	var b strings.Builder
	b.WriteString("# The built-in catalogue, configured for prf demo's reference system.\n")
	if len(cfg.Secrets) > 0 {
		envs := make([]string, 0, len(cfg.Secrets))
		for _, k := range slices.Sorted(maps.Keys(cfg.Secrets)) {
			envs = append(envs, SecretEnv(k))
		}
		fmt.Fprintf(&b, "# Secrets come from the environment: %s.\n", strings.Join(envs, ", "))
	}
	b.WriteString("version: 1\nname: prf-demo\ninclude: [catalog]\nvars:\n")
	for _, k := range slices.Sorted(maps.Keys(cfg.Vars)) {
		fmt.Fprintf(&b, "  %s: %s\n", k, strconv.Quote(cfg.Vars[k]))
	}
	if len(cfg.Secrets) > 0 {
		b.WriteString("secrets:\n")
		for _, k := range slices.Sorted(maps.Keys(cfg.Secrets)) {
			fmt.Fprintf(&b, "  %s: env:%s\n", k, SecretEnv(k))
		}
	}
	return []byte(b.String())
}
