# Shared helpers for integration tests: source it, then call pass/fail/skip.
# Each result is one line in $RV_RESULTS and one line on stdout.
# shellcheck shell=bash
RAEVMD=${RV_BUILD:-build}/raevmd
GUESTS=${RV_BUILD:-build}/guests
RV_RESULTS=${RV_RESULTS:-/dev/null}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# Upper bound for one VM run: a guard against hangs, not a timing assertion.
VM_TIMEOUT=${VM_TIMEOUT:-120}

pass() { echo "PASS $1" | tee -a "$RV_RESULTS" | sed 's/^/    /'; }
fail() { echo "FAIL $1: $2" | tee -a "$RV_RESULTS" | sed 's/^/    /'; }
skip() { echo "SKIP $1: $2" | tee -a "$RV_RESULTS" | sed 's/^/    /'; }

# Why KVM tests cannot run here, or nothing when they can.
kvm_unavailable() {
	if [ ! -e /dev/kvm ]; then
		echo "no /dev/kvm on this host"
	elif ! { exec 9<>/dev/kvm; } 2>/dev/null; then
		echo "/dev/kvm is not accessible to $(id -un)"
	else
		exec 9>&-
	fi
}
KVM_SKIP=$(kvm_unavailable)

# vm NAME ARGS...: runs raevmd run ARGS with stdin from /dev/null, storing
# stdout in $TMP/NAME.out, stderr in $TMP/NAME.err and the status in $status.
vm() {
	local name=$1
	shift
	timeout -k 5 "$VM_TIMEOUT" "$RAEVMD" run "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	status=$?
}

# expect_output NAME PATTERN: the guest's serial output matches (grep -E).
expect_output() {
	grep -Eq -- "$2" "$TMP/$1.out"
}

# Describes a run for a failure message.
describe() {
	printf 'status %s; stdout: %s; stderr: %s' "$status" \
		"$(head -c 300 "$TMP/$1.out" | tr '\n' '|')" \
		"$(head -c 300 "$TMP/$1.err" | tr '\n' '|')"
}
