#!/bin/bash
# bench/bridge.sh [BUILD_DIR] [N] [SCALE]: netd-bridge + netd-ipam against the
# reference bridge + host-local (/usr/lib/cni), same config, interleaved in
# one run (ours, theirs, ours, theirs...), each side on its own bridge,
# subnet and data dir. Runs inside tests/harness/isolate: a private netns
# and tmpfs mounts, never the machine's real network.
#
#  1. ipMasq on:  N ADDs, then N DELs; between the DELs, the kernel's own
#                 veth deletion (`ip link del` of a pair whose host end is an
#                 up port of a bridge with as many ports as ours, its peer up
#                 in a netns) as the floor for DEL.
#  2. ipMasq off: the same.
#  3. SCALE endpoints on one bridge per side (ipMasq on): median of the last
#     100 ADDs over the first 100. Interleaved with them, /bin/true as the
#     floor: what any process costs here; and (for the first and last 100
#     only) the kernel's own work for an endpoint, done by `ip` on a third bridge: veth into a netns + master +
#     up in one request, then the container end up (nsenter --net + ip: not
#     `ip -n`, which copies the mount namespace, thousands of netns mounts).
#  4. peak RSS of one run (ru_maxrss of the plugin, including the IPAM
#     plugin it execs), and of each IPAM plugin alone.
#
# Netns are created beforehand and not timed. Each timed run is one process
# spawned and reaped by bench/cnirun (CLOCK_MONOTONIC), as a runtime would.
# Prints a markdown table; raw samples stay in $BENCH_OUT (default a temp dir).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
n=${2:-200}
scale=${3:-1000}
if [ "${NETD_ISOLATED:-}" != 1 ]; then
	exec "$src/tests/harness/isolate" "$0" "$build" "$n" "$scale"
fi

ref=/usr/lib/cni
ours_br=$build/plugins/bridge/netd-bridge
[ -x "$ours_br" ] && [ -x "$build/plugins/ipam/netd-ipam" ] || { echo "build $build first" >&2; exit 1; }
[ -x $ref/bridge ] && [ -x $ref/host-local ] || { echo "need $ref/bridge and host-local" >&2; exit 1; }
out=${BENCH_OUT:-$(mktemp -d /tmp/bench-bridge.XXXXXX)}
mkdir -p "$out"
cc -O2 -Wall -o "$out/cnirun" "$src/bench/cnirun.c"
run() { "$out/cnirun" "$out/scratch" >>"$out/samples"; }
: >"$out/samples"
# Our CNI_PATH holds netd-ipam only, so nothing of the reference is used.
mkdir -p "$out/path"
ln -sf "$build/plugins/ipam/netd-ipam" "$out/path/netd-ipam"

conf() { # conf FILE TYPE IPAM BRIDGE SUBNET MASQ DATADIR
	printf '{"cniVersion":"1.0.0","name":"%s","type":"%s","bridge":"%s","isGateway":true,"ipMasq":%s,' \
		"$4" "$2" "$4" "$6" >"$1"
	printf '"ipam":{"type":"%s","subnet":"%s","dataDir":"%s"}}\n' "$3" "$5" "$7" >>"$1"
}
ours_conf() { conf "$out/$1.json" netd-bridge netd-ipam "$1" "$2" "$3" "/var/lib/cni/$1"; }
ref_conf() { conf "$out/$1.json" bridge host-local "$1" "$2" "$3" "/var/lib/cni/$1"; }

echo "creating $((2 * scale + n + 200)) netns (not timed)" >&2
max=$((scale > n ? scale : n))
{
	for i in $(seq 1 "$max"); do echo "netns add o$i"; echo "netns add t$i"; done
	for i in $(seq 1 "$n"); do echo "netns add k$i"; done
	for i in $(seq 1 100) $(seq $((scale > 200 ? scale - 99 : 101)) "$scale"); do echo "netns add f$i"; done
} | ip -batch -
sysctl -qw net.ipv4.ip_forward=1 # both sides would set it on the first ADD

# phase TAG MASQ: N ADDs interleaved, then N DELs interleaved with the kernel's
# own veth deletion.
phase() { # phase TAG MASQ OURS_SUBNET REF_SUBNET
	local tag=$1 masq=$2 i
	ours_conf "bo$tag" "$3" "$masq"
	ref_conf "bt$tag" "$4" "$masq"
	for i in $(seq 1 "$n"); do
		echo "cni $tag.add.ours ADD $ours_br $out/bo$tag.json $out/path c$tag$i /run/netns/o$i eth0"
		echo "cni $tag.add.ref ADD $ref/bridge $out/bt$tag.json $ref c$tag$i /run/netns/t$i eth0"
	done | run
	# The floor is the same kernel object as our DEL removes: a veth whose
	# host end is an up port of a bridge with as many ports as ours at that
	# moment, its peer up in a netns.
	ip link add "bk$tag" up type bridge
	for i in $(seq 1 "$n"); do echo "link add kv$i master bk$tag up type veth peer name eth0 netns k$i"; done | ip -batch -
	for i in $(seq 1 "$n"); do nsenter --net="/run/netns/k$i" ip link set eth0 up; done
	for i in $(seq 1 "$n"); do
		echo "cni $tag.del.ours DEL $ours_br $out/bo$tag.json $out/path c$tag$i /run/netns/o$i eth0"
		echo "cni $tag.del.ref DEL $ref/bridge $out/bt$tag.json $ref c$tag$i /run/netns/t$i eth0"
		echo "exec $tag.del.kernel /usr/sbin/ip link del kv$i"
	done | run
}
echo "phase 1: ipMasq on, $n containers" >&2
phase masq true 10.10.0.0/16 10.11.0.0/16
echo "phase 2: ipMasq off, $n containers" >&2
phase nomasq false 10.20.0.0/16 10.21.0.0/16

echo "phase 3: $scale endpoints per bridge, ipMasq on" >&2
ours_conf bos 10.30.0.0/16 true
ref_conf bts 10.31.0.0/16 true
for i in $(seq 1 "$scale"); do
	echo "cni scale.$i.ours ADD $ours_br $out/bos.json $out/path s$i /run/netns/o$i eth0"
	echo "cni scale.$i.ref ADD $ref/bridge $out/bts.json $ref s$i /run/netns/t$i eth0"
	echo "exec scale.$i.floor /bin/true"
	# only where it is reported: fewer extra ports on our bridge
	if [ "$i" -le 100 ] || [ "$i" -gt $((scale - 100)) ]; then
		echo "exec scale.$i.kadd /usr/sbin/ip link add kf$i master bos up type veth peer name eth0 netns f$i"
		echo "exec scale.$i.kup /usr/bin/nsenter --net=/run/netns/f$i /usr/sbin/ip link set eth0 up"
		echo "exec scale.$i.kdel /usr/sbin/ip link del kf$i"	# a bridge takes 1,023 ports
	fi
done | run

echo "phase 4: RSS" >&2
ours_conf bor 10.40.0.0/16 true
ref_conf btr 10.41.0.0/16 true
{
	echo "cni rss.bridge.ours ADD $ours_br $out/bor.json $out/path r1 /run/netns/k1 eth0"
	echo "cni rss.bridge.ref ADD $ref/bridge $out/btr.json $ref r1 /run/netns/k2 eth0"
	echo "cni rss.ipam.ours ADD $build/plugins/ipam/netd-ipam $out/bor.json $out/path r2 /run/netns/k3 eth0"
	echo "cni rss.ipam.ref ADD $ref/host-local $out/btr.json $ref r2 /run/netns/k3 eth0"
} | run

fails=$(awk '$4 != 0' "$out/samples" | wc -l)
python3 - "$out/samples" "$n" "$scale" "$fails" <<'EOF'
import sys, collections
path, n, scale, fails = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t = collections.defaultdict(list); rss = {}
for line in open(path):
    tag, us, kb, st, cpu = line.split()
    if tag.startswith("scale."):
        _, i, side = tag.split(".")
        t["scale." + side].append((int(i), int(us)))
    elif tag.startswith("rss."):
        rss[tag] = int(kb)
    else:
        t[tag].append(int(us))
def med(v):
    v = sorted(v); k = len(v)
    return (v[k // 2] if k % 2 else (v[k // 2 - 1] + v[k // 2]) / 2) / 1000
def p99(v):
    v = sorted(v); return v[min(len(v) - 1, int(len(v) * 0.99))] / 1000
print("| operation | netd median | netd p99 | reference median | reference p99 | reference / netd |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for ph, name in (("masq", "ipMasq on"), ("nomasq", "ipMasq off")):
    for op in ("add", "del"):
        o, r = t[f"{ph}.{op}.ours"], t[f"{ph}.{op}.ref"]
        print(f"| {op.upper()} ({name}, n={len(o)}) | {med(o):.2f} ms | {p99(o):.2f} ms | "
              f"{med(r):.2f} ms | {p99(r):.2f} ms | {med(r) / med(o):.2f}x |")
    k, o = t[f"{ph}.del.kernel"], t[f"{ph}.del.ours"]
    print(f"| kernel veth deletion `ip link del` ({name}) | {med(o):.2f} ms (our DEL) | | "
          f"{med(k):.2f} ms (kernel) | {p99(k):.2f} ms | our DEL / kernel = {med(o) / med(k):.2f} |")
print()
print(f"| {scale} endpoints (ipMasq on) | first 100 median | last 100 median | last / first |")
print("| --- | ---: | ---: | ---: |")
last = {}
k = dict(t["scale.kadd"])
t["scale.kernel"] = [(i, us + k[i]) for i, us in t["scale.kup"]]
for side, name in (("ours", "netd ADD"), ("ref", "reference ADD"), ("floor", "floor: `/bin/true` exec"),
                   ("kernel", "kernel: `ip link add` + `nsenter ip link set up`")):
    v = [us for _, us in sorted(t["scale." + side])]
    a, b = med(v[:100]), med(v[-100:])
    last[side] = b
    print(f"| {name} | {a:.2f} ms | {b:.2f} ms | {b / a:.2f} |")
print(f"| reference / netd at {scale} | | {last['ref'] / last['ours']:.2f}x | |")
fl = sorted(t["scale.floor"]); o = sorted(t["scale.ours"])
fa, fb = med([us for _, us in fl[:100]]), med([us for _, us in fl[-100:]])
oa, ob = med([us for _, us in o[:100]]), med([us for _, us in o[-100:]])
print(f"| netd ADD above the floor | {oa - fa:.2f} ms | {ob - fb:.2f} ms | {(ob - fb) / (oa - fa):.2f} |")
print()
print("| peak RSS (ru_maxrss of one ADD) | netd | reference |")
print("| --- | ---: | ---: |")
print(f"| bridge plugin (incl. the IPAM child) | {rss['rss.bridge.ours'] / 1024:.1f} MiB | "
      f"{rss['rss.bridge.ref'] / 1024:.1f} MiB |")
print(f"| IPAM plugin alone | {rss['rss.ipam.ours'] / 1024:.1f} MiB | {rss['rss.ipam.ref'] / 1024:.1f} MiB |")
if fails:
    print(f"\n{fails} runs FAILED (see stderr)")
EOF
echo "raw samples: $out/samples" >&2
[ "$fails" = 0 ]
