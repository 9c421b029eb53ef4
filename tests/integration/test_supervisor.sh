#!/usr/bin/env bash
# The VM supervisor and its workers (docs/architecture.md "Processes"),
# driven through tests/integration/supervisor_driver (a test program linked
# with libraevm.a): several VMs at once, kill -9 of one worker, restart
# policies, console viewers (two at once, input, a stalled one, scrollback
# and rotation), pause/resume, graceful and forced stops, a guest reboot,
# re-adoption by a new daemon, autostart and shutdown of every VM.
# Every wait is for an event, bounded by $T seconds.
. "$(dirname "$0")/lib.sh"

DRIVER=${RV_BUILD:-build}/tests/integration/supervisor_driver
T=${SUP_TIMEOUT:-60}
CASES="several guest-exit kill9-one kill9-policy-no console-viewers
console-scrollback console-stalled-viewer console-drop-notice
console-rotation pause-resume reboot stop-graceful-timeout
stop-power-button stop-force kill policy-always-limit build-failure
readopt autostart adopted-kill9 stale-adoption stop-all"

if [ -n "$KVM_SKIP" ]; then
	for id in $CASES; do skip "supervisor/$id" "$KVM_SKIP"; done
	exit 0
fi
if [ ! -x "$DRIVER" ]; then
	for id in $CASES; do
		skip "supervisor/$id" "$DRIVER is not built (make check builds it)"
	done
	exit 0
fi
WORKER=$(cd "$(dirname "$RAEVMD")" && pwd)/$(basename "$RAEVMD")
G=$(cd "$GUESTS" && pwd)
RUN=$TMP/run
mkdir -p "$RUN"
DRV_PID=
# Workers started here, killed at exit in case a case failed half-way.
cleanup() {
	local f pid
	[ -n "$DRV_PID" ] && kill -9 "$DRV_PID" 2>/dev/null
	for f in "$RUN"/*/worker.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

# vm NAME KERNEL [CMDLINE]: writes $TMP/vms/NAME/vm.raeVM.
vm_manifest() {
	local dir=$TMP/vms/$1
	mkdir -p "$dir"
	printf '{"raevm": 1, "name": "%s", "boot": {"kernel": "%s", "cmdline": "%s"}}\n' \
		"$1" "$2" "${3:-}" >"$dir/vm.raeVM"
}
# spec NAME POLICY: the start arguments of a VM.
spec() { echo "$1 $TMP/vms/$1 $TMP/vms/$1/vm.raeVM $2"; }

# drv_start OUT: starts a driver whose output goes to OUT.
drv_start() {
	OUT=$1
	rm -f "$TMP/drv.in"
	mkfifo "$TMP/drv.in"
	exec 7<>"$TMP/drv.in"
	"$DRIVER" "$RUN" "$WORKER" --fast <"$TMP/drv.in" >"$OUT" 2>>"$TMP/driver.err" &
	DRV_PID=$!
	MARK=0
	await '^ready$'
}
send() { echo "$*" >&7; }
# mark: later awaits look only at lines printed after this point.
mark() { MARK=$(wc -l <"$OUT"); }
# await PATTERN: a line after the mark matches (grep -E), within $T s.
await() {
	timeout "$T" bash -c 'tail -n +"$(($1 + 1))" -f "$2" | grep -q -m1 -E -- "$3"' \
		_ "$MARK" "$OUT" "$1"
}
# await_file FILE PATTERN: FILE gets a line matching PATTERN within $T s.
await_file() {
	timeout "$T" bash -c 'until [ -e "$1" ]; do sleep 0.05; done; tail -n +1 -f "$1" | grep -q -m1 -E -- "$2"' \
		_ "$1" "$2"
}
# await_count FILE PATTERN N: FILE has N lines matching PATTERN within $T s
# (a console log keeps the output of earlier boots).
await_count() {
	timeout "$T" bash -c 'until [ "$(grep -c -E -- "$2" "$1" 2>/dev/null)" -ge "$3" ]; do sleep 0.05; done' \
		_ "$1" "$2" "$3"
}
# info NAME: prints the driver's info line for NAME.
info() {
	mark
	send "info $1"
	await "^(info|err info) $1 " || return 1
	tail -n +"$((MARK + 1))" "$OUT" | grep -E -m1 "^(info|err info) $1 "
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
why() { printf 'last driver lines: %s' "$(tail -n 6 "$OUT" | tr '\n' '|')"; }
check() { if "$@"; then :; else return 1; fi; }

vm_manifest a "$G/shell.elf"
vm_manifest b "$G/shell.elf"
vm_manifest c "$G/exit_code.elf" "code=3"
drv_start "$TMP/d1.out"

# Several VMs at once; one guest exits with code 3 and is "stopped".
mark
send "start $(spec a on-failure)"
send "start $(spec b no)"
send "start $(spec c no)"
if await '^done start a 0$' && await '^done start b 0$' &&
	[ "$(info a | field state)" = running ] && [ "$(info b | field state)" = running ]; then
	pass supervisor/several
else
	fail supervisor/several "$(why)"
fi
if await '^event c stopped restarting=0 .* code=3 reason=guest exited with code 3$'; then
	pass supervisor/guest-exit
else
	fail supervisor/guest-exit "$(why)"
fi

# kill -9 of one worker: only it crashes, and on-failure restarts it.
pa=$(info a | field pid)
pb=$(info b | field pid)
mark
kill -9 "$pa"
if await '^event a crashed restarting=1 delay=200 .* signal=9 .*reason=killed by signal 9$' &&
	await '^event a running ' && [ "$(info b | field pid)" = "$pb" ] &&
	[ "$(info b | field state)" = running ] && [ "$(info a | field restarts)" = 1 ] &&
	[ "$(info a | field pid)" != "$pa" ]; then
	pass supervisor/kill9-one
else
	fail supervisor/kill9-one "$(why)"
fi
# With restart "no" the crash stays.
mark
kill -9 "$pb"
if await '^event b crashed restarting=0 .*reason=killed by signal 9$' &&
	[ "$(info b | field state)" = crashed ] && [ "$(info b | field pending)" = 0 ]; then
	pass supervisor/kill9-policy-no
else
	fail supervisor/kill9-policy-no "$(why)"
fi

# Console: two viewers see all output; input from either reaches the guest.
# The shell guest takes input once it has printed its banner (this is its
# second boot).
BANNER="type 'help'"
await_count "$TMP/vms/a/console.log" "$BANNER" 2
mark
send "view 0 a $TMP/v0.out"
send "view 1 a $TMP/v1.out"
await '^ok view 1$'
send "type 0 echo hi-from-v0"
send "type 1 echo hi-from-v1"
if await_file "$TMP/v0.out" '^hi-from-v1' && await_file "$TMP/v1.out" '^hi-from-v0' &&
	await_file "$TMP/v0.out" '^hi-from-v0' && await_file "$TMP/v1.out" '^hi-from-v1'; then
	pass supervisor/console-viewers
else
	fail supervisor/console-viewers "v0: $(head -c 200 "$TMP/v0.out" | tr '\n' '|')"
fi
if grep -q '^hi-from-v0' "$TMP/vms/a/console.log"; then
	pass supervisor/console-scrollback
else
	fail supervisor/console-scrollback "console.log: $(tail -c 200 "$TMP/vms/a/console.log" | tr '\n' '|')"
fi

# A viewer that never reads: the guest and the other viewers go on. About
# 120 KB of output overflows its socket and its 64 KiB queue. Commands go
# in batches of 20 that fit the guest's 256-byte input ring.
mark
send "stall 2 a"
await '^ok view 2$'
ok=1
for batch in $(seq 1 15); do
	for i in $(seq 1 20); do send "type 0 help"; done
	await_count "$TMP/v1.out" '^commands:' $((batch * 20)) || { ok=0; break; }
done
send "type 0 echo burst-done"
if [ $ok = 1 ] && await_file "$TMP/v1.out" '^burst-done' && await_file "$TMP/v0.out" '^burst-done'; then
	pass supervisor/console-stalled-viewer
else
	fail supervisor/console-stalled-viewer "v1 ends: $(tail -c 200 "$TMP/v1.out" | tr '\n' '|')"
fi
# Once it has read what was queued for it, it is told how much it lost,
# and then sees new output again.
send "unstall 2 $TMP/v2.out"
if await_file "$TMP/v2.out" 'raevm: [0-9]+ bytes of console output dropped' &&
	send "type 0 echo after-stall" && await_file "$TMP/v2.out" '^after-stall'; then
	pass supervisor/console-drop-notice
else
	fail supervisor/console-drop-notice "v2 ends: $(tail -c 300 "$TMP/v2.out" | tr '\n' '|')"
fi
# console.log is capped (8 KiB in --fast) and rotated to console.log.1.
log=$TMP/vms/a/console.log
if await_file "$log" '^after-stall' && [ -s "$log.1" ] &&
	[ "$(stat -c %s "$log")" -le 8192 ] && [ "$(stat -c %s "$log.1")" -le 8192 ]; then
	pass supervisor/console-rotation
else
	fail supervisor/console-rotation "sizes: $(stat -c '%n %s' "$log" "$log.1" 2>&1 | tr '\n' ' ')"
fi

# Pause and resume; input typed while paused is handled after the resume.
mark
send "pause a"
ok=1
await '^done pause a 0$' && [ "$(info a | field state)" = paused ] || ok=0
mark
send "pause a"
await '^err pause a EALREADY$' || ok=0
send "type 0 echo typed-while-paused"
mark
send "resume a"
if [ $ok = 1 ] && await '^done resume a 0$' && await_file "$TMP/v0.out" '^typed-while-paused' &&
	[ "$(info a | field state)" = running ]; then
	pass supervisor/pause-resume
else
	fail supervisor/pause-resume "$(why)"
fi

# A guest reboot brings the VM back at once, whatever the policy.
pa=$(info a | field pid)
mark
send "type 0 reboot"
if await '^event a stopped restarting=1 .*reason=guest rebooted$' && await '^event a running ' &&
	[ "$(info a | field pid)" != "$pa" ]; then
	pass supervisor/reboot
else
	fail supervisor/reboot "$(why)"
fi

# Graceful stop of a guest that ignores the power button: stopped after
# the timeout, and a requested stop never restarts (policy on-failure).
mark
send "stop a graceful 1"
if await '^event a stopping ' && await '^done stop a 0$' &&
	await '^event a stopped restarting=0 .*reason=stopped by request: the guest did not power off within 1 s of the power button$'; then
	pass supervisor/stop-graceful-timeout
else
	fail supervisor/stop-graceful-timeout "$(why)"
fi

# Graceful stop of a guest that listens: it powers off (policy always).
vm_manifest d "$G/poweroff.elf" "button button_ms=60000"
mark
send "start $(spec d always)"
if await '^done start d 0$' && await_file "$TMP/vms/d/console.log" 'waiting for the power button' &&
	send "stop d graceful 30" &&
	await '^event d stopped restarting=0 .*reason=guest powered off$' && await '^done stop d 0$'; then
	pass supervisor/stop-power-button
else
	fail supervisor/stop-power-button "$(why)"
fi

# Forced stop and kill by request: stopped, no restart (policy always).
vm_manifest e "$G/shell.elf"
mark
send "start $(spec e always)"
if await '^done start e 0$' && send "stop e force" &&
	await '^event e stopped restarting=0 .*reason=stopped by request$'; then
	pass supervisor/stop-force
else
	fail supervisor/stop-force "$(why)"
fi
mark
send "start $(spec e always)"
if await '^done start e 0$' && send "kill e" &&
	await '^event e stopped restarting=0 .*signal=9 .*reason=killed by request$' &&
	await '^done kill e 0$'; then
	pass supervisor/kill
else
	fail supervisor/kill "$(why)"
fi

# "always" restarts a guest that exits, with a growing delay, until the
# limit (3 per minute in --fast).
vm_manifest f "$G/exit_code.elf" "code=0"
mark
send "start $(spec f always)"
if await '^event f stopped restarting=1 delay=200 ' &&
	await '^event f stopped restarting=1 delay=400 ' &&
	await '^event f stopped restarting=1 delay=800 ' &&
	await '^event f stopped restarting=0 .*reason=guest exited with code 0; restart limit reached \(3 in 60 s\)$' &&
	[ "$(info f | field restarts)" = 3 ]; then
	pass supervisor/policy-always-limit
else
	fail supervisor/policy-always-limit "$(why)"
fi

# A VM that cannot be built: crashed, with the worker's own error line.
vm_manifest g "$TMP/vms/g/missing.elf"
mark
send "start $(spec g no)"
if await "^event g crashed restarting=0 .*status=3 .*reason=kernel: no such file '$TMP/vms/g/missing.elf'\$" &&
	await '^done start g ECHILD$'; then
	pass supervisor/build-failure
else
	fail supervisor/build-failure "$(why)"
fi

# Re-adoption: the daemon goes away, its workers keep running and the next
# one adopts them; autostart starts the VMs marked so that are not running.
vm_manifest h "$G/shell.elf"
vm_manifest i "$G/exit_code.elf" "code=5"
vm_manifest j "$G/shell.elf"
vm_manifest k "$G/shell.elf"
mark
send "start $(spec h no)"
send "start $(spec k no)"
await '^done start h 0$' && await '^done start k 0$'
ph=$(info h | field pid)
pk=$(info k | field pid)
send detach
timeout "$T" tail --pid="$DRV_PID" -f /dev/null
wait "$DRV_PID" 2>/dev/null
exec 7>&-
alive=0
kill -0 "$ph" 2>/dev/null && kill -0 "$pk" 2>/dev/null && alive=1
# A worker that dies while no daemon watches leaves stale files.
kill -9 "$pk"
timeout "$T" tail --pid="$pk" -f /dev/null
drv_start "$TMP/d2.out"
mark
send "startup h:$TMP/vms/h:$TMP/vms/h/vm.raeVM:no:0 i:$TMP/vms/i:$TMP/vms/i/vm.raeVM:no:1 j:$TMP/vms/j:$TMP/vms/j/vm.raeVM:no:0"
if [ $alive = 1 ] && await '^event h running .*reason=adopted from an earlier daemon$' &&
	await '^done startup 0$' && [ "$(info h | field pid)" = "$ph" ] &&
	[ "$(info h | field adopted)" = 1 ] && await_file "$TMP/vms/h/console.log" "$BANNER" &&
	send "view 0 h $TMP/vh.out" &&
	send "type 0 echo adopted-console" && await_file "$TMP/vh.out" '^adopted-console'; then
	pass supervisor/readopt
else
	fail supervisor/readopt "alive=$alive; $(why)"
fi
if await '^event i stopped restarting=0 .*code=5 ' && [ "$(info j | field state)" = stopped ] &&
	[ "$(info j | field pid)" = 0 ] && grep -q '^event i starting .*reason=autostart$' "$OUT"; then
	pass supervisor/autostart
else
	fail supervisor/autostart "$(why)"
fi
# An adopted worker is not our child: its kill -9 is seen as a lost channel.
mark
kill -9 "$ph"
if await '^event h crashed restarting=0 .*reason=the worker ended without a report$'; then
	pass supervisor/adopted-kill9
else
	fail supervisor/adopted-kill9 "$(why)"
fi
mark
send "adopt $(spec k no)"
if await '^done adopt k ESRCH$' && [ ! -e "$RUN/k/control.sock" ] &&
	[ ! -e "$RUN/k/worker.pid" ] && [ ! -e "$RUN/k/console.sock" ]; then
	pass supervisor/stale-adoption
else
	fail supervisor/stale-adoption "$(ls "$RUN/k" | tr '\n' ' '); $(why)"
fi

# Daemon shutdown: every VM stops (the listening guest by its button).
vm_manifest l "$G/poweroff.elf" "button button_ms=60000"
mark
send "start $(spec l no)"
send "start $(spec j on-failure)"
await '^done start l 0$' && await '^done start j 0$' &&
	await_file "$TMP/vms/l/console.log" 'waiting for the power button' >/dev/null
mark
send "stopall 2"
if await '^done stopall 0$' && grep -q '^event l stopped .*reason=guest powered off$' "$OUT" &&
	grep -q '^event j stopped restarting=0 .*did not power off within 2 s' "$OUT"; then
	pass supervisor/stop-all
else
	fail supervisor/stop-all "$(why)"
fi
send detach
timeout "$T" tail --pid="$DRV_PID" -f /dev/null
