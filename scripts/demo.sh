#!/usr/bin/env bash
# The demo: boot the built-in guest kernel and run workloads that check their own
# memory, then several guests in one l1vmm watched through the live control tree.
# Later issues grow this into the consolidation demo (dedup, balloons, reclaim).
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
printf '\n== four guests in one process: a hostile one beside three that check their memory,\n'
printf '   shadow and ept mode side by side, with the live tree mounted at %s\n' "$mnt"
"$l1vmm" run --timeout 120 --sysfs "$mnt" \
  --vm 'name=hostile,mem=64M,mode=shadow,cmdline=workload=hostile' \
  --vm 'name=web,mem=256M,mode=shadow,vcpus=2,cmdline="workload=dup size=64M seconds=4 vm=1"' \
  --vm 'name=db,mem=256M,mode=shadow,cmdline="workload=dup size=64M seconds=4 vm=2"' \
  --vm 'name=batch,mem=128M,mode=ept,cmdline="workload=memtouch size=64M passes=4"' &
pid=$!
sleep 2
printf '\n$ l1vmm stat %s/vms/web\n' "$mnt"
"$l1vmm" stat "$mnt/vms/web" || true
wait "$pid"
printf '\ndemo: all guests exited 0\n'
