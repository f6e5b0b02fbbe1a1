/* SPDX-License-Identifier: MIT */
/*
 * DOC: a 16550 UART subset: the guest console.
 *
 * Transmit only, polled: the transmitter is always empty (LSR.THRE|TEMT), so
 * a guest never waits; nothing is ever received; no interrupts are raised.
 * The divisor latch, LCR, MCR (with loopback reflected in MSR) and the scratch
 * register behave as on real hardware so that probing drivers are happy.
 * Output is cut into lines; each complete line goes to the sink, prefixed
 * with "[NAME] " when a prefix is set (several VMs in one process). The
 * sink is called with the UART's lock held: it must not block (l1vmm's is
 * the console writer, l1vmm/console.h).
 */
#ifndef L1VMM_UART_H
#define L1VMM_UART_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "l1vmm/bus.h"

#define UART_NR_REGS 8
#define UART_LINE_MAX 1024

/* Receives one line (with its '\n' unless it was cut at UART_LINE_MAX). */
typedef void uart_sink_fn(void *ctx, const char *line, size_t len);

struct uart {
	pthread_mutex_t lock;   /* protects everything below (vCPUs write concurrently) */
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	char prefix[64];        /* "[name] " or empty */
	size_t prefix_len;
	char line[UART_LINE_MAX];
	size_t line_len;        /* bytes in line[], after the prefix */
	uint64_t tx_bytes;      /* bytes the guest sent */
	uart_sink_fn *sink;
	void *sink_ctx;
};

extern const struct bus_dev_ops uart__ops;

/* Initialise; name may be NULL for no prefix. */
void uart__init(struct uart *uart, const char *name, uart_sink_fn *sink, void *sink_ctx);
/* Send a partial last line, if any, to the sink. */
void uart__flush(struct uart *uart);
void uart__destroy(struct uart *uart);

#endif
