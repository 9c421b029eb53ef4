#!/usr/bin/env bash
# raevm, the CLI, end to end (docs/man/raevm.1): each command's request on
# the wire, people and --json output, exit statuses, the console on a real
# pseudo-terminal, bash completion and the man pages. The daemon here is
# tests/integration/fake_raevmd.py, which answers with canned results and
# logs every request line exactly as it arrived.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
RAEVM=${RV_BUILD:-build}/raevm
FAKE=$(cd "$(dirname "$0")" && pwd)/fake_raevmd.py
COMPLETION=$(cd "$(dirname "$0")/../.." && pwd)/configs/completion/raevm.bash
MAN=$(cd "$(dirname "$0")/../.." && pwd)/docs/man

if [ ! -x "$RAEVM" ]; then
	skip "cli" "$RAEVM is not built (make build/raevm)"
	exit 0
fi
if ! command -v python3 >/dev/null; then
	skip "cli" "python3 (the fake daemon) is not installed"
	exit 0
fi
RAEVM=$(cd "$(dirname "$RAEVM")" && pwd)/raevm

FAKE_PIDS=()
cleanup() {
	local p
	for p in "${FAKE_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

# The socket must be reachable by an unprivileged user for the permission test.
chmod 0755 "$TMP"
SOCK=$TMP/raevmd.sock
LOG=$TMP/wire.log
WORK=$TMP/work
mkdir -p "$WORK" "$TMP/vm"
export TZ=UTC
unset RAEVM_SOCKET

# start_fake SOCKET [MODE]: the fake daemon listens on SOCKET when it returns.
start_fake() {
	local pid
	pid=$(python3 "$FAKE" --socket "$1" --log "$LOG" --mode "${2:-normal}") || return 1
	FAKE_PIDS+=("$pid")
}

# rv NAME ARGS...: runs raevm ARGS in $WORK with stdin from /dev/null; its
# output is in $TMP/NAME.out and $TMP/NAME.err, its status in $status.
rv() {
	local name=$1
	shift
	(cd "$WORK" && timeout -k 5 30 "$RAEVM" "$@") \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	status=$?
}

# check NAME STATUS STDOUT STDERR: compares the last rv NAME with all three.
check() {
	local name=$1 want_status=$2 want_out=$3 want_err=$4 out err
	out=$(cat "$TMP/$name.out")
	err=$(cat "$TMP/$name.err")
	if [ "$status" = "$want_status" ] && [ "$out" = "$want_out" ] &&
		[ "$err" = "$want_err" ]; then
		pass "cli: $name"
	else
		fail "cli: $name" "status $status (want $want_status); stdout '$out' (want '$want_out'); stderr '$err' (want '$want_err')"
	fi
}

# wire NAME EXPECTED ARGS...: raevm ARGS succeeds and its one request, as
# the daemon received it, is EXPECTED.
wire() {
	local name=$1 expect=$2 got
	shift 2
	: >"$LOG"
	rv "$name" --socket "$SOCK" "$@"
	got=$(cat "$LOG")
	if [ "$status" -eq 0 ] && [ "$got" = "$expect" ]; then
		pass "cli wire: $name"
	else
		fail "cli wire: $name" "status $status; sent '$got'; want '$expect'; stderr '$(cat "$TMP/$name.err")'"
	fi
}

if ! start_fake "$SOCK"; then
	fail "cli" "the fake daemon did not start"
	exit 0
fi

# ---------------------------------------------------------------- the wire

printf '{"raevm": 1, "name": "app", "boot": {"kernel": "vmlinux"}}\n' >"$TMP/vm/app.raeVM"
VMDIR=$(cd "$TMP/vm" && pwd -P)

wire version '{"id":1,"cmd":"daemon.version","args":{}}' version
wire list '{"id":1,"cmd":"vm.list","args":{}}' list
wire info '{"id":1,"cmd":"vm.info","args":{"name":"web"}}' info web
wire start '{"id":1,"cmd":"vm.start","args":{"name":"web"}}' start web
wire stop '{"id":1,"cmd":"vm.stop","args":{"name":"web","force":true,"timeout":5}}' \
	stop web --force --timeout 5
wire kill '{"id":1,"cmd":"vm.kill","args":{"name":"web"}}' kill web
wire pause '{"id":1,"cmd":"vm.pause","args":{"name":"web"}}' pause web
wire resume '{"id":1,"cmd":"vm.resume","args":{"name":"web"}}' resume web
wire restart '{"id":1,"cmd":"vm.restart","args":{"name":"web","timeout":9}}' \
	restart --timeout=9 web
wire delete '{"id":1,"cmd":"vm.delete","args":{"name":"web","keep_disks":true}}' \
	delete web --keep-disks
wire logs '{"id":1,"cmd":"vm.logs","args":{"name":"web","lines":5}}' logs web -n 5
wire set "{\"id\":1,\"cmd\":\"vm.set\",\"args\":{\"name\":\"web\",\"cpus\":2,\"memory\":\"1G\",\"disks\":[{\"path\":\"$WORK/d.img\",\"format\":\"raw\"}],\"base_dir\":\"$WORK\"}}" \
	set web --cpus 2 --memory 1G --disk d.img,format=raw
wire export "{\"id\":1,\"cmd\":\"vm.export\",\"args\":{\"name\":\"web\",\"path\":\"$WORK/out.tar\"}}" \
	export web -o out.tar
wire import "{\"id\":1,\"cmd\":\"vm.import\",\"args\":{\"path\":\"$WORK/b.tar\",\"name\":\"copy\"}}" \
	import b.tar --name copy
wire create-manifest "{\"id\":1,\"cmd\":\"vm.create\",\"args\":{\"start\":true,\"base_dir\":\"$VMDIR\",\"manifest\":{\"raevm\":1,\"name\":\"app\",\"boot\":{\"kernel\":\"vmlinux\"}}}}" \
	create ../vm/app.raeVM --start
wire create-flags "{\"id\":1,\"cmd\":\"vm.create\",\"args\":{\"base_dir\":\"$WORK\",\"manifest\":{\"raevm\":1,\"name\":\"t\",\"boot\":{\"kernel\":\"$WORK/k.elf\",\"initrd\":\"/i.img\"},\"memory\":\"64M\",\"disks\":[{\"path\":\"$WORK/a.img\",\"readonly\":true}]}}}" \
	create --name t --kernel k.elf --initrd /i.img --memory 64M --disk a.img,readonly
wire console '{"id":1,"cmd":"vm.console","args":{"name":"web"}}' console web

# ------------------------------------------------------------ the output

rv list-people --socket "$SOCK" list
check list-people 0 "NAME  STATE    CPUS  MEMORY  UPTIME
web   running     2  1G      1h 2m
db    stopped     1  512M    -" ""

rv list-json --socket "$SOCK" list --json
check list-json 0 '{"vms":[{"name":"web","state":"running","cpus":2,"memory":1073741824,"uptime":3725},{"name":"db","state":"stopped","cpus":1,"memory":536870912}]}' ""

rv info-people --socket "$SOCK" info web
check info-people 0 "name:                     web
state:                    running
cpus:                     2
memory:                   1G
uptime:                   1h 2m
pid:                      4242
manifest.raevm:           1
manifest.name:            web
manifest.boot.kernel:     /srv/web/vmlinux
manifest.boot.cmdline:    console=ttyS0
manifest.disks[0].path:   /srv/web/root.img
manifest.disks[0].format: raw" ""

rv version-people --socket "$SOCK" version
check version-people 0 "raevm   0.1.0 (protocol 1)
raevmd  0.1.0-fake (protocol 1)" ""

rv start-people --socket "$SOCK" start web
check start-people 0 "started web" ""

rv create-people --socket "$SOCK" create --name fresh --kernel k
check create-people 0 "created fresh" ""

# Through a pipe the guest's bytes pass as they are.
rv logs-pipe --socket "$SOCK" logs web
check logs-pipe 0 "boot: ok
evil: $(printf '\033]0;owned\007') title
login:" ""

# RAEVM_SOCKET stands in for --socket.
(cd "$WORK" && RAEVM_SOCKET=$SOCK "$RAEVM" list --json) >"$TMP/env.out" 2>"$TMP/env.err" </dev/null
status=$?
check env 0 "$(cat "$TMP/list-json.out")" ""

# ----------------------------------------------------------- exit statuses

rv no-daemon --socket "$TMP/none.sock" list
check no-daemon 3 "" "raevm: the raevm daemon is not running (no socket at $TMP/none.sock); start it with: raevmd daemon --socket $TMP/none.sock"

# A socket nobody listens on any more: what a crashed daemon leaves.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$TMP/stale.sock"
rv stale --socket "$TMP/stale.sock" list
check stale 3 "" "raevm: the raevm daemon is not running (nothing listens on $TMP/stale.sock); start it with: raevmd daemon --socket $TMP/stale.sock"

rv version-no-daemon --socket "$TMP/none.sock" version
check version-no-daemon 3 "raevm   0.1.0 (protocol 1)" "raevm: the raevm daemon is not running (no socket at $TMP/none.sock); start it with: raevmd daemon --socket $TMP/none.sock"

rv denied-reply --socket "$SOCK" start secret
check denied-reply 4 "" "raevm: permission denied: only the daemon's owner and root may change VMs"

start_fake "$TMP/refuse.sock" refuse
rv denied-greeting --socket "$TMP/refuse.sock" list
check denied-greeting 4 "" "raevm: uid 65534 may not use raevmd: only root, uid 0 and members of group 'raevm' may connect"

# The socket's own permissions keep an unprivileged user out.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$RAEVM" 2>/dev/null; then
	start_fake "$TMP/private.sock"
	chmod 0600 "$TMP/private.sock"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$RAEVM" --socket "$TMP/private.sock" list >"$TMP/denied-socket.out" \
		2>"$TMP/denied-socket.err" </dev/null
	status=$?
	check denied-socket 4 "" "raevm: permission denied on $TMP/private.sock (run as root, or join the daemon's group, 'raevm')"
else
	skip "cli: denied-socket" "needs root, setpriv and a build an unprivileged user can run"
fi

rv not-found --socket "$SOCK" info missing
check not-found 5 "" "raevm: no VM named 'missing'"

rv busy --socket "$SOCK" start busy
check busy 1 "" "raevm: VM 'busy' is running; stop it first"

rv exists --socket "$SOCK" create --name web --kernel k
check exists 1 "" "raevm: a VM named 'web' already exists"

# The daemon's list of problems: one line each.
rv invalid-remote --socket "$SOCK" create --name invalid --kernel k
check invalid-remote 1 "" "raevm: boot.kernel: no such file
raevm: memory: too large for this host"

rv no-manifest --socket "$SOCK" create nothere.raeVM
check no-manifest 5 "" "raevm: nothere.raeVM: cannot read it: No such file or directory"

printf '{"raevm": 1, "name": "bad", "cpus": 0,\n "boot": {"kernal": "k"}}\n' >"$WORK/bad.raeVM"
rv bad-manifest --socket "$SOCK" create bad.raeVM
check bad-manifest 1 "" 'raevm: bad.raeVM: cpus: expected an integer from 1 to 254, got 0
raevm: bad.raeVM: boot.kernal: unknown key (did you mean "kernel"?)
raevm: bad.raeVM: boot.kernel: missing (the kernel to boot is required)'
if [ -s "$LOG" ] && grep -q bad "$LOG"; then
	fail "cli: bad-manifest" "an invalid manifest was sent to the daemon"
fi

rv typo-command --socket "$SOCK" strat web
check typo-command 2 "" "raevm: unknown command 'strat' (did you mean 'start'?)"

rv typo-flag --socket "$SOCK" stop web --forse
check typo-flag 2 "" "raevm: stop: unknown option '--forse' (did you mean '--force'?)"

rv missing-name --socket "$SOCK" stop
check missing-name 2 "" "raevm: stop: missing NAME (usage: raevm stop NAME [--force] [--timeout SECONDS])"

start_fake "$TMP/badproto.sock" badproto
rv bad-protocol --socket "$TMP/badproto.sock" list
check bad-protocol 1 "" "raevm: the daemon at $TMP/badproto.sock speaks protocol 99 and this raevm speaks 1 (install matching raevm and raevmd)"

start_fake "$TMP/other.sock" notraevm
rv not-raevm --socket "$TMP/other.sock" list
check not-raevm 1 "" "raevm: $TMP/other.sock is not a raevm daemon's socket (unexpected greeting)"

rv help-ok help stop
if [ "$status" = 0 ] && grep -q '^usage: raevm stop NAME' "$TMP/help-ok.out"; then
	pass "cli: help stop"
else
	fail "cli: help stop" "status $status; $(head -c 300 "$TMP/help-ok.out")"
fi

# ------------------------------------------------------------------ events

# events_until N MODE: streams events into a FIFO, reads N lines from it
# (each within 10 s), then interrupts raevm and records its status.
events_lines() {
	local n=$1 i line
	shift
	rm -f "$TMP/ev.fifo"
	mkfifo "$TMP/ev.fifo"
	"$RAEVM" --socket "$SOCK" events "$@" >"$TMP/ev.fifo" 2>"$TMP/ev.err" </dev/null &
	local pid=$!
	exec 8<"$TMP/ev.fifo"
	: >"$TMP/ev.out"
	for ((i = 0; i < n; i++)); do
		if ! IFS= read -r -t 10 -u 8 line; then
			echo "(no event line within 10 s)" >>"$TMP/ev.out"
			break
		fi
		printf '%s\n' "$line" >>"$TMP/ev.out"
	done
	kill -INT "$pid"
	wait "$pid"
	status=$?
	exec 8<&-
}

events_lines 3
cp "$TMP/ev.out" "$TMP/events-people.out"
cp "$TMP/ev.err" "$TMP/events-people.err"
check events-people 0 "2025-01-02 03:04:05  web               starting
2025-01-02 03:04:06  web               running
2025-01-02 03:04:07  db                crashed     worker killed by signal 9" ""

events_lines 3 --json
cp "$TMP/ev.out" "$TMP/events-json.out"
cp "$TMP/ev.err" "$TMP/events-json.err"
check events-json 0 '{"event": "vm.state", "data": {"name": "web", "state": "starting"}, "ts": "2025-01-02T03:04:05Z"}
{"event": "vm.state", "data": {"name": "web", "state": "running"}, "ts": "2025-01-02T03:04:06.250Z"}
{"event": "vm.state", "data": {"name": "db", "state": "crashed", "reason": "worker killed by signal 9"}, "ts": "2025-01-02T03:04:07Z"}' ""

# ----------------------------------------------------------------- console

# Piped input is sent as it is; raevm leaves once the console is quiet.
(cd "$WORK" && printf 'hello\n' | timeout -k 5 30 "$RAEVM" --socket "$SOCK" console web) \
	>"$TMP/console-pipe.out" 2>"$TMP/console-pipe.err"
status=$?
check console-pipe 0 "guest login: echo: hello" ""

# console_pty MODE: runs `raevm console web` on a pseudo-terminal between
# two `stty -g`, types "hi" and Ctrl-C (which must reach the guest: raw
# mode), then leaves by MODE (detach: Ctrl-]; term: SIGTERM to raevm) and
# checks that the terminal's settings are back as they were.
console_pty() {
	timeout -k 5 60 python3 - "$RAEVM" "$SOCK" "$1" <<'EOF'
import os, pty, re, select, signal, sys, time

raevm, sock, mode = sys.argv[1:4]
script = ('stty -g; sh -c \'echo PID=$$; exec "$0" --socket "$1" console web\' '
          '"%s" "%s"; echo STATUS=$?; stty -g; echo END' % (raevm, sock))
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", script])
buf = b""

def wait_for(pat):
    global buf
    end = time.monotonic() + 10
    while pat not in buf:
        left = end - time.monotonic()
        if left <= 0:
            sys.exit("timed out waiting for %r; got %r" % (pat, buf))
        if select.select([fd], [], [], left)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                sys.exit("end of output waiting for %r; got %r" % (pat, buf))
            buf += data

wait_for(b"guest login: ")
os.write(fd, b"hi")
wait_for(b"echo: hi")
os.write(fd, b"\x03")
wait_for(b"echo: \x03")
if mode == "detach":
    os.write(fd, b"\x1d")
else:
    os.kill(int(re.search(rb"PID=(\d+)", buf).group(1)), signal.SIGTERM)
wait_for(b"END")
os.waitpid(pid, 0)
lines = [l for l in buf.split(b"\r\n") if re.fullmatch(rb"[0-9a-f:]+", l)]
if len(lines) != 2 or lines[0] != lines[1]:
    sys.exit("terminal settings not restored: %r" % lines)
if b"STATUS=0" not in buf:
    sys.exit("raevm did not exit with 0: %r" % buf)
if mode == "detach" and b"Detached from the console of web." not in buf:
    sys.exit("no detach message: %r" % buf)
EOF
}

if out=$(console_pty detach 2>&1); then
	pass "cli: console detaches with Ctrl-] and restores the terminal"
else
	fail "cli: console detach" "$out"
fi
if out=$(console_pty term 2>&1); then
	pass "cli: console restores the terminal on SIGTERM"
else
	fail "cli: console SIGTERM" "$out"
fi

# -------------------------------------------------------------- completion

# complete WORDS...: what the completion offers for the last word.
complete_words() {
	(
		# shellcheck source=configs/completion/raevm.bash
		source "$COMPLETION"
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_raevm
		printf '%s\n' "${COMPREPLY[@]}"
	)
}

got=$(complete_words "$RAEVM" st | sort | tr '\n' ' ')
if [ "$got" = "start stop " ]; then
	pass "cli: completion of commands"
else
	fail "cli: completion of commands" "got '$got'"
fi
got=$(complete_words "$RAEVM" delete web --k | tr '\n' ' ')
if [ "$got" = "--keep-disks " ]; then
	pass "cli: completion of flags"
else
	fail "cli: completion of flags" "got '$got'"
fi
got=$(complete_words "$RAEVM" --socket "$SOCK" start "" | sort | tr '\n' ' ')
if [ "$got" = "db web " ]; then
	pass "cli: completion of VM names"
else
	fail "cli: completion of VM names" "got '$got'"
fi
got=$(complete_words "$RAEVM" --socket "$TMP/none.sock" start "" | tr '\n' ' ')
if [ -z "${got// /}" ]; then
	pass "cli: completion without a daemon offers nothing"
else
	fail "cli: completion without a daemon" "got '$got'"
fi

# --------------------------------------------------------------- man pages

for page in raevm.1 raevmd.8 raevm.manifest.5; do
	warnings=$(groff -man -Tutf8 -ww -z "$MAN/$page" 2>&1)
	text=$(MANWIDTH=80 man -l "$MAN/$page" 2>/dev/null)
	if [ -z "$warnings" ] && [ -n "$text" ]; then
		pass "cli: man $page renders"
	else
		fail "cli: man $page" "warnings: $warnings"
	fi
done
# Each command is the tag of a paragraph in COMMANDS ("pause NAME, resume NAME").
commands=$(MANWIDTH=200 man -l "$MAN/raevm.1" 2>/dev/null | sed -n '/^COMMANDS/,/^CONSOLE/p')
missing=
for cmd in $("$RAEVM" help --commands); do
	grep -Eq "^ {7}([a-z]+ [A-Z]+, )?$cmd( |$)" <<<"$commands" ||
		missing="$missing $cmd"
done
if [ -z "$missing" ]; then
	pass "cli: raevm(1) documents every command"
else
	fail "cli: raevm(1)" "commands not documented:$missing"
fi

# --------------------------------------------------------- the real daemon

# The same CLI against `raevmd daemon` on a private socket, store and
# runtime folder: the wire format above is what the daemon understands.
RAEVMD=$(cd "$(dirname "$RAEVM")" && pwd)/raevmd
if [ ! -x "$RAEVMD" ] || ! "$RAEVMD" daemon --help >/dev/null 2>&1; then
	skip "cli: real daemon" "no $RAEVMD with a daemon command"
	exit 0
fi
R=$TMP/real
RSOCK=$R/run/raevmd.sock
mkdir -p "$R"

# Starts the daemon with $NOTIFY_SOCKET and waits (at most 20 s) for its
# READY=1, the moment its socket accepts clients; prints its pid.
start_real() {
	python3 - "$RAEVMD" "$R" "$RSOCK" <<'EOF'
import os, socket, subprocess, sys
raevmd, r, sock = sys.argv[1:4]
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
n.bind(r + "/notify.sock")
n.settimeout(20)
log = open(r + "/raevmd.log", "ab")
p = subprocess.Popen([raevmd, "daemon", "--socket", sock, "--state-dir",
                      r + "/state", "--runtime-dir", r + "/run", "-v"],
                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                     env=dict(os.environ, NOTIFY_SOCKET=r + "/notify.sock"),
                     start_new_session=True)
try:
    while b"READY=1" not in n.recv(4096):
        pass
except socket.timeout:
    p.kill()
    sys.exit("no READY=1 within 20 s")
print(p.pid)
EOF
}

if ! RPID=$(start_real); then
	fail "cli: real daemon" "it did not start: $(tail -5 "$R/raevmd.log" | tr '\n' '|')"
	exit 0
fi
FAKE_PIDS+=("$RPID")

# real NAME ARGS...: rv against the real daemon.
real() {
	local name=$1
	shift
	rv "real-$name" --socket "$RSOCK" "$@"
}

# The event stream runs all along; next_event PATTERN reads events (each
# within 20 s) until one matches PATTERN (grep -E).
rm -f "$TMP/rev.fifo"
mkfifo "$TMP/rev.fifo"
"$RAEVM" --socket "$RSOCK" events >"$TMP/rev.fifo" 2>"$TMP/rev.err" </dev/null &
EVPID=$!
FAKE_PIDS+=("$EVPID")
exec 9<"$TMP/rev.fifo"
next_event() {
	local line
	while IFS= read -r -t 20 -u 9 line; do
		grep -Eq -- "$1" <<<"$line" && return 0
	done
	return 1
}

GUESTS=$(cd "$(dirname "$RAEVM")" && pwd)/guests

real version version
want="raevm   0.1.0 (protocol 1)
raevmd  $("$RAEVMD" version | sed 's/^raevmd //') (protocol 1)"
check real-version 0 "$want" ""

real list-empty list
check real-list-empty 0 "NAME  STATE  CPUS  MEMORY  UPTIME" ""

real create create --name t1 --kernel "$GUESTS/hello.elf" --memory 64M
check real-create 0 "created t1" ""
if next_event '^[0-9-]+ [0-9:]+  t1 +vm\.created$'; then
	pass "cli: real events shows vm.created"
else
	fail "cli: real events" "no vm.created line for t1"
fi

real list list
check real-list 0 "NAME  STATE    CPUS  MEMORY  UPTIME
t1    stopped     1  64M     -" ""

real info info t1
if [ "$status" = 0 ] && grep -qx 'state: *stopped' "$TMP/real-info.out" &&
	grep -qx "manifest.boot.kernel: *$GUESTS/hello.elf" "$TMP/real-info.out"; then
	pass "cli: real-info"
else
	fail "cli: real-info" "status $status; $(tr '\n' '|' <"$TMP/real-info.out")"
fi

real info-json --json info t1
if [ "$(jq -r '.name + " " + .state + " " + (.memory|tostring)' "$TMP/real-info-json.out" 2>&1)" = "t1 stopped 67108864" ]; then
	pass "cli: real-info-json"
else
	fail "cli: real-info-json" "$(cat "$TMP/real-info-json.out")"
fi

real exists create --name t1 --kernel "$GUESTS/hello.elf"
check real-exists 1 "" "raevm: a VM named 't1' already exists"

real not-found info missing
check real-not-found 5 "" "raevm: no VM named 'missing'"

real set set t1 --cpus 2
check real-set 0 "updated t1" ""
real list-set list
check real-list-set 0 "NAME  STATE    CPUS  MEMORY  UPTIME
t1    stopped     2  64M     -" ""

# A manifest with a relative kernel: the daemon resolves it against the
# folder raevm sends.
mkdir -p "$R/vm2"
cp "$GUESTS/hello.elf" "$R/vm2/kernel.elf"
printf '{"raevm": 1, "name": "rel", "memory": "64M", "boot": {"kernel": "kernel.elf", "cmdline": "from-manifest"}}\n' \
	>"$R/vm2/rel.raeVM"
real create-rel create "$R/vm2/rel.raeVM"
check real-create-rel 0 "created rel" ""

if [ -n "$KVM_SKIP" ]; then
	skip "cli: real VMs" "$KVM_SKIP"
else
	real start-rel start rel
	check real-start-rel 0 "started rel" ""
	if next_event '  rel +stopped +guest exited with code 0$'; then
		real logs-rel logs rel
		if grep -q 'hello from raevm guest' "$TMP/real-logs-rel.out" &&
			grep -q 'cmdline: from-manifest' "$TMP/real-logs-rel.out"; then
			pass "cli: real logs of a guest booted from a relative kernel"
		else
			fail "cli: real logs" "$(tr '\n' '|' <"$TMP/real-logs-rel.out")"
		fi
	else
		fail "cli: real start" "rel did not stop on its own: $(tail -3 "$R/raevmd.log" | tr '\n' '|')"
	fi

	real create-sh create --name sh --kernel "$GUESTS/shell.elf" --memory 64M --start
	check real-create-sh 0 "created sh and started it" ""
	(printf 'echo marker-42\n' | timeout -k 5 30 "$RAEVM" --socket "$RSOCK" console sh) \
		>"$TMP/real-console.out" 2>"$TMP/real-console.err"
	status=$?
	if [ "$status" = 0 ] && grep -q '^marker-42' "$TMP/real-console.out"; then
		pass "cli: real console"
	else
		fail "cli: real console" "status $status; $(tr '\n' '|' <"$TMP/real-console.out") $(cat "$TMP/real-console.err")"
	fi
	real list-running list
	if [ "$status" = 0 ] && grep -Eq '^sh +running +1 +64M +[0-9]+[smhd]' "$TMP/real-list-running.out"; then
		pass "cli: real list shows a running VM"
	else
		fail "cli: real list running" "$(tr '\n' '|' <"$TMP/real-list-running.out")"
	fi
	real busy delete sh
	if [ "$status" = 1 ] && grep -q "^raevm: VM 'sh' is running" "$TMP/real-busy.err"; then
		pass "cli: real delete of a running VM is refused"
	else
		fail "cli: real busy" "status $status; $(cat "$TMP/real-busy.err")"
	fi
	real stop-sh stop sh --force
	check real-stop-sh 0 "stopped sh" ""
	real delete-sh delete sh
	check real-delete-sh 0 "deleted sh" ""
fi

real delete delete t1
check real-delete 0 "deleted t1" ""
if next_event '  t1 +vm\.deleted$'; then
	pass "cli: real events shows vm.deleted"
else
	fail "cli: real events" "no vm.deleted line for t1"
fi

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$RAEVM" 2>/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$RAEVM" --socket "$RSOCK" list \
		>"$TMP/real-denied.out" 2>"$TMP/real-denied.err" </dev/null
	status=$?
	if [ "$status" = 4 ] && [ "$(wc -l <"$TMP/real-denied.err")" = 1 ]; then
		pass "cli: real daemon keeps an unprivileged user out (exit 4)"
	else
		fail "cli: real denied" "status $status; $(cat "$TMP/real-denied.err")"
	fi
fi

# The event stream ends with the daemon: status 3, one line.
kill -TERM "$RPID"
wait "$EVPID"
status=$?
exec 9<&-
if [ "$status" = 3 ] && [ "$(cat "$TMP/rev.err")" = "raevm: the daemon closed the event stream" ]; then
	pass "cli: events ends when the daemon stops"
else
	fail "cli: events end" "status $status; $(cat "$TMP/rev.err")"
fi
real gone list
if [ "$status" = 3 ]; then
	pass "cli: real daemon stopped: exit 3"
else
	fail "cli: real gone" "status $status; $(cat "$TMP/real-gone.err")"
fi
# Nothing is left running: the daemon exits (a bounded wait).
for ((i = 0; i < 200; i++)); do
	kill -0 "$RPID" 2>/dev/null || break
	sleep 0.05
done
if kill -0 "$RPID" 2>/dev/null; then
	fail "cli: real daemon exit" "still running 10 s after SIGTERM"
fi
