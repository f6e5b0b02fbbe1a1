#!/usr/bin/env bash
# The demo: boot the built-in guest kernel and run workloads that check their own
# memory, then several guests in one l1vmm watched through the live control tree.
# Then the consolidation demo: several guests in one process sharing identical pages,
# and an overcommitted host: sharing, then the balloon, then host reclaim.
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

# --- an overcommitted host: sharing, the balloon, then host reclaim
mb() { cat "$mnt/$1" 2>/dev/null || echo 0; }
progress() { # one line: what each mechanism holds back now
  local rss share bal rep comp store
  rss=$(( $(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0) / 1024 ))
  share=$(( $(mb dedup/general_profit) / 1048576 ))
  bal=$(( $(mb vms/batch/balloon/actual_mb) ))
  rep=$(( $(mb vms/batch/balloon/reported_mb) ))
  comp=$(( $(mb reclaim/pages_compressed) * 4096 / 1048576 ))
  store=$(( $(mb reclaim/store_mem_bytes) / 1048576 ))
  printf '  t=%2ss  l1vmm RssAnon %4s MiB, guest RAM %4s | sharing saves %3s MiB | balloon holds %3s MiB (+%s reported free) | store holds %3s MiB in %2s MiB (x%s) | balloon %s, reclaim %s\n' \
    "$1" "$rss" "$(mb reclaim/guest_resident_mb)" "$share" "$bal" "$rep" "$comp" "$store" "$(mb reclaim/compression_ratio)" \
    "$(mb balloon/state)" "$(mb reclaim/state)"
}
printf '\n== an overcommitted host: the same mechanisms one after the other, the live tree at %s\n' "$mnt"
printf '   web1+web2 (shadow) run one image: page sharing merges them. batch (ept, PV balloon)\n'
printf '   touches 160M and keeps 32M: the balloon takes back what it freed. cache (ept, no\n'
printf '   balloon) holds 120M it never reads: host reclaim compresses it, after the balloon\n'
printf '   had its chance. Every guest verifies every page it wrote, to the end.\n'
"$l1vmm" run --timeout 120 --sysfs "$mnt" --set dedup/run=1 --set dedup/pages_to_scan=2000 \
  --set balloon/interval_ms=500 --set reclaim/run=1 --set reclaim/delay_ms=3000 \
  --vm 'name=web1,mem=128M,mode=shadow,domain=web,cmdline="workload=dup size=48M seconds=44 mutate=2 seed=5 vm=1"' \
  --vm 'name=web2,mem=128M,mode=shadow,domain=web,cmdline="workload=dup size=48M seconds=44 mutate=2 seed=5 vm=2"' \
  --vm 'name=batch,mem=256M,mode=ept,cmdline="workload=churn peak=160M hold=32M seconds=44 balloon=pv"' \
  --vm 'name=cache,mem=192M,mode=ept,cmdline="workload=hotcold size=128M hot=8M seconds=40 full=0"' \
  > "$mnt.log" 2>&1 &
pid=$!
t0=$SECONDS
until grep -q "^\[cache\] hotcold: size=" "$mnt.log" 2>/dev/null && grep -q "^\[batch\] churn: peak=" "$mnt.log"; do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
sleep 2
progress $((SECONDS - t0))
rss=$(( $(awk '/^RssAnon/ {print $2}' "/proc/$pid/status") / 1024 ))
res=$(mb reclaim/guest_resident_mb)
blimit=$((rss - 180)) rlimit=$((res - 180))
printf '   the host wants 180 MiB back: the balloon first, reclaim for what the balloon cannot give\n'
printf '$ echo %s > balloon/host_limit_mb; echo auto > balloon/policy   # RssAnon %s - 180\n' "$blimit" "$rss"
echo "$blimit" > "$mnt/balloon/host_limit_mb"
echo auto > "$mnt/balloon/policy"
printf '$ echo %s > reclaim/host_limit_mb                               # guest RAM %s - 180\n' "$rlimit" "$res"
echo "$rlimit" > "$mnt/reclaim/host_limit_mb"
for _ in 1 2 3 4 5 6 7 8 9 10; do
  sleep 2
  kill -0 "$pid" 2>/dev/null || break
  progress $((SECONDS - t0))
done
share=$(( $(mb dedup/general_profit) / 1048576 ))
bal=$(mb vms/batch/balloon/actual_mb)
comp=$(( $(mb reclaim/pages_compressed) * 4096 / 1048576 ))
store=$(( $(mb reclaim/store_mem_bytes) / 1048576 ))
now=$(( $(awk '/^RssAnon/ {print $2}' "/proc/$pid/status") / 1024 ))
printf '\n   memory held back, per mechanism (MiB)\n'
printf '   %-44s %6s\n' "page sharing (dedup/general_profit)" "$share" \
  "balloon (vms/batch/balloon/actual_mb)" "$bal" \
  "host reclaim: $comp in the store, in $store of memory" "$((comp - store))"
printf '   l1vmm RssAnon before the limits %s, now %s (limit %s)\n' "$rss" "$now" "$blimit"
printf '\n$ l1vmm stat %s/reclaim\n' "$mnt"
"$l1vmm" stat "$mnt/reclaim" || true
printf '$ echo manual > balloon/policy; echo 0 > reclaim/run             # the pressure ends\n'
echo manual > "$mnt/balloon/policy" || true
echo 0 > "$mnt/reclaim/run" || true
wait "$pid" || { cat "$mnt.log"; echo "demo: a guest failed (its lines are above)" >&2; exit 1; }
grep -E "^\[[a-z0-9]+\] (dup|churn|hotcold): (rounds|touches)=|result=" "$mnt.log" || true
rm -f "$mnt.log"
printf '\ndemo: all guests exited 0 (every page they wrote read back intact)\n'
