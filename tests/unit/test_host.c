/* Unit tests: command-line VM settings go through the control tree's registry. */
#include "cmocka_all.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l1vmm/ctl.h"
#include "l1vmm/host.h"
#include "l1vmm/options.h"

#define RUN(o, err, ...) options__parse_run( \
	(int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(char *)), \
	(char *const *)(const char *[]){ __VA_ARGS__ }, o, err, 256)

static struct ctl_tree *new_tree(void)
{
	struct ctl_tree *t = ctl__create();
	assert_non_null(t);
	assert_int_equal(host_ctl__register(t), 0);
	return t;
}

static char *read_value(struct ctl_tree *t, const char *path)
{
	char *text = NULL;
	assert_int_equal(ctl__read(t, path, &text), 0);
	return text;
}

static void single_vm_defaults_and_values(void **state)
{
	(void)state;
	static struct run_options o;
	char err[256] = "";
	struct ctl_tree *t = new_tree();
	assert_int_equal(RUN(&o, err, "--vcpus", "2", "k.elf", "--", "workload=hello"), OPT_OK);
	struct vm_ctl *vmc;
	assert_int_equal(host__configure_vm(t, &o, 0, &vmc, err, sizeof(err)), 0);
	assert_int_equal(vmc->mem_bytes, 256ull << 20); /* the default */
	assert_int_equal(vmc->vcpus, 2);
	assert_string_equal(vmc->kernel, "k.elf");
	assert_string_equal(vmc->cmdline, "workload=hello");
	char *v = read_value(t, "vms/vm0/mem");
	assert_string_equal(v, "268435456\n");
	free(v);
	vm_ctl__unregister(t, vmc);
	vm_ctl__free(vmc);
	options__free(&o);
	ctl__destroy(t);
}

/* A bad value is refused by the registry, with the option's name and the range. */
static void refusals_name_the_option(void **state)
{
	(void)state;
	static struct run_options o;
	char err[256];
	static const struct { const char *a, *b, *needle; } cases[] = {
		{ "--mem", "12Q", "--mem: '12Q' is not valid (size" },
		{ "--mem", "1000", "--mem: '1000' is not valid" },
		{ "--mem", "1M", "--mem: '1M' is not valid" },
		{ "--mem", "65G", "--mem: '65G' is not valid" },
		{ "--vcpus", "0", "--vcpus: '0' is not valid (integer 1..255)" },
		{ "--vcpus", "256", "--vcpus: '256' is not valid" },
		{ "--vcpus", "two", "--vcpus: 'two' is not valid" },
		{ "--mode", "fast", "--mode: 'fast' is not valid" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctl_tree *t = new_tree();
		struct vm_ctl *vmc = NULL;
		assert_int_equal(RUN(&o, err, cases[i].a, cases[i].b), OPT_OK);
		err[0] = '\0';
		assert_int_equal(host__configure_vm(t, &o, 0, &vmc, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].needle))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
		char *text;
		assert_int_equal(ctl__read(t, "vms/vm0/mem", &text), -ENOENT); /* rolled back */
		options__free(&o);
		ctl__destroy(t);
	}
}

static void vm_spec_settings(void **state)
{
	(void)state;
	static struct run_options o;
	char err[256];
	struct ctl_tree *t = new_tree();
	assert_int_equal(RUN(&o, err, "--vm", "name=a,mem=64M,domain=t1",
			     "--vm", "name=b,mem=64M,vcpus=999",
			     "--vm", "name=c,mem=64M,color=red",
			     "--vm", "name=d d,mem=64M",
			     "--vm", "name=e,mem=64M,state=running"), OPT_OK);
	struct vm_ctl *a, *x;
	assert_int_equal(host__configure_vm(t, &o, 0, &a, err, sizeof(err)), 0);
	assert_string_equal(a->domain, "t1");
	assert_int_equal(host__configure_vm(t, &o, 1, &x, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--vm b: vcpus: '999' is not valid"));
	assert_int_equal(host__configure_vm(t, &o, 2, &x, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown VM setting 'color'"));
	assert_int_equal(host__configure_vm(t, &o, 3, &x, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'d d' is not a valid VM name"));
	assert_int_equal(host__configure_vm(t, &o, 4, &x, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is a reading, not a setting"));
	char *v = read_value(t, "host/nr_vms");
	assert_string_equal(v, "1\n"); /* only a: the refused ones left nothing behind */
	free(v);
	vm_ctl__unregister(t, a);
	vm_ctl__free(a);
	options__free(&o);
	ctl__destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_vm_defaults_and_values),
		cmocka_unit_test(refusals_name_the_option),
		cmocka_unit_test(vm_spec_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
