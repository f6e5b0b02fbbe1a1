/* SPDX-License-Identifier: MIT */
/*
 * DOC: the sandbox: a seccomp allowlist per thread, once set-up is done.
 *
 * l1vmm opens everything it needs while it sets up (/dev/kvm, the VMs, their
 * memslots and memfds, the FUSE mount, the threads). After that each thread
 * needs only a few system calls, and a bug a guest can reach should find
 * nothing more. Each thread confines itself, with libseccomp, before its
 * steady state: the dedup scanner and the balloon policy thread when they
 * start (the shadow machine exists by then), each vCPU thread before it first
 * runs its guest, the main thread once every VM runs, and the FUSE thread as
 * soon as main tells it set-up is done (requests made while l1vmm sets up are
 * served unconfined). Filters are per thread (no TSYNC): every thread of
 * l1vmm is created during set-up and installs its own, so none runs a guest
 * unconfined. The lists are in sandbox.c and docs/design.md §11.
 * Installing a filter also sets no_new_privs, so nothing l1vmm could still
 * execute would gain privileges.
 *
 * A system call outside a thread's list raises SIGSYS (SCMP_ACT_TRAP); the
 * handler writes one line naming the thread and the call and ends l1vmm with
 * status SANDBOX_EXIT_STATUS (128 + SIGSYS, as if the kernel had killed it).
 * Nothing is cleaned up then: a --sysfs mount stays until unmounted.
 *
 * `--sandbox off` runs without filters (debugging). The environment variable
 * L1VMM_TEST_FORBIDDEN_SYSCALL=KIND (vcpu, scanner, balloon, fuse, metrics or main; 1
 * means vcpu) is a test hook: the first thread of that kind makes a forbidden
 * call (socket(2)) right after it confined itself. tests/integration uses it.
 */
#ifndef L1VMM_SANDBOX_H
#define L1VMM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SANDBOX_EXIT_STATUS 159 /* 128 + SIGSYS */

enum sandbox_thread {
	SANDBOX_MAIN,    /* supervises, stops and tears down the VMs; also the
			  * console writers and the shutdown watchdog */
	SANDBOX_VCPU,    /* runs a guest: KVM_RUN, exits, hypercalls */
	SANDBOX_SCANNER, /* dedup's scanner */
	SANDBOX_BALLOON, /* the balloon policy */
	SANDBOX_FUSE,    /* serves --sysfs */
	SANDBOX_RECLAIM, /* host reclaim: ages, evicts (userfaultfd write protection) */
	SANDBOX_FETCH,   /* ept mode's fetch threads: serve userfaultfd faults */
	SANDBOX_METRICS, /* --metrics: serves the tree over HTTP (l1vmm/metrics_http.h) */
	SANDBOX_NR_THREADS
};

struct sandbox_policy {
	bool on;
	bool ksm_writes;    /* dedup/backend=ksm: /sys/kernel/mm/ksm/ is written while running */
	bool drop_ids;      /* --user: the threads must let glibc change their ids */
	bool fork_fails;    /* not root with --sysfs: main's fork fails with EPERM instead of a
			     * kill (libfuse's unmount forks fusermount3, which no_new_privs
			     * would leave without its setuid; l1vmm/ctl_fuse.c's watcher
			     * unmounts instead) */
	uid_t uid;          /* with drop_ids */
	gid_t gid;
	size_t nr_groups;
};

/*
 * In the main thread before any other thread starts: checks the kernel can
 * trap, installs the SIGSYS handler, reads the test hook. -1 with a reason.
 */
int sandbox__prepare(const struct sandbox_policy *p, char *err, size_t errlen);
/*
 * In the thread itself: name it (shown by the SIGSYS line and in ps) and,
 * if the sandbox is on, confine it to its kind's list. A filter that cannot
 * be loaded ends l1vmm with one line and status 2.
 */
void sandbox__enter(enum sandbox_thread kind, const char *name);
/*
 * --user NAME: look NAME up and fill p's ids (before any thread starts, as
 * root). Then, once set up, sandbox__drop_ids() makes every thread NAME:
 * its groups, gid and uid (glibc changes them in every thread). -1 with a
 * reason.
 */
int sandbox__resolve_user(const char *name, struct sandbox_policy *p, char *err, size_t errlen);
int sandbox__drop_ids(char *err, size_t errlen);
/*
 * The shadow machine's memory (before any thread that may touch it enters):
 * mprotect may make it PROT_READ|PROT_WRITE|PROT_EXEC, nothing else.
 */
void sandbox__allow_rwx_remap(const void *base, size_t bytes);
/*
 * At start, sandbox or not: a crashing signal prints one line (thread, address)
 * and the stack's return addresses to stderr, then takes its default action.
 * Not in sanitizer builds, which report crashes themselves.
 */
void sandbox__report_crashes(void);

/* Main, once every VM runs: threads that wait for it may enter now. */
void sandbox__set_up_done(void);
/* sandbox__enter() if set-up is done (true), else nothing (false). For the
 * FUSE thread, which serves requests while l1vmm sets up. */
bool sandbox__enter_when_set_up(enum sandbox_thread kind, const char *name);
/* System calls a thread of this kind may make under p (for docs and tests). */
unsigned sandbox__nr_allowed(enum sandbox_thread kind, const struct sandbox_policy *p);
const char *sandbox__kind_name(enum sandbox_thread kind);

#endif
