/* SPDX-License-Identifier: MIT */
/*
 * DOC: host/ and log_level: the host's memory as l1vmm sees it.
 *
 * The host readings come from procfs on every read (nothing is cached, so
 * a read is as fresh as /proc): /proc/meminfo for total and available
 * memory, /proc/pressure/memory for PSI (the avg10 of "some" and "full";
 * "unavailable" on kernels without PSI), /proc/self/statm for l1vmm's own
 * resident memory. nr_vms counts the vms/NAME/ directories.
 *
 * Locking: the log level and the VM count are single atomics; nothing else
 * here has state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "l1vmm/ctl.h"

static int log_level = LOG_INFO; /* atomic */
static int nr_vms;               /* atomic */

enum log_level host_ctl__log_level(void)
{
	return (enum log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void host_ctl__set_log_level(enum log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

void host_ctl__count_vm(int delta)
{
	__atomic_add_fetch(&nr_vms, delta, __ATOMIC_RELAXED);
}

/* The first line of path starting with key, copied into line. */
static bool find_line(const char *path, const char *key, char *line, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool found = false;
	while (!found && fgets(line, (int)len, f))
		found = strncmp(line, key, strlen(key)) == 0;
	fclose(f);
	return found;
}

enum host_reading { H_MEM_TOTAL, H_MEM_AVAILABLE, H_PSI_SOME, H_PSI_FULL, H_RSS, H_NR_VMS };

static int show_meminfo(const char *key, char *buf, size_t len)
{
	char line[256];
	unsigned long long kib;
	if (!find_line("/proc/meminfo", key, line, sizeof(line)) ||
	    sscanf(line + strlen(key), " %llu kB", &kib) != 1)
		return -EIO;
	snprintf(buf, len, "%llu", kib * 1024);
	return 0;
}

static void show_psi(const char *key, char *buf, size_t len)
{
	char line[256];
	double avg10;
	if (find_line("/proc/pressure/memory", key, line, sizeof(line)) &&
	    sscanf(line + strlen(key), " avg10=%lf", &avg10) == 1)
		snprintf(buf, len, "%.2f", avg10);
	else
		snprintf(buf, len, "unavailable");
}

static int show_rss(char *buf, size_t len)
{
	unsigned long long size, resident;
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return -EIO;
	int n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	if (n != 2)
		return -EIO;
	snprintf(buf, len, "%llu", resident * (unsigned long long)sysconf(_SC_PAGESIZE));
	return 0;
}

static int show_host(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	(void)obj;
	switch (e->arg) {
	case H_MEM_TOTAL:
		return show_meminfo("MemTotal:", buf, len);
	case H_MEM_AVAILABLE:
		return show_meminfo("MemAvailable:", buf, len);
	case H_PSI_SOME:
		show_psi("some", buf, len);
		return 0;
	case H_PSI_FULL:
		show_psi("full", buf, len);
		return 0;
	case H_RSS:
		return show_rss(buf, len);
	case H_NR_VMS:
		snprintf(buf, len, "%d", __atomic_load_n(&nr_vms, __ATOMIC_RELAXED));
		return 0;
	}
	return -EIO;
}

static const char *const level_names[] = { "error", "warn", "info", "debug", NULL };
_Static_assert(LOG_ERROR == 0 && LOG_DEBUG == 3, "level_names is indexed by enum log_level");

static int show_log_level(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	(void)obj, (void)e;
	snprintf(buf, len, "%s", level_names[host_ctl__log_level()]);
	return 0;
}

static int store_log_level(void *obj, const struct ctl_entry *e, const union ctl_value *v)
{
	(void)obj, (void)e;
	host_ctl__set_log_level((enum log_level)v->choice);
	return 0;
}

static const struct ctl_entry host_entries[] = {
	{ .path = "host/mem_total", .type = CTL_SIZE, .arg = H_MEM_TOTAL, .show = show_host,
	  .doc = "host RAM in bytes (MemTotal)" },
	{ .path = "host/mem_available", .type = CTL_SIZE, .arg = H_MEM_AVAILABLE,
	  .show = show_host, .doc = "host RAM available without swapping, bytes (MemAvailable)" },
	{ .path = "host/pressure/some_avg10", .type = CTL_TEXT, .arg = H_PSI_SOME,
	  .show = show_host, .doc = "% of the last 10 s some task stalled on memory (PSI)" },
	{ .path = "host/pressure/full_avg10", .type = CTL_TEXT, .arg = H_PSI_FULL,
	  .show = show_host, .doc = "% of the last 10 s all tasks stalled on memory (PSI)" },
	{ .path = "host/l1vmm_rss", .type = CTL_SIZE, .arg = H_RSS, .show = show_host,
	  .doc = "l1vmm's own resident memory, bytes (guest RAM included)" },
	{ .path = "host/nr_vms", .type = CTL_INT, .arg = H_NR_VMS, .show = show_host,
	  .doc = "VMs in vms/" },
	{ .path = "log_level", .type = CTL_ENUM, .flags = CTL_WRITABLE | CTL_CONFIG,
	  .choices = level_names, .show = show_log_level, .store = store_log_level,
	  .doc = "messages l1vmm prints to stderr" },
};

static const struct ctl_table host_table = CTL_TABLE(host_entries, NULL);

/* vms/ exists (empty) before the first VM, so a tree always has the same top level. */
static const struct ctl_table vms_dir = { .entries = NULL, .nr_entries = 0 };

int host_ctl__register(struct ctl_tree *t)
{
	int rc = ctl__register(t, "vms", &vms_dir, NULL);
	return rc ? rc : ctl__register(t, "", &host_table, NULL);
}

/* ---- reading the host (/proc) ---- */

uint64_t host__proc_kb(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	uint64_t v = 0;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtoull(line + n + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v * 1024;
}

double host__psi_some_avg10(void)
{
	FILE *f = fopen("/proc/pressure/memory", "r");
	double v = -1;
	if (f) {
		if (fscanf(f, "some avg10=%lf", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

uint64_t host__resident_bytes(const void *hva, uint64_t size)
{
	enum { CHUNK_PAGES = 4096, PAGE = 4096 };
	static _Thread_local unsigned char vec[CHUNK_PAGES];
	uint64_t pages = 0;
	for (uint64_t off = 0; off < size; off += (uint64_t)CHUNK_PAGES * PAGE) {
		uint64_t n = size - off < (uint64_t)CHUNK_PAGES * PAGE ? size - off
								: (uint64_t)CHUNK_PAGES * PAGE;
		if (mincore((uint8_t *)hva + off, n, vec) < 0)
			continue;
		for (uint64_t i = 0; i < (n + PAGE - 1) / PAGE; i++)
			pages += vec[i] & 1;
	}
	return pages * PAGE;
}
