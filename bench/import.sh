#!/usr/bin/env bash
# `surge import access-log` on a real-sized log: 10,000,000 `combined`
# lines (about 2 GB, a 12-hour deadline eve with ids in paths, assets and
# a few odd lines) imported on one core (taskset -c 0). Goals: under 20 s
# and peak RSS under 200 MB, memory flat in the log's length (the same
# import of a tenth of the log within 32 MB of it: what grows is one bin
# per second of the window, not anything per line). Beside it, in the
# same run, the reference: `wc -l` over the same file on the same core
# (how fast this machine reads it at all), quoted as a ratio.
#
#   bash bench/import.sh [LINES]   (default 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-10000000}
cargo build --release --locked -q
SURGE=$PWD/target/release/surge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
python3 - "$work" "$LINES" <<'EOF'
import random, sys, time
work, lines = sys.argv[1], int(sys.argv[2])
random.seed(7)
t0 = 1790744400  # 2026-09-30 12:00:00 +07:00
span = 12 * 3600
agents = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
          "okhttp/4.12.0", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"]
def request(r):
    if r < 0.30: return "GET /storefront/orders/%x HTTP/1.1" % random.getrandbits(40)
    if r < 0.50: return "POST /stamping/stamp HTTP/1.1"
    if r < 0.62: return "GET /api/quota?u=%d HTTP/1.1" % random.getrandbits(20)
    if r < 0.70: return "GET /partner/pos-%d/documents/%d HTTP/1.1" % (random.randrange(40), random.getrandbits(30))
    if r < 0.95: return "GET /static/app.%x.js HTTP/1.1" % random.getrandbits(24)
    return "GET /storefront HTTP/1.1"
months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
out = open(f"{work}/access.log", "w", buffering=1 << 22)
per = span / lines
t = 0.0
stamp_cache = {}
for i in range(lines):
    # The eve: quiet afternoon, evening climb, last-hour rush.
    t += per * (2.0 - 1.5 * (t / span))
    s = int(t0 + min(t, span - 1))
    st = stamp_cache.get(s)
    if st is None:
        lt = time.gmtime(s + 7 * 3600)
        st = "%02d/%s/%d:%02d:%02d:%02d +0700" % (lt.tm_mday, months[lt.tm_mon - 1], lt.tm_year, lt.tm_hour, lt.tm_min, lt.tm_sec)
        stamp_cache = {s: st}
    r = random.random()
    out.write('10.%d.%d.%d - - [%s] "%s" %d %d "https://meterai.example/" "%s"\n' % (
        random.randrange(256), random.randrange(256), random.randrange(256), st, request(r),
        200 if r < 0.97 else 503, random.randrange(200, 40000), agents[i & 3]))
out.close()
EOF
ls -l "$work/access.log" | awk '{printf "log: %.2f GB\n", $5 / 1e9}'
head -c "$(( $(stat -c %s "$work/access.log") / 10 ))" "$work/access.log" | sed '$d' > "$work/tenth.log"

python3 - "$work" "$SURGE" "$LINES" <<'EOF'
import os, resource, subprocess, sys, time
work, surge, lines = sys.argv[1], sys.argv[2], int(sys.argv[3])

def measure(args):
    """Wall seconds and peak RSS (bytes) of one command on core 0."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.execvp("taskset", ["taskset", "-c", "0"] + args)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(args)}")
    return wall, usage.ru_maxrss * 1024

entries = ["--entry", "GET /storefront", "--entry", "POST /stamping/stamp"]
def surge_import(log, extra):
    return [surge, "import", "access-log", log, "--out", f"{work}/eve.yaml"] + extra
ref, _ = measure(["wc", "-l", f"{work}/access.log"])
whole, rss = measure(surge_import(f"{work}/access.log", entries))
_, rss_tenth = measure(surge_import(f"{work}/tenth.log", entries))
# Without --entry every line looks its client up (address and agent).
sessions, rss_sessions = measure(surge_import(f"{work}/access.log", []))
mb = lambda b: b / 1e6
print(f"reference wc -l: {ref:.1f} s")
print(f"surge import, entry routes: {whole:.1f} s ({lines / whole / 1e6:.2f} M lines/s, {whole / ref:.1f}x wc -l), peak RSS {mb(rss):.0f} MB")
print(f"surge import, sessions by client: {sessions:.1f} s ({lines / sessions / 1e6:.2f} M lines/s), peak RSS {mb(rss_sessions):.0f} MB")
print(f"a tenth of the log: peak RSS {mb(rss_tenth):.0f} MB ({rss / rss_tenth:.2f}x for 10x the lines)")
ok = True
for name, good, figure in [
    ("time under 20 s on one core (entry routes)", whole < 20.0, f"{whole:.1f} s"),
    ("time under 20 s on one core (sessions)", sessions < 20.0, f"{sessions:.1f} s"),
    ("peak RSS under 200 MB", max(rss, rss_sessions) < 200e6, f"{mb(max(rss, rss_sessions)):.0f} MB"),
    ("memory flat (10x the lines, under 32 MB more)", rss - rss_tenth < 32e6, f"+{mb(rss - rss_tenth):.0f} MB"),
]:
    print(f"{'PASS' if good else 'MISS'}  {name}: {figure}")
    ok = ok and good
sys.exit(0 if ok else 1)
EOF
