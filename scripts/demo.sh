#!/usr/bin/env bash
# The demo: boot the built-in guest kernel and run workloads that check their own
# memory, then several guests in one l1vmm watched through the live control tree.
# Then the consolidation demo: several guests in one process sharing identical pages,
# and an overcommitted host measured by `l1vmm bench`: one table of the memory each
# mechanism saved against the host's, and a plot over time.
set -euo pipefail
l1vmm=${1:-build/l1vmm/l1vmm}

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "boot the built-in guest (auto mode measures CPL0 against CPL3 and picks a mode)" \
  "$l1vmm" run --mem 64M --timeout 60 -- workload=hello
step "fill 128 MiB of guest memory from 4 tasks on 2 vCPUs, verify every byte" \
  "$l1vmm" run --mem 256M --vcpus 2 --timeout 120 -- workload=memtouch size=128M tasks=4
step "a CPL3 compute loop, preempted by the timer" \
  "$l1vmm" run --mem 64M --timeout 60 -- workload=compute

mnt=$(mktemp -d)
trap 'rmdir "$mnt" 2>/dev/null || true' EXIT
printf '\n== consolidation: five guests in one process, page sharing on, the live tree at %s\n' "$mnt"
printf '   four run one image (dup: zero, shared, repeated and unique pages, 2%% rewritten every\n'
printf '   second, every page verified all along): web1+web2 share in shadow mode (domain web),\n'
printf '   db1+db2 in ept mode (domain db); a hostile guest probes the shadow MMU meanwhile\n'
"$l1vmm" run --timeout 120 --sysfs "$mnt" --set dedup/pages_to_scan=2000 \
  --vm 'name=hostile,mem=64M,mode=shadow,cmdline=workload=hostile' \
  --vm 'name=web1,mem=128M,mode=shadow,domain=web,cmdline="workload=dup size=48M seconds=12 mutate=2 seed=5 vm=1"' \
  --vm 'name=web2,mem=128M,mode=shadow,domain=web,cmdline="workload=dup size=48M seconds=12 mutate=2 seed=5 vm=2"' \
  --vm 'name=db1,mem=128M,mode=ept,domain=db,cmdline="workload=dup size=48M seconds=12 mutate=2 seed=5 vm=3"' \
  --vm 'name=db2,mem=128M,mode=ept,domain=db,cmdline="workload=dup size=48M seconds=12 mutate=2 seed=5 vm=4"' &
pid=$!
sleep 1
printf '\n$ echo 1 > %s/dedup/run     # page sharing on, live\n' "$mnt"
echo 1 > "$mnt/dedup/run"
sleep 7
printf '\n$ l1vmm stat %s/dedup\n' "$mnt"
"$l1vmm" stat "$mnt/dedup" || true
for vm in web1 db1; do
  printf '\n$ l1vmm stat %s/vms/%s/dedup\n' "$mnt" "$vm"
  "$l1vmm" stat "$mnt/vms/$vm/dedup" || true
done
wait "$pid"

# --- an overcommitted host: sharing, the balloon and host reclaim, as `l1vmm bench` shows them
printf '\n== an overcommitted host: l1vmm bench runs the same guests with nothing on, then with\n'
printf '   every mechanism on under a 256 MiB host limit (scenarios/demo.scn): web1+web2 (shadow)\n'
printf '   run one image, page sharing merges them; batch (ept, PV balloon) touches 160M and\n'
printf '   keeps 32M, the balloon takes back what it freed; cache (ept) holds 120M it never\n'
printf '   reads, host reclaim compresses it. Every guest verifies every page it wrote, to the end.\n'
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(cd "$(dirname "$l1vmm")/.." && pwd)/bench-demo
rm -rf "$out"
printf '$ l1vmm bench scenarios/demo.scn --out %s\n' "$out"
"$l1vmm" bench "$here/scenarios/demo.scn" --out "$out"
printf '\ndemo: all guests exited 0 (every page they wrote read back intact); the plot: %s/memory.png\n' "$out"
