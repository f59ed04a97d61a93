package demo

import (
	"net"
	"net/url"
)

// CatalogConfig says where the reference system is in the built-in
// catalogue's variable names, so that `prf demo` runs the whole catalogue
// against it. Secrets holds values (the demo hands them to the run
// directly); a real system gives references (--secret NAME=env:VAR).
type CatalogConfig struct {
	Vars    map[string]string
	Secrets map[string]string
}

// CatalogConfig configures the catalogue for the running target, the CA
// file a client should trust, and the services started beside it (nil or
// partly started: what is missing stays not configured).
func (t *Target) CatalogConfig(caFile string, svc *Services) CatalogConfig {
	base := t.URL()
	host := "localhost" // the certificate names localhost and 127.0.0.1
	port := ""
	if u, err := url.Parse(base); err == nil {
		_, port, _ = net.SplitHostPort(u.Host)
	}
	c := CatalogConfig{
		Vars: map[string]string{
			"api_url":      base,
			"ca_file":      caFile,
			"auth_user":    t.Username(),
			"api_host":     host,
			"api_tls_port": port,
			"jwks_url":     base + "/.well-known/jwks.json",
		},
		Secrets: map[string]string{"auth_password": t.opts.Password},
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
