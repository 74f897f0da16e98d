#!/usr/bin/env bash
# The runner's speed and accuracy, measured in one run against references
# measured in the same run. nginx serves a small static file pinned to
# CPU 1; every load generator is pinned to CPU 0 with one worker thread.
# Prints:
#   0. what the machine itself charges, measured without a network or a
#      runtime (examples/machine_probe.rs): the CPU of a wake from sleep,
#      how much slower fixed work runs right after a wake than back to
#      back, and the machine's stalls (windows where that work runs 5x
#      slower or more), which the figures below contain too;
#   1. maximum requests/s on one core: wrk, plain goose (metrics on and
#      off), and `surge run` offered 120% of wrk's figure; each the median
#      of interleaved rounds, every round printed (this machine is noisy);
#   2. CPU microseconds per request at 2,000 arrivals/s: surge, and plain
#      goose throttled to 2,000 requests/s, with the voluntary context
#      switches (thread wake-ups) each costs per request;
#   3. achieved against scheduled rate at 2,000/s, for both, and surge's
#      start lag there; then surge's start lag at 5,000, 10,000 and 20,000
#      arrivals/s, and the highest of those rates where its p99 holds 1 ms;
#   4. peak memory (max RSS) of surge at 20,000 arrivals/s for 50 s and
#      500 s (1 and 10 million requests where the machine sustains the
#      rate): goals, the longer within 10% of the shorter (flat in run
#      length) and at most 128 MB, each printed with PASS/MISS.
#
# Every goal of the generator's cost is printed with its measured ratio
# and PASS/MISS.
#
#   bash bench/runner.sh [SECONDS] [ROUNDS]   (default 10 s, 5 rounds)
#   ONLY=memory bash bench/runner.sh          (part 4 alone, ~10 minutes)
#   ONLY=throughput / ONLY=cost bash bench/runner.sh   (parts 0-1 / 0, 2-3)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${2:-5}
PORT=18080

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx || ! need taskset || ! [ -x /usr/bin/time ]; then
  echo "installing wrk, nginx, time..." >&2
  apt-get update -qq && apt-get install -y -qq wrk nginx-light time util-linux >/dev/null
fi
[ "$(nproc)" -ge 2 ] || { echo "needs 2 cores" >&2; exit 1; }

cargo build --release --locked -q
cargo build --release --locked -q --example plain_goose --example machine_probe
SURGE=target/release/surge
GOOSE=target/release/examples/plain_goose
work=$(mktemp -d)
cleanup() { kill "${nginx_pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
chmod 755 "$work"

head -c 520 /dev/zero | tr '\0' 'x' > "$work/index.html"; chmod 644 "$work/index.html"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT; root $work; location / { } }
}
CONF
taskset -c 1 nginx -c "$work/nginx.conf" -p "$work" & nginx_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/index.html" >/dev/null 2>&1 && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/index.html"

py() { python3 -c "$1"; }
# Runs a command on CPU 0 under GNU time; leaves "user sys maxrss_kb
# voluntary_switches" in $work/time.
timed() { taskset -c 0 /usr/bin/time -f "%U %S %M %w" -o "$work/time" "$@"; }
# GNU time puts "Command exited with non-zero status N" above its figures
# when the command failed (surge's 3: it fell short of the schedule).
cpu_s() { tail -1 "$work/time" | awk '{print $1 + $2}'; }
rss_mb() { tail -1 "$work/time" | awk '{printf "%.1f", $3 / 1024}'; }
switches() { tail -1 "$work/time" | awk '{print $4}'; }
verdict() { py "print('PASS' if $1 else 'MISS')"; }

scenario() { # rate seconds users lateness -> file
  cat > "$work/s.yaml" <<YAML
version: 1
name: bench
target: { base_url: "http://127.0.0.1:$PORT" }
load: { arrivals: uniform, max_in_flight: $3, max_lateness: $4, drain: 5s, phases: [{ name: p, duration: $2, rate: $1/s }] }
journeys:
  get: { channel: storefront, patience: { attempts: 1 }, steps: [{ name: get, path: /index.html }] }
YAML
  echo "$work/s.yaml"
}
surge_run() { # rate seconds users lateness
  local f; f=$(scenario "$@")
  rm -rf "$work/run"
  local rc=0
  timed "$SURGE" run "$f" --out "$work/run" --threads 1 -q > /dev/null || rc=$?
  # 3 says the generator fell short of the schedule, which is the point of
  # offering more than it can send; the run folder is complete either way.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
    echo "surge run exited $rc" >&2; exit 1
  fi
}
summary() { py "import json; s=json.load(open('$work/run/summary.json')); print($1)"; }

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
echo "nginx on CPU 1; each generator on CPU 0 with one thread; ${SECS}s per throughput run"
echo
if [ "${ONLY:-}" != memory ]; then
echo "0. the machine itself (CPU 0, no network, no runtime; 10 s of stall probe)"
m=$(SECONDS=10 taskset -c 0 target/release/examples/machine_probe | tail -1)
mp() { py "import json; d=json.loads('$m'); print($1)"; }
printf '   %-34s %6s us CPU\n' "a wake from sleep" "$(mp "d['wake_us']")"
printf '   %-34s %6s us CPU after a wake, %s us back to back (%sx)\n' "a fixed piece of work" \
  "$(mp "d['chunk_after_wake_us']")" "$(mp "d['chunk_in_a_row_us']")" \
  "$(mp "f\"{d['chunk_after_wake_us']/d['chunk_in_a_row_us']:.1f}\"")"
printf '   %-34s %s in %s s, %s ms long on average, every %s s, worst %sx slower\n' \
  "stalls (work >= 5x its median)" "$(mp "d['stalls']")" "$(mp "d['stall_probe_s']")" \
  "$(mp "d['stall_mean_ms']")" "$(mp "d['stall_spacing_s']")" "$(mp "d['stall_worst_x']")"
part() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
if part throughput; then
echo
echo "1. maximum throughput, one core (median of $ROUNDS interleaved rounds)"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wrk_all=(); goose_all=(); goose_nm_all=(); surge_all=(); offers=()
for round in $(seq "$ROUNDS"); do
  wrk_out=$(taskset -c 0 wrk -t1 -c64 -d"${SECS}s" "$URL")
  wrk_all+=("$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$wrk_out")")
  j=$(METRICS=1 USERS=64 SECONDS="$SECS" URL="$URL" timed "$GOOSE" | tail -1)
  goose_rps=$(py "import json; d=json.loads('$j'); print(round(d['requests']/d['seconds']))")
  goose_all+=("$goose_rps")
  j=$(METRICS=0 USERS=64 SECONDS="$SECS" URL="$URL" timed "$GOOSE" | tail -1)
  goose_nm_all+=("$(py "import json; d=json.loads('$j'); print(round(d['requests']/d['seconds']))")")
  # surge is offered 120% of what wrk did in this round: more than any
  # client here can send, so its figure is its own ceiling.
  offer=$(( ${wrk_all[-1]} * 12 / 10 )); offers+=("$offer")
  surge_run "$offer" "${SECS}s" 64 1s
  surge_all+=("$(summary "round(sum(x['requests'] for x in s['steps'])/s['run']['planned_s'])")")
  echo "   round $round: wrk ${wrk_all[-1]}, goose ${goose_all[-1]} (no metrics ${goose_nm_all[-1]}), surge ${surge_all[-1]} (offered $offer)"
done
wrk_rps=$(median "${wrk_all[@]}"); goose_rps=$(median "${goose_all[@]}")
goose_nm_rps=$(median "${goose_nm_all[@]}"); surge_rps=$(median "${surge_all[@]}")
printf '   %-34s %10s req/s\n' "wrk (64 connections)" "$wrk_rps"
printf '   %-34s %10s req/s\n' "plain goose, metrics on (64 users)" "$goose_rps"
printf '   %-34s %10s req/s\n' "plain goose, metrics off" "$goose_nm_rps"
printf '   %-34s %10s req/s   (%s)\n' "surge run (64 users)" "$surge_rps" \
  "$(py "print(f'{$surge_rps/$goose_rps:.2f}x plain goose, {$surge_rps/$wrk_rps:.2f}x wrk')")"
ratio=$(py "print(f'{$surge_rps/$goose_nm_rps:.2f}')")
echo "   goal: throughput at least 1.1x goose with its metrics off: ${ratio}x $(verdict "$ratio >= 1.1")"

fi
if part cost; then
echo
echo "2./3. at 2,000 arrivals/s for 20s"
surge_run 2000 20s 64 10s
s_req=$(summary "sum(x['requests'] for x in s['steps'])")
s_lag50=$(summary "s['load']['lag']['p50_us']"); s_lag99=$(summary "s['load']['lag']['p99_us']")
s_cpu=$(cpu_s); s_sw=$(switches)
s_us=$(py "print(f'{$s_cpu/$s_req*1e6:.1f}')")
printf '   %-34s %6s us CPU/request, %s wake-ups/request; %s requests for 40000 scheduled (%s); start lag p50 %sus p99 %sus\n' \
  "surge run" "$s_us" "$(py "print(f'{$s_sw/$s_req:.2f}')")" "$s_req" \
  "$(py "print(f'{($s_req/40000-1)*100:+.2f}%')")" "$s_lag50" "$s_lag99"
t_json=$(METRICS=1 THROTTLE=2000 USERS=64 SECONDS=20 URL="$URL" timed "$GOOSE" | tail -1)
t_req=$(py "import json; print(json.loads('$t_json')['requests'])")
t_cpu=$(cpu_s); t_sw=$(switches)
t_us=$(py "print(f'{$t_cpu/$t_req*1e6:.1f}')")
printf '   %-34s %6s us CPU/request, %s wake-ups/request; %s requests for 40000 intended (%s)\n' \
  "plain goose, --throttle-requests" "$t_us" "$(py "print(f'{$t_sw/$t_req:.2f}')")" "$t_req" \
  "$(py "print(f'{($t_req/40000-1)*100:+.2f}%')")"
ratio=$(py "print(f'{$s_us/$t_us:.2f}')")
echo "   goal: CPU/request at most goose throttled: ${ratio}x $(verdict "$ratio <= 1.0")"
echo "   of which waking: $(py "print(f'{$s_sw/$s_req:.2f}')") wake-ups x $(mp "d['wake_us']") us (part 0) for surge, $(py "print(f'{$t_sw/$t_req:.2f}')") for goose, whose throttle releases its requests in batches every 10 ms"
# Arrivals due within 600 us of each other leave on one wake (the
# dispatcher's BATCH): at 2,000/s every other one starts up to 500 us late,
# which is what buys the wake-ups above; its latency counts from its
# intended start either way.
echo "   goal: start lag p99 <= 1ms at 2,000/s: p50 ${s_lag50}us, p99 ${s_lag99}us $(verdict "$s_lag99 <= 1000")"
held=none
for rate in 5000 10000 20000; do
  surge_run "$rate" 10s 64 10s
  lag50=$(summary "s['load']['lag']['p50_us']"); lag99=$(summary "s['load']['lag']['p99_us']")
  printf '   %-34s start lag p50 %sus p99 %sus\n' "surge run at $rate/s" "$lag50" "$lag99"
  if py "import sys; sys.exit(0 if $lag99 <= 1000 else 1)"; then held=$rate; fi
  if [ "$rate" = 20000 ]; then lag99_20k=$lag99; fi
done
[ "$held" = none ] && held="none of 5,000-20,000/s" || held="$held/s"
echo "   goal: start lag p99 <= 1ms at 20,000/s: ${lag99_20k}us $(verdict "$lag99_20k <= 1000") (highest rate here where it holds: $held)"
fi
fi

if [ -z "${ONLY:-}" ] || [ "$ONLY" = memory ]; then
echo
echo "4. peak memory (max RSS) against run length (surge at 20,000/s)"
rss=(); reqs=()
for secs in 50 500; do
  surge_run 20000 "${secs}s" 64 10s
  rss+=("$(rss_mb)"); reqs+=("$(summary "sum(x['requests'] for x in s['steps'])")")
  printf '   %-34s %8s MB max RSS\n' "${reqs[-1]} requests (${secs}s)" "${rss[-1]}"
done
py "
short, long = ${rss[0]}, ${rss[1]}
ratio = long / short
print(f'   goal: {${reqs[1]}:,} requests within 10% of {${reqs[0]}:,}: {ratio:.2f}x', 'PASS' if ratio <= 1.10 else 'MISS')
print(f'   goal: at most 128 MB at 20,000/s: {max(short, long)} MB', 'PASS' if max(short, long) <= 128 else 'MISS')
"
fi
