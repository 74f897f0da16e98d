#!/usr/bin/env bash
# How long `surge report` takes on a one-hour run (3,600 one-second
# intervals, the 15 steps of scenarios/smoke.yaml): the target is under
# 2 seconds. The hour is made from a short real run of smoke.yaml by
# repeating its seconds; the reference, measured in the same run, is
# reading the same folder without writing reports (`surge compare RUN RUN`
# loads it twice and compares every step).
#
#   bash bench/report.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
cargo build --release --locked -q
SURGE=$PWD/target/release/surge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$SURGE" run -q --duration 10s --out "$work/short" scenarios/smoke.yaml > /dev/null
python3 bench/tools/stretch_run.py "$work/short" "$work/hour" 3600

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_of() { # command... -> milliseconds
  local t0 t1
  t0=$(date +%s%N); "$@" > /dev/null 2>&1 || true; t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
report=(); load=()
for _ in $(seq "$ROUNDS"); do
  report+=("$(time_of "$SURGE" report "$work/hour" --out "$work/out")")
  load+=("$(time_of "$SURGE" compare "$work/hour" "$work/hour")")
done
r=$(printf '%s\n' "${report[@]}" | median)
l=$(printf '%s\n' "${load[@]}" | median)
steps=$(grep -c '^step:' <(cut -d= -f2 "$work/hour/latency.hlog" | cut -d, -f1 | sort -u) || true)
echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
echo "run: 3600 intervals, $(wc -l < "$work/hour/latency.hlog") hlog lines, $steps steps"
echo "surge report (all three reports): median ${r} ms of $ROUNDS rounds (target < 2000 ms)"
echo "reference, surge compare RUN RUN (reads the folder twice): median ${l} ms"
printf 'report.html: %s bytes\n' "$(wc -c < "$work/out/report.html")"
/usr/bin/env time -f 'surge report peak RSS: %M KB' "$SURGE" report "$work/hour" --out "$work/out" > /dev/null 2> "$work/rss" || true
tail -1 "$work/rss"
