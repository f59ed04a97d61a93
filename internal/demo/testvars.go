package demo

import (
	"strconv"
	"time"
)

// TestLatencyBudget replaces the document's latency budgets (50, 100,
// 200 ms) in tests. The slow faults answer in no less than SlowDelay, so a
// budget under it still tells slow from fast, and the gap up to it is slack
// for a busy machine (-race included).
const TestLatencyBudget = 1400 * time.Millisecond

// TestLatencyBudgetMS is TestLatencyBudget in milliseconds, as the
// catalogue's *_ms variables take it.
var TestLatencyBudgetMS = strconv.FormatInt(TestLatencyBudget.Milliseconds(), 10)

// TestVars override the demo's configuration where its values are not
// about the target, for tests (here and in cmd/prf) that run the demo
// checklist on a busy machine:
//   - The certification dates (SOC 2, ISO 27001, FIPS 140) default to the
//     document's, which are data and have passed or come close by now: their
//     checkpoints would fail or warn on any system. Set far ahead, they pass.
//   - The document's latency budgets (50ms, 100ms, 200ms) are timing
//     assertions that flake on a busy machine: they become
//     TestLatencyBudget.
//   - The k6 load test (perf.k6.load-test) runs its 23 minutes in 0.7s and
//     500 VUs as 5, so that every run of the catalogue stays short.
func TestVars() map[string]string {
	return map[string]string{
		"cert_soc2_expires":     "2099-12-31",
		"cert_iso27001_expires": "2099-12-31",
		"cert_fips140_expires":  "2099-12-31",
		"health_latency_ms":     TestLatencyBudgetMS,
		"request_latency_ms":    TestLatencyBudgetMS,
		"inference_ms":          TestLatencyBudgetMS,
		"api_p95_ms":            TestLatencyBudgetMS,
		"db_query_ms":           TestLatencyBudgetMS,
		"loadtest_scale":        "0.0005",
		"loadtest_load_scale":   "0.01",
	}
}
