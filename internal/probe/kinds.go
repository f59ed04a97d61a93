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
		define("waf", "malicious request corpus by class and benign controls: share blocked per class, false positives", probeWAF),
	}
}

// Default returns the registry of every built-in kind.
func Default() *Registry { return NewRegistry(kinds()...) }
