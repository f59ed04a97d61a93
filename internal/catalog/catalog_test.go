package catalog

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prfhq/prf/internal/checklist"
)

// configured returns a value for every variable the catalogue leaves
// empty, and a secret reference for every secret, as a team would set them.
func configured(t testing.TB) checklist.Options {
	t.Helper()
	bare, err := Load(checklist.Options{})
	if err != nil {
		t.Fatalf("catalogue does not load: %v", err)
	}
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("placeholder\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vars := map[string]string{}
	for name, v := range bare.Vars {
		if v != "" {
			continue
		}
		vars[name] = fillVar(name, file)
	}
	secrets := map[string]string{}
	for name := range bare.Secrets {
		env := "PRF_CATALOG_TEST_" + strings.ToUpper(name)
		t.Setenv(env, "value-of-"+name)
		secrets[name] = "env:" + env
	}
	return checklist.Options{Vars: vars, Secrets: secrets, ResolveSecrets: true}
}

// fillVar is a plausible value for an empty catalogue variable, by name.
func fillVar(name string, file func(string) string) string {
	switch {
	case name == "api_url":
		return "https://api.example.test"
	case name == "chain_rpc_url":
		return "http://127.0.0.1:26657"
	case name == "prometheus_url":
		return "http://127.0.0.1:9090"
	case name == "alertmanager_url":
		return "http://127.0.0.1:9093"
	case name == "s3_endpoint":
		return "http://127.0.0.1:8333"
	case name == "kubeconfig", strings.HasSuffix(name, "_file"):
		return file(name)
	case strings.HasSuffix(name, "_addr"), strings.HasSuffix(name, "_resolver"):
		return "127.0.0.1:6379"
	case strings.HasSuffix(name, "_url"):
		return "https://service.example.test"
	case strings.HasSuffix(name, "_expires"), strings.HasSuffix(name, "_last"), strings.HasSuffix(name, "_date"):
		return "2027-06-30"
	case strings.HasSuffix(name, "_prefix"):
		return "backups/" + strings.TrimSuffix(name, "_prefix") + "/"
	case strings.HasSuffix(name, "_bucket"):
		return "backups"
	case strings.HasSuffix(name, "_context"):
		return "prod"
	}
	return "configured-" + name
}

func TestCatalogueLintsCleanWhenConfigured(t *testing.T) {
	cl, err := Load(configured(t))
	if err != nil {
		t.Fatalf("catalogue with every variable set:\n%v", err)
	}
	if n := len(cl.Checkpoints); n < 150 {
		t.Errorf("catalogue has %d checkpoints, want at least 150", n)
	}
	table, err := ControlTable()
	if err != nil {
		t.Fatal(err)
	}
	sourceRE := regexp.MustCompile(`^§\d\.\d (row|step|check|threshold) \d+$`)
	for _, cp := range cl.Checkpoints {
		where := fmt.Sprintf("%s: %s", cp.File, cp.ID)
		if len(cp.NotConfigured) > 0 {
			t.Errorf("%s: not configured with every variable set: %v", where, cp.NotConfigured)
		}
		if cp.Manual == nil && cp.Program == nil {
			t.Errorf("%s: automated but its expect did not compile", where)
		}
		if cp.Manual != nil && strings.TrimSpace(cp.Manual.Evidence) == "" {
			t.Errorf("%s: manual without the evidence that satisfies it", where)
		}
		for _, field := range []struct{ name, v string }{{"category", cp.Category}, {"validation", cp.Validation}} {
			if strings.TrimSpace(field.v) == "" {
				t.Errorf("%s: %s is empty", where, field.name)
			}
		}
		if len(cp.Controls) == 0 {
			t.Errorf("%s: maps to no control", where)
		}
		for _, c := range cp.Controls {
			if _, ok := table.Lookup(c); !ok {
				t.Errorf("%s: control %q is not in controls.yaml", where, c)
			}
		}
		switch {
		case cp.Source == "" && !slices.Contains(cp.Tags, "beyond-document"):
			t.Errorf("%s: no source and not tagged beyond-document", where)
		case cp.Source != "" && !sourceRE.MatchString(cp.Source):
			t.Errorf("%s: source %q: want e.g. §2.1 row 4, §2.2 step 1, §3.2 check 3", where, cp.Source)
		}
	}
}

func TestCatalogueUnconfiguredIsSkippedNotBroken(t *testing.T) {
	cl, err := Load(checklist.Options{})
	if err != nil {
		t.Fatalf("bare catalogue: %v", err)
	}
	notConfigured := 0
	for _, cp := range cl.Checkpoints {
		if cp.Manual != nil {
			continue
		}
		if len(cp.NotConfigured) > 0 {
			notConfigured++
		}
	}
	if notConfigured == 0 {
		t.Fatal("with no variable set, no automated checkpoint is not configured")
	}
	// Setting api_url alone configures the gateway's checks and nothing else.
	cl2, err := Load(checklist.Options{Vars: map[string]string{"api_url": "https://api.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	gw := cl2.Lookup("app.gateway.health")
	if gw == nil {
		t.Fatal("no app.gateway.health")
	}
	if len(gw.NotConfigured) > 0 {
		t.Errorf("app.gateway.health with api_url set: not configured %v", gw.NotConfigured)
	}
	if b := cl.Lookup("app.gateway.health"); b == nil || !slices.Equal(b.NotConfigured, []string{"api_url"}) {
		t.Errorf("app.gateway.health without api_url: not configured = %v, want [api_url]", b.NotConfigured)
	}
}

func TestControlsTable(t *testing.T) {
	table, err := ControlTable()
	if err != nil {
		t.Fatal(err)
	}
	if len(table.List) < 50 {
		t.Errorf("controls table has %d entries", len(table.List))
	}
	for _, fw := range []string{"NIST-800-53", "SOC2", "ISO27001", "FIPS-140", "OWASP", "GDPR", "CCPA"} {
		n := 0
		for _, c := range table.List {
			if c.Framework == fw {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no control of framework %s", fw)
		}
	}
	for _, bad := range []string{
		"frameworks: {A: a}\ncontrols:\n  B:1: x\n",
		"frameworks: {A: a}\ncontrols:\n  A1: x\n",
		"frameworks: {A: a}\ncontrols:\n  A:1: x\n  A:1: y\n",
	} {
		if _, err := parseControls([]byte(bad)); err == nil {
			t.Errorf("parseControls(%q) accepted it", bad)
		}
	}
}

// docRow is one checkable row of the source document.
type docRow struct {
	source string // e.g. "§2.1 row 4"
	text   string // the row, for the failure message
}

// documentRows parses the document: every data row of every table under a
// "### N.N" heading, the security script's tests (§2.2), the k6 script's
// checks and thresholds (§3.2) and the integration script's tests (§7.2).
func documentRows(t *testing.T, path string) []docRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		headRE      = regexp.MustCompile(`^### (\d\.\d) `)
		stepRE      = regexp.MustCompile(`^# .+ Test$`)
		checkRE     = regexp.MustCompile(`^\s+"[^"]+": \(r\) =>`)
		thresholdRE = regexp.MustCompile(`^\s+\w+: \["`)
	)
	var rows []docRow
	var section string
	tableLine, n := 0, map[string]int{}
	inThresholds := false
	add := func(what, text string) {
		key := section + " " + what
		n[key]++
		rows = append(rows, docRow{source: fmt.Sprintf("§%s %s %d", section, what, n[key]), text: strings.TrimSpace(text)})
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := headRE.FindStringSubmatch(line); m != nil {
			section, tableLine = m[1], 0
			continue
		}
		switch {
		case strings.HasPrefix(line, "|"):
			tableLine++
			if tableLine > 2 { // header and separator first
				add("row", line)
			}
			continue
		case section == "2.2" && stepRE.MatchString(line):
			add("step", line)
		case section == "7.2" && strings.HasPrefix(line, "# Test "):
			add("step", line)
		case section == "3.2" && checkRE.MatchString(line):
			add("check", line)
		case section == "3.2" && strings.Contains(line, "thresholds: {"):
			inThresholds = true
		case inThresholds && thresholdRE.MatchString(line):
			add("threshold", line)
		case inThresholds && strings.Contains(line, "},"):
			inThresholds = false
		}
		tableLine = 0
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestEveryDocumentRowHasACheckpoint(t *testing.T) {
	rows := documentRows(t, "testdata/production-checklist.md")
	// The parser itself: the document's tables and scripts, counted by hand.
	want := map[string]int{
		"§1.1 row": 12, "§1.2 row": 12, "§2.1 row": 15, "§2.2 step": 5, "§3.1 row": 8,
		"§3.2 check": 11, "§3.2 threshold": 3, "§4.1 row": 14, "§4.2 row": 6, "§5.1 row": 10,
		"§5.2 row": 5, "§6.1 row": 12, "§7.1 row": 8, "§7.2 step": 4, "§8.1 row": 6, "§9.1 row": 7,
	}
	got := map[string]int{}
	for _, r := range rows {
		got[r.source[:strings.LastIndex(r.source, " ")]]++
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("document parser: %s: %d rows, want %d", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("document parser found sections %v, want %v", got, want)
	}

	cl, err := Load(checklist.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bySource := map[string][]string{}
	for _, cp := range cl.Checkpoints {
		if cp.Source != "" {
			bySource[cp.Source] = append(bySource[cp.Source], cp.ID)
		}
	}
	known := map[string]bool{}
	for _, r := range rows {
		known[r.source] = true
		if len(bySource[r.source]) == 0 {
			t.Errorf("%s has no checkpoint: %s", r.source, r.text)
		}
	}
	for src, ids := range bySource {
		if !known[src] {
			t.Errorf("checkpoints %v name source %q, which is not a row of the document", ids, src)
		}
	}
}

// BenchmarkLoad measures loading the whole catalogue: parse, merge, decode
// every probe's settings and compile every expect.
func BenchmarkLoad(b *testing.B) {
	opts := configured(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(opts); err != nil {
			b.Fatal(err)
		}
	}
}
