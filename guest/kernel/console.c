// SPDX-License-Identifier: MIT
#include <stdarg.h>

#include "kernel/console.h"
#include "kernel/pvops.h"
#include "kernel/spinlock.h"
#include "lib/printf.h"

static struct spinlock console_lock;

void console__write(const char *buf, size_t len)
{
	spin__lock(&console_lock);
	pv_ops.console.write(buf, len);
	spin__unlock(&console_lock);
}

void console__printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = printf__vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console__write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}
