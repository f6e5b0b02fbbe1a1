// SPDX-License-Identifier: MIT
/*
 * DOC: the virtio-blk driver (virtio 1.2 §5.2) over virtio-mmio, both modes.
 *
 * The device is the first virtio_mmio.device= window whose DeviceID is 2.
 * ept mode reaches it through an uncached supervisor mapping of the window
 * (paging__map_mmio), shadow mode through l1vmm's device window at the top
 * of the address space (L1_SHADOW_MMIO_VA): every register access is an
 * exit, so the driver makes as few as it can.
 *
 * Initialisation follows §3.1.1: reset, ACKNOWLEDGE, DRIVER, features
 * (VERSION_1 required; FLUSH taken when offered), FEATURES_OK checked, one
 * request queue of VQ_SIZE entries in one kernel frame, DRIVER_OK. The
 * driver asks for no interrupts (VIRTQ_AVAIL_F_NO_INTERRUPT): l1vmm serves
 * a request while the notify exits, so the used ring is already up to date
 * when the notify returns, and the driver polls it (bounded; a device that
 * does not answer, or wants a reset, is failed for good).
 *
 * Each request is three descriptors, always 0, 1, 2: the header (kernel
 * .bss, va == gpa in both modes), the data at the caller's guest-physical
 * address, the status byte. One request at a time, under vblk_lock.
 */
#include "kernel/virtio_blk.h"

#include "arch/x86/x86.h"
#include "include/uapi.h"
#include "kernel/console.h"
#include "kernel/mm.h"
#include "kernel/spinlock.h"
#include "kernel/virtio_mmio.h"

#define VIRTIO_ID_BLOCK   2u
#define F_FLUSH        9

#define T_IN    0u
#define T_OUT   1u
#define T_FLUSH 4u
#define S_OK    0u

#define VQ_SIZE         4u
#define VQ_DRIVER_OFF   1024
#define VQ_DEVICE_OFF   2048
#define DESC_F_NEXT     1u
#define DESC_F_WRITE    2u
#define AVAIL_F_NO_INTERRUPT 1u
#define POLL_SPINS      1000000u
#define MAX_BYTES       (1u << 20)

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct {
	uint64_t va;              /* where the kernel reaches the window; 0 = no device */
	uint64_t gpa;
	uint64_t capacity;        /* sectors */
	uint64_t features;
	struct vq_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[VQ_SIZE] */
	volatile uint16_t *used;  /* flags, idx, ring of {u32 id, u32 len} */
	uint16_t next_avail;
	bool failed;
} dev;

static struct spinlock vblk_lock;
static struct {
	uint32_t type, reserved;
	uint64_t sector;
} req_hdr __attribute__((aligned(16)));
static volatile uint8_t req_status;

static inline uint32_t rd(uint32_t off)
{
	return virtio_mmio__rd(dev.va, off);
}

static inline void wr(uint32_t off, uint32_t val)
{
	virtio_mmio__wr(dev.va, off, val);
}

static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static void fail(const char *why)
{
	if (!dev.failed)
		console__printf("virtio-blk: %s: the disk is failed\n", why);
	dev.failed = true;
}

/* Is there a virtio-mmio v2 block device in window w? Then dev.va, dev.gpa. */
static bool probe(const struct virtio_mmio_window *w)
{
	uint64_t va;

	if (w->size < VM_CONFIG + 8 || w->base < L1_RAM_HOLE_START ||
	    w->base > L1_RAM_HIGH_START - w->size || (w->base & 0xfff))
		return false;
	va = virtio_mmio__map(w->base);
	if (!va)
		return false;
	dev.va = va;
	if (rd(VM_MAGIC) == VIRTIO_MMIO_MAGIC && rd(VM_VERSION) == 2 &&
	    rd(VM_DEVICE_ID) == VIRTIO_ID_BLOCK) {
		dev.gpa = w->base;
		return true;
	}
	dev.va = 0;
	return false;
}

static int start_device(void)
{
	uint32_t status = ST_ACKNOWLEDGE | ST_DRIVER;
	uint64_t offered, d, a, u;
	uint8_t *ring;

	wr(VM_STATUS, 0);
	if (rd(VM_STATUS))
		return -1;
	wr(VM_STATUS, ST_ACKNOWLEDGE);
	wr(VM_STATUS, status);
	wr(VM_DEV_FEAT_SEL, 0);
	offered = rd(VM_DEV_FEATURES);
	wr(VM_DEV_FEAT_SEL, 1);
	offered |= (uint64_t)rd(VM_DEV_FEATURES) << 32;
	if (!(offered & 1ull << F_VERSION_1))
		return -2;
	dev.features = 1ull << F_VERSION_1 | (offered & 1ull << F_FLUSH);
	wr(VM_DRV_FEAT_SEL, 0);
	wr(VM_DRV_FEATURES, (uint32_t)dev.features);
	wr(VM_DRV_FEAT_SEL, 1);
	wr(VM_DRV_FEATURES, (uint32_t)(dev.features >> 32));
	status |= ST_FEATURES_OK;
	wr(VM_STATUS, status);
	if (!(rd(VM_STATUS) & ST_FEATURES_OK))
		return -3;
	wr(VM_QUEUE_SEL, 0);
	if (rd(VM_QUEUE_READY) || rd(VM_QUEUE_NUM_MAX) < VQ_SIZE)
		return -4;
	ring = mm__alloc_frames(0, false);
	if (!ring)
		return -5;
	dev.desc = (struct vq_desc *)ring;
	dev.avail = (volatile uint16_t *)(ring + VQ_DRIVER_OFF);
	dev.used = (volatile uint16_t *)(ring + VQ_DEVICE_OFF);
	dev.avail[0] = AVAIL_F_NO_INTERRUPT;
	dev.avail[1] = 0;
	dev.used[0] = 0;
	dev.used[1] = 0;
	d = (uint64_t)ring;
	a = d + VQ_DRIVER_OFF;
	u = d + VQ_DEVICE_OFF;
	barrier();
	wr(VM_QUEUE_NUM, VQ_SIZE);
	wr(VM_QUEUE_DESC, (uint32_t)d);
	wr(VM_QUEUE_DESC + 4, (uint32_t)(d >> 32));
	wr(VM_QUEUE_DRIVER, (uint32_t)a);
	wr(VM_QUEUE_DRIVER + 4, (uint32_t)(a >> 32));
	wr(VM_QUEUE_DEVICE, (uint32_t)u);
	wr(VM_QUEUE_DEVICE + 4, (uint32_t)(u >> 32));
	wr(VM_QUEUE_READY, 1);
	dev.capacity = rd(VM_CONFIG) | (uint64_t)rd(VM_CONFIG + 4) << 32;
	status |= ST_DRIVER_OK;
	wr(VM_STATUS, status);
	if (rd(VM_STATUS) & ST_NEEDS_RESET)
		return -6;
	return 0;
}

int vblk__init(const char *cmdline)
{
	struct virtio_mmio_window w;
	int rc;

	for (unsigned int i = 0; (rc = virtio_mmio__window(cmdline, i, &w, "virtio-blk")) > 0; i++)
		if (probe(&w))
			break;
	if (!dev.va)
		return -L1G_ENOSYS; /* no disk: the caller says whether that matters */
	rc = start_device();
	if (rc < 0) {
		console__printf("virtio-blk: the device at %#lx did not come up (step %d)\n",
				dev.gpa, -rc);
		wr(VM_STATUS, ST_FAILED);
		dev.va = 0;
		return -L1G_EINVAL;
	}
	console__printf("virtio-blk: device at %#lx, %lu sectors, features %#lx\n", dev.gpa,
			dev.capacity, dev.features);
	return 0;
}

uint64_t vblk__capacity(void)
{
	return dev.va && !dev.failed ? dev.capacity : 0;
}

static void put(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags)
{
	dev.desc[i] = (struct vq_desc){ .addr = addr, .len = len, .flags = flags,
					 .next = (uint16_t)(i + 1) };
}

/* One request of type with nbytes of data at gpa (none: nbytes 0); the status. */
static int submit(uint32_t type, uint64_t sector, uint64_t gpa, uint32_t nbytes)
{
	unsigned int n = 0;
	uint16_t want;

	req_hdr.type = type;
	req_hdr.reserved = 0;
	req_hdr.sector = sector;
	req_status = 0xff;
	put(n++, (uint64_t)&req_hdr, sizeof(req_hdr), DESC_F_NEXT);
	if (nbytes)
		put(n++, gpa, nbytes, DESC_F_NEXT | (type == T_IN ? DESC_F_WRITE : 0));
	put(n, (uint64_t)&req_status, 1, DESC_F_WRITE);
	dev.avail[2 + (dev.next_avail & (VQ_SIZE - 1))] = 0;
	dev.next_avail++;
	barrier(); /* the slot and descriptors before the index (x86 keeps store order) */
	dev.avail[1] = dev.next_avail;
	barrier();
	wr(VM_QUEUE_NOTIFY, 0);
	want = dev.next_avail;
	for (uint32_t spin = 0; spin < POLL_SPINS; spin++) {
		if (__atomic_load_n(&dev.used[1], __ATOMIC_ACQUIRE) == want)
			return req_status == S_OK ? 0 : -L1G_EIO;
		if (spin == 0 && (rd(VM_STATUS) & ST_NEEDS_RESET))
			break;
		cpu_relax();
	}
	fail("the device does not answer or wants a reset");
	return -L1G_EIO;
}

int vblk__rw(bool write, uint64_t sector, uint64_t gpa, uint32_t len)
{
	int rc;

	if (!dev.va || dev.failed || !len || len % VBLK_SECTOR || len > MAX_BYTES ||
	    sector > dev.capacity || len / VBLK_SECTOR > dev.capacity - sector)
		return dev.failed ? -L1G_EIO : -L1G_EINVAL;
	spin__lock(&vblk_lock);
	rc = submit(write ? T_OUT : T_IN, sector, gpa, len);
	spin__unlock(&vblk_lock);
	return rc;
}

int vblk__flush(void)
{
	int rc;

	if (!dev.va || dev.failed)
		return -L1G_EIO;
	if (!(dev.features & 1ull << F_FLUSH))
		return 0;
	spin__lock(&vblk_lock);
	rc = submit(T_FLUSH, 0, 0, 0);
	spin__unlock(&vblk_lock);
	return rc;
}
