#!/usr/bin/env bats
# netd as a process: lifecycle, persistence, crash safety, the API over the
# real socket, peer checks, systemd notify, the unit file.

load netd_lib

setup() {
	D=$BATS_TEST_TMPDIR/n1
}

teardown() {
	for p in "$BATS_TEST_TMPDIR"/*/pid; do
		[ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null || true
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do ip netns del "$ns" || true; done
}

reg() { # reg DIR CID NETWORK NETNS
	netd_curl "$1" -XPOST -d "{\"containerID\":\"$2\",\"network\":\"$3\",\"netns\":\"$4\"}" \
		http://netd/v1/endpoints
}

@test "netd serves status on a 0660 socket and stops cleanly on SIGTERM" {
	netd_start "$D"
	run netd_curl "$D" http://netd/v1/status
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = 200 ]
	echo "${lines[0]}" | grep -q '"version"'
	[ "$(stat -c %a "$D/netd.sock")" = 660 ]
	netd_stop "$D" TERM
	[ ! -e "$D/netd.sock" ]
	grep -q "SIGTERM: shutting down, state kept" "$D/log"
}

@test "state survives a restart; endpoints whose netns is gone are dropped" {
	ip netns add keep
	ip netns add gone
	netd_start "$D"
	run reg "$D" c1 n1 /run/netns/keep
	[ "${lines[-1]}" = 201 ]
	run reg "$D" c2 n1 /run/netns/gone
	[ "${lines[-1]}" = 201 ]
	run netd_curl "$D" -XPOST -d '{"name":"blue","subnets":["10.7.0.0/24"]}' http://netd/v1/networks
	[ "${lines[-1]}" = 201 ]
	netd_stop "$D" TERM
	ip netns del gone
	netd_start "$D"
	run netd_curl "$D" http://netd/v1/endpoints/n1:c1:eth0
	[ "${lines[-1]}" = 200 ]
	run netd_curl "$D" http://netd/v1/endpoints/n1:c2:eth0
	[ "${lines[-1]}" = 404 ]
	run netd_curl "$D" http://netd/v1/networks/blue
	[ "${lines[-1]}" = 200 ]
	echo "${lines[0]}" | grep -q 10.7.0.0/24
	grep -q "dropped 1 endpoints" "$D/log"
}

@test "kill -9 during 100 registrations loses nothing that was acknowledged" {
	ip netns add c
	netd_start "$D"
	: >"$BATS_TEST_TMPDIR/acked"
	(
		for i in $(seq 100); do
			if curl -sf --unix-socket "$D/netd.sock" -XPOST \
				-d "{\"containerID\":\"c$i\",\"network\":\"n\",\"netns\":\"/run/netns/c\"}" \
				http://netd/v1/endpoints >/dev/null; then
				echo "c$i" >>"$BATS_TEST_TMPDIR/acked"
			fi
		done
	) &
	loop=$!
	for _ in $(seq 200); do
		[ "$(wc -l <"$BATS_TEST_TMPDIR/acked")" -ge 40 ] && break
		sleep 0.01
	done
	kill -9 "$(cat "$D/pid")"
	wait "$loop" || true
	acked=$(wc -l <"$BATS_TEST_TMPDIR/acked")
	[ "$acked" -ge 40 ]
	[ "$acked" -lt 100 ] # the kill landed mid-way, or the test proves nothing
	netd_start "$D"
	while read -r id; do
		run netd_curl "$D" "http://netd/v1/endpoints/n:$id:eth0"
		[ "${lines[-1]}" = 200 ] || { echo "acknowledged $id lost"; false; }
	done <"$BATS_TEST_TMPDIR/acked"
	# nothing else: at most the one request in flight was stored unanswered
	run netd_curl "$D" http://netd/v1/status
	n=$(echo "${lines[0]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["endpoints"])')
	[ "$n" -ge "$acked" ] && [ "$n" -le $((acked + 1)) ]
}

@test "a torn journal tail (power loss mid-append) is dropped with a warning, the rest kept" {
	ip netns add keep
	netd_start "$D"
	for i in 1 2 3 4 5; do
		run reg "$D" t$i n /run/netns/keep
		[ "${lines[-1]}" = 201 ]
	done
	netd_stop "$D" KILL
	# half a record, as a power loss can leave it
	printf 'P 00000100 0badc0de {"id":"n:t6:eth0","conta' >>"$D/state/endpoints.0000000001.log"
	netd_start "$D"
	grep -q "state: .*endpoints.0000000001.log: torn or corrupt record at byte .* the 5 records before it are kept" \
		"$D/log"
	for i in 1 2 3 4 5; do
		run netd_curl "$D" http://netd/v1/endpoints/n:t$i:eth0
		[ "${lines[-1]}" = 200 ]
	done
	run netd_curl "$D" http://netd/v1/endpoints/n:t6:eth0
	[ "${lines[-1]}" = 404 ]
	run netd_curl "$D" http://netd/metrics
	echo "$output" | grep -q '^netd_state_warnings_total 1$'
	# new changes are not appended behind the garbage
	run reg "$D" t7 n /run/netns/keep
	[ "${lines[-1]}" = 201 ]
	netd_stop "$D" KILL
	netd_start "$D"
	run netd_curl "$D" http://netd/v1/endpoints/n:t7:eth0
	[ "${lines[-1]}" = 200 ]
	run netd_curl "$D" http://netd/v1/status
	echo "${lines[0]}" | grep -q '"endpoints":6'
}

@test "the journal is compacted in the background; a restart after compaction has everything" {
	bench=$NETD_BUILD/netd/netd-api-bench
	[ -x "$bench" ] || skip "netd-api-bench not built"
	ip netns add keep
	netd_start "$D"
	# 1,000 registrations, then 600 register+unregister pairs on bench0..599:
	# 2,200 journal records for 400 live endpoints
	"$bench" "$D/netd.sock" fill 1000
	"$bench" "$D/netd.sock" keepalive 600 >/dev/null
	for _ in $(seq 100); do
		ls "$D/state" | grep -q '^endpoints\.[0-9]*\.snap$' && break
		sleep 0.05
	done
	ls "$D/state"
	ls "$D/state" | grep -q '^endpoints\.[0-9]*\.snap$'
	[ "$(ls "$D/state" | grep -c '^endpoints\.[0-9]*\.log$')" -le 2 ]
	run netd_curl "$D" http://netd/metrics
	echo "$output" | grep -q '^netd_state_compactions_total [1-9]'
	echo "$output" | grep -q '^netd_state_warnings_total 0$'
	run reg "$D" after n /run/netns/keep
	[ "${lines[-1]}" = 201 ]
	netd_stop "$D" KILL
	netd_start "$D"
	run netd_curl "$D" http://netd/v1/status
	echo "${lines[0]}" | grep -q '"endpoints":401'
	run netd_curl "$D" http://netd/v1/endpoints/benchnet:bench0000599:eth0
	[ "${lines[-1]}" = 404 ]
	run netd_curl "$D" http://netd/v1/endpoints/benchnet:bench0000600:eth0
	[ "${lines[-1]}" = 200 ]
	run netd_curl "$D" http://netd/v1/endpoints/n:after:eth0
	[ "${lines[-1]}" = 200 ]
	[ "$(grep -c warn "$D/log")" = 0 ]
	grep -q "debug: state: compacted, snapshot of" "$D/log"
}

@test "two instances run side by side; a second one on the same socket refuses" {
	netd_start "$D"
	# each instance in one netns needs a table of its own
	echo "nft_table = netd2" >"$BATS_TEST_TMPDIR/n2.conf"
	netd_start "$BATS_TEST_TMPDIR/n2" --config "$BATS_TEST_TMPDIR/n2.conf"
	nft list table inet netd2 >/dev/null
	run reg "$D" only1 n /proc/self/ns/net
	[ "${lines[-1]}" = 201 ]
	run netd_curl "$BATS_TEST_TMPDIR/n2" http://netd/v1/endpoints
	[ "${lines[0]}" = "[]" ]
	run "$NETD_BIN" --socket "$D/netd.sock" --state-dir "$BATS_TEST_TMPDIR/other"
	[ "$status" -ne 0 ]
	[[ "$output" == *"already serving"* ]]
	run netd_curl "$D" http://netd/v1/status
	[ "${lines[-1]}" = 200 ]
}

@test "bad API input over the socket: 400, 404, 405 with Allow, 413; netd stays up" {
	netd_start "$D"
	run netd_curl "$D" -XPOST -d '{"containerID":' http://netd/v1/endpoints
	[ "${lines[-1]}" = 400 ]
	echo "${lines[0]}" | grep -q '"error":"malformed JSON'
	run netd_curl "$D" -XPOST -d '{"containerID":1,"network":"n","netns":"/x"}' http://netd/v1/endpoints
	[ "${lines[-1]}" = 400 ]
	run netd_curl "$D" -XPOST -d '{"containerID":"c","network":"n","netns":"/x","extra":1}' \
		http://netd/v1/endpoints
	[ "${lines[-1]}" = 400 ]
	echo "${lines[0]}" | grep -q "unknown field 'extra'"
	run netd_curl "$D" -XPOST -d '{"containerID":"c","network":"..","netns":"/x"}' http://netd/v1/endpoints
	[ "${lines[-1]}" = 400 ]
	run netd_curl "$D" --path-as-is http://netd/v1/networks/../../etc/passwd
	[ "${lines[-1]}" = 404 ]
	run netd_curl "$D" http://netd/v1/networks/%2e%2e
	[ "${lines[-1]}" = 400 ]
	run netd_curl "$D" http://netd/v1/nothing
	[ "${lines[-1]}" = 404 ]
	run curl -s -i --unix-socket "$D/netd.sock" -XPUT http://netd/v1/networks
	[[ "$output" == *"405"* ]]
	echo "$output" | grep -qi '^Allow: GET, HEAD, POST'
	head -c 5000000 /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/big"
	run netd_curl "$D" -XPOST --data-binary @"$BATS_TEST_TMPDIR/big" http://netd/v1/endpoints
	[ "${lines[-1]}" = 413 ]
	run netd_curl "$D" -XPOST -H 'Transfer-Encoding: chunked' --data-binary @"$BATS_TEST_TMPDIR/big" \
		http://netd/v1/endpoints
	[ "${lines[-1]}" = 413 ]
	# garbage that is not HTTP at all
	head -c 5000 /dev/urandom | timeout 5 socat - UNIX-CONNECT:"$D/netd.sock" >/dev/null 2>&1 || true
	run netd_curl "$D" http://netd/metrics
	[ "${lines[-1]}" = 200 ]
	echo "$output" | grep -q 'netd_api_requests_total{code="400"} 5'
	echo "$output" | grep -q 'netd_api_requests_total{code="413"} 2'
	[ ! -s "$D/state/endpoints.0000000001.log" ] # nothing refused was stored
}

@test "a netns that does not name a network namespace is refused with 400 and not stored" {
	netd_start "$D"
	mkdir -p /run/netns
	: >/run/netns/stale # what a netns whose bind mount is gone leaves behind
	for ns in /run/netns/nothere /run/netns/stale /etc/passwd /proc/self/ns/mnt '/run/netns/a\u0007b' \
		'/proc/self/ns/net\n'; do
		run reg "$D" c n "$ns"
		[ "${lines[-1]}" = 400 ] || { echo "netns $ns: $output"; false; }
	done
	run reg "$D" c n /run/netns/nothere
	[[ "${lines[0]}" == *"netns /run/netns/nothere: No such file or directory"* ]]
	run reg "$D" c n /run/netns/stale
	[[ "${lines[0]}" == *"netns /run/netns/stale is not a network namespace"* ]]
	run reg "$D" c n '/run/netns/a\u0007b'
	[[ "${lines[0]}" == *"must not contain control characters"* ]]
	run netd_curl "$D" http://netd/v1/endpoints
	[ "${lines[0]}" = "[]" ]
	ip netns add real
	run reg "$D" c n /run/netns/real
	[ "${lines[-1]}" = 201 ]
	rm -f /run/netns/stale
}

@test "a peer that is not root is refused unless netd.conf allows its uid (reload with SIGHUP)" {
	conf=$BATS_TEST_TMPDIR/netd.conf
	sock=/run/netd/peer.sock # /run/netd is 0755: nobody may reach the socket itself
	echo "socket_group = daemon" >"$conf"
	NETD_TEST_SOCK=$sock netd_start "$D" --config "$conf" --socket "$sock"
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	[ "$(stat -c %G "$sock")" = daemon ]
	# 0660: a stranger cannot even connect
	run as_nobody curl -s -w '\n%{http_code}' --unix-socket "$sock" http://netd/v1/status
	[ "${lines[-1]}" = 000 ]
	# in the socket's group: connects, but its uid is not allowed
	as_grp() { setpriv --reuid=65534 --regid=65534 --groups="$(getent group daemon | cut -d: -f3)" "$@"; }
	run as_grp curl -s -w '\n%{http_code}' --unix-socket "$sock" http://netd/v1/status
	[ "${lines[-1]}" = 403 ]
	grep -q "uid=65534 .*refused" "$D/log"
	printf 'socket_group = daemon\nallow_uids = 65534\n' >"$conf"
	kill -HUP "$(cat "$D/pid")"
	for _ in $(seq 50); do grep -q "configuration reloaded" "$D/log" && break; sleep 0.05; done
	run as_grp curl -s -w '\n%{http_code}' --unix-socket "$sock" http://netd/v1/status
	[ "${lines[-1]}" = 200 ]
	# requests are logged with the peer's credentials at debug level
	grep -q "GET /v1/status from pid=[0-9]* uid=65534 gid=65534: 200" "$D/log"
}

@test "netd tells systemd READY=1 after restoring state, RELOADING on SIGHUP, STOPPING on SIGTERM" {
	command -v python3
	ns=$BATS_TEST_TMPDIR/notify.sock
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
out = open(sys.argv[2], "a")
while True:
    m = s.recv(4096).decode()
    out.write(m.replace("\n", " ") + "\n")
    out.flush()
    if "STOPPING=1" in m:
        break
' "$ns" "$BATS_TEST_TMPDIR/notes" &
	listener=$!
	for _ in $(seq 100); do [ -S "$ns" ] && break; sleep 0.05; done
	mkdir -p "$D/state/endpoints"
	ip netns add n0
	NOTIFY_SOCKET=$ns netd_start "$D"
	for _ in $(seq 50); do grep -q READY=1 "$BATS_TEST_TMPDIR/notes" && break; sleep 0.05; done
	grep -q "READY=1" "$BATS_TEST_TMPDIR/notes"
	grep -q "MAINPID=$(cat "$D/pid")" "$BATS_TEST_TMPDIR/notes"
	kill -HUP "$(cat "$D/pid")"
	netd_stop "$D" TERM
	wait "$listener"
	cat "$BATS_TEST_TMPDIR/notes"
	run cat "$BATS_TEST_TMPDIR/notes"
	[[ "${lines[0]}" == *READY=1* ]]
	[[ "${lines[1]}" == *RELOADING=1* ]]
	[[ "${lines[2]}" == *READY=1* ]]
	[[ "${lines[3]}" == *STOPPING=1* ]]
}

@test "packaging/netd.service passes systemd-analyze verify without a warning" {
	unit=$NETD_BUILD/netd/netd.service
	run systemd-analyze verify "$unit"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ] # unknown or misspelt settings are only warnings: none allowed
	grep -qx 'Type=notify' "$unit"
	grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit"
	grep -qx "ExecStart=$NETD_BUILD/netd/netd --config /etc/netd/netd.conf" "$unit"
	grep -qx 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE' "$unit"
	grep -qx 'ProtectSystem=strict' "$unit"
	grep -qx 'NoNewPrivileges=yes' "$unit"
	grep -qx 'RuntimeDirectory=netd' "$unit"
	grep -qx 'StateDirectory=netd' "$unit"
	grep -qx 'LimitNOFILE=524288' "$unit"
}

@test "packaging/netd.socket passes systemd-analyze verify and activates netd.service" {
	run systemd-analyze verify "$NETD_BUILD/netd/netd.socket"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -qx 'ListenStream=/run/netd/netd.sock' "$NETD_BUILD/netd/netd.socket"
	grep -qx 'SocketMode=0660' "$NETD_BUILD/netd/netd.socket"
	grep -qx 'Requires=netd.socket' "$NETD_BUILD/netd/netd.service"
	grep -qx 'Also=netd.socket' "$NETD_BUILD/netd/netd.service"
}

# activate SOCKET DELAY NETD-ARGS...: what systemd does for netd.socket: bind and
# listen on SOCKET, then after DELAY seconds exec netd with it as fd 3,
# LISTEN_FDS=1 and LISTEN_PID=netd's pid (exec keeps the pid). Logs to $D/log.
activate() {
	local sock=$1 delay=$2
	shift 2
	mkdir -p "$D"
	python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o660)
s.listen(128)
open(sys.argv[1] + ".ino", "w").write(str(os.stat(sys.argv[1]).st_ino))
time.sleep(float(sys.argv[2]))
os.dup2(s.fileno(), 3)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[3], sys.argv[3:])
' "$sock" "$delay" "$NETD_BIN" --state-dir "$D/state" --log-level debug "$@" 2>>"$D/log" &
	echo $! >"$D/pid"
}

@test "socket activation: netd serves the listening socket it is handed, answers what queued before it started, and leaves the socket alone" {
	sock=$BATS_TEST_TMPDIR/activated.sock
	activate "$sock" 1.5 --socket "$D/configured.sock"
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	# a client that connects before netd runs (the first ADD) waits, then is answered
	curl -s -m 20 -w '\n%{http_code}' --unix-socket "$sock" http://netd/v1/status >"$BATS_TEST_TMPDIR/early" &
	early=$!
	sleep 0.5
	[ "$(cat "$BATS_TEST_TMPDIR/early")" = "" ] # nobody has answered yet
	wait "$early"
	[ "$(tail -n1 "$BATS_TEST_TMPDIR/early")" = 200 ]
	[ "$(head -n1 "$BATS_TEST_TMPDIR/early" | jq -r .socket)" = "$sock" ]
	[ "$(head -n1 "$BATS_TEST_TMPDIR/early" | jq -r .pid)" = "$(cat "$D/pid")" ]
	grep -q "API socket $sock from systemd (socket activation)" "$D/log"
	[ ! -e "$D/configured.sock" ] # it bound nothing of its own
	# the API works as usual on it, connection checks included
	ip netns add a1
	run curl -s -w '\n%{http_code}' --unix-socket "$sock" -XPOST \
		-d '{"containerID":"c1","network":"n","netns":"/run/netns/a1"}' http://netd/v1/endpoints
	[ "${lines[-1]}" = 201 ]
	# SIGTERM: the socket is systemd's, it stays (same inode) for the next start
	netd_stop "$D" TERM
	[ -S "$sock" ]
	[ "$(stat -c %i "$sock")" = "$(cat "$sock.ino")" ]
	grep -q "SIGTERM: shutting down, state kept" "$D/log"
}

@test "socket activation: LISTEN_PID of another process is not for netd: it binds its own socket" {
	mkdir -p "$D"
	LISTEN_FDS=1 LISTEN_PID=1 netd_start "$D" 3</dev/null
	run netd_curl "$D" http://netd/v1/status
	[ "${lines[-1]}" = 200 ]
	! grep -q "socket activation" "$D/log" || false
}

@test "the example netd.conf is accepted; a config with a typo is refused at start" {
	netd_start "$D" --config "$NETD_SRC/packaging/netd.conf"
	printf 'socket = /run/netd/y.sock\nlog_levle = debug\n' >"$BATS_TEST_TMPDIR/bad.conf"
	run "$NETD_BIN" --config "$BATS_TEST_TMPDIR/bad.conf"
	[ "$status" -eq 2 ]
	[[ "$output" == *"bad.conf:2"*"unknown setting 'log_levle'"* ]]
	run "$NETD_BIN" --config /nonexistent.conf
	[ "$status" -eq 2 ]
	run "$NETD_BIN" --log-level loud
	[ "$status" -eq 2 ]
	printf 'sync = sometimes\n' >"$BATS_TEST_TMPDIR/bad.conf"
	run "$NETD_BIN" --config "$BATS_TEST_TMPDIR/bad.conf"
	[ "$status" -eq 2 ]
	[[ "$output" == *"sync: 'sometimes' is not always, batch or never"* ]]
}
