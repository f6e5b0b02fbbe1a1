#!/bin/sh
# Fail when the guest image contains an instruction that cannot run here:
# KVM's emulator (CPL0 on this machine) stops on cmpxchg16b, xsave/xrstor and
# int3, and the kernel saves no FPU/SSE state, so no x87/SSE/AVX either.
# Nor any instruction that needs a CPUID feature bit (rdtscp, rdrand, popcnt,
# BMI, movbe, crc32, fsgsbase, monitor/mwait, ...): the kernel checks no
# feature bits, and the cpuid instruction may describe the CPU below l1vmm,
# not the one l1vmm offers (pvops/l1vmm_abi.h, "Finding l1vmm"). tzcnt is
# allowed: gcc emits `rep bsf` for __builtin_ctz, which objdump shows as tzcnt
# and which runs as bsf on CPUs without BMI1 (same result for a nonzero input).
# Usage: check_insns.sh OBJDUMP ELF
set -eu
objdump=${1:-objdump}
elf=$2
bad=$("$objdump" -d --no-show-raw-insn "$elf" |
	grep -E '^\s+[0-9a-f]+:\s' |
	grep -Ei '\s(cmpxchg16b|xsave[a-z0-9]*|xrstor[a-z0-9]*|fxsave[a-z0-9]*|fxrstor[a-z0-9]*|int3|f[a-z0-9]+\s+%st|fld[a-z0-9]*|fst[a-z0-9]*|fnst[a-z0-9]*|fi?(add|sub|mul|div)[a-z]*|emms|ldmxcsr|stmxcsr|rdtscp|rdrand|rdseed|rdpid|popcnt|lzcnt|andn|bextr|blsi|blsmsk|blsr|bzhi|pdep|pext|mulx|rorx|sarx|shlx|shrx|adcx|adox|movbe|crc32[bwlq]?|rd[fg]sbase|wr[fg]sbase|xgetbv|xsetbv|monitorx?|mwaitx?|invpcid|clflushopt|clwb|clzero|prefetchw|rdpkru|wrpkru)\b|%[xyz]mm[0-9]|%mm[0-7]|%st\b' || true)
if [ -n "$bad" ]; then
	echo "check_insns: $elf contains instructions the guest must not use:" >&2
	echo "$bad" | head -20 >&2
	exit 1
fi
