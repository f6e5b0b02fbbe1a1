/* SPDX-License-Identifier: MIT */
#include "l1vmm/host.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "l1vmm/builtin.h"
#include "l1vmm/balloon_ctl.h"
#include "l1vmm/reclaim_ctl.h"
#include "l1vmm/dedup_host.h"
#include "l1vmm/kvm.h"
#include "l1vmm/metrics_http.h"
#include "l1vmm/parse.h"
#include "l1vmm/sandbox.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/vcpu.h"
#include "l1vmm/vm.h"
#include "l1vmm/watchdog.h"
#include "dedup/ksm.h"

#define EXIT_USAGE 2
#define MAX_KERNEL_BYTES (256u << 20)
#define POLL_SECONDS 0.1
/* From the decision to end (signal, --timeout, every VM ended) to a forced
 * exit: with the supervisor's poll and the kernel's teardown of guest memory,
 * l1vmm is gone within 1 s of a stop signal or deadline. */
#define STOP_GRACE_SECONDS 0.5
#define STDERR_WAIT_MS 50

struct host_vm {
	struct vm_ctl *ctl;  /* its configuration in the tree */
	struct vm_config cfg; /* frozen from ctl, mode resolved */
	char mode_why[192];
	struct vm vm;
	bool created;        /* vm__create() was called: vm__destroy() it */
	void *kernel_file;   /* malloc'ed image, or NULL for the built-in one */
	char *module_spec;   /* malloc'ed copy of cfg.module_spec, split by parse__modules() */
	struct loader_module modules[LOADER_MAX_MODULES]; /* data and string malloc'ed */
	unsigned nr_modules;
	double deadline;     /* monotonic; 0 = none */
};

/* How the process ends; shared by the orderly path and the watchdog. */
enum stop_claim { STOP_ORDERLY_RUNNING, STOP_ORDERLY_REPORTED, STOP_FORCED };

struct host_stop {
	struct host_vm *vms;       /* set once the VMs exist; read by the watchdog */
	unsigned n;
	struct dedup_host *dedup;
	struct metrics_http *metrics; /* --metrics, or NULL */
	const char *sysfs_dir;     /* --sysfs DIR, or NULL */
	bool mounted;              /* atomic: the live tree is mounted at sysfs_dir */
	volatile sig_atomic_t *stop_signal;
	bool running;              /* atomic: every VM started (set-up is over) */
	int claim;                 /* atomic enum stop_claim: who prints the summary */
	int status;                /* the exit status, once STOP_ORDERLY_REPORTED */
	struct watchdog dog;
};

/* Wakes the supervisor when any VM ends. */
struct host_events {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	unsigned ended;      /* VMs that have ended, under lock */
};

__attribute__((format(printf, 2, 3)))
static void host_log(enum log_level level, const char *fmt, ...)
{
	if (level > host_ctl__log_level())
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("l1vmm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void on_vm_end(void *ctx)
{
	struct host_events *ev = ctx;
	pthread_mutex_lock(&ev->lock);
	ev->ended++;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->lock);
}

/* Read a whole kernel or module file (what: "kernel", "module"); empty ones only if
 * may_be_empty. NULL with a reason in err. */
static void *read_image(const char *what, const char *path, bool may_be_empty, size_t *size,
			char *err, size_t errlen)
{
	int fd = parse__open_regular(path, 0);
	if (fd < 0) {
		if (errno == EINVAL)
			snprintf(err, errlen, "%s %.300s is not a regular file", what, path);
		else
			snprintf(err, errlen, "cannot read %s %.300s: %s", what, path, strerror(errno));
		return NULL;
	}
	struct stat st = { 0 };
	void *buf = NULL;
	size_t got = 0;
	if (fstat(fd, &st) < 0 || (st.st_size == 0 && !may_be_empty) ||
	    (uint64_t)st.st_size > MAX_KERNEL_BYTES) {
		snprintf(err, errlen, "%s %.300s is %lld bytes; it must be %s to %u MiB", what, path,
			 (long long)st.st_size, may_be_empty ? "0" : "1 byte", MAX_KERNEL_BYTES >> 20);
		close(fd);
		return NULL;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		snprintf(err, errlen, "no memory to read %s %.300s", what, path);
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, (char *)buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		snprintf(err, errlen, "cannot read %s %.300s: short read", what, path);
		free(buf);
		return NULL;
	}
	*size = got;
	return buf;
}

/* Read the VM's multiboot modules (vms/NAME/modules) into h->modules. */
static int read_modules(struct host_vm *h, char *err, size_t errlen)
{
	char *path[LOADER_MAX_MODULES], *args[LOADER_MAX_MODULES];
	char why[128];
	h->module_spec = strdup(h->cfg.module_spec);
	if (!h->module_spec) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int n = parse__modules(h->module_spec, path, args, LOADER_MAX_MODULES, why, sizeof(why));
	if (n < 0) {
		snprintf(err, errlen, "vms/%s/modules: %s", h->cfg.name, why);
		return -1;
	}
	for (unsigned i = 0; i < (unsigned)n; i++) {
		struct loader_module *m = &h->modules[i];
		h->nr_modules = i + 1; /* freed from here on */
		m->data = read_image("module", path[i], true, &m->size, err, errlen);
		if (!m->data)
			return -1;
		size_t len = strlen(path[i]) + (args[i] ? 1 + strlen(args[i]) : 0) + 1;
		char *str = malloc(len);
		if (!str) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		snprintf(str, len, "%s%s%s", path[i], args[i] ? " " : "", args[i] ? args[i] : "");
		m->string = str;
	}
	h->cfg.modules = h->modules;
	h->cfg.nr_modules = h->nr_modules;
	return 0;
}

static void free_modules(struct host_vm *h)
{
	for (unsigned i = 0; i < h->nr_modules; i++) {
		free((void *)h->modules[i].data);
		free((void *)h->modules[i].string);
	}
	free(h->module_spec);
	h->nr_modules = 0;
	h->module_spec = NULL;
}

/* Apply one setting to vms/NAME/ through the registry; explain a refusal. */
static int apply_setting(struct ctl_tree *t, const char *vm, const struct opt_setting *s,
			 char *err, size_t errlen)
{
	char path[128], label[64];
	snprintf(path, sizeof(path), "vms/%s/%s", vm, s->key);
	if (s->origin)
		snprintf(label, sizeof(label), "%s", s->origin);
	else
		snprintf(label, sizeof(label), "--vm %s: %s", vm, s->key);
	int rc = ctl__write(t, path, s->value, strlen(s->value));
	const struct ctl_entry *e;
	void *obj;
	char type[128];
	switch (rc) {
	case 0:
		return 0;
	case -EINVAL:
		if (ctl__lookup(t, path, &e, &obj) == 0) {
			ctl__describe_type(e, type, sizeof(type));
			snprintf(err, errlen, "%s: '%s' is not valid (%s)", label, s->value, type);
			return -1;
		}
		break;
	case -ENOENT:
	case -EISDIR:
		snprintf(err, errlen, "%s: unknown VM setting '%s'", label, s->key);
		return -1;
	case -EACCES:
		snprintf(err, errlen, "%s: '%s' is a reading, not a setting", label, s->key);
		return -1;
	default:
		break;
	}
	snprintf(err, errlen, "%s: '%s' refused: %s", label, s->value, strerror(-rc));
	return -1;
}

/* --set PATH=VALUE: a write to the tree, checked like any other. */
static int apply_set(struct ctl_tree *t, const char *set, char *err, size_t errlen)
{
	const char *eq = strchr(set, '=');
	char path[256];
	snprintf(path, sizeof(path), "%.*s", (int)(eq - set), set);
	int rc = ctl__write(t, path, eq + 1, strlen(eq + 1));
	if (rc == 0)
		return 0;
	const struct ctl_entry *e;
	void *obj;
	char type[128] = "";
	if (ctl__lookup(t, path, &e, &obj) == 0)
		ctl__describe_type(e, type, sizeof(type));
	snprintf(err, errlen, "--set %s: %s%s%s", set,
		 rc == -ENOENT ? "no such file in the control tree" :
		 rc == -EACCES ? "read-only" : rc == -EINVAL ? "invalid value" : strerror(-rc),
		 type[0] ? ", expected " : "", type);
	return -1;
}

int host__configure_vm(struct ctl_tree *t, const struct run_options *o, unsigned i,
		       struct vm_ctl **out, char *err, size_t errlen)
{
	const struct vm_spec *spec = &o->vm[i];
	struct vm_ctl *vmc = vm_ctl__new(spec->name);
	if (!vmc) {
		snprintf(err, errlen, "'%s' is not a valid VM name (1-%d of A-Z a-z 0-9 _ . -, "
			 "not starting with '.')", spec->name, VM_CTL_NAME_MAX);
		return -1;
	}
	if (vm_ctl__register(t, vmc) < 0) {
		snprintf(err, errlen, "VM '%s' is defined twice", spec->name);
		vm_ctl__free(vmc);
		return -1;
	}
	char mem[32];
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)OPT_DEFAULT_MEM);
	const struct opt_setting default_mem = { .key = "mem", .value = mem, .origin = "--mem" };
	int rc = apply_setting(t, spec->name, &default_mem, err, errlen);
	for (unsigned k = 0; rc == 0 && k < o->nr_defaults; k++)
		rc = apply_setting(t, spec->name, &o->defaults[k], err, errlen);
	for (unsigned k = 0; rc == 0 && k < spec->nr; k++)
		rc = apply_setting(t, spec->name, &spec->set[k], err, errlen);
	if (rc < 0) {
		vm_ctl__unregister(t, vmc);
		vm_ctl__free(vmc);
		return -1;
	}
	*out = vmc;
	return 0;
}

/* The CPL0/CPL3 measurement, made once per process and only if auto asks. */
static const struct cpl_measure *measure_once(const struct kvm_host *kvm)
{
	static struct cpl_measure m;
	static bool done;
	if (!done) {
		done = true;
		if (hybrid__measure_cpl(kvm->fd, kvm->run_size, &m) < 0)
			host_log(LOG_WARN, "measuring CPL0 against CPL3 failed; auto picks ept");
		else
			host_log(LOG_DEBUG, "CPL0 runs %.0fx slower than CPL3 here (%.0f ns against "
				 "%.2f ns a loop)", m.ratio, m.cpl0_ns_per_loop, m.cpl3_ns_per_loop);
	}
	return &m;
}

/* Freeze the VM's configuration, read its kernel and pick its mode. */
static int prepare_vm(struct host_vm *h, bool multi, const struct kvm_host *kvm,
		      struct host_events *ev, char *err, size_t errlen)
{
	struct vm_config *cfg = &h->cfg;
	*cfg = (struct vm_config){ 0 };
	vm_ctl__freeze(h->ctl, cfg);
	cfg->kernel = l1_builtin_kernel;
	cfg->kernel_size = (size_t)l1_builtin_kernel_size;
	if (h->ctl->kernel[0]) {
		h->kernel_file = read_image("kernel", h->ctl->kernel, false, &cfg->kernel_size,
					    err, errlen);
		if (!h->kernel_file)
			return -1;
		cfg->kernel = h->kernel_file;
	}
	if (read_modules(h, err, errlen) < 0)
		return -1;
	cfg->console_prefix = multi;
	cfg->on_end = on_vm_end;
	cfg->on_end_ctx = ev;
	bool pv = loader__probe_pv(cfg->kernel, cfg->kernel_size);
	const struct cpl_measure *m = cfg->mode == CPU_MODE_AUTO ? measure_once(kvm) : NULL;
	enum cpu_mode mode;
	if (hybrid__select_mode(cfg->mode, pv, m, &mode, h->mode_why, sizeof(h->mode_why)) < 0) {
		snprintf(err, errlen, "%s", h->mode_why);
		return -1;
	}
	if (mode == CPU_MODE_SHADOW && cfg->mem_bytes > SHADOW_MAX_GUEST_MEM) {
		snprintf(err, errlen, "shadow mode runs guests of at most %llu MiB",
			 (unsigned long long)(SHADOW_MAX_GUEST_MEM >> 20));
		return -1;
	}
	cfg->mode = mode;
	cfg->mode_why = h->mode_why;
	return 0;
}

static int create_vm(struct host_vm *h, const struct kvm_host *kvm, struct machine *machine,
		     char *err, size_t errlen)
{
	h->cfg.machine = machine;
	h->created = true; /* vm__destroy() copes with a half-built VM */
	if (vm__create(&h->vm, kvm, &h->cfg, err, errlen) < 0)
		return -1;
	vm_ctl__attach(h->ctl, &h->vm);
	host_log(LOG_INFO, "%s: mode %s (%s), %llu MiB, %u vCPU%s, kernel %s", h->vm.name,
		 hybrid__mode_name(h->vm.mode), h->vm.mode_why,
		 (unsigned long long)(h->cfg.mem_bytes >> 20), h->vm.nr_vcpus,
		 h->vm.nr_vcpus == 1 ? "" : "s", h->cfg.kernel_name);
	return 0;
}

/* Wait until every VM ended: apply deadlines and stop signals as they come. */
static void supervise(struct host_vm *vms, unsigned n, struct host_events *ev,
		      volatile sig_atomic_t *stop_signal)
{
	pthread_mutex_lock(&ev->lock);
	while (ev->ended < n) {
		pthread_mutex_unlock(&ev->lock);
		double now = vm__now(), wake = now + POLL_SECONDS;
		for (unsigned i = 0; i < n; i++) {
			struct vm *vm = &vms[i].vm;
			if (*stop_signal)
				vm__stop(vm, VM_END_SIGNAL, (uint32_t)*stop_signal, NULL);
			else if (vms[i].deadline && now >= vms[i].deadline)
				vm__stop(vm, VM_END_TIMEOUT, 0, NULL);
			else if (vms[i].deadline && vms[i].deadline < wake)
				wake = vms[i].deadline;
		}
		pthread_mutex_lock(&ev->lock);
		if (ev->ended < n)
			vm__timedwait(&ev->cv, &ev->lock, wake - vm__now());
	}
	pthread_mutex_unlock(&ev->lock);
}

static void report(struct host_vm *h)
{
	struct vm *vm = &h->vm;
	if (vm->crash_report)
		fputs(vm->crash_report, stderr);
	char how[160];
	vm__describe_end(vm, how, sizeof(how));
	fprintf(stderr, "l1vmm: %s: %s\n", vm->name, how);
	if (vm->shadow && vm->shadow->apf.stats.enables) {
		/* the tree's vms/NAME/apf/ at the end (its worker has stopped) */
		const struct shadow_apf_stats *a = &vm->shadow->apf.stats;
		fprintf(stderr, "l1vmm: %s: pseudo page faults: not_present=%llu ready=%llu "
			"fallbacks=%llu wake_alls=%llu failing=%llu\n", vm->name,
			(unsigned long long)a->not_present, (unsigned long long)a->ready,
			(unsigned long long)a->fallbacks, (unsigned long long)a->wake_alls,
			(unsigned long long)a->failing);
	}
	uint64_t exits[VM_EXIT_UNKNOWN + 1] = { 0 };
	for (unsigned c = 0; c < vm->nr_vcpus; c++)
		for (unsigned k = 0; k <= VM_EXIT_UNKNOWN; k++)
			exits[k] += vm->vcpus[c].exits[k];
	host_log(LOG_DEBUG, "%s: exits: io %llu, mmio %llu, intr %llu, other %llu", vm->name,
		 (unsigned long long)exits[VM_EXIT_IO], (unsigned long long)exits[VM_EXIT_MMIO],
		 (unsigned long long)exits[VM_EXIT_INTR],
		 (unsigned long long)(exits[VM_EXIT_HLT] + exits[VM_EXIT_SHUTDOWN] +
				      exits[VM_EXIT_INTERNAL_ERROR] + exits[VM_EXIT_FAIL_ENTRY] +
				      exits[VM_EXIT_SYSTEM_EVENT] + exits[VM_EXIT_UNKNOWN]));
	if (vm->shadow) {
		const struct shadow_stats *st = &vm->shadow->g.stats;
		const struct shadow_stats_vm *sv = &vm->shadow->stats;
		host_log(LOG_DEBUG, "%s: shadow: %llu traps, %llu bounces, %llu hypercalls (%llu "
			 "refused), %llu events (%llu deferred), %llu faults, %llu fills, %llu prefetched, %llu table writes, "
			 "%llu updates; refused: foreign %llu, pt-writable %llu, reserved %llu, "
			 "va %llu, not-pt %llu, too-many %llu, bad-write %llu", vm->name,
			 (unsigned long long)sv->traps, (unsigned long long)sv->bounces,
			 (unsigned long long)sv->hypercalls, (unsigned long long)sv->hypercall_errors,
			 (unsigned long long)sv->events, (unsigned long long)sv->events_deferred,
			 (unsigned long long)st->faults, (unsigned long long)st->fills,
			 (unsigned long long)st->prefetched, (unsigned long long)st->pt_writes,
			 (unsigned long long)st->updates,
			 (unsigned long long)st->refusals[SHADOW_REFUSE_FOREIGN_GFN],
			 (unsigned long long)st->refusals[SHADOW_REFUSE_PT_WRITABLE],
			 (unsigned long long)st->refusals[SHADOW_REFUSE_RESERVED],
			 (unsigned long long)st->refusals[SHADOW_REFUSE_VA_RANGE],
			 (unsigned long long)st->refusals[SHADOW_REFUSE_NOT_PT],
			 (unsigned long long)st->refusals[SHADOW_REFUSE_TOO_MANY],
			 (unsigned long long)st->refusals[SHADOW_REFUSE_BAD_WRITE]);
		host_log(LOG_DEBUG, "%s: shadow sharing: %llu wp faults, %llu cow breaks (%.1f ms), "
			 "%llu shares, %llu forgets (%.1f ms), %llu discards; machine: %llu memslot "
			 "flushes", vm->name, (unsigned long long)st->wp_faults,
			 (unsigned long long)st->cow_breaks, (double)st->break_ns / 1e6,
			 (unsigned long long)st->shares, (unsigned long long)st->forgets,
			 (double)st->forget_ns / 1e6, (unsigned long long)st->discards,
			 (unsigned long long)__atomic_load_n(&vm->shadow->machine->recycles,
							     __ATOMIC_RELAXED));
	}
}

/* Write text to stderr, giving up when a reader leaves it full for
 * STDERR_WAIT_MS: a forced exit must not wait on anyone. */
static void write_stderr_bounded(const char *text)
{
	size_t len = strlen(text), off = 0;
	while (off < len) {
		struct pollfd p = { .fd = STDERR_FILENO, .events = POLLOUT };
		if (poll(&p, 1, STDERR_WAIT_MS) <= 0)
			return;
		ssize_t w = write(STDERR_FILENO, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

/*
 * The watchdog's end of the process: orderly shutdown did not finish within
 * STOP_GRACE_SECONDS. Report each VM with the time that really passed (if
 * the orderly path has not reported yet), put back the host state l1vmm
 * changed (KSM's knobs, the live tree's mount), and exit with the status the
 * orderly path would have given. Threads still working are left to the exit.
 */
static void force_exit(void *ctx)
{
	struct host_stop *hs = ctx;
	int expected = STOP_ORDERLY_RUNNING;
	bool report = __atomic_compare_exchange_n(&hs->claim, &expected, STOP_FORCED, false,
						  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	int status = report ? 0 : hs->status;
	char line[320], how[160];
	if (report && !__atomic_load_n(&hs->running, __ATOMIC_ACQUIRE)) {
		report = false; /* stuck in set-up: no VM ran */
		status = 128 + (int)*hs->stop_signal;
	}
	for (unsigned i = 0; report && i < hs->n; i++) {
		struct vm *vm = &hs->vms[i].vm;
		if (vm->crash_report)
			write_stderr_bounded(vm->crash_report);
		vm__describe_end(vm, how, sizeof(how));
		bool busy = __atomic_load_n(&vm->stopped_ns, __ATOMIC_ACQUIRE) == 0;
		snprintf(line, sizeof(line), "l1vmm: %s: %s%s\n", vm->name, how,
			 busy ? " (its vCPUs did not stop: forced exit)" : "");
		write_stderr_bounded(line);
		if (status == 0)
			status = vm__exit_status(vm);
	}
	snprintf(line, sizeof(line), "l1vmm: stopping took more than %.1f s: forced exit "
		 "(status %d)\n", STOP_GRACE_SECONDS, status);
	write_stderr_bounded(line);
	if (__atomic_load_n(&hs->mounted, __ATOMIC_ACQUIRE))
		ctl_fuse__detach(hs->sysfs_dir);
	dedup_host__restore_host(hs->dedup);
	_exit(status);
}

/* Create, run and report every VM; the process exit status. */
static int run_vms(struct host_vm *vms, unsigned n, bool multi, struct host_events *ev,
		   double timeout, struct dedup_host *dedup, struct balloon_ctl *balloon,
		   struct reclaim_ctl *reclaim, struct ctl_mount *mount, volatile sig_atomic_t *stop_signal, struct host_stop *hs)
{
	char err[512];
	const char *dev = getenv("L1VMM_KVM_DEVICE"); /* tests point it elsewhere */
	struct kvm_host kvm;
	if (kvm_host__open(&kvm, dev && *dev ? dev : "/dev/kvm", err, sizeof(err)) < 0) {
		fprintf(stderr, "l1vmm: %s\n", err);
		return EXIT_USAGE;
	}
	vcpu__init_signals();
	int status = 0;
	uint64_t shadow_bytes = 0;
	for (unsigned i = 0; status == 0 && i < n; i++) {
		if (prepare_vm(&vms[i], multi, &kvm, ev, err, sizeof(err)) < 0) {
			fprintf(stderr, "l1vmm: %s%s%s\n", multi ? vms[i].ctl->name : "",
				multi ? ": " : "", err);
			status = EXIT_USAGE;
		} else if (vms[i].cfg.mode == CPU_MODE_SHADOW) {
			shadow_bytes += vms[i].cfg.mem_bytes;
		}
	}
	struct machine machine = { .fd = -1 };
	bool have_machine = false;
	if (status == 0 && shadow_bytes) {
		have_machine = true;
		if (machine__create(&machine, &kvm, shadow_bytes, err, sizeof(err)) < 0) {
			fprintf(stderr, "l1vmm: %s\n", err);
			status = EXIT_USAGE;
		} else {
			sandbox__allow_rwx_remap(machine.mem.mem.base, machine.mem.mem.mem_bytes);
		}
	}
	for (unsigned i = 0; status == 0 && i < n; i++) {
		if (create_vm(&vms[i], &kvm, have_machine ? &machine : NULL, err, sizeof(err)) < 0) {
			fprintf(stderr, "l1vmm: %s%s%s\n", multi ? vms[i].ctl->name : "",
				multi ? ": " : "", err);
			status = EXIT_USAGE;
		}
	}
	for (unsigned i = 0; status == 0 && i < n; i++) {
		if (dedup_host__add_vm(dedup, &vms[i].vm, have_machine ? &machine : NULL,
				       vms[i].cfg.domain, err, sizeof(err)) < 0) {
			fprintf(stderr, "l1vmm: %s: %s\n", vms[i].vm.name, err);
			status = EXIT_USAGE;
		}
	}
	for (unsigned i = 0; status == 0 && i < n; i++)
		if (balloon_ctl__add_vm(balloon, &vms[i].vm, err, sizeof(err)) < 0 ||
		    reclaim_ctl__add_vm(reclaim, &vms[i].vm, vm_ctl__reclaim_floor_mb(vms[i].ctl),
					err, sizeof(err)) < 0) {
			fprintf(stderr, "l1vmm: %s: %s\n", vms[i].vm.name, err);
			status = EXIT_USAGE;
		}
	if (status == 0 && (dedup_host__start(dedup, err, sizeof(err)) < 0 ||
			    balloon_ctl__start(balloon, err, sizeof(err)) < 0 ||
			    reclaim_ctl__start(reclaim, err, sizeof(err)) < 0 ||
			    sandbox__drop_ids(err, sizeof(err)) < 0)) {
		fprintf(stderr, "l1vmm: %s\n", err);
		status = EXIT_USAGE;
	}
	for (unsigned i = 0; status == 0 && i < n; i++) {
		if (vm__start(&vms[i].vm, err, sizeof(err)) < 0) {
			fprintf(stderr, "l1vmm: %s: %s\n", vms[i].vm.name, err);
			status = EXIT_USAGE;
		}
		vms[i].deadline = timeout > 0 ? vms[i].vm.start_time + timeout : 0;
	}
	__atomic_store_n(&hs->running, status == 0, __ATOMIC_RELEASE);
	if (status == 0) {
		sandbox__set_up_done();
		ctl_fuse__confine(mount);
		metrics_http__confine(hs->metrics);
		sandbox__enter(SANDBOX_MAIN, "main");
		supervise(vms, n, ev, stop_signal);
		watchdog__arm(&hs->dog);
		for (unsigned i = 0; i < n; i++)
			vm__join(&vms[i].vm);
		fflush(stdout);
		for (unsigned i = 0; i < n; i++)
			if (status == 0)
				status = vm__exit_status(&vms[i].vm);
		hs->status = status;
		int expected = STOP_ORDERLY_RUNNING;
		if (!__atomic_compare_exchange_n(&hs->claim, &expected, STOP_ORDERLY_REPORTED, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			for (;;)
				pause(); /* the watchdog reports and exits */
		for (unsigned i = 0; i < n; i++)
			report(&vms[i]);
	}
	reclaim_ctl__stop(reclaim);
	balloon_ctl__stop(balloon);
	dedup_host__stop(dedup);
	for (unsigned i = 0; i < n; i++) {
		if (vms[i].created)
			vm__join(&vms[i].vm); /* no vCPU faults into reclaim any more */
		if (vms[i].created)
			reclaim_ctl__remove_vm(reclaim, &vms[i].vm);
		if (vms[i].created)
			dedup_host__remove_vm(dedup, &vms[i].vm);
		vm_ctl__detach(vms[i].ctl);
		if (vms[i].created)
			vm__destroy(&vms[i].vm);
		free(vms[i].kernel_file);
		free_modules(&vms[i]);
	}
	if (have_machine)
		machine__destroy(&machine);
	kvm_host__close(&kvm);
	return status;
}

/* The sandbox's policy (l1vmm/sandbox.h), before any thread starts. */
static int confine(const struct run_options *o, struct dedup_host *dedup, char *err, size_t errlen)
{
	struct sandbox_policy p = { .on = !o->no_sandbox, .ksm_writes = dedup_host__uses_ksm(dedup),
				    .fork_fails = o->sysfs_dir && geteuid() != 0 };
	if (o->user && sandbox__resolve_user(o->user, &p, err, errlen) < 0)
		return -1;
	if (o->user && (o->sysfs_dir || p.ksm_writes)) {
		/* both need root at the end: the unmount, KSM's settings put back */
		snprintf(err, errlen, "--user cannot be combined with %s (it needs root until l1vmm "
			 "ends)", o->sysfs_dir ? "--sysfs" : "dedup/backend=ksm");
		return -1;
	}
	return sandbox__prepare(&p, err, errlen);
}

int host__run(const struct run_options *o, volatile sig_atomic_t *stop_signal)
{
	char err[512];
	sandbox__report_crashes();
	int recovered = dedup_ksm__recover(err, sizeof(err));
	if (recovered < 0)
		fprintf(stderr, "l1vmm: warning: %s\n", err);
	else if (recovered > 0)
		fprintf(stderr, "l1vmm: put back KSM's settings that a killed l1vmm left changed\n");
	struct ctl_tree *tree = ctl__create();
	struct dedup_host *dedup = dedup_host__create();
	struct balloon_ctl *balloon = balloon_ctl__create();
	struct reclaim_ctl *reclaim = reclaim_ctl__create();
	if (!tree || !dedup || !balloon || !reclaim || host_ctl__register(tree) < 0 ||
	    dedup_host__register(dedup, tree) < 0 || balloon_ctl__register(balloon, tree) < 0 ||
	    reclaim_ctl__register(reclaim, tree) < 0) {
		fprintf(stderr, "l1vmm: out of memory for the control tree\n");
		ctl__destroy(tree);
		dedup_host__destroy(dedup);
		balloon_ctl__destroy(balloon);
		reclaim_ctl__destroy(reclaim);
		return EXIT_USAGE;
	}
	struct ctl_config cc = { 0 };
	struct host_vm *vms = NULL;
	unsigned n = 0;
	int status = EXIT_USAGE;
	if (o->config_dir) {
		if (ctl_config__load(tree, o->config_dir, &cc, err, sizeof(err)) < 0)
			goto fail;
		if (cc.nr_vms == 0) {
			snprintf(err, sizeof(err), "config %s defines no VM (vms/NAME/)", o->config_dir);
			goto fail;
		}
		n = (unsigned)cc.nr_vms;
	} else {
		n = o->nr_vms;
	}
	vms = calloc(n, sizeof(*vms));
	if (!vms) {
		snprintf(err, sizeof(err), "out of memory for %u VMs", n);
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		if (o->config_dir) {
			vms[i].ctl = cc.vms[i];
		} else if (host__configure_vm(tree, o, i, &vms[i].ctl, err, sizeof(err)) < 0) {
			n = i; /* the ones before are registered and get released below */
			goto fail;
		}
	}
	for (unsigned i = 0; i < o->nr_sets; i++)
		if (apply_set(tree, o->sets[i], err, sizeof(err)) < 0)
			goto fail;
	if (confine(o, dedup, err, sizeof(err)) < 0)
		goto fail;
	struct ctl_mount *mount = NULL;
	if (o->sysfs_dir && !(mount = ctl_fuse__mount(tree, o->sysfs_dir, o->sysfs_group, err,
						   sizeof(err))))
		goto fail;
	struct metrics_http *metrics = NULL;
	if (o->metrics && !(metrics = metrics_http__start(tree, o->metrics, &o->metrics_addr,
							  o->metrics_addr_len, err, sizeof(err)))) {
		ctl_fuse__unmount(mount);
		goto fail;
	}
	if (metrics)
		host_log(LOG_INFO, "metrics at %s", metrics_http__url(metrics));
	struct host_events ev = { .lock = PTHREAD_MUTEX_INITIALIZER,
				  .cv = PTHREAD_COND_INITIALIZER };
	struct host_stop hs = { .vms = vms, .n = n, .dedup = dedup, .metrics = metrics,
				.sysfs_dir = o->sysfs_dir, .mounted = mount != NULL,
				.stop_signal = stop_signal };
	int rc = watchdog__start(&hs.dog, STOP_GRACE_SECONDS, stop_signal, force_exit, &hs);
	if (rc < 0) {
		metrics_http__stop(metrics);
		ctl_fuse__unmount(mount);
		snprintf(err, sizeof(err), "cannot start the shutdown watchdog: %s", strerror(-rc));
		goto fail;
	}
	status = run_vms(vms, n, o->multi, &ev, o->timeout, dedup, balloon, reclaim, mount,
			 stop_signal, &hs);
	metrics_http__stop(metrics);
	__atomic_store_n(&hs.mounted, false, __ATOMIC_RELEASE);
	ctl_fuse__unmount(mount);
	watchdog__stop(&hs.dog); /* before anything it uses is freed */
	goto out;
fail:
	fprintf(stderr, "l1vmm: %s\n", err);
out:
	if (o->config_dir) {
		ctl_config__release(tree, &cc);
	} else {
		for (unsigned i = 0; vms && i < n; i++) {
			vm_ctl__unregister(tree, vms[i].ctl);
			vm_ctl__free(vms[i].ctl);
		}
	}
	free(vms);
	ctl__destroy(tree);
	dedup_host__destroy(dedup);
	balloon_ctl__destroy(balloon);
	reclaim_ctl__destroy(reclaim);
	return status;
}
