#!/usr/bin/env python3
"""`cmake --install BUILD --prefix TMP` and what it put there.

    test_install.py BUILD_DIR

Checks: the files (binary, man page, example config directory, systemd unit);
the installed binary answers --version and reads the example config directory
(`l1vmm stat`); `man -l` renders the man page with no warning, and it covers
every command, every option of `l1vmm help run`, the tree's top-level
directories and every exit status of the README's table; the unit names the
installed paths, and `systemd-analyze verify` accepts it (with the man page
found). Without systemd-analyze (a host without systemd) that check says so
and is skipped; a missing man fails under CI=true (scripts/setup.sh installs
man-db) and is skipped elsewhere.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../integration"))
from check_run import check, failures  # noqa: E402

CI = os.environ.get("CI") == "true"


def missing_tool(tool, why):
    if CI:
        check(False, f"{tool} is installed ({why}; scripts/setup.sh installs it)")
    else:
        print(f"SKIP {why}: {tool} is not installed (scripts/setup.sh installs it)")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def man_checks(prefix):
    page = os.path.join(prefix, "share/man/man1/l1vmm.1")
    if not shutil.which("man"):
        missing_tool("man", "rendering the man page")
        return
    env = dict(os.environ, MANWIDTH="100", LANG="C.UTF-8")
    r = run(["man", "--warnings", "-l", page], env=env)
    check(r.returncode == 0, f"man -l renders l1vmm.1 (status {r.returncode})")
    check(r.stderr == "", f"man -l gives no warning: {r.stderr.strip()!r}")
    text = re.sub(r".\x08", "", r.stdout)  # no overstrike, in case
    text = re.sub(r"‐\n\s*", "", text)        # words hyphenated across lines
    text = re.sub(r"\s+", " ", text)
    for section in ["NAME", "SYNOPSIS", "COMMANDS", "OPTIONS", "THE CONTROL TREE",
                    "CONFIG DIRECTORY", "METRICS", "EXIT STATUS", "FILES"]:
        check(f" {section} " in f" {text} ", f"man page has section {section}")
    for cmd in ["l1vmm run", "l1vmm stat", "l1vmm help", "l1vmm --version"]:
        check(cmd in text, f"man page shows '{cmd}'")
    # every option `l1vmm run --help` lists is documented
    usage = run([os.path.join(prefix, "bin/l1vmm"), "help", "run"]).stdout
    options = sorted(set(re.findall(r"^\s+(--[a-z-]+)", usage, re.M)))
    check(len(options) >= 12, f"l1vmm help run lists its options ({len(options)})")
    for opt in options:
        check(opt in text, f"man page documents {opt}")
    for d in ["host/", "dedup/", "balloon/", "reclaim/", "vms/NAME/", "log_level"]:
        check(d in text, f"man page describes the tree's {d}")
    exits = re.search(r" EXIT STATUS (.*) ENVIRONMENT ", text)
    check(exits is not None, "man page's EXIT STATUS section found")
    for status in ["the guest's code", "0", "1", "2", "3", "124", "128+N", "159"]:
        check(exits is not None and f" {status} " in f" {exits.group(1)} ",
              f"man page lists exit status {status}")
    check(f"{prefix}/etc/l1vmm/example" in text, "man page names the installed example")


def unit_checks(prefix):
    unit = os.path.join(prefix, "lib/systemd/system/l1vmm@.service")
    text = open(unit).read()
    check(f"ExecStart={prefix}/bin/l1vmm run --config {prefix}/etc/l1vmm/%i --sysfs "
          "/run/l1vmm/%i" in text, "the unit runs the installed binary on a config dir "
          "with a live tree")
    if not shutil.which("systemd-analyze"):  # a host without systemd: not a failure
        print("SKIP systemd-analyze verify: systemd-analyze is not installed here (the "
              "unit's text was checked above)")
        return
    with tempfile.TemporaryDirectory() as d:
        inst = os.path.join(d, "l1vmm@example.service")
        os.symlink(unit, inst)
        env = dict(os.environ, MANPATH=os.path.join(prefix, "share/man"))
        r = run(["systemd-analyze", "verify", inst], env=env)
        check(r.returncode == 0 and r.stderr.strip() == "",
              f"systemd-analyze verify l1vmm@example.service: status {r.returncode}, "
              f"{r.stderr.strip()!r}")


def main():
    build = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="l1vmm-install-") as prefix:
        r = run(["cmake", "--install", build, "--prefix", prefix])
        check(r.returncode == 0, f"cmake --install --prefix TMP: {r.stderr.strip()!r}")
        for f in ["bin/l1vmm", "share/man/man1/l1vmm.1", "lib/systemd/system/l1vmm@.service",
                  "etc/l1vmm/example/vms/web1/mem", "etc/l1vmm/example/vms/web2/cmdline",
                  "etc/l1vmm/example/dedup/run", "etc/l1vmm/example/README"]:
            check(os.path.isfile(os.path.join(prefix, f)), f"installed {f}")
        l1vmm = os.path.join(prefix, "bin/l1vmm")
        check(os.access(l1vmm, os.X_OK), "the binary is executable")
        r = run([l1vmm, "--version"])
        check(r.returncode == 0 and re.match(r"l1vmm \d+\.\d+\.\d+( \(git \S+\))?\n$", r.stdout),
              f"installed l1vmm --version: {r.stdout!r}")
        r = run([l1vmm, "stat", os.path.join(prefix, "etc/l1vmm/example")])
        check(r.returncode == 0 and re.search(r"^vms/web1/mem\s+128M$", r.stdout, re.M)
              and re.search(r"^dedup/run\s+1$", r.stdout, re.M),
              "l1vmm stat reads the installed example config directory")
        man_checks(prefix)
        unit_checks(prefix)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
