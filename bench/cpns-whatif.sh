#!/usr/bin/env bash
# What would have saved the deadline: `surge whatif` on the shipped CPNS
# scenario (the baseline and its five variants), compressed to DURATION,
# run INVOCATIONS times (default twice) to show the answer is stable.
#   Goals, each printed with PASS/MISS:
#   1. at least one variant measurably beats the baseline (its 95%
#      interval of applicants done before the deadline lies above zero);
#   2. stable: between two invocations (same seed, same arrivals), each
#      variant's difference falls within the other invocation's interval;
#   3. time: about (variants + 1) x 2.5 minutes at --duration 120s (each
#      run is the timeline, its drain and its reports).
#   Prints README's table (from the first invocation).
#
#   bash bench/cpns-whatif.sh [DURATION] [INVOCATIONS]   (default 120s 2)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-120s}
INVOCATIONS=${2:-2}
cargo build --release --locked -q
SURGE=$PWD/target/release/surge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
for i in $(seq 1 "$INVOCATIONS"); do
    start=$(date +%s)
    code=0
    "$SURGE" whatif scenarios/cpns-2024-deadline-eve.yaml --duration "$DURATION" \
        --out "$work/whatif-$i" --no-history >"$work/out-$i.txt" 2>"$work/err-$i.txt" || code=$?
    echo "invocation $i: exit $code, $(( $(date +%s) - start )) s"
    echo "$(( $(date +%s) - start ))" >"$work/seconds-$i"
done

python3 - "$work" "$INVOCATIONS" "$DURATION" <<'EOF'
import json, sys
work, n, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = [json.load(open(f"{work}/whatif-{i}/whatif.json")) for i in range(1, n + 1)]
secs = [int(open(f"{work}/seconds-{i}").read()) for i in range(1, n + 1)]

def signed(x):
    x = round(x)
    return f"+{x}" if x > 0 else ("0" if x == 0 else f"−{-x}")

first = runs[0]
base = first["runs"][0]["total"]
print(f"\nbaseline: {base['completed_in_time']} of {base['arrivals']} applicants done before the deadline")
print("\n| variant | done before the deadline | vs baseline | 95% interval | paid, not credited | stock-outs | valid |")
print("|---|---:|---:|---:|---:|---:|---|")
for r in first["runs"]:
    t = r["total"]
    c = r.get("versus_baseline")
    change = f"{signed(c['count'])} ({c['relative'] * 100:+.1f}%)" if c else "–"
    interval = f"{signed(c['count_low'])} to {signed(c['count_high'])}" if c else "–"
    outs = ", ".join(s["partner"] for s in r["stock_outs"]) or "none"
    print(f"| {r['name']} | {t['completed_in_time']} of {t['arrivals']} | {change} | {interval} | "
          f"{r['paid_not_credited']} | {outs} | {'yes' if r['valid'] else 'no'} |")

ok = True
better = [r["name"] for r in first["runs"][1:]
          if r.get("versus_baseline") and r["versus_baseline"]["count_low"] > 0]
print(f"\n1. variants measurably better than the baseline: {', '.join(better) or 'none'}: "
      f"{'PASS' if better else 'MISS'}")
ok &= bool(better)

if n >= 2:
    a, b = runs[0], runs[1]
    stable = True
    for ra, rb in zip(a["runs"][1:], b["runs"][1:]):
        ca, cb = ra.get("versus_baseline"), rb.get("versus_baseline")
        if not (ca and cb):
            print(f"   {ra['name']}: not compared in both invocations")
            stable = False
            continue
        inside = ca["count_low"] <= cb["count"] <= ca["count_high"] and cb["count_low"] <= ca["count"] <= cb["count_high"]
        stable &= inside
        print(f"   {ra['name']}: {signed(ca['count'])} [{signed(ca['count_low'])}, {signed(ca['count_high'])}] then "
              f"{signed(cb['count'])} [{signed(cb['count_low'])}, {signed(cb['count_high'])}]: "
              f"{'within' if inside else 'OUTSIDE'}")
    print(f"2. stable across two invocations (each difference within the other's interval): "
          f"{'PASS' if stable else 'MISS'}")
    ok &= stable

count = len(first["runs"])
goal = count * 150 if duration == "120s" else None
per = secs[0] / count
if goal:
    print(f"3. time: {secs[0]} s for {count} runs ({per:.0f} s a run); goal about {goal} s "
          f"((variants + 1) x 2.5 min): {'PASS' if secs[0] <= goal * 1.2 else 'MISS'}")
else:
    print(f"3. time: {secs[0]} s for {count} runs ({per:.0f} s a run); goal stated for 120s only")
print("ALL PASS" if ok else "SOME MISS")
EOF
