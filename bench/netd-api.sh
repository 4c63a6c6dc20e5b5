#!/bin/sh
# bench/netd-api.sh BUILD_DIR [STATE_DIR]: netd API round trips and memory.
#
# Starts a private netd (own socket, own state dir: on disk by default, so the
# fsyncs are real), then measures endpoint register + unregister round trips
#   - raw API, one keep-alive connection
#   - raw API, a new connection per request
#   - through netd-endpoint (exec ADD + exec DEL), as a runtime would
# netd's RSS with 0, 1,000 and 10,000 endpoints registered, round trips and
# journal compaction with 10,000 registered, and a restart with 10,000.
set -eu
B=${1:?usage: netd-api.sh BUILD_DIR [STATE_DIR]}
W=$(mktemp -d "${TMPBASE:-/var/tmp}/netd-bench.XXXXXX")
STATE=${2:-$W/state}
SOCK=$W/netd.sock
N=${N:-2000}
# SYNC=always|batch|never: the sync setting (default batch, as netd's; docs/netd.md)
printf 'sync = %s\n' "${SYNC:-batch}" >"$W/netd.conf"
NP=${NP:-300}
"$B/netd/netd" --socket "$SOCK" --state-dir "$STATE" --config "$W/netd.conf" --log-level warn &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' /proc/$PID/status; }

fs=$(stat -f -c %T "$STATE")
echo "state dir: $STATE ($fs), sync = ${SYNC:-batch}"
rss0=$(rss)
set -- $("$B/netd/netd-api-bench" "$SOCK" keepalive "$N")
echo "raw API, keep-alive        register+unregister: median ${1} us, p99 ${2} us (n=$N)"
set -- $("$B/netd/netd-api-bench" "$SOCK" connect "$N")
echo "raw API, connect/request   register+unregister: median ${1} us, p99 ${2} us (n=$N)"
set -- $("$B/netd/netd-api-bench" "$SOCK" plugin "$NP" "$B/plugins/endpoint/netd-endpoint")
echo "netd-endpoint ADD+DEL (2 execs)               : median ${1} us, p99 ${2} us (n=$NP)"
"$B/netd/netd-api-bench" "$SOCK" fill 1000
rss1k=$(rss)
"$B/netd/netd-api-bench" "$SOCK" fill 10000
rss10k=$(rss)
echo "RSS: 0 endpoints ${rss0} MiB, 1,000 ${rss1k} MiB, 10,000 ${rss10k} MiB"
metric() { curl -s --unix-socket "$SOCK" http://netd/metrics | awk -v m="$1" '$1 == m {print $2}'; }
c0=$(metric netd_state_compactions_total)
# 12,000 journal records over 10,000 live endpoints: at least one compaction
set -- $("$B/netd/netd-api-bench" "$SOCK" keepalive 6000 100000)
echo "raw API, keep-alive, 10,000 registered   : median ${1} us, p99 ${2} us (n=6000, $(( $(metric netd_state_compactions_total) - c0 )) compactions during it)"
echo "last compaction (10,000 endpoints, forked child, snapshot fsynced): $(metric netd_state_last_compaction_seconds) s; RSS $(rss) MiB"
t0=$(date +%s%N)
kill -TERM $PID
wait $PID || true
"$B/netd/netd" --socket "$SOCK" --state-dir "$STATE" --config "$W/netd.conf" --log-level warn &
PID=$!
for _ in $(seq 400); do
	curl -sf --unix-socket "$SOCK" http://netd/v1/status >/dev/null 2>&1 && break
	sleep 0.01
done
t1=$(date +%s%N)
echo "restart with 10,000 endpoints until the API answers: $(( (t1 - t0) / 1000000 )) ms, RSS $(rss) MiB"
