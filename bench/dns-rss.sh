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
python3 - "$W/netd.sock" "$N" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rb")
for i in range(1, int(sys.argv[2]) + 1):
    # a 64-hex container id and a name, as podman registers them
    body = json.dumps({"containerID": "%064x" % i, "network": "bench", "netns": "/run/netns/e%d" % i,
                       "name": "c%d" % i, "ips": ["10.78.%d.%d/16" % (i // 250, i % 250 + 1)]}).encode()
    s.sendall(b"POST /v1/endpoints HTTP/1.1\r\nHost: netd\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    status = f.readline().split()[1]
    length = 0
    while True:
        h = f.readline().strip()
        if not h:
            break
        if h.lower().startswith(b"content-length:"):
            length = int(h.split(b":")[1])
    f.read(length)
    if status not in (b"200", b"201"):
        sys.exit("register %d: HTTP %s" % (i, status.decode()))
PY
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
