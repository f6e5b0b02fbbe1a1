/* SPDX-License-Identifier: MIT */
/*
 * DOC: the control tree: one registry of typed entries, served as files.
 *
 * Every knob and statistic of l1vmm is one entry: a path, a type (bool,
 * integer with a range, size with a range, enum, string), flags (writable,
 * only while its owner is idle, part of the configuration), a one-line doc
 * and show/store callbacks. Modules describe their entries in a static table
 * (struct ctl_entry[]) and register that table under a directory with the
 * object it describes; the same table may be instantiated many times (the VM
 * table once per VM as vms/NAME/ with obj = that VM's struct vm_ctl).
 *
 * The tree is served three ways, all through this interface:
 *   - live, as a FUSE mount (--sysfs DIR, ctl_fuse.c);
 *   - read at start from plain files of the same layout (--config DIR,
 *     ctl_config.c), through ctl__write(), so a config file is checked by
 *     exactly the parser and range check a live write gets;
 *   - printed by `l1vmm stat DIR [--json]` (stat.c), from either.
 *
 * A write follows KSM's store pattern: parse strictly (the whole value, one
 * trailing newline allowed), range-check, and only then call store() with the
 * parsed value; store() takes its object's lock and may still refuse with
 * -EBUSY. Nothing is half-applied: store() sees a valid value or nothing.
 *
 * Every directory has a generated, read-only README: one line per entry with
 * its type, range, access and doc.
 *
 * Locking: the tree's rwlock protects its shape (nodes, names, obj
 * pointers). ctl__read/ctl__write/ctl__list/ctl__readme/ctl__stat hold it for
 * reading while they call show()/store(); ctl__register/ctl__remove hold it
 * for writing. So once ctl__remove() returns, no callback runs or will run
 * on that instance's obj, and the owner may free it. Callbacks must not call
 * back into the tree (no register/remove/read from show/store). Lock order:
 * tree lock, then any object lock a callback takes.
 */
#ifndef L1VMM_CTL_H
#define L1VMM_CTL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cpu/hybrid/hybrid.h"
#include "pvops/l1vmm_abi.h"

/* ---- the registry ---- */

enum ctl_type {
	CTL_BOOL,   /* "0" or "1" */
	CTL_INT,    /* decimal (or 0x hex) integer in [min, max]; '-' only when min < 0 */
	CTL_SIZE,   /* parse__size() bytes in [size_min, size_max], a multiple of size_align */
	CTL_ENUM,   /* exactly one of choices */
	CTL_STRING, /* printable bytes (no control characters), at most max_len of them */
	CTL_TEXT,   /* read-only reading of any shape (a statistic shown as text) */
};

enum ctl_flags {
	CTL_WRITABLE = 1u << 0, /* store() may be called; without it: read-only, EACCES */
	CTL_IDLE = 1u << 1,     /* writable only while the table's running(obj) is false (EBUSY) */
	CTL_CONFIG = 1u << 2,   /* configuration: --config applies it, `cp -r` carries it */
	CTL_REQUIRED = 1u << 3, /* a config directory must give it (CTL_CONFIG entries) */
};

/* A parsed, range-checked value as store() receives it. */
union ctl_value {
	bool b;          /* CTL_BOOL */
	int64_t i;       /* CTL_INT */
	uint64_t size;   /* CTL_SIZE: bytes */
	unsigned choice; /* CTL_ENUM: index into choices */
	const char *str; /* CTL_STRING: NUL-terminated, valid during store() only */
};

struct ctl_entry {
	const char *path;           /* relative to the table's directory: "mem", "stats/run_time" */
	enum ctl_type type;
	unsigned flags;             /* enum ctl_flags */
	const char *doc;            /* one line, no newline */
	int64_t min, max;           /* CTL_INT */
	uint64_t size_min, size_max, size_align; /* CTL_SIZE; size_align 0 = any */
	const char *const *choices; /* CTL_ENUM, NULL-terminated */
	size_t max_len;             /* CTL_STRING: bytes, without the NUL */
	uintptr_t arg;              /* free for the callbacks (one show() for many entries) */
	/*
	 * Write the current value, without a newline, into buf (len bytes,
	 * always >= CTL_VALUE_MAX). 0, or -errno.
	 */
	int (*show)(void *obj, const struct ctl_entry *e, char *buf, size_t len);
	/* Apply a checked value. 0, -EBUSY when not allowed now, or another -errno. */
	int (*store)(void *obj, const struct ctl_entry *e, const union ctl_value *v);
};

/* The longest value show() may produce, and the longest value a write may give. */
#define CTL_VALUE_MAX (L1_CMDLINE_MAX + 64)

struct ctl_table {
	const struct ctl_entry *entries;
	size_t nr_entries;
	/* For CTL_IDLE entries: true while obj is running (writes get EBUSY). NULL: never. */
	bool (*running)(void *obj);
};

#define CTL_TABLE(arr, running_fn) \
	((struct ctl_table){ .entries = (arr), .nr_entries = sizeof(arr) / sizeof((arr)[0]), \
			     .running = (running_fn) })

struct ctl_tree;

struct ctl_stat {
	bool is_dir;
	bool writable;  /* a file with CTL_WRITABLE */
	bool readme;    /* the generated README */
	size_t size;    /* files: bytes a read returns now (value + newline) */
};

/* An empty tree, or NULL when out of memory. */
struct ctl_tree *ctl__create(void);
/* Free the tree; nothing may use it any more (unmount it first). */
void ctl__destroy(struct ctl_tree *t);

/*
 * Instantiate table under directory dir ("" is the root, "vms/vm0", "host")
 * with obj. Missing directories are created. Names are [A-Za-z0-9_.-]+, not
 * "." or "..", not "README". 0; -EEXIST when a path is already taken (nothing
 * is added); -EINVAL for a bad name or a malformed table; -ENOMEM.
 */
int ctl__register(struct ctl_tree *t, const char *dir, const struct ctl_table *table,
		  void *obj);
/*
 * Remove directory dir and everything under it. When this returns, no
 * callback is running on, or will be called with, the objs registered there.
 * 0 or -ENOENT.
 */
int ctl__remove(struct ctl_tree *t, const char *dir);

/*
 * The value at path (a file or a README) with a trailing newline, as a
 * malloc'ed string in *text. 0, -ENOENT, -EISDIR, or show()'s error.
 */
int ctl__read(struct ctl_tree *t, const char *path, char **text);
/*
 * Write len bytes of text (not NUL-terminated; one trailing newline is
 * dropped) to path. 0; -ENOENT; -EISDIR; -EACCES (read-only); -EINVAL (does
 * not parse, out of range, too long); -EBUSY (not while running; nothing
 * changed); or store()'s error.
 */
int ctl__write(struct ctl_tree *t, const char *path, const char *text, size_t len);
/* What path is. 0 or -ENOENT. */
int ctl__stat(struct ctl_tree *t, const char *path, struct ctl_stat *st);
/*
 * Call fn for each name in directory path, in name order, README first. fn
 * returns nonzero to stop. 0, -ENOENT, -ENOTDIR.
 */
int ctl__list(struct ctl_tree *t, const char *path,
	      int (*fn)(void *arg, const char *name, bool is_dir), void *arg);
/* The README of directory path as a malloc'ed string. 0, -ENOENT, -ENOTDIR. */
int ctl__readme(struct ctl_tree *t, const char *path, char **text);
/*
 * The entry at path and its obj (for the config reader). Only valid while
 * the instance stays registered. 0, -ENOENT, -EISDIR.
 */
int ctl__lookup(struct ctl_tree *t, const char *path, const struct ctl_entry **e, void **obj);

/* "integer 1..255", "size 2M..64G, multiple of 4K", "auto|ept|shadow", ... */
void ctl__describe_type(const struct ctl_entry *e, char *buf, size_t len);
/*
 * Parse and range-check the NUL-terminated text (its trailing newline
 * already dropped) for e. 0 or -EINVAL. CTL_STRING values point into text.
 * ctl__write() is the way in; this is exposed for tests and tools.
 */
int ctl__parse(const struct ctl_entry *e, const char *text, union ctl_value *v);

/* ---- the FUSE mount (--sysfs DIR), ctl_fuse.c ---- */

struct ctl_mount;

/*
 * Mount t at dir (an existing directory) and serve it from a thread of its
 * own; group (or NULL) is a group name whose members may read and write it
 * too. A dead mount at dir is detached first. NULL with a one-line reason in
 * err.
 */
struct ctl_mount *ctl_fuse__mount(struct ctl_tree *t, const char *dir, const char *group,
				  char *err, size_t errlen);
/* Detach whatever is mounted at dir, lazily (umount2, else fusermount3 -u -z).
 * 0 or -1. Any thread; it frees nothing. */
int ctl_fuse__detach(const char *dir);
/* Stop serving, unmount (lazily if the mount is busy) and free m. NULL is a no-op. */
/* Set-up is done: the FUSE thread confines itself (l1vmm/sandbox.h) at once. */
void ctl_fuse__confine(struct ctl_mount *m);
void ctl_fuse__unmount(struct ctl_mount *m);

/* ---- VMs: vms/NAME/ (vm_ctl.c) ---- */

struct vm;
struct vm_config;

#define VM_CTL_NAME_MAX 31       /* bytes; struct vm holds VM_NAME_MAX (32) with the NUL */
#define VM_CTL_DOMAIN_MAX 63     /* bytes */
#define VM_CTL_NUMA_MAX 191      /* bytes: every node of 64 listed one by one */
#define VM_CTL_KERNEL_MAX (PATH_MAX - 1)
#define VM_CTL_MODULES_MAX (L1_CMDLINE_MAX - 1)

/*
 * One VM as the tree sees it: its configuration and, once created, the VM.
 * The config fields are what the next vm__create() gets; while the VM is
 * frozen (between vm_ctl__freeze() and vm_ctl__detach()) and has not ended,
 * writes to them fail with EBUSY.
 */
struct vm_ctl {
	char name[VM_CTL_NAME_MAX + 1];  /* the directory name; fixed */
	pthread_mutex_t lock;            /* protects everything below; after the tree lock */
	uint64_t mem_bytes;              /* 0 = not given (mem is required in a config dir) */
	unsigned vcpus;
	enum cpu_mode mode;              /* as requested */
	char kernel[VM_CTL_KERNEL_MAX + 1]; /* path; "" = the built-in kernel */
	char cmdline[L1_CMDLINE_MAX];
	char domain[VM_CTL_DOMAIN_MAX + 1]; /* the sharing domain's name; "" = its own */
	char disk[VM_CTL_KERNEL_MAX + 1]; /* virtio-blk backing file; "" = no disk */
	char numa_nodes[VM_CTL_NUMA_MAX + 1]; /* a node list (mmu/numa.h); "" = no binding */
	uint64_t disk_size;              /* bytes, for a disk file that must be created */
	unsigned shadow_prefetch;        /* shadow mode: entries filled per page fault (1..512) */
	unsigned cpuid_leaves;           /* 1: the CPUID instruction shows l1vmm's leaves; 0: KVM's */
	char modules[VM_CTL_MODULES_MAX + 1]; /* multiboot modules: "PATH[,STRING]" joined by ';' */
	unsigned isa_debug_exit;         /* 1: port 0xf4 gives QEMU's (V << 1) | 1 */
	uint64_t balloon_target_mb;      /* balloon/target_mb as set: applied when the VM is attached */
	uint64_t shadow_limit[3];        /* shadow/table_quota, meta_quota (0: the default for
					  * the VM's RAM), flush_rate (0: none): applied when
					  * the VM is attached, and at once while it runs */
	uint64_t reclaim_floor_mb;       /* reclaim/floor_mb: applied when attached, at once while
					  * it runs */
	uint64_t reclaim_cooperative;    /* reclaim/cooperative: 1 (default) or 0, at once */
	bool frozen;                     /* a VM is being created from, or runs with, this config */
	struct vm *vm;                   /* NULL until vm_ctl__attach() */
};

/* A new VM description with the defaults (vcpus 1, mode auto, no mem). NULL: bad name / ENOMEM. */
struct vm_ctl *vm_ctl__new(const char *name);
void vm_ctl__free(struct vm_ctl *vmc);
/* True for a valid VM name ([A-Za-z0-9_.-], 1..31 bytes, not starting with '.'). */
bool vm_ctl__valid_name(const char *name);
/* Register vmc as vms/<name>/ in t. ctl__register()'s result. */
int vm_ctl__register(struct ctl_tree *t, struct vm_ctl *vmc);
/* Remove vms/<name>/; afterwards the tree no longer touches vmc. */
void vm_ctl__unregister(struct ctl_tree *t, struct vm_ctl *vmc);
/*
 * Freeze the configuration and fill cfg's name, mem_bytes, vcpus, mode,
 * kernel_name ("built-in" when vmc->kernel is empty) and cmdline from it. The strings
 * point into vmc and stay valid until vm_ctl__detach(). The caller fills the
 * kernel image fields.
 */
void vm_ctl__freeze(struct vm_ctl *vmc, struct vm_config *cfg);
/* After vm__create() succeeded: the tree shows vm's state and stats. */
void vm_ctl__attach(struct vm_ctl *vmc, struct vm *vm);
/* Before vm__destroy() (or after vm__create() failed): forget the VM, thaw the config. */
void vm_ctl__detach(struct vm_ctl *vmc);
/* reclaim/floor_mb as set. */
uint64_t vm_ctl__reclaim_floor_mb(struct vm_ctl *vmc);
/* The VM table (vms/NAME/ entries), for the config reader. */
const struct ctl_table *vm_ctl__table(void);

/* ---- the host: host/ and log_level (host_ctl.c) ---- */

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The value of "key:" in a /proc file of "key: N kB" lines, in bytes (0: none). */
uint64_t host__proc_kb(const char *path, const char *key);
/* /proc/pressure/memory's "some avg10", percent; -1 when unknown. */
double host__psi_some_avg10(void);
/* Bytes of [hva, hva + size) the host holds in memory (mincore, in chunks). */
uint64_t host__resident_bytes(const void *hva, uint64_t size);

/* Register host/... and log_level at the root of t. ctl__register()'s result. */
int host_ctl__register(struct ctl_tree *t);
/* The current log level (any thread). */
enum log_level host_ctl__log_level(void);
void host_ctl__set_log_level(enum log_level level);
/* Count a VM in or out of host/nr_vms (vm_ctl__register/unregister do it). */
void host_ctl__count_vm(int delta);

/* ---- the config directory (--config DIR), ctl_config.c ---- */

struct ctl_config {
	struct vm_ctl **vms;  /* registered in the tree as vms/NAME/, in name order */
	size_t nr_vms;
};

/*
 * Read config directory dir into t (which has the host tables registered):
 * host-level files are written to t; each vms/NAME/ becomes a struct vm_ctl
 * registered in t. Read-only entries (statistics, README) are accepted and
 * ignored, so a `cp -r` of a live tree reads back. 0, or -1 with a one-line
 * reason naming the file in err; on error t holds no VM of dir.
 */
int ctl_config__load(struct ctl_tree *t, const char *dir, struct ctl_config *cfg,
		     char *err, size_t errlen);
/* Unregister and free cfg's VMs. */
void ctl_config__release(struct ctl_tree *t, struct ctl_config *cfg);

/* ---- l1vmm stat (stat.c) ---- */

/*
 * `l1vmm stat DIR [--format F]`: argv[0..argc) are the words after "stat".
 * Returns the exit status: 0; 1 when a file could not be read; 2 for bad
 * usage or a DIR that is not a directory.
 */
int stat__main(int argc, char **argv);
/* Print dir as aligned text or JSON to out. 0, or -1 with a reason in err. */
int stat__print(const char *dir, bool json, FILE *out, char *err, size_t errlen);
/* Print dir as Prometheus metrics (l1vmm/metrics.h). 0, or -1 with a reason in err. */
int stat__print_metrics(const char *dir, FILE *out, char *err, size_t errlen);

#endif
