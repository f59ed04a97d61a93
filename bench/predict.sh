#!/usr/bin/env bash
# prf risk predict with a team history (issue 7): the time to read a
# service's recorded deployments and train the team model.
#
# Records this repository's first 61 commits as 60 consecutive deployments
# of service api/prod (every fourth one rolled back, so the team model
# trains), then times `prf risk predict --service api --env prod` on the
# latest range, REPS times. With OLD=REV it also builds prf at that
# revision and runs the two binaries interleaved, for a ratio measured side
# by side.
#
# Usage: [OLD=REV] [REPS=3] bench/predict.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/old" 2>/dev/null || true; rm -rf "$tmp"' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT && echo "kept $tmp"
go build -o "$tmp/new" ./cmd/prf
bins=(new)
if [ -n "${OLD:-}" ]; then
	git worktree add -q "$tmp/old" "$OLD"
	(cd "$tmp/old" && go build -o "$tmp/old.bin" ./cmd/prf)
	mv "$tmp/old.bin" "$tmp/old"/prf-bench
	bins=(old new)
fi
bin() { if [ "$1" = old ]; then echo "$tmp/old/prf-bench"; else echo "$tmp/new"; fi; }
mapfile -t revs < <(git rev-list --reverse --first-parent HEAD | head -61)
db=$tmp/deploys.db
now=$(date +%s) # one deployment an hour, the last an hour ago
for ((i = 1; i < 61; i++)); do
	outcome=success
	((i % 4 == 0)) && outcome=rolled_back
	"$tmp/new" deployments record --db "$db" --service api --env prod --from "${revs[i - 1]}" --to "${revs[i]}" \
		--time "$(date -u -d "@$((now - (61 - i) * 3600))" +%Y-%m-%dT%H:%M:%SZ)" --outcome "$outcome" >/dev/null
done
echo "60 deployments recorded; predicting ${revs[59]:0:7}..${revs[60]:0:7} with the team history"
for ((r = 1; r <= REPS; r++)); do
	for b in "${bins[@]}"; do
		s=$(date +%s.%N)
		"$(bin "$b")" risk predict --db "$db" --repo . --from "${revs[59]}" --to "${revs[60]}" --service api --env prod -o json >"$tmp/$b.json"
		e=$(date +%s.%N)
		printf '%-4s rep %d: %.2f s\n' "$b" "$r" "$(echo "$e - $s" | bc)"
	done
done
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print("model:", p["model"], "| probability %.3f" % p["probability"], "|", p.get("why") or "team model trained")' "$tmp/new.json"
