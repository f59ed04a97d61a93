package demo

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// wafBodyLimit is how much of a request body the WAF inspects.
const wafBodyLimit = 64 << 10

// Where a WAF rule looks.
const (
	inPath   = 1 << iota // the URL path
	inParams             // raw query, query names and values, body
	inHeader             // header values (never Authorization)
	inAll    = inPath | inParams | inHeader
)

// wafRule is one signature. Rules are written to catch the usual probes of a
// WAF test while letting ordinary text through: an apostrophe (O'Brien), an
// ampersand (rock & roll), "select" or "union" in a sentence are all benign.
type wafRule struct {
	name  string
	scope int
	re    *regexp.Regexp
}

// waf holds the compiled rules of one target.
type waf struct {
	rules []wafRule
}

const shellCommands = `cat|ls|id|whoami|uname|wget|curl|nc|ncat|netcat|bash|sh|zsh|powershell|cmd|cmd\.exe|rm|ping|nslookup|dig|python[0-9.]*|perl|ruby|php|telnet|chmod|chown|echo|sleep|kill|ifconfig|ipconfig|hostname|env|printenv|base64`

func newWAF() *waf {
	r := func(name string, scope int, expr string) wafRule {
		return wafRule{name: name, scope: scope, re: regexp.MustCompile(`(?is)` + expr)}
	}
	return &waf{rules: []wafRule{
		// Log4Shell-style lookups.
		r("jndi", inAll, `\$\{\s*(?:(?:jndi|lower|upper|env|sys|ctx|date|main|java|base64|k8s|docker|spring|log4j|web|bundle)\s*:|\$\{|[^}]*::-)`),
		// SQL injection.
		r("sqli", inAll, `'\s*(?:or|and|\|\||&&)(?:\s+|\s*['"(])\s*['"(]?\s*[\w@.-]+\s*['")]?\s*(?:=|<>|!=|<|>|\blike\b|\bis\b)`),
		r("sqli", inAll, `\b(?:or|and)\s+(?:1\s*=\s*1\b|'1'\s*=\s*'1)`),
		r("sqli", inAll, `\bunion(?:\s+|/\*.*?\*/|\+)+(?:(?:all|distinct)(?:\s+|/\*.*?\*/|\+)+)?select\b`),
		r("sqli", inAll, `;\s*(?:drop\s+(?:table|database|schema)|truncate\s+table|alter\s+table|delete\s+from|insert\s+into|update\s+\w+\s+set|shutdown\b|exec(?:ute)?\s)`),
		r("sqli", inAll, `'\s*(?:--|/\*|#\s*$)|'\s*;\s*(?:--|drop|select|insert|update|delete|shutdown|exec)\b`),
		r("sqli", inAll, `'\s*(?:or|and)\s+\w+\s*\(|\b(?:extractvalue|updatexml)\s*\(`),
		r("sqli", inAll, `\b(?:sleep|pg_sleep|benchmark)\s*\(\s*\d|\bwaitfor\s+delay\s+'`),
		r("sqli", inAll, `\b(?:information_schema|xp_cmdshell|sysobjects)\b|\bload_file\s*\(|\binto\s+(?:out|dump)file\b|@@version\b`),
		// Cross-site scripting.
		r("xss", inAll, `<\s*/?\s*script\b`),
		r("xss", inAll, `\b(?:java|vb)script\s*:(?:\S*[(\x60=]|//)`),
		r("xss", inAll, `<[a-z][^>]*[\s/"']on[a-z]{3,}\s*=|\bon[a-z]{3,}\s*=\s*["']?[\w.$]*\s*[(\x60]`),
		r("xss", inAll, `<\s*(?:iframe|frame|frameset|object|embed|applet|svg|base|meta)\b`),
		r("xss", inAll, `\bdocument\s*\.\s*(?:cookie|domain|write)\b|\.innerhtml\s*=|\bdata:text/html\b`),
		// Path traversal and well-known sensitive files.
		r("path-traversal", inPath|inParams, `(?:^|[/\\=\s"'])\.\.[/\\]|[/\\]\.\.$`),
		r("path-traversal", inPath|inParams, `/etc/(?:passwd|shadow|group|hosts)\b|/proc/self/|\b(?:boot|win)\.ini\b|c:\\+windows\\|/windows/system32\b|\x00`),
		r("path-traversal", inPath|inParams, `%c0%a[ef]|%c1%9c|%e0%80%af`), // overlong UTF-8 dot and slash
		// OS command injection.
		r("command-injection", inAll, `(?:;|&&|\|\|?|\x60|\$\(|[\r\n])\s*(?:`+shellCommands+`)(?:\s*$|\s*[;&|\x60)]|\s+(?:[-/.~$'"\d]|\w+://))`),
		r("command-injection", inAll, `\$\{ifs\}|/bin/(?:ba|z|da)?sh\b|\(\s*\)\s*\{\s*:\s*;\s*\}`),
		// Server-side request forgery to loopback or cloud metadata addresses.
		r("ssrf", inParams, `\b(?:https?|ftp|gopher|dict|ldaps?|tftp|jar|netdoc)://(?:[^/@\s]*@)?(?:localhost|127(?:\.\d{1,3}){0,3}|0(?:\.0){0,3}|0x7f[0-9a-fx.]*|2130706433|017700000001|\[::1?\]|\[::ffff:127[^\]]*\]|169\.254(?:\.\d{1,3}){2}|\[fd00:ec2::254\]|metadata\.google\.internal|metadata\.azure\.com|100\.100\.100\.200)(?:[:/?#\\]|$)`),
		r("ssrf", inParams, `\b(?:file|gopher|dict|jar|netdoc|tftp)://|\b169\.254\.169\.254\b|\bmetadata\.google\.internal\b`),
		// The marker the checklist's security script posts (§2.2,
		// `-d "malicious_payload"`), treated like an EICAR test string.
		r("test-signature", inParams, `\bmalicious_payload\b`),
	}}
}

// newParanoidWAF is the rule set of the waf-paranoid fault: the usual
// rules plus naive ones that any apostrophe, SQL keyword or "&" trips, as a
// WAF tuned only against attacks (never against real traffic) does.
func newParanoidWAF() *waf {
	wf := newWAF()
	naive := regexp.MustCompile(`(?i)'|\b(?:select|or|and|union|from)\b|&`)
	wf.rules = append(wf.rules, wafRule{name: "naive", scope: inParams, re: naive})
	return wf
}

// inspect returns the name of the first rule that matches the request and
// where it matched, or "" when the request looks benign. body is the first
// part (at most wafBodyLimit bytes) of the request body.
func (wf *waf) inspect(r *http.Request, body []byte) (rule, where string) {
	check := func(scope int, loc, s string) bool {
		if s == "" {
			return false
		}
		for _, v := range decodings(s) {
			for _, ru := range wf.rules {
				if ru.scope&scope != 0 && ru.re.MatchString(v) {
					rule, where = ru.name, loc
					return true
				}
			}
		}
		return false
	}

	if check(inPath, "path", r.URL.EscapedPath()) {
		return rule, where
	}
	if check(inParams, "query", r.URL.RawQuery) {
		return rule, where
	}
	q, _ := url.ParseQuery(r.URL.RawQuery) // a malformed pair is still checked raw above
	for name, vals := range q {
		if check(inParams, "query", name) {
			return rule, where
		}
		for _, v := range vals {
			if check(inParams, "query "+name, v) {
				return rule, where
			}
		}
	}
	for name, vals := range r.Header {
		if name == "Authorization" {
			continue
		}
		for _, v := range vals {
			if check(inHeader, "header "+name, v) {
				return rule, where
			}
		}
	}
	if len(body) == 0 {
		return "", ""
	}
	if check(inParams, "body", string(body)) {
		return rule, where
	}
	for _, s := range bodyStrings(r.Header.Get("Content-Type"), body) {
		if check(inParams, "body", s) {
			return rule, where
		}
	}
	return "", ""
}

// decodings returns s, its URL-decoded forms (up to three rounds, to see
// through double encoding) and the HTML-entity-decoded form of the last.
func decodings(s string) []string {
	out := []string{s}
	for range 3 {
		d, err := url.QueryUnescape(s)
		if err != nil {
			d, err = url.PathUnescape(s)
		}
		if err != nil || d == s {
			break
		}
		out = append(out, d)
		s = d
	}
	if h := html.UnescapeString(s); h != s {
		out = append(out, h)
	}
	return out
}

// bodyStrings extracts the strings of a JSON or form body (JSON escapes such
// as \u003c are undone by decoding). A body that is neither yields nothing;
// the raw body is checked by the caller anyway.
func bodyStrings(contentType string, body []byte) []string {
	mt, _, _ := mime.ParseMediaType(contentType)
	var out []string
	switch {
	case mt == "application/x-www-form-urlencoded":
		vals, _ := url.ParseQuery(string(body))
		for k, vs := range vals {
			out = append(out, k)
			out = append(out, vs...)
		}
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || json.Valid(body):
		var v any
		if json.Unmarshal(body, &v) == nil {
			out = collectStrings(v, out)
		}
	}
	return out
}

func collectStrings(v any, out []string) []string {
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case []any:
		for _, e := range x {
			out = collectStrings(e, out)
		}
	case map[string]any:
		for k, e := range x {
			out = append(out, k)
			out = collectStrings(e, out)
		}
	}
	return out
}

// peekBody reads up to limit bytes of the body and puts them back in front
// of the rest, so the handler still sees the whole body.
func peekBody(r *http.Request, limit int64) []byte {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	buf, _ := io.ReadAll(io.LimitReader(r.Body, limit))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
	return buf
}

type readCloser struct {
	io.Reader
	io.Closer
}

// isAPIPath reports whether the WAF guards this request: anything under
// /api/, judged on the raw path and on the cleaned one.
func isAPIPath(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(r.URL.EscapedPath(), "/api/") ||
		strings.HasPrefix(path.Clean(p)+"/", "/api/")
}

// wafMiddleware answers 403 to malicious requests under /api/.
func (t *Target) wafMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t.faults.has(FaultWAFOff) || !isAPIPath(r) {
			next.ServeHTTP(w, r)
			return
		}
		body := peekBody(r, wafBodyLimit)
		rule, where := t.waf.inspect(r, body)
		if rule == "" {
			next.ServeHTTP(w, r)
			return
		}
		t.metrics.addWAFBlock(rule)
		t.log.Info("waf blocked request", "rule", rule, "where", where, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		w.Header().Set("X-WAF-Rule", rule)
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "request blocked by WAF", "rule": rule})
	})
}
