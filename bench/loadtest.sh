#!/usr/bin/env bash
# The numbers quoted in the `prf loadtest` issue, measured side by side in one
# run against nginx and a minimal Go server, both on 127.0.0.1. Every command
# is bounded by `timeout`; defaults finish in about 4-5 minutes.
#   (a) saturation throughput, closed model, 64 connections/VUs:
#       wrk vs prf vs vegeta, interleaved, REPS repetitions; median paired
#       ratios prf/wrk and prf/vegeta per target
#   (b) open-model rate accuracy: prf and vegeta at 1000/s and 5000/s, then
#       the highest rate prf sustains (achieved >= 99%, dropped <= 1%)
#   (c) latency accuracy on /sleep (2ms): wrk -c4 sets the rate R and the
#       reference p50/p99; prf and vegeta at rate R
#   (d) CPU per request at a fixed 2000/s: prf vs vegeta
#   (e) memory per idle VU: BenchmarkIdleVUs in internal/loadtest, if present
# Environment: D (seconds per saturation run, 5), REPS (3), SWEEP_D (seconds
# per sweep step, 5), NGINX_WORKERS (1), PRF (a prf binary to use instead of
# building ./cmd/prf). Raw output stays in the printed temporary folder;
# binaries and the SQLite store are removed at exit. Other work on the
# machine skews every number: the script samples idle CPU and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

D=${D:-5}
REPS=${REPS:-3}
SWEEP_D=${SWEEP_D:-5}
NGINX_WORKERS=${NGINX_WORKERS:-1}
VUS=64
VEGETA_VERSION=v12.13.0

tmp=$(mktemp -d /tmp/prf-loadtest-bench.XXXXXX)
bin=$tmp/bin
raw=$tmp/raw
mkdir -p "$bin" "$raw" "$tmp/nginx"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$bin" "$tmp"/prf.db* "$tmp/nginx"
  echo "raw output kept in $raw"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

# anomaly MESSAGE: printed now and again at the end (a file, so that calls
# from command substitutions count too).
: >"$raw/anomalies.txt"
anomaly() {
  echo "$*" >>"$raw/anomalies.txt"
  echo "ANOMALY: $*" >&2
}

# ---------------------------------------------------------------- tools
apt_install() {
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo -n)
  echo "installing: $*"
  if ! timeout 300 "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq "$@" >"$raw/apt.log" 2>&1; then
    timeout 300 "${sudo[@]}" apt-get update -qq >>"$raw/apt.log" 2>&1
    timeout 300 "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq "$@" >>"$raw/apt.log" 2>&1
  fi
}
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v jq >/dev/null || missing+=(jq)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "building vegeta $VEGETA_VERSION, the Go target and prf"
(cd "$tmp" && GOWORK=off GOFLAGS='' GOBIN="$bin" timeout 300 \
  go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION") >"$raw/vegeta-install.log" 2>&1 ||
  { cat "$raw/vegeta-install.log"; exit 1; }
timeout 300 go build -o "$bin/target" ./bench/loadtest/target
have_prf=1
if [ -n "${PRF:-}" ]; then
  cp "$PRF" "$bin/prf"
  echo "prf: using $PRF"
elif ! timeout 300 go build -o "$bin/prf" ./cmd/prf >"$raw/prf-build.log" 2>&1; then
  have_prf=0
  anomaly "go build ./cmd/prf failed: $(tail -3 "$raw/prf-build.log" | tr '\n' ' ')"
fi
if [ "$have_prf" -eq 1 ] && ! timeout 20 "$bin/prf" loadtest --help >"$raw/prf-help.txt" 2>&1; then
  have_prf=0
  anomaly "prf loadtest --help failed: $(tail -3 "$raw/prf-help.txt" | tr '\n' ' ')"
fi
[ "$have_prf" -eq 1 ] || echo "prf loadtest unavailable: its columns read NA"

# ---------------------------------------------------------------- targets
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    port_open "$p" || { echo "$p"; return 0; }
  done
  return 1
}
nport=$(free_port)
cat >"$tmp/nginx.conf" <<EOF
daemon off;
worker_processes $NGINX_WORKERS;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 1000000;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$nport;
    location / { return 200 "ok"; }
  }
}
EOF
"$NGINX" -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx.conf" >"$raw/nginx.log" 2>&1 &
pids+=($!)
"$bin/target" -addr 127.0.0.1:0 >"$raw/target.addr" 2>"$raw/target.err" &
pids+=($!)
for _ in $(seq 100); do
  port_open "$nport" && [ -s "$raw/target.addr" ] && break
  sleep 0.1
done
port_open "$nport" || { echo "nginx did not start:"; cat "$raw/nginx.log" "$tmp/nginx/error.log"; exit 1; }
[ -s "$raw/target.addr" ] || { echo "Go target did not start:"; cat "$raw/target.err"; exit 1; }
declare -A url=([nginx]="http://127.0.0.1:$nport/" [go]="http://$(head -1 "$raw/target.addr")/")
echo "nginx ${url[nginx]} (worker_processes $NGINX_WORKERS), Go target ${url[go]}"

# ---------------------------------------------------------------- helpers
# calc EXPR with awk; any NA operand gives NA.
calc() {
  case "$*" in *NA*) echo NA; return ;; esac
  awk "BEGIN { printf \"%.3f\", $* }"
}
median() {
  local vals
  vals=$(printf '%s\n' "$@" | grep -v '^NA$' | sort -g) || true
  [ -n "$vals" ] || { echo NA; return; }
  echo "$vals" | awk '{v[NR]=$1} END { if (NR%2) printf "%.3f", v[(NR+1)/2]; else printf "%.3f", (v[NR/2]+v[NR/2+1])/2 }'
}
# jget FILE JQPATH prints the value or NA; a missing key is an anomaly.
jget() {
  local v
  if [ ! -s "$1" ]; then echo NA; return; fi
  if v=$(jq -er "$2" "$1" 2>/dev/null); then echo "$v"; else
    anomaly "$(basename "$1"): JSON lacks $2"
    echo NA
  fi
}
wrk_rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
# wrk_ms FILE 50% prints that latency percentile in ms.
wrk_ms() {
  awk -v p="$2" '$1 == p {
    v = $2
    if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v) }
    else if (v ~ /m$/) { sub(/m$/, "", v); v = v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }
    printf "%.3f", v; exit }' "$1"
}
wrk_check() {
  grep -E 'Non-2xx|Socket errors' "$1" | sed "s#^#$(basename "$1"): #" |
    while read -r l; do anomaly "$l"; done || true
}
# run_wrk NAME ARGS... leaves raw/NAME.txt
run_wrk() {
  local name=$1; shift
  timeout 60 wrk "$@" >"$raw/$name.txt" 2>&1 || anomaly "wrk $name exited $?"
  wrk_check "$raw/$name.txt"
}
# run_prf NAME ARGS... leaves raw/NAME.json (and .err)
run_prf() {
  local name=$1; shift
  [ "$have_prf" -eq 1 ] || { : >"$raw/$name.json"; return; }
  local rc=0
  timeout 90 "$bin/prf" loadtest -q --db "$tmp/prf.db" -o json "$@" \
    >"$raw/$name.json" 2>"$raw/$name.err" || rc=$?
  if [ "$rc" -ne 0 ]; then
    anomaly "prf $name exited $rc: $(tail -3 "$raw/$name.err" | tr '\n' ' ')"
  fi
  local fr
  fr=$(jget "$raw/$name.json" .failed_rate)
  if [ "$fr" != NA ] && awk "BEGIN { exit !($fr > 0) }"; then
    anomaly "prf $name failed_rate $fr"
  fi
}
# run_vegeta NAME URL ATTACK-ARGS... leaves raw/NAME.json (vegeta report)
run_vegeta() {
  local name=$1 u=$2; shift 2
  echo "GET $u" >"$raw/$name.targets"
  timeout 90 "$bin/vegeta" attack -targets "$raw/$name.targets" "$@" >"$raw/$name.bin" 2>"$raw/$name.err" ||
    anomaly "vegeta $name exited $?: $(tail -3 "$raw/$name.err" | tr '\n' ' ')"
  timeout 60 "$bin/vegeta" report -type=json "$raw/$name.bin" >"$raw/$name.json" 2>>"$raw/$name.err" || true
  rm -f "$raw/$name.bin"
  local s
  s=$(jget "$raw/$name.json" .success)
  if [ "$s" != NA ] && awk "BEGIN { exit !($s < 1) }"; then
    anomaly "vegeta $name success $s, errors $(jq -c .errors "$raw/$name.json")"
  fi
}
ns2ms() { calc "$1 / 1e6"; }
# int N rounds a number for display; NA stays NA.
int() { if [ "$1" = NA ]; then echo NA; else printf '%.0f' "$1"; fi; }
# load_check WHEN: CPU use by other processes over 2s (nothing of ours runs
# then); other work on this 2-core machine skews every number.
load_check() {
  local a b busy
  a=$(awk '/^cpu /{ print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8 }' /proc/stat)
  sleep 2
  b=$(awk '/^cpu /{ print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8 }' /proc/stat)
  busy=$(echo "$a $b" | awk '{ d = $4 - $2; printf "%.0f", (d > 0 ? 100 * ($3 - $1) / d : 0) }')
  echo "CPU busy $1 (other processes, 2s sample): $busy%"
  if [ "$busy" -gt 10 ]; then
    anomaly "CPU $busy% busy $1 with no benchmark running: other processes share the CPUs, numbers are noisy"
  fi
}
load_check "before the runs"

# ---------------------------------------------------------------- (a)
echo
echo "== (a) saturation, $VUS connections, ${D}s per run, $REPS repetitions (rps)"
declare -A ratio_w ratio_v
tools=(wrk prf vegeta)
for rep in $(seq "$REPS"); do
  for t in nginx go; do
    u=${url[$t]}
    declare -A rps=()
    for i in 0 1 2; do # rotate the order so no tool always runs first
      tool=${tools[$(((i + rep - 1) % 3))]}
      name=a-$t-$rep-$tool
      case $tool in
      wrk)
        run_wrk "$name" -t2 -c"$VUS" -d"${D}s" "$u"
        rps[wrk]=$(wrk_rps "$raw/$name.txt"); rps[wrk]=${rps[wrk]:-NA} ;;
      prf)
        run_prf "$name" --url "$u" --vus "$VUS" --duration "${D}s"
        rps[prf]=$(jget "$raw/$name.json" .rps) ;;
      vegeta)
        run_vegeta "$name" "$u" -rate=0 -max-workers="$VUS" -duration="${D}s"
        rps[vegeta]=$(jget "$raw/$name.json" .throughput) ;;
      esac
    done
    ratio_w[$t]+="$(calc "${rps[prf]} / ${rps[wrk]}") "
    ratio_v[$t]+="$(calc "${rps[prf]} / ${rps[vegeta]}") "
    printf '  rep %d %-5s wrk %10s  prf %10s  vegeta %10s  prf/wrk %s  prf/vegeta %s\n' \
      "$rep" "$t" "$(int "${rps[wrk]}")" "$(int "${rps[prf]}")" "$(int "${rps[vegeta]}")" \
      "$(calc "${rps[prf]} / ${rps[wrk]}")" "$(calc "${rps[prf]} / ${rps[vegeta]}")"
  done
done
declare -A med_w med_v
for t in nginx go; do
  # shellcheck disable=SC2086
  med_w[$t]=$(median ${ratio_w[$t]})
  # shellcheck disable=SC2086
  med_v[$t]=$(median ${ratio_v[$t]})
  echo "  median $t: prf/wrk ${med_w[$t]}  prf/vegeta ${med_v[$t]}"
done

# ---------------------------------------------------------------- (b)
echo
load_check "between (a) and (b)"
echo "== (b) open model against the Go target (/), --max-vus 200"
declare -A b_acc b_drop b_p99
# open_prf RATE SECONDS: prints achieved/requested and dropped share; sets ok.
open_prf() {
  local r=$1 s=$2 name=b-prf-$1
  run_prf "$name" --url "${url[go]}" --rate "$r" --max-vus 200 --duration "${s}s"
  local got drop p99 its vmax lost
  got=$(jget "$raw/$name.json" .rps)
  drop=$(jget "$raw/$name.json" .dropped_iterations)
  its=$(jget "$raw/$name.json" .iterations)
  vmax=$(jget "$raw/$name.json" .vus_max)
  # every scheduled iteration should be either run or dropped
  lost=$(calc "$r * $s - $its - $drop")
  if [ "$lost" != NA ] && awk "BEGIN { exit !($lost > $r * $s * 0.001) }"; then
    anomaly "prf $name: $r/s for ${s}s schedules $((r * s)), iterations $its + dropped $drop leave $(int "$lost") unaccounted"
  fi
  if [ "$vmax" != NA ] && [ "$vmax" -gt 200 ]; then
    anomaly "prf $name: vus_max $vmax exceeds --max-vus 200"
  fi
  p99=$(jget "$raw/$name.json" .latency_ms.p99)
  b_acc[$r]=$(calc "$got / $r")
  b_drop[$r]=$(calc "$drop / ($r * $s)")
  p99=$(calc "$p99 * 1")
  b_p99[$r]=$p99
  printf '  prf    %6d/s %2ds: achieved %7s/s (%s)  dropped %s (%s)  p99 %s ms\n' \
    "$r" "$s" "$(int "$got")" "${b_acc[$r]}" "$drop" "${b_drop[$r]}" "$p99"
  ok=0
  if [ "${b_acc[$r]}" != NA ] && [ "${b_drop[$r]}" != NA ] &&
    awk "BEGIN { exit !(${b_acc[$r]} >= 0.99 && ${b_drop[$r]} <= 0.01) }"; then ok=1; fi
}
sustained=NA
ok=0
open_prf 1000 10
[ "$ok" -eq 1 ] && sustained=1000
ok1000=$ok
open_prf 5000 10
[ "$ok1000" -eq 1 ] && [ "$ok" -eq 1 ] && sustained=5000
if [ "$sustained" = 5000 ]; then
  for r in 10000 15000 20000 25000 30000 40000 50000 60000; do
    open_prf "$r" "$SWEEP_D"
    [ "$ok" -eq 1 ] || break
    sustained=$r
  done
  [ "$ok" -eq 1 ] && sustained=">=$sustained" # the sweep's ceiling held
fi
echo "  highest rate prf sustains (achieved >= 99%, dropped <= 1%): $sustained/s"
declare -A bv_acc bv_p99
for r in 1000 5000; do
  name=b-vegeta-$r
  run_vegeta "$name" "${url[go]}" -rate="$r" -duration=10s
  got=$(jget "$raw/$name.json" .rate)
  thr=$(jget "$raw/$name.json" .throughput)
  bv_acc[$r]=$(calc "$got / $r")
  bv_p99[$r]=$(ns2ms "$(jget "$raw/$name.json" '.latencies."99th"')")
  printf '  vegeta %6d/s 10s: achieved %7s/s (%s)  throughput %s/s  p99 %s ms\n' \
    "$r" "$(int "$got")" "${bv_acc[$r]}" "$(int "$thr")" "${bv_p99[$r]}"
done

# ---------------------------------------------------------------- (c)
echo
echo "== (c) latency on /sleep (2ms), rate set by wrk -t1 -c4"
u=${url[go]}sleep
run_wrk c-wrk -t1 -c4 -d10s --latency "$u"
R=$(wrk_rps "$raw/c-wrk.txt")
R=$(printf '%.0f' "${R:-0}")
w50=$(wrk_ms "$raw/c-wrk.txt" 50%); w99=$(wrk_ms "$raw/c-wrk.txt" 99%)
w50=${w50:-NA}; w99=${w99:-NA}
echo "  wrk    rate $R/s  p50 $w50 ms  p99 $w99 ms"
if [ "$R" -gt 0 ]; then
  run_prf c-prf --url "$u" --rate "$R" --max-vus 64 --duration 10s
  p50=$(calc "$(jget "$raw/c-prf.json" .latency_ms.p50) * 1")
  p99=$(calc "$(jget "$raw/c-prf.json" .latency_ms.p99) * 1")
  run_vegeta c-vegeta "$u" -rate="$R" -duration=10s
  v50=$(ns2ms "$(jget "$raw/c-vegeta.json" '.latencies."50th"')")
  v99=$(ns2ms "$(jget "$raw/c-vegeta.json" '.latencies."99th"')")
else
  anomaly "wrk on /sleep gave no rate"
  p50=NA p99=NA v50=NA v99=NA
fi
c_p50=$(calc "$p50 / $w50"); c_p99=$(calc "$p99 / $w99")
cv_p50=$(calc "$v50 / $w50"); cv_p99=$(calc "$v99 / $w99")
echo "  prf    p50 $p50 ms  p99 $p99 ms   prf/wrk p50 $c_p50  p99 $c_p99"
echo "  vegeta p50 $v50 ms  p99 $v99 ms   vegeta/wrk p50 $cv_p50  p99 $cv_p99"

# ---------------------------------------------------------------- (d)
echo
echo "== (d) CPU per request at 2000/s for 10s against the Go target (/)"
d_prf=NA
if [ "$have_prf" -eq 1 ]; then
  rc=0
  timeout 60 /usr/bin/time -f '%U %S' -o "$raw/d-prf.time" "$bin/prf" loadtest -q \
    --db "$tmp/prf.db" -o json --url "${url[go]}" --rate 2000 --max-vus 200 \
    --duration 10s >"$raw/d-prf.json" 2>"$raw/d-prf.err" || rc=$?
  [ "$rc" -eq 0 ] || anomaly "prf d-prf exited $rc: $(tail -3 "$raw/d-prf.err" | tr '\n' ' ')"
  n=$(jget "$raw/d-prf.json" .requests)
  cpu=$(awk '{ print $1 + $2 }' "$raw/d-prf.time")
  d_prf=$(calc "$cpu * 1e6 / $n")
  echo "  prf    ${cpu}s CPU for $n requests: $d_prf µs/request"
fi
echo "GET ${url[go]}" >"$raw/d-vegeta.targets"
timeout 60 /usr/bin/time -f '%U %S' -o "$raw/d-vegeta.time" "$bin/vegeta" attack \
  -targets "$raw/d-vegeta.targets" -rate=2000 -duration=10s >"$raw/d-vegeta.bin" 2>"$raw/d-vegeta.err" ||
  anomaly "vegeta d-vegeta exited $?"
"$bin/vegeta" report -type=json "$raw/d-vegeta.bin" >"$raw/d-vegeta.json"
rm -f "$raw/d-vegeta.bin"
n=$(jget "$raw/d-vegeta.json" .requests)
cpu=$(awk '{ print $1 + $2 }' "$raw/d-vegeta.time")
d_veg=$(calc "$cpu * 1e6 / $n")
echo "  vegeta ${cpu}s CPU for $n requests: $d_veg µs/request"
d_ratio=$(calc "$d_prf / $d_veg")

# ---------------------------------------------------------------- (e)
echo
echo "== (e) memory per idle VU (BenchmarkIdleVUs)"
e_line=NA
if grep -qs 'func BenchmarkIdleVUs' internal/loadtest/*_test.go; then
  timeout 300 go test -run x -bench 'BenchmarkIdleVUs' -benchtime 1x ./internal/loadtest/ \
    >"$raw/e-bench.txt" 2>&1 || anomaly "BenchmarkIdleVUs failed: $(tail -3 "$raw/e-bench.txt" | tr '\n' ' ')"
  grep -E '^Benchmark' "$raw/e-bench.txt" || true
  e_line=$(grep -E '^Benchmark' "$raw/e-bench.txt" | grep -oE '[0-9.]+ [^ ]*/VU' | head -1) ||
    e_line=$(grep -E '^Benchmark' "$raw/e-bench.txt" | head -1 | tr -s ' \t' ' ') || true
  e_line=${e_line:-NA}
else
  echo "  skipped: no BenchmarkIdleVUs in $repo/internal/loadtest"
fi

# ---------------------------------------------------------------- table
echo
load_check "after the runs"
echo "== summary (ratios: 1.00 means prf matches the reference tool)"
printf '%-46s %s\n' \
  "(a) saturation nginx, median prf/wrk" "${med_w[nginx]}" \
  "(a) saturation nginx, median prf/vegeta" "${med_v[nginx]}" \
  "(a) saturation Go, median prf/wrk" "${med_w[go]}" \
  "(a) saturation Go, median prf/vegeta" "${med_v[go]}" \
  "(b) prf 1000/s achieved/requested, dropped" "${b_acc[1000]:-NA}, ${b_drop[1000]:-NA}" \
  "(b) prf 5000/s achieved/requested, dropped" "${b_acc[5000]:-NA}, ${b_drop[5000]:-NA}" \
  "(b) prf p99 at 1000/s, 5000/s (ms)" "${b_p99[1000]:-NA}, ${b_p99[5000]:-NA}" \
  "(b) vegeta 1000/s, 5000/s achieved/requested" "${bv_acc[1000]}, ${bv_acc[5000]}" \
  "(b) vegeta p99 at 1000/s, 5000/s (ms)" "${bv_p99[1000]}, ${bv_p99[5000]}" \
  "(b) highest rate prf sustains (/s)" "$sustained" \
  "(c) /sleep at ${R}/s: prf/wrk p50, p99" "$c_p50, $c_p99" \
  "(c) /sleep at ${R}/s: vegeta/wrk p50, p99" "$cv_p50, $cv_p99" \
  "(d) CPU us/request prf, vegeta, prf/vegeta" "$d_prf, $d_veg, $d_ratio" \
  "(e) memory per idle VU" "$e_line"
if [ -s "$raw/anomalies.txt" ]; then
  echo
  echo "== anomalies"
  sed 's/^/  /' "$raw/anomalies.txt"
fi
