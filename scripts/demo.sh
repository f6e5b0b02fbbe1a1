#!/usr/bin/env bash
# The demo: boot the built-in guest kernel and run workloads that check their own
# memory. Later issues grow this into the consolidation demo (many VMs, dedup,
# balloons, reclaim).
set -euo pipefail
l1vmm=${1:-build/l1vmm/l1vmm}

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "boot the built-in guest and say hello" \
  "$l1vmm" run --mem 64M --timeout 60 -- workload=hello
step "fill 128 MiB of guest memory from 4 tasks on 2 vCPUs, verify every byte" \
  "$l1vmm" run --mem 256M --vcpus 2 --timeout 120 -- workload=memtouch size=128M tasks=4
step "a CPL3 compute loop, preempted by the LAPIC timer" \
  "$l1vmm" run --mem 64M --timeout 60 -- workload=compute
printf '\ndemo: all guests exited 0\n'
