/* SPDX-License-Identifier: MIT */
/*
 * DOC: a VM's disk (blk_host.h): the backing file, the device's place on
 * the bus, its view of guest RAM and its interrupt line.
 */
#include "l1vmm/blk_host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "l1vmm/dedup_host.h"
#include "l1vmm/dp_host.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/vm.h"
#include "pvops/l1vmm_abi.h"
#include "virtio/blk.h"

_Static_assert(BLK_HOST_GPA == 0xd0002000ull && BLK_HOST_IRQ == 6,
	       "BLK_HOST_CMDLINE describes the device");
_Static_assert(BLK_HOST_GPA >= L1_DOORBELL_GPA + 4096 &&
	       BLK_HOST_GPA + 4096 <= L1_DOORBELL_GPA + L1_SHADOW_MMIO_BYTES,
	       "shadow guests reach the device through l1vmm's device window");

static void *gpa_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	struct vm *vm = ctx;
	return ept__gpa_ptr(vm->ram, gpa, len);
}

/* The used ring stays out of page sharing (virtq.h) and, in shadow mode,
 * out of host reclaim (pinned: the device writes it behind the shadows). */
static int device_writes(void *ctx, uint64_t gpa, uint64_t len)
{
	struct vm *vm = ctx;
	if (!vm->shadow)
		return dedup_ept__host_writes(ctx, gpa, len);
	if (!len || gpa + len < gpa)
		return 0;
	for (uint64_t g = gpa / 4096; g <= (gpa + len - 1) / 4096; g++)
		shadow__pin(&vm->shadow->g, g);
	return 0;
}

static void set_irq(void *ctx, bool level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level irq = { .irq = BLK_HOST_IRQ, .level = level };
	if (ioctl(vm->fd, KVM_IRQ_LINE, &irq) < 0)
		__atomic_fetch_add(&vm->disk_irq_errors, 1, __ATOMIC_RELAXED);
}

static const struct bus_dev_ops mmio_ops = { .read = virtio_mmio__read,
					     .write = virtio_mmio__write };

/* The file at path, created at size bytes when missing: an fd, or -1 with a reason. */
static int open_disk(const char *path, uint64_t size, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	bool created = false;
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL, 0600);
		created = fd >= 0;
	}
	if (fd < 0) {
		snprintf(err, errlen, "disk %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "disk %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (created && ftruncate(fd, (off_t)size) < 0) {
		snprintf(err, errlen, "disk %s: cannot make it %llu bytes: %s", path,
			 (unsigned long long)size, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (!created && st.st_size < (off_t)VIRTIO_BLK_SECTOR) {
		snprintf(err, errlen, "disk %s: smaller than one 512-byte sector", path);
		close(fd);
		return -1;
	}
	return fd;
}

int blk_host__create(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	vm->disk_fd = -1;
	if (!cfg->disk || !cfg->disk[0])
		return 0;
	uint64_t size = cfg->disk_size ? cfg->disk_size : BLK_HOST_DEFAULT_SIZE;
	int fd = open_disk(cfg->disk, size, err, errlen);
	if (fd < 0)
		return -1;
	vm->disk_fd = fd;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "disk %s: %s", cfg->disk, strerror(errno));
		return -1;
	}
	struct virtq_mem mem = { .gpa_ptr = gpa_ptr, .device_writes = device_writes,
				 .ctx = vm };
	char id[6 + VM_NAME_MAX]; /* the device keeps the first 20 bytes */
	snprintf(id, sizeof(id), "l1vmm-%s", vm->name);
	vm->virtio_blk = virtio_blk__create(fd, (uint64_t)st.st_size / VIRTIO_BLK_SECTOR, id, &mem,
					    vm->shadow ? NULL : set_irq, vm);
	if (!vm->virtio_blk) {
		snprintf(err, errlen, "out of memory for the virtio-blk device");
		return -1;
	}
	/* request data through the p2m: frames page sharing or host reclaim hold */
	virtio_blk__set_access(vm->virtio_blk, &(struct virtio_blk_access){
		.read = dp_host__read, .write = dp_host__write, .ctx = vm });
	int rc = bus__register(&vm->mmio, BLK_HOST_GPA, 4096, &mmio_ops,
			       virtio_blk__transport(vm->virtio_blk), "virtio-blk");
	if (rc < 0) {
		snprintf(err, errlen, "cannot place the virtio-blk device: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

void blk_host__destroy(struct vm *vm)
{
	virtio_blk__destroy(vm->virtio_blk);
	vm->virtio_blk = NULL;
	if (vm->disk_fd >= 0)
		close(vm->disk_fd);
	vm->disk_fd = -1;
}

int blk_host__show(struct vm *vm, char *buf, size_t len)
{
	if (!vm->virtio_blk)
		return snprintf(buf, len, "none\n");
	struct virtio_blk_state s;
	virtio_blk__state(vm->virtio_blk, &s);
	return snprintf(buf, len,
			"status %#x\nfeatures %#llx\nneeds_reset %s\nreason %s\ncapacity %llu\n"
			"reads %llu\nwrites %llu\nflushes %llu\nget_ids %llu\nbytes_read %llu\n"
			"bytes_written %llu\nunsupported %llu\nbad_requests %llu\nio_errors %llu\n"
			"no_status %llu\nnotifies %llu\n",
			s.t.status, (unsigned long long)s.t.driver_features,
			s.t.status & VIRTIO_STATUS_NEEDS_RESET ? "yes" : "no",
			s.t.needs_reset_reason[0] ? s.t.needs_reset_reason : "-",
			(unsigned long long)s.capacity, (unsigned long long)s.c.reads,
			(unsigned long long)s.c.writes, (unsigned long long)s.c.flushes,
			(unsigned long long)s.c.get_ids, (unsigned long long)s.c.bytes_read,
			(unsigned long long)s.c.bytes_written, (unsigned long long)s.c.unsupported,
			(unsigned long long)s.c.bad_requests, (unsigned long long)s.c.io_errors,
			(unsigned long long)s.c.no_status, (unsigned long long)s.t.c.notifies);
}
