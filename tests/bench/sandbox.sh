#!/usr/bin/env bash
# The sandbox's cost on VM start (issue 6): `raevmd run` of the
# one-instruction guest (tests/guests/oneshot.S) from process start to the
# guest's exit, with the sandbox on (the default: filters compiled,
# namespaces, fork, pivot_root, capabilities, seccomp per thread) and off
# (--no-sandbox), interleaved in one run so both see the same machine
# noise. Reports medians and the difference.
set -u
BUILD=${1:-build}
RUNS=${RUNS:-31}
GUEST=$BUILD/guests/oneshot.elf
RAEVMD=$BUILD/raevmd
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

. "$(dirname "$0")/lib.sh"
bench_need "" "$GUEST" "$RAEVMD"

# one NAME ARGS...: appends the wall time in ns of one run to $OUT/NAME.
one() {
	local name=$1 t0 t1 st
	shift
	t0=${EPOCHREALTIME/./}
	"$RAEVMD" run --kernel "$GUEST" --memory 512M --cpus 1 "$@" >/dev/null 2>"$OUT/err" </dev/null
	st=$?
	t1=${EPOCHREALTIME/./}
	if [ "$st" != 0 ]; then
		echo "bench: $name exited $st: $(head -c 300 "$OUT/err")" >&2
		return 1
	fi
	echo "$(((t1 - t0) * 1000))" >>"$OUT/$name"
}


for i in $(seq "$RUNS"); do
	one on || exit 1
	one off --no-sandbox || exit 1
done
on=$(median <"$OUT/on")
off=$(median <"$OUT/off")
echo "VM start with and without the sandbox, 512 MiB guest, median of $RUNS runs"
printf '%-34s %8.2f ms\n' "sandbox on (default)" "$(echo "$on / 1000000" | bc -l)"
printf '%-34s %8.2f ms\n' "sandbox off (--no-sandbox)" "$(echo "$off / 1000000" | bc -l)"
printf 'sandbox cost: %+.2f ms (%.3fx)\n' "$(echo "($on - $off) / 1000000" | bc -l)" "$(echo "$on / $off" | bc -l)"
