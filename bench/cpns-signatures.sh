#!/usr/bin/env bash
# Runs scenarios/cpns-2024-deadline-eve.yaml against the twin, compressed to
# DURATION (default 90s; the file's own length is 10 minutes), and prints
# the September 2024 signatures it must reproduce:
#   - the post office counter (a pass-through partner) fails while the core
#     is out; the reseller (its own stock) keeps selling;
#   - payments captured but never credited appear once callbacks are lost;
#   - every fault was carried out on time.
#
#   bash bench/cpns-signatures.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-90s}
cargo build --release --locked -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/surge run -q --duration "$DURATION" --out "$work/run" \
  scenarios/cpns-2024-deadline-eve.yaml > "$work/log" 2>&1 || true
python3 - "$work/run" <<'PY'
import csv, json, sys
run = sys.argv[1]
s = json.load(open(f"{run}/summary.json"))
faults = {f["name"]: f for f in s["timeline"]["faults"]}
print("faults (planned start -> applied, planned end -> removed, seconds):")
for f in faults.values():
    print(f"  {f['name']:<24} {f['start_s']:7.2f} -> {f['applied_s']:7.3f}   {f['end_s']:7.2f} -> {f['removed_s']:7.3f}")
rows = list(csv.DictReader(open(f"{run}/steps.csv")))
def share(step, lo, hi):
    n = fails = 0
    for r in rows:
        if r["step"] == step and lo <= int(r["second"]) < hi:
            n += int(r["requests"])
            fails += int(r["requests"]) - int(r["ok"])
    return fails, n
o = faults["core-outage"]
lo, hi = int(o["applied_s"]) + 1, int(o["removed_s"])
for step in ("post-office.balance", "post-office.stamp", "reseller.sell"):
    f, n = share(step, lo, hi)
    print(f"during the core outage: {step:<22} {f:5d} of {n:5d} failed")
for step in ("post-office.balance", "reseller.sell"):
    f, n = share(step, 0, int(o["start_s"]))
    print(f"before it:              {step:<22} {f:5d} of {n:5d} failed")
l = s["ledger"]
c = l["counters"]
print(f"ledger: {c['payments_captured']} payments captured, {c['payments_credited']} credited, "
      f"{c['credits_lost']} callbacks lost -> paid but not credited: {l['paid_not_credited']}")
print(f"verdict: {s['gate']['verdict']}")
PY
