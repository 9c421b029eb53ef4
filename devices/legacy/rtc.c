// SPDX-License-Identifier: Apache-2.0
/*
 * The MC146818 real-time clock and its 128 bytes of CMOS RAM, at ports
 * 0x70 (index; bit 7 is the NMI mask, which raevm ignores) and 0x71 (data).
 *
 * The clock does not tick on its own: every read of a time register
 * computes the value from the host's UTC clock plus an offset, which is
 * how a guest that sets the time moves "its" clock without touching the
 * host's. While status B's SET bit is on, the time registers are frozen
 * and hold what the guest writes; clearing SET commits them into the
 * offset. A time register written with SET off is committed at once.
 *
 * Limits: no periodic, alarm or update-ended interrupt is ever raised on
 * IRQ 8 (the enable bits are stored and otherwise ignored); status C
 * reports UF and PF as flags a polling guest can see; AF is never set.
 *
 * Locking: `lock` protects the state; bus callbacks come from any vCPU
 * thread.
 */
#include "raevm/device.h"

#include "raevm/bus.h"
#include "raevm/config.h"
#include "raevm/layout.h"
#include "raevm/log.h"
#include "raevm/vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RTC_NR_PORTS 2
#define CMOS_SIZE 128
#define CMOS_INDEX_MASK 0x7f /* bit 7 of the index is the NMI mask */

/* CMOS registers. */
#define REG_SEC 0x00
#define REG_MIN 0x02
#define REG_HOUR 0x04
#define REG_WDAY 0x06
#define REG_MDAY 0x07
#define REG_MON 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_EQUIPMENT 0x14
#define REG_BASE_LO 0x15
#define REG_BASE_HI 0x16
#define REG_EXT_LO 0x17
#define REG_EXT_HI 0x18
#define REG_CSUM_HI 0x2e
#define REG_CSUM_LO 0x2f
#define REG_EXT2_LO 0x30
#define REG_EXT2_HI 0x31
#define REG_CENTURY 0x32
#define REG_HIGH_LO 0x34 /* RAM above 16 MiB below 4 GiB, 64 KiB units */
#define REG_HIGH_HI 0x35
#define REG_ABOVE4G 0x5b /* 0x5b-0x5d: RAM above 4 GiB, 64 KiB units */

#define A_UIP 0x80
#define A_DV_MASK 0x70
#define A_DV_NORMAL 0x20 /* 32.768 kHz time base, divider running */
#define A_RS_MASK 0x0f
#define A_DEFAULT 0x26 /* 32.768 kHz, 1024 Hz periodic rate */

#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define B_DEFAULT B_24H

#define C_PF 0x40
#define C_UF 0x10

#define D_VRT 0x80

#define HOUR_PM 0x80

/*
 * The update cycle: UIP rises this long (244 us, eight ticks of the
 * 32.768 kHz time base) before the registers change each second.
 */
#define UIP_LEAD_NS 244141L
#define NS_PER_SEC 1000000000LL

struct rv_rtc {
	pthread_mutex_t lock;
	struct rv_vm *vm;
	void (*clock)(struct timespec *ts); /* host UTC; tests inject one */
	uint8_t index;
	uint8_t cmos[CMOS_SIZE];
	int64_t offset;		/* guest time - host time, in seconds */
	struct timespec last_c; /* host time of the last status C read */
};

/* For unit tests, which declare it themselves: no header of its own. */
void rv__rtc_set_clock(struct rv_rtc *rtc, void (*clock)(struct timespec *ts));

static void host_clock(struct timespec *ts)
{
	if (clock_gettime(CLOCK_REALTIME, ts) < 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = 0;
	}
}

void rv__rtc_set_clock(struct rv_rtc *rtc, void (*clock)(struct timespec *ts))
{
	pthread_mutex_lock(&rtc->lock);
	rtc->clock = clock ? clock : host_clock;
	rtc->clock(&rtc->last_c);
	pthread_mutex_unlock(&rtc->lock);
}

static bool is_time_reg(uint8_t reg)
{
	return reg == REG_SEC || reg == REG_MIN || reg == REG_HOUR ||
	       reg == REG_WDAY || reg == REG_MDAY || reg == REG_MON ||
	       reg == REG_YEAR || reg == REG_CENTURY;
}

static bool binary_mode(const struct rv_rtc *rtc)
{
	return rtc->cmos[REG_B] & B_DM_BINARY;
}

static uint8_t to_bcd(unsigned int v)
{
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

/* Decodes a BCD byte; returns -1 for a digit above 9. */
static int from_bcd(uint8_t v)
{
	if ((v & 0x0f) > 9 || (v >> 4) > 9)
		return -1;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t encode(const struct rv_rtc *rtc, unsigned int v)
{
	return binary_mode(rtc) ? (uint8_t)v : to_bcd(v);
}

static int decode(const struct rv_rtc *rtc, uint8_t v)
{
	return binary_mode(rtc) ? v : from_bcd(v);
}

static uint8_t encode_hour(const struct rv_rtc *rtc, unsigned int hour)
{
	unsigned int h12;

	if (rtc->cmos[REG_B] & B_24H)
		return encode(rtc, hour);
	h12 = hour % 12 ? hour % 12 : 12;
	return encode(rtc, h12) | (hour >= 12 ? HOUR_PM : 0);
}

/* Returns the hour 0-23, or -1 when the register holds no valid hour. */
static int decode_hour(const struct rv_rtc *rtc, uint8_t v)
{
	int h;

	if (rtc->cmos[REG_B] & B_24H) {
		h = decode(rtc, v);
		return h >= 0 && h < 24 ? h : -1;
	}
	h = decode(rtc, v & ~HOUR_PM);
	if (h < 1 || h > 12)
		return -1;
	return (h % 12) + (v & HOUR_PM ? 12 : 0);
}

/* The guest's current time in seconds since the epoch. */
static int64_t guest_now(const struct rv_rtc *rtc, struct timespec *host)
{
	rtc->clock(host);
	return (int64_t)host->tv_sec + rtc->offset;
}

/* Fills the time registers from a point in guest time. */
static void store_time(struct rv_rtc *rtc, int64_t when)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	rtc->cmos[REG_SEC] = encode(rtc, (unsigned int)tm.tm_sec);
	rtc->cmos[REG_MIN] = encode(rtc, (unsigned int)tm.tm_min);
	rtc->cmos[REG_HOUR] = encode_hour(rtc, (unsigned int)tm.tm_hour);
	rtc->cmos[REG_WDAY] = encode(rtc, (unsigned int)tm.tm_wday + 1);
	rtc->cmos[REG_MDAY] = encode(rtc, (unsigned int)tm.tm_mday);
	rtc->cmos[REG_MON] = encode(rtc, (unsigned int)tm.tm_mon + 1);
	rtc->cmos[REG_YEAR] =
		encode(rtc, (unsigned int)(tm.tm_year + 1900) % 100);
	rtc->cmos[REG_CENTURY] =
		encode(rtc, (unsigned int)(tm.tm_year + 1900) / 100 % 100);
}

/*
 * Turns the time registers into a new offset from `host`, the host time
 * they correspond to. The guest is hostile: a register outside its range
 * leaves the offset alone. The weekday is not read; it is always derived
 * from the date.
 */
static void commit_time(struct rv_rtc *rtc, const struct timespec *host)
{
	struct tm tm = { 0 };
	int sec = decode(rtc, rtc->cmos[REG_SEC]);
	int min = decode(rtc, rtc->cmos[REG_MIN]);
	int hour = decode_hour(rtc, rtc->cmos[REG_HOUR]);
	int mday = decode(rtc, rtc->cmos[REG_MDAY]);
	int mon = decode(rtc, rtc->cmos[REG_MON]);
	int year = decode(rtc, rtc->cmos[REG_YEAR]);
	int century = decode(rtc, rtc->cmos[REG_CENTURY]);
	time_t t;

	if (sec < 0 || sec > 59 || min < 0 || min > 59 || hour < 0 ||
	    mday < 1 || mday > 31 || mon < 1 || mon > 12 || year < 0 ||
	    year > 99 || century < 0 || century > 99) {
		rv_debug("rtc: guest wrote an invalid time; ignored");
		return;
	}
	tm.tm_sec = sec;
	tm.tm_min = min;
	tm.tm_hour = hour;
	tm.tm_mday = mday;
	tm.tm_mon = mon - 1;
	tm.tm_year = century * 100 + year - 1900;
	t = timegm(&tm);
	rtc->offset = (int64_t)t - (int64_t)host->tv_sec;
}

/*
 * Status A. UIP is honest: it reads 1 during the 244 us before each second
 * boundary of the guest clock, as long as the divider runs and SET is off.
 */
static uint8_t read_status_a(struct rv_rtc *rtc)
{
	uint8_t a = rtc->cmos[REG_A] & ~A_UIP;
	struct timespec host;

	if ((a & A_DV_MASK) != A_DV_NORMAL || (rtc->cmos[REG_B] & B_SET))
		return a;
	rtc->clock(&host);
	if (host.tv_nsec >= NS_PER_SEC - UIP_LEAD_NS)
		a |= A_UIP;
	return a;
}

/*
 * Status C, cleared by the read. UF is set when a second boundary passed
 * since the last read, PF when a whole periodic interval did. IRQF stays
 * clear because IRQ 8 is never asserted.
 */
static uint8_t read_status_c(struct rv_rtc *rtc)
{
	struct timespec now;
	unsigned int rs = rtc->cmos[REG_A] & A_RS_MASK;
	uint8_t c = 0;
	int64_t elapsed_ns;

	rtc->clock(&now);
	if (now.tv_sec != rtc->last_c.tv_sec && !(rtc->cmos[REG_B] & B_SET))
		c |= C_UF;
	elapsed_ns = ((int64_t)now.tv_sec - rtc->last_c.tv_sec) * NS_PER_SEC +
		     (now.tv_nsec - rtc->last_c.tv_nsec);
	/*
	 * Rate select n >= 3 gives a period of 2^(n-1) ticks of 32.768 kHz;
	 * 1 and 2 are the same rates as 8 and 9. 0 turns the rate off.
	 */
	if (rs == 1 || rs == 2)
		rs += 7;
	if (rs && elapsed_ns >= (NS_PER_SEC << (rs - 1)) / 32768)
		c |= C_PF;
	rtc->last_c = now;
	return c;
}

static uint8_t read_reg(struct rv_rtc *rtc, uint8_t reg)
{
	struct timespec host;

	if (is_time_reg(reg)) {
		/* Frozen while SET is on; computed from the clock otherwise. */
		if (!(rtc->cmos[REG_B] & B_SET))
			store_time(rtc, guest_now(rtc, &host));
		return rtc->cmos[reg];
	}
	switch (reg) {
	case REG_A:
		return read_status_a(rtc);
	case REG_C:
		return read_status_c(rtc);
	case REG_D:
		return D_VRT;
	default:
		return rtc->cmos[reg];
	}
}

static void write_status_b(struct rv_rtc *rtc, uint8_t val)
{
	uint8_t old = rtc->cmos[REG_B];
	struct timespec host;

	/*
	 * Setting SET clears UIE and freezes the registers as they read now,
	 * in the format the same write selects. Clearing it commits them.
	 */
	if ((val & B_SET) && !(old & B_SET))
		val &= ~B_UIE;
	rtc->cmos[REG_B] = val;
	if ((val & B_SET) && !(old & B_SET)) {
		store_time(rtc, guest_now(rtc, &host));
	} else if (!(val & B_SET) && (old & B_SET)) {
		rtc->clock(&host);
		commit_time(rtc, &host);
	}
}

static void write_reg(struct rv_rtc *rtc, uint8_t reg, uint8_t val)
{
	struct timespec host;

	if (is_time_reg(reg)) {
		if (rtc->cmos[REG_B] & B_SET) {
			rtc->cmos[reg] = val;
			return;
		}
		/* A single field written while the clock runs. */
		store_time(rtc, guest_now(rtc, &host));
		rtc->cmos[reg] = val;
		commit_time(rtc, &host);
		return;
	}
	switch (reg) {
	case REG_A:
		rtc->cmos[REG_A] = val & ~A_UIP;
		break;
	case REG_B:
		write_status_b(rtc, val);
		break;
	case REG_C:
	case REG_D:
		/* Read-only. */
		break;
	default:
		rtc->cmos[reg] = val;
		break;
	}
}

static void rtc_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct rv_rtc *rtc = opaque;
	uint8_t val = 0xff;

	if (len == 0 || len > 8)
		return;
	/* The index port is write-only; it reads as a floating bus. */
	if (offset == 1) {
		pthread_mutex_lock(&rtc->lock);
		val = read_reg(rtc, rtc->index);
		pthread_mutex_unlock(&rtc->lock);
	}
	memset(data, 0, len);
	*(uint8_t *)data = val;
}

static void rtc_write(void *opaque, uint64_t offset, const void *data,
		      uint32_t len)
{
	struct rv_rtc *rtc = opaque;
	uint8_t val;

	if (len == 0 || len > 8)
		return;
	val = *(const uint8_t *)data;
	pthread_mutex_lock(&rtc->lock);
	if (offset == 0)
		rtc->index = val & CMOS_INDEX_MASK;
	else if (offset == 1)
		write_reg(rtc, rtc->index, val);
	pthread_mutex_unlock(&rtc->lock);
}

static const struct rv_bus_ops rtc_ops = {
	.read = rtc_read,
	.write = rtc_write,
};

static void put16(uint8_t *cmos, unsigned int reg, uint64_t val)
{
	if (val > 0xffff)
		val = 0xffff;
	cmos[reg] = (uint8_t)val;
	cmos[reg + 1] = (uint8_t)(val >> 8);
}

/*
 * The memory size registers a PC BIOS would have filled: base memory in
 * KiB, memory above 1 MiB in KiB (capped at 0xffff as on real machines),
 * memory from 16 MiB up to the MMIO hole in 64 KiB units, and memory above
 * 4 GiB in 64 KiB units at 0x5b-0x5d (the convention SeaBIOS reads).
 */
static void init_memory_regs(struct rv_rtc *rtc, uint64_t memory)
{
	uint64_t low = memory < RV_MMIO_HOLE_START ? memory :
						     RV_MMIO_HOLE_START;
	uint64_t high = memory - low;
	uint64_t ext = low > RV_HIGH_MEM_START ? low - RV_HIGH_MEM_START : 0;
	uint64_t above16 = low > 16 * RV_MiB ? low - 16 * RV_MiB : 0;
	uint64_t above4g = high / (64 * RV_KiB);
	unsigned int sum = 0;
	unsigned int i;

	put16(rtc->cmos, REG_BASE_LO, 640);
	put16(rtc->cmos, REG_EXT_LO, ext / RV_KiB);
	put16(rtc->cmos, REG_EXT2_LO, ext / RV_KiB);
	put16(rtc->cmos, REG_HIGH_LO, above16 / (64 * RV_KiB));
	if (above4g > 0xffffff)
		above4g = 0xffffff;
	rtc->cmos[REG_ABOVE4G] = (uint8_t)above4g;
	rtc->cmos[REG_ABOVE4G + 1] = (uint8_t)(above4g >> 8);
	rtc->cmos[REG_ABOVE4G + 2] = (uint8_t)(above4g >> 16);

	/* The standard checksum over 0x10-0x2d, big-endian at 0x2e. */
	for (i = 0x10; i <= 0x2d; i++)
		sum += rtc->cmos[i];
	rtc->cmos[REG_CSUM_HI] = (uint8_t)(sum >> 8);
	rtc->cmos[REG_CSUM_LO] = (uint8_t)sum;
}

static void rtc_destroy(void *dev)
{
	struct rv_rtc *rtc = dev;

	if (!rtc)
		return;
	rv_bus_unregister(rtc->vm->pio, RV_RTC_PORT);
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}

static int rtc_create(const struct rv_device_ctx *ctx, void **out)
{
	struct rv_rtc *rtc;
	int ret;

	*out = NULL;
	rtc = rv__device_alloc(ctx, "rtc", sizeof(*rtc));
	if (!rtc)
		return -ENOMEM; /* logged */
	rtc->vm = ctx->vm;
	rtc->clock = host_clock;
	rtc->clock(&rtc->last_c);
	rtc->cmos[REG_A] = A_DEFAULT;
	rtc->cmos[REG_B] = B_DEFAULT;
	/* A maths coprocessor, no floppy drives, an EGA/VGA-class display. */
	rtc->cmos[REG_EQUIPMENT] = 0x02;
	init_memory_regs(rtc, ctx->cfg ? ctx->cfg->memory : 0);
	ret = -pthread_mutex_init(&rtc->lock, NULL);
	if (ret)
		goto err_free;
	ret = rv_bus_register(ctx->vm->pio, RV_RTC_PORT, RTC_NR_PORTS, &rtc_ops,
			      rtc);
	if (ret < 0) {
		rv_error("rtc: cannot claim ports 0x%x-0x%x: %s", RV_RTC_PORT,
			 RV_RTC_PORT + RTC_NR_PORTS - 1, strerror(-ret));
		goto err_lock;
	}
	*out = rtc;
	return 0;

err_lock:
	pthread_mutex_destroy(&rtc->lock);
err_free:
	free(rtc);
	return ret;
}

const struct rv_device_type rv_rtc_type = {
	.name = "rtc",
	.create = rtc_create,
	.destroy = rtc_destroy,
};
