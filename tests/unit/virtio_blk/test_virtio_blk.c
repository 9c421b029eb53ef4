// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio-blk (devices/virtio/blk.c) over the real transport
 * and queue code, without /dev/kvm. The PCI and MSI-X functions are
 * replaced through -Wl,--wrap (the mocks count interrupts per vector and
 * wake waiters); guest RAM is a heap buffer; the disk is a raw image in
 * /tmp opened through the real block layer, with preadv, pwritev and
 * fdatasync wrapped so tests can count flushes and inject host errors.
 * The tests play the driver through BAR 0, notify through the notify
 * region (which signals the queue's eventfd, as KVM would) and wait for
 * the I/O thread's MSI-X interrupts with a bounded timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>

#include "raevm/block.h"
#include "raevm/log.h"
#include "raevm/mem.h"
#include "raevm/pci.h"
#include "raevm/virtio.h"
#include "raevm/vm.h"

#define RAM_SIZE (4u * 1024 * 1024)
#define BAR0_ADDR 0xd0000000ULL
#define BAR2_ADDR 0xc0000000ULL
#define DISK_SECTORS 2048ULL /* 1 MiB */
#define SERIAL "serial-123"

/* BAR 0 layout and common configuration registers. */
#define COMMON 0x0000
#define ISR 0x1000
#define DEVCFG 0x2000
#define NOTIFY 0x3000
#define DFSELECT 0x00
#define DF 0x04
#define GFSELECT 0x08
#define GF 0x0c
#define MSIX_CONFIG 0x10
#define STATUS 0x14
#define Q_SELECT 0x16
#define Q_SIZE 0x18
#define Q_MSIX 0x1a
#define Q_ENABLE 0x1c
#define Q_DESC 0x20
#define Q_AVAIL 0x28
#define Q_USED 0x30

#define S_ACK RV_VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRIVER RV_VIRTIO_STATUS_DRIVER
#define S_FEAT RV_VIRTIO_STATUS_FEATURES_OK
#define S_OK RV_VIRTIO_STATUS_DRIVER_OK
#define S_RESET RV_VIRTIO_STATUS_NEEDS_RESET

#define BIT(n) (1ULL << (n))
#define F_VERSION_1 BIT(RV_VIRTIO_F_VERSION_1)
#define F_EVENT_IDX BIT(RV_VIRTIO_F_EVENT_IDX)
#define F_INDIRECT BIT(RV_VIRTIO_F_INDIRECT_DESC)
#define F_FLUSH BIT(RV_VIRTIO_BLK_F_FLUSH)
#define F_DISCARD BIT(RV_VIRTIO_BLK_F_DISCARD)
#define F_WZ BIT(RV_VIRTIO_BLK_F_WRITE_ZEROES)
#define F_RO BIT(RV_VIRTIO_BLK_F_RO)
#define F_BLK (BIT(RV_VIRTIO_BLK_F_SEG_MAX) | BIT(RV_VIRTIO_BLK_F_BLK_SIZE))
#define F_RW_ALL (F_VERSION_1 | F_BLK | F_FLUSH | F_DISCARD | F_WZ)

/* The driver's memory layout. */
#define QSIZE 16
#define DESC_GPA 0x10000ULL
#define AVAIL_GPA 0x11000ULL
#define USED_GPA 0x12000ULL
#define TABLE_GPA 0x13000ULL  /* an indirect table */
#define HDR_GPA 0x20000ULL    /* request headers, 0x100 apart */
#define STATUS_GPA 0x28000ULL /* status bytes, 0x10 apart */
#define DATA_GPA 0x40000ULL   /* data buffers */
#define PAST_RAM 0x10000000ULL

#define QVEC 0	 /* the queue's MSI-X vector */
#define CFGVEC 1 /* configuration changes */

/* ---- Mocks ----------------------------------------------------------- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint16_t device, subsys_id;
	uint32_t class_code;
	const struct rv_bus_ops *bar_ops[RV_PCI_NR_BARS];
	void *bar_opaque[RV_PCI_NR_BARS];
	unsigned int msix_notifies[4];
	/* host file */
	unsigned int fdatasyncs;
	const uint8_t *watch; /* a status byte to sample at fdatasync */
	uint8_t watched;      /* its value at the last fdatasync */
	int fail_rw;	      /* errno preadv/pwritev fail with; 0 = none */
	int fail_sync;	      /* errno fdatasync fails with; 0 = none */
	unsigned int preadvs, pwritevs; /* synchronous transfers */
	bool uring;			/* let the device set up io_uring */
	bool uring_ok;			/* and it did */
} mk = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

void __wrap_rv_pci_dev_init(struct rv_pci_dev *dev, const char *name,
			    uint16_t vendor, uint16_t device,
			    uint32_t class_code, uint8_t revision,
			    uint16_t subsys_vendor, uint16_t subsys_id,
			    const struct rv_pci_dev_ops *ops);
int __wrap_rv_pci_set_bar(struct rv_pci_dev *dev, unsigned int bar,
			  enum rv_pci_bar_type type, uint64_t size,
			  bool prefetchable, const struct rv_bus_ops *ops,
			  void *opaque);
int __wrap_rv_pci_add_cap(struct rv_pci_dev *dev, uint8_t id, const void *body,
			  uint32_t len, uint16_t *offset);
int __wrap_rv_pci_register(struct rv_pci_bus *bus, struct rv_pci_dev *dev);
void __wrap_rv_pci_unregister(struct rv_pci_dev *dev);
int __wrap_rv_pci_intx(struct rv_pci_dev *dev, int level);
int __wrap_rv_msix_init(struct rv_pci_dev *dev, unsigned int nr_vectors,
			unsigned int bar, uint32_t table_offset,
			uint32_t pba_offset);
void __wrap_rv_msix_destroy(struct rv_pci_dev *dev);
bool __wrap_rv_msix_bar_access(struct rv_pci_dev *dev, uint64_t offset,
			       void *data, uint32_t len, bool is_write);
int __wrap_rv_msix_notify(struct rv_pci_dev *dev, unsigned int vector);
bool __wrap_rv_msix_enabled(const struct rv_pci_dev *dev);
int __wrap_rv_ioeventfd(struct rv_vm *vm, uint64_t addr, uint32_t len, bool pio,
			const uint64_t *datamatch, int fd, bool assign);
ssize_t __real_preadv(int fd, const struct iovec *iov, int cnt, off_t off);
ssize_t __real_pwritev(int fd, const struct iovec *iov, int cnt, off_t off);
int __real_fdatasync(int fd);
int __real_io_uring_queue_init(unsigned int entries, struct io_uring *ring,
			       unsigned int flags);
int __wrap_io_uring_queue_init(unsigned int entries, struct io_uring *ring,
			       unsigned int flags);

/*
 * Most tests run the synchronous path, where preadv/pwritev are mocked;
 * the io_uring tests turn the ring on before the device is created.
 */
int __wrap_io_uring_queue_init(unsigned int entries, struct io_uring *ring,
			       unsigned int flags)
{
	int rc;

	if (!mk.uring)
		return -ENOSYS;
	rc = __real_io_uring_queue_init(entries, ring, flags);
	mk.uring_ok = rc == 0;
	return rc;
}
ssize_t __wrap_preadv(int fd, const struct iovec *iov, int cnt, off_t off);
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int cnt, off_t off);
int __wrap_fdatasync(int fd);

void __wrap_rv_pci_dev_init(struct rv_pci_dev *dev, const char *name,
			    uint16_t vendor, uint16_t device,
			    uint32_t class_code, uint8_t revision,
			    uint16_t subsys_vendor, uint16_t subsys_id,
			    const struct rv_pci_dev_ops *ops)
{
	(void)vendor;
	(void)revision;
	(void)subsys_vendor;
	memset(dev, 0, sizeof(*dev));
	dev->name = name;
	dev->ops = ops;
	dev->next_cap = RV_PCI_CAP_START;
	mk.device = device;
	mk.class_code = class_code;
	mk.subsys_id = subsys_id;
}

int __wrap_rv_pci_set_bar(struct rv_pci_dev *dev, unsigned int bar,
			  enum rv_pci_bar_type type, uint64_t size,
			  bool prefetchable, const struct rv_bus_ops *ops,
			  void *opaque)
{
	dev->bars[bar] = (struct rv_pci_bar){ .type = type,
					      .size = size,
					      .prefetchable = prefetchable,
					      .ops = ops,
					      .opaque = opaque };
	mk.bar_ops[bar] = ops;
	mk.bar_opaque[bar] = opaque;
	return 0;
}

int __wrap_rv_pci_add_cap(struct rv_pci_dev *dev, uint8_t id, const void *body,
			  uint32_t len, uint16_t *offset)
{
	uint32_t off = (dev->next_cap + 3u) & ~3u;

	if (off + 2 + len > RV_PCI_STD_CFG_SIZE)
		return -ENOSPC;
	dev->config[off] = id;
	memcpy(dev->config + off + 2, body, len);
	dev->next_cap = (uint16_t)(off + 2 + len);
	*offset = (uint16_t)off;
	return 0;
}

int __wrap_rv_pci_register(struct rv_pci_bus *bus, struct rv_pci_dev *dev)
{
	dev->bus = bus;
	dev->slot = 5;
	dev->bars[0].addr = BAR0_ADDR;
	dev->bars[0].mapped = true;
	dev->bars[2].addr = BAR2_ADDR;
	dev->bars[2].mapped = true;
	dev->ops->bar_moved(dev, 0, 0, BAR0_ADDR);
	return 0;
}

void __wrap_rv_pci_unregister(struct rv_pci_dev *dev)
{
	dev->bus = NULL;
}

int __wrap_rv_pci_intx(struct rv_pci_dev *dev, int level)
{
	(void)dev;
	(void)level;
	return 0;
}

int __wrap_rv_msix_init(struct rv_pci_dev *dev, unsigned int nr_vectors,
			unsigned int bar, uint32_t table_offset,
			uint32_t pba_offset)
{
	(void)dev;
	(void)nr_vectors;
	(void)bar;
	(void)table_offset;
	(void)pba_offset;
	return 0;
}

void __wrap_rv_msix_destroy(struct rv_pci_dev *dev)
{
	(void)dev;
}

bool __wrap_rv_msix_bar_access(struct rv_pci_dev *dev, uint64_t offset,
			       void *data, uint32_t len, bool is_write)
{
	(void)dev;
	(void)offset;
	if (!is_write)
		memset(data, 0, len);
	return true;
}

int __wrap_rv_msix_notify(struct rv_pci_dev *dev, unsigned int vector)
{
	(void)dev;
	pthread_mutex_lock(&mk.lock);
	if (vector < RV_ARRAY_SIZE(mk.msix_notifies))
		mk.msix_notifies[vector]++;
	pthread_cond_broadcast(&mk.cond);
	pthread_mutex_unlock(&mk.lock);
	return 0;
}

bool __wrap_rv_msix_enabled(const struct rv_pci_dev *dev)
{
	(void)dev;
	return true;
}

int __wrap_rv_ioeventfd(struct rv_vm *vm, uint64_t addr, uint32_t len, bool pio,
			const uint64_t *datamatch, int fd, bool assign)
{
	(void)vm;
	(void)addr;
	(void)len;
	(void)pio;
	(void)datamatch;
	(void)fd;
	(void)assign;
	return 0;
}

ssize_t __wrap_preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	int e = __atomic_load_n(&mk.fail_rw, __ATOMIC_RELAXED);

	if (e) {
		errno = e;
		return -1;
	}
	__atomic_add_fetch(&mk.preadvs, 1, __ATOMIC_RELAXED);
	return __real_preadv(fd, iov, cnt, off);
}

ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	int e = __atomic_load_n(&mk.fail_rw, __ATOMIC_RELAXED);

	if (e) {
		errno = e;
		return -1;
	}
	__atomic_add_fetch(&mk.pwritevs, 1, __ATOMIC_RELAXED);
	return __real_pwritev(fd, iov, cnt, off);
}

int __wrap_fdatasync(int fd)
{
	int e = __atomic_load_n(&mk.fail_sync, __ATOMIC_RELAXED);

	pthread_mutex_lock(&mk.lock);
	mk.fdatasyncs++;
	if (mk.watch)
		mk.watched = __atomic_load_n(mk.watch, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&mk.lock);
	if (e) {
		errno = e;
		return -1;
	}
	return __real_fdatasync(fd);
}

static unsigned int read_count(const unsigned int *counter)
{
	unsigned int v;

	pthread_mutex_lock(&mk.lock);
	v = *counter;
	pthread_mutex_unlock(&mk.lock);
	return v;
}

/* ---- Fixture ------------------------------------------------------------ */

struct fixture {
	uint8_t *ram;
	struct rv_mem mem;
	struct rv_vm vm;
	char path[64];
	struct rv_blk *blk;
	struct rv_virtio_dev *dev;
	uint16_t avail_idx; /* the driver's next avail index */
	uint16_t next_desc;
	uint16_t used_seen; /* used entries the tests have consumed */
};

static char bus_token;
#define BUS ((struct rv_pci_bus *)(void *)&bus_token)

/* Byte i of sector s on the prepared disk. */
static uint8_t disk_byte(uint64_t s, unsigned int i)
{
	return (uint8_t)(s * 3 + i);
}

static void make_disk(const char *path)
{
	uint8_t sector[512];
	uint64_t s;
	unsigned int i;
	int fd = open(path, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0);
	for (s = 0; s < DISK_SECTORS; s++) {
		for (i = 0; i < sizeof(sector); i++)
			sector[i] = disk_byte(s, i);
		assert_int_equal(pwrite(fd, sector, sizeof(sector),
					(off_t)(s * 512)),
				 (ssize_t)sizeof(sector));
	}
	close(fd);
}

static int setup_disk(void **state, bool readonly, const char *serial)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	int fd;

	assert_non_null(f);
	pthread_mutex_lock(&mk.lock);
	memset(mk.msix_notifies, 0, sizeof(mk.msix_notifies));
	mk.fdatasyncs = 0;
	mk.watch = NULL;
	mk.fail_rw = 0;
	mk.fail_sync = 0;
	mk.preadvs = 0;
	mk.pwritevs = 0;
	mk.uring_ok = false;
	pthread_mutex_unlock(&mk.lock);
	rv_log_set_level(RV_LOG_ERROR);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	assert_int_equal(rv_mem_init_buffer(&f->mem, f->ram, RAM_SIZE,
					    0xc0000000ULL),
			 0);
	f->vm.mem = &f->mem;
	snprintf(f->path, sizeof(f->path), "/tmp/raevm-vblk-XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	close(fd);
	make_disk(f->path);
	assert_int_equal(rv_blk_open(f->path, RV_BLK_RAW, readonly, &f->blk,
				     err, sizeof(err)),
			 0);
	assert_int_equal(rv_virtio_blk_create(&f->vm, BUS, f->blk, serial, 3,
					      &f->dev),
			 0);
	*state = f;
	return 0;
}

static int setup_rw(void **state)
{
	return setup_disk(state, false, SERIAL);
}

static int setup_ro(void **state)
{
	return setup_disk(state, true, SERIAL);
}

static int setup_long_serial(void **state)
{
	return setup_disk(state, false, "0123456789abcdefghijKLMN");
}

static int setup_uring(void **state)
{
	mk.uring = true;
	return setup_disk(state, false, SERIAL);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rv_virtio_blk_destroy(f->dev);
	rv_blk_close(f->blk);
	mk.uring = false;
	unlink(f->path);
	free(f->ram);
	free(f);
	rv_log_set_level(RV_LOG_ERROR);
	return 0;
}

/* ---- The driver's side ------------------------------------------------- */

static uint64_t bar_read(uint32_t off, uint32_t len)
{
	uint64_t v = 0;

	mk.bar_ops[0]->read(mk.bar_opaque[0], off, &v, len);
	return v;
}

static void bar_write(uint32_t off, uint64_t v, uint32_t len)
{
	mk.bar_ops[0]->write(mk.bar_opaque[0], off, &v, len);
}

static uint8_t dev_status(void)
{
	return (uint8_t)bar_read(COMMON + STATUS, 1);
}

static uint64_t device_features(void)
{
	uint64_t lo, hi;

	bar_write(COMMON + DFSELECT, 0, 4);
	lo = bar_read(COMMON + DF, 4);
	bar_write(COMMON + DFSELECT, 1, 4);
	hi = bar_read(COMMON + DF, 4);
	return lo | hi << 32;
}

/* Initialises the device with features and queue 0 (QSIZE entries). */
static void start_with(struct fixture *f, uint64_t features)
{
	bar_write(COMMON + STATUS, 0, 1);
	bar_write(COMMON + STATUS, S_ACK, 1);
	bar_write(COMMON + STATUS, S_ACK | S_DRIVER, 1);
	bar_write(COMMON + GFSELECT, 0, 4);
	bar_write(COMMON + GF, (uint32_t)features, 4);
	bar_write(COMMON + GFSELECT, 1, 4);
	bar_write(COMMON + GF, (uint32_t)(features >> 32), 4);
	bar_write(COMMON + STATUS, S_ACK | S_DRIVER | S_FEAT, 1);
	assert_int_equal(dev_status(), S_ACK | S_DRIVER | S_FEAT);
	bar_write(COMMON + MSIX_CONFIG, CFGVEC, 2);
	memset(f->ram + DESC_GPA, 0, 0x3000);
	bar_write(COMMON + Q_SELECT, 0, 2);
	bar_write(COMMON + Q_SIZE, QSIZE, 2);
	bar_write(COMMON + Q_MSIX, QVEC, 2);
	bar_write(COMMON + Q_DESC, DESC_GPA, 8);
	bar_write(COMMON + Q_AVAIL, AVAIL_GPA, 8);
	bar_write(COMMON + Q_USED, USED_GPA, 8);
	bar_write(COMMON + Q_ENABLE, 1, 2);
	f->avail_idx = 0;
	f->next_desc = 0;
	f->used_seen = 0;
}

static void driver_ok(void)
{
	bar_write(COMMON + STATUS, S_ACK | S_DRIVER | S_FEAT | S_OK, 1);
}

static void start(struct fixture *f)
{
	start_with(f, F_RW_ALL);
	driver_ok();
	assert_int_equal(dev_status(), S_ACK | S_DRIVER | S_FEAT | S_OK);
}

static void put(uint8_t *p, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* Writes desc i of the table at table_gpa. */
static void desc_at(struct fixture *f, uint64_t table_gpa, unsigned int i,
		    uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = f->ram + table_gpa + 16ULL * i;

	put(d, addr, 8);
	put(d + 8, len, 4);
	put(d + 12, flags, 2);
	put(d + 14, next, 2);
}

/* Publishes head in the avail ring (no notification). */
static void publish(struct fixture *f, uint16_t head)
{
	put(f->ram + AVAIL_GPA + 4 + 2 * (f->avail_idx % QSIZE), head, 2);
	f->avail_idx++;
	__atomic_store_n((uint16_t *)(void *)(f->ram + AVAIL_GPA + 2),
			 f->avail_idx, __ATOMIC_RELEASE);
}

/* Adds a chain of n segments in the descriptor table; returns its head. */
static uint16_t add_chain(struct fixture *f, const struct seg *s,
			  unsigned int n)
{
	uint16_t head = f->next_desc;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSIZE);
		uint16_t flags =
			(uint16_t)((s[i].write ? RV_VIRTQ_DESC_F_WRITE : 0) |
				   (i + 1 < n ? RV_VIRTQ_DESC_F_NEXT : 0));

		desc_at(f, DESC_GPA, idx, s[i].gpa, s[i].len, flags,
			(uint16_t)((idx + 1) % QSIZE));
	}
	f->next_desc = (uint16_t)((head + n) % QSIZE);
	publish(f, head);
	return head;
}

static void kick(void)
{
	bar_write(NOTIFY, 0, 2);
}

static uint16_t used_idx(struct fixture *f)
{
	return __atomic_load_n((uint16_t *)(void *)(f->ram + USED_GPA + 2),
			       __ATOMIC_ACQUIRE);
}

/* Waits (5 s at most) until the used index reaches target. */
static bool wait_used(struct fixture *f, uint16_t target)
{
	struct timespec deadline;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&mk.lock);
	while ((uint16_t)(used_idx(f) - target) > 0x8000 &&
	       pthread_cond_timedwait(&mk.cond, &mk.lock, &deadline) == 0)
		;
	ok = used_idx(f) == target;
	pthread_mutex_unlock(&mk.lock);
	return ok;
}

/* Waits (5 s at most) until vector has fired more than seen times. */
static bool wait_vector(unsigned int vector, unsigned int seen)
{
	struct timespec deadline;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&mk.lock);
	while (mk.msix_notifies[vector] <= seen &&
	       pthread_cond_timedwait(&mk.cond, &mk.lock, &deadline) == 0)
		;
	ok = mk.msix_notifies[vector] > seen;
	pthread_mutex_unlock(&mk.lock);
	return ok;
}

/* The used element for the entry the tests consume next. */
static void take_used(struct fixture *f, uint16_t *id, uint32_t *len)
{
	const uint8_t *e = f->ram + USED_GPA + 4 + 8 * (f->used_seen % QSIZE);

	*id = (uint16_t)get(e, 4);
	*len = (uint32_t)get(e + 4, 4);
	f->used_seen++;
}

static uint8_t *hdr_at(struct fixture *f, unsigned int slot)
{
	return f->ram + HDR_GPA + 0x100 * slot;
}

static uint64_t hdr_gpa(unsigned int slot)
{
	return HDR_GPA + 0x100 * slot;
}

static uint64_t status_gpa(unsigned int slot)
{
	return STATUS_GPA + 0x10 * slot;
}

static uint8_t status_of(struct fixture *f, unsigned int slot)
{
	return f->ram[status_gpa(slot)];
}

/* Fills request header slot and sets its status byte to 0xff. */
static void prep(struct fixture *f, unsigned int slot, uint32_t type,
		 uint64_t sector)
{
	uint8_t *h = hdr_at(f, slot);

	put(h, type, 4);
	put(h + 4, 0, 4);
	put(h + 8, sector, 8);
	f->ram[status_gpa(slot)] = 0xff;
}

/*
 * One request as header, optional data (len bytes at gpa, device-writable
 * when write) and status; submitted, kicked and waited for. Returns the
 * status byte; *used gets the used length.
 */
static int request(struct fixture *f, uint32_t type, uint64_t sector,
		   uint64_t gpa, uint32_t len, bool write, uint32_t *used)
{
	struct seg s[3];
	unsigned int n = 0;
	uint16_t head, id;
	uint32_t ulen;

	prep(f, 0, type, sector);
	s[n++] = (struct seg){ hdr_gpa(0), 16, false };
	if (len)
		s[n++] = (struct seg){ gpa, len, write };
	s[n++] = (struct seg){ status_gpa(0), 1, true };
	head = add_chain(f, s, n);
	kick();
	if (!wait_used(f, f->avail_idx))
		return -ETIMEDOUT;
	take_used(f, &id, &ulen);
	assert_int_equal(id, head);
	if (used)
		*used = ulen;
	return status_of(f, 0);
}

/* Puts one discard / write-zeroes segment at gpa. */
static void range_at(struct fixture *f, uint64_t gpa, uint64_t sector,
		     uint32_t num, uint32_t flags)
{
	put(f->ram + gpa, sector, 8);
	put(f->ram + gpa + 8, num, 4);
	put(f->ram + gpa + 12, flags, 4);
}

static void read_file(struct fixture *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static bool sector_is_original(struct fixture *f, uint64_t s)
{
	uint8_t buf[512];

	read_file(f, s * 512, buf, sizeof(buf));
	for (unsigned int i = 0; i < sizeof(buf); i++)
		if (buf[i] != disk_byte(s, i))
			return false;
	return true;
}

/* Sends a request that breaks the protocol and expects NEEDS_RESET. */
static void expect_needs_reset(struct fixture *f, const struct seg *s,
			       unsigned int n)
{
	unsigned int cfg0 = read_count(&mk.msix_notifies[CFGVEC]);
	uint16_t used0 = used_idx(f);

	add_chain(f, s, n);
	kick();
	assert_true(wait_vector(CFGVEC, cfg0));
	assert_true(dev_status() & S_RESET);
	assert_int_equal(bar_read(ISR, 1) & RV_VIRTIO_ISR_CONFIG,
			 RV_VIRTIO_ISR_CONFIG);
	assert_int_equal(used_idx(f), used0);
}

/* After NEEDS_RESET: reset, set up again and prove a read works. */
static void expect_recovery(struct fixture *f)
{
	uint8_t want[512];

	start(f);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, 7, DATA_GPA, 512, true,
				 NULL),
			 RV_VIRTIO_BLK_S_OK);
	for (unsigned int i = 0; i < sizeof(want); i++)
		want[i] = disk_byte(7, i);
	assert_memory_equal(f->ram + DATA_GPA, want, sizeof(want));
}

/* Captures what the code under test logs to stderr. */
struct capture {
	int saved;
	FILE *file;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->file = tmpfile();
	assert_non_null(c->file);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
	rv_log_set_level(RV_LOG_WARN);
}

/* Returns the captured text (malloc'd) and restores stderr. */
static char *capture_end(struct capture *c)
{
	char *text = calloc(1, 8192);

	assert_non_null(text);
	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	rewind(c->file);
	assert_true(fread(text, 1, 8191, c->file) < 8191);
	fclose(c->file);
	rv_log_set_level(RV_LOG_ERROR);
	return text;
}

static unsigned int count_lines(const char *text)
{
	unsigned int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* ---- Creation: identity, features, configuration ----------------------- */

static void blk_create__pci_identity(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mk.device, 0x1042);
	assert_int_equal(mk.subsys_id, 0x1042);
	assert_int_equal(mk.class_code, 0x010000);
	assert_string_equal(f->dev->name, "virtio-blk 00:05.0 (disks[3])");
}

static void blk_create__features_writable(void **state)
{
	(void)state;
	assert_int_equal(device_features(),
			 F_RW_ALL | F_EVENT_IDX | F_INDIRECT);
}

static void blk_create__features_readonly(void **state)
{
	(void)state;
	assert_int_equal(device_features(), F_VERSION_1 | F_BLK | F_FLUSH |
						    F_RO | F_EVENT_IDX |
						    F_INDIRECT);
}

static void blk_config__fields(void **state)
{
	(void)state;
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_CAPACITY, 8),
			 DISK_SECTORS);
	assert_int_equal(bar_read(DEVCFG + 8, 4), 0); /* size_max */
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_SEG_MAX, 4), 254);
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_BLK_SIZE, 4), 512);
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_NUM_QUEUES, 2), 1);
	assert_int_equal(
		bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, 4),
		RV_VIRTIO_BLK_MAX_RANGE_SECTORS);
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_MAX_DISCARD_SEG,
				  4),
			 RV_VIRTIO_BLK_MAX_RANGE_SEGS);
	assert_int_equal(
		bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_DISCARD_ALIGNMENT, 4), 8);
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_MAX_WZ_SECTORS, 4),
			 RV_VIRTIO_BLK_MAX_RANGE_SECTORS);
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_MAX_WZ_SEG, 4),
			 RV_VIRTIO_BLK_MAX_RANGE_SEGS);
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_WZ_MAY_UNMAP, 1),
			 1);
	/* Past the structure: the transport reads zeros. */
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CONFIG_SIZE, 4), 0);
}

static void blk_config__readonly_has_no_discard_limits(void **state)
{
	(void)state;
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_CAPACITY, 8),
			 DISK_SECTORS);
	assert_int_equal(
		bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, 4), 0);
	assert_int_equal(bar_read(DEVCFG + RV_VIRTIO_BLK_CFG_MAX_WZ_SECTORS, 4),
			 0);
}

static void blk_create__null_disk(void **state)
{
	struct fixture *f = *state;
	struct rv_virtio_dev *dev = (struct rv_virtio_dev *)(uintptr_t)1;

	assert_int_equal(rv_virtio_blk_create(&f->vm, BUS, NULL, NULL, 0, &dev),
			 -EINVAL);
	assert_null(dev);
	rv_virtio_blk_destroy(NULL);
}

/* ---- Reads and writes -------------------------------------------------- */

static void blk_in__reads_disk_into_split_buffers(void **state)
{
	struct fixture *f = *state;
	struct seg s[4] = {
		{ hdr_gpa(0), 16, false },
		{ DATA_GPA, 1000, true },
		{ DATA_GPA + 0x2000, 24, true },
		{ status_gpa(0), 1, true },
	};
	uint16_t id;
	uint32_t len;

	start(f);
	prep(f, 0, RV_VIRTIO_BLK_T_IN, 5);
	add_chain(f, s, 4);
	kick();
	assert_true(wait_used(f, 1));
	take_used(f, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 1025);
	assert_int_equal(status_of(f, 0), RV_VIRTIO_BLK_S_OK);
	for (unsigned int i = 0; i < 1000; i++)
		assert_int_equal(f->ram[DATA_GPA + i],
				 disk_byte(5 + i / 512, i % 512));
	for (unsigned int i = 0; i < 24; i++)
		assert_int_equal(f->ram[DATA_GPA + 0x2000 + i],
				 disk_byte(6, 488 + i));
}

/* Data and status may share one device-writable buffer. */
static void blk_in__status_shares_the_data_buffer(void **state)
{
	struct fixture *f = *state;
	struct seg s[2] = {
		{ hdr_gpa(0), 16, false },
		{ DATA_GPA, 513, true },
	};
	uint16_t id;
	uint32_t len;

	start(f);
	prep(f, 0, RV_VIRTIO_BLK_T_IN, 9);
	f->ram[DATA_GPA + 512] = 0xff;
	add_chain(f, s, 2);
	kick();
	assert_true(wait_used(f, 1));
	take_used(f, &id, &len);
	assert_int_equal(len, 513);
	assert_int_equal(f->ram[DATA_GPA + 512], RV_VIRTIO_BLK_S_OK);
	assert_int_equal(f->ram[DATA_GPA + 3], disk_byte(9, 3));
}

static void blk_out__writes_reach_the_file(void **state)
{
	struct fixture *f = *state;
	uint8_t back[1024];
	uint32_t used = 0;

	start(f);
	memset(f->ram + DATA_GPA, 0xa7, 1024);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_OUT, 100, DATA_GPA, 1024,
				 false, &used),
			 RV_VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	read_file(f, 100 * 512, back, sizeof(back));
	for (unsigned int i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0xa7);
	assert_true(sector_is_original(f, 99));
	assert_true(sector_is_original(f, 102));
}

/* Header and data in one device-readable buffer. */
static void blk_out__header_and_data_in_one_buffer(void **state)
{
	struct fixture *f = *state;
	struct seg s[2] = {
		{ hdr_gpa(0), 16 + 512, false },
		{ status_gpa(0), 1, true },
	};
	uint8_t back[512];

	start(f);
	prep(f, 0, RV_VIRTIO_BLK_T_OUT, 3);
	memset(hdr_at(f, 0) + 16, 0x3c, 512);
	add_chain(f, s, 2);
	kick();
	assert_true(wait_used(f, 1));
	assert_int_equal(status_of(f, 0), RV_VIRTIO_BLK_S_OK);
	read_file(f, 3 * 512, back, sizeof(back));
	for (unsigned int i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0x3c);
}

static void blk_in__last_sector_ok(void **state)
{
	struct fixture *f = *state;

	start(f);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, DISK_SECTORS - 1,
				 DATA_GPA, 512, true, NULL),
			 RV_VIRTIO_BLK_S_OK);
	assert_int_equal(f->ram[DATA_GPA + 17],
			 disk_byte(DISK_SECTORS - 1, 17));
}

static void blk_in__past_capacity_is_ioerr(void **state)
{
	struct fixture *f = *state;
	uint32_t used = 0;

	start(f);
	memset(f->ram + DATA_GPA, 0x11, 1024);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, DISK_SECTORS - 1,
				 DATA_GPA, 1024, true, &used),
			 RV_VIRTIO_BLK_S_IOERR);
	assert_int_equal(used, 1);
	assert_int_equal(f->ram[DATA_GPA], 0x11); /* nothing read */
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, DISK_SECTORS, DATA_GPA,
				 512, true, NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	/* sector * 512 would wrap 64 bits. */
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, UINT64_MAX / 256,
				 DATA_GPA, 512, true, NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_OUT, UINT64_MAX, DATA_GPA,
				 512, false, NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	/* The queue keeps working. */
	assert_false(dev_status() & S_RESET);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, true,
				 NULL),
			 RV_VIRTIO_BLK_S_OK);
}

static void blk_in__partial_sector_is_ioerr(void **state)
{
	struct fixture *f = *state;

	start(f);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, 0, DATA_GPA, 100, true,
				 NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_OUT, 0, DATA_GPA, 513,
				 false, NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	assert_true(sector_is_original(f, 0));
	assert_true(sector_is_original(f, 1));
	assert_false(dev_status() & S_RESET);
}

static void blk_out__readonly_disk_is_ioerr(void **state)
{
	struct fixture *f = *state;

	start_with(f, F_VERSION_1 | F_BLK | F_FLUSH | F_RO);
	driver_ok();
	memset(f->ram + DATA_GPA, 0x55, 512);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_OUT, 4, DATA_GPA, 512,
				 false, NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	assert_true(sector_is_original(f, 4));
	/* Reads and flushes work. */
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, 4, DATA_GPA, 512, true,
				 NULL),
			 RV_VIRTIO_BLK_S_OK);
	assert_int_equal(f->ram[DATA_GPA + 1], disk_byte(4, 1));
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false,
				 NULL),
			 RV_VIRTIO_BLK_S_OK);
	/* Discard and write-zeroes were not offered. */
	range_at(f, DATA_GPA, 4, 1, 0);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA,
				 16, false, NULL),
			 RV_VIRTIO_BLK_S_UNSUPP);
	assert_true(sector_is_original(f, 4));
}

/* A failing host file: IOERR and one rate-limited log line. */
static void blk_in__host_error_is_ioerr_and_logged(void **state)
{
	struct fixture *f = *state;
	struct capture cap;
	char *log;

	start(f);
	capture_start(&cap);
	__atomic_store_n(&mk.fail_rw, EIO, __ATOMIC_RELAXED);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, 8, DATA_GPA, 4096, true,
				 NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_OUT, 8, DATA_GPA, 512,
				 false, NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	__atomic_store_n(&mk.fail_rw, 0, __ATOMIC_RELAXED);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, 8, DATA_GPA, 512, true,
				 NULL),
			 RV_VIRTIO_BLK_S_OK);
	log = capture_end(&cap);
	assert_int_equal(count_lines(log), 1);
	assert_non_null(strstr(log, "virtio-blk 00:05.0 (disks[3]): read of "
				    "4096 bytes at sector 8 failed: "
				    "Input/output error"));
	free(log);
	assert_false(dev_status() & S_RESET);
}

/* ---- Flush and durability ---------------------------------------------- */

static void blk_flush__syncs_before_the_status(void **state)
{
	struct fixture *f = *state;
	unsigned int syncs;

	start(f);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_OUT, 1, DATA_GPA, 512,
				 false, NULL),
			 RV_VIRTIO_BLK_S_OK);
	/* With FLUSH negotiated a write alone does not sync. */
	assert_int_equal(read_count(&mk.fdatasyncs), 0);
	pthread_mutex_lock(&mk.lock);
	mk.watch = &f->ram[status_gpa(0)];
	mk.watched = 0;
	pthread_mutex_unlock(&mk.lock);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false,
				 NULL),
			 RV_VIRTIO_BLK_S_OK);
	pthread_mutex_lock(&mk.lock);
	syncs = mk.fdatasyncs;
	/* The status still read "pending" while fdatasync ran. */
	assert_int_equal(mk.watched, 0xff);
	mk.watch = NULL;
	pthread_mutex_unlock(&mk.lock);
	assert_int_equal(syncs, 1);
}

static void blk_flush__host_error_is_ioerr(void **state)
{
	struct fixture *f = *state;

	start(f);
	__atomic_store_n(&mk.fail_sync, EIO, __ATOMIC_RELAXED);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false,
				 NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	__atomic_store_n(&mk.fail_sync, 0, __ATOMIC_RELAXED);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false,
				 NULL),
			 RV_VIRTIO_BLK_S_OK);
	assert_false(dev_status() & S_RESET);
}

/* FLUSH offered but not negotiated: writes are durable on completion. */
static void blk_out__writethrough_without_flush_feature(void **state)
{
	struct fixture *f = *state;

	start_with(f, F_VERSION_1 | F_BLK | F_DISCARD | F_WZ);
	driver_ok();
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_OUT, 1, DATA_GPA, 512,
				 false, NULL),
			 RV_VIRTIO_BLK_S_OK);
	assert_int_equal(read_count(&mk.fdatasyncs), 1);
	range_at(f, DATA_GPA, 2, 1, 0);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA,
				 16, false, NULL),
			 RV_VIRTIO_BLK_S_OK);
	assert_int_equal(read_count(&mk.fdatasyncs), 2);
	/* Reads do not sync. */
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, 1, DATA_GPA, 512, true,
				 NULL),
			 RV_VIRTIO_BLK_S_OK);
	assert_int_equal(read_count(&mk.fdatasyncs), 2);
}

/* ---- GET_ID -------------------------------------------------------------- */

static void blk_get_id__serial_zero_padded(void **state)
{
	struct fixture *f = *state;
	uint8_t want[20] = SERIAL;
	uint32_t used = 0;

	start(f);
	memset(f->ram + DATA_GPA, 0xee, 32);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20,
				 true, &used),
			 RV_VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	assert_memory_equal(f->ram + DATA_GPA, want, 20);
	assert_int_equal(f->ram[DATA_GPA + 20], 0xee);
}

static void blk_get_id__short_buffer(void **state)
{
	struct fixture *f = *state;
	uint32_t used = 0;

	start(f);
	memset(f->ram + DATA_GPA, 0xee, 32);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 4,
				 true, &used),
			 RV_VIRTIO_BLK_S_OK);
	assert_int_equal(used, 5);
	assert_memory_equal(f->ram + DATA_GPA, "seri", 4);
	assert_int_equal(f->ram[DATA_GPA + 4], 0xee);
}

/* 20 bytes and no NUL; the rest of a longer serial is dropped. */
static void blk_get_id__long_serial_truncated(void **state)
{
	struct fixture *f = *state;

	start(f);
	memset(f->ram + DATA_GPA, 0xee, 32);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 32,
				 true, NULL),
			 RV_VIRTIO_BLK_S_OK);
	assert_memory_equal(f->ram + DATA_GPA, "0123456789abcdefghij", 20);
	assert_int_equal(f->ram[DATA_GPA + 20], 0xee);
}

/* ---- Discard and write-zeroes ------------------------------------------ */

static void blk_write_zeroes__zeroes_every_segment(void **state)
{
	struct fixture *f = *state;
	uint8_t back[1024], zero[1024] = { 0 };

	start(f);
	range_at(f, DATA_GPA, 10, 2, 0);
	range_at(f, DATA_GPA + 16, 20, 1, RV_VIRTIO_BLK_WZ_UNMAP);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA,
				 32, false, NULL),
			 RV_VIRTIO_BLK_S_OK);
	read_file(f, 10 * 512, back, 1024);
	assert_memory_equal(back, zero, 1024);
	read_file(f, 20 * 512, back, 512);
	assert_memory_equal(back, zero, 512);
	assert_true(sector_is_original(f, 9));
	assert_true(sector_is_original(f, 12));
	assert_true(sector_is_original(f, 19));
	assert_true(sector_is_original(f, 21));
}

static void blk_discard__completes(void **state)
{
	struct fixture *f = *state;

	start(f);
	range_at(f, DATA_GPA, 0, 16, 0);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 16,
				 false, NULL),
			 RV_VIRTIO_BLK_S_OK);
	assert_true(sector_is_original(f, 16));
}

static void blk_ranges__bad_flags_are_unsupp(void **state)
{
	struct fixture *f = *state;

	start(f);
	/* unmap is for write-zeroes only */
	range_at(f, DATA_GPA, 0, 1, RV_VIRTIO_BLK_WZ_UNMAP);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 16,
				 false, NULL),
			 RV_VIRTIO_BLK_S_UNSUPP);
	/* an unknown flag in the second segment; the first must not run */
	range_at(f, DATA_GPA, 30, 1, 0);
	range_at(f, DATA_GPA + 16, 31, 1, 4);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA,
				 32, false, NULL),
			 RV_VIRTIO_BLK_S_UNSUPP);
	assert_true(sector_is_original(f, 30));
	assert_true(sector_is_original(f, 31));
}

static void blk_ranges__bad_segments_are_ioerr(void **state)
{
	struct fixture *f = *state;

	start(f);
	/* past the end (checked before the first segment runs) */
	range_at(f, DATA_GPA, 40, 1, 0);
	range_at(f, DATA_GPA + 16, DISK_SECTORS - 1, 2, 0);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA,
				 32, false, NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	assert_true(sector_is_original(f, 40));
	/* sector + num wraps */
	range_at(f, DATA_GPA, UINT64_MAX, 2, 0);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 16,
				 false, NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	/* more sectors than max_*_sectors */
	range_at(f, DATA_GPA, 0, RV_VIRTIO_BLK_MAX_RANGE_SECTORS + 1, 0);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA,
				 16, false, NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	/* not a whole segment, no segment, too many segments */
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 8,
				 false, NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_DISCARD, 0, 0, 0, false,
				 NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	memset(f->ram + DATA_GPA, 0, 16 * 33);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_DISCARD, 0, DATA_GPA,
				 16 * (RV_VIRTIO_BLK_MAX_RANGE_SEGS + 1), false,
				 NULL),
			 RV_VIRTIO_BLK_S_IOERR);
	assert_false(dev_status() & S_RESET);
	assert_true(sector_is_original(f, 0));
}

/* Not negotiated: the driver gets UNSUPP and the disk is untouched. */
static void blk_ranges__not_negotiated_is_unsupp(void **state)
{
	struct fixture *f = *state;

	start_with(f, F_VERSION_1 | F_FLUSH);
	driver_ok();
	range_at(f, DATA_GPA, 0, 1, 0);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA,
				 16, false, NULL),
			 RV_VIRTIO_BLK_S_UNSUPP);
	assert_true(sector_is_original(f, 0));
}

static void blk_request__unknown_type_is_unsupp(void **state)
{
	struct fixture *f = *state;
	uint32_t used = 0;

	start(f);
	/* GET_LIFETIME, SECURE_ERASE, the legacy FLUSH_OUT and nonsense */
	assert_int_equal(request(f, 10, 0, DATA_GPA, 8, true, &used),
			 RV_VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(used, 1);
	assert_int_equal(request(f, 14, 0, DATA_GPA, 16, false, NULL),
			 RV_VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(f, 5, 0, 0, 0, false, NULL),
			 RV_VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(f, 0xffffffffu, 0, 0, 0, false, NULL),
			 RV_VIRTIO_BLK_S_UNSUPP);
	assert_false(dev_status() & S_RESET);
}

/* ---- Protocol violations: NEEDS_RESET ----------------------------------- */

static void blk_request__short_header_needs_reset(void **state)
{
	struct fixture *f = *state;
	struct seg s[3] = {
		{ hdr_gpa(0), 8, false },
		{ DATA_GPA, 512, true },
		{ status_gpa(0), 1, true },
	};

	start(f);
	prep(f, 0, RV_VIRTIO_BLK_T_IN, 0);
	expect_needs_reset(f, s, 3);
	assert_int_equal(status_of(f, 0), 0xff);
	expect_recovery(f);
}

/* A 16-byte header split over two readable buffers is fine. */
static void blk_request__split_header_ok(void **state)
{
	struct fixture *f = *state;
	struct seg s[4] = {
		{ hdr_gpa(0), 5, false },
		{ hdr_gpa(0) + 5, 11, false },
		{ DATA_GPA, 512, true },
		{ status_gpa(0), 1, true },
	};

	start(f);
	prep(f, 0, RV_VIRTIO_BLK_T_IN, 12);
	add_chain(f, s, 4);
	kick();
	assert_true(wait_used(f, 1));
	assert_int_equal(status_of(f, 0), RV_VIRTIO_BLK_S_OK);
	assert_int_equal(f->ram[DATA_GPA + 5], disk_byte(12, 5));
}

static void blk_request__no_status_byte_needs_reset(void **state)
{
	struct fixture *f = *state;
	struct seg s[3] = {
		{ hdr_gpa(0), 16, false },
		{ DATA_GPA, 512, false },
		{ status_gpa(0), 1, false },
	};

	start(f);
	prep(f, 0, RV_VIRTIO_BLK_T_OUT, 0);
	expect_needs_reset(f, s, 3);
	assert_true(sector_is_original(f, 0));
	expect_recovery(f);
}

/* A zero-length writable buffer is not a status byte. */
static void blk_request__empty_writable_needs_reset(void **state)
{
	struct fixture *f = *state;
	struct seg s[2] = {
		{ hdr_gpa(0), 16, false },
		{ status_gpa(0), 0, true },
	};

	start(f);
	prep(f, 0, RV_VIRTIO_BLK_T_FLUSH, 0);
	expect_needs_reset(f, s, 2);
	expect_recovery(f);
}

static void blk_in__readable_data_needs_reset(void **state)
{
	struct fixture *f = *state;
	struct seg s[3] = {
		{ hdr_gpa(0), 16, false },
		{ DATA_GPA, 512, false },
		{ status_gpa(0), 1, true },
	};
	struct capture cap;
	char *log;

	start(f);
	capture_start(&cap);
	prep(f, 0, RV_VIRTIO_BLK_T_IN, 0);
	expect_needs_reset(f, s, 3);
	log = capture_end(&cap);
	assert_int_equal(count_lines(log), 1);
	assert_non_null(strstr(log, "virtio-blk 00:05.0 (disks[3]): queue 0: "
				    "request with device-readable data for "
				    "the device to fill; device needs reset"));
	free(log);
	assert_int_equal(status_of(f, 0), 0xff);
	expect_recovery(f);
}

static void blk_get_id__readable_data_needs_reset(void **state)
{
	struct fixture *f = *state;
	struct seg s[3] = {
		{ hdr_gpa(0), 16, false },
		{ DATA_GPA, 20, false },
		{ status_gpa(0), 1, true },
	};

	start(f);
	prep(f, 0, RV_VIRTIO_BLK_T_GET_ID, 0);
	expect_needs_reset(f, s, 3);
	expect_recovery(f);
}

static void blk_out__writable_data_needs_reset(void **state)
{
	struct fixture *f = *state;
	struct seg s[3] = {
		{ hdr_gpa(0), 16, false },
		{ DATA_GPA, 512, true },
		{ status_gpa(0), 1, true },
	};

	start(f);
	prep(f, 0, RV_VIRTIO_BLK_T_OUT, 0);
	expect_needs_reset(f, s, 3);
	assert_true(sector_is_original(f, 0));
	expect_recovery(f);
}

static void blk_discard__writable_segments_need_reset(void **state)
{
	struct fixture *f = *state;
	struct seg s[3] = {
		{ hdr_gpa(0), 16, false },
		{ DATA_GPA, 16, true },
		{ status_gpa(0), 1, true },
	};

	start(f);
	range_at(f, DATA_GPA, 0, 1, 0);
	prep(f, 0, RV_VIRTIO_BLK_T_DISCARD, 0);
	expect_needs_reset(f, s, 3);
	expect_recovery(f);
}

/* A malformed chain (rv_virtq_pop's errors) is NEEDS_RESET too. */
static void blk_serve__buffer_past_ram_needs_reset(void **state)
{
	struct fixture *f = *state;
	struct seg s[3] = {
		{ hdr_gpa(0), 16, false },
		{ PAST_RAM, 512, true },
		{ status_gpa(0), 1, true },
	};
	struct capture cap;
	char *log;

	start(f);
	capture_start(&cap);
	prep(f, 0, RV_VIRTIO_BLK_T_IN, 0);
	expect_needs_reset(f, s, 3);
	log = capture_end(&cap);
	assert_int_equal(count_lines(log), 1);
	assert_non_null(strstr(log, "(disks[3]): queue 0: address outside "
				    "guest RAM; device needs reset"));
	free(log);
	expect_recovery(f);
}

/* Requests before the bad one complete; none after it is touched. */
static void blk_serve__stops_at_the_bad_chain(void **state)
{
	struct fixture *f = *state;
	struct seg good[3] = {
		{ hdr_gpa(0), 16, false },
		{ DATA_GPA, 512, false },
		{ status_gpa(0), 1, true },
	};
	struct seg bad[2] = {
		{ hdr_gpa(1), 16, false },
		{ status_gpa(1), 1, false },
	};
	struct seg after[3] = {
		{ hdr_gpa(2), 16, false },
		{ DATA_GPA + 512, 512, false },
		{ status_gpa(2), 1, true },
	};
	unsigned int cfg0;

	start(f);
	prep(f, 0, RV_VIRTIO_BLK_T_OUT, 50);
	prep(f, 1, RV_VIRTIO_BLK_T_OUT, 51);
	prep(f, 2, RV_VIRTIO_BLK_T_OUT, 52);
	memset(f->ram + DATA_GPA, 0x77, 1024);
	add_chain(f, good, 3);
	add_chain(f, bad, 2);
	add_chain(f, after, 3);
	cfg0 = read_count(&mk.msix_notifies[CFGVEC]);
	kick();
	assert_true(wait_vector(CFGVEC, cfg0));
	assert_true(dev_status() & S_RESET);
	assert_true(wait_used(f, 1));
	assert_int_equal(status_of(f, 0), RV_VIRTIO_BLK_S_OK);
	assert_int_equal(status_of(f, 1), 0xff);
	assert_int_equal(status_of(f, 2), 0xff);
	assert_false(sector_is_original(f, 50));
	assert_true(sector_is_original(f, 52));
	/* Later notifications do nothing until the driver resets. */
	kick();
	assert_int_equal(used_idx(f), 1);
	expect_recovery(f);
}

/* ---- Batching, notifications, reset -------------------------------------- */

/* Five requests, one kick: one interrupt once all are done (EVENT_IDX). */
static void blk_serve__batch_gets_one_interrupt(void **state)
{
	struct fixture *f = *state;
	unsigned int irq0, i;

	start_with(f, F_RW_ALL | F_EVENT_IDX);
	driver_ok();
	/* used_event: interrupt when the fifth completion is published. */
	put(f->ram + AVAIL_GPA + 4 + 2 * QSIZE, 4, 2);
	for (i = 0; i < 5; i++) {
		struct seg s[3] = {
			{ hdr_gpa(i), 16, false },
			{ DATA_GPA + 512ULL * i, 512, true },
			{ status_gpa(i), 1, true },
		};

		prep(f, i, RV_VIRTIO_BLK_T_IN, i);
		add_chain(f, s, 3);
	}
	irq0 = read_count(&mk.msix_notifies[QVEC]);
	kick();
	assert_true(wait_used(f, 5));
	assert_true(wait_vector(QVEC, irq0));
	for (i = 0; i < 5; i++) {
		assert_int_equal(status_of(f, i), RV_VIRTIO_BLK_S_OK);
		assert_int_equal(f->ram[DATA_GPA + 512 * i + 1],
				 disk_byte(i, 1));
	}
	/* avail_event asks for a notification at the next entry. */
	assert_int_equal(get(f->ram + USED_GPA + 4 + 8 * QSIZE, 2), 5);
	f->used_seen = 5;
	/*
	 * A sixth request that wants its interrupt: had the batch raised
	 * more than one, they would all precede this one.
	 */
	put(f->ram + AVAIL_GPA + 4 + 2 * QSIZE, 5, 2);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, true,
				 NULL),
			 RV_VIRTIO_BLK_S_OK);
	assert_true(wait_vector(QVEC, irq0 + 1));
	assert_int_equal(read_count(&mk.msix_notifies[QVEC]), irq0 + 2);
}

/* Requests queued before DRIVER_OK are served when it is set. */
static void blk_activate__serves_requests_queued_before(void **state)
{
	struct fixture *f = *state;
	struct seg s[3] = {
		{ hdr_gpa(0), 16, false },
		{ DATA_GPA, 512, true },
		{ status_gpa(0), 1, true },
	};

	start_with(f, F_RW_ALL);
	prep(f, 0, RV_VIRTIO_BLK_T_IN, 33);
	add_chain(f, s, 3);
	kick(); /* dropped: DRIVER_OK is not set */
	driver_ok();
	assert_true(wait_used(f, 1));
	assert_int_equal(status_of(f, 0), RV_VIRTIO_BLK_S_OK);
	assert_int_equal(f->ram[DATA_GPA + 2], disk_byte(33, 2));
}

/* Reset joins the thread; the device works again after a new start. */
static void blk_reset__restarts_cleanly(void **state)
{
	struct fixture *f = *state;

	for (unsigned int round = 0; round < 3; round++) {
		start(f);
		assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, round, DATA_GPA,
					 512, true, NULL),
				 RV_VIRTIO_BLK_S_OK);
		assert_int_equal(f->ram[DATA_GPA + 9], disk_byte(round, 9));
		bar_write(COMMON + STATUS, 0, 1);
		assert_int_equal(dev_status(), 0);
	}
	/* A queue left without a reset is stopped by destroy (teardown). */
	start(f);
}

/* Indirect descriptors reach the device as one chain. */
static void blk_in__indirect_chain(void **state)
{
	struct fixture *f = *state;

	start_with(f, F_RW_ALL | F_INDIRECT);
	driver_ok();
	prep(f, 0, RV_VIRTIO_BLK_T_IN, 20);
	desc_at(f, TABLE_GPA, 0, hdr_gpa(0), 16, RV_VIRTQ_DESC_F_NEXT, 1);
	desc_at(f, TABLE_GPA, 1, DATA_GPA, 512,
		RV_VIRTQ_DESC_F_WRITE | RV_VIRTQ_DESC_F_NEXT, 2);
	desc_at(f, TABLE_GPA, 2, status_gpa(0), 1, RV_VIRTQ_DESC_F_WRITE, 0);
	desc_at(f, DESC_GPA, 0, TABLE_GPA, 48, RV_VIRTQ_DESC_F_INDIRECT, 0);
	publish(f, 0);
	kick();
	assert_true(wait_used(f, 1));
	assert_int_equal(status_of(f, 0), RV_VIRTIO_BLK_S_OK);
	assert_int_equal(f->ram[DATA_GPA + 4], disk_byte(20, 4));
}

/* ---- The io_uring path (raw disks) -------------------------------------- */

#define URING_BS 4096u

/* Byte i of what the io_uring test writes at sector s. */
static uint8_t new_byte(uint64_t s, unsigned int i)
{
	return (uint8_t)(0xa5 ^ (s * 7 + i / 3));
}

/*
 * Publishes request slot (its own indirect table: header, data, status)
 * without notifying. len 0 means no data segment.
 */
static uint16_t add_indirect(struct fixture *f, unsigned int slot,
			     uint32_t type, uint64_t sector, uint64_t gpa,
			     uint32_t len, bool write)
{
	uint64_t table = TABLE_GPA + 0x40ULL * slot;
	uint16_t head = f->next_desc, i = 0;

	prep(f, slot, type, sector);
	desc_at(f, table, i, hdr_gpa(slot), 16, RV_VIRTQ_DESC_F_NEXT,
		(uint16_t)(i + 1));
	i++;
	if (len) {
		desc_at(f, table, i, gpa, len,
			(uint16_t)((write ? RV_VIRTQ_DESC_F_WRITE : 0) |
				   RV_VIRTQ_DESC_F_NEXT),
			(uint16_t)(i + 1));
		i++;
	}
	desc_at(f, table, i, status_gpa(slot), 1, RV_VIRTQ_DESC_F_WRITE, 0);
	i++;
	desc_at(f, DESC_GPA, head, table, 16u * i, RV_VIRTQ_DESC_F_INDIRECT, 0);
	f->next_desc = (uint16_t)((head + 1) % QSIZE);
	publish(f, head);
	return head;
}

static void start_uring(struct fixture *f)
{
	if (!mk.uring_ok)
		skip(); /* no io_uring here (old kernel, seccomp) */
	start_with(f, F_RW_ALL | F_INDIRECT);
	driver_ok();
	assert_int_equal(dev_status(), S_ACK | S_DRIVER | S_FEAT | S_OK);
}

/*
 * A full queue of reads and writes to different places, one notification:
 * all complete (in any order) with the right used lengths, through the
 * ring (no synchronous pwritev), and a FLUSH after them finds every write
 * in the file.
 */
static void blk_uring__batch_of_reads_and_writes_then_flush(void **state)
{
	struct fixture *f = *state;
	uint16_t heads[QSIZE], id;
	uint32_t len;
	unsigned int i, j, syncs;
	uint8_t buf[URING_BS];

	start_uring(f);
	for (i = 0; i < QSIZE; i++) {
		uint64_t gpa = DATA_GPA + (uint64_t)i * URING_BS;
		uint64_t sector = 64 + 8ULL * i;

		if (i % 2) {
			memset(f->ram + gpa, 0, URING_BS);
			heads[i] = add_indirect(f, i, RV_VIRTIO_BLK_T_IN,
						sector, gpa, URING_BS, true);
			continue;
		}
		for (j = 0; j < URING_BS; j++)
			f->ram[gpa + j] = new_byte(sector + j / 512, j);
		heads[i] = add_indirect(f, i, RV_VIRTIO_BLK_T_OUT, sector, gpa,
					URING_BS, false);
	}
	kick();
	assert_true(wait_used(f, f->avail_idx));
	for (j = 0; j < QSIZE; j++) {
		take_used(f, &id, &len);
		for (i = 0; i < QSIZE && heads[i] != id; i++)
			;
		assert_true(i < QSIZE);
		heads[i] = 0xffff; /* each head completes once */
		assert_int_equal(status_of(f, i), RV_VIRTIO_BLK_S_OK);
		assert_int_equal(len, i % 2 ? URING_BS + 1 : 1);
	}
	assert_int_equal(read_count(&mk.pwritevs), 0);
	for (i = 1; i < QSIZE; i += 2) {
		for (j = 0; j < URING_BS; j++)
			assert_int_equal(
				f->ram[DATA_GPA + (uint64_t)i * URING_BS + j],
				disk_byte(64 + 8ULL * i + j / 512, j % 512));
	}
	syncs = read_count(&mk.fdatasyncs);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false,
				 NULL),
			 RV_VIRTIO_BLK_S_OK);
	assert_int_equal(read_count(&mk.fdatasyncs), syncs + 1);
	for (i = 0; i < QSIZE; i += 2) {
		read_file(f, (64 + 8ULL * i) * 512, buf, sizeof(buf));
		for (j = 0; j < URING_BS; j++)
			assert_int_equal(buf[j],
					 new_byte(64 + 8ULL * i + j / 512, j));
	}
}

/*
 * Writes, a FLUSH and a read of the written place in one batch: the flush
 * waits for the writes (their status is final when fdatasync runs), and
 * the read after it sees the new data.
 */
static void blk_uring__flush_in_a_batch_waits_for_earlier_writes(void **state)
{
	struct fixture *f = *state;
	const unsigned int nw = 6;
	unsigned int i, j, syncs;
	uint64_t rd = DATA_GPA + 0x40000;
	uint8_t watched;

	start_uring(f);
	for (i = 0; i < nw; i++) {
		uint64_t gpa = DATA_GPA + (uint64_t)i * URING_BS;

		for (j = 0; j < URING_BS; j++)
			f->ram[gpa + j] = new_byte(800 + 8ULL * i + j / 512, j);
		add_indirect(f, i, RV_VIRTIO_BLK_T_OUT, 800 + 8ULL * i, gpa,
			     URING_BS, false);
	}
	syncs = read_count(&mk.fdatasyncs);
	pthread_mutex_lock(&mk.lock);
	mk.watch = &f->ram[status_gpa(nw - 1)];
	pthread_mutex_unlock(&mk.lock);
	add_indirect(f, nw, RV_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	memset(f->ram + rd, 0, URING_BS);
	add_indirect(f, nw + 1, RV_VIRTIO_BLK_T_IN, 800 + 8ULL * (nw - 1), rd,
		     URING_BS, true);
	kick();
	assert_true(wait_used(f, f->avail_idx));
	for (i = 0; i < nw + 2; i++)
		assert_int_equal(status_of(f, i), RV_VIRTIO_BLK_S_OK);
	assert_int_equal(read_count(&mk.fdatasyncs), syncs + 1);
	pthread_mutex_lock(&mk.lock);
	watched = mk.watched;
	mk.watch = NULL;
	pthread_mutex_unlock(&mk.lock);
	/* Its status was final when fdatasync ran. */
	assert_int_equal(watched, RV_VIRTIO_BLK_S_OK);
	for (j = 0; j < URING_BS; j++)
		assert_int_equal(f->ram[rd + j],
				 new_byte(800 + 8ULL * (nw - 1) + j / 512, j));
}

/*
 * The file shrank under the disk: the ring's short read is redone by the
 * synchronous path, which fills the missing part with zeros.
 */
static void blk_uring__short_read_is_completed_with_zeros(void **state)
{
	struct fixture *f = *state;
	uint64_t sector = DISK_SECTORS - 8;
	uint32_t used = 0;
	unsigned int j;

	start_uring(f);
	assert_int_equal(truncate(f->path, (off_t)((sector + 2) * 512)), 0);
	memset(f->ram + DATA_GPA, 0xee, URING_BS);
	assert_int_equal(request(f, RV_VIRTIO_BLK_T_IN, sector, DATA_GPA,
				 URING_BS, true, &used),
			 RV_VIRTIO_BLK_S_OK);
	assert_int_equal(used, URING_BS + 1);
	for (j = 0; j < URING_BS; j++)
		assert_int_equal(
			f->ram[DATA_GPA + j],
			j < 1024 ? disk_byte(sector + j / 512, j % 512) : 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_rw, teardown)
#define TU(fn) cmocka_unit_test_setup_teardown(fn, setup_uring, teardown)
#define TRO(fn) cmocka_unit_test_setup_teardown(fn, setup_ro, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(blk_create__pci_identity),
		T(blk_create__features_writable),
		TRO(blk_create__features_readonly),
		T(blk_config__fields),
		TRO(blk_config__readonly_has_no_discard_limits),
		T(blk_create__null_disk),
		T(blk_in__reads_disk_into_split_buffers),
		T(blk_in__status_shares_the_data_buffer),
		T(blk_out__writes_reach_the_file),
		T(blk_out__header_and_data_in_one_buffer),
		T(blk_in__last_sector_ok),
		T(blk_in__past_capacity_is_ioerr),
		T(blk_in__partial_sector_is_ioerr),
		TRO(blk_out__readonly_disk_is_ioerr),
		T(blk_in__host_error_is_ioerr_and_logged),
		T(blk_flush__syncs_before_the_status),
		T(blk_flush__host_error_is_ioerr),
		T(blk_out__writethrough_without_flush_feature),
		T(blk_get_id__serial_zero_padded),
		T(blk_get_id__short_buffer),
		cmocka_unit_test_setup_teardown(
			blk_get_id__long_serial_truncated, setup_long_serial,
			teardown),
		T(blk_write_zeroes__zeroes_every_segment),
		T(blk_discard__completes),
		T(blk_ranges__bad_flags_are_unsupp),
		T(blk_ranges__bad_segments_are_ioerr),
		T(blk_ranges__not_negotiated_is_unsupp),
		T(blk_request__unknown_type_is_unsupp),
		T(blk_request__short_header_needs_reset),
		T(blk_request__split_header_ok),
		T(blk_request__no_status_byte_needs_reset),
		T(blk_request__empty_writable_needs_reset),
		T(blk_in__readable_data_needs_reset),
		T(blk_get_id__readable_data_needs_reset),
		T(blk_out__writable_data_needs_reset),
		T(blk_discard__writable_segments_need_reset),
		T(blk_serve__buffer_past_ram_needs_reset),
		T(blk_serve__stops_at_the_bad_chain),
		T(blk_serve__batch_gets_one_interrupt),
		T(blk_activate__serves_requests_queued_before),
		T(blk_reset__restarts_cleanly),
		T(blk_in__indirect_chain),
		TU(blk_uring__batch_of_reads_and_writes_then_flush),
		TU(blk_uring__flush_in_a_batch_waits_for_earlier_writes),
		TU(blk_uring__short_read_is_completed_with_zeros),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
