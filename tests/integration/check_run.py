#!/usr/bin/env python3
"""Run one l1vmm command and check its exit status and output.

    check_run.py [checks...] -- COMMAND...

Checks: --status N, --stdout REGEX (repeatable), --stderr REGEX (repeatable),
--stderr-lines N (stderr has exactly N lines), --not-stdout REGEX.
Set-up: --env K=V, --kill-after SEC:SIGNAL (send a signal mid-run),
--random-kernel SIZE (write SIZE random bytes to a file and put its path where
the command says @RANDOM_KERNEL@), --no-kvm (the case does not need /dev/kvm).

A case that boots a guest needs /dev/kvm: without it the case fails loudly
under CI=true and is skipped (exit 77) elsewhere.
"""
import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


def need_kvm():
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        return
    msg = "/dev/kvm is missing or not accessible: this integration test boots a guest"
    if os.environ.get("CI") == "true":
        print(f"FAIL: {msg} (CI=true: it must run here)", file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {msg}", file=sys.stderr)
    sys.exit(SKIP)


failures = []  # what check() saw fail, for a script's exit status


def check(cond, what):
    """Print one ok/FAIL line for what; remember a failure. Returns cond."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def wait_until(cond, seconds, step=0.05):
    """Poll cond (an OSError counts as false) until true or seconds pass."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if cond():
                return True
        except OSError:
            pass
        time.sleep(step)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--status", type=int)
    ap.add_argument("--stdout", action="append", default=[])
    ap.add_argument("--not-stdout", action="append", default=[])
    ap.add_argument("--stderr", action="append", default=[])
    ap.add_argument("--stderr-lines", type=int)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--kill-after")
    ap.add_argument("--random-kernel", type=int)
    ap.add_argument("--no-kvm", action="store_true")
    ap.add_argument("--deadline", type=float, default=240.0,
                    help="harness limit: the command must end by itself before this")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("no command")
    if not args.no_kvm:
        need_kvm()

    env = dict(os.environ)
    for kv in args.env:
        k, _, v = kv.partition("=")
        env[k] = v
    tmp = None
    if args.random_kernel is not None:
        tmp = tempfile.NamedTemporaryFile(prefix="l1vmm-random-", suffix=".bin", delete=False)
        tmp.write(random.Random(1234).randbytes(args.random_kernel))
        tmp.close()
        cmd = [tmp.name if a == "@RANDOM_KERNEL@" else a for a in cmd]

    print("$ " + " ".join(cmd), flush=True)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            stdin=subprocess.DEVNULL)
    if args.kill_after:
        sec, _, sig = args.kill_after.partition(":")
        time.sleep(float(sec))
        proc.send_signal(getattr(signal, sig or "SIGTERM"))
    try:
        out, err = proc.communicate(timeout=args.deadline)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        print(out.decode(errors="replace"))
        print(err.decode(errors="replace"), file=sys.stderr)
        print(f"FAIL: l1vmm did not end within {args.deadline} s (a hang)", file=sys.stderr)
        return 1
    finally:
        if tmp:
            os.unlink(tmp.name)
    elapsed = time.monotonic() - start
    out = out.decode(errors="replace")
    err = err.decode(errors="replace")
    sys.stdout.write(out)
    sys.stderr.write(err)
    print(f"[exit status {proc.returncode} after {elapsed:.2f} s]")

    failures = []
    if args.status is not None and proc.returncode != args.status:
        failures.append(f"exit status {proc.returncode}, expected {args.status}")
    for rx in args.stdout:
        if not re.search(rx, out, re.M):
            failures.append(f"stdout lacks /{rx}/")
    for rx in args.not_stdout:
        if re.search(rx, out, re.M):
            failures.append(f"stdout has /{rx}/")
    for rx in args.stderr:
        if not re.search(rx, err, re.M):
            failures.append(f"stderr lacks /{rx}/")
    if args.stderr_lines is not None and len(err.splitlines()) != args.stderr_lines:
        failures.append(f"stderr has {len(err.splitlines())} lines, expected {args.stderr_lines}")
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
