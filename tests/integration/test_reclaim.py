#!/usr/bin/env python3
"""Host reclaim, end to end: guests running workload=hotcold (or churn) under
l1vmm's reclaim, through the live tree.

    test_reclaim.py --l1vmm PATH --mode ept|shadow --case CASE

Cases:
  store    one guest writes 48M, then rewrites and verifies 4M round after
           round; reclaim/host_limit_mb 24: its cold memory goes to the store
           (pages_compressed, evictions), the guest's full verification at
           10 s reads it back (fetches), and the guest ends with 0 mismatches.
  three    three guests touch 3x reclaim/host_limit_mb between them: after
           the fill, l1vmm's resident guest memory stays within one round of
           the limit, measured by l1vmm (mincore, reclaim/guest_resident_mb)
           and from outside (the process's RssAnon less the store's own
           memory, against what the guests touched); all verify with 0
           mismatches.
  refuse   a store capped at 1 MiB (hotcold), then a 1 MiB swap file with
           incompressible pages (workload=dup, all unique): the store refuses
           (store_refusals > 0), says so once on stderr, the pages stay
           resident, and the guest verifies every page.
  kill     two guests; while the store holds pages of both and the survivor
           keeps fetching, one is stopped (vms/NAME/stop): the other loses
           nothing (0 mismatches), l1vmm exits 137 (the stopped VM's status).
  balloon  a guest with a PV balloon and idle memory under balloon/policy
           auto and reclaim/run 1, both with the same host limit: the balloon
           covers the need and reclaim stays idle (0 evictions); then a limit
           below what the balloon can give: the balloon stops at its floor and
           reclaim takes the rest.
"""
import argparse
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_run import need_kvm  # noqa: E402
from test_balloon import Run, check, failures  # noqa: E402

MIB = 1 << 20
FAST = ["--set", "reclaim/run=1", "--set", "reclaim/interval_ms=200",
        "--set", "reclaim/delay_ms=0"]


def hotcold_ok(run, name=None, timeout=60):
    prefix = f"\\[{name}\\] " if name else ""
    m = run.wait_line(f"^{prefix}hotcold: rounds=[0-9]+ rounds_per_s=\\S+ mismatches=([0-9]+) ",
                      timeout)
    check(m is not None and m.group(1) == "0",
          f"{name or 'the guest'} verified every page with 0 mismatches")
    check(run.wait_line(f"^{prefix}l1guest: workload=hotcold result=PASS", 1) is not None,
          f"{name or 'the guest'}: workload passed")


def wait_num(run, path, pred, timeout):
    end = time.monotonic() + timeout
    v = None
    while time.monotonic() < end:
        try:
            v = run.num(path)
        except (OSError, ValueError):
            v = None
        if v is not None and pred(v):
            return v
        time.sleep(0.1)
    print(f"  {path} = {v} after {timeout} s", flush=True)
    return None


def case_store(a, mnt):
    cmd = [a.l1vmm, "run", "--timeout", "90", "--mode", a.mode, "--mem", "96M",
           "--set", "reclaim/host_limit_mb=24"] + FAST + \
          ["--", "workload=hotcold", "size=48M", "hot=4M", "seconds=12"]
    run = Run(cmd, mnt)
    got = wait_num(run, "reclaim/pages_compressed", lambda v: v >= 4096, 30)
    check(got is not None, "cold pages went to the store (16M or more)")
    check(run.read("reclaim/state") in ("reclaiming", "idle"),
          f"reclaim/state is {run.read('reclaim/state')}")
    ratio = run.read("reclaim/compression_ratio")
    check(ratio != "none" and float(ratio) > 1.3, f"the store compresses them ({ratio}x)")
    # the tree goes with the guest: read it while waiting for the line
    seen, end = {}, time.monotonic() + 30
    while time.monotonic() < end and run.proc.poll() is None and \
            not any(ln.startswith("hotcold: full_verify=1 ") for ln in list(run.lines)):
        try:
            seen = {k: run.num(p) for k, p in (
                ("fetches", "vms/vm0/reclaim/fetches"), ("pre", "vms/vm0/reclaim/prefetches"),
                ("p50", "reclaim/fetch_us_p50"), ("p99", "reclaim/fetch_us_p99"),
                ("evictions", "reclaim/evictions"), ("refaults", "reclaim/refaults"),
                ("errors", "reclaim/errors"))}
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    check(run.wait_line("^hotcold: full_verify=1 pages=12288 mismatches=0 ", 1) is not None,
          "the full verification read the cold pages back, byte-exact")
    fetched = seen.get("fetches", 0) + seen.get("pre", 0)
    check(fetched > 1000, f"reading them fetched them from the store ({fetched} fetches and "
          "prefetches by the last reading before the verification's line)")
    p50, p99 = seen.get("p50", 0), seen.get("p99", 0)
    print(f"  fetch latency p50 {p50} us, p99 {p99} us; evictions {seen.get('evictions')}, "
          f"prefetches {seen.get('pre')}, refaults {seen.get('refaults')}", flush=True)
    check(0 < p50 <= p99, "fetch latency figures are there")
    check(seen.get("errors") == 0, "no reclaim errors")
    rc = run.finish(90)
    hotcold_ok(run)
    check(rc == 0, f"l1vmm exited 0 (got {rc})")


def case_three(a, mnt):
    limit, size = 48, 48
    cmd = [a.l1vmm, "run", "--timeout", "120", "--set", f"reclaim/host_limit_mb={limit}"] + FAST
    names = ["g0", "g1", "g2"]
    for k, name in enumerate(names):
        cmd += ["--vm", f"name={name},mem=96M,mode={a.mode},cmdline=\"workload=hotcold "
                f"size={size}M hot=2M seconds=14 seed={k + 1}\""]
    run = Run(cmd, mnt)
    for name in names:
        check(run.wait_line(f"^\\[{name}\\] hotcold: round=", 40) is not None,
              f"{name} filled {size}M")
    time.sleep(1.5)  # the rounds after the fill bring residency down
    # sampled while the guests run their hot rounds, up to their first full
    # verification (at 10 s every guest reads its cold memory back at once:
    # that burst is reported, and checked for bytes only)
    inside, outside = [], []
    end = time.monotonic() + 9
    while time.monotonic() < end and run.proc.poll() is None and \
            not any("full_verify=" in ln for ln in run.lines):
        try:
            inside.append(run.num("reclaim/guest_resident_mb"))
            outside.append((run.rss_anon() - run.num("reclaim/store_mem_bytes")) // MIB)
        except (OSError, ValueError):
            break
        time.sleep(0.25)
    touched = len(names) * size
    tol = 16
    print(f"  guests touched {touched} MiB, limit {limit} MiB; l1vmm's resident guest memory "
          f"(mincore) max {max(inside, default=-1)} median "
          f"{sorted(inside)[len(inside) // 2] if inside else -1} MiB; RssAnon less the store "
          f"max {max(outside, default=-1)} MiB", flush=True)
    print(f"  samples (mincore MiB): {inside}", flush=True)
    print(f"  samples (RssAnon less the store, MiB): {outside}", flush=True)
    check(len(inside) >= 10, f"sampled residency {len(inside)} times")
    q3 = sorted(inside)[len(inside) * 3 // 4] if inside else 1 << 30
    check(q3 <= limit + tol and max(inside) < touched,
          f"resident guest memory kept to the limit: 3 samples in 4 within {limit}+{tol} MiB "
          f"(got {q3}), none at what the guests touched ({touched} MiB)")
    # what l1vmm holds besides guest RAM (its heap, the guest kernels' tables,
    # memory its allocator keeps a while after a fetch freed it) stays well
    # below what the guests touched
    med = sorted(outside)[len(outside) // 2] if outside else 1 << 30
    check(med <= limit + 64 < touched,
          f"RssAnon less the store: median {med} MiB, under {limit + 64} (the guests touched "
          f"{touched})")
    rc = run.finish(120)
    for name in names:
        hotcold_ok(run, name)
    check(rc == 0, f"l1vmm exited 0 (got {rc})")


def refused_said_once(run):
    said = [ln for ln in run.lines if "reclaim: the store refused a page" in ln]
    check(len(said) == 1, f"the refusal was said once ({len(said)} lines)")


def case_refuse(a, mnt):
    cmd = [a.l1vmm, "run", "--timeout", "60", "--mode", a.mode, "--mem", "96M",
           "--set", "reclaim/host_limit_mb=16", "--set", "reclaim/store_cap_mb=1"] + FAST + \
          ["--", "workload=hotcold", "size=32M", "hot=2M", "seconds=6"]
    run = Run(cmd, mnt)
    check(wait_num(run, "reclaim/store_refusals", lambda v: v > 0, 20) is not None,
          "a store at its cap refused pages")
    mem = run.num("reclaim/store_mem_bytes")
    check(mem <= MIB, f"the store kept within its cap ({mem} bytes)")
    rc = run.finish(60)
    hotcold_ok(run)
    refused_said_once(run)
    check(rc == 0, f"l1vmm exited 0 (got {rc})")

    swap = os.path.join(mnt + "-swap")
    cmd = [a.l1vmm, "run", "--timeout", "60", "--mode", a.mode, "--mem", "96M",
           "--set", "reclaim/host_limit_mb=16", "--set", f"reclaim/swap_file={swap}",
           "--set", "reclaim/swap_file_mb=1"] + FAST + \
          ["--", "workload=dup", "size=32M", "shared=0", "internal=0", "zero=0", "mutate=0",
           "seconds=6"]
    mnt2 = tempfile.mkdtemp()
    run = Run(cmd, mnt2)
    try:
        # dup reads every page every round, so file pages come and go: the
        # most the file held, over the run, is what fits
        most, refused = 0, 0
        end = time.monotonic() + 20
        while time.monotonic() < end and not (refused and most):
            try:
                most = max(most, run.num("reclaim/file_pages"))
                refused = run.num("reclaim/store_refusals")
            except (OSError, ValueError):
                pass  # the tree is not mounted yet
            time.sleep(0.05)
        check(refused > 0, f"a full swap file refused pages ({refused})")
        check(0 < most <= 256, f"the file held what fits ({most} pages of 256 at most)")
        rc = run.finish(60)
        m = run.wait_line(r"^dup: rounds=\d+ mutated=\d+ mismatches=(\d+) ", 1)
        check(m is not None and m.group(1) == "0", "dup verified every page, 0 mismatches")
        refused_said_once(run)
        check(rc == 0, f"l1vmm exited 0 (got {rc})")
    finally:
        if os.path.exists(swap):
            os.unlink(swap)
        os.rmdir(mnt2)


def case_kill(a, mnt):
    cmd = [a.l1vmm, "run", "--timeout", "90", "--set", "reclaim/host_limit_mb=40",
           "--set", "reclaim/prefetch=0"] + FAST
    # the guest to stop runs for longer than the test can take to stop it
    # (a loaded run saw it end its workload first, l1vmm exit 0)
    for k, (name, secs) in enumerate([("keep", 14), ("gone", 80)]):
        cmd += ["--vm", f"name={name},mem=96M,mode={a.mode},cmdline=\"workload=hotcold "
                f"size=40M hot=2M seconds={secs} seed={k + 1}\""]
    run = Run(cmd, mnt)
    both = wait_num(run, "vms/gone/reclaim/pages_compressed", lambda v: v >= 2048, 30)
    check(both is not None and run.num("vms/keep/reclaim/pages_compressed") > 0,
          "the store holds pages of both guests")
    # the survivor's full verification (10 s) fetches all along; stop the
    # other while its own fetches and evictions are under way
    run.wait_line("^\\[keep\\] hotcold: full_verify=1 ", 30)
    check(wait_num(run, "vms/gone/reclaim/fetches", lambda v: v > 0, 10) is not None,
          "the guest to stop was fetching")
    run.write("vms/gone/stop", 1)
    check(wait_num(run, "vms/gone/stop", lambda v: v == 1, 5) is not None, "it stopped")
    rc = run.finish(90)
    hotcold_ok(run, "keep")
    check(rc == 137, f"l1vmm exited 137, the stopped VM's status (got {rc})")


def case_balloon(a, mnt):
    cmd = [a.l1vmm, "run", "--timeout", "120", "--mode", a.mode, "--mem", "256M",
           "--set", "balloon/interval_ms=200", "--set", "reclaim/interval_ms=200",
           "--set", "reclaim/delay_ms=1500", "--",
           "workload=churn", "peak=160M", "hold=32M", "seconds=40", "balloon=pv"]
    run = Run(cmd, mnt)
    check(run.wait_line("^churn: peak=.* mismatches=0 ", 60) is not None,
          "the guest touched 160M and kept 32M")
    time.sleep(1)
    rss = run.rss_anon() // MIB
    limit = rss - 60
    run.write("reclaim/run", 1)
    time.sleep(0.5)
    guest = run.num("reclaim/guest_resident_mb")
    rlimit = guest - 60
    print(f"  RssAnon {rss} MiB, guest resident {guest} MiB: balloon/host_limit_mb {limit}, "
          f"reclaim/host_limit_mb {rlimit}", flush=True)
    run.write("balloon/host_limit_mb", limit)
    run.write("reclaim/host_limit_mb", rlimit)
    run.write("balloon/policy", "auto")
    states = set()
    end = time.monotonic() + 12
    while time.monotonic() < end:
        states.add(run.read("reclaim/state"))
        time.sleep(0.2)
    actual = run.num("vms/vm0/balloon/actual_mb")
    ev = run.num("reclaim/evictions")
    print(f"  balloon {actual} MiB; reclaim states seen {sorted(states)}; evictions {ev}",
          flush=True)
    check(actual >= 50, f"the balloon covered the need ({actual} MiB)")
    check(ev == 0, f"reclaim stayed idle while the balloon could cover ({ev} evictions)")
    # now more than the balloon can give (the guest keeps in-use + margin):
    # both limits far down; the balloon stops at its floor, reclaim goes on
    run.write("balloon/host_limit_mb", max(run.rss_anon() // MIB - 150, 8))
    run.write("reclaim/host_limit_mb", 12)  # below the 32M churn holds
    got = wait_num(run, "reclaim/evictions", lambda v: v > 0, 20)
    print(f"  then: reclaim/state {run.read('reclaim/state')}, need "
          f"{run.read('reclaim/need_mb')} MiB, guest resident "
          f"{run.read('reclaim/guest_resident_mb')} MiB, balloon "
          f"{run.read('vms/vm0/balloon/actual_mb')} MiB, {run.read('balloon/reasons')}",
          flush=True)
    check(got is not None and run.read("reclaim/state") == "reclaiming",
          f"beyond what the balloon gives, reclaim acts ({got} frames so far)")
    run.write("balloon/policy", "manual")
    run.write("reclaim/run", 0)
    rc = run.finish(120)
    m = run.wait_line("^churn: rounds=[0-9]+ mismatches=([0-9]+) ", 1)
    check(m is not None and m.group(1) == "0", "churn verified what it held, 0 mismatches")
    check(rc == 0, f"l1vmm exited 0 (got {rc})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", required=True)
    ap.add_argument("--mode", choices=["ept", "shadow"], required=True)
    ap.add_argument("--case", choices=["store", "three", "refuse", "kill", "balloon"],
                    required=True)
    a = ap.parse_args()
    need_kvm()
    with tempfile.TemporaryDirectory() as mnt:
        globals()["case_" + a.case](a, mnt)
    print(f"{len(failures)} failure(s)" if failures else "all checks passed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
