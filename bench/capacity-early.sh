#!/usr/bin/env bash
# Capacity trials that stop once decided failed: the capacity search on
# scenarios/capacity-gate.yaml with trials run to their end (as before
# stop_early, `--no-stop-early`) and with trials stopping early (the
# default), ROUNDS pairs in turn on this machine. Prints each search's
# bracket, trials and wall time, then PASS when the early searches find
# the same bracket in at most 55% of the wall time.
#
# A trial at a scale within a few percent of the capacity can pass in one
# search and fail in the next (the twin's service times are random): two
# brackets one grid step apart are that noise, said so, and count as the
# same bracket only then.
#
#   bash bench/capacity-early.sh [TRIAL_DURATION] [ROUNDS]   (default 20s, 1)
set -euo pipefail
cd "$(dirname "$0")/.."
TRIAL=${1:-20s}
ROUNDS=${2:-1}
cargo build --release --locked -q
SURGE=target/release/surge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

search() { # label out [flags]  -> prints "seconds lower upper trials"
  local label=$1 out=$2
  shift 2
  local t0 t1
  t0=$(date +%s.%N)
  "$SURGE" capacity scenarios/capacity-gate.yaml --trial-duration "$TRIAL" --out "$out" --no-history "$@" > "$out.log" 2>&1 || true
  t1=$(date +%s.%N)
  python3 - "$out/capacity.json" "$t0" "$t1" "$label" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
tried = " ".join(f"{t['scale']:g}{'+' if t['verdict'] == 'pass' else '-'}" for t in r["trials"])
print(f"{sys.argv[4]:<22} {wall:6.1f}s  bracket [{r['scale']:g}, {r.get('upper_scale')})  trials: {tried}")
PY
}

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
echo "scenario: scenarios/capacity-gate.yaml, trials of $TRIAL, $ROUNDS round(s)"
for i in $(seq "$ROUNDS"); do
  search "to the end, round $i" "$work/whole-$i" --no-stop-early | tee -a "$work/lines"
  search "stop early, round $i" "$work/early-$i" | tee -a "$work/lines"
done
python3 - "$work" "$ROUNDS" <<'PY'
import json, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def load(kind, i):
    return json.load(open(f"{work}/{kind}-{i}/capacity.json"))
wall = {"whole": 0.0, "early": 0.0}
for line in open(f"{work}/lines"):
    kind = "whole" if line.startswith("to the end") else "early"
    wall[kind] += float(line[22:].split("s")[0])
same, noise = True, False
for i in range(1, rounds + 1):
    a, b = load("whole", i), load("early", i)
    if (a["scale"], a.get("upper_scale")) == (b["scale"], b.get("upper_scale")):
        continue
    # One grid step apart: the boundary trial went the other way.
    if b["scale"] == a.get("upper_scale") or a["scale"] == b.get("upper_scale"):
        noise = True
        continue
    same = False
ratio = wall["early"] / wall["whole"]
print(f"wall time: to the end {wall['whole']:.1f}s, stopping early {wall['early']:.1f}s: {ratio:.2f}x (target <= 0.55)")
print("brackets: " + ("the same" if same and not noise else "one grid step apart (a boundary trial flipped)" if same else "DIFFERENT"))
print("PASS" if same and ratio <= 0.55 else "MISS")
PY
