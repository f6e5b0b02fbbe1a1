/* SPDX-License-Identifier: MIT */
/*
 * NUMA placement (numa.h): node lists, the host's topology through libnuma,
 * and the calls that bind memory and threads.
 */
#include "mmu/numa.h"

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define REMOTE_DISTANCE 20 /* ACPI's default for a node not described */

static bool parse_id(const char **p, unsigned *id)
{
	const char *s = *p;
	unsigned v = 0;
	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned)(*s++ - '0');
		if (v >= NUMA_NODES_MAX)
			return false;
	}
	*p = s;
	*id = v;
	return true;
}

int numa__parse(const char *text, uint64_t *mask)
{
	uint64_t m = 0;
	const char *p = text;
	while (*p) {
		unsigned a, b;
		if (!parse_id(&p, &a))
			return -EINVAL;
		b = a;
		if (*p == '-' && (++p, !parse_id(&p, &b) || b < a))
			return -EINVAL;
		for (unsigned i = a; i <= b; i++)
			m |= 1ull << i;
		if (*p == ',' && *++p == '\0')
			return -EINVAL; /* a trailing comma: an empty item */
		if (*p && (p[-1] != ','))
			return -EINVAL;
	}
	*mask = m;
	return 0;
}

void numa__format(uint64_t mask, char *buf, size_t len)
{
	size_t at = 0;
	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < NUMA_NODES_MAX && at < len; i++) {
		if (!(mask >> i & 1))
			continue;
		unsigned j = i;
		while (j + 1 < NUMA_NODES_MAX && (mask >> (j + 1) & 1))
			j++;
		int n = j == i ? snprintf(buf + at, len - at, "%s%u", at ? "," : "", i)
			       : snprintf(buf + at, len - at, "%s%u-%u", at ? "," : "", i, j);
		at += n > 0 ? (size_t)n : 0;
		i = j;
	}
}

int numa__home(uint64_t mask)
{
	return mask ? __builtin_ctzll(mask) : -1;
}

int numa__check(const struct numa_topology *t, uint64_t mask, char *err, size_t errlen)
{
	if (!mask)
		return 0;
	char want[3 * NUMA_NODES_MAX], have[3 * NUMA_NODES_MAX];
	numa__format(mask, want, sizeof(want));
	if (!t) {
		snprintf(err, errlen, "numa_nodes %s: this host has no NUMA support (libnuma: "
			 "numa_available() failed); leave numa_nodes empty", want);
		return -1;
	}
	uint64_t missing = mask & ~t->nodes;
	if (missing) {
		char bad[3 * NUMA_NODES_MAX];
		numa__format(missing, bad, sizeof(bad));
		numa__format(t->nodes, have, sizeof(have));
		snprintf(err, errlen, "numa_nodes %s: node%s %s %s not on this host (its nodes "
			 "with memory: %s)", want, missing & (missing - 1) ? "s" : "", bad,
			 missing & (missing - 1) ? "are" : "is", have);
		return -1;
	}
	return 0;
}

static unsigned distance(const struct numa_topology *t, unsigned a, unsigned b)
{
	unsigned d = t->distance[a][b];
	if (d)
		return d;
	return a == b ? NUMA_LOCAL_DISTANCE : REMOTE_DISTANCE;
}

int numa__place(const struct numa_topology *t, const int *users, unsigned n)
{
	if (!t)
		return -1;
	bool any = false;
	for (unsigned u = 0; u < n; u++)
		any |= users[u] >= 0 && users[u] < NUMA_NODES_MAX;
	if (!any)
		return -1;
	uint64_t best_nodes = 0, best = UINT64_MAX;
	for (unsigned c = 0; c < NUMA_NODES_MAX; c++) {
		if (!(t->nodes >> c & 1))
			continue;
		uint64_t cost = 0;
		for (unsigned u = 0; u < n; u++)
			if (users[u] >= 0 && users[u] < NUMA_NODES_MAX)
				cost += distance(t, c, (unsigned)users[u]);
		if (cost < best) {
			best = cost;
			best_nodes = 0;
		}
		if (cost == best)
			best_nodes |= 1ull << c;
	}
	for (unsigned u = 0; u < n; u++)
		if (users[u] >= 0 && users[u] < NUMA_NODES_MAX && (best_nodes >> users[u] & 1))
			return users[u];
	return numa__home(best_nodes);
}

static struct numa_topology host_topology;
static bool host_known;

static void read_host(void)
{
	if (numa_available() < 0)
		return;
	struct numa_topology *t = &host_topology;
	int max = numa_max_node();
	for (int a = 0; a <= max && a < NUMA_NODES_MAX; a++) {
		if (!numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)a))
			continue;
		t->nodes |= 1ull << a;
		for (int b = 0; b <= max && b < NUMA_NODES_MAX; b++) {
			int d = numa_distance(a, b);
			t->distance[a][b] = d > 0 && d < 256 ? (uint8_t)d : 0;
		}
	}
	host_known = true;
}

const struct numa_topology *numa__host(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, read_host);
	return host_known ? &host_topology : NULL;
}

int numa__bind_range(void *addr, size_t len, uint64_t mask)
{
	unsigned long nodes = (unsigned long)mask;
	_Static_assert(sizeof(nodes) * 8 >= NUMA_NODES_MAX, "a node mask fits an unsigned long");
	long rc = mask ? mbind(addr, len, MPOL_BIND, &nodes, NUMA_NODES_MAX + 1, 0)
		       : mbind(addr, len, MPOL_DEFAULT, NULL, 0, 0);
	return rc < 0 ? -errno : 0;
}

/*
 * libnuma fills its cache of each node's CPU mask on first use with no lock:
 * two vCPU threads binding at once both fill it and one copy leaks (an ASan
 * CI run's LeakSanitizer report from numa_node_to_cpus). One at a time.
 */
static pthread_mutex_t libnuma_lock = PTHREAD_MUTEX_INITIALIZER;

int numa__bind_thread(uint64_t mask)
{
	if (!mask)
		return 0;
	if (numa_available() < 0)
		return -ENOSYS;
	struct bitmask *cpus = numa_allocate_cpumask(), *all = numa_allocate_cpumask();
	int rc = cpus && all ? 0 : -ENOMEM;
	pthread_mutex_lock(&libnuma_lock);
	for (unsigned node = 0; rc == 0 && node < NUMA_NODES_MAX; node++) {
		if (!(mask >> node & 1))
			continue;
		if (numa_node_to_cpus((int)node, cpus) < 0)
			rc = -EINVAL;
		for (unsigned c = 0; rc == 0 && c < cpus->size; c++)
			if (numa_bitmask_isbitset(cpus, c))
				numa_bitmask_setbit(all, c);
	}
	pthread_mutex_unlock(&libnuma_lock);
	if (rc == 0 && numa_bitmask_weight(all) == 0)
		rc = -EINVAL; /* memory-only nodes: no CPU to run on */
	if (rc == 0 && numa_sched_setaffinity(0, all) < 0)
		rc = -errno;
	unsigned long nodes = (unsigned long)mask;
	if (rc == 0 && set_mempolicy(MPOL_BIND, &nodes, NUMA_NODES_MAX + 1) < 0)
		rc = -errno;
	if (cpus)
		numa_free_cpumask(cpus);
	if (all)
		numa_free_cpumask(all);
	return rc;
}

void numa__copy_on(int node, void *dst, const void *src, size_t len)
{
	unsigned long nodes = node >= 0 && node < NUMA_NODES_MAX ? 1ul << node : 0;
	/* a refused policy only loses the preference: the bytes are copied anyway */
	bool set = nodes && set_mempolicy(MPOL_PREFERRED, &nodes, NUMA_NODES_MAX + 1) == 0;
	memcpy(dst, src, len);
	if (set)
		set_mempolicy(MPOL_DEFAULT, NULL, 0);
}
