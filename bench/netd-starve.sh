#!/bin/sh
# bench/netd-starve.sh BUILD_DIR: netd's API latency while clients hold
# connections open. Starts a private netd, measures register + unregister
# round trips (a new connection per request, as plugins do) and netd-endpoint
# ADD + DEL (two execs) with nothing else connected, then again while
# tests/harness/hold-conns holds HOLD (default 1,000) connections as the same
# uid, half idle and half trickling a byte every 2 s, reconnecting each one a
# second after netd closes it. Run as root (the holders and the bench are root,
# the uid a runtime uses). Microseconds, median and p99.
set -eu
B=${1:?usage: netd-starve.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d "${TMPBASE:-/var/tmp}/netd-starve.XXXXXX")
SOCK=$W/netd.sock
N=${N:-500}
NP=${NP:-100}
HOLD=${HOLD:-1000}
"$B/netd/netd" --socket "$SOCK" --state-dir "$W/state" --config /dev/null --log-level warn &
PID=$!
HPID=
trap 'kill $HPID $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
metric() { curl -s --unix-socket "$SOCK" http://netd/metrics | awk -v m="$1" '$1 == m {print $2}'; }

run() {
	set -- $("$B/netd/netd-api-bench" "$SOCK" connect "$N")
	c="$1 / $2"
	set -- $("$B/netd/netd-api-bench" "$SOCK" plugin "$NP" "$B/plugins/endpoint/netd-endpoint")
	p="$1 / $2"
}
run
echo "no other connections      : raw connect/request register+unregister $c us; netd-endpoint ADD+DEL $p us"
"$HERE/tests/harness/hold-conns" "$SOCK" "$HOLD" --trickle 2 --ready "$W/held" &
HPID=$!
for _ in $(seq 200); do [ -s "$W/held" ] && break; sleep 0.05; done
sleep 3
run
echo "$HOLD held (idle+trickling): raw connect/request register+unregister $c us; netd-endpoint ADD+DEL $p us"
echo "holder: $(cat "$W/held"); netd holds $(metric netd_api_connections) connections," \
	"evicted $(metric netd_api_connections_evicted_total), expired $(metric netd_api_connections_expired_total)"
