#!/usr/bin/env bash
# virtio-net under `raevmd run`, driven by the test-guest kit's network
# guests (tests/guests/README.md, "Networking") and a host peer
# (tests/integration/net_peer.c, built here):
#  - user mode (libslirp): a DHCP lease, an echo to the gateway, UDP from
#    the guest to a host socket through 10.0.2.2, TCP from the guest to a
#    host echo server (200 kB checked byte for byte), a refused connect;
#  - port forwards: a host client reaches a guest TCP echo server and a
#    guest UDP echo port through tcp:/udp:127.0.0.1:H-:G;
#  - restrict: a datagram and a TCP connect to the host go nowhere while a
#    forward into the guest still works;
#  - tap: frames cross a tap in a network namespace made here (the tap,
#    its address, the peer and raevmd all live in it) both ways;
#  - bad --net input is refused at start with one line: malformed
#    forwards, a host port in use, a tap raevmd may not create;
#  - net_hostile's malformed chains and frames leave raevmd alive and the
#    NIC serving.
# Every wait is bounded: listeners and guests print a line when ready and
# the script waits for that line (wait_for), never for a fixed time.
. "$(dirname "$0")/lib.sh"

NS=
cleanup_net() {
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	# Background jobs this script started (peers, VMs), by their pids.
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup_net EXIT

if [ -n "$KVM_SKIP" ]; then
	skip net "$KVM_SKIP"
	exit 0
fi
for g in net_dhcp net_udp net_tcp net_hostile; do
	if [ ! -e "$GUESTS/$g.elf" ]; then
		skip net "no $GUESTS/$g.elf (make guests)"
		exit 0
	fi
done
if ! "$RAEVMD" run --help 2>&1 | grep -q -- '--net'; then
	skip net "raevmd run has no --net flag"
	exit 0
fi
PEER=$TMP/net_peer
if ! "${CC:-gcc}" -std=gnu11 -O2 -Wall -Werror -o "$PEER" \
	"$(dirname "$0")/net_peer.c" 2>"$TMP/cc.err"; then
	skip net "cannot build net_peer.c: $(head -c 200 "$TMP/cc.err")"
	exit 0
fi

# wait_for FILE PATTERN SECONDS, shared with the network benchmark.
. "$(dirname "$0")/../bench/lib.sh"

# peer NAME MODE ADDR PORT [ARG] TIMEOUT_MS: starts net_peer in the
# background (in $NETNS_EXEC when set); PEER_PID and, for listeners,
# PEER_PORT once it printed "ready PORT".
peer() {
	local name=$1
	shift
	$NETNS_EXEC "$PEER" "$@" >"$TMP/$name.peer" 2>&1 &
	PEER_PID=$!
	PEER_PORT=
	case $1 in
	udp-ping | tcp-check) return 0 ;;
	esac
	if wait_for "$TMP/$name.peer" '^ready ' 10; then
		PEER_PORT=$(awk '/^ready /{print $2; exit}' "$TMP/$name.peer")
	fi
}

# vm_bg NAME ARGS...: raevmd run in the background; VM_PID.
vm_bg() {
	local name=$1
	shift
	$NETNS_EXEC timeout -k 5 "$VM_TIMEOUT" "$RAEVMD" run "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	VM_PID=$!
}

vm_wait() {
	wait "$VM_PID"
	status=$?
}

# A TCP/UDP port nobody on 127.0.0.1 uses right now (a listener the
# kernel numbered, closed again: small race, fine for tests).
free_port() {
	local out=$TMP/port.$RANDOM
	"$PEER" tcp-hold 127.0.0.1 0 10000 >"$out" 2>&1 &
	local pid=$!
	wait_for "$out" '^ready ' 10
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	awk '/^ready /{print $2; exit}' "$out"
}

NETNS_EXEC=

# ---------------------------------------------------------------------------
# DHCP lease and an echo to the gateway.
vm dhcp --kernel "$GUESTS/net_dhcp.elf" --net user --cmdline 'count=3'
if [ "$status" = 0 ] &&
	expect_output dhcp '^net_dhcp: lease ip=10\.0\.2\.15 mask=255\.255\.255\.0 gw=10\.0\.2\.2 dns=10\.0\.2\.3 '; then
	pass net/user/dhcp
else
	fail net/user/dhcp "$(describe dhcp)"
fi
if [ "$status" = 0 ] && expect_output dhcp '^net_dhcp: ping 10\.0\.2\.2 seq=3 time=' &&
	expect_output dhcp '^net_dhcp: ok pings=3'; then
	pass net/user/ping-gateway
else
	fail net/user/ping-gateway "$(describe dhcp)"
fi

# UDP from the guest to a host socket: slirp's 10.0.2.2 is the host's
# loopback.
peer udp-host udp-recv 127.0.0.1 0 30000
vm udp-host --kernel "$GUESTS/net_udp.elf" --net user \
	--cmdline "dport=$PEER_PORT msg=raevm-udp-out"
wait "$PEER_PID"
if [ "$status" = 0 ] && grep -q '^got raevm-udp-out 1$' "$TMP/udp-host.peer"; then
	pass net/user/udp-to-host
else
	fail net/user/udp-to-host "peer: $(tr '\n' '|' <"$TMP/udp-host.peer"); $(describe udp-host)"
fi

# TCP from the guest to a host echo server, checked byte for byte.
peer tcp-host tcp-echo 127.0.0.1 0 60000
vm tcp-host --kernel "$GUESTS/net_tcp.elf" --net user \
	--cmdline "port=$PEER_PORT bytes=200000"
wait "$PEER_PID"
if [ "$status" = 0 ] && expect_output tcp-host '^net_tcp: client ok bytes=200000' &&
	grep -q '^echoed 200000$' "$TMP/tcp-host.peer"; then
	pass net/user/tcp-to-host
else
	fail net/user/tcp-to-host "peer: $(tr '\n' '|' <"$TMP/tcp-host.peer"); $(describe tcp-host)"
fi

# A connect to a host port nobody listens on is reset.
P=$(free_port)
vm tcp-refused --kernel "$GUESTS/net_tcp.elf" --net user \
	--cmdline "mode=refused port=$P wait_ms=10000"
if [ "$status" = 0 ] && expect_output tcp-refused '^net_tcp: refused ok'; then
	pass net/user/tcp-refused
else
	fail net/user/tcp-refused "$(describe tcp-refused)"
fi

# ---------------------------------------------------------------------------
# Port forwards into the guest.
# forward_tcp FILE TEST NETSPEC HOSTPORT: a guest echo server on port 22
# behind the NIC NETSPEC; a host client sends 100 kB through HOSTPORT and
# checks what comes back.
forward_tcp() {
	local id=$1 test=$2 net=$3 hp=$4
	vm_bg "$id" --kernel "$GUESTS/net_tcp.elf" --net "$net" \
		--cmdline 'mode=server port=22 conns=1'
	if ! wait_for "$TMP/$id.out" '^net_tcp: listening on ' 60; then
		kill "$VM_PID" 2>/dev/null
		vm_wait
		fail "$test" "the guest never listened; $(describe "$id")"
		return
	fi
	"$PEER" tcp-check 127.0.0.1 "$hp" 100000 30000 >"$TMP/$id.peer" 2>&1
	local prc=$?
	vm_wait
	if [ "$prc" = 0 ] && [ "$status" = 0 ] &&
		expect_output "$id" '^net_tcp: served 100000 bytes'; then
		pass "$test"
	else
		fail "$test" "peer $prc: $(tr '\n' '|' <"$TMP/$id.peer"); $(describe "$id")"
	fi
}

HP=$(free_port)
forward_tcp fwd-tcp net/user/forward-tcp "user,forward=tcp:127.0.0.1:$HP-:22" "$HP"

HP=$(free_port)
vm_bg fwd-udp --kernel "$GUESTS/net_udp.elf" --net "user,forward=udp:127.0.0.1:$HP-:7" \
	--cmdline 'echo=7 echo_count=1'
if wait_for "$TMP/fwd-udp.out" '^net_udp: echo ready on ' 60; then
	"$PEER" udp-ping 127.0.0.1 "$HP" raevm-udp-in 20000 >"$TMP/fwd-udp.peer" 2>&1
	prc=$?
else
	kill "$VM_PID" 2>/dev/null
	prc=none
fi
vm_wait
if [ "$prc" = 0 ] && [ "$status" = 0 ] && expect_output fwd-udp "^net_udp: echoed 'raevm-udp-in'"; then
	pass net/user/forward-udp
else
	fail net/user/forward-udp "peer $prc: $(tr '\n' '|' <"$TMP/fwd-udp.peer" 2>/dev/null); $(describe fwd-udp)"
fi

# ---------------------------------------------------------------------------
# restrict: nothing leaves, forwards still come in. A datagram from the
# guest to a host listener through 10.0.2.2 (the same send reached the
# host in net/user/udp-to-host) must not arrive; a TCP connect to a
# listening host port must not get through (net_tcp mode=refused takes a
# reset or a timeout; an open network would connect); a TCP forward
# carries a stream both ways and a UDP forward delivers host->guest (the
# guest's answers are dropped: libslirp's restricted mode, see
# docs/networking.md). DHCP gives no router here, so dst= is explicit.
# The listener lives through the whole VM (the guest ends only once the
# device took its datagram, and slirp sends synchronously), then a
# sentinel from the host ends it: the first datagram it got must be the
# sentinel. No fixed listening time that a slow boot could outlast.
peer restrict-out udp-recv 127.0.0.1 0 120000
vm restrict-udp --kernel "$GUESTS/net_udp.elf" --net user,restrict \
	--cmdline "dst=10.0.2.2 dport=$PEER_PORT msg=must-not-leave"
"$PEER" udp-ping 127.0.0.1 "$PEER_PORT" sentinel 1000 >/dev/null 2>&1
wait "$PEER_PID"
orc=$?
if [ "$status" = 0 ] && [ "$orc" = 0 ] && grep -q '^got sentinel$' "$TMP/restrict-out.peer" &&
	expect_output restrict-udp '^net_udp: sent 1 to 10\.0\.2\.2:'; then
	pass net/restrict/udp-goes-nowhere
else
	fail net/restrict/udp-goes-nowhere "listener $orc: $(tr '\n' '|' <"$TMP/restrict-out.peer"); $(describe restrict-udp)"
fi

peer restrict-tcp tcp-hold 127.0.0.1 0 60000
vm restrict-tcp --kernel "$GUESTS/net_tcp.elf" --net user,restrict \
	--cmdline "mode=refused dst=10.0.2.2 port=$PEER_PORT wait_ms=5000"
kill "$PEER_PID" 2>/dev/null
wait "$PEER_PID" 2>/dev/null
if [ "$status" = 0 ] && expect_output restrict-tcp '^net_tcp: refused ok'; then
	pass net/restrict/tcp-goes-nowhere
else
	fail net/restrict/tcp-goes-nowhere "$(describe restrict-tcp)"
fi

HP=$(free_port)
forward_tcp restrict-fwd net/restrict/forward-tcp "user,restrict,forward=tcp:127.0.0.1:$HP-:22" "$HP"

HP=$(free_port)
vm_bg restrict-fwdudp --kernel "$GUESTS/net_udp.elf" \
	--net "user,restrict,forward=udp:127.0.0.1:$HP-:7" --cmdline 'echo=7 echo_count=1'
ping_pid=
if wait_for "$TMP/restrict-fwdudp.out" '^net_udp: echo ready on ' 60; then
	# The echo cannot come back, so the pinger resends until the guest
	# has its datagram and ends (its line is what counts), not for a
	# fixed time that a loaded host may need more than.
	"$PEER" udp-ping 127.0.0.1 "$HP" restricted-in 60000 >"$TMP/restrict-fwdudp.peer" 2>&1 &
	ping_pid=$!
else
	kill "$VM_PID" 2>/dev/null
fi
vm_wait
if [ -n "$ping_pid" ]; then
	kill "$ping_pid" 2>/dev/null
	wait "$ping_pid" 2>/dev/null
fi
if [ "$status" = 0 ] && expect_output restrict-fwdudp "^net_udp: echoed 'restricted-in'"; then
	pass net/restrict/forward-udp-in
else
	fail net/restrict/forward-udp-in "$(describe restrict-fwdudp)"
fi

# ---------------------------------------------------------------------------
# Bad input: one line on stderr, a non-zero status below 124.
net_err() {
	local id=$1 pattern=$2
	shift 2
	vm "neterr-$id" --kernel "$GUESTS/net_dhcp.elf" "$@"
	local lines
	lines=$(grep -c . "$TMP/neterr-$id.err")
	if [ "$status" = 0 ] || [ "$status" -ge 124 ]; then
		fail "net/error/$id" "expected a non-zero status below 124; $(describe "neterr-$id")"
	elif [ "$lines" != 1 ]; then
		fail "net/error/$id" "expected one line on stderr, got $lines; $(describe "neterr-$id")"
	elif ! grep -Eq -- "$pattern" "$TMP/neterr-$id.err"; then
		fail "net/error/$id" "stderr does not match /$pattern/; $(describe "neterr-$id")"
	else
		pass "net/error/$id"
	fi
}

net_err forward-syntax "^raevmd: .*forward 'tcp:nonsense'" --net user,forward=tcp:nonsense
net_err forward-port "^raevmd: .*forward 'tcp::99999-:22'.*99999" --net user,forward=tcp::99999-:22
net_err forward-proto "^raevmd: .*'sctp'" --net user,forward=sctp::2222-:22
net_err mode "^raevmd: .*'bogus'" --net bogus
peer busy tcp-hold 127.0.0.1 0 60000
net_err port-in-use "^raevmd: .*$PEER_PORT.* in use" --net "user,forward=tcp:127.0.0.1:$PEER_PORT-:22"
kill "$PEER_PID" 2>/dev/null
wait "$PEER_PID" 2>/dev/null
net_err tap-fd "^raevmd: .*tap fd 99" --net tap,fd=99
# A tap that does not exist, with no CAP_NET_ADMIN to create it. The
# sandbox cannot drop capabilities that are already gone from the
# bounding set, hence --no-sandbox (the error comes before it anyway).
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	tap=rvmiss$$
	RAEVMD_REAL=$RAEVMD
	RAEVMD=$TMP/raevmd-no-net-admin
	printf '#!/bin/sh\nexec setpriv --bounding-set=-net_admin --inh-caps=-net_admin "%s" "$@"\n' \
		"$RAEVMD_REAL" >"$RAEVMD"
	chmod +x "$RAEVMD"
	net_err tap-missing "^raevmd: .*$tap.*CAP_NET_ADMIN" --no-sandbox --net "tap,name=$tap"
	RAEVMD=$RAEVMD_REAL
	if ip link show "$tap" >/dev/null 2>&1; then
		fail net/error/tap-not-created "$tap exists after the refused start"
		ip link del "$tap" 2>/dev/null
	fi
else
	skip net/error/tap-missing "needs root and setpriv to run without CAP_NET_ADMIN"
fi

# ---------------------------------------------------------------------------
# A hostile guest: every case completes or flags NEEDS_RESET, the NIC
# serves after each, raevmd runs the guest to its end.
vm hostile --kernel "$GUESTS/net_hostile.elf" --net user
if [ "$status" = 0 ] && expect_output hostile '^net_hostile: ok cases=14 .*stalled=0'; then
	pass net/hostile
else
	fail net/hostile "$(describe hostile)"
fi
# And the process that survived it still boots a normal guest after.
vm hostile-after --kernel "$GUESTS/net_dhcp.elf" --net user --cmdline 'count=1'
if [ "$status" = 0 ] && expect_output hostile-after '^net_dhcp: ok pings=1'; then
	pass net/hostile-then-normal
else
	fail net/hostile-then-normal "$(describe hostile-after)"
fi

# ---------------------------------------------------------------------------
# tap in a network namespace made here: the tap (10.0.9.1/24) and the
# peer live in it, and so does raevmd (which opens the tap by name).
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || [ ! -c /dev/net/tun ]; then
	skip net/tap "needs root, ip(8) and /dev/net/tun"
	exit 0
fi
NS=rvnet$$
if ! ip netns add "$NS" 2>"$TMP/ns.err" ||
	! ip netns exec "$NS" ip tuntap add dev rvtap0 mode tap 2>>"$TMP/ns.err" ||
	! ip -n "$NS" addr add 10.0.9.1/24 dev rvtap0 2>>"$TMP/ns.err" ||
	! ip -n "$NS" link set rvtap0 up 2>>"$TMP/ns.err" ||
	! ip -n "$NS" link set lo up 2>>"$TMP/ns.err"; then
	skip net/tap "cannot make a namespace with a tap: $(head -c 200 "$TMP/ns.err")"
	exit 0
fi
NETNS_EXEC="ip netns exec $NS"
TAPNET="tap,name=rvtap0"
STATIC='ip=10.0.9.15 prefix=24 gw=10.0.9.1'

vm_bg tap-ping --kernel "$GUESTS/net_dhcp.elf" --net "$TAPNET" --cmdline "$STATIC count=2"
vm_wait
if [ "$status" = 0 ] && expect_output tap-ping '^net_dhcp: ping 10\.0\.9\.1 seq=2 time='; then
	pass net/tap/ping-host
else
	fail net/tap/ping-host "$(describe tap-ping)"
fi

peer tap-tcp tcp-echo 10.0.9.1 0 60000
vm_bg tap-tcp --kernel "$GUESTS/net_tcp.elf" --net "$TAPNET" \
	--cmdline "$STATIC port=$PEER_PORT bytes=200000"
vm_wait
wait "$PEER_PID"
if [ "$status" = 0 ] && expect_output tap-tcp '^net_tcp: client ok bytes=200000' &&
	grep -q '^echoed 200000$' "$TMP/tap-tcp.peer"; then
	pass net/tap/tcp-both-ways
else
	fail net/tap/tcp-both-ways "peer: $(tr '\n' '|' <"$TMP/tap-tcp.peer"); $(describe tap-tcp)"
fi

vm_bg tap-server --kernel "$GUESTS/net_tcp.elf" --net "$TAPNET" \
	--cmdline "$STATIC mode=server port=22 conns=1"
if wait_for "$TMP/tap-server.out" '^net_tcp: listening on ' 60; then
	$NETNS_EXEC "$PEER" tcp-check 10.0.9.15 22 100000 30000 >"$TMP/tap-server.peer" 2>&1
	prc=$?
else
	kill "$VM_PID" 2>/dev/null
	prc=none
fi
vm_wait
if [ "$prc" = 0 ] && [ "$status" = 0 ] && expect_output tap-server '^net_tcp: served 100000 bytes'; then
	pass net/tap/host-to-guest
else
	fail net/tap/host-to-guest "peer $prc: $(tr '\n' '|' <"$TMP/tap-server.peer" 2>/dev/null); $(describe tap-server)"
fi
