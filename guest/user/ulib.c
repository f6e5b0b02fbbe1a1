// SPDX-License-Identifier: MIT
#include "lib/printf.h"
#include "user/init.h"
#include "user/user.h"

_Static_assert(SYS_EXIT == 1, "user/crt.S hardcodes SYS_EXIT");

struct l1g_info user__info;

int vprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int n = printf__vsnprintf(buf, sizeof(buf), fmt, ap);

	sys__write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

void user__assert_fail(const char *file, int line, const char *expr)
{
	printf("l1guest: assertion failed at %s:%d: %s\n", file, line, expr);
	sys__exit(250);
}

int64_t task__spawn(int64_t (*fn)(uint64_t), uint64_t arg, int cpu)
{
	return sys__call(SYS_SPAWN, (uint64_t)user__task_start, (uint64_t)fn, arg, (uint64_t)(int64_t)cpu);
}

int64_t task__join(int64_t tid)
{
	return sys__call(SYS_JOIN, (uint64_t)tid, 0, 0, 0);
}

void event__wait(struct event *ev, uint64_t seen)
{
	/* SYS_WAIT re-checks the count under the kernel's lock: no lost wakeup. */
	while (ev->count == seen)
		sys__wait(&ev->count, seen);
}

int64_t event__signal(struct event *ev)
{
	__atomic_add_fetch(&ev->count, 1, __ATOMIC_SEQ_CST);
	return sys__wake(&ev->count, UINT64_MAX);
}

uint64_t time__cycles_to_us(uint64_t cycles)
{
	if (!user__info.tsc_khz)
		return 0;
	return cpu__muldiv(cycles, 1000, user__info.tsc_khz);
}
