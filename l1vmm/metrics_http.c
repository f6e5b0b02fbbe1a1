/* SPDX-License-Identifier: MIT */
#include "l1vmm/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <microhttpd.h>

#include "l1vmm/ctl.h"
#include "l1vmm/metrics.h"
#include "l1vmm/sandbox.h"
#include "l1vmm/thread.h"

#define MAX_CONNECTIONS 16
#define IDLE_SECONDS 10
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct ctl_tree *t;
	struct MHD_Daemon *d;  /* used by the thread only once it runs */
	int listen_fd;
	int wake_fd;           /* eventfd: confine or stop now */
	char url[96];
	int confine;           /* atomic: set-up is done */
	int stop;              /* atomic */
	pthread_t thread;
};

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (host_ctl__log_level() < LOG_DEBUG) /* a client that went away is not news */
		return;
	char line[256];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	fprintf(stderr, "l1vmm: metrics: %s\n", line);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req)
{
	static int seen; /* marks a request whose headers were seen */
	struct metrics_http *m = cls;
	(void)version, (void)upload;
	if (!*req) { /* headers only: answer once the request is complete */
		*req = &seen;
		return MHD_YES;
	}
	if (*upload_size) { /* a body: not for us */
		*upload_size = 0;
		return MHD_YES;
	}
	static char not_allowed[] = "l1vmm: only GET and HEAD\n";
	static char not_found[] = "l1vmm: the metrics are at /metrics\n";
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, strlen(not_allowed),
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, not_found, strlen(not_found),
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	struct metrics_source src = metrics__tree_source(m->t);
	char *text, err[256];
	size_t len;
	if (metrics__build(&src, m->t, &text, &len, err, sizeof(err)) < 0) {
		fprintf(stderr, "l1vmm: metrics: %s\n", err);
		static char failed[] = "l1vmm: could not read the tree\n";
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, failed, strlen(failed),
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	}
	return reply(c, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE, CONTENT_TYPE);
}

static void *serve(void *arg)
{
	struct metrics_http *m = arg;
	bool confined = false;
	int epoll_fd = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
		if (!confined && __atomic_load_n(&m->confine, __ATOMIC_ACQUIRE)) {
			sandbox__enter(SANDBOX_METRICS, "metrics");
			confined = true;
		}
		MHD_UNSIGNED_LONG_LONG wait_ms;
		int timeout = -1;
		if (MHD_get_timeout(m->d, &wait_ms) == MHD_YES)
			timeout = wait_ms > INT32_MAX ? INT32_MAX : (int)wait_ms;
		struct pollfd p[2] = { { .fd = epoll_fd, .events = POLLIN },
				       { .fd = m->wake_fd, .events = POLLIN } };
		if (poll(p, 2, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "l1vmm: metrics: poll failed (%s): no more metrics served\n",
				strerror(errno));
			break;
		}
		if (p[1].revents & POLLIN) {
			uint64_t n;
			ssize_t r = read(m->wake_fd, &n, sizeof(n));
			(void)r;
		}
		MHD_run(m->d);
	}
	MHD_stop_daemon(m->d); /* closes the connections and the listening socket */
	return NULL;
}

static void wake(struct metrics_http *m)
{
	uint64_t one = 1;
	ssize_t r = write(m->wake_fd, &one, sizeof(one));
	(void)r;
}

/* socket, bind, listen; the port bound. -1 with a reason. */
static int listen_on(struct metrics_http *m, const char *shown,
		     const struct sockaddr_storage *addr, socklen_t len, char *err, size_t errlen)
{
	m->listen_fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	if (m->listen_fd < 0 ||
	    setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(m->listen_fd, (const struct sockaddr *)addr, len) < 0 ||
	    listen(m->listen_fd, MAX_CONNECTIONS) < 0 ||
	    getsockname(m->listen_fd, (struct sockaddr *)&bound, &blen) < 0) {
		snprintf(err, errlen, "--metrics %.60s: cannot listen there: %s", shown,
			 strerror(errno));
		return -1;
	}
	char host[INET6_ADDRSTRLEN] = "?";
	bool v6 = bound.ss_family == AF_INET6;
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&bound;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&bound;
	inet_ntop(bound.ss_family, v6 ? (const void *)&a6->sin6_addr : (const void *)&a4->sin_addr,
		  host, sizeof(host));
	snprintf(m->url, sizeof(m->url), "http://%s%s%s:%u/metrics", v6 ? "[" : "", host,
		 v6 ? "]" : "", ntohs(v6 ? a6->sin6_port : a4->sin_port));
	return 0;
}

struct metrics_http *metrics_http__start(struct ctl_tree *t, const char *shown,
					 const struct sockaddr_storage *addr, socklen_t len,
					 char *err, size_t errlen)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "--metrics: out of memory");
		return NULL;
	}
	*m = (struct metrics_http){ .t = t, .listen_fd = -1, .wake_fd = -1 };
	if (listen_on(m, shown, addr, len, err, errlen) < 0)
		goto fail;
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->wake_fd < 0) {
		snprintf(err, errlen, "--metrics: eventfd: %s", strerror(errno));
		goto fail;
	}
	m->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer, m,
				MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_SECONDS,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!m->d) {
		snprintf(err, errlen, "--metrics %.60s: libmicrohttpd did not start", shown);
		goto fail;
	}
	m->listen_fd = -1; /* the daemon's now */
	int rc = thread__create_quiet(&m->thread, serve, m, 0);
	if (rc) {
		snprintf(err, errlen, "--metrics: cannot start its thread: %s", strerror(rc));
		MHD_stop_daemon(m->d);
		goto fail;
	}
	return m;
fail:
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	free(m);
	return NULL;
}

const char *metrics_http__url(const struct metrics_http *m)
{
	return m->url;
}

void metrics_http__confine(struct metrics_http *m)
{
	if (!m)
		return;
	__atomic_store_n(&m->confine, 1, __ATOMIC_RELEASE);
	wake(m);
}

void metrics_http__stop(struct metrics_http *m)
{
	if (!m)
		return;
	__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
	wake(m);
	pthread_join(m->thread, NULL);
	close(m->wake_fd);
	free(m);
}
