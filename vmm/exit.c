// SPDX-License-Identifier: Apache-2.0
/*
 * Exit decoding: a pure function over a kvm_run page. Offsets KVM reports
 * (the PIO data area) are checked against the mapping size before use.
 */
#include "raevm/vcpu.h"

#include <string.h>

static enum rv_exit_kind decode_io(struct kvm_run *run, size_t run_size,
				   struct rv_exit *out)
{
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;

	if (run->io.size != 1 && run->io.size != 2 && run->io.size != 4)
		return RV_EXIT_INVALID;
	if (run->io.count == 0 || run->io.data_offset >= run_size ||
	    bytes > run_size - run->io.data_offset)
		return RV_EXIT_INVALID;
	out->addr = run->io.port;
	out->size = run->io.size;
	out->count = run->io.count;
	out->data = (uint8_t *)run + run->io.data_offset;
	return run->io.direction == KVM_EXIT_IO_OUT ? RV_EXIT_IO_OUT :
						      RV_EXIT_IO_IN;
}

static enum rv_exit_kind decode_mmio(struct kvm_run *run, struct rv_exit *out)
{
	uint32_t len = run->mmio.len;

	if (len != 1 && len != 2 && len != 4 && len != 8)
		return RV_EXIT_INVALID;
	out->addr = run->mmio.phys_addr;
	out->size = len;
	out->count = 1;
	out->data = run->mmio.data;
	return run->mmio.is_write ? RV_EXIT_MMIO_WRITE : RV_EXIT_MMIO_READ;
}

static enum rv_exit_kind decode_internal(struct kvm_run *run,
					 struct rv_exit *out)
{
	out->suberror = run->internal.suberror;
	/*
	 * Emulation failures overlay struct emulation_failure: flags, then
	 * insn_size and up to 15 instruction bytes. ndata counts the valid
	 * 64-bit words after suberror, so the bytes are used only when ndata
	 * covers them; insn_size is clamped to the array either way.
	 */
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    run->emulation_failure.ndata >= 3 &&
	    (run->emulation_failure.flags &
	     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		uint32_t len = run->emulation_failure.insn_size;

		if (len > sizeof(run->emulation_failure.insn_bytes))
			len = sizeof(run->emulation_failure.insn_bytes);
		out->insn = run->emulation_failure.insn_bytes;
		out->insn_len = len;
	}
	return RV_EXIT_INTERNAL_ERROR;
}

static enum rv_exit_kind decode_system_event(struct kvm_run *run)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_RESET:
		return RV_EXIT_SYSTEM_RESET;
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return RV_EXIT_SYSTEM_OFF;
	default:
		return RV_EXIT_UNKNOWN;
	}
}

enum rv_exit_kind rv_exit_decode(struct kvm_run *run, size_t run_size,
				 struct rv_exit *out)
{
	memset(out, 0, sizeof(*out));
	if (!run || run_size < sizeof(*run)) {
		out->kind = RV_EXIT_INVALID;
		return out->kind;
	}
	out->reason = run->exit_reason;
	if (run->exit_reason == KVM_EXIT_SYSTEM_EVENT)
		out->suberror = run->system_event.type;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		out->kind = decode_io(run, run_size, out);
		break;
	case KVM_EXIT_MMIO:
		out->kind = decode_mmio(run, out);
		break;
	case KVM_EXIT_HLT:
		out->kind = RV_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		out->kind = RV_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_INTR:
		out->kind = RV_EXIT_INTR;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		out->kind = decode_system_event(run);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		out->kind = decode_internal(run, out);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		out->hw_reason = run->fail_entry.hardware_entry_failure_reason;
		out->kind = RV_EXIT_FAIL_ENTRY;
		break;
	default:
		out->kind = RV_EXIT_UNKNOWN;
		break;
	}
	return out->kind;
}

const char *rv_exit_kind_name(enum rv_exit_kind kind)
{
	static const char *const names[] = {
		[RV_EXIT_IO_IN] = "io-in",
		[RV_EXIT_IO_OUT] = "io-out",
		[RV_EXIT_MMIO_READ] = "mmio-read",
		[RV_EXIT_MMIO_WRITE] = "mmio-write",
		[RV_EXIT_HLT] = "hlt",
		[RV_EXIT_SHUTDOWN] = "shutdown",
		[RV_EXIT_SYSTEM_RESET] = "system-reset",
		[RV_EXIT_SYSTEM_OFF] = "system-off",
		[RV_EXIT_INTR] = "intr",
		[RV_EXIT_INTERNAL_ERROR] = "internal-error",
		[RV_EXIT_FAIL_ENTRY] = "fail-entry",
		[RV_EXIT_UNKNOWN] = "unknown",
		[RV_EXIT_INVALID] = "invalid",
	};

	if ((unsigned int)kind >= RV_ARRAY_SIZE(names) || !names[kind])
		return "?";
	return names[kind];
}
