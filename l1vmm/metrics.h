/* SPDX-License-Identifier: MIT */
/*
 * DOC: the control tree as Prometheus metrics (text exposition format 0.0.4).
 *
 * One function, metrics__build(), turns a tree into exposition text; `l1vmm
 * stat DIR --format prometheus` gives it a directory (a live tree or a copy)
 * and the HTTP server of `--metrics ADDR` (metrics_http.c) the live tree
 * itself. What a file is comes from the registry (l1vmm/ctl.h), never from
 * its value: a tree that is only files is described by a schema, a tree with
 * every table registered and one VM standing for all (metrics__schema_*).
 *
 * Names: "l1vmm_" and the file's path with '/' as '_' ("dedup/pages_sharing"
 * is l1vmm_dedup_pages_sharing); a VM's files are "l1vmm_vm_" and the path
 * under vms/NAME/, with the label vm="NAME"; the files of stats/exits/ and
 * shadow/refused/ are one family each with the label reason="FILE". Units are
 * Prometheus's base units: a name's unit word (mb, ms, millisecs, us, ns, s)
 * becomes a scaled value and a _bytes or _seconds suffix; sizes are _bytes.
 * Types: the files that only grow (events, pages moved, time spent) are
 * counters, named with _total; the others are gauges, settings included. An
 * enumerated setting is one series per choice, 1 for the current one; a state
 * shown as a word (vms/NAME/state, ...) one series with that word as a label.
 * Strings and readings that are not a number now ("none") give no sample;
 * dedup/check, a full cross-check, is never read. HELP is the registry's doc
 * and the file's path in the tree.
 *
 * Families come out sorted by name, a family's samples in tree order, each
 * family once with its HELP and TYPE lines.
 */
#ifndef L1VMM_METRICS_H
#define L1VMM_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct ctl_tree;

/* Where the tree's names and values come from. */
struct metrics_source {
	/*
	 * Call fn for each name in directory dir ("" = the root), READMEs
	 * excluded, is_dir set for directories. 0, -ENOENT (the directory went
	 * away: skipped) or -errno.
	 */
	int (*list)(void *src, const char *dir,
		    int (*fn)(void *arg, const char *name, bool is_dir), void *arg);
	/*
	 * The value of file path: malloc'ed, NUL-terminated, without its
	 * trailing newline. 0, -ENOENT (went away: skipped) or -errno.
	 */
	int (*read)(void *src, const char *path, char **value);
	void *src;
};

/*
 * Walk src and write its metrics, described by the registry of t (the live
 * tree, or a schema's tree), into *text (malloc'ed, *len bytes). 0, or -1
 * with a one-line reason in err.
 */
int metrics__build(const struct metrics_source *src, struct ctl_tree *t, char **text,
		   size_t *len, char *err, size_t errlen);
/* A source that reads tree t through ctl__list() and ctl__read(). */
struct metrics_source metrics__tree_source(struct ctl_tree *t);

struct metrics_schema;
/* Every table of l1vmm registered, and one VM (its name: metrics__schema_vm). NULL: ENOMEM. */
struct metrics_schema *metrics__schema_create(void);
struct ctl_tree *metrics__schema_tree(struct metrics_schema *s);
void metrics__schema_destroy(struct metrics_schema *s);
extern const char metrics__schema_vm[];

/* The name and type the file at path (a tree path) would be exported with,
 * for tests: false when the file gives no metric. */
bool metrics__describe(struct ctl_tree *t, const char *path, char *name, size_t len,
		       bool *counter);

#endif
