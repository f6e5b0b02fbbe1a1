/* SPDX-License-Identifier: MIT */
#include "l1vmm/sandbox.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define MAX_SYSCALL_NR 512  /* names kept for the SIGSYS line */
#define THREAD_NAME_MAX 32
#define KVMIO_TYPE 0xAE00   /* _IOC_TYPE(cmd) == KVMIO: every KVM ioctl */

#define M (1u << SANDBOX_MAIN)
#define V (1u << SANDBOX_VCPU)
#define S (1u << SANDBOX_SCANNER)
#define B (1u << SANDBOX_BALLOON)
#define F (1u << SANDBOX_FUSE)
#define R (1u << SANDBOX_RECLAIM)
#define U (1u << SANDBOX_FETCH)
#define P (1u << SANDBOX_METRICS)
#define ALL (M | V | S | B | F | R | U | P)
#define UFFDIO_TYPE 0xAA00  /* _IOC_TYPE(cmd) == UFFDIO: every userfaultfd ioctl */

/* What a rule checks of the arguments. */
enum arg_rule {
	ANY,
	NO_EXEC,     /* mmap, mprotect: no PROT_EXEC */
	OWN_PID,     /* tgkill: signals to l1vmm's own threads only */
	KVM_IOCTL,   /* ioctl: KVM's requests (and TCGETS, which stdio asks once) */
	UFFD_IOCTL,  /* ioctl: userfaultfd's requests */
	READ_ONLY,   /* openat: no write access, no create, no truncate */
	EMPTY_PATH,  /* newfstatat: fstat of an open fd only */
	SAME_ID,     /* setresuid/setresgid: the --user ids, all three */
	NR_GROUPS,   /* setgroups: the --user group count */
	SHARES_VM,   /* clone: of a task sharing l1vmm's memory (not a fork) */
};

struct allow {
	const char *name;
	unsigned kinds;
	enum arg_rule rule;
};

/*
 * The allowlists, from strace -f of both modes with dedup (l1vmm and ksm
 * backends), both balloons under balloon/policy=auto, --sysfs read and
 * written, and the end of the run (docs/design.md §11 lists them).
 */
static const struct allow allowlist[] = {
	/* every thread: locks, time, its memory, log lines, stdio, its end */
	{ "futex", ALL, ANY }, { "write", ALL, ANY }, { "writev", ALL, ANY },
	{ "clock_gettime", ALL, ANY }, { "clock_nanosleep", ALL, ANY }, { "nanosleep", ALL, ANY },
	{ "gettid", ALL, ANY }, { "getpid", ALL, ANY }, { "rt_sigreturn", ALL, ANY },
	{ "rt_sigprocmask", ALL, ANY }, { "sched_yield", ALL, ANY },
	{ "restart_syscall", ALL, ANY }, { "exit", ALL, ANY }, { "exit_group", ALL, ANY },
	{ "brk", ALL, ANY }, { "mmap", ALL, NO_EXEC }, { "mprotect", ALL, NO_EXEC },
	{ "munmap", ALL, ANY }, { "mremap", ALL, ANY }, { "madvise", ALL, ANY },
	/* shadow sharing's batched discards of own frames (mmu/shadow/share.c),
	 * on l1vmm itself (PIDFD_SELF; no thread can open another pidfd) */
	{ "process_madvise", S, ANY },
	{ "close", ALL, ANY }, { "fstat", ALL, ANY },
	{ "newfstatat", V | S | B | F | R | U | P, EMPTY_PATH },
	{ "tgkill", ALL, OWN_PID }, { "getrandom", ALL, ANY }, { "sysinfo", ALL, ANY },
	/* guest memory and KVM: exits, dirty logs, interrupts, memslots,
	 * stored copies (a memfd: grown, holes punched), residency */
	{ "ioctl", ALL, KVM_IOCTL }, { "fallocate", ALL, ANY }, { "mincore", ALL, ANY },
	{ "ftruncate", M | S, ANY },
	/* the ept sharing backend's copy store, made when sharing first runs
	 * (dedup/run written in the tree: the FUSE thread) */
	{ "memfd_create", M | F, ANY },
	/* host reclaim: userfaultfd on ept guest RAM (registration, write
	 * protection, copies, wakes; a vCPU's copy: the zeroed page of a frame
	 * its guest hinted L1_DP_ZEROED), its messages, the store's swap file */
	{ "ioctl", M | R | U | V, UFFD_IOCTL }, { "poll", U, ANY }, { "ppoll", U, ANY },
	{ "read", U, ANY }, { "pwrite64", R, ANY }, { "pread64", V | U, ANY },
	/* a VM's disk: virtio-blk requests are served on the notifying vCPU's
	 * thread (l1vmm/blk_host.h); its reads are the pread64 above */
	{ "pwrite64", V, ANY }, { "fdatasync", V, ANY },
	/* page sharing's stored copies placed on their users' NUMA node
	 * (mmu/numa.h: numa__copy_on, around the copy's first touch) */
	{ "set_mempolicy", S, ANY },
	/* shadow mode's per-vCPU timer */
	{ "timer_create", V, ANY }, { "timer_settime", V, ANY }, { "timer_delete", V, ANY },
	/* reading /proc (meminfo, PSI, pagemap, statm) and /sys/kernel/mm/ksm */
	{ "openat", M | S | B | F | R | P, READ_ONLY }, { "read", M | S | B | F | R | P, ANY },
	{ "pread64", M | S | B | F | R | P, ANY }, { "lseek", M | S | B | F | R | P, ANY },
	{ "getdents64", M | F, ANY },
	/* the FUSE session, and its unmount at the end */
	{ "poll", M | F, ANY }, { "ppoll", M | F, ANY }, { "getuid", M | F, ANY },
	{ "getgid", M | F, ANY }, { "geteuid", M | F, ANY }, { "umount2", M, ANY },
	{ "wait4", M, ANY }, /* not root: the unmount watcher (l1vmm/ctl_fuse.c) */
	{ "newfstatat", M, ANY },
	/* --metrics: libmicrohttpd on the sockets it was given (no socket(2), no
	 * bind, no connect): its epoll set, accepted connections, their options */
	{ "poll", P, ANY }, { "ppoll", P, ANY }, { "epoll_wait", P, ANY }, { "epoll_pwait", P, ANY },
	{ "epoll_ctl", P, ANY }, { "accept4", P, ANY }, { "recvfrom", P, ANY },
	{ "sendto", P, ANY }, { "sendmsg", P, ANY }, { "shutdown", P, ANY },
	{ "setsockopt", P, ANY },
};

/* dedup/backend=ksm: KSM's knobs are written while running and put back at the
 * end, and the file of KSM's own values (dedup/ksm.c) is removed then. */
static const struct allow ksm_writes[] = { { "openat", M | F, ANY }, { "unlink", M, ANY } };

/* --user: glibc makes every thread change its ids (setxid), to these only. */
static const struct allow drop_ids[] = {
	{ "setresuid", ALL, SAME_ID }, { "setresgid", ALL, SAME_ID }, { "setgroups", ALL, NR_GROUPS },
};

#if defined(__SANITIZE_ADDRESS__)
/*
 * ASan+UBSan builds: a report reads /proc/self/maps and symbolizes, and the
 * leak check at exit stops the world from a cloned task it ptraces. Only
 * these builds allow them (docs/design.md §11).
 */
static const struct allow sanitizer[] = {
	{ "open", ALL, ANY }, { "openat", ALL, ANY }, { "read", ALL, ANY }, { "readlink", ALL, ANY },
	{ "getdents", ALL, ANY }, { "getdents64", ALL, ANY }, { "newfstatat", ALL, ANY },
	{ "lseek", ALL, ANY },
	{ "clone", ALL, SHARES_VM }, { "ptrace", ALL, ANY }, { "wait4", ALL, ANY },
	{ "prctl", ALL, ANY }, { "sigaltstack", ALL, ANY }, { "rt_sigaction", ALL, ANY },
	{ "sched_getaffinity", ALL, ANY }, { "getppid", ALL, ANY }, { "pipe2", ALL, ANY },
	{ "dup2", ALL, ANY }, { "execve", ALL, ANY }, { "kill", ALL, ANY }, { "fcntl", ALL, ANY },
	{ "mmap", ALL, ANY }, { "mprotect", ALL, ANY },
};
#define SANITIZER_LIST sanitizer, sizeof(sanitizer) / sizeof(sanitizer[0])
#endif

static const char *const kind_names[SANDBOX_NR_THREADS] = {
	[SANDBOX_MAIN] = "main", [SANDBOX_VCPU] = "vcpu", [SANDBOX_SCANNER] = "scanner",
	[SANDBOX_BALLOON] = "balloon", [SANDBOX_FUSE] = "fuse", [SANDBOX_RECLAIM] = "reclaim",
	[SANDBOX_FETCH] = "fetch", [SANDBOX_METRICS] = "metrics",
};

static struct sandbox_policy policy;
static pid_t own_pid;
static char *syscall_names[MAX_SYSCALL_NR];
static int test_kind = -1;     /* L1VMM_TEST_FORBIDDEN_SYSCALL */
static int test_fired;
static int set_up_done;
static uint64_t rwx_lo, rwx_hi; /* the shadow machine's memory */
static _Thread_local char thread_name[THREAD_NAME_MAX] = "unnamed";

const char *sandbox__kind_name(enum sandbox_thread kind)
{
	return kind < SANDBOX_NR_THREADS ? kind_names[kind] : "?";
}

/* ---- the SIGSYS line: async-signal-safe, no stdio ---- */

static size_t put_str(char *buf, size_t at, size_t len, const char *s)
{
	while (*s && at + 1 < len)
		buf[at++] = *s++;
	buf[at] = '\0';
	return at;
}

static size_t put_uint(char *buf, size_t at, size_t len, unsigned long v)
{
	char digits[24];
	int n = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(digits));
	while (n > 0 && at + 1 < len)
		buf[at++] = digits[--n];
	buf[at] = '\0';
	return at;
}

static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	(void)sig;
	(void)uctx;
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < MAX_SYSCALL_NR && syscall_names[nr] ?
			   syscall_names[nr] : "unknown";
	char line[256];
	size_t at = put_str(line, 0, sizeof(line), "l1vmm: sandbox: thread '");
	at = put_str(line, at, sizeof(line), thread_name);
	at = put_str(line, at, sizeof(line), "' made system call ");
	at = put_uint(line, at, sizeof(line), (unsigned long)nr);
	at = put_str(line, at, sizeof(line), " (");
	at = put_str(line, at, sizeof(line), name);
	at = put_str(line, at, sizeof(line), "), which its allowlist forbids; l1vmm stops "
		     "(status 159; --sandbox=off runs without the sandbox)\n");
	ssize_t n = write(STDERR_FILENO, line, at);
	(void)n;
	_exit(SANDBOX_EXIT_STATUS);
}

#if !defined(__SANITIZE_ADDRESS__) /* ASan has its own report */
/*
 * A crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE) leaves one line naming the thread
 * and the faulting address, and the return addresses of its stack, before the
 * default action (the same status, and a core where enabled). Async-signal
 * safe but for backtrace(), loaded at set-up.
 */
static void on_crash(int sig, siginfo_t *si, void *uctx)
{
	(void)uctx;
	char line[256];
	size_t at = put_str(line, 0, sizeof(line), "l1vmm: internal error: signal ");
	at = put_uint(line, at, sizeof(line), (unsigned long)sig);
	at = put_str(line, at, sizeof(line), " in thread '");
	at = put_str(line, at, sizeof(line), thread_name);
	at = put_str(line, at, sizeof(line), "' at address ");
	at = put_uint(line, at, sizeof(line), (unsigned long)(uintptr_t)si->si_addr);
	at = put_str(line, at, sizeof(line), "; its stack:\n");
	ssize_t n = write(STDERR_FILENO, line, at);
	(void)n;
	void *pcs[32];
	backtrace_symbols_fd(pcs, backtrace(pcs, 32), STDERR_FILENO);
	raise(sig); /* SA_RESETHAND put the default action back; SA_NODEFER lets it in now */
}
#endif

void sandbox__report_crashes(void)
{
#if !defined(__SANITIZE_ADDRESS__)
	void *pc;
	backtrace(&pc, 1); /* loads what backtrace() needs now, not in the handler */
	struct sigaction sa = { .sa_sigaction = on_crash, .sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER };
	sigemptyset(&sa.sa_mask);
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
#endif
}

/* ---- building a thread's filter ---- */

/*
 * mprotect(PROT_READ|PROT_WRITE|PROT_EXEC) inside the shadow machine's memory
 * only: the round trip that makes KVM forget a frame (mmu/shadow/machine.c).
 * seccomp compares an argument once per rule, so [lo, hi) becomes one rule
 * per aligned power-of-two block (at most two per address bit).
 */
static int add_rwx_range(scmp_filter_ctx ctx, int nr)
{
	for (uint64_t at = rwx_lo; at < rwx_hi;) {
		uint64_t block = at ? at & -at : 1ull << 62;
		while (block > rwx_hi - at)
			block >>= 1;
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 2,
					  SCMP_A0(SCMP_CMP_MASKED_EQ, ~(block - 1), at),
					  SCMP_A2(SCMP_CMP_EQ, PROT_READ | PROT_WRITE | PROT_EXEC, 0));
		if (rc)
			return rc;
		at += block;
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct allow *a)
{
	int nr = seccomp_syscall_resolve_name(a->name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a system call on this architecture */
	switch (a->rule) {
	case NO_EXEC: {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
		return rc || strcmp(a->name, "mprotect") ? rc : add_rwx_range(ctx, nr);
	}
	case OWN_PID:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)own_pid, 0));
	case KVM_IOCTL: {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, KVMIO_TYPE));
		return rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
						  SCMP_A1(SCMP_CMP_EQ, TCGETS, 0));
	}
	case UFFD_IOCTL:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, UFFDIO_TYPE));
	case READ_ONLY:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, 0));
	case EMPTY_PATH:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_A3(SCMP_CMP_EQ, AT_EMPTY_PATH, 0));
	case SAME_ID: {
		scmp_datum_t id = strcmp(a->name, "setresuid") == 0 ? policy.uid : policy.gid;
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 3, SCMP_A0(SCMP_CMP_EQ, id, 0),
					SCMP_A1(SCMP_CMP_EQ, id, 0), SCMP_A2(SCMP_CMP_EQ, id, 0));
	}
	case SHARES_VM:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_VM, CLONE_VM));
	case NR_GROUPS:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)policy.nr_groups, 0));
	case ANY:
	default:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
}

/* Calls fn for every rule that applies to kind under p. */
static int for_each_rule(enum sandbox_thread kind, const struct sandbox_policy *p,
			 int (*fn)(void *arg, const struct allow *a), void *arg)
{
	const struct { const struct allow *list; size_t n; bool on; } lists[] = {
		{ allowlist, sizeof(allowlist) / sizeof(allowlist[0]), true },
		{ ksm_writes, sizeof(ksm_writes) / sizeof(ksm_writes[0]), p->ksm_writes },
		{ drop_ids, sizeof(drop_ids) / sizeof(drop_ids[0]), p->drop_ids },
#if defined(__SANITIZE_ADDRESS__)
		{ SANITIZER_LIST, true },
#endif
	};
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
		for (size_t i = 0; lists[l].on && i < lists[l].n; i++)
			if (lists[l].list[i].kinds & (1u << kind)) {
				int rc = fn(arg, &lists[l].list[i]);
				if (rc)
					return rc;
			}
	return 0;
}

static int add_to_ctx(void *ctx, const struct allow *a)
{
	return add_rule(ctx, a);
}

struct name_count {
	const char *seen[128];
	unsigned n;
};

static int count_name(void *arg, const struct allow *a)
{
	struct name_count *c = arg;
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->seen[i], a->name) == 0)
			return 0;
	if (c->n < sizeof(c->seen) / sizeof(c->seen[0]))
		c->seen[c->n++] = a->name;
	return 0;
}

unsigned sandbox__nr_allowed(enum sandbox_thread kind, const struct sandbox_policy *p)
{
	struct name_count c = { .n = 0 };
	for_each_rule(kind, p, count_name, &c);
	return c.n;
}

/* ---- --user ---- */

#define MAX_GROUPS 64
static gid_t user_groups[MAX_GROUPS];

int sandbox__resolve_user(const char *name, struct sandbox_policy *p, char *err, size_t errlen)
{
	if (geteuid() != 0) {
		snprintf(err, errlen, "--user %.40s: l1vmm must be started as root to change user "
			 "(an unprivileged user runs it directly: README, Running unprivileged)", name);
		return -1;
	}
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		snprintf(err, errlen, "--user %.40s: no such user", name);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "--user %.40s: is root; name an unprivileged user", name);
		return -1;
	}
	int n = MAX_GROUPS;
	if (getgrouplist(name, pw->pw_gid, user_groups, &n) < 0) {
		snprintf(err, errlen, "--user %.40s: in more than %d groups", name, MAX_GROUPS);
		return -1;
	}
	p->drop_ids = true;
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	p->nr_groups = (size_t)n;
	return 0;
}

int sandbox__drop_ids(char *err, size_t errlen)
{
	if (!policy.drop_ids)
		return 0;
	if (setgroups(policy.nr_groups, user_groups) < 0 ||
	    setresgid(policy.gid, policy.gid, policy.gid) < 0 ||
	    setresuid(policy.uid, policy.uid, policy.uid) < 0) {
		snprintf(err, errlen, "--user: cannot change to uid %u gid %u: %s",
			 (unsigned)policy.uid, (unsigned)policy.gid, strerror(errno));
		return -1;
	}
	/* this thread alone (glibc would ask every thread, whose filters refuse it) */
	if (syscall(SYS_setresuid, 0, 0, 0) == 0) {
		snprintf(err, errlen, "--user: could become root again after dropping");
		return -1;
	}
	return 0;
}

/* ---- set-up and entry ---- */

int sandbox__prepare(const struct sandbox_policy *p, char *err, size_t errlen)
{
	policy = *p;
	own_pid = getpid();
	if (!p->on)
		return 0;
	if (seccomp_api_get() < 1) {
		snprintf(err, errlen, "sandbox: this kernel has no seccomp filters (run with "
			 "--sandbox=off to go without)");
		return -1;
	}
	for (int nr = 0; nr < MAX_SYSCALL_NR; nr++)
		syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(err, errlen, "sandbox: cannot handle SIGSYS: %s", strerror(errno));
		return -1;
	}
	const char *t = getenv("L1VMM_TEST_FORBIDDEN_SYSCALL");
	if (t && *t) {
		test_kind = strcmp(t, "1") == 0 ? SANDBOX_VCPU : -1;
		for (int k = 0; k < SANDBOX_NR_THREADS; k++)
			if (strcmp(t, kind_names[k]) == 0)
				test_kind = k;
		if (test_kind < 0) {
			snprintf(err, errlen, "L1VMM_TEST_FORBIDDEN_SYSCALL=%.40s: expected 1, main, "
				 "vcpu, scanner, balloon, fuse or metrics", t);
			return -1;
		}
	}
	return 0;
}

void sandbox__allow_rwx_remap(const void *base, size_t bytes)
{
	rwx_lo = (uintptr_t)base;
	rwx_hi = rwx_lo + bytes;
}

void sandbox__set_up_done(void)
{
	__atomic_store_n(&set_up_done, 1, __ATOMIC_RELEASE);
}

bool sandbox__enter_when_set_up(enum sandbox_thread kind, const char *name)
{
	if (!__atomic_load_n(&set_up_done, __ATOMIC_ACQUIRE))
		return false;
	sandbox__enter(kind, name);
	return true;
}

static void fail_enter(const char *why)
{
	fprintf(stderr, "l1vmm: sandbox: cannot confine thread '%s': %s (run with "
		"--sandbox=off to go without)\n", thread_name, why);
	_exit(EXIT_USAGE);
}

void sandbox__enter(enum sandbox_thread kind, const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
	char comm[16];
	snprintf(comm, sizeof(comm), "l1-%s", name);
	pthread_setname_np(pthread_self(), comm);
	if (!policy.on)
		return;
	/* a blocked SIGSYS would kill without the line: the kernel forces it */
	sigset_t sys;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	/* one thread at a time in libseccomp, whose thread safety is not documented */
	static pthread_mutex_t building = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&building);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		fail_enter("out of memory");
	int rc = for_each_rule(kind, &policy, add_to_ctx, ctx);
	if (rc == 0 && kind == SANDBOX_MAIN && policy.fork_fails)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
	if (rc == 0)
		rc = seccomp_load(ctx); /* sets no_new_privs first */
	seccomp_release(ctx);
	pthread_mutex_unlock(&building);
	if (rc)
		fail_enter(strerror(-rc));
	/* main's list is also the console writers' and the watchdog's; the
	 * hook's "main" is the main thread itself */
	bool hooked = (int)kind == test_kind && (kind != SANDBOX_MAIN || strcmp(name, "main") == 0);
	if (hooked && !__atomic_exchange_n(&test_fired, 1, __ATOMIC_RELAXED))
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); /* the test hook: never returns */
}
