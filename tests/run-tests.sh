#!/usr/bin/env bash
# Runs raevm's tests and prints one closing line: "N passed, N failed, N skipped".
#   tests/run-tests.sh BUILD_DIR [unit|integration|all]
# Unit tests are cmocka binaries (TAP output); integration tests are the
# tests/integration/test_*.sh scripts, which report through lib.sh.
set -u
BUILD=${1:-build}
WHAT=${2:-all}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT

export RV_FIXTURES="$BUILD/fixtures"
export RV_SOURCE_DIR="$ROOT"
export RV_BUILD="$BUILD"
export RV_RESULTS="$RESULTS/integration"

passed=0 failed=0 skipped=0

# run_cmocka DIR: runs every cmocka binary DIR/test_* and counts its TAP lines.
run_cmocka() {
	local bin name out rc
	for bin in "$1"/test_*; do
		[ -x "$bin" ] || continue
		name=${bin##*/}
		out=$(cd "$ROOT" && CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$bin" 2>&1)
		rc=$?
		local p f s
		p=$(grep -c '^ok ' <<<"$out")
		s=$(grep -c '^not ok .*# SKIP' <<<"$out")
		f=$(grep '^not ok ' <<<"$out" | grep -vc '# SKIP')
		# Sanitizer reports count as failures even when the test passed.
		if grep -Eq 'runtime error:|(Address|Leak|Thread|UndefinedBehavior)Sanitizer' <<<"$out"; then
			[ "$f" -eq 0 ] && f=1
			echo "FAIL $name: sanitizer report"
		fi
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			# A crash or an abort: nothing reported the failure.
			f=1
			echo "FAIL $name: exited with status $rc"
		fi
		grep '^not ok ' <<<"$out" | grep -v '# SKIP' | sed "s/^/FAIL $name: /"
		grep '^not ok .*# SKIP' <<<"$out" | sed "s/^not ok [0-9]* # SKIP/SKIP $name:/"
		if [ "$f" -ne 0 ]; then
			grep '^#' <<<"$out" | head -20 | sed 's/^/    /'
			grep -E 'runtime error|AddressSanitizer|LeakSanitizer' <<<"$out" | head -5 | sed 's/^/    /'
		fi
		printf '  %-24s %3d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
		passed=$((passed + p))
		failed=$((failed + f))
		skipped=$((skipped + s))
	done
}

run_unit() {
	run_cmocka "$BUILD/tests/unit"
}

run_integration() {
	local t
	run_cmocka "$BUILD/tests/integration"
	: >"$RV_RESULTS"
	for t in "$ROOT"/tests/integration/test_*.sh; do
		echo "  ${t##*/}"
		(cd "$ROOT" && bash "$t")
	done
	passed=$((passed + $(grep -c '^PASS' "$RV_RESULTS")))
	failed=$((failed + $(grep -c '^FAIL' "$RV_RESULTS")))
	skipped=$((skipped + $(grep -c '^SKIP' "$RV_RESULTS")))
}

case "$WHAT" in
unit) run_unit ;;
integration) run_integration ;;
all)
	run_unit
	run_integration
	;;
*)
	echo "run-tests.sh: unknown selection '$WHAT' (unit, integration, all)" >&2
	exit 2
	;;
esac

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
