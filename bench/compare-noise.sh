#!/usr/bin/env bash
# Does `surge compare` cry wolf, and does it catch what it should?
#
#   1. A/A: each shipped scenario (the long ones compressed with --duration)
#      runs N times unchanged, one after another on this machine, and every
#      pair is compared. Goal: 0 pairs flagged (exit 1); by construction at
#      most 1% of pairs in expectation (Holm over each table at 1%).
#   2. A/B: smoke.yaml at three times its rate, run R times unchanged and
#      once with each known slowdown of the twin (signing service time x1.5
#      and x3, half the signing workers, 20% errors at the post office
#      counter); each slowed run is compared with each unchanged one.
#      Prints how many of the R comparisons caught it.
#
#   bash bench/compare-noise.sh [N] [R]   (default 10, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
R=${2:-3}
cargo build --release --locked -q
SURGE=target/release/surge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"

run() { # scenario out extra-args...
  local file=$1 out=$2
  shift 2
  # A run's own verdict does not matter here (cpns fails on purpose).
  "$SURGE" run "$file" --out "$out" -q "$@" > "$out.log" 2>&1 || true
  [ -f "$out/summary.json" ] || { echo "run failed: $out"; cat "$out.log"; exit 1; }
}

# compare BASE NEW -> prints the exit code; keeps the table beside NEW
compare() {
  set +e
  "$SURGE" compare "$1" "$2" > "$2.vs.$(basename "$1").md" 2>&1
  local code=$?
  set -e
  echo "$code"
}

aa() { # label scenario extra-args...
  local label=$1 file=$2
  shift 2
  local dir="$work/aa-$label" flagged=0 errors=0 pairs=0 rows=""
  mkdir -p "$dir"
  for i in $(seq "$N"); do run "$file" "$dir/run-$i" "$@"; done
  for i in $(seq "$N"); do
    for j in $(seq $((i + 1)) "$N"); do
      pairs=$((pairs + 1))
      case $(compare "$dir/run-$i" "$dir/run-$j") in
        0) ;;
        1) flagged=$((flagged + 1))
           rows+=$(grep -h '\*\*worse\*\*' "$dir/run-$j.vs.run-$i.md" | sed "s/^/    run-$i vs run-$j: /" || true)$'\n' ;;
        *) errors=$((errors + 1)) ;;
      esac
    done
  done
  local judged
  judged=$(grep -ho '^[0-9]* rows judged' "$dir"/run-2.vs.run-1.md | cut -d' ' -f1 || true)
  local verdict=PASS
  [ "$flagged" -eq 0 ] && [ "$errors" -eq 0 ] || verdict=MISS
  printf '%-44s %2d of %2d pairs flagged (%s rows judged per pair; goal 0)  %s\n' \
    "A/A $label (${*:-as shipped}):" "$flagged" "$pairs" "$judged" "$verdict"
  [ -z "$rows" ] || printf '%s' "$rows"
  [ "$errors" -eq 0 ] || echo "    $errors comparisons could not be made"
}

echo "== A/A: unchanged runs, every pair compared (N=$N)"
aa smoke scenarios/smoke.yaml
aa capacity-gate scenarios/capacity-gate.yaml --duration 20s
aa cpns-2024-deadline-eve scenarios/cpns-2024-deadline-eve.yaml --duration 60s

echo "== A/B: smoke.yaml at 3x its rate, each slowdown against $R unchanged runs"
smoke="$work/smoke.yaml"
cp scenarios/smoke.yaml "$smoke"
variant() { # name, a line under `twin:` or a fault appended
  local file="$work/$1.yaml"
  case $1 in
    errors-20pct-post-office)
      cp "$smoke" "$file"
      printf '\nfaults:\n  - { name: pos-errors, at: 0s, for: 20s, on: twin/partner/pos, fault: { error_rate: { rate: 20%% } } }\n' >> "$file" ;;
    *) sed "s|^  twin:\$|  twin:\n    core: { signing: $2 }|" "$smoke" > "$file" ;;
  esac
  echo "$file"
}
ab="$work/ab"
mkdir -p "$ab"
for i in $(seq "$R"); do run "$smoke" "$ab/same-$i" --scale 3; done
pairs=0 flagged=0
for i in $(seq "$R"); do
  for j in $(seq $((i + 1)) "$R"); do
    pairs=$((pairs + 1))
    [ "$(compare "$ab/same-$i" "$ab/same-$j")" = 0 ] || flagged=$((flagged + 1))
  done
done
printf '%-44s %2d of %2d pairs flagged (goal 0)  %s\n' "A/A smoke at 3x:" "$flagged" "$pairs" \
  "$([ "$flagged" -eq 0 ] && echo PASS || echo MISS)"
for spec in \
  "signing-x1.5|{ service_time: { median: 60ms, p99: 600ms } }" \
  "signing-x3|{ service_time: { median: 120ms, p99: 1200ms } }" \
  "half-signing-workers|{ workers: 4 }" \
  "errors-20pct-post-office|"; do
  name=${spec%%|*}
  file=$(variant "$name" "${spec#*|}")
  run "$file" "$ab/$name" --scale 3
  caught=0
  for i in $(seq "$R"); do
    [ "$(compare "$ab/same-$i" "$ab/$name")" = 1 ] && caught=$((caught + 1))
  done
  why=$(grep -h '\*\*worse\*\*' "$ab/$name.vs.same-1.md" || true)
  why=$(printf '%s' "$why" | awk -F'|' '{gsub(/ +$/, "", $3); printf "%s%s %s", sep, $2, $3; sep=";"}' | sed 's/  */ /g')
  printf '%-44s caught in %d of %d comparisons%s\n' "A/B $name:" "$caught" "$R" "${why:+ (worse:$why)}"
done
