#!/usr/bin/env bash
# What watching a run live costs the generator: the same run at 2,000
# arrivals/s against a twin in another process, plain and with every live
# view on at once (--dashboard with a browser's event stream attached and
# /metrics scraped each second, --prometheus-rw to a real Prometheus),
# rounds interleaved. CPU per request is the surge process's own user and
# system time (the dashboard's and remote write's threads included) over
# the requests it sent. Goal: live views cost under 5% more per request.
#
#   bash bench/live.sh [ROUNDS] [SECONDS]   (default 3 rounds of 10 s)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECONDS_RUN=${2:-10}
cargo build --release --locked -q
command -v prometheus >/dev/null || { echo "needs prometheus (bash tests/setup.sh installs it)"; exit 1; }
SURGE=$PWD/target/release/surge
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

"$SURGE" twin --listen 127.0.0.1:0 > "$work/twin.out" 2>/dev/null &
pids+=($!)
until grep -q http:// "$work/twin.out" 2>/dev/null; do sleep 0.1; done
twin=$(grep -o 'http://[0-9.:]*' "$work/twin.out" | head -1)
echo "global: { scrape_interval: 1m }" > "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:19099 --web.enable-remote-write-receiver > /dev/null 2>&1 &
pids+=($!)
until curl -sf http://127.0.0.1:19099/-/ready > /dev/null; do sleep 0.2; done

cat > "$work/live.yaml" <<EOF
version: 1
name: live-cost
target: { base_url: "$twin" }
load:
  arrivals: uniform
  max_in_flight: 400
  drain: 1s
  phases: [{ name: steady, duration: ${SECONDS_RUN}s, rate: 2000/s }]
journeys:
  home: { channel: storefront, steps: [{ name: home, path: /storefront }] }
EOF

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
python3 - "$SURGE" "$work" "$ROUNDS" <<'EOF'
import json, os, subprocess, sys, threading, time, urllib.request
surge, work, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])

def watch(port, stop):
    """A browser's event stream and a scrape of /metrics each second."""
    def events():
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/events", timeout=30) as r:
                    while not stop.is_set() and r.readline():
                        pass
            except OSError:
                time.sleep(0.1)
    def scrape():
        while not stop.is_set():
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
            except OSError:
                pass
            time.sleep(1)
    for f in (events, scrape):
        threading.Thread(target=f, daemon=True).start()

def run(live, k):
    out = f"{work}/{'live' if live else 'plain'}-{k}"
    args = [surge, "run", f"{work}/live.yaml", "--out", out, "-q"]
    stop = threading.Event()
    if live:
        port = 19100 + k
        args += ["--dashboard", f"127.0.0.1:{port}", "--prometheus-rw", "http://127.0.0.1:19099/api/v1/write"]
        watch(port, stop)
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    stop.set()
    s = json.load(open(f"{out}/summary.json"))
    requests = sum(st["requests"] for st in s["steps"])
    cpu = usage.ru_utime + usage.ru_stime
    return cpu / requests * 1e6, requests, s["load"]["lag"]["p99_us"]

plain, live = [], []
for k in range(rounds):
    for on, into in ((False, plain), (True, live)):
        us, n, lag = run(on, k)
        into.append(us)
        print(f"round {k + 1} {'live ' if on else 'plain'}: {us:.1f} us CPU per request, {n} requests, start lag p99 {lag} us")
ratio = (sum(live) / len(live)) / (sum(plain) / len(plain))
print(f"CPU per request with the live views: {ratio:.3f}x plain (mean of {rounds} rounds each)   goal < 1.05x   {'PASS' if ratio < 1.05 else 'MISS'}")
EOF
