#!/usr/bin/env python3
"""No double paging (issue 17): the guest's own swap under host reclaim, with
and without the protocol. One command:

    perf/doublepaging.py [--build BUILD_DIR] [--reps 3] [--modes ept,shadow] [--seconds 3]
                         [--before OTHER_BUILD_DIR]

Per mode, one guest with a disk (swap=virtio) runs workload=swapstorm: a
working set 1.25x its RAM, filled (a fixed amount of work: every page written
once, through the guest's swap), then touched at random for --seconds, then
verified whole. Sizes: ept 16M RAM / 20M working set, shadow 10M / 12M.
First a run with reclaim on but no limit (nothing evicted) measures what the
guest keeps resident (reclaim/guest_resident_mb, highest reading): R. Then, --reps times, two runs
one after the other at 2x overcommit (reclaim/host_limit_mb = R / 2):

    on    vms/vm0/reclaim/cooperative=1 (the default): bitmap, hints, disk
          writes from the store
    off   cooperative=0: l1vmm fetches a frame the guest writes to its disk

Reported (medians over the repetitions): the fill's runtime (guest ms), the
storm's touches per second, the guest's swap I/O per second (swap-outs plus
swap-ins over its whole run), the guest's whole runtime, and l1vmm's counters
(highest readings of the live tree): double_paging_events, stored_reads,
hinted, evictions, fetches. Every run must end with 0 mismatches. The guest's
own profile of its fill (swapstorm's "profile phase=fill" line, TSC ms): time
in swap faults in all, in the clock's scan, in swap-out writes, in zero fills,
in hints.

--before OTHER_BUILD_DIR: each repetition runs OTHER_BUILD_DIR's l1vmm too
(on and off, interleaved with this build's), for before/after figures of a
change measured in one session.

Waits while /tmp/perf-busy exists (another benchmark), and holds it meanwhile.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from test_balloon import Run  # noqa: E402

SIZES = {"ept": ("16M", "20M"), "shadow": ("10M", "12M")}
FAST = ["--set", "reclaim/interval_ms=100", "--set", "reclaim/delay_ms=0",
        "--set", "reclaim/cold_age=1"]
TREE = ["reclaim/guest_resident_mb", "vms/vm0/reclaim/double_paging_events",
        "vms/vm0/reclaim/stored_reads", "vms/vm0/reclaim/hinted", "reclaim/evictions",
        "reclaim/fetches"]


def one(l1vmm, mode, seconds, extra):
    mem, size = SIZES[mode]
    with tempfile.TemporaryDirectory(prefix="l1vmm-dp-") as tmp:
        mnt = os.path.join(tmp, "tree")
        os.mkdir(mnt)
        t0 = time.monotonic()
        run = Run([l1vmm, "run", "--mode", mode, "--mem", mem, "--disk",
                   os.path.join(tmp, "d.img"), "--timeout", "300",
                   "--set", "vms/vm0/disk_size=64M"] + extra +
                  ["--", "swap=virtio", "workload=swapstorm", f"size={size}",
                   f"seconds={seconds}"], mnt)
        peak = {}
        while run.proc.poll() is None:
            for p in TREE:
                try:
                    peak[p] = max(peak.get(p, 0), run.num(p))
                except (OSError, ValueError):
                    pass
            time.sleep(0.05)
        run.reader.join(5)
        wall = time.monotonic() - t0
    out = "\n".join(run.lines)
    f = re.search(r"^swapstorm: fill pages=\d+ ms=(\d+) ", out, re.M)
    prof = re.search(r"^swapstorm: profile phase=fill faults=\d+ fault_ms=(\d+) clock_ms=(\d+) "
                     r"out_ms=(\d+) in_ms=\d+ zero_ms=(\d+) hint_ms=(\d+)", out, re.M)
    m = re.search(r"^swapstorm: touches=(\d+) mismatches=(\d+) swap_outs=(\d+) swap_ins=(\d+) "
                  r".* seconds=([\d.]+)$", out, re.M)
    if run.proc.returncode != 0 or not f or not m or m.group(2) != "0":
        sys.exit(f"{mode} {extra}: the guest failed (exit {run.proc.returncode}):\n{out}")
    total = float(m.group(5))
    return {"fill_ms": int(f.group(1)), "touches_s": int(m.group(1)) / seconds,
            "swap_io_s": (int(m.group(3)) + int(m.group(4))) / total, "guest_s": total,
            "wall_s": wall, **{p.split("/")[-1]: v for p, v in peak.items()},
            **({k: int(v) for k, v in zip(("fault_ms", "clock_ms", "out_ms", "zero_ms", "hint_ms"),
                                          prof.groups())} if prof else {})}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", default="ept,shadow")
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--before", help="another build to run beside this one (before/after)")
    a = ap.parse_args()
    l1vmm = os.path.join(a.build, "l1vmm", "l1vmm")
    builds = [("", l1vmm)] + ([("before ", os.path.join(a.before, "l1vmm", "l1vmm"))]
                              if a.before else [])
    while os.path.exists("/tmp/perf-busy"):
        time.sleep(20)
    open("/tmp/perf-busy", "w").close()
    try:
        print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"{subprocess.run(['uname', '-r'], capture_output=True, text=True).stdout.strip()}, "
              f"{os.cpu_count()} CPUs", flush=True)
        for mode in a.modes.split(","):
            # reclaim on with no limit: it measures the guest's residency, evicts nothing
            base = one(l1vmm, mode, a.seconds, ["--set", "reclaim/run=1"] + FAST)
            limit = max(1, base["guest_resident_mb"] // 2)
            print(f"## {mode}: {SIZES[mode][0]} guest, {SIZES[mode][1]} working set; reclaim off: "
                  f"resident {base['guest_resident_mb']} MiB, fill {base['fill_ms']} ms, "
                  f"{base['touches_s']:.0f} touches/s; 2x: host_limit_mb={limit}", flush=True)
            runs = {f"{b}{n}": [] for b, _ in builds for n in ("on", "off")}
            for r in range(a.reps):
                for (tag, binary), (n, coop) in [(b, c) for b in builds
                                                 for c in (("on", 1), ("off", 0))]:
                    name = tag + n
                    x = one(binary, mode, a.seconds,
                            ["--set", "reclaim/run=1", "--set", f"reclaim/host_limit_mb={limit}",
                             "--set", f"vms/vm0/reclaim/cooperative={coop}"] + FAST)
                    runs[name].append(x)
                    print(f"  rep {r} {name}: " + ", ".join(
                        f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in x.items()), flush=True)
            keys = ["fill_ms", "touches_s", "swap_io_s", "guest_s", "double_paging_events",
                    "stored_reads", "hinted", "evictions", "fetches", "fault_ms", "clock_ms",
                    "out_ms", "zero_ms", "hint_ms"]
            print(f"| {mode} (median of {a.reps}) | " + " | ".join(keys) + " |")
            for name in runs:
                med = [statistics.median(x.get(k, 0) for x in runs[name]) for k in keys]
                print(f"| protocol {name} | " + " | ".join(f"{v:.0f}" for v in med) + " |",
                      flush=True)
            for tag, _ in builds:
                on = statistics.median(x["fill_ms"] for x in runs[tag + "on"])
                off = statistics.median(x["fill_ms"] for x in runs[tag + "off"])
                gon = statistics.median(x["guest_s"] for x in runs[tag + "on"])
                goff = statistics.median(x["guest_s"] for x in runs[tag + "off"])
                print(f"  {tag}fill runtime off/on: {off / on:.2f}x; whole run off/on: "
                      f"{goff / gon:.2f}x; reclaim without a limit: fill {base['fill_ms']} ms, "
                      f"off/no-limit {off / base['fill_ms']:.2f}x", flush=True)
    finally:
        os.unlink("/tmp/perf-busy")


if __name__ == "__main__":
    main()
