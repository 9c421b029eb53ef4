#!/usr/bin/env bash
# virtio-vsock with Firecracker-style hybrid Unix sockets (docs/networking.md),
# driven by the kit's vsock guests and tests/integration/vsock_peer.c:
#  - host -> guest: CONNECT/OK, 1 MiB echoed and checked byte for byte, one
#    stream and 64 at once;
#  - guest -> host: the guest connects to CID 2, 1 MiB echoed by a host
#    listener at <socket>_<port> and checked in the guest, 1 and 64 streams;
#  - a guest connect to a port nobody listens on gets RST;
#  - a host CONNECT to a port the guest does not listen on is closed
#    without "OK"; a malformed first line is closed;
#  - hostile guest: malformed headers and a credit overrun are dropped and
#    counted (one log line with the counts), the VMM lives and the device
#    still answers.
# VMs run through vsock_vm (a config with vsock filled in) until
# `raevmd run --vsock` exists. Waits are bounded: the peer and the guests
# time out on their own, and VM runs are under `timeout`.
. "$(dirname "$0")/lib.sh"

B=${RV_BUILD:-build}
VMBIN=$B/tests/integration/vsock_vm
PEER=$B/tests/integration/vsock_peer
D=$TMP/vsock
mkdir -p "$D"

if [ -n "$KVM_SKIP" ]; then
	skip vsock "$KVM_SKIP"
	exit 0
fi
for f in "$VMBIN" "$PEER" "$GUESTS/vsock_echo.elf" "$GUESTS/vsock_client.elf" \
	"$GUESTS/vsock_hostile.elf"; do
	if [ ! -x "$f" ] && [ ! -e "$f" ]; then
		skip vsock "$f not built (make all build/tests/integration/vsock_vm build/tests/integration/vsock_peer)"
		exit 0
	fi
done

# vsvm NAME GUEST CMDLINE: runs the guest with vsock (cid 3, $D/NAME.sock)
# in the background; $vmpid is its pid. Output in $TMP/NAME.out/.err.
vsvm() {
	local name=$1 guest=$2 cmdline=$3
	timeout -k 5 "$VM_TIMEOUT" "$VMBIN" "$GUESTS/$guest.elf" 3 "$D/$name.sock" \
		"$cmdline" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	vmpid=$!
}

# wait_line FILE PATTERN SECS: bounded wait for a line in a growing file.
wait_line() {
	local end=$((SECONDS + $3))
	while ! grep -Eq -- "$2" "$1" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		# Waiting on a file another process writes; nothing to block on.
		sleep 0.05
	done
}

# host_to_guest NAME STREAMS
host_to_guest() {
	local name=$1 n=$2
	vsvm "$name" vsock_echo "port=1234 conns=$n"
	if ! wait_line "$TMP/$name.out" 'listening on port' 30; then
		kill "$vmpid" 2>/dev/null
		wait "$vmpid"
		fail "vsock/$name" "the guest never listened; $(describe "$name")"
		return
	fi
	local pout
	pout=$("$PEER" connect "$D/$name.sock" 1234 "$n" 1048576 2>&1)
	local prc=$?
	wait "$vmpid"
	status=$?
	if [ $prc != 0 ]; then
		fail "vsock/$name" "host peer: $pout; $(describe "$name")"
	elif [ "$status" != 0 ] || ! expect_output "$name" "vsock_echo: ok conns=$n bytes=$((n * 1048576))"; then
		fail "vsock/$name" "$(describe "$name")"
	else
		pass "vsock/$name"
	fi
}

# guest_to_host NAME STREAMS
guest_to_host() {
	local name=$1 n=$2 srv=$D/$1.srv
	"$PEER" serve "$D/$name.sock" 1235 "$n" >"$srv" 2>&1 &
	local spid=$!
	if ! wait_line "$srv" '^listening' 10; then
		kill "$spid" 2>/dev/null
		fail "vsock/$name" "host listener did not start: $(cat "$srv")"
		return
	fi
	timeout -k 5 "$VM_TIMEOUT" "$VMBIN" "$GUESTS/vsock_client.elf" 3 \
		"$D/$name.sock" "port=1235 streams=$n" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	status=$?
	wait "$spid"
	local src=$?
	if [ "$status" != 0 ] || ! expect_output "$name" "vsock_client: ok streams=$n bytes=$((n * 1048576))"; then
		fail "vsock/$name" "$(describe "$name")"
	elif [ $src != 0 ] || ! grep -q "served streams=$n bytes=$((n * 1048576))" "$srv"; then
		fail "vsock/$name" "host echo server: $(cat "$srv")"
	else
		pass "vsock/$name"
	fi
}

host_to_guest h2g-1 1
host_to_guest h2g-64 64
guest_to_host g2h-1 1
guest_to_host g2h-64 64

# A guest connect to a port nobody listens on: RST.
timeout -k 5 "$VM_TIMEOUT" "$VMBIN" "$GUESTS/vsock_client.elf" 3 "$D/rst.sock" \
	"port=4321 streams=4 expect=rst" >"$TMP/rst.out" 2>"$TMP/rst.err" </dev/null
status=$?
if [ "$status" = 0 ] && expect_output rst 'vsock_client: refused streams=4'; then
	pass vsock/guest-connect-rst
else
	fail vsock/guest-connect-rst "$(describe rst)"
fi

# Host CONNECTs the guest refuses or cannot parse: closed, no OK.
vsvm refuse vsock_echo "port=1234 conns=1 timeout_ms=20000"
if wait_line "$TMP/refuse.out" 'listening on port' 30; then
	out=$("$PEER" refused "$D/refuse.sock" 999 2>&1) && r1=ok || r1="$out"
	out=$("$PEER" badline "$D/refuse.sock" $'HELLO 1234\n' 2>&1) && r2=ok || r2="$out"
	out=$("$PEER" badline "$D/refuse.sock" $'CONNECT 99999999999\n' 2>&1) && r3=ok || r3="$out"
	# The VM still serves a good connection afterwards.
	out=$("$PEER" connect "$D/refuse.sock" 1234 1 4096 2>&1) && r4=ok || r4="$out"
	wait "$vmpid"
	status=$?
	if [ "$r1" = ok ] && [ "$r2" = ok ] && [ "$r3" = ok ] && [ "$r4" = ok ] && [ "$status" = 0 ]; then
		pass vsock/host-connect-refused
	else
		fail vsock/host-connect-refused "refused: $r1; bad word: $r2; bad port: $r3; good: $r4; $(describe refuse)"
	fi
else
	kill "$vmpid" 2>/dev/null
	wait "$vmpid"
	fail vsock/host-connect-refused "the guest never listened; $(describe refuse)"
fi

# Hostile guest: every malformed header dropped and counted, the VMM lives.
"$PEER" hold "$D/hostile.sock" 1240 >"$D/hold.out" 2>&1 &
hpid=$!
if wait_line "$D/hold.out" '^listening' 10; then
	timeout -k 5 "$VM_TIMEOUT" "$VMBIN" "$GUESTS/vsock_hostile.elf" 3 "$D/hostile.sock" \
		"hold_port=1240" >"$TMP/hostile.out" 2>"$TMP/hostile.err" </dev/null
	status=$?
	want='dropped 9 malformed guest packets: short=1 writable=1 type=1 len=1 src_cid=1 dst_cid=1 op=2 credit=1'
	if [ "$status" = 0 ] && expect_output hostile 'vsock_hostile: ok cases=9' &&
		grep -q "$want" "$TMP/hostile.err"; then
		pass vsock/hostile
	else
		fail vsock/hostile "$(describe hostile)"
	fi
else
	fail vsock/hostile "host listener did not start"
fi
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null

# Bad configuration: one line, before the guest runs.
timeout -k 5 30 "$VMBIN" "$GUESTS/hello.elf" 2 "$D/cid.sock" >"$TMP/cid.out" 2>"$TMP/cid.err" </dev/null
status=$?
if [ "$status" != 0 ] && [ "$(grep -c . "$TMP/cid.err")" = 1 ] && grep -q 'cid 2 is reserved' "$TMP/cid.err"; then
	pass vsock/reserved-cid
else
	fail vsock/reserved-cid "$(describe cid)"
fi
