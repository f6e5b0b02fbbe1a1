/* SPDX-License-Identifier: MIT */
/*
 * DOC: workloads and their command-line arguments.
 *
 * The command line is `workload=NAME key=value ...`. user__main() splits it,
 * checks that every key is one the workload declares (plus the common
 * `hz=`), runs the workload and prints the last line:
 *   l1guest: workload=NAME result=PASS
 *   l1guest: workload=NAME result=FAIL (<reason>)
 * A bad command line instead prints `l1guest: bad command line: <what>`;
 * the VM exits 0 on PASS and 1 otherwise.
 */
#ifndef L1G_USER_WORKLOAD_H
#define L1G_USER_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#define ARGS_MAX 32

struct args {
	unsigned int n;
	struct {
		const char *key, *val; /* NUL-terminated, inside user__cmdline */
	} kv[ARGS_MAX];
};

enum workload_result { W_PASS = 0, W_FAIL = 1, W_BADARG = 2 };

struct result {
	char reason[160]; /* W_FAIL: why, for the result line */
};

struct workload {
	const char *name;
	const char *const *keys; /* NULL-terminated keys it takes */
	enum workload_result (*run)(const struct args *a, struct result *r);
};

/* Value of key, or NULL. */
const char *args__get(const struct args *a, const char *key);
/*
 * Number (args__u64) or size with K/M/G suffix (args__size) for key, def if
 * absent. Out of [min, max] or malformed: prints the bad command line and
 * returns -1.
 */
int args__u64(const struct args *a, const char *key, uint64_t def, uint64_t min,
	      uint64_t max, uint64_t *out);
int args__size(const struct args *a, const char *key, uint64_t def, uint64_t min,
	       uint64_t max, uint64_t *out);
/* Print "l1guest: bad command line: ..." */
void args__bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Set r->reason and return W_FAIL. */
enum workload_result result__fail(struct result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Start fn(base + t * stride) as a task for t < n, spread over the vCPUs,
 * into tids[t]. If a spawn fails: join the tasks already started, fail r
 * and return -1.
 */
int tasks__spawn(int64_t (*fn)(uint64_t), void *base, size_t stride, unsigned int n,
		 int64_t *tids, struct result *r);
/* Join n tasks; the first nonzero status fails r (if r is not failed yet). -1 if r failed. */
int tasks__join(unsigned int n, const int64_t *tids, struct result *r);

extern const struct workload workload__hello, workload__compute, workload__memtouch,
	workload__selftest, workload__crash, workload__hostile, workload__dup, workload__churn,
	workload__attack, workload__hotcold, workload__swapstorm, workload__disktest, workload__apf;

#endif
