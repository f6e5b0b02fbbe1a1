/* The fake /dev/kvm of the fuzzers that run l1vmm's vCPU loops (fake_kvm.h). */
#include "fake_kvm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CPUID_CAP 16

static struct fake_kvm *cur;

int fake_kvm__init(struct fake_kvm *k, struct kvm_host *host)
{
	*k = (struct fake_kvm){ .sys_fd = eventfd(0, EFD_CLOEXEC), .vcpu_fd = -1 };
	if (k->sys_fd < 0)
		return -errno;
	host->cpuid = calloc(1, sizeof(*host->cpuid) + CPUID_CAP * sizeof(host->cpuid->entries[0]));
	if (!host->cpuid)
		return -ENOMEM;
	host->fd = k->sys_fd;
	host->run_size = FAKE_RUN_SIZE;
	host->max_vcpus = 4;
	host->cpuid_cap = CPUID_CAP;
	cur = k;
	return 0;
}

void fake_kvm__destroy(struct fake_kvm *k, struct kvm_host *host)
{
	if (k->run)
		munmap(k->run, FAKE_RUN_SIZE);
	close(k->sys_fd);
	free(host->cpuid);
	host->cpuid = NULL;
	cur = NULL;
}

static int fail(int err)
{
	errno = err;
	return -1;
}

static int create_vcpu(struct fake_kvm *k)
{
	if (k->vcpu_fd >= 0)
		return fail(EEXIST); /* one vCPU: the fuzzers' VMs have one */
	int fd = memfd_create("fake-kvm-run", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, FAKE_RUN_SIZE) < 0)
		return -1;
	void *run = mmap(NULL, FAKE_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (run == MAP_FAILED) {
		close(fd);
		return -1;
	}
	k->run = run;
	k->vcpu_fd = fd;
	return fd;
}

static int sys_ioctl(struct fake_kvm *k, unsigned long req)
{
	switch (req) {
	case KVM_CREATE_VM: {
		if (k->nr_vm_fds == sizeof(k->vm_fd) / sizeof(k->vm_fd[0]))
			return fail(EMFILE);
		int fd = eventfd(0, EFD_CLOEXEC);
		if (fd >= 0)
			k->vm_fd[k->nr_vm_fds++] = fd;
		return fd;
	}
	case KVM_CHECK_EXTENSION:
		return 0;
	default:
		return fail(ENOTTY);
	}
}

static int vm_ioctl(struct fake_kvm *k, unsigned long req)
{
	switch (req) {
	case KVM_CREATE_VCPU:
		return create_vcpu(k);
	case KVM_SET_USER_MEMORY_REGION:
		k->memslot_calls++;
		return 0;
	case KVM_SIGNAL_MSI:
	case KVM_IRQ_LINE:
		k->irq_calls++;
		return 0;
	case KVM_CREATE_IRQCHIP:
	case KVM_SET_TSS_ADDR:
		return 0;
	default:
		return fail(ENOTTY);
	}
}

static int vcpu_ioctl(struct fake_kvm *k, unsigned long req, void *arg)
{
	switch (req) {
	case KVM_RUN:
		if (__atomic_load_n(&k->run->immediate_exit, __ATOMIC_ACQUIRE)) {
			k->settles++; /* as KVM: complete the pending exit, do not enter */
			return fail(EINTR);
		}
		k->runs++;
		if (k->state_set && k->on_enter)
			k->on_enter(k->ctx);
		k->state_set = false;
		return k->next_exit(k->ctx) ? 0 : fail(EINTR);
	case KVM_GET_REGS:
		memcpy(arg, &k->regs, sizeof(k->regs));
		return 0;
	case KVM_SET_REGS:
		memcpy(&k->regs, arg, sizeof(k->regs));
		k->state_set = true;
		return 0;
	case KVM_GET_SREGS:
		memcpy(arg, &k->sregs, sizeof(k->sregs));
		return 0;
	case KVM_SET_SREGS:
		memcpy(&k->sregs, arg, sizeof(k->sregs));
		k->state_set = true;
		return 0;
	case KVM_GET_VCPU_EVENTS:
		memcpy(arg, &k->events, sizeof(k->events));
		return 0;
	case KVM_TRANSLATE:
		((struct kvm_translation *)arg)->valid = 0;
		return 0;
	case KVM_GET_MSRS:
		((struct kvm_msrs *)arg)->entries[0].data = 0;
		return 1;
	case KVM_SET_CPUID2:
	case KVM_SET_MP_STATE:
		return 0;
	default:
		return fail(ENOTTY);
	}
}

/* Overrides libc's ioctl (and the sanitizers' interceptor, which is weak). */
int ioctl(int fd, unsigned long req, ...);
int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct fake_kvm *k = cur;
	if (k && fd >= 0) {
		if (fd == k->sys_fd)
			return sys_ioctl(k, req);
		if (fd == k->vcpu_fd)
			return vcpu_ioctl(k, req, arg);
		for (unsigned i = 0; i < k->nr_vm_fds; i++)
			if (fd == k->vm_fd[i])
				return vm_ioctl(k, req);
	}
	return (int)syscall(SYS_ioctl, fd, req, arg);
}
