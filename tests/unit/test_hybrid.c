/* Unit tests: boot tables and entry state, CPUID policy, crash reports, modes. */
#include "cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "cpu/hybrid/hybrid.h"
#include "mmu/ept/ept.h"
#include "pvops/l1vmm_abi.h"

static void boot_tables_identity_map_4g(void **state)
{
	(void)state;
	struct ept_mem mem;
	assert_int_equal(ept__mem_init(&mem, 8 << 20), 0);
	struct boot_image img = { .protocol = BOOT_L1_LONG64, .entry = 0x100000 };
	char err[256];
	assert_int_equal(hybrid__write_boot_tables(&mem, &img, err, sizeof(err)), 0);

	struct vcpu_boot boot = { 0 };
	hybrid__boot_state(&img, 1, L1_START_INFO_GPA, &boot);
	assert_true(boot.runnable);
	assert_int_equal(boot.regs.rip, 0x100000);
	assert_int_equal(boot.regs.rdi, L1_START_INFO_GPA);
	assert_int_equal(boot.regs.rsi, 1);
	assert_true(boot.sregs.efer & (1u << 10)); /* LMA */
	assert_true(boot.sregs.cs.l);
	assert_int_equal(boot.sregs.cs.selector, L1_BOOT_CS);

	/* walk the tables the way the CPU would, for a few addresses */
	const uint64_t probes[] = { 0, 0x100000, 0x7fffff, 0xd0000000, 0xfee00000, 0xffffffff };
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint64_t va = probes[i];
		uint64_t *pml4 = ept__gpa_ptr(&mem, boot.sregs.cr3, 4096);
		assert_non_null(pml4);
		uint64_t e = pml4[(va >> 39) & 511];
		assert_true(e & 1);
		uint64_t *pdpt = ept__gpa_ptr(&mem, e & ~0xfffull, 4096);
		e = pdpt[(va >> 30) & 511];
		assert_true(e & 1);
		uint64_t *pd = ept__gpa_ptr(&mem, e & ~0xfffull, 4096);
		assert_non_null(pd);
		e = pd[(va >> 21) & 511];
		assert_true((e & 0x81) == 0x81); /* present, 2 MiB */
		assert_int_equal((e & ~0x1fffffull) | (va & 0x1fffff), va);
	}
	/* the tables are loaded data: their frames are private, the rest untouched */
	assert_int_equal(p2m__get(&mem.p2m, 0x2000 / 4096), P2M_PRIVATE);
	assert_int_equal(p2m__get(&mem.p2m, 0x200000 / 4096), P2M_UNPOPULATED);
	ept__mem_destroy(&mem);
}

static void boot_tables_cover_high_ram(void **state)
{
	(void)state;
	struct ept_mem mem;
	/* layout only: MAP_NORESERVE keeps this cheap */
	assert_int_equal(ept__mem_init(&mem, 5ull << 30), 0);
	assert_int_equal(mem.nr_regions, 2);
	assert_int_equal(mem.region[1].gpa, L1_RAM_HIGH_START);
	assert_int_equal(mem.region[1].size, (5ull << 30) - L1_RAM_HOLE_START);
	struct boot_image img = { .protocol = BOOT_L1_LONG64, .entry = 0x100000 };
	char err[256];
	assert_int_equal(hybrid__write_boot_tables(&mem, &img, err, sizeof(err)), 0);
	uint64_t *pdpt = ept__gpa_ptr(&mem, 0x3000, 4096);
	assert_true(pdpt[5] & 1);   /* 5..6 GiB: RAM above the hole */
	assert_false(pdpt[6] & 1);  /* top of RAM is 6 GiB */
	ept__mem_destroy(&mem);
}

static void multiboot_entry_state(void **state)
{
	(void)state;
	struct boot_image img = { .protocol = BOOT_MULTIBOOT, .entry = 0x100010,
				  .mb_info_gpa = 0x9000 };
	struct vcpu_boot bsp = { 0 }, ap = { 0 };
	hybrid__boot_state(&img, 0, 0, &bsp);
	hybrid__boot_state(&img, 1, 0, &ap);
	assert_true(bsp.runnable);
	assert_false(ap.runnable); /* APs wait for INIT/SIPI */
	assert_int_equal(bsp.regs.rax, 0x2BADB002);
	assert_int_equal(bsp.regs.rbx, 0x9000);
	assert_int_equal(bsp.sregs.cr0 & 0x80000001u, 1); /* PE, no paging */
	assert_int_equal(bsp.sregs.efer, 0);
	assert_true(bsp.sregs.cs.db);
	assert_false(bsp.sregs.cs.l);
}

static void ept_accessor_rejects_outside(void **state)
{
	(void)state;
	struct ept_mem mem;
	assert_int_equal(ept__mem_init(&mem, 4 << 20), 0);
	assert_non_null(ept__gpa_ptr(&mem, 0, 4 << 20));
	assert_non_null(ept__gpa_ptr(&mem, (4 << 20) - 1, 1));
	assert_null(ept__gpa_ptr(&mem, (4 << 20) - 1, 2));
	assert_null(ept__gpa_ptr(&mem, 4 << 20, 1));
	assert_null(ept__gpa_ptr(&mem, UINT64_MAX, 2));
	assert_null(ept__gpa_ptr(&mem, 1, UINT64_MAX));
	assert_int_equal(ept__mem_init(&(struct ept_mem){ 0 }, 1000), -22);
	uint8_t data[3] = { 1, 2, 3 };
	assert_true(ept__write(&mem, 0x1ffe, data, 3)); /* crosses a page: two frames */
	assert_int_equal(mem.p2m.count[P2M_PRIVATE], 2);
	assert_false(ept__write(&mem, (4 << 20) - 2, data, 3));
	assert_int_equal(mem.p2m.count[P2M_PRIVATE], 2);
	assert_int_equal(mem.p2m.count[P2M_PRIVATE] + mem.p2m.count[P2M_UNPOPULATED],
			 mem.p2m.nr_frames);
	ept__mem_destroy(&mem);
}

static void cpuid_policy_adds_l1_leaves(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 ent[8] = {
		{ .function = 1, .ebx = 0xff0800ff, .ecx = 0 },
		{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b },
		{ .function = 0x40000001, .eax = 0x1234 },
		{ .function = 0xb, .edx = 0 },
	};
	int n = hybrid__cpuid_policy(ent, 4, 8, 3, 0xa5, true);
	assert_int_equal(n, 6);
	assert_int_equal(ent[0].ebx, 0x030800ff);        /* APIC ID 3 */
	assert_true(ent[0].ecx & (1u << 31));             /* hypervisor bit */
	assert_int_equal(ent[1].function, 0x40000100);    /* KVM's leaves moved */
	assert_int_equal(ent[1].eax, 0x40000101);
	assert_int_equal(ent[2].function, 0x40000101);
	assert_int_equal(ent[2].eax, 0x1234);
	assert_int_equal(ent[3].edx, 3);
	assert_int_equal(ent[4].function, L1_CPUID_SIGNATURE);
	assert_int_equal(ent[4].eax, L1_CPUID_MAX_LEAF);
	char sig[13] = { 0 };
	memcpy(sig, &ent[4].ebx, 4);
	memcpy(sig + 4, &ent[4].ecx, 4);
	memcpy(sig + 8, &ent[4].edx, 4);
	assert_string_equal(sig, L1_CPUID_SIGNATURE_STR);
	assert_int_equal(ent[5].function, L1_CPUID_FEATURES);
	assert_int_equal(ent[5].eax, 0xa5);                /* the features given */
	assert_int_equal(ent[5].ebx, L1_ABI_VERSION);
	assert_int_equal(hybrid__cpuid_policy(ent, 7, 8, 0, 0, true), -1); /* no room */
}

/* Without l1vmm's leaves (vms/NAME/cpuid_leaves=0) KVM's stay at 0x40000000. */
static void cpuid_policy_can_leave_kvm_leaves(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 ent[4] = {
		{ .function = 1, .ebx = 0xff0800ff, .ecx = 0 },
		{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b },
		{ .function = 0x40000001, .eax = 0x1234 },
	};
	assert_int_equal(hybrid__cpuid_policy(ent, 3, 3, 2, 0xa5, false), 3); /* needs no room */
	assert_int_equal(ent[0].ebx, 0x020800ff);
	assert_true(ent[0].ecx & (1u << 31));
	assert_int_equal(ent[1].function, 0x40000000);
	assert_int_equal(ent[1].eax, 0x40000001);
	assert_int_equal(ent[1].ebx, 0x4b4d564b);
	assert_int_equal(ent[2].function, 0x40000001);
}

/* L1_HC_CPUID answers from the table by KVM's rule: the subleaf counts only
 * where the entry says it does; a missing leaf is zeros. */
static void cpuid_lookup_follows_kvm_matching(void **state)
{
	(void)state;
	const struct kvm_cpuid_entry2 ent[] = {
		{ .function = 0, .eax = 0xd, .ebx = 1, .ecx = 2, .edx = 3 },
		{ .function = 4, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 40 },
		{ .function = 4, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 41 },
		{ .function = L1_CPUID_SIGNATURE, .eax = L1_CPUID_MAX_LEAF, .ebx = 7 },
	};
	int n = (int)(sizeof(ent) / sizeof(ent[0]));
	uint32_t r[4];
	hybrid__cpuid_lookup(ent, n, 0, 99, r);      /* no index flag: any subleaf */
	assert_int_equal(r[0], 0xd);
	assert_int_equal(r[1], 1);
	assert_int_equal(r[2], 2);
	assert_int_equal(r[3], 3);
	hybrid__cpuid_lookup(ent, n, 4, 1, r);
	assert_int_equal(r[0], 41);
	hybrid__cpuid_lookup(ent, n, 4, 0, r);
	assert_int_equal(r[0], 40);
	memset(r, 0xff, sizeof(r));
	hybrid__cpuid_lookup(ent, n, 4, 2, r);        /* no such subleaf */
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	memset(r, 0xff, sizeof(r));
	hybrid__cpuid_lookup(ent, n, 0x80000008, 0, r); /* no such leaf */
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	hybrid__cpuid_lookup(ent, n, L1_CPUID_SIGNATURE, 0, r);
	assert_int_equal(r[0], L1_CPUID_MAX_LEAF);
	assert_int_equal(r[1], 7);
}

static void crash_report_is_readable(void **state)
{
	(void)state;
	struct kvm_regs regs = { .rip = 0x101007, .rax = 0xdead, .rflags = 2 };
	struct kvm_sregs sregs = { .cr0 = 0x80050033, .cr3 = 0x2000, .cr4 = 0x20 };
	const uint8_t bytes[] = { 0x0f, 0x0b, 0x90 };
	struct crash_state cs = { .reason = "triple fault (KVM_EXIT_SHUTDOWN)", .vcpu = 1,
				  .regs = &regs, .sregs = &sregs, .rip_bytes = bytes,
				  .nr_rip_bytes = sizeof(bytes) };
	char buf[4096];
	size_t n = hybrid__format_crash(buf, sizeof(buf), &cs);
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf, "vCPU 1: triple fault"));
	assert_non_null(strstr(buf, "RIP=0000000000101007"));
	assert_non_null(strstr(buf, "RAX=000000000000dead"));
	assert_non_null(strstr(buf, "CR0=0000000080050033"));
	assert_non_null(strstr(buf, "CR3=0000000000002000"));
	assert_non_null(strstr(buf, "CR4=0000000000000020"));
	assert_non_null(strstr(buf, "bytes at RIP: 0f 0b 90\n"));
	/* a tiny buffer truncates but stays a string */
	char small[40];
	n = hybrid__format_crash(small, sizeof(small), &cs);
	assert_true(n < sizeof(small));
	assert_int_equal(strlen(small), n);
	cs.regs = NULL;
	hybrid__format_crash(buf, sizeof(buf), &cs);
	assert_non_null(strstr(buf, "registers unavailable"));
}

static void modes(void **state)
{
	(void)state;
	enum cpu_mode m, run;
	char why[192];
	assert_true(hybrid__parse_mode("shadow", &m) && m == CPU_MODE_SHADOW);
	assert_false(hybrid__parse_mode("EPT", &m));
	const struct cpl_measure emulated = { .valid = true, .cpl0_ns_per_loop = 600,
					      .cpl3_ns_per_loop = 0.3, .ratio = 2000 };
	const struct cpl_measure hardware = { .valid = true, .cpl0_ns_per_loop = 0.3,
					      .cpl3_ns_per_loop = 0.3, .ratio = 1 };
	/* auto: shadow only for a PV kernel where CPL0 is emulated */
	assert_int_equal(hybrid__select_mode(CPU_MODE_AUTO, true, &emulated, &run, why, sizeof(why)), 0);
	assert_int_equal(run, CPU_MODE_SHADOW);
	assert_non_null(strstr(why, "2000x slower"));
	assert_int_equal(hybrid__select_mode(CPU_MODE_AUTO, false, &emulated, &run, why, sizeof(why)), 0);
	assert_int_equal(run, CPU_MODE_EPT);
	assert_non_null(strstr(why, "not PV-capable"));
	assert_int_equal(hybrid__select_mode(CPU_MODE_AUTO, true, &hardware, &run, why, sizeof(why)), 0);
	assert_int_equal(run, CPU_MODE_EPT);
	assert_int_equal(hybrid__select_mode(CPU_MODE_AUTO, true, NULL, &run, why, sizeof(why)), 0);
	assert_int_equal(run, CPU_MODE_EPT);
	/* forced modes */
	assert_int_equal(hybrid__select_mode(CPU_MODE_EPT, true, NULL, &run, why, sizeof(why)), 0);
	assert_int_equal(run, CPU_MODE_EPT);
	assert_int_equal(hybrid__select_mode(CPU_MODE_SHADOW, true, NULL, &run, why, sizeof(why)), 0);
	assert_int_equal(run, CPU_MODE_SHADOW);
	assert_int_equal(hybrid__select_mode(CPU_MODE_SHADOW, false, NULL, &run, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "needs a PV-capable kernel"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(boot_tables_identity_map_4g),
		cmocka_unit_test(boot_tables_cover_high_ram),
		cmocka_unit_test(multiboot_entry_state),
		cmocka_unit_test(ept_accessor_rejects_outside),
		cmocka_unit_test(cpuid_policy_adds_l1_leaves),
		cmocka_unit_test(cpuid_lookup_follows_kvm_matching),
		cmocka_unit_test(cpuid_policy_can_leave_kvm_leaves),
		cmocka_unit_test(crash_report_is_readable),
		cmocka_unit_test(modes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
