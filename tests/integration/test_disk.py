#!/usr/bin/env python3
"""The virtio-blk disk and the guest's own paging to it, end to end.

    test_disk.py --l1vmm PATH --mode ept|shadow --case CASE

Cases (l1vmm's sandbox on, as by default: the vCPU threads serve the disk
with pread64, pwrite64 and fdatasync):
  swapstorm  a 10M guest with a disk file that does not exist yet
             (vms/vm0/disk_size=32M) runs `swap=virtio workload=swapstorm
             size=12M seconds=1`: a working set larger than its memory,
             verified all along. It must exit 0 with mismatches=0 and the
             kernel's own swap-outs and swap-ins both above 0; the file was
             created at 32M; the swap slots the guest wrote hold its pages
             (non-zero 4 KiB blocks past the first, which the kernel keeps
             zeroed for its zero fills, as many as the pages it swapped out at
             least once).
  reclaim    swapstorm (shadow: 14M guest, 16M working set; ept: 16M, 20M;
             pause_ms=1000: the guest idles a second after its fill, so host
             reclaim takes its cold resident pages before the storm makes the
             guest write them out) under host reclaim: reclaim/host_limit_mb
             well below what the guest keeps resident (SIZES), with the
             double-paging protocol on (vms/vm0/reclaim/cooperative=1, the
             default): 0 mismatches, the store held pages (evictions > 0),
             the guest registered l1vmm's bitmap, and
             vms/vm0/reclaim/double_paging_events stays 0 at every reading;
             the disk holds the guest's pages as in swapstorm.
  reclaim-off the same with cooperative=0: 0 mismatches, evictions > 500 and
             double_paging_events > 0 (the disk read frames back out of the
             store), stored_reads 0, no hint taken.
  dedup      swapstorm with dedup/run=1 (page sharing scanning fast): 0
             mismatches, pages were shared meanwhile.
  contents   `workload=disktest sector=1000 count=64 seed=9` on a fresh disk,
             then on an existing 1 MiB file: the host file holds exactly the
             guest's bytes at sectors 1000..1063 (the same formula computed
             here), everything else stays zero, the existing file keeps its
             size.
"""
import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_run import need_kvm  # noqa: E402

M64 = (1 << 64) - 1
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def mix(z):
    """lib/hotcold.h's hotcold__mix."""
    z = (z + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def run(l1vmm, args, timeout=60):
    p = subprocess.run([l1vmm, "run"] + args, capture_output=True, text=True, timeout=timeout)
    for line in (p.stdout + p.stderr).splitlines():
        print("  | " + line, flush=True)
    return p


def swapstorm(l1vmm, mode, tmp):
    disk = os.path.join(tmp, "swap.img")
    mnt = os.path.join(tmp, "tree")
    os.mkdir(mnt)
    p = run(l1vmm, ["--mode", mode, "--mem", "10M", "--disk", disk, "--timeout", "50",
                    "--set", "vms/vm0/disk_size=32M", "--",
                    "swap=virtio", "workload=swapstorm", "size=12M", "seconds=1"])
    check(p.returncode == 0, f"swapstorm exits 0 (got {p.returncode})")
    check("swap: on," in p.stdout, "the guest kernel turned its swap on")
    m = re.search(r"^swapstorm: size=(\d+) pages=(\d+) seed=\d+ mem_mb=(\d+)$", p.stdout, re.M)
    check(m is not None and int(m.group(1)) > int(m.group(3)) << 20,
          "the working set is larger than the guest's memory")
    m = re.search(r"^swapstorm: touches=(\d+) mismatches=(\d+) swap_outs=(\d+) swap_ins=(\d+) "
                  r"zero_fills=(\d+) slots_used=(\d+) io_errors=(\d+) seconds=[\d.]+$",
                  p.stdout, re.M)
    check(m is not None, "swapstorm printed its result line")
    if not m:
        return
    touches, bad, outs, ins, zeros, slots, errors = map(int, m.groups())
    check(bad == 0, f"0 mismatches (got {bad})")
    check(errors == 0, f"0 disk errors (got {errors})")
    check(outs > 0 and ins > 0, f"the guest swapped out ({outs}) and in ({ins})")
    check(touches > 0, f"the storm touched pages ({touches})")
    check("workload=swapstorm result=PASS" in p.stdout, "swapstorm passed")
    check(os.path.getsize(disk) == 32 << 20, "the disk file was created at disk_size (32M)")
    data = open(disk, "rb").read()
    blocks = [data[i:i + 4096] for i in range(0, len(data), 4096)]
    check(not any(blocks[0]), "slot 0 (the kernel's zero fills) is all zeros")
    used = sum(1 for b in blocks[1:] if any(b))
    # hotcold pages are never all zero; each page swapped out at least once owns a slot
    check(used >= min(slots, outs) * 9 // 10,
          f"the slots hold the guest's pages ({used} non-zero blocks, {slots} slots used)")


from test_balloon import Run  # noqa: E402

RECLAIM = ["--set", "reclaim/run=1", "--set", "reclaim/interval_ms=100",
           "--set", "reclaim/delay_ms=0", "--set", "reclaim/cold_age=1"]
# guest memory, working set, host limit: the limit well below what the guest
# keeps resident, its own paging pool included (the guest kernel pages user
# memory above a 2M reserve: a 10M shadow guest's pool is 128 frames, and
# on a loaded host reclaim could take the kernel's cold frames, sit at a 1M
# limit and never meet the pool; a 14M guest's is 448 frames). In ept mode
# the swap frames alone are too few to page, so a 16M guest keeps ~13M.
SIZES = {"shadow": ("14M", "16M", 2), "ept": ("16M", "20M", 4)}


def storm_live(l1vmm, mode, tmp, extra, paths, seconds=3, pause_ms=0):
    """swapstorm with a live tree: the highest reading of each path before the end."""
    disk = os.path.join(tmp, "swap.img")
    mnt = os.path.join(tmp, "tree")
    os.mkdir(mnt)
    mem, size, limit = SIZES[mode]
    if "reclaim/run=1" in extra:
        extra = extra + ["--set", f"reclaim/host_limit_mb={limit}"]
    run = Run([l1vmm, "run", "--mode", mode, "--mem", mem, "--disk", disk, "--timeout", "80",
               "--set", "vms/vm0/disk_size=64M"] + extra +
              ["--", "swap=virtio", "workload=swapstorm", f"size={size}", f"seconds={seconds}",
               f"pause_ms={pause_ms}"],
              mnt)
    # each path on its own (one that fails does not cost the others their
    # reading); once the tree answered, a read that fails or takes over a
    # second is said once
    seen, peak, said = {}, {}, set()
    while run.proc.poll() is None and \
            not any(ln.startswith("swapstorm: host_bitmap=") for ln in list(run.lines)):
        for p in paths:
            t0 = time.monotonic()
            try:
                seen[p] = run.num(p)
                peak[p] = max(peak.get(p, 0), seen[p])
                problem = None
            except (OSError, ValueError) as e:
                problem = f"failed: {e}"
            dt = time.monotonic() - t0
            if problem is None and dt > 1:
                problem = f"took {dt:.1f} s"
            if problem and peak and p not in said and run.proc.poll() is None:
                said.add(p)
                print(f"  reading {p} {problem}", flush=True)
        time.sleep(0.05)
    check(len(peak) == len(paths), f"the tree was read while the guest ran ({len(peak)} of "
          f"{len(paths)} paths)")
    rc = run.proc.wait(60)
    run.reader.join(5)
    out = "\n".join(run.lines)
    check(rc == 0, f"l1vmm exited 0 (got {rc})")
    m = re.search(r"^swapstorm: touches=(\d+) mismatches=(\d+) swap_outs=(\d+) swap_ins=(\d+) ",
                  out, re.M)
    check(m is not None and m.group(2) == "0",
          f"swapstorm verified every page: 0 mismatches ({m.group(2) if m else 'no line'})")
    check(m is not None and int(m.group(3)) > 0 and int(m.group(4)) > 0,
          "the guest swapped out and in")
    check("workload=swapstorm result=PASS" in out, "swapstorm passed")
    h = re.search(r"^swapstorm: host_bitmap=(\d+) host_passed=(\d+) host_hinted=(\d+)$", out,
                  re.M)
    print(f"  highest readings {peak}; guest {h.groups() if h else None}", flush=True)
    return seen, peak, h, (disk, out)


def slots_hold_pages(disk, out):
    """Every page of the storm owns a slot once swapped out: the slots hold them."""
    m = re.search(r"^swapstorm: size=\d+ pages=(\d+) ", out, re.M)
    pages = int(m.group(1)) if m else 1 << 30
    data = open(disk, "rb").read()
    blocks = [data[i:i + 4096] for i in range(0, len(data), 4096)]
    used = sum(1 for b in blocks[1:] if any(b))
    check(not any(blocks[0]) and used >= pages * 9 // 10,
          f"the disk holds the guest's pages ({used} non-zero slots, {pages} pages)")


DP = ["reclaim/evictions", "vms/vm0/reclaim/double_paging_events", "reclaim/double_paging_events",
      "vms/vm0/reclaim/stored_reads", "vms/vm0/reclaim/hinted", "vms/vm0/reclaim/hints_ignored",
      "vms/vm0/reclaim/fetches"]


def reclaim_on(l1vmm, mode, tmp):
    seen, peak, h, disk = storm_live(l1vmm, mode, tmp, RECLAIM, DP, pause_ms=1000)
    check(peak.get("reclaim/evictions", 0) > 500,
          f"host reclaim evicted frames ({peak.get('reclaim/evictions')})")
    check(h is not None and h.group(1) == "1", "the guest registered l1vmm's store bitmap")
    check(bool(seen) and peak.get("vms/vm0/reclaim/double_paging_events", 1) == 0 and
          peak.get("reclaim/double_paging_events", 1) == 0,
          "no double paging with the protocol (double_paging_events 0 at every reading)")
    check(peak.get("vms/vm0/reclaim/stored_reads", 0) > 0 or
          (h is not None and int(h.group(2)) > 0),
          "the protocol was exercised: pages went to the disk from the store, or the "
          "guest passed over frames l1vmm held")
    slots_hold_pages(*disk)


def reclaim_off(l1vmm, mode, tmp):
    seen, peak, h, disk = storm_live(l1vmm, mode, tmp,
                                     RECLAIM + ["--set", "vms/vm0/reclaim/cooperative=0"], DP,
                                     pause_ms=1000)
    check(peak.get("reclaim/evictions", 0) > 500,
          f"host reclaim evicted frames ({peak.get('reclaim/evictions')})")
    check(peak.get("vms/vm0/reclaim/double_paging_events", 0) > 0,
          "without the protocol the disk fetched frames out of the store "
          f"(double_paging_events {peak.get('vms/vm0/reclaim/double_paging_events')})")
    check(peak.get("vms/vm0/reclaim/stored_reads", 1) == 0 and
          peak.get("vms/vm0/reclaim/hinted", 1) == 0,
          "no store-to-disk write and no hint taken with cooperative=0")
    check(h is not None and h.group(2) == "0" and h.group(3) == "0",
          "the guest saw no marks (the bitmap stays clear)")
    slots_hold_pages(*disk)


def dedup(l1vmm, mode, tmp):
    seen, peak, h, disk = storm_live(
        l1vmm, mode, tmp, ["--set", "dedup/run=1", "--set", "dedup/sleep_millisecs=20",
                           "--set", "dedup/pages_to_scan=4096"],
        ["dedup/pages_sharing", "dedup/full_scans"], seconds=4)
    check(peak.get("dedup/full_scans", 0) > 0, f"page sharing scanned ({peak})")
    slots_hold_pages(*disk)


def disktest(l1vmm, mode, disk, extra):
    p = run(l1vmm, ["--mode", mode, "--mem", "32M", "--disk", disk, "--timeout", "50"] + extra +
            ["--", "workload=disktest", "sector=1000", "count=64", "seed=9"])
    check(p.returncode == 0, f"disktest exits 0 (got {p.returncode})")
    check(re.search(r"^disktest: sector=1000 count=64 seed=9 written=32768 mismatches=0$",
                    p.stdout, re.M) is not None, "the guest read its sectors back intact")
    data = open(disk, "rb").read()
    bad = 0
    for s in range(1000, 1064):
        for w in range(64):
            bad += struct.unpack_from("<Q", data, s * 512 + w * 8)[0] != mix(9 ^ (s << 6 | w))
    check(bad == 0, f"the host file holds the guest's words at sectors 1000..1063 ({bad} wrong)")
    check(not any(data[:1000 * 512]) and not any(data[1064 * 512:]),
          "nothing else of the file was written")
    return data


def contents(l1vmm, mode, tmp):
    fresh = os.path.join(tmp, "fresh.img")
    data = disktest(l1vmm, mode, fresh, [])
    check(len(data) == 64 << 20, "a missing disk file is created at the default 64M")
    old = os.path.join(tmp, "old.img")
    with open(old, "wb") as f:
        f.truncate(1 << 20)
    data = disktest(l1vmm, mode, old, ["--set", "vms/vm0/disk_size=32M"])
    check(len(data) == 1 << 20, "an existing file keeps its size (1M), disk_size aside")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", required=True)
    ap.add_argument("--mode", choices=["ept", "shadow"], required=True)
    cases = {"swapstorm": swapstorm, "contents": contents, "reclaim": reclaim_on,
             "reclaim-off": reclaim_off, "dedup": dedup}
    ap.add_argument("--case", choices=sorted(cases), required=True)
    a = ap.parse_args()
    need_kvm()
    with tempfile.TemporaryDirectory(prefix="l1vmm-disk-") as tmp:
        cases[a.case](a.l1vmm, a.mode, tmp)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
