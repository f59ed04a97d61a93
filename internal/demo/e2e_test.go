package demo_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/prfhq/prf/internal/catalog" // registers include: [catalog]
	"github.com/prfhq/prf/internal/checklist"
	"github.com/prfhq/prf/internal/demo"
	"github.com/prfhq/prf/internal/runner"
	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/store/sqlite"
)

// The demo's checklist is the built-in catalogue configured for the target
// (demo.Checklist of Target.CatalogConfig). These tests run it as prf demo
// does and check what each fault breaks.

// demoConfigured is how many automated catalogue checkpoints the target's
// configuration (without services) leaves configured; the rest is "not
// configured" (Kubernetes, chain nodes, Prometheus, S3, ...). A change means
// a variable the demo sets was renamed, or the catalogue grew a checkpoint
// the demo can run: look at which, then update the count.
const demoConfigured = 67

// testVars are demo.TestVars: the values that let faults, not timing or
// dates, decide the demo checklist's verdicts.
var testVars = demo.TestVars()

// demoSystem is a started target with the demo checklist pointed at it and
// the secret values the run is handed.
type demoSystem struct {
	target  *demo.Target
	cl      *checklist.Checklist
	secrets checklist.Secrets
}

// startDemo starts a demo target with faults, writes its CA to a file and
// parses the demo checklist for it, with testVars. The target is closed by
// cleanup.
func startDemo(t testing.TB, faults ...string) demoSystem {
	t.Helper()
	tgt, err := demo.NewTarget(demo.Options{Faults: faults})
	if err != nil {
		t.Fatalf("NewTarget(%v): %v", faults, err)
	}
	if err := tgt.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = tgt.Close() })
	return demoChecklist(t, tgt, nil)
}

// demoChecklist renders and parses the demo checklist for a started target
// and the services beside it (nil: none).
func demoChecklist(t testing.TB, tgt *demo.Target, svc *demo.Services) demoSystem {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, tgt.CACertPEM(), 0o600); err != nil {
		t.Fatalf("write CA: %v", err)
	}
	cfg := tgt.CatalogConfig(caFile, svc)
	cl, err := checklist.Parse(demo.Checklist(cfg), "prf-demo.yaml", checklist.Options{Vars: testVars})
	if err != nil {
		t.Fatalf("Parse demo checklist: %v", err)
	}
	return demoSystem{target: tgt, cl: cl, secrets: checklist.Secrets(cfg.Secrets)}
}

// configured returns the ids of the checklist's configured automated
// checkpoints.
func configured(cl *checklist.Checklist) []string {
	var ids []string
	for _, cp := range cl.Checkpoints {
		if cp.Kind != "" && len(cp.NotConfigured) == 0 {
			ids = append(ids, cp.ID)
		}
	}
	return ids
}

// openStore opens a fresh SQLite store in a temp dir, closed by cleanup.
func openStore(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "prf.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// runDemo runs the demo checklist with its secrets and returns the run and
// its stored results.
func runDemo(t testing.TB, sys demoSystem, db *sqlite.DB, opts runner.Options) (*store.Run, []store.Result) {
	t.Helper()
	ctx := t.Context()
	opts.Secrets = sys.secrets
	run, err := runner.Run(ctx, sys.cl, db, opts)
	if err != nil {
		t.Fatalf("runner.Run: %v", err)
	}
	results, err := db.Results(ctx, run.ID)
	if err != nil {
		t.Fatalf("Results(%s): %v", run.ID, err)
	}
	return run, results
}

// notConfigured says whether r was skipped for want of a setting (or on
// purpose): such checkpoints do not block and are no part of the sets.
func notConfigured(r store.Result) bool {
	return r.Status == store.StatusSkipped && (r.Skip == store.SkipNotConfigured || r.Skip == store.SkipDisabled)
}

// notPassing returns the configured automated checkpoints that did not
// pass (fail, warn, error, or skipped for a dependency), by id.
func notPassing(results []store.Result) map[string]store.Result {
	out := map[string]store.Result{}
	for _, r := range results {
		if !r.Manual() && r.Status != store.StatusPass && !notConfigured(r) {
			out[r.ID] = r
		}
	}
	return out
}

func describe(r store.Result) string {
	s := r.ID + ": " + string(r.Status)
	if r.Skip != "" {
		s += " (" + r.Skip + ")"
	}
	return s + ": " + r.Message
}

// The healthy target passes every configured automated checkpoint; only the
// manual ones (pending until people attest them) keep it from being ready.
func TestDemoHealthy(t *testing.T) {
	sys := startDemo(t)
	ids := configured(sys.cl)
	if len(ids) != demoConfigured {
		t.Errorf("the demo configures %d automated checkpoints, want %d:\n%s", len(ids), demoConfigured, strings.Join(ids, "\n"))
	}
	run, results := runDemo(t, sys, openStore(t), runner.Options{})
	if run.State != store.RunCompleted {
		t.Errorf("run state = %s, want %s", run.State, store.RunCompleted)
	}
	if len(results) != len(sys.cl.Checkpoints) {
		t.Errorf("stored %d results, want %d", len(results), len(sys.cl.Checkpoints))
	}
	manual := 0
	for _, r := range results {
		switch {
		case r.Manual():
			manual++
			if r.Status != store.StatusPending && r.Skip != store.SkipDependency {
				t.Errorf("manual %s", describe(r))
			}
		case notConfigured(r):
		case r.Status != store.StatusPass:
			t.Errorf("%s (attempts %d, %.0fms)", describe(r), r.Attempts, r.DurationMS)
		}
	}
	if manual == 0 {
		t.Error("no manual checkpoints")
	}
	if run.Verdict != store.VerdictNotReady {
		t.Errorf("verdict = %s, want %s (manual checkpoints are pending)", run.Verdict, store.VerdictNotReady)
	}
	if got := run.Summary[store.StatusPass]; got != len(ids) {
		t.Errorf("summary pass = %d, want %d (%v)", got, len(ids), run.Summary)
	}
}

func TestDemoFaults(t *testing.T) {
	const (
		fail    = store.StatusFail
		warn    = store.StatusWarn
		errored = store.StatusError
		skipped = store.StatusSkipped // a checkpoint it depends on did not pass
	)
	// notPass is, for each fault, every configured automated checkpoint
	// that does not pass under it, with its status. Every other one must
	// pass, so a checkpoint that fails for the wrong reason is caught.
	tests := []struct {
		fault   string
		notPass map[string]store.Status
	}{
		// Everything that reads /health; the headers still come with the 503.
		{demo.FaultHealthDown, map[string]store.Status{
			"infra.network.load-balancer":       fail,
			"app.gateway.health":                fail,
			"sec.tls.https-health":              fail,
			"perf.load.health-status":           fail,
			"perf.load.health-latency":          skipped,
			"post.health.gateway":               fail,
			"post.integration.gateway":          fail,
			"post.integration.login":            skipped, // the integration tests stop at the gateway
			"post.integration.blockchain":       skipped,
			"post.integration.blockchain-token": skipped,
			"post.integration.ai":               skipped,
			"rollback.service.down":             fail,
			"perf.k6.load-test":                 skipped, // runs once health and login pass
		}},
		{demo.FaultSlowHealth, map[string]store.Status{
			"perf.load.health-latency": fail, // TestLatencyBudget under SlowDelay
			"perf.k6.load-test":        fail, // p95 and the health latency check
		}},
		// The login answers 500; the API token, provisioned beforehand,
		// still works, so the data and inference load checks pass.
		{demo.FaultAuthBroken, map[string]store.Status{
			"app.gateway.authentication":        fail,
			"sec.access.api-authentication":     fail,
			"sec.auth.alg-none-rejected":        skipped,
			"sec.auth.tampered-token-rejected":  skipped,
			"sec.auth.alg-confusion-rejected":   skipped,
			"sec.auth.token-lifetime":           skipped,
			"sec.auth.jwt-signature-verified":   skipped,
			"perf.load.auth-status":             fail,
			"perf.load.auth-latency":            skipped,
			"perf.load.auth-token":              skipped,
			"perf.k6.load-test":                 skipped,
			"post.integration.login":            fail,
			"post.integration.blockchain":       skipped,
			"post.integration.blockchain-token": skipped,
			"post.integration.ai":               skipped,
		}},
		{demo.FaultNoAuth, map[string]store.Status{
			"sec.access.api-authentication":     fail, // 200 without a token
			"sec.auth.alg-none-rejected":        skipped,
			"sec.auth.tampered-token-rejected":  skipped,
			"sec.auth.alg-confusion-rejected":   skipped,
			"sec.auth.token-lifetime":           skipped,
			"sec.auth.jwt-signature-verified":   skipped,
			"sec.auth.data-api-protected":       fail,
			"sec.auth.protected-requires-token": fail,
		}},
		{demo.FaultNoRateLimit, map[string]store.Status{
			"app.gateway.rate-limiting": fail,
			"sec.ratelimit.burst-429":   fail,
			"sec.ratelimit.retry-after": warn, // severity warning
		}},
		{demo.FaultWAFOff, map[string]store.Status{
			"sec.network.waf-rules":            fail,
			"sec.waf.sqli":                     fail,
			"sec.waf.xss":                      fail,
			"sec.waf.path-traversal":           fail,
			"sec.waf.command-injection":        fail,
			"sec.waf.ssrf":                     fail,
			"sec.waf.jndi":                     fail,
			"sec.waf.blocks-malicious-request": fail,
			// sec.waf.false-positives passes: benign traffic still gets through.
		}},
		{demo.FaultAISlow, map[string]store.Status{
			"perf.load.inference-latency": fail, // TestLatencyBudget under SlowDelay
			"perf.k6.load-test":           fail, // p95: a quarter of the requests take 1.5s
		}},
		{demo.FaultModelUnloaded, map[string]store.Status{
			"app.ai.inference-ready":         fail,
			"app.ai.model-loaded":            fail,
			"post.health.ai":                 fail,
			"perf.load.inference-status":     fail, // /ai/predict answers 503 too
			"perf.load.inference-latency":    skipped,
			"perf.load.inference-prediction": skipped,
			"perf.k6.load-test":              fail, // a quarter of the requests fail
			"post.integration.ai":            fail,
		}},
		{demo.FaultChainUnsynced, map[string]store.Status{
			"post.health.blockchain":      fail, // synced false
			"post.integration.blockchain": fail, // status not "healthy"
		}},
		// The certificate no longer verifies, so every HTTPS request errors
		// and the checkpoints that depend on one are skipped. The tls probe
		// observes instead of erroring: the chain and expiry checkpoints
		// fail, and so does sec.encryption.in-transit, as hostname_verified
		// means the chain verifies and names the host; the protocol, key
		// and HSTS checkpoints (which do not judge the chain) pass, as do DNS
		// and the certification dates.
		{demo.FaultExpiredCert, map[string]store.Status{
			"sec.tls.chain-verified":      fail,
			"sec.tls.cert-not-expired":    fail,
			"sec.tls.cert-renewal-margin": warn,
			"sec.encryption.in-transit":   fail,

			"infra.network.load-balancer":        errored,
			"app.gateway.health":                 errored,
			"app.gateway.authentication":         errored,
			"app.gateway.rate-limiting":          errored,
			"app.ai.inference-ready":             errored,
			"app.ai.model-loaded":                errored,
			"sec.access.api-authentication":      errored,
			"sec.auth.data-api-protected":        errored,
			"sec.auth.protected-requires-token":  errored,
			"sec.tls.https-health":               errored,
			"sec.headers.nosniff":                errored,
			"sec.headers.frame-protection":       errored,
			"sec.headers.csp":                    errored,
			"sec.headers.no-version-leak":        errored,
			"sec.network.waf-rules":              errored,
			"sec.waf.blocks-malicious-request":   errored,
			"sec.waf.sqli":                       errored,
			"sec.waf.xss":                        errored,
			"sec.waf.path-traversal":             errored,
			"sec.waf.command-injection":          errored,
			"sec.waf.ssrf":                       errored,
			"sec.waf.jndi":                       errored,
			"sec.waf.false-positives":            errored,
			"sec.ratelimit.burst-429":            errored,
			"sec.ratelimit.retry-after":          errored,
			"perf.load.health-status":            errored,
			"perf.load.auth-status":              errored,
			"perf.load.data-status":              errored,
			"perf.load.inference-status":         errored,
			"comp.ccpa.privacy-policy-published": errored,
			"post.health.gateway":                errored,
			"post.health.auth":                   errored,
			"post.health.blockchain":             errored,
			"post.health.ai":                     errored,
			"post.integration.gateway":           errored,
			"rollback.service.down":              errored,

			"sec.auth.alg-none-rejected":        skipped,
			"sec.auth.tampered-token-rejected":  skipped,
			"sec.auth.alg-confusion-rejected":   skipped,
			"sec.auth.token-lifetime":           skipped,
			"sec.auth.jwt-signature-verified":   skipped,
			"perf.load.health-latency":          skipped,
			"perf.load.auth-latency":            skipped,
			"perf.load.auth-token":              skipped,
			"perf.load.data-latency":            skipped,
			"perf.load.data-results":            skipped,
			"perf.load.inference-latency":       skipped,
			"perf.load.inference-prediction":    skipped,
			"perf.k6.load-test":                 skipped,
			"post.integration.login":            skipped,
			"post.integration.blockchain":       skipped,
			"post.integration.blockchain-token": skipped,
			"post.integration.ai":               skipped,
		}},
		{demo.FaultWeakTLS, map[string]store.Status{
			"sec.encryption.in-transit":  fail,
			"sec.tls.no-legacy-versions": fail,
		}},
		{demo.FaultInsecureHeaders, map[string]store.Status{
			"sec.headers.nosniff":          warn,
			"sec.headers.frame-protection": warn,
			"sec.headers.csp":              warn,
			"sec.headers.no-version-leak":  warn,
			"sec.tls.hsts":                 warn,
		}},
		{demo.FaultAuthDown, map[string]store.Status{
			"post.health.auth":                  fail,
			"app.gateway.authentication":        fail,
			"sec.access.api-authentication":     fail,
			"sec.auth.alg-none-rejected":        skipped,
			"sec.auth.tampered-token-rejected":  skipped,
			"sec.auth.alg-confusion-rejected":   skipped,
			"sec.auth.token-lifetime":           skipped,
			"sec.auth.jwt-signature-verified":   skipped,
			"perf.load.auth-status":             fail,
			"perf.load.auth-latency":            skipped,
			"perf.load.auth-token":              skipped,
			"perf.k6.load-test":                 skipped,
			"post.integration.login":            fail,
			"post.integration.blockchain":       skipped,
			"post.integration.blockchain-token": skipped,
			"post.integration.ai":               skipped,
		}},
		// The login answers 200 (perf.load.auth-status and -latency pass)
		// without a token.
		{demo.FaultLoginNoToken, map[string]store.Status{
			"app.gateway.authentication":        fail,
			"sec.access.api-authentication":     fail,
			"sec.auth.alg-none-rejected":        skipped,
			"sec.auth.tampered-token-rejected":  skipped,
			"sec.auth.alg-confusion-rejected":   skipped,
			"sec.auth.token-lifetime":           skipped,
			"sec.auth.jwt-signature-verified":   skipped,
			"perf.load.auth-token":              fail,
			"perf.k6.load-test":                 fail, // no token flows: every data request is refused
			"post.integration.login":            fail,
			"post.integration.blockchain":       skipped,
			"post.integration.blockchain-token": skipped,
			"post.integration.ai":               skipped,
		}},
		{demo.FaultAPISlow, map[string]store.Status{
			"perf.load.auth-latency": fail, // TestLatencyBudget under SlowDelay
			"perf.load.data-latency": fail,
			"perf.k6.load-test":      fail, // p95
		}},
		{demo.FaultJWTUnverified, map[string]store.Status{
			"sec.auth.alg-none-rejected":       fail,
			"sec.auth.tampered-token-rejected": fail,
			"sec.auth.alg-confusion-rejected":  fail,
			// sec.auth.expired-token-rejected would fail too; it takes the
			// HMAC secret of HS256 tokens, and the demo's are ES256.
		}},
		{demo.FaultJWKSRotated, map[string]store.Status{
			"sec.auth.jwt-signature-verified": fail,
			// The probe forges the alg-confusion token with the JWKS key of
			// the token's kid; the JWKS lacks it, so no forged request is
			// made (alg_confusion_status -1), which is not a 401.
			"sec.auth.alg-confusion-rejected": fail,
		}},
		{demo.FaultChainDown, map[string]store.Status{
			"post.health.blockchain":            fail,
			"post.integration.blockchain":       fail,
			"post.integration.blockchain-token": fail,
		}},
		{demo.FaultDataDegraded, map[string]store.Status{
			"perf.load.data-results": fail, // 200 without results
			"perf.k6.load-test":      fail, // the results check fails: checks rate
		}},
		{demo.FaultNoPrediction, map[string]store.Status{
			"app.ai.inference-ready":         fail,
			"perf.load.inference-prediction": fail,
			"perf.k6.load-test":              fail, // the prediction check fails: checks rate
			"post.integration.ai":            fail,
		}},
		{demo.FaultWeakKey, map[string]store.Status{
			"sec.tls.cert-key-strength": warn, // severity warning
		}},
		{demo.FaultWAFParanoid, map[string]store.Status{
			"sec.waf.false-positives": warn,
		}},
	}

	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.fault] = true
	}
	for _, f := range demo.Faults() {
		if !covered[f.Name] {
			t.Errorf("fault %q has no row in TestDemoFaults: add the checkpoints it breaks", f.Name)
		}
	}
	for _, tc := range tests {
		// Sequential: the latency budgets are judged on shared cores.
		t.Run(tc.fault, func(t *testing.T) {
			sys := startDemo(t, tc.fault)
			ids := configured(sys.cl)
			for id := range tc.notPass {
				if !slices.Contains(ids, id) {
					t.Fatalf("notPass names %q, which is not a configured automated checkpoint of the demo checklist", id)
				}
			}
			run, results := runDemo(t, sys, openStore(t), runner.Options{})
			if run.State != store.RunCompleted {
				t.Errorf("run state = %s, want %s", run.State, store.RunCompleted)
			}
			if run.Verdict != store.VerdictNotReady {
				t.Errorf("verdict = %s, want %s", run.Verdict, store.VerdictNotReady)
			}
			got := notPassing(results)
			for _, id := range slices.Sorted(maps.Keys(got)) {
				r := got[id]
				want, ok := tc.notPass[id]
				switch {
				case !ok:
					t.Errorf("want pass, got %s", describe(r))
				case r.Status != want:
					t.Errorf("want %s, got %s", want, describe(r))
				}
			}
			for _, id := range slices.Sorted(maps.Keys(tc.notPass)) {
				if _, ok := got[id]; !ok {
					t.Errorf("%s passed, want %s", id, tc.notPass[id])
				}
			}
			if t.Failed() {
				var lines []string
				for _, id := range slices.Sorted(maps.Keys(got)) {
					lines = append(lines, describe(got[id]))
				}
				t.Logf("not passing under %s:\n%s", tc.fault, strings.Join(lines, "\n"))
			}
		})
	}
}

// BenchmarkDemoCatalog runs the demo checklist (the configured catalogue)
// against a healthy target, at the default concurrency and serially. Each
// iteration gets a fresh target (outside the timer): /api/v1/test's
// rate-limit bucket is per client address and would otherwise be empty for
// the next iteration.
func BenchmarkDemoCatalog(b *testing.B) {
	for _, bc := range []struct {
		name        string
		concurrency int
	}{
		{fmt.Sprintf("concurrency=%d", runner.DefaultConcurrency), runner.DefaultConcurrency},
		{"concurrency=1", 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := b.Context()
			db := openStore(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				sys := startDemo(b)
				b.StartTimer()
				run, err := runner.Run(ctx, sys.cl, db, runner.Options{Secrets: sys.secrets, Concurrency: bc.concurrency})
				b.StopTimer()
				if err != nil {
					b.Fatalf("runner.Run: %v", err)
				}
				if run.State != store.RunCompleted || run.Summary[store.StatusPass] != demoConfigured {
					results, _ := db.Results(ctx, run.ID)
					var lines []string
					for _, r := range notPassing(results) {
						lines = append(lines, describe(r))
					}
					slices.Sort(lines)
					b.Fatalf("run %s %s, summary %v:\n%s", run.ID, run.State, run.Summary, strings.Join(lines, "\n"))
				}
				_ = sys.target.Close()
				b.StartTimer()
			}
		})
	}
}

// With PostgreSQL and Redis on the machine, the demo starts them and its
// checklist checks them like the document's RDS and ElastiCache. Every
// configured postgres and redis checkpoint passes but the three the
// reference services cannot pass, and no service secret reaches the store.
func TestDemoServices(t *testing.T) {
	tgt, err := demo.NewTarget(demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tgt.Close() })
	svc := tgt.StartServices(t.Context())
	t.Cleanup(svc.Close)
	if len(svc.Skipped) > 0 {
		msg := fmt.Sprintf("services skipped: %v", svc.Skipped)
		if os.Getenv("CI") != "" {
			t.Fatal(msg) // make test installs redis-server; PostgreSQL is on these machines
		}
		t.Skip(msg)
	}
	sys := demoChecklist(t, tgt, svc)
	isService := func(cp *checklist.Checkpoint) bool { return cp.Kind == "postgres" || cp.Kind == "redis" }
	var want []string
	for _, cp := range sys.cl.Checkpoints {
		if isService(cp) && len(cp.NotConfigured) == 0 {
			want = append(want, cp.ID)
		}
	}
	notPass := map[string]store.Status{
		"infra.storage.elasticache-replica":     store.StatusWarn,  // one Redis, no replica
		"sec.redis.tls":                         store.StatusError, // the demo's Redis speaks plain TCP: the handshake times out
		"sec.compliance.database-audit-logging": store.StatusWarn,  // no pgaudit
	}
	run, results := runDemo(t, sys, openStore(t), runner.Options{Select: isService})
	if run.State != store.RunCompleted {
		t.Errorf("run state = %s, want %s", run.State, store.RunCompleted)
	}
	got := map[string]store.Result{}
	for _, r := range results {
		got[r.ID] = r
	}
	for _, id := range want {
		r, ok := got[id]
		if !ok {
			t.Errorf("%s: no result", id)
			continue
		}
		if st, ok := notPass[id]; ok && r.Status != st {
			t.Errorf("want %s, got %s", st, describe(r))
		} else if !ok && r.Status != store.StatusPass {
			t.Errorf("want pass, got %s", describe(r))
		}
		for _, secret := range []string{svc.RedisPassword, svc.PostgresDSN} {
			if strings.Contains(string(r.Observation)+r.Message+strings.Join(r.Log, ""), secret) {
				t.Errorf("%s: a service secret reached the stored result", id)
			}
		}
	}
	for id := range notPass {
		if !slices.Contains(want, id) {
			t.Errorf("%s is not a configured service checkpoint", id)
		}
	}
	if len(want) < 10 {
		t.Errorf("only %d service checkpoints configured: %v", len(want), want)
	}
	if len(results) != len(want) {
		t.Errorf("%d results, want %d", len(results), len(want))
	}
}
