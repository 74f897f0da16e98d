"""Makes a long run folder out of a short one by repeating its seconds.

    python3 bench/tools/stretch_run.py SRC_RUN DST_RUN SECONDS

Interval log lines, steps.csv and journeys.csv rows of second s are copied
to every second s + k*n (n = the seconds SRC holds) below SECONDS; the
summary's planned length becomes SECONDS. Histograms are copied as they are
(their encoded bytes do not hold the start time), so the result is a valid
run folder whose per-second figures cycle.
"""
import json
import os
import shutil
import sys


def main():
    src, dst, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(dst, exist_ok=True)
    for name in ("scenario.yaml", "timeline.csv"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))

    header, by_second = [], {}
    with open(os.path.join(src, "latency.hlog")) as f:
        for line in f:
            if line.startswith("#") or line.startswith('"') or line.startswith("StartTime"):
                header.append(line)
                continue
            tag, rest = line.split(",", 1)
            start, rest = rest.split(",", 1)
            by_second.setdefault(round(float(start)), []).append((tag, rest))
    n = max(by_second) + 1
    with open(os.path.join(dst, "latency.hlog"), "w") as f:
        f.writelines(header)
        for s in range(seconds):
            for tag, rest in by_second.get(s % n, []):
                f.write(f"{tag},{s:.3f},{rest}")

    for name in ("steps.csv", "journeys.csv"):
        with open(os.path.join(src, name)) as f:
            head, *rows = f.read().splitlines()
        by = {}
        for r in rows:
            sec, rest = r.split(",", 1)
            by.setdefault(int(sec), []).append(rest)
        with open(os.path.join(dst, name), "w") as f:
            f.write(head + "\n")
            for s in range(seconds):
                for rest in by.get(s % n, []):
                    f.write(f"{s},{rest}\n")

    with open(os.path.join(src, "summary.json")) as f:
        summary = json.load(f)
    summary["run"]["planned_s"] = float(seconds)
    summary["run"]["elapsed_s"] = float(seconds)
    with open(os.path.join(dst, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
