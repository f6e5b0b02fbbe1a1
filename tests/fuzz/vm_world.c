/* A VM of l1vmm's own making on the fake /dev/kvm (vm_world.h). */
#include "vm_world.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "l1vmm/vcpu.h"

static void *kernel;
static size_t kernel_size;

void vm_world__init_process(void)
{
	FILE *f = fopen(L1_FUZZ_KERNEL, "rb");
	if (!f || fseek(f, 0, SEEK_END) < 0)
		abort();
	kernel_size = (size_t)ftell(f);
	kernel = malloc(kernel_size);
	rewind(f);
	if (!kernel || fread(kernel, 1, kernel_size, f) != kernel_size)
		abort();
	fclose(f);
	int null = open("/dev/null", O_WRONLY);
	if (null < 0 || dup2(null, STDOUT_FILENO) < 0) /* the guest's console */
		abort();
	close(null);
	vcpu__init_signals();
}

void vm_world__create(struct vm_world *w, bool shadow, uint64_t mem_bytes)
{
	memset(w, 0, sizeof(*w));
	if (fake_kvm__init(&w->k, &w->host) < 0)
		abort();
	char err[256];
	if (shadow) {
		if (machine__create(&w->m, &w->host, mem_bytes, err, sizeof(err)) < 0) {
			fprintf(stderr, "machine__create: %s\n", err);
			abort();
		}
		w->have_machine = true;
	}
	struct vm_config cfg = { .name = "fz", .mem_bytes = mem_bytes, .vcpus = 1,
				 .mode = shadow ? CPU_MODE_SHADOW : CPU_MODE_EPT,
				 .machine = shadow ? &w->m : NULL, .kernel = kernel,
				 .kernel_size = kernel_size, .kernel_name = "l1_exit64",
				 .cmdline = "" };
	if (vm__create(&w->vm, &w->host, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "vm__create: %s\n", err);
		abort();
	}
}

void vm_world__run(struct vm_world *w)
{
	char err[256];
	if (vm__start(&w->vm, err, sizeof(err)) < 0)
		abort();
	pthread_mutex_lock(&w->vm.lock);
	while (w->vm.nr_running > 0)
		pthread_cond_wait(&w->vm.ended_cv, &w->vm.lock);
	pthread_mutex_unlock(&w->vm.lock);
}

bool vm_world__script_over(struct vm_world *w)
{
	vm__stop(&w->vm, VM_END_SIGNAL, 0, NULL);
	return false;
}

void vm_world__destroy(struct vm_world *w)
{
	vm__destroy(&w->vm);
	if (w->have_machine)
		machine__destroy(&w->m);
	fake_kvm__destroy(&w->k, &w->host);
}
