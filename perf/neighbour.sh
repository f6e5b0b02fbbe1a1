#!/usr/bin/env bash
# Noisy neighbour (issue 15): what a hostile shadow-mode guest costs the guest
# beside it.
#   perf/neighbour.sh [BUILD_DIR] [RUNS] [SECONDS]
# For each attack of workload=attack (alias, flushstorm, validate, quota), RUNS
# rounds of: a workload=compute guest alone, beside a benign compute guest, and
# beside the attacker, SECONDS each (tests/integration/test_neighbour.py does
# the runs; its checks are printed too). The table gives medians: the longest
# machine hold seen in the live tree (vms/NAME/shadow/machine_hold_max_us; the
# worst run too, and the VM that made it) and the neighbour's iterations a
# second under attack against alone and against the benign neighbour.
# Environment: KINDS=alias,... (all four), ATTACK_ARGS="regions=N" (appended
# to the attacker's command line; kernel/pvattack.c says what it means per kind).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
runs=${2:-3}
seconds=${3:-5}
l1vmm=$build/l1vmm/l1vmm
[ -x "$l1vmm" ] || { echo "neighbour.sh: no $l1vmm; build first" >&2; exit 2; }
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -r) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$here/../tests/integration/test_neighbour.py" --l1vmm "$l1vmm" --runs "$runs" \
  --seconds "$seconds" --kinds "${KINDS:-alias,flushstorm,validate,quota}" \
  --attack-args "${ATTACK_ARGS:-}" --report || true
