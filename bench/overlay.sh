#!/bin/bash
# bench/overlay.sh [BUILD_DIR] [N] [SECONDS] [ROUNDS]: netd-overlay on two
# simulated hosts (tests/harness/netd-hosts), in one run:
#
#  1. TCP throughput container to container across the two hosts (iperf3,
#     SECONDS per run): over netd-overlay, and over a VXLAN path built by
#     hand with ip(8) on the same host namespaces (bridge + vxlan without
#     learning + flood entry + veth, same MTU, another VNI and subnet).
#     ROUNDS runs each, interleaved (ours, hand, ours, hand...); the median
#     of each, and ours / hand.
#  2. ADD and DEL latency on host h1: N containers through netd-overlay and
#     N through netd-bridge (both with netd-ipam, gateway and masquerade),
#     interleaved; median and p99. Each run is one process spawned and reaped
#     by bench/cnirun, as a runtime would; netns are made beforehand.
#
# Runs inside tests/harness/isolate: private netns and tmpfs mounts, never
# the machine's real network. Prints markdown; raw samples stay in
# $BENCH_OUT (default a temp dir).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
n=${2:-200}
secs=${3:-5}
rounds=${4:-5}
if [ "${NETD_ISOLATED:-}" != 1 ]; then
	exec "$src/tests/harness/isolate" "$0" "$build" "$n" "$secs" "$rounds"
fi
for p in overlay bridge ipam; do
	[ -x "$build/plugins/$p/netd-$p" ] || { echo "build $build first" >&2; exit 1; }
done
command -v iperf3 >/dev/null || { echo "needs iperf3" >&2; exit 1; }
out=${BENCH_OUT:-$(mktemp -d /tmp/bench-overlay.XXXXXX)}
mkdir -p "$out/path"
cc -O2 -Wall -o "$out/cnirun" "$src/bench/cnirun.c"
for p in overlay bridge ipam; do ln -sf "$build/plugins/$p/netd-$p" "$out/path/"; done
export NETD_HOSTS_DIR=$out/hosts NETD_BUILD=$build
H=$src/tests/harness/netd-hosts
trap '"$H" down >/dev/null 2>&1 || true' EXIT
"$H" up 2 >/dev/null
on() { local h=$1; shift; nsenter --net=/run/netns/"$h" "$@"; }

# netd-overlay config for host h$1: per-host range and gateway in 10.230.0.0/24
ov_conf() {
	printf '{"cniVersion":"1.0.0","name":"bov","type":"netd-overlay","vni":300,"underlay":"eth0",'
	printf '"peers":["192.0.2.1","192.0.2.2"],"ipam":{"type":"netd-ipam","dataDir":"%s/ipam-h%s",' "$out" "$1"
	printf '"ranges":[[{"subnet":"10.230.0.0/16","gateway":"10.230.0.%s",' "$1"
	printf '"rangeStart":"10.230.%s.1","rangeEnd":"10.230.%s.254"}]]}}\n' "$1" "$1"
}
br_conf() {
	printf '{"cniVersion":"1.0.0","name":"bbr","type":"netd-bridge","bridge":"bbr0","isGateway":true,'
	printf '"ipMasq":true,"ipam":{"type":"netd-ipam","subnet":"10.231.0.0/16","dataDir":"%s/ipam-br"}}\n' "$out"
}
ov_conf 1 >"$out/ov1.json"
ov_conf 2 >"$out/ov2.json"
br_conf >"$out/br.json"

# ---- 1. throughput ------------------------------------------------------
ip netns add to1; ip netns add to2; ip netns add tk1; ip netns add tk2
for h in 1 2; do
	printf 'cni to%s ADD %s/path/netd-overlay %s/ov%s.json %s/path to%s /run/netns/to%s eth0\n' \
		$h "$out" "$out" $h "$out" $h $h | on h$h "$out/cnirun" "$out/scratch" >/dev/null
done
ours_dst=$(ip -n to2 -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
[ -n "$ours_dst" ] || { echo "netd-overlay ADD failed: $(cat "$out/scratch")" >&2; exit 1; }
# the hand-built path: what netd-overlay makes, by ip(8), VNI 301
for h in 1 2; do
	peer=192.0.2.$((3 - h))
	on h$h ip link add kbr type bridge
	on h$h ip link set kbr mtu 1450 up
	on h$h ip link add kvx mtu 1450 type vxlan id 301 local 192.0.2.$h dev eth0 dstport 4789 nolearning
	on h$h ip link set kvx master kbr up
	on h$h bridge fdb append 00:00:00:00:00:00 dev kvx dst $peer
	on h$h ip link add kv$h mtu 1450 type veth peer name eth0 netns tk$h
	on h$h ip link set kv$h master kbr up
	ip -n tk$h addr add 10.232.0.$h/24 dev eth0
	ip -n tk$h link set eth0 up
done
hand_dst=10.232.0.2
ip netns exec to1 ping -c1 -W2 "$ours_dst" >/dev/null
ip netns exec tk1 ping -c1 -W2 "$hand_dst" >/dev/null

iperf() { # iperf NS-CLIENT NS-SERVER DST -> Gbit/s
	ip netns exec "$2" iperf3 -s -1 -D -B "$3" -I "$out/iperf.pid"
	sleep 0.2
	ip netns exec "$1" iperf3 -c "$3" -t "$secs" -J | jq '.end.sum_received.bits_per_second / 1e9'
}
: >"$out/tput"
echo "throughput: $rounds x ${secs}s each way, interleaved" >&2
for r in $(seq "$rounds"); do
	echo "ours $(iperf to1 to2 "$ours_dst")" >>"$out/tput"
	echo "hand $(iperf tk1 tk2 "$hand_dst")" >>"$out/tput"
done

# ---- 2. ADD / DEL latency on h1 -------------------------------------------
echo "ADD/DEL: $n containers each (netns not timed)" >&2
for i in $(seq "$n"); do echo "netns add lo$i"; echo "netns add lb$i"; done | ip -batch -
{
	for i in $(seq "$n"); do
		echo "cni ov-add ADD $out/path/netd-overlay $out/ov1.json $out/path lo$i /run/netns/lo$i eth0"
		echo "cni br-add ADD $out/path/netd-bridge $out/br.json $out/path lb$i /run/netns/lb$i eth0"
	done
	for i in $(seq "$n"); do
		echo "cni ov-del DEL $out/path/netd-overlay $out/ov1.json $out/path lo$i /run/netns/lo$i eth0"
		echo "cni br-del DEL $out/path/netd-bridge $out/br.json $out/path lb$i /run/netns/lb$i eth0"
	done
} >"$out/plan"
on h1 "$out/cnirun" "$out/scratch" <"$out/plan" >"$out/samples"
fails=$(awk '$4 != 0' "$out/samples" | wc -l)
[ "$fails" -eq 0 ] || echo "warning: $fails runs failed" >&2

python3 - "$out" "$n" "$secs" "$rounds" <<'EOF'
import sys, statistics
out, n, secs, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = {"ours": [], "hand": []}
for line in open(f"{out}/tput"):
    k, v = line.split()
    t[k].append(float(v))
o, h = statistics.median(t["ours"]), statistics.median(t["hand"])
print(f"| TCP across 2 hosts ({rounds} x {secs} s) | netd-overlay | hand-built (ip) | netd / hand |")
print("| --- | ---: | ---: | ---: |")
print(f"| median Gbit/s | {o:.2f} | {h:.2f} | {o / h:.3f} |")
print(f"| all runs | {' '.join(f'{x:.2f}' for x in t['ours'])} | {' '.join(f'{x:.2f}' for x in t['hand'])} | |")
print()
s = {}
for line in open(f"{out}/samples"):
    f = line.split()
    s.setdefault(f[0], []).append(int(f[1]) / 1000)
def p99(v):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * 0.99))]
print(f"| operation (n={n}) | netd-overlay median | p99 | netd-bridge median | p99 | overlay / bridge |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for op in ("add", "del"):
    a, b = s[f"ov-{op}"], s[f"br-{op}"]
    print(f"| {op.upper()} | {statistics.median(a):.2f} ms | {p99(a):.2f} ms | {statistics.median(b):.2f} ms | "
          f"{p99(b):.2f} ms | {statistics.median(a) / statistics.median(b):.2f} |")
EOF
