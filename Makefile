# raevm - one plain GNU Makefile (STYLE.md "Build").
#
#   make            build raevmd and the test guests
#   make run        boot the default VM (configs/default.raeVM) on this machine
#   make check      install what is missing, build, run every test
#   make sanitize   the same tests, built with ASan + UBSan
#   make bench      start-up time, RSS and block I/O against QEMU and fio
#                   (not part of check)
#   make fuzz       build and briefly run the libFuzzer targets
#   make check-headers / format-check / check-linux / install / clean
#
# V=1 shows commands, WERROR=0 relaxes -Werror, BUILD=dir moves the output.

.DEFAULT_GOAL := all
SHELL := /bin/bash

V ?= 0
WERROR ?= 1
SAN ?= 0
BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2)
endif

CC ?= gcc
ifeq ($(CC),cc)
CC := gcc
endif
CLANG ?= clang
PKG_CONFIG ?= pkg-config

PKGS := libuv json-c libseccomp libcap-ng liburing
# Loaded with dlopen() where used (include/raevm/dl.h), so only their
# headers are used at build time: not linked, see docs/performance.md.
DL_PKGS := libzstd
# libslirp's pkg-config name is "slirp" (it requires glib-2.0's headers).
DL_PKGS += slirp
TEST_PKGS := cmocka

# Debian packages the build, the tests and the benchmarks need.
DEB_PKGS := build-essential pkg-config libuv1-dev libjson-c-dev \
	libseccomp-dev libcap-ng-dev libcmocka-dev lz4 cpio busybox-static \
	clang clang-format libclang-rt-14-dev qemu-utils socat jq liburing-dev
DEB_PKGS += libzstd-dev zstd iproute2
DEB_PKGS += libslirp-dev libglib2.0-dev
DEB_BENCH_PKGS := qemu-system-x86 qemu-utils time bc fio

WARNINGS := -Wall -Wextra -Wformat=2 -Wmissing-prototypes \
	-Wstrict-prototypes -Wold-style-definition -Wshadow -Wpointer-arith \
	-Wcast-qual -Wundef -Wwrite-strings -Wimplicit-fallthrough -Wvla
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) $(DL_PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARNINGS) $(CFLAGS) -Iinclude -D_GNU_SOURCE \
	-MMD -MP -fstack-protector-strong -D_FORTIFY_SOURCE=2
LDFLAGS ?=
ALL_LDFLAGS := $(LDFLAGS) -Wl,--as-needed -Wl,-z,relro,-z,now -pthread
ifeq ($(SAN),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -U_FORTIFY_SOURCE
ALL_LDFLAGS += -fsanitize=address,undefined
endif

# ---------------------------------------------------------------------------
# raevmd: everything but main() lives in libraevm.a so tests link it too.

LIB_SRCS := \
	src/common/log.c \
	src/common/util.c \
	src/common/jscan.c \
	src/common/dl.c \
	src/sandbox/thread.c \
	src/sandbox/seccomp.c \
	src/sandbox/caps.c \
	src/sandbox/jail.c \
	src/sandbox/cgroup.c \
	src/sandbox/cgroup_probe.c \
	src/common/config.c \
	src/common/api.c \
	src/common/sha256.c \
	src/common/tar.c \
	src/common/netcfg.c \
	vmm/kvm.c \
	vmm/memory.c \
	vmm/bus.c \
	vmm/exit.c \
	vmm/vcpu.c \
	vmm/vm.c \
	vmm/irq.c \
	vmm/x86/kernel.c \
	vmm/x86/boot.c \
	vmm/x86/regs.c \
	vmm/x86/cpuid.c \
	vmm/x86/mptable.c \
	vmm/x86/acpi.c \
	vmm/x86/aml.c \
	devices/board.c \
	devices/pci/pci.c \
	devices/pci/host_bridge.c \
	devices/pci/msix.c \
	devices/legacy/uart.c \
	devices/legacy/i8042.c \
	devices/legacy/rtc.c \
	devices/legacy/debug_exit.c \
	devices/legacy/acpi_pm.c \
	devices/virtio/queue.c \
	devices/virtio/pci.c \
	devices/virtio/rng.c \
	devices/virtio/console.c \
	devices/virtio/blk.c \
	devices/virtio/blk_uring.c \
	devices/virtio/net.c \
	devices/virtio/net_queue.c \
	devices/virtio/vsock.c \
	devices/vsock/proto.c \
	devices/block/block.c \
	devices/block/raw.c \
	devices/block/qcow2.c \
	devices/block/qcow2_meta.c \
	devices/block/uring.c \
	devices/net/backend.c \
	devices/net/slirp.c \
	devices/net/slirp_dl.c \
	devices/net/tap.c \
	src/manifest/manifest.c \
	src/manifest/json.c \
	src/manifest/fields_net.c \
	src/worker/options.c \
	src/worker/img.c \
	src/worker/run.c \
	src/worker/ephemeral.c \
	src/worker/stdio_console.c \
	src/worker/worker_proto.c \
	src/worker/console_server.c \
	src/worker/worker.c \
	src/daemon/supervisor.c \
	src/daemon/supervisor_ops.c \
	src/daemon/supervisor_spawn.c \
	src/daemon/supervisor_boot.c

RAEVMD_SRCS := \
	src/daemon/main.c

# The daemon's control plane (src/daemon/daemon.h): in libraevm.a so the
# request fuzz target and tests link it.
DAEMON_SRCS := \
	src/daemon/request.c \
	src/daemon/store.c \
	src/daemon/server.c \
	src/daemon/handlers.c \
	src/daemon/bundle.c \
	src/daemon/zstd_dl.c \
	src/daemon/handlers_bundle.c \
	src/daemon/daemon.c

LIB_SRCS += $(DAEMON_SRCS)

# raevm, the CLI: its own objects linked with libraevm.a (command table,
# util, log). The unit test links all of them but main.o.
CLI_SRCS := \
	cli/main.c \
	cli/args.c \
	cli/create.c \
	cli/client.c \
	cli/output.c \
	cli/console.c

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
RAEVMD_OBJS := $(RAEVMD_SRCS:%.c=$(BUILD)/obj/%.o)
LIBRAEVM := $(BUILD)/libraevm.a
RAEVMD := $(BUILD)/raevmd
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_TEST_OBJS := $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJS))
RAEVM := $(BUILD)/raevm

# ---------------------------------------------------------------------------
# Unit tests (cmocka): tests/unit/<module>/test_<module>.c.
# <module>_WRAP lists functions replaced through -Wl,--wrap=.

UNIT_TESTS := \
	util \
	jscan \
	mem \
	bus \
	exit \
	kernel \
	boot \
	mptable \
	acpi \
	acpi_pm \
	cpuid \
	uart \
	i8042 \
	rtc \
	pci \
	msix \
	irq \
	virtq \
	virtio_pci \
	virtio_blk \
	virtio_vsock \
	virtio_net \
	raw \
	qcow2 \
	manifest \
	options \
	netcfg \
	cli \
	bundle \
	dl \
	ephemeral \
	worker_proto \
	supervisor_spawn \
	cgroup \
	sandbox

uart_WRAP := rv_vm_irq_line
rtc_WRAP := rv_vm_irq_line
i8042_WRAP := rv_vm_request_stop
acpi_pm_WRAP := rv_vm_irq_line rv_vm_request_stop
raw_WRAP := preadv pwritev open
qcow2_WRAP := rv__blk_pread_full
pci_WRAP := rv_vm_irq_line rv_vm_request_stop
msix_WRAP := rv_irq_alloc_gsi rv_irq_free_gsi rv_irq_set_msi_route \
	rv_irqfd rv_irq_signal_msi
irq_WRAP := ioctl
virtio_pci_WRAP := rv_pci_dev_init
virtio_pci_WRAP += rv_pci_set_bar
virtio_pci_WRAP += rv_pci_add_cap
virtio_pci_WRAP += rv_pci_register
virtio_pci_WRAP += rv_pci_unregister
virtio_pci_WRAP += rv_pci_intx
virtio_pci_WRAP += rv_msix_init
virtio_pci_WRAP += rv_msix_destroy
virtio_pci_WRAP += rv_msix_bar_access
virtio_pci_WRAP += rv_msix_notify
virtio_pci_WRAP += rv_msix_enabled
virtio_pci_WRAP += rv_ioeventfd
virtio_blk_WRAP := $(virtio_pci_WRAP)
virtio_blk_WRAP += preadv
virtio_blk_WRAP += pwritev
virtio_blk_WRAP += fdatasync
virtio_blk_WRAP += io_uring_queue_init
virtio_net_WRAP := rv_virtio_pci_init rv_virtio_pci_destroy \
	rv_virtio_queue_eventfd rv_virtio_notify_queue \
	rv_virtio_set_needs_reset rv_virtio_queue_error
virtio_vsock_WRAP := $(virtio_net_WRAP) epoll_wait
virtio_net_WRAP += poll

UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/unit/test_%)

# Integration tests written in C (cmocka, boot guests under /dev/kvm):
# tests/integration/test_<name>.c. Shell ones are tests/integration/test_*.sh.
INTEGRATION_TESTS := \
	vm

# Helper programs of the shell integration tests (not cmocka binaries, so
# not named test_*): tests/integration/<name>.c linked with libraevm.a.
INTEGRATION_HELPERS := \
	supervisor_driver \
	limits_driver \
	vsock_peer \
	vsock_vm

INTEGRATION_BINS := $(INTEGRATION_TESTS:%=$(BUILD)/tests/integration/test_%) \
	$(INTEGRATION_HELPERS:%=$(BUILD)/tests/integration/%)
# raevmd with the sandbox's test hook (RAEVM_TEST_HOOKS) for test_sandbox.sh.
INTEGRATION_BINS += $(BUILD)/raevmd-hooks

# ---------------------------------------------------------------------------
# Test guests (tests/guests): freestanding PVH ELF programs, HOST.md flags.

GUEST_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -nostdlib -fno-pic \
	-fno-pie -mno-red-zone -mgeneral-regs-only -march=x86-64 \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
	-fno-builtin -fno-tree-loop-distribute-patterns -Wall -Wextra -Werror \
	-Itests/guests/include
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,noexecstack -Wl,-z,max-page-size=0x1000 -T tests/guests/guest.ld

GUEST_LIB_SRCS := \
	tests/guests/lib/entry.S \
	tests/guests/lib/isr.S \
	tests/guests/lib/trampoline.S \
	tests/guests/lib/runtime.c \
	tests/guests/lib/string.c \
	tests/guests/lib/printf.c \
	tests/guests/lib/serial.c \
	tests/guests/lib/cmdline.c \
	tests/guests/lib/time.c \
	tests/guests/lib/mptable.c \
	tests/guests/lib/apic.c \
	tests/guests/lib/smp.c \
	tests/guests/lib/user.c \
	tests/guests/lib/rtc.c \
	tests/guests/lib/mem.c \
	tests/guests/lib/acpi.c \
	tests/guests/lib/pci.c \
	tests/guests/lib/virtio.c \
	tests/guests/lib/virtio_net.c \
	tests/guests/lib/net.c \
	tests/guests/lib/tcp.c \
	tests/guests/lib/virtio_blk.c \
	tests/guests/lib/virtio_vsock.c

GUESTS := \
	hello \
	smp \
	rtc \
	exit_code \
	user_mode \
	reset \
	shell \
	oneshot \
	blk_rw \
	blk_read \
	blk_ro \
	blk_hostile \
	blk_bench \
	poweroff \
	pci_list \
	net_dhcp \
	net_udp \
	net_tcp \
	net_bench \
	net_hostile \
	virtio_rng \
	vsock_echo \
	vsock_client \
	vsock_bench \
	vsock_hostile

GUEST_LIB_OBJS := $(patsubst %,$(BUILD)/guests/obj/%.o,$(basename $(GUEST_LIB_SRCS)))
GUEST_ELFS := $(GUESTS:%=$(BUILD)/guests/%.elf)

# ---------------------------------------------------------------------------
# Fuzz targets (libFuzzer, clang).

FUZZ_TARGETS := \
	bundle \
	request \
	manifest \
	kernel \
	exit \
	qcow2 \
	virtq \
	net \
	vsock

FUZZ_BINS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_SECONDS ?= 30

# ---------------------------------------------------------------------------

.PHONY: all deps deps-bench run check check-unit check-integration \
	check-headers format format-check sanitize bench fuzz check-linux \
	install clean guests fixtures

all: $(RAEVMD) $(RAEVM) guests

guests: $(GUEST_ELFS)

# Installs the Debian packages that are missing; silent when all are there.
deps:
	$(Q)missing=; for p in $(DEB_PKGS) $(EXTRA_DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
			grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "  APT    $$missing"; \
		if [ "$$(id -u)" != 0 ]; then \
			echo "raevm: missing packages:$$missing (run as root to install them)" >&2; \
			exit 1; \
		fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq >/dev/null && \
		apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

deps-bench:
	$(Q)$(MAKE) --no-print-directory deps EXTRA_DEB_PKGS="$(DEB_BENCH_PKGS)"

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(LIBRAEVM): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(RAEVMD): $(RAEVMD_OBJS) $(LIBRAEVM)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(RAEVMD_OBJS) $(LIBRAEVM) $(ALL_LDFLAGS) $(PKG_LIBS)

# Test builds only: thread.c with the hook that makes a chosen thread class
# break its seccomp filter; linked first, so the archive's thread.o is not.
$(BUILD)/obj-hooks/src/sandbox/thread.o: src/sandbox/thread.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -DRAEVM_TEST_HOOKS -c $< -o $@

-include $(BUILD)/obj-hooks/src/sandbox/thread.d

# ...and the daemon that passes the hook's variables on to its workers.
$(BUILD)/obj-hooks/src/daemon/supervisor_spawn.o: src/daemon/supervisor_spawn.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -DRAEVM_TEST_HOOKS -c $< -o $@

-include $(BUILD)/obj-hooks/src/daemon/supervisor_spawn.d

$(BUILD)/raevmd-hooks: $(BUILD)/obj-hooks/src/daemon/supervisor_spawn.o
$(BUILD)/raevmd-hooks: $(RAEVMD_OBJS) $(BUILD)/obj-hooks/src/sandbox/thread.o $(LIBRAEVM)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(RAEVMD_OBJS) \
		$(BUILD)/obj-hooks/src/sandbox/thread.o \
		$(BUILD)/obj-hooks/src/daemon/supervisor_spawn.o $(LIBRAEVM) \
		$(ALL_LDFLAGS) $(PKG_LIBS)

$(RAEVM): $(CLI_OBJS) $(LIBRAEVM)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJS) $(LIBRAEVM) $(ALL_LDFLAGS) $(PKG_LIBS)

# The CLI's unit test also links the CLI's objects (not in libraevm.a).
$(BUILD)/tests/unit/test_cli: tests/unit/cli/test_cli.c $(CLI_TEST_OBJS) $(LIBRAEVM)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Icli $(PKG_CFLAGS) $(TEST_CFLAGS) -o $@ $< \
		$(CLI_TEST_OBJS) $(LIBRAEVM) $(ALL_LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

.SECONDEXPANSION:
$(BUILD)/tests/unit/test_%: tests/unit/$$*/test_$$*.c $(LIBRAEVM)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) -o $@ $< $(LIBRAEVM) \
		$(ALL_LDFLAGS) $(foreach f,$($*_WRAP),-Wl,--wrap=$(f)) \
		$(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/tests/integration/test_%: tests/integration/test_%.c $(LIBRAEVM)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) -o $@ $< $(LIBRAEVM) \
		$(ALL_LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

$(INTEGRATION_HELPERS:%=$(BUILD)/tests/integration/%): $(BUILD)/tests/integration/%: tests/integration/%.c $(LIBRAEVM)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIBRAEVM) \
		$(ALL_LDFLAGS) $(PKG_LIBS)

$(BUILD)/guests/obj/%.o: %.c
	$(call msg,GUESTCC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/guests/obj/%.o: %.S
	$(call msg,GUESTAS,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/guests/libguest.a: $(GUEST_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/guests/%.elf: $(BUILD)/guests/obj/tests/guests/%.o $(BUILD)/guests/libguest.a tests/guests/guest.ld
	$(call msg,GUESTLD,$@)
	$(Q)$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $< $(BUILD)/guests/libguest.a

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -std=gnu11 -g -O1 -Iinclude -D_GNU_SOURCE -DRV_FUZZING \
		-fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -o $@ $< \
		$(LIB_SRCS) -pthread $(PKG_LIBS)

# Debian's kernel, the fixture for the loader tests (tests/fixtures).
fixtures: $(BUILD)/fixtures/vmlinuz

$(BUILD)/fixtures/vmlinuz:
	$(Q)bash tests/fixtures/fetch-kernel.sh $(BUILD)/fixtures

# ---------------------------------------------------------------------------

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(RAEVMD) run configs/default.raeVM

check: deps
	$(Q)$(MAKE) --no-print-directory all fixtures $(UNIT_BINS) $(INTEGRATION_BINS)
	$(Q)$(MAKE) --no-print-directory check-headers
	$(Q)bash tests/run-tests.sh $(BUILD)

check-unit: $(UNIT_BINS) fixtures
	$(Q)bash tests/run-tests.sh $(BUILD) unit

check-integration: all $(INTEGRATION_BINS)
	$(Q)bash tests/run-tests.sh $(BUILD) integration

sanitize: deps
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/san SAN=1 all \
		$(UNIT_BINS:$(BUILD)/%=$(BUILD)/san/%) \
		$(INTEGRATION_BINS:$(BUILD)/%=$(BUILD)/san/%)
	$(Q)$(MAKE) --no-print-directory fixtures
	$(Q)mkdir -p $(BUILD)/san/fixtures && cp -a $(BUILD)/fixtures/. $(BUILD)/san/fixtures/
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		bash tests/run-tests.sh $(BUILD)/san

HEADERS := $(sort $(wildcard include/raevm/*.h))
check-headers:
	$(call msg,HDRS,include/raevm)
	$(Q)mkdir -p $(BUILD)/hdr
	$(Q)for h in $(HEADERS); do \
		echo "#include \"$${h#include/}\"" > $(BUILD)/hdr/t.c; \
		$(CC) -std=gnu11 $(WARNINGS) -Iinclude -D_GNU_SOURCE $(PKG_CFLAGS) \
			-fsyntax-only $(BUILD)/hdr/t.c || { echo "$$h does not compile alone"; exit 1; }; \
	done

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	$(Q)clang-format -i $(FORMAT_FILES)

format-check:
	$(Q)clang-format --dry-run -Werror $(FORMAT_FILES)

bench: deps-bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash tests/bench/boot.sh $(BUILD)
	$(Q)bash tests/bench/sandbox.sh $(BUILD)
	$(Q)bash tests/bench/blk.sh $(BUILD)
	$(Q)bash tests/bench/api.sh $(BUILD)
	$(Q)bash tests/bench/net.sh $(BUILD)
	$(Q)$(MAKE) --no-print-directory $(BUILD)/tests/integration/vsock_vm $(BUILD)/tests/integration/vsock_peer
	$(Q)bash tests/bench/vsock.sh $(BUILD)

# Seeds: tests/fuzz/corpus/<target> when present; the kernel target also
# starts from the test guests (PVH ELF) and the head of Debian's bzImage.
fuzz: deps guests fixtures $(FUZZ_BINS)
	$(Q)mkdir -p $(BUILD)/fuzz/corpus-kernel
	$(Q)cp -n $(GUEST_ELFS) $(BUILD)/fuzz/corpus-kernel/ 2>/dev/null || true
	$(Q)head -c 65536 $(BUILD)/fixtures/vmlinuz > $(BUILD)/fuzz/corpus-kernel/bzimage-head 2>/dev/null || true
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$t; \
		seeds=; [ -d tests/fuzz/corpus/$$t ] && seeds=tests/fuzz/corpus/$$t; \
		echo "  FUZZ   $$t for $(FUZZ_SECONDS)s"; \
		$(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(BUILD)/fuzz/corpus-$$t $$seeds 2>$(BUILD)/fuzz/$$t.log \
			|| { tail -40 $(BUILD)/fuzz/$$t.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units' $(BUILD)/fuzz/$$t.log; \
	done

check-linux: deps all
	$(Q)bash tests/integration/linux.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(RAEVMD) $(DESTDIR)$(PREFIX)/bin/raevmd
	install -m 0755 $(RAEVM) $(DESTDIR)$(PREFIX)/bin/raevm
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 docs/man/raevm.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 docs/man/raevm.manifest.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 docs/man/raevmd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 configs/completion/raevm.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/raevm
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|^ExecStart=/usr/local/|ExecStart=$(PREFIX)/|' configs/raevmd.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/raevmd.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/raevmd.service

clean:
	rm -rf $(BUILD)

# Keep the guests' intermediate objects between builds (only those: a
# blanket .SECONDARY would let a new library object go unbuilt).
.SECONDARY: $(GUESTS:%=$(BUILD)/guests/obj/tests/guests/%.o)

-include $(shell find $(BUILD)/obj $(BUILD)/guests/obj -name '*.d' 2>/dev/null)
