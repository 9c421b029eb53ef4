# Shared by the benchmarks in tests/bench/ (and test_net.sh's wait_for):
# source it; it only defines functions.
# shellcheck shell=bash

# bench_need TAG FILE...: ends the benchmark when a build product is
# missing (status 1) or /dev/kvm is not usable here (a SKIP, status 0).
# TAG names the benchmark in the SKIP line ("net: "); it may be empty.
bench_need() {
	local tag=$1 f
	shift
	for f in "$@"; do
		[ -e "$f" ] || { echo "bench: missing $f (run make first)" >&2; exit 1; }
	done
	if [ ! -w /dev/kvm ]; then
		echo "bench: ${tag}SKIP: /dev/kvm is not usable here" >&2
		exit 0
	fi
}

# bench_need_qemu TAG: sets QEMU to the peer VMM, or ends the benchmark
# with a SKIP when it is not installed.
bench_need_qemu() {
	QEMU=$(command -v qemu-system-x86_64 || true)
	if [ -z "$QEMU" ]; then
		echo "bench: ${1}SKIP: qemu-system-x86_64 is not installed (make deps-bench)" >&2
		exit 0
	fi
}

# median [EMPTY]: the median of the numbers on stdin, one a line; EMPTY
# (default 0) when there are none.
median() {
	sort -g | awk -v empty="${1-0}" '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print empty}'
}

# wait_for FILE PATTERN SECONDS: until FILE has a line matching PATTERN
# (grep -E; status 0) or the time is up (status 1). Polls the file; the
# bound is what matters.
wait_for() {
	local end=$((SECONDS + $3))
	while [ "$SECONDS" -le "$end" ]; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
