/* SPDX-License-Identifier: MIT */
/*
 * DOC: --sysfs DIR: the control tree as a FUSE file system.
 *
 * libfuse3's high-level API, path based: every operation resolves its path
 * in the tree (ctl.c), so VMs that come and go show up at once (all kernel
 * caches are off: entry, attribute and negative timeouts are 0, and every
 * file is direct_io, so a read always shows the value of that moment).
 *
 * A file opened for reading gets a snapshot of its value at open; reads at
 * any offset serve that snapshot, so `cat` sees one consistent value. A
 * write at offset 0 is one whole value (ctl__write: strict parse, range
 * check, EINVAL/EBUSY/EACCES); a write at another offset is refused with
 * EINVAL, as sysfs does for a value split across writes. truncate is
 * accepted and does nothing, so `echo v > file` works.
 *
 * Permissions are the kernel's (default_permissions): files are 0644 when
 * writable, 0444 when a reading, directories 0555, owned by l1vmm's user, and
 * without allow_other nobody else may enter. With a group (--sysfs-group),
 * the tree is the group's: 0660, 0440, 0550, and allow_other lets the
 * group's members in (a non-root l1vmm needs user_allow_other in
 * /etc/fuse.conf for that); others get nothing. The mount is auto_unmount:
 * fusermount3 removes it when l1vmm dies, even by SIGKILL. A dead mount that
 * is there anyway (ENOTCONN: its server was killed with its fusermount3) is
 * detached lazily before mounting again.
 *
 * One thread serves the session with its own poll loop over /dev/fuse and a
 * stop pipe, so ctl_fuse__unmount() ends the loop without depending on the
 * kernel connection going away first; a 'c' on it makes the thread confine
 * itself (l1vmm/sandbox.h) once set-up is done. The thread blocks every signal: stop
 * signals and vCPU kicks belong to the other threads.
 */
#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "l1vmm/ctl.h"
#include "l1vmm/sandbox.h"
#include "l1vmm/thread.h"

struct ctl_mount {
	struct ctl_tree *tree;
	struct fuse *fuse;
	pthread_t thread;
	int stop[2];         /* pipe: a byte on stop[1] ends the loop */
	pid_t watcher;       /* not root: unmounts when `watch` closes (or -1) */
	int watch;           /* its pipe's write end, or -1 */
	struct timespec mounted_at;
	bool group_access;   /* --sysfs-group: the group may read and write */
	gid_t gid;           /* the files' group */
	struct snapshot *open; /* files open now (the serving thread's alone): freed at
				* unmount, when a reader still had one open */
};

extern char **environ;

/* What an open file reads; on the mount's list until released. */
struct snapshot {
	char *text;
	size_t len;
	struct snapshot *prev, *next;
};

static struct ctl_mount *mount_of_context(void)
{
	return fuse_get_context()->private_data;
}

static void *ctl_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	return mount_of_context();
}

static int ctl_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	struct ctl_mount *m = mount_of_context();
	struct ctl_stat cs;
	int rc = ctl__stat(m->tree, path, &cs);
	if (rc < 0)
		return rc;
	*st = (struct stat){
		.st_uid = getuid(), .st_gid = m->gid,
		.st_atim = m->mounted_at, .st_mtim = m->mounted_at, .st_ctim = m->mounted_at,
	};
	/* group access: the group gets the owner's rights, others none */
	mode_t dir = m->group_access ? 0550 : 0555, ro = m->group_access ? 0440 : 0444,
	       rw = m->group_access ? 0660 : 0644;
	if (cs.is_dir) {
		st->st_mode = S_IFDIR | dir;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | (cs.writable ? rw : ro);
		st->st_nlink = 1;
		st->st_size = (off_t)cs.size;
	}
	return 0;
}

struct fill {
	void *buf;
	fuse_fill_dir_t filler;
};

static int fill_one(void *arg, const char *name, bool is_dir)
{
	struct fill *f = arg;
	struct stat st = { .st_mode = is_dir ? S_IFDIR : S_IFREG };
	return f->filler(f->buf, name, &st, 0, 0);
}

static int ctl_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off, (void)fi, (void)flags;
	struct fill f = { .buf = buf, .filler = filler };
	struct stat st = { .st_mode = S_IFDIR };
	filler(buf, ".", &st, 0, 0);
	filler(buf, "..", &st, 0, 0);
	return ctl__list(mount_of_context()->tree, path, fill_one, &f);
}

static int ctl_open(const char *path, struct fuse_file_info *fi)
{
	struct ctl_mount *m = mount_of_context();
	struct ctl_stat cs;
	int rc = ctl__stat(m->tree, path, &cs);
	if (rc < 0)
		return rc;
	if (cs.is_dir)
		return -EISDIR;
	int acc = fi->flags & O_ACCMODE;
	if (acc != O_RDONLY && !cs.writable)
		return -EACCES;
	fi->direct_io = 1;
	if (acc == O_WRONLY)
		return 0;
	struct snapshot *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = ctl__read(m->tree, path, &s->text);
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->len = strlen(s->text);
	s->next = m->open;
	if (m->open)
		m->open->prev = s;
	m->open = s;
	fi->fh = (uint64_t)(uintptr_t)s;
	return 0;
}

static int ctl_read(const char *path, char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	struct snapshot *s = (struct snapshot *)(uintptr_t)fi->fh;
	if (!s)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if ((uint64_t)off >= s->len)
		return 0;
	size_t n = s->len - (size_t)off;
	if (n > size)
		n = size;
	memcpy(buf, s->text + off, n);
	return (int)n;
}

static int ctl_write(const char *path, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)fi;
	if (off != 0)
		return -EINVAL;
	if (size > CTL_VALUE_MAX + 1)
		return -EINVAL;
	int rc = ctl__write(mount_of_context()->tree, path, buf, size);
	return rc < 0 ? rc : (int)size;
}

static int ctl_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)size, (void)fi;
	struct ctl_stat cs;
	int rc = ctl__stat(mount_of_context()->tree, path, &cs);
	if (rc < 0)
		return rc;
	if (cs.is_dir)
		return -EISDIR;
	return cs.writable ? 0 : -EACCES;
}

static int ctl_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	struct snapshot *s = (struct snapshot *)(uintptr_t)fi->fh;
	if (s) {
		struct ctl_mount *m = mount_of_context();
		if (s->prev)
			s->prev->next = s->next;
		else
			m->open = s->next;
		if (s->next)
			s->next->prev = s->prev;
		free(s->text);
		free(s);
	}
	return 0;
}

/* Files a reader opened and never released: the session that would release them is gone. */
static void free_snapshots(struct ctl_mount *m)
{
	while (m->open) {
		struct snapshot *s = m->open;
		m->open = s->next;
		free(s->text);
		free(s);
	}
}

static const struct fuse_operations ctl_ops = {
	.init = ctl_init,
	.getattr = ctl_getattr,
	.readdir = ctl_readdir,
	.open = ctl_open,
	.read = ctl_read,
	.write = ctl_write,
	.truncate = ctl_truncate,
	.release = ctl_release,
};

static void *serve(void *arg)
{
	struct ctl_mount *m = arg;
	bool confined = false;
	struct fuse_session *se = fuse_get_session(m->fuse);
	struct fuse_buf fbuf = { .mem = NULL };
	while (!fuse_session_exited(se)) {
		struct pollfd p[2] = {
			{ .fd = fuse_session_fd(se), .events = POLLIN },
			{ .fd = m->stop[0], .events = POLLIN },
		};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			char c = 'x';
			if (read(m->stop[0], &c, 1) == 1 && c == 'c' && !confined) {
				confined = sandbox__enter_when_set_up(SANDBOX_FUSE, "fuse");
				continue;
			}
			break;
		}
		int rc = fuse_session_receive_buf(se, &fbuf);
		if (rc == -EINTR || rc == -EAGAIN)
			continue;
		if (rc <= 0) /* 0: unmounted from outside; <0: the connection failed */
			break;
		if (!confined) /* requests made while l1vmm sets up are served unconfined */
			confined = sandbox__enter_when_set_up(SANDBOX_FUSE, "fuse");
		fuse_session_process_buf(se, &fbuf);
	}
	free(fbuf.mem);
	return NULL;
}

int ctl_fuse__detach(const char *dir)
{
	if (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		return 0;
	/* not root: the setuid helper may detach a mount of our own user */
	char prog[] = "fusermount3", u[] = "-u", z[] = "-z", end[] = "--";
	char *const argv[] = { prog, u, z, end, (char *)dir, NULL };
	pid_t pid;
	int status;
	if (posix_spawnp(&pid, prog, NULL, NULL, argv, environ) != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* A mount whose server died answers ENOTCONN: detach it, or say how. */
static int clear_dead_mount(const char *dir, struct stat *st, char *err, size_t errlen)
{
	if (stat(dir, st) == 0 || errno != ENOTCONN)
		return 0;
	if (ctl_fuse__detach(dir) < 0 || stat(dir, st) < 0) {
		snprintf(err, errlen, "--sysfs %s: a dead mount left by a killed l1vmm is there and "
			 "cannot be removed; run: fusermount3 -u -z %s", dir, dir);
		return -1;
	}
	fprintf(stderr, "l1vmm: --sysfs %s: removed a dead mount left by a killed l1vmm\n", dir);
	return 0;
}

/*
 * Not root: the unmount needs fusermount3's setuid, which no_new_privs (the
 * sandbox) takes away, so a child forked before any of that runs it when
 * l1vmm's end of a pipe closes: at the end, or when l1vmm dies.
 */
static int start_watcher(struct ctl_mount *m, const char *dir)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		char c;
		ssize_t n;
		do
			n = read(p[0], &c, 1);
		while (n > 0 || (n < 0 && errno == EINTR));
		execlp("fusermount3", "fusermount3", "-u", "-q", "-z", "--", dir, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return -1;
	}
	m->watcher = pid;
	m->watch = p[1];
	return 0;
}

/* The watcher unmounts (if mounted) and ends. */
static void stop_watcher(struct ctl_mount *m)
{
	if (m->watcher < 0)
		return;
	close(m->watch);
	while (waitpid(m->watcher, NULL, 0) < 0 && errno == EINTR)
		;
	m->watcher = m->watch = -1;
}

struct ctl_mount *ctl_fuse__mount(struct ctl_tree *t, const char *dir, const char *group,
				  char *err, size_t errlen)
{
	struct stat st;
	if (clear_dead_mount(dir, &st, err, errlen) < 0)
		return NULL;
	gid_t gid = getgid();
	if (group) {
		struct group *gr = getgrnam(group);
		if (!gr) {
			snprintf(err, errlen, "--sysfs-group %s: no such group", group);
			return NULL;
		}
		gid = gr->gr_gid;
	}
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "--sysfs %s: %s%s", dir, strerror(errno),
			 errno == ENOENT ? " (create the directory first)" : "");
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--sysfs %s: not a directory", dir);
		return NULL;
	}
	struct ctl_mount *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "--sysfs %s: out of memory", dir);
		return NULL;
	}
	m->tree = t;
	m->group_access = group != NULL;
	m->gid = gid;
	m->stop[0] = m->stop[1] = -1;
	m->watcher = m->watch = -1;
	clock_gettime(CLOCK_REALTIME, &m->mounted_at);
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	if (fuse_opt_add_arg(&args, "l1vmm") || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, "fsname=l1vmm,subtype=l1vmm,default_permissions,auto_unmount") ||
	    (group && (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, "allow_other"))) ||
	    pipe2(m->stop, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "--sysfs %s: out of resources", dir);
		goto fail;
	}
	m->fuse = fuse_new(&args, &ctl_ops, sizeof(ctl_ops), m);
	if (!m->fuse) {
		snprintf(err, errlen, "--sysfs %s: cannot set up FUSE (libfuse3)", dir);
		goto fail;
	}
	if (geteuid() != 0 && start_watcher(m, dir) < 0) {
		snprintf(err, errlen, "--sysfs %s: cannot start the unmount watcher: %s", dir,
			 strerror(errno));
		goto fail;
	}
	if (fuse_mount(m->fuse, dir) != 0) {
		snprintf(err, errlen,
			 "--sysfs %s: cannot mount the control tree (needs /dev/fuse and "
			 "fusermount3%s)", dir, group && getuid() != 0 ?
			 "; --sysfs-group needs user_allow_other in /etc/fuse.conf" : "");
		goto fail;
	}
	int rc = thread__create_quiet(&m->thread, serve, m, 0); /* signals stay with main */
	if (rc != 0) {
		fuse_unmount(m->fuse);
		snprintf(err, errlen, "--sysfs %s: cannot start the FUSE thread: %s", dir,
			 strerror(rc));
		goto fail;
	}
	fuse_opt_free_args(&args);
	return m;
fail:
	fuse_opt_free_args(&args);
	if (m->fuse)
		fuse_destroy(m->fuse);
	free_snapshots(m);
	stop_watcher(m);
	if (m->stop[0] >= 0) {
		close(m->stop[0]);
		close(m->stop[1]);
	}
	free(m);
	return NULL;
}

/* One byte to the FUSE thread: 'c' confine yourself, 'x' stop. */
static void tell_thread(struct ctl_mount *m, char c)
{
	ssize_t n;
	do
		n = write(m->stop[1], &c, 1);
	while (n < 0 && errno == EINTR);
}

void ctl_fuse__confine(struct ctl_mount *m)
{
	if (m)
		tell_thread(m, 'c');
}

void ctl_fuse__unmount(struct ctl_mount *m)
{
	if (!m)
		return;
	tell_thread(m, 'x');
	pthread_join(m->thread, NULL);
	fuse_unmount(m->fuse); /* not root: its fork fails (l1vmm/sandbox.h), the watcher unmounts */
	fuse_destroy(m->fuse);
	free_snapshots(m);
	stop_watcher(m);
	close(m->stop[0]);
	close(m->stop[1]);
	free(m);
}
