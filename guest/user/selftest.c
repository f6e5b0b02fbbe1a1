// SPDX-License-Identifier: MIT
/*
 * DOC: workload=selftest: the kernel's own checks, kvm-unit-tests style.
 *
 * Each check is a function that ends in one report() line,
 * `selftest: <name> ok` or `selftest: <name> FAILED <detail>`, and the run
 * ends with `selftest: N checks, M failed`. Everything is driven from CPL3
 * through system calls; only the frame allocator needs SYS_KTEST.
 *
 * In shadow mode four more checks cover the PV paths (SYS_PVTEST does the
 * kernel-side steps): pv_timer (every CPU takes timer upcalls), pv_masking
 * (masked events pend, unmask + yield delivers), pv_mmu_batch (a scratch
 * mapping made by one mmu_update batch works, and faults once unmapped),
 * pv_trap_bounce (a task's exceptions are bounced to the kernel and kill
 * only the task). In shadow mode the kernel is user-accessible (the kernel
 * runs at CPL3), so fault_kill touches the unmapped null page instead.
 */
#include "lib/printf.h"
#include "lib/string.h"
#include "user/user.h"
#include "user/workload.h"

#define KERNEL_ADDR 0x100000ull /* the kernel image: supervisor-only */

static unsigned int checks, failures;

static void report(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(bool ok, const char *name, const char *fmt, ...)
{
	char detail[200] = "";
	va_list ap;

	checks++;
	if (ok) {
		printf("selftest: %s ok\n", name);
		return;
	}
	failures++;
	va_start(ap, fmt);
	printf__vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	printf("selftest: %s FAILED %s\n", name, detail);
}

/*
 * l1vmm's identity through L1_HC_CPUID, the path that works on every host:
 * signature, max leaf, the features and ABI version the start info gave.
 * What the cpuid instruction says is only reported: where the host does
 * not intercept it (seen on an AMD host), it answers for the hardware below
 * l1vmm.
 */
static void check_hv_identity(void)
{
	uint32_t s[4] = { 0 }, f[4] = { 0 }, scratch[4], native[4];
	char sig[13], native_sig[13];
	int64_t rs = sys__cpuid(L1_CPUID_SIGNATURE, 0, s);
	int64_t rf = sys__cpuid(L1_CPUID_FEATURES, 0, f);
	int64_t big = sys__cpuid(1ull << 32, 0, scratch); /* l1vmm must refuse it */

	cpu__signature(s, sig);
	report(rs == 0 && rf == 0 && !memcmp(sig, L1_CPUID_SIGNATURE_STR, 12) &&
	       s[0] >= L1_CPUID_FEATURES && f[0] == user__info.features &&
	       (f[0] & L1_FEAT_CPUID) && f[1] == L1_ABI_VERSION &&
	       user__info.abi_version == L1_ABI_VERSION && big == -L1G_EINVAL,
	       "hv_identity",
	       "rc %ld/%ld, signature \"%s\", max leaf %#x, features %#x (start info %#x), "
	       "ABI %u (start info %u, built for %u), leaf 2^32: %ld",
	       rs, rf, sig, s[0], f[0], user__info.features, f[1], user__info.abi_version,
	       L1_ABI_VERSION, big);
	cpu__cpuid(L1_CPUID_SIGNATURE, 0, native);
	cpu__signature(native, native_sig);
	printf("selftest: note: the cpuid instruction says \"%s\" (max leaf %#x): %s\n",
	       native_sig, native[0],
	       memcmp(native_sig, sig, 12)
		       ? "not l1vmm's (CPUID not intercepted on this host, or cpuid_leaves=0)"
		       : "intercepted, as L1_HC_CPUID says");
}

/* Leaf 1 on the CPU it runs on: the hypervisor bit, and that CPU's APIC ID
 * (l1vmm's table is per vCPU). -1 when the call failed. */
static int64_t leaf1_on_cpu(uint64_t arg)
{
	uint32_t r[4];
	uint64_t cpu = sys__self() >> 32;

	(void)arg;
	if (sys__cpuid(1, 0, r) < 0)
		return -1;
	return (int64_t)(cpu | (uint64_t)(r[1] >> 24) << 8 | (uint64_t)(r[2] >> 31) << 16);
}

static void check_hv_cpuid_per_cpu(void)
{
	unsigned int n = user__info.nr_cpus < 32 ? user__info.nr_cpus : 32;
	char detail[120] = "";
	bool ok = true;

	for (unsigned int i = 0; i < n && ok; i++) {
		int64_t v = task__join(task__spawn(leaf1_on_cpu, 0, (int)i));
		uint64_t cpu = (uint64_t)v & 0xff, apic = (uint64_t)v >> 8 & 0xff, hvbit = (uint64_t)v >> 16;

		if (v < 0 || cpu != i || apic != i || hvbit != 1) {
			printf__snprintf(detail, sizeof(detail),
					 "cpu %u: ran on %lu, APIC ID %lu, hypervisor bit %lu (%ld)",
					 i, cpu, apic, hvbit, v);
			ok = false;
		}
	}
	report(ok, "hv_cpuid_per_cpu", "%s", detail);
}

static void check_frames(void)
{
	static const char *const why[] = {
		"", "allocation failed", "misaligned frame", "frame handed out twice",
		"double free not detected", "user/supervisor split wrong",
		"oversized request granted", "free refused", "freed frame not reused",
	};
	int64_t rc = sys__ktest(L1G_KTEST_FRAMES);

	report(rc == 0, "alloc_frames", "%s (%ld)",
	       rc < 0 && -rc < (int64_t)(sizeof(why) / sizeof(why[0])) ? why[-rc] : "?", rc);
}

/* 2 MiB user chunks: until exhaustion, then all back. */
static void check_alloc_user(void)
{
	static uint64_t got[16384];
	uint64_t n = 0, free_before;
	int64_t a, last = 0, e0, e1, e2;
	bool ok = true;
	char detail[160] = "";
	struct l1g_info info;

	sys__info(&info);
	free_before = info.user_free;
	e0 = sys__mem_alloc(0);
	e1 = sys__mem_alloc(1ull << 50);
	e2 = sys__mem_free(12345);
	if (e0 != -L1G_EINVAL || e1 != -L1G_ENOMEM || e2 != -L1G_EINVAL) {
		printf__snprintf(detail, sizeof(detail), "bad requests gave %ld, %ld, %ld", e0, e1, e2);
		ok = false;
	}
	while (n < sizeof(got) / sizeof(got[0]) && (a = sys__mem_alloc(2 << 20)) >= 0) {
		if (a & ((2 << 20) - 1)) {
			printf__snprintf(detail, sizeof(detail), "region %#lx not 2 MiB aligned", a);
			ok = false;
		}
		/* Tag both ends: a region handed out twice loses a tag. */
		((volatile uint64_t *)a)[0] = a ^ 0x5a5a;
		((volatile uint64_t *)a)[(2 << 20) / 8 - 1] = ~a;
		got[n++] = (uint64_t)a;
	}
	last = a;
	if (ok && n < sizeof(got) / sizeof(got[0]) && last != -L1G_ENOMEM) {
		printf__snprintf(detail, sizeof(detail), "exhaustion gave %ld, not -ENOMEM", last);
		ok = false;
	}
	if (ok && n * (2 << 20) != free_before) {
		printf__snprintf(detail, sizeof(detail), "got %lu chunks, kernel reported %lu bytes free",
				 n, free_before);
		ok = false;
	}
	for (uint64_t i = 0; i < n && ok; i++) {
		if (((volatile uint64_t *)got[i])[0] != (got[i] ^ 0x5a5a) ||
		    ((volatile uint64_t *)got[i])[(2 << 20) / 8 - 1] != ~got[i]) {
			printf__snprintf(detail, sizeof(detail), "region %#lx handed out twice", got[i]);
			ok = false;
		}
	}
	for (uint64_t i = 0; i < n; i++) {
		if (sys__mem_free(got[i]) && ok) {
			printf__snprintf(detail, sizeof(detail), "free of %#lx refused", got[i]);
			ok = false;
		}
	}
	if (ok && n && sys__mem_free(got[0]) != -L1G_EINVAL) {
		printf__snprintf(detail, sizeof(detail), "double free accepted");
		ok = false;
	}
	a = sys__mem_alloc(2 << 20);
	if (ok && a < 0) {
		printf__snprintf(detail, sizeof(detail), "allocation after freeing all failed: %ld", a);
		ok = false;
	}
	if (a >= 0)
		sys__mem_free((uint64_t)a);
	report(ok, "alloc_user", "%s (%lu regions of 2 MiB)", detail, n);
}

static volatile uint64_t spin_count[2];
static volatile uint64_t spin_stop;

static int64_t spinner(uint64_t i)
{
	while (!spin_stop)
		spin_count[i]++;
	return 0;
}

/* Two tasks that never yield, on one CPU: both advance only if the tick preempts. */
static void check_preemption(void)
{
	int cpu = (int)user__info.nr_cpus - 1;
	uint64_t a0, b0, a1, b1;
	int64_t t0, t1;

	spin_stop = 0;
	spin_count[0] = spin_count[1] = 0;
	t0 = task__spawn(spinner, 0, cpu);
	t1 = task__spawn(spinner, 1, cpu);
	sys__sleep_until(sys__ticks() + 10);
	a0 = spin_count[0], b0 = spin_count[1];
	sys__sleep_until(sys__ticks() + 10);
	a1 = spin_count[0], b1 = spin_count[1];
	spin_stop = 1;
	task__join(t0);
	task__join(t1);
	report(t0 > 0 && t1 > 0 && a0 && b0 && a1 > a0 && b1 > b0, "preemption",
	       "tasks %ld/%ld on cpu %d counted %lu->%lu and %lu->%lu", t0, t1, cpu, a0, a1, b0, b1);
}

static struct event wake_ev;
static volatile uint64_t waiter_woke;

static int64_t waiter(uint64_t seen)
{
	event__wait(&wake_ev, seen);
	waiter_woke = 1;
	return 7;
}

/* A task blocks on an event, another wakes it (across CPUs if there are two). */
static void check_block_wake(void)
{
	uint64_t seen = wake_ev.count;
	int64_t tid, woken, st, again;
	int cpu = user__info.nr_cpus > 1 ? 1 : 0;
	bool blocked;

	waiter_woke = 0;
	tid = task__spawn(waiter, seen, cpu);
	sys__sleep_until(sys__ticks() + 5);
	blocked = !waiter_woke;
	woken = event__signal(&wake_ev);
	st = task__join(tid);
	again = sys__wait(&wake_ev.count, seen); /* value moved on: must not sleep */
	report(tid > 0 && blocked && woken == 1 && st == 7 && waiter_woke && again == -L1G_EAGAIN,
	       "block_wake", "tid %ld blocked=%d woken=%ld status=%ld woke=%lu stale wait=%ld",
	       tid, blocked, woken, st, waiter_woke, again);
}

/* 20 ticks should take 20/hz seconds of TSC time. */
static void check_timer(void)
{
	uint64_t start, t0, t1, ms, expect_ms = 20 * 1000 / user__info.hz;

	start = sys__ticks() + 1;
	sys__sleep_until(start); /* start on a tick edge */
	t0 = cpu__rdtsc();
	sys__sleep_until(start + 20);
	t1 = cpu__rdtsc();
	ms = time__cycles_to_us(t1 - t0) / 1000;
	report(user__info.tsc_khz && ms * 2 >= expect_ms && ms * 2 <= expect_ms * 3, "timer",
	       "20 ticks took %lu ms, expected %lu ms at %u Hz", ms, expect_ms, user__info.hz);
}

static int64_t nothing(uint64_t arg)
{
	return (int64_t)arg;
}

static int64_t self_cpu(uint64_t arg)
{
	(void)arg;
	return (int64_t)(sys__self() >> 32);
}

/* Any user-memory address, for arguments that must pass the pointer check. */
static char scratch[64] __attribute__((aligned(8)));
#define MAX_TID_PROBE 100000

static void check_bad_args(void)
{
	struct {
		const char *what;
		int64_t got, want;
	} c[] = {
		{ "write(kernel)", sys__write((void *)KERNEL_ADDR, 16), -L1G_EFAULT },
		{ "write(null)", sys__write(NULL, 1), -L1G_EFAULT },
		{ "write(lapic)", sys__write((void *)(uintptr_t)L1_LAPIC_GPA, 4), -L1G_EFAULT },
		{ "write(wrap)", sys__write((void *)~0ull, 16), -L1G_EFAULT },
		{ "write(huge)", sys__write(scratch, 1ull << 40), -L1G_EINVAL },
		{ "info(kernel)", sys__info((struct l1g_info *)KERNEL_ADDR), -L1G_EFAULT },
		{ "wait(kernel)", sys__wait((volatile uint64_t *)KERNEL_ADDR, 0), -L1G_EFAULT },
		{ "wait(misaligned)", sys__wait((volatile uint64_t *)(scratch + 1), 0), -L1G_EINVAL },
		{ "spawn(kernel)", sys__call(SYS_SPAWN, KERNEL_ADDR, 0, 0, (uint64_t)-1), -L1G_EFAULT },
		{ "spawn(cpu)", task__spawn(nothing, 0, (int)user__info.nr_cpus), -L1G_EINVAL },
		{ "join(none)", task__join(MAX_TID_PROBE), -L1G_ESRCH },
		{ "set_hz(0)", sys__set_hz(0), -L1G_EINVAL },
		{ "syscall(999)", sys__call(999, 0, 0, 0, 0), -L1G_ENOSYS },
	};
	bool ok = true;
	char detail[160] = "";

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (c[i].got != c[i].want && ok) {
			printf__snprintf(detail, sizeof(detail), "%s returned %ld, expected %ld",
					 c[i].what, c[i].got, c[i].want);
			ok = false;
		}
	}
	report(ok, "bad_syscall_args", "%s", detail);
}

static bool shadow_mode(void)
{
	return user__info.mode == L1_MODE_SHADOW;
}

/* Memory a task may not touch: the kernel, or in shadow mode the null page. */
static int64_t touch_kernel(uint64_t write)
{
	volatile uint64_t *p = (volatile uint64_t *)(shadow_mode() ? 0 : KERNEL_ADDR);

	if (write)
		*p = 0;
	return (int64_t)*p;
}

static int64_t privileged(uint64_t arg)
{
	(void)arg;
	__asm__ volatile("hlt");
	return 0;
}

static int64_t invalid_opcode(uint64_t arg)
{
	(void)arg;
	__asm__ volatile("ud2");
	return 0;
}

/* Faulting tasks die with a message; the kernel and the other tasks go on. */
static void check_fault_kill(void)
{
	int64_t r = task__join(task__spawn(touch_kernel, 0, -1));
	int64_t w = task__join(task__spawn(touch_kernel, 1, -1));
	int64_t g = task__join(task__spawn(privileged, 0, -1));
	int64_t u = task__join(task__spawn(invalid_opcode, 0, -1));
	int64_t ok = task__join(task__spawn(nothing, 42, -1));

	report(r == L1G_STATUS_KILLED(14) && w == L1G_STATUS_KILLED(14) &&
	       g == L1G_STATUS_KILLED(13) && u == L1G_STATUS_KILLED(6) && ok == 42,
	       "fault_kill", "statuses: read %#lx write %#lx hlt %#lx ud2 %#lx normal %ld",
	       r, w, g, u, ok);
}

/* Spread spawns land on every CPU. */
static void check_smp(void)
{
	int64_t tids[64];
	uint64_t seen = 0, want;
	unsigned int n = user__info.nr_cpus * 2, cpus = user__info.nr_cpus;

	if (n > 64)
		n = 64, cpus = 32;
	want = cpus >= 64 ? ~0ull : (1ull << cpus) - 1;
	for (unsigned int i = 0; i < n; i++)
		tids[i] = task__spawn(self_cpu, 0, -1);
	for (unsigned int i = 0; i < n; i++) {
		int64_t c = task__join(tids[i]);

		if (c >= 0 && c < 64)
			seen |= 1ull << c;
	}
	report((seen & want) == want, "smp_spread", "cpus used %#lx of %#lx", seen, want);
}

/* ---- shadow mode: the PV paths ---- */

/* Every CPU takes timer upcalls at about hz, idle or not. */
static void check_pv_timer(void)
{
	unsigned int n = user__info.nr_cpus < 32 ? user__info.nr_cpus : 32;
	int64_t before[32], after;
	uint64_t t0 = sys__ticks();
	char detail[160] = "";
	bool ok = t0 > 0;

	for (unsigned int i = 0; i < n; i++)
		before[i] = sys__pvtest(L1G_PVT_UPCALLS, i);
	sys__sleep_until(t0 + 20);
	for (unsigned int i = 0; i < n && ok; i++) {
		after = sys__pvtest(L1G_PVT_UPCALLS, i);
		if (before[i] < 0 || after - before[i] < 10) {
			printf__snprintf(detail, sizeof(detail), "cpu %u: %ld -> %ld upcalls in 20 ticks",
					 i, before[i], after);
			ok = false;
		}
	}
	report(ok && sys__ticks() >= t0 + 20, "pv_timer", "%s", detail[0] ? detail : "no ticks");
}

static void check_pv_masking(void)
{
	static const char *const why[] = {
		"", "events not masked in the kernel", "no pending timer bit while masked",
		"an upcall ran while masked", "no upcall after unmask + yield",
		"timer bit still pending after the upcall",
	};
	int64_t rc = sys__pvtest(L1G_PVT_MASKING, 0);

	report(rc == 0, "pv_masking", "%s (%ld)",
	       rc < 0 && -rc < (int64_t)(sizeof(why) / sizeof(why[0])) ? why[-rc] : "?", rc);
}

static uint64_t spare_va;

static int64_t read_spare(uint64_t arg)
{
	(void)arg;
	for (uint64_t p = 0; p < 4; p++)
		for (uint64_t w = 0; w < 512; w += 64)
			if (((volatile uint64_t *)(spare_va + p * 4096))[w] != L1G_PVT_PATTERN(p, w))
				return 1;
	return 0;
}

/* One mmu_update batch maps 4 pages at a spare va; a task sees them; after
 * the unmap (one batch + flush) a task touching them is killed by #PF. */
static void check_pv_mmu_batch(void)
{
	int64_t va = sys__pvtest(L1G_PVT_MMU_MAP, 0), seen = -1, unmap = -1, touch = -1;

	if (va > 0) {
		spare_va = (uint64_t)va;
		seen = task__join(task__spawn(read_spare, 0, -1));
		unmap = sys__pvtest(L1G_PVT_MMU_UNMAP, 0);
		touch = task__join(task__spawn(read_spare, 0, -1));
	}
	report(va > 0 && seen == 0 && unmap == 0 && touch == L1G_STATUS_KILLED(14),
	       "pv_mmu_batch", "map %#lx (< 0: failed), task read %ld, unmap %ld, "
	       "touch after unmap %#lx", va, seen, unmap, touch);
}

static int64_t divide_by_zero(uint64_t zero)
{
	uint64_t q;

	__asm__ volatile("xor %%edx, %%edx; divq %2" : "=a"(q) : "a"(1ull), "r"(zero) : "rdx");
	return (int64_t)q;
}

static int64_t load_cr3(uint64_t arg)
{
	__asm__ volatile("mov %0, %%cr3" ::"r"(arg) : "memory");
	return 0;
}

/* A task's #DE/#UD/#GP/#PF go to the kernel (bounced by l1vmm), kill only
 * that task, and the kernel goes on serving system calls. */
static void check_pv_trap_bounce(void)
{
	int64_t de = task__join(task__spawn(divide_by_zero, 0, -1));
	int64_t ud = task__join(task__spawn(invalid_opcode, 0, -1));
	int64_t gp = task__join(task__spawn(load_cr3, 0x1000, -1));
	int64_t pf = task__join(task__spawn(touch_kernel, 1, -1));
	int64_t ok = task__join(task__spawn(nothing, 7, -1));

	report(de == L1G_STATUS_KILLED(0) && ud == L1G_STATUS_KILLED(6) &&
	       gp == L1G_STATUS_KILLED(13) && pf == L1G_STATUS_KILLED(14) && ok == 7,
	       "pv_trap_bounce", "statuses: #DE %#lx #UD %#lx #GP %#lx #PF %#lx normal %ld",
	       de, ud, gp, pf, ok);
}

static enum workload_result selftest_run(const struct args *a, struct result *r)
{
	(void)a;
	checks = failures = 0;
	check_hv_identity();
	check_hv_cpuid_per_cpu();
	check_frames();
	check_alloc_user();
	check_preemption();
	check_block_wake();
	check_timer();
	check_bad_args();
	check_fault_kill();
	check_smp();
	if (shadow_mode()) {
		check_pv_timer();
		check_pv_masking();
		check_pv_mmu_batch();
		check_pv_trap_bounce();
	}
	printf("selftest: %u checks, %u failed\n", checks, failures);
	if (failures)
		return result__fail(r, "%u of %u checks failed", failures, checks);
	return W_PASS;
}

const struct workload workload__selftest = {
	.name = "selftest",
	.run = selftest_run,
};
