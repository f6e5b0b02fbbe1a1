#!/usr/bin/env python3
"""The sandbox (l1vmm/sandbox.h) and running unprivileged (issue 15).

    test_sandbox.py --l1vmm PATH CASE

  confined      two VMs (shadow and ept) with dedup, both balloon policies'
                thread, --sysfs read through: every thread of l1vmm shows
                Seccomp 2 (filter) and NoNewPrivs 1 in /proc, the threads of
                every kind are there (main, vcpu, scanner, balloon, fuse),
                and the guests pass; with --sandbox=off no thread is confined.
  fuse_killed   the FUSE thread's test hook (L1VMM_TEST_FORBIDDEN_SYSCALL=fuse)
                fires as it confines itself once set-up is done: l1vmm ends
                with status 159 and the one line naming the thread and
                socket(2); reads of the tree fail from then on.
  live          what the demo does through the tree, under the sandbox: an ept
                and a shadow guest (dup, identical pages, PV balloon) start with
                sharing, the balloon policy and reclaim off; then dedup/run=1,
                reclaim/run=1 and balloon/policy=auto are written live (the
                FUSE thread starts them: the ept sharing backend's memfd is
                made then), pages get shared in both, and both guests verify
                every page and exit 0.
  unprivileged  l1vmm run by a user who is not root but may open the KVM
                device (as root: a user l1vmm-sbx in group kvm, given a
                device node of /dev/kvm owned by group kvm; not root: this
                user, if it can open /dev/kvm): hello in both modes under the
                sandbox, --sysfs mounted and unmounted at the end,
                dedup/backend=ksm refused with one line naming root, and (as
                root) --user dropping to that user after set-up.
Not root and no access to /dev/kvm: skipped (77), failed under CI=true.
"""
import argparse
import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_run import need_kvm  # noqa: E402

SKIP = 77
USER = "l1vmm-sbx"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def threads(pid):
    """{tid: (comm, Seccomp, NoNewPrivs, Uid)} of a running process."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
        except FileNotFoundError:
            continue
        out[tid] = (comm, st["Seccomp"].strip(), st["NoNewPrivs"].strip(),
                    st["Uid"].split()[0])
    return out


def wait_mounted(mnt, proc, seconds=30):
    end = time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        if os.path.exists(os.path.join(mnt, "vms")):
            return True
        time.sleep(0.1)
    return False


def wait_in_mountinfo(proc, mnt, seconds=30):
    end = time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        with open(f"/proc/{proc.pid}/mountinfo") as f:
            if any(line.split()[4] == mnt and " - fuse.l1vmm " in line for line in f):
                return True
        time.sleep(0.1)
    return False


def read_tree(mnt):
    for path in ("dedup/pages_shared", "host/mem_available", "balloon/policy"):
        with open(os.path.join(mnt, path)) as f:
            f.read()


def start(cmd, **kw):
    print("$ " + " ".join(cmd), flush=True)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, **kw)


def finish(proc, seconds=120):
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        check(False, f"l1vmm ended within {seconds} s")
    sys.stdout.write(out)
    sys.stdout.write(err)
    return proc.returncode, out, err


def unmount(mnt):
    subprocess.run(["fusermount3", "-u", "-q", "-z", mnt], check=False)


def run_confined(a, mnt, sandbox):
    work = "workload=compute iterations=3000000000"
    cmd = [a.l1vmm, "run", "--sandbox", sandbox, "--timeout", "60", "--sysfs", mnt,
           "--metrics", "127.0.0.1:0",
           "--set", "dedup/run=1", "--set", "balloon/policy=auto",
           "--vm", f"name=s,mem=64M,mode=shadow,cmdline=\"{work}\"",
           "--vm", f"name=e,mem=64M,mode=ept,vcpus=2,cmdline=\"{work}\""]
    proc = start(cmd)
    try:
        check(wait_mounted(mnt, proc), "the tree is mounted")
        time.sleep(1.5)        # the VMs run: set-up is done
        read_tree(mnt)         # the FUSE thread's first request after set-up
        time.sleep(0.3)
        ts = threads(proc.pid)
    finally:
        proc.terminate()
    rc, out, _ = finish(proc)
    check(rc == 143, f"l1vmm stopped by SIGTERM with status 143 (got {rc})")
    return ts


def case_confined(a, mnt):
    ts = run_confined(a, mnt, "on")
    kinds = {"main": 0, "vcpu": 0, "scanner": 0, "balloon": 0, "fuse": 0, "metrics": 0}
    for tid, (comm, secc, nnp, _) in sorted(ts.items()):
        kind = next((k for k in kinds if comm.startswith("l1-" + k)), None)
        if kind:
            kinds[kind] += 1
        check(secc == "2" and nnp == "1",
              f"thread {tid} ({comm}) is confined: Seccomp {secc} NoNewPrivs {nnp}")
    check(all(kinds.values()) and kinds["vcpu"] == 3,
          f"every kind of thread is there, 3 vCPUs ({kinds})")
    ts = run_confined(a, mnt, "off")
    check(ts and all(secc == "0" for _, secc, _, _ in ts.values()),
          f"--sandbox=off: no thread is confined ({len(ts)} threads)")


def case_fuse_killed(a, mnt):
    env = dict(os.environ, L1VMM_TEST_FORBIDDEN_SYSCALL="fuse")
    proc = start([a.l1vmm, "run", "--mem", "64M", "--timeout", "60", "--sysfs", mnt, "--",
                  "workload=compute", "iterations=3000000000"], env=env)
    try:
        time.sleep(2.0)  # set up: the FUSE thread has confined itself and died
        try:
            read_tree(mnt)
        except OSError as e:
            print(f"  the read failed as the FUSE thread died: {e}")
        rc, _, err = finish(proc, 30)
    finally:
        unmount(mnt)   # SIGSYS cleans nothing up (l1vmm/sandbox.h)
    check(rc == 159, f"l1vmm ended with status 159 (got {rc})")
    check(re.search(r"^l1vmm: sandbox: thread 'fuse' made system call 41 \(socket\), which its "
                    r"allowlist forbids; l1vmm stops \(status 159", err, re.M) is not None,
          "one line names the thread and the call")


def read_num(mnt, path):
    try:
        with open(os.path.join(mnt, path)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def case_live(a, mnt):
    dup = "workload=dup size=24M seconds=10 mutate=0 seed=3 balloon=pv"
    proc = start([a.l1vmm, "run", "--timeout", "90", "--sysfs", mnt,
                  "--vm", f"name=e,mem=96M,mode=ept,cmdline=\"{dup} vm=1\"",
                  "--vm", f"name=s,mem=96M,mode=shadow,cmdline=\"{dup} vm=2\""])
    try:
        check(wait_mounted(mnt, proc), "the tree is mounted")
        time.sleep(1.5)  # set-up is done: every thread has confined itself
        for path, value in (("dedup/run", "1"), ("reclaim/run", "1"),
                            ("balloon/policy", "auto")):
            with open(os.path.join(mnt, path), "w") as f:
                f.write(value)
        end = time.monotonic() + 20
        shared = {}
        while time.monotonic() < end and proc.poll() is None:
            shared = {vm: read_num(mnt, f"vms/{vm}/dedup/pages_shared") for vm in ("e", "s")}
            if all(shared.values()):
                break
            time.sleep(0.2)
        check(all(shared.values()), f"pages are shared in both guests ({shared})")
    finally:
        rc, out, err = finish(proc, 90)
    if rc:
        print(err, flush=True)
    check(rc == 0, f"l1vmm exited 0 (got {rc})")
    check(out.count("workload=dup result=PASS") == 2, "both guests verified every page")


def kvm_user():
    """(uid, gid, groups, device env) of a user that is not root and may open
    the KVM device, or None (then skip)."""
    if os.geteuid() != 0:
        if os.access("/dev/kvm", os.R_OK | os.W_OK):
            return os.getuid(), os.getgid(), os.getgroups(), {}
        return None
    try:
        kvm_gid = grp.getgrnam("kvm").gr_gid
    except KeyError:
        subprocess.run(["groupadd", "--system", "kvm"], check=True)
        kvm_gid = grp.getgrnam("kvm").gr_gid
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--groups", "kvm", USER], check=True)
        pw = pwd.getpwnam(USER)
    return pw.pw_uid, pw.pw_gid, [kvm_gid], {}


def case_unprivileged(a, mnt):
    who = kvm_user()
    if who is None:
        msg = "not root, and this user cannot open /dev/kvm (join group kvm)"
        if os.environ.get("CI") == "true":
            check(False, msg + " (CI=true: it must run)")
            return
        print("SKIP: " + msg)
        sys.exit(SKIP)
    uid, gid, groups, _ = who
    root = os.geteuid() == 0
    tmp = tempfile.mkdtemp(prefix="l1vmm-unpriv-")
    try:
        os.chmod(tmp, 0o755)
        l1vmm = os.path.join(tmp, "l1vmm")     # the build tree may not be the user's to read
        shutil.copy(a.l1vmm, l1vmm)
        os.chmod(l1vmm, 0o755)
        env = dict(os.environ)
        if root:
            # a node of the same device, group kvm, mode 0660: what udev gives
            # /dev/kvm on most distributions, without changing this host's
            dev = os.path.join(tmp, "kvm")
            os.mknod(dev, stat.S_IFCHR | 0o660, os.stat("/dev/kvm").st_rdev)
            os.chown(dev, 0, grp.getgrnam("kvm").gr_gid)
            os.chmod(dev, 0o660)
            env["L1VMM_KVM_DEVICE"] = dev
        umnt = os.path.join(tmp, "tree")
        os.mkdir(umnt)
        os.chown(umnt, uid, gid)
        wrap = []
        fuse_private = root and (os.stat("/dev/fuse").st_mode & 0o006) != 0o006
        if root:
            ids = ["setpriv", f"--reuid={uid}", f"--regid={gid}",
                   "--groups=" + ",".join(map(str, groups)), "--"]
            wrap = ids
            if fuse_private:
                # libfuse needs /dev/fuse open to all (0666, Debian's default);
                # this host has 0600: a 0666 node of it over /dev/fuse in a
                # mount namespace of the run's own, this host's stays as it is
                node = os.path.join(tmp, "fuse")
                os.mknod(node, stat.S_IFCHR | 0o666, os.stat("/dev/fuse").st_rdev)
                os.chmod(node, 0o666)
                wrap = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                        'mount --bind "$0" /dev/fuse && exec "$@"', node] + ids
        as_user = dict(env=env, cwd=tmp)

        for mode in ("shadow", "ept"):
            proc = start(wrap + [l1vmm, "run", "--mode", mode, "--mem", "64M", "--timeout", "60",
                          "--sysfs", umnt, "--", "workload=compute", "iterations=2000000000"],
                         **as_user)
            # the FUSE mount is the user's alone (no allow_other): even root
            # cannot read it, so look for it in the process's mount table
            ok = wait_in_mountinfo(proc, umnt)
            check(ok, f"{mode}: the user mounted the tree")
            if ok:
                time.sleep(1.0)
                ts = threads(proc.pid)
                check(all(u == str(uid) for _, _, _, u in ts.values()),
                      f"{mode}: every thread runs as uid {uid}")
                check(all(s == "2" for _, s, _, _ in ts.values()),
                      f"{mode}: every thread is confined")
            rc, out, err = finish(proc)
            check(f"mode {mode} (requested)" in err, f"{mode}: the VM ran in {mode} mode")
            # status 0: the unmount at the end went through the watcher (no
            # fork under the sandbox, l1vmm/ctl_fuse.c)
            check(rc == 0 and "compute: iterations=" in out and "sandbox:" not in err,
                  f"{mode}: the guest ran to its end, status 0 (got {rc})")
            if not fuse_private:
                time.sleep(0.5)    # the watcher's fusermount3 -u
                check(not os.path.ismount(umnt), f"{mode}: the tree was unmounted at the end")
            unmount(umnt)

        proc = start(wrap + [l1vmm, "run", "--mode", "ept", "--mem", "64M", "--timeout", "30",
                      "--set", "dedup/backend=ksm", "--set", "dedup/run=1", "--",
                      "workload=hello"], **as_user)
        rc, _, err = finish(proc)
        check(rc == 2 and len(err.strip().splitlines()) >= 1 and
              re.search(r"^l1vmm: dedup/backend=ksm: cannot write /sys/kernel/mm/ksm/.*"
                        r"\(KSM needs root\)$", err, re.M) is not None,
              f"dedup/backend=ksm as a user: status 2 and one line naming root (got {rc})")

        if root:
            proc = start([a.l1vmm, "run", "--user", USER, "--mem", "64M", "--timeout", "60",
                          "--", "workload=compute", "iterations=2000000000"])
            time.sleep(2.0)
            ts = threads(proc.pid) if proc.poll() is None else {}
            rc, out, _ = finish(proc)
            check(ts and all(u == str(uid) for _, _, _, u in ts.values()),
                  f"--user {USER}: every thread runs as uid {uid} once set up")
            check(rc == 0 and "compute: iterations=" in out,
                  f"--user {USER}: the guest ran to its end, status 0 (got {rc})")
            proc = start([a.l1vmm, "run", "--user", USER, "--sysfs", mnt, "--", "workload=hello"])
            rc, _, err = finish(proc)
            check(rc == 2 and "--user cannot be combined with --sysfs" in err,
                  f"--user with --sysfs is refused with status 2 (got {rc})")
    finally:
        unmount(os.path.join(tmp, "tree"))
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", required=True)
    ap.add_argument("case", choices=["confined", "fuse_killed", "live", "unprivileged"])
    a = ap.parse_args()
    need_kvm()
    mnt = tempfile.mkdtemp(prefix="l1vmm-sbx-")
    try:
        {"confined": case_confined, "fuse_killed": case_fuse_killed, "live": case_live,
         "unprivileged": case_unprivileged}[a.case](a, mnt)
    finally:
        unmount(mnt)
        os.rmdir(mnt)
    if failures:
        print(f"FAIL: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
