#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the kit's PCI, virtio (rng, blk) and ACPI guests under one or more VMMs and
# checks their exit codes and result lines: the kit's own regression check,
# and the way to compare raevm with QEMU on the same guests and disks.
#
#   tests/guests/check-blk.sh [-b BUILD] [VMM...]
#     VMM: qemu-q35 qemu-pc raevm (default: qemu-q35 qemu-pc)
#
# Needs the guests built (make guests) and, for raevm, BUILD/raevmd (or the
# binary named by $RAEVMD). Prints one PASS/FAIL line per run and exits 1
# if any failed.
set -u
BUILD=build
while getopts b: o; do
	case $o in
	b) BUILD=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
VMMS=${*:-qemu-q35 qemu-pc}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
G=$BUILD/guests
RAEVMD=${RAEVMD:-$BUILD/raevmd}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failed=0

python3 "$ROOT/tests/guests/blk_pattern.py" gen "$TMP/pattern.img" 16384
truncate -s 16M "$TMP/rw.img"
truncate -s 8M "$TMP/by.img"
truncate -s 64M "$TMP/bench.img"

# run VMM GUEST CMDLINE DISK... ; DISK is PATH[,readonly][,serial=ID].
# Sets $out and $code (the guest's exit code, or 255 when the VMM died).
run() {
	local vmm=$1 guest=$2 cmd=$3 args=() d i=0 path ro serial
	shift 3
	case $vmm in
	qemu-*)
		args=(-M "${vmm#qemu-}" -accel kvm -cpu qemu64 -m 256
			-display none -serial stdio -no-reboot -net none
			-device isa-debug-exit,iobase=0xf4,iosize=1)
		# raevm gives every VM a virtio-rng; QEMU needs one asked for.
		[ "$guest" = virtio_rng ] &&
			args+=(-device virtio-rng-pci,disable-legacy=on)
		for d in "$@"; do
			path=${d%%,*}
			ro=off
			serial=
			[[ $d == *,readonly* ]] && ro=on
			[[ $d == *,serial=* ]] && serial=,serial=${d##*,serial=}
			args+=(-drive "file=$path,format=raw,if=none,id=d$i,readonly=$ro"
				-device "virtio-blk-pci,drive=d$i,disable-legacy=on$serial")
			i=$((i + 1))
		done
		out=$(timeout 180 qemu-system-x86_64 "${args[@]}" \
			-kernel "$G/$guest.elf" -append "$cmd" 2>&1)
		code=$?
		# QEMU exits with (code << 1) | 1 through debug-exit, 0 on S5.
		if [ $code -ne 0 ] && [ $((code & 1)) -eq 1 ]; then
			code=$((code >> 1))
		elif [ $code -ne 0 ]; then
			code=255
		fi
		;;
	raevm)
		for d in "$@"; do
			args+=(--disk "$d")
		done
		out=$(timeout 180 "$RAEVMD" run --memory 256M \
			--kernel "$G/$guest.elf" --cmdline "$cmd" "${args[@]}" 2>&1)
		code=$?
		;;
	esac
}

# check NAME WANT_CODE PATTERN: PATTERN is an extended regex on the output.
check() {
	local name=$1 want=$2 pat=$3
	if [ "$code" -eq "$want" ] && grep -Eq "$pat" <<<"$out"; then
		echo "PASS $name"
	else
		echo "FAIL $name: exit $code (want $want), output:"
		sed 's/^/    /' <<<"$out" | tail -20
		failed=1
	fi
}

for vmm in $VMMS; do
	# QEMU completes requests whose buffers lie outside RAM (it bounces
	# them) and IN requests with readable data (it reads 0 bytes); raevm
	# must call both broken.
	allow=
	[[ $vmm == qemu-* ]] && allow=allow=past_ram,readable_data

	run "$vmm" pci_list "enable"
	check "$vmm pci_list" 0 'pci_list: ok functions='

	run "$vmm" virtio_rng "pci_reassign"
	check "$vmm virtio_rng msix" 0 'virtio_rng: ok bytes=2048'
	run "$vmm" virtio_rng "irq=intx event_idx=0 indirect=0"
	check "$vmm virtio_rng intx" 0 'virtio_rng: ok bytes=2048'

	run "$vmm" blk_rw "" "$TMP/rw.img"
	check "$vmm blk_rw msix" 0 'blk_rw: ok sectors=32768'
	if python3 "$ROOT/tests/guests/blk_pattern.py" check "$TMP/rw.img" --seed 0x5a; then
		echo "PASS $vmm blk_rw disk contents"
	else
		echo "FAIL $vmm blk_rw disk contents"
		failed=1
	fi
	run "$vmm" blk_rw "irq=intx seed=7 event_idx=0" "$TMP/rw.img"
	check "$vmm blk_rw intx" 0 'blk_rw: ok sectors=32768'
	run "$vmm" blk_rw "irq=poll indirect=0 qsize=16 start=100 sectors=5000" "$TMP/rw.img"
	check "$vmm blk_rw poll" 0 'blk_rw: ok sectors=5000'

	run "$vmm" blk_read "serial=pattern-disk" "$TMP/pattern.img,serial=pattern-disk"
	check "$vmm blk_read" 0 'blk_read: ok sectors=16384'
	run "$vmm" blk_read "irq=msix seed=1" "$TMP/pattern.img"
	check "$vmm blk_read wrong seed" 15 'blk_read: mismatch at lba 0 byte 0'

	run "$vmm" blk_ro "pattern lba=77" "$TMP/pattern.img,readonly"
	check "$vmm blk_ro" 0 'blk_ro: ok'
	run "$vmm" blk_ro "" "$TMP/by.img"
	check "$vmm blk_ro on a writable disk" 30 'F_RO is not offered'

	run "$vmm" blk_hostile "$allow" "$TMP/rw.img" "$TMP/by.img"
	check "$vmm blk_hostile" 0 'blk_hostile: ok cases=10'

	run "$vmm" blk_bench "secs=1" "$TMP/bench.img"
	check "$vmm blk_bench" 0 'bench: rand4k iops=[1-9][0-9]* seq1m MB/s='
	grep '^bench: rand4k iops' <<<"$out" | sed "s/^/    $vmm /"

	run "$vmm" poweroff ""
	check "$vmm poweroff" 0 'poweroff: entering S5'
done
exit $failed
