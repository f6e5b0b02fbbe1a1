/* SPDX-License-Identifier: MIT */
/*
 * DOC: the command line of `l1vmm run`.
 *
 *   l1vmm run [--mem SIZE] [--vcpus N] [--mode auto|ept|shadow] [--disk PATH] [--timeout SEC]
 *             [--sysfs DIR] [KERNEL] [-- GUEST-CMDLINE...]
 *   l1vmm run [--timeout SEC] [--sysfs DIR] [--mem ...] --vm SPEC [--vm SPEC ...]
 *     SPEC = name=NAME,mem=SIZE[,vcpus=N][,mode=M][,kernel=PATH][,cmdline="..."][,domain=NAME]
 *            [,disk=PATH][,disk_size=SIZE]
 *            [,module="PATH[,ARGS]"]...[,isa_debug_exit=1][,numa_nodes="LIST"]
 *   l1vmm run [--timeout SEC] [--sysfs DIR] --config DIR
 *
 * The first form runs one VM named "vm0"; the second several in one process
 * (--mem, --vcpus and --mode before the first --vm are their defaults); the
 * third the VMs of a config directory. This module only takes the command
 * line apart: a VM's settings stay text, and the host applies them through
 * the control tree (l1vmm/ctl.h), whose registry is the one place that knows
 * each setting's type and range. Pure functions of argv, unit-tested.
 */
#ifndef L1VMM_OPTIONS_H
#define L1VMM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pvops/l1vmm_abi.h"

#define OPT_DEFAULT_MEM (256ull << 20)
#define OPT_MIN_MEM (2ull << 20)
#define OPT_MAX_MEM (64ull << 30)
#define OPT_MAX_VCPUS 255u   /* xAPIC IDs are 8 bits */
#define OPT_MAX_VMS 16u
#define OPT_NAME_MAX 32u     /* bytes, including the NUL */
#define OPT_MAX_SETTINGS 16u /* per VM, and defaults */
#define OPT_KEY_MAX 16u
#define OPT_MAX_SETS 32u     /* --set PATH=VALUE */

struct opt_setting {
	char key[OPT_KEY_MAX];  /* [a-z_]+: a file of vms/NAME/ in the control tree */
	char *value;            /* malloc'ed, as typed (quotes removed) */
	const char *origin;     /* for messages: "--mem" or "mem" */
};

struct vm_spec {
	char name[OPT_NAME_MAX];
	unsigned nr;
	struct opt_setting set[OPT_MAX_SETTINGS];
};

struct run_options {
	double timeout;              /* seconds, for each VM; 0 = none */
	const char *sysfs_dir;       /* --sysfs: mount the live tree there */
	const char *sysfs_group;     /* --sysfs-group: that group may use it too; or NULL */
	const char *config_dir;      /* --config: the VMs come from there */
	bool no_sandbox;             /* --sandbox=off (l1vmm/sandbox.h) */
	const char *user;            /* --user: drop to this user once set up */
	const char *metrics;         /* --metrics ADDR as given, or NULL */
	struct sockaddr_storage metrics_addr; /* ADDR parsed (l1vmm/metrics_http.h) */
	socklen_t metrics_addr_len;
	const char *sets[OPT_MAX_SETS]; /* --set: "PATH=VALUE" (argv strings), in order */
	unsigned nr_sets;
	bool multi;                  /* several VMs: console lines carry VM names */
	unsigned nr_defaults;        /* --mem/--vcpus/--mode: applied to every VM first */
	struct opt_setting defaults[OPT_MAX_SETTINGS];
	unsigned nr_vms;             /* 0 with --config */
	struct vm_spec vm[OPT_MAX_VMS];
};

enum opt_result { OPT_OK = 0, OPT_HELP = 1, OPT_ERROR = -1 };

/*
 * Parse argv[0..argc) (the words after "run") into *o. OPT_ERROR leaves a
 * one-line reason in err. Call options__free() afterwards in every case.
 */
enum opt_result options__parse_run(int argc, char *const argv[], struct run_options *o,
				   char *err, size_t errlen);
void options__free(struct run_options *o);

extern const char options__run_usage[];

#endif
