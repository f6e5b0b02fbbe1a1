#!/usr/bin/env bash
# Page sharing (issue 5): l1vmm's dedup against Linux KSM, in one run.
#   perf/dedup.sh [BUILD_DIR]          (root: KSM's knobs are in /sys/kernel/mm/ksm/)
# For each contender, N guests of MEM each run workload=dup (same seed, vm=1..N,
# one sharing domain) in one l1vmm process with the control tree mounted
# (--sysfs); every SAMPLE_S seconds the script reads dedup/ (saved pages =
# pages_sharing + zero_pages, scanner CPU), host MemAvailable (/proc/meminfo)
# and l1vmm's RSS (host/l1vmm_rss). The contenders (CONTENDERS, in this order):
#   none          dedup/run=0: the baseline of every "saved" and "cost" figure
#   none-shadow   dedup/run=0 with shadow guests: when run, the baseline of the
#                 shadow contenders' guest figures (verify, rewrite, COW break)
#   ksm           dedup/backend=ksm: ept guests' RAM MADV_MERGEABLE, ksmd scans
#   l1vmm-ept     l1vmm's engine, ept guests
#   l1vmm-shadow  l1vmm's engine, shadow guests (prints NOT MEASURED while
#                 l1vmm refuses it, and goes on)
# All sharing contenders get the same budget: PAGES_TO_SCAN pages per wake-up,
# SLEEP_MS between wake-ups (dedup/ knobs; KSM gets the same values).
# The guest's run: rounds 1..SCAN_S only verify (the scanners converge), rounds
# SCAN_S+1..SCAN_S+MUTATE_S rewrite MUTATE % of the pages each (COW breaks).
# Knobs (environment, defaults in brackets):
#   N [4]  MEM [256M]  SIZE [192M]: guests, RAM each, workload=dup size
#   SHARED [40]  INTERNAL [20]  ZERO [20]: the mix, % of SIZE; SEED [1]
#   PAGES_TO_SCAN [500]  SLEEP_MS [20]: the scan budget
#   SCAN_S [50]  MUTATE_S [10]  MUTATE [1]: the phases (seconds) and the rewrite %
#   SAMPLE_S [0.5]  CONTENDERS ["none none-shadow ksm l1vmm-ept l1vmm-shadow"]
#   RESUMMARIZE [unset]: set to 1 with OUT_DIR of an earlier run to compute its
#     table again from the files there, without running anything
#   MAX_MAP_COUNT [1048576]: vm.max_map_count during the run (put back at the
#     end; "keep" leaves the host's value). l1vmm's ept backend needs about one
#     host mapping per shared page that is not next to another one, and stops
#     sharing near the limit (Linux's default 65530 is ~45% of this run's ideal)
#   OUT_DIR [BUILD_DIR/perf-results/dedup-DATE]
# Between contenders it waits until l1vmm has exited and MemAvailable has
# settled (two samples 1 s apart within 8 MiB, at most 20 s); it does not drop
# page caches (the machine is shared). KSM's counters are global: the values
# read just before a ksm run are subtracted; l1vmm puts KSM's knobs back when
# it exits, and a process's merged pages go with it.
# Output: a table on stdout; in OUT_DIR samples-CONTENDER.tsv (raw samples),
# rounds-CONTENDER.tsv (the guests' round lines), log-CONTENDER.txt (l1vmm's
# output, each line prefixed with the host time), hcpu-CONTENDER.tsv (host CPU
# outside the guests over time, see host_cpu_ms), sched-CONTENDER.tsv (per thread of
# l1vmm, and ksmd: name, CPU ns, ns waiting for a CPU while runnable, from
# /proc/PID/task/TID/schedstat, the last reading before l1vmm exited; a summary
# line per contender on stdout: on a host the guests saturate, the wait column
# is where a scanner's or a fault's time goes), summary.tsv, dedup-saved.png.
# Exit status: 0, 1 when a guest saw a mismatch or failed, 2 for bad usage.
set -eu  # no pipefail: grep -q and head end pipelines early on purpose
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
l1vmm=$build/l1vmm/l1vmm
[ -x "$l1vmm" ] || { echo "dedup.sh: no $l1vmm; build first (cmake --build)" >&2; exit 2; }
for tool in jq gnuplot; do
  command -v $tool >/dev/null || { echo "dedup.sh: needs $tool (scripts/setup.sh installs it)" >&2; exit 2; }
done
[ -w /sys/kernel/mm/ksm/run ] || { echo "dedup.sh: cannot write /sys/kernel/mm/ksm/run: run as root" >&2; exit 2; }

N=${N:-4} MEM=${MEM:-256M} SIZE=${SIZE:-192M} SEED=${SEED:-1}
SHARED=${SHARED:-40} INTERNAL=${INTERNAL:-20} ZERO=${ZERO:-20}
PAGES_TO_SCAN=${PAGES_TO_SCAN:-500} SLEEP_MS=${SLEEP_MS:-20}
SCAN_S=${SCAN_S:-50} MUTATE_S=${MUTATE_S:-10} MUTATE=${MUTATE:-1} SAMPLE_S=${SAMPLE_S:-0.5}
CONTENDERS=${CONTENDERS:-none none-shadow ksm l1vmm-ept l1vmm-shadow}
out=${OUT_DIR:-$build/perf-results/dedup-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
MAX_MAP_COUNT=${MAX_MAP_COUNT:-1048576}
mnt=$(mktemp -d)
map_count0=$(cat /proc/sys/vm/max_map_count)
trap 'rmdir "$mnt" 2>/dev/null || true; echo "$map_count0" > /proc/sys/vm/max_map_count' EXIT
[ "$MAX_MAP_COUNT" = keep ] || echo "$MAX_MAP_COUNT" > /proc/sys/vm/max_map_count
status=0

median() { sort -g | awk '{a[NR]=$1} END {if (NR) printf "%.15g\n", (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2); else print "n/a"}'; }
mem_available() { awk '/^MemAvailable:/ {printf "%.0f\n", $2 * 1024}' /proc/meminfo; }
ksm_stat() { cat "/sys/kernel/mm/ksm/$1"; }
# host_cpu_ms PID...: the host CPU these processes used outside their guests, in
# ms: utime + stime - guest_time of every thread (the vCPU threads' exit and
# fault work, KVM's in the kernel included, and every other thread's).
clk_tck=$(getconf CLK_TCK)
# sched_snapshot PID...: each thread's name, CPU ns and run-queue wait ns (no forks).
sched_snapshot() {
  local p t c r
  for p in "$@"; do
    for t in /proc/"$p"/task/*; do
      { read -r c < "$t/comm" && read -r r < "$t/schedstat"; } 2>/dev/null || continue
      set -- $r
      printf '%s\t%s\t%s\n' "$c" "$1" "$2"
    done
  done
}
host_cpu_ms() {
  local p
  for p in "$@"; do cat /proc/"$p"/task/*/stat 2>/dev/null; done |
    awk -v hz="$clk_tck" '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); t += f[12] + f[13] - f[41] }
                          END { printf "%.0f\n", t * 1000 / hz }'
}

# KSM keeps the counters of an exited process's merged pages (their memory
# is freed at exit) until ksmd runs again: with run=0 they stay. Let ksmd run
# with no mergeable memory until pages_shared stops changing (at most 10 s),
# then put run back, so a ksm run starts from clean counters.
ksm_flush() {
  local run i a b
  run=$(ksm_stat run)
  [ "$run" = 0 ] && [ $(( $(ksm_stat pages_shared) + $(ksm_stat pages_sharing) + $(ksm_stat ksm_zero_pages) )) -gt 0 ] || return 0
  echo 1 > /sys/kernel/mm/ksm/run
  a=$(ksm_stat pages_shared)
  for i in $(seq 20); do
    sleep 0.5; b=$(ksm_stat pages_shared)
    [ "$b" = 0 ] || [ "$b" = "$a" ] && break
    a=$b
  done
  echo "$run" > /sys/kernel/mm/ksm/run
  echo "dedup.sh: KSM counters flushed: pages_shared=$(ksm_stat pages_shared) pages_sharing=$(ksm_stat pages_sharing) ksm_zero_pages=$(ksm_stat ksm_zero_pages)" >&2
}

# Wait for MemAvailable to settle after the last l1vmm exited.
settle() {
  local a b i
  a=$(mem_available)
  for i in $(seq 20); do
    sleep 1; b=$(mem_available)
    [ $(( (a > b ? a - b : b - a) >> 20 )) -lt 8 ] && return
    a=$b
  done
}

# run_contender NAME: one l1vmm process; writes log-, samples- and rounds-NAME.
run_contender() {
  local name=$1 mode=ept sets=() vms=() i
  local log=$out/log-$name.txt samples=$out/samples-$name.tsv
  case $name in
  none) sets=(--set dedup/run=0) ;;
  none-shadow) sets=(--set dedup/run=0); mode=shadow ;;
  ksm) sets=(--set dedup/backend=ksm --set dedup/run=1) ;;
  l1vmm-ept) sets=(--set dedup/backend=l1vmm --set dedup/run=1) ;;
  l1vmm-shadow) sets=(--set dedup/backend=l1vmm --set dedup/run=1); mode=shadow ;;
  *) echo "dedup.sh: unknown contender $name" >&2; exit 2 ;;
  esac
  sets+=(--set dedup/pages_to_scan=$PAGES_TO_SCAN --set dedup/sleep_millisecs=$SLEEP_MS)
  for i in $(seq "$N"); do
    vms+=(--vm "name=g$i,mem=$MEM,mode=$mode,domain=bench,cmdline=\"workload=dup size=$SIZE shared=$SHARED internal=$INTERNAL zero=$ZERO mutate=$MUTATE mutate_from=$((SCAN_S + 1)) seconds=$((SCAN_S + MUTATE_S)) seed=$SEED vm=$i\"")
  done
  # before: MemAvailable (median of 3), KSM's global counters and ksmd's CPU
  local before ksm0=0
  before=$(for i in 1 2 3; do mem_available; sleep 0.3; done | median)
  if [ "$name" = ksm ]; then
    ksm_flush
    ksm0=$(( $(ksm_stat pages_sharing) + $(ksm_stat ksm_zero_pages) )) # scan_cpu_ms counts from l1vmm's start
  fi
  echo "$before" > "$out/mem_before-$name"
  "$l1vmm" run --timeout $((SCAN_S + MUTATE_S + 120)) --sysfs "$mnt" "${sets[@]}" "${vms[@]}" \
    > >(while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done > "$log") 2>&1 &
  local pid=$! d=$mnt/dedup sharing zero cpu rss shared cow maps hcpu ksmd= ksmd0=0
  if [ "$name" = ksm ]; then
    ksmd=$(pgrep -x ksmd | head -1); ksmd0=$(host_cpu_ms "$ksmd")
    sched_snapshot "$ksmd" | sed 's/^/start:/' > "$out/sched-start-$name.tsv"
  fi
  rm -f "$out/sched-$name.tmp"
  printf 't\tsaved_pages\tpages_shared\tscan_cpu_ms\tmem_available\tl1vmm_rss\tcow_breaks\thost_mappings\thost_cpu_ms\n' > "$samples"
  while kill -0 "$pid" 2>/dev/null; do
    if { read -r sharing < "$d/pages_sharing" && read -r zero < "$d/zero_pages" &&
         read -r cpu < "$d/scan_cpu_ms" && read -r shared < "$d/pages_shared" &&
         read -r cow < "$d/cow_breaks" && read -r maps < "$d/host_mappings" &&
         read -r rss < "$mnt/host/l1vmm_rss"; } 2>/dev/null; then
      hcpu=$(host_cpu_ms "$pid")
      [ -z "$ksmd" ] || hcpu=$((hcpu + $(host_cpu_ms "$ksmd") - ksmd0))
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$EPOCHREALTIME" $((sharing + zero - ksm0)) "$shared" \
        "$cpu" "$(mem_available)" "$rss" "$cow" "$maps" "$hcpu" >> "$samples"
      # kept only while the guests run (l1vmm's last moments have no vCPU threads)
      sched_snapshot "$pid" $ksmd > "$out/sched-$name.tmp"
      ! grep -q '^l1-vcpu' "$out/sched-$name.tmp" || mv "$out/sched-$name.tmp" "$out/sched-$name.tsv"
    fi
    sleep "$SAMPLE_S"
  done
  wait "$pid" && echo 0 > "$out/rc-$name" || echo $? > "$out/rc-$name"
  [ "$name" != ksm ] || ksm_flush
  sleep 0.2 # the log's reader ends after l1vmm
  # the guests' round lines: host time, vm, round, verify_MBps, rewrite_dup_ns, rewrite_unique_ns
  sed -n 's/^\([0-9.]*\) \[g\([0-9]*\)\] dup: t=\([0-9]*\) .*verify_MBps=\([0-9]*\) rewrite_dup_ns=\([0-9]*\) rewrite_unique_ns=\([0-9]*\).*/\1\t\2\t\3\t\4\t\5\t\6/p' \
    "$log" > "$out/rounds-$name.tsv"
}

# check NAME: 0 when every guest passed with 0 mismatches; NOT MEASURED when none started.
check() {
  local name=$1
  local log=$out/log-$name.txt
  if ! grep -q '\] dup: size=' "$log"; then
    echo "NOT MEASURED: $name: $(grep -o 'l1vmm: .*' "$log" | tail -1)"
    return 2
  fi
  if grep -q 'mismatches=[1-9]\|dup: mismatch' "$log" ||
     [ "$(grep -c '\] dup: rounds=.* mismatches=0 ' "$log")" != "$N" ] ||
     [ "$(grep -c 'workload=dup result=PASS' "$log")" != "$N" ]; then
    echo "!!! dedup.sh: $name: a guest saw a MISMATCH or failed (exit $(cat "$out/rc-$name")); see $log" >&2
    grep 'mismatch\|result=\|l1vmm: .*\(error\|cannot\|fail\)' "$log" | head -20 >&2
    return 1
  fi
}

# The ideal saving from the guest's own line: N*Z + (N-1)*S + N*(I - min(I,16)) pages.
ideal_pages() {
  grep -m1 '\] dup: size=' "$out/log-$1.txt" | awk -v n="$N" '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    it = v["internal"]; print n * v["zero"] + (n - 1) * v["shared"] + n * (it > 16 ? it - 16 : 0) }'
}
# The host time at which the last guest finished its fill (the origin of every time).
t_fill() { grep '\] dup: size=' "$out/log-$1.txt" | awk '{print $1}' | sort -g | tail -1; }

# summarize NAME IDEAL: one summary line (tab-separated, fields as in $header)
# cpu95_s and scan_cpu_s: the scanner's (l1vmm) or ksmd's CPU alone; added_cpu95_s and
# added_cpu_s: all host CPU the contender used outside its guests (host_cpu_ms: every
# l1vmm thread, the vCPU threads' fault and exit work included, and ksmd) minus what the
# same guests without sharing used in the same time since their fill (none, or
# none-shadow for shadow contenders; "-" when that baseline was not run), plus the
# scanner's (or ksmd's) CPU before the fill ended; at 95 % of the ideal and at the end of
# the scan phase. The fill itself is left out: how long the host takes to give the guests
# their memory varies from run to run by seconds of CPU, with or without sharing.
header='contender\tt95_s\tcpu95_s\tadded_cpu95_s\tfinal_saved_MiB\tfinal_pct_ideal\tscan_cpu_s\tadded_cpu_s\tmemavail_saved_MiB\trss_saved_MiB\tverify_MBps\tverify_vs_none\trewrite_dup_ns\trewrite_unique_ns\tcow_break_us\tcow_breaks\tmismatches'
# host_cpu_at NAME T: NAME's host_cpu_ms at T seconds since its fill, interpolated.
host_cpu_at() {
  awk -v t="$2" '$1 <= t { pt = $1; pc = $2; have = 1; next }
    { if (have) printf "%.0f\n", pc + (t - pt) / ($1 - pt) * ($2 - pc); else print $2; done = 1; exit }
    END { if (!done) print have ? pc : "nan" }' "$out/hcpu-$1.tsv"
}
summarize() {
  local name=$1 ideal=$2 t0 before
  t0=$(t_fill "$name"); before=$(cat "$out/mem_before-$name")
  # saved over time, seconds since the fill (for the plot)
  awk -v t0="$t0" 'NR > 1 {print $1 - t0 "\t" $2 * 4096 / 1048576}' "$out/samples-$name.tsv" > "$out/plot-$name.tsv"
  awk -v t0="$t0" 'NR > 1 {print $1 - t0 "\t" $9}' "$out/samples-$name.tsv" > "$out/hcpu-$name.tsv"
  awk -F'\t' -v t0="$t0" -v ideal="$ideal" -v scan="$SCAN_S" -v before="$before" '
    NR == 1 { next }
    { t = $1 - t0 }
    # time and CPU at 95 % of ideal, interpolated between the two samples around it
    !hit && $2 >= 0.95 * ideal && t > 0 {
      f = (NR > 2 && $2 > ps) ? (0.95 * ideal - ps) / ($2 - ps) : 1
      t95 = pt + f * (t - pt); c95 = pc + f * ($4 - pc); h95 = ph + f * ($9 - ph); hit = 1
    }
    { pt = t; ps = $2; pc = $4; ph = $9 }
    !z && t >= 0 { z = 1; h_0 = $9; c_0 = $4 }
    # the end of the scan phase: its last 3 seconds (rounds that only verify)
    t >= scan - 3 && t < scan - 0.5 { nf++; sv[nf] = $2; ma[nf] = $5; rs[nf] = $6; cpu_end = $4; h_end = $9; t_end = t }
    t < scan + 0.5 { cow0 = $7 } { cow1 = $7 }
    function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x }
      return n ? (n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2) : "nan" }
    END {
      printf "%s\t%s\t%.1f\t%.2f\t%.2f\t%.0f\t%.0f\t%d\t%s\t%s\t%s\n", hit ? sprintf("%.2f", t95) : "not_reached",
        hit ? sprintf("%.2f", c95 / 1000) : "-", med(sv, nf) * 4096 / 1048576, 100 * med(sv, nf) / ideal,
        cpu_end / 1000, (before - med(ma, nf)) / 1048576, med(rs, nf) / 1048576, cow1 - cow0,
        hit ? sprintf("%.3f", t95) : "-", hit ? h95 - h_0 + c_0 : "-", t_end "\t" h_end - h_0 + c_0 }' \
    "$out/samples-$name.tsv" > "$out/phase-$name"
  # guest figures: aggregate verify MB/s per round (rounds 2..SCAN_S), rewrite costs (mutating rounds)
  local verify rdup runi mism
  verify=$(awk -v s="$SCAN_S" '$3 >= 2 && $3 <= s {a[$3] += $4} END {for (r in a) print a[r]}' "$out/rounds-$name.tsv" | median)
  rdup=$(awk -v s="$SCAN_S" '$3 > s && $5 > 0 {print $5}' "$out/rounds-$name.tsv" | median)
  runi=$(awk -v s="$SCAN_S" '$3 > s && $6 > 0 {print $6}' "$out/rounds-$name.tsv" | median)
  mism=$(grep '\] dup: rounds=' "$out/log-$name.txt" | grep -o 'mismatches=[0-9]*' | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
  local tx hx te he base a95=- aend=-
  read -r t95 c95 fsav fpct cpu used rss cow tx hx te he < "$out/phase-$name"
  [ "$name" != ksm ] || cow=- # KSM does not count COW breaks
  # CPU added: against the same guests without sharing, at the same time since the fill
  case $name in *shadow) base=none-shadow ;; *) base=none ;; esac
  if [ "$name" != "$base" ] && [ -s "$out/hcpu-$base.tsv" ]; then
    local b0; b0=$(host_cpu_at "$base" 0)
    # before the fill ended (t95 < 0): the scanner's CPU alone
    [ "$tx" = - ] || a95=$(awk -v a="$hx" -v b="$(host_cpu_at "$base" "$tx")" -v b0="$b0" -v t="$tx" -v c="$c95" \
      'BEGIN {printf "%.2f", t < 0 ? c : (a - b + b0) / 1000}')
    aend=$(awk -v a="$he" -v b="$(host_cpu_at "$base" "$te")" -v b0="$b0" 'BEGIN {printf "%.2f", (a - b + b0) / 1000}')
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$t95" "$c95" "$fsav" "$fpct" "$cpu" \
    "$used" "$rss" "$verify" "$rdup" "$runi" "$cow" "$mism" "$a95" "$aend" >> "$out/raw.tsv"
}

mfile=$out/machine${RESUMMARIZE:+-resummarized}.txt # a new run, or a table computed again
echo "dedup.sh: $N guests x $MEM, workload=dup size=$SIZE shared=$SHARED internal=$INTERNAL zero=$ZERO;" \
  "budget pages_to_scan=$PAGES_TO_SCAN sleep_millisecs=$SLEEP_MS; $SCAN_S s scanning, then $MUTATE_S s" \
  "rewriting $MUTATE %/s; output in $out"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "kernel $(uname -r), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo);" \
  "$(date -u '+%F %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "vm.max_map_count $(cat /proc/sys/vm/max_map_count) (host's: $map_count0);" \
  "tree $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')" | tee "$mfile"
: > "$out/raw.tsv"
measured=()
for c in $CONTENDERS; do
  if [ -z "${RESUMMARIZE:-}" ]; then
    settle
    echo "dedup.sh: running $c ..." >&2
    run_contender "$c"
  fi
  rc=0; check "$c" || rc=$?
  case $rc in
  0) measured+=("$c") ;;
  1) status=1; measured+=("$c") ;;
  esac
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$mfile"
[ ${#measured[@]} -gt 0 ] || { echo "dedup.sh: nothing measured" >&2; exit 1; }

ideal=$(ideal_pages "${measured[0]}")
echo "ideal saving: $ideal pages = $(awk -v p="$ideal" 'BEGIN {printf "%.1f", p * 4096 / 1048576}') MiB" | tee -a "$mfile"
for c in "${measured[@]}"; do summarize "$c" "$ideal"; done

# The table: saved memory and costs against the none run of the same process order.
awk -F'\t' -v OFS='\t' -v hdr="$(printf "$header")" '
  { row[NR] = $0; name[NR] = $1; used[NR] = $7; rss[NR] = $8; ver[NR] = $9; dup[NR] = $10
    if ($1 == "none") { u0 = $7; r0 = $8; v0 = $9; d0 = $10; base = 1 }
    if ($1 == "none-shadow") { sv0 = $9; sd0 = $10; sbase = 1 } }
  END {
    print hdr
    for (i = 1; i <= NR; i++) {
      split(row[i], f, "\t")
      ms = base ? sprintf("%.0f", u0 - used[i]) : "-"
      rs = base ? sprintf("%.0f", r0 - rss[i]) : "-"
      # guest figures of shadow guests against shadow guests without sharing, when measured
      shadow = name[i] ~ /shadow$/ && sbase
      gv = shadow ? sv0 : v0; gd = shadow ? sd0 : d0; gb = shadow || base
      vr = gb && gv > 0 ? sprintf("%.3f", ver[i] / gv) : "-"
      cb = gb && dup[i] != "n/a" && gd != "n/a" ? sprintf("%.2f", (dup[i] - gd) / 1000) : "-"
      print f[1], f[2], f[3], f[14], f[4], f[5], f[6], f[15], ms, rs, f[9], vr, f[10], f[11], cb, f[12], f[13]
    } }' "$out/raw.tsv" > "$out/summary.tsv"
column -t -s $'\t' "$out/summary.tsv"

# Convergence ratios, KSM against each l1vmm backend: time, scanner CPU and CPU added.
awk -F'\t' '$1 == "ksm" {kt = $2; kc = $3; ka = $4} $1 ~ /^l1vmm/ {lt[$1] = $2; lc[$1] = $3; la[$1] = $4}
  function r(k, l) { return (k + 0 > 0 && l + 0 > 0) ? sprintf("%.1fx", k / l) : "n/a" }
  END { for (n in lt) printf "convergence ksm / %s: time %s, scanner CPU %s, CPU added %s\n", n,
          r(kt, lt[n]), r(kc, lc[n]), r(ka, la[n]) }' "$out/summary.tsv" | sort | tee "$out/ratios.txt"

# Where the threads' time went: CPU and run-queue wait of the scanner (or ksmd, from
# the contender's start) and of the vCPU threads together, over the whole run.
for c in "${measured[@]}"; do
  [ -s "$out/sched-$c.tsv" ] || continue
  touch "$out/sched-start-$c.tsv" # ksmd's readings at the start, subtracted
  awk -F'\t' -v c="$c" '$1 == "start:ksmd" {sr -= $2; sw -= $3}
    $1 == "l1-scanner" || $1 == "ksmd" {sr += $2; sw += $3}
    $1 ~ /^l1-vcpu/ {vr += $2; vw += $3}
    END { sp = sr + sw > 0 ? 100 * sw / (sr + sw) : 0; vp = vr + vw > 0 ? 100 * vw / (vr + vw) : 0
          printf "sched %s: scanner/ksmd CPU %.2f s, waiting %.2f s (%.0f%%); ", c, sr / 1e9, sw / 1e9, sp
          printf "vCPU threads CPU %.2f s, waiting %.2f s (%.0f%%)\n", vr / 1e9, vw / 1e9, vp }' \
    "$out/sched-start-$c.tsv" "$out/sched-$c.tsv"
done | tee "$out/sched.txt"

# The plot: saved MiB over time since the fill, one line per contender, the ideal.
{
  echo "set terminal pngcairo size 1000,600 noenhanced"
  echo "set output '$out/dedup-saved.png'"
  echo "set title 'Saved memory, $N guests x $SIZE workload=dup (pages_to_scan=$PAGES_TO_SCAN, sleep_millisecs=$SLEEP_MS)'"
  echo "set xlabel 'seconds since the guests filled their memory'; set ylabel 'saved MiB (pages_sharing + zero pages)'"
  echo "set key bottom right; set grid"
  echo "set arrow from $SCAN_S, graph 0 to $SCAN_S, graph 1 nohead dt 3"
  printf "plot %s, " "$(awk -v p="$ideal" 'BEGIN {printf "%.2f", p * 4096 / 1048576}') title 'ideal' dt 2 lw 2"
  sep=""
  for c in "${measured[@]}"; do printf "%s'%s' using 1:2 with lines lw 2 title '%s'" "$sep" "$out/plot-$c.tsv" "$c"; sep=", "; done
  echo
} > "$out/dedup-saved.gp"
gnuplot "$out/dedup-saved.gp" && echo "plot: $out/dedup-saved.png"
exit $status
