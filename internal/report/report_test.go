package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// fixture covers every status, severity and mode, several domains (one not
// in the fixed order, stored out of order) and categories, and a message
// with a pipe, a newline, a <script> and unicode.
func fixture() *Report {
	fin := t0.Add(1534 * time.Millisecond)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	results := []store.Result{
		{
			ID: "SEC-004", Title: "Data encrypted in transit", Domain: "security", Category: "Encryption",
			Owner: "Security", Severity: "blocking", Mode: "enforce", Kind: "tls",
			Validation: "TLS verification", Controls: []string{"FIPS 140-2", "NIST 800-53 SC-8"}, Tags: []string{"tls"},
			Status: store.StatusFail, Message: "days_to_expiry (3) >= 14 | cert CN=api.example.com\nchain: leaf → R3 <script>alert('x')</script> ünïcödé 日本語",
			Expect: "days_to_expiry >= 14", Values: json.RawMessage(`{"days_to_expiry":3}`),
			Observation: json.RawMessage(`{"version":"TLS1.3","days_to_expiry":3,"subject":"CN=api.example.com"}`),
			Log:         []string{"dial 127.0.0.1:8443", "handshake ok"}, StartedAt: at(10), DurationMS: 41.6, Attempts: 1,
		},
		{
			ID: "INF-001", Title: "EKS cluster operational", Domain: "infrastructure", Category: "Compute",
			Owner: "DevOps", Severity: "blocking", Mode: "enforce", Kind: "http", Validation: "kubectl cluster-info",
			Controls: []string{"SOC 2 CC7.1"}, Status: store.StatusPass, Message: "status_code (200) == 200",
			Expect: "status_code == 200", Values: json.RawMessage(`{"status_code":200}`),
			Observation: json.RawMessage(`{"status_code":200,"latency_ms":12.5}`), StartedAt: at(1), DurationMS: 12.5, Attempts: 1,
		},
		{
			ID: "INF-002", Title: "Node groups healthy", Domain: "infrastructure", Category: "Compute",
			Owner: "DevOps", Severity: "blocking", Mode: "enforce", Kind: "exec", Validation: "kubectl get nodes",
			Status: store.StatusError, Message: "probe exec: kubectl: executable file not found in $PATH",
			StartedAt: at(2), DurationMS: 0.4, Attempts: 3,
		},
		{
			ID: "INF-004", Title: "VPC connectivity verified with a deliberately long title that will not fit", Domain: "infrastructure", Category: "Network",
			Owner: "DevOps", Severity: "warning", Mode: "warn", Kind: "tcp", Validation: "Network connectivity tests to every subnet and peering",
			Status: store.StatusWarn, Message: "latency_ms (38.2) < 10", Expect: "latency_ms < 10",
			Values: json.RawMessage(`{"latency_ms":38.2}`), StartedAt: at(3), DurationMS: 38.2, Attempts: 1,
		},
		{
			ID: "INF-003", Title: "Resource quotas configured", Domain: "infrastructure", Category: "Compute",
			Owner: "DevOps", Severity: "info", Mode: "enforce", Status: store.StatusPending,
			Validation: "kubectl describe quota", Message: "awaiting attestation by DevOps",
		},
		{
			ID: "APP-001", Title: "Health endpoint responsive", Domain: "application", Category: "API Gateway",
			Owner: "Backend", Severity: "blocking", Mode: "enforce", Kind: "http", Validation: "curl /health",
			Status: store.StatusPass, Message: "status_code (200) == 200", StartedAt: at(4), DurationMS: 1250, Attempts: 2,
			Observation: json.RawMessage(`{"status_code":200}`),
		},
		{
			ID: "APP-002", Title: "Authentication working", Domain: "application", Category: "API Gateway",
			Owner: "Backend", Severity: "blocking", Mode: "enforce", Kind: "auth", Validation: "curl /auth/login",
			Status: store.StatusSkipped, Message: "dependency APP-001 did not pass",
		},
		{
			ID: "APP-007", Title: "GPU resources available", Domain: "application", Category: "AI/ML",
			Owner: "ML Eng", Severity: "info", Mode: "shadow", Kind: "exec", Validation: "nvidia-smi",
			Status: store.StatusWarn, Message: "shadow: gpu_util (97) < 90", StartedAt: at(5), DurationMS: 88, Attempts: 1,
			Values: json.RawMessage(`not json`),
		},
		{
			ID: "CHAOS-1", Title: "Pod kill survives", Domain: "chaos", Category: "Resilience",
			Owner: "SRE", Severity: "warning", Mode: "shadow", Kind: "exec", Status: store.StatusPass,
			StartedAt: at(6), DurationMS: 5, Attempts: 1,
		},
		{
			ID: "BAK-001", Title: "Backup restored in test", Domain: "backup", Category: "Database",
			Owner: "DBA", Severity: "blocking", Mode: "enforce", Status: store.StatusPending, Validation: "Backup restoration test",
			Message: "awaiting attestation by DBA",
		},
		{
			ID: "POST-01", Title: "Smoke tests", Domain: "post-deployment", Category: "Health",
			Owner: "QA", Severity: "blocking", Mode: "enforce", Kind: "http", Status: store.StatusFail,
			Message: "status_code (503) == 200", Expect: "status_code == 200", StartedAt: at(7), DurationMS: 2100, Attempts: 3,
		},
		{
			ID: "ALPHA-1", Title: "Custom domain check", Domain: "alpha", Category: "",
			Owner: "", Severity: "", Mode: "enforce", Kind: "dns", Status: store.StatusPass, StartedAt: at(8), DurationMS: 3, Attempts: 1,
		},
	}
	return &Report{
		Run: store.Run{
			ID: "01JPRF0000RUN0000000000001", Checklist: "phoenix-production",
			ChecklistDigest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			ChecklistFile:   "prf.yaml", Environment: "production", StartedAt: t0, FinishedAt: &fin,
			State: store.RunCompleted, Verdict: store.VerdictNotReady, Summary: store.Summarize(results),
			Total: len(results), Host: "ci-runner-1", PID: 4242,
		},
		Results: results,
		Tool:    "prf v0.0.0-test",
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func render(t *testing.T, name string, opt Options, rep *Report) []byte {
	t.Helper()
	f, err := New(name, opt)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf, rep); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name, format string
		opt          Options
	}{
		{"table", "table", Options{}},
		{"table_narrow", "table", Options{Width: 72}},
		{"table_color", "table", Options{Color: true}},
		{"markdown", "markdown", Options{}},
		{"junit", "junit", Options{}},
		{"json", "json", Options{}},
		{"html", "html", Options{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, tc.format, tc.opt, fixture())
			golden(t, tc.name, got)
			if again := render(t, tc.format, tc.opt, fixture()); !bytes.Equal(got, again) {
				t.Error("output differs between two renders of the same report")
			}
		})
	}
}

func TestEmptyReport(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			out := render(t, name, Options{}, &Report{})
			if len(out) == 0 {
				t.Error("no output for an empty report")
			}
		})
	}
	var buf bytes.Buffer
	if err := RunDiff(&buf, Report{}, Report{}); err != nil {
		t.Fatal(err)
	}
}

func TestRegistry(t *testing.T) {
	want := []string{"table", "json", "markdown", "junit", "html"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range Names() {
		f, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name() != name {
			t.Errorf("Lookup(%q).Name() = %q", name, f.Name())
		}
		if f.ContentType() == "" || Doc(name) == "" {
			t.Errorf("%s: empty content type or doc", name)
		}
	}
	_, err := Lookup("pdf")
	if !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("Lookup(pdf) error = %v, want ErrUnknownFormat", err)
	}
	if !strings.Contains(err.Error(), `"pdf"`) || !strings.Contains(err.Error(), "junit") {
		t.Errorf("error %q should name the format and the choices", err)
	}
}

func TestHelpers(t *testing.T) {
	rep := fixture()
	c := rep.Counts()
	want := map[store.Status]int{
		store.StatusPass: 4, store.StatusFail: 2, store.StatusWarn: 2,
		store.StatusError: 1, store.StatusSkipped: 1, store.StatusPending: 2,
	}
	for _, s := range store.Statuses {
		if c[s] != want[s] {
			t.Errorf("Counts()[%s] = %d, want %d", s, c[s], want[s])
		}
	}
	if got := rep.Automated(); got != 10 {
		t.Errorf("Automated() = %d, want 10", got)
	}
	if got := rep.AutomatedText(); got != "83% (10 of 12)" {
		t.Errorf("AutomatedText() = %q", got)
	}
	if got := (&Report{}).AutomatedShare(); got != 0 {
		t.Errorf("AutomatedShare of no results = %v", got)
	}
	var domains []string
	for _, d := range rep.Domains() {
		domains = append(domains, d.Name)
	}
	wantDomains := []string{"infrastructure", "application", "security", "backup", "post-deployment", "alpha", "chaos"}
	if !slices.Equal(domains, wantDomains) {
		t.Errorf("domain order %v, want %v", domains, wantDomains)
	}
	var ids []string
	for _, r := range rep.Ordered()[:4] {
		ids = append(ids, r.ID)
	}
	if want := []string{"INF-001", "INF-002", "INF-003", "INF-004"}; !slices.Equal(ids, want) {
		t.Errorf("infrastructure order %v, want %v (category by first appearance, then stored order)", ids, want)
	}
}

func TestVerdict(t *testing.T) {
	fail := []store.Result{{ID: "a", Status: store.StatusPass}, {ID: "b", Status: store.StatusFail}}
	pass := []store.Result{{ID: "a", Status: store.StatusPass}, {ID: "b", Status: store.StatusWarn}}
	tests := []struct {
		name string
		run  store.Run
		res  []store.Result
		want string
	}{
		{"stored ready wins", store.Run{State: store.RunCompleted, Verdict: store.VerdictReady}, fail, "READY"},
		{"stored not ready wins", store.Run{State: store.RunCompleted, Verdict: store.VerdictNotReady}, pass, "NOT READY"},
		{"running is not ready", store.Run{State: store.RunRunning}, pass, "NOT READY"},
		{"interrupted is not ready", store.Run{State: store.RunInterrupted}, pass, "NOT READY (interrupted)"},
		{"says what blocks", store.Run{State: store.RunCompleted, Verdict: store.VerdictNotReady}, []store.Result{
			{ID: "a", Status: store.StatusFail, Mode: "enforce", Severity: "blocking"},
			{ID: "b", Status: store.StatusPending, Mode: "enforce", Severity: "blocking"},
			{ID: "c", Status: store.StatusPending, Mode: "enforce", Severity: "blocking"},
			{ID: "d", Status: store.StatusWarn, Mode: "enforce", Severity: "warning"},
			{ID: "e", Status: store.StatusFail, Mode: "shadow", Severity: "blocking"},
		}, "NOT READY (blocking: 1 fail, 2 pending)"},
		{"completed without verdict, a fail", store.Run{State: store.RunCompleted}, fail, "NOT READY"},
		{"completed without verdict, no fail", store.Run{State: store.RunCompleted}, pass, "READY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := &Report{Run: tc.run, Results: tc.res}
			if got := rep.VerdictText(); got != tc.want {
				t.Errorf("VerdictText() = %q, want %q", got, tc.want)
			}
		})
	}
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTableWidth(t *testing.T) {
	for _, width := range []int{42, 60, 72, 100, 120} {
		out := string(render(t, "table", Options{Width: width, Color: true}, fixture()))
		for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			plain := ansiRE.ReplaceAllString(line, "")
			// Summary lines hold unbreakable values (run id, counts); only
			// the grouped rows and messages must fit.
			if strings.HasPrefix(plain, " ") && textWidth(plain) > width {
				t.Errorf("width %d: line is %d cells: %q", width, textWidth(plain), plain)
			}
		}
	}
	out := string(render(t, "table", Options{}, fixture()))
	if strings.Contains(out, "\x1b[") {
		t.Error("colour is on without Options.Color")
	}
	if strings.Contains(out, "<script>alert('x')</script> ünïcödé") == false {
		t.Error("table should show the message's second line as it is")
	}
}

func TestJSON(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(render(t, "json", Options{}, fixture()), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"run_id", "checklist", "checklist_sha256", "environment", "started_at", "finished_at",
		"state", "verdict", "summary", "automated_share", "results"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("missing key %q", k)
		}
	}
	if doc["verdict"] != "not_ready" {
		t.Errorf("verdict = %v", doc["verdict"])
	}
	summary := doc["summary"].(map[string]any)
	for _, s := range store.Statuses {
		if _, ok := summary[string(s)]; !ok {
			t.Errorf("summary lacks %q", s)
		}
	}
	results := doc["results"].([]any)
	first := results[0].(map[string]any)
	for _, k := range []string{"id", "title", "domain", "category", "owner", "severity", "mode", "status", "message",
		"duration_ms", "attempts", "expect", "values", "observation", "controls", "tags"} {
		if _, ok := first[k]; !ok {
			t.Errorf("result lacks %q", k)
		}
	}
	if first["id"] != "INF-001" {
		t.Errorf("first result %v, want INF-001 (domain order)", first["id"])
	}
}

func TestJUnit(t *testing.T) {
	out := render(t, "junit", Options{}, fixture())
	type tc struct {
		Classname string `xml:"classname,attr"`
		Name      string `xml:"name,attr"`
		Time      string `xml:"time,attr"`
		Failure   *struct {
			Message string `xml:"message,attr"`
			Type    string `xml:"type,attr"`
		} `xml:"failure"`
		Error *struct {
			Message string `xml:"message,attr"`
		} `xml:"error"`
		Skipped *struct {
			Message string `xml:"message,attr"`
		} `xml:"skipped"`
		SystemOut string `xml:"system-out"`
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Errors   int      `xml:"errors,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Suites   []struct {
			Name       string `xml:"name,attr"`
			Tests      int    `xml:"tests,attr"`
			Failures   int    `xml:"failures,attr"`
			Errors     int    `xml:"errors,attr"`
			Skipped    int    `xml:"skipped,attr"`
			Properties []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []tc `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("junit does not parse: %v", err)
	}
	if doc.Tests != 12 || doc.Failures != 2 || doc.Errors != 1 || doc.Skipped != 3 {
		t.Errorf("tests/failures/errors/skipped = %d/%d/%d/%d, want 12/2/1/3", doc.Tests, doc.Failures, doc.Errors, doc.Skipped)
	}
	var failures, errs, skipped, tests int
	var warned []string
	for _, s := range doc.Suites {
		props := map[string]string{}
		for _, p := range s.Properties {
			props[p.Name] = p.Value
		}
		if props["run_id"] != "01JPRF0000RUN0000000000001" || props["verdict"] != "not_ready" {
			t.Errorf("suite %s properties %v", s.Name, props)
		}
		var sf, se, ss int
		for _, c := range s.Cases {
			if !strings.HasPrefix(c.Classname, s.Name+".") {
				t.Errorf("classname %q not under suite %q", c.Classname, s.Name)
			}
			if c.Failure != nil {
				sf++
			}
			if c.Error != nil {
				se++
			}
			if c.Skipped != nil {
				ss++
			}
			if strings.HasPrefix(c.SystemOut, "warning: ") {
				warned = append(warned, c.Name)
			}
		}
		if sf != s.Failures || se != s.Errors || ss != s.Skipped || len(s.Cases) != s.Tests {
			t.Errorf("suite %s attributes disagree with its cases", s.Name)
		}
		failures, errs, skipped, tests = failures+sf, errs+se, skipped+ss, tests+len(s.Cases)
	}
	if failures != 2 || errs != 1 || skipped != 3 || tests != 12 {
		t.Errorf("cases: %d failures, %d errors, %d skipped of %d", failures, errs, skipped, tests)
	}
	if len(warned) != 2 {
		t.Errorf("warned cases %v, want 2 with a warning in system-out", warned)
	}
	if doc.Suites[0].Name != "infrastructure" || doc.Suites[0].Cases[0].Classname != "infrastructure.compute" {
		t.Errorf("first suite %q case %q", doc.Suites[0].Name, doc.Suites[0].Cases[0].Classname)
	}
}

func TestHTMLSelfContained(t *testing.T) {
	out := string(render(t, "html", Options{}, fixture()))
	external := regexp.MustCompile(`(?i)(src|href|action)\s*=\s*["']?\s*(https?:)?//`)
	if m := external.FindString(out); m != "" {
		t.Errorf("external reference %q", m)
	}
	for _, bad := range []string{"<script", "url(", "@import", "<link", "<iframe", "<img"} {
		if strings.Contains(out, bad) {
			t.Errorf("html holds %q: an external asset, a script or an unescaped message", bad)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") {
		t.Error("escaped message not found")
	}
	for _, want := range []string{"<details>", "&#34;days_to_expiry&#34;: 3", "prefers-color-scheme: dark", "NOT READY", "ünïcödé 日本語"} {
		if !strings.Contains(out, want) {
			t.Errorf("html lacks %q", want)
		}
	}
}

func TestMarkdownEscape(t *testing.T) {
	out := string(render(t, "markdown", Options{}, fixture()))
	unescapedPipe := regexp.MustCompile(`(^|[^\\])\|`)
	want, rows := 5, 0 // checkpoint tables have 4 cells, the summary table 2
	for _, line := range strings.Split(out, "\n") {
		if line == "## Summary" {
			want = 3
		}
		if !strings.HasPrefix(line, "|") {
			continue
		}
		rows++
		if n := len(unescapedPipe.FindAllString(line, -1)); n != want {
			t.Errorf("row with %d cell separators, want %d: %q", n, want, line)
		}
	}
	if rows == 0 {
		t.Fatal("no table rows found")
	}
	if strings.Contains(out, "<script>") {
		t.Error("markdown holds a raw <script>")
	}
	if !strings.Contains(out, `\| cert CN=api.example.com<br>chain`) {
		t.Error("pipe or newline not escaped in the failure cell")
	}
}

func TestRunDiff(t *testing.T) {
	a := fixture()
	b := fixture()
	b.Run.ID = "01JPRF0000RUN0000000000002"
	b.Run.Verdict = store.VerdictReady
	b.Run.ChecklistDigest = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	var kept []store.Result
	for _, r := range b.Results {
		switch r.ID {
		case "SEC-004":
			r.Status, r.Message = store.StatusPass, "days_to_expiry (80) >= 14"
		case "INF-001":
			r.Status, r.Message = store.StatusFail, "status_code (502) == 200 | upstream\nreset"
		case "APP-002":
			r.Status, r.Message = store.StatusPending, "awaiting attestation by Backend"
		case "CHAOS-1":
			continue // removed
		}
		kept = append(kept, r)
	}
	kept = append(kept, store.Result{ID: "SEC-010", Title: "WAF rules active", Domain: "security", Category: "Network Security",
		Status: store.StatusWarn, Message: "blocked_share (0.8) >= 0.95", Kind: "waf"})
	b.Results = kept

	var buf bytes.Buffer
	if err := RunDiff(&buf, *a, *b); err != nil {
		t.Fatal(err)
	}
	golden(t, "diff", buf.Bytes())

	buf.Reset()
	if err := RunDiff(&buf, *a, *a); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "0 changed (0 now passing, 0 no longer passing), 0 added, 0 removed; verdict NOT READY (unchanged)\n") {
		t.Errorf("same run diff:\n%s", buf.String())
	}
}

func TestWrapAndTruncate(t *testing.T) {
	tests := []struct {
		in   string
		w    int
		want []string
	}{
		{"short", 20, []string{"short"}},
		{"one two three four", 9, []string{"one two", "three", "four"}},
		{"abcdefghijklmnop", 8, []string{"abcdefgh", "ijklmnop"}},
		{"a\nb\tc", 20, []string{"a", "b c"}},
		{"日本語日本語", 8, []string{"日本語日", "本語"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := wrap(tc.in, tc.w); !slices.Equal(got, tc.want) {
				t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.w, got, tc.want)
			}
		})
	}
	if got := truncate("✅ pass and more", 7); got != "✅ pas…" || textWidth(got) != 7 {
		t.Errorf("truncate = %q (%d cells)", got, textWidth(got))
	}
	if got := truncate("日本語", 4); got != "日…" {
		t.Errorf("truncate wide = %q", got)
	}
}
