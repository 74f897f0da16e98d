#!/usr/bin/env bash
# The run history's speed.
#   1. Indexing: one real run of scenarios/smoke.yaml, copied COPIES times,
#      indexed by `surge history rebuild` (which reads each folder's files
#      back, more than a finishing run does: it has them in memory); the
#      time per folder. Goal: under 50 ms.
#   2. Answering: that run's rows copied into a history of RUNS runs and
#      RUNS capacity searches (python3's sqlite3 module), then `surge
#      history`, `surge history trend --metric p99:storefront --last RUNS`
#      and `--metric capacity --last RUNS`, median of 5 each. Goal: under
#      200 ms. Reference, in the same run: the sqlite3 client answering
#      the same list query, and `surge --version` (process start).
#
#   bash bench/history.sh [RUNS] [COPIES]   (default 10000 200)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10000}
COPIES=${2:-200}
cargo build --release --locked -q
SURGE=$PWD/target/release/surge
command -v sqlite3 >/dev/null || { echo "needs the sqlite3 client (Debian package sqlite3)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(date -u +%F)"
"$SURGE" run scenarios/smoke.yaml --out "$work/one/run" --no-history -q >/dev/null || true
for i in $(seq 1 "$COPIES"); do cp -r "$work/one/run" "$work/one/copy-$i"; done

python3 - "$SURGE" "$work" "$RUNS" "$COPIES" <<'EOF'
import sqlite3, statistics, subprocess, sys, time
surge, work, runs, copies = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def timed(cmd, n=5):
    took = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took.append(time.perf_counter() - t)
    return statistics.median(took)

verdicts = []
def goal(name, value_ms, limit_ms, reference=None):
    ok = value_ms < limit_ms
    verdicts.append(ok)
    ref = f"; {reference}" if reference else ""
    print(f"{name}: {value_ms:.1f} ms (goal < {limit_ms} ms){ref}: {'PASS' if ok else 'MISS'}")

db = f"{work}/index.sqlite"
t = time.perf_counter()
subprocess.run([surge, "history", "rebuild", f"{work}/one", "--history", db], check=True,
               stdout=subprocess.DEVNULL)
per = (time.perf_counter() - t) / (copies + 1) * 1000
goal(f"index one run folder (rebuild of {copies + 1}, per folder)", per, 50)

# A big history: the indexed run's rows copied, each with its own time and
# commit; as many capacity searches.
big = f"{work}/big.sqlite"
subprocess.run([surge, "history", "rebuild", f"{work}/one/run", "--history", big], check=True,
               stdout=subprocess.DEVNULL)
con = sqlite3.connect(big)
cols = [r[1] for r in con.execute("PRAGMA table_info(runs)") if r[1] != "id"]
children = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})") if r[1] != "run_id"]
            for t in ("objectives", "steps", "step_errors", "channels", "journeys", "ledger")}
(src,) = con.execute("SELECT id FROM runs").fetchone()
row = dict(zip(cols, con.execute(f"SELECT {', '.join(cols)} FROM runs WHERE id = ?", (src,)).fetchone()))
cap_cols = [r[1] for r in con.execute("PRAGMA table_info(capacities)") if r[1] != "id"]
for i in range(1, runs):
    row["folder"] = f"{work}/gone/run-{i}"
    row["started_at"] = f"2026-{1 + i // 2900:02d}-{1 + i // 100 % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.000Z"
    row["git_commit"] = f"{i:040x}"
    cur = con.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                      [row[c] for c in cols])
    new = cur.lastrowid
    for t, cs in children.items():
        con.execute(f"INSERT INTO {t} (run_id, {', '.join(cs)}) SELECT ?, {', '.join(cs)} FROM {t} WHERE run_id = ?",
                    (new, src))
    cap = {"folder": f"{work}/gone/capacity-{i}", "scenario": row["scenario"], "scenario_sha256": row["scenario_sha256"],
           "started_at": row["started_at"], "base_rate_per_s": 5.0, "scale": 8 + i % 3, "capacity_per_s": 40.0 + i % 3 * 5,
           "upper_scale": 9 + i % 3, "upper_per_s": 45.0 + i % 3 * 5, "resolution": 0.1, "trials": 6, "judged": 1,
           "found": 1, "surge_version": None, "host": None, "git_commit": row["git_commit"], "git_branch": "main",
           "git_dirty": 0, "ci": None, "ci_run_url": None, "ci_pr": None, "ci_commit": None, "indexed_at": row["indexed_at"]}
    con.execute(f"INSERT INTO capacities ({', '.join(cap_cols)}) VALUES ({', '.join('?' * len(cap_cols))})",
                [cap[c] for c in cap_cols])
con.commit()
(n_runs,) = con.execute("SELECT count(*) FROM runs").fetchone()
con.close()
print(f"history of {n_runs} runs and {runs - 1} capacity searches")

start = timed([surge, "--version"]) * 1000
client = timed(["sqlite3", big, "SELECT started_at, git_commit, verdict, goodput FROM runs WHERE scenario = 'smoke' "
                "AND kind != 'trial' ORDER BY started_at DESC LIMIT 20"]) * 1000
ref = f"sqlite3 client, same list query: {client:.1f} ms; surge --version: {start:.1f} ms"
goal("surge history smoke", timed([surge, "history", "smoke", "--history", big]) * 1000, 200, ref)
goal(f"surge history trend smoke --metric p99:storefront --last {runs}",
     timed([surge, "history", "trend", "smoke", "--metric", "p99:storefront", "--last", str(runs), "--history", big]) * 1000, 200)
goal(f"surge history trend smoke --metric goodput --last {runs}",
     timed([surge, "history", "trend", "smoke", "--metric", "goodput", "--last", str(runs), "--history", big]) * 1000, 200)
goal(f"surge history trend smoke --metric capacity --last {runs}",
     timed([surge, "history", "trend", "smoke", "--metric", "capacity", "--last", str(runs), "--history", big]) * 1000, 200)
print("PASS" if all(verdicts) else "MISS", "overall")
EOF
