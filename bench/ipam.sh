#!/bin/bash
# bench/ipam.sh [RUNS] [NETD_IPAM] [HOST_LOCAL]: wall time of one ADD + DEL
# through netd-ipam and through the reference host-local, interleaved so both
# see the same machine load; prints the median and p90 per pair in ms.
# Each pair is two process runs, exactly as a runtime would make them.
set -euo pipefail
runs=${1:-200}
ours=${2:-${NETD_BUILD:-build}/plugins/ipam/netd-ipam}
ref=${3:-/usr/lib/cni/host-local}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
conf='{"cniVersion":"1.0.0","name":"bench","type":"x","ipam":{"type":"x","dataDir":"'$dir'","subnet":"10.200.0.0/16"}}'

pair() {
	local bin=$1 id=$2 t0 t1
	t0=$(date +%s%N)
	CNI_COMMAND=ADD CNI_CONTAINERID=$id CNI_NETNS=/proc/self/ns/net CNI_IFNAME=eth0 CNI_PATH=/ "$bin" \
		<<<"$conf" >/dev/null
	CNI_COMMAND=DEL CNI_CONTAINERID=$id CNI_NETNS=/proc/self/ns/net CNI_IFNAME=eth0 CNI_PATH=/ "$bin" \
		<<<"$conf" >/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}

for i in $(seq 1 "$runs"); do
	pair "$ours" o$i >>"$dir/ours"
	pair "$ref" r$i >>"$dir/ref"
done
stats() { sort -n "$1" | awk '{v[NR]=$1} END {printf "median %.2f ms  p90 %.2f ms  (n=%d)\n", v[int((NR+1)/2)]/1000, v[int(NR*0.9)]/1000, NR}'; }
printf 'netd-ipam  ADD+DEL: %s' "$(stats "$dir/ours")"; echo
printf 'host-local ADD+DEL: %s' "$(stats "$dir/ref")"; echo
left=$(ls "$dir/bench" | grep -vc -e lock -e last_reserved || true)
[ "$left" = 0 ] || { echo "reservations left behind: $left" >&2; exit 1; }
