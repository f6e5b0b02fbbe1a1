/* Unit tests: node lists, the placement of a stored copy on made-up
 * topologies, and the binding calls on this host's memory. */
#include "tests/unit/cmocka_all.h"

#include <errno.h>
#include <numaif.h>
#include <string.h>
#include <sys/mman.h>

#include "mmu/numa.h"

static void test_parse(void **state)
{
	(void)state;
	static const struct { const char *text; uint64_t mask; } good[] = {
		{ "", 0 }, { "0", 1 }, { "3", 8 }, { "0-1,3", 0xb }, { "1-1", 2 },
		{ "2,0", 5 }, { "63", 1ull << 63 }, { "0-63", ~0ull }, { "5,5", 0x20 },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t m = 0xdead;
		assert_int_equal(numa__parse(good[i].text, &m), 0);
		assert_int_equal(m, good[i].mask);
	}
	static const char *const bad[] = { "x", "-1", "1-", "-", ",", "0,", ",0", "0,,1", "3-1",
					   "64", "0-64", "1 ", " 1", "0;1", "1-2-3", "0x1",
					   "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t m = 0xdead;
		assert_int_equal(numa__parse(bad[i], &m), -EINVAL);
		assert_int_equal(m, 0xdead); /* unchanged */
	}
}

static void test_format_home(void **state)
{
	(void)state;
	char buf[64];
	numa__format(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	numa__format(0xb, buf, sizeof(buf));
	assert_string_equal(buf, "0-1,3");
	numa__format(1ull << 63 | 0x70, buf, sizeof(buf));
	assert_string_equal(buf, "4-6,63");
	uint64_t back;
	assert_int_equal(numa__parse(buf, &back), 0);
	assert_int_equal(back, 1ull << 63 | 0x70);
	assert_int_equal(numa__home(0), -1);
	assert_int_equal(numa__home(0xc), 2);
}

static void test_check(void **state)
{
	(void)state;
	struct numa_topology t = { .nodes = 0x3 };
	char err[256] = "";
	assert_int_equal(numa__check(&t, 0, err, sizeof(err)), 0);
	assert_int_equal(numa__check(&t, 0x3, err, sizeof(err)), 0);
	assert_int_equal(numa__check(&t, 0x80, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "node 7 is not on this host"));
	assert_non_null(strstr(err, "0-1"));
	assert_int_equal(numa__check(&t, 0x6 | 0x10, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nodes 2,4 are not on this host"));
	assert_null(strchr(err, '\n'));
	/* no libnuma: any binding is refused, none is fine */
	assert_int_equal(numa__check(NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(numa__check(NULL, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no NUMA support"));
}

/* Four nodes in two sockets: 0-1 and 2-3 close, across far. */
static struct numa_topology two_sockets(void)
{
	static const uint8_t d[4][4] = {
		{ 10, 12, 32, 32 }, { 12, 10, 32, 32 }, { 32, 32, 10, 12 }, { 32, 32, 12, 10 },
	};
	struct numa_topology t = { .nodes = 0xf };
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 4; b++)
			t.distance[a][b] = d[a][b];
	return t;
}

static void test_place(void **state)
{
	(void)state;
	struct numa_topology flat = { .nodes = 0x3 }; /* no distances: 10 local, 20 remote */
	/* one user, or users of one node (merge_across_nodes = 0): their node */
	assert_int_equal(numa__place(&flat, (int[]){ 1 }, 1), 1);
	assert_int_equal(numa__place(&flat, (int[]){ 1, 1, 1 }, 3), 1);
	/* the majority */
	assert_int_equal(numa__place(&flat, (int[]){ 0, 1, 1 }, 3), 1);
	assert_int_equal(numa__place(&flat, (int[]){ 1, 0, 0 }, 3), 0);
	/* a tie: the earliest user's node */
	assert_int_equal(numa__place(&flat, (int[]){ 1, 0 }, 2), 1);
	assert_int_equal(numa__place(&flat, (int[]){ 0, 1 }, 2), 0);
	/* unbound users do not count; none bound: no preference */
	assert_int_equal(numa__place(&flat, (int[]){ -1, 1, -1 }, 3), 1);
	assert_int_equal(numa__place(&flat, (int[]){ -1, -1 }, 2), -1);
	assert_int_equal(numa__place(&flat, NULL, 0), -1);
	assert_int_equal(numa__place(NULL, (int[]){ 0 }, 1), -1);

	struct numa_topology t = two_sockets();
	/* users on 0 and 1 (one socket): a tie between 0 and 1, never 2 or 3 */
	assert_int_equal(numa__place(&t, (int[]){ 1, 0 }, 2), 1);
	/* 0, 1 and 2: node 0 and 1 cost 10+12+32 = 54, node 2 32+32+10 = 74 */
	assert_int_equal(numa__place(&t, (int[]){ 2, 1, 0 }, 3), 1);
	/* 2, 3 and 3, 0: node 3 (10+10+12+32) beats node 2 (12+12+10+32) */
	assert_int_equal(numa__place(&t, (int[]){ 2, 3, 3, 0 }, 4), 3);

	/* distance can beat the majority: node 1 is near both 0 and 2 */
	struct numa_topology ring = { .nodes = 0x7 };
	static const uint8_t d[3][3] = { { 10, 11, 40 }, { 11, 10, 11 }, { 40, 11, 10 } };
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++)
			ring.distance[a][b] = d[a][b];
	/* node 0: 10+40+40 = 90; node 1: 11+11+11 = 33; node 2: 40+10+10 = 60 */
	assert_int_equal(numa__place(&ring, (int[]){ 0, 2, 2 }, 3), 1);

	/* a user's node without memory (not in nodes): the nearest node that has it */
	struct numa_topology memless = two_sockets();
	memless.nodes = 0x5; /* 1 and 3 have no memory */
	assert_int_equal(numa__place(&memless, (int[]){ 1 }, 1), 0);
	assert_int_equal(numa__place(&memless, (int[]){ 3, 3, 0 }, 3), 2);
}

/* The host's own topology, and binding on it: the policy is what the kernel says. */
static void test_host_bind(void **state)
{
	(void)state;
	const struct numa_topology *t = numa__host();
	assert_non_null(t); /* Linux with NUMA support: at least node 0 */
	assert_true(t->nodes & 1);
	assert_int_equal(t->distance[0][0], NUMA_LOCAL_DISTANCE);
	char err[256];
	assert_int_equal(numa__check(t, 1, err, sizeof(err)), 0);
	assert_int_equal(numa__check(t, 1ull << 63, err, sizeof(err)), -1);

	size_t len = 4 * 4096;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(numa__bind_range(p + 4096, 2 * 4096, 1), 0);
	p[4096] = 1; /* touched after the bind: allocated on node 0 */
	int mode = -1;
	unsigned long nodes = 0;
	assert_int_equal(get_mempolicy(&mode, &nodes, NUMA_NODES_MAX + 1, p + 4096, MPOL_F_ADDR), 0);
	assert_int_equal(mode, MPOL_BIND);
	assert_int_equal(nodes, 1);
	assert_int_equal(get_mempolicy(&mode, &nodes, NUMA_NODES_MAX + 1, p, MPOL_F_ADDR), 0);
	assert_int_equal(mode, MPOL_DEFAULT); /* outside the range */
	int node = -1;
	assert_int_equal(get_mempolicy(&node, NULL, 0, p + 4096, MPOL_F_NODE | MPOL_F_ADDR), 0);
	assert_int_equal(node, 0);
	/* mask 0 puts the default back */
	assert_int_equal(numa__bind_range(p + 4096, 2 * 4096, 0), 0);
	assert_int_equal(get_mempolicy(&mode, &nodes, NUMA_NODES_MAX + 1, p + 4096, MPOL_F_ADDR), 0);
	assert_int_equal(mode, MPOL_DEFAULT);
	/* a node the host does not have: the kernel refuses */
	assert_int_not_equal(numa__bind_range(p, 4096, 1ull << 63), 0);

	/* a copy placed on node 0 lands there, and the thread's policy is default again */
	char src[4096];
	memset(src, 0x5a, sizeof(src));
	numa__copy_on(0, p + 3 * 4096, src, sizeof(src));
	assert_memory_equal(p + 3 * 4096, src, sizeof(src));
	assert_int_equal(get_mempolicy(&node, NULL, 0, p + 3 * 4096, MPOL_F_NODE | MPOL_F_ADDR), 0);
	assert_int_equal(node, 0);
	assert_int_equal(get_mempolicy(&mode, NULL, 0, NULL, 0), 0);
	assert_int_equal(mode, MPOL_DEFAULT);
	munmap(p, len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_format_home),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_place),
		cmocka_unit_test(test_host_bind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
