#!/usr/bin/env bash
# vsock benchmark (issue 5, item 6): stream throughput guest -> host and
# host -> guest through raevm's virtio-vsock and its hybrid Unix sockets.
#  - guest -> host: tests/guests/vsock_bench.elf mode=tx connects to CID 2
#    and sends BYTES; tests/integration/vsock_peer sink reads them from the
#    listener <socket>_<port>. The guest's figure runs from its connect to
#    the host's acknowledgement (fwd_cnt) of the last byte;
#  - host -> guest: vsock_peer source connects (CONNECT/OK) and writes
#    BYTES; the guest (mode=rx) reads them to the end of stream.
# The guest's loop runs at CPL3 (native on these hosts) with polled rings.
# Each figure is the median of RUNS runs. Target: >= 1 GiB/s (1074 MB/s).
# QEMU's vhost-vsock-pci needs /dev/vhost-vsock, which these hosts lack,
# so there is no side-by-side QEMU column here.
#   tests/bench/vsock.sh [BUILD_DIR]    (RUNS=3 BYTES=1073741824 by default)
set -u
BUILD=${1:-build}
RUNS=${RUNS:-3}
BYTES=${BYTES:-1073741824}
GUEST=$BUILD/guests/vsock_bench.elf
VMBIN=$BUILD/tests/integration/vsock_vm
PEER=$BUILD/tests/integration/vsock_peer
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

if [ ! -e "$VMBIN" ] || [ ! -e "$PEER" ]; then
	make --no-print-directory BUILD="$BUILD" "$VMBIN" "$PEER" >/dev/null || exit 1
fi
. "$(dirname "$0")/lib.sh"
bench_need "vsock: " "$GUEST" "$VMBIN" "$PEER"


# The first listening line of a background helper, bounded.
wait_listening() {
	local end=$((SECONDS + 10))
	until grep -q -- "$2" "$1" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.02
	done
}

tx_run() {
	local s=$OUT/tx.sock
	"$PEER" sink "$s" 1236 >"$OUT/sink" 2>&1 &
	local p=$!
	wait_listening "$OUT/sink" '^listening' || { kill $p; return 1; }
	timeout 120 "$VMBIN" "$GUEST" 3 "$s" "mode=tx port=1236 bytes=$BYTES" \
		>"$OUT/tx.out" 2>&1 </dev/null
	wait $p
	sed -n 's/.*vsock_bench: tx .*MB\/s=\([0-9.]*\).*/\1/p' "$OUT/tx.out"
}

rx_run() {
	local s=$OUT/rx.sock
	timeout 120 "$VMBIN" "$GUEST" 3 "$s" "mode=rx port=1237 bytes=$BYTES" \
		>"$OUT/rx.out" 2>&1 </dev/null &
	local p=$!
	wait_listening "$OUT/rx.out" 'vsock_bench: listening' || { kill $p; return 1; }
	"$PEER" source "$s" 1237 "$BYTES" >"$OUT/source" 2>&1
	wait $p
	sed -n 's/.*vsock_bench: rx .*MB\/s=\([0-9.]*\).*/\1/p' "$OUT/rx.out"
}

: >"$OUT/tx.all"
: >"$OUT/rx.all"
for _ in $(seq "$RUNS"); do
	tx_run >>"$OUT/tx.all"
	rx_run >>"$OUT/rx.all"
done
tx=$(median - <"$OUT/tx.all")
rx=$(median - <"$OUT/rx.all")
verdict() { awk -v v="$1" 'BEGIN { print (v != "-" && v + 0 >= 1073.7) ? "meets" : "BELOW" }'; }
echo "bench: vsock ($((BYTES >> 20)) MiB per run, median of $RUNS; MB = 10^6 bytes)"
printf '  %-16s %10s MB/s  (%s the 1 GiB/s target)\n' "guest -> host" "$tx" "$(verdict "$tx")"
printf '  %-16s %10s MB/s  (%s the 1 GiB/s target)\n' "host -> guest" "$rx" "$(verdict "$rx")"
echo "  qemu: not compared (vhost-vsock-pci needs /dev/vhost-vsock, absent on this host)"
