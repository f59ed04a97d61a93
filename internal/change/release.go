package change

import (
	"context"
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

	// The whole history up to To, in History's order: each commit's hash
	// and metrics, and where the range's commits stand in it (Commits[i]
	// is history commit Index[i]). A model that ranks a commit against
	// the commits before it reads them here.
	HistoryHashes  []string
	HistoryMetrics []Metrics
	Index          []int

	Aggregate Aggregate

	Files    []string // the distinct paths the range changes, sorted
	Services []string // their top-level directories, sorted; "." for files at the root

	// Migrations counts the changed files that look like database
	// migrations (IsMigration); MigrationFiles names them.
	Migrations     int
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

	Fix   bool // any commit is a fix (FIX = 1)
	Fixes int  // how many are

	// Min, Mean and Max of each metric over the range's commits.
	Min, Mean, Max Metrics
	// MinEXP is Min[EXP]: the earlier commits of the least experienced
	// author of the range, as of their commit.
	MinEXP float64
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
	name := to
	if from != "" {
		name = from + ".." + to
		if rel.FromHash, err = r.resolve(ctx, from); err != nil {
			return nil, err
		}
		ok, err := r.isAncestor(ctx, rel.FromHash, rel.ToHash)
		if err != nil {
			return nil, fmt.Errorf("range %q: %w", name, err)
		}
		if !ok {
			return nil, fmt.Errorf("range %q in repository %q: %q %w %q", name, repo, from, ErrNotAncestor, to)
		}
	}
	in, err := r.between(ctx, rel.FromHash, rel.ToHash)
	if err != nil {
		return nil, fmt.Errorf("range %q: %w", name, err)
	}
	if len(in) == 0 {
		return nil, fmt.Errorf("range %q in repository %q holds no commits (merges aside): %w", name, repo, ErrEmptyRange)
	}
	history, err := r.history(ctx, to, rel.ToHash)
	if err != nil {
		return nil, err
	}
	lt := rel.measure(history, in)
	rel.Aggregate = aggregate(rel.Commits, rel.Metrics, lt)
	rel.classify()
	return rel, nil
}

// Between returns the hashes of the non-merge commits in from..to (all of
// to's history when from is empty), for a range already deployed.
func Between(ctx context.Context, repo, from, to string) (map[string]bool, error) {
	r, toHash, err := open(ctx, repo, to)
	if err != nil {
		return nil, err
	}
	fromHash := ""
	if from != "" {
		if fromHash, err = r.resolve(ctx, from); err != nil {
			return nil, err
		}
	}
	return r.between(ctx, fromHash, toHash)
}

// measure steps through the history, keeps the commits in the range with
// their metrics, and returns the range's LT.
func (rel *Release) measure(history []Commit, in map[string]bool) (lt int) {
	c := newComputer()
	counted := make(map[string]bool) // paths whose lines LT holds
	rel.HistoryHashes = make([]string, len(history))
	rel.HistoryMetrics = make([]Metrics, len(history))
	for i := range history {
		m := c.step(&history[i])
		rel.HistoryHashes[i], rel.HistoryMetrics[i] = history[i].Hash, m
		if !in[history[i].Hash] {
			continue
		}
		rel.Index = append(rel.Index, i)
		rel.Commits = append(rel.Commits, history[i])
		rel.Metrics = append(rel.Metrics, m)
		for k, f := range c.cur {
			switch {
			case counted[f.Path]:
			case f.OldPath != "" && counted[f.OldPath]:
				counted[f.Path] = true
			default:
				counted[f.Path] = true
				lt += c.before[k]
			}
		}
	}
	return lt
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
	g.Fix = g.Fixes > 0
	g.MinEXP = g.Min[EXP]
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
	rel.Migrations = len(rel.MigrationFiles)
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
