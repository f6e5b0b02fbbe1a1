#!/usr/bin/env python3
"""Balloon rates (issue 6): inflate and deflate, both devices, both modes.

    perf/balloon.py [--build BUILD_DIR] [--reps 3] [--size-mb 1024] [--pairs ept/pv,...]

For each (mode, device) pair that runs here (virtio-balloon: ept mode only),
one guest of SIZE + 256 MiB runs workload=churn: it touches SIZE + 128 MiB,
frees all but 64 MiB (so the host holds memory the guest no longer uses) and
keeps verifying what it holds. Then, through the live tree, the balloon
target goes to SIZE and back to 0, REPS times. Per step the script reads
l1vmm's own vms/NAME/balloon/time_to_target (from the target write to the
last move that reached it, measured inside l1vmm) and l1vmm's RssAnon
(/proc/PID/status) before and after. The first inflate releases memory the
guest had touched: its RssAnon drop is the host memory given back. The later
ones move frames that were deflated and never touched again. At the end the
guest must report 0 mismatches.

Output: one line per step and a table of medians (MiB/s = SIZE / seconds).
Exit status: 0, 1 when a guest failed or a step did not reach its target.
"""
import argparse
import os
import signal
import statistics
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
from test_balloon import Run, MIB  # noqa: E402


def one(build, mode, device, size_mb, reps):
    l1vmm = os.path.join(build, "l1vmm", "l1vmm")
    mem = size_mb + 256
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="l1vmm-balloon-perf-") as mnt:
        run = Run([l1vmm, "run", "--mode", mode, "--mem", f"{mem}M", "--timeout", "600", "--",
                   "workload=churn", f"peak={size_mb + 128}M", "hold=64M", "seconds=0",
                   f"balloon={device}"], mnt)
        if not run.wait_line(r"^churn: peak=.* mismatches=0 ", 300):
            print(f"{mode}/{device}: the guest did not get through its peak", flush=True)
            run.proc.kill()
            run.finish(10)
            return None
        for rep in range(reps):
            for target in (size_mb, 0):
                rss0 = run.rss_anon()
                run.write("vms/vm0/balloon/target_mb", target)
                reached = run.wait_value("vms/vm0/balloon/actual_mb", target, 60)
                secs = run.read("vms/vm0/balloon/time_to_target")
                rss1 = run.rss_anon()
                ok &= reached and secs != "pending"
                t = float(secs) if reached and secs != "pending" else float("nan")
                step = "inflate" if target else "deflate"
                rows.append((step, rep, t, (rss0 - rss1) / MIB))
                print(f"{mode}/{device} rep {rep} {step} {size_mb} MiB: {t:.4f} s "
                      f"({size_mb / t if t > 0 else float('inf'):.0f} MiB/s), "
                      f"RssAnon {rss0 / MIB:.0f} -> {rss1 / MIB:.0f} MiB", flush=True)
        refusals = run.num("vms/vm0/balloon/refusals")
        calls = run.num("vms/vm0/balloon/discard_calls")
        run.proc.send_signal(signal.SIGTERM)
        run.finish(30)
        bad = [ln for ln in run.lines if "mismatches=" in ln and "mismatches=0" not in ln]
        ok &= not bad and refusals == 0
        print(f"{mode}/{device}: refusals={refusals} discard_calls={calls} "
              f"mismatch lines={len(bad)}", flush=True)
    return rows, ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--pairs", default="ept/pv,shadow/pv,ept/virtio",
                    help="mode/device pairs to run, comma-separated")
    a = ap.parse_args()
    table, all_ok = [], True
    for mode, device in (p.split("/") for p in a.pairs.split(",")):
        res = one(a.build, mode, device, a.size_mb, a.reps)
        if res is None:
            all_ok = False
            continue
        rows, ok = res
        all_ok &= ok
        inf = [r[2] for r in rows if r[0] == "inflate"]
        dfl = [r[2] for r in rows if r[0] == "deflate"]
        first_drop = rows[0][3]
        table.append((mode, device, statistics.median(inf), min(inf), max(inf),
                      statistics.median(dfl), first_drop))
    print(f"\n{'mode':7} {'device':7} {'inflate s (med, min-max)':>26} {'MiB/s':>8} "
          f"{'deflate s':>10} {'MiB/s':>9} {'host drop MiB':>14}")
    for mode, device, im, imin, imax, dm, drop in table:
        print(f"{mode:7} {device:7} {im:10.4f} ({imin:.4f}-{imax:.4f}) {a.size_mb / im:8.0f} "
              f"{dm:10.4f} {a.size_mb / dm if dm > 0 else float('inf'):9.0f} {drop:14.0f}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
