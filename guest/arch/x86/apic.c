// SPDX-License-Identifier: MIT
/*
 * DOC: local APIC (xAPIC MMIO at L1_LAPIC_GPA), native pv_ops backend.
 *
 * The VMM gives every vCPU KVM's in-kernel LAPIC, already enabled in the
 * APIC base MSR; we software-enable it through the spurious vector register
 * and run its timer in periodic mode, which needs no re-arming per tick.
 * apic_bus_hz from the start info is the timer's input clock before the
 * divider (KVM: 1 GHz). The page is mapped uncached by paging.c.
 */
#include <stdint.h>

#include "arch/x86/x86.h"
#include "kernel/pvops.h"

#define APIC_ID       0x020
#define APIC_TPR      0x080
#define APIC_EOI      0x0b0
#define APIC_SVR      0x0f0
#define APIC_ICR_LO   0x300
#define APIC_ICR_HI   0x310
#define APIC_LVT_TMR  0x320
#define APIC_TMR_INIT 0x380
#define APIC_TMR_DIV  0x3e0

#define APIC_SVR_ENABLE    (1u << 8)
#define APIC_LVT_PERIODIC  (1u << 17)
#define APIC_ICR_ASSERT    (1u << 14)
#define APIC_DIV_16        0x3
#define APIC_DIVISOR       16

static uint64_t bus_hz = 1000000000ull;

static inline void lapic_write(unsigned int reg, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)(L1_LAPIC_GPA + reg) = val;
}

static inline uint32_t lapic_read(unsigned int reg)
{
	return *(volatile uint32_t *)(uintptr_t)(L1_LAPIC_GPA + reg);
}

void apic__set_bus_hz(uint64_t hz)
{
	if (hz)
		bus_hz = hz;
}

void apic__native_init_cpu(void)
{
	lapic_write(APIC_TPR, 0);
	lapic_write(APIC_SVR, APIC_SVR_ENABLE | VEC_SPURIOUS);
}

uint32_t apic__native_id(void)
{
	return lapic_read(APIC_ID) >> 24;
}

void apic__native_arm_periodic(uint32_t hz)
{
	uint64_t count = bus_hz / APIC_DIVISOR / (hz ? hz : 1);

	if (count == 0)
		count = 1;
	if (count > 0xffffffffull)
		count = 0xffffffffull;
	lapic_write(APIC_TMR_DIV, APIC_DIV_16);
	lapic_write(APIC_LVT_TMR, APIC_LVT_PERIODIC | VEC_TIMER);
	lapic_write(APIC_TMR_INIT, (uint32_t)count);
}

void apic__native_eoi(void)
{
	lapic_write(APIC_EOI, 0);
}

void apic__native_send_ipi(uint32_t apic_id, uint8_t vector)
{
	/* Fixed delivery, physical destination; writing ICR_LO sends it. */
	lapic_write(APIC_ICR_HI, apic_id << 24);
	lapic_write(APIC_ICR_LO, APIC_ICR_ASSERT | vector);
}
