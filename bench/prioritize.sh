#!/usr/bin/env bash
# Check prioritization, measured on a replayed run history (issue 7).
#
# Builds a history of RUNS demo runs (the built-in catalogue against the
# reference system on 127.0.0.1) in a temporary database. Each run injects
# faults drawn the way a real team's failures recur: two habitual faults
# (insecure-headers in 40% of runs, ai-slow in 25%) and, in 30% of runs,
# one other fault picked uniformly. The certification dates are set far
# ahead so that only the faults fail. Then `prf risk checks` replays the
# history: each run ordered by what the runs before it teach, counting the
# checks until its first failure against file order.
#
# Usage: bench/prioritize.sh [RUNS]   (default 40; about 4 s per run)
set -euo pipefail
RUNS=${1:-40}
cd "$(dirname "$0")/.."
go build -o bin/prf ./cmd/prf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/history.db
others=(health-down slow-health auth-broken no-auth no-rate-limit waf-off model-unloaded chain-unsynced
	expired-cert weak-tls auth-down login-no-token api-slow jwt-unverified jwks-rotated chain-down
	data-degraded no-prediction weak-key waf-paranoid)
vars=(--var cert_soc2_expires=2099-12-31 --var cert_iso27001_expires=2099-12-31 --var cert_fips140_expires=2099-12-31
	--var loadtest_scale=0.0005 --var loadtest_load_scale=0.01)
RANDOM=42 # the same history every time
for ((i = 1; i <= RUNS; i++)); do
	faults=()
	((RANDOM % 100 < 40)) && faults+=(--fault insecure-headers)
	((RANDOM % 100 < 25)) && faults+=(--fault ai-slow)
	((RANDOM % 100 < 30)) && faults+=(--fault "${others[RANDOM % ${#others[@]}]}")
	printf 'run %d/%d: %s\n' "$i" "$RUNS" "${faults[*]:-no fault}" >&2
	bin/prf demo --db "$db" --no-services -q "${vars[@]}" "${faults[@]}" >/dev/null 2>&1
done
bin/prf risk checks --db "$db"
