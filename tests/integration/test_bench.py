#!/usr/bin/env python3
"""`l1vmm bench` end to end (issue 19).

    test_bench.py --l1vmm PATH --scenarios DIR --case tiny|fail|refuse

Cases:
  tiny    scenarios/tiny.scn (three small guests; none, sharing, all under a
          40M limit; about 20 s): exit 0; the table has one row per
          contender, each "ok", sharing saving memory in the sharing and all
          rows, and the all row's RssAnon below none's; samples.csv has the
          header and rows of every contender; samples.json parses with every
          run passed; memory.png and throughput.png are PNG files of more
          than 10 KB.
  fail    a guest whose memtouch cannot get its memory (passes the parser,
          fails in the guest): bench exits 1, says FAILED and names the guest.
  refuse  bad scenarios (an unknown key, an impossible size, more than the
          host can hold, a missing limit): exit 2, one line on stderr with the
          file and line, and no output directory made; an --out path with a
          comma (it would split --vm); every shipped scenario passes --check.
"""
import argparse
import csv
import json
import os
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


def bench(l1vmm, args, timeout=120):
    p = subprocess.run([l1vmm, "bench"] + args, capture_output=True, text=True, timeout=timeout)
    for line in (p.stdout + p.stderr).splitlines():
        print("  | " + line, flush=True)
    return p


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def tiny(l1vmm, scenarios, tmp):
    out = os.path.join(tmp, "out")
    p = bench(l1vmm, [os.path.join(scenarios, "tiny.scn"), "--out", out])
    check(p.returncode == 0, f"bench exits 0 (got {p.returncode})")
    rows = {}
    for line in p.stdout.splitlines():
        m = re.match(r"^(none|sharing|all) +(\S+) +(\S+) +(\S+) +(\S+) \| +(\S+) .* (ok|FAILED)$", line)
        if m:
            rows[m.group(1)] = m.groups()
    check(sorted(rows) == ["all", "none", "sharing"], f"the table has a row per contender ({sorted(rows)})")
    check(all(r[6] == "ok" for r in rows.values()), "every row says ok")
    if sorted(rows) == ["all", "none", "sharing"]:
        check(float(rows["none"][4]) == 0, "none saves nothing")
        check(float(rows["sharing"][1]) >= 8, f"sharing saves 8 MiB or more ({rows['sharing'][1]})")
        check(float(rows["all"][1]) >= 8, f"all shares 8 MiB or more ({rows['all'][1]})")
        check(float(rows["all"][5]) < float(rows["none"][5]),
              f"all's RssAnon ({rows['all'][5]}) is below none's ({rows['none'][5]})")
    with open(os.path.join(out, "table.txt")) as f:
        check("sharing" in f.read(), "table.txt holds the table")
    with open(os.path.join(out, "samples.csv")) as f:
        recs = list(csv.DictReader(f))
    check(len(recs) >= 12, f"samples.csv has rows ({len(recs)})")
    check({r["contender"] for r in recs} == {"none", "sharing", "all"}, "samples of every contender")
    check(all(float(r["rss_mb"]) > 0 for r in recs), "every sample has l1vmm's RssAnon")
    check(any(float(r["sharing_mb"]) > 0 for r in recs if r["contender"] == "sharing"),
          "the sharing run's samples show memory shared")
    with open(os.path.join(out, "samples.json")) as f:
        js = json.load(f)
    check(len(js["runs"]) == 3 and all(r["passed"] for r in js["runs"]), "samples.json: 3 runs, all passed")
    for png in ("memory.png", "throughput.png"):
        path = os.path.join(out, png)
        ok = os.path.exists(path) and is_png(path) and os.path.getsize(path) > 10000
        check(ok, f"{png} is a PNG of more than 10 KB")
    check(f"plots: {out}/memory.png" in p.stdout, "the plots' paths are printed")


def fail(l1vmm, scenarios, tmp):
    scn = os.path.join(tmp, "fail.scn")
    with open(scn, "w") as f:
        f.write("duration = 2\ncontenders = none\n"
                "guest = good mem=32M mode=ept workload=compute seconds=1\n"
                "guest = short mem=32M mode=ept workload=memtouch size=28M\n")
    p = bench(l1vmm, [scn, "--out", os.path.join(tmp, "out")])
    check(p.returncode == 1, f"bench exits 1 when a guest fails (got {p.returncode})")
    check(re.search(r"^!!! l1vmm: bench: none run 1: guest short FAILED", p.stderr, re.M) is not None,
          "it names the guest that failed")
    check("l1vmm: bench: FAILED" in p.stderr, "and ends saying FAILED")


def refuse(l1vmm, scenarios, tmp):
    cases = [
        ("unknown.scn", "contenders = none\nguest = a mem=64M workload=compute\ncolour = red\n",
         r":3: unknown key 'colour'"),
        ("size.scn", "contenders = none\nguest = a mem=64M workload=hotcold size=80M hot=8M\n",
         r":2: guest a: the workload touches 80M but mem=64M"),
        ("host.scn", "contenders = none\nguest = a count=32 mem=64G workload=compute\n",
         r":2: the guests' RAM \(2097152M so far\) is more than the host can hold"),
        ("limit.scn", "contenders = none balloon\nguest = a mem=64M workload=compute\n",
         r":1: contender 'balloon' needs a host limit"),
    ]
    for name, text, want in cases:
        scn = os.path.join(tmp, name)
        with open(scn, "w") as f:
            f.write(text)
        out = os.path.join(tmp, "out-" + name)
        p = bench(l1vmm, [scn, "--out", out], timeout=20)
        lines = p.stderr.splitlines()
        check(p.returncode == 2, f"{name}: exit 2 (got {p.returncode})")
        check(len(lines) == 1 and re.search("^l1vmm: bench: " + re.escape(scn) + want, lines[0]) is not None,
              f"{name}: one line with the file and line")
        check(not os.path.exists(out), f"{name}: nothing ran (no {out})")
    p = bench(l1vmm, [os.path.join(scenarios, "tiny.scn"), "--out", os.path.join(tmp, "a,b")], timeout=20)
    check(p.returncode == 2 and "no ' \" or , in the path" in p.stderr, "an --out DIR with a comma: exit 2")
    for scn in sorted(os.listdir(scenarios)):
        p = subprocess.run([l1vmm, "bench", "--check", os.path.join(scenarios, scn)],
                           capture_output=True, text=True, timeout=20)
        check(p.returncode == 0, f"shipped scenario {scn} passes --check ({p.stderr.strip()})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", required=True)
    ap.add_argument("--scenarios", required=True)
    ap.add_argument("--case", choices=["tiny", "fail", "refuse"], required=True)
    a = ap.parse_args()
    if a.case != "refuse":
        need_kvm()
    with tempfile.TemporaryDirectory(prefix="l1vmm-bench-test-") as tmp:
        {"tiny": tiny, "fail": fail, "refuse": refuse}[a.case](a.l1vmm, a.scenarios, tmp)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
