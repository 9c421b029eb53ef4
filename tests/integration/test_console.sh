#!/usr/bin/env bash
# The serial console: host input reaches the guest through UART interrupts,
# and SIGINT/SIGTERM stop a running VM cleanly with 128 + the signal.
. "$(dirname "$0")/lib.sh"

if [ -n "$KVM_SKIP" ]; then
	for id in input sigint sigterm; do skip "console/$id" "$KVM_SKIP"; done
	exit 0
fi

# Input typed on stdin drives the interactive guest.
printf 'echo hello-from-host\nbogus\nexit 7\n' |
	timeout -k 5 "$VM_TIMEOUT" "$RAEVMD" run --kernel "$GUESTS/shell.elf" --cpus 2 \
		>"$TMP/input.out" 2>"$TMP/input.err"
status=$?
if [ "$status" = 7 ] && grep -q '^hello-from-host' "$TMP/input.out" &&
	grep -q 'unknown command: bogus' "$TMP/input.out"; then
	pass console/input
else
	fail console/input "$(describe input)"
fi

# wait_for FILE PATTERN: blocks until FILE has a line matching PATTERN
# (bounded by VM_TIMEOUT); returns non-zero on timeout.
wait_for() {
	timeout "$VM_TIMEOUT" bash -c 'tail -n +1 -f "$1" | grep -q -m1 -- "$2"' _ "$1" "$2"
}

# signal_case NAME SIGNAL WANT_STATUS
signal_case() {
	local name=$1 sig=$2 want=$3
	mkfifo "$TMP/$name.in"
	# Hold the FIFO open so the guest waits for input instead of seeing EOF.
	exec 8<>"$TMP/$name.in"
	"$RAEVMD" run --kernel "$GUESTS/shell.elf" --cpus 2 <"$TMP/$name.in" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" &
	local pid=$!
	if ! wait_for "$TMP/$name.out" 'raevm> '; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid"
		exec 8>&-
		fail "console/$name" "no prompt; $(describe "$name")"
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
signal_case sigterm TERM 143
