#!/usr/bin/env python3
"""NUMA binding of a VM (vms/NAME/numa_nodes), seen from outside l1vmm.

    test_numa.py --l1vmm PATH --mode ept|shadow

A VM with numa_nodes=0 (2 vCPUs, 32 MiB) runs `workload=hotcold`, which
checks its memory; while it runs:
  - /proc/PID/numa_maps has a mapping with the policy bind:0 whose length in
    /proc/PID/maps is the guest's 32 MiB (ept: its memslot mapping; shadow:
    its run of machine frames), with pages on node 0 (the guest touched them);
  - both vCPU threads (comm "l1-vcpu a/N") are allowed exactly node 0's CPUs
    (/sys/devices/system/node/node0/cpulist);
and the guest exits 0. The same VM without numa_nodes has no bind policy
anywhere (the check above can fail).
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_run import check, failures, need_kvm  # noqa: E402

MEM = 32 << 20


def cpulist(text):
    cpus = set()
    for item in text.strip().split(","):
        a, _, b = item.partition("-")
        cpus.update(range(int(a), int(b or a) + 1))
    return cpus


def bound_mappings(pid):
    """(start, length, pages on node 0) of each bind:0 mapping."""
    lengths = {}
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            lo, hi = line.split()[0].split("-")
            lengths[int(lo, 16)] = int(hi, 16) - int(lo, 16)
    out = []
    with open(f"/proc/{pid}/numa_maps") as f:
        for line in f:
            words = line.split()
            if "bind:0" in words:
                start = int(words[0], 16)
                n0 = next((int(w[3:]) for w in words if w.startswith("N0=")), 0)
                out.append((start, lengths.get(start, 0), n0))
    return out


def vcpu_cpus(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                m = re.search(r"^Cpus_allowed_list:\s*(\S+)", f.read(), re.M)
        except FileNotFoundError:
            continue
        if comm.startswith("l1-vcpu a/") and m:
            out[comm] = cpulist(m.group(1))
    return out


def run(l1vmm, mode, numa):
    spec = (f"name=a,mem={MEM >> 20}M,mode={mode},vcpus=2{numa},"
            'cmdline="workload=hotcold size=8M hot=1M seconds=3"')
    p = subprocess.Popen([l1vmm, "run", "--timeout", "30", "--vm", spec],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen_maps, seen_cpus = [], {}
    deadline = time.monotonic() + 20
    while p.poll() is None and time.monotonic() < deadline:
        try:
            maps, cpus = bound_mappings(p.pid), vcpu_cpus(p.pid)
        except (FileNotFoundError, ProcessLookupError):
            break
        if maps and any(n0 > 0 for _, _, n0 in maps):
            seen_maps = maps
        if len(cpus) == 2:
            seen_cpus = cpus
        if seen_maps and seen_cpus:
            break
        time.sleep(0.2)
    out, _ = p.communicate(timeout=60)
    for line in out.splitlines():
        print("  | " + line, flush=True)
    return p.returncode, seen_maps, seen_cpus


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", required=True)
    ap.add_argument("--mode", choices=["ept", "shadow"], required=True)
    args = ap.parse_args()
    need_kvm()
    with open("/sys/devices/system/node/node0/cpulist") as f:
        node0 = cpulist(f.read())

    rc, maps, cpus = run(args.l1vmm, args.mode, ",numa_nodes=0")
    check(rc == 0, f"{args.mode}: the bound guest exits 0 (status {rc})")
    check(any(length == MEM and n0 > 0 for _, length, n0 in maps),
          f"{args.mode}: a bind:0 mapping of 32 MiB with pages on node 0 (saw "
          f"{[(hex(s), length, n0) for s, length, n0 in maps]})")
    check(len(cpus) == 2 and all(c == node0 for c in cpus.values()),
          f"{args.mode}: both vCPU threads allowed node 0's CPUs {sorted(node0)} "
          f"(saw {cpus})")

    rc, maps, _ = run(args.l1vmm, args.mode, "")
    check(rc == 0 and not maps, f"{args.mode}: without numa_nodes no bind policy (saw {maps})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
