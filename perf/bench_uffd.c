// SPDX-License-Identifier: MIT
/*
 * The bare userfaultfd round trip on this host (issue 16's benchmark):
 *
 *     bench_uffd [pages=4096] [runs=5]
 *
 * One thread touches every page of a fresh anonymous mapping registered with
 * userfaultfd (MISSING); another thread reads each fault, copies a 4 KiB page
 * in with UFFDIO_COPY (which wakes the faulting thread) and waits for the
 * next. The toucher times each first access (a one-word load) with
 * CLOCK_MONOTONIC. That is ept mode's fetch with nothing of l1vmm in it: no
 * store lookup, no decompression, no p2m move, and no guest (a guest's access
 * adds the exit to KVM and KVM's own fault handling).
 *
 * Output, per run then over all runs:
 *   bench_uffd: run=K pages=N p50_us=A p90_us=B p99_us=C
 *   bench_uffd: all pages=N p50_us=A p90_us=B p99_us=C
 * Exit status 0; 1 with a one-line error when userfaultfd is not usable
 * (vm.unprivileged_userfaultfd=0 and no CAP_SYS_PTRACE, for one).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ul

struct server {
	int uffd;
	unsigned long pages;
	char src[PAGE] __attribute__((aligned(4096)));
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Serve one fault per page, then return. */
static void *serve(void *arg)
{
	struct server *s = arg;

	for (unsigned long n = 0; n < s->pages;) {
		struct uffd_msg msg;
		struct pollfd p = { .fd = s->uffd, .events = POLLIN };
		ssize_t got;

		if (poll(&p, 1, 5000) <= 0) {
			fprintf(stderr, "bench_uffd: no fault for 5 s after %lu pages\n", n);
			exit(1);
		}
		got = read(s->uffd, &msg, sizeof(msg));
		if (got != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		struct uffdio_copy c = {
			.dst = msg.arg.pagefault.address & ~(PAGE - 1),
			.src = (uintptr_t)s->src,
			.len = PAGE,
		};
		if (ioctl(s->uffd, UFFDIO_COPY, &c) && errno != EEXIST) {
			fprintf(stderr, "bench_uffd: UFFDIO_COPY: %s\n", strerror(errno));
			exit(1);
		}
		n++;
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print(const char *what, uint64_t *ns, unsigned long n)
{
	qsort(ns, n, sizeof(*ns), cmp);
	printf("bench_uffd: %s pages=%lu p50_us=%.1f p90_us=%.1f p99_us=%.1f\n", what, n,
	       ns[(n - 1) / 2] / 1e3, ns[(n - 1) * 90 / 100] / 1e3, ns[(n - 1) * 99 / 100] / 1e3);
}

/* One run: pages first touches of a registered mapping; their times into ns. */
static int one_run(struct server *s, uint64_t *ns)
{
	unsigned long len = s->pages * PAGE;
	char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_api api = { .api = UFFD_API };
	pthread_t t;

	if (mem == MAP_FAILED) {
		fprintf(stderr, "bench_uffd: mmap: %s\n", strerror(errno));
		return -1;
	}
	s->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (s->uffd < 0 || ioctl(s->uffd, UFFDIO_API, &api)) {
		fprintf(stderr, "bench_uffd: userfaultfd: %s\n", strerror(errno));
		return -1;
	}
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)mem, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(s->uffd, UFFDIO_REGISTER, &reg)) {
		fprintf(stderr, "bench_uffd: UFFDIO_REGISTER: %s\n", strerror(errno));
		return -1;
	}
	pthread_create(&t, NULL, serve, s);
	for (unsigned long i = 0; i < s->pages; i++) {
		uint64_t t0 = now_ns();

		(void)*(volatile char *)(mem + i * PAGE);
		ns[i] = now_ns() - t0;
	}
	pthread_join(t, NULL);
	close(s->uffd);
	munmap(mem, len);
	return 0;
}

static unsigned long arg(int argc, char **argv, const char *key, unsigned long def)
{
	size_t k = strlen(key);

	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], key, k) && argv[i][k] == '=')
			return strtoul(argv[i] + k + 1, NULL, 0);
	return def;
}

int main(int argc, char **argv)
{
	static struct server s;
	unsigned long runs = arg(argc, argv, "runs", 5);
	uint64_t *all, *ns;

	s.pages = arg(argc, argv, "pages", 4096);
	if (!s.pages || !runs || s.pages > (1ul << 20) || runs > 100) {
		fprintf(stderr, "bench_uffd: pages=1..1048576 runs=1..100\n");
		return 1;
	}
	memset(s.src, 0x5a, sizeof(s.src));
	all = calloc(s.pages * runs, sizeof(*all));
	ns = calloc(s.pages, sizeof(*ns));
	if (!all || !ns)
		return 1;
	for (unsigned long r = 0; r < runs; r++) {
		char what[32];

		if (one_run(&s, ns))
			return 1;
		memcpy(all + r * s.pages, ns, s.pages * sizeof(*ns));
		snprintf(what, sizeof(what), "run=%lu", r + 1);
		print(what, ns, s.pages);
	}
	print("all", all, s.pages * runs);
	free(all);
	free(ns);
	return 0;
}
