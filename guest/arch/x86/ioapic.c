// SPDX-License-Identifier: MIT
/*
 * DOC: IOAPIC redirection entries (ioapic.h).
 *
 * Two registers: IOREGSEL (offset 0x00) picks a 32-bit register, IOWIN
 * (0x10) reads or writes it. Redirection entry n is registers 0x10 + 2n
 * (low: vector, delivery, polarity, trigger, mask) and 0x11 + 2n (high:
 * destination APIC id in bits 24-31). The high half is written first and
 * the unmasking low half last, so the pin never fires at a half-set entry.
 */
#include <stdbool.h>

#include "arch/x86/ioapic.h"
#include "kernel/mm.h"
#include "pvops/l1vmm_abi.h"

#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN    0x10
#define IOAPIC_REDTBL   0x10

#define IOAPIC_RTE_LEVEL  (1u << 15)
#define IOAPIC_RTE_MASKED (1u << 16)

static void ioapic_write(uint32_t reg, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)(L1_IOAPIC_GPA + IOAPIC_IOREGSEL) = reg;
	*(volatile uint32_t *)(uintptr_t)(L1_IOAPIC_GPA + IOAPIC_IOWIN) = val;
}

/*
 * The legacy 8259 PICs see the same ISA lines (KVM routes GSIs 0-15 to both),
 * and KVM leaves the boot CPU's LINT0 in ExtINT mode like a BIOS does: an
 * unprogrammed PIC would deliver IRQ n as vector n (IRQ 5 as #BR). Mask them
 * all, as an OS that uses the IOAPIC does.
 */
static void mask_8259(void)
{
	__asm__ volatile("outb %0, $0x21" ::"a"((uint8_t)0xff));
	__asm__ volatile("outb %0, $0xa1" ::"a"((uint8_t)0xff));
}

int ioapic__route_level(unsigned int pin, uint8_t vector, uint32_t apic_id)
{
	if (pin >= IOAPIC_PINS || !paging__map_mmio(L1_IOAPIC_GPA))
		return -1;
	mask_8259();
	ioapic_write(IOAPIC_REDTBL + 2 * pin + 1, apic_id << 24);
	/* fixed delivery (0), physical (bit 11 = 0), active high (bit 13 = 0) */
	ioapic_write(IOAPIC_REDTBL + 2 * pin, IOAPIC_RTE_LEVEL | vector);
	return 0;
}

void ioapic__mask(unsigned int pin)
{
	ioapic_write(IOAPIC_REDTBL + 2 * pin, IOAPIC_RTE_MASKED);
}
