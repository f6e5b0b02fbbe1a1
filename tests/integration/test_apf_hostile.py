#!/usr/bin/env python3
"""Pseudo page faults (issue 17) with guests that misuse them: what l1vmm
must survive, one mode and case a run.

    test_apf_hostile.py --l1vmm PATH --mode ept|shadow --case CASE

workload=apf with four touching tasks on one vCPU under host reclaim (the
toucher's pages keep being evicted), the guest kernel in a hostile apf mode:

  noack    apf=noack: the guest enables pseudo page faults, parks nothing
           (each task retries at once, touching one evicted page after
           another) and never takes a "page ready" token. shadow (l1vmm's
           protocol): the tokens stay bounded (at most L1_APF_TOKENS given
           per vCPU, vms/vm0/apf/in_flight never above it), every later
           fault waits on the vCPU (fallbacks), the guest verifies every page
           with 0 mismatches and l1vmm exits 0. ept (KVM's protocol): KVM
           keeps its own bound, and a vCPU that retries a page whose "ready"
           it never frees room for waits in KVM: the VM may hang, so it runs
           under a short --timeout; either way l1vmm ends it cleanly (status
           0 with 0 mismatches, or 124) and in time.
  toggle   apf=toggle: each time two tasks are parked, the guest turns
           pseudo page faults off and on again and wakes nobody itself. The
           host must (shadow: l1vmm's L1_APF_WAKE_ALL, vms/vm0/apf/wake_alls;
           ept: KVM's wake-all on enable): every task finishes, 0 mismatches,
           none left parked, l1vmm exits 0 within its time.
  failing  (shadow) apf=1 over incompressible pages (incompressible=1),
           which host reclaim puts in its swap file while the guest settles;
           the test stops reclaim and truncates the file, so every fetch of
           them fails once the touching begins. A failed fetch must not turn
           into "not present", "ready", "not present" for ever: the frame
           gets no more tokens (vms/vm0/apf/failing, not_present stays put),
           the vCPU waits for it and gives up after its 10 s bound: the VM
           ends with status 3 and the one-line error, no page read wrong,
           l1vmm exits in time. (Reclaim is stopped first: a file written
           again after it was cut short reads zeros in its holes, not
           errors.)
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_run import need_kvm  # noqa: E402
from test_balloon import Run, check, failures  # noqa: E402
from test_reclaim import FAST, wait_num  # noqa: E402

APF_TOKENS = 64  # pvops/l1vmm_abi.h L1_APF_TOKENS: per vCPU
STATS = (r"^apf: not_present=(\d+) ready=(\d+) woken=(\d+) early=\d+ full=\d+ unknown=\d+ "
         r"parked=(\d+) wake_all=(\d+) toggles=(\d+)")


def apf_cmd(a, mode, timeout):
    return [a.l1vmm, "run", "--timeout", str(timeout), "--mode", a.mode, "--mem", "64M",
            "--vcpus", "1", "--set", "reclaim/host_limit_mb=8",
            "--set", "reclaim/prefetch=0"] + FAST + \
        ["--", "workload=apf", "size=16M", "seconds=2", "settle=1", "touchers=4", f"apf={mode}"]


def guest_passed(run):
    m = run.wait_line(r"^apf: compute_per_s=\d+ compute_pct=\d+ touch_pages_per_s=\d+ "
                      r"passes=\d+ mismatches=(\d+)", 1)
    check(m is not None and m.group(1) == "0", "the touching tasks saw 0 mismatches")
    check(run.wait_line("^l1guest: workload=apf result=PASS", 1) is not None,
          "the final verification of every page passed")
    return run.wait_line(STATS, 1)


def watch(run, paths, timeout):
    """The largest value of each path seen while the run lasts."""
    most, end = {}, time.monotonic() + timeout
    while time.monotonic() < end and run.proc.poll() is None:
        for p in paths:
            try:
                most[p] = max(most.get(p, 0), run.num(p))
            except (OSError, ValueError):
                pass  # not mounted yet, or gone
        time.sleep(0.02)
    return most


def case_noack(a, mnt):
    timeout = 60 if a.mode == "shadow" else 7
    t0 = time.monotonic()
    run = Run(apf_cmd(a, "noack", timeout), mnt)
    if a.mode == "ept":
        rc = run.finish(timeout + 20)
        took = time.monotonic() - t0
        check(rc in (0, 124), f"l1vmm ended the VM cleanly (status {rc}: 0 or 124)")
        check(took < timeout + 15, f"l1vmm exited in time ({took:.1f} s)")
        if rc == 0:
            s = guest_passed(run)
            check(s is not None and int(s.group(1)) <= APF_TOKENS + 1,
                  f"KVM gave at most {APF_TOKENS + 1} tokens ({s and s.group(1)})")
        else:
            print("  ept: the vCPU waited in KVM for room for a 'ready' the guest never "
                  "freed; l1vmm ended the VM at its timeout", flush=True)
        return
    seen = watch(run, ["vms/vm0/apf/in_flight", "vms/vm0/apf/fallbacks"], 40)
    most = seen.get("vms/vm0/apf/in_flight", 0)
    check(most <= APF_TOKENS, f"tokens outstanding stayed within {APF_TOKENS} ({most} at most)")
    rc = run.finish(60)
    check(rc == 0, f"l1vmm exited 0 (got {rc})")
    # the live tree's reading, or l1vmm's end-of-run line (a loaded host can
    # starve the reader)
    end = run.wait_line(r"^l1vmm: vm0: pseudo page faults: .* fallbacks=(\d+) ", 1)
    fallbacks = max(seen.get("vms/vm0/apf/fallbacks", 0), int(end.group(1)) if end else 0)
    check(fallbacks > 0, f"with the table full, faults waited on the vCPU ({fallbacks})")
    s = guest_passed(run)
    if s:
        np, ready = int(s.group(1)), int(s.group(2))
        # 64 outstanding, and the one l1vmm put in apf_ready (its slot is free)
        check(0 < np <= APF_TOKENS + 1,
              f"l1vmm gave at most {APF_TOKENS + 1} 'not present' tokens ({np})")
        check(ready == 0, f"the guest took no 'ready' token ({ready})")


def case_toggle(a, mnt):
    t0 = time.monotonic()
    run = Run(apf_cmd(a, "toggle", 40), mnt)
    wake = None
    if a.mode == "shadow":
        wake = wait_num(run, "vms/vm0/apf/wake_alls", lambda v: v > 0, 30)
    rc = run.finish(60)
    took = time.monotonic() - t0
    check(rc == 0, f"l1vmm exited 0 (got {rc}; 124: parked tasks never woke)")
    check(took < 40, f"done in time ({took:.1f} s)")
    s = guest_passed(run)
    if s:
        parked, wake_all, toggles = int(s.group(4)), int(s.group(5)), int(s.group(6))
        check(toggles > 0, f"the guest turned them off and on with tasks parked ({toggles})")
        check(wake_all >= toggles, f"a wake-all came for each ({wake_all} for {toggles})")
        check(parked == 0, f"no task left parked ({parked})")
    if a.mode == "shadow":
        # l1vmm's own count: its end-of-run line (the tree's apf/ at the end),
        # and the live tree when a reading caught it (a loaded host can starve
        # the reader through a run of a few seconds)
        end = run.wait_line(r"^l1vmm: vm0: pseudo page faults: .* wake_alls=(\d+) ", 1)
        # given >= received: two given before the guest looks arrive as one
        check(end is not None and int(end.group(1)) > 0 and
              (s is None or int(end.group(1)) >= int(s.group(5))),
              f"l1vmm counted the wake-alls it gave ({end.group(1) if end else 'no line'}), "
              f"at least the guest's count (live tree: {wake})")


def case_failing(a, mnt):
    if a.mode != "shadow":
        print("  failing: shadow mode only (ept's fetches are l1vmm's userfaultfd "
              "handler, without tokens)", flush=True)
        return
    swap = mnt + "-swap"
    cmd = [a.l1vmm, "run", "--timeout", "60", "--mode", "shadow", "--mem", "64M", "--vcpus", "1",
           "--set", "reclaim/host_limit_mb=8", "--set", "reclaim/prefetch=0",
           "--set", f"reclaim/swap_file={swap}", "--set", "reclaim/swap_file_mb=64"] + FAST + \
        ["--", "workload=apf", "size=16M", "incompressible=1", "settle=4", "seconds=30",
         "touchers=4", "apf=1"]
    try:
        run = Run(cmd, mnt)
        filed = wait_num(run, "reclaim/file_pages", lambda v: v >= 512, 30)
        check(filed is not None, "host reclaim put the settling pages in its swap file")
        # no more evictions, so nothing writes the file again: a write past
        # its end would grow it and the slots before would read as zeros
        run.write("reclaim/run", 0)
        time.sleep(0.5)
        os.truncate(swap, 0)  # every read of it fails (EIO) from now on
        t0 = time.monotonic()
        failing = wait_num(run, "vms/vm0/apf/failing", lambda v: v > 0, 20)
        check(failing is not None, "faults on a frame whose fetch failed waited on the vCPU")
        # a frame that failed gets no token again: not_present stays put
        # (without the bound it grows by hundreds a second, a token per retry)
        np0 = wait_num(run, "vms/vm0/apf/not_present", lambda v: True, 1)
        time.sleep(3)
        np1 = wait_num(run, "vms/vm0/apf/not_present", lambda v: True, 1)
        check(np0 is not None and np1 is not None and np1 - np0 <= APF_TOKENS,
              f"no token loop on failing frames (not_present {np0}, 3 s later {np1})")
        rc = run.finish(40)
        took = time.monotonic() - t0
        check(rc == 3, f"the VM ended with status 3 (got {rc}; -9: killed, it never ended)")
        check(took < 30, f"within the vCPU's 10 s bound ({took:.1f} s after the file failed)")
        check(run.wait_line("could not fetch a guest page back for 10 s", 1) is not None,
              "l1vmm said why, in one line")
        check(run.wait_line(r"^apf: mismatch ", 0.1) is None, "no page read wrong before that")
    finally:
        if os.path.exists(swap):
            os.unlink(swap)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", required=True)
    ap.add_argument("--mode", choices=["ept", "shadow"], required=True)
    ap.add_argument("--case", choices=["noack", "toggle", "failing"], required=True)
    a = ap.parse_args()
    need_kvm()
    with tempfile.TemporaryDirectory() as mnt:
        {"noack": case_noack, "toggle": case_toggle, "failing": case_failing}[a.case](a, mnt)
    print(f"{len(failures)} failure(s)" if failures else "all checks passed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
