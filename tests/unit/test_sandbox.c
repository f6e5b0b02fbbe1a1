/* SPDX-License-Identifier: MIT */
/*
 * The sandbox's filters (l1vmm/sandbox.h), without KVM: a forked child
 * confines itself as one kind of thread and tries calls its list allows or
 * forbids; a forbidden one must end it with status 159 and the one line.
 */
#include "cmocka_all.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "l1vmm/sandbox.h"

enum attempt { SOCKET, OPEN_READ, OPEN_WRITE, MAP_EXEC, MAP_DATA, TIMER };

/* Status of a child that confined itself as kind and made the attempt; its
 * stderr in line. */
static int child_status(enum sandbox_thread kind, enum attempt what, char *line, size_t len)
{
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		struct sandbox_policy p = { .on = true };
		char err[256];
		if (sandbox__prepare(&p, err, sizeof(err)) < 0)
			_exit(90);
		sandbox__enter(kind, "probe");
		int ok = 0;
		switch (what) {
		case SOCKET:
			ok = socket(AF_INET, SOCK_STREAM, 0) >= 0;
			break;
		case OPEN_READ:
			ok = open("/proc/meminfo", O_RDONLY | O_CLOEXEC) >= 0;
			break;
		case OPEN_WRITE:
			ok = open("/proc/self/comm", O_WRONLY | O_CLOEXEC) >= 0;
			break;
		case MAP_EXEC:
			ok = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				  0) != MAP_FAILED;
			break;
		case MAP_DATA:
			ok = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				  0) != MAP_FAILED;
			break;
		case TIMER: {
			timer_t t;
			struct sigevent ev = { .sigev_notify = SIGEV_NONE };
			ok = timer_create(CLOCK_MONOTONIC, &ev, &t) == 0;
			break;
		}
		}
		_exit(ok ? 0 : 91);
	}
	close(pipefd[1]);
	ssize_t n = read(pipefd[0], line, len - 1);
	line[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void forbidden_call_ends_with_one_line(void **state)
{
	(void)state;
	char line[512];
	for (int k = 0; k < SANDBOX_NR_THREADS; k++) {
		assert_int_equal(child_status(k, SOCKET, line, sizeof(line)), SANDBOX_EXIT_STATUS);
		assert_non_null(strstr(line, "l1vmm: sandbox: thread 'probe' made system call 41 "
					     "(socket), which its allowlist forbids"));
		assert_int_equal(strchr(line, '\n') - line + 1, (long)strlen(line)); /* one line */
	}
}

static void lists_differ_by_kind(void **state)
{
	(void)state;
	char line[512];
	/* the balloon policy reads /proc */
	assert_int_equal(child_status(SANDBOX_BALLOON, OPEN_READ, line, sizeof(line)), 0);
	/* shadow mode's timer: vCPU threads only */
	assert_int_equal(child_status(SANDBOX_VCPU, TIMER, line, sizeof(line)), 0);
	assert_int_equal(child_status(SANDBOX_SCANNER, TIMER, line, sizeof(line)),
			 SANDBOX_EXIT_STATUS);
	assert_int_equal(child_status(SANDBOX_VCPU, MAP_DATA, line, sizeof(line)), 0);
#if !defined(__SANITIZE_ADDRESS__) /* the sanitizers' list allows these */
	/* a vCPU reads no files */
	assert_int_equal(child_status(SANDBOX_VCPU, OPEN_READ, line, sizeof(line)),
			 SANDBOX_EXIT_STATUS);
	assert_non_null(strstr(line, "(openat)"));
	assert_int_equal(child_status(SANDBOX_FUSE, OPEN_WRITE, line, sizeof(line)),
			 SANDBOX_EXIT_STATUS);
	assert_int_equal(child_status(SANDBOX_MAIN, MAP_EXEC, line, sizeof(line)),
			 SANDBOX_EXIT_STATUS);
	assert_non_null(strstr(line, "(mmap)"));
#endif
}

/* docs/design.md §11's table: how many calls each kind may make. */
static void documented_counts(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* the sanitizers' list adds its own */
#endif
	struct sandbox_policy p = { .on = true };
	assert_int_equal(sandbox__nr_allowed(SANDBOX_VCPU, &p), 35);
	assert_int_equal(sandbox__nr_allowed(SANDBOX_SCANNER, &p), 36);
	assert_int_equal(sandbox__nr_allowed(SANDBOX_BALLOON, &p), 33);
	assert_int_equal(sandbox__nr_allowed(SANDBOX_FUSE, &p), 40);
	assert_int_equal(sandbox__nr_allowed(SANDBOX_MAIN, &p), 43);
	assert_int_equal(sandbox__nr_allowed(SANDBOX_RECLAIM, &p), 34);
	assert_int_equal(sandbox__nr_allowed(SANDBOX_FETCH, &p), 33);
	assert_int_equal(sandbox__nr_allowed(SANDBOX_METRICS, &p), 44);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forbidden_call_ends_with_one_line),
		cmocka_unit_test(lists_differ_by_kind),
		cmocka_unit_test(documented_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
