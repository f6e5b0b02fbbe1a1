/* SPDX-License-Identifier: MIT */
#include "l1vmm/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l1vmm/parse.h"

const char options__run_usage[] =
	"usage: l1vmm run [--mem SIZE] [--vcpus N] [--mode auto|ept|shadow] [--timeout SEC]\n"
	"                 [--sysfs DIR] [--set PATH=VALUE]... [KERNEL] [-- GUEST-CMDLINE...]\n"
	"       l1vmm run [--timeout SEC] [--sysfs DIR] [--set PATH=VALUE]... --vm SPEC [--vm SPEC ...]\n"
	"       l1vmm run [--timeout SEC] [--sysfs DIR] [--set PATH=VALUE]... --config DIR\n"
	"  --mem SIZE      guest RAM, e.g. 256M, 2G (default 256M; 2M to 64G, 4K multiple)\n"
	"  --vcpus N       virtual CPUs (default 1, at most 255)\n"
	"  --mode MODE     auto (default), ept, or shadow\n"
	"  --disk PATH     a virtio-blk disk backed by PATH (created at 64M when missing)\n"
	"  --timeout SEC   stop a guest after SEC seconds; it ends with status 124\n"
	"  --sysfs DIR     serve the live control tree at DIR (FUSE) while l1vmm runs\n"
	"  --sysfs-group GROUP  let GROUP's members read and write the live tree\n"
	"  --config DIR    run the VMs of a config directory (e.g. a copy of a live tree)\n"
	"  KERNEL          ELF64 or Multiboot kernel (default: the built-in guest kernel)\n"
	"  -- ...          the rest is the guest's command line, e.g. workload=memtouch size=128M\n"
	"  --module PATH[,ARGS]  load PATH as a multiboot module (string \"PATH ARGS\");\n"
	"                  may be repeated (vms/NAME/modules)\n"
	"  --isa-debug-exit  port 0xf4 ends the VM with QEMU's status (V << 1) | 1\n"
	"  --vm SPEC       one VM of several: name=NAME,mem=SIZE[,vcpus=N][,mode=M]\n"
	"                  [,kernel=PATH][,cmdline=\"...\"][,domain=NAME][,disk=PATH]\n"
	"                  [,disk_size=SIZE][,module=\"PATH[,ARGS]\"]...[,isa_debug_exit=1]\n"
	"                  [,numa_nodes=\"LIST\"] (NUMA nodes for its RAM and vCPUs: 0, \"0-1,3\")\n"
	"  --set PATH=VALUE write VALUE to the control tree's PATH before the VMs start,\n"
	"                  e.g. --set dedup/run=1 (after --config; may be repeated)\n"
	"  --sandbox on|off confine every thread to its system calls once set up (default on)\n"
	"  --user NAME     started as root: run as NAME once set up (keeps /dev/kvm open)\n"
	"  --metrics ADDR  serve the tree as Prometheus metrics at http://ADDR/metrics;\n"
	"                  ADDR: PORT (on 127.0.0.1), IPV4:PORT or [IPV6]:PORT\n";

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return OPT_ERROR; } while (0)

/* "--module" and --vm's "module=" add to one list, "modules", items joined by ';'. */
static enum opt_result add_module(struct opt_setting *s, const char *value, size_t len,
				  char *err, size_t errlen)
{
	size_t old = strlen(s->value);
	char *v = realloc(s->value, old + 1 + len + 1);
	if (!v)
		FAIL("out of memory");
	v[old] = ';';
	memcpy(v + old + 1, value, len);
	v[old + 1 + len] = '\0';
	s->value = v;
	return OPT_OK;
}

static enum opt_result add_setting(struct opt_setting *set, unsigned *nr, const char *key,
				   const char *value, size_t len, const char *origin,
				   char *err, size_t errlen)
{
	if (strcmp(key, "module") == 0)
		key = "modules";
	for (unsigned i = 0; strcmp(key, "modules") == 0 && i < *nr; i++)
		if (strcmp(set[i].key, key) == 0)
			return add_module(&set[i], value, len, err, errlen);
	if (*nr == OPT_MAX_SETTINGS)
		FAIL("too many settings (at most %u)", OPT_MAX_SETTINGS);
	if (strlen(key) >= OPT_KEY_MAX || strspn(key, "abcdefghijklmnopqrstuvwxyz_") != strlen(key))
		FAIL("unknown VM setting '%s'", key);
	char *v = malloc(len + 1);
	if (!v)
		FAIL("out of memory");
	memcpy(v, value, len);
	v[len] = '\0';
	struct opt_setting *s = &set[(*nr)++];
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->value = v;
	s->origin = origin;
	return OPT_OK;
}

/*
 * Take "key=value" off the front of *p; a value may be double-quoted to hold
 * commas (the quotes are removed). The value is left in [*val, *val + *len).
 */
static enum opt_result next_pair(const char **p, char *key, const char **val, size_t *len,
				 char *err, size_t errlen)
{
	const char *s = *p;
	size_t k = strcspn(s, "=,");
	if (s[k] != '=' || k == 0 || k >= OPT_KEY_MAX)
		FAIL("--vm: expected key=value at '%.40s'", s);
	memcpy(key, s, k);
	key[k] = '\0';
	s += k + 1;
	bool quoted = *s == '"';
	s += quoted;
	*val = s;
	s += strcspn(s, quoted ? "\"" : ",");
	*len = (size_t)(s - *val);
	if (quoted) {
		if (*s != '"')
			FAIL("--vm: unterminated quote in the value of %s", key);
		s++;
	}
	if (*s == ',')
		s++;
	else if (*s)
		FAIL("--vm: expected ',' after the value of %s", key);
	*p = s;
	return OPT_OK;
}

static enum opt_result parse_vm_spec(const char *spec, struct vm_spec *vm, char *err,
				     size_t errlen)
{
	bool have_mem = false;
	for (const char *p = spec; *p;) {
		char key[OPT_KEY_MAX];
		const char *val;
		size_t len;
		if (next_pair(&p, key, &val, &len, err, errlen) != OPT_OK)
			return OPT_ERROR;
		if (strcmp(key, "name") == 0) {
			if (len == 0 || len >= sizeof(vm->name))
				FAIL("--vm: name must be 1 to %u characters", OPT_NAME_MAX - 1);
			memcpy(vm->name, val, len);
			vm->name[len] = '\0';
			continue;
		}
		have_mem |= strcmp(key, "mem") == 0;
		if (add_setting(vm->set, &vm->nr, key, val, len, NULL, err, errlen) != OPT_OK)
			return OPT_ERROR;
	}
	if (!vm->name[0])
		FAIL("--vm '%.60s' has no name=", spec);
	if (!have_mem)
		FAIL("--vm %s has no mem=", vm->name);
	return OPT_OK;
}

static enum opt_result add_vm(struct run_options *o, const char *spec, char *err, size_t errlen)
{
	if (o->nr_vms == OPT_MAX_VMS)
		FAIL("more than %u VMs", OPT_MAX_VMS);
	struct vm_spec *vm = &o->vm[o->nr_vms++];
	if (parse_vm_spec(spec, vm, err, errlen) != OPT_OK)
		return OPT_ERROR;
	for (unsigned i = 0; i + 1 < o->nr_vms; i++)
		if (strcmp(o->vm[i].name, vm->name) == 0)
			FAIL("two VMs are named '%s'", vm->name);
	return OPT_OK;
}

static enum opt_result join_cmdline(struct vm_spec *vm, int argc, char *const argv[],
				    char *err, size_t errlen)
{
	size_t len = 0;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (len > L1_CMDLINE_MAX)
		FAIL("guest command line is longer than %u bytes", L1_CMDLINE_MAX - 1);
	char line[L1_CMDLINE_MAX];
	line[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (i > 0)
			strcat(line, " ");
		strcat(line, argv[i]);
	}
	return add_setting(vm->set, &vm->nr, "cmdline", line, strlen(line), "--", err, errlen);
}

/* Options that take a value; their setting key (or NULL: not a VM setting). */
static const struct { const char *name, *key; } value_options[] = {
	{ "--mem", "mem" }, { "--vcpus", "vcpus" }, { "--mode", "mode" }, { "--disk", "disk" },
	{ "--timeout", NULL }, { "--vm", NULL }, { "--sysfs", NULL }, { "--config", NULL },
	{ "--sysfs-group", NULL },
	{ "--set", NULL }, { "--sandbox", NULL }, { "--user", NULL }, { "--module", "modules" },
	{ "--metrics", NULL },
};

/* Options without a value that are VM settings: what they set. */
static const struct { const char *name, *key, *value; } flag_options[] = {
	{ "--isa-debug-exit", "isa_debug_exit", "1" },
};

/* Option name sets VM setting key to val for every VM: only before the first --vm. */
static enum opt_result add_default(struct run_options *o, const char *name, const char *key,
				   const char *val, char *err, size_t errlen)
{
	if (o->nr_vms)
		FAIL("%s must come before the first --vm (it sets their default)", name);
	return add_setting(o->defaults, &o->nr_defaults, key, val, strlen(val), name, err, errlen);
}

enum opt_result options__parse_run(int argc, char *const argv[], struct run_options *o,
				   char *err, size_t errlen)
{
	*o = (struct run_options){ 0 };
	struct vm_spec single = { .name = "vm0" };
	bool single_only = false; /* KERNEL or -- seen */
	enum opt_result rc = OPT_OK;
	for (int i = 0; i < argc && rc == OPT_OK; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			single_only = true;
			rc = join_cmdline(&single, argc - i - 1, argv + i + 1, err, errlen);
			break;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			rc = OPT_HELP;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			if (single_only) {
				snprintf(err, errlen, "more than one kernel given ('%s' and '%s'); "
					 "guest arguments go after --", single.set[single.nr - 1].value, arg);
				rc = OPT_ERROR;
				break;
			}
			single_only = true;
			rc = add_setting(single.set, &single.nr, "kernel", arg, strlen(arg), "KERNEL",
					 err, errlen);
			continue;
		}
		size_t flag = 0, nr_flags = sizeof(flag_options) / sizeof(flag_options[0]);
		while (flag < nr_flags && strcmp(arg, flag_options[flag].name) != 0)
			flag++;
		if (flag < nr_flags) {
			rc = add_default(o, flag_options[flag].name, flag_options[flag].key,
					 flag_options[flag].value, err, errlen);
			continue;
		}
		const char *eq = strchr(arg, '=');
		size_t n = eq ? (size_t)(eq - arg) : strlen(arg); /* --mem=256M or --mem 256M */
		size_t opt = 0, nr_opts = sizeof(value_options) / sizeof(value_options[0]);
		while (opt < nr_opts && (strlen(value_options[opt].name) != n ||
					 strncmp(arg, value_options[opt].name, n) != 0))
			opt++;
		if (opt == nr_opts) {
			snprintf(err, errlen, "unknown option '%.*s'", (int)n, arg);
			rc = OPT_ERROR;
			break;
		}
		const char *name = value_options[opt].name;
		if (!eq && i + 1 >= argc) {
			snprintf(err, errlen, "option %s needs a value", name);
			rc = OPT_ERROR;
			break;
		}
		const char *val = eq ? eq + 1 : argv[++i];
		if (value_options[opt].key) {
			rc = add_default(o, name, value_options[opt].key, val, err, errlen);
		} else if (strcmp(name, "--timeout") == 0) {
			if (!parse__seconds(val, &o->timeout) || o->timeout == 0) {
				snprintf(err, errlen, "--timeout: '%s' is not a positive number of seconds", val);
				rc = OPT_ERROR;
			}
		} else if (strcmp(name, "--vm") == 0) {
			rc = add_vm(o, val, err, errlen);
		} else if (strcmp(name, "--sysfs") == 0) {
			o->sysfs_dir = val;
		} else if (strcmp(name, "--sysfs-group") == 0) {
			o->sysfs_group = val;
		} else if (strcmp(name, "--sandbox") == 0) {
			if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0) {
				snprintf(err, errlen, "--sandbox: '%s' is neither on nor off", val);
				rc = OPT_ERROR;
			}
			o->no_sandbox = strcmp(val, "off") == 0;
		} else if (strcmp(name, "--user") == 0) {
			o->user = val;
		} else if (strcmp(name, "--metrics") == 0) {
			o->metrics = val;
			if (!parse__listen_addr(val, &o->metrics_addr, &o->metrics_addr_len)) {
				snprintf(err, errlen, "--metrics: '%.60s' is not PORT, IPV4:PORT or "
					 "[IPV6]:PORT (e.g. 9800 or 127.0.0.1:9800)", val);
				rc = OPT_ERROR;
			}
		} else if (strcmp(name, "--set") == 0) {
			const char *v = strchr(val, '=');
			if (!v || v == val) {
				snprintf(err, errlen, "--set: expected PATH=VALUE, got '%.60s'", val);
				rc = OPT_ERROR;
			} else if (o->nr_sets == OPT_MAX_SETS) {
				snprintf(err, errlen, "--set: at most %u", OPT_MAX_SETS);
				rc = OPT_ERROR;
			} else {
				o->sets[o->nr_sets++] = val;
			}
		} else {
			o->config_dir = val;
		}
	}
	if (rc == OPT_OK && o->sysfs_group && !o->sysfs_dir) {
		snprintf(err, errlen, "--sysfs-group needs --sysfs DIR");
		rc = OPT_ERROR;
	}
	if (rc == OPT_OK && o->nr_vms && single_only) {
		snprintf(err, errlen, "KERNEL and -- GUEST-CMDLINE belong to the single-VM form; "
			 "with --vm use kernel= and cmdline=");
		rc = OPT_ERROR;
	}
	for (unsigned i = 0; rc == OPT_OK && o->nr_vms > 1 && i < o->nr_defaults; i++)
		if (strcmp(o->defaults[i].key, "disk") == 0) {
			snprintf(err, errlen, "--disk gives one VM its disk; with several, give "
				 "each its own disk= in --vm");
			rc = OPT_ERROR;
		}
	if (rc == OPT_OK && o->config_dir && (o->nr_vms || single_only || o->nr_defaults)) {
		snprintf(err, errlen, "--config gives the VMs; it cannot be combined with --vm, "
			 "--mem, --vcpus, --mode, KERNEL or --");
		rc = OPT_ERROR;
	}
	if (rc == OPT_OK && !o->nr_vms && !o->config_dir) {
		o->vm[0] = single;
		o->nr_vms = 1;
		single.nr = 0; /* moved */
	}
	o->multi = o->nr_vms > 1 || o->config_dir || (o->nr_vms == 1 && !single_only &&
						       o->vm[0].name[0] && strcmp(o->vm[0].name, "vm0") != 0);
	for (unsigned i = 0; i < single.nr; i++)
		free(single.set[i].value);
	return rc;
}

void options__free(struct run_options *o)
{
	for (unsigned i = 0; i < o->nr_defaults; i++)
		free(o->defaults[i].value);
	for (unsigned v = 0; v < o->nr_vms; v++)
		for (unsigned i = 0; i < o->vm[v].nr; i++)
			free(o->vm[v].set[i].value);
	o->nr_defaults = o->nr_vms = 0;
}
