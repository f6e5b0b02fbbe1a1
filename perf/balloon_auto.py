#!/usr/bin/env python3
"""balloon/policy=auto against a guest that suddenly grows (issue 6).

    perf/balloon_auto.py [--build BUILD_DIR] [--reps 5] [--mode ept|shadow] [--grow-mb 256]
                         [--interval-ms 100] [--grow-after 20] [--window 15]

Each rep is one fresh l1vmm with three guests, all with balloon=pv:
  idle0, idle1  512 MiB each, workload=churn peak=448M hold=32M: they touch
                448 MiB and free all but 32 MiB, which the host keeps holding
                (l1vmm's RssAnon does not drop) until a balloon takes it;
  grow          GROW + 160 MiB, workload=churn peak=hold=64M grow=GROW: it
                frees nothing, and GROW_AFTER seconds into its hold phase it
                takes and fills GROW MiB more, memory the host never backed
                before, so l1vmm's RssAnon rises by about GROW.
Once the idle guests have freed their memory and a second has passed, the
script takes l1vmm's RssAnon (median of 5 reads) as the settled figure and
sets the artificial watermark balloon/host_limit_mb = settled + GROW / 2:
under it before the growth, over it after. Then balloon/policy=auto. The
other host signals are switched off (low_watermark_mb=0,
psi_some_avg10_pct=0), so only the watermark the script placed drives the
policy; interval_ms is set at start (--interval-ms).

From then on the script reads l1vmm's RssAnon (/proc/PID/status) every 10 ms
and the tree (balloon state, each VM's balloon and the memory it reports
available) every 100 ms, until the growing guest ends its run (WINDOW
seconds after its growth began). Times count from the first read after the
guest's "growing=" line arrived:
  t_over   the first read above the watermark;
  t_back   the read after which RssAnon stayed at or under the watermark
           until the end of the observation;
  t_aim    the first read after t_over at or under the policy's own aim,
           limit - limit/16 (a pressure episode ends there, balloon/policy.c).
Reported per rep: t_back - t_over (the figure asked for), t_aim - t_over,
l1vmm's balloon/last_relief_s (first round that saw pressure to the first
that did not, in whole rounds; the episode ends only at the aim, so while
the guest is still growing each round may find RssAnon above the aim again
and the episode goes on: it is set beside how much of the growth was still
to come at t_over), how long the growth took inside the guest (its own
grow_ms, TSC), the largest overshoot, and what the balloons held (largest,
and at the end). Checks: every guest ends with result=PASS and 0
mismatching words; none was pushed below its floor: each reports at least
the policy's margin (max(margin_mb, margin_pct % of its RAM)) available at
the end, less 2 MiB (a rising target is rounded up to a whole 2 MiB chunk),
and the idle guests, which allocate nothing, at every read; RssAnon was not
over the watermark before the growth began.

The watermark is host_limit_mb only. The MemAvailable watermarks
(low/high_watermark_mb) were tried the same way (low = MemAvailable - GROW / 2)
and left out: on this shared machine MemAvailable moves by hundreds of MiB
within seconds on its own (perf/README.md), far more than a growth of GROW / 2
past the watermark, so what is timed is the neighbours, not the policy.

Output: per-rep lines and a summary of medians (min-max, n).
Exit status: 0; 1 when a guest failed, a guest went below its floor, the
host never got back under the watermark, or the growth began before the
watermark was set (raise --grow-after); 2 on bad options.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
from test_balloon import Run, MIB  # noqa: E402

IDLE = {"idle0": 448, "idle1": 448}      # peak MiB; each keeps 32 MiB, RAM peak + 64
IDLE_HOLD = 32
GROW_HOLD = 64
CHUNK_MB = 2


class TimedRun(Run):
    """Run, with the monotonic time each line arrived; the guests' lines are not echoed."""

    def __init__(self, args, mnt):
        self.times = []
        super().__init__(args, mnt)

    def _read(self):
        for line in self.proc.stdout:
            self.times.append(time.monotonic())
            self.lines.append(line.rstrip("\n"))

    def line_time(self, prefix):
        for t, line in zip(list(self.times), list(self.lines)):
            if line.startswith(prefix):
                return t, line
        return None, None


def unmount(mnt):
    """A killed l1vmm leaves its FUSE mount behind (a stale one fails os.path.ismount)."""
    subprocess.run(["fusermount3", "-u", mnt], check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def vm_line(name, rest):
    return f"[{name}] churn: {rest}"


class Limit:
    """The artificial watermark: balloon/host_limit_mb, a budget for l1vmm's RssAnon."""

    def __init__(self, run, grow_mb):
        self.run = run
        self.settled = settle(lambda: run.rss_anon() / MIB)
        self.mark = int(self.settled + grow_mb / 2)
        self.gap = self.mark / 16          # the policy aims at mark - mark / 16

    def set(self):
        self.run.write("balloon/host_limit_mb", self.mark)

    def over(self):
        """MiB over the watermark (> 0: over)."""
        return self.run.rss_anon() / MIB - self.mark

    def __str__(self):
        return (f"RssAnon settled {self.settled:.0f} MiB, host_limit_mb {self.mark} "
                f"(aim {self.mark - self.gap:.0f})")


def settle(read):
    """The median of 5 reads 50 ms apart."""
    xs = []
    for _ in range(5):
        xs.append(read())
        time.sleep(0.05)
    return statistics.median(xs)


def margin_mb(run, mem_mb):
    return max(run.num("balloon/margin_mb"), mem_mb * run.num("balloon/margin_pct") // 100)


def one_rep(a, rep):
    l1vmm = os.path.join(a.build, "l1vmm", "l1vmm")
    grow_mem = a.grow_mb + GROW_HOLD + 96
    mems = {n: p + 64 for n, p in IDLE.items()}
    mems["grow"] = grow_mem
    seconds = a.grow_after + a.window
    cmd = [l1vmm, "run", "--timeout", str(seconds + 120)]
    for n, peak in IDLE.items():
        cmd += ["--vm", f"name={n},mem={mems[n]}M,mode={a.mode},cmdline=\"workload=churn "
                f"peak={peak}M hold={IDLE_HOLD}M seconds={seconds} seed={rep + 1} balloon=pv\""]
    cmd += ["--vm", f"name=grow,mem={grow_mem}M,mode={a.mode},cmdline=\"workload=churn "
            f"peak={GROW_HOLD}M hold={GROW_HOLD}M seconds={seconds} grow={a.grow_mb}M "
            f"grow_after={a.grow_after} seed={rep + 1} balloon=pv\""]
    cmd += ["--set", f"balloon/interval_ms={a.interval_ms}", "--set", "balloon/low_watermark_mb=0",
            "--set", "balloon/psi_some_avg10_pct=0"]
    res = {"rep": rep, "ok": True, "why": []}

    def fail(why):
        res["ok"] = False
        res["why"].append(why)
        print(f"rep {rep}: FAIL {why}", flush=True)

    with tempfile.TemporaryDirectory(prefix="l1vmm-balloon-auto-") as mnt:
        run = TimedRun(cmd, mnt)
        for n in mems:
            if not run.wait_line(f"^\\[{n}\\] churn: peak=.* mismatches=0 ", 120):
                fail(f"{n} did not get through its peak phase")
        if res["ok"]:
            time.sleep(1)
            mark = Limit(run, a.grow_mb)
            margins = {n: margin_mb(run, m) for n, m in mems.items()}
            idle_avail = {n: run.num(f"vms/{n}/balloon/guest/available_mb") for n in mems}
            mark.set()
            run.write("balloon/policy", "auto")
            t_set = time.monotonic()
            t_grow, _ = run.line_time(vm_line("grow", "growing="))
            if t_grow is not None:
                fail(f"the growth began before the watermark was set: raise --grow-after "
                     f"(now {a.grow_after})")
            res.update(idle_avail=idle_avail)
            print(f"rep {rep}: {mark}; guests' available {idle_avail} MiB", flush=True)
        if not res["ok"]:
            run.proc.kill()
            run.finish(30)
            unmount(mnt)
            print("\n".join("  | " + ln for ln in run.lines[-30:]), flush=True)
            return res
        observe(run, res, a, mark, margins, t_set)
        rc = run.finish(seconds + 120)
        unmount(mnt)
        for n in mems:
            m = run.wait_line(f"^\\[{n}\\] churn: rounds=[0-9]+ mismatches=([0-9]+) ", 1)
            if m is None or m.group(1) != "0":
                fail(f"{n} did not end with 0 mismatches ({m.group(0) if m else 'no final line'})")
            if run.wait_line(f"^\\[{n}\\] l1guest: workload=churn result=PASS", 1) is None:
                fail(f"{n} did not end with result=PASS")
        if rc != 0:
            fail(f"l1vmm exited {rc}")
        if not res["ok"]:
            print("\n".join("  | " + ln for ln in run.lines[-30:]), flush=True)
    return res


def observe(run, res, a, mark, margins, t_set):
    """Poll until the growing guest ends its run; fill res with the timings."""
    samples = []                     # (t, MiB over the watermark)
    tree = {}                        # last tree read
    min_avail = {n: None for n in margins}
    max_balloon = {n: 0 for n in margins}
    next_tree = 0.0
    end = time.monotonic() + a.grow_after + a.window + 60
    while time.monotonic() < end:
        now = time.monotonic()
        try:
            samples.append((now, mark.over()))
        except OSError:
            break
        if now >= next_tree:
            next_tree = now + 0.1
            try:
                snap = {"state": run.read("balloon/state"), "relief": run.read("balloon/last_relief_s"),
                        "steps": run.num("balloon/steps"), "reasons": run.read("balloon/reasons")}
                for n in margins:
                    snap[n] = (run.num(f"vms/{n}/balloon/actual_mb"),
                               run.num(f"vms/{n}/balloon/guest/available_mb"))
                tree = snap
                for n in margins:
                    got, avail = snap[n]
                    min_avail[n] = avail if min_avail[n] is None else min(min_avail[n], avail)
                    max_balloon[n] = max(max_balloon[n], got)
            except (OSError, ValueError):
                pass
        if run.line_time(vm_line("grow", "rounds="))[0] is not None:
            break
        time.sleep(0.01)
    t_grow, _ = run.line_time(vm_line("grow", "growing="))
    _, grew = run.line_time(vm_line("grow", "grew="))
    t_end = samples[-1][0] if samples else time.monotonic()
    grow_ms = int(grew.split("grow_ms=")[1].split()[0]) if grew else None
    early = [x for t, x in samples if x > 0 and (t_grow is None or t < t_grow)]
    after = [(t, x) for t, x in samples if t_grow is not None and t >= t_grow]
    t_over = next((t for t, x in after if x > 0), None)
    last_over = max((t for t, x in after if x > 0), default=None)
    t_back = next((t for t, x in after if last_over is not None and t > last_over), None)
    t_aim = next((t for t, x in after if t_over is not None and t > t_over and x <= -mark.gap), None)
    peak = max((x for _, x in after), default=float("nan"))
    res.update(grow_ms=grow_ms, peak=peak, tree=tree, min_avail=min_avail, margins=margins,
               max_balloon=max_balloon, n_samples=len(samples))
    if t_grow is None or grow_ms is None:
        res["ok"] = False
        res["why"].append("the growing guest did not report its growth")
        return
    if early:
        res["ok"] = False
        res["why"].append(f"the watermark was crossed {len(early)} times before the growth began "
                          f"(by up to {max(early):.0f} MiB): something else moved it")
    if t_over is None:
        res["ok"] = False
        res["why"].append(f"the growth never took the host over the watermark "
                          f"(closest {peak:.0f} MiB)")
        return
    res["t_over"] = t_over - t_grow
    if t_back is None:
        res["ok"] = False
        res["why"].append(f"still over the watermark at the end ({samples[-1][1]:.0f} MiB)")
    else:
        res["back"] = t_back - t_over
        res["stayed"] = t_end - t_back
    res["aim"] = t_aim - t_over if t_aim else None
    # how much of the growth was still to come when the watermark was crossed
    res["grow_left"] = grow_ms / 1000 - res["t_over"]
    try:
        res["relief"] = float(tree.get("relief", "none"))
    except ValueError:
        res["relief"] = None
    for n, m in margins.items():
        end_avail = tree.get(n, (0, 0))[1]
        if end_avail < m - CHUNK_MB:
            res["ok"] = False
            res["why"].append(f"{n} was left {end_avail} MiB available, under its {m} MiB margin")
        if n.startswith("idle") and min_avail[n] is not None and min_avail[n] < m - CHUNK_MB:
            res["ok"] = False
            res["why"].append(f"{n} went down to {min_avail[n]} MiB available, under its {m} MiB margin")

    def r3(x):
        return "none" if x is None else f"{x:.3f}"
    print(f"rep {res['rep']}: the growth began {t_grow - t_set:.1f} s after the watermark was set "
          f"and took {grow_ms} ms in the guest; over the watermark {r3(res['t_over'])} s into it "
          f"(by up to {peak:.0f} MiB), back under after {r3(res.get('back'))} s (and stayed "
          f"{res.get('stayed', 0):.1f} s), at the aim after {r3(res['aim'])} s; last_relief_s "
          f"{tree.get('relief')}, the growth went on {r3(res['grow_left'])} s after the crossing; "
          f"balloons (largest, end) and available at the end, MiB: "
          + ", ".join(f"{n} ({max_balloon[n]}, {tree.get(n, ('?',))[0]}) {tree.get(n, (0, '?'))[1]}"
                      for n in margins)
          + f"; least available {min_avail}; {tree.get('steps')} rounds; {len(samples)} reads",
          flush=True)


def med(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "none"
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f}, n={len(xs)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--mode", choices=["ept", "shadow"], default="ept")
    ap.add_argument("--grow-mb", type=int, default=256)
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--grow-after", type=int, default=20,
                    help="seconds into its hold phase before the guest grows")
    ap.add_argument("--window", type=int, default=15,
                    help="seconds the guests run after the growth began")
    a = ap.parse_args()
    if a.grow_mb <= 0 or a.grow_mb % CHUNK_MB or a.reps < 1 or not 50 <= a.interval_ms <= 60000:
        ap.error("--grow-mb must be a positive multiple of 2, --reps >= 1, "
                 "--interval-ms 50..60000")
    if not os.path.exists(os.path.join(a.build, "l1vmm", "l1vmm")):
        ap.error(f"no l1vmm under {a.build}: build first (cmake --build build)")
    print(f"mode {a.mode}, grow {a.grow_mb} MiB, interval_ms {a.interval_ms}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    rows = [one_rep(a, rep) for rep in range(a.reps)]
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    good = [r for r in rows if "back" in r]
    print(f"\n{a.mode}, grow {a.grow_mb} MiB, interval {a.interval_ms} ms; seconds, median "
          f"(min-max, n):")
    print(f"  back under the watermark (t_back - t_over)  {med([r['back'] for r in good])}")
    print(f"  under the policy's aim (t_aim - t_over)     {med([r.get('aim') for r in good])}")
    print(f"  l1vmm balloon/last_relief_s                 {med([r.get('relief') for r in good])}")
    print(f"  over the watermark, from the growth's start {med([r.get('t_over') for r in good])}")
    print(f"  the growth in the guest (grow_ms / 1000)    "
          f"{med([r['grow_ms'] / 1000 for r in good if r.get('grow_ms') is not None])}")
    print(f"  the growth still to come at t_over          {med([r.get('grow_left') for r in good])}")
    print(f"  largest overshoot of the watermark, MiB     {med([r['peak'] for r in good])}")
    for n in list(IDLE) + ["grow"]:
        print(f"  largest balloon, {n:5} MiB                 "
              f"{med([r['max_balloon'][n] for r in good])}")
        print(f"  balloon at the end, {n:5} MiB              "
              f"{med([r['tree'][n][0] for r in good if n in r['tree']])}")
    bad = [r for r in rows if not r["ok"]]
    for r in bad:
        print(f"rep {r['rep']} failed: {'; '.join(r['why'])}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
