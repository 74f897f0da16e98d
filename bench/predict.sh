#!/usr/bin/env bash
# Capacity before load, checked against measurement: for each twin
# configuration below, `surge predict` (no load) beside `surge capacity`
# (trials on the twin), with the same trial length. PASS when the predicted
# capacity is within 15% of the measured one (the middle of the search's
# final bracket) and the predicted bottleneck is the resource the failing
# trial just above capacity saturated: the generator's users when arrivals
# started late, else the resource of the step whose time per journey grew
# most from the first trial (scale 1) to that one.
#
#   bash bench/predict.sh [TRIAL_DURATION]   (default 20s)
set -euo pipefail
cd "$(dirname "$0")/.."
TRIAL=${1:-20s}
cargo build --release --locked -q
SURGE=$PWD/target/release/surge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

gate=scenarios/capacity-gate.yaml
# name | scenario | --set values, separated by ';'
configs=(
  "capacity-gate as shipped (8 workers, 20/80 ms)|$gate|"
  "4 signing workers|$gate|target.twin.core.signing.workers=4"
  "16 slow workers (50/200 ms)|$gate|target.twin.core.signing.workers=16;target.twin.core.signing.service_time={median: 50ms, p99: 200ms}"
  "2 fast workers (5/20 ms)|$gate|target.twin.core.signing.workers=2;target.twin.core.signing.service_time={median: 5ms, p99: 20ms}"
  "counter-heavy mix (1:3)|$gate|mix={stamp: 1, counter: 3}"
  "OTP 50/200 ms, 12 users|$gate|target.twin.accounts.otp_delay={median: 50ms, p99: 200ms};load.max_in_flight=12"
  "waiting room admits 150/s|bench/predict/waiting-room.yaml|"
)

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
echo "trials of $TRIAL; capacity as scale (x the scenario's rates)"
printf '%-36s %9s %9s %7s  %-13s %-13s %s\n' configuration predicted measured error "bottleneck" "saturated" verdict
misses=0
i=0
for c in "${configs[@]}"; do
  i=$((i + 1))
  IFS='|' read -r name scenario sets <<< "$c"
  args=()
  if [ -n "$sets" ]; then
    IFS=';' read -r -a kvs <<< "$sets"
    for kv in "${kvs[@]}"; do args+=(--set "$kv"); done
  fi
  dir="$work/$i"
  mkdir -p "$dir"
  start=$(date +%s%N)
  "$SURGE" predict "$scenario" --duration "$TRIAL" "${args[@]}" --out "$dir/predict.json" > /dev/null
  predict_ns=$(( $(date +%s%N) - start ))
  set +e
  "$SURGE" capacity "$scenario" --trial-duration "$TRIAL" --resolution 4% --max-trials 10 \
    --no-history "${args[@]}" --out "$dir/capacity" > "$dir/capacity.log" 2>&1
  set -e
  line=$(python3 - "$dir" "$name" "$predict_ns" <<'PY'
import json, sys, os
d, name, predict_s = sys.argv[1], sys.argv[2], int(sys.argv[3]) / 1e9
p = json.load(open(os.path.join(d, "predict.json")))
try:
    c = json.load(open(os.path.join(d, "capacity", "capacity.json")))
except OSError:
    print(f"{name:<36} capacity search failed: see its log")
    sys.exit(0)
pred = (p.get("capacity") or {}).get("scale")
lo, hi = c.get("scale"), c.get("upper_scale")
measured = (lo + hi) / 2 if lo and hi else (lo or hi)
resource = {s["step"]: (s["resource"], s.get("poll_every_ms")) for s in p["steps"]}

def per_journey(summary):
    arrivals = {j["name"]: max(j["started"], 1) for j in summary["journeys"]}
    out = {}
    for s in summary["steps"]:
        n = s["requests"] / arrivals[s["journey"]]
        every = resource.get(s["name"], (None, None))[1] or 0.0
        out[s["name"]] = n * s["latency"]["mean_us"] / 1e3 + max(n - 1, 0) * every
    return out

trials = sorted(c["trials"], key=lambda t: t["scale"])
first = next((t for t in trials if t["scale"] == 1.0), trials[0])
failing = [t for t in trials if t["verdict"] == "fail" and t["scale"] >= (lo or 0)]
saturated = "-"
if failing:
    f = json.load(open(os.path.join(failing[0]["dir"], "summary.json")))
    b = json.load(open(os.path.join(first["dir"], "summary.json")))
    load = f["load"]
    if load["late"] + load["dropped"] > 0 or load["lag"]["p99_us"] > 50_000:
        saturated = "users"
    else:
        before, after = per_journey(b), per_journey(f)
        step = max(after, key=lambda s: after[s] - before.get(s, 0.0))
        saturated = resource.get(step, ("?", None))[0]
bottleneck = (p.get("capacity") or {}).get("bottleneck", "-")
if pred is None or measured is None:
    print(f"{name:<36} {str(pred):>9} {str(measured):>9} {'-':>7}  {bottleneck:<13} {saturated:<13} MISS")
    sys.exit(0)
err = (pred - measured) / measured
ok = abs(err) <= 0.15 and bottleneck == saturated
print(f"{name:<36} {pred:>9.3f} {measured:>9.3f} {err*100:>+6.1f}%  {bottleneck:<13} {saturated:<13} "
      f"{'PASS' if ok else 'MISS'}  (bracket [{lo}, {hi}), predicted in {predict_s:.2f} s)")
PY
)
  echo "$line"
  case "$line" in *MISS*|*failed*) misses=$((misses + 1)) ;; esac
done
echo
if [ "$misses" -eq 0 ]; then
  echo "PASS: every configuration within 15% with its bottleneck named right"
else
  echo "MISS: $misses of ${#configs[@]} configurations"
fi
