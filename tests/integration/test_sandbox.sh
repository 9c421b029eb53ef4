#!/usr/bin/env bash
# The worker's sandbox (docs/security.md): a forbidden system call from
# each thread class ends the VM by SIGSYS (through raevmd-hooks, the test
# build with RAEVM_TEST_HOOKS; the release raevmd ignores the variable),
# the daemon reports such a worker as crashed naming SIGSYS, a running
# worker's /proc/PID/status shows the documented capabilities, Seccomp: 2
# and NoNewPrivs: 1, and the jailed worker cannot open a host file.
. "$(dirname "$0")/lib.sh"

HOOKS=${RV_BUILD:-build}/raevmd-hooks
RAEVM=${RV_BUILD:-build}/raevm
WAIT=${WAIT:-20} # seconds: a bound against hangs, not a timing assertion

if [ -n "$KVM_SKIP" ]; then
	skip sandbox "$KVM_SKIP"
	exit 0
fi
if [ ! -x "$HOOKS" ]; then
	skip sandbox "no $HOOKS (make build/raevmd-hooks)"
	exit 0
fi

# hooked NAME CLASS ARGS...: raevmd-hooks run ARGS with CLASS misbehaving.
hooked() {
	local name=$1 cls=$2
	shift 2
	# In a subshell that exits normally, so bash reports no "Bad system
	# call" for the expected kills.
	(
		RAEVM_TEST_SECCOMP_VIOLATE=$cls timeout -k 5 "$VM_TIMEOUT" "$HOOKS" run "$@" \
			>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
		exit $?
	) 2>/dev/null
	status=$?
}

# A killed-by-SIGSYS process shows as 128 + 31 to the shell.
expect_sigsys() {
	local test=$1 name=$2
	[ -n "${NO_KILL:-}" ] && return
	if [ "$status" = 159 ]; then
		pass "$test"
	else
		fail "$test" "expected death by SIGSYS (159); $(describe "$name")"
	fi
}

truncate -s 1M "$TMP/disk.img"

# Sanitizer builds log forbidden calls instead of killing (thread.c).
if grep -aq __asan_init "$HOOKS"; then
	skip sandbox/kill "sanitizer build: the filters only log"
	NO_KILL=1
fi

hooked main main --kernel "$GUESTS/hello.elf"
expect_sigsys sandbox/kill/main main
hooked vcpu vcpu --kernel "$GUESTS/hello.elf"
expect_sigsys sandbox/kill/vcpu vcpu
hooked blk blk --kernel "$GUESTS/hello.elf" --disk "$TMP/disk.img"
expect_sigsys sandbox/kill/blk blk
hooked console console --kernel "$GUESTS/hello.elf" --console-socket "$TMP/con.sock"
expect_sigsys sandbox/kill/console console
hooked net net --kernel "$GUESTS/hello.elf" --net user
expect_sigsys sandbox/kill/net net
hooked vsock vsock --kernel "$GUESTS/hello.elf" --vsock "cid=3,socket=$TMP/v.sock"
expect_sigsys sandbox/kill/vsock vsock

# The debug switch: forbidden calls are logged by the kernel and allowed.
RAEVM_SECCOMP_LOG=1 hooked logmode vcpu --kernel "$GUESTS/hello.elf"
if [ "$status" = 0 ] && expect_output logmode "hello from raevm" &&
	grep -q "RAEVM_SECCOMP_LOG=1" "$TMP/logmode.err"; then
	pass sandbox/log-mode
else
	fail sandbox/log-mode "$(describe logmode)"
fi

# Without the sandbox the hook never runs: the filters are what kill.
hooked nosb vcpu --kernel "$GUESTS/hello.elf" --no-sandbox
if [ "$status" = 0 ] && expect_output nosb "hello from raevm"; then
	pass sandbox/off
else
	fail sandbox/off "$(describe nosb)"
fi

# The release build has no hook: the same variable changes nothing.
RAEVM_TEST_SECCOMP_VIOLATE=vcpu vm release --kernel "$GUESTS/hello.elf"
if [ "$status" = 0 ] && expect_output release "hello from raevm"; then
	pass sandbox/release-has-no-hook
else
	fail sandbox/release-has-no-hook "$(describe release)"
fi

# The main thread tries to open a host file once it is confined.
RAEVM_TEST_JAIL_OPEN=/etc/passwd hooked jail none --kernel "$GUESTS/hello.elf"
if [ "$status" = 0 ] && grep -q "test hook: open '/etc/passwd': No such file or directory" "$TMP/jail.err"; then
	pass sandbox/jail/no-host-files
else
	fail sandbox/jail/no-host-files "$(describe jail)"
fi

# Rootless: an ordinary user (nobody) with its own /dev/kvm node gets the
# sandbox through a user namespace. Needs root here to make the node.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
	mkdir -p "$TMP/rl" && mknod "$TMP/rl/kvm" c 10 232 2>/dev/null; then
	chmod 755 "$TMP" "$TMP/rl"
	chown 65534:65534 "$TMP/rl/kvm" "$TMP/disk.img"
	abs_raevmd=$(cd "$(dirname "$RAEVMD")" && pwd)/raevmd
	abs_guests=$(cd "$GUESTS" && pwd)
	(cd "$TMP/rl" && RAEVM_KVM_DEVICE=$TMP/rl/kvm timeout -k 5 "$VM_TIMEOUT" \
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$abs_raevmd" run --kernel "$abs_guests/hello.elf" \
		--disk "$TMP/disk.img" >"$TMP/rootless.out" 2>"$TMP/rootless.err" </dev/null)
	status=$?
	if [ "$status" = 0 ] && expect_output rootless "hello from raevm"; then
		pass sandbox/rootless
	else
		fail sandbox/rootless "$(describe rootless)"
	fi
	chown 0:0 "$TMP/disk.img"
else
	skip sandbox/rootless "needs root to make a /dev/kvm node for nobody"
fi

# status_of PID: the /proc lines the documentation promises, one line.
status_of() {
	grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' "/proc/$1/status" | tr -s '\t ' ' ' | tr '\n' ';'
}
WANT="CapPrm: 0000000000000000;CapEff: 0000000000000000;CapBnd: 0000000000000000;NoNewPrivs: 1;Seccomp: 2;"

# A running VM: the shell guest waits for input on a FIFO held open.
mkfifo "$TMP/in"
sleep "$WAIT" >"$TMP/in" &
HOLD=$!
"$RAEVMD" run --kernel "$GUESTS/shell.elf" --disk "$TMP/disk.img" <"$TMP/in" >"$TMP/run.out" 2>"$TMP/run.err" &
MON=$!
# The process the shell started is the sandboxed one (no fork, no monitor).
CHILD=
for ((i = 0; i < WAIT * 20; i++)); do
	grep -q 'raevm>' "$TMP/run.out" 2>/dev/null && CHILD=$MON && break
	sleep 0.05
done
if [ -z "$CHILD" ]; then
	fail sandbox/proc/started "$(describe run)"
else
	got=$(status_of "$CHILD")
	if [ "$got" = "$WANT" ]; then
		pass sandbox/proc/status
	else
		fail sandbox/proc/status "got '$got', want '$WANT'"
	fi
	bad=
	for t in /proc/"$CHILD"/task/*; do
		grep -q '^Seccomp:.*2' "$t/status" || bad="$bad $(cat "$t/comm")"
	done
	if [ -z "$bad" ]; then
		pass sandbox/proc/every-thread-filtered
	else
		fail sandbox/proc/every-thread-filtered "without a filter:$bad"
	fi
	# A root without the host's files.
	if [ ! -e "/proc/$CHILD/root/etc/passwd" ] &&
		[ ! -e "/proc/$CHILD/root/dev/kvm" ] &&
		[ -e "/proc/$CHILD/root/dev/null" ]; then
		pass sandbox/proc/jail
	else
		fail sandbox/proc/jail "root: $(ls -R "/proc/$CHILD/root" 2>&1 | head -c 300 | tr '\n' ' ')"
	fi
	# No /proc in a release jail; a sanitizer build mounts one read-only
	# for LeakSanitizer (jail.c, docs/security.md "Sanitizer builds").
	procmnt=$(awk '$5 == "/proc" { print $6 }' "/proc/$CHILD/mountinfo")
	if grep -aq __asan_init "$RAEVMD"; then
		if [ -e "/proc/$CHILD/root/proc/meminfo" ] && [[ "$procmnt" == ro,* ]]; then
			pass sandbox/proc/jail-proc-sanitizer-ro
		else
			fail sandbox/proc/jail-proc-sanitizer-ro "mount options '$procmnt'"
		fi
	elif [ -z "$procmnt" ] && [ ! -e "/proc/$CHILD/root/proc" ]; then
		pass sandbox/proc/jail-no-proc
	else
		fail sandbox/proc/jail-no-proc "/proc in the jail: '$procmnt'"
	fi
fi
kill -INT "$MON" 2>/dev/null
wait "$MON"
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null

# The daemon: a worker killed by its filter is reported crashed, SIGSYS.
if ! command -v socat >/dev/null; then
	skip sandbox/daemon "socat is not installed"
	exit 0
fi
D=$TMP/d
SOCK=$D/run/raevmd.sock
RAEVM_TEST_SECCOMP_VIOLATE=vcpu "$HOOKS" daemon --socket "$SOCK" --state-dir "$D/state" \
	--runtime-dir "$D/run" >"$TMP/daemon.log" 2>&1 &
DPID=$!
for ((i = 0; i < WAIT * 20; i++)); do
	[ -S "$SOCK" ] && break
	sleep 0.05
done
"$RAEVM" --socket "$SOCK" create --name sb --kernel "$GUESTS/shell.elf" >"$TMP/create.out" 2>&1
"$RAEVM" --socket "$SOCK" start sb >"$TMP/start.out" 2>&1
state=
for ((i = 0; i < WAIT * 20 && !${NO_KILL:-0}; i++)); do
	state=$(printf '{"id":1,"cmd":"vm.list"}\n' | socat -t 2 - "UNIX-CONNECT:$SOCK" 2>&1)
	grep -q '"state": *"crashed"' <<<"$state" && break
	sleep 0.05
done
if [ -n "${NO_KILL:-}" ]; then
	skip sandbox/daemon/reports-sigsys "sanitizer build: the filters only log"
elif grep -q '"reason": *"killed by signal 31 (SIGSYS)' <<<"$state"; then
	pass sandbox/daemon/reports-sigsys
else
	fail sandbox/daemon/reports-sigsys "list: $(tr '\n' '|' <<<"$state"); $(head -c 300 "$TMP/create.out" "$TMP/start.out" | tr '\n' '|')"
fi
kill -TERM "$DPID" 2>/dev/null
wait "$DPID"

# A daemon worker (release build): the pid the daemon reports is the
# sandboxed process itself.
"$RAEVMD" daemon --socket "$SOCK" --state-dir "$D/state" \
	--runtime-dir "$D/run" >>"$TMP/daemon.log" 2>&1 &
DPID=$!
for ((i = 0; i < WAIT * 20; i++)); do
	printf '' | socat -t 1 - "UNIX-CONNECT:$SOCK" 2>/dev/null | grep -q raevm && break
	sleep 0.05
done
"$RAEVM" --socket "$SOCK" start sb >"$TMP/start2.out" 2>&1
wpid=
for ((i = 0; i < WAIT * 20; i++)); do
	state=$(printf '{"id":1,"cmd":"vm.list"}\n' | socat -t 2 - "UNIX-CONNECT:$SOCK" 2>&1)
	if grep -q '"state": *"running"' <<<"$state"; then
		wpid=$(grep -o '"pid": *[0-9]*' <<<"$state" | tail -1 | grep -o '[0-9]*$')
		break
	fi
	sleep 0.05
done
if [ -n "$wpid" ] && [ "$(status_of "$wpid")" = "$WANT" ]; then
	pass sandbox/daemon/worker-status
else
	fail sandbox/daemon/worker-status "pid '$wpid': $(status_of "$wpid" 2>&1); $(tr '\n' '|' <<<"$state")"
fi

# info NAME: one line "STATE PID RESTARTS REASON" from vm.info.
info() {
	printf '{"id":1,"cmd":"vm.info","args":{"name":"%s"}}\n' "$1" |
		socat -t 2 - "UNIX-CONNECT:$SOCK" 2>/dev/null |
		jq -r 'select(.result) | .result | "\(.state) \(.pid) \(.restarts) \(.reason)"' 2>/dev/null
}
# await_info NAME REGEX: polls vm.info until its line matches (bounded).
await_info() {
	local i
	for ((i = 0; i < WAIT * 20; i++)); do
		line=$(info "$1")
		grep -Eq "$2" <<<"$line" && return 0
		sleep 0.05
	done
	return 1
}

# The daemon (root here) starts each worker as PID 1 of a new pid
# namespace: the pid it tracks is the worker itself, 1 inside.
nspid() {
	awk '/^NSpid:/ { $1 = ""; print }' "/proc/$1/status" 2>/dev/null | xargs
}
if [ "$(id -u)" != 0 ]; then
	skip sandbox/daemon/pid-namespace "a rootless daemon makes no pid namespace (docs/security.md)"
elif [ -n "$wpid" ] && [ "$(nspid "$wpid")" = "$wpid 1" ] &&
	[ "$(readlink "/proc/$wpid/ns/pid")" != "$(readlink "/proc/$DPID/ns/pid")" ] &&
	[ "$(cat "$D/run/sb/worker.pid" 2>/dev/null)" = "$wpid" ]; then
	pass sandbox/daemon/pid-namespace
else
	fail sandbox/daemon/pid-namespace "pid '$wpid': NSpid '$(nspid "$wpid")', ns $(readlink "/proc/$wpid/ns/pid") vs $(readlink "/proc/$DPID/ns/pid"), pidfile '$(cat "$D/run/sb/worker.pid" 2>&1)'"
fi
"$RAEVM" --socket "$SOCK" stop sb --force >/dev/null 2>&1

# kill -9 of the tracked pid ends the VM at once: it crashes, its disk
# lock goes with it, and the restart policy brings it back on the same
# disk (a lock still held would fail the new worker's build).
truncate -s 1M "$TMP/pn.img"
mkdir -p "$TMP/pn"
cat >"$TMP/pn/vm.raeVM" <<EOF
{"raevm": 1, "name": "pn", "boot": {"kernel": "$(cd "$GUESTS" && pwd)/shell.elf"},
 "disks": [{"path": "$TMP/pn.img"}], "restart": "on-failure"}
EOF
"$RAEVM" --socket "$SOCK" create "$TMP/pn/vm.raeVM" >"$TMP/pn-create.out" 2>&1
"$RAEVM" --socket "$SOCK" start pn >"$TMP/pn-start.out" 2>&1
pid1=
if await_info pn '^running [0-9]+ '; then
	pid1=$(cut -d' ' -f2 <<<"$line")
	kill -9 "$pid1"
fi
if [ -n "$pid1" ] && await_info pn '^crashed 0 0 killed by signal 9$' &&
	await_info pn '^running [0-9]+ 1 ' && [ "$(cut -d' ' -f2 <<<"$line")" != "$pid1" ]; then
	pass sandbox/daemon/kill9-restarts
else
	fail sandbox/daemon/kill9-restarts "first pid '$pid1'; now '$line'; $(cat "$TMP/pn-create.out" "$TMP/pn-start.out" | head -c 300 | tr '\n' '|')"
fi
"$RAEVM" --socket "$SOCK" stop pn --force >/dev/null 2>&1

# A worker in its own pid namespace still enters its cgroup itself (it
# writes its pid as it sees it, 1, which the kernel reads in its namespace).
if [ "$(id -u)" != 0 ] || ! grep -q ':pids:\|^0::' /proc/self/cgroup; then
	skip sandbox/daemon/pidns-cgroup "needs root and a pids cgroup controller"
else
	"$RAEVM" --socket "$SOCK" create --name pl --kernel "$(cd "$GUESTS" && pwd)/shell.elf" \
		--limit pids=64 >"$TMP/pl.out" 2>&1
	"$RAEVM" --socket "$SOCK" start pl >>"$TMP/pl.out" 2>&1
	cg=
	if await_info pl '^running [0-9]+ '; then
		pid=$(cut -d' ' -f2 <<<"$line")
		cg=$(grep -E '(:pids:|^0::).*/raevm/pl$' "/proc/$pid/cgroup")
	fi
	if [ -n "$cg" ]; then
		pass sandbox/daemon/pidns-cgroup
	else
		fail sandbox/daemon/pidns-cgroup "'$line': $(tr '\n' '|' <"/proc/$pid/cgroup" 2>&1); $(tr '\n' '|' <"$TMP/pl.out")"
	fi
	"$RAEVM" --socket "$SOCK" stop pl --force >/dev/null 2>&1
fi
kill -TERM "$DPID" 2>/dev/null
wait "$DPID"

# The worker keeps its VM's folder read-write (console log), but the files
# the daemon trusts there (manifest.raeVM, state) are read-only in its
# jail: a compromised worker cannot rewrite the manifest the next start
# reads as root (docs/security.md).
JW=$D/state/vms/jw
RAEVM_TEST_JAIL_WRITE=$(cd "$D" && pwd)/state/vms/jw/manifest.raeVM "$HOOKS" daemon \
	--socket "$SOCK" --state-dir "$D/state" --runtime-dir "$D/run" >>"$TMP/daemon.log" 2>&1 &
DPID=$!
for ((i = 0; i < WAIT * 20; i++)); do
	printf '' | socat -t 1 - "UNIX-CONNECT:$SOCK" 2>/dev/null | grep -q raevm && break
	sleep 0.05
done
"$RAEVM" --socket "$SOCK" create --name jw --kernel "$(cd "$GUESTS" && pwd)/shell.elf" >"$TMP/jw.out" 2>&1
before=$(sha256sum <"$JW/manifest.raeVM")
"$RAEVM" --socket "$SOCK" start jw >>"$TMP/jw.out" 2>&1
await_info jw '^running [0-9]+ ' || true
for ((i = 0; i < WAIT * 20; i++)); do
	grep -q "test hook: write" "$JW/worker.log" 2>/dev/null && break
	sleep 0.05
done
if grep -q "test hook: write '.*/jw/manifest.raeVM': Read-only file system" "$JW/worker.log" &&
	[ "$(sha256sum <"$JW/manifest.raeVM")" = "$before" ]; then
	pass sandbox/jail/manifest-read-only
else
	fail sandbox/jail/manifest-read-only "$(grep 'test hook' "$JW/worker.log" 2>&1 | head -3 | tr '\n' '|'); $(tr '\n' '|' <"$TMP/jw.out")"
fi
"$RAEVM" --socket "$SOCK" stop jw --force >/dev/null 2>&1
kill -TERM "$DPID" 2>/dev/null
wait "$DPID"
