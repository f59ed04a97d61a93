package change

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Release is a deployment: the non-merge commits in from..to, measured
// against the whole history up to to, and what they touch.
type Release struct {
	Repo     string // the repository as named
	From, To string // the revisions as named; From "" for all of To's history
	FromHash string // "" when From is ""
	ToHash   string

	Commits []Commit  // oldest first, in History's order
	Metrics []Metrics // Metrics[i] measures Commits[i]

	// The whole history up to To, in History's order: each commit's
	// metrics, and where the range's commits stand in it (Commits[i] is
	// history commit Index[i]). A model that ranks a commit against the
	// commits before it reads them here.
	HistoryMetrics []Metrics
	Index          []int

	// history is what Sub measures other ranges of the same history from
	// (shared by every release Sub returns).
	history *measured

	Aggregate Aggregate

	Files    []string // the distinct paths the range changes, sorted
	Services []string // their top-level directories, sorted; "." for files at the root

	// MigrationFiles are the changed files that look like database
	// migrations (IsMigration).
	MigrationFiles []string
	// DependencyManifests are the changed dependency manifests and lock
	// files (IsDependencyManifest).
	DependencyManifests []string
	// ConfigOnly is true when the range changes files and every one is
	// configuration (IsConfig), none of them a dependency manifest or a
	// migration.
	ConfigOnly bool
}

// Aggregate sums up a range of commits.
type Aggregate struct {
	Commits int // non-merge commits
	Authors int // distinct author e-mails

	NS, ND, NF int     // distinct subsystems, directories and paths over the range
	Entropy    float64 // over each path's churn (added+deleted) summed over the range
	LA, LD     int     // lines added and deleted, summed over the commits
	// LT is the lines of the changed files before the range: each file
	// counts once, before its first change in the range (a file renamed
	// inside the range, once).
	LT int

	Fixes int // commits that are fixes (FIX = 1)

	// Min, Mean and Max of each metric over the range's commits.
	Min, Mean, Max Metrics
}

// Range returns the release from..to of a repository: the non-merge
// commits reachable from to and not from from, their metrics computed on
// the whole history up to to (so EXP and the others see every commit
// before each), an Aggregate, and what the range touches. An empty from
// takes all of to's history (a first deployment).
//
// It fails, with the repository and the revisions in the message, when
// repo is not a git repository (ErrNotRepository), a revision names no
// commit (ErrUnknownRevision), from is not an ancestor of to
// (ErrNotAncestor), or the range holds no non-merge commit (ErrEmptyRange).
func Range(ctx context.Context, repo, from, to string) (*Release, error) {
	r, toHash, err := open(ctx, repo, to)
	if err != nil {
		return nil, err
	}
	rel := &Release{Repo: repo, From: from, To: to, ToHash: toHash}
	fromHash, in, err := r.span(ctx, repo, from, to, toHash)
	if err != nil {
		return nil, err
	}
	rel.FromHash = fromHash
	history, err := r.history(ctx, to, rel.ToHash)
	if err != nil {
		return nil, err
	}
	rel.history = measure(history)
	rel.HistoryMetrics = rel.history.metrics
	rel.selectRange(in)
	return rel, nil
}

// Sub is the release from..to of the same repository, measured from this
// release's history (no second git log): for the ranges deployed before
// this one. Its to must lie in that history; when it does not (another
// branch), Sub fails with ErrNotInHistory and Range measures it on its
// own. An empty from takes all of to's history.
func (rel *Release) Sub(ctx context.Context, from, to string) (*Release, error) {
	r, toHash, err := open(ctx, rel.Repo, to)
	if err != nil {
		return nil, err
	}
	sub := &Release{Repo: rel.Repo, From: from, To: to, ToHash: toHash, history: rel.history,
		HistoryMetrics: rel.HistoryMetrics}
	fromHash, in, err := r.span(ctx, rel.Repo, from, to, toHash)
	if err != nil {
		return nil, err
	}
	sub.FromHash = fromHash
	for h := range in {
		if _, ok := rel.history.index[h]; !ok {
			return nil, fmt.Errorf("range %q in repository %q: %w of %q", rangeName(from, to), rel.Repo, ErrNotInHistory, rel.To)
		}
	}
	sub.selectRange(in)
	return sub, nil
}

// rangeName is how errors name the range from..to.
func rangeName(from, to string) string {
	if from == "" {
		return to
	}
	return from + ".." + to
}

// span resolves from, checks it is an ancestor of to (toHash), and
// returns the non-merge commits of from..to; the errors name the range and
// the repository (ErrUnknownRevision, ErrNotAncestor, ErrEmptyRange). An
// empty from takes all of to's history.
func (r repository) span(ctx context.Context, repo, from, to, toHash string) (fromHash string, in map[string]bool, err error) {
	name := rangeName(from, to)
	if from != "" {
		if fromHash, err = r.resolve(ctx, from); err != nil {
			return "", nil, err
		}
		ok, err := r.isAncestor(ctx, fromHash, toHash)
		if err != nil {
			return "", nil, fmt.Errorf("range %q: %w", name, err)
		}
		if !ok {
			return "", nil, fmt.Errorf("range %q in repository %q: %q %w %q", name, repo, from, ErrNotAncestor, to)
		}
	}
	if in, err = r.between(ctx, fromHash, toHash); err != nil {
		return "", nil, fmt.Errorf("range %q: %w", name, err)
	}
	if len(in) == 0 {
		return "", nil, fmt.Errorf("range %q in repository %q holds no commits (merges aside): %w", name, repo, ErrEmptyRange)
	}
	return fromHash, in, nil
}

// Owners are up to n authors who changed the release's files most in
// the history before its first commit, the release's own authors left
// out: reviewers who know the code. Ties go by name.
func (rel *Release) Owners(n int) []string {
	if len(rel.Index) == 0 {
		return nil
	}
	touched := make(map[string]bool, len(rel.Files))
	for _, f := range rel.Files {
		touched[f] = true
	}
	authors := make(map[string]bool)
	for _, c := range rel.Commits {
		authors[c.Author] = true
	}
	counts := make(map[string]int)
	h := rel.history
	for i := range rel.Index[0] {
		for _, f := range h.files[i] {
			if touched[f.Path] && !authors[h.commits[i].Author] {
				counts[h.commits[i].Author]++
				break
			}
		}
	}
	names := slices.Collect(maps.Keys(counts))
	slices.SortFunc(names, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	return names[:min(n, len(names))]
}

// ErrNotInHistory: a range reaches commits the release's history lacks.
var ErrNotInHistory = errors.New("not in the history")

// measured is a history with every commit's metrics and, per commit, its
// distinct files with their line counts before it (for a range's LT).
type measured struct {
	commits []Commit
	hashes  []string
	metrics []Metrics
	files   [][]FileChange
	before  [][]int
	index   map[string]int // hash → position
}

// measure steps through the whole history once.
func measure(history []Commit) *measured {
	c := newComputer()
	h := &measured{commits: history, hashes: make([]string, len(history)), metrics: make([]Metrics, len(history)),
		files: make([][]FileChange, len(history)), before: make([][]int, len(history)), index: make(map[string]int, len(history))}
	for i := range history {
		h.metrics[i] = c.step(&history[i])
		h.hashes[i] = history[i].Hash
		h.files[i], h.before[i] = slices.Clone(c.cur), slices.Clone(c.before)
		h.index[history[i].Hash] = i
	}
	return h
}

// selectRange keeps the history's commits in the set, with their metrics,
// the range's aggregate (LT: each file's lines before its first change in
// the range) and what the range touches.
func (rel *Release) selectRange(in map[string]bool) {
	h := rel.history
	counted := make(map[string]bool) // paths whose lines LT holds
	lt := 0
	for i, hash := range h.hashes {
		if !in[hash] {
			continue
		}
		rel.Index = append(rel.Index, i)
		rel.Commits = append(rel.Commits, h.commits[i])
		rel.Metrics = append(rel.Metrics, h.metrics[i])
		for k, f := range h.files[i] {
			switch {
			case counted[f.Path]:
			case f.OldPath != "" && counted[f.OldPath]:
				counted[f.Path] = true
			default:
				counted[f.Path] = true
				lt += h.before[i][k]
			}
		}
	}
	rel.Aggregate = aggregate(rel.Commits, rel.Metrics, lt)
	rel.classify()
}

// aggregate sums up the commits of a range and their metrics.
func aggregate(commits []Commit, metrics []Metrics, lt int) Aggregate {
	g := Aggregate{Commits: len(commits), LT: lt}
	authors := make(map[string]bool)
	subs := make(map[string]bool)
	dirs := make(map[string]bool)
	churn := make(map[string]int)
	var order []string // paths, first change first, for a stable entropy
	for _, cm := range commits {
		authors[cm.Author] = true
		for _, f := range cm.Files {
			subs[subsystem(f.Path)] = true
			dirs[directory(f.Path)] = true
			if _, ok := churn[f.Path]; !ok {
				order = append(order, f.Path)
			}
			churn[f.Path] += f.Added + f.Deleted
			g.LA += f.Added
			g.LD += f.Deleted
		}
	}
	g.Authors, g.NS, g.ND, g.NF = len(authors), len(subs), len(dirs), len(order)
	sums := make([]int, len(order))
	for k, p := range order {
		sums[k] = churn[p]
	}
	g.Entropy = entropy(sums)
	for j := range g.Min {
		g.Min[j], g.Max[j] = math.Inf(1), math.Inf(-1)
	}
	for _, m := range metrics {
		for j, v := range m {
			g.Min[j] = min(g.Min[j], v)
			g.Max[j] = max(g.Max[j], v)
			g.Mean[j] += v / float64(len(metrics))
		}
		if m[FIX] == 1 {
			g.Fixes++
		}
	}
	if len(metrics) == 0 {
		g.Min, g.Max = Metrics{}, Metrics{}
	}
	return g
}

// classify fills in what the range touches.
func (rel *Release) classify() {
	files := make(map[string]bool)
	for _, cm := range rel.Commits {
		for _, f := range cm.Files {
			files[f.Path] = true
		}
	}
	rel.Files = slices.Sorted(maps.Keys(files))
	services := make(map[string]bool)
	rel.ConfigOnly = len(rel.Files) > 0
	for _, p := range rel.Files {
		s := subsystem(p)
		if s == "" {
			s = "."
		}
		services[s] = true
		migration, manifest := IsMigration(p), IsDependencyManifest(p)
		if migration {
			rel.MigrationFiles = append(rel.MigrationFiles, p)
		}
		if manifest {
			rel.DependencyManifests = append(rel.DependencyManifests, p)
		}
		if migration || manifest || !IsConfig(p) {
			rel.ConfigOnly = false
		}
	}
	rel.Services = slices.Sorted(maps.Keys(services))
}

// flywayName is a Flyway migration's name, lower-cased.
var flywayName = regexp.MustCompile(`^([vu][0-9]+([._][0-9]+)*|r)__.+\.sql$`)

// IsMigration reports whether a path looks like a database migration: it
// lies under a directory named migrations, migration or migrate (Rails'
// db/migrate too, and a migration tool's own sources), alembic/versions
// or db/changelog (Liquibase); or it is named like a Flyway migration
// (V1__init.sql, V2_1__x.sql, U3__undo.sql, R__views.sql), a
// golang-migrate one (*.up.sql, *.down.sql), *_migration.* or
// *-migration.*. Case is ignored.
func IsMigration(p string) bool {
	dir, base := path.Split(strings.ToLower(p))
	for seg := range strings.SplitSeq(strings.Trim(dir, "/"), "/") {
		switch seg {
		case "migrations", "migration", "migrate":
			return true
		}
	}
	if d := "/" + dir; strings.Contains(d, "/alembic/versions/") || strings.Contains(d, "/db/changelog/") {
		return true
	}
	stem := strings.TrimSuffix(base, path.Ext(base))
	return flywayName.MatchString(base) ||
		strings.HasSuffix(base, ".up.sql") || strings.HasSuffix(base, ".down.sql") ||
		strings.HasSuffix(stem, "_migration") || strings.HasSuffix(stem, "-migration")
}

// IsDependencyManifest reports whether a path is a dependency manifest or
// a lock file, by its base name: Go (go.mod, go.sum, go.work, go.work.sum), JavaScript
// (package.json, package-lock.json, npm-shrinkwrap.json, yarn.lock,
// pnpm-lock.yaml, bun.lockb), Python (requirements*.txt, Pipfile,
// Pipfile.lock, poetry.lock, pyproject.toml, uv.lock), Ruby (Gemfile,
// Gemfile.lock), Rust (Cargo.toml, Cargo.lock), Java (pom.xml,
// build.gradle, build.gradle.kts, gradle.lockfile) and PHP
// (composer.json, composer.lock).
func IsDependencyManifest(p string) bool {
	base := path.Base(p)
	switch base {
	case "go.mod", "go.sum", "go.work", "go.work.sum",
		"package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb",
		"Pipfile", "Pipfile.lock", "poetry.lock", "pyproject.toml", "uv.lock",
		"Gemfile", "Gemfile.lock",
		"Cargo.toml", "Cargo.lock",
		"pom.xml", "build.gradle", "build.gradle.kts", "gradle.lockfile",
		"composer.json", "composer.lock":
		return true
	}
	return strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt")
}

// IsConfig reports whether a path is configuration: by extension .yaml,
// .yml, .json, .toml, .ini, .conf, .cfg, .properties, .env, .tf, .tfvars or
// .hcl (Kubernetes, Helm values, Compose and Terraform files among them);
// or named Dockerfile, Dockerfile.*, *.dockerfile, Containerfile, .env or
// .env.*. Case is ignored.
func IsConfig(p string) bool {
	base := strings.ToLower(path.Base(p))
	switch path.Ext(base) {
	case ".yaml", ".yml", ".json", ".toml", ".ini", ".conf", ".cfg", ".properties",
		".env", ".tf", ".tfvars", ".hcl":
		return true
	}
	return base == "dockerfile" || base == "containerfile" ||
		strings.HasPrefix(base, "dockerfile.") || strings.HasSuffix(base, ".dockerfile") ||
		strings.HasPrefix(base, ".env.")
}
