#!/usr/bin/env bash
# Runs scenarios/cpns-2024-deadline-eve.yaml against the twin, compressed to
# DURATION (default 90s; the file's own length is 10 minutes), and prints
# the September 2024 signatures it must reproduce:
#   - the post office counter (a pass-through partner) fails while the core
#     is out; the reseller (its own stock) keeps selling until its stock
#     runs out ("stok habis"; --duration scales stocks with the timeline, so
#     a compressed replay runs dry at the same moment as the full one);
#   - payments captured but never credited appear once callbacks are lost;
#   - the waiting room caps admissions at its rate while demand is higher;
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
for step in ("post-office.balance", "reseller.sell"):
    f, n = share(step, lo, hi)
    print(f"during the core outage: {step:<22} {f:5d} of {n:5d} failed")
for step in ("post-office.balance", "reseller.sell"):
    f, n = share(step, 0, int(o["start_s"]))
    print(f"before it:              {step:<22} {f:5d} of {n:5d} failed")
# "stok habis": reseller-a holds its own stock and no refill, so its sales
# fail only once that stock is gone (409 stock_exhausted, not retried).
sell = {}
for r in rows:
    if r["step"] == "reseller.sell":
        sell[int(r["second"])] = (int(r["requests"]), int(r["err_http_4xx"]))
dry = min((t for t, (_, e) in sell.items() if e > 0), default=None)
phases = s["timeline"]["phases"]
def phase_at(t):
    return next((p["name"] for p in phases if p["start_s"] <= t < p["end_s"]), "drain")
if dry is None:
    print("reseller-a never ran out of stock")
else:
    before = sum(n for t, (n, _) in sell.items() if t < dry)
    failed_before = sum(e for t, (_, e) in sell.items() if t < dry)
    after = sum(n for t, (n, _) in sell.items() if t >= dry)
    failed_after = sum(e for t, (_, e) in sell.items() if t >= dry)
    print(f"reseller-a ran out of stock at {dry} s ({phase_at(dry)}): reseller.sell "
          f"{failed_before} of {before} failed before, {failed_after} of {after} after")

# The waiting room: applicants admitted per second (each admitted applicant
# logs in next) against new applicants arriving, per phase in its window.
w = faults["waiting-room-rushed-in"]
jrows = list(csv.DictReader(open(f"{run}/journeys.csv")))
cap = 12.0
print(f"waiting room (admits {cap:g}/s) from {w['applied_s']:.0f} s to {w['removed_s']:.0f} s:")
# Applicants see their admission at their next poll (every 2 s), so only
# averages over several seconds read the admission rate.
total_arrived = total_admitted = total_secs = 0
for p in phases:
    lo, hi = max(p["start_s"], w["applied_s"]), min(p["end_s"], w["removed_s"])
    if hi - lo < 3:
        continue
    secs = [t for t in range(int(lo) + 1, int(hi))]
    arrived = sum(int(r["scheduled"]) for r in jrows
                  if r["journey"] == "new-applicant" and int(r["second"]) in secs)
    admitted = sum(int(r["requests"]) for r in rows
                   if r["step"] == "new-applicant.login" and int(r["second"]) in secs)
    print(f"  {p['name']:<10} {arrived / len(secs):5.1f} arrivals/s, {admitted / len(secs):5.1f} admitted/s")
    total_arrived += arrived
    total_admitted += admitted
    total_secs += len(secs)
print(f"  whole window {total_arrived / total_secs:5.1f} arrivals/s, "
      f"{total_admitted / total_secs:5.1f} admitted/s; "
      f"{total_arrived - total_admitted} more arrived than were admitted")

l = s["ledger"]
c = l["counters"]
print(f"ledger: {c['payments_captured']} payments captured, {c['payments_credited']} credited, "
      f"{c['credits_lost']} callbacks lost -> paid but not credited: {l['paid_not_credited']}")
print(f"verdict: {s['gate']['verdict']}")
PY
