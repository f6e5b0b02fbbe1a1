// SPDX-License-Identifier: MIT
/*
 * DOC: the first task: banner, command line, workload, power off.
 *
 * Runs at CPL3 like every task, so parsing and formatting are native speed.
 * The kernel copied the command line into user__cmdline; it is split in
 * place (spaces become NULs, '=' separates key and value).
 */
#include "lib/parse.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "user/init.h"
#include "user/user.h"
#include "user/workload.h"

char user__cmdline[L1_CMDLINE_MAX];

static const struct workload *const workloads[] = {
	&workload__hello, &workload__compute, &workload__memtouch,
	&workload__selftest, &workload__crash, &workload__hostile, &workload__dup,
	&workload__churn, &workload__attack, &workload__hotcold, &workload__swapstorm,
	&workload__disktest, &workload__apf,
};

void args__bad(const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	printf__vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("l1guest: bad command line: %s\n", buf);
}

enum workload_result result__fail(struct result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf__vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return W_FAIL;
}

int tasks__spawn(int64_t (*fn)(uint64_t), void *base, size_t stride, unsigned int n,
		 int64_t *tids, struct result *r)
{
	for (unsigned int t = 0; t < n; t++) {
		tids[t] = task__spawn(fn, (uint64_t)base + t * stride, -1);
		if (tids[t] < 0) {
			result__fail(r, "cannot spawn task %u: error %ld", t, tids[t]);
			while (t--)
				task__join(tids[t]);
			return -1;
		}
	}
	return 0;
}

int tasks__join(unsigned int n, const int64_t *tids, struct result *r)
{
	for (unsigned int t = 0; t < n; t++) {
		int64_t st = task__join(tids[t]);

		if (st != 0 && !r->reason[0])
			result__fail(r, "task %ld ended with status %#lx", tids[t], st);
	}
	return r->reason[0] ? -1 : 0;
}

const char *args__get(const struct args *a, const char *key)
{
	for (unsigned int i = 0; i < a->n; i++)
		if (!strcmp(a->kv[i].key, key))
			return a->kv[i].val;
	return NULL;
}

static int args_number(const struct args *a, const char *key, uint64_t def, uint64_t min,
		       uint64_t max, uint64_t *out, bool size)
{
	const char *v = args__get(a, key);

	if (!v) {
		*out = def;
		return 0;
	}
	if ((size ? parse__size(v, strlen(v), out) : parse__u64(v, strlen(v), out))) {
		args__bad("%s=%s is not a %s", key, v, size ? "size (N, NK, NM, NG)" : "number");
		return -1;
	}
	if (*out < min || *out > max) {
		args__bad("%s=%s is out of range [%lu, %lu]", key, v, min, max);
		return -1;
	}
	return 0;
}

int args__u64(const struct args *a, const char *key, uint64_t def, uint64_t min,
	      uint64_t max, uint64_t *out)
{
	return args_number(a, key, def, min, max, out, false);
}

int args__size(const struct args *a, const char *key, uint64_t def, uint64_t min,
	       uint64_t max, uint64_t *out)
{
	return args_number(a, key, def, min, max, out, true);
}

static int split(char *s, struct args *a)
{
	a->n = 0;
	for (;;) {
		char *eq;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			*s++ = '\0';
		if (!*s)
			return 0;
		if (a->n == ARGS_MAX) {
			args__bad("more than %d arguments", ARGS_MAX);
			return -1;
		}
		a->kv[a->n].key = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n')
			s++;
		if (*s)
			*s++ = '\0';
		eq = strchr(a->kv[a->n].key, '=');
		if (!eq || eq == a->kv[a->n].key) {
			args__bad("'%s' is not key=value", a->kv[a->n].key);
			return -1;
		}
		*eq = '\0';
		a->kv[a->n].val = eq + 1;
		for (unsigned int i = 0; i < a->n; i++) {
			/* one virtio_mmio.device= per device l1vmm gives the VM */
			if (!strcmp(a->kv[i].key, a->kv[a->n].key) &&
			    strcmp(a->kv[i].key, "virtio_mmio.device")) {
				args__bad("%s given twice", a->kv[i].key);
				return -1;
			}
		}
		a->n++;
	}
}

static bool key_known(const struct workload *w, const char *key)
{
	/* the kernel's own: balloon=pv|virtio, swap=virtio, the virtio-mmio device descriptions */
	if (!strcmp(key, "workload") || !strcmp(key, "hz") || !strcmp(key, "pv_tables") ||
	    !strcmp(key, "balloon") || !strcmp(key, "swap") || !strcmp(key, "apf") || !strcmp(key, "virtio_mmio.device"))
		return true;
	for (const char *const *k = w->keys; k && *k; k++)
		if (!strcmp(*k, key))
			return true;
	return false;
}

static void banner(void)
{
	uint32_t hv[4], native[4];
	char sig[13], native_sig[13];
	uint64_t boot_us = time__cycles_to_us(cpu__rdtsc() - user__info.boot_tsc);
	int64_t rc = sys__cpuid(L1_CPUID_SIGNATURE, 0, hv);

	cpu__signature(hv, sig);
	cpu__cpuid(L1_CPUID_SIGNATURE, 0, native);
	cpu__signature(native, native_sig);
	printf("l1guest: l1vmm guest kernel, ABI %u, %s mode, pv_ops %s, %u vCPUs, %lu MiB RAM, "
	       "tsc %lu kHz, tick %u Hz, user space %lu.%03lu ms after entry\n",
	       user__info.abi_version, user__info.mode == L1_MODE_SHADOW ? "shadow" : "ept",
	       user__info.pvops, user__info.nr_cpus, user__info.mem_bytes >> 20,
	       user__info.tsc_khz, user__info.hz, boot_us / 1000, boot_us % 1000);
	if (rc == 0 && !memcmp(sig, L1_CPUID_SIGNATURE_STR, 12))
		printf("l1guest: hypervisor \"%s\" (max leaf %#x) through L1_HC_CPUID; the cpuid "
		       "instruction %s \"%s\"\n", sig, hv[0],
		       memcmp(native_sig, sig, 12) ? "shows other leaves:" : "agrees:",
		       native_sig);
	else
		printf("l1guest: hypervisor signature not found (L1_HC_CPUID: %ld, \"%s\"; "
		       "the cpuid instruction: \"%s\")\n", rc, sig, native_sig);
}

int64_t user__main(uint64_t cmdline)
{
	static struct args args;
	static struct result res;
	const struct workload *w = NULL;
	const char *name;
	enum workload_result rc;
	uint64_t hz;

	sys__info(&user__info);
	banner();
	if (split((char *)cmdline, &args))
		sys__poweroff(1);
	name = args__get(&args, "workload");
	if (!name)
		name = "hello";
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (!strcmp(workloads[i]->name, name))
			w = workloads[i];
	if (!w) {
		args__bad("unknown workload '%s' (hello, compute, memtouch, selftest, crash, hostile, dup, "
			  "churn, attack, hotcold, swapstorm, disktest, apf)", name);
		sys__poweroff(1);
	}
	for (unsigned int i = 0; i < args.n; i++) {
		if (!key_known(w, args.kv[i].key)) {
			args__bad("workload=%s takes no '%s'", name, args.kv[i].key);
			sys__poweroff(1);
		}
	}
	if (args__u64(&args, "hz", user__info.hz, 1, 10000, &hz))
		sys__poweroff(1);
	if (hz != user__info.hz) {
		sys__set_hz(hz);
		user__info.hz = (uint32_t)hz;
	}

	rc = w->run(&args, &res);
	if (rc == W_BADARG)
		sys__poweroff(1);
	if (rc == W_PASS)
		printf("l1guest: workload=%s result=PASS\n", name);
	else
		printf("l1guest: workload=%s result=FAIL (%s)\n", name, res.reason);
	sys__poweroff(rc == W_PASS ? 0 : 1);
}
