#!/bin/sh
# Fail when the guest image contains an instruction that cannot run here:
# KVM's emulator (CPL0 on this machine) stops on cmpxchg16b, xsave/xrstor and
# int3, and the kernel saves no FPU/SSE state, so no x87/SSE/AVX either.
# Usage: check_insns.sh OBJDUMP ELF
set -eu
objdump=${1:-objdump}
elf=$2
bad=$("$objdump" -d --no-show-raw-insn "$elf" |
	grep -E '^\s+[0-9a-f]+:\s' |
	grep -Ei '\s(cmpxchg16b|xsave[a-z0-9]*|xrstor[a-z0-9]*|fxsave[a-z0-9]*|fxrstor[a-z0-9]*|int3|f[a-z0-9]+\s+%st|fld[a-z0-9]*|fst[a-z0-9]*|fnst[a-z0-9]*|fi?(add|sub|mul|div)[a-z]*|emms|ldmxcsr|stmxcsr)\b|%[xyz]mm[0-9]|%mm[0-7]|%st\b' || true)
if [ -n "$bad" ]; then
	echo "check_insns: $elf contains instructions the guest must not use:" >&2
	echo "$bad" | head -20 >&2
	exit 1
fi
