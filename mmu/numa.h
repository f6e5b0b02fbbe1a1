/* SPDX-License-Identifier: MIT */
/*
 * DOC: NUMA placement: node sets, the host's topology, where a copy goes.
 *
 * A VM may be bound to a set of NUMA nodes (vms/NAME/numa_nodes, a list such
 * as "0" or "0-1,3"): its guest RAM gets an MPOL_BIND policy over those nodes
 * before the guest touches it, and its vCPU threads run on those nodes' CPUs
 * and allocate there. A VM's home node is the lowest node of its set (-1:
 * not bound); page sharing keeps copies apart by home node when
 * dedup/merge_across_nodes is 0, as KSM does, and places each stored copy on
 * the node nearest its users (numa__place()).
 *
 * A node set is a mask of one word: node ids 0..NUMA_NODES_MAX-1. The parser,
 * the formatter and the placement are pure functions of their arguments
 * (unit-tested against made-up topologies); numa__host() reads the real one
 * through libnuma once, and the binding calls act on the calling process.
 */
#ifndef L1_MMU_NUMA_H
#define L1_MMU_NUMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NUMA_NODES_MAX 64
#define NUMA_LOCAL_DISTANCE 10 /* ACPI SLIT: a node's distance to itself */

struct numa_topology {
	uint64_t nodes; /* the nodes that exist and have memory l1vmm may use */
	/* distance[a][b] for nodes a, b of nodes (ACPI SLIT: 10 local, more
	 * further away); 0 where unknown, read as "remote" */
	uint8_t distance[NUMA_NODES_MAX][NUMA_NODES_MAX];
};

/*
 * Parse a node list: "" (no binding: *mask = 0), or comma-separated ids and
 * ranges "A-B" (A <= B), ids below NUMA_NODES_MAX, decimal, no spaces, no
 * empty items. 0, or -EINVAL (*mask unchanged).
 */
int numa__parse(const char *text, uint64_t *mask);
/* The list for mask in its shortest form ("0-2,5"; "" for 0). */
void numa__format(uint64_t mask, char *buf, size_t len);
/* The lowest node of mask, or -1 for an empty mask. */
int numa__home(uint64_t mask);

/*
 * Whether mask may be used on topology t (NULL: libnuma is unavailable). 0,
 * or -1 with one line in err naming what is wrong (a node that does not
 * exist, or no NUMA support while a binding is asked). An empty mask is
 * always fine.
 */
int numa__check(const struct numa_topology *t, uint64_t mask, char *err, size_t errlen);

/*
 * The node for a stored copy whose users live on the home nodes users[0..n)
 * (-1 entries: VMs bound nowhere, which do not count): the node of t that
 * minimises the sum of distances to the users, so the majority's node when
 * all remote distances are equal. Ties go to the node of the earliest user
 * among the tied ones, else to the lowest id. -1 when no user has a home
 * node or t is NULL (no preference: the host's default policy). Pure.
 */
int numa__place(const struct numa_topology *t, const int *users, unsigned n);

/* The host's topology (libnuma, read once), or NULL when libnuma is unavailable. */
const struct numa_topology *numa__host(void);

/*
 * Bind [addr, addr + len) (page-aligned) to the nodes of mask, MPOL_BIND;
 * mask 0 puts back the default policy. Pages not yet touched will be
 * allocated there. 0 or -errno.
 */
int numa__bind_range(void *addr, size_t len, uint64_t mask);
/*
 * Confine the calling thread to the CPUs of mask's nodes, and its own
 * allocations to those nodes (MPOL_BIND). mask 0: nothing to do. 0 or -errno.
 * Call it before the thread's sandbox (sched_setaffinity, set_mempolicy).
 */
int numa__bind_thread(uint64_t mask);
/*
 * memcpy(dst, src, len) where dst's pages are touched for the first time:
 * they are allocated preferably on node (-1: the default policy). The
 * calling thread's policy is MPOL_PREFERRED for the copy and the default
 * again afterwards (a thread with a policy of its own must not call it).
 * A page with a policy of its own (mbind) keeps to that one.
 */
void numa__copy_on(int node, void *dst, const void *src, size_t len);

#endif
