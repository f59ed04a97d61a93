package probe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// wafParts is what a test WAF inspects: the decoded path, query values,
// header values, form and JSON body values, and the raw body.
func wafParts(r *http.Request) []string {
	parts := []string{r.URL.Path}
	for _, vs := range r.URL.Query() {
		parts = append(parts, vs...)
	}
	for _, vs := range r.Header {
		parts = append(parts, vs...)
	}
	body, _ := io.ReadAll(r.Body)
	parts = append(parts, string(body))
	switch r.Header.Get("Content-Type") {
	case "application/x-www-form-urlencoded":
		if vs, err := url.ParseQuery(string(body)); err == nil {
			for _, v := range vs {
				parts = append(parts, v...)
			}
		}
	case "application/json":
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for _, v := range m {
				if s, ok := v.(string); ok {
					parts = append(parts, s)
				}
			}
		}
	}
	return parts
}

// wafPayloadText is the payload as the server sees it once decoded.
func wafPayloadText(t *testing.T, p wafPayload) string {
	if p.Place != wafInPath {
		return p.Value
	}
	v, err := url.PathUnescape(p.Value)
	if err != nil {
		t.Fatalf("payload %s: %v", p.ID, err)
	}
	return v
}

// wafTestServer answers with action for requests match accepts, 200 "ok"
// otherwise, and counts requests.
type wafTestServer struct {
	match  func(string) bool
	action string // "403", "406", "429", "page" (200 with a block page), "reset"
	count  atomic.Int64
}

func (s *wafTestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.count.Add(1)
	hit := false
	if s.match != nil {
		for _, p := range wafParts(r) {
			if s.match(p) {
				hit = true
				break
			}
		}
	}
	if !hit {
		_, _ = w.Write([]byte("ok"))
		return
	}
	switch s.action {
	case "page":
		_, _ = w.Write([]byte("<html>Request Rejected. Support ID 1234</html>"))
	case "reset":
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	default:
		code, _ := strconv.Atoi(s.action)
		w.WriteHeader(code)
	}
}

func wafContainsAny(words ...string) func(string) bool {
	return func(s string) bool {
		s = strings.ToLower(s)
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
}

func wafAll(string) bool { return true }

func wafNewSpec(t *testing.T) *WAFSpec {
	t.Helper()
	_, s := registrySpec[*WAFSpec](t, "waf")
	return s
}

// wafWant computes the exact expected tallies by applying the server's
// rule to each payload as the server will decode it.
func wafWant(t *testing.T, corpus []wafPayload, blocks func(string) bool) (classes map[string]WAFClass, benignBlocked int, missed, fps []string) {
	classes = map[string]WAFClass{}
	fps = []string{}
	var perClass [][]string // in wafClasses order
	index := map[string]int{}
	for i, c := range wafClasses() {
		index[c] = i
		perClass = append(perClass, nil)
	}
	for _, p := range corpus {
		hit := blocks != nil && blocks(wafPayloadText(t, p))
		if p.Class == wafBenign {
			if hit {
				benignBlocked++
				if len(fps) < wafListLimit {
					fps = append(fps, p.ID)
				}
			}
			continue
		}
		c := classes[p.Class]
		c.Sent++
		if hit {
			c.Blocked++
		} else {
			perClass[index[p.Class]] = append(perClass[index[p.Class]], p.Class+": "+p.ID)
		}
		c.BlockRate = float64(c.Blocked) / float64(c.Sent)
		classes[p.Class] = c
	}
	// One miss per class in turn, at most 20.
	missed = []string{}
	for round := 0; round < 15; round++ {
		for _, ms := range perClass {
			if round < len(ms) && len(missed) < 20 {
				missed = append(missed, ms[round])
			}
		}
	}
	return classes, benignBlocked, missed, fps
}

func TestWAFProbe(t *testing.T) {
	signatures := wafContainsAny("${jndi", "<script", "' or", "union select", "../", "169.254.169.254", "/etc/passwd")
	apostrophe := wafContainsAny("'")
	jndi := wafContainsAny("${jndi")
	tests := []struct {
		name   string
		server *wafTestServer
		tls    bool
		spec   func(s *WAFSpec)
		// blocks is the rule the expected numbers follow (nil: nothing blocked).
		blocks func(string) bool
		errors bool // requests the rule hits end in transport errors
		check  func(t *testing.T, obs WAFObservation)
	}{
		{
			name:   "no waf",
			server: &wafTestServer{},
			check: func(t *testing.T, obs WAFObservation) {
				if obs.BlockRate != 0 || len(obs.Missed) != wafListLimit {
					t.Errorf("block_rate %v, %d missed", obs.BlockRate, len(obs.Missed))
				}
			},
		},
		{
			name:   "blocks everything",
			server: &wafTestServer{match: wafAll, action: "403"},
			blocks: wafAll,
			check: func(t *testing.T, obs WAFObservation) {
				if obs.BlockRate != 1 || obs.FalsePositiveRate != 1 || len(obs.Missed) != 0 {
					t.Errorf("block_rate %v, false_positive_rate %v, missed %v", obs.BlockRate, obs.FalsePositiveRate, obs.Missed)
				}
			},
		},
		{
			name:   "signature rules",
			server: &wafTestServer{match: signatures, action: "403"},
			blocks: signatures,
			check: func(t *testing.T, obs WAFObservation) {
				if obs.BlockRate <= 0.2 || obs.BlockRate >= 0.9 || obs.BenignBlocked != 0 {
					t.Errorf("block_rate %v, benign_blocked %d", obs.BlockRate, obs.BenignBlocked)
				}
				// Obfuscated lookups slip past a literal "${jndi" rule.
				if !slices.Contains(obs.Missed, "jndi: lower-lookup") || slices.Contains(obs.Missed, "jndi: user-agent") {
					t.Errorf("missed = %v, want jndi: lower-lookup but not jndi: user-agent in it", obs.Missed)
				}
			},
		},
		{
			name:   "naive apostrophe rule has false positives",
			server: &wafTestServer{match: apostrophe, action: "403"},
			blocks: apostrophe,
			check: func(t *testing.T, obs WAFObservation) {
				if want := []string{"apostrophe-name", "json-review"}; !slices.Equal(obs.FalsePositives, want) {
					t.Errorf("false_positives = %v, want %v", obs.FalsePositives, want)
				}
				if obs.BenignBlocked != 2 || obs.FalsePositiveRate != 2/float64(obs.BenignSent) {
					t.Errorf("benign_blocked %d of %d, rate %v", obs.BenignBlocked, obs.BenignSent, obs.FalsePositiveRate)
				}
			},
		},
		{
			name:   "block page with status 200",
			server: &wafTestServer{match: jndi, action: "page"},
			spec:   func(s *WAFSpec) { s.BlockMarker = "Request Rejected" },
			blocks: jndi,
		},
		{
			name:   "block page without block_marker is not a block",
			server: &wafTestServer{match: jndi, action: "page"},
		},
		{
			name:   "406 is a block by default",
			server: &wafTestServer{match: wafAll, action: "406"},
			blocks: wafAll,
		},
		{
			name:   "only the named statuses are blocks",
			server: &wafTestServer{match: wafAll, action: "406"},
			spec:   func(s *WAFSpec) { s.BlockedStatuses = []string{"403, 418", "451"} },
		},
		{
			name:   "429 is not a block",
			server: &wafTestServer{match: wafAll, action: "429"},
			check: func(t *testing.T, obs WAFObservation) {
				if obs.Statuses["429"] != obs.Sent+obs.BenignSent {
					t.Errorf("statuses = %v", obs.Statuses)
				}
			},
		},
		{
			name:   "resets counted as blocks when asked",
			server: &wafTestServer{match: jndi, action: "reset"},
			spec:   func(s *WAFSpec) { s.ErrorsAreBlocks = true },
			blocks: jndi,
			errors: true,
		},
		{
			name:   "resets are errors, not blocks, by default",
			server: &wafTestServer{match: jndi, action: "reset"},
			errors: true,
			check: func(t *testing.T, obs WAFObservation) {
				if c := obs.Classes["jndi"]; c.Blocked != 0 || c.Errors == 0 {
					t.Errorf("jndi = %+v", c)
				}
			},
		},
		{
			name:   "chosen classes without benign controls",
			server: &wafTestServer{match: signatures, action: "403"},
			spec: func(s *WAFSpec) {
				s.Classes = []string{"sqli", "jndi"}
				s.IncludeBenign = false
			},
			blocks: signatures,
			check: func(t *testing.T, obs WAFObservation) {
				if got := slices.Sorted(maps.Keys(obs.Classes)); !slices.Equal(got, []string{"jndi", "sqli"}) {
					t.Errorf("classes = %v", got)
				}
				if obs.BenignSent != 0 || obs.FalsePositiveRate != 0 {
					t.Errorf("benign_sent %d", obs.BenignSent)
				}
			},
		},
		{
			name:   "over tls behind a base path with a query",
			server: &wafTestServer{match: signatures, action: "403"},
			tls:    true,
			spec:   func(s *WAFSpec) { s.URL += "?tenant=acme"; s.Concurrency = 1 },
			blocks: signatures,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ts *httptest.Server
			if tc.tls {
				ts = httptest.NewTLSServer(tc.server)
			} else {
				ts = httptest.NewServer(tc.server)
			}
			defer ts.Close()
			spec := wafNewSpec(t)
			spec.URL = ts.URL + "/api/v1/test"
			if tc.tls {
				spec.CAFile = authWriteCA(t, ts)
			}
			if tc.spec != nil {
				tc.spec(spec)
			}
			if err := spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			obs, err := probeWAF(ctx, Env{}, spec)
			if err != nil {
				t.Fatalf("probeWAF: %v", err)
			}

			corpus := wafSelect(wafCorpus(), spec.Classes, spec.IncludeBenign)
			classes, benignBlocked, missed, fps := wafWant(t, corpus, tc.blocks)
			wantErrors := 0
			if tc.errors {
				for _, p := range corpus {
					if tc.server.match(wafPayloadText(t, p)) {
						wantErrors++
					}
				}
				// Only errors may be counted as blocks; the classes' errors
				// are the same requests.
				for name, c := range classes {
					for _, p := range corpus {
						if p.Class == name && tc.server.match(wafPayloadText(t, p)) {
							c.Errors++
						}
					}
					classes[name] = c
				}
			}
			if !maps.Equal(obs.Classes, classes) {
				t.Errorf("classes =\n  %v\nwant\n  %v", obs.Classes, classes)
			}
			sent, blocked, benign := 0, 0, 0
			for _, c := range classes {
				sent += c.Sent
				blocked += c.Blocked
			}
			for _, p := range corpus {
				if p.Class == wafBenign {
					benign++
				}
			}
			if obs.Sent != sent || obs.Blocked != blocked || obs.BenignSent != benign || obs.BenignBlocked != benignBlocked {
				t.Errorf("sent %d blocked %d benign %d/%d, want %d %d %d/%d",
					obs.Sent, obs.Blocked, obs.BenignBlocked, obs.BenignSent, sent, blocked, benignBlocked, benign)
			}
			if want := wafRate(blocked, sent); obs.BlockRate != want {
				t.Errorf("block_rate = %v, want %v", obs.BlockRate, want)
			}
			if !slices.Equal(obs.Missed, missed) || !slices.Equal(obs.FalsePositives, fps) {
				t.Errorf("missed %v\nwant   %v\nfalse_positives %v, want %v", obs.Missed, missed, obs.FalsePositives, fps)
			}
			if obs.Errors != wantErrors {
				t.Errorf("errors = %d, want %d", obs.Errors, wantErrors)
			}
			// A reset on a reused connection makes the transport retry an
			// idempotent request, so only then may the server see more.
			if got := int(tc.server.count.Load()); got != len(corpus) && (!tc.errors || got < len(corpus)) {
				t.Errorf("server saw %d requests, want %d", got, len(corpus))
			}
			answered := 0
			for _, n := range obs.Statuses {
				answered += n
			}
			if answered+obs.Errors != len(corpus) || obs.Duration <= 0 {
				t.Errorf("statuses %v + %d errors, want %d requests; duration %v", obs.Statuses, obs.Errors, len(corpus), obs.Duration)
			}
			if tc.check != nil {
				tc.check(t, obs)
			}
			t.Logf("block_rate %.2f false_positive_rate %.2f classes %v missed %v", obs.BlockRate, obs.FalsePositiveRate, obs.Classes, obs.Missed)
		})
	}
}

// TestWAFPlacement checks that each payload reaches the server intact in its
// place: the server finds the exact decoded payload text among the parts.
func TestWAFPlacement(t *testing.T) {
	base, err := url.Parse("http://127.0.0.1:9/base?x=1")
	if err != nil {
		t.Fatal(err)
	}
	spec := wafNewSpec(t)
	spec.URL = base.String()
	for _, p := range wafCorpus() {
		t.Run(p.Class+"/"+p.ID, func(t *testing.T) {
			req, err := wafRequest(context.Background(), spec, base, p)
			if err != nil {
				t.Fatalf("wafRequest: %v", err)
			}
			// Decode the request as a server would, via a round trip through
			// its wire form.
			var buf strings.Builder
			if err := req.Write(&buf); err != nil {
				t.Fatalf("write: %v", err)
			}
			sr, err := http.ReadRequest(bufio.NewReader(strings.NewReader(buf.String())))
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			want := wafPayloadText(t, p)
			if p.Place == wafInPath {
				want = "/base/" + want
			}
			if !slices.Contains(wafParts(sr), want) {
				t.Errorf("payload %q not found as a whole part of the request:\n%s", want, buf.String())
			}
			if p.Place == wafInQuery && sr.URL.Query().Get("x") != "1" {
				t.Errorf("base query lost: %s", sr.URL.RawQuery)
			}
			wantMethod := "GET"
			if strings.HasPrefix(p.Place, "body") {
				wantMethod = "POST"
			}
			if sr.Method != wantMethod {
				t.Errorf("method %s, want %s", sr.Method, wantMethod)
			}
		})
	}
}

func TestWAFCorpus(t *testing.T) {
	counts := map[string]int{}
	ids := map[string]bool{}
	places := map[string]map[string]bool{}
	// Hosts a payload may name: loopback and link-local literals only.
	allowed := map[string]bool{
		"127.0.0.1": true, "[::1]": true, "localhost": true, "169.254.169.254": true,
		"2130706433": true, "0x7f000001": true, "127.1": true, "": true,
	}
	hostRe := regexp.MustCompile(`(?i)(?:[a-z]+:)?//(\[[^\]]*\]|[^/:?#\s'"|$)]*)`)
	for _, p := range wafCorpus() {
		counts[p.Class]++
		key := p.Class + ": " + p.ID
		if ids[key] {
			t.Errorf("duplicate id %s", key)
		}
		ids[key] = true
		if places[p.Class] == nil {
			places[p.Class] = map[string]bool{}
		}
		places[p.Class][p.Place] = true
		if p.Class == "ssrf" || p.Class == "jndi" || p.Class == "command_injection" || p.Class == "xss" {
			for _, m := range hostRe.FindAllStringSubmatch(p.Value, -1) {
				if !allowed[strings.ToLower(m[1])] {
					t.Errorf("%s names host %q; only loopback or link-local literals are allowed", key, m[1])
				}
			}
		}
	}
	for _, c := range wafClasses() {
		if counts[c] < 8 || counts[c] > 15 {
			t.Errorf("class %s has %d payloads, want 8 to 15", c, counts[c])
		}
		if len(places[c]) < 2 {
			t.Errorf("class %s uses only %v", c, places[c])
		}
	}
	if counts[wafBenign] < 12 || counts[wafBenign] > 20 {
		t.Errorf("%d benign controls", counts[wafBenign])
	}
	if len(counts) != len(wafClasses())+1 {
		t.Errorf("classes in corpus: %v", counts)
	}
}

func TestWAFProbeErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	t.Run("refused", func(t *testing.T) {
		spec := wafNewSpec(t)
		spec.URL = closedURL
		_, err := probeWAF(context.Background(), Env{}, spec)
		if err == nil || !strings.Contains(err.Error(), "every request failed") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		hang := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}))
		defer slow.Close()
		defer close(hang)
		spec := wafNewSpec(t)
		spec.URL = slow.URL
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := probeWAF(ctx, Env{}, spec)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("took %v", time.Since(start))
		}
	})
}

func TestWAFSpecValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(s *WAFSpec)
		field string
	}{
		{"ok", func(s *WAFSpec) {}, ""},
		{"ok statuses", func(s *WAFSpec) { s.BlockedStatuses = []string{"403,406", " 418 "} }, ""},
		{"no url", func(s *WAFSpec) { s.URL = "" }, "url"},
		{"relative url", func(s *WAFSpec) { s.URL = "api/x" }, "url"},
		{"unknown class", func(s *WAFSpec) { s.Classes = []string{"sqli", "xxe"} }, "classes[1]"},
		{"bad status", func(s *WAFSpec) { s.BlockedStatuses = []string{"403", "forbidden"} }, "blocked_statuses"},
		{"status out of range", func(s *WAFSpec) { s.BlockedStatuses = []string{"999"} }, "blocked_statuses"},
		{"zero concurrency", func(s *WAFSpec) { s.Concurrency = 0 }, "concurrency"},
		{"too much concurrency", func(s *WAFSpec) { s.Concurrency = 65 }, "concurrency"},
		{"empty param", func(s *WAFSpec) { s.Param = "" }, "param"},
		{"bad body_method", func(s *WAFSpec) { s.BodyMethod = "post" }, "body_method"},
		{"negative timeout", func(s *WAFSpec) { s.Timeout = -1 }, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := wafNewSpec(t)
			s.URL = "https://127.0.0.1/api/v1/test"
			tc.edit(s)
			checkFieldError(t, s.Validate(), tc.field)
			if tc.field == "" && (!s.IncludeBenign || s.Concurrency != 4 || s.Method != "GET" || s.BodyMethod != "POST" || s.Param != "q") {
				t.Errorf("defaults = %+v", s)
			}
		})
	}
}

// TestSecuritySpecTags checks that every setting of the auth, ratelimit and
// waf kinds has a yaml key and a one-line doc.
func TestSecuritySpecTags(t *testing.T) {
	for _, name := range []string{"auth", "ratelimit", "waf"} {
		k, ok := Default().Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		typ := reflect.TypeOf(k.NewSpec()).Elem()
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if f.Anonymous {
				continue // TLSOptions, inlined
			}
			y, d := f.Tag.Get("yaml"), f.Tag.Get("doc")
			if y == "" || d == "" || strings.Contains(d, "\n") || y != strings.ToLower(y) {
				t.Errorf("%s.%s: yaml %q doc %q", name, f.Name, y, d)
			}
			if f.Name == "BlockedStatuses" && !strings.Contains(d, `["403", "406"]`) {
				t.Errorf("doc tag not unquoted: %q", d)
			}
		}
	}
}
