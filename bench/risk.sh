#!/usr/bin/env bash
# The risk model's numbers (issue 7), every one from a command in this
# file. Needs ../shared/data/jit beside the repository.
#   (a) within-project: train on the earliest 80% in time, test on the
#       latest 20% (Zeng et al.'s split), lr (the baseline) and ens
#   (b) cross-project: train on the other three projects, same test slice
#   (c) Kamei et al.'s projects, which the embedded prior never saw
#   (d) the team model against the prior on held-out time slices of
#       deployment histories made from change data (daily releases)
#   (e) training time on 100,000 rows, prediction time, ranking a
#       100,000-commit history (Go benchmarks)
set -euo pipefail
cd "$(dirname "$0")/.."
D=${SHARED:-../shared/data}/jit
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/prf" ./cmd/prf
prf="$out/prf"
row() { python3 -c 'import json,sys; r=json.load(sys.stdin); print("%-10s %-5s auc %.4f  pr_auc %.4f  brier %.4f  ece %.4f  f1 %.3f  caught@10%% %.3f (size %.3f)" % (sys.argv[1], sys.argv[2], r["auc"], r["pr_auc"], r["brier"], r["ece"], r["f1"], r["caught_at"]["0.10"], r["caught_at_size"]["0.10"]))' "$@"; }
P="qt openstack jdt platform"

echo "== (a) within-project, time split 80/20"
for p in $P; do
	for m in lr ens; do "$prf" risk eval --data "$D/issta21-jitdp/$p.csv" --model $m -o json | row "$p" $m; done
done

echo
echo "== (b) cross-project: train on the other three"
for p in $P; do
	args=()
	for o in $P; do [ "$o" != "$p" ] && args+=(--train-on "$D/issta21-jitdp/$o.csv"); done
	"$prf" risk eval --data "$D/issta21-jitdp/$p.csv" "${args[@]}" -o json | row "$p" ens
done

echo
echo "== (c) Kamei et al. 2013 projects (time split 80/20)"
for p in bugzilla columba jdt postgres; do
	for m in lr ens; do "$prf" risk eval --data "$D/kamei2013/$p.csv" --model $m -o json | row "k-$p" $m; done
done

echo
echo "== (d) team model vs the embedded prior, daily releases of Kamei et al.'s projects"
for p in bugzilla columba jdt postgres; do
	printf '%-10s ' "$p"; "$prf" risk eval --data "$D/kamei2013/$p.csv" --releases 24h --step 100 | tail -1
done
echo "jdt (prior trained on qt, openstack, platform):"
"$prf" risk eval --data "$D/issta21-jitdp/jdt.csv" --train-on "$D/issta21-jitdp/qt.csv" --train-on "$D/issta21-jitdp/openstack.csv" \
	--train-on "$D/issta21-jitdp/platform.csv" --releases 24h --step 50

echo
echo "== (e) training and prediction time"
go test -run x -bench 'TrainEns100k|TrainLR100k|Predict|NewHistory' -benchtime 3x ./internal/risk/ | grep -E '^Benchmark'
