#!/usr/bin/env bash
# Resource limits through cgroups (docs/security.md "Resource limits"): a
# running VM's process sits in OWN/raevm/run-PID with the limits written,
# vCPU n's thread is pinned to the n-th CPU of the cpuset, the group is gone
# after the VM stops, and bad limits are refused at start with one line.
# The VM runs through tests/integration/limits_driver (rv_run_vm(), the code
# behind `raevmd run`, with the limits filled in); `raevmd run --limit` is
# checked too once raevmd has that option.
. "$(dirname "$0")/lib.sh"

DRIVER=${LIMITS_DRIVER:-${RV_BUILD:-build}/tests/integration/limits_driver}
CASES="files pinning removed bad-cpuset memory-below-guest rootless files-run
pinning-run removed-run bad-cpuset-run files-daemon removed-daemon"
READY="type 'help'"

skip_all() {
	for id in $CASES; do skip "limits/$id" "$1"; done
	exit 0
}

# cg_version: "v2" when a cgroup2 mount offers the memory controller to
# this process, else "v1" when a memory hierarchy is mounted, else nothing.
cg_mount() { # cg_mount TYPE [CONTROLLER]: the mount point
	awk -v t="$1" -v c="$2" '{
		for (i = 1; i <= NF; i++) if ($i == "-") break
		if ($(i + 1) != t) next
		if (c == "") { print $5; exit }
		n = split($(i + 3), o, ",")
		for (j = 1; j <= n; j++) if (o[j] == c) { print $5; exit }
	}' /proc/self/mountinfo
}
V2=$(cg_mount cgroup2)
if [ -n "$V2" ] && grep -qw memory "$V2$(sed -n 's/^0:://p' /proc/self/cgroup)/cgroup.controllers" 2>/dev/null; then
	CGV=v2
elif [ -n "$(cg_mount cgroup memory)" ]; then
	CGV=v1
else
	CGV=
fi

# cg_dir PID CONTROLLER: the directory of PID's group for CONTROLLER.
cg_dir() {
	local path
	if [ "$CGV" = v2 ]; then
		path=$(sed -n 's/^0:://p' "/proc/$1/cgroup")
		echo "$V2$path"
		return
	fi
	path=$(awk -F: -v c="$2" '{ n = split($2, o, ","); for (j = 1; j <= n; j++) if (o[j] == c) print $3 }' "/proc/$1/cgroup")
	echo "$(cg_mount cgroup "$2")$path"
}

[ -n "$KVM_SKIP" ] && skip_all "$KVM_SKIP"
[ -x "$DRIVER" ] || skip_all "$DRIVER is not built (make check builds it)"
[ -z "$CGV" ] && skip_all "no cgroup memory controller is mounted"
for c in memory cpu cpuset pids; do
	d=$(cg_dir $$ "$c")
	if [ ! -w "$d" ]; then
		skip_all "cgroup $d is not writable by $(id -un) (see docs/security.md)"
	fi
done
NCPU=$(nproc --all)
if [ "$NCPU" -ge 2 ]; then SET="1,0" PIN0=1 PIN1=0; else SET="0" PIN0=0 PIN1=0; fi

DRV_PID=
# The VM started last is killed at exit in case a case failed half-way.
cleanup() {
	[ -n "$DRV_PID" ] && kill -9 "$DRV_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

wait_for() {
	timeout "$VM_TIMEOUT" bash -c 'tail -n +1 -F "$1" | grep -q -m1 -- "$2"' _ "$1" "$2"
}

# ---------------------------------------------------------------------------
# running TAG CMD...: starts a VM (shell guest, 2 vCPUs, 64M, every limit
# set: memory 256M, cpu 50%, cpuset $SET, pids 64), reads back its cgroup
# files and vCPU affinity, ends it through the guest and checks that the
# group is gone. Results are limits/files$TAG, limits/pinning$TAG and
# limits/removed$TAG.
running() {
	local tag=$1 c t name got want inside pins left
	shift
	mkfifo "$TMP/vm$tag.in"
	exec 7<>"$TMP/vm$tag.in"
	"$@" <"$TMP/vm$tag.in" >"$TMP/vm$tag.out" 2>"$TMP/vm$tag.err" &
	DRV_PID=$!
	if ! wait_for "$TMP/vm$tag.out" "$READY"; then
		fail "limits/files$tag" "the VM did not start: $(describe "vm$tag")"
		skip "limits/pinning$tag" "the VM did not start"
		skip "limits/removed$tag" "the VM did not start"
		kill -9 "$DRV_PID"
		DRV_PID=
		exec 7>&-
		return
	fi
	declare -A DIR
	for c in memory cpu cpuset pids; do DIR[$c]=$(cg_dir "$DRV_PID" "$c"); done
	if [ "$CGV" = v2 ]; then
		got="memory.max=$(cat "${DIR[memory]}/memory.max") cpu.max=$(cat "${DIR[cpu]}/cpu.max")"
		want="memory.max=268435456 cpu.max=50000 100000"
	else
		got="memory.limit_in_bytes=$(cat "${DIR[memory]}/memory.limit_in_bytes") cfs_quota_us=$(cat "${DIR[cpu]}/cpu.cfs_quota_us") cfs_period_us=$(cat "${DIR[cpu]}/cpu.cfs_period_us")"
		want="memory.limit_in_bytes=268435456 cfs_quota_us=50000 cfs_period_us=100000"
	fi
	got="$got cpuset.cpus=$(cat "${DIR[cpuset]}/cpuset.cpus") pids.max=$(cat "${DIR[pids]}/pids.max")"
	if [ "$NCPU" -ge 2 ]; then want="$want cpuset.cpus=0-1"; else want="$want cpuset.cpus=0"; fi
	want="$want pids.max=64"
	inside=yes
	for c in memory cpu cpuset pids; do
		case "${DIR[$c]}" in */raevm/run-$DRV_PID) ;; *) inside="no: ${DIR[$c]}" ;; esac
	done
	if [ "$got" = "$want" ] && [ "$inside" = yes ]; then
		pass "limits/files$tag ($CGV)"
	else
		fail "limits/files$tag" "cgroup $CGV: got '$got', want '$want'; in group: $inside"
	fi

	# vCPU n runs only on the n-th CPU of the list.
	# The sandbox may run the VM in a jailed child: look at every process
	# of the group.
	pins=""
	for t in $(sed 's|^|/proc/|; s|$|/task/*|' "${DIR[memory]}/cgroup.procs"); do
		name=$(cat "$t/comm" 2>/dev/null)
		case "$name" in vcpu*)
			pins="$pins $name=$(awk '/^Cpus_allowed_list:/ { print $2 }' "$t/status")" ;;
		esac
	done
	pins=$(echo "$pins" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/^ *//; s/ *$//')
	if [ "$pins" = "vcpu0=$PIN0 vcpu1=$PIN1" ]; then
		pass "limits/pinning$tag"
	else
		fail "limits/pinning$tag" "got '$pins', want 'vcpu0=$PIN0 vcpu1=$PIN1'"
	fi

	printf 'exit 5\n' >&7
	timeout "$VM_TIMEOUT" tail --pid="$DRV_PID" -f /dev/null
	wait "$DRV_PID"
	status=$?
	DRV_PID=
	exec 7>&-
	left=""
	for c in memory cpu cpuset pids; do
		[ -e "${DIR[$c]}" ] && left="$left ${DIR[$c]}"
	done
	if [ "$status" = 5 ] && [ -z "$left" ] && [ ! -s "$TMP/vm$tag.err" ]; then
		pass "limits/removed$tag"
	else
		# Leave no group behind on the host, whatever went wrong.
		for c in $left; do rmdir "$c" "$(dirname "$c")" 2>/dev/null; done
		fail "limits/removed$tag" "status $status (want 5); left:${left:- none}; $(describe "vm$tag")"
	fi
}

running "" "$DRIVER" "$GUESTS/shell.elf" 2 64M 256M 50 "$SET" 64

# ---------------------------------------------------------------------------
# Refused at start: exactly one line naming the limit, status 1.
refused() { # refused ID PATTERN DRIVER_ARGS...
	local id=$1 pat=$2
	shift 2
	timeout -k 5 "$VM_TIMEOUT" "$DRIVER" "$GUESTS/hello.elf" "$@" \
		</dev/null >"$TMP/$id.out" 2>"$TMP/$id.err"
	status=$?
	if [ "$status" = 1 ] && [ "$(wc -l <"$TMP/$id.err")" = 1 ] &&
		grep -Eq -- "$pat" "$TMP/$id.err" && [ ! -s "$TMP/$id.out" ]; then
		pass "limits/$id"
	else
		fail "limits/$id" "want status 1 and one line /$pat/; $(describe "$id")"
	fi
}
refused bad-cpuset "limits\.cpuset: CPU $((NCPU + 3)) in '0,$((NCPU + 3))' is not online on this host" \
	1 64M - - "0,$((NCPU + 3))" -
refused memory-below-guest "^.*limits\.memory: 32 MiB must be larger than the guest's memory \(64 MiB\)" \
	1 64M 32M - - -

# Without write access to the cgroup tree (an ordinary user): one line that
# says why and how to delegate.
if [ "$(id -u)" != 0 ] || ! command -v runuser >/dev/null ||
	! runuser -u nobody -- test -x "$DRIVER"; then
	skip limits/rootless "needs root to run the driver as 'nobody'"
else
	runuser -u nobody -- timeout -k 5 "$VM_TIMEOUT" "$DRIVER" "$GUESTS/hello.elf" \
		1 64M 256M - - - </dev/null >"$TMP/rootless.out" 2>"$TMP/rootless.err"
	status=$?
	if [ "$status" = 1 ] && [ "$(wc -l <"$TMP/rootless.err")" = 1 ] &&
		grep -q "limits: cannot create cgroup .*: Permission denied (no write access to the cgroup tree: .*docs/security.md" "$TMP/rootless.err"; then
		pass limits/rootless
	else
		fail limits/rootless "want one 'Permission denied' line; $(describe rootless)"
	fi
fi

# ---------------------------------------------------------------------------
# The same through `raevmd run --limit`, once raevmd has the option.
RAEVMD=${LIMITS_WORKER:-$RAEVMD}
if [ ! -x "$RAEVMD" ] || ! "$RAEVMD" run --help 2>&1 | grep -q -- '--limit'; then
	for id in files-run pinning-run removed-run bad-cpuset-run; do
		skip "limits/$id" "$RAEVMD is not built or has no --limit option"
	done
else
	running -run "$RAEVMD" run --kernel "$GUESTS/shell.elf" --cpus 2 \
		--memory 64M --limit memory=256M --limit cpu=50 \
		--limit cpuset="$SET" --limit pids=64
	vm bad-cpuset-run --kernel "$GUESTS/hello.elf" --memory 64M \
		--limit cpuset="0,$((NCPU + 3))"
	if [ "$status" = 1 ] && [ "$(wc -l <"$TMP/bad-cpuset-run.err")" = 1 ] &&
		grep -q "limits.cpuset: CPU $((NCPU + 3)) in '0,$((NCPU + 3))' is not online" "$TMP/bad-cpuset-run.err"; then
		pass limits/bad-cpuset-run
	else
		fail limits/bad-cpuset-run "want one limits.cpuset line; $(describe bad-cpuset-run)"
	fi
fi

# ---------------------------------------------------------------------------
# Through the daemon's supervisor: the worker applies the manifest's limits
# to itself, and after a kill -9 of the worker the daemon removes the group.
SUP=${LIMITS_SUP_DRIVER:-${RV_BUILD:-build}/tests/integration/supervisor_driver}
WORKER=${LIMITS_WORKER:-$RAEVMD}
if [ ! -x "$SUP" ] || [ ! -x "$WORKER" ]; then
	skip limits/files-daemon "$SUP or $WORKER is not built"
	skip limits/removed-daemon "$SUP or $WORKER is not built"
	exit 0
fi
WORKER=$(cd "$(dirname "$WORKER")" && pwd)/$(basename "$WORKER")
G=$(cd "$GUESTS" && pwd)
mkdir -p "$TMP/run" "$TMP/vms/lim"
printf '{"raevm": 1, "name": "lim", "cpus": 2, "memory": "64M", "boot": {"kernel": "%s"}, "limits": {"memory": "256M", "cpu": 50, "cpuset": "%s", "pids": 64}}\n' \
	"$G/shell.elf" "$SET" >"$TMP/vms/lim/vm.raeVM"
mkfifo "$TMP/sup.in"
exec 7<>"$TMP/sup.in"
"$SUP" "$TMP/run" "$WORKER" --fast <"$TMP/sup.in" >"$TMP/sup.out" 2>"$TMP/sup.err" &
DRV_PID=$!
await() { # await PATTERN: the driver prints a matching line within $VM_TIMEOUT s
	timeout "$VM_TIMEOUT" bash -c 'tail -n +1 -F "$1" | grep -q -m1 -E -- "$2"' _ "$TMP/sup.out" "$1"
}
why() { printf 'driver: %s; worker.log: %s' "$(tail -n 4 "$TMP/sup.out" | tr '\n' '|')" \
	"$(tail -n 3 "$TMP/vms/lim/worker.log" 2>/dev/null | tr '\n' '|')"; }
echo "start lim $TMP/vms/lim $TMP/vms/lim/vm.raeVM no" >&7
wpid=
if await '^done start lim 0$'; then
	echo "info lim" >&7
	await '^info lim ' && wpid=$(sed -n 's/^info lim .*pid=\([0-9]*\).*/\1/p' "$TMP/sup.out" | head -n1)
fi
if [ -z "$wpid" ]; then
	fail limits/files-daemon "the VM did not start; $(why)"
	skip limits/removed-daemon "the VM did not start"
else
	declare -A DIR
	for c in memory cpu cpuset pids; do DIR[$c]=$(cg_dir "$wpid" "$c"); done
	if [ "$CGV" = v2 ]; then
		got=$(cat "${DIR[memory]}/memory.max")
	else
		got=$(cat "${DIR[memory]}/memory.limit_in_bytes")
	fi
	got="$got $(cat "${DIR[pids]}/pids.max") ${DIR[cpuset]##*/raevm/}"
	if [ "$got" = "268435456 64 lim" ]; then
		pass "limits/files-daemon ($CGV)"
	else
		fail limits/files-daemon "got '$got', want '268435456 64 lim'; $(why)"
	fi
	kill -9 "$wpid"
	left=
	if await '^event lim crashed '; then
		for c in memory cpu cpuset pids; do
			[ -e "${DIR[$c]}" ] && left="$left ${DIR[$c]}"
		done
		if [ -z "$left" ]; then
			pass limits/removed-daemon
		else
			fail limits/removed-daemon "left after the worker's end:$left"
		fi
	else
		fail limits/removed-daemon "no crash event; $(why)"
	fi
fi
echo "stopall 5" >&7
await '^done stopall ' || true
echo detach >&7
timeout "$VM_TIMEOUT" tail --pid="$DRV_PID" -f /dev/null
wait "$DRV_PID" 2>/dev/null
DRV_PID=
exec 7>&-
