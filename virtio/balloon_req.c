/* SPDX-License-Identifier: MIT */
#include "virtio/balloon_req.h"

#include <endian.h>
#include <string.h>

static const char *const errors[BALLOON_ENR_ERRORS] = {
	[0] = "no error",
	[BALLOON_EWRITABLE] = "a balloon request has a device-writable buffer",
	[BALLOON_EPFN_LEN] = "an inflate/deflate buffer's length is not a multiple of 4",
	[BALLOON_ETOO_MANY] = "an inflate/deflate buffer has more PFNs than the device takes",
	[BALLOON_ESTATS_LEN] = "a stats buffer's length is not a multiple of 10",
	[BALLOON_ESTATS_MANY] = "a stats buffer has more entries than the device takes",
};

const char *balloon__strerror(int err)
{
	if (err > 0 || -err >= BALLOON_ENR_ERRORS)
		return "unknown balloon request error";
	return errors[-err];
}

static int check_readable_only(const struct virtq_chain *c)
{
	return c->writable ? -BALLOON_EWRITABLE : 0;
}

int balloon__parse_pfns(const struct virtq_chain *c, const struct virtq_mem *mem,
			struct balloon_pfns *out)
{
	out->nr_valid = out->nr_rejected = 0;
	int err = check_readable_only(c);
	if (err)
		return err;
	if (c->readable % sizeof(uint32_t))
		return -BALLOON_EPFN_LEN;
	size_t n = c->readable / sizeof(uint32_t);
	if (n > out->max)
		return -BALLOON_ETOO_MANY;
	/* One copy out of the guest, then parse and compact in place. */
	virtq__chain_read(c, 0, out->pfn, n * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		uint32_t pfn = le32toh(out->pfn[i]);
		uint64_t gpa = (uint64_t)pfn << BALLOON_PFN_SHIFT; /* < 2^44: no overflow */
		if (mem->gpa_ptr(mem->ctx, gpa, 1ull << BALLOON_PFN_SHIFT))
			out->pfn[out->nr_valid++] = pfn;
		else
			out->nr_rejected++;
	}
	return 0;
}

int balloon__parse_stats(const struct virtq_chain *c, struct balloon_stats *st)
{
	*st = (struct balloon_stats){ 0 };
	int err = check_readable_only(c);
	if (err)
		return err;
	if (c->readable % BALLOON_STAT_BYTES)
		return -BALLOON_ESTATS_LEN;
	size_t n = c->readable / BALLOON_STAT_BYTES;
	if (n > BALLOON_STATS_MAX)
		return -BALLOON_ESTATS_MANY;
	uint8_t buf[BALLOON_STATS_MAX * BALLOON_STAT_BYTES];
	virtq__chain_read(c, 0, buf, n * BALLOON_STAT_BYTES);
	for (size_t i = 0; i < n; i++) {
		uint16_t tag;
		uint64_t val;
		memcpy(&tag, buf + i * BALLOON_STAT_BYTES, sizeof(tag));
		memcpy(&val, buf + i * BALLOON_STAT_BYTES + sizeof(tag), sizeof(val));
		tag = le16toh(tag);
		if (tag >= BALLOON_S_NR) {
			st->nr_unknown++;
			continue;
		}
		st->val[tag] = le64toh(val);
		st->present |= 1u << tag;
	}
	return 0;
}
