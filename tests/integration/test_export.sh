#!/usr/bin/env bash
# Bundles and ephemeral disks (docs/manifest.md "Bundles", "ephemeral"):
#  - raevm export of a VM with a qcow2 overlay and a sparse raw disk, import
#    under another name, the disks compared with qemu-img compare, the
#    imported VM booted through the daemon;
#  - a bundle with one byte changed, a truncated one, and one with trailing
#    data are refused with one line, leaving no VM and no files behind;
#  - an ephemeral VM's guest writes its disk, which is byte-identical
#    afterwards, also after kill -9 of the VM, and the tmpfs has no file.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

RAEVM=${RV_BUILD:-build}/raevm
WAIT=${WAIT:-60} # seconds: a bound against hangs, not a timing assertion
for tool in qemu-img zstd tar; do
	if ! command -v "$tool" >/dev/null; then
		skip export "$tool is not installed (make deps installs it)"
		exit 0
	fi
done
if [ ! -x "$RAEVMD" ] || [ ! -x "$RAEVM" ] || [ ! -e "$GUESTS/blk_rw.elf" ]; then
	skip export "raevmd, raevm or the guests are not built"
	exit 0
fi

# The manifests name the guests by absolute path.
GUESTS=$(cd "$GUESTS" && pwd)
D=$TMP/x
mkdir -p "$D"
SOCK=$D/run/raevmd.sock
DPID=
R() { "$RAEVM" --socket "$SOCK" "$@"; }

# wait_for WHAT COMMAND: polls COMMAND until it succeeds, at most $WAIT s.
wait_for() {
	local i
	for ((i = 0; i < WAIT * 10; i++)); do
		eval "$2" && return 0
		sleep 0.1
	done
	fail "export/wait" "no $1 within ${WAIT}s"
	return 1
}

stop_daemon() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}
trap 'stop_daemon; rm -rf "$TMP"' EXIT

"$RAEVMD" daemon --socket "$SOCK" --state-dir "$D/state" \
	--runtime-dir "$D/run" >"$TMP/daemon.log" 2>&1 &
DPID=$!
wait_for "daemon" 'R version >/dev/null 2>&1' || exit 0

# ---------------------------------------------------------------------------
# The source VM: a qcow2 overlay over a qcow2 base, and a sparse raw disk.

head -c 3145728 /dev/urandom >"$D/base.raw"
qemu-img convert -q -f raw -O qcow2 "$D/base.raw" "$D/base.qcow2"
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 "$D/over.qcow2" 8M
# A write into the overlay (through raevmd img io if qemu-io is missing).
if command -v qemu-io >/dev/null; then
	qemu-io -f qcow2 -c 'write -P 0x5c 1M 64k' "$D/over.qcow2" >/dev/null
fi
truncate -s 64M "$D/data.img"
printf 'sparse raw data' | dd of="$D/data.img" bs=1 seek=40000000 conv=notrunc 2>/dev/null
cat >"$D/src.raeVM" <<JSON
{"raevm": 1, "name": "src", "memory": "64M",
 "boot": {"kernel": "$GUESTS/blk_rw.elf", "cmdline": "sectors=2048 seed=7"},
 "disks": [{"path": "$D/over.qcow2", "format": "qcow2"},
           {"path": "$D/data.img"}]}
JSON

if R create "$D/src.raeVM" >"$TMP/create.out" 2>&1 &&
	R export src -o "$D/src.raevm" >"$TMP/export.out" 2>&1 &&
	[ -s "$D/src.raevm" ]; then
	pass export/export
else
	fail export/export "$(cat "$TMP/create.out" "$TMP/export.out" | head -c 300)"
fi

# The bundle is an ordinary tar.zst whose SHA256SUMS sha256sum accepts.
mkdir -p "$D/unpacked"
if zstd -dc "$D/src.raevm" | tar -xf - -C "$D/unpacked" &&
	(cd "$D/unpacked" && sha256sum --quiet -c SHA256SUMS) &&
	jq -e '.disks[0].path == "disks/0-over.qcow2"' "$D/unpacked/manifest.raeVM" >/dev/null; then
	pass export/standard-tools
else
	fail export/standard-tools "tar/sha256sum/jq refused the bundle"
fi
# Sparse: the 64 MiB raw disk (15 bytes of data) costs nearly nothing.
size=$(stat -c %s "$D/src.raevm")
if [ "$size" -lt 4500000 ]; then
	pass export/sparse
else
	fail export/sparse "bundle is $size bytes"
fi

# ---------------------------------------------------------------------------
# Import under another name, compare, boot.

IMG=$D/state/images/copy
if R import "$D/src.raevm" --name copy >"$TMP/import.out" 2>&1 &&
	[ -f "$IMG/disks/0-over.qcow2" ] && [ -f "$IMG/disks/1-data.img" ]; then
	pass export/import
else
	fail export/import "$(head -c 300 "$TMP/import.out")"
fi
if qemu-img compare -q -f qcow2 -F qcow2 "$D/over.qcow2" "$IMG/disks/0-over.qcow2" &&
	qemu-img compare -q -f raw -F raw "$D/data.img" "$IMG/disks/1-data.img"; then
	pass export/compare
else
	fail export/compare "imported disks differ from the originals"
fi
if ! qemu-img info "$IMG/disks/0-over.qcow2" | grep -q '^backing file'; then
	pass export/flattened
else
	fail export/flattened "the imported qcow2 still names a backing file"
fi
used=$(du -k "$IMG/disks/1-data.img" | cut -f1)
if [ "$used" -lt 1024 ]; then
	pass export/import-sparse
else
	fail export/import-sparse "the imported raw disk uses $used KiB"
fi

if R start copy >"$TMP/start.out" 2>&1 &&
	wait_for "end of the imported VM" \
		'[ "$(R info copy --json | jq -r .state)" != running ] && [ "$(R info copy --json | jq -r .state)" != starting ]' &&
	R logs copy | grep -q 'blk_rw: ok sectors=2048'; then
	pass export/boot-imported
else
	fail export/boot-imported "$(head -c 200 "$TMP/start.out"); $(R logs copy 2>&1 | tail -3 | tr '\n' '|')"
fi

# ---------------------------------------------------------------------------
# Damaged bundles: one line, exit status 1, nothing left behind.

refused() { # ID FILE PATTERN
	local out rc
	out=$(R import "$2" --name bad 2>&1)
	rc=$?
	if [ "$rc" != 0 ] && [ "$(grep -c . <<<"$out")" = 1 ] &&
		grep -Eq "$3" <<<"$out" && ! R info bad >/dev/null 2>&1 &&
		[ ! -e "$D/state/images/bad" ] &&
		[ -z "$(find "$D/state/images" -maxdepth 1 -name '.import-*')" ]; then
		pass "export/refused-$1"
	else
		fail "export/refused-$1" "status $rc: $out"
	fi
}

zstd -dc "$D/src.raevm" >"$D/b.tar"
off=$(grep -abo 'sparse raw data' "$D/b.tar" | head -1 | cut -d: -f1)
cp "$D/b.tar" "$D/bad.tar"
printf 'S' | dd of="$D/bad.tar" bs=1 seek="$off" conv=notrunc 2>/dev/null
zstd -q -f "$D/bad.tar" -o "$D/bad.raevm"
refused one-byte "$D/bad.raevm" "'disks/1-data.img' is damaged: its SHA-256 does not match SHA256SUMS"
head -c 100000 "$D/src.raevm" >"$D/trunc.raevm"
refused truncated "$D/trunc.raevm" "truncated"
{ cat "$D/src.raevm"; echo junk; } >"$D/tail.raevm"
refused trailing "$D/tail.raevm" "trailing data after the compressed stream"
# A bundle whose manifest points a disk at a host file.
mkdir -p "$D/evil"
cp -r "$D/unpacked/." "$D/evil/"
jq '.disks[1].path = "/etc/passwd"' "$D/unpacked/manifest.raeVM" >"$D/evil/manifest.raeVM"
(cd "$D/evil" && sha256sum manifest.raeVM boot/* disks/* >SHA256SUMS &&
	tar --format=ustar -cf - manifest.raeVM boot/* disks/* SHA256SUMS) | zstd -q >"$D/evil.raevm"
refused host-path "$D/evil.raevm" "cannot import .*: disks\[1\]\.path must name a disks/ file of the bundle$"
stop_daemon

# ---------------------------------------------------------------------------
# Ephemeral disks.

if [ -n "$KVM_SKIP" ]; then
	skip export/ephemeral "$KVM_SKIP"
	exit 0
fi
truncate -s 16M "$D/eph.img"
head -c 2097152 /dev/urandom | dd of="$D/eph.img" conv=notrunc 2>/dev/null
cp "$D/eph.img" "$D/eph.orig"
shm_before=$(ls -A /dev/shm | sort)
vm eph --ephemeral --memory 64M --kernel "$GUESTS/blk_rw.elf" \
	--cmdline "sectors=32768 seed=9" --disk "$D/eph.img,format=raw"
if [ "$status" = 0 ] && expect_output eph 'blk_rw: ok sectors=32768' &&
	cmp -s "$D/eph.img" "$D/eph.orig"; then
	pass export/ephemeral-run
else
	fail export/ephemeral-run "$(describe eph); image changed: $(cmp "$D/eph.img" "$D/eph.orig" 2>&1)"
fi

# kill -9 while the guest writes forever: the image is untouched and the
# overlay, an O_TMPFILE without a name, leaves nothing in /dev/shm.
"$RAEVMD" run --ephemeral --memory 64M --kernel "$GUESTS/blk_rw.elf" \
	--cmdline "passes=0 seed=3 sectors=32768" --disk "$D/eph.img,format=raw" \
	>"$TMP/eph9.out" 2>&1 </dev/null &
pid=$!
if wait_for "a flushed pass" 'grep -q "blk_rw: pass 2 seed .* flushed" "$TMP/eph9.out"'; then
	# The VM may run in a child of raevmd run (the sandbox): kill -9 the
	# process that holds the overlay, then raevmd run itself.
	holder=
	for p in $pid $(pgrep -P "$pid"); do
		if ls -l "/proc/$p/fd" 2>/dev/null | grep -q '/dev/shm/.*(deleted)'; then
			holder=$p
		fi
	done
	overlay=$([ -n "$holder" ] && echo 1 || echo 0)
	[ -n "$holder" ] && kill -9 "$holder"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	shm_after=$(ls -A /dev/shm | sort)
	if cmp -s "$D/eph.img" "$D/eph.orig" && [ "$shm_before" = "$shm_after" ] &&
		[ "$overlay" -ge 1 ]; then
		pass export/ephemeral-kill9
	else
		fail export/ephemeral-kill9 "image same: $(cmp -s "$D/eph.img" "$D/eph.orig" && echo yes || echo no); overlays seen: $overlay; new in /dev/shm: $(comm -13 <(echo "$shm_before") <(echo "$shm_after") | head -3 | tr '\n' ' ')"
	fi
else
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
fi
