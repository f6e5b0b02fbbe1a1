/* SPDX-License-Identifier: MIT */
/*
 * DOC: `l1vmm stat DIR [--format text|json|prometheus]`: print a control tree.
 *
 * DIR is a live tree (the --sysfs mount), a copy of one or a config
 * directory, or any subtree of those. Files are read whole; one trailing
 * newline is dropped; READMEs are skipped. Names are sorted bytewise, so the
 * output is the same for a live tree and its copy.
 *
 *   text: one "path  value" line per file, paths relative to DIR, values
 *         aligned in one column; control characters print as \xNN.
 *   JSON: one object per directory, nested; a value that is a decimal
 *         integer is a JSON number, anything else a string (invalid UTF-8
 *         becomes U+FFFD), so python3's json module reads it.
 *
 *   prometheus: the tree as Prometheus metrics (l1vmm/metrics.h), the text
 *         the HTTP server of --metrics serves; the files are described by
 *         l1vmm's own registry (a file it does not know gives no metric).
 *
 * A file that vanishes while being walked (a VM removed) is left out; a file
 * that cannot be read is an error. Output is built in memory and written only
 * when the walk succeeded.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "l1vmm/ctl.h"
#include "l1vmm/metrics.h"
#include "l1vmm/parse.h"
#include "mmu/array.h"

#define STAT_VALUE_MAX (1u << 20) /* a value larger than this is not a control file */
#define STAT_MAX_DEPTH 16

struct item {
	char *path;  /* relative to DIR */
	char *value; /* without the trailing newline */
	size_t len;
};

struct walk {
	const char *root;
	bool json;
	FILE *out;           /* JSON: the memstream being built */
	struct item *items;  /* text: collected, printed at the end */
	size_t nr_items, cap_items;
	char *err;
	size_t errlen;
};

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_names(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0 &&
	       strcmp(d->d_name, "README") != 0;
}

/* The whole file, one trailing newline dropped. 1 = read, 0 = vanished, -1 = error. */
static int read_whole(struct walk *w, const char *path, const char *rel, char **out, size_t *len)
{
	int fd = parse__open_regular(path, O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT || errno == EINVAL) /* gone, or replaced by a non-file */
			return 0;
		snprintf(w->err, w->errlen, "cannot read %s: %s", rel, strerror(errno));
		return -1;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int rc = 1;
	for (;;) {
		if (!buf) {
			snprintf(w->err, w->errlen, "cannot read %s: out of memory", rel);
			rc = -1;
			break;
		}
		if (n == cap) {
			if (cap >= STAT_VALUE_MAX) {
				snprintf(w->err, w->errlen, "cannot read %s: larger than %u bytes", rel,
					 STAT_VALUE_MAX);
				rc = -1;
				break;
			}
			char *b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				buf = NULL;
				continue;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = errno == ENOENT || errno == ENODEV ? 0 : -1;
			if (rc < 0)
				snprintf(w->err, w->errlen, "cannot read %s: %s", rel, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (rc <= 0) {
		free(buf);
		return rc;
	}
	if (n && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0'; /* n < cap: a full buffer grows first */
	*out = buf;
	*len = n;
	return 1;
}

/* ---- JSON ---- */

static bool is_json_integer(const char *s, size_t len)
{
	size_t i = s[0] == '-';
	if (i >= len || !isdigit((unsigned char)s[i]) || (s[i] == '0' && len > i + 1))
		return false;
	for (; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t min, cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void json_string(FILE *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	fputc('"', out);
	for (size_t i = 0; i < len;) {
		unsigned char c = u[i];
		if (c == '"' || c == '\\') {
			fprintf(out, "\\%c", c);
		} else if (c == '\n') {
			fputs("\\n", out);
		} else if (c == '\t') {
			fputs("\\t", out);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
		} else if (c >= 0x80) {
			size_t n = utf8_len(u + i, len - i);
			if (n == 0) {
				fputs("\\ufffd", out);
				i++;
			} else {
				fwrite(u + i, 1, n, out);
				i += n;
			}
			continue;
		} else {
			fputc(c, out);
		}
		i++;
	}
	fputc('"', out);
}

static void indent(FILE *out, int depth)
{
	fprintf(out, "%*s", 2 * depth, "");
}

/* ---- the walk ---- */

static int add_item(struct walk *w, const char *rel, char *value, size_t len)
{
	if (ARRAY_ROOM(w->items, w->cap_items, w->nr_items, 64) < 0)
		goto oom;
	char *path = strdup(rel);
	if (!path)
		goto oom;
	w->items[w->nr_items++] = (struct item){ .path = path, .value = value, .len = len };
	return 0;
oom:
	free(value);
	snprintf(w->err, w->errlen, "out of memory");
	return -1;
}

/* Walk directory rel ("" = DIR); JSON: print its object's members at depth. */
static int walk_dir(struct walk *w, const char *rel, int depth)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s%s%s", w->root, *rel ? "/" : "", rel);
	if (depth > STAT_MAX_DEPTH) {
		snprintf(w->err, w->errlen, "%s: nested too deep", rel);
		return -1;
	}
	struct dirent **names;
	int n = scandir(path, &names, skip_names, by_name);
	if (n < 0) {
		if (errno == ENOENT && *rel) { /* removed while we walked */
			if (w->json)
				fputc('}', w->out);
			return 0;
		}
		snprintf(w->err, w->errlen, "cannot read %s: %s", *rel ? rel : w->root,
			 strerror(errno));
		return -1;
	}
	int rc = 0;
	bool first = true;
	for (int i = 0; i < n && rc == 0; i++) {
		char child[PATH_MAX], full[PATH_MAX];
		const char *name = names[i]->d_name;
		if ((size_t)snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", name) >=
			    sizeof(child) ||
		    (size_t)snprintf(full, sizeof(full), "%s/%s", w->root, child) >= sizeof(full)) {
			snprintf(w->err, w->errlen, "%s: path too long", rel);
			rc = -1;
			break;
		}
		struct stat st;
		if (lstat(full, &st) < 0) {
			if (errno == ENOENT)
				continue;
			snprintf(w->err, w->errlen, "cannot read %s: %s", child, strerror(errno));
			rc = -1;
			break;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue;
		char *value = NULL;
		size_t len = 0;
		if (S_ISREG(st.st_mode)) {
			int r = read_whole(w, full, child, &value, &len);
			if (r <= 0) {
				rc = r;
				continue;
			}
		}
		if (!w->json) {
			rc = S_ISDIR(st.st_mode) ? walk_dir(w, child, depth + 1)
						 : add_item(w, child, value, len);
			continue;
		}
		fputs(first ? "\n" : ",\n", w->out);
		first = false;
		indent(w->out, depth + 1);
		json_string(w->out, name, strlen(name));
		fputs(": ", w->out);
		if (S_ISDIR(st.st_mode)) {
			fputc('{', w->out);
			rc = walk_dir(w, child, depth + 1);
		} else {
			if (is_json_integer(value, len))
				fwrite(value, 1, len, w->out);
			else
				json_string(w->out, value, len);
			free(value);
		}
	}
	if (w->json && rc == 0) {
		if (!first) {
			fputc('\n', w->out);
			indent(w->out, depth);
		}
		fputc('}', w->out);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static void print_text(const struct walk *w, FILE *out)
{
	size_t width = 0;
	for (size_t i = 0; i < w->nr_items; i++)
		if (strlen(w->items[i].path) > width)
			width = strlen(w->items[i].path);
	for (size_t i = 0; i < w->nr_items; i++) {
		const struct item *it = &w->items[i];
		fprintf(out, "%-*s  ", (int)width, it->path);
		for (size_t j = 0; j < it->len; j++) {
			unsigned char c = (unsigned char)it->value[j];
			if (c < 0x20 || c == 0x7f)
				fprintf(out, "\\x%02x", c);
			else
				fputc(c, out);
		}
		fputc('\n', out);
	}
}

int stat__print(const char *dir, bool json, FILE *out, char *err, size_t errlen)
{
	struct walk w = { .root = dir, .json = json, .err = err, .errlen = errlen };
	char *doc = NULL;
	size_t doclen = 0;
	int rc;
	if (json) {
		if (!(w.out = open_memstream(&doc, &doclen))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		fputc('{', w.out);
		rc = walk_dir(&w, "", 0);
		fputc('\n', w.out);
		if (fclose(w.out) != 0 && rc == 0) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
		}
		if (rc == 0)
			fwrite(doc, 1, doclen, out);
		free(doc);
	} else {
		rc = walk_dir(&w, "", 0);
		if (rc == 0)
			print_text(&w, out);
	}
	for (size_t i = 0; i < w.nr_items; i++) {
		free(w.items[i].path);
		free(w.items[i].value);
	}
	free(w.items);
	return rc;
}

/* ---- a directory as a metrics source ---- */

static int dir_list(void *src, const char *dir,
		    int (*fn)(void *arg, const char *name, bool is_dir), void *arg)
{
	struct walk *w = src;
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s%s%s", w->root, *dir ? "/" : "", dir) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	struct dirent **names;
	int n = scandir(path, &names, skip_names, by_name);
	if (n < 0)
		return -errno;
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char full[PATH_MAX];
		struct stat st;
		if (rc == 0 && (size_t)snprintf(full, sizeof(full), "%s/%s", path,
						names[i]->d_name) < sizeof(full) &&
		    lstat(full, &st) == 0 && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
			rc = fn(arg, names[i]->d_name, S_ISDIR(st.st_mode));
		free(names[i]);
	}
	free(names);
	return 0;
}

static int dir_read(void *src, const char *path, char **value)
{
	struct walk *w = src;
	char full[PATH_MAX];
	size_t len;
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", w->root, path) >= sizeof(full))
		return -ENAMETOOLONG;
	int r = read_whole(w, full, path, value, &len);
	return r > 0 ? 0 : r == 0 ? -ENOENT : -EIO;
}

int stat__print_metrics(const char *dir, FILE *out, char *err, size_t errlen)
{
	struct walk w = { .root = dir, .err = err, .errlen = errlen };
	struct metrics_source src = { .list = dir_list, .read = dir_read, .src = &w };
	struct metrics_schema *schema = metrics__schema_create();
	char *text;
	size_t len;
	if (!schema) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char why[512] = "";
	int rc = metrics__build(&src, metrics__schema_tree(schema), &text, &len, why, sizeof(why));
	metrics__schema_destroy(schema);
	if (rc < 0) {
		if (!err[0]) /* dir_read left read_whole's reason there */
			snprintf(err, errlen, "%s", why);
		return -1;
	}
	fwrite(text, 1, len, out);
	free(text);
	return 0;
}

static const char stat_usage[] =
	"usage: l1vmm stat DIR [--format text|json|prometheus] [--json]\n"
	"  Print the control tree at DIR (a --sysfs mount, a copy of one, or a subtree)\n"
	"  as aligned \"path  value\" lines (text), as JSON (--json is --format json), or\n"
	"  as Prometheus metrics (the text --metrics ADDR serves at /metrics; give the\n"
	"  tree's root: a file's path names its metric).\n";

enum stat_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_PROMETHEUS };

int stat__main(int argc, char **argv)
{
	const char *dir = NULL;
	enum stat_format format = FORMAT_TEXT;
	for (int i = 0; i < argc; i++) {
		const char *f = NULL;
		if (strcmp(argv[i], "--json") == 0) {
			format = FORMAT_JSON;
		} else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
			f = argv[++i];
		} else if (strncmp(argv[i], "--format=", 9) == 0) {
			f = argv[i] + 9;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(stat_usage, stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "l1vmm stat: unknown option %s (see 'l1vmm stat --help')\n",
				argv[i]);
			return 2;
		} else if (dir) {
			fprintf(stderr, "l1vmm stat: one DIR only, got %s and %s\n", dir, argv[i]);
			return 2;
		} else {
			dir = argv[i];
		}
		if (!f)
			continue;
		if (strcmp(f, "text") == 0) {
			format = FORMAT_TEXT;
		} else if (strcmp(f, "json") == 0) {
			format = FORMAT_JSON;
		} else if (strcmp(f, "prometheus") == 0) {
			format = FORMAT_PROMETHEUS;
		} else {
			fprintf(stderr, "l1vmm stat: --format: '%s' is not text, json or prometheus\n", f);
			return 2;
		}
	}
	if (!dir) {
		fprintf(stderr, "l1vmm stat: which directory? (usage: l1vmm stat DIR "
			"[--format text|json|prometheus])\n");
		return 2;
	}
	struct stat st;
	if (stat(dir, &st) < 0) {
		fprintf(stderr, "l1vmm stat: %s: %s\n", dir, strerror(errno));
		return 2;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "l1vmm stat: %s: not a directory\n", dir);
		return 2;
	}
	char err[512] = "";
	int rc = format == FORMAT_PROMETHEUS ? stat__print_metrics(dir, stdout, err, sizeof(err))
					     : stat__print(dir, format == FORMAT_JSON, stdout, err,
							   sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "l1vmm stat: %s\n", err);
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
