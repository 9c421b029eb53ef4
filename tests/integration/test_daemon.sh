#!/usr/bin/env bash
# The daemon's control plane (docs/api.md): golden request/reply pairs for
# every command and error (tests/daemon/golden/*.json), access by peer
# credentials, malformed input, 100 concurrent clients, events, the store
# across restarts, the socket's life cycle and sd_notify. Each daemon runs
# on a socket, store and runtime folder under $TMP and is stopped with
# SIGTERM; nothing may be left behind.
#
# RV_GOLDEN_UPDATE=1 rewrites the "expect" of every golden step from the
# daemon's replies; review the diff before committing it.
. "$(dirname "$0")/lib.sh"
# A client that went away must fail a write, not kill the script.
trap '' PIPE

GOLDEN_DIR=${RV_SOURCE_DIR:-.}/tests/daemon/golden
WAIT=${WAIT:-10} # seconds: a bound against hangs, not a timing assertion

for tool in socat jq setpriv; do
	if ! command -v "$tool" >/dev/null; then
		skip daemon "$tool is not installed (make deps installs it)"
		exit 0
	fi
done
if [ ! -x "$RAEVMD" ]; then
	skip daemon "no $RAEVMD"
	exit 0
fi

# The unprivileged peers (uid 65534) must reach the sockets under $TMP.
chmod 755 "$TMP"
D=$TMP/d
SOCK=$D/run/raevmd.sock
DPID=
declare -A CONN_FD CONN_PID

# start_daemon [ARGS...]: starts a daemon on $D and waits for its socket.
start_daemon() {
	"$RAEVMD" daemon --socket "$SOCK" --state-dir "$D/state" \
		--runtime-dir "$D/run" -v -v "$@" >>"$TMP/daemon.log" 2>&1 &
	DPID=$!
	# A greeting, not just a socket file: a stale one may still be there.
	wait_for "the daemon's greeting" 'kill -0 $DPID && socat -t 1 STDIO "UNIX-CONNECT:$SOCK" </dev/null | grep -q "\"raevm\""'
}

# stop_daemon: SIGTERM, then the daemon must exit 0 within $WAIT seconds.
stop_daemon() {
	local i rc
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for ((i = 0; i < WAIT * 20; i++)); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$DPID" 2>/dev/null; then
		kill -KILL "$DPID"
		wait "$DPID" 2>/dev/null
		DPID=
		return 124
	fi
	wait "$DPID"
	rc=$?
	DPID=
	return $rc
}
cleanup() {
	local p
	for p in "${CONN_PID[@]}"; do
		kill "$p" 2>/dev/null
	done
	stop_daemon
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# wait_for WHAT COMMAND: polls COMMAND (eval'd) until it succeeds, at most
# $WAIT seconds. Returns 1 on timeout.
wait_for() {
	local i
	for ((i = 0; i < WAIT * 50; i++)); do
		eval "$2" 2>/dev/null && return 0
		sleep 0.02
	done
	echo "    timed out waiting for $1" >&2
	return 1
}

# Connections: conn_open ID [PREFIX...] runs socat (under PREFIX, e.g.
# setpriv) with stdin from a FIFO kept open on fd CONN_FD[ID] and stdout
# in $TMP/conn-ID.out.
conn_open() {
	local id=$1 fd
	shift
	rm -f "$TMP/conn-$id.in" "$TMP/conn-$id.out"
	mkfifo "$TMP/conn-$id.in"
	: >"$TMP/conn-$id.out"
	"$@" socat -t 5 STDIO "UNIX-CONNECT:$SOCK" <"$TMP/conn-$id.in" \
		>"$TMP/conn-$id.out" 2>"$TMP/conn-$id.err" &
	CONN_PID[$id]=$!
	exec {fd}>"$TMP/conn-$id.in"
	CONN_FD[$id]=$fd
}
conn_send() { printf '%s\n' "$2" >&"${CONN_FD[$1]}"; }
conn_lines() { wc -l <"$TMP/conn-$1.out"; }
# conn_wait ID N: waits until the connection has printed N lines.
conn_wait() { wait_for "$2 lines on connection $1" "[ \$(conn_lines $1) -ge $2 ]"; }
conn_line() { sed -n "${2}p" "$TMP/conn-$1.out"; }
# conn_close ID: ends the connection (its output is complete by then).
conn_close() {
	local fd=${CONN_FD[$1]}
	exec {fd}>&-
	kill "${CONN_PID[$1]}" 2>/dev/null
	wait "${CONN_PID[$1]}" 2>/dev/null
}

# One request on a fresh connection; prints the reply line.
request() {
	local id=req$RANDOM
	conn_open "$id"
	conn_send "$id" "$1"
	conn_wait "$id" 2 || return 1
	conn_line "$id" 2
	conn_close "$id"
}

# Replies are compared after normalisation: the temp dir, versions, pids,
# times and timestamps vary between runs.
normalise() {
	sed "s|$TMP|@TMP@|g" | jq -cS '
		walk(if type == "object" then
			(if has("ts") then .ts = "@TS@" else . end)
			| (if has("version") and (.version | type) == "string"
			   then .version = "@VERSION@" else . end)
			| (if has("supervisor") and has("uptime")
			   then .uptime = "@TIME@" | .clients = "@N@" else . end)
			| (if (.pid | type) == "number" and .pid > 0
			   then .pid = "@PID@" else . end)
			| reduce ("uptime", "since", "created", "started_at") as $k
				(.; if (.[$k] | type) == "number" and .[$k] > 0
				    then .[$k] = "@TIME@" else . end)
		     else . end)'
}

# ---------------------------------------------------------------------------
# Golden request/reply pairs

# golden FILE: runs the steps of one golden file on one connection, as root
# or (access "read") as uid 65534 with the socket's group. A step sends
# "send" (a request) or "raw" (a line as it is) and expects "expect": its
# reply, or an array of lines when events come before the reply. "greeting",
# when given, is compared with the connection's first line.
golden() {
	local file=$1 name id n i line got want prefix=() updated
	name=$(basename "$file" .json)
	id=g-$name
	if [ "$(jq -r '.access // "full"' "$file")" = read ]; then
		prefix=(setpriv --reuid 65534 --regid 65534
			--groups "$(stat -c %g "$SOCK")" --)
	fi
	conn_open "$id" "${prefix[@]}"
	n=$(jq '.steps | length' "$file")
	for ((i = 0; i < n; i++)); do
		if jq -e ".steps[$i] | has(\"raw\")" "$file" >/dev/null; then
			line=$(jq -r ".steps[$i].raw" "$file")
		else
			line=$(jq -c ".steps[$i].send" "$file")
		fi
		conn_send "$id" "$line"
		# Replies have "ok", events do not.
		if ! wait_for "reply $i" "[ \$(grep -c '\"ok\":' \"\$TMP/conn-$id.out\") -gt $i ]"; then
			fail "golden/$name" "no reply to step $i: $line"
			conn_close "$id"
			return
		fi
	done
	conn_close "$id"
	# Group the lines after the greeting by step: events, then the reply.
	got=$(sed 1d "$TMP/conn-$id.out" | normalise | jq -cs '
		reduce .[] as $l ({cur: [], steps: []};
			.cur += [$l] | if ($l | has("ok"))
			then .steps += [.cur] | .cur = [] else . end)
		| .steps | map(if length == 1 then .[0] else . end)')
	if [ -n "${RV_GOLDEN_UPDATE:-}" ]; then
		updated=$(jq --argjson got "$got" --argjson g "$(head -1 "$TMP/conn-$id.out" | normalise)" \
			'(if has("greeting") then .greeting = $g else . end)
			| .steps |= [to_entries[] | .value.expect = $got[.key] | .value]' \
			"$file") && printf '%s\n' "$updated" >"$file"
		pass "golden/$name (updated)"
		return
	fi
	if jq -e 'has("greeting")' "$file" >/dev/null &&
		[ "$(head -1 "$TMP/conn-$id.out" | normalise)" != "$(jq -cS .greeting "$file")" ]; then
		fail "golden/$name" "greeting: $(head -1 "$TMP/conn-$id.out")"
		return
	fi
	for ((i = 0; i < n; i++)); do
		want=$(jq -cS ".steps[$i].expect" "$file")
		if [ "$(jq -cS ".[$i]" <<<"$got")" != "$want" ]; then
			fail "golden/$name" "step $i ($(jq -c ".steps[$i].send // .steps[$i].raw" "$file" | head -c 200)): got $(jq -cS ".[$i]" <<<"$got"), expected $want"
			return
		fi
	done
	pass "golden/$name"
}

mkdir -p "$D"
if ! start_daemon; then
	fail daemon/start "the daemon did not start: $(tail -5 "$TMP/daemon.log" | tr '\n' '|')"
	exit 0
fi
pass daemon/start

for f in "$GOLDEN_DIR"/*.json; do
	golden "$f"
done

# ---------------------------------------------------------------------------
# Socket, access

mode=$(stat -c %a "$SOCK")
[ "$mode" = 660 ] && pass daemon/socket-mode || fail daemon/socket-mode "mode $mode, expected 660"

gid=$(stat -c %g "$SOCK")
# Not in the group: the socket's mode stops the peer at connect().
if setpriv --reuid 65534 --regid 65534 --clear-groups -- \
	socat -t 2 STDIO "UNIX-CONNECT:$SOCK" </dev/null >"$TMP/nobody.out" 2>&1; then
	fail access/refused-by-mode "uid 65534 could connect: $(cat "$TMP/nobody.out")"
else
	pass access/refused-by-mode
fi
# With the socket made world-accessible, the daemon refuses the peer itself.
chmod 777 "$D/run"
chmod 666 "$SOCK"
out=$(setpriv --reuid 65534 --regid 65534 --clear-groups -- \
	socat -t 2 STDIO "UNIX-CONNECT:$SOCK" </dev/null 2>&1)
if [ "$(wc -l <<<"$out")" = 1 ] &&
	[ "$(jq -c '[.id, .ok, .error.code]' <<<"$out")" = '[null,false,"EACCES"]' ] &&
	grep -q "uid 65534 may not use raevmd" <<<"$out"; then
	pass access/refused-by-daemon
else
	fail access/refused-by-daemon "got: $out"
fi
chmod 750 "$D/run"
chmod 660 "$SOCK"
# Primary group only: read access.
out=$(printf '%s\n' '{"id":1,"cmd":"vm.list"}' '{"id":2,"cmd":"vm.delete","args":{"name":"x"}}' |
	setpriv --reuid 65534 --regid "$gid" --clear-groups -- \
		socat -t 5 STDIO "UNIX-CONNECT:$SOCK" 2>&1)
if [ "$(jq -sc '[.[0].raevm.access, .[1].ok, .[2].error.code]' <<<"$out")" = '["read",true,"EACCES"]' ]; then
	pass access/primary-group-reads
else
	fail access/primary-group-reads "got: $out"
fi

# ---------------------------------------------------------------------------
# Malformed input

conn_open bad
conn_send bad '{"id":1,"cmd":"vm.list"'
printf '{"id":2,\x00"cmd":"vm.list"}\n' >&"${CONN_FD[bad]}"
printf '{"id":3,"cmd":"vm.info","args":{"name":"\xff\xfe"}}\n' >&"${CONN_FD[bad]}"
conn_send bad '{"id":4,"cmd":"vm.list"}'
if conn_wait bad 5 &&
	[ "$(sed -n '2,5p' "$TMP/conn-bad.out" | jq -sc '[.[] | .error.code // .ok]')" = '["EBADMSG","EBADMSG","EBADMSG",true]' ] &&
	grep -q 'column 9: NUL byte' "$TMP/conn-bad.out"; then
	pass malformed/kept-open
else
	fail malformed/kept-open "got: $(tr '\n' '|' <"$TMP/conn-bad.out")"
fi
conn_close bad

# A line over RV_API_MAX_LINE (1 MiB): EMSGSIZE, then the daemon closes.
{
	printf '{"id":1,"cmd":"vm.list","args":{"x":"'
	head -c 1048576 /dev/zero | tr '\0' a
	printf '"}}\n{"id":2,"cmd":"vm.list"}\n'
} >"$TMP/long.txt"
out=$(socat -t 5 STDIO "UNIX-CONNECT:$SOCK" <"$TMP/long.txt" 2>&1)
if [ "$(wc -l <<<"$out")" = 2 ] &&
	[ "$(sed -n 2p <<<"$out" | jq -c '[.id, .error.code]')" = '[null,"EMSGSIZE"]' ]; then
	pass malformed/too-long-closes
else
	fail malformed/too-long-closes "got: $(head -c 300 <<<"$out")"
fi

# Just under the cap is a request like any other (an unknown argument).
{
	printf '{"id":1,"cmd":"vm.list","args":{"x":"'
	head -c $((1048576 - 40)) /dev/zero | tr '\0' a
	printf '"}}\n'
} >"$TMP/long.txt"
out=$(socat -t 5 STDIO "UNIX-CONNECT:$SOCK" <"$TMP/long.txt" 2>&1 | sed -n 2p)
if [ "$(jq -c '[.id, .error.code]' <<<"$out")" = '[1,"EINVAL"]' ]; then
	pass malformed/just-under-the-cap
else
	fail malformed/just-under-the-cap "got: $(head -c 300 <<<"$out")"
fi

# Pipelined requests get their replies in order.
seq 1 200 | sed 's/.*/{"id":&,"cmd":"daemon.version"}/' >"$TMP/pipe.txt"
out=$(socat -t 5 STDIO "UNIX-CONNECT:$SOCK" <"$TMP/pipe.txt" 2>&1 | sed 1d | jq -c .id | tr '\n' ' ')
[ "$out" = "$(seq 1 200 | tr '\n' ' ')" ] && pass protocol/pipelined-in-order ||
	fail protocol/pipelined-in-order "ids: $(head -c 200 <<<"$out")"

# ---------------------------------------------------------------------------
# Events and 100 concurrent clients

manifest() { # NAME [extra JSON fields]
	printf '{"raevm":1,"name":"%s","boot":{"kernel":"/nonexistent/vmlinux"}%s}' "$1" "${2:-}"
}
N=100
for ((i = 0; i < N; i++)); do
	conn_open "c$i"
	conn_send "c$i" '{"id":"sub","cmd":"events.subscribe"}'
done
ok=1
for ((i = 0; i < N; i++)); do
	conn_wait "c$i" 2 || { ok=0; break; }
done
clients=$(request '{"id":1,"cmd":"daemon.version"}' | jq .result.clients)
reply=$(request "{\"id\":1,\"cmd\":\"vm.create\",\"args\":{\"manifest\":$(manifest ev)}}")
for ((i = 0; ok && i < N; i++)); do
	conn_wait "c$i" 3 || ok=0
done
got=0
for ((i = 0; i < N; i++)); do
	[ "$(conn_line "c$i" 3 | jq -c '[.event, .data.name]')" = '["vm.created","ev"]' ] && got=$((got + 1))
done
if [ "$ok" = 1 ] && [ "$got" = $N ] && [ "$clients" -gt $N ]; then
	pass "clients/100-concurrent"
else
	fail "clients/100-concurrent" "$got of $N saw vm.created; daemon counted $clients clients; create: $reply"
fi
request '{"id":2,"cmd":"vm.delete","args":{"name":"ev"}}' >/dev/null
conn_wait c0 4
[ "$(conn_line c0 4 | jq -c '[.event, .data.name]')" = '["vm.deleted","ev"]' ] &&
	pass events/deleted || fail events/deleted "got: $(conn_line c0 4)"
for ((i = 0; i < N; i++)); do
	conn_close "c$i"
done

# A subscriber that never reads is dropped once its queue is full; the
# daemon says so in its log and keeps serving others. socat -u only sends
# towards the daemon and never reads the socket.
subs() { grep -c ': events.subscribe$' "$TMP/daemon.log"; }
before=$(subs)
mkfifo "$TMP/slow.in"
socat -u STDIN "UNIX-CONNECT:$SOCK" <"$TMP/slow.in" &
slowpid=$!
exec {slowfd}>"$TMP/slow.in"
printf '%s\n' '{"id":1,"cmd":"events.subscribe"}' >&"$slowfd"
wait_for "the slow subscriber" '[ "$(subs)" -gt "$before" ]'
long=$(printf 'x%.0s' $(seq 1 58))
for ((i = 0; i < 1200; i++)); do
	printf '{"id":%d,"cmd":"vm.create","args":{"manifest":%s}}\n' "$i" "$(manifest "$long$i")"
done >"$TMP/many.txt"
for ((i = 0; i < 1200; i++)); do
	printf '{"id":%d,"cmd":"vm.delete","args":{"name":"%s%d"}}\n' "$i" "$long" "$i"
done >>"$TMP/many.txt"
socat -t 60 STDIO "UNIX-CONNECT:$SOCK" <"$TMP/many.txt" >"$TMP/many.out" 2>&1
if wait_for "the drop" 'grep -q "dropped: it read events too slowly" "$TMP/daemon.log"'; then
	pass events/slow-subscriber-dropped
else
	fail events/slow-subscriber-dropped "no drop in the log"
fi
exec {slowfd}>&-
kill "$slowpid" 2>/dev/null
wait "$slowpid" 2>/dev/null
n=$(grep -c '"ok":true' "$TMP/many.out")
[ "$n" = 2400 ] && [ "$(request '{"id":1,"cmd":"vm.list"}' | jq '.result.vms | length')" = 0 ] &&
	pass store/bulk-create-delete || fail store/bulk-create-delete "$n of 2400 requests succeeded"

# ---------------------------------------------------------------------------
# A real VM through the supervisor: the API side of start, pause, resume,
# console, logs, restart, stop and kill, with the vm.state events.

if [ -n "$KVM_SKIP" ]; then
	skip daemon/vm-lifecycle "$KVM_SKIP"
elif [ ! -f "$GUESTS/shell.elf" ]; then
	skip daemon/vm-lifecycle "no $GUESTS/shell.elf (make guests)"
else
	K=$(realpath "$GUESTS/shell.elf")
	conn_open ev
	conn_send ev '{"id":0,"cmd":"events.subscribe"}'
	conn_open life
	steps=(
		"{\"id\":1,\"cmd\":\"vm.create\",\"args\":{\"manifest\":{\"raevm\":1,\"name\":\"life\",\"boot\":{\"kernel\":\"$K\"}},\"start\":true}}"
		'{"id":2,"cmd":"vm.start","args":{"name":"life"}}'
		'{"id":3,"cmd":"vm.pause","args":{"name":"life"}}'
		'{"id":4,"cmd":"vm.pause","args":{"name":"life"}}'
		'{"id":5,"cmd":"vm.resume","args":{"name":"life"}}'
		'{"id":6,"cmd":"vm.console","args":{"name":"life"}}'
		'{"id":7,"cmd":"vm.delete","args":{"name":"life"}}'
		'{"id":8,"cmd":"vm.set","args":{"name":"life","cpus":2}}'
		'{"id":9,"cmd":"vm.restart","args":{"name":"life","force":true}}'
		'{"id":10,"cmd":"vm.stop","args":{"name":"life","force":true}}'
		'{"id":11,"cmd":"vm.start","args":{"name":"life"}}'
		'{"id":12,"cmd":"vm.kill","args":{"name":"life"}}'
		'{"id":13,"cmd":"vm.info","args":{"name":"life"}}'
	)
	for st in "${steps[@]:0:6}"; do
		conn_send life "$st"
	done
	conn_wait life 7
	# The guest's banner reaches the scrollback.
	logs() { request '{"id":1,"cmd":"vm.logs","args":{"name":"life"}}'; }
	wait_for "the banner" 'logs | jq -e ".result.text | test(\"raevm test shell\")" >/dev/null' &&
		pass daemon/vm-logs || fail daemon/vm-logs "got: $(logs)"
	for st in "${steps[@]:6}"; do
		conn_send life "$st"
	done
	conn_wait life $((${#steps[@]} + 1))
	got=$(sed 1d "$TMP/conn-life.out" | jq -c '[.id, .result.state // .error.code]' | tr -d '\n')
	want='[1,"running"][2,"EALREADY"][3,"paused"][4,"EALREADY"][5,"running"][6,null][7,"EBUSY"][8,"EBUSY"][9,"running"][10,"stopped"][11,"running"][12,"stopped"][13,"stopped"]'
	[ "$got" = "$want" ] && pass daemon/vm-lifecycle ||
		fail daemon/vm-lifecycle "got $got"
	sock=$(sed -n 7p "$TMP/conn-life.out" | jq -r .result.socket)
	[ "$sock" = "$D/run/life/console.sock" ] && pass daemon/vm-console-path ||
		fail daemon/vm-console-path "got: $(sed -n 7p "$TMP/conn-life.out")"
	conn_close life
	request '{"id":1,"cmd":"vm.delete","args":{"name":"life"}}' >/dev/null
	conn_wait ev 3
	# The first run: starting, running, paused, running.
	got=$(jq -c 'select(.event == "vm.state") | .data.state' "$TMP/conn-ev.out" | head -4 | tr -d '\n')
	[ "$got" = '"starting""running""paused""running"' ] && pass events/vm-state ||
		fail events/vm-state "got $got"
	conn_close ev
fi

# ---------------------------------------------------------------------------
# The store across restarts

reply=$(request "{\"id\":1,\"cmd\":\"vm.create\",\"args\":{\"manifest\":{\"raevm\":1,\"name\":\"keep\",\"cpus\":2,\"boot\":{\"kernel\":\"vmlinux\",\"initrd\":\"sub/initrd\"},\"disks\":[{\"path\":\"root.img\"}]},\"base_dir\":\"/srv/vm\"}}")
m=$D/state/vms/keep/manifest.raeVM
if [ "$(jq -c '[.boot.kernel, .boot.initrd, .disks[0].path, .cpus]' "$m" 2>/dev/null)" = '["/srv/vm/vmlinux","/srv/vm/sub/initrd","/srv/vm/root.img",2]' ]; then
	pass store/paths-absolute
else
	fail store/paths-absolute "reply $reply; manifest $(cat "$m" 2>/dev/null)"
fi
left=$(find "$D/state" -name '*.tmp.*' -o -name '.*.creating' -o -name '.*.deleting' | head -3)
[ -z "$left" ] && pass store/no-temporaries || fail store/no-temporaries "$left"

# vm.delete removes the VM's own writable disks only.
mkdir -p "$TMP/disks"
: >"$TMP/disks/own.img"
: >"$TMP/disks/base.img"
reply=$(request "{\"id\":1,\"cmd\":\"vm.create\",\"args\":{\"manifest\":{\"raevm\":1,\"name\":\"dd\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"own.img\"},{\"path\":\"base.img\",\"readonly\":true},{\"path\":\"/dev/null\"}]},\"base_dir\":\"$TMP/disks\"}}")
reply=$(request '{"id":2,"cmd":"vm.delete","args":{"name":"dd"}}')
if [ "$(jq -c '[.result.disks_removed, [.result.disks_kept[].reason]]' <<<"$reply" | sed "s|$TMP|@|g")" = '[["@/disks/own.img"],["read-only disk","not a regular file"]]' ] &&
	[ ! -e "$TMP/disks/own.img" ] && [ -e "$TMP/disks/base.img" ] && [ -e /dev/null ] &&
	[ ! -e "$D/state/vms/dd" ]; then
	pass store/delete-disks
else
	fail store/delete-disks "got: $reply"
fi

# vm.logs: the tail of console.log.1 + console.log, cleaned to UTF-8.
request "{\"id\":1,\"cmd\":\"vm.create\",\"args\":{\"manifest\":$(manifest logs)}}" >/dev/null
printf 'old 1\nold 2\n' >"$D/state/vms/logs/console.log.1"
printf 'new 1\nbad \xff byte\x00\nlast, no newline' >"$D/state/vms/logs/console.log"
a=$(request '{"id":1,"cmd":"vm.logs","args":{"name":"logs","lines":3}}')
b=$(request '{"id":2,"cmd":"vm.logs","args":{"name":"logs"}}')
if jq -e '.result | .text == "new 1\nbad \ufffd byte\nlast, no newline" and .truncated' <<<"$a" >/dev/null &&
	jq -e '.result | .text == "old 1\nold 2\nnew 1\nbad \ufffd byte\nlast, no newline" and (.truncated | not)' <<<"$b" >/dev/null; then
	pass logs/tail
else
	fail logs/tail "got: $a / $b"
fi
request '{"id":3,"cmd":"vm.delete","args":{"name":"logs"}}' >/dev/null

# A VM recorded as running whose worker is gone is stopped at the restart.
if stop_daemon; then
	pass daemon/sigterm-exit-0
else
	fail daemon/sigterm-exit-0 "status $?"
fi
left=$(ls -A "$D/run")
[ -z "$left" ] && pass daemon/no-leftovers || fail daemon/no-leftovers "$left"
printf '{"state":"running","reason":"","since":1,"created":1}\n' >"$D/state/vms/keep/state"
mkdir "$D/state/vms/.half.creating"
start_daemon
info=$(request '{"id":1,"cmd":"vm.info","args":{"name":"keep"}}')
if [ "$(jq -c '[.result.state, .result.reason, .result.cpus]' <<<"$info")" = '["stopped","the worker was gone when the daemon started",2]' ]; then
	pass store/restart-keeps-vms
else
	fail store/restart-keeps-vms "got: $info"
fi
[ ! -e "$D/state/vms/.half.creating" ] && pass store/leftovers-removed ||
	fail store/leftovers-removed ".half.creating is still there"

# A stored manifest that no longer parses keeps its VM: listed with the
# problem, not startable, deletable.
stop_daemon
mkdir -p "$D/state/vms/broken"
echo '{"raevm": 1, "name": "broken", "boot": {"kernel": "/k"}, "gpu": true}' >"$D/state/vms/broken/manifest.raeVM"
start_daemon
list=$(request '{"id":1,"cmd":"vm.list"}')
start=$(request '{"id":2,"cmd":"vm.start","args":{"name":"broken"}}')
del=$(request '{"id":3,"cmd":"vm.delete","args":{"name":"broken"}}')
if [ "$(jq -c '[.result.vms[] | select(.name == "broken") | .problem]' <<<"$list")" = '["gpu: unknown key"]' ] &&
	[ "$(jq -c '[.error.code, .error.message]' <<<"$start")" = '["EINVAL","VM '"'broken'"' cannot start: gpu: unknown key"]' ] &&
	[ "$(jq -c .ok <<<"$del")" = true ]; then
	pass store/broken-manifest-kept
else
	fail store/broken-manifest-kept "list $list; start $start; delete $del"
fi

# A second daemon on the same socket refuses to start.
"$RAEVMD" daemon --socket "$SOCK" --state-dir "$D/state2" --runtime-dir "$D/run" \
	>"$TMP/second.log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "another raevmd is running" "$TMP/second.log"; then
	pass daemon/second-refused
else
	fail daemon/second-refused "status $rc: $(cat "$TMP/second.log")"
fi

# A daemon killed with SIGKILL leaves a stale socket; the next one replaces it.
{
	kill -KILL "$DPID"
	wait "$DPID"
} 2>/dev/null
DPID=
if [ -S "$SOCK" ] && start_daemon &&
	[ "$(request '{"id":1,"cmd":"vm.list"}' | jq -c '[.result.vms[].name]')" = '["keep"]' ]; then
	pass daemon/stale-socket-replaced
else
	fail daemon/stale-socket-replaced "$(tail -3 "$TMP/daemon.log" | tr '\n' '|')"
fi
request '{"id":1,"cmd":"vm.delete","args":{"name":"keep"}}' >/dev/null
stop_daemon

# A path that is not a socket is never removed.
: >"$TMP/notasocket"
"$RAEVMD" daemon --socket "$TMP/notasocket" --state-dir "$D/state" \
	--runtime-dir "$D/run" >"$TMP/nas.log" 2>&1
rc=$?
if [ $rc = 1 ] && [ -f "$TMP/notasocket" ] && grep -q "is not a socket" "$TMP/nas.log"; then
	pass daemon/not-a-socket
else
	fail daemon/not-a-socket "status $rc: $(cat "$TMP/nas.log")"
fi

# ---------------------------------------------------------------------------
# sd_notify: READY=1 once listening, STOPPING=1 on SIGTERM.

socat -u "UNIX-RECV:$TMP/notify.sock" "OPEN:$TMP/notify.out,creat,append" &
npid=$!
wait_for "the notify socket" 'test -S "$TMP/notify.sock"'
NOTIFY_SOCKET=$TMP/notify.sock start_daemon
wait_for READY=1 'grep -q "READY=1" "$TMP/notify.out"'
stop_daemon
wait_for STOPPING=1 'grep -q "STOPPING=1" "$TMP/notify.out"'
if grep -q READY=1 "$TMP/notify.out" && grep -q STOPPING=1 "$TMP/notify.out"; then
	pass daemon/sd-notify
else
	fail daemon/sd-notify "got: $(tr '\n' '|' <"$TMP/notify.out")"
fi
kill "$npid" 2>/dev/null
wait "$npid" 2>/dev/null

# The service file is one systemd can load.
if command -v systemd-analyze >/dev/null; then
	sed "s|/usr/local/bin/raevmd|$(realpath "$RAEVMD")|" "${RV_SOURCE_DIR:-.}/configs/raevmd.service" >"$TMP/raevmd.service"
	if out=$(systemd-analyze verify "$TMP/raevmd.service" 2>&1 | grep -v -e 'man:' -e "Command 'man" -e 'Cannot add dependency'); [ -z "$out" ]; then
		pass daemon/service-file
	else
		fail daemon/service-file "$out"
	fi
else
	skip daemon/service-file "no systemd-analyze"
fi

# Under `make sanitize` the daemon's own reports land in its log.
if grep -Eq 'runtime error|(Address|Leak|UndefinedBehavior)Sanitizer' "$TMP/daemon.log"; then
	fail daemon/sanitizers "$(grep -E -m3 'runtime error|Sanitizer' "$TMP/daemon.log")"
else
	pass daemon/sanitizers
fi
