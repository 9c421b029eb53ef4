#!/usr/bin/env bash
# Boots each test guest with 1, 2 and 4 vCPUs and checks its serial output
# and the exit status raevmd passes on.
. "$(dirname "$0")/lib.sh"

# boot_case NAME CPUS WANT_STATUS PATTERN [raevmd args...]
boot_case() {
	local name=$1 cpus=$2 want=$3 pattern=$4
	shift 4
	local id="boot/$name/cpus=$cpus"
	if [ -n "$KVM_SKIP" ]; then
		skip "$id" "$KVM_SKIP"
		return
	fi
	vm "$name-$cpus" --kernel "$GUESTS/$name.elf" --cpus "$cpus" --memory 128M "$@"
	if [ "$status" != "$want" ]; then
		fail "$id" "expected status $want; $(describe "$name-$cpus")"
	elif ! expect_output "$name-$cpus" "$pattern"; then
		fail "$id" "output lacks /$pattern/; $(describe "$name-$cpus")"
	else
		pass "$id"
	fi
}

for cpus in 1 2 4; do
	boot_case hello "$cpus" 0 'hello from raevm guest' --cmdline "greeting=$cpus"
	boot_case exit_code "$cpus" 42 'exit_code: 42' --cmdline 'code=42'
	boot_case smp "$cpus" 0 "smp: $cpus cpus"
	boot_case rtc "$cpus" 0 '^rtc: [0-9]{4}-[0-9]{2}-[0-9]{2} '
	boot_case user_mode "$cpus" 0 'user: cpl=3 loops=1000000 done' --cmdline 'loops=1000000'
	boot_case reset "$cpus" 0 'reset: pulsing i8042'
done

# The command line reaches the guest unchanged.
if [ -z "$KVM_SKIP" ]; then
	vm cmdline --kernel "$GUESTS/hello.elf" --cmdline 'a=1 b="two words" c'
	if [ "$status" = 0 ] && grep -Fq 'cmdline: a=1 b="two words" c' "$TMP/cmdline.out"; then
		pass boot/cmdline
	else
		fail boot/cmdline "$(describe cmdline)"
	fi
else
	skip boot/cmdline "$KVM_SKIP"
fi

# Every vCPU reports a distinct APIC ID 0..N-1.
if [ -z "$KVM_SKIP" ]; then
	vm apic --kernel "$GUESTS/smp.elf" --cpus 4
	ids=$(grep -Eo 'cpu [0-9]+ up' "$TMP/apic.out" | awk '{print $2}' | sort -n | tr '\n' ' ')
	if [ "$status" = 0 ] && [ "$ids" = "0 1 2 3 " ]; then
		pass boot/smp-apic-ids
	else
		fail boot/smp-apic-ids "ids '$ids'; $(describe apic)"
	fi
else
	skip boot/smp-apic-ids "$KVM_SKIP"
fi

# The RTC shows the host's UTC time (within two minutes).
if [ -z "$KVM_SKIP" ]; then
	vm rtctime --kernel "$GUESTS/rtc.elf"
	t=$(sed -n 's/^rtc: //p' "$TMP/rtctime.out" | tr -d '\r')
	guest=$(date -u -d "$t" +%s 2>/dev/null || echo 0)
	now=$(date -u +%s)
	d=$((now - guest))
	if [ "$status" = 0 ] && [ "${d#-}" -le 120 ]; then
		pass boot/rtc-host-time
	else
		fail boot/rtc-host-time "guest '$t' vs host $(date -u '+%F %T'); $(describe rtctime)"
	fi
else
	skip boot/rtc-host-time "$KVM_SKIP"
fi

# Both CPU templates boot a guest.
if [ -z "$KVM_SKIP" ]; then
	for t in host baseline; do
		vm "tmpl-$t" --kernel "$GUESTS/hello.elf" --cpu-template "$t"
		if [ "$status" = 0 ] && expect_output "tmpl-$t" 'hello from raevm guest'; then
			pass "boot/cpu-template=$t"
		else
			fail "boot/cpu-template=$t" "$(describe "tmpl-$t")"
		fi
	done
else
	skip boot/cpu-template "$KVM_SKIP"
fi

# A manifest boots the same way as flags; flags override it.
if [ -z "$KVM_SKIP" ]; then
	mkdir -p "$TMP/m"
	cp "$GUESTS/exit_code.elf" "$TMP/m/guest.elf"
	cat >"$TMP/m/vm.raeVM" <<JSON
{"raevm": 1, "name": "t", "cpus": 2, "memory": "64M",
 "boot": {"kernel": "guest.elf", "cmdline": "code=7"}}
JSON
	vm manifest "$TMP/m/vm.raeVM"
	if [ "$status" = 7 ]; then pass boot/manifest; else fail boot/manifest "$(describe manifest)"; fi
	vm manifest2 "$TMP/m/vm.raeVM" --cmdline code=9
	if [ "$status" = 9 ]; then pass boot/manifest-flag-override; else fail boot/manifest-flag-override "$(describe manifest2)"; fi
else
	skip boot/manifest "$KVM_SKIP"
fi
