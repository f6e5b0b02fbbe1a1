#!/usr/bin/env python3
"""Three VMs in one l1vmm, watched and tuned through the live tree.

    test_control_plane.py L1VMM

One VM crashes on purpose; the other two must finish with 0 and the summary
must say which crashed. While they run, the live tree (--sysfs) must show all
three, `l1vmm stat --json` must parse, a bad write must fail with EINVAL and
change nothing, a write that is not allowed now with EBUSY, and a good write
(log_level) must take effect. A `cp -r` of the live tree, given back with
--config, must reproduce the same host.
"""
import errno
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_run import need_kvm, wait_until  # noqa: E402

VMS = [
    ("alpha", "name=alpha,mem=64M,cmdline=\"workload=compute seconds=6\""),
    ("beta", "name=beta,mem=128M,vcpus=2,cmdline=\"workload=compute seconds=6\""),
    ("gamma", "name=gamma,mem=32M,cmdline=\"workload=crash\""),
]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def read(path):
    with open(path) as f:
        return f.read()


def write_errno(path, text):
    """The errno a write of text to path fails with, or 0."""
    try:
        with open(path, "w") as f:
            f.write(text)
        return 0
    except OSError as e:
        return e.errno


def wait_for(cond, seconds, what):
    if wait_until(cond, seconds):
        return True
    check(False, f"{what} within {seconds} s")
    return False


def summary_checks(err, label):
    check("l1vmm: alpha: exited with code 0" in err, f"{label}: summary says alpha exited 0")
    check("l1vmm: beta: exited with code 0" in err, f"{label}: summary says beta exited 0")
    check("l1vmm: gamma: crashed (status 3)" in err, f"{label}: summary says gamma crashed")
    # ept: a real triple fault; shadow: an exception the guest left no handler for
    check(re.search(r"l1vmm: gamma: guest crashed on vCPU 0: "
                    r"(triple fault|the guest has no handler for vector 6)", err) is not None,
          f"{label}: gamma's crash report names it")


def live_checks(l1vmm, mnt, copy):
    if not wait_for(lambda: sorted(os.listdir(os.path.join(mnt, "vms"))) ==
                    ["README", "alpha", "beta", "gamma"], 20, "the live tree lists the 3 VMs"):
        return
    wait_for(lambda: read(f"{mnt}/vms/alpha/state") == "running\n" and
             read(f"{mnt}/vms/beta/state") == "running\n", 20, "alpha and beta run")
    wait_for(lambda: read(f"{mnt}/vms/gamma/state") == "crashed\n", 20, "gamma shows crashed")
    check(read(f"{mnt}/host/nr_vms") == "3\n", "host/nr_vms is 3")
    check("mem" in read(f"{mnt}/vms/alpha/README"), "vms/alpha/README documents mem")

    st = subprocess.run([l1vmm, "stat", mnt, "--json"], capture_output=True, text=True)
    check(st.returncode == 0, "l1vmm stat --json exits 0")
    try:
        tree = json.loads(st.stdout)
        vms = tree["vms"]
        check(sorted(vms) == ["alpha", "beta", "gamma"], "stat --json shows the 3 VMs")
        check(vms["alpha"]["state"] == "running", "stat --json: alpha running")
        check(vms["gamma"]["state"] == "crashed", "stat --json: gamma crashed")
        check(vms["beta"]["vcpus"] == 2, "stat --json: beta has 2 vCPUs")
        check(vms["alpha"]["stats"]["exits"]["io"] > 0, "stat --json: alpha's exits counted")
        check(vms["beta"]["stats"]["mem_populated"] > 0, "stat --json: beta's memory populated")
        check(float(vms["alpha"]["stats"]["run_time"]) > 0, "stat --json: alpha's run time")
    except (ValueError, KeyError, TypeError) as e:
        check(False, f"stat --json parses with the expected shape ({e!r})")
    text = subprocess.run([l1vmm, "stat", f"{mnt}/vms/beta"], capture_output=True, text=True)
    check(text.returncode == 0 and "vcpus" in text.stdout, "l1vmm stat of a subtree")

    before = read(f"{mnt}/vms/alpha/mem")
    check(write_errno(f"{mnt}/vms/alpha/mem", "12Q\n") == errno.EINVAL, "bad value: EINVAL")
    check(write_errno(f"{mnt}/vms/alpha/vcpus", "0\n") == errno.EINVAL, "out of range: EINVAL")
    check(write_errno(f"{mnt}/vms/alpha/mem", "128M\n") == errno.EBUSY,
          "mem of a running VM: EBUSY")
    check(read(f"{mnt}/vms/alpha/mem") == before, "refused writes changed nothing")
    check(write_errno(f"{mnt}/host/nr_vms", "7\n") in (errno.EACCES, errno.EPERM),
          "a reading is not writable")
    check(write_errno(f"{mnt}/log_level", "debug\n") == 0, "good write accepted")
    check(read(f"{mnt}/log_level") == "debug\n", "good write reads back")
    shutil.copytree(mnt, copy)


def sigterm_check(l1vmm, work):
    """SIGTERM stops every VM (one per mode) and unmounts the live tree."""
    mnt = os.path.join(work, "live2")
    os.mkdir(mnt)
    cmd = [l1vmm, "run", "--sysfs", mnt,
           "--vm", "name=s,mem=64M,mode=shadow,cmdline=\"workload=compute seconds=60\"",
           "--vm", "name=e,mem=64M,mode=ept,cmdline=\"workload=compute seconds=60\""]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: read(f"{mnt}/vms/s/state") == "running\n" and
             read(f"{mnt}/vms/e/state") == "running\n", 20, "both VMs run")
    check(read(f"{mnt}/vms/s/mode_active") == "shadow\n", "vms/s/mode_active is shadow")
    check(read(f"{mnt}/vms/e/mode_active") == "ept\n", "vms/e/mode_active is ept")
    proc.terminate()
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        check(False, "SIGTERM ends l1vmm within 30 s")
    print(out + err)
    check(proc.returncode == 143, f"SIGTERM: status 143 (got {proc.returncode})")
    check("l1vmm: s: stopped by signal 15" in err and "l1vmm: e: stopped by signal 15" in err,
          "SIGTERM: both VMs stopped")
    check(not os.path.ismount(mnt), "SIGTERM: the live tree is unmounted")


def main():
    l1vmm = sys.argv[1]
    need_kvm()
    work = tempfile.mkdtemp(prefix="l1vmm-cp-")
    mnt, copy = os.path.join(work, "live"), os.path.join(work, "copy")
    os.mkdir(mnt)
    cmd = [l1vmm, "run", "--timeout", "120", "--sysfs", mnt]
    for _, spec in VMS:
        cmd += ["--vm", spec]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        live_checks(l1vmm, mnt, copy)
    finally:
        out, err = proc.communicate(timeout=180)
    print(out + err)
    check(proc.returncode == 3, f"status is the first non-zero one, 3 (got {proc.returncode})")
    summary_checks(err, "live")
    check("[alpha] l1guest: workload=compute result=PASS" in out, "alpha's console is prefixed")
    check("[beta] l1guest: workload=compute result=PASS" in out, "beta passed")
    check("alpha: exits:" in err, "log_level=debug took effect (debug lines at the end)")
    check(not os.path.ismount(mnt), "the live tree is unmounted at exit")

    if os.path.isdir(copy):
        check(read(f"{copy}/vms/beta/vcpus") == "2\n", "the copy carries beta's vcpus")
        cmd = [l1vmm, "run", "--timeout", "120", "--config", copy]
        print("$ " + " ".join(cmd), flush=True)
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        print(again.stdout + again.stderr)
        check(again.returncode == 3, "--config of the copy: same status")
        summary_checks(again.stderr, "--config")
        check("[beta] l1guest: workload=compute result=PASS" in again.stdout,
              "--config: beta ran again")
    sigterm_check(l1vmm, work)
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
