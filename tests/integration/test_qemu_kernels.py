#!/usr/bin/env python3
"""Kernels written for QEMU (issue 18): qemu_mb under l1vmm.

    test_qemu_kernels.py --l1vmm PATH --kernel PATH CASE

qemu_mb (tests/kernels/qemu_mb/main.c) reads QEMU's fw_cfg, prints its
multiboot modules, starts its other CPUs and writes pass=N to port 0xf4.
Each case checks what the kernel printed against what l1vmm was given, and
l1vmm's exit status:

  ept       --mode ept, 2 vCPUs, 96 MiB, two modules (an environment file
            made here with random contents, and an empty one): fw_cfg's CPU
            count, max CPUs and RAM size, one e820 entry, each module's
            string, size, FNV-1a hash and lines, 1 AP started; status 16
            (l1vmm's port: the value itself).
  auto      --mode auto (multiboot kernels are not PV-capable: ept), 3 vCPUs,
            3200 MiB (RAM above 4 GiB too: two e820 entries), --isa-debug-exit:
            status 33 = (16 << 1) | 1, as under QEMU; pass=0 gives 1.
  config    the same through a config directory (vms/q/modules,
            vms/q/isa_debug_exit) and through --vm with module= twice.
  errors    a missing module, a module larger than guest RAM, an item with
            no path, modules for an l1vmm-protocol kernel, a multiboot kernel
            in shadow mode: each status 2 with one line on stderr.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_run import need_kvm  # noqa: E402

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def run(args, timeout=20):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def make_env(tmp, seed):
    """An environment file of KEY=VALUE lines with random values."""
    rnd = random.Random(seed)
    lines = [f"KEY{i}={rnd.getrandbits(64):016x}" for i in range(4)]
    lines.append("TESTNAME=qemu_mb")
    data = ("\n".join(lines) + "\n").encode()
    path = os.path.join(tmp, "env")
    with open(path, "wb") as f:
        f.write(data)
    return path, lines, data


def check_boot(out, cpus, mem_mb, e820, modules, prefix=""):
    """What qemu_mb printed against what l1vmm was given."""
    p = re.escape(prefix)
    has = lambda rx: re.search("^" + p + rx + "$", out, re.M) is not None  # noqa: E731
    check(has(r"qemu_mb: done, 0 failed"), f"{prefix}qemu_mb passed all its checks")
    check(has(r"fw_cfg signature: 0x51454d55"), f"{prefix}fw_cfg signature QEMU")
    check(has(r"fw_cfg id: 0x00000001 \(no dma\)"), f"{prefix}fw_cfg ID: traditional only, no DMA")
    check(has(rf"cpus: {cpus} max_cpus: {cpus}"), f"{prefix}fw_cfg: {cpus} CPUs, max {cpus}")
    check(has(rf"ram_size: 0x{mem_mb << 20:016x} \({mem_mb} MiB\)"),
          f"{prefix}fw_cfg RAM size {mem_mb} MiB")
    check(has(r"fw_cfg file: etc/e820 size %d" % (20 * len(e820))),
          f"{prefix}file directory: etc/e820 of {len(e820)} entries")
    for base, length in e820:
        check(has(rf"e820: 0x{base:016x} 0x{length:016x} ram"),
              f"{prefix}e820 entry [{base:#x}, +{length:#x})")
    check(has(rf"modules: {len(modules)}"), f"{prefix}{len(modules)} modules in the multiboot info")
    for i, (string, data) in enumerate(modules):
        check(has(rf"module {i}: '{re.escape(string)}' at 0x[0-9a-f]{{5}}000 size {len(data)} "
                  rf"fnv1a 0x{fnv1a(data):08x}"),
              f"{prefix}module {i} '{string}': {len(data)} bytes, hash of its bytes")
        for line in data.decode().splitlines():
            check(has(rf"module line: {re.escape(line)}"), f"{prefix}module {i} line {line}")
    check(has(rf"aps: {cpus - 1} of {cpus - 1} started"), f"{prefix}{cpus - 1} APs started by INIT/SIPI")


def case_ept(a, tmp):
    env, _, data = make_env(tmp, 1)
    empty = os.path.join(tmp, "empty")
    open(empty, "wb").close()
    st, out, err = run([a.l1vmm, "run", "--mode", "ept", "--mem", "96M", "--vcpus", "2",
                        "--timeout", "15", "--module", env + ",mode=test", "--module", empty,
                        a.kernel, "--", "pass=16"])
    print(out + err)
    check(st == 16, f"status {st} is 16: the value written to port 0xf4")
    check_boot(out, 2, 96, [(0, 96 << 20)], [(env + " mode=test", data), (empty, b"")])
    check("exited with code 16 after" in err, "summary line: exited with code 16")


def case_auto(a, tmp):
    env, _, data = make_env(tmp, 2)
    mem = 3200
    st, out, err = run([a.l1vmm, "run", "--mem", f"{mem}M", "--vcpus", "3", "--timeout", "15",
                        "--isa-debug-exit", "--module", env, a.kernel, "--", "pass=16"])
    print(out + err)
    check(st == 33, f"status {st} is 33 = (16 << 1) | 1, QEMU's isa-debug-exit")
    check("mode ept (auto" in err, "auto mode picked ept for a multiboot kernel")
    check("exited with code 33 (isa-debug-exit: the guest wrote 16)" in err,
          "summary line names the value the guest wrote")
    low = 0xC0000000
    check_boot(out, 3, mem, [(0, low), (1 << 32, (mem << 20) - low)], [(env, data)])
    st, out, err = run([a.l1vmm, "run", "--mem", "32M", "--isa-debug-exit", "--timeout", "15",
                        a.kernel, "--", "pass=0"])
    check(st == 1, f"pass=0 with --isa-debug-exit: status {st} is 1, as under QEMU")


def case_config(a, tmp):
    env, _, data = make_env(tmp, 3)
    cfg = os.path.join(tmp, "cfg")
    os.makedirs(os.path.join(cfg, "vms", "q"))
    for name, value in (("mem", "64M"), ("vcpus", "2"), ("kernel", a.kernel),
                        ("cmdline", "pass=21"), ("modules", f"{env},from=config;{env}"),
                        ("isa_debug_exit", "1")):
        with open(os.path.join(cfg, "vms", "q", name), "w") as f:
            f.write(value + "\n")
    st, out, err = run([a.l1vmm, "run", "--timeout", "15", "--config", cfg])
    print(out + err)
    check(st == 43, f"config directory: status {st} is 43 = (21 << 1) | 1")
    check_boot(out, 2, 64, [(0, 64 << 20)], [(env + " from=config", data), (env, data)], "[q] ")

    spec = f'name=v,mem=48M,kernel={a.kernel},cmdline=pass=7,module="{env},a=1",module={env}'
    st, out, err = run([a.l1vmm, "run", "--timeout", "15", "--vm", spec])
    print(out + err)
    check(st == 7, f"--vm with module= twice: status {st} is 7")
    check_boot(out, 1, 48, [(0, 48 << 20)], [(env + " a=1", data), (env, data)], "[v] ")


def case_errors(a, tmp):
    env, _, _ = make_env(tmp, 4)
    big = os.path.join(tmp, "big")
    with open(big, "wb") as f:
        f.truncate(40 << 20)
    cases = [
        ("missing module", ["--module", "/nonexistent/env", a.kernel],
         r"^l1vmm: cannot read module /nonexistent/env: No such file or directory$"),
        ("module larger than RAM", ["--mem", "32M", "--module", big, a.kernel],
         r"^l1vmm: kernel .*qemu_mb\.elf: module 0 \(.*big, 41943040 bytes\) does not fit in "
         r"guest RAM after the kernel's image"),
        ("item without a path", ["--module", env, "--module", ",x", a.kernel],
         r"^l1vmm: vms/vm0/modules: module 1 has no path"),
        ("modules for an l1vmm-protocol kernel", ["--mode", "ept", "--module", env],
         r"^l1vmm: kernel built-in: modules are for multiboot kernels"),
        ("multiboot kernel in shadow mode", ["--mode", "shadow", "--module", env, a.kernel],
         r"^l1vmm: --mode shadow needs a PV-capable kernel"),
    ]
    for what, args, rx in cases:
        st, out, err = run([a.l1vmm, "run", "--timeout", "15"] + args)
        lines = err.strip().splitlines()
        check(st == 2 and len(lines) == 1 and re.search(rx, lines[0]) is not None,
              f"{what}: status {st} (2), one line: {lines}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("case", choices=["ept", "auto", "config", "errors"])
    a = ap.parse_args()
    need_kvm()
    with tempfile.TemporaryDirectory(prefix="l1vmm-qemu-") as tmp:
        globals()["case_" + a.case](a, tmp)
    print(f"{len(failures)} failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
