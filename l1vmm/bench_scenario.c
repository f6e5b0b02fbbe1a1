/* SPDX-License-Identifier: MIT */
/*
 * DOC: the scenario parser of `l1vmm bench` (bench.h).
 *
 * A scenario is lines of `key = value`; '#' starts a comment. Keys:
 *
 *   name, description   shown in the table's header
 *   duration = SECONDS  the guests' measured phase (their seconds=), 1..3600
 *   repeat = N          runs of each contender, 1..10 (the table takes medians)
 *   sample = SECONDS    the sampling interval, 0.1..10 (default 0.5)
 *   contenders = NAME.. none sharing balloon reclaim all ksm, run in that order
 *   host_limit = SIZE   the host memory the guests may have (balloon/ and
 *   overcommit = RATIO  reclaim/host_limit_mb), or their RAM over RATIO
 *   set = PATH=VALUE    a tree write for every run (repeatable)
 *   guest = NAME [count=N] mem=SIZE [vcpus=N] [mode=M] [domain=D] [disk=SIZE] workload=W KEY=VALUE..
 *
 * The whole file is checked before anything runs: a workload's keys are its
 * own (guest/user/W.c), what it touches must fit in its RAM, the guests' RAM in
 * the host's MemAvailable, and a contender that needs the host limit has one.
 * apf is not among the workloads: the guest kernel has no such workload yet.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "l1vmm/bench.h"
#include "l1vmm/parse.h"

#define MIB (1024ull * 1024)
#define KERNEL_RESERVE (4 * MIB) /* what a guest's kernel keeps for itself, at least */
#define SWAPSTORM_MAX (256 * MIB)

const char *const bench__contender_names[BENCH_NR_CONTENDERS] = {
	[BENCH_NONE] = "none", [BENCH_SHARING] = "sharing", [BENCH_BALLOON] = "balloon",
	[BENCH_RECLAIM] = "reclaim", [BENCH_ALL] = "all", [BENCH_KSM] = "ksm",
};

/* The workloads bench can run, their keys (guest/user/W.c) and which are sizes. */
struct workload_desc {
	const char *name;
	const char *keys[10];
	const char *sizes[4];
	bool timed; /* takes seconds= */
	bool has_vm;
};

static const struct workload_desc workloads[] = {
	{ "dup", { "size", "shared", "internal", "zero", "mutate", "mutate_from", "seconds", "seed",
		   "vm" }, { "size" }, true, true },
	{ "churn", { "peak", "hold", "seconds", "seed", "touch_balloon", "grow", "grow_after" },
	  { "peak", "hold", "grow" }, true, false },
	{ "hotcold", { "size", "hot", "seconds", "seed", "vm", "full" }, { "size", "hot" }, true, true },
	{ "swapstorm", { "size", "seconds", "seed", "pause_ms" }, { "size" }, true, false },
	{ "memtouch", { "size", "seed", "passes", "tasks" }, { "size" }, false, false },
	{ "compute", { "iterations", "seconds", "calls" }, { NULL }, true, false },
	/* apf= is the guest kernel's switch for pseudo page faults, passed along */
	{ "apf", { "size", "seconds", "settle", "alone", "apf" }, { "size" }, true, false },
};
#define NR_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

struct parser {
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static bool fail(struct parser *p, const char *fmt, ...)
{
	int n = snprintf(p->err, p->errlen, "%s:%u: ", p->file, p->line);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static bool in_list(const char *const *list, size_t max, const char *word)
{
	for (size_t i = 0; i < max && list[i]; i++)
		if (!strcmp(list[i], word))
			return true;
	return false;
}

static bool parse_number(const char *v, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *end || !(d >= lo && d <= hi))
		return false;
	*out = d;
	return true;
}

static bool parse_contenders(struct parser *p, char *v, struct bench_scenario *s)
{
	s->nr_contenders = 0;
	for (char *save, *w = strtok_r(v, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		unsigned c = 0;
		while (c < BENCH_NR_CONTENDERS && strcmp(bench__contender_names[c], w))
			c++;
		if (c == BENCH_NR_CONTENDERS)
			return fail(p, "unknown contender '%s' (none, sharing, balloon, reclaim, all, ksm)", w);
		for (unsigned i = 0; i < s->nr_contenders; i++)
			if (s->contender[i] == c)
				return fail(p, "contender '%s' given twice", w);
		s->contender[s->nr_contenders++] = c;
	}
	if (!s->nr_contenders)
		return fail(p, "contenders: name at least one (none, sharing, balloon, reclaim, all, ksm)");
	return true;
}

static bool parse_set(struct parser *p, const char *v, struct bench_scenario *s)
{
	const char *eq = strchr(v, '=');
	size_t plen = eq ? (size_t)(eq - v) : 0;
	if (!eq || !plen || v[0] == '/' || strstr(v, "..") ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_/.-") != plen)
		return fail(p, "set: expected PATH=VALUE with a tree path, e.g. dedup/pages_to_scan=2000");
	if (s->nr_sets == BENCH_MAX_SETS)
		return fail(p, "set: at most %u", BENCH_MAX_SETS);
	if (strlen(v) >= sizeof(s->set[0]))
		return fail(p, "set: longer than %zu characters", sizeof(s->set[0]) - 1);
	snprintf(s->set[s->nr_sets++], sizeof(s->set[0]), "%s", v);
	return true;
}

static bool append_arg(struct parser *p, struct bench_group *g, const char *key, const char *val)
{
	size_t n = strlen(g->args);
	int w = snprintf(g->args + n, sizeof(g->args) - n, "%s%s=%s", n ? " " : "", key, val);
	if (w < 0 || (size_t)w >= sizeof(g->args) - n)
		return fail(p, "guest %s: its workload's words are longer than %zu characters", g->name,
			    sizeof(g->args) - 1);
	return true;
}

/* One key=value word of a guest line. */
static bool guest_word(struct parser *p, struct bench_group *g, const struct workload_desc **wl,
		       uint64_t size_of[4], char *word)
{
	char *eq = strchr(word, '=');
	if (!eq || eq == word || !eq[1])
		return fail(p, "guest %s: expected key=value at '%s'", g->name, word);
	*eq = '\0';
	const char *key = word, *val = eq + 1;
	uint64_t n;
	if (!strcmp(key, "count")) {
		if (!parse__u64(val, &n) || n < 1 || n > BENCH_MAX_VMS)
			return fail(p, "guest %s: count=%s: 1 to %u", g->name, val, BENCH_MAX_VMS);
		g->count = (unsigned)n;
	} else if (!strcmp(key, "vcpus")) {
		if (!parse__u64(val, &n) || n < 1 || n > 8)
			return fail(p, "guest %s: vcpus=%s: 1 to 8", g->name, val);
		g->vcpus = (unsigned)n;
	} else if (!strcmp(key, "mem")) {
		if (!parse__size(val, &n) || n < 2 * MIB || n > (64ull << 30) || n % 4096)
			return fail(p, "guest %s: mem=%s: 2M to 64G, a 4K multiple", g->name, val);
		g->mem = n;
	} else if (!strcmp(key, "mode")) {
		if (strcmp(val, "auto") && strcmp(val, "ept") && strcmp(val, "shadow"))
			return fail(p, "guest %s: mode=%s: auto, ept or shadow", g->name, val);
		snprintf(g->mode, sizeof(g->mode), "%s", val);
	} else if (!strcmp(key, "domain")) {
		/* page sharing merges only VMs of one domain (README: Sharing domains) */
		if (strlen(val) >= sizeof(g->domain) ||
		    strspn(val, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(val))
			return fail(p, "guest %s: domain=%s: 1 to %zu of a-z, 0-9, '-', '_'", g->name,
				    val, sizeof(g->domain) - 1);
		snprintf(g->domain, sizeof(g->domain), "%s", val);
	} else if (!strcmp(key, "disk")) {
		if (!parse__size(val, &n) || n < MIB || n > (64ull << 30) || n % 512)
			return fail(p, "guest %s: disk=%s: 1M to 64G, a 512-byte multiple", g->name, val);
		g->disk_size = n;
	} else if (!strcmp(key, "workload")) {
		if (*wl)
			return fail(p, "guest %s: workload given twice", g->name);
		for (size_t i = 0; i < NR_WORKLOADS; i++)
			if (!strcmp(workloads[i].name, val))
				*wl = &workloads[i];
		if (!*wl)
			return fail(p, "guest %s: unknown workload '%s' (bench runs dup, churn, hotcold, "
				    "swapstorm, memtouch, compute, apf)", g->name, val);
		snprintf(g->workload, sizeof(g->workload), "%s", val);
	} else if (!strcmp(key, "balloon")) {
		if (strcmp(val, "pv") && strcmp(val, "virtio"))
			return fail(p, "guest %s: balloon=%s: pv or virtio", g->name, val);
		g->has_balloon = true;
		return append_arg(p, g, key, val);
	} else {
		if (!*wl)
			return fail(p, "guest %s: workload= must come before the workload's own '%s'",
				    g->name, key);
		if (!in_list((*wl)->keys, 10, key))
			return fail(p, "guest %s: workload=%s takes no '%s'", g->name, (*wl)->name, key);
		for (unsigned i = 0; i < 4 && (*wl)->sizes[i]; i++)
			if (!strcmp((*wl)->sizes[i], key)) {
				if (!parse__size(val, &size_of[i]))
					return fail(p, "guest %s: %s=%s is not a size", g->name, key, val);
				return append_arg(p, g, key, val);
			}
		if (!parse__u64(val, &n))
			return fail(p, "guest %s: %s=%s is not a number", g->name, key, val);
		g->has_seconds |= !strcmp(key, "seconds");
		g->has_vm |= !strcmp(key, "vm");
		return append_arg(p, g, key, val);
	}
	return true;
}

/* What the workload touches in its guest's memory, checked against mem. */
static bool check_sizes(struct parser *p, const struct bench_group *g, const struct workload_desc *wl,
			const uint64_t size_of[4])
{
	uint64_t touch = 0;
	if (!strcmp(wl->name, "churn")) {
		touch = size_of[0] + size_of[2];
		if (!size_of[0])
			return fail(p, "guest %s: workload=churn needs peak=SIZE", g->name);
		if (size_of[1] > size_of[0])
			return fail(p, "guest %s: hold=%lluM is more than peak=%lluM", g->name,
				    (unsigned long long)(size_of[1] / MIB), (unsigned long long)(size_of[0] / MIB));
	} else if (strcmp(wl->name, "compute")) {
		touch = size_of[0];
		if (!touch)
			return fail(p, "guest %s: workload=%s needs size=SIZE", g->name, wl->name);
	}
	if (!strcmp(wl->name, "hotcold") && size_of[1] > size_of[0])
		return fail(p, "guest %s: hot=%lluM is more than size=%lluM", g->name,
			    (unsigned long long)(size_of[1] / MIB), (unsigned long long)(size_of[0] / MIB));
	if (!strcmp(wl->name, "swapstorm")) {
		/* larger than the guest's memory on purpose: it pages to its disk */
		if (touch > SWAPSTORM_MAX)
			return fail(p, "guest %s: swapstorm size is at most 256M", g->name);
		if (g->disk_size < touch + MIB)
			return fail(p, "guest %s: swapstorm pages to its disk: disk=SIZE of at least "
				    "size + 1M (%lluM)", g->name, (unsigned long long)(touch / MIB + 1));
		return true;
	}
	if (touch + KERNEL_RESERVE > g->mem)
		return fail(p, "guest %s: the workload touches %lluM but mem=%lluM (the kernel keeps "
			    "4M): impossible", g->name, (unsigned long long)(touch / MIB),
			    (unsigned long long)(g->mem / MIB));
	return true;
}

static bool name_taken(const struct bench_scenario *s, const char *name)
{
	for (unsigned i = 0; i < s->nr_groups; i++)
		if (!strcmp(s->group[i].name, name))
			return true;
	return false;
}

static bool parse_guest(struct parser *p, char *v, struct bench_scenario *s, uint64_t host_avail_mb)
{
	if (s->nr_groups == BENCH_MAX_GROUPS)
		return fail(p, "guest: at most %u guest lines", BENCH_MAX_GROUPS);
	char *save, *name = strtok_r(v, " \t", &save);
	if (!name || !islower((unsigned char)name[0]) || strlen(name) > 16 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz") != strlen(name))
		return fail(p, "guest: expected a name of 1 to 16 letters a-z first, then key=value words");
	if (name_taken(s, name))
		return fail(p, "guest %s: the name of another guest line", name);
	struct bench_group *g = &s->group[s->nr_groups];
	*g = (struct bench_group){ .count = 1, .vcpus = 1, .mode = "auto", .line = p->line };
	snprintf(g->name, sizeof(g->name), "%s", name);
	const struct workload_desc *wl = NULL;
	uint64_t size_of[4] = { 0 };
	for (char *w = strtok_r(NULL, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (!guest_word(p, g, &wl, size_of, w))
			return false;
	if (!g->mem)
		return fail(p, "guest %s: mem=SIZE is required", g->name);
	if (!wl)
		return fail(p, "guest %s: workload=NAME is required", g->name);
	if (g->disk_size && strcmp(wl->name, "swapstorm"))
		return fail(p, "guest %s: disk= is for workload=swapstorm (its swap=virtio)", g->name);
	if (!check_sizes(p, g, wl, size_of))
		return false;
	if (s->nr_vms + g->count > BENCH_MAX_VMS)
		return fail(p, "guest %s: more than %u VMs in all", g->name, BENCH_MAX_VMS);
	s->nr_vms += g->count;
	s->guest_mem += g->mem * g->count;
	if (s->guest_mem / MIB > host_avail_mb)
		return fail(p, "the guests' RAM (%lluM so far) is more than the host can hold "
			    "(MemAvailable %lluM): the 'none' run gives every guest all of it",
			    (unsigned long long)(s->guest_mem / MIB), (unsigned long long)host_avail_mb);
	s->nr_groups++;
	return true;
}

static bool parse_line(struct parser *p, char *key, char *v, struct bench_scenario *s,
		       uint64_t host_avail_mb, double *overcommit, unsigned *limit_line)
{
	double d;
	uint64_t n;
	if (!strcmp(key, "name") || !strcmp(key, "description")) {
		char *dst = key[0] == 'n' ? s->name : s->description;
		size_t max = key[0] == 'n' ? sizeof(s->name) : sizeof(s->description);
		if (strlen(v) >= max)
			return fail(p, "%s: longer than %zu characters", key, max - 1);
		snprintf(dst, max, "%s", v);
	} else if (!strcmp(key, "duration")) {
		if (!parse_number(v, 1, 3600, &d))
			return fail(p, "duration=%s: seconds, 1 to 3600", v);
		s->duration = d;
	} else if (!strcmp(key, "repeat")) {
		if (!parse__u64(v, &n) || n < 1 || n > BENCH_MAX_REPEAT)
			return fail(p, "repeat=%s: 1 to %u", v, BENCH_MAX_REPEAT);
		s->repeat = (unsigned)n;
	} else if (!strcmp(key, "sample")) {
		if (!parse_number(v, 0.1, 10, &d))
			return fail(p, "sample=%s: seconds, 0.1 to 10", v);
		s->sample_s = d;
	} else if (!strcmp(key, "contenders")) {
		return parse_contenders(p, v, s);
	} else if (!strcmp(key, "host_limit") || !strcmp(key, "overcommit")) {
		if (*limit_line)
			return fail(p, "%s: the host limit was already given on line %u", key, *limit_line);
		*limit_line = p->line;
		if (key[0] == 'h') {
			if (!parse__size(v, &n) || n < 16 * MIB)
				return fail(p, "host_limit=%s: a size of at least 16M", v);
			s->host_limit_mb = n / MIB;
		} else if (!parse_number(v, 1.01, 100, overcommit)) {
			return fail(p, "overcommit=%s: the guests' RAM over the host limit, 1.01 to 100", v);
		}
	} else if (!strcmp(key, "set")) {
		return parse_set(p, v, s);
	} else if (!strcmp(key, "guest")) {
		return parse_guest(p, v, s, host_avail_mb);
	} else {
		return fail(p, "unknown key '%s' (name, description, duration, repeat, sample, contenders, "
			    "host_limit, overcommit, set, guest)", key);
	}
	return true;
}

bool bench__parse(const char *file, const char *text, uint64_t host_avail_mb,
		  struct bench_scenario *s, char *err, size_t errlen)
{
	struct parser p = { .file = file, .err = err, .errlen = errlen };
	*s = (struct bench_scenario){ .duration = 20, .repeat = 1, .sample_s = 0.5 };
	snprintf(s->file, sizeof(s->file), "%s", file);
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	snprintf(s->name, sizeof(s->name), "%.*s", (int)strcspn(base, "."), base);
	double overcommit = 0;
	unsigned limit_line = 0, contenders_line = 0;
	char line[1024];
	for (const char *t = text; *t; ) {
		size_t n = strcspn(t, "\n");
		p.line++;
		if (n >= sizeof(line))
			return fail(&p, "line longer than %zu characters", sizeof(line) - 1);
		memcpy(line, t, n);
		line[n] = '\0';
		t += n + (t[n] == '\n');
		line[strcspn(line, "#")] = '\0';
		char *l = trim(line);
		if (!*l)
			continue;
		char *eq = strchr(l, '=');
		if (!eq)
			return fail(&p, "expected key = value");
		*eq = '\0';
		char *key = trim(l), *v = trim(eq + 1);
		if (!*v)
			return fail(&p, "%s: no value", key);
		if (!strcmp(key, "contenders"))
			contenders_line = p.line;
		if (!parse_line(&p, key, v, s, host_avail_mb, &overcommit, &limit_line))
			return false;
	}
	p.line = p.line ? p.line : 1;
	if (!s->nr_groups)
		return fail(&p, "no guest: add a line guest = NAME mem=SIZE workload=W ...");
	if (!contenders_line)
		return fail(&p, "no contenders line: e.g. contenders = none sharing");
	if (overcommit > 0)
		s->host_limit_mb = (uint64_t)((double)(s->guest_mem / MIB) / overcommit);
	p.line = limit_line;
	if (limit_line && s->host_limit_mb >= s->guest_mem / MIB)
		return fail(&p, "the host limit (%lluM) is not below the guests' RAM (%lluM): nothing "
			    "to take back", (unsigned long long)s->host_limit_mb,
			    (unsigned long long)(s->guest_mem / MIB));
	p.line = contenders_line;
	for (unsigned i = 0; i < s->nr_contenders; i++) {
		enum bench_contender c = s->contender[i];
		if ((c == BENCH_BALLOON || c == BENCH_RECLAIM || c == BENCH_ALL) && !s->host_limit_mb)
			return fail(&p, "contender '%s' needs a host limit: add host_limit = SIZE or "
				    "overcommit = RATIO", bench__contender_names[c]);
	}
	return true;
}

bool bench__parse_file(const char *file, uint64_t host_avail_mb, struct bench_scenario *s,
		       char *err, size_t errlen)
{
	static char text[64 * 1024 + 1];
	int fd = parse__open_regular(file, O_RDONLY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
		return false;
	}
	size_t got = 0;
	ssize_t r;
	while (got < sizeof(text) - 1 && (r = read(fd, text + got, sizeof(text) - 1 - got)) > 0)
		got += (size_t)r;
	close(fd);
	if (got == sizeof(text) - 1) {
		snprintf(err, errlen, "%s: larger than 64 KiB: not a scenario", file);
		return false;
	}
	text[got] = '\0';
	if (strlen(text) != got) {
		snprintf(err, errlen, "%s: holds a NUL byte: not a scenario", file);
		return false;
	}
	return bench__parse(file, text, host_avail_mb, s, err, errlen);
}

static bool wants_balloon(const struct bench_scenario *s)
{
	for (unsigned i = 0; i < s->nr_contenders; i++)
		if (s->contender[i] == BENCH_BALLOON || s->contender[i] == BENCH_ALL)
			return true;
	return false;
}

void bench__cmdline(const struct bench_scenario *s, const struct bench_group *g, unsigned index,
		    char *out, size_t len)
{
	const struct workload_desc *wl = NULL;
	for (size_t i = 0; i < NR_WORKLOADS; i++)
		if (!strcmp(workloads[i].name, g->workload))
			wl = &workloads[i];
	int n = snprintf(out, len, "workload=%s%s%s", g->workload, g->args[0] ? " " : "", g->args);
	if (wl && wl->timed && !g->has_seconds && n >= 0 && (size_t)n < len)
		n += snprintf(out + n, len - (size_t)n, " seconds=%.0f", s->duration);
	if (wl && wl->has_vm && !g->has_vm && n >= 0 && (size_t)n < len)
		n += snprintf(out + n, len - (size_t)n, " vm=%u", index + 1);
	if (wants_balloon(s) && !g->has_balloon && n >= 0 && (size_t)n < len)
		n += snprintf(out + n, len - (size_t)n, " balloon=pv");
	if (g->disk_size && n >= 0 && (size_t)n < len)
		snprintf(out + n, len - (size_t)n, " swap=virtio");
}
