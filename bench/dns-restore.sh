#!/bin/bash
# bench/dns-restore.sh [ENDPOINTS]: how long netd takes to come back with
# ENDPOINTS (1,000) containers, each in its own netns, so each needs its DNS
# listener reopened (two sockets made inside the netns, `lo` checked, the
# redirect table read back, or written when it is not as netd left it).
# netd answers its API (and reports READY=1) once state is loaded; the
# listeners come back in its loop after that. For scale, the same restart
# with all endpoints in one netns (one listener). netd is stopped with TERM,
# then with kill -9; each restart is timed from exec until GET /v1/status
# answers (api) and until it reports no listener left to reopen
# (dnsRestoring 0: all), with the CPU netd used until then (user + system,
# 10 ms ticks: on a loaded machine the wall times mostly say how long netd
# waited for a core). Runs itself under tests/harness/isolate.
# NETD_BUILD as bench/dns.sh.
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

# start STATE: ms is the time from exec until the API answers, all until
# every listener is back (a build from before dnsRestoring: the same)
start() {
	local t0 i st=
	t0=$(date +%s%N)
	"$B/netd/netd" --socket "$W/netd.sock" --state-dir "$1" --log-level warn >/dev/null 2>>"$W/netd.log" &
	netd_pid=$!
	for i in $(seq 4000); do
		st=$(curl -sf --unix-socket "$W/netd.sock" http://netd/v1/status 2>/dev/null) && break
		sleep 0.005
	done
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	i=0
	# less often: each curl takes CPU from the netd being timed
	while [[ $st == *'"dnsRestoring":'* && $st != *'"dnsRestoring":0'* ]] && [ $((i += 1)) -lt 1000 ]; do
		sleep 0.02
		st=$(curl -sf --unix-socket "$W/netd.sock" http://netd/v1/status 2>/dev/null) || true
	done
	all=$(( ($(date +%s%N) - t0) / 1000000 ))
	cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$netd_pid/stat")
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
	term="api $ms ms, all $all ms, cpu $cpu ms"
	l=$(listeners)
	stop KILL
	start "$st"
	kill9="api $ms ms, all $all ms, cpu $cpu ms"
	stop TERM
	echo "$N endpoints, $mode netns: restart after TERM $term; after kill -9 $kill9 ($l listeners restored)"
done
