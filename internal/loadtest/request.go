package loadtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// tmpl is a string with {{NAME}} holes filled per VU from extracted values.
type tmpl []seg

type seg struct {
	lit string
	ref string // "" for a literal
}

func parseTmpl(s string) tmpl {
	var t tmpl
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			break
		}
		name := strings.TrimSpace(s[i+2 : i+j])
		if !validName(name) {
			t = append(t, seg{lit: s[:i+j+2]})
			s = s[i+j+2:]
			continue
		}
		if i > 0 {
			t = append(t, seg{lit: s[:i]})
		}
		t = append(t, seg{ref: name})
		s = s[i+j+2:]
	}
	if s != "" || len(t) == 0 {
		t = append(t, seg{lit: s})
	}
	return t
}

// templateRefs lists the {{NAME}} references of s.
func templateRefs(s string) []string {
	var out []string
	for _, sg := range parseTmpl(s) {
		if sg.ref != "" {
			out = append(out, sg.ref)
		}
	}
	return out
}

func (t tmpl) static() bool { return len(t) == 1 && t[0].ref == "" }

func (t tmpl) appendTo(b []byte, vars map[string]string) []byte {
	for _, sg := range t {
		if sg.ref == "" {
			b = append(b, sg.lit...)
		} else {
			b = append(b, vars[sg.ref]...)
		}
	}
	return b
}

func (t tmpl) String(vars map[string]string) string { return string(t.appendTo(nil, vars)) }

type header struct {
	name string
	val  tmpl
}

// cstep is a step compiled for running.
type cstep struct {
	idx       int
	name      string
	method    string
	head      bool
	h1        bool
	addr      string // host:port for the h1 client
	hostHdr   string
	url       tmpl // full URL, for net/http
	path      tmpl // request target, for h1
	headers   []header
	body      tmpl
	hasBody   bool
	static    []byte // the whole h1 request when nothing is templated
	checks    []ccheck
	extract   []cextract
	needHdr   bool
	needBody  bool
	thinkTime time.Duration
}

type ccheck struct {
	name string
	id   int // index into the scenario's check counters
	prg  cel.Program
}

type cextract struct {
	name string
	prg  cel.Program
}

// compiled is a scenario ready to run.
type compiled struct {
	steps      []*cstep
	checkNames []string // "step: check" by check id
	httpClient *http.Client
	counter    *countingDialer
}

var celVars = []cel.EnvOption{
	cel.CrossTypeNumericComparisons(true), // duration_ms < 100, as in internal/expect
	cel.Variable("status", cel.IntType),
	cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
	cel.Variable("body", cel.StringType),
	cel.Variable("json", cel.DynType),
	cel.Variable("duration_ms", cel.DoubleType),
}

// celEnv is the environment of checks and extract. Its options are
// static, so building it cannot fail.
func celEnv() *cel.Env {
	env, err := cel.NewEnv(celVars...)
	if err != nil {
		panic("loadtest: CEL environment: " + err.Error())
	}
	return env
}

func compile(sc *Scenario) (*compiled, error) {
	env := celEnv()
	c := &compiled{}
	needNetHTTP := false
	for i, st := range sc.Steps {
		raw, _ := sc.stepURL(st)
		cs := &cstep{idx: i, name: st.Name, method: st.Method, head: st.Method == "HEAD", url: parseTmpl(raw), thinkTime: st.ThinkTime}
		u, err := url.Parse(strings.ReplaceAll(strings.ReplaceAll(raw, "{{", "x"), "}}", "x"))
		if err != nil {
			return nil, fieldf(fmt.Sprintf("steps[%d].path", i), "%v", err)
		}
		cs.h1 = sc.Client == "h1" || (sc.Client == "auto" && u.Scheme == "http")
		if cs.h1 && u.Scheme != "http" {
			return nil, fieldf("client", "the h1 client speaks plain http://, not %s://", u.Scheme)
		}
		if !cs.h1 {
			needNetHTTP = true
		}
		cs.hostHdr = u.Host
		cs.addr = u.Host
		if u.Port() == "" {
			cs.addr = net.JoinHostPort(u.Hostname(), "80")
		}
		// The request target: everything after the authority, templates kept.
		rest := raw[strings.Index(raw, "://")+3:]
		if k := strings.IndexByte(rest, '/'); k >= 0 {
			cs.path = parseTmpl(rest[k:])
		} else {
			cs.path = parseTmpl("/")
		}
		names := make([]string, 0, len(st.Headers))
		for k := range st.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			cs.headers = append(cs.headers, header{name: k, val: parseTmpl(st.Headers[k])})
		}
		body := st.Body
		if st.JSON != nil {
			b, err := json.Marshal(jsonable(st.JSON))
			if err != nil {
				return nil, fieldf(fmt.Sprintf("steps[%d].json", i), "%v", err)
			}
			body = string(b)
			if _, ok := headerValue(st.Headers, "Content-Type"); !ok {
				cs.headers = append(cs.headers, header{name: "Content-Type", val: tmpl{{lit: "application/json"}}})
			}
		}
		cs.body = parseTmpl(body)
		cs.hasBody = body != "" || st.Method == "POST" || st.Method == "PUT" || st.Method == "PATCH"
		checkNames := make([]string, 0, len(st.Checks))
		for k := range st.Checks {
			checkNames = append(checkNames, k)
		}
		sort.Strings(checkNames)
		for _, name := range checkNames {
			prg, refs, err := compileExpr(env, st.Checks[name], true)
			if err != nil {
				return nil, fieldf(fmt.Sprintf("steps[%d].checks", i), "%q: %v", name, err)
			}
			cs.noteRefs(refs)
			cs.checks = append(cs.checks, ccheck{name: name, id: len(c.checkNames), prg: prg})
			c.checkNames = append(c.checkNames, st.Name+": "+name)
		}
		exNames := make([]string, 0, len(st.Extract))
		for k := range st.Extract {
			exNames = append(exNames, k)
		}
		sort.Strings(exNames)
		for _, name := range exNames {
			prg, refs, err := compileExpr(env, st.Extract[name], false)
			if err != nil {
				return nil, fieldf(fmt.Sprintf("steps[%d].extract", i), "%s: %v", name, err)
			}
			cs.noteRefs(refs)
			cs.extract = append(cs.extract, cextract{name: name, prg: prg})
		}
		if cs.h1 && cs.path.static() && cs.body.static() && allStatic(cs.headers) {
			cs.static = cs.appendRequest(nil, nil)
		}
		c.steps = append(c.steps, cs)
	}
	c.counter = &countingDialer{d: net.Dialer{Timeout: sc.Timeout}}
	if needNetHTTP {
		tlsConf := &tls.Config{InsecureSkipVerify: sc.Insecure} //nolint:gosec // opt-in for test systems
		if sc.CAFile != "" {
			pem, err := os.ReadFile(sc.CAFile)
			if err != nil {
				return nil, fieldf("ca_file", "%v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fieldf("ca_file", "%s holds no PEM certificate", sc.CAFile)
			}
			tlsConf.RootCAs = pool
		}
		maxConns := max(sc.peakVUs(), sc.MaxVUs, 1)
		c.httpClient = &http.Client{
			Timeout: sc.Timeout,
			Transport: &http.Transport{
				DialContext:         c.counter.DialContext,
				TLSClientConfig:     tlsConf,
				ForceAttemptHTTP2:   true,
				MaxIdleConns:        maxConns,
				MaxIdleConnsPerHost: maxConns,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c, nil
}

// jsonable turns YAML-decoded maps (map[string]any already with yaml.v3)
// into values encoding/json accepts.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonable(e)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

func headerValue(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func allStatic(hs []header) bool {
	for _, h := range hs {
		if !h.val.static() {
			return false
		}
	}
	return true
}

func (cs *cstep) noteRefs(refs map[string]bool) {
	if refs["headers"] {
		cs.needHdr = true
	}
	if refs["body"] || refs["json"] {
		cs.needBody = true
	}
}

// compileExpr compiles a CEL expression; a check must give a bool.
func compileExpr(env *cel.Env, src string, wantBool bool) (cel.Program, map[string]bool, error) {
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, nil, fmt.Errorf("%s", strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	if wantBool && ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, nil, fmt.Errorf("a check must be true or false, this gives %s", ast.OutputType())
	}
	refs := map[string]bool{}
	for _, r := range ast.NativeRep().ReferenceMap() {
		if r.Name != "" {
			refs[r.Name] = true
		}
	}
	prg, err := env.Program(ast)
	if err != nil {
		return nil, nil, err
	}
	return prg, refs, nil
}

// appendRequest writes the HTTP/1.1 request of the step.
func (cs *cstep) appendRequest(b []byte, vars map[string]string) []byte {
	b = append(b, cs.method...)
	b = append(b, ' ')
	b = cs.path.appendTo(b, vars)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, cs.hostHdr...)
	b = append(b, "\r\n"...)
	ua := true
	for _, h := range cs.headers {
		if strings.EqualFold(h.name, "User-Agent") {
			ua = false
		}
		b = append(b, h.name...)
		b = append(b, ": "...)
		b = h.val.appendTo(b, vars)
		b = append(b, "\r\n"...)
	}
	if ua {
		b = append(b, "User-Agent: prf-loadtest\r\n"...)
	}
	if cs.hasBody {
		n := 0
		for _, sg := range cs.body {
			if sg.ref == "" {
				n += len(sg.lit)
			} else {
				n += len(vars[sg.ref])
			}
		}
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return cs.body.appendTo(b, vars)
}

// doNetHTTP runs the step through net/http (HTTPS, HTTP/2).
func (cs *cstep) doNetHTTP(ctx context.Context, client *http.Client, vars map[string]string, r *response, hmap map[string]string) error {
	r.status, r.recv, r.sent = 0, 0, 0
	r.header, r.body = r.header[:0], r.body[:0]
	var body io.Reader
	if cs.hasBody {
		body = strings.NewReader(cs.body.String(vars))
	}
	req, err := http.NewRequestWithContext(ctx, cs.method, cs.url.String(vars), body)
	if err != nil {
		return err
	}
	for _, h := range cs.headers {
		v := h.val.String(vars)
		if strings.EqualFold(h.name, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(h.name, v)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "prf-loadtest")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r.status = resp.StatusCode
	if cs.needHdr {
		for k, v := range resp.Header {
			hmap[strings.ToLower(k)] = strings.Join(v, ", ")
		}
	}
	if cs.needBody {
		var buf bytes.Buffer
		_, err = io.Copy(&buf, io.LimitReader(resp.Body, bodyLimit))
		r.body = append(r.body, buf.Bytes()...)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
		}
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	return err
}

// countingDialer counts the bytes of net/http's connections.
type countingDialer struct {
	d          net.Dialer
	sent, recv atomic.Int64
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, d: c}, nil
}

type countingConn struct {
	net.Conn
	d *countingDialer
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.d.recv.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.d.sent.Add(int64(n))
	return n, err
}

// activation is the CEL input of a check or extract: one per VU, reused.
type activation struct {
	r      *response
	dur    time.Duration
	hmap   map[string]string
	hdone  bool
	json   any
	jdone  bool
	jerr   error
	bodyS  string
	bodyOK bool
}

// reset readies the activation for a response; headersParsed says hmap
// already holds the response's headers (net/http), else they are parsed
// from the raw header lines on first use.
func (a *activation) reset(r *response, dur time.Duration, headersParsed bool) {
	a.r, a.dur = r, dur
	if !headersParsed {
		clear(a.hmap)
	}
	a.hdone, a.jdone, a.json, a.jerr, a.bodyOK = headersParsed, false, nil, nil, false
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "status":
		return int64(a.r.status), true
	case "duration_ms":
		return float64(a.dur) / float64(time.Millisecond), true
	case "body":
		if !a.bodyOK {
			a.bodyS, a.bodyOK = string(a.r.body), true
		}
		return a.bodyS, true
	case "headers":
		if !a.hdone {
			a.hdone = true
			for _, l := range bytes.Split(a.r.header, []byte("\n")) {
				k, v, ok := bytes.Cut(l, []byte(":"))
				if !ok {
					continue
				}
				key := strings.ToLower(string(bytes.TrimSpace(k)))
				if old, dup := a.hmap[key]; dup {
					a.hmap[key] = old + ", " + string(bytes.TrimSpace(v))
				} else {
					a.hmap[key] = string(bytes.TrimSpace(v))
				}
			}
		}
		return a.hmap, true
	case "json":
		if !a.jdone {
			a.jdone = true
			a.jerr = json.Unmarshal(a.r.body, &a.json)
		}
		if a.jerr != nil {
			return nil, false
		}
		return a.json, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func evalBool(prg cel.Program, a *activation) (bool, error) {
	v, _, err := prg.Eval(a)
	if err != nil {
		return false, err
	}
	b, ok := v.Value().(bool)
	if !ok {
		return false, fmt.Errorf("gave %v, not true or false", v.Value())
	}
	return b, nil
}

func evalString(prg cel.Program, a *activation) (string, error) {
	v, _, err := prg.Eval(a)
	if err != nil {
		return "", err
	}
	return refString(v), nil
}

func refString(v ref.Val) string {
	switch x := v.Value().(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	default:
		if b, err := json.Marshal(x); err == nil {
			return string(b)
		}
		return fmt.Sprint(x)
	}
}
