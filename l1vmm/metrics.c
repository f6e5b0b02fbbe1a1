/* SPDX-License-Identifier: MIT */
#include "l1vmm/metrics.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l1vmm/balloon_ctl.h"
#include "l1vmm/ctl.h"
#include "l1vmm/dedup_host.h"
#include "l1vmm/parse.h"
#include "l1vmm/reclaim_ctl.h"
#include "mmu/array.h"

#define MAX_DEPTH 16
#define NAME_MAX_LEN 160

const char metrics__schema_vm[] = "vm";

enum kind {
	GAUGE,
	COUNTER,
	STATE,  /* a word: one series, the word as a label */
	SKIP,   /* never read */
};

/*
 * What a file is, where the registry's type alone does not say: "*" is any
 * one path component. The first rule that matches wins; no rule: a gauge.
 */
struct rule {
	const char *pattern;
	enum kind kind;
	const char *unit;  /* overrides the unit word of the name */
	double scale;      /* with unit: the value times this is in unit */
	const char *help;  /* for a family of several files (labelled) */
};

#define CNT(p) { .pattern = (p), .kind = COUNTER }
static const struct rule rules[] = {
	{ .pattern = "dedup/check", .kind = SKIP },       /* a full cross-check */
	{ .pattern = "vms/*/shadow/machine_hold_max_by", .kind = SKIP }, /* a VM's name */
	CNT("dedup/full_scans"), CNT("dedup/cow_breaks"), CNT("dedup/scan_cpu_ms"),
	CNT("dedup/pages_scanned"), CNT("dedup/hash_collisions"), CNT("dedup/backend_errors"),
	CNT("dedup/meta_cap_hits"), CNT("dedup/map_calls"), CNT("dedup/vcpu_holds"),
	CNT("dedup/vcpu_hold_misses"),
	CNT("balloon/steps"),
	CNT("reclaim/evictions"), CNT("reclaim/fetches"), CNT("reclaim/prefetches"),
	CNT("reclaim/refaults"), CNT("reclaim/dropped"), CNT("reclaim/store_refusals"),
	CNT("reclaim/errors"), CNT("reclaim/rounds"),
	CNT("vms/*/reclaim/evictions"), CNT("vms/*/reclaim/fetches"),
	CNT("vms/*/reclaim/prefetches"), CNT("vms/*/reclaim/refaults"),
	CNT("vms/*/reclaim/dropped"), CNT("vms/*/reclaim/store_refusals"),
	CNT("vms/*/reclaim/errors"),
	CNT("vms/*/balloon/inflated_mb"), CNT("vms/*/balloon/deflated_mb"),
	CNT("vms/*/balloon/oom_deflated_mb"), CNT("vms/*/balloon/reported_mb"),
	CNT("vms/*/balloon/refusals"), CNT("vms/*/balloon/discard_calls"),
	CNT("vms/*/balloon/guest/oom_events"),
	CNT("vms/*/shadow/faults"), CNT("vms/*/shadow/fills"), CNT("vms/*/shadow/prefetched"),
	CNT("vms/*/shadow/guest_faults"), CNT("vms/*/shadow/ballooned_touches"),
	CNT("vms/*/shadow/pt_writes"), CNT("vms/*/shadow/wp_faults"),
	CNT("vms/*/shadow/cow_breaks"), CNT("vms/*/shadow/break_ns"), CNT("vms/*/shadow/shares"),
	CNT("vms/*/shadow/forgets"), CNT("vms/*/shadow/forget_ns"), CNT("vms/*/shadow/discards"),
	CNT("vms/*/shadow/updates"), CNT("vms/*/shadow/rmap_evictions"),
	CNT("vms/*/shadow/table_quota_hits"), CNT("vms/*/shadow/meta_quota_hits"),
	CNT("vms/*/shadow/quota_drops"), CNT("vms/*/shadow/flush_waits"),
	CNT("vms/*/shadow/flush_wait_us"), CNT("vms/*/shadow/holds"), CNT("vms/*/shadow/hold_us"),
	{ .pattern = "vms/*/shadow/refused/*", .kind = COUNTER,
	  .help = "shadow-mode page-table updates refused, by reason" },
	{ .pattern = "vms/*/stats/exits/*", .kind = COUNTER, .help = "VM exits, by reason" },
	{ .pattern = "dedup/general_profit", .unit = "bytes", .scale = 1 },
	{ .pattern = "vms/*/stats/run_time", .kind = COUNTER, .unit = "seconds", .scale = 1 },
	{ .pattern = "vms/*/balloon/time_to_target", .unit = "seconds", .scale = 1 },
	{ .pattern = "vms/*/balloon/guest/age", .unit = "seconds", .scale = 1 },
	{ .pattern = "vms/*/balloon/*_rate", .unit = "bytes_per_second", .scale = 1048576 },
	{ .pattern = "vms/*/state", .kind = STATE }, { .pattern = "vms/*/mode_active", .kind = STATE },
	{ .pattern = "vms/*/balloon/device", .kind = STATE },
	{ .pattern = "vms/*/dedup/backend", .kind = STATE },
	{ .pattern = "balloon/state", .kind = STATE }, { .pattern = "reclaim/state", .kind = STATE },
};
#undef CNT

/* Files whose samples are one family with the file's name as a label. */
static const struct { const char *dir, *family, *label; } label_dirs[] = {
	{ "stats/exits/", "exits", "reason" },
	{ "shadow/refused/", "shadow_refused", "reason" },
};

/* Unit words in tree names, and the base unit they become. */
static const struct { const char *word, *unit; double scale; } units[] = {
	{ "mb", "bytes", 1048576 }, { "bytes", "bytes", 1 },
	{ "ms", "seconds", 1e-3 }, { "millisecs", "seconds", 1e-3 }, { "us", "seconds", 1e-6 },
	{ "ns", "seconds", 1e-9 }, { "s", "seconds", 1 }, { "seconds", "seconds", 1 },
};

/* "*" matches one component; a component may end in "*" ("*_rate": a suffix). */
static bool match(const char *pattern, const char *path)
{
	while (*pattern && *path) {
		size_t pl = strcspn(pattern, "/"), sl = strcspn(path, "/");
		if (pattern[0] == '*') {
			size_t tail = pl - 1; /* "*_rate": the component must end in "_rate" */
			if (sl < tail || memcmp(pattern + 1, path + sl - tail, tail) != 0)
				return false;
		} else if (pl != sl || memcmp(pattern, path, pl) != 0) {
			return false;
		}
		pattern += pl + (pattern[pl] == '/');
		path += sl + (path[sl] == '/');
	}
	return !*pattern && !*path;
}

static const struct rule *rule_for(const char *path)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (match(rules[i].pattern, path))
			return &rules[i];
	return NULL;
}

/* How one file is exported. */
struct desc {
	const struct ctl_entry *e;
	enum kind kind;
	char name[NAME_MAX_LEN];   /* the family */
	char help[768];
	char where[NAME_MAX_LEN + 16]; /* the file(s) in the tree: vms/NAME/... */
	char vm[VM_CTL_NAME_MAX + 1]; /* "" outside vms/ */
	char label[32];            /* the extra label's name, or "" */
	char label_value[64];      /* for label dirs */
	double scale;
};

/* The registry entry of path in t; a VM's file through the schema's VM if t lacks it. */
static const struct ctl_entry *entry_of(struct ctl_tree *t, const char *path)
{
	const struct ctl_entry *e;
	void *obj;
	if (ctl__lookup(t, path, &e, &obj) == 0)
		return e;
	const char *rest;
	if (strncmp(path, "vms/", 4) != 0 || !(rest = strchr(path + 4, '/')))
		return NULL;
	char alias[PATH_MAX];
	snprintf(alias, sizeof(alias), "vms/%s%s", metrics__schema_vm, rest);
	return ctl__lookup(t, alias, &e, &obj) == 0 ? e : NULL;
}

/*
 * base (tree words joined by '_') with its unit word moved to the end as a
 * base unit. The unit, or NULL; *scale turns a value into it.
 */
static const char *apply_units(char *base, size_t len, const struct rule *r,
			       const struct ctl_entry *e, double *scale)
{
	const char *unit = r && r->unit ? r->unit : NULL;
	*scale = unit ? r->scale : 1;
	for (char *w = base; !unit && *w;) {
		size_t n = strcspn(w, "_");
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]) && !unit; u++) {
			if (strlen(units[u].word) != n || memcmp(w, units[u].word, n) != 0)
				continue;
			unit = units[u].unit;
			*scale = units[u].scale;
			/* drop the word and one '_' next to it */
			char *from = w + n + (w[n] == '_'), *to = w;
			if (!w[n] && w > base)
				to = w - 1;
			memmove(to, from, strlen(from) + 1);
		}
		w += n + (w[n] == '_');
	}
	if (!unit && e->type == CTL_SIZE)
		unit = "bytes";
	if (unit) {
		size_t at = strlen(base);
		snprintf(base + at, len - at, "%s%s", at ? "_" : "", unit);
	}
	return unit;
}

/* false: the file gives no metric. */
static bool describe(struct ctl_tree *t, const char *path, struct desc *d)
{
	*d = (struct desc){ .scale = 1 };
	const struct rule *r = rule_for(path);
	if (r && r->kind == SKIP)
		return false;
	if (!(d->e = entry_of(t, path)))
		return false; /* not a file of l1vmm's tree */
	if (d->e->type == CTL_STRING)
		return false;
	d->kind = r ? r->kind : GAUGE;
	const char *rel = path, *prefix = "l1vmm_";
	if (strncmp(path, "vms/", 4) == 0) {
		size_t n = strcspn(path + 4, "/");
		if (!path[4 + n] || n >= sizeof(d->vm))
			return false;
		memcpy(d->vm, path + 4, n);
		d->vm[n] = '\0';
		rel = path + 4 + n + 1;
		prefix = "l1vmm_vm_";
	}
	char base[NAME_MAX_LEN];
	const char *unit = NULL;
	snprintf(base, sizeof(base), "%s", rel);
	for (size_t i = 0; i < sizeof(label_dirs) / sizeof(label_dirs[0]); i++) {
		size_t n = strlen(label_dirs[i].dir);
		if (strncmp(rel, label_dirs[i].dir, n) == 0 && !strchr(rel + n, '/')) {
			snprintf(base, sizeof(base), "%s", label_dirs[i].family);
			snprintf(d->label, sizeof(d->label), "%s", label_dirs[i].label);
			snprintf(d->label_value, sizeof(d->label_value), "%s", rel + n);
		}
	}
	if (d->kind == STATE || d->e->type == CTL_ENUM) {
		const char *last = strrchr(rel, '/');
		snprintf(d->label, sizeof(d->label), "%s", last ? last + 1 : rel);
		if (d->e->type == CTL_ENUM)
			d->kind = STATE;
	}
	for (char *c = base; *c; c++) /* tree names may hold '.' and '-', metric names not */
		if (*c == '/' || *c == '.' || *c == '-')
			*c = '_';
	for (char *c = d->label; *c; c++)
		if (*c == '.' || *c == '-')
			*c = '_';
	if (d->kind != STATE) {
		unit = apply_units(base, sizeof(base), r, d->e, &d->scale);
	}
	if ((size_t)snprintf(d->name, sizeof(d->name), "%s%s%s", prefix, base,
			     d->kind == COUNTER ? "_total" : "") >= sizeof(d->name))
		return false;
	size_t dir_len = strlen(rel) - strlen(d->label_value);
	snprintf(d->where, sizeof(d->where), "%s%.*s%s", d->vm[0] ? "vms/NAME/" : "",
		 (int)(dir_len < NAME_MAX_LEN ? dir_len : NAME_MAX_LEN), rel,
		 d->label_value[0] ? "REASON" : "");
	snprintf(d->help, sizeof(d->help), "%.500s (tree: %s%s%s)", r && r->help ? r->help : d->e->doc,
		 d->where, d->scale != 1 ? ", here in " : "", d->scale != 1 ? unit : "");
	return true;
}

bool metrics__describe(struct ctl_tree *t, const char *path, char *name, size_t len,
		       bool *counter)
{
	struct desc d;
	if (!describe(t, path, &d))
		return false;
	snprintf(name, len, "%s", d.name);
	*counter = d.kind == COUNTER;
	return true;
}

/* ---- the families being built ---- */

struct sample {
	char *labels; /* rendered: vm="a",reason="io" (no braces), or "" */
	char value[48];
};

struct family {
	char *name, *help, *where;
	enum kind kind;
	struct sample *s;
	size_t n, cap;
};

struct build {
	const struct metrics_source *src;
	struct ctl_tree *t;
	struct family *f;
	size_t n, cap;
	bool oom;
	char *err;
	size_t errlen;
};

/* A decimal number as the tree prints one: -?[0-9]+(.[0-9]+)? */
static bool is_number(const char *s)
{
	s += *s == '-';
	size_t n = strspn(s, "0123456789");
	if (n == 0)
		return false;
	s += n;
	if (*s == '.') {
		n = strspn(++s, "0123456789");
		if (n == 0)
			return false;
		s += n;
	}
	return *s == '\0';
}

static bool format_value(const char *text, const struct desc *d, char *out, size_t len)
{
	double scale = d->scale;
	uint64_t v;
	if (d->e->type == CTL_SIZE && !is_number(text)) /* "128M" in a config directory */
		return parse__size(text, &v) &&
		       (size_t)snprintf(out, len, "%llu", (unsigned long long)v) < len;
	if (!is_number(text))
		return false;
	if (scale == 1) {
		return (size_t)snprintf(out, len, "%s", text) < len;
	}
	if (scale == 1048576 && strspn(text, "0123456789") == strlen(text) &&
	    strlen(text) < 14 && (v = strtoull(text, NULL, 10)) < (1ull << 44)) {
		snprintf(out, len, "%llu", (unsigned long long)(v << 20)); /* exact */
		return true;
	}
	snprintf(out, len, "%.15g", strtod(text, NULL) * scale);
	return true;
}

/* Label value escaping of the text format: \\, \", \n. */
static void put_escaped(FILE *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '"' && quote)
			fputs("\\\"", out);
		else
			fputc(*s, out);
	}
}

/* The family of d, created if new; NULL when a different file already has
 * its name (a tree file named like another's metric: it gives none). */
static struct family *family_for(struct build *b, const struct desc *d)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->f[i].name, d->name) == 0)
			return strcmp(b->f[i].where, d->where) == 0 ? &b->f[i] : NULL;
	if (ARRAY_ROOM(b->f, b->cap, b->n, 64) < 0) {
		b->oom = true;
		return NULL;
	}
	struct family *f = &b->f[b->n];
	*f = (struct family){ .name = strdup(d->name), .help = strdup(d->help),
			      .where = strdup(d->where), .kind = d->kind };
	if (!f->name || !f->help || !f->where) {
		free(f->name);
		free(f->help);
		free(f->where);
		b->oom = true;
		return NULL;
	}
	b->n++;
	return f;
}

static void add_sample(struct build *b, struct family *f, const struct desc *d,
		       const char *label_value, const char *value)
{
	char *labels = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&labels, &len);
	if (!m || ARRAY_ROOM(f->s, f->cap, f->n, 8) < 0) {
		if (m)
			fclose(m);
		free(labels);
		b->oom = true;
		return;
	}
	const char *sep = "";
	if (d->vm[0]) {
		fputs("vm=\"", m);
		put_escaped(m, d->vm, true);
		fputc('"', m);
		sep = ",";
	}
	if (d->label[0]) {
		fprintf(m, "%s%s=\"", sep, d->label);
		put_escaped(m, label_value, true);
		fputc('"', m);
	}
	if (fclose(m) != 0) {
		free(labels);
		b->oom = true;
		return;
	}
	struct sample *s = &f->s[f->n++];
	s->labels = labels;
	snprintf(s->value, sizeof(s->value), "%s", value);
}

static int add_file(struct build *b, const char *path)
{
	struct desc d;
	if (!describe(b->t, path, &d))
		return 0;
	char *value = NULL;
	int rc = b->src->read(b->src->src, path, &value);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		snprintf(b->err, b->errlen, "cannot read %s: %s", path, strerror(-rc));
		return -1;
	}
	char number[48];
	struct family *f = NULL;
	if (d.kind == STATE && d.e->type == CTL_ENUM) {
		if ((f = family_for(b, &d)))
			for (const char *const *c = d.e->choices; *c; c++)
				add_sample(b, f, &d, *c, strcmp(*c, value) == 0 ? "1" : "0");
	} else if (d.kind == STATE) {
		if (value[0] && (f = family_for(b, &d)))
			add_sample(b, f, &d, value, "1");
	} else if (format_value(value, &d, number, sizeof(number))) {
		if ((f = family_for(b, &d)))
			add_sample(b, f, &d, d.label_value, number);
	}
	free(value);
	return 0;
}

struct names {
	char **name;
	bool *is_dir;
	size_t n, cap, cap_dir;
	bool oom;
};

static int collect(void *arg, const char *name, bool is_dir)
{
	struct names *ns = arg;
	char *copy = strdup(name);
	if (!copy || ARRAY_ROOM(ns->name, ns->cap, ns->n, 32) < 0 ||
	    ARRAY_ROOM(ns->is_dir, ns->cap_dir, ns->n, 32) < 0) {
		free(copy);
		ns->oom = true;
		return 1;
	}
	ns->is_dir[ns->n] = is_dir;
	ns->name[ns->n++] = copy;
	return 0;
}

static int walk(struct build *b, const char *dir, int depth)
{
	if (depth > MAX_DEPTH) {
		snprintf(b->err, b->errlen, "%s: nested too deep", dir);
		return -1;
	}
	struct names ns = { 0 };
	int rc = b->src->list(b->src->src, dir, collect, &ns);
	if (rc == -ENOENT && *dir)
		rc = 0; /* went away while we walked */
	else if (rc < 0)
		snprintf(b->err, b->errlen, "cannot read %s: %s", *dir ? dir : "the tree",
			 strerror(-rc));
	if (ns.oom) {
		snprintf(b->err, b->errlen, "out of memory");
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < ns.n; i++) {
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "",
				     ns.name[i]) >= sizeof(path)) {
			snprintf(b->err, b->errlen, "%s: path too long", dir);
			rc = -1;
		} else {
			rc = ns.is_dir[i] ? walk(b, path, depth + 1) : add_file(b, path);
		}
	}
	for (size_t i = 0; i < ns.n; i++)
		free(ns.name[i]);
	free(ns.name);
	free(ns.is_dir);
	return rc < 0 ? -1 : 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct family *)a)->name, ((const struct family *)b)->name);
}

static void print(const struct build *b, FILE *out)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct family *f = &b->f[i];
		fprintf(out, "# HELP %s ", f->name);
		put_escaped(out, f->help, false);
		fprintf(out, "\n# TYPE %s %s\n", f->name, f->kind == COUNTER ? "counter" : "gauge");
		for (size_t k = 0; k < f->n; k++)
			fprintf(out, "%s%s%s%s %s\n", f->name, f->s[k].labels[0] ? "{" : "",
				f->s[k].labels, f->s[k].labels[0] ? "}" : "", f->s[k].value);
	}
}

int metrics__build(const struct metrics_source *src, struct ctl_tree *t, char **text,
		   size_t *len, char *err, size_t errlen)
{
	struct build b = { .src = src, .t = t, .err = err, .errlen = errlen };
	int rc = walk(&b, "", 0);
	if (rc == 0 && b.oom) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	*text = NULL;
	*len = 0;
	FILE *out = rc == 0 ? open_memstream(text, len) : NULL;
	if (rc == 0) {
		qsort(b.f, b.n, sizeof(*b.f), by_name);
		if (out)
			print(&b, out);
		if (!out || fclose(out) != 0) {
			snprintf(err, errlen, "out of memory");
			free(*text);
			*text = NULL;
			rc = -1;
		}
	}
	for (size_t i = 0; i < b.n; i++) {
		for (size_t k = 0; k < b.f[i].n; k++)
			free(b.f[i].s[k].labels);
		free(b.f[i].s);
		free(b.f[i].name);
		free(b.f[i].help);
		free(b.f[i].where);
	}
	free(b.f);
	return rc;
}

/* ---- a live tree as the source ---- */

struct list_ctx {
	int (*fn)(void *arg, const char *name, bool is_dir);
	void *arg;
};

static int skip_readme(void *arg, const char *name, bool is_dir)
{
	struct list_ctx *c = arg;
	return !is_dir && strcmp(name, "README") == 0 ? 0 : c->fn(c->arg, name, is_dir);
}

static int tree_list(void *src, const char *dir,
		     int (*fn)(void *arg, const char *name, bool is_dir), void *arg)
{
	struct list_ctx c = { .fn = fn, .arg = arg };
	return ctl__list(src, dir, skip_readme, &c);
}

static int tree_read(void *src, const char *path, char **value)
{
	int rc = ctl__read(src, path, value);
	if (rc == 0) {
		size_t n = strlen(*value);
		if (n && (*value)[n - 1] == '\n')
			(*value)[n - 1] = '\0';
	}
	return rc;
}

struct metrics_source metrics__tree_source(struct ctl_tree *t)
{
	return (struct metrics_source){ .list = tree_list, .read = tree_read, .src = t };
}

/* ---- the schema ---- */

struct metrics_schema {
	struct ctl_tree *t;
	struct dedup_host *dedup;
	struct balloon_ctl *balloon;
	struct reclaim_ctl *reclaim;
	struct vm_ctl *vm;
	bool vm_registered;
};

struct metrics_schema *metrics__schema_create(void)
{
	struct metrics_schema *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->t = ctl__create();
	s->dedup = dedup_host__create();
	s->balloon = balloon_ctl__create();
	s->reclaim = reclaim_ctl__create();
	s->vm = vm_ctl__new(metrics__schema_vm);
	if (!s->t || !s->dedup || !s->balloon || !s->reclaim || !s->vm ||
	    host_ctl__register(s->t) < 0 || dedup_host__register(s->dedup, s->t) < 0 ||
	    balloon_ctl__register(s->balloon, s->t) < 0 ||
	    reclaim_ctl__register(s->reclaim, s->t) < 0 ||
	    !(s->vm_registered = vm_ctl__register(s->t, s->vm) == 0)) {
		metrics__schema_destroy(s);
		return NULL;
	}
	return s;
}

struct ctl_tree *metrics__schema_tree(struct metrics_schema *s)
{
	return s->t;
}

void metrics__schema_destroy(struct metrics_schema *s)
{
	if (!s)
		return;
	if (s->vm_registered)
		vm_ctl__unregister(s->t, s->vm);
	vm_ctl__free(s->vm);
	ctl__destroy(s->t);
	dedup_host__destroy(s->dedup);
	balloon_ctl__destroy(s->balloon);
	reclaim_ctl__destroy(s->reclaim);
	free(s);
}
