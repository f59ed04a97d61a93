package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitWritesALintCleanChecklist(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "svc", "prf.yaml")
	code, out, errOut := prf(t, "init", "-f", file, "--name", "payments")
	if code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"name: payments", "include: [catalog]", "  api_url: \"\"", "  # Base URL of the API gateway",
		"  database_dsn: \"\"", "disable: []", "# api_p95"} {
		if !strings.Contains(text, want) {
			t.Errorf("prf.yaml lacks %q", want)
		}
	}
	if code, _, _ := prf(t, "init", "-f", file); code != 2 {
		t.Errorf("init over an existing file: exit %d, want 2", code)
	}
	if code, _, _ := prf(t, "init", "-f", file, "--force"); code != 0 {
		t.Errorf("init --force: exit %d", code)
	}
	code, out, _ = prf(t, "lint", "-f", file, "--no-secrets")
	if code != 0 || !strings.Contains(out, "not configured") {
		t.Errorf("lint of the new prf.yaml: exit %d\n%s", code, out)
	}
	// A team fills in a variable and disables a checkpoint with a reason.
	filled := strings.Replace(text, `  api_url: ""`, `  api_url: "https://api.example.test"`, 1)
	filled = strings.Replace(filled, "disable: []", "disable:\n  - {id: app.gateway.health, reason: checked by the platform team}", 1)
	writeFile(t, dir, "filled.yaml", filled)
	if code, out, _ := prf(t, "lint", "-f", filepath.Join(dir, "filled.yaml"), "--no-secrets"); code != 0 {
		t.Errorf("lint of the filled prf.yaml: exit %d\n%s", code, out)
	}
}

func TestCheckCatalog(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "prf.db")
	// A value where a reference belongs is refused and never echoed.
	code, out, errOut := prf(t, "check", "--catalog", "--db", db, "--secret", "auth_password=hunter2-value")
	if code != 2 || strings.Contains(out+errOut, "hunter2") {
		t.Fatalf("--secret with a value: exit %d, output %q", code, out+errOut)
	}
	// Nothing answers on the API URL: the gateway's checks error, the rest
	// of the catalogue is not configured, skipped and counted.
	code, out, errOut = prf(t, "check", "--catalog", "--db", db, "-q", "-o", "json", "--var", "api_url=http://127.0.0.1:1")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (not ready)\n%s", code, errOut)
	}
	var doc struct {
		Checklist string         `json:"checklist"`
		Summary   map[string]int `json:"summary"`
		SkippedBy map[string]int `json:"skipped_by"`
		Results   []struct {
			ID, Status, Skip, Message, Source string
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("json report: %v\n%s", err, out)
	}
	if doc.Checklist != "prf-catalog" || len(doc.Results) < 150 {
		t.Fatalf("checklist %q with %d results", doc.Checklist, len(doc.Results))
	}
	byID := map[string]int{}
	for i, r := range doc.Results {
		byID[r.ID] = i
	}
	gw := doc.Results[byID["app.gateway.health"]]
	if gw.Status != "error" || gw.Source != "§1.2 row 1" {
		t.Errorf("app.gateway.health: %+v", gw)
	}
	if doc.SkippedBy["not_configured"] == 0 || doc.SkippedBy["not_configured"] > doc.Summary["skipped"] {
		t.Errorf("skipped_by %v, summary %v", doc.SkippedBy, doc.Summary)
	}
	for _, r := range doc.Results {
		if r.Skip == "not_configured" && (r.Status != "skipped" || !(strings.HasPrefix(r.Message, "not configured: set ") ||
			strings.HasPrefix(r.Message, "not configured: secret ") || strings.HasSuffix(r.Message, " is not configured"))) {
			t.Errorf("%s: %s %q", r.ID, r.Status, r.Message)
		}
	}
}

func TestCatalogCommands(t *testing.T) {
	code, out, _ := prf(t, "catalog", "list", "--domain", "security", "-o", "json")
	if code != 0 {
		t.Fatalf("list: exit %d", code)
	}
	var entries []catalogEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) < 20 {
		t.Errorf("%d security checkpoints", len(entries))
	}
	for _, e := range entries {
		if e.Domain != "security" {
			t.Errorf("--domain security listed %s (%s)", e.ID, e.Domain)
		}
	}
	code, out, _ = prf(t, "catalog", "list", "--control", "NIST-800-53:SC", "-o", "markdown")
	if code != 0 || !strings.Contains(out, "| `") || !strings.Contains(out, "NIST-800-53:SC-") {
		t.Errorf("list --control NIST-800-53:SC: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"catalog", "list", "--domain", "nowhere"}, {"catalog", "list", "--control", "NOPE:1"}, {"catalog", "show", "app.gateway.helth"}} {
		if code, _, errOut := prf(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	_, _, errOut := prf(t, "catalog", "show", "app.gateway.helth")
	if !strings.Contains(errOut, `did you mean "app.gateway.health"`) {
		t.Errorf("show of a misspelt id: %s", errOut)
	}
	code, out, _ = prf(t, "catalog", "show", "app.gateway.health")
	for _, want := range []string{"source:     §1.2 row 1", "Controls:", "Probe:", "vars.api_url", "Expect:"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show: exit %d, want %q in:\n%s", code, want, out)
		}
	}
	code, out, _ = prf(t, "catalog", "coverage", "-o", "json")
	var cov struct {
		Total          int     `json:"total"`
		Automated      int     `json:"automated"`
		AutomatedShare float64 `json:"automated_share"`
		DocumentRows   int     `json:"document_rows"`
		Domains        []struct {
			Domain string `json:"domain"`
			Total  int    `json:"total"`
		} `json:"domains"`
	}
	if err := json.Unmarshal([]byte(out), &cov); code != 0 || err != nil {
		t.Fatalf("coverage: exit %d, %v", code, err)
	}
	sum := 0
	for _, d := range cov.Domains {
		sum += d.Total
	}
	if cov.Total < 150 || sum != cov.Total || cov.DocumentRows != 138 || cov.AutomatedShare != float64(cov.Automated)/float64(cov.Total) {
		t.Errorf("coverage = %+v", cov)
	}
	code, out, _ = prf(t, "catalog", "coverage")
	if code != 0 || !strings.Contains(out, "the document's claim of 85%") || !strings.Contains(out, "Controls:") {
		t.Errorf("coverage text: exit %d\n%s", code, out)
	}
}
