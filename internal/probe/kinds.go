package probe

// kinds is the one table of probe kinds. Lint, the JSON Schema, docs and
// tests read it; there is no second list. Add a kind by adding its file and
// one row here.
func kinds() []Kind {
	return []Kind{
		define("http", "HTTP(S) request: status, headers, body, JSON body, latency, TLS facts", probeHTTP),
		define("tcp", "TCP connect: whether the port accepts and how fast", probeTCP),
		define("dns", "DNS lookup of a record type, optionally against a given resolver", probeDNS),
		define("tls", "TLS handshake: chain, days to expiry, accepted versions, cipher, hostname, HSTS", probeTLS),
		define("exec", "run a command (argv, no shell): exit code, stdout, stderr, duration", probeExec),
		define("auth", "login flow: token issued, JWT inspected, protected endpoint with, without and with a tampered token", probeAuth),
		define("ratelimit", "bounded burst at one endpoint: requests passed before the first 429, Retry-After", probeRateLimit),
		define("postgres", "PostgreSQL: version, TLS, query rows and latency, connections, replication lag, WAL archiver, migrations applied", probePostgres),
		define("redis", "Redis: PING latency, AUTH/TLS, INFO facts, write/read/delete of a probe key", probeRedis),
		define("s3", "S3: write/read/verify/delete a probe object, bucket encryption/versioning/public access, newest object age under a prefix", probeS3),
		define("prometheus", "Prometheus: instant and range query values, targets down, alert rules loaded", probePrometheus),
		define("alertmanager", "Alertmanager: routing tree, which receiver a set of labels routes to", probeAlertmanager),
		define("kubernetes", "Kubernetes: API version, nodes Ready, quotas, rollouts, restarts, default-deny network policies, cluster-admin bindings, PDBs", probeKubernetes),
		define("jsonrpc", "chain node RPC: Ethereum-style or CometBFT-style sync, height advancing, peers, block time, validators", probeJSONRPC),
		define("grpc", "gRPC health checking protocol (grpc.health.v1), per service", probeGRPC),
		define("gpu", "GPUs via nvidia-smi: utilization, memory, temperature, ECC errors per GPU", probeGPU),
		define("date", "a date that is data (certification expiry, last restore test): days left or since, against the clock", probeDate),
		alone(define("loadtest", "load test: a scenario (file or inline) of VUs or an arrival rate, checks and thresholds; the observation is the end-of-test summary", probeLoadTest)),
		define("waf", "malicious request corpus by class and benign controls: share blocked per class, false positives", probeWAF),
	}
}

// alone marks a kind whose checkpoints run alone by default (Kind.Alone).
func alone(k Kind) Kind {
	k.Alone = true
	return k
}

// Default returns the registry of every built-in kind.
func Default() *Registry { return NewRegistry(kinds()...) }
