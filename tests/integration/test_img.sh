#!/usr/bin/env bash
# Disk images against Debian's qemu-utils as the oracle:
#  - images raevm writes pass `qemu-img check` (exit 0);
#  - the same writes done by `raevmd img io` and by `qemu-io` give images
#    that `qemu-img compare` calls identical (plain qcow2, overlays over raw
#    and qcow2, 512-byte clusters that make the refcount table grow, v2,
#    1- and 64-bit refcounts, raw);
#  - raevm reads images and backing chains qemu-img made (qcow2 over qcow2
#    over raw) byte for byte like `qemu-img convert` and `qemu-io read -P`;
#  - compressed, encrypted, dirty, corrupt images and unknown incompatible
#    features are refused when the image is opened, with one exact line;
#  - a writer killed with SIGKILL leaves an image with leaks at worst;
#  - `raevmd img` refuses every bad argument with one line.
# `raevmd img io` is the documented qemu-io-like front end of the block
# layer (docs/devices.md); it runs the code a VM's disk uses.
. "$(dirname "$0")/lib.sh"

if ! command -v qemu-img >/dev/null || ! command -v qemu-io >/dev/null; then
	skip "img" "qemu-img/qemu-io not installed (Debian package qemu-utils)"
	exit 0
fi

D=$TMP/img
mkdir -p "$D"
# Some cases run in $D, so the binary's path must not be relative.
RAEVMD=$(cd "$(dirname "$RAEVMD")" && pwd)/$(basename "$RAEVMD")

# img_ok ID ARGS...: raevmd img ARGS succeeds silently on stderr.
img_ok() {
	local id=$1
	shift
	if "$RAEVMD" img "$@" >"$TMP/$id.out" 2>"$TMP/$id.err"; then
		return 0
	fi
	fail "img/$id" "raevmd img $* failed: $(head -c 300 "$TMP/$id.err")"
	return 1
}

# check_clean ID IMAGE: qemu-img check finds nothing at all.
check_clean() {
	local out
	if out=$(qemu-img check "$2" 2>&1); then
		pass "img/$1/check"
	else
		fail "img/$1/check" "qemu-img check: $(echo "$out" | head -5 | tr '\n' '|')"
	fi
}

# same_writes ID BASE_IMAGE CMDS...: applies the qemu-io commands to two
# copies of BASE_IMAGE, one through raevm, one through qemu-io, and
# compares the results.
same_writes() {
	local id=$1 base=$2 fmt=qcow2 out
	shift 2
	case $base in *.raw) fmt=raw ;; esac
	cp --sparse=always "$base" "$D/$id.rv.$fmt"
	cp --sparse=always "$base" "$D/$id.qemu.$fmt"
	local args=()
	for c in "$@"; do args+=(-c "$c"); done
	if ! img_ok "$id-io" io -f $fmt "$D/$id.rv.$fmt" "${args[@]}"; then
		return
	fi
	if ! out=$(qemu-io -f $fmt "${args[@]}" "$D/$id.qemu.$fmt" 2>&1) ||
		grep -qi error <<<"$out"; then
		fail "img/$id" "qemu-io failed: $(echo "$out" | head -3 | tr '\n' '|')"
		return
	fi
	if out=$(qemu-img compare -f $fmt -F $fmt "$D/$id.rv.$fmt" "$D/$id.qemu.$fmt" 2>&1); then
		pass "img/$id/compare"
	else
		fail "img/$id/compare" "$out"
	fi
	[ $fmt = qcow2 ] && check_clean "$id" "$D/$id.rv.$fmt"
}

# refused ID PATTERN IMAGE: opening IMAGE fails with exactly one line.
refused() {
	local id=$1 pattern=$2 image=$3 status lines
	"$RAEVMD" img io -f qcow2 -r "$image" -c "read 0 512" >"$TMP/$id.out" 2>"$TMP/$id.err"
	status=$?
	lines=$(grep -c . "$TMP/$id.err")
	if [ $status = 0 ]; then
		fail "img/refuse/$id" "the image opened"
	elif [ "$lines" != 1 ]; then
		fail "img/refuse/$id" "expected one line on stderr, got $lines: $(tr '\n' '|' <"$TMP/$id.err")"
	elif ! grep -Eq -- "$pattern" "$TMP/$id.err"; then
		fail "img/refuse/$id" "stderr does not match /$pattern/: $(cat "$TMP/$id.err")"
	else
		pass "img/refuse/$id"
	fi
}

# bad_args ID PATTERN ARGS...: raevmd img ARGS fails with one matching line.
bad_args() {
	local id=$1 pattern=$2 status lines
	shift 2
	(cd "$D" && "$RAEVMD" img "$@") >"$TMP/$id.out" 2>"$TMP/$id.err"
	status=$?
	lines=$(grep -c . "$TMP/$id.err")
	if [ $status = 0 ] || [ "$lines" != 1 ] || ! grep -Eq -- "$pattern" "$TMP/$id.err"; then
		fail "img/args/$id" "status $status, stderr: $(tr '\n' '|' <"$TMP/$id.err")"
	else
		pass "img/args/$id"
	fi
}

WRITES=(
	"write -P 0x11 0 64k"
	"write -P 0x22 4000 9000"
	"write -P 0x33 1000k 200k"
	"write -z 128k 64k"
	"write -z -u 1024k 64k"
	"discard 2M 192k"
	"write -P 0x44 3M 1M"
	"write -P 0x55 3100k 4k"
	"write -z 3200k 100k"
	"flush"
	"write -P 0x66 7M 700k"
)

# ---- creation ----
if img_ok create-qcow2 create -f qcow2 "$D/new.qcow2" 64M; then
	check_clean create-qcow2 "$D/new.qcow2"
	if qemu-img info --output=json "$D/new.qcow2" | grep -q '"virtual-size": 67108864'; then
		pass "img/create-qcow2/size"
	else
		fail "img/create-qcow2/size" "$(qemu-img info "$D/new.qcow2" | tr '\n' '|')"
	fi
fi
if img_ok create-raw create "$D/new.raw" 10M; then
	if [ "$(stat -c %s "$D/new.raw")" = 10485760 ] && [ "$(stat -c %b "$D/new.raw")" = 0 ]; then
		pass "img/create-raw"
	else
		fail "img/create-raw" "$(stat -c '%s bytes, %b blocks' "$D/new.raw")"
	fi
fi

# ---- the same writes through raevm and qemu-io ----
qemu-img create -q -f qcow2 "$D/plain.qcow2" 8M
same_writes plain "$D/plain.qcow2" "${WRITES[@]}"

qemu-img create -q -f raw "$D/base.raw" 8M
qemu-io -f raw -c "write -P 0xb1 0 8M" -c "write -P 0xb2 5M 100k" "$D/base.raw" >/dev/null
qemu-img create -q -f qcow2 -b base.raw -F raw "$D/over-raw.qcow2"
same_writes over-raw "$D/over-raw.qcow2" "${WRITES[@]}"

# An overlay raevm made, over a qcow2 image qemu wrote.
qemu-img create -q -f qcow2 -b base.raw -F raw "$D/base2.qcow2"
qemu-io -c "write -P 0xc1 1M 3M" -c "write -z 2M 64k" "$D/base2.qcow2" >/dev/null
if img_ok create-overlay create -b base2.qcow2 -F qcow2 "$D/over-q.qcow2"; then
	check_clean create-overlay "$D/over-q.qcow2"
	same_writes over-qcow2 "$D/over-q.qcow2" "${WRITES[@]}"
fi

qemu-img create -q -f qcow2 -o cluster_size=512 "$D/small.qcow2" 64M
same_writes small-clusters "$D/small.qcow2" "write -P 0x71 0 20M" \
	"discard 1M 2M" "write -P 0x72 1536k 1M" "write -z 5M 1M" \
	"write -P 0x73 40M 10M"

qemu-img create -q -f qcow2 -o compat=0.10 "$D/v2.qcow2" 8M
same_writes v2 "$D/v2.qcow2" "${WRITES[@]}"
qemu-img create -q -f qcow2 -o compat=0.10 -b base.raw -F raw "$D/v2-over.qcow2"
same_writes v2-overlay "$D/v2-over.qcow2" "${WRITES[@]}"

for bits in 1 64; do
	qemu-img create -q -f qcow2 -o refcount_bits=$bits,cluster_size=4k "$D/rc$bits.qcow2" 8M
	same_writes refcount-$bits "$D/rc$bits.qcow2" "${WRITES[@]}"
done

cp "$D/base.raw" "$D/raw.raw"
same_writes raw "$D/raw.raw" "${WRITES[@]}"

# ---- reading what qemu made ----
qemu-img create -q -f qcow2 -b base.raw -F raw "$D/mid.qcow2"
qemu-io -c "write -P 0xd1 1M 100k" -c "write -P 0xd2 6M 2M" "$D/mid.qcow2" >/dev/null
qemu-img create -q -f qcow2 -o cluster_size=4k -b mid.qcow2 -F qcow2 "$D/top.qcow2"
qemu-io -c "write -P 0xe1 1050k 10k" -c "write -z 6M 64k" -c "discard 7M 64k" \
	-c "write -P 0xe2 8190k 2k" "$D/top.qcow2" >/dev/null
qemu-img convert -O raw "$D/top.qcow2" "$D/top-by-qemu.raw"
if img_ok dump io -f qcow2 -r "$D/top.qcow2" -c "dump $D/top-by-raevm.raw"; then
	if cmp -s "$D/top-by-qemu.raw" "$D/top-by-raevm.raw"; then
		pass "img/chain/dump"
	else
		fail "img/chain/dump" "$(cmp "$D/top-by-qemu.raw" "$D/top-by-raevm.raw" 2>&1 | head -1)"
	fi
fi
# The same ranges checked by both tools; a wrong pattern must fail in both.
chain_ok=1
for r in "0xb1 0 1M" "0xd1 1M 26k" "0xe1 1050k 10k" "0xd1 1060k 64k" "0xb2 5M 100k" \
	"0xd2 6M 64k" "0 6M 64k" "0xd2 6208k 1M" "0xe2 8190k 2k"; do
	set -- $r
	q=0 v=0
	qemu-io -r -c "read -P $1 $2 $3" "$D/top.qcow2" 2>&1 | grep -q "Pattern verification failed" && q=1
	"$RAEVMD" img io -f qcow2 -r "$D/top.qcow2" -c "read -P $1 $2 $3" 2>/dev/null || v=1
	if [ $q != $v ]; then
		chain_ok=0
		fail "img/chain/read-P" "'read -P $r': qemu-io failed=$q, raevm failed=$v"
	fi
done
if "$RAEVMD" img io -f qcow2 -r "$D/top.qcow2" -c "read -P 0xd1 6M 64k" 2>/dev/null; then
	chain_ok=0
	fail "img/chain/read-P" "a wrong pattern was accepted"
fi
[ $chain_ok = 1 ] && pass "img/chain/read-P"

# img info follows the chain.
if img_ok info info "$D/top.qcow2" &&
	[ "$(grep -c '^image: ' "$TMP/info.out")" = 3 ] &&
	grep -q '^backing format: raw$' "$TMP/info.out"; then
	pass "img/info/chain"
else
	fail "img/info/chain" "$(tr '\n' '|' <"$TMP/info.out")"
fi
if img_ok info-json info --json "$D/top.qcow2" &&
	[ "$(jq -r '.backing_chain | length' "$TMP/info-json.out")" = 2 ] &&
	[ "$(jq -r '.cluster_size' "$TMP/info-json.out")" = 4096 ] &&
	[ "$(jq -r '.backing_chain[1].format' "$TMP/info-json.out")" = raw ]; then
	pass "img/info/json"
else
	fail "img/info/json" "$(head -c 400 "$TMP/info-json.out")"
fi

# ---- refused at open ----
qemu-img create -q -f qcow2 "$D/data.qcow2" 4M
qemu-io -c "write -P 0x5a 0 1M" "$D/data.qcow2" >/dev/null
qemu-img convert -c -O qcow2 "$D/data.qcow2" "$D/compressed.qcow2"
refused compressed "^raevmd: img io: '.*compressed.qcow2': image has compressed clusters \(guest offset 0x0\); raevm cannot read them: convert it with 'qemu-img convert -O qcow2'$" "$D/compressed.qcow2"

if qemu-img create -q -f qcow2 --object secret,id=sec0,data=raevm-test \
	-o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 "$D/luks.qcow2" 4M 2>"$TMP/luks.err"; then
	refused luks "^raevmd: img io: '.*luks.qcow2': image is encrypted \(LUKS\); raevm cannot open encrypted images$" "$D/luks.qcow2"
else
	skip "img/refuse/luks" "qemu-img cannot create LUKS images here: $(head -1 "$TMP/luks.err")"
fi

# patch_byte FILE OFFSET BYTE
patch_byte() {
	printf "\\x$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
cp "$D/data.qcow2" "$D/dirty.qcow2"
patch_byte "$D/dirty.qcow2" 79 01
refused dirty "^raevmd: img io: '.*dirty.qcow2': image is dirty: run 'qemu-img check -r all'$" "$D/dirty.qcow2"
cp "$D/data.qcow2" "$D/corrupt.qcow2"
patch_byte "$D/corrupt.qcow2" 79 02
refused corrupt "^raevmd: img io: '.*corrupt.qcow2': image is marked corrupt: run 'qemu-img check -r all'$" "$D/corrupt.qcow2"
cp "$D/data.qcow2" "$D/unknown.qcow2"
patch_byte "$D/unknown.qcow2" 79 20
patch_byte "$D/unknown.qcow2" 72 80
refused unknown-bits "^raevmd: img io: '.*unknown.qcow2': image uses incompatible features raevm does not support: bit 5, bit 63$" "$D/unknown.qcow2"
qemu-img create -q -f qcow2 -o extended_l2=on "$D/extl2.qcow2" 4M
refused extended-l2 "^raevmd: img io: '.*extl2.qcow2': image uses incompatible features raevm does not support: extended L2 entries \(bit 4\)$" "$D/extl2.qcow2"
qemu-img create -q -f qcow2 -o data_file="$D/ext.raw" "$D/extdata.qcow2" 4M
refused data-file "^raevmd: img io: '.*extdata.qcow2': image uses incompatible features raevm does not support: external data file \(bit 2\)$" "$D/extdata.qcow2"
qemu-img create -q -f qcow2 -b missing.raw -F raw -u "$D/orphan.qcow2" 4M
refused missing-backing "^raevmd: img io: '.*orphan.qcow2': backing file: '.*missing.raw': no such file$" "$D/orphan.qcow2"
if "$RAEVMD" img info "$D/dirty.qcow2" 2>/dev/null | grep -q '^dirty: yes$'; then
	pass "img/info/dirty"
else
	fail "img/info/dirty" "img info does not report the dirty bit"
fi

# ---- SIGKILL while writing: leaks at most ----
# Killed at three points of a run that takes about a second here; any point
# must leave an image that qemu-img check finds consistent (status 0, or 3
# for leaked clusters).
cmds=()
for i in $(seq 0 199); do
	cmds+=(-c "write -P $((i % 250 + 1)) $((i * 1279))k 1M")
	[ $((i % 7)) = 0 ] && cmds+=(-c "discard $((i * 611))k 256k")
	[ $((i % 10)) = 0 ] && cmds+=(-c flush)
done
for delay in 0.05 0.2 0.4; do
	k=$D/killed-$delay.qcow2
	"$RAEVMD" img create --cluster-size 4k -f qcow2 "$k" 256M 2>/dev/null
	"$RAEVMD" img io -f qcow2 "$k" "${cmds[@]}" 2>/dev/null &
	pid=$!
	sleep $delay
	alive=no
	kill -9 $pid 2>/dev/null && alive=yes
	wait $pid 2>/dev/null
	qemu-img check "$k" >"$TMP/killed.out" 2>&1
	status=$?
	if [ $status = 0 ] || [ $status = 3 ]; then
		pass "img/sigkill/$delay (killed mid-run: $alive)"
	else
		fail "img/sigkill/$delay" "qemu-img check status $status: $(head -5 "$TMP/killed.out" | tr '\n' '|')"
	fi
done

# ---- bad arguments: one line each ----
touch "$D/exists.img"
bad_args no-sub "^raevmd: img: unknown command 'frob' \(create, info, io\)$" frob
bad_args no-path "^raevmd: img create: no image path$" create
bad_args bad-size "^raevmd: img create: bad size '12Q' \(for example 10G or 512M\)$" create x.img 12Q
bad_args zero-size "^raevmd: img create: the size must be greater than 0$" create x.img 0
bad_args odd-size "^raevmd: img create: 'x.img': size 1000 is not a multiple of 512$" create x.img 1000
bad_args no-size "^raevmd: img create: 'x.img': a size is needed \(or a backing file to take it from\)$" create x.img
bad_args exists "^raevmd: img create: 'exists.img': the file already exists$" create exists.img 1M
bad_args bad-format "^raevmd: img create: -f: unknown format 'vmdk' \(raw or qcow2\)$" create -f vmdk x.img 1M
bad_args no-F "^raevmd: img create: -b needs -F raw\|qcow2 \(a backing file's format is never guessed\)$" create -b base.raw x.qcow2
bad_args raw-backing "^raevmd: img create: 'x.img': raw images cannot have a backing file \(use qcow2\)$" create -f raw -b base.raw -F raw x.img
bad_args missing-backing "^raevmd: img create: 'x.qcow2': backing file: 'nope.raw': no such file$" create -b nope.raw -F raw x.qcow2
bad_args cluster "^raevmd: img create: --cluster-size: '3000' is not a power of two from 512 to 2M$" create -f qcow2 --cluster-size 3000 x.qcow2 1M
bad_args cluster-raw "^raevmd: img create: --cluster-size applies to qcow2 images only$" create --cluster-size 4k x.img 1M
bad_args unknown-opt "^raevmd: img create: unknown option '--size'$" create --size 1M x.img
bad_args missing-value "^raevmd: img create: -f needs a value$" create x.img -f
bad_args extra "^raevmd: img create: unexpected argument 'z'$" create x.img 1M z
bad_args io-format "^raevmd: img io: -f raw\|qcow2 is required" io exists.img -c "read 0 1"
bad_args io-command "^raevmd: img io: 'frob 1 2': unknown command" io -f raw exists.img -c "frob 1 2"
bad_args io-range "^raevmd: img io: 'read 0 1': Invalid argument$" io -f raw exists.img -c "read 0 1"
bad_args info-missing "^raevmd: img info: 'nope.qcow2': no such file$" info nope.qcow2
bad_args info-json-flag "^raevmd: img info: option '-b' does not apply here$" info -b x exists.img
if [ -e "$D/x.img" ] || [ -e "$D/x.qcow2" ]; then
	fail "img/args/leftovers" "a failed create left a file behind"
else
	pass "img/args/leftovers"
fi
