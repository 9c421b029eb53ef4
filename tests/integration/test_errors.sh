#!/usr/bin/env bash
# Bad input gets one clear line on stderr and a non-zero status, never a
# crash or a hang. Each case checks the exact start of the message.
. "$(dirname "$0")/lib.sh"

# err_case ID PATTERN [needs-kvm] -- raevmd run args...
err_case() {
	local id=$1 pattern=$2 needs=$3
	shift 4
	if [ "$needs" = kvm ] && [ -n "$KVM_SKIP" ]; then
		skip "errors/$id" "$KVM_SKIP"
		return
	fi
	vm "err-$id" "$@"
	local lines
	lines=$(grep -c . "$TMP/err-$id.err")
	if [ "$status" = 0 ] || [ "$status" -ge 124 ]; then
		fail "errors/$id" "expected a non-zero status below 124; $(describe "err-$id")"
	elif [ "$lines" != 1 ]; then
		fail "errors/$id" "expected exactly one line on stderr, got $lines; $(describe "err-$id")"
	elif ! grep -Eq -- "$pattern" "$TMP/err-$id.err"; then
		fail "errors/$id" "stderr does not match /$pattern/; $(describe "err-$id")"
	else
		pass "errors/$id"
	fi
}

K=$GUESTS/hello.elf
head -c 100 "$K" >"$TMP/truncated.elf"
head -c 3000 "$K" >"$TMP/truncated2.elf"
echo "this is not a kernel" >"$TMP/text.img"
: >"$TMP/empty.img"
cp "$K" "$TMP/private.elf"
chmod 600 "$TMP/private.elf"
chmod 711 "$TMP"
truncate -s 100M "$TMP/big.initrd"
long=$(head -c 5000 /dev/zero | tr '\0' 'x')

err_case missing-kernel "^raevmd: kernel: no such file '/nonexistent/vmlinux'$" - -- --kernel /nonexistent/vmlinux
err_case kernel-is-dir "^raevmd: kernel '/tmp': is a directory$" - -- --kernel /tmp
err_case empty-kernel "^raevmd: kernel '.*empty.img': the file is empty$" - -- --kernel "$TMP/empty.img"
err_case truncated-kernel "^raevmd: kernel '.*truncated.elf': .*truncated" - -- --kernel "$TMP/truncated.elf"
err_case truncated-kernel-2 "^raevmd: kernel '.*truncated2.elf': " - -- --kernel "$TMP/truncated2.elf"
err_case not-a-kernel "^raevmd: kernel '.*text.img': " - -- --kernel "$TMP/text.img"
err_case no-kernel "^raevmd: no kernel" - --
err_case zero-cpus "^raevmd: --cpus: '0' " - -- --kernel "$K" --cpus 0
err_case many-cpus "^raevmd: --cpus: '5000' " - -- --kernel "$K" --cpus 5000
err_case bad-memory "^raevmd: --memory: '12Q' " - -- --kernel "$K" --memory 12Q
err_case small-memory "^raevmd: --memory: '1M' is below the minimum of 16M$" - -- --kernel "$K" --memory 1M
err_case too-much-memory "^raevmd: --memory: '64T' is above the maximum of 16T$" - -- --kernel "$K" --memory 64T
err_case more-than-host "^raevmd: memory: 1 TiB is more than this host's .* of RAM$" kvm -- --kernel "$K" --memory 1T
err_case unknown-flag "^raevmd: unknown option '--kernal'" - -- --kernal "$K"
err_case missing-initrd "^raevmd: initrd: no such file '/nonexistent/initrd'$" - -- --kernel "$K" --initrd /nonexistent/initrd
err_case initrd-too-big "^raevmd: initrd .*" kvm -- --kernel "$K" --memory 64M --initrd "$TMP/big.initrd"
err_case cmdline-too-long "^raevmd: --cmdline: too long \\(5000 bytes; the limit is 4095\\)$" - -- --kernel "$K" --cmdline "$long"
# Debian's bzImage accepts 2047 bytes: the loader names the kernel's limit.
if [ -e "${RV_FIXTURES:-build/fixtures}/vmlinuz" ]; then
	err_case bzimage-cmdline "^raevmd: command line is 3000 bytes; this kernel accepts at most 2047" kvm -- \
		--kernel "${RV_FIXTURES:-build/fixtures}/vmlinuz" --memory 128M --cmdline "$(head -c 3000 /dev/zero | tr '\0' 'y')"
	err_case bzimage-small-memory "^raevmd: .*kernel needs" kvm -- \
		--kernel "${RV_FIXTURES:-build/fixtures}/vmlinuz" --memory 32M
else
	skip errors/bzimage-cmdline "the Debian kernel fixture is missing (make fixtures)"
	skip errors/bzimage-small-memory "the Debian kernel fixture is missing (make fixtures)"
fi
err_case bad-template "^raevmd: .*template.*'pentium'" kvm -- --kernel "$K" --cpu-template pentium

# Hugepages with an empty pool: a clear line, not a SIGBUS at first touch.
if [ "$(cat /proc/sys/vm/nr_hugepages 2>/dev/null)" = 0 ]; then
	err_case hugepages-none "^raevmd: memory: cannot map 64 MiB of guest RAM in hugepages \\(are enough reserved" kvm -- \
		--kernel "$K" --memory 64M --hugepages
else
	skip errors/hugepages-none "this host has hugepages reserved"
fi

# No /dev/kvm: the loader's checks pass, then KVM is named as the problem.
RAEVM_KVM_DEVICE=/nonexistent/kvm err_case no-kvm "^raevmd: /nonexistent/kvm: not found: KVM is not available" - -- --kernel "$K"
RAEVM_KVM_DEVICE=/dev/null err_case not-kvm "^raevmd: /dev/null: not a KVM device" - -- --kernel "$K"

# An unreadable kernel, read by an unprivileged user.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	timeout 30 setpriv --reuid=65534 --regid=65534 --clear-groups "$RAEVMD" run --kernel "$TMP/private.elf" \
		>"$TMP/err-unreadable.out" 2>"$TMP/err-unreadable.err" </dev/null
	status=$?
	if [ "$status" != 0 ] && grep -Eq "^raevmd: kernel '.*private.elf': cannot read: Permission denied$" "$TMP/err-unreadable.err"; then
		pass errors/unreadable-kernel
	else
		fail errors/unreadable-kernel "$(describe err-unreadable)"
	fi
else
	skip errors/unreadable-kernel "needs root and setpriv to run as an unprivileged user"
fi

# Manifests: a wrong type and an unknown key, each named by its JSON path.
printf '{"raevm": 1, "name": "x", "cpus": "two", "boot": {"kernel": "%s"}}\n' "$K" >"$TMP/type.raeVM"
printf '{"raevm": 1, "name": "x", "boot": {"kernel": "%s", "kernal": "x"}}\n' "$K" >"$TMP/key.raeVM"
err_case manifest-type "type.raeVM: cpus: " - -- "$TMP/type.raeVM"
err_case manifest-unknown-key "key.raeVM: boot.kernal: unknown key" - -- "$TMP/key.raeVM"
err_case manifest-missing "^raevmd: .*none.raeVM: cannot read it: No such file or directory$" - -- "$TMP/none.raeVM"
