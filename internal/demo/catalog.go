package demo

import (
	"fmt"
	"net"
	"net/url"
	"time"
)

// CatalogConfig says where the reference system is in the built-in
// catalogue's variable names, so that the whole catalogue runs against it
// ([Checklist] renders it as a checklist). Secrets holds values where they
// are known (the demo hands them to the run directly; "" otherwise); a
// checklist names environment variables instead ([SecretEnv]).
type CatalogConfig struct {
	Vars    map[string]string
	Secrets map[string]string
}

// NewCatalogConfig configures the catalogue for a reference system running
// at baseURL (https://HOST:PORT, e.g. `prf demo target`'s) whose CA
// certificate is in caFile, with the demo login (user [DefaultUsername]).
// It knows no secret value: auth_password is read from [PasswordEnv].
func NewCatalogConfig(baseURL, caFile string) (CatalogConfig, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" || u.Scheme != "https" || (u.Path != "" && u.Path != "/") {
		return CatalogConfig{}, fmt.Errorf("demo checklist: target %q: want https://HOST:PORT", baseURL)
	}
	base := "https://" + u.Host
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	// The certificate names localhost, 127.0.0.1 and ::1; the name, unlike
	// an address, also gives the DNS checkpoint something to resolve.
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		host = "localhost"
	}
	return CatalogConfig{
		Vars: map[string]string{
			"api_url":            base,
			"ca_file":            caFile,
			"auth_user":          DefaultUsername,
			"api_host":           host,
			"api_tls_port":       port,
			"jwks_url":           base + "/.well-known/jwks.json",
			"privacy_policy_url": base + "/privacy",
			// The §3.2 load test's 23 minutes in about 3 s, so that the
			// demo stays quick.
			"loadtest_scale": "0.002",
		},
		Secrets: map[string]string{"auth_password": ""},
	}, nil
}

// CatalogConfig configures the catalogue for the running target, the CA
// file a client should trust, and the services started beside it (nil or
// partly started: what is missing stays not configured). Beyond
// [NewCatalogConfig], it has the secrets' values and an API token for the
// demo user (api_token, valid for [TokenLifetime]; issued by the target
// itself, as an operator provisions one for a load test, so that a fault of
// the login does not change which checkpoints are configured).
func (t *Target) CatalogConfig(caFile string, svc *Services) CatalogConfig {
	c, err := NewCatalogConfig(t.URL(), caFile)
	if err != nil { // not started
		c = CatalogConfig{Vars: map[string]string{"ca_file": caFile}, Secrets: map[string]string{}}
	}
	c.Vars["auth_user"] = t.Username()
	c.Secrets["auth_password"] = t.opts.Password
	if tok, err := t.signer.issue(t.Username(), time.Now()); err == nil {
		c.Secrets["api_token"] = tok
	}
	if svc == nil {
		return c
	}
	if svc.RedisAddr != "" {
		c.Vars["redis_addr"] = svc.RedisAddr
		c.Secrets["redis_password"] = svc.RedisPassword
	}
	if svc.PostgresDSN != "" {
		c.Secrets["database_dsn"] = svc.PostgresDSN
		c.Vars["migrations_dir"] = svc.MigrationsDir
	}
	return c
}
