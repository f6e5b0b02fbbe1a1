// SPDX-License-Identifier: MIT
/*
 * DOC: the virtio-balloon driver (`balloon=virtio`, ept mode).
 *
 * The device is virtio-balloon (virtio 1.2 §5.5) behind a virtio-mmio
 * version 2 window (§4.2), described on the command line as Linux takes it:
 * `virtio_mmio.device=<size>@<base>:<irq>` (size with K/M/G, base in hex).
 * Its interrupt pin goes through the IOAPIC to VEC_VIRTIO on CPU 0, level
 * triggered.
 *
 * Initialisation follows §3.1.1: reset, ACKNOWLEDGE, DRIVER, features
 * (VERSION_1 required; STATS_VQ, DEFLATE_ON_OOM and PAGE_REPORTING taken
 * when offered, nothing else), FEATURES_OK checked, queues, DRIVER_OK.
 * Queues are numbered as Linux and QEMU do, compacted: 0 inflateq, 1
 * deflateq, then statsq if STATS_VQ, then reporting_vq if PAGE_REPORTING.
 * Every queue is a split ring of at most VQ_MAX entries in one kernel frame
 * (descriptors at 0, driver area at 1024, device area at 2048), no indirect
 * descriptors, no event index.
 *
 * The core hands us whole 2 MiB chunks, at most a queue's entries per call
 * (max_chunks). Inflate and deflate send one
 * device-readable descriptor per chunk holding its 512 le32 PFNs; free page
 * reporting one device-writable descriptor per chunk covering its 2 MiB.
 * The queue is used synchronously: n descriptors, one notify, then a
 * bounded poll of the used ring (the host answers on the notify exit, but
 * nothing depends on it); these queues ask for no interrupts. All three run
 * under the core's balloon_lock, so descriptors 0..n-1 are always free.
 *
 * PFN lists cost a store per frame, and every kernel instruction is emulated
 * (~2 us), so a chunk's list is built once, the first time the chunk is
 * given, in a kernel frame that holds the lists of an even/odd chunk pair,
 * and kept: deflating that chunk and inflating it again cost no per-frame
 * work. This costs 4 KiB per 4 MiB of RAM that was ever ballooned.
 *
 * The statistics queue holds one device-readable buffer; the device returns
 * it (used-buffer interrupt) when it wants fresh values and the driver
 * refills and re-adds it. The core's statistics tick (CPU 0) reads and
 * acknowledges InterruptStatus too, in case an interrupt was lost. This
 * queue, the handler and the tick run on CPU 0 only; they share no state
 * with the synchronous queues.
 *
 * A device that sets DEVICE_NEEDS_RESET or does not return buffers is
 * failed: one console line, and the driver stops using it (the balloon
 * stays as it is).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/ioapic.h"
#include "arch/x86/x86.h"
#include "include/uapi.h"
#include "kernel/balloon.h"
#include "kernel/console.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"
#include "kernel/spinlock.h"
#include "kernel/virtio_balloon.h"
#include "kernel/virtio_mmio.h"

#define VM_CONFIG_END     0x108 /* what we use of the config space */
#define VIRTIO_ID_BALLOON 5u

/* feature bits (§5.5.3, §6) */
#define F_STATS_VQ       1
#define F_DEFLATE_ON_OOM 2
#define F_PAGE_REPORTING 5

/* balloon config space (§5.5.4) */
#define CFG_NUM_PAGES (VM_CONFIG + 0) /* le32, device: 4 KiB pages wanted in the balloon */
#define CFG_ACTUAL    (VM_CONFIG + 4) /* le32, driver: 4 KiB pages in the balloon */

#define INT_CONFIG (1u << 1) /* bit 0, used buffer, only matters to the statistics
			       * queue, whose used index tells by itself */

#define VQ_MAX             64u  /* entries per queue; a used-id mask fits a uint64_t */
#define VQ_DRIVER_OFF      1024 /* in the ring frame: 16 * VQ_MAX of descriptors first */
#define VQ_DEVICE_OFF      2048
#define DESC_F_WRITE       2u
#define AVAIL_F_NO_INTERRUPT 1u
#define POLL_SPINS         1000000u
#define NEEDS_RESET_EVERY  65536u

#define Q_INFLATE 0
#define Q_DEFLATE 1
#define Q_STATS   2
#define Q_REPORT  3
#define NR_QUEUES 4

#define CHUNK_PFN_BYTES (BALLOON_CHUNK_FRAMES * 4u)

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
_Static_assert(sizeof(struct vq_desc) == 16, "virtq_desc is 16 bytes");
_Static_assert(VQ_MAX * sizeof(struct vq_desc) <= VQ_DRIVER_OFF, "descriptors fit");
_Static_assert(VQ_DRIVER_OFF + 2 * (3 + VQ_MAX) <= VQ_DEVICE_OFF, "driver area fits");
_Static_assert(VQ_DEVICE_OFF + 6 + 8 * VQ_MAX <= PAGE_SIZE, "device area fits");

struct vq_used_elem {
	uint32_t id, len;
};

/* One split virtqueue. Valid once num != 0 (set at init, CPU 0). */
struct vq {
	struct vq_desc *desc;
	volatile uint16_t *avail;              /* flags, idx, ring[num] */
	volatile uint16_t *used;               /* flags, idx, then used_ring */
	volatile struct vq_used_elem *used_ring;
	uint16_t index;                        /* the device's queue number */
	uint16_t num;                          /* entries, a power of two; 0 = absent */
	uint16_t next_avail, last_used;        /* our copies of avail.idx / used.idx seen */
};

/* The device statistics record, packed as on the wire (§5.5.6.3). */
struct vb_stat {
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));
_Static_assert(sizeof(struct vb_stat) == 10, "virtio_balloon_stat is 10 bytes");

/* Tags we send: the fault and hugetlb counters are not kept by this kernel,
 * so they are left out (the device then reports them as unavailable). */
static const uint16_t stat_tags[] = {
	L1_BSTAT_SWAP_IN, L1_BSTAT_SWAP_OUT, L1_BSTAT_MEMFREE, L1_BSTAT_MEMTOT,
	L1_BSTAT_AVAIL, L1_BSTAT_CACHES,
};
#define NR_STAT_TAGS (sizeof(stat_tags) / sizeof(stat_tags[0]))

static struct {
	uint64_t base;            /* mmio window gpa; 0 = no device (set at init) */
	unsigned int irq;         /* IOAPIC pin */
	uint64_t features;        /* negotiated */
	struct vq q[NR_QUEUES];
	volatile bool failed;     /* set once, from any CPU; never cleared */
} dev;

/* Device-readable statistics buffer (kernel .bss: va == gpa). CPU 0 only. */
static struct vb_stat stat_buf[NR_STAT_TAGS];

/* PFN lists of chunks 2k and 2k + 1 (le32 each, 4 KiB), built on first use.
 * Under balloon_lock. */
static uint64_t *pfn_pages[MM_MAX_CHUNKS / 2];

static struct balloon_driver driver;

static inline uint32_t rd(uint32_t off)
{
	return virtio_mmio__rd(dev.base, off);
}

static inline void wr(uint32_t off, uint32_t val)
{
	virtio_mmio__wr(dev.base, off, val);
}

static inline void compiler_barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static void fail(const char *why)
{
	if (dev.failed)
		return;
	dev.failed = true;
	console__printf("virtio-balloon: %s: driver stopped, the balloon stays as it is\n", why);
}

/* Does the device want a reset? Then it is failed. (One MMIO read.) */
static bool needs_reset(void)
{
	if (!(rd(VM_STATUS) & ST_NEEDS_RESET))
		return false;
	fail("the device set DEVICE_NEEDS_RESET");
	return true;
}

/* ---- command line ---- */

/* The first virtio_mmio.device=<size>@<base>:<irq>[:<id>] → dev.base, dev.irq, and the
 * window mapped; false (with a line) if absent or bad. */
static bool parse_device(const char *cmdline)
{
	struct virtio_mmio_window w;
	uint64_t size, base, irq;
	int rc = virtio_mmio__window(cmdline, 0, &w, "virtio-balloon");

	if (rc == 0)
		console__printf("virtio-balloon: no virtio_mmio.device=<size>@<base>:<irq> on the "
				"command line (l1vmm adds it when it gives the VM a virtio balloon)\n");
	if (rc <= 0)
		return false;
	size = w.size;
	base = w.base;
	irq = w.irq;
	if (size < VM_CONFIG_END || base < L1_RAM_HOLE_START || base > L1_RAM_HIGH_START - size ||
	    (base & 3) || irq >= IOAPIC_PINS) {
		console__printf("virtio-balloon: virtio_mmio.device=%#lx@%#lx:%lu is not usable: the "
				"window must be >= %#x bytes inside [%#llx, 4 GiB) and the irq < %u\n",
				size, base, irq, VM_CONFIG_END, L1_RAM_HOLE_START, IOAPIC_PINS);
		return false;
	}
	if (!paging__map_mmio(base) || !paging__map_mmio(base + VM_CONFIG_END - 1)) {
		console__printf("virtio-balloon: cannot map the window at %#lx\n", base);
		return false;
	}
	dev.base = base;
	dev.irq = (unsigned int)irq;
	return true;
}

/* ---- split virtqueues ---- */

/* §4.2.3.2: set up queue index with at most VQ_MAX entries. 0 or a negative code. */
static int vq_setup(struct vq *q, uint16_t index, bool want_interrupts)
{
	uint32_t max;
	uint16_t num = VQ_MAX;
	uint8_t *ring;
	uint64_t d, a, u;

	wr(VM_QUEUE_SEL, index);
	if (rd(VM_QUEUE_READY)) {
		console__printf("virtio-balloon: queue %u is in use after a reset\n", index);
		return -L1G_EINVAL;
	}
	max = rd(VM_QUEUE_NUM_MAX);
	if (!max) {
		console__printf("virtio-balloon: the device has no queue %u\n", index);
		return -L1G_EINVAL;
	}
	while (num > max)
		num >>= 1;
	ring = mm__alloc_frames(0, false);
	if (!ring) {
		console__printf("virtio-balloon: no memory for queue %u\n", index);
		return -L1G_ENOMEM;
	}
	*q = (struct vq){
		.desc = (struct vq_desc *)ring,
		.avail = (volatile uint16_t *)(ring + VQ_DRIVER_OFF),
		.used = (volatile uint16_t *)(ring + VQ_DEVICE_OFF),
		.used_ring = (volatile struct vq_used_elem *)(ring + VQ_DEVICE_OFF + 4),
		.index = index,
		.num = num,
	};
	/* Only the indices must start at zero (the frame is not zeroed, and
	 * zeroing 4 KiB costs a millisecond here); descriptors and ring slots
	 * are written before the device may read them. */
	q->avail[0] = want_interrupts ? 0 : AVAIL_F_NO_INTERRUPT;
	q->avail[1] = 0;
	q->used[0] = 0;
	q->used[1] = 0;
	d = (uint64_t)q->desc;
	a = (uint64_t)(uintptr_t)q->avail;
	u = (uint64_t)(uintptr_t)q->used;
	compiler_barrier(); /* the ring is initialised before the device learns where it is */
	wr(VM_QUEUE_NUM, num);
	wr(VM_QUEUE_DESC, (uint32_t)d);
	wr(VM_QUEUE_DESC + 4, (uint32_t)(d >> 32));
	wr(VM_QUEUE_DRIVER, (uint32_t)a);
	wr(VM_QUEUE_DRIVER + 4, (uint32_t)(a >> 32));
	wr(VM_QUEUE_DEVICE, (uint32_t)u);
	wr(VM_QUEUE_DEVICE + 4, (uint32_t)(u >> 32));
	wr(VM_QUEUE_READY, 1);
	return 0;
}

/* Make descriptors 0..n-1 (filled by the caller) available as n buffers and notify. */
static void vq_kick(struct vq *q, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		q->avail[2 + ((q->next_avail + i) & (q->num - 1u))] = (uint16_t)i;
	q->next_avail = (uint16_t)(q->next_avail + n);
	/* Ring slots before the index (x86 keeps stores in order; this keeps
	 * the compiler from reordering): pairs with the device reading idx,
	 * then the slots. */
	compiler_barrier();
	q->avail[1] = q->next_avail;
	compiler_barrier(); /* the index is in memory before the notify exit */
	wr(VM_QUEUE_NOTIFY, q->index);
}

/*
 * Wait for the n buffers vq_kick just made available. Returns n, or, after
 * POLL_SPINS without them or when the device wants a reset (it then ignores
 * notifications), how many of descriptors 0, 1, ... came back in a row (the
 * device is then failed). Status is read at the first miss and every
 * NEEDS_RESET_EVERY spins: a device that answers on the notify costs no
 * read at all.
 */
static unsigned int vq_wait(struct vq *q, unsigned int n)
{
	uint16_t start = q->last_used, want = (uint16_t)(start + n), idx = 0;
	uint64_t back = 0;

	for (uint32_t spin = 0; spin < POLL_SPINS; spin++) {
		/* acquire: the used entries are read after the index (pairs
		 * with the device writing them before it) */
		idx = __atomic_load_n(&q->used[1], __ATOMIC_ACQUIRE);
		if (idx == want) {
			q->last_used = idx;
			return n;
		}
		if (spin % NEEDS_RESET_EVERY == 0 && needs_reset())
			break;
		cpu_relax();
	}
	for (uint16_t i = start; i != idx; i++) {
		uint32_t id = q->used_ring[i & (q->num - 1u)].id;

		if (id < n)
			back |= 1ull << id;
	}
	q->last_used = idx;
	if (!dev.failed) {
		console__printf("virtio-balloon: queue %u returned %u of %u buffers\n",
				q->index, (uint16_t)(idx - start), n);
		fail("the device does not answer");
	}
	return ~back ? (unsigned int)__builtin_ctzll(~back) : 64u;
}

/* Run n filled descriptors through q; how many came back, in order. */
static unsigned int vq_run(struct vq *q, unsigned int n)
{
	if (!n)
		return 0;
	vq_kick(q, n);
	return vq_wait(q, n);
}

/* ---- balloon_driver callbacks ---- */

/* 1024 le32 PFNs counting up from gfn: the one per-frame loop there is. */
static void fill_pfns(uint64_t *w, uint32_t gfn)
{
	const uint64_t step = 2ull << 32 | 2; /* both le32 halves + 2 */
	uint64_t v = (uint64_t)(gfn + 1) << 32 | gfn;

	for (uint64_t *end = w + 512; w < end; w += 8) {
		w[0] = v; v += step;
		w[1] = v; v += step;
		w[2] = v; v += step;
		w[3] = v; v += step;
		w[4] = v; v += step;
		w[5] = v; v += step;
		w[6] = v; v += step;
		w[7] = v; v += step;
	}
}

/* The gpa of chunk's PFN list, built on first use; 0 when out of memory. */
static uint64_t chunk_pfns(uint32_t chunk)
{
	uint64_t **slot = &pfn_pages[chunk / 2];

	if (chunk >= MM_MAX_CHUNKS)
		return 0;
	if (!*slot) {
		uint64_t *page = mm__alloc_frames(0, false);

		if (!page)
			return 0;
		fill_pfns(page, (chunk & ~1u) * BALLOON_CHUNK_FRAMES);
		*slot = page;
	}
	return (uint64_t)*slot + (chunk & 1) * CHUNK_PFN_BYTES;
}

/* Inflate or deflate: one descriptor of PFNs per chunk, at most a queue's worth. */
static unsigned int send_pfns(struct vq *q, const uint32_t *chunks, unsigned int n)
{
	unsigned int i;

	if (dev.failed)
		return 0;
	if (n > q->num)
		n = q->num;
	for (i = 0; i < n; i++) {
		uint64_t pfns = chunk_pfns(chunks[i]);

		if (!pfns)
			break; /* no memory for the list: send what we have */
		q->desc[i] = (struct vq_desc){ .addr = pfns, .len = CHUNK_PFN_BYTES };
	}
	return vq_run(q, i);
}

static unsigned int give(const uint32_t *chunks, unsigned int n)
{
	return send_pfns(&dev.q[Q_INFLATE], chunks, n);
}

static unsigned int take(const uint32_t *chunks, unsigned int n)
{
	return send_pfns(&dev.q[Q_DEFLATE], chunks, n);
}

static unsigned int report_free(const uint32_t *chunks, unsigned int n)
{
	struct vq *q = &dev.q[Q_REPORT];

	if (dev.failed)
		return 0;
	if (n > q->num)
		n = q->num;
	for (unsigned int i = 0; i < n; i++)
		q->desc[i] = (struct vq_desc){
			.addr = (uint64_t)chunks[i] << CHUNK_SHIFT,
			.len = (uint32_t)CHUNK_SIZE,
			.flags = DESC_F_WRITE,
		};
	return vq_run(q, n);
}

static uint64_t target(void)
{
	if (dev.failed)
		return balloon__chunks() * BALLOON_CHUNK_FRAMES; /* stay where we are */
	/* a 32-bit field is read atomically: no config generation loop (§2.5.1) */
	return rd(CFG_NUM_PAGES);
}

static void set_actual(uint64_t frames)
{
	if (!dev.failed)
		wr(CFG_ACTUAL, frames > UINT32_MAX ? UINT32_MAX : (uint32_t)frames);
}

/* Fill the statistics buffer from s and make it available. CPU 0. */
static void stats_put(const struct balloon_gstats *s)
{
	struct vq *q = &dev.q[Q_STATS];

	for (unsigned int i = 0; i < NR_STAT_TAGS; i++)
		stat_buf[i] = (struct vb_stat){ .tag = stat_tags[i], .val = s->val[stat_tags[i]] };
	q->desc[0] = (struct vq_desc){ .addr = (uint64_t)stat_buf, .len = sizeof(stat_buf) };
	vq_kick(q, 1);
}

/* Has the device returned the statistics buffer (asking for fresh values)? */
static bool stats_requested(void)
{
	struct vq *q = &dev.q[Q_STATS];

	if (!q->num || dev.failed ||
	    __atomic_load_n(&q->used[1], __ATOMIC_ACQUIRE) == q->last_used)
		return false;
	q->last_used = q->used[1]; /* one buffer: whatever came back is it */
	return true;
}

/* Read and acknowledge InterruptStatus: the device lowers the level line. */
static uint32_t ack(void)
{
	uint32_t isr = rd(VM_INT_STATUS);

	if (isr)
		wr(VM_INT_ACK, isr);
	return isr;
}

/* What an interrupt asks for; s: statistics already collected, or NULL. */
static void service(uint32_t isr, const struct balloon_gstats *s)
{
	struct balloon_gstats mine;

	if (dev.failed)
		return;
	if ((isr & INT_CONFIG) && !needs_reset())
		balloon__work();
	if (stats_requested()) {
		if (!s) {
			balloon__collect(&mine);
			s = &mine;
		}
		stats_put(s);
	}
}

/*
 * The core's statistics tick (CPU 0): also a poll for an interrupt that got
 * lost, e.g. raised before CPU 0's LAPIC was enabled at boot: the level
 * line then stays high and a device that only signals changes of the line
 * would never interrupt again. One MMIO read per BALLOON_STATS_TICKS.
 */
static void tick(const struct balloon_gstats *s)
{
	service(dev.failed ? 0 : ack(), s);
}

void virtio_balloon__irq(void)
{
	/* Acknowledged even when failed: a line left high would fire again at
	 * every EOI. The EOI comes after the acknowledgement for the same reason. */
	uint32_t isr = dev.base ? ack() : 0;

	pv_ops.timer.eoi();
	service(isr, NULL);
}

/* ---- initialisation (§3.1.1) ---- */

static uint64_t read_features(void)
{
	uint64_t f;

	wr(VM_DEV_FEAT_SEL, 0);
	f = rd(VM_DEV_FEATURES);
	wr(VM_DEV_FEAT_SEL, 1);
	return f | (uint64_t)rd(VM_DEV_FEATURES) << 32;
}

static void write_features(uint64_t f)
{
	wr(VM_DRV_FEAT_SEL, 0);
	wr(VM_DRV_FEATURES, (uint32_t)f);
	wr(VM_DRV_FEAT_SEL, 1);
	wr(VM_DRV_FEATURES, (uint32_t)(f >> 32));
}

/* Reset, then wait for the device to show status 0 (§2.4.1). */
static bool reset(void)
{
	wr(VM_STATUS, 0);
	for (uint32_t spin = 0; spin < POLL_SPINS; spin++) {
		if (!rd(VM_STATUS))
			return true;
		cpu_relax();
	}
	return false;
}

/* Is there a virtio-mmio v2 balloon at dev.base? */
static bool probe(void)
{
	uint32_t magic = rd(VM_MAGIC), version = rd(VM_VERSION), id = rd(VM_DEVICE_ID);

	if (magic == VIRTIO_MMIO_MAGIC && version == 2 && id == VIRTIO_ID_BALLOON)
		return true;
	console__printf("virtio-balloon: no virtio-mmio v2 balloon at %#lx (magic %#x, version %u, "
			"device id %u; want %#x, 2, %u)\n", dev.base, magic, version, id,
			VIRTIO_MMIO_MAGIC, VIRTIO_ID_BALLOON);
	return false;
}

/* Bring the probed device up to DRIVER_OK. 0 or a negative code. */
static int start_device(void)
{
	uint32_t status;
	uint64_t offered, want = 1ull << F_STATS_VQ | 1ull << F_DEFLATE_ON_OOM |
				 1ull << F_PAGE_REPORTING;
	uint16_t next = Q_STATS;
	int rc;

	if (!reset()) {
		console__printf("virtio-balloon: the device does not reset\n");
		return -L1G_EINVAL;
	}
	status = ST_ACKNOWLEDGE;
	wr(VM_STATUS, status);
	status |= ST_DRIVER;
	wr(VM_STATUS, status);

	offered = read_features();
	if (!(offered & 1ull << F_VERSION_1)) {
		console__printf("virtio-balloon: the device does not offer VIRTIO_F_VERSION_1 "
				"(features %#lx)\n", offered);
		return -L1G_EINVAL;
	}
	dev.features = (offered & want) | 1ull << F_VERSION_1;
	write_features(dev.features);
	status |= ST_FEATURES_OK;
	wr(VM_STATUS, status);
	if (!(rd(VM_STATUS) & ST_FEATURES_OK)) {
		console__printf("virtio-balloon: the device refused features %#lx\n", dev.features);
		return -L1G_EINVAL;
	}

	if ((rc = vq_setup(&dev.q[Q_INFLATE], 0, false)) < 0 ||
	    (rc = vq_setup(&dev.q[Q_DEFLATE], 1, false)) < 0)
		return rc;
	if ((dev.features & 1ull << F_STATS_VQ) &&
	    (rc = vq_setup(&dev.q[Q_STATS], next++, true)) < 0)
		return rc;
	if ((dev.features & 1ull << F_PAGE_REPORTING) &&
	    (rc = vq_setup(&dev.q[Q_REPORT], next, false)) < 0)
		return rc;

	/* The interrupt works before the device may raise it (a config change
	 * can follow DRIVER_OK at once); the boot CPU's LAPIC id is CPU 0's. */
	if (ioapic__route_level(dev.irq, VEC_VIRTIO, apic__native_id()) < 0) {
		console__printf("virtio-balloon: cannot route IOAPIC pin %u\n", dev.irq);
		return -L1G_EINVAL;
	}
	status |= ST_DRIVER_OK;
	wr(VM_STATUS, status);
	return 0;
}

/* The smallest of the synchronous queues: what one give/take/report call takes. */
static unsigned int max_chunks(void)
{
	unsigned int n = dev.q[Q_INFLATE].num;

	if (dev.q[Q_DEFLATE].num < n)
		n = dev.q[Q_DEFLATE].num;
	if (dev.q[Q_REPORT].num && dev.q[Q_REPORT].num < n)
		n = dev.q[Q_REPORT].num;
	return n;
}

int balloon_virtio__init(const char *cmdline)
{
	int rc;

	if (pvops__shadow) {
		console__printf("virtio-balloon: needs ept mode (use balloon=pv in shadow mode)\n");
		return -L1G_ENOSYS;
	}
	if (!parse_device(cmdline))
		return -L1G_EINVAL;
	if (!probe()) {
		dev.base = 0; /* not ours: the interrupt handler leaves it alone */
		return -L1G_EINVAL;
	}
	rc = start_device();
	if (rc < 0) {
		wr(VM_STATUS, ST_FAILED); /* §3.1.1: tell the device we gave up */
		for (unsigned int i = 0; i < NR_QUEUES; i++)
			if (dev.q[i].num)
				mm__free_frames(dev.q[i].desc, 0);
		dev = (typeof(dev)){ 0 }; /* the interrupt handler leaves it alone */
		return rc;
	}
	if (dev.q[Q_STATS].num) {
		/* §5.5.6.3: the first buffer goes out at once, so the device
		 * can ask for fresh values by returning it. */
		struct balloon_gstats s;

		balloon__collect(&s);
		stats_put(&s);
	}
	driver = (struct balloon_driver){
		.name = "virtio",
		.target = target,
		.give = give,
		.take = take,
		.set_actual = set_actual,
		.stats = tick, /* with or without a statistics queue */
		.report_free = dev.q[Q_REPORT].num ? report_free : NULL,
		.max_chunks = max_chunks(),
		.deflate_on_oom = dev.features & 1ull << F_DEFLATE_ON_OOM,
	};
	console__printf("virtio-balloon: device at %#lx irq %u, features %#lx\n", dev.base,
			dev.irq, dev.features);
	balloon__register(&driver);
	return 0;
}
