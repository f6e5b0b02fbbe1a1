#!/usr/bin/env python3
"""l1vmm's metrics, checked by Prometheus's own tools.

    test_metrics.py --l1vmm L1VMM --config DIR

Runs the VMs of the config directory DIR (the example: two guests holding the
same data, page sharing on) with --sysfs and --metrics 127.0.0.1:0, and then:
- the metrics thread is confined by the sandbox (Seccomp: 2) before any check;
- GET /metrics answers 200 with Prometheus's content type, and
  `promtool check metrics` accepts it without a word; so does the output of
  `l1vmm stat TREE --format prometheus`, with the same families;
- every family has HELP and TYPE, counters end in _total, and the series the
  operator wants are there: l1vmm_dedup_pages_sharing above 0 and equal to
  the live tree's dedup/pages_sharing read around it, per-VM series with
  vm="web1";
- a real Prometheus server, started here on a free loopback port with a
  temporary config and data directory, scrapes l1vmm every second; its HTTP
  API gives l1vmm_dedup_pages_sharing and a per-VM series back;
- l1vmm ends with 143 on SIGTERM, the guests having verified every page.
Without /dev/kvm, promtool or prometheus the test fails under CI=true and is
skipped elsewhere.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../integration"))
from check_run import SKIP, check, failures, need_kvm, wait_until  # noqa: E402

def need_tool(tool):
    path = shutil.which(tool)
    if path:
        return path
    msg = f"{tool} is not installed (Debian's prometheus package; scripts/setup.sh installs it)"
    if os.environ.get("CI") == "true":
        print(f"FAIL: {msg} (CI=true: this test must run)", file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {msg}", file=sys.stderr)
    sys.exit(SKIP)


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def samples(text):
    """{(name, labels): value} and {name: type} and the set of names with HELP."""
    values, types, helps, bad = {}, {}, set(), []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
        elif line.startswith("# HELP "):
            helps.add(line.split(" ", 3)[2])
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
            if m:
                values[(m.group(1), m.group(2) or "")] = float(m.group(3))
            else:
                bad.append(line)
    check(values and not bad, f"{len(values)} sample lines parse ({bad[:3]})")
    return values, types, helps


def promtool_ok(promtool, text, what):
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    return check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
                 f"promtool check metrics accepts {what} (status {r.returncode}: "
                 f"{(r.stdout + r.stderr).strip()[:300]!r})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_int(path):
    with open(path) as f:
        return int(f.read())


def metrics_checks(args, promtool, url, tree):
    status, ctype, text = get(url)
    check(status == 200, f"GET {url}: 200 ({status})")
    check(ctype.startswith("text/plain; version=0.0.4"), f"content type ({ctype})")
    promtool_ok(promtool, text, "GET /metrics")
    before = read_int(f"{tree}/dedup/pages_sharing")
    _, _, text = get(url)
    after = read_int(f"{tree}/dedup/pages_sharing")
    values, types, helps = samples(text)
    sharing = values.get(("l1vmm_dedup_pages_sharing", ""))
    check(sharing is not None and sharing > 0 and min(before, after) <= sharing <= max(before, after),
          f"l1vmm_dedup_pages_sharing {sharing} is the tree's dedup/pages_sharing ({before}..{after}) and above 0")
    check(types.get("l1vmm_dedup_pages_sharing") == "gauge", "l1vmm_dedup_pages_sharing is a gauge")
    check(types.get("l1vmm_dedup_full_scans_total") == "counter", "l1vmm_dedup_full_scans_total is a counter")
    check(set(types) == helps, "every family has HELP and TYPE")
    bad = [n for n, t in types.items() if (t == "counter") != n.endswith("_total")]
    check(not bad, f"counters and only counters end in _total ({bad})")
    for vm in ("web1", "web2"):
        check(values.get(("l1vmm_vm_dedup_pages_shared", f'{{vm="{vm}"}}'), 0) > 0,
              f'l1vmm_vm_dedup_pages_shared{{vm="{vm}"}} above 0')
        check(values.get(("l1vmm_vm_state", f'{{vm="{vm}",state="running"}}')) == 1,
              f'l1vmm_vm_state{{vm="{vm}",state="running"}} is 1')
        check(values.get(("l1vmm_vm_mem_bytes", f'{{vm="{vm}"}}')) == 128 << 20,
              f'l1vmm_vm_mem_bytes{{vm="{vm}"}} is 128 MiB')
    r = subprocess.run([args.l1vmm, "stat", tree, "--format", "prometheus"], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 0, f"l1vmm stat --format prometheus on the live tree (status {r.returncode})")
    promtool_ok(promtool, r.stdout, "l1vmm stat --format prometheus")
    stat_types = samples(r.stdout)[1]
    check(stat_types == types, f"stat and /metrics give the same families ({len(types)}; "
          f"differ: {sorted(set(stat_types) ^ set(types))})")


def prometheus_checks(prom, l1vmm_port, work):
    port = free_port()
    conf = os.path.join(work, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: l1vmm\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{l1vmm_port}']\n")
    log = open(os.path.join(work, "prometheus.log"), "w+")
    p = subprocess.Popen([prom, f"--config.file={conf}", f"--storage.tsdb.path={work}/data",
                          f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                         stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}"
    try:
        ready = wait_until(lambda: p.poll() is None and get(f"{api}/-/ready")[0] == 200, 20, 0.2)
        if not check(ready, f"prometheus started on 127.0.0.1:{port}"):
            log.seek(0)
            print(log.read()[-2000:], file=sys.stderr)
            return

        def query(expr):
            body = get(f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))[2]
            return json.loads(body)["data"]["result"]

        found = {}

        def scraped():
            for expr in ("l1vmm_dedup_pages_sharing", 'l1vmm_vm_dedup_pages_shared{vm="web1"}',
                         'up{job="l1vmm"}'):
                res = query(expr)
                if res:
                    found[expr] = float(res[0]["value"][1])
            return len(found) == 3
        wait_until(scraped, 15, 0.5)
        up, sharing, web1 = (found.get(k) for k in (
            'up{job="l1vmm"}', "l1vmm_dedup_pages_sharing", 'l1vmm_vm_dedup_pages_shared{vm="web1"}'))
        check(up == 1, f"prometheus scrapes l1vmm: up is {up}")
        check(sharing is not None and sharing > 0,
              f"prometheus's API gives l1vmm_dedup_pages_sharing back: {sharing}")
        check(web1 is not None and web1 > 0,
              f'prometheus\'s API gives l1vmm_vm_dedup_pages_shared{{vm="web1"}} back: {web1}')
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l1vmm", required=True)
    ap.add_argument("--config", required=True)
    args = ap.parse_args()
    need_kvm()
    promtool = need_tool("promtool")
    prom = need_tool("prometheus")
    with tempfile.TemporaryDirectory(prefix="l1vmm-metrics-") as work:
        tree = os.path.join(work, "tree")
        os.mkdir(tree)
        vmm = subprocess.Popen([args.l1vmm, "run", "--config", args.config, "--sysfs", tree,
                                "--metrics", "127.0.0.1:0", "--timeout", "90"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        err, out = [], []
        readers = [threading.Thread(target=lambda s=s, b=b: b.extend(s), daemon=True)
                   for s, b in ((vmm.stderr, err), (vmm.stdout, out))]
        for r in readers:
            r.start()
        try:
            url = None
            if wait_until(lambda: any("metrics at http://" in line for line in err), 20):
                url = re.search(r"metrics at (http://\S+)", "".join(err)).group(1)
            if check(url is not None, f"l1vmm says where its metrics are ({url})"):
                thread = None

                def metrics_confined():
                    nonlocal thread
                    for t in os.listdir(f"/proc/{vmm.pid}/task"):
                        with open(f"/proc/{vmm.pid}/task/{t}/comm") as f:
                            if f.read().strip() == "l1-metrics":
                                thread = t
                                with open(f"/proc/{vmm.pid}/task/{t}/status") as s:
                                    return "Seccomp:\t2" in s.read()
                    return False
                check(wait_until(metrics_confined, 20), f"the metrics thread ({thread}) is confined "
                      "by the sandbox")
                check(wait_until(lambda: read_int(f"{tree}/dedup/pages_sharing") > 0, 30, 0.2),
                      "the guests' pages are shared (dedup/pages_sharing > 0)")
                metrics_checks(args, promtool, url, tree)
                prometheus_checks(prom, int(url.rsplit(":", 1)[1].split("/")[0]), work)
        finally:
            vmm.send_signal(signal.SIGTERM)
            try:
                status = vmm.wait(15)
            except subprocess.TimeoutExpired:
                vmm.kill()
                status = vmm.wait()
            for r in readers:
                r.join(5)
        check(status == 143, f"l1vmm ends with 143 on SIGTERM ({status})")
        text = "".join(out)
        check(re.search(r"^\[web1\] dup: t=\d+ .*mismatches=0", text, re.M) is not None and
              re.search(r"mismatches=[1-9]", text) is None, "the guests verified every page")
        if failures:
            print("".join(err)[-3000:], file=sys.stderr)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
