#!/bin/bash
# bench/plugins.sh [RUNS]: ADD and DEL of RUNS containers through netd-macvlan
# and netd-host against the reference macvlan and host-device (same config),
# and the kernel's own time for the same link deletion / move (`ip`), all
# interleaved in one run so every column sees the same machine load.
# Runs inside tests/harness/isolate (a private host netns); every number is
# the wall time of one process run, as a runtime makes it.
#
#   NETD_BUILD=build bench/plugins.sh 200
#
# macvlan: master m0 (a veth end), mode bridge; "L2" without IPAM, then with
# the reference host-local for both, then netd-macvlan + netd-ipam (the netd
# stack) against the reference pair. host: one veth end per container, down,
# moved in as eth0 and given back; the same device serves ours, the
# reference and `ip` in turn.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
if [ "${NETD_ISOLATED:-}" != 1 ]; then
	exec "$src/tests/harness/isolate" "$0" "$@"
fi
runs=${1:-200}
build=$(cd "${NETD_BUILD:-$src/build}" && pwd)
ref=${REF_CNI_DIR:-/usr/lib/cni}
mv=$build/plugins/macvlan/netd-macvlan
hd=$build/plugins/host/netd-host
for b in "$mv" "$hd" "$build/plugins/ipam/netd-ipam" "$ref/macvlan" "$ref/host-device" "$ref/host-local"; do
	[ -x "$b" ] || { echo "missing $b" >&2; exit 1; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

ip netns attach host $$
ip link add m0 type veth peer name m1
ip link set m0 up
ip link set m1 up
for i in $(seq "$runs"); do
	ip netns add "c$i"
	ip link add "d$i" type veth peer name "p$i"
done

mvconf() { # mvconf TYPE [IPAM-TYPE]
	local ipam=
	[ -n "${2:-}" ] && ipam=',"ipam":{"type":"'"$2"'","dataDir":"'$out/$2'","subnet":"10.200.0.0/16"}'
	echo '{"cniVersion":"1.0.0","name":"bench","type":"'"$1"'","master":"m0","mode":"bridge"'"$ipam"'}'
}
hdconf() { echo '{"cniVersion":"1.0.0","name":"bench","type":"'"$1"'","device":"'"$2"'"}'; }

# t FILE CMD...: append the wall time of CMD in microseconds to $out/FILE.
t() {
	local f=$1 t0 t1
	shift
	t0=${EPOCHREALTIME/./}
	"$@" >/dev/null
	t1=${EPOCHREALTIME/./}
	echo $((t1 - t0)) >>"$out/$f"
}
# c BIN CMD ID CONFIG: one plugin run
c() {
	CNI_COMMAND=$2 CNI_CONTAINERID=$3 CNI_NETNS=/run/netns/$3 CNI_IFNAME=eth0 CNI_PATH="$build/plugins/ipam:$ref" \
		"$1" <<<"$4"
}

ours_l2=$(mvconf netd-macvlan) ref_l2=$(mvconf macvlan)
ours_ip=$(mvconf netd-macvlan host-local) ref_ip=$(mvconf macvlan host-local)
ours_nip=$(mvconf netd-macvlan netd-ipam)
for i in $(seq "$runs"); do
	n=c$i
	# macvlan, L2 only
	t mv_add_ours c "$mv" ADD "$n" "$ours_l2"
	t mv_del_ours c "$mv" DEL "$n" "$ours_l2"
	t mv_add_ref c "$ref/macvlan" ADD "$n" "$ref_l2"
	t mv_del_ref c "$ref/macvlan" DEL "$n" "$ref_l2"
	t mv_add_ip ip link add link m0 name eth0 netns "$n" type macvlan mode bridge
	t mv_del_ip ip -n "$n" link del eth0
	# macvlan with host-local
	t mvi_add_ours c "$mv" ADD "$n" "$ours_ip"
	t mvi_del_ours c "$mv" DEL "$n" "$ours_ip"
	t mvi_add_ref c "$ref/macvlan" ADD "$n" "$ref_ip"
	t mvi_del_ref c "$ref/macvlan" DEL "$n" "$ref_ip"
	# the netd stack: netd-macvlan + netd-ipam
	t mvn_add_ours c "$mv" ADD "$n" "$ours_nip"
	t mvn_del_ours c "$mv" DEL "$n" "$ours_nip"
	# host device
	t hd_add_ours c "$hd" ADD "$n" "$(hdconf netd-host "d$i")"
	t hd_del_ours c "$hd" DEL "$n" "$(hdconf netd-host "d$i")"
	t hd_add_ref c "$ref/host-device" ADD "$n" "$(hdconf host-device "d$i")"
	t hd_del_ref c "$ref/host-device" DEL "$n" "$(hdconf host-device "d$i")"
	t hd_add_ip ip link set "d$i" netns "$n" name eth0
	t hd_del_ip ip -n "$n" link set eth0 netns host name "d$i"
done

# Nothing may be left behind: every container empty, every device home.
for i in $(seq "$runs"); do
	[ "$(ip -n "c$i" -o link show | wc -l)" = 1 ] || { echo "c$i not empty" >&2; exit 1; }
	ip link show "d$i" >/dev/null
done

# med FILE / p99 FILE in microseconds
pct() { sort -n "$out/$1" | awk -v p="$2" '{v[NR]=$1} END {i=int(NR*p+0.999); if (i<1) i=1; print v[i]}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.2f", u/1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
row() { # row LABEL OURS REF|-
	local om op rm rp
	om=$(pct "$2" 0.5) op=$(pct "$2" 0.99)
	if [ "$3" = - ]; then
		printf '| %-34s | %7s | %7s | %7s | %7s | %6s |\n' "$1" "$(ms "$om")" "$(ms "$op")" - - -
		return
	fi
	rm=$(pct "$3" 0.5) rp=$(pct "$3" 0.99)
	printf '| %-34s | %7s | %7s | %7s | %7s | %6s |\n' "$1" "$(ms "$om")" "$(ms "$op")" "$(ms "$rm")" \
		"$(ms "$rp")" "$(ratio "$rm" "$om")"
}
echo "runs: $runs; kernel $(uname -r); $(nproc) CPUs; ms per process run"
echo
echo "| operation                          | median  | p99     | other median | other p99 | other/ours |"
echo "| ---------------------------------- | ------- | ------- | ------- | ------- | ------ |"
row "macvlan L2 ADD (vs reference)" mv_add_ours mv_add_ref
row "macvlan L2 DEL (vs reference)" mv_del_ours mv_del_ref
row "macvlan L2 DEL (vs ip link del)" mv_del_ours mv_del_ip
row "macvlan L2 ADD (vs ip link add)" mv_add_ours mv_add_ip
row "macvlan+host-local ADD (vs ref)" mvi_add_ours mvi_add_ref
row "macvlan+host-local DEL (vs ref)" mvi_del_ours mvi_del_ref
row "macvlan+netd-ipam ADD (vs ref+h-l)" mvn_add_ours mvi_add_ref
row "macvlan+netd-ipam DEL (vs ref+h-l)" mvn_del_ours mvi_del_ref
row "host ADD (vs host-device)" hd_add_ours hd_add_ref
row "host DEL (vs host-device)" hd_del_ours hd_del_ref
row "host DEL (vs ip link set netns)" hd_del_ours hd_del_ip
row "host ADD (vs ip link set netns)" hd_add_ours hd_add_ip
