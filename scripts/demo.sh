#!/usr/bin/env bash
# The demo: boot the built-in guest kernel and run workloads that check their own
# memory, then several guests in one l1vmm watched through the live control tree.
# Then the consolidation demo: several guests in one process sharing identical pages.
# Later issues add balloons and reclaim.
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
printf '   four run the same "fleet" image (dup: zero, shared, repeated and unique pages, 2%% rewritten\n'
printf '   every second, every page verified all along); a hostile guest probes the shadow MMU\n'
"$l1vmm" run --timeout 120 --sysfs "$mnt" --set dedup/run=1 --set dedup/pages_to_scan=2000 \
  --vm 'name=hostile,mem=64M,mode=shadow,cmdline=workload=hostile' \
  --vm 'name=web1,mem=192M,mode=ept,domain=fleet,cmdline="workload=dup size=96M seconds=8 mutate=2 seed=5 vm=1"' \
  --vm 'name=web2,mem=192M,mode=ept,domain=fleet,cmdline="workload=dup size=96M seconds=8 mutate=2 seed=5 vm=2"' \
  --vm 'name=db1,mem=192M,mode=ept,domain=fleet,cmdline="workload=dup size=96M seconds=8 mutate=2 seed=5 vm=3"' \
  --vm 'name=db2,mem=192M,mode=ept,domain=fleet,cmdline="workload=dup size=96M seconds=8 mutate=2 seed=5 vm=4"' &
pid=$!
sleep 5
printf '\n$ l1vmm stat %s/dedup\n' "$mnt"
"$l1vmm" stat "$mnt/dedup" || true
printf '\n$ l1vmm stat %s/vms/web1/dedup\n' "$mnt"
"$l1vmm" stat "$mnt/vms/web1/dedup" || true
wait "$pid"
printf '\ndemo: all guests exited 0 (every page they wrote read back intact)\n'
