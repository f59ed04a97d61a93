//go:build race

package loadtest

// raceEnabled: under the race detector every request is several times
// slower, so tests that compare latencies across time skip their timing
// assertions (they run without -race in make test).
const raceEnabled = true
