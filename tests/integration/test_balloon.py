#!/usr/bin/env python3
"""Ballooning, end to end: guests running workload=churn under l1vmm's balloon.

    test_balloon.py --l1vmm PATH --mode ept|shadow --device pv|virtio --case CASE

Cases:
  inflate  one guest touches 192M, frees all but 32M (churn), and verifies
           what it holds throughout. l1vmm sets a 128M target: the balloon
           reaches it, and the host memory behind the guest drops by as much,
           measured on the host (resident pages of the guest's RAM through
           mincore, and the process's RssAnon). The kernel then reads a chunk
           it gave back (the hostile case): zeros. The target goes back to 0:
           the balloon deflates. At the end the guest verified every byte it
           held with 0 mismatches and exited 0.
  report   (virtio) free page reporting alone, the balloon's target left at
           0: one guest with 2 vCPUs touches 160M and frees all but 32M
           (churn); within a report interval l1vmm counts about 128M reported
           (vms/vm0/balloon/reported_mb), and the resident host memory behind
           the guest (mincore) and l1vmm's RssAnon drop by as much from their
           peak, with the balloon still empty; churn keeps verifying what it
           holds (0 mismatches) and its exact free-frame count holds.
  oom      the guest boots with a 160M target, then allocates 192M: it must
           take memory back from its balloon on its own (deflate on OOM);
           l1vmm counts it, and the guest's data is intact.
  dedup    two guests in one page sharing domain under l1vmm's engine, the
           same churn with the same seed: g holds 32M of its 192M peak and
           balloons, twin holds all 192M and verifies it every second. Their
           equal pages are shared (one copy for both). g's balloon takes 128M
           of the frames it freed, most of them shared with twin's held data:
           each leaves its copy before its memory goes, so g's shared frames
           drop by about 128M while the copies twin maps stay, twin keeps
           verifying its 192M with 0 mismatches, the engine's invariants hold
           (dedup/check), and g's hostile read of a given-back chunk sees
           zeros. Then g deflates and both verify to the end.
  auto     three guests with different idle memory under balloon/policy=auto
           and an artificial host limit (balloon/host_limit_mb): the guests'
           resident memory comes under the limit, the balloons are in
           proportion to the idle memory (within a tolerance), and no guest is
           pushed below its working set plus the margin.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_run import need_kvm  # noqa: E402

MIB = 1 << 20
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


class Run:
    """l1vmm with a live tree; stdout collected by a thread."""

    def __init__(self, args, mnt):
        self.mnt = mnt
        self.lines = []
        args = args[:2] + ["--sysfs", mnt] + args[2:]  # before the guest's "--"
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            print("  | " + line.rstrip("\n"), flush=True)

    def wait_line(self, pattern, timeout):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(self.lines):
                m = rx.search(line)
                if m:
                    return m
            if self.proc.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.05)
        return None

    def read(self, path):
        with open(os.path.join(self.mnt, path)) as f:
            return f.read().strip()

    def write(self, path, value):
        with open(os.path.join(self.mnt, path), "w") as f:
            f.write(str(value))

    def num(self, path):
        return int(self.read(path))

    def wait_value(self, path, want, timeout):
        end = time.monotonic() + timeout
        v = None
        while time.monotonic() < end:
            try:
                v = self.num(path)
            except (OSError, ValueError):
                v = None
            if v == want:
                return True
            time.sleep(0.05)
        print(f"  {path} = {v}, waited for {want}", flush=True)
        return False

    def rss_anon(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        return 0

    def finish(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.reader.join(timeout=5)
        return rc


def churn_ok(run, vm=None):
    prefix = f"\\[{vm}\\] " if vm else ""
    m = run.wait_line(f"^{prefix}churn: rounds=[0-9]+ mismatches=([0-9]+) ", 1)
    check(m is not None and m.group(1) == "0",
          f"{vm or 'the guest'} verified what it held with 0 mismatches")
    check(run.wait_line(f"^{prefix}l1guest: workload=churn result=PASS", 1) is not None,
          f"{vm or 'the guest'}: workload=churn result=PASS")


def check_released(pop_drop, rss_drop):
    """The host got back at least 120 MiB, seen two ways: the guest's resident
    RAM (vms/NAME/stats/mem_populated) and l1vmm's RssAnon."""
    check(pop_drop >= 120 * MIB,
          f"the guest's resident host memory dropped by >= 120 MiB ({pop_drop / MIB:.1f})")
    check(rss_drop >= 120 * MIB, f"l1vmm's RssAnon dropped by >= 120 MiB ({rss_drop / MIB:.1f})")


def case_inflate(a, mnt):
    # free page reporting off: it would release the freed memory before the
    # balloon takes it, and this case measures what inflating releases
    cmd = [a.l1vmm, "run", "--mode", a.mode, "--mem", "256M", "--timeout", "120", "--",
           "workload=churn", "peak=192M", "hold=32M", "seconds=12", "touch_balloon=1",
           f"balloon={a.device}" + (",page_reporting=0" if a.device == "virtio" else "")]
    run = Run(cmd, mnt)
    freed = run.wait_line(r"^churn: peak=.* returned_frames=([0-9]+) mismatches=0 ", 90)
    check(freed is not None, "the guest touched 192M and freed 160M")
    if freed:
        time.sleep(0.5)
        check(run.read("vms/vm0/balloon/device") == a.device,
              f"the guest's balloon driver is {a.device}")
        pop0, rss0 = run.num("vms/vm0/stats/mem_populated"), run.rss_anon()
        t0 = time.monotonic()
        run.write("vms/vm0/balloon/target_mb", 128)
        check(run.wait_value("vms/vm0/balloon/actual_mb", 128, 20),
              "the balloon reached its 128M target")
        took = time.monotonic() - t0
        time.sleep(0.2)
        pop1, rss1 = run.num("vms/vm0/stats/mem_populated"), run.rss_anon()
        print(f"  inflate 128M: {took:.2f} s; resident guest RAM {pop0 / MIB:.1f} -> "
              f"{pop1 / MIB:.1f} MiB, RssAnon {rss0 / MIB:.1f} -> {rss1 / MIB:.1f} MiB", flush=True)
        check_released(pop0 - pop1, rss0 - rss1)
        touch = run.wait_line(r"^churn: balloon_touch balloon_bytes=([0-9]+) nonzero_bytes=(-?[0-9]+)", 15)
        check(touch is not None and touch.group(2) == "0",
              "the hostile guest read zeros from frames it gave back")
        if a.mode == "shadow":
            # not present in the shadows: each of the two pages touched faulted into l1vmm
            touches = run.num("vms/vm0/shadow/ballooned_touches")
            check(touches == 2, f"shadow: the touched ballooned frames faulted into l1vmm "
                  f"({touches} touches, want 2)")
        run.write("vms/vm0/balloon/target_mb", 0)
        check(run.wait_value("vms/vm0/balloon/actual_mb", 0, 20), "the balloon deflated to 0")
        check(run.num("vms/vm0/balloon/refusals") == 0, "l1vmm refused nothing")
        if a.device == "virtio":
            check(run.num("vms/vm0/balloon/reported_mb") == 0,
                  "page_reporting=0: the guest reported nothing")
    rc = run.finish(120)
    churn_ok(run)
    check(rc == 0, f"l1vmm exited 0 (got {rc})")


class Sampler:
    """Highest resident guest RAM and RssAnon seen, sampled every 20 ms."""

    def __init__(self, run):
        self.run, self.pop, self.rss = run, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop.wait(0.02):
            try:
                self.pop = max(self.pop, self.run.num("vms/vm0/stats/mem_populated"))
            except (OSError, ValueError):
                pass
            self.rss = max(self.rss, self.run.rss_anon())

    def peaks(self):
        self.stop.set()
        self.thread.join()
        return self.pop, self.rss


def case_report(a, mnt):
    # grow=160M at t=6 s: more than the guest's never-reported free memory, so
    # the growth takes back chunks the host discarded (they must come back
    # with the guest's bytes, and the host must back them again)
    cmd = [a.l1vmm, "run", "--mode", a.mode, "--mem", "256M", "--vcpus", "2", "--timeout", "60",
           "--", "workload=churn", "peak=160M", "hold=32M", "seconds=10", "grow=160M",
           "grow_after=6", "balloon=virtio"]
    run = Run(cmd, mnt)
    sampler = Sampler(run)
    freed = run.wait_line(r"^churn: peak=.* after=([0-9]+) returned_frames=([0-9]+) mismatches=0 ", 40)
    check(freed is not None, "the guest touched 160M, freed 128M and counted every frame back")
    if freed:
        free_after = int(freed.group(1)) * 4096
        t0 = time.monotonic()
        end = t0 + 8
        reported = 0
        while time.monotonic() < end and reported < 128:
            reported = run.num("vms/vm0/balloon/reported_mb")
            time.sleep(0.05)
        took = time.monotonic() - t0
        time.sleep(0.3)  # the last release and the RSS accounting settle
        pop0, rss0 = sampler.peaks()
        pop1, rss1 = run.num("vms/vm0/stats/mem_populated"), run.rss_anon()
        reported = run.num("vms/vm0/balloon/reported_mb")
        print(f"  reported_mb {reported} ({took:.2f} s after the frees); resident guest RAM "
              f"peak {pop0 / MIB:.1f} -> {pop1 / MIB:.1f} MiB, RssAnon peak {rss0 / MIB:.1f} -> "
              f"{rss1 / MIB:.1f} MiB", flush=True)
        check(120 <= reported <= 136, f"l1vmm counted about the 128M freed as reported ({reported})")
        check_released(pop0 - pop1, rss0 - rss1)
        check(run.num("vms/vm0/balloon/actual_mb") == 0, "the balloon stayed empty: reporting did it")
        check(run.num("vms/vm0/balloon/refusals") == 0, "l1vmm refused nothing")
        unreported = free_after - reported * MIB
        check(unreported < 160 * MIB,
              f"the growth cannot fit in never-reported free memory ({unreported / MIB:.0f} MiB)")
        check(not any(line.startswith("churn: growing=") for line in list(run.lines)),
              "the figures above were taken before the guest grew (reporting took < 6 s)")
        grew = run.wait_line(r"^churn: grew=([0-9]+) .* mismatches=0$", 30)
        check(grew is not None and int(grew.group(1)) == 160 * MIB,
              "the guest grew by 160M into reported chunks, its bytes intact")
        if grew:
            time.sleep(0.3)
            pop2, rss2 = run.num("vms/vm0/stats/mem_populated"), run.rss_anon()
            print(f"  after the growth: resident guest RAM {pop2 / MIB:.1f} MiB, RssAnon "
                  f"{rss2 / MIB:.1f} MiB", flush=True)
            check(pop2 - pop1 >= 150 * MIB,
                  f"the host backs the reused chunks again ({(pop2 - pop1) / MIB:.1f} MiB more)")
    rc = run.finish(60)
    check(run.wait_line(r"^churn: t=(9|10) mismatches=0 ", 1) is not None,
          "churn verified what it held, the growth included, to the end")
    churn_ok(run)
    check(rc == 0, f"l1vmm exited 0 (got {rc})")


def case_oom(a, mnt):
    cmd = [a.l1vmm, "run", "--mode", a.mode, "--mem", "256M", "--timeout", "120",
           "--set", "vms/vm0/balloon/target_mb=160", "--",
           "workload=churn", "peak=192M", "hold=32M", "seconds=3", f"balloon={a.device}"]
    run = Run(cmd, mnt)
    freed = run.wait_line(r"^churn: peak=.* mismatches=0 ", 90)
    check(freed is not None, "the guest allocated 192M past its 160M balloon")
    if freed:
        oom = run.num("vms/vm0/balloon/oom_deflated_mb")
        print(f"  oom_deflated_mb={oom} actual_mb={run.read('vms/vm0/balloon/actual_mb')}", flush=True)
        check(oom > 0, f"l1vmm saw the guest deflate on OOM ({oom} MiB)")
    rc = run.finish(120)
    churn_ok(run)
    check(rc == 0, f"l1vmm exited 0 (got {rc})")


def rss_total(run):
    """RssAnon + RssShmem of l1vmm: ept mode keeps shared copies in a memfd."""
    total = 0
    with open(f"/proc/{run.proc.pid}/status") as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssShmem:")):
                total += int(line.split()[1]) * 1024
    return total


def start_twins(a, mnt, seconds, g_keys):
    """Two churn guests in one sharing domain under l1vmm's engine: g keeps
    32M of the 192M it touched (g_keys: its balloon= and other keys), twin
    keeps all 192M; both have touched it when this returns."""
    churn = f"workload=churn peak=192M seconds={seconds} seed=5"
    cmd = [a.l1vmm, "run", "--timeout", "150", "--set", "dedup/run=1",
           "--set", "dedup/backend=l1vmm", "--set", "dedup/pages_to_scan=8000",
           "--set", "dedup/sleep_millisecs=20",
           "--vm", f"name=g,mem=256M,mode={a.mode},domain=t,cmdline=\"{churn} hold=32M "
           f"{g_keys}\"",
           "--vm", f"name=twin,mem=256M,mode={a.mode},domain=t,cmdline=\"{churn} hold=192M\""]
    run = Run(cmd, mnt)
    for name in ("g", "twin"):
        check(run.wait_line(f"^\\[{name}\\] churn: peak=.* mismatches=0 ", 90) is not None,
              f"{name} touched 192M")
    return run


def case_dedup(a, mnt):
    # No free page reporting: it would discard g's 160M of freed twins of
    # twin's memory within 2 s, racing the engine for them (a CI run lost;
    # case_dedup_report is that race)
    reporting = ",page_reporting=0" if a.device == "virtio" else ""
    run = start_twins(a, mnt, 25, f"touch_balloon=1 balloon={a.device}{reporting}")
    # wait for the engine to share what the twins have in common
    page = 4096
    end = time.monotonic() + 40
    shared = 0
    while time.monotonic() < end and shared < 150 * MIB:
        time.sleep(0.5)
        shared = run.num("vms/g/dedup/pages_shared") * page
    check(shared >= 150 * MIB, f"g shares >= 150 MiB with its twin ({shared / MIB:.0f} MiB)")
    # and until the engine has (nearly) converged: frames it shares during the
    # inflate would hide those the balloon took off their copies (a CI run
    # inflated at 151 of g's 192 MiB and saw only 86 MiB leave)
    prev = -1
    while time.monotonic() < end and shared < 185 * MIB and shared - prev >= MIB:
        time.sleep(1)
        prev, shared = shared, run.num("vms/g/dedup/pages_shared") * page
    print(f"  g shares {shared / MIB:.0f} MiB before the inflate", flush=True)
    copies0 = run.num("dedup/pages_shared")
    rss0 = rss_total(run)
    t0 = time.monotonic()
    run.write("vms/g/balloon/target_mb", 128)
    check(run.wait_value("vms/g/balloon/actual_mb", 128, 30), "g's balloon reached 128M")
    took = time.monotonic() - t0
    time.sleep(0.5)
    shared1 = run.num("vms/g/dedup/pages_shared") * page
    copies1 = run.num("dedup/pages_shared")
    rss1 = rss_total(run)
    print(f"  inflate 128M under page sharing: {took:.2f} s; g's shared frames "
          f"{shared / MIB:.0f} -> {shared1 / MIB:.0f} MiB; copies {copies0} -> {copies1}; "
          f"l1vmm RssAnon+RssShmem {rss0 / MIB:.0f} -> {rss1 / MIB:.0f} MiB (a copy mapped "
          f"twice counts twice)", flush=True)
    check(shared - shared1 >= 100 * MIB,
          f"g's ballooned frames left their copies ({(shared - shared1) / MIB:.0f} MiB)")
    check(copies1 >= copies0 * 0.9,
          f"the copies twin still maps stay ({copies0} -> {copies1})")
    check(run.read("dedup/check") == "ok", "dedup/check: every counter and copy agrees with the p2m")
    touch = run.wait_line(r"^\[g\] churn: balloon_touch balloon_bytes=([0-9]+) nonzero_bytes=(-?[0-9]+)", 20)
    check(touch is not None and touch.group(2) == "0",
          "g's hostile read of frames it gave back saw zeros")
    run.write("vms/g/balloon/target_mb", 0)
    check(run.wait_value("vms/g/balloon/actual_mb", 0, 20), "g's balloon deflated to 0")
    check(run.num("vms/g/balloon/refusals") == 0,
          f"l1vmm refused nothing ({run.read('vms/g/balloon/last_refusal')})")
    time.sleep(1)
    check(run.read("dedup/check") == "ok", "dedup/check still ok after the deflate")
    rc = run.finish(150)
    churn_ok(run, "g")
    churn_ok(run, "twin")
    check(rc == 0, f"l1vmm exited 0 (got {rc})")


def case_dedup_report(a, mnt):
    """Free page reporting under page sharing: g frees 160M of twins of twin's
    memory and reports it; the reported frames leave their copies, the ones
    twin maps stay, and both guests keep their bytes."""
    run = start_twins(a, mnt, 10, f"balloon={a.device}")
    check(run.wait_value("vms/g/balloon/reported_mb", 160, 8), "g reported the 160M it freed")
    # the engine may or may not have shared the freed frames before the report
    # took them; either way, twin's 192M end up shared with g's 32M held and
    # with nothing of g's reported frames
    page = 4096
    end = time.monotonic() + 5
    twin = 0
    while time.monotonic() < end and twin < 150 * MIB:
        time.sleep(0.2)
        twin = run.num("vms/twin/dedup/pages_shared") * page
    g = run.num("vms/g/dedup/pages_shared") * page
    print(f"  after the report: g shares {g / MIB:.1f} MiB, twin {twin / MIB:.1f} MiB; "
          f"copies {run.num('dedup/pages_shared')}", flush=True)
    check(g <= 40 * MIB, f"g's reported frames share nothing ({g / MIB:.1f} MiB shared)")
    check(twin >= 150 * MIB, f"twin's memory is still shared ({twin / MIB:.1f} MiB)")
    check(run.read("dedup/check") == "ok", "dedup/check: every counter and copy agrees with the p2m")
    check(run.num("vms/g/balloon/actual_mb") == 0, "the balloon stayed empty: reporting did it")
    rc = run.finish(60)
    churn_ok(run, "g")
    churn_ok(run, "twin")
    check(rc == 0, f"l1vmm exited 0 (got {rc})")


def case_auto(a, mnt):
    holds = {"a": 32, "b": 96, "c": 160}
    cmd = [a.l1vmm, "run", "--timeout", "150"]
    for name, hold in holds.items():
        cmd += ["--vm", f"name={name},mem=256M,mode={a.mode},cmdline=\"workload=churn peak=192M "
                f"hold={hold}M seconds=40 balloon={a.device}\""]
    cmd += ["--set", "balloon/interval_ms=200"]
    run = Run(cmd, mnt)
    for name in holds:
        check(run.wait_line(f"^\\[{name}\\] churn: peak=.* mismatches=0 ", 90) is not None,
              f"{name} touched 192M and kept {holds[name]}M")
    time.sleep(1)
    idle = {n: run.num(f"vms/{n}/balloon/guest/available_mb") for n in holds}
    rss = run.rss_anon() // MIB
    limit = rss - 150
    print(f"  idle (guest available) {idle}, RssAnon {rss} MiB, host_limit_mb {limit}", flush=True)
    run.write("balloon/host_limit_mb", limit)
    run.write("balloon/policy", "auto")
    t0 = time.monotonic()
    under = False
    while time.monotonic() - t0 < 40 and not under:
        time.sleep(0.2)
        state, rss_now = run.read("balloon/state"), run.rss_anon() // MIB
        under = state != "pressure" and run.num("balloon/steps") > 0 and rss_now <= limit
    print(f"  state {state}, need {run.read('balloon/need_mb')} MiB, RssAnon {rss_now} MiB, "
          f"reasons {run.read('balloon/reasons')}", flush=True)
    took = time.monotonic() - t0
    check(under, f"auto brought the guests' memory under the {limit} MiB limit ({took:.1f} s)")
    time.sleep(1)
    got = {n: run.num(f"vms/{n}/balloon/actual_mb") for n in holds}
    avail = {n: run.num(f"vms/{n}/balloon/guest/available_mb") for n in holds}
    print(f"  balloons {got} MiB; guests' available memory now {avail}; reasons "
          f"{run.read('balloon/reasons')}; RssAnon {run.rss_anon() // MIB} MiB", flush=True)
    check(got["a"] > got["b"] > got["c"],
          "the guest with the most idle memory gave the most, the least idle the least")
    margin = 64
    expect = {n: max(idle[n] - margin, 0) for n in holds}
    total = sum(expect.values())
    for n in holds:
        share = got[n] / max(sum(got.values()), 1)
        check(abs(share - expect[n] / total) <= 0.12,
              f"{n}'s share of the squeeze {share:.2f} is its share of idle memory "
              f"{expect[n] / total:.2f} (+-0.12)")
        check(avail[n] >= margin - 6,
              f"{n} kept its working set plus the {margin} MiB margin ({avail[n]} MiB available)")
    rc = run.finish(150)
    for name in holds:
        churn_ok(run, name)
    check(rc == 0, f"l1vmm exited 0 (got {rc})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", required=True)
    ap.add_argument("--mode", choices=["ept", "shadow"], required=True)
    ap.add_argument("--device", choices=["pv", "virtio"], default="pv")
    ap.add_argument("--case", choices=["inflate", "report", "oom", "auto", "dedup",
                                       "dedup_report"],
                    required=True)
    a = ap.parse_args()
    need_kvm()
    with tempfile.TemporaryDirectory(prefix="l1vmm-balloon-") as mnt:
        {"inflate": case_inflate, "report": case_report, "oom": case_oom,
         "auto": case_auto, "dedup": case_dedup, "dedup_report": case_dedup_report}[a.case](a, mnt)
    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        return 1
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
