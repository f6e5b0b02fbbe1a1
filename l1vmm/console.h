/* SPDX-License-Identifier: MIT */
/*
 * DOC: the console writer: guest lines to stdout, escaped, never blocking a vCPU.
 *
 * A guest's console lines (cut by the UART, l1vmm/uart.h) reach a console
 * here as the UART's sink. Each line is escaped on the way in: bytes outside
 * 0x20..0x7e (ESC, CR, tabs, NUL, anything above 0x7e) become \xNN and a
 * backslash becomes \\, so a guest can move no cursor, clear no screen and
 * forge no "[othervm] " line (each output line starts with l1vmm's prefix,
 * and a guest's newline always ends the line l1vmm wrote). Every line ends
 * with exactly one newline, a cut one too.
 *
 * The escaped line goes into a bounded buffer (CONSOLE_BUF_BYTES per VM)
 * and the console's own thread writes it to the file descriptor. A vCPU,
 * holding whatever lock it holds (the UART's, its VM's), only copies bytes:
 * a reader of stdout that stops reading stalls only that thread. When the
 * buffer is full a line is dropped and counted; once there is room again a
 * line "l1vmm: N console lines dropped (stdout was not read fast enough)"
 * is put where they were.
 */
#ifndef L1VMM_CONSOLE_H
#define L1VMM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l1vmm/uart.h"

#define CONSOLE_BUF_BYTES (64u << 10)
/* The longest escaped line: every byte as \xNN, its prefix, its newline. */
#define CONSOLE_LINE_MAX (4 * (UART_LINE_MAX + 64) + 2)
/* How long after a VM's end its console may take to drain. */
#define CONSOLE_DRAIN_SECONDS 0.25

struct console;

/*
 * Escape in[0..len) into out (cap bytes, at least 4 * len + 2): printable
 * ASCII as is, a backslash as \\, anything else as \xNN; one trailing
 * newline of in is kept as the line's end and one is added when missing.
 * The length written (no NUL).
 */
size_t console__escape(char *out, size_t cap, const char *in, size_t len);

/* A console writing to fd from a thread of its own. NULL: no memory or thread. */
struct console *console__open(int fd);
/*
 * Wait until drain_until (monotonic seconds; VMs stopped together share it)
 * for the buffer to be written, then stop. A writer still stuck in write()
 * is left behind with its buffer (the process is ending). NULL is a no-op.
 * Returns the lines dropped overall.
 */
uint64_t console__close(struct console *c, double drain_until);

/* The UART sink (ctx: a struct console *, NULL once closed: the line is
 * discarded): escape and queue one line. */
uart_sink_fn console__sink;

#endif
