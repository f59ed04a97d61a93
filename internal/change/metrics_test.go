package change

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// step is one commit of a test history.
type step struct {
	author  string
	at      time.Time
	subject string
	ops     []op
}

// metricsDiff names the metrics where got and want differ by more
// than 5e-5 (hand-computed values are given to 4 decimals).
func metricsDiff(got, want Metrics) []string {
	var diff []string
	for j := range got {
		if math.Abs(got[j]-want[j]) > 5e-5 {
			diff = append(diff, Metric(j).String())
		}
	}
	return diff
}

func checkMetrics(t *testing.T, what string, got, want Metrics) {
	t.Helper()
	if d := metricsDiff(got, want); len(d) > 0 {
		t.Errorf("%s: %v differ\n got %v\nwant %v\n(order %v)", what, d, got, want, MetricNames())
	}
}

// m builds Metrics from the values of the named metrics.
func m(kv map[Metric]float64) Metrics {
	var out Metrics
	for k, v := range kv {
		out[k] = v
	}
	return out
}

func TestComputeOnGitHistories(t *testing.T) {
	d0 := day(2020, 1, 1)
	at := func(days int) time.Time { return d0.AddDate(0, 0, days) }
	tests := []struct {
		name  string
		steps []step
		want  map[int]Metrics // by commit index
	}{{
		name: "first commit: a size and no history",
		steps: []step{
			{"alice@example.com", at(0), "init", []op{write("a.txt", "1\n2\n3\n")}},
		},
		want: map[int]Metrics{0: m(map[Metric]float64{NS: 1, ND: 1, NF: 1, LA: 3})},
	}, {
		name: "entropy of two files with 3 and 1 lines",
		steps: []step{
			{"alice@example.com", at(0), "add", []op{write("src/a.go", "1\n2\n3\n"), write("docs/b.md", "1\n")}},
		},
		want: map[int]Metrics{0: m(map[Metric]float64{NS: 2, ND: 2, NF: 2, Entropy: 0.8113, LA: 4})},
	}, {
		name: "shared files: NDEV and NUC are unions, AGE in days, LT replayed",
		steps: []step{
			{"alice@example.com", at(0), "add x", []op{write("a/x.txt", "1\n2\n")}},
			{"bob@example.com", at(10), "add y, grow x", []op{write("a/y.txt", "1\n"), write("a/x.txt", "1\n2\n3\n")}},
			{"carol@example.com", at(20), "grow x", []op{write("a/x.txt", "1\n2\n3\n4\n")}},
			{"dave@example.com", at(30), "Fix crash in x and y", []op{write("a/x.txt", "one\n2\n3\n4\n"), write("a/y.txt", "1\n2\n")}},
		},
		want: map[int]Metrics{
			// x: 2 lines, last day 0, alice, commit 0; y: new.
			1: m(map[Metric]float64{NS: 1, ND: 1, NF: 2, Entropy: 1, LA: 2, LT: 2, NDEV: 1, AGE: 5, NUC: 1}),
			// x: 3 lines, last day 10, alice and bob, commits 0 and 1.
			2: m(map[Metric]float64{NS: 1, ND: 1, NF: 1, LA: 1, LT: 3, NDEV: 2, AGE: 10, NUC: 2}),
			// x: 4 lines, 10 days, {alice,bob,carol}, {0,1,2}; y: 1 line,
			// 20 days, {bob}, {1}: NUC 3, not 4; churn 2 and 1.
			3: m(map[Metric]float64{NS: 1, ND: 1, NF: 2, Entropy: 0.9183, LA: 2, LD: 1, LT: 5, FIX: 1, NDEV: 3, AGE: 15, NUC: 3}),
		},
	}, {
		name: "experience: EXP, REXP by whole years, SEXP a union",
		steps: []step{
			{"alice@example.com", day(2018, 1, 1), "start", []op{write("svc1/a.txt", "1\n")}},
			{"bob@example.com", day(2018, 6, 1), "other", []op{write("svc2/b.txt", "1\n")}},
			{"alice@example.com", day(2019, 1, 1), "more", []op{write("svc2/c.txt", "1\n"), write("svc1/d.txt", "1\n")}},
			{"alice@example.com", day(2020, 1, 1), "Patch a and c", []op{write("svc1/a.txt", "1\n2\n"), write("svc2/c.txt", "1\n2\n")}},
			{"alice@example.com", day(2020, 3, 1), "tweak", []op{write("svc1/a.txt", "1\n2\n3\n")}},
		},
		want: map[int]Metrics{
			// a: 730 days, c: 365 days; alice's commits 0 (2 years
			// before: 1/3) and 2 (1 year: 1/2); svc1 {0,2}, svc2 {2}.
			3: m(map[Metric]float64{NS: 2, ND: 2, NF: 2, Entropy: 1, LA: 2, LT: 2, FIX: 1, NDEV: 1, AGE: 547.5, NUC: 2, EXP: 2, REXP: 0.8333, SEXP: 2}),
			// 60 days after commit 3 (weight 1), 1 year and 60 days
			// after 2 (1/2), 2 years and 60 days after 0 (1/3).
			4: m(map[Metric]float64{NS: 1, ND: 1, NF: 1, LA: 1, LT: 2, NDEV: 1, AGE: 60, NUC: 2, EXP: 3, REXP: 1.8333, SEXP: 3}),
		},
	}, {
		name: "a rename carries the file's history; deletions shrink LT",
		steps: []step{
			{"alice@example.com", at(0), "add", []op{write("old/a.txt", "1\n2\n3\n4\n")}},
			{"bob@example.com", at(5), "move", []op{move("old/a.txt", "new/a.txt"), write("new/a.txt", "1\n2\n3\n")}},
			{"alice@example.com", at(6), "trim", []op{write("new/a.txt", "1\n")}},
		},
		want: map[int]Metrics{
			1: m(map[Metric]float64{NS: 1, ND: 1, NF: 1, LD: 1, LT: 4, NDEV: 1, AGE: 5, NUC: 1}),
			// SEXP 0: alice's commit 0 was in subsystem "old".
			2: m(map[Metric]float64{NS: 1, ND: 1, NF: 1, LD: 2, LT: 3, NDEV: 2, AGE: 1, NUC: 2, EXP: 1, REXP: 1}),
		},
	}, {
		name: "a binary file counts in NF and adds no lines",
		steps: []step{
			{"alice@example.com", at(0), "add", []op{writeBinary("img/logo.png", 0, 1, 2, 0xff), write("README.md", "1\n2\n")}},
			{"bob@example.com", at(1), "update logo and readme", []op{writeBinary("img/logo.png", 0, 1, 3), write("README.md", "1\n2\n3\n")}},
		},
		want: map[int]Metrics{
			0: m(map[Metric]float64{NS: 2, ND: 2, NF: 2, LA: 2}),
			1: m(map[Metric]float64{NS: 2, ND: 2, NF: 2, LA: 1, LT: 2, NDEV: 1, AGE: 1, NUC: 1}),
		},
	}, {
		name: "a deleted file counts its lines in LT; re-added it starts at 0 lines",
		steps: []step{
			{"alice@example.com", at(0), "add", []op{write("a.txt", "1\n2\n3\n")}},
			{"alice@example.com", at(1), "drop", []op{remove("a.txt")}},
			{"bob@example.com", at(3), "restore", []op{write("a.txt", "x\n")}},
		},
		want: map[int]Metrics{
			1: m(map[Metric]float64{NS: 1, ND: 1, NF: 1, LD: 3, LT: 3, NDEV: 1, AGE: 1, NUC: 1, EXP: 1, REXP: 1, SEXP: 1}),
			2: m(map[Metric]float64{NS: 1, ND: 1, NF: 1, LA: 1, NDEV: 1, AGE: 2, NUC: 2}),
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRepo(t)
			for _, s := range tc.steps {
				r.commit(s.author, s.at, s.subject, s.ops...)
			}
			h := r.history()
			if len(h) != len(tc.steps) {
				t.Fatalf("history has %d commits, want %d", len(h), len(tc.steps))
			}
			got := Compute(h)
			for i, want := range tc.want {
				checkMetrics(t, "commit "+h[i].Subject, got[i], want)
			}
		})
	}
}

func TestComputeInMemory(t *testing.T) {
	t0 := day(2021, 1, 1)
	fc := func(path string, added, deleted int) FileChange {
		return FileChange{Path: path, Added: added, Deleted: deleted}
	}
	tests := []struct {
		name    string
		history []Commit
		want    Metrics // of the last commit
	}{{
		name:    "no commits touch no files",
		history: []Commit{{Author: "a", Time: t0}, {Author: "a", Time: t0.Add(time.Hour)}},
		want:    m(map[Metric]float64{EXP: 1, REXP: 1}),
	}, {
		name: "a path listed twice is one file",
		history: []Commit{
			{Author: "a", Time: t0, Files: []FileChange{fc("x/f", 2, 0), fc("x/f", 1, 0)}},
		},
		want: m(map[Metric]float64{NS: 1, ND: 1, NF: 1, LA: 3}),
	}, {
		name: "a clock going backwards: AGE is never negative, a later commit weighs 1",
		history: []Commit{
			{Author: "a", Time: t0.AddDate(2, 0, 0), Files: []FileChange{fc("f", 1, 0)}},
			{Author: "a", Time: t0, Files: []FileChange{fc("f", 1, 0)}},
		},
		want: m(map[Metric]float64{NS: 1, ND: 1, NF: 1, LA: 1, LT: 1, NDEV: 1, NUC: 1, EXP: 1, REXP: 1, SEXP: 1}),
	}, {
		name: "REXP by whole years: 364 days weigh 1, 365 days 1/2, 10 years 1/11",
		history: []Commit{
			{Author: "a", Time: t0.AddDate(-10, 0, 0)},
			{Author: "a", Time: t0.Add(-365 * 24 * time.Hour)},
			{Author: "a", Time: t0.Add(-364 * 24 * time.Hour)},
			{Author: "a", Time: t0},
		},
		want: m(map[Metric]float64{EXP: 3, REXP: 1 + 0.5 + 1.0/11}),
	}, {
		name: "a rename of a path the commit also changes starts afresh",
		history: []Commit{
			{Author: "a", Time: t0, Files: []FileChange{fc("f", 3, 0)}},
			{Author: "b", Time: t0, Files: []FileChange{fc("f", 1, 0), {Path: "g", OldPath: "f", Added: 1}}},
		},
		want: m(map[Metric]float64{NS: 1, ND: 1, NF: 2, Entropy: 1, LA: 2, LT: 3, NDEV: 1, AGE: 0, NUC: 1}),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute(tc.history)
			checkMetrics(t, tc.name, got[len(got)-1], tc.want)
		})
	}
}

func TestIsFix(t *testing.T) {
	tests := []struct {
		subject string
		want    bool
	}{
		{"Fix crash on start", true},
		{"fix: nil map", true},
		{"fixes #12", true},
		{"Bugfix for the parser", true},
		{"hotfix", true},
		{"patch the TLS defaults", true},
		{"crashed under load", true},
		{"issue-42: timeouts", true},
		{"Defect in login", true},
		{"prefix handling", false},
		{"debug logging", false},
		{"Dispatcher rework", false},
		{"suffixes", false},
		{"add feature", false},
	}
	for _, tc := range tests {
		t.Run(tc.subject, func(t *testing.T) {
			if got := isFix(tc.subject); got != tc.want {
				t.Errorf("isFix(%q) = %v, want %v", tc.subject, got, tc.want)
			}
		})
	}
}

func TestMetricNames(t *testing.T) {
	want := []string{"NS", "ND", "NF", "Entropy", "LA", "LD", "LT", "FIX", "NDEV", "AGE", "NUC", "EXP", "REXP", "SEXP"}
	if got := MetricNames(); !slices.Equal(got, want) {
		t.Errorf("MetricNames() = %v, want %v", got, want)
	}
	if len(Metrics{}) != 14 {
		t.Errorf("Metrics has %d values, want 14", len(Metrics{}))
	}
	if SEXP.String() != "SEXP" || Metric(99).String() != "Metric(99)" {
		t.Errorf("String: %q %q", SEXP.String(), Metric(99).String())
	}
	names := MetricNames()
	names[0] = "changed"
	if MetricNames()[0] != "NS" {
		t.Error("MetricNames returns the package's own slice")
	}
}

// naiveCompute is Compute the slow way: each commit scans every commit
// before it. A rename hands the old path's identity to the new path.
func naiveCompute(history []Commit) []Metrics {
	type touch struct {
		ids    map[int]bool
		subs   map[string]bool
		author string
		t      int64
	}
	identity := make(map[string]int)
	fresh := 0
	lines := make(map[int]int)
	var past []touch
	out := make([]Metrics, len(history))
	for i, c := range history {
		now := c.Time.Unix()
		cur := touch{ids: map[int]bool{}, subs: map[string]bool{}, author: c.Author, t: now}
		dirs := make(map[string]bool)
		var churn []int
		var m Metrics
		ids := make([]int, len(c.Files))
		for k, f := range c.Files {
			key := f.Path
			if f.OldPath != "" {
				key = f.OldPath
			}
			id, ok := identity[key]
			if !ok {
				fresh++
				id = fresh
			}
			ids[k] = id
			cur.ids[id] = true
			cur.subs[subsystem(f.Path)] = true
			dirs[directory(f.Path)] = true
			churn = append(churn, f.Added+f.Deleted)
			m[LA] += float64(f.Added)
			m[LD] += float64(f.Deleted)
			m[LT] += float64(lines[id])
			for j := len(past) - 1; j >= 0; j-- {
				if past[j].ids[id] {
					m[AGE] += days(now - past[j].t)
					break
				}
			}
		}
		m[NS], m[ND], m[NF] = float64(len(cur.subs)), float64(len(dirs)), float64(len(c.Files))
		m[Entropy] = entropy(churn)
		if isFix(c.Subject) {
			m[FIX] = 1
		}
		if len(c.Files) > 0 {
			m[AGE] /= float64(len(c.Files))
		}
		devs := make(map[string]bool)
		for _, p := range past {
			for id := range cur.ids {
				if p.ids[id] {
					m[NUC]++
					devs[p.author] = true
					break
				}
			}
			if p.author != c.Author {
				continue
			}
			m[EXP]++
			m[REXP] += 1 / float64(max(now-p.t, 0)/secondsPerYear+1)
			for s := range cur.subs {
				if p.subs[s] {
					m[SEXP]++
					break
				}
			}
		}
		m[NDEV] = float64(len(devs))
		out[i] = m
		for _, f := range c.Files {
			if f.OldPath != "" {
				delete(identity, f.OldPath)
			}
		}
		for k, f := range c.Files {
			identity[f.Path] = ids[k]
			if !f.Binary {
				lines[ids[k]] = max(0, lines[ids[k]]+f.Added-f.Deleted)
			}
		}
		past = append(past, cur)
	}
	return out
}

// randomHistory makes a history of n commits over a few paths: renames,
// binary files, clocks that go backwards and gaps of years included. No
// path appears twice in a commit.
func randomHistory(rng *rand.Rand, n int) []Commit {
	pool := []string{"README.md", "go.mod", "a/x.go", "a/y.go", "a/b/z.go", "b/p.go", "b/q.go", "c/r.sql", "c/d/s.yaml", "t.txt"}
	authors := []string{"ann", "ben", "cy", "di"}
	subjects := []string{"fix bug", "add feature", "refactor", "Crash fix"}
	alive := make(map[string]bool)
	t := day(2015, 1, 1)
	history := make([]Commit, n)
	for i := range history {
		switch r := rng.IntN(20); {
		case r == 0:
			t = t.AddDate(1+rng.IntN(2), 0, 0)
		case r == 1:
			t = t.AddDate(0, 0, -rng.IntN(30))
		default:
			t = t.Add(time.Duration(rng.IntN(200)) * time.Hour)
		}
		c := Commit{Hash: fmt.Sprintf("%x", i+1), Author: authors[rng.IntN(len(authors))], Time: t, Subject: subjects[rng.IntN(len(subjects))]}
		used := make(map[string]bool)
		for range rng.IntN(4) {
			p := pool[rng.IntN(len(pool))]
			if used[p] {
				continue
			}
			used[p] = true
			if alive[p] && rng.IntN(5) == 0 {
				to := pool[rng.IntN(len(pool))] + ".moved"
				if used[to] {
					continue
				}
				used[to] = true
				c.Files = append(c.Files, FileChange{Path: to, OldPath: p, Added: rng.IntN(3), Deleted: rng.IntN(3)})
				delete(alive, p)
				alive[to] = true
				continue
			}
			f := FileChange{Path: p, Added: rng.IntN(20), Deleted: rng.IntN(10)}
			if rng.IntN(10) == 0 {
				f = FileChange{Path: p, Binary: true}
			}
			c.Files = append(c.Files, f)
			alive[p] = true
		}
		history[i] = c
	}
	return history
}

func TestComputeMatchesNaive(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 150
		if seed%8 == 0 {
			n = 1500 // files with dense histories
		}
		history := randomHistory(rng, n)
		got, want := Compute(history), naiveCompute(history)
		for i := range history {
			if d := metricsDiff(got[i], want[i]); len(d) > 0 {
				t.Fatalf("seed %d, commit %d %+v: %v differ\n got %v\nwant %v", seed, i, history[i], d, got[i], want[i])
			}
		}
	}
}
