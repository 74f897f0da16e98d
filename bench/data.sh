#!/usr/bin/env bash
# Test data at scale: a 1,000,000-row accounts CSV fed to a journey.
#   1. `surge validate` reads and checks it: time and peak memory;
#   2. `surge run` of one second against the twin: time to the end, less
#      the run's own schedule and drain, is the cost of loading and
#      starting;
# each beside the same scenario with a one-row file (the reference,
# measured in the same run). Goals: validate + start under 2 s, and the
# table's memory (peak RSS over the reference's) under 2x the file's size.
#
#   bash bench/data.sh [ROWS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
cargo build --release --locked -q
SURGE=$PWD/target/release/surge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
python3 - "$work" "$ROWS" <<'EOF'
import sys, random
work, rows = sys.argv[1], int(sys.argv[2])
random.seed(1)
with open(f"{work}/big.csv", "w") as f:
    f.write("phone,otp,partner,name\n")
    for i in range(rows):
        f.write(f"0812{i:08d},{random.randrange(10**6):06d},pos-{i % 40},\"Applicant, {i}\"\n")
with open(f"{work}/one.csv", "w") as f:
    f.write("phone,otp,partner,name\n081200000000,123456,pos-0,\"Applicant, 0\"\n")
for name in ("big", "one"):
    with open(f"{work}/{name}.yaml", "w") as f:
        f.write(f"""version: 1
name: data-{name}
target: {{ twin: {{}} }}
load:
  drain: 1s
  phases: [{{ name: p, duration: 1s, rate: 10/s }}]
data:
  accounts: {{ file: {name}.csv, pick: unique, secret_columns: [otp] }}
journeys:
  buyer:
    channel: storefront
    feed: accounts
    steps:
      - name: login
        method: POST
        path: /storefront/login
        json: {{ phone: "{{accounts.phone}}" }}
        expect: {{ status: 202 }}
""")
EOF

python3 - "$work" "$SURGE" <<'EOF'
import json, os, subprocess, sys, time
work, surge = sys.argv[1], sys.argv[2]

def measure(args):
    """Wall seconds and peak RSS (bytes) of one surge command."""
    start = time.monotonic()
    p = subprocess.Popen([surge] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    err = p.stderr.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"surge {' '.join(args)} exited {code}: {err}")
    return wall, usage.ru_maxrss * 1024

size = os.path.getsize(f"{work}/big.csv")
rows = sum(1 for _ in open(f"{work}/big.csv")) - 1
print(f"file: {rows} rows, {size / 2**20:.1f} MiB")
fig = {}
for name in ("one", "big"):
    fig[name, "validate"] = measure(["validate", f"{work}/{name}.yaml"])
    out = f"{work}/out-{name}"
    wall, rss = measure(["run", f"{work}/{name}.yaml", "--out", out, "-q"])
    summary = json.load(open(f"{out}/summary.json"))
    ran = summary["run"]["elapsed_s"]
    fig[name, "run"] = (wall - ran, rss)
    print(f"{name:>4}: validate {fig[name, 'validate'][0]:.2f} s, peak {fig[name, 'validate'][1] / 2**20:.0f} MiB; "
          f"run: {wall:.2f} s of which {ran:.2f} s schedule and drain, so {wall - ran:.2f} s load, start and reports; peak {rss / 2**20:.0f} MiB")

start = fig["big", "validate"][0] + fig["big", "run"][0]
ref = fig["one", "validate"][0] + fig["one", "run"][0]
table = fig["big", "run"][1] - fig["one", "run"][1]
ratio = table / size
ok_time = start < 2.0
ok_mem = ratio < 2.0
print(f"validate + start with {rows} rows: {start:.2f} s (one-row reference {ref:.2f} s, +{start - ref:.2f} s)   goal < 2 s   {'PASS' if ok_time else 'MISS'}")
print(f"table memory: {table / 2**20:.1f} MiB over the reference = {ratio:.2f}x the file   goal < 2x   {'PASS' if ok_mem else 'MISS'}")
EOF
