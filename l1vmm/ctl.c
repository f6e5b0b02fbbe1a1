/* SPDX-License-Identifier: MIT */
/*
 * DOC: the control tree's registry: nodes, lookup, strict writes, READMEs.
 *
 * The tree is a plain n-ary tree of nodes; a directory has children kept in
 * name order, a file points at its struct ctl_entry and the obj of the
 * instance that registered it. READMEs are not nodes: every directory has
 * one, generated on read from its children.
 *
 * Registering is all-or-nothing: every node a call creates carries that
 * call's generation number, and a failure prunes exactly those nodes.
 *
 * Locking: t->lock (rwlock) protects the nodes. Readers (read, write, stat,
 * list, readme, lookup) hold it shared across show()/store(), which is what
 * makes ctl__remove() (exclusive) a barrier against callbacks on the removed
 * objs. glibc's default rwlock prefers readers, so a FUSE reader never waits
 * behind another reader because a writer queued.
 */
#include "l1vmm/ctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "l1vmm/parse.h"

struct ctl_node {
	char *name;                     /* "" for the root */
	struct ctl_node *parent;
	struct ctl_node *child;         /* first child, in name order; directories only */
	struct ctl_node *next;          /* next sibling */
	const struct ctl_entry *entry;  /* NULL: a directory */
	const struct ctl_table *table;  /* files: the table entry belongs to */
	void *obj;                      /* files: the instance */
	unsigned gen;                   /* the ctl__register() call that created the node */
};

struct ctl_tree {
	pthread_rwlock_t lock;          /* protects every node and gen */
	struct ctl_node root;
	unsigned gen;
};

#define README_NAME "README"

/* ---- nodes ---- */

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	if (n == strlen(README_NAME) && memcmp(s, README_NAME, n) == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static struct ctl_node *find_child(const struct ctl_node *dir, const char *name, size_t n)
{
	for (struct ctl_node *c = dir->child; c; c = c->next)
		if (strlen(c->name) == n && memcmp(c->name, name, n) == 0)
			return c;
	return NULL;
}

/* The next component of *p: its start and length; *p moves past it. */
static bool next_component(const char **p, const char **name, size_t *n)
{
	const char *s = *p;
	if (!*s)
		return false;
	const char *slash = strchr(s, '/');
	*name = s;
	*n = slash ? (size_t)(slash - s) : strlen(s);
	*p = slash ? slash + 1 : s + *n;
	return true;
}

enum lookup_kind { LOOKUP_NONE, LOOKUP_NODE, LOOKUP_README };

/*
 * Resolve path ("a/b", "/a/b", "" = root; a README resolves to its
 * directory). Empty components ("a//b") do not resolve.
 */
static enum lookup_kind lookup(struct ctl_tree *t, const char *path, struct ctl_node **out)
{
	struct ctl_node *n = &t->root;
	const char *p = path, *name;
	size_t len;
	if (*p == '/')
		p++;
	while (next_component(&p, &name, &len)) {
		if (len == 0 || n->entry)
			return LOOKUP_NONE;
		if (!*p && len == strlen(README_NAME) && memcmp(name, README_NAME, len) == 0) {
			*out = n;
			return LOOKUP_README;
		}
		if (!(n = find_child(n, name, len)))
			return LOOKUP_NONE;
		if (*p == '\0' && p[-1] == '/' && n->entry) /* "file/" */
			return LOOKUP_NONE;
	}
	*out = n;
	return LOOKUP_NODE;
}

static void free_subtree(struct ctl_node *n)
{
	while (n->child) {
		struct ctl_node *c = n->child;
		n->child = c->next;
		free_subtree(c);
		free(c->name);
		free(c);
	}
}

static void unlink_node(struct ctl_node *n)
{
	struct ctl_node **pp = &n->parent->child;
	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	free_subtree(n);
	free(n->name);
	free(n);
}

/* Remove every node created by generation gen (a failed register). */
static void prune_gen(struct ctl_node *dir, unsigned gen)
{
	struct ctl_node *c = dir->child;
	while (c) {
		struct ctl_node *next = c->next;
		if (c->gen == gen)
			unlink_node(c);
		else if (!c->entry)
			prune_gen(c, gen);
		c = next;
	}
}

/* The child name of dir, created (as a directory) if missing. NULL on error (*rc set). */
static struct ctl_node *get_child(struct ctl_tree *t, struct ctl_node *dir, const char *name,
				  size_t len, bool want_dir, int *rc)
{
	if (!valid_name(name, len)) {
		*rc = -EINVAL;
		return NULL;
	}
	struct ctl_node *c = find_child(dir, name, len);
	if (c) {
		if (!want_dir || c->entry) {
			*rc = -EEXIST;
			return NULL;
		}
		return c;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strndup(name, len))) {
		free(c);
		*rc = -ENOMEM;
		return NULL;
	}
	c->parent = dir;
	c->gen = t->gen;
	struct ctl_node **pp = &dir->child;
	while (*pp && strcmp((*pp)->name, c->name) < 0)
		pp = &(*pp)->next;
	c->next = *pp;
	*pp = c;
	return c;
}

/* Walk (creating directories) all components of path below dir; the last one is a file when leaf. */
static struct ctl_node *make_path(struct ctl_tree *t, struct ctl_node *dir, const char *path,
				  bool leaf, int *rc)
{
	const char *p = path, *name;
	size_t len;
	while (next_component(&p, &name, &len)) {
		bool last = !*p;
		if (!(dir = get_child(t, dir, name, len, !(leaf && last), rc)))
			return NULL;
	}
	return dir;
}

static bool valid_entry(const struct ctl_entry *e)
{
	if (!e->path || !*e->path || !e->doc || strchr(e->doc, '\n') || !e->show)
		return false;
	if ((e->flags & CTL_WRITABLE) && (!e->store || e->type == CTL_TEXT))
		return false;
	if ((e->flags & (CTL_IDLE | CTL_CONFIG)) && !(e->flags & CTL_WRITABLE))
		return false;
	switch (e->type) {
	case CTL_INT:
		return e->min <= e->max;
	case CTL_SIZE:
		return e->size_min <= e->size_max;
	case CTL_ENUM:
		return e->choices && e->choices[0];
	case CTL_STRING:
		return e->max_len <= CTL_VALUE_MAX;
	case CTL_BOOL:
	case CTL_TEXT:
		return true;
	}
	return false;
}

/* ---- create, register, remove ---- */

struct ctl_tree *ctl__create(void)
{
	struct ctl_tree *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->root.name = NULL;
	if (pthread_rwlock_init(&t->lock, NULL) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

void ctl__destroy(struct ctl_tree *t)
{
	if (!t)
		return;
	free_subtree(&t->root);
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

int ctl__register(struct ctl_tree *t, const char *dir, const struct ctl_table *table,
		  void *obj)
{
	for (size_t i = 0; i < table->nr_entries; i++)
		if (!valid_entry(&table->entries[i]))
			return -EINVAL;
	if (*dir == '/')
		dir++;
	int rc = 0;
	pthread_rwlock_wrlock(&t->lock);
	t->gen++;
	struct ctl_node *base = make_path(t, &t->root, dir, false, &rc);
	for (size_t i = 0; base && i < table->nr_entries; i++) {
		const struct ctl_entry *e = &table->entries[i];
		struct ctl_node *n = make_path(t, base, e->path, true, &rc);
		if (!n)
			break;
		if (n->gen != t->gen || n->entry || n->child) { /* a directory, or "a" and "a/b" */
			rc = -EEXIST;
			break;
		}
		n->entry = e;
		n->table = table;
		n->obj = obj;
	}
	if (rc)
		prune_gen(&t->root, t->gen);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int ctl__remove(struct ctl_tree *t, const char *dir)
{
	struct ctl_node *n;
	int rc = 0;
	pthread_rwlock_wrlock(&t->lock);
	if (lookup(t, dir, &n) != LOOKUP_NODE || n->entry || n == &t->root)
		rc = -ENOENT;
	else
		unlink_node(n);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

/* ---- describing an entry ---- */

/* 4096 -> "4K", 3000 -> "3000". */
static void fmt_size(char *buf, size_t len, uint64_t v)
{
	static const char units[] = "KMGT";
	int u = -1;
	while (u < 3 && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
}

void ctl__describe_type(const struct ctl_entry *e, char *buf, size_t len)
{
	char a[32], b[32], c[32];
	size_t n = 0;
	bool ro = !(e->flags & CTL_WRITABLE);
	switch (e->type) {
	case CTL_BOOL:
		snprintf(buf, len, "0 or 1");
		break;
	case CTL_INT:
		if (ro)
			snprintf(buf, len, "integer");
		else
			snprintf(buf, len, "integer %lld..%lld", (long long)e->min, (long long)e->max);
		break;
	case CTL_SIZE:
		if (ro) {
			snprintf(buf, len, "bytes");
			break;
		}
		fmt_size(a, sizeof(a), e->size_min);
		fmt_size(b, sizeof(b), e->size_max);
		fmt_size(c, sizeof(c), e->size_align);
		snprintf(buf, len, e->size_align > 1 ? "size %s..%s, a multiple of %s" : "size %s..%s",
			 a, b, c);
		break;
	case CTL_ENUM:
		buf[0] = '\0';
		for (const char *const *ch = e->choices; *ch && n < len; ch++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", ch == e->choices ? "" : "|", *ch);
		break;
	case CTL_STRING:
		snprintf(buf, len, "text of at most %zu bytes", e->max_len);
		break;
	case CTL_TEXT:
		snprintf(buf, len, "text");
		break;
	}
}

/* ---- parsing a write ---- */

static int parse_int(const struct ctl_entry *e, const char *s, int64_t *out)
{
	bool neg = s[0] == '-';
	if (neg && e->min >= 0)
		return -EINVAL;
	if (neg)
		s++;
	/* parse__u64 takes base 0: "010" would be octal 8, which nobody means */
	if (s[0] == '0' && isdigit((unsigned char)s[1]))
		return -EINVAL;
	uint64_t u;
	if (!parse__u64(s, &u))
		return -EINVAL;
	int64_t v;
	if (neg) {
		if (u > (uint64_t)INT64_MAX + 1)
			return -EINVAL;
		v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	} else {
		if (u > (uint64_t)INT64_MAX)
			return -EINVAL;
		v = (int64_t)u;
	}
	if (v < e->min || v > e->max)
		return -EINVAL;
	*out = v;
	return 0;
}

int ctl__parse(const struct ctl_entry *e, const char *s, union ctl_value *v)
{
	switch (e->type) {
	case CTL_BOOL:
		if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
			return -EINVAL;
		v->b = s[0] == '1';
		return 0;
	case CTL_INT:
		return parse_int(e, s, &v->i);
	case CTL_SIZE: {
		uint64_t n;
		if (!parse__size(s, &n) || n < e->size_min || n > e->size_max ||
		    (e->size_align > 1 && n % e->size_align))
			return -EINVAL;
		v->size = n;
		return 0;
	}
	case CTL_ENUM:
		for (unsigned i = 0; e->choices[i]; i++) {
			if (strcmp(s, e->choices[i]) == 0) {
				v->choice = i;
				return 0;
			}
		}
		return -EINVAL;
	case CTL_STRING: {
		size_t n = strlen(s);
		if (n > e->max_len)
			return -EINVAL;
		for (size_t i = 0; i < n; i++)
			if (iscntrl((unsigned char)s[i]))
				return -EINVAL;
		v->str = s;
		return 0;
	}
	case CTL_TEXT:
		break;
	}
	return -EINVAL;
}

/* ---- reading and writing ---- */

/* The value of file node n plus a newline, malloc'ed. */
static int show_node(const struct ctl_node *n, char **text)
{
	size_t cap = CTL_VALUE_MAX + 2;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	buf[0] = '\0';
	int rc = n->entry->show(n->obj, n->entry, buf, cap - 1);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[cap - 2] = '\0';
	size_t len = strlen(buf);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	*text = buf;
	return 0;
}

struct strbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	for (;;) {
		size_t room = sb->cap - sb->len;
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(sb->s ? sb->s + sb->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0 || sb->oom)
			return;
		if ((size_t)n < room) {
			sb->len += (size_t)n;
			return;
		}
		size_t cap = (sb->cap + (size_t)n + 1) * 2;
		char *s = realloc(sb->s, cap);
		if (!s) {
			sb->oom = true;
			return;
		}
		sb->s = s;
		sb->cap = cap;
	}
}

static const char *access_text(const struct ctl_entry *e)
{
	if (!(e->flags & CTL_WRITABLE))
		return "read-only";
	return e->flags & CTL_IDLE ? "writable while not running" : "writable";
}

static void sb_path(struct strbuf *sb, const struct ctl_node *n)
{
	if (!n->parent)
		return;
	sb_path(sb, n->parent);
	sb_printf(sb, "%s/", n->name);
}

static int readme_of(const struct ctl_node *dir, char **text)
{
	struct strbuf sb = { 0 };
	sb_printf(&sb, "/");
	sb_path(&sb, dir);
	sb_printf(&sb, ": one value per file; read with cat, write with echo VALUE > FILE.\n");
	for (const struct ctl_node *c = dir->child; c; c = c->next) {
		const struct ctl_entry *e = c->entry;
		if (!e) {
			sb_printf(&sb, "%s/: directory, see %s/%s\n", c->name, c->name, README_NAME);
			continue;
		}
		char type[256];
		ctl__describe_type(e, type, sizeof(type));
		sb_printf(&sb, "%s: %s [%s; %s%s%s]\n", c->name, e->doc, type, access_text(e),
			  e->flags & CTL_CONFIG ? "; config" : "",
			  e->flags & CTL_REQUIRED ? ", required" : "");
	}
	if (sb.oom) {
		free(sb.s);
		return -ENOMEM;
	}
	*text = sb.s;
	return 0;
}

int ctl__read(struct ctl_tree *t, const char *path, char **text)
{
	struct ctl_node *n;
	int rc;
	pthread_rwlock_rdlock(&t->lock);
	switch (lookup(t, path, &n)) {
	case LOOKUP_README:
		rc = readme_of(n, text);
		break;
	case LOOKUP_NODE:
		rc = n->entry ? show_node(n, text) : -EISDIR;
		break;
	default:
		rc = -ENOENT;
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int ctl__readme(struct ctl_tree *t, const char *path, char **text)
{
	struct ctl_node *n;
	int rc;
	pthread_rwlock_rdlock(&t->lock);
	if (lookup(t, path, &n) != LOOKUP_NODE)
		rc = -ENOENT;
	else
		rc = n->entry ? -ENOTDIR : readme_of(n, text);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

/* Check and apply a write to file node n (tree lock held shared). */
static int write_node(const struct ctl_node *n, const char *text, size_t len)
{
	const struct ctl_entry *e = n->entry;
	if (!(e->flags & CTL_WRITABLE))
		return -EACCES;
	if (len && text[len - 1] == '\n')
		len--;
	if (len > CTL_VALUE_MAX || memchr(text, '\0', len))
		return -EINVAL;
	char *s = strndup(text, len);
	if (!s)
		return -ENOMEM;
	union ctl_value v;
	int rc = ctl__parse(e, s, &v);
	if (rc == 0 && (e->flags & CTL_IDLE) && n->table->running && n->table->running(n->obj))
		rc = -EBUSY;
	if (rc == 0)
		rc = e->store(n->obj, e, &v);
	free(s);
	return rc;
}

int ctl__write(struct ctl_tree *t, const char *path, const char *text, size_t len)
{
	struct ctl_node *n;
	int rc;
	pthread_rwlock_rdlock(&t->lock);
	switch (lookup(t, path, &n)) {
	case LOOKUP_README:
		rc = -EACCES;
		break;
	case LOOKUP_NODE:
		rc = n->entry ? write_node(n, text, len) : -EISDIR;
		break;
	default:
		rc = -ENOENT;
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int ctl__stat(struct ctl_tree *t, const char *path, struct ctl_stat *st)
{
	struct ctl_node *n;
	char *text = NULL;
	int rc = 0;
	*st = (struct ctl_stat){ 0 };
	pthread_rwlock_rdlock(&t->lock);
	switch (lookup(t, path, &n)) {
	case LOOKUP_README:
		st->readme = true;
		rc = readme_of(n, &text);
		break;
	case LOOKUP_NODE:
		st->is_dir = !n->entry;
		if (n->entry) {
			st->writable = n->entry->flags & CTL_WRITABLE;
			rc = show_node(n, &text);
		}
		break;
	default:
		rc = -ENOENT;
	}
	pthread_rwlock_unlock(&t->lock);
	if (text)
		st->size = strlen(text);
	free(text);
	/* a value that cannot be shown right now is still a file */
	return rc == -ENOENT || rc == -ENOMEM ? rc : 0;
}

int ctl__list(struct ctl_tree *t, const char *path,
	      int (*fn)(void *arg, const char *name, bool is_dir), void *arg)
{
	struct ctl_node *n;
	int rc = 0;
	pthread_rwlock_rdlock(&t->lock);
	if (lookup(t, path, &n) != LOOKUP_NODE) {
		rc = -ENOENT;
	} else if (n->entry) {
		rc = -ENOTDIR;
	} else if (!fn(arg, README_NAME, false)) {
		for (const struct ctl_node *c = n->child; c; c = c->next)
			if (fn(arg, c->name, !c->entry))
				break;
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int ctl__lookup(struct ctl_tree *t, const char *path, const struct ctl_entry **e, void **obj)
{
	struct ctl_node *n;
	int rc = 0;
	pthread_rwlock_rdlock(&t->lock);
	if (lookup(t, path, &n) != LOOKUP_NODE)
		rc = -ENOENT;
	else if (!n->entry)
		rc = -EISDIR;
	else {
		*e = n->entry;
		*obj = n->obj;
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}
