// Package demo is the local reference system that `prf demo` starts: one
// HTTPS server on loopback that plays every service of the production
// checklist (API gateway, JWT authentication, WAF, rate limiting, AI
// inference, blockchain status, metrics), so that PRF's probes have something
// real to talk to on a machine without a cluster.
//
// The target generates its own certificate authority (ECDSA P-256) at start
// and signs a server certificate for 127.0.0.1, ::1 and localhost; clients
// trust it with [Target.CACertPEM]. Access tokens are ES256 JWTs signed with a
// key made at start and published at /.well-known/jwks.json.
//
// Endpoints:
//
//	GET  /health                  {"status":"healthy","version","uptime_s"}
//	GET  /auth/health             {"status":"ready"}
//	POST /auth/login              {"username","password"} → {"access_token","token_type","expires_in"}
//	GET  /.well-known/jwks.json   the token signing key
//	GET  /api/v1/protected        401 without a valid Bearer token
//	GET  /api/v1/data             401 without a valid Bearer token; some records
//	GET  /api/v1/test             rate limited per client (POST too)
//	GET  /ai/health               {"status":"healthy","model_loaded":true,"model"}
//	POST /ai/predict              {"input":…} → {"prediction","confidence","latency_ms"}
//	GET  /blockchain/status       {"synced","catching_up","height","peers","validators","block_time_ms"}
//	GET  /metrics                 Prometheus text format
//
// A WAF sits in front of every /api/ route and answers 403 to SQL injection,
// cross-site scripting, path traversal, command injection, SSRF to metadata or
// loopback addresses and JNDI lookups. /api/v1/test allows a burst of
// [RateBurst] requests per client, refilled at [RateRefillPerSecond] a second,
// and answers 429 with Retry-After past that.
//
// Faults ([Faults], [Options.Faults]) make one part misbehave, so that a
// checklist run against the demo can be shown to fail for the right reason:
// a health endpoint that is down or slow, broken or missing authentication,
// no rate limit, no WAF, a slow or unloaded model, an unsynced chain, an
// expired certificate, or TLS 1.0 and 1.1 accepted.
//
// The demo's checklist is PRF's built-in catalogue configured for the target:
// [Target.CatalogConfig] (or [NewCatalogConfig], for a target at a URL) sets
// the catalogue's variables, and [Checklist] renders them as a prf.yaml whose
// secrets are environment references ([SecretEnv]).
//
// The demo login (by default "demo" / "demo-password") is a demonstration
// credential for a server that listens on loopback only; it protects nothing.
package demo
