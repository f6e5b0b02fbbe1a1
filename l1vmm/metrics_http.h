/* SPDX-License-Identifier: MIT */
/*
 * DOC: --metrics ADDR: the control tree over HTTP, for Prometheus.
 *
 * GET /metrics answers with metrics__build() of the live tree (text format
 * 0.0.4); any other path is 404, any other method 405. libmicrohttpd does the
 * HTTP, driven from a thread of l1vmm's own (its epoll descriptor and a wake
 * eventfd in one poll), so the thread can confine itself like every other
 * (l1vmm/sandbox.h, kind "metrics"): it accepts, reads and writes on sockets
 * it was given, and reads the tree, but cannot open a socket of its own.
 * The listening socket is made at start, before the sandbox: an address
 * that cannot be bound is a start-up error (status 2). At most 16
 * connections at once; one idle for 10 s is closed.
 */
#ifndef L1VMM_METRICS_HTTP_H
#define L1VMM_METRICS_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

struct ctl_tree;
struct metrics_http;

/*
 * Listen on addr (as the user wrote it: shown) and serve t from a new
 * thread. NULL with a one-line reason in err.
 */
struct metrics_http *metrics_http__start(struct ctl_tree *t, const char *shown,
					 const struct sockaddr_storage *addr, socklen_t len,
					 char *err, size_t errlen);
/* "http://127.0.0.1:9800/metrics": where it listens (the port the kernel chose for 0). */
const char *metrics_http__url(const struct metrics_http *m);
/* Set-up is done: the thread confines itself now. NULL is a no-op. */
void metrics_http__confine(struct metrics_http *m);
/* Stop serving, close every connection and the socket, free m. NULL is a no-op. */
void metrics_http__stop(struct metrics_http *m);

#endif
