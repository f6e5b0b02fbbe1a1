/* SPDX-License-Identifier: MIT */
#include "l1vmm/console.h"
#include "l1vmm/thread.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmu/clock.h"

#define NOTICE_MAX 96

struct console {
	int fd;
	void (*thread_start)(void);
	pthread_t thread;
	pthread_mutex_t lock;  /* everything below; held only to copy bytes */
	pthread_cond_t cv;     /* data queued, data written, or closing */
	char *buf;             /* CONSOLE_BUF_BYTES ring */
	uint64_t head, tail;   /* free-running: bytes queued, bytes taken by the writer */
	uint64_t dropped;      /* lines dropped since the last notice */
	uint64_t dropped_total;
	bool closing;
};

size_t console__escape(char *out, size_t cap, const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	if (len && in[len - 1] == '\n')
		len--;
	size_t o = 0;
	for (size_t i = 0; i < len && o + 5 < cap; i++) {
		unsigned char b = (unsigned char)in[i];
		if (b == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (b >= 0x20 && b < 0x7f) {
			out[o++] = (char)b;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[b >> 4];
			out[o++] = hex[b & 15];
		}
	}
	if (o < cap)
		out[o++] = '\n';
	return o;
}

/* Copy bytes into the ring at head; the caller checked the room. */
static void put(struct console *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c->buf[(c->head + i) % CONSOLE_BUF_BYTES] = p[i];
	c->head += n;
}

void console__sink(void *ctx, const char *line, size_t len)
{
	struct console *c = ctx;
	if (!c)
		return; /* closed */
	char out[CONSOLE_LINE_MAX];
	size_t n = console__escape(out, sizeof(out), line, len);
	pthread_mutex_lock(&c->lock);
	char notice[NOTICE_MAX];
	size_t nn = 0;
	if (c->dropped)
		nn = (size_t)snprintf(notice, sizeof(notice), "l1vmm: %llu console lines dropped "
				      "(stdout was not read fast enough)\n",
				      (unsigned long long)c->dropped);
	uint64_t room = CONSOLE_BUF_BYTES - (c->head - c->tail);
	if (n + nn > room || c->closing) {
		c->dropped++;
		c->dropped_total++;
	} else {
		put(c, notice, nn);
		put(c, out, n);
		c->dropped = 0;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->lock);
}

static void *writer(void *arg)
{
	struct console *c = arg;
	if (c->thread_start)
		c->thread_start();
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->head == c->tail && !c->closing)
			pthread_cond_wait(&c->cv, &c->lock);
		if (c->head == c->tail)
			break;
		/* the contiguous part from tail; the rest next round */
		size_t at = (size_t)(c->tail % CONSOLE_BUF_BYTES);
		size_t n = (size_t)(c->head - c->tail);
		if (n > CONSOLE_BUF_BYTES - at)
			n = CONSOLE_BUF_BYTES - at;
		pthread_mutex_unlock(&c->lock);
		size_t done = 0;
		while (done < n) {
			ssize_t w = write(c->fd, c->buf + at + done, n - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break; /* stdout gone: the bytes are lost, the guest goes on */
			done += (size_t)w;
		}
		pthread_mutex_lock(&c->lock);
		c->tail += n;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct console *console__open(int fd, void (*thread_start)(void))
{
	struct console *c = calloc(1, sizeof(*c));
	if (!c || !(c->buf = malloc(CONSOLE_BUF_BYTES))) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->thread_start = thread_start;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cv, NULL);
	int rc = thread__create_quiet(&c->thread, writer, c, 0); /* signals stay with main */
	if (rc != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->lock);
		free(c->buf);
		free(c);
		return NULL;
	}
	return c;
}

uint64_t console__close(struct console *c, double until)
{
	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	while (c->head != c->tail && clock__mono_s() < until)
		clock__cond_wait(&c->cv, &c->lock, until - clock__mono_s());
	bool drained = c->head == c->tail;
	c->closing = true;
	uint64_t dropped = c->dropped_total;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
	if (!drained) {
		/* stuck in write(): it and its buffer stay until the process ends */
		pthread_detach(c->thread);
		return dropped;
	}
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
	free(c->buf);
	free(c);
	return dropped;
}
