#!/usr/bin/env bash
# Shadow mode against ept mode, and what shadow prefetching buys, in one run.
#   perf/shadow.sh [BUILD_DIR] [RUNS]
# For each configuration, RUNS runs of the built-in guest's memtouch (128 MiB,
# 1 vCPU) and compute (10^9 iterations) workloads; prints medians of the guest's
# own figures and, for shadow mode, l1vmm's shadow counters (faults, prefetched
# entries, traps) from its debug-level end-of-run report; then the same compute
# loop run natively on the host (perf/compute_native) RUNS times, and each
# mode's compute rate as a fraction of native. The configurations:
#   ept                 the guest kernel at CPL0 (emulated here)
#   shadow prefetch=N   the guest kernel at CPL3; N shadow entries filled per fault
set -eu  # no pipefail: grep -q and head end pipelines early on purpose
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
runs=${2:-3}
l1vmm=$build/l1vmm/l1vmm
[ -x "$l1vmm" ] || { echo "shadow.sh: no $l1vmm; build first (./build.sh test or cmake --build)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2); else print "n/a"}'; }

# run_vm MODE PREFETCH CMDLINE: one VM from a config directory, debug log on
run_vm() {
  local dir=$work/cfg
  rm -rf "$dir"; mkdir -p "$dir/vms/g"
  echo debug > "$dir/log_level"
  echo 256M > "$dir/vms/g/mem"
  echo "$1" > "$dir/vms/g/mode"
  echo "$2" > "$dir/vms/g/shadow_prefetch"
  echo "$3" > "$dir/vms/g/cmdline"
  "$l1vmm" run --timeout 300 --config "$dir" 2>&1 || true
}

field() { grep -o "$1=[0-9.]*" | head -1 | cut -d= -f2; }
shadow_field() { grep -o "[0-9]* $1" | head -1 | cut -d' ' -f1; }

native=$build/perf/compute_native
[ -x "$native" ] || { echo "shadow.sh: no $native; build the perf/ targets" >&2; exit 2; }
cols='%-20s %11s %11s %8s %11s %8s %11s %12s %8s %12s\n'
printf "$cols" config write_MBps verify_MBps faults prefetched traps null_sys_us null_hcall_us tick_us compute_Mips
for config in ept "shadow 1" "shadow 8" "shadow 64" "shadow 512"; do
  set -- $config
  mode=$1 prefetch=${2:-512}
  for i in $(seq "$runs"); do
    out=$(run_vm "$mode" "$prefetch" "workload=memtouch size=128M")
    grep -q "result=PASS" <<< "$out" || { echo "shadow.sh: $config memtouch failed:" >&2; echo "$out" >&2; exit 1; }
    echo "$out" | field write_MBps >> "$work/w.$mode.$prefetch"
    echo "$out" | field verify_MBps >> "$work/v.$mode.$prefetch"
    echo "$out" | shadow_field faults >> "$work/f.$mode.$prefetch" || true
    echo "$out" | shadow_field prefetched >> "$work/p.$mode.$prefetch" || true
    echo "$out" | shadow_field traps >> "$work/t.$mode.$prefetch" || true
    out=$(run_vm "$mode" "$prefetch" "workload=compute iterations=1000000000")
    grep -q "result=PASS" <<< "$out" || { echo "shadow.sh: $config compute failed:" >&2; echo "$out" >&2; exit 1; }
    echo "$out" | field null_syscall_us >> "$work/s.$mode.$prefetch"
    echo "$out" | field tick_cost_us >> "$work/k.$mode.$prefetch"
    echo "$out" | field null_hypercall_us >> "$work/h.$mode.$prefetch" || true
    echo "$out" | field iter_per_sec | awk '{print $1 / 1e6}' >> "$work/c.$mode.$prefetch"
  done
  m() { [ -s "$work/$1.$mode.$prefetch" ] && median < "$work/$1.$mode.$prefetch" || echo -; }
  printf "$cols" "$mode${2:+ prefetch=$2}" \
    "$(m w)" "$(m v)" "$(m f)" "$(m p)" "$(m t)" "$(m s)" "$(m h)" "$(m k)" "$(m c)"
done
"$native" 1000000000 "$runs" | grep -o 'iter_per_sec=[0-9]*' | cut -d= -f2 |
  awk '{print $1 / 1e6}' > "$work/native"
nat=$(median < "$work/native")
printf 'native compute (perf/compute_native): %s Mips\n' "$nat"
for f in "$work"/c.*; do
  printf 'compute %-16s %s of native\n' "${f##*/c.}" "$(awk -v n="$nat" '{print $1 / n}' <<< "$(median < "$f")")"
done
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r); $(date -u '+%F %H:%M UTC'); $runs runs each, medians"
