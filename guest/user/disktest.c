// SPDX-License-Identifier: MIT
/*
 * DOC: workload=disktest [sector=0] [count=8] [seed=1]: known bytes on the
 * virtio-blk disk, for a host that checks its backing file afterwards.
 *
 * Writes count sectors (512 bytes, at most 2048) from sector on: word w
 * (0..63) of sector s is hotcold__mix(seed ^ (s << 6 | w)) (lib/hotcold.h),
 * little-endian. Then flushes (SYS_DISK_IO), reads the sectors back into a
 * zeroed buffer and compares. Output:
 *
 *   disktest: sector=S count=N seed=X written=BYTES mismatches=M
 *
 * PASS (exit 0) when every request succeeded and nothing mismatched.
 */
#include "lib/hotcold.h"
#include "lib/string.h"
#include "user/user.h"
#include "user/workload.h"

static const char *const disktest_keys[] = { "sector", "count", "seed", NULL };

static int64_t disk_io(uint64_t op, uint64_t sector, void *buf, uint64_t len)
{
	return sys__call(SYS_DISK_IO, op, sector, (uint64_t)buf, len);
}

static enum workload_result disktest_run(const struct args *a, struct result *r)
{
	uint64_t sector, count, seed, *buf, bad = 0;
	int64_t addr, rc;

	if (args__u64(a, "sector", 0, 0, UINT64_MAX >> 10, &sector) ||
	    args__u64(a, "count", 8, 1, 2048, &count) ||
	    args__u64(a, "seed", 1, 0, UINT64_MAX, &seed))
		return W_BADARG;
	addr = sys__mem_alloc(count * 512);
	if (addr < 0)
		return result__fail(r, "no memory for the buffer (%ld)", addr);
	buf = (uint64_t *)addr;
	for (uint64_t i = 0; i < count * 64; i++)
		buf[i] = hotcold__mix(seed ^ ((sector + i / 64) << 6 | (i % 64)));
	rc = disk_io(1, sector, buf, count * 512);
	if (rc == 0)
		rc = disk_io(2, 0, buf, 0);
	if (rc < 0)
		return result__fail(r, "writing the disk failed (%ld)", rc);
	memset(buf, 0, count * 512);
	rc = disk_io(0, sector, buf, count * 512);
	if (rc < 0)
		return result__fail(r, "reading the disk back failed (%ld)", rc);
	for (uint64_t i = 0; i < count * 64; i++)
		bad += buf[i] != hotcold__mix(seed ^ ((sector + i / 64) << 6 | (i % 64)));
	printf("disktest: sector=%lu count=%lu seed=%lu written=%lu mismatches=%lu\n", sector,
	       count, seed, count * 512, bad);
	sys__mem_free((uint64_t)addr);
	return bad ? result__fail(r, "%lu words read back wrong", bad) : W_PASS;
}

const struct workload workload__disktest = {
	.name = "disktest", .keys = disktest_keys, .run = disktest_run,
};
