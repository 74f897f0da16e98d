#!/usr/bin/env bash
# The capacity gate, demonstrated on the twin with scenarios/capacity-gate.yaml:
#   1. a baseline capacity search;
#   2. the same twin, searched again ROUNDS times against the baseline:
#      every one must pass (the gate does not flake);
#   3. the twin with half its signing workers, against the baseline: it
#      must fail (a capacity regression is caught).
# Prints each capacity and the gate's verdict.
#
#   bash bench/capacity-gate.sh [TRIAL_DURATION] [ROUNDS]   (default 20s, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
TRIAL=${1:-20s}
ROUNDS=${2:-3}
cargo build --release --locked -q
SURGE=target/release/surge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

base=scenarios/capacity-gate.yaml
workers=$(awk '/workers:/ {print $2; exit}' "$base")
half="$work/capacity-gate-half.yaml"
sed "s/workers: $workers/workers: $((workers / 2))/" "$base" > "$half"
cp "$base" "$work/capacity-gate.yaml"

capacity() { # label scenario out [baseline]
  local extra=()
  [ -n "${4:-}" ] && extra=(--baseline "$4")
  set +e
  "$SURGE" capacity "$2" --trial-duration "$TRIAL" --out "$3" "${extra[@]}" > "$3.log" 2>&1
  local code=$?
  set -e
  printf '%-34s %s   exit %s\n' "$1" "$(grep '^  capacity:' "$3.log" | sed 's/^ *capacity: //')" "$code"
  return 0
}

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
echo "scenario: $base (signing workers: $workers), trials of $TRIAL"
capacity "baseline" "$work/capacity-gate.yaml" "$work/base"
for i in $(seq "$ROUNDS"); do
  capacity "unchanged twin, round $i (must pass)" "$work/capacity-gate.yaml" "$work/same-$i" "$work/base/capacity.json"
done
capacity "half the signing workers (must fail)" "$half" "$work/half" "$work/base/capacity.json"
