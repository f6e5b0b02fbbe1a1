#!/usr/bin/env python3
"""Pseudo page faults on and off under host reclaim (issue 17).

    python3 perf/apf.py [--l1vmm build/l1vmm/l1vmm] [--runs 3] [--modes ept,shadow]

workload=apf on one vCPU (a task touching 16M of memory host reclaim keeps
evicted, reclaim/host_limit_mb 8 and no prefetch; a task computing), with
the guest's apf=0 and apf=1, `runs` times each; prints the medians of the
compute task's rate as a percentage of its rate alone (compute_pct) and of
the toucher's pages a second. Waits while /tmp/perf-busy exists (another
benchmark), and holds it while it measures.
"""
import argparse
import os
import re
import statistics
import subprocess
import time

BUSY = "/tmp/perf-busy"


def run(l1vmm, mode, apf):
    cmd = [l1vmm, "run", "--timeout", "120", "--mode", mode, "--mem", "64M", "--vcpus", "1",
           "--set", "reclaim/run=1", "--set", "reclaim/interval_ms=200",
           "--set", "reclaim/delay_ms=0", "--set", "reclaim/host_limit_mb=8",
           "--set", "reclaim/prefetch=0", "--", "workload=apf", "size=16M", "seconds=5",
           "settle=2", f"apf={apf}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180).stdout
    m = re.search(r"compute_pct=(\d+) touch_pages_per_s=(\d+) passes=\d+ mismatches=(\d+)", out)
    if not m or m.group(3) != "0" or "result=PASS" not in out:
        raise SystemExit(f"{mode} apf={apf}: the run failed:\n{out}")
    return int(m.group(1)), int(m.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", default="build/l1vmm/l1vmm")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modes", default="ept,shadow")
    a = ap.parse_args()
    while os.path.exists(BUSY):
        time.sleep(20)
    open(BUSY, "w").close()
    try:
        for mode in a.modes.split(","):
            for apf in (0, 1):
                r = [run(a.l1vmm, mode, apf) for _ in range(a.runs)]
                print(f"{mode:6} apf={apf}: compute_pct median {statistics.median(x[0] for x in r)} "
                      f"{[x[0] for x in r]}, touch_pages_per_s median "
                      f"{statistics.median(x[1] for x in r)} {[x[1] for x in r]}", flush=True)
    finally:
        os.unlink(BUSY)


if __name__ == "__main__":
    main()
