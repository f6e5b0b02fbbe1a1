/* SPDX-License-Identifier: MIT */
/*
 * DOC: the IOAPIC (KVM's in-kernel one at L1_IOAPIC_GPA), ept mode only.
 *
 * Devices of the host raise a pin with KVM_IRQ_LINE; the redirection entry
 * of that pin turns it into a vector at one LAPIC. The kernel only routes
 * pins that a driver owns; every other pin stays as KVM reset it (masked).
 */
#ifndef L1G_ARCH_X86_IOAPIC_H
#define L1G_ARCH_X86_IOAPIC_H

#include <stdint.h>

#define IOAPIC_PINS 24u /* KVM's IOAPIC */

/*
 * Route pin to vector at the LAPIC apic_id: fixed delivery, physical
 * destination, active high, level triggered (the handler must make the
 * device lower the line before its EOI), unmasked. Maps the IOAPIC page
 * first. 0, or -1 when pin >= IOAPIC_PINS or the page cannot be mapped
 * (shadow mode).
 */
int ioapic__route_level(unsigned int pin, uint8_t vector, uint32_t apic_id);
/* Mask pin again (after a successful ioapic__route_level). */
void ioapic__mask(unsigned int pin);

#endif
