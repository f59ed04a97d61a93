package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prfhq/prf/internal/demo"
	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/store/sqlite"
)

// TestMain lets tests run prf as a real child process (for kill tests):
// the test binary re-executed with PRF_TEST_MAIN=1 is prf.
func TestMain(m *testing.M) {
	if os.Getenv("PRF_TEST_MAIN") == "1" {
		os.Exit(run())
	}
	os.Exit(m.Run())
}

func testDeps(out, errOut io.Writer) *deps {
	return &deps{In: strings.NewReader(""), Out: out, ErrOut: errOut, Getenv: func(string) string { return "" }, Terminal: func(io.Writer) bool { return false }}
}

func prf(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = execute(context.Background(), testDeps(&o, &e), args)
	return code, o.String(), e.String()
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// listen returns the address of a loopback listener that accepts
// connections; answer controls whether it ever writes anything.
func listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// hangingCheckpoint is an HTTP checkpoint against addr, a listener that
// never answers: it runs until the run is killed or interrupted.
func hangingCheckpoint(id, addr string) string {
	return fmt.Sprintf(`  - id: %s
    title: Never answers
    domain: application
    owner: DevOps Lead
    timeout: 1h
    probe: {kind: http, url: "http://%s/"}
    expect: status == 200
`, id, addr)
}

// prfProcess is prf as a child process (the test binary re-executed), for
// tests that kill or interrupt it.
func prfProcess(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "PRF_TEST_MAIN=1"), env...)
	return cmd
}

func tcpCheckpoint(id, addr, severity string) string {
	return fmt.Sprintf(`  - id: %s
    title: Port %s open
    domain: infrastructure
    category: Network
    owner: DevOps Lead
    severity: %s
    timeout: 5s
    probe: {kind: tcp, address: "%s"}
    expect: connected
`, id, id, severity, addr)
}

func TestCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	addr := listen(t)
	closed := func() string { // a port with nothing listening
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		a := ln.Addr().String()
		ln.Close()
		return a
	}()
	head := "version: 1\nname: t\ncheckpoints:\n"
	ready := writeFile(t, dir, "ready.yaml", head+tcpCheckpoint("open", addr, "blocking")+tcpCheckpoint("closed", closed, "warning"))
	notReady := writeFile(t, dir, "notready.yaml", head+tcpCheckpoint("open", addr, "blocking")+tcpCheckpoint("closed", closed, "blocking"))
	bad := writeFile(t, dir, "bad.yaml", head+"  - id: x\n    titel: y\n")
	db := filepath.Join(dir, "prf.db")
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"ready", []string{"check", "--db", db, "-f", ready, "-q"}, 0, "Verdict     READY"},
		{"not ready", []string{"check", "--db", db, "-f", notReady, "-q"}, 1, "NOT READY"},
		{"bad checklist", []string{"check", "--db", db, "-f", bad}, 2, ""},
		{"missing file", []string{"check", "--db", db, "-f", filepath.Join(dir, "nope.yaml")}, 2, ""},
		{"bad format", []string{"check", "--db", db, "-f", ready, "-o", "pdf"}, 2, ""},
		{"bad flag", []string{"check", "--bogus"}, 2, ""},
		{"tag that selects nothing", []string{"check", "--db", db, "-f", ready, "--tag", "nosuchtag"}, 2, ""},
		{"unknown --only id", []string{"check", "--db", db, "-f", ready, "--only", "nope"}, 2, ""},
		{"lint ok", []string{"lint", "-f", ready}, 0, "ok: 2 checkpoints (2 automated, 0 manual)"},
		{"lint bad", []string{"lint", "-f", bad}, 2, `bad.yaml:5:5: checkpoint "x": titel: unknown field "titel" (did you mean "title"?)`},
		{"json", []string{"check", "--db", db, "-f", ready, "-q", "-o", "json"}, 0, `"verdict": "ready"`},
		{"runs list", []string{"runs", "list", "--db", db}, 0, "completed"},
		{"runs show last", []string{"runs", "show", "last", "--db", db, "-o", "markdown"}, 0, "| Checkpoint |"},
		{"runs show unknown", []string{"runs", "show", "nope", "--db", db}, 2, ""},
		{"schema", []string{"schema"}, 0, `"$schema"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := prf(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("stdout does not contain %q:\n%s", tc.out, out)
			}
		})
	}
}

func TestRunsDiff(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "prf.db")
	addr := listen(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	other := ln.Addr().String()
	f := writeFile(t, dir, "c.yaml", "version: 1\nname: t\ncheckpoints:\n"+tcpCheckpoint("a", addr, "blocking")+tcpCheckpoint("b", other, "blocking"))
	if code, out, e := prf(t, "check", "--db", db, "-f", f, "-q"); code != 0 {
		t.Fatalf("first run: %d\n%s%s", code, out, e)
	}
	ln.Close()
	if code, _, _ := prf(t, "check", "--db", db, "-f", f, "-q"); code != 1 {
		t.Fatalf("second run: want not ready")
	}
	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := st.ListRuns(context.Background(), store.RunFilter{})
	st.Close()
	code, out, _ := prf(t, "runs", "diff", "--db", db, runs[1].ID, runs[0].ID)
	if code != 0 || !strings.Contains(out, "b") || !strings.Contains(out, "pass → ❌ fail") || !strings.Contains(out, "connected: got connected=false") {
		t.Fatalf("diff (%d):\n%s", code, out)
	}
}

// A target that accepts connections and never answers: the run still ends
// within the checkpoints' timeouts, each reported as a timeout error.
func TestHangingTarget(t *testing.T) {
	dir := t.TempDir()
	addr := listen(t)
	f := writeFile(t, dir, "hang.yaml", fmt.Sprintf(`version: 1
name: hang
checkpoints:
  - id: http
    title: HTTP to a silent server
    domain: application
    owner: DevOps Lead
    timeout: 500ms
    probe: {kind: http, url: "http://%[1]s/health"}
    expect: status == 200
  - id: tls
    title: TLS to a silent server
    domain: security
    owner: Security Lead
    timeout: 500ms
    probe: {kind: tls, address: "%[1]s"}
    expect: version == "TLS1.3"
  - id: auth
    title: Login at a silent server
    domain: security
    owner: Security Lead
    timeout: 500ms
    probe: {kind: auth, login_url: "http://%[1]s/login", username: u, password: p, protected_url: "http://%[1]s/p"}
    expect: without_token_status == 401
  - id: waf
    title: WAF at a silent server
    domain: security
    owner: Security Lead
    timeout: 500ms
    probe: {kind: waf, url: "http://%[1]s/api"}
    expect: block_rate == 1.0
  - id: rl
    title: Rate limit at a silent server
    domain: security
    owner: Security Lead
    timeout: 500ms
    probe: {kind: ratelimit, url: "http://%[1]s/api", requests: 20}
    expect: limited > 0
`, addr))
	db := filepath.Join(dir, "prf.db")
	start := time.Now()
	code, out, errOut := prf(t, "check", "--db", db, "-f", f, "-o", "json", "-q")
	if code != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// Generous bound: five 500ms timeouts in parallel, on a shared machine.
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("run took %s", el)
	}
	for _, id := range []string{"http", "tls", "auth", "waf", "rl"} {
		if !strings.Contains(out, `"id": "`+id+`"`) {
			t.Errorf("no result for %s", id)
		}
	}
	if n := strings.Count(out, `"status": "error"`); n != 5 {
		t.Errorf("%d errors, want 5:\n%s", n, out)
	}
	if !strings.Contains(out, "timed out after 500ms") {
		t.Errorf("no timeout message:\n%s", out)
	}
}

// SIGKILL in the middle of a run loses no reported result, and the next
// start marks the run interrupted.
func TestKillLosesNoReportedResult(t *testing.T) {
	dir := t.TempDir()
	addr := listen(t)
	var b strings.Builder
	b.WriteString("version: 1\nname: kill\ncheckpoints:\n")
	for i := 0; i < 40; i++ {
		b.WriteString(tcpCheckpoint(fmt.Sprintf("quick.%02d", i), addr, "blocking"))
	}
	for i := 0; i < 4; i++ {
		b.WriteString(hangingCheckpoint(fmt.Sprintf("slow.%d", i), addr))
	}
	f := writeFile(t, dir, "kill.yaml", b.String())
	db := filepath.Join(dir, "prf.db")

	cmd := prfProcess(nil, "check", "--db", db, "-f", f, "--concurrency", "8")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Four checkpoints hang forever and hold four of the eight slots; the
	// quick ones finish through the other four. Progress lines (not a
	// terminal) name each result once it is stored.
	reported := map[string]bool{}
	sc := bufio.NewScanner(stderr)
	deadline := time.After(60 * time.Second)
	lines := make(chan string)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
wait:
	for len(reported) < 40 {
		select {
		case l, ok := <-lines:
			if !ok {
				break wait
			}
			for _, fld := range strings.Fields(l) {
				if strings.HasPrefix(fld, "quick.") {
					reported[fld] = true
				}
			}
		case <-deadline:
			t.Fatalf("only %d results reported in time", len(reported))
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(reported) != 40 {
		t.Fatalf("reported %d before the kill", len(reported))
	}

	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st.ListRuns(context.Background(), store.RunFilter{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	if runs[0].State != store.RunRunning {
		t.Errorf("state before recovery = %s", runs[0].State)
	}
	results, err := st.Results(context.Background(), runs[0].ID)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, r := range results {
		stored[r.ID] = true
	}
	for id := range reported {
		if !stored[id] {
			t.Errorf("%s was reported but is not stored", id)
		}
	}

	// The next start notices the dead run.
	code, out, errOut := prf(t, "runs", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "interrupted") || !strings.Contains(errOut, "marked interrupted") {
		t.Fatalf("after restart (%d):\n%s\n%s", code, out, errOut)
	}
}

// Ctrl-C: the run is stored as interrupted with the finished results.
func TestInterruptStoresRun(t *testing.T) {
	dir := t.TempDir()
	addr := listen(t)
	f := writeFile(t, dir, "int.yaml", "version: 1\nname: int\ncheckpoints:\n"+tcpCheckpoint("quick", addr, "blocking")+hangingCheckpoint("slow", addr))
	db := filepath.Join(dir, "prf.db")
	cmd := prfProcess(nil, "check", "--db", db, "-f", f)
	stderr, _ := cmd.StderrPipe()
	stdoutPipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the quick result to be stored, then interrupt.
	var errLines []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		errLines = append(errLines, sc.Text())
		if strings.Contains(sc.Text(), "quick") {
			break
		}
	}
	_ = cmd.Process.Signal(os.Interrupt)
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	out, _ := io.ReadAll(stdoutPipe)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v\n%s\n%s", err, out, strings.Join(errLines, "\n"))
	}
	if !strings.Contains(string(out), "(1 of 2 checkpoints)") || !strings.Contains(string(out), "NOT READY") {
		t.Errorf("report of the interrupted run:\n%s", out)
	}
	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, _ := st.ListRuns(context.Background(), store.RunFilter{})
	if len(runs) != 1 || runs[0].State != store.RunInterrupted || runs[0].Verdict != store.VerdictNotReady {
		t.Fatalf("runs = %+v", runs)
	}
	results, _ := st.Results(context.Background(), runs[0].ID)
	if len(results) != 1 || results[0].ID != "quick" {
		t.Errorf("results = %+v", results)
	}
}

// The README's flow: the reference system alone, its checklist printed,
// then prf check against it with the password from the environment.
func TestDemoTargetChecklistCheck(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	target := prfProcess([]string{demo.PasswordEnv + "=s3cret-for-test"}, "demo", "target", "--listen", "127.0.0.1:0", "--ca-out", ca, "--fault", "no-rate-limit")
	stdout, err := target.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = target.Process.Signal(os.Interrupt)
		_ = target.Wait()
	})
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no URL from demo target: %v", err)
	}
	url = strings.TrimSpace(url)
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("URL %q", url)
	}

	code, src, errOut := prf(t, "demo", "checklist", "--target", url, "--ca", ca)
	if code != 0 {
		t.Fatalf("demo checklist: %d %s", code, errOut)
	}
	cl := writeFile(t, dir, "prf.yaml", src)
	if code, out, _ := prf(t, "lint", "-f", cl, "--no-secrets"); code != 0 {
		t.Fatalf("lint: %s", out)
	}

	// demo.TestVars: the certification dates are data (passed by now) and
	// the latency budgets timing assertions: set them so that only the
	// fault decides.
	db := filepath.Join(dir, "prf.db")
	args := []string{"check", "-q", "--db", db, "-f", cl, "-o", "json"}
	vars := demo.TestVars()
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		args = append(args, "--var", k+"="+vars[k])
	}
	check := prfProcess([]string{demo.PasswordEnv + "=s3cret-for-test"}, args...)
	out, err := check.Output()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("check: %v\n%s", err, out)
	}
	var rep struct {
		Verdict string `json:"verdict"`
		Results []struct {
			ID, Kind, Status, Skip, Message string
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	// Not ready because of the fault (and the manual checkpoints): the
	// rate-limit checkpoints do not pass, every other configured automated
	// one does, the login included, with the password from the
	// environment, which is nowhere in the stored results.
	if rep.Verdict != "not_ready" {
		t.Errorf("verdict %q, want not_ready", rep.Verdict)
	}
	want := map[string]string{"app.gateway.rate-limiting": "fail", "sec.ratelimit.burst-429": "fail", "sec.ratelimit.retry-after": "warn"}
	got := map[string]string{}
	for _, r := range rep.Results {
		switch {
		case r.Kind == "" || r.Skip == "not_configured":
		case r.Status == "pass":
			got[r.ID] = "pass"
		default:
			got[r.ID] = r.Status
			if want[r.ID] != r.Status {
				t.Errorf("%s: %s: %s", r.ID, r.Status, r.Message)
			}
		}
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("%s: %q, want %s", id, got[id], st)
		}
	}
	for _, id := range []string{"app.gateway.health", "app.gateway.authentication", "sec.auth.jwt-signature-verified", "sec.waf.sqli", "sec.tls.chain-verified"} {
		if got[id] != "pass" {
			t.Errorf("%s: %q, want pass", id, got[id])
		}
	}
	for _, f := range []string{db, db + "-wal"} {
		raw, _ := os.ReadFile(f)
		if bytes.Contains(raw, []byte("s3cret-for-test")) {
			t.Errorf("the secret reached %s", f)
		}
	}
	if bytes.Contains(out, []byte("s3cret-for-test")) {
		t.Error("the secret reached the report")
	}
}

// Every example checklist in examples/ lints clean (secrets are not
// resolved: they name variables of the reader's environment).
func TestExamplesLint(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if code, out, errOut := prf(t, "lint", "--no-secrets", "-f", f); code != 0 {
				t.Errorf("lint %s: exit %d\n%s%s", f, code, out, errOut)
			}
		})
	}
}

// A wrong number of arguments is bad input on every command, with a
// pointer to its help.
func TestWrongArgumentCountIsBadInput(t *testing.T) {
	for _, args := range [][]string{{"runs", "show"}, {"risk", "eval", "extra"}, {"deployments", "outcome", "only-one"}, {"audit", "verify", "x", "y"}} {
		code, _, errOut := prf(t, args...)
		if code != exitBadInput || !strings.Contains(errOut, "--help' for usage") {
			t.Errorf("%v: exit %d, %q; want %d and a pointer to --help", args, code, errOut, exitBadInput)
		}
	}
}
