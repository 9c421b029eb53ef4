#!/usr/bin/env bash
# Block benchmark (issue 3, item 11): 4 KiB random-read IOPS and 1 MiB
# sequential-read throughput against a 1 GiB raw file, once in tmpfs
# (/dev/shm: every read is a memory copy) and once on the build directory's
# file system with the page cache dropped before every run (every read
# reaches the device). Three readers of the same file, interleaved so they
# see the same machine noise:
#  - fio on the host: the ceiling. tmpfs: psync (O_DIRECT is impossible
#    there, and a page-cache copy has no queue to fill); disk: io_uring,
#    O_DIRECT, at the guest's queue depth;
#  - raevm: `raevmd run` booting tests/guests/blk_bench.elf (submission loop
#    in guest user mode, polled completions), the disk read-only;
#  - QEMU: q35 with virtio-blk-pci (modern only) booting the same guest;
#    cache=none,aio=io_uring on disk (aio=threads when this QEMU lacks
#    io_uring), cache=writeback,aio=threads on tmpfs.
# The guest keeps 32 random reads or 4 sequential reads in flight (its
# defaults). Each figure is the median of RUNS runs of SECS seconds.
#   tests/bench/blk.sh [BUILD_DIR]     (RUNS=3 SECS=3 by default)
# Needs /dev/kvm and qemu-system-x86_64 (SKIP without), fio (its columns
# stay empty without), root for drop_caches (else disk figures say cached).
# RAEVMD_ARGS adds options to `raevmd run` (e.g. --no-sandbox), and
# RAEVMD overrides the binary (to compare two builds in one run).
set -u
BUILD=${1:-build}
RUNS=${RUNS:-3}
SECS=${SECS:-3}
SIZE_MB=1024
GUEST=$BUILD/guests/blk_bench.elf
RAEVMD=${RAEVMD:-$BUILD/raevmd}
OUT=$(mktemp -d)
SHM_IMG=
trap 'rm -rf "$OUT"; [ -n "$SHM_IMG" ] && rm -f "$SHM_IMG"' EXIT

. "$(dirname "$0")/lib.sh"
bench_need "blk: " "$GUEST" "$RAEVMD"
bench_need_qemu "blk: "
FIO=$(command -v fio || true)
JQ=$(command -v jq || true)
[ -n "$FIO" ] && [ -z "$JQ" ] && { echo "bench: blk: fio needs jq here; fio columns left out" >&2; FIO=; }
CAN_DROP=
[ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ] && CAN_DROP=1

# fill FILE: 1 GiB of incompressible data, so reads move real bytes and no
# file system can answer them from a hole. The disk file is kept in the
# build directory between runs (it takes seconds to write).
fill() {
	local f=$1
	if [ -f "$f" ] && [ "$(stat -c %s "$f")" = $((SIZE_MB << 20)) ] &&
		[ "$(stat -c %b "$f")" -ge $((SIZE_MB << 11)) ]; then
		return 0
	fi
	rm -f "$f"
	head -c $((SIZE_MB << 20)) /dev/urandom >"$f.tmp" && mv "$f.tmp" "$f"
}

mkdir -p "$BUILD/bench"
DISK_IMG=$BUILD/bench/blk-1g.img
SHM_IMG=$(mktemp /dev/shm/raevm-bench-XXXXXX.img)
fill "$SHM_IMG" || { echo "bench: cannot fill $SHM_IMG" >&2; exit 1; }
fill "$DISK_IMG" || { echo "bench: cannot fill $DISK_IMG" >&2; exit 1; }
sync

# Whether this QEMU has aio=io_uring (Debian builds it with liburing).
QEMU_AIO_DISK=threads
if printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
	timeout 20 "$QEMU" -M none -nodefaults -display none -S -no-user-config \
		-drive "file=$DISK_IMG,format=raw,if=none,id=p,readonly=on,cache=none,aio=io_uring" \
		-qmp stdio >/dev/null 2>"$OUT/probe.err"; then
	QEMU_AIO_DISK=io_uring
fi

drop() {
	[ -n "$CAN_DROP" ] || return 0
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# record KEY VALUE: one more sample for KEY (e.g. shm-rand-raevm).
record() { echo "$2" >>"$OUT/$1"; }

# fio_run WHERE TEST FILE
fio_run() {
	local where=$1 test=$2 file=$3 args
	args=(--name=bench --filename="$file" --readonly --runtime="$SECS" --time_based
		--numjobs=1 --group_reporting --output-format=json --ramp_time=0)
	case $where-$test in
	shm-rand) args+=(--rw=randread --bs=4k --ioengine=psync) ;;
	shm-seq) args+=(--rw=read --bs=1M --ioengine=psync) ;;
	disk-rand) args+=(--rw=randread --bs=4k --ioengine=io_uring --iodepth=32 --direct=1) ;;
	disk-seq) args+=(--rw=read --bs=1M --ioengine=io_uring --iodepth=4 --direct=1) ;;
	esac
	[ "$where" = disk ] && drop
	if ! "$FIO" "${args[@]}" >"$OUT/fio.json" 2>"$OUT/fio.err"; then
		echo "bench: fio $where $test failed: $(head -c 300 "$OUT/fio.err")" >&2
		return 1
	fi
	if [ "$test" = rand ]; then
		record "$where-rand-fio" "$(jq '.jobs[0].read.iops | floor' "$OUT/fio.json")"
	else
		record "$where-seq-fio" "$(jq '.jobs[0].read.bw_bytes / 100000 | floor / 10' "$OUT/fio.json")"
	fi
}

# parse NAME WHERE TEST: takes the guest's result line from $OUT/vm.out.
parse() {
	local name=$1 where=$2 test=$3 line
	line=$(grep -a '^bench: rand4k iops=' "$OUT/vm.out" | tail -1)
	if [ -z "$line" ]; then
		echo "bench: $name $where $test: no result line: $(tail -c 400 "$OUT/vm.out")" >&2
		return 1
	fi
	if [ "$test" = rand ]; then
		record "$where-rand-$name" "$(sed -E 's/.*iops=([0-9]+).*/\1/' <<<"$line")"
	else
		record "$where-seq-$name" "$(sed -E 's/.*MB\/s=([0-9.]+).*/\1/' <<<"$line")"
	fi
}

guest_cmdline() { echo "mode=$1 secs=$SECS"; }

raevm_run() {
	local where=$1 test=$2 file=$3 st
	[ "$where" = disk ] && drop
	# shellcheck disable=SC2086 # RAEVMD_ARGS is a list of words.
	timeout $((SECS * 4 + 60)) "$RAEVMD" run ${RAEVMD_ARGS:-} --memory 256M \
		--kernel "$GUEST" --disk "$file,readonly" --cmdline "$(guest_cmdline "$test")" \
		>"$OUT/vm.out" 2>&1 </dev/null
	st=$?
	if [ "$st" != 0 ]; then
		echo "bench: raevm $where $test exited $st: $(tail -c 400 "$OUT/vm.out")" >&2
		return 1
	fi
	parse raevm "$where" "$test"
}

qemu_run() {
	local where=$1 test=$2 file=$3 st drive
	if [ "$where" = disk ]; then
		drive="cache=none,aio=$QEMU_AIO_DISK"
		drop
	else
		drive="cache=writeback,aio=threads"
	fi
	timeout $((SECS * 4 + 60)) "$QEMU" -M q35 -accel kvm -cpu qemu64 -m 256 \
		-nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-net none -device isa-debug-exit,iobase=0xf4,iosize=1 \
		-drive "file=$file,format=raw,if=none,id=d0,readonly=on,$drive" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on \
		-kernel "$GUEST" -append "$(guest_cmdline "$test")" \
		>"$OUT/vm.out" 2>&1 </dev/null
	st=$?
	# The guest's exit code 0 comes back as 1 through isa-debug-exit.
	if [ "$st" != 1 ]; then
		echo "bench: qemu $where $test exited $st: $(tail -c 400 "$OUT/vm.out")" >&2
		return 1
	fi
	parse qemu "$where" "$test"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$RUNS"); do
	for where in shm disk; do
		file=$SHM_IMG
		[ "$where" = disk ] && file=$DISK_IMG
		for test in rand seq; do
			[ -n "$FIO" ] && { fio_run "$where" "$test" "$file" || exit 1; }
			raevm_run "$where" "$test" "$file" || exit 1
			qemu_run "$where" "$test" "$file" || exit 1
		done
	done
done

get() { [ -s "$OUT/$1" ] && median "" <"$OUT/$1"; }
ratio() {
	if [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ]; then
		printf '%.2fx' "$(echo "$1 / $2" | bc -l)"
	else
		printf -- '-'
	fi
}

echo "virtio-blk read benchmark, 1 GiB raw file, median of $RUNS runs of ${SECS}s," \
	"$(date -u '+%Y-%m-%d %H:%M UTC'), load $LOAD_BEFORE -> $(cut -d' ' -f1-3 /proc/loadavg)"
echo "QEMU $("$QEMU" --version | head -1 | sed -E 's/.*version ([^ ]+).*/\1/') -M q35;" \
	"disk: cache=none,aio=$QEMU_AIO_DISK; tmpfs: aio=threads." \
	"fio: psync on tmpfs, io_uring O_DIRECT on disk"
[ -z "$CAN_DROP" ] && echo "note: not root: the page cache was not dropped, disk figures are partly cached"
printf '%-22s %10s %10s %10s %12s %12s\n' test fio raevm qemu raevm/fio raevm/qemu
fails=0
for where in shm disk; do
	for test in rand seq; do
		f=$(get "$where-$test-fio")
		r=$(get "$where-$test-raevm")
		q=$(get "$where-$test-qemu")
		unit="IOPS"
		[ "$test" = seq ] && unit="MB/s"
		label="$( [ "$where" = shm ] && echo tmpfs || echo disk) $( [ "$test" = rand ] && echo '4k rand' || echo '1M seq') $unit"
		printf '%-22s %10s %10s %10s %12s %12s\n' "$label" "${f:--}" "$r" "$q" \
			"$(ratio "$r" "$f")" "$(ratio "$r" "$q")"
		if [ "$test" = rand ]; then
			if [ -n "$f" ] && [ "$(echo "$r < 0.9 * $f" | bc -l)" = 1 ]; then
				echo "  below target: raevm/fio $(ratio "$r" "$f") < 0.90x"
				fails=$((fails + 1))
			fi
			if [ "$(echo "$r <= $q" | bc -l)" = 1 ]; then
				echo "  below target: raevm/qemu $(ratio "$r" "$q") <= 1x"
				fails=$((fails + 1))
			fi
		fi
	done
done
echo "targets (4 KiB random reads): >= 0.90x host fio IOPS, ahead of QEMU; $fails missed"
