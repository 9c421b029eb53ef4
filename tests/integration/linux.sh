#!/usr/bin/env bash
# make check-linux: boots Debian's kernel (linux-image-cloud-amd64) with a
# busybox initramfs under raevmd and waits for a shell prompt.
# On a host with hardware virtualization a missing prompt is a failure. On a
# host whose KVM emulates guest kernel mode (HOST.md), the kernel crawls and
# stops at instructions the emulator lacks: there the script reports how far
# the boot got and exits 0.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TIMEOUT=${LINUX_TIMEOUT:-300}
FIX=$BUILD/fixtures
WORK=$BUILD/linux
mkdir -p "$WORK"

bash "$ROOT/tests/fixtures/fetch-kernel.sh" "$FIX" || exit 1
BUSYBOX=$(command -v busybox || echo /bin/busybox)
if ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' && [ -x /bin/busybox ]; then
	BUSYBOX=/bin/busybox
fi

# A minimal initramfs: busybox, /init that mounts /proc and starts a shell.
rm -rf "$WORK/root"
mkdir -p "$WORK/root"/{bin,proc,sys,dev}
cp "$BUSYBOX" "$WORK/root/bin/busybox"
cat >"$WORK/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "raevm-linux: init running on $(nproc) cpus, kernel $(uname -r)"
echo "raevm-linux: shell ready"
exec setsid cttyhack sh
INIT
chmod +x "$WORK/root/init"
(cd "$WORK/root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$WORK/initramfs.cpio.gz"

hwvirt=no
grep -Eqw 'vmx|svm' /proc/cpuinfo && hwvirt=yes

out=$WORK/console.log
start=$(date +%s)
(
	# Wait for the prompt, then type commands; reboot -f ends the VM through
	# the keyboard controller.
	timeout "$TIMEOUT" bash -c 'tail -n +1 -f "$1" 2>/dev/null | grep -q -m1 "shell ready"' _ "$out" &&
		printf 'echo raevm-linux: answer $((6*7))\nreboot -f\n'
	sleep 30 # keep stdin open while the guest shuts down (not a synchronisation)
) | timeout -k 5 "$TIMEOUT" "$BUILD/raevmd" run --kernel "$FIX/vmlinuz" \
	--initrd "$WORK/initramfs.cpio.gz" --memory 512M --cpus 2 --cpu-template baseline \
	--cmdline "console=ttyS0 earlyprintk=serial,ttyS0,115200 rdinit=/init panic=-1 reboot=k" \
	>"$out" 2>"$WORK/stderr.log"
status=$?
elapsed=$(($(date +%s) - start))

if grep -q 'raevm-linux: answer 42' "$out"; then
	echo "check-linux: PASS: Debian's kernel reached a busybox shell in ${elapsed}s (status $status)"
	exit 0
fi
last=$(grep -a -v '^\s*$' "$out" | tail -1 | cut -c1-160)
lines=$(wc -l <"$out")
echo "check-linux: the guest did not reach a shell in ${elapsed}s (status $status, $lines console lines)"
echo "check-linux: last console line: ${last:-<none>}"
[ -s "$WORK/stderr.log" ] && echo "check-linux: raevmd said: $(tail -1 "$WORK/stderr.log")"
echo "check-linux: full log: $out"
if [ "$hwvirt" = no ]; then
	echo "check-linux: this host has no hardware virtualization (HOST.md): reported, not failed"
	exit 0
fi
exit 1
