// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the modern virtio PCI transport (devices/virtio/pci.c),
 * virtio-rng and virtio-console, without /dev/kvm. The PCI, MSI-X and
 * ioeventfd functions are replaced through -Wl,--wrap: the mocks record
 * what the transport asked for and keep just enough of a config space for
 * the capability list to be walked. Guest RAM is a heap buffer; the tests
 * play the driver through BAR 0 exactly as a guest would.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "raevm/irq.h"
#include "raevm/log.h"
#include "raevm/mem.h"
#include "raevm/pci.h"
#include "raevm/virtio.h"
#include "raevm/vm.h"

#define RAM_SIZE (4u * 1024 * 1024)
#define BAR0_ADDR 0xd0000000ULL
#define BAR2_ADDR 0xc0000000ULL

/* BAR 0 layout and register offsets, as the specification names them. */
#define COMMON 0x0000
#define ISR 0x1000
#define DEVCFG 0x2000
#define NOTIFY 0x3000
#define DFSELECT 0x00
#define DF 0x04
#define GFSELECT 0x08
#define GF 0x0c
#define MSIX_CONFIG 0x10
#define NUM_QUEUES 0x12
#define STATUS 0x14
#define CFG_GEN 0x15
#define Q_SELECT 0x16
#define Q_SIZE 0x18
#define Q_MSIX 0x1a
#define Q_ENABLE 0x1c
#define Q_NOFF 0x1e
#define Q_DESC 0x20
#define Q_AVAIL 0x28
#define Q_USED 0x30

#define S_ACK RV_VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRIVER RV_VIRTIO_STATUS_DRIVER
#define S_FEAT RV_VIRTIO_STATUS_FEATURES_OK
#define S_OK RV_VIRTIO_STATUS_DRIVER_OK
#define S_RESET RV_VIRTIO_STATUS_NEEDS_RESET
#define F_VERSION_1 (1ULL << RV_VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ULL << RV_VIRTIO_F_EVENT_IDX)
#define F_INDIRECT (1ULL << RV_VIRTIO_F_INDIRECT_DESC)

/* ---- Mocks ----------------------------------------------------------- */

struct ioevfd_call {
	uint64_t addr;
	uint32_t len;
	int fd;
	bool assign;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* rv_pci_dev_init arguments */
	uint16_t vendor, device, subsys_vendor, subsys_id;
	uint32_t class_code;
	uint8_t revision;
	/* BARs */
	const struct rv_bus_ops *bar_ops[RV_PCI_NR_BARS];
	void *bar_opaque[RV_PCI_NR_BARS];
	/* MSI-X */
	unsigned int msix_vectors, msix_bar;
	uint32_t msix_table, msix_pba;
	int msix_init_rc;
	bool msix_on;
	unsigned int msix_notifies[8];
	bool msix_destroyed;
	/* INTx */
	int intx_level;
	unsigned int intx_raises;
	/* ioeventfds */
	struct ioevfd_call ioevfd[16];
	unsigned int nr_ioevfd;
	bool ioevfd_len0_unsupported;
	bool ioevfd_fail; /* KVM refuses every binding */
	/* registration */
	struct rv_pci_dev *registered;
	unsigned int unregistered;
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

void __wrap_rv_pci_dev_init(struct rv_pci_dev *dev, const char *name,
			    uint16_t vendor, uint16_t device,
			    uint32_t class_code, uint8_t revision,
			    uint16_t subsys_vendor, uint16_t subsys_id,
			    const struct rv_pci_dev_ops *ops)
{
	memset(dev, 0, sizeof(*dev));
	dev->name = name;
	dev->ops = ops;
	dev->next_cap = RV_PCI_CAP_START;
	mk.vendor = vendor;
	mk.device = device;
	mk.class_code = class_code;
	mk.revision = revision;
	mk.subsys_vendor = subsys_vendor;
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
	uint32_t off = (dev->next_cap + 3u) & ~3u, p;

	if (off + 2 + len > RV_PCI_STD_CFG_SIZE)
		return -ENOSPC;
	dev->config[off] = id;
	dev->config[off + 1] = 0;
	memcpy(dev->config + off + 2, body, len);
	p = dev->config[RV_PCI_CAP_PTR];
	if (!p) {
		dev->config[RV_PCI_CAP_PTR] = (uint8_t)off;
	} else {
		while (dev->config[p + 1])
			p = dev->config[p + 1];
		dev->config[p + 1] = (uint8_t)off;
	}
	dev->next_cap = (uint16_t)(off + 2 + len);
	*offset = (uint16_t)off;
	return 0;
}

int __wrap_rv_pci_register(struct rv_pci_bus *bus, struct rv_pci_dev *dev)
{
	/* As firmware would: BARs placed and decoding, device in slot 3. */
	dev->bus = bus;
	dev->slot = 3;
	dev->bars[0].addr = BAR0_ADDR;
	dev->bars[0].mapped = true;
	dev->bars[2].addr = BAR2_ADDR;
	dev->bars[2].mapped = true;
	mk.registered = dev;
	dev->ops->bar_moved(dev, 0, 0, BAR0_ADDR);
	dev->ops->bar_moved(dev, 2, 0, BAR2_ADDR);
	return 0;
}

void __wrap_rv_pci_unregister(struct rv_pci_dev *dev)
{
	dev->bus = NULL;
	mk.unregistered++;
}

int __wrap_rv_pci_intx(struct rv_pci_dev *dev, int level)
{
	(void)dev;
	pthread_mutex_lock(&mk.lock);
	mk.intx_level = level;
	if (level)
		mk.intx_raises++;
	pthread_cond_broadcast(&mk.cond);
	pthread_mutex_unlock(&mk.lock);
	return 0;
}

int __wrap_rv_msix_init(struct rv_pci_dev *dev, unsigned int nr_vectors,
			unsigned int bar, uint32_t table_offset,
			uint32_t pba_offset)
{
	(void)dev;
	mk.msix_vectors = nr_vectors;
	mk.msix_bar = bar;
	mk.msix_table = table_offset;
	mk.msix_pba = pba_offset;
	return mk.msix_init_rc;
}

void __wrap_rv_msix_destroy(struct rv_pci_dev *dev)
{
	(void)dev;
	mk.msix_destroyed = true;
}

bool __wrap_rv_msix_bar_access(struct rv_pci_dev *dev, uint64_t offset,
			       void *data, uint32_t len, bool is_write)
{
	(void)dev;
	(void)is_write;
	if (!is_write)
		memset(data, 0x5a, len);
	return offset < 0x800;
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
	return __atomic_load_n(&mk.msix_on, __ATOMIC_RELAXED);
}

int __wrap_rv_ioeventfd(struct rv_vm *vm, uint64_t addr, uint32_t len, bool pio,
			const uint64_t *datamatch, int fd, bool assign)
{
	(void)vm;
	assert_false(pio);
	assert_null(datamatch);
	if (len == 0 && mk.ioevfd_len0_unsupported)
		return -EINVAL;
	if (mk.ioevfd_fail)
		return -ENOSPC;
	if (mk.nr_ioevfd < RV_ARRAY_SIZE(mk.ioevfd))
		mk.ioevfd[mk.nr_ioevfd++] = (struct ioevfd_call){
			.addr = addr, .len = len, .fd = fd, .assign = assign
		};
	return 0;
}

/* Waits (5 s at most) until *counter exceeds seen. */
static bool wait_count(const unsigned int *counter, unsigned int seen)
{
	struct timespec deadline;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&mk.lock);
	while (*counter <= seen &&
	       pthread_cond_timedwait(&mk.cond, &mk.lock, &deadline) == 0)
		;
	ok = *counter > seen;
	pthread_mutex_unlock(&mk.lock);
	return ok;
}

static unsigned int read_count(const unsigned int *counter)
{
	unsigned int v;

	pthread_mutex_lock(&mk.lock);
	v = *counter;
	pthread_mutex_unlock(&mk.lock);
	return v;
}

/* ---- A test device ----------------------------------------------------- */

struct test_dev {
	struct rv_virtio_dev vdev;
	unsigned int activates, resets, notifies[2];
	int activate_rc;
	uint8_t config[8];
	uint32_t last_write_off, last_write_len;
};

static struct test_dev *to_test(struct rv_virtio_dev *dev)
{
	return rv_container_of(dev, struct test_dev, vdev);
}

static uint64_t test_features(struct rv_virtio_dev *dev)
{
	(void)dev;
	return (1ULL << 5) | (1ULL << 40);
}

static void test_config_read(struct rv_virtio_dev *dev, uint32_t off,
			     void *data, uint32_t len)
{
	assert_true(off + len <= sizeof(to_test(dev)->config));
	memcpy(data, to_test(dev)->config + off, len);
}

static void test_config_write(struct rv_virtio_dev *dev, uint32_t off,
			      const void *data, uint32_t len)
{
	struct test_dev *t = to_test(dev);

	assert_true(off + len <= sizeof(t->config));
	memcpy(t->config + off, data, len);
	t->last_write_off = off;
	t->last_write_len = len;
}

static void test_queue_notify(struct rv_virtio_dev *dev, unsigned int q)
{
	to_test(dev)->notifies[q]++;
}

static int test_activate(struct rv_virtio_dev *dev)
{
	to_test(dev)->activates++;
	return to_test(dev)->activate_rc;
}

static void test_reset(struct rv_virtio_dev *dev)
{
	to_test(dev)->resets++;
}

static const struct rv_virtio_ops test_ops = {
	.name = "virtio-test",
	.device_id = 42,
	.pci_class = 0x0b4000,
	.nr_queues = 2,
	.queue_max_size = 64,
	.config_size = 8,
	.features = test_features,
	.config_read = test_config_read,
	.config_write = test_config_write,
	.queue_notify = test_queue_notify,
	.activate = test_activate,
	.reset = test_reset,
};

/* ---- Fixture and driver helpers --------------------------------------- */

struct fixture {
	uint8_t *ram;
	struct rv_mem mem;
	struct rv_vm vm;
	struct test_dev *t;
	struct rv_virtio_dev *dev; /* the device under test */
	char dir[64];
	uint16_t avail_idx[2];
};

static char bus_token;
#define BUS ((struct rv_pci_bus *)(void *)&bus_token)

static void reset_mocks(void)
{
	pthread_mutex_lock(&mk.lock);
	memset(mk.bar_ops, 0, sizeof(mk.bar_ops));
	memset(mk.msix_notifies, 0, sizeof(mk.msix_notifies));
	mk.msix_init_rc = 0;
	mk.msix_on = false;
	mk.msix_destroyed = false;
	mk.intx_level = 0;
	mk.intx_raises = 0;
	mk.nr_ioevfd = 0;
	mk.ioevfd_len0_unsupported = false;
	mk.ioevfd_fail = false;
	mk.registered = NULL;
	mk.unregistered = 0;
	pthread_mutex_unlock(&mk.lock);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	reset_mocks();
	rv_log_set_level(RV_LOG_ERROR);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	assert_int_equal(rv_mem_init_buffer(&f->mem, f->ram, RAM_SIZE,
					    0xc0000000ULL),
			 0);
	f->vm.mem = &f->mem;
	*state = f;
	return 0;
}

/* setup + a test device on the transport. */
static int setup_dev(void **state)
{
	struct fixture *f;

	setup(state);
	f = *state;
	f->t = calloc(1, sizeof(*f->t));
	assert_non_null(f->t);
	assert_int_equal(
		rv_virtio_pci_init(&f->t->vdev, &f->vm, BUS, &test_ops), 0);
	f->dev = &f->t->vdev;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->t) {
		rv_virtio_pci_destroy(&f->t->vdev);
		free(f->t);
	}
	free(f->ram);
	free(f);
	return 0;
}

static uint64_t bar_read(struct fixture *f, uint32_t off, uint32_t len)
{
	uint64_t v = 0;

	(void)f;
	mk.bar_ops[0]->read(mk.bar_opaque[0], off, &v, len);
	return v;
}

static void bar_write(struct fixture *f, uint32_t off, uint64_t v, uint32_t len)
{
	(void)f;
	mk.bar_ops[0]->write(mk.bar_opaque[0], off, &v, len);
}

static uint8_t status(struct fixture *f)
{
	return (uint8_t)bar_read(f, COMMON + STATUS, 1);
}

static void write_features(struct fixture *f, uint64_t features)
{
	bar_write(f, COMMON + GFSELECT, 0, 4);
	bar_write(f, COMMON + GF, (uint32_t)features, 4);
	bar_write(f, COMMON + GFSELECT, 1, 4);
	bar_write(f, COMMON + GF, (uint32_t)(features >> 32), 4);
}

/* Steps 1-6 of 3.1.1: returns the status read back after FEATURES_OK. */
static uint8_t negotiate(struct fixture *f, uint64_t features)
{
	bar_write(f, COMMON + STATUS, S_ACK, 1);
	bar_write(f, COMMON + STATUS, S_ACK | S_DRIVER, 1);
	write_features(f, features);
	bar_write(f, COMMON + STATUS, S_ACK | S_DRIVER | S_FEAT, 1);
	return status(f);
}

/* Rings of queue q: desc, avail, used, 4 KiB apart. */
static uint64_t ring_gpa(unsigned int q, unsigned int part)
{
	return 0x10000ULL * (q + 1) + 0x1000ULL * part;
}

static void setup_queue(struct fixture *f, unsigned int q, uint16_t size,
			uint16_t vector)
{
	bar_write(f, COMMON + Q_SELECT, q, 2);
	bar_write(f, COMMON + Q_SIZE, size, 2);
	bar_write(f, COMMON + Q_MSIX, vector, 2);
	bar_write(f, COMMON + Q_DESC, ring_gpa(q, 0), 8);
	bar_write(f, COMMON + Q_AVAIL, ring_gpa(q, 1), 8);
	bar_write(f, COMMON + Q_USED, ring_gpa(q, 2), 8);
	bar_write(f, COMMON + Q_ENABLE, 1, 2);
}

static void driver_ok(struct fixture *f)
{
	bar_write(f, COMMON + STATUS, S_ACK | S_DRIVER | S_FEAT | S_OK, 1);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* The driver puts one-descriptor chain {gpa, len, flags} at slot desc. */
static void add_buf(struct fixture *f, unsigned int q, uint16_t d, uint64_t gpa,
		    uint32_t len, uint16_t flags)
{
	uint8_t *table = f->ram + ring_gpa(q, 0);
	uint8_t *av = f->ram + ring_gpa(q, 1);
	uint16_t size = f->dev->queues[q].size;

	memcpy(table + 16 * d, &gpa, 8);
	memcpy(table + 16 * d + 8, &len, 4);
	put16(table + 16 * d + 12, flags);
	put16(table + 16 * d + 14, 0);
	put16(av + 4 + 2 * (f->avail_idx[q] % size), d);
	f->avail_idx[q]++;
	__atomic_store_n((uint16_t *)(void *)(av + 2), f->avail_idx[q],
			 __ATOMIC_RELEASE);
}

static void kick(struct fixture *f, unsigned int q)
{
	bar_write(f, NOTIFY + 4 * q, q, 2);
}

static uint16_t used_idx(struct fixture *f, unsigned int q)
{
	return __atomic_load_n(
		(uint16_t *)(void *)(f->ram + ring_gpa(q, 2) + 2),
		__ATOMIC_ACQUIRE);
}

static uint32_t used_len(struct fixture *f, unsigned int q, unsigned int i)
{
	return get32(f->ram + ring_gpa(q, 2) + 4 + 8 * i + 4);
}

/* Walks the mock config space for vendor capability cfg_type. */
static const uint8_t *find_cap(struct rv_virtio_dev *dev, uint8_t type)
{
	const uint8_t *cfg = dev->pci.config;
	unsigned int p = cfg[RV_PCI_CAP_PTR], n;

	for (n = 0; p && n < 48; n++, p = cfg[p + 1])
		if (cfg[p] == 0x09 && cfg[p + 3] == type)
			return cfg + p;
	return NULL;
}

/* ---- Transport: set-up --------------------------------------------------- */

static void virtio_pci_init__ids_and_bars(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mk.vendor, 0x1af4);
	assert_int_equal(mk.device, 0x1040 + 42);
	assert_int_equal(mk.revision, 1);
	assert_int_equal(mk.subsys_vendor, 0x1af4);
	assert_true(mk.subsys_id >= 0x40);
	assert_int_equal(mk.class_code, 0x0b4000);
	assert_int_equal(f->dev->pci.bars[0].type, RV_PCI_BAR_MEM64);
	assert_true(f->dev->pci.bars[0].prefetchable);
	assert_int_equal(f->dev->pci.bars[0].size, 0x4000);
	assert_int_equal(f->dev->pci.bars[2].type, RV_PCI_BAR_MEM32);
	assert_false(f->dev->pci.bars[2].prefetchable);
	assert_int_equal(mk.msix_vectors, 3); /* two queues + config */
	assert_int_equal(mk.msix_bar, 2);
	assert_int_equal(mk.msix_table, 0);
	assert_int_equal(mk.msix_pba, 0x800);
	assert_ptr_equal(mk.registered, &f->dev->pci);
	assert_string_equal(f->dev->name, "virtio-test 00:03.0");
}

static void check_cap(const uint8_t *cap, uint8_t len, uint32_t offset,
		      uint32_t length)
{
	assert_non_null(cap);
	assert_int_equal(cap[2], len);
	assert_int_equal(cap[4], 0); /* BAR 0 */
	assert_int_equal(get32(cap + 8), offset);
	assert_int_equal(get32(cap + 12), length);
}

static void virtio_pci_init__capabilities(void **state)
{
	struct fixture *f = *state;
	const uint8_t *notify, *pcicfg;

	check_cap(find_cap(f->dev, 1), 16, COMMON, 0x38);
	notify = find_cap(f->dev, 2);
	check_cap(notify, 20, NOTIFY, 2 * 4);
	assert_int_equal(get32(notify + 16), 4); /* notify_off_multiplier */
	check_cap(find_cap(f->dev, 3), 16, ISR, 1);
	check_cap(find_cap(f->dev, 4), 16, DEVCFG, 8);
	pcicfg = find_cap(f->dev, 5);
	assert_non_null(pcicfg);
	assert_int_equal(pcicfg[2], 20);
	/* bar, offset, length and data are driver-writable; the rest not. */
	assert_int_equal(f->dev->pci.wmask[pcicfg - f->dev->pci.config + 4],
			 0xff);
	assert_int_equal(f->dev->pci.wmask[pcicfg - f->dev->pci.config + 3], 0);
	assert_int_equal(f->dev->pci.wmask[pcicfg - f->dev->pci.config + 19],
			 0xff);
}

static void virtio_pci_init__bad_ops(void **state)
{
	struct rv_virtio_ops ops = test_ops;
	struct fixture *f = *state;
	struct test_dev t;

	memset(&t, 0, sizeof(t));
	ops.nr_queues = 0;
	assert_int_equal(rv_virtio_pci_init(&t.vdev, &f->vm, BUS, &ops),
			 -EINVAL);
	ops = test_ops;
	ops.queue_max_size = 100;
	assert_int_equal(rv_virtio_pci_init(&t.vdev, &f->vm, BUS, &ops),
			 -EINVAL);
	assert_null(mk.registered);
	/* destroy after a failed init is a no-op */
	rv_virtio_pci_destroy(&t.vdev);
	assert_int_equal(mk.unregistered, 0);
}

static void virtio_pci_init__msix_failure(void **state)
{
	struct fixture *f = *state;
	struct test_dev t;

	memset(&t, 0, sizeof(t));
	mk.msix_init_rc = -ENOMEM;
	assert_int_equal(rv_virtio_pci_init(&t.vdev, &f->vm, BUS, &test_ops),
			 -ENOMEM);
	assert_null(mk.registered);
	assert_null(t.vdev.ops);
}

/* ---- Transport: features and status ---------------------------------- */

static void common_cfg__device_feature_windows(void **state)
{
	struct fixture *f = *state;

	bar_write(f, COMMON + DFSELECT, 0, 4);
	assert_int_equal(bar_read(f, COMMON + DF, 4),
			 (1u << 5) | (1u << 28) | (1u << 29));
	bar_write(f, COMMON + DFSELECT, 1, 4);
	assert_int_equal(bar_read(f, COMMON + DF, 4), 1u | (1u << 8));
	bar_write(f, COMMON + DFSELECT, 2, 4);
	assert_int_equal(bar_read(f, COMMON + DF, 4), 0);
	assert_int_equal(bar_read(f, COMMON + DFSELECT, 4), 2);
	assert_int_equal(bar_read(f, COMMON + NUM_QUEUES, 2), 2);
	/* device_feature is read-only. */
	bar_write(f, COMMON + DF, 0xffffffff, 4);
	bar_write(f, COMMON + DFSELECT, 0, 4);
	assert_int_equal(bar_read(f, COMMON + DF, 4),
			 (1u << 5) | (1u << 28) | (1u << 29));
}

static void common_cfg__driver_feature_windows(void **state)
{
	struct fixture *f = *state;

	write_features(f, F_VERSION_1 | (1ULL << 5));
	bar_write(f, COMMON + GFSELECT, 0, 4);
	assert_int_equal(bar_read(f, COMMON + GF, 4), 1u << 5);
	bar_write(f, COMMON + GFSELECT, 1, 4);
	assert_int_equal(bar_read(f, COMMON + GF, 4), 1);
	/* Windows past 63 bits neither store nor show anything. */
	bar_write(f, COMMON + GFSELECT, 7, 4);
	bar_write(f, COMMON + GF, 0xffffffff, 4);
	assert_int_equal(bar_read(f, COMMON + GF, 4), 0);
	assert_int_equal(f->dev->driver_features, F_VERSION_1 | (1ULL << 5));
}

static void status__features_ok_needs_version_1(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(negotiate(f, F_EVENT_IDX), S_ACK | S_DRIVER);
}

static void status__features_ok_refuses_unoffered_bit(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(negotiate(f, F_VERSION_1 | (1ULL << 6)),
			 S_ACK | S_DRIVER);
}

static void status__features_ok_accepted_then_frozen(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(negotiate(f, F_VERSION_1 | F_EVENT_IDX | (1ULL << 40)),
			 S_ACK | S_DRIVER | S_FEAT);
	/* Feature writes after FEATURES_OK change nothing. */
	bar_write(f, COMMON + GFSELECT, 0, 4);
	bar_write(f, COMMON + GF, 0, 4);
	assert_int_equal(f->dev->driver_features,
			 F_VERSION_1 | F_EVENT_IDX | (1ULL << 40));
}

static void status__driver_ok_activates(void **state)
{
	struct fixture *f = *state;

	negotiate(f, F_VERSION_1);
	assert_int_equal(f->t->activates, 0);
	driver_ok(f);
	assert_int_equal(f->t->activates, 1);
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_FEAT | S_OK);
	assert_true(rv_virtio_driver_ok(f->dev));
}

static void status__driver_ok_without_features_ok(void **state)
{
	struct fixture *f = *state;

	bar_write(f, COMMON + STATUS, S_ACK | S_DRIVER | S_OK, 1);
	assert_int_equal(f->t->activates, 0);
	assert_int_equal(status(f), S_ACK | S_DRIVER);
}

static void status__activate_failure_needs_reset(void **state)
{
	struct fixture *f = *state;

	f->t->activate_rc = -EIO;
	negotiate(f, F_VERSION_1);
	driver_ok(f);
	assert_true(status(f) & S_RESET);
	assert_false(rv_virtio_driver_ok(f->dev));
}

static void status__bits_are_never_cleared(void **state)
{
	struct fixture *f = *state;

	bar_write(f, COMMON + STATUS, S_ACK | S_DRIVER, 1);
	bar_write(f, COMMON + STATUS, S_ACK, 1);
	assert_int_equal(status(f), S_ACK | S_DRIVER);
	/* NEEDS_RESET belongs to the device. */
	bar_write(f, COMMON + STATUS, S_ACK | S_DRIVER | S_RESET, 1);
	assert_int_equal(status(f), S_ACK | S_DRIVER);
}

/* ---- Transport: queues ------------------------------------------------- */

static void queue__registers_read_back(void **state)
{
	struct fixture *f = *state;

	bar_write(f, COMMON + Q_SELECT, 1, 2);
	assert_int_equal(bar_read(f, COMMON + Q_SIZE, 2), 64);
	assert_int_equal(bar_read(f, COMMON + Q_NOFF, 2), 1);
	assert_int_equal(bar_read(f, COMMON + Q_MSIX, 2), 0xffff);
	bar_write(f, COMMON + Q_SIZE, 16, 2);
	/* 64-bit fields as two 32-bit halves, low first (4.1.3). */
	bar_write(f, COMMON + Q_DESC, 0x12345000, 4);
	bar_write(f, COMMON + Q_DESC + 4, 0x1, 4);
	bar_write(f, COMMON + Q_USED, 0xabcdef00, 8);
	bar_write(f, COMMON + Q_MSIX, 1, 2);
	assert_int_equal(bar_read(f, COMMON + Q_SIZE, 2), 16);
	assert_int_equal(bar_read(f, COMMON + Q_DESC, 8), 0x112345000ULL);
	assert_int_equal(bar_read(f, COMMON + Q_DESC + 4, 4), 1);
	assert_int_equal(bar_read(f, COMMON + Q_USED, 8), 0xabcdef00ULL);
	assert_int_equal(bar_read(f, COMMON + Q_MSIX, 2), 1);
	/* Queue 0 is untouched. */
	bar_write(f, COMMON + Q_SELECT, 0, 2);
	assert_int_equal(bar_read(f, COMMON + Q_SIZE, 2), 64);
	assert_int_equal(bar_read(f, COMMON + Q_DESC, 8), 0);
}

static void queue__frozen_once_enabled(void **state)
{
	struct fixture *f = *state;

	negotiate(f, F_VERSION_1 | F_EVENT_IDX);
	setup_queue(f, 0, 16, 0);
	assert_int_equal(bar_read(f, COMMON + Q_ENABLE, 2), 1);
	assert_true(f->dev->queues[0].enabled);
	assert_true(f->dev->queues[0].event_idx);
	assert_false(f->dev->queues[0].indirect);
	bar_write(f, COMMON + Q_SIZE, 8, 2);
	bar_write(f, COMMON + Q_MSIX, 1, 2);
	bar_write(f, COMMON + Q_DESC, 0x50000, 8);
	bar_write(f, COMMON + Q_AVAIL, 0x51000, 8);
	bar_write(f, COMMON + Q_USED, 0x52000, 8);
	assert_int_equal(bar_read(f, COMMON + Q_SIZE, 2), 16);
	assert_int_equal(bar_read(f, COMMON + Q_MSIX, 2), 0);
	assert_int_equal(bar_read(f, COMMON + Q_DESC, 8), ring_gpa(0, 0));
	assert_int_equal(bar_read(f, COMMON + Q_AVAIL, 8), ring_gpa(0, 1));
	assert_int_equal(bar_read(f, COMMON + Q_USED, 8), ring_gpa(0, 2));
	/* Writing 0 to queue_enable does not disable it. */
	bar_write(f, COMMON + Q_ENABLE, 0, 2);
	assert_int_equal(bar_read(f, COMMON + Q_ENABLE, 2), 1);
}

static void queue__select_out_of_range(void **state)
{
	struct fixture *f = *state;

	bar_write(f, COMMON + Q_SELECT, 2, 2);
	assert_int_equal(bar_read(f, COMMON + Q_SIZE, 2), 0);
	bar_write(f, COMMON + Q_SIZE, 16, 2);
	bar_write(f, COMMON + Q_ENABLE, 1, 2);
	assert_int_equal(bar_read(f, COMMON + Q_SIZE, 2), 0);
	assert_int_equal(bar_read(f, COMMON + Q_ENABLE, 2), 0);
}

static void queue__enable_before_features_ok_ignored(void **state)
{
	struct fixture *f = *state;

	setup_queue(f, 0, 16, 0);
	assert_false(f->dev->queues[0].enabled);
	assert_false(status(f) & S_RESET);
}

static void queue__enable_bad_layout_needs_reset(void **state)
{
	struct fixture *f = *state;

	negotiate(f, F_VERSION_1);
	setup_queue(f, 0, 12, 0);
	assert_false(f->dev->queues[0].enabled);
	assert_true(status(f) & S_RESET);
	/* MSI-X is off: a config interrupt is INTx with ISR bit 1. */
	assert_int_equal(mk.intx_level, 1);
	assert_int_equal(bar_read(f, ISR, 1), RV_VIRTIO_ISR_CONFIG);
}

static void queue__enable_ring_outside_ram_needs_reset(void **state)
{
	struct fixture *f = *state;

	negotiate(f, F_VERSION_1);
	bar_write(f, COMMON + Q_SELECT, 0, 2);
	bar_write(f, COMMON + Q_DESC, RAM_SIZE - 0x100, 8);
	bar_write(f, COMMON + Q_ENABLE, 1, 2);
	assert_false(f->dev->queues[0].enabled);
	assert_true(status(f) & S_RESET);
}

static void msix_vector__out_of_range_reads_no_vector(void **state)
{
	struct fixture *f = *state;

	bar_write(f, COMMON + MSIX_CONFIG, 3, 2);
	assert_int_equal(bar_read(f, COMMON + MSIX_CONFIG, 2), 0xffff);
	bar_write(f, COMMON + MSIX_CONFIG, 2, 2);
	assert_int_equal(bar_read(f, COMMON + MSIX_CONFIG, 2), 2);
	bar_write(f, COMMON + Q_MSIX, 0x7ff, 2);
	assert_int_equal(bar_read(f, COMMON + Q_MSIX, 2), 0xffff);
}

static void reset__clears_state(void **state)
{
	struct fixture *f = *state;

	negotiate(f, F_VERSION_1 | F_EVENT_IDX);
	setup_queue(f, 1, 16, 1);
	bar_write(f, COMMON + MSIX_CONFIG, 0, 2);
	driver_ok(f);
	rv_virtio_notify_queue(f->dev, 1); /* INTx: line up, ISR bit 0 */
	assert_int_equal(mk.intx_level, 1);

	bar_write(f, COMMON + STATUS, 0, 1);
	assert_int_equal(f->t->resets, 1);
	assert_int_equal(status(f), 0);
	assert_int_equal(mk.intx_level, 0);
	assert_int_equal(f->dev->driver_features, 0);
	assert_int_equal(bar_read(f, COMMON + MSIX_CONFIG, 2), 0xffff);
	assert_int_equal(bar_read(f, COMMON + Q_SELECT, 2), 0);
	bar_write(f, COMMON + Q_SELECT, 1, 2);
	assert_int_equal(bar_read(f, COMMON + Q_ENABLE, 2), 0);
	assert_int_equal(bar_read(f, COMMON + Q_SIZE, 2), 64);
	assert_int_equal(bar_read(f, COMMON + Q_DESC, 8), 0);
	assert_int_equal(bar_read(f, COMMON + Q_MSIX, 2), 0xffff);
	assert_int_equal(bar_read(f, ISR, 1), 0);
}

/* ---- Transport: interrupts and notifications ---------------------------- */

static void isr__read_clears_and_lowers_intx(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_virtio_notify_queue(f->dev, 0), 0);
	assert_int_equal(mk.intx_level, 1);
	assert_int_equal(bar_read(f, ISR, 1), RV_VIRTIO_ISR_QUEUE);
	assert_int_equal(mk.intx_level, 0);
	assert_int_equal(bar_read(f, ISR, 1), 0);
	/* Config and queue bits accumulate until read; one raise. */
	rv_virtio_notify_queue(f->dev, 1);
	rv_virtio_notify_config(f->dev);
	assert_int_equal(mk.intx_raises, 2);
	assert_int_equal(bar_read(f, ISR, 4),
			 RV_VIRTIO_ISR_QUEUE | RV_VIRTIO_ISR_CONFIG);
	assert_int_equal(rv_virtio_notify_queue(f->dev, 2), -EINVAL);
}

static void notify_queue__msix_vectors(void **state)
{
	struct fixture *f = *state;

	mk.msix_on = true;
	negotiate(f, F_VERSION_1);
	setup_queue(f, 0, 16, 2);
	setup_queue(f, 1, 16, RV_VIRTIO_MSI_NO_VECTOR);
	bar_write(f, COMMON + MSIX_CONFIG, 0, 2);
	rv_virtio_notify_queue(f->dev, 0);
	rv_virtio_notify_queue(f->dev, 1); /* no vector: nothing */
	rv_virtio_notify_config(f->dev);
	assert_int_equal(mk.msix_notifies[2], 1);
	assert_int_equal(mk.msix_notifies[0], 1);
	assert_int_equal(mk.msix_notifies[1], 0);
	assert_int_equal(mk.intx_raises, 0);
	/* The ISR config bit is set even with MSI-X (4.1.4.5.1). */
	assert_int_equal(bar_read(f, ISR, 1), RV_VIRTIO_ISR_CONFIG);
}

static void notify__reaches_device_after_driver_ok(void **state)
{
	struct fixture *f = *state;

	negotiate(f, F_VERSION_1);
	setup_queue(f, 1, 16, 0);
	kick(f, 1);
	assert_int_equal(f->t->notifies[1], 0); /* before DRIVER_OK */
	driver_ok(f);
	kick(f, 1);
	bar_write(f, NOTIFY + 4, 1, 4); /* any width at the address */
	kick(f, 0);			/* queue 0 is not enabled */
	assert_int_equal(f->t->notifies[1], 2);
	assert_int_equal(f->t->notifies[0], 0);
	bar_write(f, NOTIFY + 8, 2, 2); /* no such queue */
}

static void queue_eventfd__binds_and_follows_bar(void **state)
{
	struct fixture *f = *state;
	uint64_t v = 0;
	int fd;

	mk.ioevfd_len0_unsupported = true;
	fd = rv_virtio_queue_eventfd(f->dev, 1);
	assert_true(fd >= 0);
	assert_int_equal(rv_virtio_queue_eventfd(f->dev, 1), fd);
	assert_int_equal(rv_virtio_queue_eventfd(f->dev, 2), -EINVAL);
	assert_int_equal(mk.nr_ioevfd, 1);
	assert_int_equal(mk.ioevfd[0].addr, BAR0_ADDR + NOTIFY + 4);
	assert_int_equal(mk.ioevfd[0].len, 2); /* after len 0 was refused */
	assert_true(mk.ioevfd[0].assign);

	/* A notification that exits to the VMM signals the same eventfd. */
	negotiate(f, F_VERSION_1);
	setup_queue(f, 1, 16, 0);
	driver_ok(f);
	kick(f, 1);
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 1);
	assert_int_equal(f->t->notifies[1], 0);

	/* The guest moves BAR 0: unbind at the old address, bind at the new. */
	f->dev->pci.ops->bar_moved(&f->dev->pci, 0, BAR0_ADDR, 0xe0000000ULL);
	assert_int_equal(mk.nr_ioevfd, 3);
	assert_int_equal(mk.ioevfd[1].addr, BAR0_ADDR + NOTIFY + 4);
	assert_false(mk.ioevfd[1].assign);
	assert_int_equal(mk.ioevfd[2].addr, 0xe0000000ULL + NOTIFY + 4);
	assert_true(mk.ioevfd[2].assign);
	/* Decoding off: unbound only. */
	f->dev->pci.ops->bar_moved(&f->dev->pci, 0, 0xe0000000ULL, 0);
	assert_int_equal(mk.nr_ioevfd, 4);
	assert_false(mk.ioevfd[3].assign);
	/* The MSI-X BAR moving is none of our business. */
	f->dev->pci.ops->bar_moved(&f->dev->pci, 2, BAR2_ADDR, 0xc1000000ULL);
	assert_int_equal(mk.nr_ioevfd, 4);
}

static void queue_eventfd__destroy_unbinds(void **state)
{
	struct fixture *f = *state;
	int fd = rv_virtio_queue_eventfd(f->dev, 0);

	assert_true(fd >= 0);
	assert_int_equal(mk.ioevfd[0].len, 0);
	rv_virtio_pci_destroy(f->dev);
	assert_int_equal(mk.nr_ioevfd, 2);
	assert_false(mk.ioevfd[1].assign);
	assert_int_equal(mk.ioevfd[1].fd, fd);
	assert_true(mk.msix_destroyed);
	assert_int_equal(mk.unregistered, 1);
	/* The fd is closed. */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	free(f->t);
	f->t = NULL;
}

static void queue_eventfd__bind_refused_still_works(void **state)
{
	struct fixture *f = *state;
	uint64_t v = 0;
	int fd;

	mk.ioevfd_fail = true;
	fd = rv_virtio_queue_eventfd(f->dev, 0);
	assert_true(fd >= 0);
	assert_int_equal(mk.nr_ioevfd, 0);
	negotiate(f, F_VERSION_1);
	setup_queue(f, 0, 16, 0);
	driver_ok(f);
	kick(f, 0);
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(f->t->notifies[0], 0);
	/* Nothing was bound, so nothing is unbound at destroy. */
	mk.ioevfd_fail = false;
	rv_virtio_pci_destroy(f->dev);
	assert_int_equal(mk.nr_ioevfd, 0);
	free(f->t);
	f->t = NULL;
}

static void needs_reset__once_until_reset(void **state)
{
	struct fixture *f = *state;

	mk.msix_on = true;
	negotiate(f, F_VERSION_1);
	bar_write(f, COMMON + MSIX_CONFIG, 2, 2);
	driver_ok(f);
	rv_virtio_set_needs_reset(f->dev, "test reason");
	rv_virtio_queue_error(f->dev, 0, -ELOOP);
	assert_int_equal(mk.msix_notifies[2], 1);
	assert_true(rv_virtio_needs_reset(f->dev));
	assert_false(rv_virtio_driver_ok(f->dev));
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_FEAT | S_OK | S_RESET);
	/* Only a driver reset clears it. */
	bar_write(f, COMMON + STATUS, S_ACK, 1);
	assert_true(rv_virtio_needs_reset(f->dev));
	bar_write(f, COMMON + STATUS, 0, 1);
	assert_false(rv_virtio_needs_reset(f->dev));
	rv_virtio_set_needs_reset(f->dev, "again");
	assert_true(rv_virtio_needs_reset(f->dev));
}

/* ---- Transport: device configuration ------------------------------------ */

static void device_config__bounded_access(void **state)
{
	struct fixture *f = *state;

	memcpy(f->t->config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(bar_read(f, DEVCFG + 4, 4), 0x08070605);
	/* Straddling the end: only the bytes inside are read. */
	assert_int_equal(bar_read(f, DEVCFG + 6, 4), 0x0807);
	assert_int_equal(bar_read(f, DEVCFG + 8, 4), 0);
	bar_write(f, DEVCFG + 2, 0xaabb, 2);
	assert_int_equal(f->t->last_write_off, 2);
	assert_int_equal(f->t->last_write_len, 2);
	assert_int_equal(f->t->config[2], 0xbb);
	bar_write(f, DEVCFG + 0x100, 1, 4); /* ignored */
	assert_int_equal(f->t->last_write_off, 2);
}

static void config_generation__one_step_per_unread_change(void **state)
{
	struct fixture *f = *state;
	uint8_t g0 = (uint8_t)bar_read(f, COMMON + CFG_GEN, 1);

	rv_virtio_config_changed(f->dev);
	rv_virtio_config_changed(f->dev);
	assert_int_equal((uint8_t)bar_read(f, COMMON + CFG_GEN, 1),
			 (uint8_t)(g0 + 1));
	bar_read(f, DEVCFG, 4); /* the driver reads the configuration */
	rv_virtio_config_changed(f->dev);
	assert_int_equal((uint8_t)bar_read(f, COMMON + CFG_GEN, 1),
			 (uint8_t)(g0 + 2));
	assert_int_equal(bar_read(f, ISR, 1), RV_VIRTIO_ISR_CONFIG);
	/* Read-only. */
	bar_write(f, COMMON + CFG_GEN, 0, 1);
	assert_int_equal((uint8_t)bar_read(f, COMMON + CFG_GEN, 1),
			 (uint8_t)(g0 + 2));
}

/* ---- Transport: PCI configuration access capability -------------------- */

static uint32_t window_read(struct fixture *f, const uint8_t *cap, uint32_t bar,
			    uint32_t off, uint32_t len)
{
	uint8_t *c = f->dev->pci.config + (cap - f->dev->pci.config);
	uint32_t at = (uint32_t)(cap - f->dev->pci.config), v = 0;
	const uint32_t pattern = 0xdeadbeef;

	/* An access the window ignores leaves this in pci_cfg_data. */
	memcpy(c + 16, &pattern, 4);
	c[4] = (uint8_t)bar;
	memcpy(c + 8, &off, 4);
	memcpy(c + 12, &len, 4);
	f->dev->pci.ops->config_read(&f->dev->pci, at + 16, &v, 4);
	return v;
}

static void pci_cfg_window__reads_and_writes_bar0(void **state)
{
	struct fixture *f = *state;
	const uint8_t *cap = find_cap(f->dev, 5);
	uint32_t at = (uint32_t)(cap - f->dev->pci.config);
	uint8_t *c = f->dev->pci.config + at;
	uint32_t v;

	assert_int_equal(
		window_read(f, cap, 0, COMMON + NUM_QUEUES, 2) & 0xffff, 2);
	/* A write through the window: status = ACKNOWLEDGE. */
	v = 1;
	memcpy(c + 8, &(uint32_t){ COMMON + STATUS }, 4);
	memcpy(c + 12, &(uint32_t){ 1 }, 4);
	memcpy(c + 16, &v, 4);
	f->dev->pci.ops->config_write(&f->dev->pci, at + 16, v, 1);
	assert_int_equal(status(f), S_ACK);
	/* Misaligned, bad length or another BAR: nothing happens. */
	assert_int_equal(window_read(f, cap, 0, COMMON + NUM_QUEUES + 1, 2),
			 0xdeadbeef);
	assert_int_equal(window_read(f, cap, 0, COMMON, 3), 0xdeadbeef);
	assert_int_equal(window_read(f, cap, 2, 0, 4), 0xdeadbeef);
	assert_int_equal(window_read(f, cap, 0, 0x4000, 4), 0xdeadbeef);
}

/* ---- virtio-rng --------------------------------------------------------- */

static int setup_rng(void **state)
{
	struct fixture *f;

	setup(state);
	f = *state;
	assert_int_equal(rv_virtio_rng_create(&f->vm, BUS, &f->dev), 0);
	return 0;
}

static int teardown_rng(void **state)
{
	struct fixture *f = *state;

	rv_virtio_rng_destroy(f->dev);
	f->dev = NULL;
	return teardown(state);
}

static void rng_start(struct fixture *f, uint64_t features)
{
	assert_int_equal(negotiate(f, F_VERSION_1 | features),
			 S_ACK | S_DRIVER | S_FEAT);
	setup_queue(f, 0, 16, RV_VIRTIO_MSI_NO_VECTOR);
	driver_ok(f);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

static void rng__fills_writable_buffer(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = f->ram + 0x100000;

	assert_int_equal(mk.device, 0x1044);
	rng_start(f, F_EVENT_IDX);
	add_buf(f, 0, 0, 0x100000, 64, RV_VIRTQ_DESC_F_WRITE);
	kick(f, 0);
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_len(f, 0, 0), 64);
	assert_false(all_zero(buf, 64));
	assert_true(all_zero(buf + 64, 64)); /* nothing past the buffer */
	assert_int_equal(mk.intx_raises, 1);
}

static void rng__bytes_bounded_per_notification(void **state)
{
	struct fixture *f = *state;
	const uint32_t len = RV_VIRTIO_RNG_MAX_BYTES + 4096;

	rng_start(f, 0);
	add_buf(f, 0, 0, 0x100000, len, RV_VIRTQ_DESC_F_WRITE);
	add_buf(f, 0, 1, 0x200000, 64, RV_VIRTQ_DESC_F_WRITE);
	kick(f, 0);
	/* The first chain is completed short; the second waits. */
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_len(f, 0, 0), RV_VIRTIO_RNG_MAX_BYTES);
	assert_true(
		all_zero(f->ram + 0x100000 + RV_VIRTIO_RNG_MAX_BYTES, 4096));
	kick(f, 0);
	assert_int_equal(used_idx(f, 0), 2);
	assert_int_equal(used_len(f, 0, 1), 64);
}

static void rng__buffers_queued_before_driver_ok(void **state)
{
	struct fixture *f = *state;

	negotiate(f, F_VERSION_1);
	setup_queue(f, 0, 16, RV_VIRTIO_MSI_NO_VECTOR);
	add_buf(f, 0, 0, 0x100000, 32, RV_VIRTQ_DESC_F_WRITE);
	kick(f, 0); /* dropped: no DRIVER_OK yet */
	assert_int_equal(used_idx(f, 0), 0);
	driver_ok(f);
	assert_int_equal(used_idx(f, 0), 1);
}

static void rng__readable_buffer_needs_reset(void **state)
{
	struct fixture *f = *state;

	rng_start(f, 0);
	add_buf(f, 0, 0, 0x100000, 64, 0);
	kick(f, 0);
	assert_int_equal(used_idx(f, 0), 0);
	assert_true(status(f) & S_RESET);
	/* Broken until reset: more requests are not served. */
	add_buf(f, 0, 1, 0x100000, 64, RV_VIRTQ_DESC_F_WRITE);
	kick(f, 0);
	assert_int_equal(used_idx(f, 0), 0);
	/* A reset and a fresh start bring it back. */
	bar_write(f, COMMON + STATUS, 0, 1);
	memset(f->ram + ring_gpa(0, 0), 0, 0x3000);
	f->avail_idx[0] = 0;
	rng_start(f, 0);
	add_buf(f, 0, 0, 0x100000, 8, RV_VIRTQ_DESC_F_WRITE);
	kick(f, 0);
	assert_int_equal(used_idx(f, 0), 1);
}

static void rng__descriptor_loop_needs_reset(void **state)
{
	struct fixture *f = *state;
	uint8_t *table = f->ram + ring_gpa(0, 0);

	rng_start(f, 0);
	add_buf(f, 0, 0, 0x100000, 64,
		RV_VIRTQ_DESC_F_WRITE | RV_VIRTQ_DESC_F_NEXT);
	put16(table + 14, 0); /* next = itself */
	kick(f, 0);
	assert_int_equal(used_idx(f, 0), 0);
	assert_true(rv_virtio_needs_reset(f->dev));
}

/* ---- virtio-console ------------------------------------------------------ */

static char *sock_path(struct fixture *f)
{
	static char path[100];

	snprintf(path, sizeof(path), "%s/console.sock", f->dir);
	return path;
}

static int setup_console(void **state)
{
	struct fixture *f;

	setup(state);
	f = *state;
	snprintf(f->dir, sizeof(f->dir), "/tmp/raevm-virtio-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(rv_virtio_console_create(&f->vm, BUS, sock_path(f),
						  &f->dev),
			 0);
	return 0;
}

static int teardown_console(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	rv_virtio_console_destroy(f->dev);
	f->dev = NULL;
	/* destroy removes its socket */
	assert_int_equal(stat(sock_path(f), &st), -1);
	rmdir(f->dir);
	return teardown(state);
}

static int connect_client(struct fixture *f)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path(f));
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)),
			 0);
	return fd;
}

/*
 * Queue 0 (receiveq) on vector 0, queue 1 (transmitq) on vector 1. No
 * EVENT_IDX: this driver wants an interrupt for every used buffer, and
 * the console thread pushes concurrently with the test.
 */
static void console_start(struct fixture *f)
{
	mk.msix_on = true;
	assert_int_equal(negotiate(f, F_VERSION_1), S_ACK | S_DRIVER | S_FEAT);
	setup_queue(f, 0, 16, 0);
	setup_queue(f, 1, 16, 1);
	driver_ok(f);
}

/* Sends bytes from the client and waits for them in a receive buffer. */
static void client_to_guest(struct fixture *f, int fd, const char *text,
			    uint16_t d, uint64_t gpa)
{
	unsigned int seen = read_count(&mk.msix_notifies[0]);

	add_buf(f, 0, d, gpa, 256, RV_VIRTQ_DESC_F_WRITE);
	kick(f, 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_true(wait_count(&mk.msix_notifies[0], seen));
}

static void console__client_to_guest_and_back(void **state)
{
	struct fixture *f = *state;
	char got[64] = { 0 };
	int fd;

	assert_int_equal(mk.device, 0x1043);
	console_start(f);
	fd = connect_client(f);
	client_to_guest(f, fd, "hello", 0, 0x100000);
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_len(f, 0, 0), 5);
	assert_memory_equal(f->ram + 0x100000, "hello", 5);

	/* Guest output arrives at the client, in order. */
	memcpy(f->ram + 0x200000, "from ", 5);
	memcpy(f->ram + 0x201000, "guest\n", 6);
	add_buf(f, 1, 0, 0x200000, 5, 0);
	add_buf(f, 1, 1, 0x201000, 6, 0);
	kick(f, 1);
	assert_int_equal(used_idx(f, 1), 2);
	assert_int_equal(used_len(f, 1, 0), 0);
	assert_int_equal(mk.msix_notifies[1], 1);
	assert_int_equal(read(fd, got, sizeof(got)), 11);
	assert_string_equal(got, "from guest\n");
	close(fd);
}

static void console__input_split_across_buffers(void **state)
{
	struct fixture *f = *state;
	unsigned int seen;
	int fd;

	console_start(f);
	fd = connect_client(f);
	client_to_guest(f, fd, "x", 0, 0x100000);
	seen = read_count(&mk.msix_notifies[0]);
	/* Ten bytes, buffers of four: 4 + 4 + 2. */
	assert_int_equal(write(fd, "0123456789", 10), 10);
	add_buf(f, 0, 1, 0x101000, 4, RV_VIRTQ_DESC_F_WRITE);
	add_buf(f, 0, 2, 0x102000, 4, RV_VIRTQ_DESC_F_WRITE);
	add_buf(f, 0, 3, 0x103000, 4, RV_VIRTQ_DESC_F_WRITE);
	kick(f, 0);
	while (used_idx(f, 0) < 4)
		assert_true(wait_count(&mk.msix_notifies[0], seen++));
	assert_int_equal(used_len(f, 0, 1), 4);
	assert_int_equal(used_len(f, 0, 2), 4);
	assert_int_equal(used_len(f, 0, 3), 2);
	assert_memory_equal(f->ram + 0x101000, "0123", 4);
	assert_memory_equal(f->ram + 0x102000, "4567", 4);
	assert_memory_equal(f->ram + 0x103000, "89", 2);
	close(fd);
}

static void console__second_client_refused(void **state)
{
	struct fixture *f = *state;
	char line[128] = { 0 };
	ssize_t n, total = 0;
	int fd, fd2;

	console_start(f);
	fd = connect_client(f);
	client_to_guest(f, fd, "a", 0, 0x100000); /* fd is the client now */
	fd2 = connect_client(f);
	while ((n = read(fd2, line + total, sizeof(line) - 1 - total)) > 0)
		total += n;
	assert_int_equal(n, 0); /* then closed */
	assert_string_equal(line, "raevm: this console already has a client; "
				  "try again later\n");
	close(fd2);
	/* The first client still works. */
	client_to_guest(f, fd, "b", 1, 0x101000);
	assert_int_equal(f->ram[0x101000], 'b');
	close(fd);
}

static void console__slow_client_loses_output(void **state)
{
	struct fixture *f = *state;
	unsigned int i;
	int fd;

	console_start(f);
	fd = connect_client(f);
	client_to_guest(f, fd, "a", 0, 0x100000);
	/* 64 MiB of output to a client that never reads: drops, no stall. */
	for (i = 0; i < 1024; i++) {
		add_buf(f, 1, (uint16_t)(i % 16), 0x200000, 65536, 0);
		kick(f, 1);
	}
	assert_int_equal(used_idx(f, 1), 1024);
	assert_true(rv_virtio_console_dropped(f->dev) > 0);
	assert_true(rv_virtio_console_dropped(f->dev) < 1024ULL * 65536);
	close(fd);
}

static void console__writable_tx_buffer_needs_reset(void **state)
{
	struct fixture *f = *state;

	console_start(f);
	add_buf(f, 1, 0, 0x200000, 16, RV_VIRTQ_DESC_F_WRITE);
	kick(f, 1);
	assert_true(rv_virtio_needs_reset(f->dev));
	assert_int_equal(used_idx(f, 1), 0);
}

static void console_create__socket_in_use(void **state)
{
	struct fixture *f = *state;
	struct rv_virtio_dev *other = (void *)1;

	assert_int_equal(rv_virtio_console_create(&f->vm, BUS, sock_path(f),
						  &other),
			 -EADDRINUSE);
	assert_null(other);
}

static void console_create__stale_socket_replaced(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct rv_virtio_dev *dev;
	char path[100];
	struct stat st;
	int fd;

	/* A socket file nobody listens on, as a crashed VMM leaves. */
	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
	assert_int_equal(rv_virtio_console_create(&f->vm, BUS, path, &dev), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	rv_virtio_console_destroy(dev);
	assert_int_equal(stat(path, &st), -1);
}

static void console_create__path_not_a_socket(void **state)
{
	struct fixture *f = *state;
	struct rv_virtio_dev *dev = (void *)1;
	char path[128], longpath[200];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/file", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(rv_virtio_console_create(&f->vm, BUS, path, &dev),
			 -EEXIST);
	assert_null(dev);
	unlink(path);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(rv_virtio_console_create(&f->vm, BUS, longpath, &dev),
			 -ENAMETOOLONG);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_dev, teardown)
#define T0(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TR(fn) cmocka_unit_test_setup_teardown(fn, setup_rng, teardown_rng)
#define TC(fn)                                                                 \
	cmocka_unit_test_setup_teardown(fn, setup_console, teardown_console)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(virtio_pci_init__ids_and_bars),
		T(virtio_pci_init__capabilities),
		T0(virtio_pci_init__bad_ops),
		T0(virtio_pci_init__msix_failure),
		T(common_cfg__device_feature_windows),
		T(common_cfg__driver_feature_windows),
		T(status__features_ok_needs_version_1),
		T(status__features_ok_refuses_unoffered_bit),
		T(status__features_ok_accepted_then_frozen),
		T(status__driver_ok_activates),
		T(status__driver_ok_without_features_ok),
		T(status__activate_failure_needs_reset),
		T(status__bits_are_never_cleared),
		T(queue__registers_read_back),
		T(queue__frozen_once_enabled),
		T(queue__select_out_of_range),
		T(queue__enable_before_features_ok_ignored),
		T(queue__enable_bad_layout_needs_reset),
		T(queue__enable_ring_outside_ram_needs_reset),
		T(msix_vector__out_of_range_reads_no_vector),
		T(reset__clears_state),
		T(isr__read_clears_and_lowers_intx),
		T(notify_queue__msix_vectors),
		T(notify__reaches_device_after_driver_ok),
		T(queue_eventfd__binds_and_follows_bar),
		T(queue_eventfd__destroy_unbinds),
		T(queue_eventfd__bind_refused_still_works),
		T(needs_reset__once_until_reset),
		T(device_config__bounded_access),
		T(config_generation__one_step_per_unread_change),
		T(pci_cfg_window__reads_and_writes_bar0),
		TR(rng__fills_writable_buffer),
		TR(rng__bytes_bounded_per_notification),
		TR(rng__buffers_queued_before_driver_ok),
		TR(rng__readable_buffer_needs_reset),
		TR(rng__descriptor_loop_needs_reset),
		TC(console__client_to_guest_and_back),
		TC(console__input_split_across_buffers),
		TC(console__second_client_refused),
		TC(console__slow_client_loses_output),
		TC(console__writable_tx_buffer_needs_reset),
		TC(console_create__socket_in_use),
		TC(console_create__stale_socket_replaced),
		TC(console_create__path_not_a_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
