#!/usr/bin/env bash
# The serial console: host input reaches the guest through UART interrupts,
# and SIGINT/SIGTERM stop a running VM cleanly with 128 + the signal.
. "$(dirname "$0")/lib.sh"

if [ -n "$KVM_SKIP" ]; then
	for id in input sigint sigterm; do skip "console/$id" "$KVM_SKIP"; done
	exit 0
fi

# wait_for FILE PATTERN: blocks until FILE has a line matching PATTERN
# (bounded by VM_TIMEOUT); returns non-zero on timeout.
wait_for() {
	timeout "$VM_TIMEOUT" bash -c 'tail -n +1 -f "$1" | grep -q -m1 -- "$2"' _ "$1" "$2"
}

# The shell guest prints this banner line once its console is ready. Input
# typed before the guest's UART driver resets its FIFOs is lost, as on a real
# serial line, so the tests type only after it.
READY="type 'help'"

# Input typed on stdin drives the interactive guest.
mkfifo "$TMP/input.in"
exec 7<>"$TMP/input.in"
timeout -k 5 "$VM_TIMEOUT" "$RAEVMD" run --kernel "$GUESTS/shell.elf" --cpus 2 \
	<"$TMP/input.in" >"$TMP/input.out" 2>"$TMP/input.err" &
pid=$!
wait_for "$TMP/input.out" "$READY"
printf 'echo hello-from-host\nbogus\nexit 7\n' >&7
wait "$pid"
status=$?
exec 7>&-
if [ "$status" = 7 ] && grep -q '^hello-from-host' "$TMP/input.out" &&
	grep -q 'unknown command: bogus' "$TMP/input.out"; then
	pass console/input
else
	fail console/input "$(describe input)"
fi

# signal_case NAME SIGNAL WANT_STATUS [RAEVMD_FLAGS...]
signal_case() {
	local name=$1 sig=$2 want=$3
	shift 3
	mkfifo "$TMP/$name.in"
	# Hold the FIFO open so the guest waits for input instead of seeing EOF.
	exec 8<>"$TMP/$name.in"
	"$RAEVMD" run --kernel "$GUESTS/shell.elf" --cpus 2 "$@" <"$TMP/$name.in" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" &
	local pid=$!
	if ! wait_for "$TMP/$name.out" "$READY"; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid"
		status=$?
		exec 8>&-
		fail "console/$name" "no banner; $(describe "$name")"
		return
	fi
	kill "-$sig" "$pid"
	timeout "$VM_TIMEOUT" tail --pid="$pid" -f /dev/null
	wait "$pid"
	status=$?
	exec 8>&-
	if [ "$status" = "$want" ] && [ ! -s "$TMP/$name.err" ]; then
		pass "console/$name"
	else
		fail "console/$name" "expected status $want and no error; $(describe "$name")"
	fi
}

signal_case sigint INT 130
# SIGTERM presses the ACPI power button, which the shell guest ignores, so
# the VM is stopped hard after --shutdown-timeout with 128 + SIGTERM.
signal_case sigterm TERM 143 --shutdown-timeout 1
