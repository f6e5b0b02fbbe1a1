// SPDX-License-Identifier: MIT
/*
 * DOC: workload=hostile: a shadow-mode guest that attacks l1vmm, one case
 * at a time, and checks that every attack is refused.
 *
 * Two kinds of case:
 *  - done by a task (a CPL3 instruction the guest may not get away with):
 *    refused means the task was killed by the exception l1vmm bounced back;
 *    a task that returns was let through;
 *  - a bad hypercall made by the kernel (SYS_PVTEST L1G_PVT_HOSTILE):
 *    refused means l1vmm returned an error (-L1_E*). The console case is
 *    refused when the call fails or l1vmm took at most one ring's worth
 *    (L1_CONSOLE_RING bytes) although console_prod claimed 1 GiB more: it
 *    clamped instead of reading past the ring.
 * The page-table cases aim at the PTE of va 0, which the kernel leaves
 * unmapped; after each the kernel undoes any mapping that got through.
 * Then the double-paging bitmap is moved DP_MOVES times (the kernel checks
 * that its frames are refused as page tables only while registered).
 *
 * Output: `hostile: <case>: refused (<how>)` or `hostile: <case>: NOT
 * REFUSED (<what happened>)` per case, then `hostile: N cases, M refused`.
 * PASS (exit 0) only if all were refused. In ept mode there is no l1vmm
 * interface to attack: FAIL (needs shadow mode).
 */
#include "lib/printf.h"
#include "lib/string.h"
#include "user/user.h"
#include "user/workload.h"

/* Moves of the double-paging bitmap (SYS_PVTEST L1G_PVT_DP_MOVE): a guest
 * that moves it again and again must not pile up pinned frames in l1vmm. */
#define DP_MOVES 300u

static uint64_t null_pte, nr_frames;

static int64_t pt_direct_store(uint64_t arg)
{
	(void)arg;
	/* A plain store into a page-table page: a leaf to a gfn we do not own. */
	*(volatile uint64_t *)null_pte = (nr_frames + 16) << 12 | 7;
	return 0;
}

static int64_t mov_cr3(uint64_t arg)
{
	__asm__ volatile("mov %0, %%cr3" ::"r"(arg) : "memory");
	return 0;
}

struct __attribute__((packed)) desc_ptr {
	uint16_t limit;
	uint64_t base;
};

static int64_t do_lgdt(uint64_t arg)
{
	struct desc_ptr d = { .limit = 0xfff, .base = arg };

	__asm__ volatile("lgdt %0" ::"m"(d) : "memory");
	return 0;
}

static int64_t do_lidt(uint64_t arg)
{
	struct desc_ptr d = { .limit = 0xfff, .base = arg };

	__asm__ volatile("lidt %0" ::"m"(d) : "memory");
	return 0;
}

static int64_t read_at(uint64_t va)
{
	return (int64_t)*(volatile uint64_t *)va;
}

struct hostile_case {
	const char *name;
	int64_t (*task)(uint64_t);  /* a task case, or ... */
	uint64_t arg;
	enum l1g_hostile hc;        /* ... a hypercall case */
};

static const struct hostile_case cases[] = {
	{ "mmu_update foreign gfn", NULL, 0, L1G_HOSTILE_FOREIGN_GFN },
	{ "mmu_update machine address", NULL, 0, L1G_HOSTILE_MACHINE_ADDR },
	{ "mmu_update writable page table", NULL, 0, L1G_HOSTILE_PT_WRITABLE },
	{ "direct page-table store", pt_direct_store, 0, 0 },
	{ "mov to cr3", mov_cr3, 0x1000, 0 },
	{ "lgdt", do_lgdt, 0x1000, 0 },
	{ "lidt", do_lidt, 0x1000, 0 },
	{ "read stub area", read_at, 0xffffff8000000000ull, 0 },
	{ "read guest va end", read_at, L1_SHADOW_GUEST_VA_END, 0 },
	{ "mmu_update unmapped pointer", NULL, 0, L1G_HOSTILE_MMU_BAD_PTR },
	{ "set_trap_table count 100000", NULL, 0, L1G_HOSTILE_TRAPS_COUNT },
	{ "set_trap_table kernel pointer", NULL, 0, L1G_HOSTILE_TRAPS_PTR },
	{ "console prod 1 GiB ahead", NULL, 0, L1G_HOSTILE_CONSOLE },
	{ "mmu_update too many entries", NULL, 0, L1G_HOSTILE_MMU_TOO_MANY },
	{ "unknown hypercall", NULL, 0, L1G_HOSTILE_UNKNOWN_HC },
};

static const char *errname(int64_t e)
{
	switch (-e) {
	case L1_EPERM: return "-EPERM";
	case L1_E2BIG: return "-E2BIG";
	case L1_ENOMEM: return "-ENOMEM";
	case L1_EFAULT: return "-EFAULT";
	case L1_EINVAL: return "-EINVAL";
	case L1_ENOSYS: return "-ENOSYS";
	default: return "error";
	}
}

static const char *const vector_names[32] = {
	[0] = "#DE", [6] = "#UD", [13] = "#GP", [14] = "#PF", [12] = "#SS", [11] = "#NP",
};

/* Run one case; true if refused. how: what happened, for the line. */
static bool run_case(const struct hostile_case *c, char *how, size_t len)
{
	bool refused;

	if (c->task) {
		int64_t st = task__join(task__spawn(c->task, c->arg, -1));

		refused = L1G_STATUS_IS_KILLED(st);
		if (refused) {
			unsigned int v = st & 0xff;

			printf__snprintf(how, len, "task killed by %s",
					 v < 32 && vector_names[v] ? vector_names[v] : "an exception");
		} else {
			printf__snprintf(how, len, "task survived, status %ld", st);
		}
	} else {
		int64_t rc = sys__pvtest(L1G_PVT_HOSTILE, c->hc);

		if (c->hc == L1G_HOSTILE_CONSOLE) {
			refused = rc < 0 || rc <= L1_CONSOLE_RING;
			if (rc < 0)
				printf__snprintf(how, len, "%s %ld", errname(rc), rc);
			else
				printf__snprintf(how, len, "l1vmm took %ld bytes%s", rc,
						 refused ? ", clamped to the ring" : "");
		} else {
			refused = rc < 0;
			if (refused)
				printf__snprintf(how, len, "%s %ld", errname(rc), rc);
			else
				printf__snprintf(how, len, "returned %ld", rc);
		}
	}
	if (sys__pvtest(L1G_PVT_RESTORE, 0) == 1) {
		size_t n = strlen(how);

		printf__snprintf(how + n, len - n, ", va 0 got mapped");
		refused = false;
	}
	return refused;
}

static enum workload_result hostile_run(const struct args *a, struct result *r)
{
	unsigned int n = sizeof(cases) / sizeof(cases[0]), refused = 0;
	char how[120];

	(void)a;
	if (user__info.mode != L1_MODE_SHADOW)
		return result__fail(r, "needs shadow mode");
	null_pte = (uint64_t)sys__pvtest(L1G_PVT_PTE_OF_NULL, 0);
	nr_frames = (uint64_t)sys__pvtest(L1G_PVT_NR_FRAMES, 0);
	for (unsigned int i = 0; i < n; i++) {
		how[0] = '\0';
		if (run_case(&cases[i], how, sizeof(how))) {
			refused++;
			printf("hostile: %s: refused (%s)\n", cases[i].name, how);
		} else {
			printf("hostile: %s: NOT REFUSED (%s)\n", cases[i].name, how);
		}
	}
	printf("hostile: %u cases, %u refused\n", n, refused);
	int64_t moved = sys__pvtest(L1G_PVT_DP_MOVE, DP_MOVES);

	printf("hostile: dp_move: %s (%ld): the bitmap moved %u times\n",
	       moved ? "FAILED" : "its frames pinned only while registered", moved, DP_MOVES);
	if (refused != n)
		return result__fail(r, "%u of %u attacks were not refused", n - refused, n);
	if (moved)
		return result__fail(r, "moving the double-paging bitmap: %ld", moved);
	return W_PASS;
}

const struct workload workload__hostile = {
	.name = "hostile",
	.run = hostile_run,
};
