#!/usr/bin/env python3
"""Host reclaim under overcommit (issue 16): one command for the whole benchmark.

    perf/reclaim.py [--build BUILD_DIR] [--reps 3] [--seconds 30] [--ratios 2,3]
                    [--no-compress]

The guests, a mix of modes and sizes, each running workload=hotcold (a hot set
rewritten and verified round after round, above a cold set read only at the
end: full=0):

    g0  ept     192M RAM  hotcold size=128M hot=16M
    g1  shadow  192M RAM  hotcold size=128M hot=16M
    g2  ept     128M RAM  hotcold size=64M  hot=8M

They touch T = 320 MiB between them; their hot sets (40 MiB) fit in every
limit below. Per repetition, three runs of the same guests, one after the
other:

    none     reclaim/run=0: the guests have all the memory they touch
    2x       reclaim/run=1, reclaim/host_limit_mb = T / 2
    3x       reclaim/run=1, reclaim/host_limit_mb = T / 3

What is measured, per run:
  - guest throughput: each guest's hot rounds per second (its final
    rounds_per_s over the whole rounds phase, and the median of its
    per-second lines from second 10 on, once reclaim has evicted the cold
    sets); "x none" divides by the same guest's figure in the none run of the
    same repetition.
  - host memory: l1vmm's resident guest memory (reclaim/guest_resident_mb,
    mincore over guest RAM) and, from outside, RssAnon less the store's own
    memory, sampled every 0.5 s from second 10 of the rounds until 3 s before
    their end (median, 90th percentile, max).
  - then reclaim stops (reclaim/run=0): the guests' final verifications read
    their cold sets back with no eviction running alongside, so what they
    see is the fetch alone (with the limit kept, the cold sets would not fit
    and every fetch would race an eviction: integration.reclaim_*_three
    checks the memory in that case).
  - the cold sets read back in the final verification, as the guests see it:
    hotcold's touches=full line (the first load of each cold page timed in
    the guest; accesses of 2 us or more count as faulted). With the default
    prefetch a fetch brings 8 neighbours too, and the guest's first access
    to those is a fault without a fetch: this is the practical mix, not the
    latency of one fetch. Next to it, l1vmm's own fetch_us_p50/p99 (access
    noticed to page installed, last 1024 fetches of the worst VM), read at the
    end of the rounds and as late as possible in the final verification.

Then the latency of one fault, per mode, a single 64M guest at a time (see
latency()): the bare fault (reclaim off: ept, KVM populates the page; shadow,
shadow_prefetch=1, so each first access is one l1vmm shadow fault round
trip), in ept mode the userfaultfd round trip as a guest sees it (l1vmm
serving a zero page), and the fetch of one page (reclaim/prefetch=0), each
as "x bare"; and perf/bench_uffd, the userfaultfd round trip between two
host threads. The guests have two tasks on one vCPU: an access during which
the guest's timer tick switches tasks takes a tick (10 ms), which is what
the p99 of these rows shows.
  - the store: pages compressed, compression ratio, evictions, fetches,
    prefetches, refaults, errors.
  - compressors (unless --no-compress): perf/bench_compress on hotcold,
    kernel and dup pages (both codecs), and Linux zram on the same pages when
    /sys/block/zram0 exists and is unused (each codec it offers; run as root).

Every guest must end with 0 mismatches, else the script says so and exits 1.
Needs a Release build with perf/ (cmake -DCMAKE_BUILD_TYPE=Release; the
default BUILD_DIR is build/, which ./build.sh demo makes). Takes about
2 minutes per repetition, plus ~1 minute for the compressors.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
from test_balloon import Run, MIB  # noqa: E402

GUESTS = [  # name, mode, RAM MiB, size MiB, hot MiB
    ("g0", "ept", 192, 128, 16),
    ("g1", "shadow", 192, 128, 16),
    ("g2", "ept", 128, 64, 8),
]
TOUCHED = sum(g[3] for g in GUESTS)
SETTLE = 10  # seconds into the rounds before throughput and memory count
LIFT = 3     # seconds before the rounds end: reclaim stops, the final verification fetches


class QuietRun(Run):
    """Run, with l1vmm's output kept (and written to a log), not echoed."""

    def __init__(self, args, mnt, log):
        self.log = log
        super().__init__(args, mnt)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self.log.write(line)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, (len(xs) * p) // 100)] if xs else float("nan")


def one_run(l1vmm, contender, seconds, log):
    """Run the guests once; return a dict of what was measured."""
    cmd = [l1vmm, "run", "--timeout", str(seconds + 240)]
    if contender == "none":
        cmd += ["--set", "reclaim/run=0"]
    else:
        limit = TOUCHED // int(contender[0])
        cmd += ["--set", "reclaim/run=1", "--set", f"reclaim/host_limit_mb={limit}"]
    for k, (name, mode, ram, size, hot) in enumerate(GUESTS):
        cmd += ["--vm", f"name={name},mem={ram}M,mode={mode},cmdline=\"workload=hotcold "
                f"size={size}M hot={hot}M seconds={seconds} full=0 seed={k + 1}\""]
    log.write(f"### {contender}: {' '.join(cmd)}\n")
    out = {"contender": contender, "resident": [], "outside": []}
    with tempfile.TemporaryDirectory(prefix="l1vmm-reclaim-perf-") as mnt:
        run = QuietRun(cmd, mnt, log)
        for name, *_ in GUESTS:
            if not run.wait_line(rf"^\[{name}\] hotcold: size=", 120):
                run.proc.kill()
                run.finish(10)
                raise SystemExit(f"reclaim.py: {name} did not finish its fill ({contender})")
        t_fill = time.monotonic()
        end = t_fill + seconds - LIFT  # the first guest's rounds end up to ~2 s earlier
        lifted = False
        while time.monotonic() < end + 60 and run.proc.poll() is None:
            t = time.monotonic()
            if t >= end and not lifted:
                lifted = True
                if contender != "none":
                    try:  # take the reading first: the last of the rounds
                        out["fetch_us"] = (run.num("reclaim/fetch_us_p50"),
                                           run.num("reclaim/fetch_us_p99"))
                        out["store"] = {k: run.read(f"reclaim/{k}") for k in (
                            "pages_compressed", "compression_ratio", "evictions", "fetches",
                            "prefetches", "refaults", "errors", "store_refusals", "ageings",
                            "rounds")}
                    except (OSError, ValueError):
                        pass
                    run.write("reclaim/run", 0)
            try:
                res = run.num("reclaim/guest_resident_mb")
                outside = (run.rss_anon() - run.num("reclaim/store_mem_bytes")) // MIB
            except (OSError, ValueError):
                break
            finals = sum(1 for ln in run.lines if "touches=full" in ln)
            if lifted and contender != "none":
                # the last 1024 fetches, as late as the tree is there
                out["fetch_us_final"] = (run.num("reclaim/fetch_us_p50"),
                                         run.num("reclaim/fetch_us_p99"))
            if finals:
                end = min(end, t)  # a guest's rounds ended: stop sampling
            if t < end and t >= t_fill + SETTLE:
                out["resident"].append(res)
                out["outside"].append(outside)
            time.sleep(0.5)
        rc = run.finish(seconds + 240)
    out["rc"] = rc
    out["guests"] = {}
    for name, mode, *_ in GUESTS:
        g = {"mode": mode}
        lines = [ln[len(name) + 3:] for ln in run.lines if ln.startswith(f"[{name}] ")]
        rates = []
        for ln in lines:
            m = re.match(r"hotcold: round=\d+ hot_rounds_per_s=([\d.]+) ", ln)
            if m:
                rates.append(float(m.group(1)))
        # one per-second line a second: skip the first SETTLE
        g["rate_settled"] = statistics.median(rates[SETTLE:]) if len(rates) > SETTLE else \
            float("nan")
        for ln in lines:
            m = re.match(r"hotcold: rounds=\d+ rounds_per_s=([\d.]+) mismatches=(\d+) ", ln)
            if m:
                g["rate"], g["mismatches"] = float(m.group(1)), int(m.group(2))
            m = re.match(r"hotcold: touches=(fill|full) pages=(\d+) faulted=(\d+) "
                         r"us_p50=(\d+) us_p90=(\d+) us_p99=(\d+)", ln)
            if m:
                g[m.group(1)] = tuple(int(x) for x in m.groups()[1:])
            if "result=PASS" in ln:
                g["pass"] = True
        out["guests"][name] = g
    return out


LAT_GUEST = "workload=hotcold size=64M hot=8M seconds=3 full=0"
BARE = {"ept": "KVM fault (reclaim off)", "shadow": "l1vmm shadow fault (reclaim off)"}
UFFD = "userfaultfd fault, l1vmm serves a zero page"


def latency(l1vmm, reps, log):
    """One guest per run, 64M touched; per mode, the fault with nothing behind
    it and the fetch with nothing else going on: reclaim/prefetch=0 and
    (shadow) shadow_prefetch=1, so every first access of a cold page is one
    fault that fetches one page. With reclaim/host_limit_mb=4, delay 0 and
    rounds of 50 ms, eviction starts during boot, so in ept mode guest RAM is
    registered with userfaultfd before the fill: each first store of the fill
    is a MISSING fault that l1vmm's fetch threads serve with a zero page, the
    bare userfaultfd round trip as a guest sees it."""
    rows, ok = {}, True
    reclaim = ["--set", "reclaim/run=1", "--set", "reclaim/delay_ms=0", "--set",
               "reclaim/interval_ms=50", "--set", "reclaim/host_limit_mb=4", "--set",
               "reclaim/prefetch=0"]
    for rep in range(reps):
        for mode in ("ept", "shadow"):
            extra = ",shadow_prefetch=1" if mode == "shadow" else ""
            vm = ["--vm", f"name=a,mem=192M,mode={mode}{extra},cmdline=\"{LAT_GUEST}\""]
            for on in (False, True):
                cmd = [l1vmm, "run", "--timeout", "120"] + (reclaim if on else []) + vm
                log.write(f"### latency: {' '.join(cmd)}\n")
                r = subprocess.run(cmd, capture_output=True, text=True)
                log.write(r.stdout + r.stderr)
                got = {m.group(1): tuple(int(x) for x in m.groups()[1:]) for m in re.finditer(
                    r"touches=(fill|full) pages=(\d+) faulted=(\d+) us_p50=(\d+) "
                    r"us_p90=(\d+) us_p99=(\d+)", r.stdout)}
                if r.returncode or "result=PASS" not in r.stdout or len(got) != 2:
                    ok = False
                    print(f"latency run failed ({mode}, reclaim {on}): rc={r.returncode}")
                    continue
                if not on:
                    rows.setdefault((mode, BARE[mode]), []).append(got["fill"])
                    continue
                if mode == "ept":
                    rows.setdefault((mode, UFFD), []).append(got["fill"])
                rows.setdefault((mode, "fetch of one page (prefetch 0)"), []).append(got["full"])
    out = []
    for (mode, label), t in rows.items():
        out.append((mode, label, UFFD if mode == "ept" and label != BARE[mode] else BARE[mode], t))
    return out, ok


def bench_uffd(build):
    exe = os.path.join(build, "perf", "bench_uffd")
    r = subprocess.run([exe, "pages=4096", "runs=5"], capture_output=True, text=True)
    m = re.search(r"bench_uffd: all pages=\d+ p50_us=([\d.]+) p90_us=([\d.]+) p99_us=([\d.]+)",
                  r.stdout)
    return tuple(float(x) for x in m.groups()) if m else None


def zram(dump_dir):
    """Linux zram on the dumped page sets: {(set, codec): (orig, compr, mem_used)}."""
    dev = "/sys/block/zram0"
    if not os.path.exists(dev):
        return None, "no /sys/block/zram0"
    with open(f"{dev}/disksize") as f:
        if f.read().strip() != "0":
            return None, "zram0 is in use"
    with open(f"{dev}/comp_algorithm") as f:
        algos = [a.strip("[]") for a in f.read().split()]
    res = {}
    for name in sorted(os.listdir(dump_dir)):
        for algo in algos:
            with open(f"{dev}/reset", "w") as f:
                f.write("1")
            with open(f"{dev}/comp_algorithm", "w") as f:
                f.write(algo)
            with open(f"{dev}/disksize", "w") as f:
                f.write(str(256 * MIB))
            subprocess.run(["dd", f"if={os.path.join(dump_dir, name)}", "of=/dev/zram0",
                            "bs=1M", "oflag=direct", "status=none"], check=True)
            with open(f"{dev}/mm_stat") as f:
                st = [int(x) for x in f.read().split()[:3]]
            res[(name, algo)] = st
    with open(f"{dev}/reset", "w") as f:
        f.write("1")
    return res, None


def compressors(build):
    exe = os.path.join(build, "perf", "bench_compress")
    with tempfile.TemporaryDirectory(prefix="l1vmm-pages-") as dump:
        r = subprocess.run([exe, "runs=7", f"dump={dump}"], capture_output=True, text=True)
        print(r.stdout, end="", flush=True)
        if r.returncode:
            print(f"bench_compress failed ({r.returncode}): {r.stderr.strip()}")
            return False
        z, why = zram(dump)
        if z is None:
            print(f"zram: not measured ({why})")
            return True
        print("| set | zram codec | orig_data_size | compr_data_size | mem_used_total | "
              "ratio (orig / mem used) |")
        print("| --- | --- | --- | --- | --- | --- |")
        for (name, algo), (orig, compr, used) in sorted(z.items()):
            print(f"| {name} | {algo} | {orig:,} | {compr:,} | {used:,} | "
                  f"{orig / used if used else float('nan'):.2f} |")
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--ratios", default="2,3")
    ap.add_argument("--no-compress", action="store_true")
    ap.add_argument("--log", default="/tmp/l1vmm-reclaim-perf.log")
    a = ap.parse_args()
    if a.seconds <= SETTLE + 5:
        raise SystemExit(f"reclaim.py: --seconds must be more than {SETTLE + 5}")
    l1vmm = os.path.join(a.build, "l1vmm", "l1vmm")
    contenders = ["none"] + [f"{r}x" for r in a.ratios.split(",")]
    print(f"machine: {open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; guests touch {TOUCHED} MiB; "
          f"log: {a.log}", flush=True)
    results, ok = [], True
    log = open(a.log, "w")
    for rep in range(a.reps):
        for c in contenders:
            r = one_run(l1vmm, c, a.seconds, log)
            r["rep"] = rep
            results.append(r)
            bad = [n for n, g in r["guests"].items()
                   if g.get("mismatches") != 0 or not g.get("pass")]
            ok &= not bad and r["rc"] == 0
            print(f"rep {rep + 1} {c}: rc={r['rc']} " + " ".join(
                f"{n}={g.get('rate', float('nan')):.1f}/{g['rate_settled']:.1f}r/s"
                for n, g in r["guests"].items()) +
                (f" resident median {pct(r['resident'], 50)} max {max(r['resident'])} MiB"
                 if r["resident"] else "") +
                (f" FAILED: {bad}" if bad else ""), flush=True)
    print("\n## Guest throughput (hot rounds/s) and host memory, medians over repetitions")
    print("| contender | limit MiB | " + " | ".join(
        f"{n} ({m}) r/s, x none" for n, m, *_ in GUESTS) +
        " | resident guest MiB median / p90 / max | RssAnon-store median / max |")
    print("|" + " --- |" * (len(GUESTS) + 4))
    for c in contenders:
        rs = [r for r in results if r["contender"] == c]
        cells = []
        for n, *_ in GUESTS:
            vals, ratios = [], []
            for r in rs:
                base = next(b for b in results if b["rep"] == r["rep"] and
                            b["contender"] == "none")
                v, b = r["guests"][n]["rate_settled"], base["guests"][n]["rate_settled"]
                vals.append(v)
                ratios.append(v / b if b else float("nan"))
            cells.append(f"{statistics.median(vals):.1f}, {statistics.median(ratios):.2f}")
        res = [x for r in rs for x in r["resident"]]
        outside = [x for r in rs for x in r["outside"]]
        limit = "—" if c == "none" else str(TOUCHED // int(c[0]))
        print(f"| {c} | {limit} | " + " | ".join(cells) +
              f" | {pct(res, 50)} / {pct(res, 90)} / {max(res, default=0)} "
              f"| {pct(outside, 50)} / {max(outside, default=0)} |")

    print("\n## Cold sets read back in the final verification (default prefetch), per guest")
    print("| contender | " + " | ".join(f"{n} ({m}) pages faulted, us p50 / p90" for n, m, *_ in GUESTS)
          + " | l1vmm fetch_us p50 / p99, rounds | the same, final verification |")
    print("|" + " --- |" * (len(GUESTS) + 3))
    for c in contenders[1:]:
        rs = [r for r in results if r["contender"] == c]
        cells = []
        for n, *_ in GUESTS:
            t = [r["guests"][n]["full"] for r in rs if "full" in r["guests"][n]]
            cells.append(" / ".join(f"{statistics.median(x[i] for x in t):.0f}" for i in (1, 2, 3))
                         if t else "—")
        lat = []
        for key in ("fetch_us", "fetch_us_final"):
            f = [r[key] for r in rs if key in r]
            lat.append(f"{statistics.median(x[0] for x in f)} / {statistics.median(x[1] for x in f)}"
                       if f else "—")
        print(f"| {c} | " + " | ".join(cells) + f" | {lat[0]} | {lat[1]} |")

    lat_rows, lat_ok = latency(l1vmm, a.reps, log)
    ok &= lat_ok
    print("\n## One fault, as the guest sees it (us, first access timed in the guest; medians "
          "over repetitions)")
    print("| mode | what | pages timed per run | p50 | p90 | p99 | x bare |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mode, label, bare_label, t in lat_rows:
        med = [statistics.median(x[i] for x in t) for i in range(5)]
        bare = next((r for r in lat_rows if r[0] == mode and r[1] == bare_label), None)
        ratio = "1" if bare_label == label else (
            f"{med[2] / statistics.median(x[2] for x in bare[3]):.2f}" if bare else "—")
        print(f"| {mode} | {label} | {med[1]:.0f} | {med[2]:.0f} | {med[3]:.0f} | {med[4]:.0f} "
              f"| {ratio} |")
    uffd = bench_uffd(a.build)
    if uffd:
        print(f"| host | userfaultfd round trip between two host threads (bench_uffd) | 4096 x 5 "
              f"| {uffd[0]:.1f} | {uffd[1]:.1f} | {uffd[2]:.1f} | — |")

    print("\n## The store at the end of the rounds (last repetition)")
    for r in results:
        if r["rep"] == a.reps - 1 and "store" in r:
            print(f"- {r['contender']}: " + ", ".join(f"{k} {v}" for k, v in r["store"].items()))

    if not a.no_compress:
        print("\n## Compressors on guest pages (perf/bench_compress), and zram")
        ok &= compressors(a.build)
    log.close()
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    if not ok:
        print("reclaim.py: a guest failed its verification or l1vmm exited non-zero (see the log)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
