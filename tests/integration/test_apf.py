#!/usr/bin/env python3
"""Pseudo page faults (issue 17) under host reclaim, one mode a run.

workload=apf on one vCPU: a task that touches 16M of cold memory (host
reclaim keeps it out: reclaim/host_limit_mb 8, no prefetch; the guest sleeps
settle=3 s first, so that reclaim takes the region even on a loaded host) and a task that
computes. With the guest's apf=0 the vCPU stalls on every fetch; with apf=1
the toucher is parked on its token and the compute task runs on. Checks
(guest side): both runs verify every page with 0 mismatches; with apf=1 the
guest took "not present" tokens and as many "ready" ones, none left parked,
and the compute task kept clearly more of its alone rate than with apf=0;
shadow mode also counts the tokens in vms/vm0/apf/ while the guest runs.
ept mode is KVM's own async page faults (userfaultfd-backed guest RAM).
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_run import need_kvm  # noqa: E402
from test_balloon import Run, check, failures  # noqa: E402
from test_reclaim import FAST, wait_num  # noqa: E402

MARGIN_PCT = 15  # compute_pct with apf=1 above apf=0 by at least this


def one(a, mnt, apf):
    cmd = [a.l1vmm, "run", "--timeout", "120", "--mode", a.mode, "--mem", "64M",
           "--vcpus", "1", "--set", "reclaim/host_limit_mb=8", "--set", "reclaim/prefetch=0"] + \
        FAST + ["--", "workload=apf", "size=16M", "seconds=4", "settle=3", f"apf={apf}"]
    run = Run(cmd, mnt)
    tree_np = None
    if apf and a.mode == "shadow":
        tree_np = wait_num(run, "vms/vm0/apf/not_present", lambda v: v > 0, 30)
    rc = run.finish(120)
    check(rc == 0, f"apf={apf}: l1vmm exited 0 (got {rc})")
    m = run.wait_line(r"^apf: compute_per_s=\d+ compute_pct=(\d+) touch_pages_per_s=(\d+) "
                      r"passes=\d+ mismatches=(\d+)", 1)
    check(m is not None and m.group(3) == "0", f"apf={apf}: 0 mismatches while touching")
    s = run.wait_line(r"^apf: not_present=(\d+) ready=(\d+) woken=(\d+) early=\d+ full=\d+ "
                      r"unknown=\d+ parked=(\d+)", 1)
    check(run.wait_line("^l1guest: workload=apf result=PASS", 1) is not None,
          f"apf={apf}: the final verification passed")
    if not m or not s:
        return None
    np, ready, parked = int(s.group(1)), int(s.group(2)), int(s.group(4))
    if apf:
        check(np > 0, f"apf=1: the guest took 'not present' tokens ({np})")
        check(ready == np, f"apf=1: as many 'ready' as 'not present' ({ready} vs {np})")
        check(parked == 0, f"apf=1: no task left parked ({parked})")
        if a.mode == "shadow":
            # l1vmm's own count at the end, and the live tree when caught
            end = run.wait_line(r"^l1vmm: vm0: pseudo page faults: not_present=(\d+) ", 1)
            check(end is not None and int(end.group(1)) >= np,
                  f"l1vmm counted its 'not present' tokens ({end.group(1) if end else 'no line'}"
                  f" for the guest's {np}; live tree: {tree_np})")
    else:
        check(np == 0, f"apf=0: no pseudo page faults ({np})")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", required=True)
    ap.add_argument("--mode", choices=["ept", "shadow"], required=True)
    a = ap.parse_args()
    need_kvm()
    with tempfile.TemporaryDirectory() as mnt:
        off = one(a, mnt, 0)
    with tempfile.TemporaryDirectory() as mnt:
        on = one(a, mnt, 1)
    print(f"  compute_pct: apf=0 {off}, apf=1 {on}", flush=True)
    check(off is not None and on is not None and on >= off + MARGIN_PCT,
          f"apf=1 keeps the compute task clearly faster ({on}% vs {off}% of its alone rate)")
    print(f"{len(failures)} failure(s)" if failures else "all checks passed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
