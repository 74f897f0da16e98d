#!/usr/bin/env bash
# `surge validate`'s memory estimate against what `surge run` really peaks
# at, for each shipped scenario whose target surge starts itself (the
# built-in twin, in the same process). The estimate guards a run: one
# larger than MemAvailable is refused before any load, so it must not be
# below the peak (a run the machine cannot carry would start) nor far above
# it (a run it can carry would be refused).
#   Goal, per scenario: peak RSS <= estimate <= 2 x peak RSS.
# Peak RSS is GNU time's maximum resident set size of the whole `surge run`
# process (generator, recorder and in-process twin), full length, as
# shipped. Reference in the same run: the RSS of `surge --version` (the
# binary alone).
#
#   bash bench/memory.sh [SCENARIO...]   (default: the three shipped
#                                         scenarios on the twin)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
SURGE=$PWD/target/release/surge
[ -x /usr/bin/time ] || { echo "needs GNU time (Debian package time)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $# -eq 0 ]; then
  set -- scenarios/smoke.yaml scenarios/capacity-gate.yaml scenarios/cpns-2024-deadline-eve.yaml
fi

rss_mb() { # the max RSS GNU time wrote last in $1, in MB
  awk -F: '/Maximum resident set size/ {v=$2} END {printf "%.1f", v/1024}' "$1"
}

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
/usr/bin/time -v "$SURGE" --version >/dev/null 2>"$work/version.time"
echo "reference: surge --version peaks at $(rss_mb "$work/version.time") MB"
printf '%-34s %10s %10s %7s  %s\n' scenario "estimate" "peak RSS" ratio verdict
misses=0
for scenario in "$@"; do
  name=$(basename "$scenario" .yaml)
  estimate=$("$SURGE" validate "$scenario" | sed -n 's/.*peak memory about \([0-9]*\) MB.*/\1/p')
  parts=$("$SURGE" validate "$scenario" | sed -n 's/.*peak memory about [0-9]* MB (\(.*\))/\1/p')
  status=0
  /usr/bin/time -v "$SURGE" run "$scenario" --out "$work/$name" --no-history -q \
    >/dev/null 2>"$work/$name.time" || status=$?
  peak=$(rss_mb "$work/$name.time")
  verdict=$(python3 -c "e, p = $estimate, $peak; print('PASS' if p <= e <= 2 * p else 'MISS')")
  [ "$verdict" = PASS ] || misses=$((misses + 1))
  ratio=$(python3 -c "print(f'{$estimate / $peak:.2f}x')")
  printf '%-34s %7s MB %7s MB %7s  %s (run exit %s; %s)\n' "$name" "$estimate" "$peak" "$ratio" "$verdict" "$status" "$parts"
done
exit $((misses > 0))
