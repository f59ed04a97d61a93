package change

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// releaseRepo builds:
//
//	v1  alice  svc-a/main.go, go.mod, README.md
//	    bob    db/migrations/0002_users.sql, svc-a/main.go +2
//	    carol  web/package.json, go.sum       (branch feature)
//	v2         merge of feature
//	v3  alice  config/app.yaml, deploy/k8s/deployment.yaml, Dockerfile
//
// and a branch other from v1 with one commit by dave.
func releaseRepo(t *testing.T) *testRepo {
	t.Helper()
	r := newTestRepo(t)
	d := day(2020, 1, 1)
	r.commit("alice@example.com", d, "init",
		write("svc-a/main.go", "package main\n"), write("go.mod", "module x\n"), write("README.md", "hi\n"))
	r.git(nil, "tag", "v1")
	r.commit("bob@example.com", d.AddDate(0, 0, 1), "add users table",
		write("db/migrations/0002_users.sql", "create table users();\n"),
		write("svc-a/main.go", "package main\n\nfunc main() {}\n"))
	r.git(nil, "checkout", "-q", "-b", "feature")
	r.commit("carol@example.com", d.AddDate(0, 0, 2), "fix: bump deps",
		write("web/package.json", "{}\n"), write("go.sum", "x h1:abc\n"))
	r.git(nil, "checkout", "-q", "main")
	r.merge("feature", d.AddDate(0, 0, 3))
	r.git(nil, "tag", "v2")
	r.commit("alice@example.com", d.AddDate(0, 0, 4), "tune config",
		write("config/app.yaml", "a: 1\n"), write("deploy/k8s/deployment.yaml", "kind: Deployment\n"),
		write("Dockerfile", "FROM scratch\n"))
	r.git(nil, "tag", "v3")
	r.git(nil, "checkout", "-q", "-b", "other", "v1")
	r.commit("dave@example.com", d.AddDate(0, 0, 5), "diverge", write("other.txt", "x\n"))
	r.git(nil, "checkout", "-q", "main")
	return r
}

func TestRange(t *testing.T) {
	r := releaseRepo(t)
	ctx := context.Background()

	t.Run("code, a migration and manifests", func(t *testing.T) {
		rel, err := Range(ctx, r.dir, "v1", "v2")
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		for _, c := range rel.Commits {
			subjects = append(subjects, c.Subject)
		}
		if want := []string{"add users table", "fix: bump deps"}; !slices.Equal(subjects, want) {
			t.Fatalf("commits %q, want %q (the merge left out)", subjects, want)
		}
		if len(rel.Metrics) != 2 || rel.Commits[0].Time != day(2020, 1, 2) {
			t.Fatalf("%d metrics, first commit at %v", len(rel.Metrics), rel.Commits[0].Time)
		}
		// bob: svc-a/main.go had 1 line and is a day old; the migration is new.
		checkMetrics(t, "bob's commit", rel.Metrics[0], m(map[Metric]float64{
			NS: 2, ND: 2, NF: 2, Entropy: 0.9183, LA: 3, LT: 1, NDEV: 1, AGE: 0.5, NUC: 1}))
		checkMetrics(t, "carol's commit", rel.Metrics[1], m(map[Metric]float64{
			NS: 2, ND: 2, NF: 2, Entropy: 1, LA: 2, FIX: 1}))

		wantFiles := []string{"db/migrations/0002_users.sql", "go.sum", "svc-a/main.go", "web/package.json"}
		if !slices.Equal(rel.Files, wantFiles) {
			t.Errorf("Files %q, want %q", rel.Files, wantFiles)
		}
		if want := []string{".", "db", "svc-a", "web"}; !slices.Equal(rel.Services, want) {
			t.Errorf("Services %q, want %q", rel.Services, want)
		}
		if len(rel.MigrationFiles) != 1 || !slices.Equal(rel.MigrationFiles, []string{"db/migrations/0002_users.sql"}) {
			t.Errorf("migrations %q, want 1", rel.MigrationFiles)
		}
		if want := []string{"go.sum", "web/package.json"}; !slices.Equal(rel.DependencyManifests, want) {
			t.Errorf("DependencyManifests %q, want %q", rel.DependencyManifests, want)
		}
		if rel.ConfigOnly {
			t.Error("ConfigOnly = true, want false")
		}
		g := rel.Aggregate
		// Churn per file 1, 1, 2, 1 of 5: -(3·0.2·log2 0.2 + 0.4·log2 0.4).
		if g.Commits != 2 || g.Authors != 2 || g.NS != 4 || g.ND != 4 || g.NF != 4 ||
			g.LA != 5 || g.LD != 0 || g.LT != 1 || g.Fixes != 1 || g.Min[EXP] != 0 ||
			math.Abs(g.Entropy-1.9219) > 5e-5 {
			t.Errorf("Aggregate = %+v", g)
		}
		if g.Max[NF] != 2 || g.Mean[LA] != 2.5 || g.Min[LA] != 2 || g.Max[FIX] != 1 {
			t.Errorf("Min %v Mean %v Max %v", g.Min, g.Mean, g.Max)
		}
		if rel.FromHash == "" || rel.ToHash == "" || rel.From != "v1" || rel.To != "v2" || rel.Repo != r.dir {
			t.Errorf("release names %q %q %q %q %q", rel.Repo, rel.From, rel.To, rel.FromHash, rel.ToHash)
		}
	})

	t.Run("configuration only, measured on the whole history", func(t *testing.T) {
		rel, err := Range(ctx, r.dir, "v2", "v3")
		if err != nil {
			t.Fatal(err)
		}
		if !rel.ConfigOnly || len(rel.MigrationFiles) != 0 || len(rel.DependencyManifests) != 0 {
			t.Errorf("ConfigOnly %v, migrations %q, manifests %q", rel.ConfigOnly, rel.MigrationFiles, rel.DependencyManifests)
		}
		if want := []string{".", "config", "deploy"}; !slices.Equal(rel.Services, want) {
			t.Errorf("Services %q, want %q", rel.Services, want)
		}
		// alice made "init" before: EXP 1 even though it is outside the range.
		if g := rel.Aggregate; g.Commits != 1 || g.Authors != 1 || g.Min[EXP] != 1 || g.Fixes != 0 {
			t.Errorf("Aggregate = %+v", g)
		}
	})

	t.Run("a bare clone serves as well", func(t *testing.T) {
		bare := filepath.Join(t.TempDir(), "bare.git")
		r.git(nil, "clone", "-q", "--bare", r.dir, bare)
		rel, err := Range(ctx, bare, "v1", "v2")
		if err != nil {
			t.Fatal(err)
		}
		if len(rel.Commits) != 2 || len(rel.MigrationFiles) != 1 {
			t.Errorf("%d commits, %d migrations, want 2 and 1", len(rel.Commits), len(rel.MigrationFiles))
		}
	})

	t.Run("an empty from takes the whole history", func(t *testing.T) {
		rel, err := Range(ctx, r.dir, "", "v1")
		if err != nil {
			t.Fatal(err)
		}
		if len(rel.Commits) != 1 || rel.FromHash != "" || !slices.Equal(rel.DependencyManifests, []string{"go.mod"}) {
			t.Errorf("commits %d, from %q, manifests %q", len(rel.Commits), rel.FromHash, rel.DependencyManifests)
		}
	})
}

func TestRangeErrors(t *testing.T) {
	r := releaseRepo(t)
	missing := filepath.Join(t.TempDir(), "missing")
	plain := t.TempDir()
	tests := []struct {
		name           string
		repo, from, to string
		is             error
		want           []string // in the message
	}{
		{"unknown to", r.dir, "v1", "nope", ErrUnknownRevision, []string{`unknown revision "nope"`, r.dir}},
		{"unknown from", r.dir, "v0", "v2", ErrUnknownRevision, []string{`unknown revision "v0"`, r.dir}},
		{"a revision that looks like an option", r.dir, "--all", "v2", ErrUnknownRevision, []string{`"--all"`, "must not be empty or start with '-'"}},
		{"from not an ancestor of to", r.dir, "other", "v2", ErrNotAncestor, []string{`range "other..v2"`, r.dir, `"other" is not an ancestor of "v2"`}},
		{"an empty range", r.dir, "v2", "v2", ErrEmptyRange, []string{`range "v2..v2"`, r.dir, "nothing to deploy"}},
		{"a range of merges only", r.dir, "feature", "v2", ErrEmptyRange, []string{`range "feature..v2"`, "holds no commits (merges aside)"}},
		{"not a git repository", plain, "v1", "v2", ErrNotRepository, []string{plain, "not a git repository"}},
		{"no such directory", missing, "v1", "v2", ErrNotRepository, []string{missing, "no such directory"}},
		{"no path", "", "v1", "v2", ErrNotRepository, []string{`repository ""`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rel, err := Range(context.Background(), tc.repo, tc.from, tc.to)
			if err == nil {
				t.Fatalf("Range = %d commits, want an error", len(rel.Commits))
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
	t.Run("History of an unknown revision", func(t *testing.T) {
		_, err := History(context.Background(), r.dir, "nope")
		if !errors.Is(err, ErrUnknownRevision) || !strings.Contains(err.Error(), r.dir) {
			t.Errorf("err = %v, want ErrUnknownRevision naming %s", err, r.dir)
		}
	})
	t.Run("a cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Range(ctx, r.dir, "v1", "v2"); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

func TestClassify(t *testing.T) {
	tests := []struct {
		path                        string
		migration, manifest, config bool
	}{
		{"db/migrations/0001_init.sql", true, false, false},
		{"internal/store/sqlite/migrations/0002.sql", true, false, false},
		{"db/migrate/20240101120000_create_users.rb", true, false, false},
		{"src/main/resources/db/migration/V2_1__add_index.sql", true, false, false},
		{"sql/V12__users.sql", true, false, false},
		{"sql/R__views.sql", true, false, false},
		{"schema/000001_init.up.sql", true, false, false},
		{"app/alembic/versions/abc123_add.py", true, false, false},
		{"lib/20240101_add_users_migration.rb", true, false, false},
		{"db/changelog/changes.yaml", true, false, true},
		{"queries/report.sql", false, false, false},
		{"cmd/migrator.go", false, false, false},
		{"go.mod", false, true, false},
		{"services/api/go.sum", false, true, false},
		{"web/package.json", false, true, true},
		{"web/pnpm-lock.yaml", false, true, true},
		{"requirements-dev.txt", false, true, false},
		{"Pipfile.lock", false, true, false},
		{"pyproject.toml", false, true, true},
		{"Gemfile", false, true, false},
		{"Cargo.lock", false, true, false},
		{"pom.xml", false, true, false},
		{"build.gradle.kts", false, true, false},
		{"composer.lock", false, true, false},
		{"notes.txt", false, false, false},
		{"deploy/k8s/deployment.yaml", false, false, true},
		{"config/app.YML", false, false, true},
		{"settings.ini", false, false, true},
		{"nginx/site.conf", false, false, true},
		{"app.properties", false, false, true},
		{".env", false, false, true},
		{".env.production", false, false, true},
		{"infra/main.tf", false, false, true},
		{"Dockerfile", false, false, true},
		{"docker/Dockerfile.dev", false, false, true},
		{"api.dockerfile", false, false, true},
		{"main.go", false, false, false},
		{"README.md", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got := [3]bool{IsMigration(tc.path), IsDependencyManifest(tc.path), IsConfig(tc.path)}
			if want := [3]bool{tc.migration, tc.manifest, tc.config}; got != want {
				t.Errorf("migration, manifest, config = %v, want %v", got, want)
			}
		})
	}
}

func TestAggregateOfNothing(t *testing.T) {
	if g := aggregate(nil, nil, 0); !reflect.DeepEqual(g, Aggregate{}) {
		t.Errorf("aggregate() = %+v, want zero", g)
	}
}

// The release carries the whole history, aligned with the range's
// commits; Sub measures an earlier range from that history, as Range
// would; Owners names who changed the files before.
func TestReleaseHistorySubAndOwners(t *testing.T) {
	r := newTestRepo(t)
	r.commit("ann@example.com", day(2025, 1, 1), "first", write("a.go", "one\n"))
	second := r.commit("ann@example.com", day(2025, 1, 2), "second", write("a.go", "one\ntwo\n"))
	r.commit("cy@example.com", day(2025, 1, 2), "side", write("a.go", "one\ntwo\nthree\n"))
	r.commit("bob@example.com", day(2025, 1, 3), "third", write("b.go", "x\n"), write("a.go", "one\n"))
	rel, err := Range(t.Context(), r.dir, "HEAD~1", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(rel.history.hashes) != 4 || len(rel.HistoryMetrics) != 4 || len(rel.Index) != 1 || rel.Index[0] != 3 ||
		rel.history.hashes[3] != rel.Commits[0].Hash || rel.HistoryMetrics[3] != rel.Metrics[0] {
		t.Errorf("history %d hashes, %d metrics, index %v", len(rel.history.hashes), len(rel.HistoryMetrics), rel.Index)
	}
	if got := rel.Owners(3); !reflect.DeepEqual(got, []string{"ann@example.com", "cy@example.com"}) {
		t.Errorf("owners %v: want ann (2 changes of a.go), then cy (1)", got)
	}
	for _, rng := range [][2]string{{"HEAD~3", "HEAD~2"}, {"HEAD~3", "HEAD~1"}, {"", "HEAD~2"}} {
		sub, err := rel.Sub(t.Context(), rng[0], rng[1])
		if err != nil {
			t.Fatal(err)
		}
		alone, err := Range(t.Context(), r.dir, rng[0], rng[1])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sub.Metrics, alone.Metrics) || !reflect.DeepEqual(sub.Aggregate, alone.Aggregate) || !reflect.DeepEqual(sub.Index, alone.Index) || !reflect.DeepEqual(sub.Files, alone.Files) {
			t.Errorf("%v: Sub %+v %+v, Range %+v %+v", rng, sub.Aggregate, sub.Index, alone.Aggregate, alone.Index)
		}
	}
	if sub, err := rel.Sub(t.Context(), "HEAD~3", "HEAD~2"); err != nil || len(sub.Commits) != 1 || sub.Commits[0].Hash != second {
		t.Errorf("Sub HEAD~3..HEAD~2 = %v, %v", sub, err)
	}
	if _, err := rel.Sub(t.Context(), "", "nope"); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("unknown revision: %v", err)
	}
	r.git(nil, "checkout", "-q", "-b", "other", "HEAD~1")
	r.commit("dan@example.com", day(2025, 1, 4), "elsewhere", write("c.go", "y\n"))
	if _, err := rel.Sub(t.Context(), "main~1", "other"); !errors.Is(err, ErrNotInHistory) {
		t.Errorf("a range off the release's history: %v", err)
	}
	// Sub refuses what Range refuses: a from that is not an ancestor.
	for name, f := range map[string]func() error{
		"Sub":   func() error { _, err := rel.Sub(t.Context(), "other", "main"); return err },
		"Range": func() error { _, err := Range(t.Context(), r.dir, "other", "main"); return err },
	} {
		if err := f(); !errors.Is(err, ErrNotAncestor) {
			t.Errorf("%s other..main: %v, want ErrNotAncestor", name, err)
		}
	}
}
