//go:build race

package risk

// raceEnabled: under the race detector training is many times slower, so
// the tests that train on the whole public data (the prior's
// reproducibility) run without -race only; the concurrent parts (the
// histogram halves, the configuration grid) are raced on smaller data.
const raceEnabled = true
