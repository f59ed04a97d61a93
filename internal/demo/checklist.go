package demo

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"text/template"
)

// PasswordEnv is the environment variable the demo checklist reads the
// demo login's password from (a secret reference, never a literal).
const PasswordEnv = "PRF_DEMO_PASSWORD"

// ChecklistOptions say where the demo checklist points.
type ChecklistOptions struct {
	Target   string // base URL, e.g. https://127.0.0.1:8443
	CAFile   string // PEM file of the target's CA
	Username string // default "demo"
	// Optional services (prf demo adds them when the machine has them).
	RedisAddr     string // Redis address; "" leaves its checkpoints out
	Postgres      bool   // PostgreSQL checkpoints, reading the DSN from $PRF_DEMO_DB_DSN
	MigrationsDir string // the database's migration files
}

// Environment variables the demo checklist reads its service secrets from.
const (
	RedisPasswordEnv = "PRF_DEMO_REDIS_PASSWORD"
	DatabaseDSNEnv   = "PRF_DEMO_DB_DSN"
)

// Checklist returns the demo checklist for a running target: the document's
// API gateway, auth, security script (§2.2), AI, blockchain and integration
// test (§7.2) checkpoints, as YAML that `prf check` runs.
func Checklist(o ChecklistOptions) ([]byte, error) {
	if o.Target == "" {
		return nil, fmt.Errorf("demo checklist: a target URL is required")
	}
	if o.Username == "" {
		o.Username = DefaultUsername
	}
	host, port, err := hostPort(o.Target)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = checklistTmpl.Execute(&b, map[string]any{
		"Target":      o.Target,
		"CAFile":      o.CAFile,
		"Username":    o.Username,
		"Address":     net.JoinHostPort(host, port),
		"Host":        host,
		"PasswordEnv": PasswordEnv,
		"RedisAddr":   o.RedisAddr,
		"RedisEnv":    RedisPasswordEnv,
		"Postgres":    o.Postgres,
		"DSNEnv":      DatabaseDSNEnv,
		"Migrations":  o.MigrationsDir,
	})
	return b.Bytes(), err
}

var checklistTmpl = template.Must(template.New("demo").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(checklistYAML))

const checklistYAML = `# PRF demo checklist: the production checklist's API gateway, auth,
# security script, AI inference, blockchain and integration-test checkpoints,
# pointed at the local reference system (prf demo target).
version: 1
name: prf-demo
description: The document's checkpoints for the local reference system.
vars:
  base: {{q .Target}}
  address: {{q .Address}}
  ca_file: {{q .CAFile}}
  username: {{q .Username}}
  # Latency budgets (the document's targets); tests on a loaded machine
  # raise them with --var.
  health_budget: 1s
  gateway_p95: 200ms
  inference_budget: 500ms
{{- if .RedisAddr}}
  redis: {{q .RedisAddr}}
{{- end}}
{{- if .Migrations}}
  migrations_dir: {{q .Migrations}}
{{- end}}
# The WAF checks share one probe; each names its attack classes.
x-waf: &waf
  kind: waf
  url: "${vars.base}/api/v1/data"
  ca_file: "${vars.ca_file}"
  include_benign: false
secrets:
  password: env:{{.PasswordEnv}}
{{- if .RedisAddr}}
  redis_password: env:{{.RedisEnv}}
{{- end}}
{{- if .Postgres}}
  db_dsn: env:{{.DSNEnv}}
{{- end}}
checkpoints:
  # §1.1 Infrastructure
  - id: infra.gateway.reachable
    title: API gateway port accepts connections
    domain: infrastructure
    category: Load Balancer
    owner: DevOps Lead
    validation: nc -z host port
    controls: [NIST-800-53:SC-7]
    timeout: 5s
    probe: {kind: tcp, address: "${vars.address}"}
    expect: connected && latency < duration("1s")

  - id: infra.dns.resolves
    title: Service name resolves
    domain: infrastructure
    category: DNS
    owner: DevOps Lead
    severity: warning
    validation: dig +short localhost
    timeout: 5s
    probe: {kind: dns, name: localhost, type: A}
    expect: count > 0 && "127.0.0.1" in records

  - id: infra.host.gpu-tooling
    title: Node tooling answers (the document's nvidia-smi and blockchain-cli checks run this way)
    domain: infrastructure
    category: Compute
    owner: ML Engineer
    severity: info
    validation: nvidia-smi (here uname, as the demo host has no GPU)
    timeout: 5s
    probe: {kind: exec, command: [uname, -s]}
    expect: exit_code == 0 && stdout != ""

{{- if .Postgres}}

  - id: infra.storage.rds-accessible
    title: RDS database accessible
    domain: infrastructure
    category: Storage
    owner: DevOps Lead
    validation: Database connection test
    controls: [NIST-800-53:CP-10]
    timeout: 10s
    probe: {kind: postgres, dsn: "${secrets.db_dsn}"}
    expect: server_version_num >= 130000 && latency < duration("${vars.health_budget}")
{{- end}}
{{- if .RedisAddr}}

  - id: infra.storage.elasticache
    title: ElastiCache operational
    domain: infrastructure
    category: Storage
    owner: DevOps Lead
    validation: Redis connection test
    timeout: 5s
    probe: {kind: redis, address: "${vars.redis}", password: "${secrets.redis_password}", write_check: true}
    expect: pong && authenticated && write_check.ok
{{- end}}

  # §1.2 Application
  - id: app.gateway.health
    title: API Gateway health
    domain: application
    category: API Gateway
    owner: DevOps Lead
    validation: curl /health
    controls: [SOC2:A1.2]
    timeout: 5s
    probe: {kind: http, url: "${vars.base}/health", ca_file: "${vars.ca_file}"}
    expect: status == 200 && body.status == "healthy" && latency < duration("${vars.health_budget}")

  - id: app.auth.health
    title: JWT auth service health
    domain: application
    category: Auth Service
    owner: Security Lead
    validation: curl /auth/health
    timeout: 5s
    probe: {kind: http, url: "${vars.base}/auth/health", ca_file: "${vars.ca_file}"}
    expect: status == 200

  - id: app.auth.login
    title: Login issues a token
    domain: application
    category: Auth Service
    owner: Security Lead
    validation: POST /auth/login returns a JWT
    controls: [NIST-800-53:IA-2]
    depends_on: [app.auth.health]
    timeout: 10s
    probe: &auth
      kind: auth
      login_url: "${vars.base}/auth/login"
      username: "${vars.username}"
      password: "${secrets.password}"
      protected_url: "${vars.base}/api/v1/protected"
      jwks_url: "${vars.base}/.well-known/jwks.json"
      ca_file: "${vars.ca_file}"
    expect: login_status == 200 && token_issued && token_type == "jwt"

  - id: app.ai.health
    title: AI inference service health
    domain: application
    category: AI Inference
    owner: ML Engineer
    validation: curl /ai/health
    timeout: 5s
    probe: {kind: http, url: "${vars.base}/ai/health", ca_file: "${vars.ca_file}"}
    expect: status == 200 && body.model_loaded == true

  - id: app.chain.synced
    title: Validator nodes synced
    domain: application
    category: Blockchain
    owner: Blockchain Engineer
    validation: blockchain-cli status
    timeout: 5s
    probe: {kind: http, url: "${vars.base}/blockchain/status", ca_file: "${vars.ca_file}"}
    expect: status == 200 && body.synced == true && body.catching_up == false

  - id: app.chain.peers
    title: All peers connected
    domain: application
    category: Blockchain
    owner: Blockchain Engineer
    validation: blockchain-cli peers
    depends_on: [app.chain.synced]
    timeout: 5s
    probe: {kind: http, url: "${vars.base}/blockchain/status", ca_file: "${vars.ca_file}"}
    expect: body.peers >= 3 && body.height > 0

{{- if .Postgres}}

  - id: app.db.pool
    title: Connection pool ready
    domain: application
    category: Database
    owner: DBA
    validation: Connection test
    timeout: 10s
    probe: {kind: postgres, dsn: "${secrets.db_dsn}"}
    expect: connections.ratio < 0.8
{{- if .Migrations}}

  - id: app.db.migrations
    title: Migrations applied
    domain: application
    category: Database
    owner: DBA
    validation: Migration status check
    timeout: 10s
    probe:
      kind: postgres
      dsn: "${secrets.db_dsn}"
      migrations: {tool: golang-migrate, dir: "${vars.migrations_dir}"}
    expect: migrations.exists && !migrations.dirty && migrations.up_to_date
{{- end}}
{{- end}}

  # §2.2 Security validation script
  - id: sec.tls.version
    title: TLS 1.2+ only, no legacy protocol versions
    domain: security
    category: Transport Security
    owner: Security Lead
    validation: openssl s_client -tls1 / -tls1_1 refused
    controls: [NIST-800-53:SC-8, NIST-800-53:SC-13, FIPS-140-2:TLS, OWASP:A02]
    timeout: 10s
    probe: {kind: tls, address: "${vars.address}", ca_file: "${vars.ca_file}"}
    expect: (version == "TLS1.2" || version == "TLS1.3") && !legacy_tls

  - id: sec.tls.certificate
    title: Certificate valid for the host and not near expiry
    domain: security
    category: Transport Security
    owner: Security Lead
    validation: openssl s_client -verify_hostname
    controls: [NIST-800-53:SC-17]
    timeout: 10s
    probe: {kind: tls, address: "${vars.address}", ca_file: "${vars.ca_file}", check_versions: false}
    expect: days_to_expiry > 14 && verified && hostname_verified

  - id: sec.tls.hsts
    title: HSTS enabled for at least a year
    domain: security
    category: Transport Security
    owner: Security Lead
    severity: warning
    validation: curl -I (Strict-Transport-Security)
    controls: [OWASP:A05]
    timeout: 10s
    probe: {kind: tls, address: "${vars.address}", ca_file: "${vars.ca_file}", check_versions: false, check_hsts: true}
    expect: hsts_max_age >= 31536000

  - id: sec.auth.required
    title: Protected endpoints return 401 without a token
    domain: security
    category: Authentication
    owner: Security Lead
    validation: curl /api/v1/protected (expect 401)
    controls: [NIST-800-53:AC-3, OWASP:A01]
    depends_on: [app.auth.login]
    timeout: 10s
    probe: *auth
    expect: without_token_status == 401 && with_token_status == 200

  - id: sec.auth.forged-tokens
    title: Tampered and unsigned (alg none) tokens are rejected
    domain: security
    category: Authentication
    owner: Security Lead
    validation: forged JWTs get 401
    controls: [NIST-800-53:IA-5, OWASP:A07]
    depends_on: [app.auth.login]
    timeout: 10s
    probe: *auth
    expect: tampered_token_status == 401 && none_alg_status == 401

  - id: sec.auth.jwt
    title: JWT signed, verifiable, short-lived
    domain: security
    category: Authentication
    owner: Security Lead
    validation: JWT alg, exp and signature checked against JWKS
    controls: [NIST-800-53:IA-5, NIST-800-53:SC-12]
    depends_on: [app.auth.login]
    timeout: 10s
    probe: *auth
    expect: jwt.alg != "none" && jwt.signature_verified && jwt.has_exp && jwt.lifetime <= duration("1h")

  - id: sec.api.data-protected
    title: Data API refuses anonymous reads
    domain: security
    category: Authentication
    owner: Security Lead
    validation: curl /api/v1/data (expect 401)
    controls: [NIST-800-53:AC-3]
    timeout: 5s
    probe: {kind: http, url: "${vars.base}/api/v1/data", ca_file: "${vars.ca_file}"}
    expect: status == 401

  - id: sec.ratelimit
    title: Rate limiting active (429 past the limit)
    domain: security
    category: Rate Limiting
    owner: Security Lead
    validation: for i in 1..100; curl /api/v1/test (expect 429)
    controls: [NIST-800-53:SC-5, OWASP:A04]
    timeout: 15s
    probe:
      kind: ratelimit
      url: "${vars.base}/api/v1/test"
      requests: 60
      concurrency: 4
      deadline: 10s
      ca_file: "${vars.ca_file}"
    expect: limited > 0 && passed_before_429 <= 50 && retry_after != ""

  - id: sec.waf.sqli
    title: WAF blocks SQL injection
    domain: security
    category: WAF
    owner: Security Lead
    validation: curl "/api/v1/data?id=1' OR '1'='1" (expect 403)
    controls: [OWASP:A03, NIST-800-53:SI-10]
    timeout: 15s
    probe: {<<: *waf, classes: [sqli]}
    expect: classes.sqli.block_rate == 1.0

  - id: sec.waf.xss
    title: WAF blocks cross-site scripting
    domain: security
    category: WAF
    owner: Security Lead
    validation: curl "/api/v1/data?q=<script>" (expect 403)
    controls: [OWASP:A03, NIST-800-53:SI-10]
    timeout: 15s
    probe: {<<: *waf, classes: [xss]}
    expect: classes.xss.block_rate == 1.0

  - id: sec.waf.traversal-injection
    title: WAF blocks path traversal and command injection
    domain: security
    category: WAF
    owner: Security Lead
    validation: ../../etc/passwd and ;cat /etc/passwd (expect 403)
    controls: [OWASP:A01, OWASP:A03]
    timeout: 15s
    probe: {<<: *waf, classes: [path_traversal, command_injection]}
    expect: classes.path_traversal.block_rate == 1.0 && classes.command_injection.block_rate == 1.0

  - id: sec.waf.ssrf-jndi
    title: WAF blocks SSRF and JNDI (log4shell) payloads
    domain: security
    category: WAF
    owner: Security Lead
    validation: url=http://169.254.169.254/ and ${jndi:ldap://…} (expect 403)
    controls: [OWASP:A10, OWASP:A06]
    timeout: 15s
    probe: {<<: *waf, classes: [ssrf, jndi]}
    expect: classes.ssrf.block_rate == 1.0 && classes.jndi.block_rate == 1.0

  - id: sec.waf.false-positives
    title: WAF lets ordinary traffic through
    domain: security
    category: WAF
    owner: Security Lead
    severity: warning
    validation: benign requests are not blocked
    timeout: 15s
    probe: {<<: *waf, classes: [sqli], include_benign: true}
    expect: benign_sent > 0 && false_positive_rate == 0.0

{{- if .Postgres}}

  - id: sec.db.tls
    title: Database connections encrypted (SHOW ssl)
    domain: security
    category: Encryption
    owner: Security Lead
    validation: SHOW ssl; pg_stat_ssl
    controls: [NIST-800-53:SC-8, FIPS-140-2:TLS]
    timeout: 10s
    probe: {kind: postgres, dsn: "${secrets.db_dsn}"}
    expect: ssl_setting == "on" && ssl
{{- end}}

  - id: sec.audit.pentest
    title: Penetration test findings closed
    domain: security
    category: Security Audit
    owner: Security Lead
    validation: third-party penetration test report
    controls: [NIST-800-53:CA-8, SOC2:CC4.1]
    manual:
      evidence: the penetration test report with every high finding closed

  # §3 Performance
  - id: perf.gateway.latency
    title: Gateway answers within the p95 budget (200 ms)
    domain: performance
    category: Response Time
    owner: SRE Lead
    mode: warn
    validation: k6 http_req_duration p(95)<200
    timeout: 5s
    probe: {kind: http, url: "${vars.base}/health", ca_file: "${vars.ca_file}"}
    expect: latency < duration("${vars.gateway_p95}")

  - id: perf.ai.inference
    title: AI inference answers within 500 ms
    domain: performance
    category: AI Inference
    owner: ML Engineer
    validation: POST /ai/predict
    timeout: 5s
    probe:
      kind: http
      method: POST
      url: "${vars.base}/ai/predict"
      headers: {Content-Type: application/json}
      body: '{"features": [0.2, 0.4, 0.1]}'
      ca_file: "${vars.ca_file}"
    expect: status == 200 && has(body.prediction) && latency < duration("${vars.inference_budget}")

  # §4 Operations
{{- if .RedisAddr}}

  - id: ops.cache.memory
    title: Cache memory below 80% with no evictions
    domain: operations
    category: Capacity
    owner: SRE Lead
    severity: warning
    validation: redis-cli INFO memory
    timeout: 5s
    probe: {kind: redis, address: "${vars.redis}", password: "${secrets.redis_password}"}
    expect: info.memory_ratio < 0.8 && info.evicted_keys == 0
{{- end}}

  - id: ops.metrics.exposed
    title: Metrics endpoint exposed for Prometheus
    domain: operations
    category: Monitoring
    owner: SRE Lead
    severity: warning
    validation: curl /metrics
    timeout: 5s
    probe: {kind: http, url: "${vars.base}/metrics", ca_file: "${vars.ca_file}"}
    expect: status == 200 && body_text.contains("# TYPE")

  - id: ops.runbook
    title: Incident response runbook reviewed
    domain: operations
    category: Incident Response
    owner: SRE Lead
    validation: runbook link in the service catalogue
    manual:
      evidence: link to the reviewed runbook

  # §7.2 Integration tests
  - id: post.integration.user-flow
    title: "Integration: login, then read protected data"
    domain: post-deployment
    category: Integration Tests
    owner: QA Lead
    validation: test_user_flow
    depends_on: [app.auth.login]
    timeout: 10s
    probe:
      kind: auth
      login_url: "${vars.base}/auth/login"
      username: "${vars.username}"
      password: "${secrets.password}"
      protected_url: "${vars.base}/api/v1/data"
      ca_file: "${vars.ca_file}"
    expect: with_token_status == 200 && without_token_status == 401

  - id: post.integration.ai-flow
    title: "Integration: inference returns a prediction with confidence"
    domain: post-deployment
    category: Integration Tests
    owner: QA Lead
    validation: test_ai_inference
    depends_on: [app.ai.health]
    timeout: 5s
    probe:
      kind: http
      method: POST
      url: "${vars.base}/ai/predict"
      headers: {Content-Type: application/json}
      body: '{"input": {"text": "transfer 100 tokens"}}'
      ca_file: "${vars.ca_file}"
    expect: status == 200 && body.confidence >= 0.0 && body.confidence <= 1.0

  - id: post.integration.chain-flow
    title: "Integration: chain status consistent with validators"
    domain: post-deployment
    category: Integration Tests
    owner: QA Lead
    validation: test_blockchain_flow
    depends_on: [app.chain.synced]
    timeout: 5s
    probe: {kind: http, url: "${vars.base}/blockchain/status", ca_file: "${vars.ca_file}"}
    expect: body.validators >= 1 && body.block_time_ms > 0

  # §9 Approvals
  - id: approval.cto
    title: CTO deployment authorization
    domain: approval
    category: Sign-off
    owner: CTO
    validation: signed Deployment Authorization Form
    manual:
      evidence: the signed authorization (prf authorize)
`

func hostPort(raw string) (string, string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Scheme != "https" {
		return "", "", fmt.Errorf("demo checklist: target %q: want https://HOST:PORT", raw)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return u.Hostname(), port, nil
}
