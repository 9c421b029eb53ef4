#!/usr/bin/env bash
# Network benchmark (issue 5, item 6): one TCP stream between a guest and a
# host socket, guest->host (tx) and host->guest (rx), through
#  - user-mode networking: raevm's libslirp backend against QEMU's
#    `-netdev user` (also libslirp), the host end on 127.0.0.1 reached
#    through 10.0.2.2;
#  - a tap: the tap, its address (10.0.8.1/24), the host end and both VMMs
#    in a network namespace made here (root only; skipped otherwise).
# Both VMMs boot the same guest, tests/guests/net_bench.elf (its TCP loop
# runs in guest user mode, polled: the kit's tiny TCP, no window scaling,
# so at most 64 KiB in flight), with a modern virtio-net-pci; runs are
# interleaved so both see the same machine noise. The figure is the
# guest's own (bytes over the time from ESTABLISHED to the last ACK or
# FIN, by the TSC; MB = 10^6 bytes); the host peer's count agrees.
#   tests/bench/net.sh [BUILD_DIR]   (RUNS=3, SECS=3 for tx, RX_MB=256)
# Needs /dev/kvm and qemu-system-x86_64 (SKIP without).
set -u
BUILD=${1:-build}
RUNS=${RUNS:-3}
SECS=${SECS:-3}
RX_MB=${RX_MB:-256}
GUEST=$BUILD/guests/net_bench.elf
RAEVMD=$BUILD/raevmd
OUT=$(mktemp -d)
NS=
cleanup() {
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	rm -rf "$OUT"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
bench_need "net: " "$GUEST" "$RAEVMD"
bench_need_qemu "net: "
if ! "$RAEVMD" run --help 2>&1 | grep -q -- '--net'; then
	echo "bench: net: SKIP: raevmd run has no --net" >&2
	exit 0
fi
PEER=$OUT/net_peer
if ! "${CC:-gcc}" -std=gnu11 -O2 -o "$PEER" "$(dirname "$0")/../integration/net_peer.c"; then
	echo "bench: net: cannot build net_peer.c" >&2
	exit 1
fi


# one VMM MODE DIR: a run; appends the guest's MB/s (or nothing on a
# failure, with the reason in $OUT/fail.log) to $OUT/VMM-MODE-DIR.
one() {
	local vmm=$1 mode=$2 dir=$3 exec= listen=127.0.0.1 net args port
	local tag=$vmm-$mode-$dir
	if [ "$mode" = tap ]; then
		exec="ip netns exec $NS"
		listen=10.0.8.1
		args='ip=10.0.8.15 prefix=24 gw=10.0.8.1'
	else
		args=
	fi
	if [ "$dir" = tx ]; then
		$exec "$PEER" tcp-sink "$listen" 0 120000 >"$OUT/peer" 2>&1 &
	else
		$exec "$PEER" tcp-source "$listen" 0 $((RX_MB * 1000000)) 120000 >"$OUT/peer" 2>&1 &
	fi
	local ppid=$!
	if ! wait_for "$OUT/peer" '^ready ' 10; then
		echo "$tag: the host peer did not start" >>"$OUT/fail.log"
		kill "$ppid" 2>/dev/null
		return
	fi
	port=$(awk '/^ready /{print $2; exit}' "$OUT/peer")
	args="$args port=$port dir=$dir secs=$SECS"
	if [ "$vmm" = raevm ]; then
		[ "$mode" = tap ] && net=tap,name=rvbtap0 || net=user
		$exec timeout -k 5 120 "$RAEVMD" run --memory 256M --kernel "$GUEST" \
			--net "$net" --cmdline "$args" >"$OUT/vm" 2>&1 </dev/null
	else
		if [ "$mode" = tap ]; then
			net="tap,id=n0,ifname=rvbtap0,script=no,downscript=no"
		else
			net="user,id=n0"
		fi
		$exec timeout -k 5 120 "$QEMU" -M pc -accel kvm -cpu qemu64 -m 256 \
			-nographic -no-reboot -nodefaults -serial stdio \
			-device isa-debug-exit,iobase=0xf4,iosize=1 \
			-device virtio-net-pci,netdev=n0,disable-legacy=on,romfile= \
			-netdev "$net" -kernel "$GUEST" -append "$args" \
			>"$OUT/vm" 2>&1 </dev/null
	fi
	wait "$ppid"
	local rate
	rate=$(sed -n "s/^net_bench: $dir bytes=.* MB\/s=\([0-9.]*\).*/\1/p" "$OUT/vm" | tr -d '\r')
	if [ -n "$rate" ]; then
		echo "$rate" >>"$OUT/$tag"
	else
		echo "$tag: $(grep -a 'net_bench\|raevmd\|qemu' "$OUT/vm" | tail -2 | tr '\n' '|')" >>"$OUT/fail.log"
	fi
}

median() {
	[ -s "$1" ] || { echo -; return; }
	sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

MODES=user
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && [ -c /dev/net/tun ]; then
	NS=rvbench$$
	if ip netns add "$NS" &&
		ip netns exec "$NS" ip tuntap add dev rvbtap0 mode tap &&
		ip -n "$NS" addr add 10.0.8.1/24 dev rvbtap0 &&
		ip -n "$NS" link set rvbtap0 up && ip -n "$NS" link set lo up; then
		MODES="user tap"
	else
		echo "bench: net: no tap namespace; tap rows left out" >&2
	fi
else
	echo "bench: net: tap rows need root, ip(8) and /dev/net/tun" >&2
fi

for r in $(seq "$RUNS"); do
	for mode in $MODES; do
		for dir in tx rx; do
			one raevm "$mode" "$dir"
			one qemu "$mode" "$dir"
		done
	done
done

echo
echo "## virtio-net throughput, one TCP stream (median of $RUNS; MB/s, MB = 10^6 B)"
echo
echo "| backend | direction | raevm | QEMU | raevm/QEMU |"
echo "| --- | --- | --- | --- | --- |"
for mode in $MODES; do
	for dir in tx rx; do
		a=$(median "$OUT/raevm-$mode-$dir")
		b=$(median "$OUT/qemu-$mode-$dir")
		ratio=-
		if [ "$a" != - ] && [ "$b" != - ]; then
			ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
		fi
		label=$dir
		[ "$dir" = tx ] && label="guest->host" || label="host->guest"
		echo "| $mode | $label | $a | $b | $ratio |"
	done
done
if [ -s "$OUT/fail.log" ]; then
	echo
	echo "Failed runs:"
	sed 's/^/  /' "$OUT/fail.log"
fi
