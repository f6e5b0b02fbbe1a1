/* SPDX-License-Identifier: MIT */
/*
 * DOC: l1vmm's entry point: the command dispatcher.
 *
 * Exit status (README): the guest's exit code (low 8 bits of the 32-bit value
 * it wrote) on an orderly exit; 2 for usage and configuration errors; 3 when
 * the guest crashed; 124 when --timeout expired; 128+N when stopped by
 * signal N; 159 when the sandbox stopped it (l1vmm/sandbox.h). With several VMs: 0 if all exited 0, else the first non-zero.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l1vmm/bench.h"
#include "l1vmm/ctl.h"
#include "l1vmm/host.h"
#include "l1vmm/options.h"
#include "l1vmm_version.h" /* generated at build time (l1vmm/version.cmake) */

#define EXIT_USAGE 2

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static void install_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void usage(FILE *out)
{
	fprintf(out, "l1vmm: a hybrid VMM for memory-overcommitted hosts\n"
		     "usage: l1vmm run [OPTIONS] [KERNEL] [-- GUEST-CMDLINE...]  one VM\n"
		     "       l1vmm run [OPTIONS] --vm SPEC [--vm SPEC...]        several VMs\n"
		     "       l1vmm run [OPTIONS] --config DIR                    a config directory's VMs\n"
		     "       l1vmm stat DIR [--format text|json|prometheus]      print a control tree\n"
		     "       l1vmm bench SCENARIO [--out DIR]                    a memory-pressure benchmark\n"
		     "       l1vmm help [run|stat|bench]                         this, or a command's options\n"
		     "       l1vmm --version                                     version and build\n"
		     "Exit status: the guest's own; 2 usage or configuration error; 3 the guest\n"
		     "crashed; 124 --timeout; 128+N stopped by signal N; 159 stopped by the sandbox.\n"
		     "Everything else: man l1vmm, and README.md.\n");
}

/* `l1vmm help [COMMAND]`. */
static int cmd_help(int argc, char *argv[])
{
	if (argc == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[0], "run") == 0) {
		fputs(options__run_usage, stdout);
		return 0;
	}
	if (strcmp(argv[0], "bench") == 0) {
		char help[] = "--help";
		return bench__main(1, (char *[]){ help, NULL });
	}
	if (strcmp(argv[0], "stat") == 0) {
		char help[] = "--help";
		return stat__main(1, (char *[]){ help, NULL });
	}
	fprintf(stderr, "l1vmm: help: unknown command '%s' (commands: run, stat, bench)\n", argv[0]);
	return EXIT_USAGE;
}

static int cmd_version(void)
{
	printf("l1vmm %s%s%s%s\n", L1VMM_VERSION, L1VMM_GIT_DESCRIBE[0] ? " (git " : "",
	       L1VMM_GIT_DESCRIBE, L1VMM_GIT_DESCRIBE[0] ? ")" : "");
	return 0;
}

static int cmd_run(int argc, char *argv[])
{
	static struct run_options opt; /* large: VMs' command lines */
	char err[512];
	int status;
	switch (options__parse_run(argc, argv, &opt, err, sizeof(err))) {
	case OPT_HELP:
		fputs(options__run_usage, stdout);
		status = 0;
		break;
	case OPT_ERROR:
		fprintf(stderr, "l1vmm: %s (see 'l1vmm run --help')\n", err);
		status = EXIT_USAGE;
		break;
	case OPT_OK:
	default:
		install_stop_signals();
		status = host__run(&opt, &stop_signal);
		break;
	}
	options__free(&opt);
	return status;
}

int main(int argc, char *argv[])
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (strcmp(argv[1], "stat") == 0)
		return stat__main(argc - 2, argv + 2);
	if (strcmp(argv[1], "bench") == 0)
		return bench__main(argc - 2, argv + 2);
	if (strcmp(argv[1], "help") == 0)
		return cmd_help(argc - 2, argv + 2);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(0, NULL);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)
		return cmd_version();
	fprintf(stderr, "l1vmm: unknown command '%s' (commands: run, stat, bench, help; "
		"options: --help, --version)\n", argv[1]);
	return EXIT_USAGE;
}
