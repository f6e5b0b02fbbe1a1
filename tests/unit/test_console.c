/* SPDX-License-Identifier: MIT */
/* The console: guest bytes escaped, one output line per guest line, and a
 * stalled reader that drops lines instead of blocking the guest's vCPU. */
#include "cmocka_all.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "l1vmm/console.h"
#include "l1vmm/uart.h"
#include "mmu/clock.h"

static const char *escaped(const char *in, size_t len)
{
	static char out[CONSOLE_LINE_MAX + 1];
	size_t n = console__escape(out, sizeof(out) - 1, in, len);
	out[n] = '\0';
	return out;
}

static void escape_shows_control_bytes_as_hex(void **state)
{
	(void)state;
	assert_string_equal(escaped("hello\n", 6), "hello\n");
	assert_string_equal(escaped("\x1b[2J\x1b[H", 7), "\\x1b[2J\\x1b[H\n");
	assert_string_equal(escaped("a\rb\tc\x7f\xff", 7), "a\\x0db\\x09c\\x7f\\xff\n");
	assert_string_equal(escaped("a\\x1b", 5), "a\\\\x1b\n"); /* a typed "\x1b" stays apart */
	assert_string_equal(escaped("nul\0!", 5), "nul\\x00!\n");
	assert_string_equal(escaped("", 0), "\n");
	assert_string_equal(escaped("\n\n", 2), "\\x0a\n"); /* the UART ends a line at its '\n' */
}

static void escape_never_overflows(void **state)
{
	(void)state;
	char in[UART_LINE_MAX], out[4 * UART_LINE_MAX + 2];
	memset(in, 0x1b, sizeof(in));
	size_t n = console__escape(out, sizeof(out), in, sizeof(in));
	assert_int_equal(n, 4 * UART_LINE_MAX + 1);
	assert_int_equal(out[n - 1], '\n');
	char small[9];
	n = console__escape(small, sizeof(small), in, sizeof(in));
	assert_true(n <= sizeof(small));
	assert_int_equal(small[n - 1], '\n');
}

/* Lines through a UART with a prefix: a guest's "[other] " comes after l1vmm's. */
static void uart_lines_are_prefixed_and_escaped(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct console *c = console__open(p[1]);
	assert_non_null(c);
	struct uart u;
	uart__init(&u, "a", console__sink, c);
	const char *guest = "ok\n[b] forged\x1b[31m\nno end";
	for (const char *s = guest; *s; s++)
		uart__ops.write(&u, 0, s, 1);
	uart__destroy(&u);
	assert_int_equal(console__close(c, clock__mono_s() + 1.0), 0);
	close(p[1]);
	char got[256] = { 0 };
	ssize_t n = read(p[0], got, sizeof(got) - 1);
	assert_true(n > 0);
	assert_string_equal(got, "[a] ok\n[a] [b] forged\\x1b[31m\n[a] no end\n");
	close(p[0]);
}

/* Append what the pipe holds to out (cap bytes); its new length. */
static size_t drain(int fd, char *out, size_t len, size_t cap)
{
	ssize_t n;
	while (len < cap && (n = read(fd, out + len, cap - len)) > 0)
		len += (size_t)n;
	return len;
}

/* Nobody reads: the sink returns at once, lines beyond the buffer are
 * dropped, and notices in the output account for every one of them. */
static void stalled_reader_drops_and_counts(void **state)
{
	(void)state;
	enum { LINES = 1000 };
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_int_equal(fcntl(p[1], F_SETFL, 0), 0); /* the writer blocks, as on a stdout pipe */
	struct console *c = console__open(p[1]);
	assert_non_null(c);
	char line[UART_LINE_MAX];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	uint64_t t0 = clock__mono_ns();
	for (int i = 0; i < LINES; i++) /* 1 MiB: far more than the pipe and the buffer */
		console__sink(c, line, sizeof(line));
	assert_true(clock__mono_ns() - t0 < 500000000ull); /* never waited on the reader */
	static char out[4 << 20];
	size_t len = 0;
	uint64_t until = clock__mono_ns() + 1000000000ull;
	while (clock__mono_ns() < until) {
		len = drain(p[0], out, len, sizeof(out) - 1);
		usleep(10000);
	}
	console__sink(c, "after\n", 6);
	uint64_t dropped = console__close(c, clock__mono_s() + 1.0);
	len = drain(p[0], out, len, sizeof(out) - 1);
	out[len] = '\0';
	assert_true(dropped > LINES / 2);
	uint64_t kept = 0, noticed = 0;
	char *last = NULL;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		unsigned long long k;
		if (strlen(l) == sizeof(line) - 1 && l[0] == 'x')
			kept++;
		else if (sscanf(l, "l1vmm: %llu console lines dropped (stdout was not read fast", &k) == 1)
			noticed += k;
		else
			assert_string_equal(l, "after");
		last = l;
	}
	assert_int_equal(kept + dropped, LINES);
	assert_int_equal(noticed, dropped);
	assert_non_null(last);
	assert_string_equal(last, "after");
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escape_shows_control_bytes_as_hex),
		cmocka_unit_test(escape_never_overflows),
		cmocka_unit_test(uart_lines_are_prefixed_and_escaped),
		cmocka_unit_test(stalled_reader_drops_and_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
