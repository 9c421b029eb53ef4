#!/usr/bin/env bash
# Start-up benchmark (issue 2): time from process start to the guest's first
# instruction and exit, and peak RSS, for `raevmd run` with a 512 MiB guest,
# side by side in one run with qemu-system-x86_64 -M microvm booting the same
# one-instruction guest (tests/guests/oneshot.S: `out %al, $0xf4`).
# Runs are interleaved so both VMMs see the same machine noise.
set -u
BUILD=${1:-build}
RUNS=${RUNS:-21}
GUEST=$BUILD/guests/oneshot.elf
RAEVMD=$BUILD/raevmd
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

. "$(dirname "$0")/lib.sh"
bench_need "" "$GUEST" "$RAEVMD"
QEMU=$(command -v qemu-system-x86_64 || true)

# Wall time: microseconds from bash's $EPOCHREALTIME, without forking
# date(1), so the clock adds nothing to the few-millisecond runs measured.
# one NAME EXPECTED_STATUS CMD...: appends "ns kib" to $OUT/NAME. The wall
# time comes from a plain run (fork+exec+wait only); peak RSS from a second
# run under GNU time, so time's own overhead never enters the wall figure.
one() {
	local name=$1 want=$2
	shift 2
	local t0 t1 st
	t0=${EPOCHREALTIME/./}
	"$@" >/dev/null 2>"$OUT/err" </dev/null
	st=$?
	t1=${EPOCHREALTIME/./}
	if [ "$st" != "$want" ]; then
		echo "bench: $name exited $st (expected $want): $(head -c 300 "$OUT/err")" >&2
		return 1
	fi
	/usr/bin/time -f '%M' -o "$OUT/rss" "$@" >/dev/null 2>/dev/null </dev/null
	echo "$(((t1 - t0) * 1000)) $(tail -1 "$OUT/rss")" >>"$OUT/$name"
}


for i in $(seq "$RUNS"); do
	one raevm 0 "$RAEVMD" run --kernel "$GUEST" --memory 512M --cpus 1 || exit 1
	if [ -n "$QEMU" ]; then
		one qemu 1 "$QEMU" -M microvm -accel kvm -cpu qemu64 -m 512 -smp 1 \
			-nodefaults -no-user-config -nographic -no-reboot \
			-kernel "$GUEST" -device isa-debug-exit,iobase=0xf4,iosize=1 || exit 1
	fi
done

report() {
	local name=$1
	local t r
	t=$(cut -d' ' -f1 "$OUT/$name" | median)
	r=$(cut -d' ' -f2 "$OUT/$name" | median)
	printf '%-34s %8.2f ms %9.2f MiB\n' "$2" "$(echo "$t / 1000000" | bc -l)" "$(echo "$r / 1024" | bc -l)"
	eval "${name}_t=$t ${name}_r=$r"
}

echo "start-up to first instruction and exit, 512 MiB guest, median of $RUNS runs"
printf '%-34s %11s %13s\n' "VMM" "wall" "peak RSS"
report raevm "raevmd run"
if [ -n "$QEMU" ]; then
	report qemu "qemu-system-x86_64 -M microvm"
	printf 'ratio raevm/qemu: wall %.3fx (target <= 0.15x), RSS %.3fx\n' \
		"$(echo "$raevm_t / $qemu_t" | bc -l)" "$(echo "$raevm_r / $qemu_r" | bc -l)"
else
	echo "qemu-system-x86_64 not installed: no side-by-side figure"
fi
printf 'raevm peak RSS %.2f MiB (target <= 2.5 MiB)\n' "$(echo "$raevm_r / 1024" | bc -l)"
