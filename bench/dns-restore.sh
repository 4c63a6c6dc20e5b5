#!/bin/bash
# bench/dns-restore.sh [ENDPOINTS]: how long netd takes to come back with
# ENDPOINTS (1,000) containers, each in its own netns, so each needs its DNS
# listener reopened (two sockets made inside the netns, `lo` checked, the
# redirect table written there) before netd answers its API (and reports
# READY=1). For scale, the same restart with all endpoints in one netns (one
# listener). netd is stopped with TERM, then with kill -9; each restart is
# timed from exec until GET /v1/status answers. Runs itself under
# tests/harness/isolate. NETD_BUILD as bench/dns.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${NETD_ISOLATED:-}" != 1 ]; then
	exec tests/harness/isolate "$0" "$@"
fi
N=${1:-1000}
B=${NETD_BUILD:-$PWD/build}
W=$(mktemp -d)
netd_pid=
cleanup() {
	[ -n "$netd_pid" ] && kill "$netd_pid" 2>/dev/null && wait "$netd_pid" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
echo "nameserver 127.0.0.1" >"$W/resolv.conf"
mount --bind "$W/resolv.conf" /etc/resolv.conf

for i in $(seq "$N"); do echo "netns add e$i"; done >"$W/batch"
echo "netns add one" >>"$W/batch"
ip -batch "$W/batch"

# start STATE: ms is the time from exec until the API answers
start() {
	local t0 i
	t0=$(date +%s%N)
	"$B/netd/netd" --socket "$W/netd.sock" --state-dir "$1" --log-level warn >/dev/null 2>>"$W/netd.log" &
	netd_pid=$!
	for i in $(seq 4000); do
		curl -sf --unix-socket "$W/netd.sock" http://netd/v1/status >/dev/null 2>&1 && break
		sleep 0.005
	done
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}
stop() {
	kill -"$1" "$netd_pid"
	wait "$netd_pid" 2>/dev/null || true
	netd_pid=
	rm -f "$W/netd.sock"
}
register() { # register SEPARATE(1|0)
	python3 bench/register.py "$W/netd.sock" 1 "$N" %064x "$([ "$1" = 1 ] && echo /run/netns/e%d || echo /run/netns/one)" c%d
}
listeners() { curl -sf --unix-socket "$W/netd.sock" http://netd/metrics | awk '$1 == "netd_dns_listeners" {print $2}'; }

for mode in separate one; do
	st=$W/state-$mode
	start "$st"
	register "$([ $mode = separate ] && echo 1 || echo 0)"
	stop TERM
	start "$st"
	term=$ms
	l=$(listeners)
	stop KILL
	start "$st"
	kill9=$ms
	stop TERM
	echo "$N endpoints, $mode netns: restart after TERM $term ms, after kill -9 $kill9 ms ($l listeners restored)"
done
