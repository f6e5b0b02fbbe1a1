/* SPDX-License-Identifier: MIT */
/*
 * qemu_mb: a freestanding Multiboot v1 test kernel written the way kernels
 * for QEMU are (kvm-unit-tests and the like): it knows nothing of l1vmm.
 *
 * It sets COM1 up and prints to it, reads QEMU's fw_cfg on the legacy ports
 * (signature, ID, CPU count, max CPUs, RAM size, the file directory and
 * "etc/e820"), checks what it read against the multiboot information, prints
 * every module (its string, size, an FNV-1a hash of its bytes and its lines),
 * starts the other CPUs with INIT/SIPI and waits for as many as fw_cfg
 * announced, then writes its status to port 0xf4 (QEMU's isa-debug-exit):
 * the number given as pass=N on its command line (default 0) when every
 * check passed, else 0x60 + the number of the first failed check.
 *
 * Each check prints "ok NAME" or "FAIL NAME: why"; the last line is
 * "qemu_mb: done, N failed". It runs at CPL0 (emulated on some hosts):
 * every loop is bounded.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COM1           0x3f8
#define EXIT_PORT      0xf4
#define FW_CFG_SEL     0x510
#define FW_CFG_DATA    0x511
#define LAPIC          0xfee00000u
#define AP_TRAMP_GPA   0x70000u /* below 1 MiB, page aligned: SIPI vector 0x70 */
#define AP_WAIT_LOOPS  400000u
#define MODULE_PRINT_MAX 2048u

#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID        0x01
#define FW_CFG_RAM_SIZE  0x03
#define FW_CFG_NB_CPUS   0x05
#define FW_CFG_MAX_CPUS  0x0f
#define FW_CFG_FILE_DIR  0x19

#define MB_BOOT_MAGIC 0x2BADB002u
#define MBI_CMDLINE   (1u << 2)
#define MBI_MODS      (1u << 3)
#define MBI_MMAP      (1u << 6)

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
};

struct mb_module {
	uint32_t mod_start, mod_end, string, reserved;
};

struct mb_mmap {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

void kmain(uint32_t magic, const struct mb_info *mbi);

extern volatile uint32_t ap_count;
extern const uint8_t ap_tramp[], ap_tramp_end[];

/* ---- port I/O, COM1 ---- */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void serial_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* divisor latch */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0xc7); /* FIFO on, cleared */
	outb(COM1 + 4, 0x0b);
}

static void con_putc(char c)
{
	for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		;
	outb(COM1, (uint8_t)c);
}

static void con_puts(const char *s)
{
	while (*s)
		con_putc(*s++);
}

static void put_u32(uint32_t v)
{
	char buf[11];
	int n = 0;
	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		con_putc(buf[--n]);
}

static void put_digits(uint32_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--)
		con_putc("0123456789abcdef"[(v >> (4 * i)) & 0xf]);
}

static void put_hex(uint32_t v, int digits)
{
	con_puts("0x");
	put_digits(v, digits);
}

static void put_hex64(uint64_t v)
{
	put_hex((uint32_t)(v >> 32), 8);
	put_digits((uint32_t)v, 8);
}

/* ---- checks ---- */

static unsigned checks, failed, first_failed;

static bool check(bool ok, const char *name, const char *why)
{
	checks++;
	if (ok) {
		con_puts("ok ");
		con_puts(name);
	} else {
		con_puts("FAIL ");
		con_puts(name);
		con_puts(": ");
		con_puts(why);
		if (!failed++)
			first_failed = checks;
	}
	con_putc('\n');
	return ok;
}

/* ---- fw_cfg, legacy ports ---- */

static void fw_cfg_read(uint16_t key, void *buf, uint32_t len)
{
	outw(FW_CFG_SEL, key);
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = inb(FW_CFG_DATA);
}

static uint64_t fw_cfg_u64(uint16_t key, unsigned bytes)
{
	uint8_t b[8] = { 0 };
	fw_cfg_read(key, b, bytes);
	uint64_t v = 0;
	for (int i = (int)bytes - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* Find a file in the directory: its key and size, or false. Prints every name. */
static bool fw_cfg_find(const char *name, uint16_t *key, uint32_t *size)
{
	uint8_t count[4];
	fw_cfg_read(FW_CFG_FILE_DIR, count, 4); /* entries follow on the same item */
	uint32_t n = be32(count);
	con_puts("fw_cfg files: ");
	put_u32(n);
	con_putc('\n');
	bool found = false;
	for (uint32_t i = 0; i < n && i < 64; i++) {
		uint8_t e[64];
		for (unsigned j = 0; j < sizeof(e); j++)
			e[j] = inb(FW_CFG_DATA);
		e[63] = 0;
		con_puts("fw_cfg file: ");
		con_puts((const char *)e + 8);
		con_puts(" size ");
		put_u32(be32(e));
		con_putc('\n');
		if (!found && same((const char *)e + 8, name)) {
			*size = be32(e);
			*key = (uint16_t)(e[4] << 8 | e[5]);
			found = true;
		}
	}
	return found;
}

/* ---- the multiboot information ---- */

static uint32_t cmdline_number(const struct mb_info *mbi, const char *key, uint32_t dflt)
{
	if (!(mbi->flags & MBI_CMDLINE))
		return dflt;
	const char *s = (const char *)mbi->cmdline;
	for (unsigned i = 0; s[i] && i < 4096; i++) {
		unsigned k = 0;
		while (key[k] && s[i + k] == key[k])
			k++;
		if (key[k] || (i > 0 && s[i - 1] != ' '))
			continue;
		uint32_t v = 0;
		for (const char *d = s + i + k; *d >= '0' && *d <= '9'; d++)
			v = v * 10 + (uint32_t)(*d - '0');
		return v;
	}
	return dflt;
}

static uint64_t mmap_ram(const struct mb_info *mbi)
{
	uint64_t sum = 0;
	uint32_t off = 0;
	for (unsigned i = 0; i < 32 && off + sizeof(struct mb_mmap) <= mbi->mmap_length; i++) {
		const struct mb_mmap *m = (const struct mb_mmap *)(mbi->mmap_addr + off);
		if (m->type == 1)
			sum += m->len;
		off += m->size + 4;
	}
	return sum;
}

static void print_module(unsigned i, const struct mb_module *m)
{
	const uint8_t *p = (const uint8_t *)m->mod_start;
	uint32_t size = m->mod_end - m->mod_start, hash = 2166136261u;
	for (uint32_t j = 0; j < size; j++)
		hash = (hash ^ p[j]) * 16777619u;
	con_puts("module ");
	put_u32(i);
	con_puts(": '");
	con_puts((const char *)m->string);
	con_puts("' at ");
	put_hex(m->mod_start, 8);
	con_puts(" size ");
	put_u32(size);
	con_puts(" fnv1a ");
	put_hex(hash, 8);
	con_putc('\n');
	/* its lines, as an environment file's KEY=VALUE lines */
	bool line_open = false;
	for (uint32_t j = 0; j < size && j < MODULE_PRINT_MAX; j++) {
		if (!line_open)
			con_puts("module line: ");
		line_open = p[j] != '\n';
		con_putc(p[j] == '\n' || (p[j] >= 0x20 && p[j] < 0x7f) ? (char)p[j] : '?');
	}
	if (line_open)
		con_putc('\n');
}

/* ---- other CPUs ---- */

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(LAPIC + reg) = v;
}

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(LAPIC + reg);
}

static void wait_icr_idle(void)
{
	for (unsigned i = 0; i < 10000 && (lapic_read(0x300) & (1u << 12)); i++)
		;
}

/* INIT, SIPI, SIPI to all but self; returns how many APs counted themselves in. */
static uint32_t start_aps(uint32_t expected)
{
	uint8_t *dst = (uint8_t *)AP_TRAMP_GPA;
	for (const uint8_t *s = ap_tramp; s < ap_tramp_end; s++)
		*dst++ = *s;
	lapic_write(0xf0, lapic_read(0xf0) | 0x100); /* software-enable */
	lapic_write(0x310, 0);
	lapic_write(0x300, 0x000c4500); /* INIT, assert, all excluding self */
	wait_icr_idle();
	for (int k = 0; k < 2; k++) {
		lapic_write(0x300, 0x000c4600 | (AP_TRAMP_GPA >> 12)); /* SIPI */
		wait_icr_idle();
	}
	for (unsigned i = 0; i < AP_WAIT_LOOPS && ap_count < expected; i++)
		__asm__ volatile("pause");
	return ap_count;
}

void kmain(uint32_t magic, const struct mb_info *mbi)
{
	serial_init();
	con_puts("qemu_mb: started\n");
	if (!check(magic == MB_BOOT_MAGIC, "multiboot magic", "EAX is not 0x2BADB002"))
		goto out; /* no info structure to trust */
	if (mbi->flags & MBI_CMDLINE) {
		con_puts("cmdline: ");
		con_puts((const char *)mbi->cmdline);
		con_putc('\n');
	}

	char sig[5] = { 0 };
	fw_cfg_read(FW_CFG_SIGNATURE, sig, 4);
	con_puts("fw_cfg signature: ");
	put_hex((uint32_t)(uint8_t)sig[0] << 24 | (uint32_t)(uint8_t)sig[1] << 16 |
		(uint32_t)(uint8_t)sig[2] << 8 | (uint8_t)sig[3], 8);
	con_putc('\n');
	if (!check(same(sig, "QEMU"), "fw_cfg signature", "not QEMU: no fw_cfg device"))
		goto out;
	uint32_t id = (uint32_t)fw_cfg_u64(FW_CFG_ID, 4);
	con_puts("fw_cfg id: ");
	put_hex(id, 8);
	con_puts(id & 2 ? " (dma)\n" : " (no dma)\n");
	check(id & 1, "fw_cfg id", "the traditional interface bit is clear");

	uint32_t cpus = (uint32_t)fw_cfg_u64(FW_CFG_NB_CPUS, 2);
	uint32_t max_cpus = (uint32_t)fw_cfg_u64(FW_CFG_MAX_CPUS, 2);
	uint64_t ram = fw_cfg_u64(FW_CFG_RAM_SIZE, 8);
	con_puts("cpus: ");
	put_u32(cpus);
	con_puts(" max_cpus: ");
	put_u32(max_cpus);
	con_puts("\nram_size: ");
	put_hex64(ram);
	con_puts(" (");
	put_u32((uint32_t)(ram >> 20));
	con_puts(" MiB)\n");
	check(cpus >= 1 && cpus <= 255 && max_cpus >= cpus, "fw_cfg cpus", "no plausible CPU count");
	if (mbi->flags & MBI_MMAP)
		check(mmap_ram(mbi) == ram, "ram_size = multiboot map", "they differ");

	uint16_t key = 0;
	uint32_t size = 0;
	if (check(fw_cfg_find("etc/e820", &key, &size), "fw_cfg etc/e820", "not in the directory") &&
	    check(size % 20 == 0 && size && size <= 20 * 16, "etc/e820 size", "not 20-byte entries")) {
		uint8_t e820[20 * 16];
		fw_cfg_read(key, e820, size);
		uint64_t sum = 0;
		for (uint32_t off = 0; off < size; off += 20) {
			uint64_t base = 0, len = 0;
			for (int b = 7; b >= 0; b--) {
				base = base << 8 | e820[off + b];
				len = len << 8 | e820[off + 8 + b];
			}
			con_puts("e820: ");
			put_hex64(base);
			con_putc(' ');
			put_hex64(len);
			con_puts(e820[off + 16] == 1 ? " ram\n" : " other\n");
			if (e820[off + 16] == 1)
				sum += len;
		}
		check(sum == ram, "etc/e820 = ram_size", "they differ");
	}

	uint32_t nr_mods = mbi->flags & MBI_MODS ? mbi->mods_count : 0;
	con_puts("modules: ");
	put_u32(nr_mods);
	con_putc('\n');
	const struct mb_module *mods = (const struct mb_module *)mbi->mods_addr;
	for (uint32_t i = 0; i < nr_mods && i < 16; i++) {
		check(mods[i].mod_end >= mods[i].mod_start && (mods[i].mod_start & 0xfff) == 0,
		      "module bounds", "end below start, or not page aligned");
		print_module(i, &mods[i]);
	}

	uint32_t up = cpus > 1 ? start_aps(cpus - 1) : 0;
	con_puts("aps: ");
	put_u32(up);
	con_puts(" of ");
	put_u32(cpus - 1);
	con_puts(" started\n");
	check(up == cpus - 1, "aps started", "fewer APs counted in than fw_cfg announced");
out:
	con_puts("qemu_mb: done, ");
	put_u32(failed);
	con_puts(" failed\n");
	outl(EXIT_PORT, first_failed ? 0x60 + first_failed : cmdline_number(mbi, "pass=", 0));
}
