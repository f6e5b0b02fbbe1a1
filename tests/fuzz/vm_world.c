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

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
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
	return 0;
}

void vm_world__create(struct vm_world *w, bool shadow, uint64_t mem_bytes,
		      bool (*next_exit)(void *ctx), void (*on_enter)(void *ctx), void *ctx)
{
	memset(w, 0, sizeof(*w));
	if (fake_kvm__init(&w->k, &w->host) < 0)
		abort();
	w->k.next_exit = next_exit;
	w->k.on_enter = on_enter;
	w->k.ctx = ctx;
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

void vm_world__play(struct vm_world *w, const uint8_t *data, size_t size, size_t max)
{
	w->in = data;
	w->in_left = size < max ? size : max;
	char err[256];
	if (vm__start(&w->vm, err, sizeof(err)) < 0)
		abort();
	pthread_mutex_lock(&w->vm.lock);
	while (w->vm.nr_running > 0)
		pthread_cond_wait(&w->vm.ended_cv, &w->vm.lock);
	pthread_mutex_unlock(&w->vm.lock);
}

const uint8_t *vm_world__take(struct vm_world *w, size_t n)
{
	if (w->in_left < n)
		return NULL;
	const uint8_t *p = w->in;
	w->in += n;
	w->in_left -= n;
	return p;
}

bool vm_world__step(struct vm_world *w, size_t bytes, struct step *st)
{
	const uint8_t *p = vm_world__take(w, bytes);
	if (!p)
		return false;
	*st = (struct step){ .op = p[0], .a = p[1], .b = p[2], .c = p[3] };
	memcpy(&st->x, p + 4, 4);
	memcpy(&st->y, p + 8, 8);
	memcpy(&st->z, p + 16, 8);
	if (bytes >= 32)
		memcpy(&st->w, p + 24, 8);
	return true;
}

void *vm_world__ram(struct vm_world *w, uint64_t gpa, uint64_t len)
{
	void *p = ept__gpa_ptr(w->vm.ram, gpa, len);
	if (!p)
		abort();
	return p;
}

void vm_world__mmio_write(struct vm_world *w, uint64_t gpa, uint64_t value)
{
	struct kvm_run *run = w->k.run;
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = 8;
	run->mmio.is_write = 1;
	memcpy(run->mmio.data, &value, 8);
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
