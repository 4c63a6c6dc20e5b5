#!/bin/bash
# bench/dns-rss.sh [ENDPOINTS]: netd's memory with ENDPOINTS (10,000)
# containers as they really are: each endpoint in its own netns, so each gets
# its own DNS listener (a UDP and a TCP socket on 127.0.0.11 and the nftables
# redirect there) besides its records in the state and the DNS store. Prints
# RSS (VmRSS, its peak VmHWM, and the anonymous part, i.e. without the shared
# libraries' pages) and exits 1 if RSS is 20 MiB or more (issue 9's target).
# Not a timed test: only the registration's duration is printed, for scale.
# Runs itself under tests/harness/isolate. NETD_BUILD as bench/dns.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${NETD_ISOLATED:-}" != 1 ]; then
	exec tests/harness/isolate "$0" "$@"
fi
N=${1:-10000}
B=${NETD_BUILD:-$PWD/build}
LIMIT_KIB=$((20 * 1024))
W=$(mktemp -d)
netd_pid=
cleanup() {
	[ -n "$netd_pid" ] && kill "$netd_pid" 2>/dev/null && wait "$netd_pid" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
# resolv.conf is read at start; keep the host's out of it
echo "nameserver 127.0.0.1" >"$W/resolv.conf"
mount --bind "$W/resolv.conf" /etc/resolv.conf

t0=$(date +%s%N)
for i in $(seq "$N"); do echo "netns add e$i"; done >"$W/batch"
ip -batch "$W/batch"
echo "$N netns made in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

"$B/netd/netd" --socket "$W/netd.sock" --state-dir "$W/state" --log-level warn 2>"$W/netd.log" &
netd_pid=$!
for _ in $(seq 200); do [ -S "$W/netd.sock" ] && break; sleep 0.05; done
kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$netd_pid/status"; }
anon() { awk '$1 == "Anonymous:" {print $2}' "/proc/$netd_pid/smaps_rollup"; }
echo "netd started: RSS $(kib VmRSS) KiB (anonymous $(anon) KiB)"

t0=$(date +%s%N)
# a 64-hex container id and a name, as podman registers them
python3 bench/register.py "$W/netd.sock" 1 "$N" %064x /run/netns/e%d c%d
echo "$N endpoints registered in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
sleep 1
metric() { curl -sf --unix-socket "$W/netd.sock" http://netd/metrics | awk -v m="$1" '$1 == m {print $2}'; }
listeners=$(metric netd_dns_listeners)
nofile=$(awk '/Max open files/ {print $4}' "/proc/$netd_pid/limits")
rss=$(kib VmRSS)
echo "DNS listeners: $listeners of $N (netd's open-file limit: $nofile, two sockets per listener)"
[ "$listeners" = "$N" ] || echo "  the others could not open their sockets: $(grep -c 'dns:' "$W/netd.log" || true) logged, e.g. $(grep -m1 'dns:' "$W/netd.log" || true)"
echo "netd with $N endpoints: RSS $rss KiB ($(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}') MiB), peak $(kib VmHWM) KiB, anonymous $(anon) KiB"
if [ "$rss" -ge "$LIMIT_KIB" ]; then
	echo "FAIL: RSS is not under 20 MiB"
	exit 1
fi
echo "OK: under 20 MiB"
