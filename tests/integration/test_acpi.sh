#!/usr/bin/env bash
# ACPI power management: a guest's S5 write ends the VM with status 0, and
# SIGTERM presses the power button, which a guest that listens answers by
# powering off (status 0 again). The guest is tests/guests/poweroff.c.
. "$(dirname "$0")/lib.sh"

CASES="tables poweroff power-button sigterm-no-timeout bad-timeout"
if [ -n "$KVM_SKIP" ]; then
	for id in $CASES; do skip "acpi/$id" "$KVM_SKIP"; done
	exit 0
fi
GUEST="$GUESTS/poweroff.elf"

# wait_for FILE PATTERN: blocks until FILE has a line matching PATTERN
# (bounded by VM_TIMEOUT); returns non-zero on timeout.
wait_for() {
	timeout "$VM_TIMEOUT" bash -c 'tail -n +1 -f "$1" | grep -q -m1 -- "$2"' _ "$1" "$2"
}

# The guest reads the tables as an OSPM would: the FADT's PM1a blocks at
# the ports the PM device answers, and \_S5 in the DSDT.
vm tables --kernel "$GUEST" --cmdline info
if [ "$status" = 0 ] && [ ! -s "$TMP/tables.err" ] &&
	expect_output tables 'PM1a_CNT port 0x604, PM1a_EVT 0x600/4, SMI_CMD 0 ACPI_ENABLE 0, SCI 9' &&
	expect_output tables '\\_S5 SLP_TYPa=5 SLP_TYPb=5'; then
	pass acpi/tables
else
	fail acpi/tables "$(describe tables)"
fi

# A guest that powers off on its own: status 0, whichever vCPU wrote S5.
vm poweroff --kernel "$GUEST" --cpus 2
if [ "$status" = 0 ] && [ ! -s "$TMP/poweroff.err" ] &&
	expect_output poweroff '^poweroff: entering S5' &&
	! expect_output poweroff 'still running'; then
	pass acpi/poweroff
else
	fail acpi/poweroff "$(describe poweroff)"
fi

# button_case NAME WANT_STATUS OUTPUT_PATTERN RAEVMD_FLAGS...: starts the
# guest waiting for the power button, sends SIGTERM once it waits, and
# checks the status, the guest's output and an empty stderr.
button_case() {
	local name=$1 want=$2 pattern=$3
	shift 3
	"$RAEVMD" run --kernel "$GUEST" --cpus 2 --cmdline "button button_ms=60000" \
		"$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	local pid=$!
	if ! wait_for "$TMP/$name.out" 'waiting for the power button'; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid"
		status=$?
		fail "acpi/$name" "the guest never waited; $(describe "$name")"
		return
	fi
	kill -TERM "$pid"
	timeout "$VM_TIMEOUT" tail --pid="$pid" -f /dev/null
	wait "$pid"
	status=$?
	if [ "$status" = "$want" ] && [ ! -s "$TMP/$name.err" ] &&
		expect_output "$name" "$pattern"; then
		pass "acpi/$name"
	else
		fail "acpi/$name" "expected status $want and no error; $(describe "$name")"
	fi
}

# SIGTERM presses the button; the guest takes the SCI and powers off.
button_case power-button 0 '^poweroff: power button pressed \(sci'
# With a timeout of 0, SIGTERM stops at once, as it did before ACPI.
button_case sigterm-no-timeout 143 'waiting for the power button' \
	--shutdown-timeout 0

vm bad-timeout --kernel "$GUEST" --shutdown-timeout 86401
if [ "$status" = 1 ] && [ ! -s "$TMP/bad-timeout.out" ] &&
	[ "$(cat "$TMP/bad-timeout.err")" = \
		"raevmd: --shutdown-timeout: '86401' is not a number of seconds from 0 to 86400" ]; then
	pass acpi/bad-timeout
else
	fail acpi/bad-timeout "$(describe bad-timeout)"
fi
