/* SPDX-License-Identifier: MIT */
#include "l1vmm/uart.h"

#include <stdio.h>
#include <string.h>

enum {
	REG_DATA = 0, /* THR/RBR, or DLL when LCR.DLAB */
	REG_IER = 1,  /* or DLM when LCR.DLAB */
	REG_IIR = 2,  /* read: IIR, write: FCR */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define LCR_DLAB 0x80
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IIR_NO_INT 0x01
#define IIR_FIFO_ON 0xc0
#define MCR_LOOP 0x10
#define MSR_IDLE 0xb0 /* DCD, DSR, CTS: a cable with nobody complaining */

void uart__init(struct uart *uart, const char *name, uart_sink_fn *sink, void *sink_ctx)
{
	*uart = (struct uart){ .sink = sink, .sink_ctx = sink_ctx, .lcr = 0x03 };
	pthread_mutex_init(&uart->lock, NULL);
	if (name && *name) {
		int n = snprintf(uart->prefix, sizeof(uart->prefix), "[%s] ", name);
		uart->prefix_len = n < 0 ? 0 : (size_t)n >= sizeof(uart->prefix) ?
				sizeof(uart->prefix) - 1 : (size_t)n;
	}
}

void uart__destroy(struct uart *uart)
{
	uart__flush(uart);
	pthread_mutex_destroy(&uart->lock);
}

/* Called with the lock held. */
static void emit_line(struct uart *uart)
{
	char out[sizeof(uart->prefix) + UART_LINE_MAX];
	memcpy(out, uart->prefix, uart->prefix_len);
	memcpy(out + uart->prefix_len, uart->line, uart->line_len);
	uart->sink(uart->sink_ctx, out, uart->prefix_len + uart->line_len);
	uart->line_len = 0;
}

static void transmit(struct uart *uart, uint8_t byte)
{
	uart->tx_bytes++;
	uart->line[uart->line_len++] = (char)byte;
	if (byte == '\n' || uart->line_len == UART_LINE_MAX)
		emit_line(uart);
}

void uart__flush(struct uart *uart)
{
	pthread_mutex_lock(&uart->lock);
	if (uart->line_len)
		emit_line(uart);
	pthread_mutex_unlock(&uart->lock);
}

static uint8_t read_reg(struct uart *uart, unsigned reg)
{
	bool dlab = uart->lcr & LCR_DLAB;
	switch (reg) {
	case REG_DATA: return dlab ? uart->dll : 0;
	case REG_IER:  return dlab ? uart->dlm : uart->ier;
	case REG_IIR:  return IIR_NO_INT | ((uart->fcr & 1) ? IIR_FIFO_ON : 0);
	case REG_LCR:  return uart->lcr;
	case REG_MCR:  return uart->mcr;
	case REG_LSR:  return LSR_THRE | LSR_TEMT;
	case REG_MSR:
		if (uart->mcr & MCR_LOOP) /* DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD */
			return (uint8_t)(((uart->mcr & 0x01) << 5) | ((uart->mcr & 0x02) << 3) |
					 ((uart->mcr & 0x04) << 4) | ((uart->mcr & 0x08) << 4));
		return MSR_IDLE;
	default:       return uart->scr;
	}
}

static void write_reg(struct uart *uart, unsigned reg, uint8_t val)
{
	bool dlab = uart->lcr & LCR_DLAB;
	switch (reg) {
	case REG_DATA:
		if (dlab)
			uart->dll = val;
		else if (!(uart->mcr & MCR_LOOP))
			transmit(uart, val);
		break;
	case REG_IER:
		if (dlab)
			uart->dlm = val;
		else
			uart->ier = val & 0x0f;
		break;
	case REG_IIR: uart->fcr = val; break;
	case REG_LCR: uart->lcr = val; break;
	case REG_MCR: uart->mcr = val & 0x1f; break;
	case REG_SCR: uart->scr = val; break;
	default: break; /* LSR and MSR are read-only */
	}
}

/* Wider accesses touch consecutive registers, as the byte lanes would. */
static void uart_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct uart *uart = opaque;
	uint8_t *bytes = data;
	pthread_mutex_lock(&uart->lock);
	for (unsigned i = 0; i < size; i++)
		bytes[i] = offset + i < UART_NR_REGS ? read_reg(uart, (unsigned)(offset + i)) : 0xff;
	pthread_mutex_unlock(&uart->lock);
}

static void uart_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct uart *uart = opaque;
	const uint8_t *bytes = data;
	pthread_mutex_lock(&uart->lock);
	for (unsigned i = 0; i < size; i++)
		if (offset + i < UART_NR_REGS)
			write_reg(uart, (unsigned)(offset + i), bytes[i]);
	pthread_mutex_unlock(&uart->lock);
}

const struct bus_dev_ops uart__ops = { .read = uart_read, .write = uart_write };
