/* Unit tests: the 16550 subset behind the guest console. */
#include "cmocka_all.h"

#include <string.h>

#include "l1vmm/uart.h"

struct capture {
	char text[8192];
	size_t len;
	int lines;
};

static void capture_sink(void *ctx, const char *line, size_t len)
{
	struct capture *c = ctx;
	assert_true(c->len + len < sizeof(c->text));
	memcpy(c->text + c->len, line, len);
	c->len += len;
	c->text[c->len] = '\0';
	c->lines++;
}

static void put(struct uart *u, unsigned reg, uint8_t v)
{
	uart__ops.write(u, reg, &v, 1);
}

static uint8_t get(struct uart *u, unsigned reg)
{
	uint8_t v;
	uart__ops.read(u, reg, &v, 1);
	return v;
}

static void puts_uart(struct uart *u, const char *s)
{
	while (*s)
		put(u, 0, (uint8_t)*s++);
}

static void lines_go_to_the_sink_whole(void **state)
{
	(void)state;
	struct capture c = { 0 };
	struct uart u;
	uart__init(&u, NULL, capture_sink, &c);
	puts_uart(&u, "hello ");
	assert_int_equal(c.lines, 0); /* nothing until the line ends */
	puts_uart(&u, "world\nsecond");
	assert_string_equal(c.text, "hello world\n");
	uart__flush(&u);
	assert_string_equal(c.text, "hello world\nsecond");
	assert_int_equal(u.tx_bytes, 18);
	uart__destroy(&u);
}

static void prefix_every_line(void **state)
{
	(void)state;
	struct capture c = { 0 };
	struct uart u;
	uart__init(&u, "web1", capture_sink, &c);
	puts_uart(&u, "a\nb\n");
	assert_string_equal(c.text, "[web1] a\n[web1] b\n");
	uart__destroy(&u);
}

static void long_line_is_cut_not_lost(void **state)
{
	(void)state;
	struct capture c = { 0 };
	struct uart u;
	uart__init(&u, NULL, capture_sink, &c);
	for (int i = 0; i < UART_LINE_MAX + 10; i++)
		put(&u, 0, 'x');
	assert_int_equal(c.lines, 1);
	assert_int_equal(c.len, UART_LINE_MAX);
	uart__destroy(&u); /* flushes the other 10 */
	assert_int_equal(c.len, UART_LINE_MAX + 10);
}

static void registers_behave_like_a_16550(void **state)
{
	(void)state;
	struct capture c = { 0 };
	struct uart u;
	uart__init(&u, NULL, capture_sink, &c);
	assert_int_equal(get(&u, 5) & 0x60, 0x60); /* transmitter always empty */
	assert_int_equal(get(&u, 5) & 0x01, 0);    /* nothing received */
	assert_int_equal(get(&u, 2) & 0x01, 0x01); /* no interrupt pending */
	put(&u, 7, 0x5a);
	assert_int_equal(get(&u, 7), 0x5a);        /* scratch */
	/* divisor latch: DLAB set, data/IER registers become DLL/DLM */
	put(&u, 3, 0x83);
	put(&u, 0, 0x01);
	put(&u, 1, 0x00);
	assert_int_equal(get(&u, 0), 0x01);
	assert_int_equal(c.lines + (int)u.tx_bytes, 0); /* divisor bytes are not output */
	put(&u, 3, 0x03);
	put(&u, 1, 0xff);
	assert_int_equal(get(&u, 1), 0x0f);        /* IER keeps only its 4 bits */
	/* loopback: output is not transmitted, MSR mirrors MCR */
	put(&u, 4, 0x10 | 0x03);
	put(&u, 0, 'z');
	assert_int_equal(u.tx_bytes, 0);
	assert_int_equal(get(&u, 6) & 0x30, 0x30);
	put(&u, 4, 0x03);
	assert_int_equal(get(&u, 6), 0xb0);
	/* a 4-byte access at offset 6 touches MSR, SCR and two non-registers */
	uint8_t wide[4];
	uart__ops.read(&u, 6, wide, 4);
	assert_int_equal(wide[1], 0x5a);
	assert_int_equal(wide[2], 0xff);
	uart__destroy(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_go_to_the_sink_whole),
		cmocka_unit_test(prefix_every_line),
		cmocka_unit_test(long_line_is_cut_not_lost),
		cmocka_unit_test(registers_behave_like_a_16550),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
