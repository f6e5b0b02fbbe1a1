/* SPDX-License-Identifier: MIT */
/* Linux KSM driven through /sys/kernel/mm/ksm/ (ksm.h). */
#include "dedup/ksm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KSM_DIR "/sys/kernel/mm/ksm/"

static int ksm_read(const char *name, char *buf, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	bool ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int ksm_write(const char *name, const char *value)
{
	char path[128];
	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	int rc = fputs(value, f) < 0 ? -EIO : 0;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* KSM has every knob of ours but max_meta_bytes (its own memory is not capped).
 * merge_across_nodes is KSM's too, but KSM's own is left as it is: l1vmm's
 * VMs have no home node for KSM, which keeps pages by their physical node. */
static bool ksm_has(enum dedup_knob k)
{
	return k != DEDUP_MAX_META_BYTES && k != DEDUP_MERGE_ACROSS_NODES;
}

int dedup_ksm__push(struct dedup_ksm *ks, enum dedup_knob k, uint64_t value)
{
	if (!ks->active || !ksm_has(k))
		return 0;
	char v[32];
	snprintf(v, sizeof(v), "%llu", (unsigned long long)value);
	return ksm_write(dedup__knob_desc(k)->name, v);
}

/* utime + stime of process pid in ms if it is ksmd, else -1. */
static int64_t ksmd_cpu_of(const char *pid)
{
	char path[300], buf[512];
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *name = strchr(buf, '(');
	char *end = strrchr(buf, ')');
	unsigned long long utime, stime;
	/* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (!name || !end || strncmp(name, "(ksmd)", 6) != 0 ||
	    sscanf(end + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &utime, &stime) != 2)
		return -1;
	return (int64_t)((utime + stime) * 1000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* CPU time of ksmd (the kernel thread), milliseconds; 0 when not found. */
static uint64_t ksmd_cpu_ms(void)
{
	static char pid[256]; /* found once (callers serialise: dedup_ksm.h) */
	int64_t ms = pid[0] ? ksmd_cpu_of(pid) : -1;
	if (ms >= 0)
		return (uint64_t)ms;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) && ms < 0)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    (ms = ksmd_cpu_of(de->d_name)) >= 0)
			snprintf(pid, sizeof(pid), "%s", de->d_name);
	closedir(d);
	return ms >= 0 ? (uint64_t)ms : 0;
}

/* ---- the state file: KSM's values while l1vmm drives it ---- */

static void state_path(char *buf, size_t len)
{
	const char *dir = getenv("L1VMM_RUN_DIR");
	snprintf(buf, len, "%s/ksm-saved", dir && *dir ? dir : DEDUP_KSM_STATE_DIR);
}

/* Put back the knobs in saved[] (run last: KSM resumes with its own budget). */
static void restore_knobs(char saved[DEDUP_NR_KNOBS][32])
{
	ksm_write("run", "0");
	for (unsigned k = 0; k < DEDUP_NR_KNOBS; k++)
		if (ksm_has(k) && k != DEDUP_RUN && saved[k][0])
			ksm_write(dedup__knob_desc(k)->name, saved[k]);
	if (saved[DEDUP_RUN][0])
		ksm_write("run", saved[DEDUP_RUN]);
}

/* Parse "NAME VALUE" lines of a state file into saved[]; how many knobs. */
static unsigned parse_state(int fd, char saved[DEDUP_NR_KNOBS][32])
{
	char text[1024];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	unsigned found = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char name[64], value[32];
		if (sscanf(line, "%63s %31s", name, value) != 2)
			continue;
		for (unsigned k = 0; k < DEDUP_NR_KNOBS; k++)
			if (ksm_has(k) && strcmp(name, dedup__knob_desc(k)->name) == 0 &&
			    value[strspn(value, "0123456789")] == '\0') {
				snprintf(saved[k], sizeof(saved[k]), "%s", value);
				found++;
			}
	}
	return found;
}

/* fd is the state file, locked by us: if it holds a dead l1vmm's values, put them back. */
static bool recover_locked(int fd)
{
	char saved[DEDUP_NR_KNOBS][32] = { { 0 } };
	if (parse_state(fd, saved) == 0)
		return false;
	restore_knobs(saved);
	return true;
}

int dedup_ksm__recover(char *err, size_t errlen)
{
	char path[256];
	state_path(path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "KSM settings left changed by a killed l1vmm are saved in %s, "
			 "which cannot be opened (%s): run l1vmm as root once to restore them",
			 path, strerror(errno));
		return -1;
	}
	int rc = 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) { /* else a live l1vmm drives KSM */
		rc = recover_locked(fd) ? 1 : 0;
		unlink(path);
	}
	close(fd);
	return rc;
}

/* Create and lock the state file, recovering a dead l1vmm's values first. */
static int open_state(struct dedup_ksm *ks, char *err, size_t errlen)
{
	state_path(ks->state_path, sizeof(ks->state_path));
	char dir[256];
	snprintf(dir, sizeof(dir), "%s", ks->state_path);
	*strrchr(dir, '/') = '\0';
	/* searchable by all: another user's l1vmm then tells "no file" (ENOENT)
	 * from "a file it may not read" (EACCES, the file is 0600) */
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "dedup/backend=ksm: cannot create %s for KSM's saved "
			 "settings: %s", dir, strerror(errno));
		return -1;
	}
	ks->state_fd = open(ks->state_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (ks->state_fd < 0) {
		snprintf(err, errlen, "dedup/backend=ksm: cannot open %s: %s", ks->state_path,
			 strerror(errno));
		return -1;
	}
	if (flock(ks->state_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "dedup/backend=ksm: another l1vmm drives KSM (it holds %s); "
			 "one l1vmm per host can use backend=ksm", ks->state_path);
		close(ks->state_fd);
		ks->state_fd = -1;
		return -1;
	}
	recover_locked(ks->state_fd);
	return 0;
}

static int write_state(struct dedup_ksm *ks, char *err, size_t errlen)
{
	char text[1024];
	size_t len = 0;
	for (unsigned k = 0; k < DEDUP_NR_KNOBS; k++)
		if (ksm_has(k))
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s %s\n",
						dedup__knob_desc(k)->name, ks->saved[k]);
	if (ftruncate(ks->state_fd, 0) < 0 || pwrite(ks->state_fd, text, len, 0) != (ssize_t)len ||
	    fsync(ks->state_fd) < 0) {
		snprintf(err, errlen, "dedup/backend=ksm: cannot write %s: %s", ks->state_path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static void close_state(struct dedup_ksm *ks)
{
	if (ks->state_fd < 0)
		return;
	unlink(ks->state_path);
	close(ks->state_fd);
	ks->state_fd = -1;
}

/* Save KSM's knobs and write ours; -1 with a reason when KSM cannot be driven. */
int dedup_ksm__start(struct dedup_ksm *ks, const uint64_t knob[DEDUP_NR_KNOBS], char *err,
		     size_t errlen)
{
	ks->state_fd = -1;
	/* before the state file (under /run, root's too): say what is missing */
	if (access(KSM_DIR "run", W_OK) < 0) {
		int e = errno;
		snprintf(err, errlen, "dedup/backend=ksm: cannot write " KSM_DIR "run: %s%s",
			 strerror(e), e == EACCES || e == EPERM || e == EROFS ? " (KSM needs root)" : "");
		return -1;
	}
	if (open_state(ks, err, errlen) < 0)
		return -1;
	for (unsigned k = 0; k < DEDUP_NR_KNOBS; k++) {
		if (!ksm_has(k))
			continue;
		int rc = ksm_read(dedup__knob_desc(k)->name, ks->saved[k], sizeof(ks->saved[k]));
		if (rc < 0) {
			snprintf(err, errlen, "dedup/backend=ksm: cannot read " KSM_DIR "%s: %s",
				 dedup__knob_desc(k)->name, strerror(-rc));
			close_state(ks);
			return -1;
		}
	}
	if (write_state(ks, err, errlen) < 0) {
		close_state(ks);
		return -1;
	}
	ks->active = true;
	ks->cpu_base_ms = ksmd_cpu_ms();
	/* run last, so KSM starts with our budget; max_page_sharing is refused by
	 * KSM while it shares pages: an older value stays, and is reported */
	static const enum dedup_knob order[] = { DEDUP_PAGES_TO_SCAN, DEDUP_SLEEP_MILLISECS,
						 DEDUP_USE_ZERO_PAGES, DEDUP_MAX_PAGE_SHARING,
						 DEDUP_RUN };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int rc = dedup_ksm__push(ks, order[i], knob[order[i]]);
		if (rc < 0 && !(order[i] == DEDUP_MAX_PAGE_SHARING && rc == -EBUSY)) {
			snprintf(err, errlen, "dedup/backend=ksm: cannot write " KSM_DIR "%s: %s%s",
				 dedup__knob_desc(order[i])->name, strerror(-rc),
				 rc == -EACCES || rc == -EPERM || rc == -EROFS ? " (KSM needs root)" : "");
			return -1;
		}
	}
	return 0;
}

void dedup_ksm__stop(struct dedup_ksm *ks)
{
	if (!__atomic_exchange_n(&ks->active, false, __ATOMIC_ACQ_REL))
		return;
	restore_knobs(ks->saved);
	close_state(ks);
}

static uint64_t ksm_stat(const char *name)
{
	char buf[32];
	return ksm_read(name, buf, sizeof(buf)) == 0 ? strtoull(buf, NULL, 10) : 0;
}

void dedup_ksm__stats(const struct dedup_ksm *ks, struct dedup_stats *s)
{
	uint64_t cpu = ksmd_cpu_ms();
	*s = (struct dedup_stats){
		.pages_shared = ksm_stat("pages_shared"),
		.pages_sharing = ksm_stat("pages_sharing"),
		.pages_unshared = ksm_stat("pages_unshared"),
		.pages_volatile = ksm_stat("pages_volatile"),
		.full_scans = ksm_stat("full_scans"),
		.zero_pages = ksm_stat("ksm_zero_pages"),
		.general_profit = (int64_t)ksm_stat("general_profit"),
		.scan_cpu_ms = cpu > ks->cpu_base_ms ? cpu - ks->cpu_base_ms : 0,
		.pages_scanned = ksm_stat("pages_scanned"),
	};
}
