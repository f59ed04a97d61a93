// Package change measures the commits of a local git repository: the 14
// change metrics of Kamei et al. ("A Large-Scale Empirical Study of
// Just-in-Time Quality Assurance", TSE 2013) for each commit, and the
// features of a deployment, a range of commits from..to.
//
//	commit.go   Commit and FileChange; the parser of git log --numstat -z
//	git.go      running git: History, revisions, ancestry, errors
//	metrics.go  Metric, Metrics, Compute: one pass over the history
//	idset.go    the sets of ids (commits, authors) NDEV and NUC unite
//	release.go  Range: a deployment's commits, their metrics, an
//	            Aggregate, and what it touches (services, migrations,
//	            dependency manifests, configuration)
//
// Metrics read only the commits before the one they describe, never a
// label, so a commit can be measured the moment it is made. They follow
// the columns of the public JIT data sets (ns … sexp, AGE in days); see
// Metric for where the definitions here differ from those files.
//
// The package runs the git CLI (git -C DIR …) and needs no working tree:
// a bare repository serves as well.
package change
