// SPDX-License-Identifier: Apache-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "raevm/vcpu.h"

#define RUN_SIZE 4096

static union {
	struct kvm_run run;
	uint8_t bytes[RUN_SIZE];
} page;

static struct kvm_run *fresh(uint32_t reason)
{
	memset(&page, 0, sizeof(page));
	page.run.exit_reason = reason;
	return &page.run;
}

static void exit_decode__io_out(void **state)
{
	struct kvm_run *run = fresh(KVM_EXIT_IO);
	struct rv_exit e;

	(void)state;
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.port = 0x3f8;
	run->io.size = 1;
	run->io.count = 1;
	run->io.data_offset = 0x800;
	page.bytes[0x800] = 'A';
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_IO_OUT);
	assert_int_equal(e.addr, 0x3f8);
	assert_int_equal(e.size, 1);
	assert_int_equal(e.count, 1);
	assert_ptr_equal(e.data, &page.bytes[0x800]);
	assert_int_equal(e.data[0], 'A');
}

static void exit_decode__io_string_in(void **state)
{
	struct kvm_run *run = fresh(KVM_EXIT_IO);
	struct rv_exit e;

	(void)state;
	run->io.direction = KVM_EXIT_IO_IN;
	run->io.port = 0x1f0;
	run->io.size = 2;
	run->io.count = 256;
	run->io.data_offset = 0x1000 - 512;
	/* Exactly fits the page. */
	assert_int_equal(rv_exit_decode(run, 0x1000, &e), RV_EXIT_IO_IN);
	assert_int_equal(e.count, 256);
}

static void exit_decode__io_out_of_page(void **state)
{
	struct kvm_run *run = fresh(KVM_EXIT_IO);
	struct rv_exit e;

	(void)state;
	run->io.direction = KVM_EXIT_IO_IN;
	run->io.size = 4;
	run->io.count = 2;
	run->io.data_offset = RUN_SIZE - 4;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_INVALID);
	run->io.data_offset = 0xffffffffffffULL;
	run->io.count = 1;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_INVALID);
	run->io.data_offset = 0x800;
	run->io.count = 0xffffffffU;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_INVALID);
	run->io.count = 0;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_INVALID);
}

static void exit_decode__io_bad_size(void **state)
{
	struct kvm_run *run = fresh(KVM_EXIT_IO);
	struct rv_exit e;

	(void)state;
	run->io.size = 3;
	run->io.count = 1;
	run->io.data_offset = 0x800;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_INVALID);
	run->io.size = 8;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_INVALID);
}

static void exit_decode__mmio(void **state)
{
	struct kvm_run *run = fresh(KVM_EXIT_MMIO);
	struct rv_exit e;

	(void)state;
	run->mmio.phys_addr = 0xfed00000;
	run->mmio.len = 8;
	run->mmio.is_write = 1;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_MMIO_WRITE);
	assert_int_equal(e.addr, 0xfed00000);
	assert_int_equal(e.size, 8);
	assert_ptr_equal(e.data, run->mmio.data);
	run->mmio.is_write = 0;
	run->mmio.len = 4;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_MMIO_READ);
	run->mmio.len = 16;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_INVALID);
}

static void exit_decode__emulation_failure(void **state)
{
	static const uint8_t insn[] = { 0xf3, 0x0f, 0xb8, 0xc0 }; /* popcnt */
	struct kvm_run *run = fresh(KVM_EXIT_INTERNAL_ERROR);
	struct rv_exit e;

	(void)state;
	run->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run->emulation_failure.ndata = 4;
	run->emulation_failure.flags =
		KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	run->emulation_failure.insn_size = sizeof(insn);
	memcpy(run->emulation_failure.insn_bytes, insn, sizeof(insn));
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e),
			 RV_EXIT_INTERNAL_ERROR);
	assert_int_equal(e.suberror, KVM_INTERNAL_ERROR_EMULATION);
	assert_int_equal(e.insn_len, 4);
	assert_memory_equal(e.insn, insn, 4);

	/* A hostile length is clamped to the 15-byte array. */
	run->emulation_failure.insn_size = 200;
	rv_exit_decode(run, RUN_SIZE, &e);
	assert_int_equal(e.insn_len, 15);

	/* Without the flag there are no bytes to trust. */
	run->emulation_failure.flags = 0;
	rv_exit_decode(run, RUN_SIZE, &e);
	assert_null(e.insn);
	assert_int_equal(e.insn_len, 0);
}

static void exit_decode__simple_kinds(void **state)
{
	struct rv_exit e;

	(void)state;
	assert_int_equal(rv_exit_decode(fresh(KVM_EXIT_HLT), RUN_SIZE, &e),
			 RV_EXIT_HLT);
	assert_int_equal(rv_exit_decode(fresh(KVM_EXIT_SHUTDOWN), RUN_SIZE, &e),
			 RV_EXIT_SHUTDOWN);
	assert_int_equal(rv_exit_decode(fresh(KVM_EXIT_INTR), RUN_SIZE, &e),
			 RV_EXIT_INTR);
	assert_int_equal(rv_exit_decode(fresh(9999), RUN_SIZE, &e),
			 RV_EXIT_UNKNOWN);
	assert_int_equal(e.reason, 9999);
	fresh(KVM_EXIT_FAIL_ENTRY)->fail_entry.hardware_entry_failure_reason =
		0x21;
	assert_int_equal(rv_exit_decode(&page.run, RUN_SIZE, &e),
			 RV_EXIT_FAIL_ENTRY);
	assert_int_equal(e.hw_reason, 0x21);
}

static void exit_decode__system_events(void **state)
{
	struct kvm_run *run = fresh(KVM_EXIT_SYSTEM_EVENT);
	struct rv_exit e;

	(void)state;
	run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e),
			 RV_EXIT_SYSTEM_RESET);
	run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_SYSTEM_OFF);
	run->system_event.type = 77;
	assert_int_equal(rv_exit_decode(run, RUN_SIZE, &e), RV_EXIT_UNKNOWN);
}

static void exit_decode__short_page(void **state)
{
	struct rv_exit e;

	(void)state;
	assert_int_equal(rv_exit_decode(fresh(KVM_EXIT_HLT), 16, &e),
			 RV_EXIT_INVALID);
	assert_int_equal(rv_exit_decode(NULL, RUN_SIZE, &e), RV_EXIT_INVALID);
	assert_string_equal(rv_exit_kind_name(RV_EXIT_IO_OUT), "io-out");
	assert_string_equal(rv_exit_kind_name((enum rv_exit_kind)99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exit_decode__io_out),
		cmocka_unit_test(exit_decode__io_string_in),
		cmocka_unit_test(exit_decode__io_out_of_page),
		cmocka_unit_test(exit_decode__io_bad_size),
		cmocka_unit_test(exit_decode__mmio),
		cmocka_unit_test(exit_decode__emulation_failure),
		cmocka_unit_test(exit_decode__simple_kinds),
		cmocka_unit_test(exit_decode__system_events),
		cmocka_unit_test(exit_decode__short_page),
	};

	return cmocka_run_group_tests_name("exit", tests, NULL, NULL);
}
