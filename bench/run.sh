#!/usr/bin/env bash
# The numbers quoted in issue notes, measured side by side in one run.
# Every target is on 127.0.0.1; every loop is bounded.
#   (a) the demo checklist at default concurrency vs --concurrency 1
#   (b) runner + durable SQLite with 10,000 trivial checkpoints: results/s
#       and peak memory, in-process (Go benchmark) and through the CLI
#       (10,000 tcp checkpoints against the demo target, max RSS)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT
go build -o "$out/prf" ./cmd/prf

echo "== (a) demo checklist: concurrency 32 vs 1 (Go benchmark, 5 runs each)"
go test -run x -bench DemoChecklist -benchtime 5x ./internal/demo/ | grep -E '^Benchmark' | tee "$out/a.txt"
awk '/concurrency=32/{a=$3} /concurrency=1-|concurrency=1 /{b=$3} END{if(a&&b) printf "ratio: --concurrency 1 takes %.1fx the wall time of the default\n", b/a}' "$out/a.txt"

echo
echo "== (b1) runner + SQLite, 10,000 trivial checkpoints (Go benchmark)"
go test -run x -bench 'Run10kSQLite|Load10k' -benchtime 3x ./internal/runner/ | grep -E '^Benchmark'
go test -run x -bench AddResults -benchtime 20000x ./internal/store/sqlite/ | grep -E '^Benchmark'

echo
echo "== (b2) prf check with 10,000 tcp checkpoints against the demo target (CLI, durable)"
"$out/prf" demo target --listen 127.0.0.1:0 > "$out/url" 2>/dev/null &
for _ in $(seq 50); do [ -s "$out/url" ] && break; sleep 0.1; done
addr=$(sed -n 1p "$out/url" | sed 's#https://##')
{
  echo "version: 1"; echo "name: bench-10k"; echo "checkpoints:"
  for i in $(seq -w 1 10000); do
    printf '  - {id: tcp.%s, title: "port %s", domain: infrastructure, owner: SRE, probe: {kind: tcp, address: "%s"}, expect: connected}\n' "$i" "$i" "$addr"
  done
} > "$out/10k.yaml"
/usr/bin/time -f "wall %e s, max RSS %M KiB" "$out/prf" check -q -f "$out/10k.yaml" --db "$out/prf.db" -o json --out "$out/r.json" 2>&1 | grep -v 'report written'
n=$(grep -c '"status": "pass"' "$out/r.json" || true)
echo "stored results passing: $n"
