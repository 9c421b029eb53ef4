#!/usr/bin/env bash
# End-to-end scenarios: raevm as its users drive it, through `raevmd daemon`
# and the `raevm` CLI only, with the sandbox on (its default):
#  1. dev VM: a user-mode NIC with a TCP forward into a guest echo server;
#     a host client echoes through it, info says running, stop frees the port;
#  2. air-gapped appliance: ephemeral + restrict + forwards + a raw disk the
#     guest writes; after stop and after kill -9 of the worker the image is
#     byte-identical and no file is left in the runtime folder or /dev/shm;
#     a datagram to the host through 10.0.2.2 goes nowhere while the
#     forwards (TCP both ways, UDP in) work;
#  3. agent channel: vsock with the default socket in the runtime folder,
#     named by info --json, 1 MiB echoed through it byte for byte;
#  4. limits: the worker's cgroup files hold the manifest's limits; a cpuset
#     naming a CPU the host lacks is refused at start with one line;
#  5. share: export a stopped VM, import it under another name, boot it; a
#     bundle with one byte changed is refused with one line, leaving no VM;
#  6. several at once: three of the above kinds running together; kill -9 of
#     one worker leaves the other two running and serving.
# Each scenario has its own daemon (--socket/--state-dir/--runtime-dir in a
# temporary folder). Every wait polls a condition with a bound; nothing
# waits a fixed time.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

RAEVM=${RV_BUILD:-build}/raevm
WAIT=${WAIT:-30} # seconds: a bound against hangs, not a timing assertion

if [ -n "$KVM_SKIP" ]; then
	skip scenarios "$KVM_SKIP"
	exit 0
fi
for tool in jq zstd tar cmp; do
	if ! command -v "$tool" >/dev/null; then
		skip scenarios "$tool is not installed (make deps installs it)"
		exit 0
	fi
done
for f in "$RAEVMD" "$RAEVM"; do
	if [ ! -x "$f" ]; then
		skip scenarios "$f is not built (make all)"
		exit 0
	fi
done
for g in net_tcp net_udp vsock_echo blk_rw shell hello; do
	if [ ! -e "$GUESTS/$g.elf" ]; then
		skip scenarios "no $GUESTS/$g.elf (make guests)"
		exit 0
	fi
done
RAEVMD=$(cd "$(dirname "$RAEVMD")" && pwd)/$(basename "$RAEVMD")
RAEVM=$(cd "$(dirname "$RAEVM")" && pwd)/$(basename "$RAEVM")
GUESTS=$(cd "$GUESTS" && pwd)
SRC=$(cd "$(dirname "$0")" && pwd)
NET_PEER=$TMP/net_peer
VSOCK_PEER=$TMP/vsock_peer
for p in net_peer vsock_peer; do
	if ! "${CC:-gcc}" -std=gnu11 -O2 -Wall -Werror -o "$TMP/$p" "$SRC/$p.c" \
		2>"$TMP/cc.err"; then
		skip scenarios "cannot build $p.c: $(head -c 200 "$TMP/cc.err")"
		exit 0
	fi
done

# ---------------------------------------------------------------------------
# Helpers.

DAEMONS=()   # pids of every daemon started here
CGROUPS=()   # cgroup folders a failed run might leave behind
cleanup() {
	local p c
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	for p in "${DAEMONS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${DAEMONS[@]}"; do
		timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null
	done
	for c in "${CGROUPS[@]}"; do
		[ -d "$c" ] && rmdir "$c" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
# A timeout or Ctrl-C still runs cleanup (bash skips EXIT traps on signals).
trap 'exit 143' TERM
trap 'exit 130' INT

# until_ok SECS COMMAND...: runs COMMAND until it succeeds (status 0) or
# SECS have passed (status 1). It polls a condition; the bound is the point.
until_ok() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# start_daemon TAG: a daemon of its own in $TMP/TAG; sets D, SOCK, DPID and
# returns once it answers (status 1 if it does not within $WAIT s).
start_daemon() {
	D=$TMP/$1
	SOCK=$D/run/raevmd.sock
	mkdir -p "$D"
	"$RAEVMD" daemon --socket "$SOCK" --state-dir "$D/state" \
		--runtime-dir "$D/run" --shutdown-timeout 2 >"$D/daemon.log" 2>&1 </dev/null &
	DPID=$!
	DAEMONS+=("$DPID")
	until_ok "$WAIT" R version >/dev/null 2>&1
}

# stop_daemon: SIGTERM, and a bounded wait for its end.
stop_daemon() {
	kill -TERM "$DPID" 2>/dev/null
	timeout "$WAIT" tail --pid="$DPID" -f /dev/null 2>/dev/null || kill -9 "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
}

# raevm against this scenario's daemon; bounded, so a hung daemon fails a
# check instead of the whole run.
R() { timeout -k 5 60 "$RAEVM" --socket "$SOCK" "$@" </dev/null; }
state_of() { R --json info "$1" 2>/dev/null | jq -r .state; }
pid_of() { R --json info "$1" 2>/dev/null | jq -r '.pid // empty'; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }
# The VM's console log has a line matching PATTERN (grep -E).
logged() { R logs "$1" 2>/dev/null | grep -Eq -- "$2"; }
wait_log() { until_ok "${3:-$WAIT}" logged "$1" "$2"; }
wait_state() { until_ok "${3:-$WAIT}" is_state "$1" "$2"; }
# One line of the VM's log and the daemon's for a failure message.
why() {
	printf 'state %s; log: %s; daemon: %s' "$(state_of "$1")" \
		"$(R logs "$1" 2>&1 | tail -n 3 | tr '\n' '|')" \
		"$(tail -n 3 "$D/daemon.log" | tr '\n' '|')"
}

# A TCP/UDP port nobody on 127.0.0.1 uses right now (a listener the kernel
# numbered, closed again: a small race, fine for tests).
free_port() {
	local out=$TMP/port.$RANDOM pid
	"$NET_PEER" tcp-hold 127.0.0.1 0 10000 >"$out" 2>&1 &
	pid=$!
	until_ok 10 grep -qs '^ready ' "$out"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	awk '/^ready /{print $2; exit}' "$out"
}

# port_free PORT: a listener can bind 127.0.0.1:PORT now.
port_free() {
	local out=$TMP/hold.$RANDOM pid rc=1
	"$NET_PEER" tcp-hold 127.0.0.1 "$1" 5000 >"$out" 2>&1 &
	pid=$!
	until_ok 5 grep -Eqs '^ready |.' "$out"
	grep -q "^ready $1\$" "$out" && rc=0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $rc
}

# manifest FILE NAME KERNEL CMDLINE [EXTRA-JSON]: a 64M, one-vCPU VM.
manifest() {
	printf '{"raevm": 1, "name": "%s", "memory": "64M", "boot": {"kernel": "%s", "cmdline": "%s"}%s}\n' \
		"$2" "$GUESTS/$3.elf" "$4" "${5:+, $5}" >"$1"
}

# runtime_empty NAME: the VM's runtime folder has no entry left.
runtime_empty() { [ -z "$(ls -A "$D/run/$1" 2>/dev/null)" ]; }
# raevm's files in /dev/shm (the benchmarks' raevm-bench-* images, which
# other runs may make meanwhile, aside): an ephemeral overlay has no name,
# or is raevm-ephemeral-* where O_TMPFILE is missing.
shm_ours() { find /dev/shm -maxdepth 1 -name 'raevm*' ! -name 'raevm-bench-*' 2>/dev/null | sort; }

# ---------------------------------------------------------------------------
# 1. dev VM: a forward into a guest echo server.
scenario_dev() {
	start_daemon dev || { fail scenario/dev "the daemon did not answer; $(cat "$D/daemon.log")"; return; }
	local hp
	hp=$(free_port)
	manifest "$D/dev.raeVM" dev net_tcp "mode=server port=7 conns=2" \
		"\"net\": [{\"mode\": \"user\", \"forward\": [\"tcp:127.0.0.1:$hp-:7\"]}]"
	if ! R create "$D/dev.raeVM" >"$D/create.out" 2>&1 ||
		! R start dev >"$D/start.out" 2>&1; then
		fail scenario/dev/start "$(cat "$D/create.out" "$D/start.out")"
		stop_daemon
		return
	fi
	pass scenario/dev/create-start
	if wait_log dev '^net_tcp: listening on ' &&
		"$NET_PEER" tcp-check 127.0.0.1 "$hp" 200000 20000 >"$D/peer.out" 2>&1 &&
		wait_log dev '^net_tcp: served 200000 bytes' 10; then
		pass scenario/dev/forward-echo
	else
		fail scenario/dev/forward-echo "peer: $(tr '\n' '|' <"$D/peer.out" 2>/dev/null); $(why dev)"
	fi
	R info dev >"$D/info.out" 2>&1
	if grep -Eq '^state: +running$' "$D/info.out"; then
		pass scenario/dev/info-running
	else
		fail scenario/dev/info-running "$(head -n 3 "$D/info.out" | tr '\n' '|')"
	fi
	# The guest ignores the power button: the stop forces after 1 s.
	if R stop dev --timeout 1 >"$D/stop.out" 2>&1 && is_state dev stopped; then
		pass scenario/dev/stop
	else
		fail scenario/dev/stop "$(cat "$D/stop.out"); $(why dev)"
	fi
	if port_free "$hp"; then
		pass scenario/dev/port-free-after-stop
	else
		fail scenario/dev/port-free-after-stop "127.0.0.1:$hp is still taken"
	fi
	stop_daemon
}

# ---------------------------------------------------------------------------
# 2. Air-gapped appliance: ephemeral disk, restricted network.

# appliance_json HTCP HUDP: the appliance's ephemeral, net and disks keys.
appliance_json() {
	printf '"ephemeral": true, "net": [{"mode": "user", "restrict": true, "forward": ["tcp:127.0.0.1:%s-:7", "udp:127.0.0.1:%s-:9"]}], "disks": [{"path": "%s", "format": "raw"}]' \
		"$1" "$2" "$D/app.img"
}

# disk_case NAME HOW: blk_rw rewrites the disk until the VM is ended by HOW
# (stop or kill9); the image must be unchanged and nothing left behind.
disk_case() {
	local name=$1 how=$2 pid
	manifest "$D/$name.raeVM" "$name" blk_rw "passes=0 seed=3 sectors=8192" \
		"$(appliance_json "$(free_port)" "$(free_port)")"
	R create "$D/$name.raeVM" >/dev/null 2>&1
	if ! R start "$name" >"$D/$name.start" 2>&1 ||
		! wait_log "$name" '^blk_rw: pass 2 seed [0-9]+ flushed'; then
		fail "scenario/appliance/$how" "the guest did not write; $(cat "$D/$name.start"); $(why "$name")"
		R kill "$name" >/dev/null 2>&1
		return
	fi
	pid=$(pid_of "$name")
	if [ "$how" = stop ]; then
		R stop "$name" --timeout 1 >"$D/$name.stop" 2>&1
	else
		kill -9 "$pid"
		wait_state "$name" crashed
	fi
	if ! until_ok 10 runtime_empty "$name"; then
		fail "scenario/appliance/$how" "left in the runtime folder: $(ls -A "$D/run/$name")"
	elif kill -0 "$pid" 2>/dev/null; then
		fail "scenario/appliance/$how" "the worker $pid still lives; $(why "$name")"
	elif ! cmp -s "$D/app.img" "$D/app.orig"; then
		fail "scenario/appliance/$how" "the image changed: $(cmp "$D/app.img" "$D/app.orig" 2>&1)"
	elif [ "$(shm_ours)" != "$SHM_BEFORE" ]; then
		fail "scenario/appliance/$how" "/dev/shm has new files: $(shm_ours | tr '\n' ' ')"
	else
		pass "scenario/appliance/$how-leaves-nothing ($(state_of "$name"))"
	fi
}

scenario_appliance() {
	start_daemon appliance || { fail scenario/appliance "the daemon did not answer; $(cat "$D/daemon.log")"; return; }
	truncate -s 16M "$D/app.img"
	head -c 4194304 /dev/urandom | dd of="$D/app.img" conv=notrunc status=none
	cp "$D/app.img" "$D/app.orig"
	SHM_BEFORE=$(shm_ours)

	disk_case app-stop stop
	disk_case app-kill kill9

	# The network: a datagram to the host through 10.0.2.2 must not arrive
	# (the same send reaches the host without restrict: test_net.sh), while
	# a datagram through the UDP forward reaches the guest.
	local htcp hudp lport lpid lrc
	htcp=$(free_port)
	hudp=$(free_port)
	"$NET_PEER" udp-recv 127.0.0.1 0 6000 >"$D/leak.peer" 2>&1 &
	lpid=$!
	until_ok 10 grep -qs '^ready ' "$D/leak.peer"
	lport=$(awk '/^ready /{print $2; exit}' "$D/leak.peer")
	manifest "$D/app-net.raeVM" app-net net_udp \
		"dst=10.0.2.2 dport=$lport msg=must-not-leave echo=9 echo_count=1 wait_ms=20000" \
		"$(appliance_json "$htcp" "$hudp")"
	R create "$D/app-net.raeVM" >/dev/null 2>&1
	R start app-net >"$D/app-net.start" 2>&1
	if wait_log app-net '^net_udp: echo ready on '; then
		"$NET_PEER" udp-ping 127.0.0.1 "$hudp" restricted-in 3000 >"$D/ping.peer" 2>&1
	fi
	wait "$lpid"
	lrc=$?
	if [ "$lrc" = 3 ] && grep -q '^nothing$' "$D/leak.peer" &&
		logged app-net '^net_udp: sent 1 to 10\.0\.2\.2:'; then
		pass scenario/appliance/nothing-leaves
	else
		fail scenario/appliance/nothing-leaves "listener $lrc: $(tr '\n' '|' <"$D/leak.peer"); $(why app-net)"
	fi
	if wait_log app-net "^net_udp: echoed 'restricted-in'" 10; then
		pass scenario/appliance/udp-forward-in
	else
		fail scenario/appliance/udp-forward-in "$(why app-net)"
	fi
	R kill app-net >/dev/null 2>&1

	# The TCP forward carries a stream both ways.
	manifest "$D/app-tcp.raeVM" app-tcp net_tcp "mode=server port=7 conns=1" \
		"$(appliance_json "$htcp" "$hudp")"
	R create "$D/app-tcp.raeVM" >/dev/null 2>&1
	R start app-tcp >"$D/app-tcp.start" 2>&1
	if wait_log app-tcp '^net_tcp: listening on ' &&
		"$NET_PEER" tcp-check 127.0.0.1 "$htcp" 100000 20000 >"$D/tcp.peer" 2>&1 &&
		wait_state app-tcp stopped && logged app-tcp '^net_tcp: served 100000 bytes'; then
		pass scenario/appliance/tcp-forward
	else
		fail scenario/appliance/tcp-forward "peer: $(tr '\n' '|' <"$D/tcp.peer" 2>/dev/null); $(why app-tcp)"
	fi
	stop_daemon
}

# ---------------------------------------------------------------------------
# 3. Agent channel: vsock with the default socket.
scenario_agent() {
	start_daemon agent || { fail scenario/agent "the daemon did not answer; $(cat "$D/daemon.log")"; return; }
	local vs
	manifest "$D/agent.raeVM" agent vsock_echo "port=1234 conns=1" '"vsock": {"cid": 5}'
	R create "$D/agent.raeVM" >/dev/null 2>&1
	R start agent >"$D/start.out" 2>&1
	vs=$(R --json info agent | jq -r '.vsock.socket // empty')
	if [ "$vs" = "$D/run/agent/vsock.sock" ] &&
		[ "$(R --json info agent | jq -r .vsock.cid)" = 5 ] && [ -S "$vs" ]; then
		pass scenario/agent/info-names-socket
	else
		fail scenario/agent/info-names-socket "got '$vs' (want $D/run/agent/vsock.sock); $(cat "$D/start.out"); $(why agent)"
	fi
	if wait_log agent 'listening on port' &&
		"$VSOCK_PEER" connect "$vs" 1234 1 1048576 >"$D/peer.out" 2>&1 &&
		wait_state agent stopped &&
		logged agent 'vsock_echo: ok conns=1 bytes=1048576'; then
		pass scenario/agent/echo-1MiB
	else
		fail scenario/agent/echo-1MiB "peer: $(tr '\n' '|' <"$D/peer.out" 2>/dev/null); $(why agent)"
	fi
	if until_ok 10 runtime_empty agent; then
		pass scenario/agent/socket-removed
	else
		fail scenario/agent/socket-removed "left: $(ls -A "$D/run/agent")"
	fi
	stop_daemon
}

# ---------------------------------------------------------------------------
# 4. Limits.

# cg_mount TYPE [CONTROLLER]: the mount point of a cgroup hierarchy.
cg_mount() {
	awk -v t="$1" -v c="$2" '{
		for (i = 1; i <= NF; i++) if ($i == "-") break
		if ($(i + 1) != t) next
		if (c == "") { print $5; exit }
		n = split($(i + 3), o, ",")
		for (j = 1; j <= n; j++) if (o[j] == c) { print $5; exit }
	}' /proc/self/mountinfo
}
# cg_dir PID CONTROLLER: PID's group folder for CONTROLLER ($CGV).
cg_dir() {
	local path
	if [ "$CGV" = v2 ]; then
		echo "$(cg_mount cgroup2)$(sed -n 's/^0:://p' "/proc/$1/cgroup")"
		return
	fi
	path=$(awk -F: -v c="$2" '{ n = split($2, o, ","); for (j = 1; j <= n; j++) if (o[j] == c) print $3 }' "/proc/$1/cgroup")
	echo "$(cg_mount cgroup "$2")$path"
}

scenario_limits() {
	local v2 c set ncpu pid got want left
	v2=$(cg_mount cgroup2)
	if [ -n "$v2" ] && grep -qw memory "$v2$(sed -n 's/^0:://p' /proc/self/cgroup)/cgroup.controllers" 2>/dev/null; then
		CGV=v2
	elif [ -n "$(cg_mount cgroup memory)" ]; then
		CGV=v1
	else
		CGV=
	fi
	start_daemon limits || { fail scenario/limits "the daemon did not answer; $(cat "$D/daemon.log")"; return; }
	ncpu=$(nproc --all)
	if [ "$ncpu" -ge 2 ]; then set="1,0"; else set="0"; fi
	local writable=yes
	if [ -z "$CGV" ]; then
		writable="no cgroup memory controller is mounted"
	else
		for c in memory cpu cpuset pids; do
			[ -w "$(cg_dir $$ "$c")" ] || writable="cgroup $(cg_dir $$ "$c") is not writable by $(id -un)"
		done
	fi
	if [ "$writable" != yes ]; then
		skip scenario/limits/cgroup-files "$writable"
	else
		manifest "$D/lim.raeVM" lim shell "" \
			"\"cpus\": 2, \"limits\": {\"memory\": \"256M\", \"cpu\": 50, \"cpuset\": \"$set\", \"pids\": 64}"
		R create "$D/lim.raeVM" >/dev/null 2>&1
		if R start lim >"$D/start.out" 2>&1 && pid=$(pid_of lim) && [ -n "$pid" ]; then
			declare -A dir
			for c in memory cpu cpuset pids; do
				dir[$c]=$(cg_dir "$pid" "$c")
				CGROUPS+=("${dir[$c]}")
			done
			if [ "$CGV" = v2 ]; then
				got="$(cat "${dir[memory]}/memory.max") $(cat "${dir[cpu]}/cpu.max")"
				want="268435456 50000 100000"
			else
				got="$(cat "${dir[memory]}/memory.limit_in_bytes") $(cat "${dir[cpu]}/cpu.cfs_quota_us") $(cat "${dir[cpu]}/cpu.cfs_period_us")"
				want="268435456 50000 100000"
			fi
			got="$got $(cat "${dir[cpuset]}/cpuset.cpus") $(cat "${dir[pids]}/pids.max") ${dir[memory]##*/}"
			if [ "$ncpu" -ge 2 ]; then want="$want 0-1 64 lim"; else want="$want 0 64 lim"; fi
			if [ "$got" = "$want" ]; then
				pass "scenario/limits/cgroup-files ($CGV)"
			else
				fail scenario/limits/cgroup-files "got '$got', want '$want'; $(why lim)"
			fi
			R stop lim --force >/dev/null 2>&1
			left=
			for c in memory cpu cpuset pids; do
				until_ok 10 test ! -e "${dir[$c]}" || left="$left ${dir[$c]}"
			done
			if [ -z "$left" ]; then
				pass scenario/limits/cgroup-removed-after-stop
			else
				fail scenario/limits/cgroup-removed-after-stop "left:$left"
			fi
		else
			fail scenario/limits/cgroup-files "did not start: $(cat "$D/start.out"); $(why lim)"
		fi
	fi

	# A CPU this host lacks: created (the manifest is valid anywhere), but
	# refused by start with one line, and the VM stays stopped.
	local bad=$((ncpu + 3))
	manifest "$D/badcpu.raeVM" badcpu hello "" "\"limits\": {\"cpuset\": \"0,$bad\"}"
	R create "$D/badcpu.raeVM" >"$D/badcpu.create" 2>&1
	R start badcpu >"$D/badcpu.out" 2>"$D/badcpu.err"
	local rc=$?
	if [ "$rc" != 0 ] && [ "$(grep -c . "$D/badcpu.err")" = 1 ] &&
		grep -q "limits.cpuset: CPU $bad in '0,$bad' is not online" "$D/badcpu.err" &&
		[ ! -s "$D/badcpu.out" ] && [ "$(state_of badcpu)" != running ]; then
		pass scenario/limits/bad-cpuset-refused
	else
		fail scenario/limits/bad-cpuset-refused "status $rc; create: $(cat "$D/badcpu.create"); stderr: $(tr '\n' '|' <"$D/badcpu.err"); state $(state_of badcpu)"
	fi
	stop_daemon
}

# ---------------------------------------------------------------------------
# 5. Share: export, import, boot; a damaged bundle is refused.
scenario_share() {
	start_daemon share || { fail scenario/share "the daemon did not answer; $(cat "$D/daemon.log")"; return; }
	truncate -s 8M "$D/data.img"
	printf 'share-marker-0123456789' | dd of="$D/data.img" bs=1 seek=5000000 conv=notrunc status=none
	manifest "$D/orig.raeVM" orig blk_rw "sectors=2048 seed=7" \
		"\"disks\": [{\"path\": \"$D/data.img\", \"format\": \"raw\"}]"
	R create "$D/orig.raeVM" >/dev/null 2>&1
	if [ "$(state_of orig)" = stopped ] &&
		R export orig -o "$D/orig.raevm" >"$D/export.out" 2>&1 &&
		R import "$D/orig.raevm" --name copy >"$D/import.out" 2>&1 &&
		[ "$(state_of copy)" = stopped ]; then
		pass scenario/share/export-import
	else
		fail scenario/share/export-import "$(cat "$D/export.out" "$D/import.out" 2>/dev/null | tr '\n' '|')"
	fi
	if R start copy >"$D/start.out" 2>&1 && wait_state copy stopped &&
		logged copy '^blk_rw: ok sectors=2048'; then
		pass scenario/share/imported-boots
	else
		fail scenario/share/imported-boots "$(cat "$D/start.out"); $(why copy)"
	fi
	# The original's disk is not the copy's.
	if grep -q 'share-marker-0123456789' "$D/data.img" &&
		cmp -s -n 4096 "$D/data.img" <(head -c 4096 /dev/zero); then
		pass scenario/share/original-untouched
	else
		fail scenario/share/original-untouched "the copy's guest wrote the original's disk"
	fi

	# One byte changed inside a disk (the archive stays well formed: the
	# SHA-256 list must catch it), and one byte changed in the compressed
	# stream.
	local off bad
	zstd -q -dc "$D/orig.raevm" >"$D/b.tar"
	off=$(grep -abo 'share-marker-0123456789' "$D/b.tar" | head -n 1 | cut -d: -f1)
	printf 'S' | dd of="$D/b.tar" bs=1 seek="$off" conv=notrunc status=none
	zstd -q -f "$D/b.tar" -o "$D/inner.raevm"
	cp "$D/orig.raevm" "$D/outer.raevm"
	off=$(($(stat -c %s "$D/outer.raevm") / 2))
	bad=$(od -An -tu1 -j "$off" -N1 "$D/outer.raevm" | tr -d ' ')
	printf '%b' "\\$(printf %03o $(((bad + 1) % 256)))" |
		dd of="$D/outer.raevm" bs=1 seek="$off" conv=notrunc status=none
	local kind rc
	for kind in inner outer; do
		R import "$D/$kind.raevm" --name bad >"$D/$kind.out" 2>"$D/$kind.err"
		rc=$?
		if [ "$rc" != 0 ] && [ ! -s "$D/$kind.out" ] && [ "$(grep -c . "$D/$kind.err")" = 1 ] &&
			! R info bad >/dev/null 2>&1 && [ ! -e "$D/state/images/bad" ] &&
			[ "$(R --json list | jq '.vms | length')" = 2 ] &&
			[ -z "$(find "$D/state/images" -maxdepth 1 -name '.import-*')" ]; then
			pass "scenario/share/damaged-refused-$kind ($(cut -c 1-90 "$D/$kind.err"))"
		else
			fail "scenario/share/damaged-refused-$kind" "status $rc; stderr: $(tr '\n' '|' <"$D/$kind.err"); list: $(R list | tr '\n' '|')"
		fi
	done
	stop_daemon
}

# ---------------------------------------------------------------------------
# 6. Several at once: dev, agent and appliance kinds under one daemon.
scenario_several() {
	start_daemon several || { fail scenario/several "the daemon did not answer; $(cat "$D/daemon.log")"; return; }
	local hp vs apid n
	hp=$(free_port)
	truncate -s 16M "$D/app.img"
	head -c 1048576 /dev/urandom | dd of="$D/app.img" conv=notrunc status=none
	cp "$D/app.img" "$D/app.orig"
	manifest "$D/m1.raeVM" dev net_tcp "mode=server port=7 conns=2" \
		"\"net\": [{\"mode\": \"user\", \"forward\": [\"tcp:127.0.0.1:$hp-:7\"]}]"
	manifest "$D/m2.raeVM" agent vsock_echo "port=1234 conns=2" '"vsock": {"cid": 7}'
	manifest "$D/m3.raeVM" appliance blk_rw "passes=0 seed=5 sectors=4096" \
		"$(appliance_json "$(free_port)" "$(free_port)")"
	for n in 1 2 3; do R create "$D/m$n.raeVM" >/dev/null 2>&1; done
	# Started together: three requests in flight on three connections.
	local starts=()
	for n in dev agent appliance; do
		R start "$n" >"$D/$n.start" 2>&1 &
		starts+=($!)
	done
	wait "${starts[@]}"
	all_running() {
		local out
		out=$(R list) || return 1
		for n in "$@"; do grep -Eq "^$n +running " <<<"$out" || return 1; done
	}
	if until_ok "$WAIT" all_running dev agent appliance; then
		pass scenario/several/list-three-running
	else
		fail scenario/several/list-three-running "$(R list | tr '\n' '|'); $(cat "$D"/*.start | tr '\n' '|')"
	fi
	wait_log appliance '^blk_rw: pass 1 seed [0-9]+ flushed'
	apid=$(pid_of appliance)
	[ -n "$apid" ] && kill -9 "$apid"
	if wait_state appliance crashed && all_running dev agent &&
		[ "$(R --json list | jq -r '[.vms[] | select(.state == "running") | .name] | sort | join(",")')" = agent,dev ]; then
		pass scenario/several/kill9-one-leaves-two
	else
		fail scenario/several/kill9-one-leaves-two "$(R list | tr '\n' '|')"
	fi
	# The two survivors still serve.
	vs=$(R --json info agent | jq -r '.vsock.socket // empty')
	if wait_log dev '^net_tcp: listening on ' &&
		"$NET_PEER" tcp-check 127.0.0.1 "$hp" 100000 20000 >"$D/tcp.peer" 2>&1 &&
		wait_log agent 'listening on port' &&
		"$VSOCK_PEER" connect "$vs" 1234 1 262144 >"$D/vs.peer" 2>&1; then
		pass scenario/several/survivors-serve
	else
		fail scenario/several/survivors-serve "tcp: $(tr '\n' '|' <"$D/tcp.peer" 2>/dev/null); vsock: $(tr '\n' '|' <"$D/vs.peer" 2>/dev/null); $(R list | tr '\n' '|')"
	fi
	if cmp -s "$D/app.img" "$D/app.orig" && until_ok 10 runtime_empty appliance; then
		pass scenario/several/appliance-left-nothing
	else
		fail scenario/several/appliance-left-nothing "image: $(cmp "$D/app.img" "$D/app.orig" 2>&1); run: $(ls -A "$D/run/appliance")"
	fi
	R stop dev --force >/dev/null 2>&1
	R stop agent --force >/dev/null 2>&1
	stop_daemon
}

# SCENARIOS="dev share" runs only those (for debugging); all by default.
T0=$SECONDS
for s in ${SCENARIOS:-dev appliance agent limits share several}; do
	"scenario_$s"
done
echo "    scenarios took $((SECONDS - T0)) s"
