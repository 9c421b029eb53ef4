#!/usr/bin/env bash
# virtio-blk under `raevmd run`, driven by the test-guest kit's block guests
# (tests/guests/README.md), with Debian's qemu-utils as the image oracle:
#  - blk_rw writes the kit's pattern through raw files and qcow2 images made
#    by raevm and by qemu-img; `qemu-img check` passes and the host reads
#    the pattern back;
#  - blk_read reads a disk the host prepared, and GET_ID returns the serial;
#  - blk_ro: a read-only disk refuses writes with IOERR and stays unchanged;
#  - a qcow2 overlay over a raw base: reads fall through, writes land in
#    the overlay, the base keeps its checksum;
#  - blk_hostile: malformed requests on one disk put it in NEEDS_RESET with
#    exactly one log line naming the reason, the other disk keeps working
#    and raevmd lives;
#  - several disks in one VM, each reaching its own file;
#  - durability: raevmd is killed with SIGKILL while the guest writes and
#    flushes in a loop; every pass the guest saw flushed is in the file, and
#    qcow2 images pass `qemu-img check` (leaked clusters allowed);
#  - bad disks get one line on stderr before KVM is touched.
# The disk pattern is made and checked by blk_pattern.c (built here: a fresh
# Debian may have no Python).
. "$(dirname "$0")/lib.sh"

D=$TMP/blk
mkdir -p "$D"
PAT=$D/blk_pattern
if ! "${CC:-gcc}" -std=gnu11 -O2 -Wall -Werror -o "$PAT" \
	"$(dirname "$0")/blk_pattern.c" 2>"$D/cc.err"; then
	skip blk "cannot build blk_pattern.c: $(head -c 200 "$D/cc.err")"
	exit 0
fi
HAVE_QEMU_IMG=
command -v qemu-img >/dev/null && HAVE_QEMU_IMG=1

# ---------------------------------------------------------------------------
# Bad disks: one line, a non-zero status, before KVM is touched (the KVM
# device is made unreachable, so reaching it would give another message).

# disk_err ID PATTERN -- raevmd run args...
disk_err() {
	local id=$1 pattern=$2
	shift 3
	RAEVM_KVM_DEVICE=/nonexistent/kvm vm "blkerr-$id" --kernel "$GUESTS/hello.elf" "$@"
	local lines
	lines=$(grep -c . "$TMP/blkerr-$id.err")
	if [ "$status" = 0 ] || [ "$status" -ge 124 ]; then
		fail "blk/error/$id" "expected a non-zero status below 124; $(describe "blkerr-$id")"
	elif [ "$lines" != 1 ]; then
		fail "blk/error/$id" "expected one line on stderr, got $lines; $(describe "blkerr-$id")"
	elif ! grep -Eq -- "$pattern" "$TMP/blkerr-$id.err"; then
		fail "blk/error/$id" "stderr does not match /$pattern/; $(describe "blkerr-$id")"
	else
		pass "blk/error/$id"
	fi
}

if [ -e "$GUESTS/hello.elf" ]; then
	truncate -s 1M "$D/a.img"
	ln "$D/a.img" "$D/hardlink.img"
	ln -s a.img "$D/symlink.img"
	printf 'QFI\373garbage' >"$D/bad.qcow2"
	truncate -s 4096 "$D/bad.qcow2"
	disk_err missing "^raevmd: disks\[0\] '$D/none.img': no such file$" -- --disk "$D/none.img"
	disk_err directory "^raevmd: disks\[0\] '$D': is a directory$" -- --disk "$D"
	disk_err bad-qcow2 "^raevmd: disks\[0\] '$D/bad.qcow2': " -- --disk "$D/bad.qcow2,format=qcow2"
	disk_err raw-as-qcow2 "^raevmd: disks\[0\] '$D/a.img': " -- --disk "$D/a.img,format=qcow2"
	disk_err same-hardlink "^raevmd: disks\[1\] '$D/hardlink.img': the same file as disks\[0\] '$D/a.img'$" -- \
		--disk "$D/a.img" --disk "$D/hardlink.img"
	disk_err same-symlink "^raevmd: disks\[1\] '$D/symlink.img': the same file as disks\[0\] '$D/a.img'$" -- \
		--disk "$D/a.img,readonly" --disk "$D/symlink.img,readonly"
	# Unreadable, and read-only opened read-write, as an unprivileged user.
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		chmod 711 "$TMP" "$D"
		truncate -s 1M "$D/private.img" "$D/locked.img"
		chmod 600 "$D/private.img"
		chmod 444 "$D/locked.img"
		nobody() {
			local id=$1 pattern=$2
			shift 2
			RAEVM_KVM_DEVICE=/nonexistent/kvm timeout 30 setpriv --reuid=65534 --regid=65534 --clear-groups \
				"$RAEVMD" run --kernel "$GUESTS/hello.elf" "$@" \
				>"$TMP/blkerr-$id.out" 2>"$TMP/blkerr-$id.err" </dev/null
			status=$?
			if [ "$status" != 0 ] && [ "$status" -lt 124 ] &&
				[ "$(grep -c . "$TMP/blkerr-$id.err")" = 1 ] &&
				grep -Eq -- "$pattern" "$TMP/blkerr-$id.err"; then
				pass "blk/error/$id"
			else
				fail "blk/error/$id" "$(describe "blkerr-$id")"
			fi
		}
		# The kernel must be readable by nobody.
		cp "$GUESTS/hello.elf" "$D/hello.elf"
		chmod 644 "$D/hello.elf"
		GUESTS_SAVED=$GUESTS
		GUESTS=$D
		nobody unreadable "^raevmd: disks\[0\] '$D/private.img': permission denied$" --disk "$D/private.img,readonly"
		nobody readonly-file-rw "^raevmd: disks\[0\] '$D/locked.img': permission denied \(open it read-only\?\)$" \
			--disk "$D/locked.img"
		GUESTS=$GUESTS_SAVED
	else
		skip blk/error/unreadable "needs root and setpriv to run as an unprivileged user"
		skip blk/error/readonly-file-rw "needs root and setpriv to run as an unprivileged user"
	fi
	# A writable disk on a read-only file system (EROFS), in a private
	# mount namespace so nothing outside this test sees the mount.
	mkdir -p "$D/romnt"
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
		unshare -m true 2>/dev/null; then
		RAEVM_KVM_DEVICE=/nonexistent/kvm timeout 30 unshare -m sh -c '
			mount -t tmpfs none "$1" && truncate -s 1M "$1/d.img" &&
			mount -o remount,ro "$1" && exec "$2" run --kernel "$3" --disk "$1/d.img"' \
			sh "$D/romnt" "$RAEVMD" "$GUESTS/hello.elf" \
			>"$TMP/blkerr-rofs.out" 2>"$TMP/blkerr-rofs.err" </dev/null
		status=$?
		if [ "$status" != 0 ] && [ "$status" -lt 124 ] &&
			[ "$(grep -c . "$TMP/blkerr-rofs.err")" = 1 ] &&
			grep -Eq "^raevmd: disks\[0\] '$D/romnt/d.img': read-only file system \(open it read-only\?\)$" \
				"$TMP/blkerr-rofs.err"; then
			pass blk/error/readonly-fs
		else
			fail blk/error/readonly-fs "$(describe blkerr-rofs)"
		fi
	else
		skip blk/error/readonly-fs "needs root and a private mount namespace (unshare -m)"
	fi
else
	skip blk/errors "guests not built (make guests)"
fi

if [ -n "$KVM_SKIP" ]; then
	skip blk "$KVM_SKIP"
	exit 0
fi
for g in blk_rw blk_read blk_ro blk_hostile; do
	if [ ! -e "$GUESTS/$g.elf" ]; then
		skip blk "guest $g not built (make guests)"
		exit 0
	fi
done

# ---------------------------------------------------------------------------
# Helpers.

# guest_ok ID GUEST SUCCESS_LINE ARGS...: boots GUEST, which must exit 0
# and print SUCCESS_LINE (grep -E). Returns non-zero after reporting a
# failure; passing is the caller's call (it may check more).
guest_ok() {
	local id=$1 guest=$2 want=$3
	shift 3
	vm "$id" --kernel "$GUESTS/$guest.elf" "$@"
	if [ "$status" != 0 ]; then
		fail "blk/$id" "$guest exited with $status; $(describe "$id")"
		return 1
	fi
	if ! expect_output "$id" "$want"; then
		fail "blk/$id" "no /$want/ in the output; $(describe "$id")"
		return 1
	fi
	if grep -q . "$TMP/$id.err"; then
		fail "blk/$id" "unexpected stderr: $(head -c 300 "$TMP/$id.err")"
		return 1
	fi
	return 0
}

# as_raw IMAGE FORMAT OUT: the disk's contents as a raw file (qemu-img).
as_raw() {
	if [ "$2" = raw ]; then
		cp "$1" "$3"
	else
		qemu-img convert -f "$2" -O raw "$1" "$3"
	fi
}

# qcheck ID IMAGE [LEAKS_OK]: qemu-img check exits 0 (or 3 for leaks).
qcheck() {
	local out rc
	out=$(qemu-img check "$2" 2>&1)
	rc=$?
	if [ "$rc" = 0 ] || { [ -n "$3" ] && [ "$rc" = 3 ]; }; then
		return 0
	fi
	fail "blk/$1" "qemu-img check exited $rc: $(echo "$out" | head -5 | tr '\n' '|')"
	return 1
}

SECTORS=32768 # 16 MiB disks
EOL=$'\r?$' # the guest's serial lines end in CR LF

# ---------------------------------------------------------------------------
# blk_rw: the pattern through raw and qcow2 images, checked by the host.

rw_case() {
	local id=$1 img=$2 fmt=$3
	shift 3
	guest_ok "$id" blk_rw "^blk_rw: ok sectors=$SECTORS$EOL" --disk "$img,format=$fmt" "$@" || return
	if [ "$fmt" = qcow2 ]; then
		qcheck "$id" "$img" || return
	fi
	as_raw "$img" "$fmt" "$D/$id.raw" || { fail "blk/$id" "qemu-img convert failed"; return; }
	if ! out=$("$PAT" check "$D/$id.raw" 0 $SECTORS 0x5a); then
		fail "blk/$id" "the file does not hold the pattern: $out"
		return
	fi
	pass "blk/$id"
}

truncate -s $((SECTORS * 512)) "$D/rw.raw"
rw_case rw-raw "$D/rw.raw" raw
truncate -s $((SECTORS * 512)) "$D/rw-intx.raw"
rw_case rw-raw-intx "$D/rw-intx.raw" raw --cmdline 'irq=intx event_idx=0 indirect=0 chunk=4096 batch=32'
truncate -s $((SECTORS * 512)) "$D/rw-poll.raw"
rw_case rw-raw-poll "$D/rw-poll.raw" raw --cmdline 'irq=poll chunk=1048576 batch=2'
if [ -n "$HAVE_QEMU_IMG" ]; then
	"$RAEVMD" img create -f qcow2 "$D/rw-raevm.qcow2" $((SECTORS * 512)) >/dev/null
	rw_case rw-qcow2-raevm "$D/rw-raevm.qcow2" qcow2
	qemu-img create -q -f qcow2 "$D/rw-qemu.qcow2" $((SECTORS * 512))
	rw_case rw-qcow2-qemu "$D/rw-qemu.qcow2" qcow2
	qemu-img create -q -f qcow2 -o cluster_size=4096 "$D/rw-4k.qcow2" $((SECTORS * 512))
	rw_case rw-qcow2-4k-clusters "$D/rw-4k.qcow2" qcow2
else
	skip blk/rw-qcow2 "qemu-img not installed (Debian package qemu-utils)"
fi

# ---------------------------------------------------------------------------
# blk_read on a host-prepared disk, with GET_ID.

"$PAT" gen "$D/pattern.raw" $SECTORS 0
if guest_ok read-raw blk_read "^blk_read: ok sectors=$SECTORS$EOL" --cmdline 'serial=vol-0001' \
	--disk "$D/pattern.raw,serial=vol-0001"; then
	if expect_output read-raw "^blk_read: serial=vol-0001"; then
		pass blk/read-raw
	else
		fail blk/read-raw "serial not reported; $(describe read-raw)"
	fi
fi
guest_ok read-serial-20 blk_read "^blk_read: ok" --cmdline 'serial=abcdefghij0123456789' \
	--disk "$D/pattern.raw,serial=abcdefghij0123456789,readonly" && pass blk/read-serial-20
guest_ok read-no-serial blk_read "^blk_read: serial=$EOL" --disk "$D/pattern.raw,readonly" &&
	pass blk/read-no-serial
if [ -n "$HAVE_QEMU_IMG" ]; then
	qemu-img convert -f raw -O qcow2 "$D/pattern.raw" "$D/pattern.qcow2"
	guest_ok read-qcow2-qemu blk_read "^blk_read: ok sectors=$SECTORS$EOL" --disk "$D/pattern.qcow2,format=qcow2" &&
		pass blk/read-qcow2-qemu
fi

# ---------------------------------------------------------------------------
# blk_ro: writes refused with IOERR, the file unchanged.

cp "$D/pattern.raw" "$D/ro.raw"
sum_before=$(cksum <"$D/ro.raw")
if guest_ok ro blk_ro "^blk_ro: ok" --cmdline 'pattern lba=77' --disk "$D/ro.raw,readonly"; then
	if ! expect_output ro "^blk_ro: write lba 77 -> ioerr"; then
		fail blk/ro "the write did not fail with ioerr; $(describe ro)"
	elif [ "$(cksum <"$D/ro.raw")" != "$sum_before" ]; then
		fail blk/ro "the read-only file changed"
	else
		pass blk/ro
	fi
fi

# ---------------------------------------------------------------------------
# A qcow2 overlay over a raw base: reads fall through, writes stay in the
# overlay. blk_rw rewrites [4096, 4096 + 2048) with seed 0x5a.

overlay_case() {
	local id=$1 overlay=$2 sum
	sum=$(cksum <"$D/base.raw")
	guest_ok "$id-read" blk_read "^blk_read: ok sectors=$SECTORS$EOL" --disk "$overlay,format=qcow2" || return
	guest_ok "$id-write" blk_rw "^blk_rw: ok sectors=2048$EOL" --cmdline 'start=4096 sectors=2048' \
		--disk "$overlay,format=qcow2" || return
	if [ "$(cksum <"$D/base.raw")" != "$sum" ]; then
		fail "blk/$id" "the base image changed"
		return
	fi
	qcheck "$id" "$overlay" || return
	qemu-img convert -f qcow2 -O raw "$overlay" "$D/$id.raw"
	if ! out=$("$PAT" check "$D/$id.raw" 0 4096 0 && "$PAT" check "$D/$id.raw" 4096 2048 0x5a &&
		"$PAT" check "$D/$id.raw" 6144 $((SECTORS - 6144)) 0); then
		fail "blk/$id" "the overlay's contents are wrong: $out"
		return
	fi
	# The writes are the overlay's own: cut from its base, the overlay
	# reads the new pattern there and zeros everywhere else.
	cp "$overlay" "$D/$id.top.qcow2"
	qemu-img rebase -u -b '' "$D/$id.top.qcow2"
	qemu-img convert -f qcow2 -O raw "$D/$id.top.qcow2" "$D/$id.top.raw"
	if ! out=$("$PAT" seeds "$D/$id.top.raw" $SECTORS 0x5a 1 zeros) ||
		! grep -q '^seed 90: 2048 sectors$' <<<"$out"; then
		fail "blk/$id" "the overlay alone does not hold exactly the writes: $out"
		return
	fi
	pass "blk/$id"
}

if [ -n "$HAVE_QEMU_IMG" ]; then
	"$PAT" gen "$D/base.raw" $SECTORS 0
	qemu-img create -q -f qcow2 -b base.raw -F raw "$D/over-qemu.qcow2"
	overlay_case overlay-qemu "$D/over-qemu.qcow2"
	"$RAEVMD" img create -f qcow2 -b base.raw -F raw "$D/over-raevm.qcow2" >/dev/null
	overlay_case overlay-raevm "$D/over-raevm.qcow2"
fi

# ---------------------------------------------------------------------------
# Several disks: blk_rw on the second of three, blk_read on the third; the
# first is untouched.

"$PAT" gen "$D/multi0.raw" 4096 7
truncate -s $((8192 * 512)) "$D/multi1.raw"
"$PAT" gen "$D/multi2.raw" 2048 0
sum0=$(cksum <"$D/multi0.raw")
if guest_ok multi-rw blk_rw "^blk_rw: ok sectors=8192$EOL" --cmdline 'disk=1' \
	--disk "$D/multi0.raw" --disk "$D/multi1.raw" --disk "$D/multi2.raw,serial=third" &&
	guest_ok multi-read blk_read "^blk_read: ok sectors=2048$EOL" --cmdline 'disk=2 serial=third' \
		--disk "$D/multi0.raw" --disk "$D/multi1.raw" --disk "$D/multi2.raw,serial=third"; then
	if [ "$(cksum <"$D/multi0.raw")" != "$sum0" ]; then
		fail blk/multi "disk 0 changed"
	elif ! out=$("$PAT" check "$D/multi1.raw" 0 8192 0x5a); then
		fail blk/multi "disk 1 does not hold the pattern: $out"
	else
		pass blk/multi
	fi
fi

# ---------------------------------------------------------------------------
# blk_hostile: the victim (disks[0]) resets, the bystander (disks[1]) works.

truncate -s 16M "$D/victim.raw" "$D/bystander.raw"
RESET_RE="^raevmd: warning: virtio-blk 00:[0-9a-f]{2}\.0 \(disks\[0\]\): queue 0: "
vm hostile --kernel "$GUESTS/blk_hostile.elf" --disk "$D/victim.raw" --disk "$D/bystander.raw"
# One line: a device logs at most one NEEDS_RESET line every 5 s, and the
# run takes less.
if [ "$status" != 0 ] || ! expect_output hostile "^blk_hostile: ok cases=10$EOL"; then
	fail blk/hostile "blk_hostile failed; $(describe hostile)"
elif [ "$(grep -c . "$TMP/hostile.err")" != 1 ] ||
	! grep -Eq "${RESET_RE}descriptor loop or chain longer than the queue; device needs reset$" \
		"$TMP/hostile.err"; then
	fail blk/hostile "expected one NEEDS_RESET line for disks[0]; stderr: $(head -c 500 "$TMP/hostile.err")"
else
	pass blk/hostile
fi

# One case per VM, each with its exact line.
hostile_case() {
	local case=$1 why=$2 id=hostile-$1
	vm "$id" --kernel "$GUESTS/blk_hostile.elf" --cmdline "only=$case" \
		--disk "$D/victim.raw" --disk "$D/bystander.raw"
	if [ "$status" != 0 ] || ! expect_output "$id" "^blk_hostile: ok cases=1$EOL"; then
		fail "blk/$id" "$(describe "$id")"
	elif [ "$(grep -c . "$TMP/$id.err")" != 1 ] ||
		! grep -Eq "$RESET_RE$why; device needs reset$" "$TMP/$id.err"; then
		fail "blk/$id" "expected one line /$why/; stderr: $(head -c 300 "$TMP/$id.err")"
	else
		pass "blk/$id"
	fi
}
hostile_case loop "descriptor loop or chain longer than the queue"
hostile_case next_oob "descriptor index out of range"
hostile_case huge_len "address outside guest RAM"
hostile_case past_ram "address outside guest RAM"
hostile_case readable_data "request with device-readable data for the device to fill"
hostile_case status_readable "request has no device-writable status byte"
hostile_case order "malformed descriptor chain or avail index"
hostile_case avail_jump "malformed descriptor chain or avail index"
hostile_case indirect_nested "malformed descriptor chain or avail index"
hostile_case indirect_len "malformed descriptor chain or avail index"

# ---------------------------------------------------------------------------
# Durability: SIGKILL while the guest writes and flushes in a loop
# (blk_rw passes=0 prints "blk_rw: pass P seed S flushed" after each
# flush). Every sector must then hold seed S or a later one (the pass
# under way; a line lost with the process could hide one more), never an
# older one; qcow2 images must pass qemu-img check with leaks at most.

DUR_SECTORS=16384

# durability ID IMAGE FORMAT PASSES: kills raevmd once the guest reported
# PASSES flushed passes (0: as soon as it writes, before any flush).
durability() {
	local id=$1 img=$2 fmt=$3 want=$4 pid n i last
	"$RAEVMD" run --kernel "$GUESTS/blk_rw.elf" --cmdline "passes=0 seed=10 sectors=$DUR_SECTORS" \
		--disk "$img,format=$fmt" >"$TMP/$id.out" 2>"$TMP/$id.err" </dev/null &
	pid=$!
	# Bounded wait for the guest's progress lines (20 s).
	for ((i = 0; i < 400; i++)); do
		if [ "$want" = 0 ]; then
			grep -q '^blk_rw: discard ok' "$TMP/$id.out" && break
		else
			n=$(grep -c '^blk_rw: pass [0-9]* seed [0-9]* flushed' "$TMP/$id.out")
			[ "$n" -ge "$want" ] && break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	status=$?
	if [ "$status" != 137 ]; then
		fail "blk/$id" "raevmd was not running when killed; $(describe "$id")"
		return
	fi
	if [ "$fmt" = qcow2 ]; then
		qcheck "$id" "$img" leaks || return
	fi
	as_raw "$img" "$fmt" "$D/$id.raw" || { fail "blk/$id" "qemu-img convert failed"; return; }
	last=$(grep -o '^blk_rw: pass [0-9]* seed [0-9]* flushed' "$TMP/$id.out" | tail -1 | awk '{print $5}')
	if [ "$want" = 0 ]; then
		pass "blk/$id"
		return
	fi
	if [ -z "$last" ]; then
		fail "blk/$id" "no pass was reported flushed within 20 s; $(describe "$id")"
	elif ! out=$("$PAT" seeds "$D/$id.raw" $DUR_SECTORS "$last" 3); then
		fail "blk/$id" "after pass seed $last was flushed: $out"
	else
		pass "blk/$id"
	fi
}

truncate -s $((DUR_SECTORS * 512)) "$D/dur.raw"
durability durability-raw-1 "$D/dur.raw" raw 1
durability durability-raw-4 "$D/dur.raw" raw 4
if [ -n "$HAVE_QEMU_IMG" ]; then
	for k in 0 1 3; do
		rm -f "$D/dur.qcow2"
		"$RAEVMD" img create -f qcow2 "$D/dur.qcow2" $((DUR_SECTORS * 512)) >/dev/null
		durability "durability-qcow2-$k" "$D/dur.qcow2" qcow2 "$k"
	done
	# Killed while the first pass allocates clusters of a qemu-made image
	# with small clusters (many metadata updates), then once more.
	qemu-img create -q -f qcow2 -o cluster_size=4096 "$D/dur4k.qcow2" $((DUR_SECTORS * 512))
	durability durability-qcow2-4k-0 "$D/dur4k.qcow2" qcow2 0
	durability durability-qcow2-4k-2 "$D/dur4k.qcow2" qcow2 2
fi
