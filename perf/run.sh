#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# DOC: perf/run.sh: l1vmm's first figures, every one with its baseline, in ONE run.
#
#   perf/run.sh [BUILD_DIR]        (default: the build/ folder beside perf/)
#
# Configures BUILD_DIR if it has no CMakeCache.txt, builds l1vmm, bench_exits
# and memtouch_native there, then measures, in this order:
#   (a) exit round trips: bench_exits (Google Benchmark), medians of
#       BENCH_REPS repetitions, with ratios against the host baselines
#       measured in the same process;
#   (b) `l1vmm run -- workload=hello`, process start to exit, HELLO_RUNS
#       times: median and p90 (hyperfine when installed, else a date loop);
#   (c) the guest's memtouch workload MEMTOUCH_RUNS times, interleaved with
#       memtouch_native (the same loop on the host) as often: medians of both
#       and the guest/native ratio;
#   (d) the machine and the date.
# A part that cannot run says why and the others go on; the exit status is 1
# when a part failed, else 0. Raw outputs are kept in OUT_DIR.
#
# Environment: BENCH_REPS (5), HELLO_RUNS (20), MEMTOUCH_RUNS (5),
# MEMTOUCH_SIZE (256M), MEMTOUCH_MEM (512M), OUT_DIR
# (BUILD_DIR/perf-results/DATE). Needs jq (Debian: apt-get install jq).
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$SRC/build}
BENCH_REPS=${BENCH_REPS:-5}
HELLO_RUNS=${HELLO_RUNS:-20}
MEMTOUCH_RUNS=${MEMTOUCH_RUNS:-5}
MEMTOUCH_SIZE=${MEMTOUCH_SIZE:-256M}
MEMTOUCH_MEM=${MEMTOUCH_MEM:-512M}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
OUT_DIR=${OUT_DIR:-$BUILD/perf-results/$STAMP}
L1VMM=$BUILD/l1vmm/l1vmm
failed=0

say() { printf '%s\n' "$*"; }
fail() { say "  NOT MEASURED: $*"; failed=1; }

# stats: numbers on stdin, one a line -> "median p90 n" (p90 by nearest rank).
stats() {
	sort -g | awk '{ v[NR] = $1 }
		END {
			if (NR == 0) { print "nan nan 0"; exit }
			med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			r = int(0.9 * NR); if (r < 0.9 * NR) r++
			printf "%.6g %.6g %d\n", med, v[r], NR
		}'
}

# field NAME LINE: the value of NAME=VALUE in LINE.
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

build() {
	say "== build ($BUILD)"
	if [[ ! -f $BUILD/CMakeCache.txt ]]; then
		cmake -S "$SRC" -B "$BUILD" -DL1VMM_PERF=ON >"$OUT_DIR/configure.log" 2>&1 ||
			{ say "  configure failed, see $OUT_DIR/configure.log"; exit 1; }
	fi
	local t
	for t in l1vmm bench_exits memtouch_native; do
		cmake --build "$BUILD" --target "$t" >"$OUT_DIR/build-$t.log" 2>&1 || {
			say "  WARNING: target $t did not build (an older binary is used if there" \
			    "is one), see $OUT_DIR/build-$t.log"
			failed=1
		}
	done
}

# (a) exit round trips.
part_exits() {
	say "== (a) exit round trips: bench_exits, median of $BENCH_REPS repetitions"
	local bin=$BUILD/perf/bench_exits json=$OUT_DIR/bench_exits.json
	say "  command: $bin --benchmark_repetitions=$BENCH_REPS" \
	    "--benchmark_report_aggregates_only=true"
	[[ -x $bin ]] || { fail "bench_exits was not built"; return; }
	"$bin" --benchmark_repetitions="$BENCH_REPS" --benchmark_report_aggregates_only=true \
	       --benchmark_out="$json" --benchmark_out_format=json \
	       >"$OUT_DIR/bench_exits.txt" 2>&1 ||
		{ fail "bench_exits failed: $(tail -n 3 "$OUT_DIR/bench_exits.txt")"; return; }
	# Medians in us, the spread of the repetitions (cv), and ratios against
	# both baselines of the same run.
	jq -r '
		def scale: {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[.time_unit];
		def ns: .real_time * scale;
		def agg($a): [.benchmarks[] | select(.aggregate_name == $a)];
		# one repetition has no aggregates: its single run is the median
		(if any(.benchmarks[]; .aggregate_name == "median") then agg("median") else
			[.benchmarks[] | select(.run_type == "iteration" and
						(.error_occurred | not))] end) as $m
		| agg("cv") as $cv
		| ($m[] | select(.run_name | test("getppid")) | ns) as $sys
		| ($m[] | select(.run_name | test("kvm_run_no_entry")) | ns) as $run
		| ["benchmark", "median_us", "cv_%", "cpu_us", "x_getppid", "x_kvm_run_no_entry"],
		  ($m[] | .run_name as $n
		   | [$n, (ns / 1e3 * 1000 | round / 1000),
		      ([$cv[] | select(.run_name == $n) | .real_time * 1000 | round / 10]
		       | first // "-"),
		      (.cpu_time * scale | round / 1000),
		      (ns / $sys * 10 | round / 10), (ns / $run * 100 | round / 100)])
		| @tsv' "$json" |
		awk -F'\t' '{ printf "  %-34s %10s %6s %10s %10s %20s\n", $1, $2, $3, $4, $5, $6 }'
	jq -r '.benchmarks[] | select(.error_occurred) | "  ERROR \(.name): \(.error_message)"' \
		"$json" | sort -u
	if jq -e '[.benchmarks[] | select(.error_occurred)] | length > 0' "$json" >/dev/null; then
		failed=1
	fi
}

# True when `l1vmm run -- workload=hello` passes; its output is in OUT_DIR.
hello_passes() {
	timeout 60 "$L1VMM" run -- workload=hello >"$OUT_DIR/hello.txt" 2>&1 &&
		grep -q 'workload=hello result=PASS' "$OUT_DIR/hello.txt"
}

# (b) l1vmm run -- workload=hello, process start to exit.
part_hello() {
	say "== (b) l1vmm run -- workload=hello: process start to exit, $HELLO_RUNS runs"
	say "  command: $L1VMM run -- workload=hello"
	[[ -x $L1VMM ]] || { fail "l1vmm was not built"; return; }
	hello_passes || { fail "hello does not pass: $(tail -n 2 "$OUT_DIR/hello.txt" |
				tr '\n' ' ')"; return; }
	local secs=$OUT_DIR/hello_seconds.txt
	if command -v hyperfine >/dev/null; then
		say "  method: hyperfine -N (no shell), 1 warm-up run"
		hyperfine -N --warmup 1 --runs "$HELLO_RUNS" --export-json "$OUT_DIR/hello.json" \
			"$L1VMM run -- workload=hello" >"$OUT_DIR/hyperfine.txt" 2>&1 ||
			{ fail "hyperfine failed: $(tail -n 2 "$OUT_DIR/hyperfine.txt")"; return; }
		jq -r '.results[0].times[]' "$OUT_DIR/hello.json" >"$secs"
	else
		say "  method: date +%s%N around each run (hyperfine is not installed)"
		: >"$secs"
		local i t0 t1
		for ((i = 0; i < HELLO_RUNS; i++)); do
			t0=$(date +%s%N)
			"$L1VMM" run -- workload=hello >/dev/null 2>&1 ||
				{ fail "run $i exited with status $?"; return; }
			t1=$(date +%s%N)
			# subtract in bash: awk's doubles cannot hold nanoseconds since 1970
			awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.9f\n", ns / 1e9 }' >>"$secs"
		done
	fi
	local s
	read -r -a s < <(stats <"$secs")
	say "  median $(awk -v v="${s[0]}" 'BEGIN { printf "%.1f", v * 1e3 }') ms," \
	    "p90 $(awk -v v="${s[1]}" 'BEGIN { printf "%.1f", v * 1e3 }') ms (n=${s[2]})"
}

# (c) memtouch in the guest against memtouch_native, interleaved run by run
# so that the machine's drift hits both alike.
part_memtouch() {
	local cmd=("$L1VMM" run --mem "$MEMTOUCH_MEM" --timeout 300 --
		   workload=memtouch size="$MEMTOUCH_SIZE")
	local native=$BUILD/perf/memtouch_native
	say "== (c) memtouch: guest vs native, $MEMTOUCH_RUNS runs each, interleaved"
	say "  guest:  ${cmd[*]}"
	[[ -x $L1VMM ]] || { fail "l1vmm was not built"; return; }
	[[ -x $native ]] || { fail "memtouch_native was not built (guest/lib/pattern.c missing?)"
			      return; }
	hello_passes || { fail "the built-in guest does not pass workload=hello yet"; return; }
	local g=$OUT_DIR/memtouch_guest.txt n=$OUT_DIR/memtouch_native.txt
	local log=$OUT_DIR/memtouch_guest.log run=$OUT_DIR/memtouch_run.txt
	local line i vcpus nargs
	: >"$g"; : >"$n"; : >"$log"
	for ((i = 0; i < MEMTOUCH_RUNS; i++)); do
		"${cmd[@]}" >"$run" 2>&1
		cat "$run" >>"$log"
		line=$(grep -o 'memtouch: size=.*' "$run" | tail -n 1)
		# l1vmm's own start line: "l1vmm: vm0: mode ..., 512 MiB, 1 vCPU, kernel ..."
		vcpus=$(sed -n 's/^l1vmm: .*, \([0-9][0-9]*\) vCPUs*, .*/\1/p' "$run" | head -n 1)
		[[ -n $line && -n $vcpus ]] ||
			{ fail "no memtouch line or no vCPU count from the guest (see $log)"; return; }
		echo "$line" >>"$g"
		# the native run does what the guest did, on as many CPUs as it had vCPUs
		nargs=(size="$(field size "$line")" tasks="$(field tasks "$line")"
		       passes="$(field passes "$line")" cpus="$vcpus")
		[[ $i -eq 0 ]] && say "  native: $native ${nargs[*]}"
		"$native" "${nargs[@]}" >>"$n" 2>&1 ||
			{ fail "memtouch_native failed: $(tail -n 1 "$n")"; return; }
	done
	sed 's/^/  guest  | /' "$g"; sed 's/^/  native | /' "$n"
	if grep -qv 'mismatches=0 ' "$g" "$n"; then
		fail "mismatches reported (see above): figures are not valid"
	fi
	local what gm nm
	for what in write_MBps verify_MBps; do
		gm=$(while read -r line; do field "$what" "$line"; done <"$g" | stats | cut -d' ' -f1)
		nm=$(while read -r line; do field "$what" "$line"; done <"$n" | stats | cut -d' ' -f1)
		say "  $what median: guest $gm, native $nm, guest/native $(ratio "$gm" "$nm")"
	done
}

part_machine() {
	say "== (d) machine"
	say "  model: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	say "  nproc: $(nproc), kernel: $(uname -r), memory: $(awk '/MemTotal/ { printf "%.1f GiB",
		$2 / 1048576 }' /proc/meminfo)"
	local mods=(/sys/module/kvm*)
	say "  KVM modules: ${mods[*]##*/}"
	say "  load average (1, 5, 15 min): $LOAD_START at the start, $(cut -d' ' -f1-3 \
		/proc/loadavg) at the end"
	say "  date: $(date -u '+%Y-%m-%d %H:%M:%S UTC') (started $STAMP)"
	say "  tree: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo 'no commit yet')"
}

command -v jq >/dev/null || { say "perf/run.sh: needs jq (apt-get install jq)"; exit 2; }
mkdir -p "$OUT_DIR" || exit 2
build
part_exits
part_hello
part_memtouch
part_machine
say "raw outputs: $OUT_DIR"
exit "$failed"
