#!/bin/bash
# bench/ports.sh [BUILD_DIR] [CONTAINERS] [REF_CONTAINERS]: published ports,
# netd (table inet netd, nft maps) against the reference portmap plugin
# (iptables, /usr/lib/cni/portmap) in the same run. Runs itself under
# tests/harness/isolate: a private netns, never the machine's real network.
#
#  1. apply 1, 100 and 1,000 mappings on one container: netd = one
#     POST /v1/endpoints (curl, wall time); portmap = one ADD.
#  2. the Nth container's ADD with one mapping: median of the last 100 over
#     the first 100 (netd: CONTAINERS registrations; portmap: REF_CONTAINERS
#     containers). portmap's cost grows with the rules already there (every
#     iptables call reads the whole table), and each ADD takes ~0.3 s or
#     far more on a loaded machine, so only its first and last 100 ADDs
#     are real: the rules of the containers in between are put in place by
#     one iptables-restore (bench/portmap_rules.py: the rules those ADDs
#     make, checked line by line against the first 100 real ADDs' and a
#     17-mapping ADD's). For portmap's cost that is the same table.
#  3. connection rate to a published port from another namespace through
#     the host's address (4 client processes, 3 s), with 1 and with 1,000
#     mappings installed on one container (the target added last), each side
#     alone; portmap's 1,000 mappings put in place the same way (its ADD of
#     1,000 mappings takes minutes; the table is the same).
# Prints a markdown table. BENCH_ADDS=0 skips 2; BENCH_APPLY=0 skips 1 (portmap takes minutes for
# 1,000 mappings); BENCH_REF_RATE_1000=0 skips portmap's rate with 1,000
# mappings. A GET /v1/status is printed as the floor of any API request on
# this machine at this moment, and the load average at the start and end.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
nc=${2:-1000}
nref=${3:-1000}
if [ "${NETD_ISOLATED:-}" != 1 ]; then
	exec "$src/tests/harness/isolate" "$0" "$build" "$nc" "$nref"
fi
ref=/usr/lib/cni/portmap
# the system's python, not a version manager's shim: a shim costs a second a
# call on a loaded machine, and section 2 makes a thousand calls
py=${PYTHON:-/usr/bin/python3}
[ -x "$ref" ] || { echo "need $ref" >&2; exit 1; }
out=$(mktemp -d /tmp/bench-ports.XXXXXX)
sock=$out/netd.sock

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# one bridge, the containers' namespaces on it (not timed); "out" routes through the host
ip link add br0 type bridge
ip addr add 10.80.0.1/16 dev br0
ip link set br0 up
sysctl -qw net.ipv4.ip_forward=1
ip netns add out
ip link add h-out type veth peer name eth0 netns out
ip addr add 198.51.100.1/24 dev h-out
ip link set h-out up
ip -n out addr add 198.51.100.2/24 dev eth0
ip -n out link set eth0 up
ip -n out link set lo up
ip -n out route add 10.80.0.0/16 via 198.51.100.1
mkns() { # mkns NAME IP
	ip netns add "$1"
	ip link add "v-$1" type veth peer name eth0 netns "$1"
	ip link set "v-$1" master br0 up
	ip -n "$1" addr add "$2/16" dev eth0
	ip -n "$1" link set eth0 up
	ip -n "$1" route add default via 10.80.0.1
}
addr_of() { echo "10.80.$(($1 / 250)).$(($1 % 250 + 2))"; }

pm_json() { # pm_json N BASE: N mappings BASE+i -> 10000+i
	$py -c "import json,sys; n,b=int(sys.argv[1]),int(sys.argv[2]); print(json.dumps([{'hostPort':b+i,'containerPort':10000+i,'protocol':'tcp'} for i in range(n)]))" "$1" "$2"
}
# netd_reg CID IP MAPPINGS_JSON: prints the request's wall time in µs (the
# client's own start is not counted: a runtime's plugin has its own)
netd_reg() {
	printf '{"containerID":"%s","network":"bench","netns":"/run/netns/%s","ips":["%s/16"],"portMappings":%s}' \
		"$1" "$1" "$2" "$3" >"$out/body"
	$py "$src/bench/apipost.py" "$sock" POST /v1/endpoints "$out/body" | awk '{print $2}'
}
netd_del() { $py "$src/bench/apipost.py" "$sock" DELETE "/v1/endpoints/bench:$1:eth0" >/dev/null; }
ref_conf() { # ref_conf CID IP MAPPINGS_JSON
	printf '{"cniVersion":"1.0.0","name":"bench","type":"portmap","capabilities":{"portMappings":true},"runtimeConfig":{"portMappings":%s},"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/%s"}],"ips":[{"address":"%s/16","interface":0}]}}' "$3" "$1" "$2"
}
ref_run() { # ref_run CMD CID IP MAPPINGS_JSON
	ref_conf "$2" "$3" "$4" | CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$2 CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni "$ref" >/dev/null
}

"$build/netd/netd" --socket "$sock" --state-dir "$out/state" --log-level warn 2>"$out/netd.log" &
netd_pid=$!
trap 'kill $netd_pid 2>/dev/null || true' EXIT
for i in $(seq 50); do curl -sf --unix-socket "$sock" http://netd/v1/status >/dev/null && break; sleep 0.05; done

mkns big "$(addr_of 0)"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| measure | netd | reference portmap | ratio |"
echo "| --- | --- | --- | --- |"
floor=$($py "$src/bench/apipost.py" "$sock" GET /v1/status | awk '{print $2}')
echo "| floor: GET /v1/status | $((floor / 1000)).$(printf %03d $((floor % 1000))) ms | | |"
# 1. N mappings on one container (portmap: one ADD process, as a runtime runs it)
[ "${BENCH_APPLY:-1}" = 1 ] && for n in 1 100 1000; do
	m=$(pm_json "$n" 20000)
	a=$(netd_reg big "$(addr_of 0)" "$m")
	netd_del big
	t=$(date +%s%N); ref_run ADD big "$(addr_of 0)" "$m"; b=$(( ($(date +%s%N) - t) / 1000 ))
	ref_run DEL big "$(addr_of 0)" "$m"
	echo "| apply $n mappings on one container | $((a / 1000)).$(printf %03d $((a % 1000))) ms | $((b / 1000)).$(printf %03d $((b % 1000))) ms | $(awk -v a=$a -v b=$b 'BEGIN{printf "%.0fx", b/a}') |"
done

# 2. the Nth container's ADD with one mapping (BENCH_ADDS=0 skips it)
: >"$out/netd-add"; : >"$out/ref-add"
# the containers' namespaces in one ip process (untimed): registration and
# portmap need the netns, not an interface in it
[ "${BENCH_ADDS:-1}" = 1 ] && for i in $(seq 1 $((nc > nref ? nc : nref))); do
	[ -e "/run/netns/c$i" ] || echo "netns add c$i"
done | ip -batch -
[ "${BENCH_ADDS:-1}" = 1 ] && for i in $(seq 1 "$nc"); do
	netd_reg "c$i" "$(addr_of "$i")" "[{\"hostPort\":$((30000 + i)),\"containerPort\":80,\"protocol\":\"tcp\"}]" >>"$out/netd-add"
done
ref_add() { # ref_add I: portmap's ADD of container cI, timed
	local t
	t=$(date +%s%N); ref_run ADD "c$1" "$(addr_of "$1")" "[{\"hostPort\":$((40000 + $1)),\"containerPort\":80,\"protocol\":\"tcp\"}]"
	echo $(( ($(date +%s%N) - t) / 1000 )) >>"$out/ref-add"
}
spec() { # spec FROM TO: portmap_rules.py's input for containers cFROM..cTO
	local i
	for i in $(seq "$1" "$2"); do echo "c$i $(addr_of "$i") $((40000 + i)):80"; done
}
# the generated rules are the plugin's own, line for line: compared with
# what real ADDs made (iptables-save, the CNI-DN chains and their jumps)
rules_check() { # rules_check SPEC_FILE
	local want=$out/rules-want got=$out/rules-got
	$py "$src/bench/portmap_rules.py" lines bench 10.80.0.0/16 <"$1" | sort >"$want"
	iptables-save -t nat | grep -E '^-A (CNI-DN-|CNI-HOSTPORT-DNAT)' | sort | comm -13 - "$want" >"$got"
	[ ! -s "$got" ] || { echo "bench/portmap_rules.py differs from portmap's own rules:" >&2; cat "$got" >&2; exit 1; }
}
[ "${BENCH_ADDS:-1}" = 1 ] && {
	real=$((nref < 200 ? nref : 100))
	for i in $(seq 1 "$real"); do ref_add "$i"; done
	spec 1 "$real" >"$out/spec-first"
	rules_check "$out/spec-first"
	if [ "$nref" -gt 200 ]; then
		spec $((real + 1)) $((nref - 100)) >"$out/spec-mid"
		$py "$src/bench/portmap_rules.py" bench 10.80.0.0/16 <"$out/spec-mid" | iptables-restore --noflush
		for i in $(seq $((nref - 99)) "$nref"); do ref_add "$i"; done
	elif [ "$nref" -gt "$real" ]; then
		for i in $(seq $((real + 1)) "$nref"); do ref_add "$i"; done
	fi
}
[ "${BENCH_ADDS:-1}" = 1 ] && {
nf=$(head -100 "$out/netd-add" | median); nl=$(tail -100 "$out/netd-add" | median)
rf=$(head -100 "$out/ref-add" | median); rl=$(tail -100 "$out/ref-add" | median)
echo "| ADD with one mapping, median of the first 100 containers | $(awk -v x=$nf 'BEGIN{printf "%.2f ms", x/1000}') | $(awk -v x=$rf 'BEGIN{printf "%.2f ms", x/1000}') | $(awk -v a=$nf -v b=$rf 'BEGIN{printf "%.0fx", b/a}') |"
echo "| ... of the last 100 (netd: of $nc, portmap: of $nref) | $(awk -v x=$nl 'BEGIN{printf "%.2f ms", x/1000}') | $(awk -v x=$rl 'BEGIN{printf "%.2f ms", x/1000}') | $(awk -v a=$nl -v b=$rl 'BEGIN{printf "%.0fx", b/a}') |"
echo "| last 100 / first 100 | $(awk -v a=$nl -v b=$nf 'BEGIN{printf "%.2f", a/b}') | $(awk -v a=$rl -v b=$rf 'BEGIN{printf "%.2f", a/b}') | |"
for i in $(seq 1 "$nc"); do netd_del "c$i"; done
# portmap's containers gone at once (DELs would take as long as the ADDs)
{ echo "*nat"; echo "-F CNI-HOSTPORT-DNAT"
  iptables-save -t nat | awk '/^:CNI-DN-/ {c = substr($1, 2); print "-F " c; print "-X " c}'; echo COMMIT; } |
	iptables-restore --noflush
}

# 3. connection rate, 1 vs 1,000 mappings (the one asked for added last)
ip netns exec big $py "$src/bench/connrate.py" serve 80 >"$out/serve.log" 2>&1 &
srv=$!
sleep 0.5
# One 3 s run opens ~75,000 connections: without this the next run finds the
# client's ports in TIME_WAIT and the conntrack table full of the last run's
# entries, and whichever runs second loses (0.6-0.7 "ratios" either way).
# So: TIME_WAIT entries expire in 1 s here, the client may reuse its ports,
# every run starts 2 s after the last, and 1 and 1,000 alternate, median of 3.
sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=1
ip netns exec out sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
rate() { sleep 2; ip netns exec out $py "$src/bench/connrate.py" 198.51.100.1 "$1" 3; }
med3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
filler=$(pm_json 999 21000)
one='[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]'
thousand="${filler%]},{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}]"
s1=() s1000=()
for round in 1 2 3; do
	netd_reg big "$(addr_of 0)" "$one" >/dev/null
	s1+=("$(rate 8080)")
	netd_reg big "$(addr_of 0)" "$thousand" >/dev/null
	s1000+=("$(rate 8080)")
done
echo "netd connections/s, 1 mapping: ${s1[*]}; 1,000 mappings: ${s1000[*]}" >&2
n1=$(med3 "${s1[@]}")
n1000=$(med3 "${s1000[@]}")
netd_del big
ref_run ADD big "$(addr_of 0)" '[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]'
r1=$(rate 8080)
ref_run DEL big "$(addr_of 0)" '[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]'
r1000=-
if [ "${BENCH_REF_RATE_1000:-1}" = 1 ]; then
	# the generator checked on a real ADD of 17 mappings (two multiport jumps)
	chk=$($py -c "print(','.join('%d:%d' % (23000 + i, 10000 + i) for i in range(17)))")
	ref_run ADD chk "$(addr_of 0)" "$($py -c "import json; print(json.dumps([{'hostPort': 23000 + i, 'containerPort': 10000 + i, 'protocol': 'tcp'} for i in range(17)]))")"
	echo "chk $(addr_of 0) $chk" >"$out/spec-chk"
	rules_check "$out/spec-chk"
	ref_run DEL chk "$(addr_of 0)" "[]" || true
	# 999 fillers then 8080 on one container, as one ADD of the 1,000 would leave them
	m=$($py -c "print(','.join(['%d:%d' % (21000 + i, 10000 + i) for i in range(999)] + ['8080:80']))")
	echo "big $(addr_of 0) $m" | $py "$src/bench/portmap_rules.py" bench 10.80.0.0/16 | iptables-restore --noflush
	r1000=$(rate 8080)
fi
kill $srv
echo "| connections/s to a published port, 1 mapping installed | $n1 | $r1 | |"
echo "| ... 1,000 mappings installed | $n1000 | $r1000 | |"
echo "| 1,000 / 1 | $(awk -v a=$n1000 -v b=$n1 'BEGIN{printf "%.2f", a/b}') | $(awk -v a=$r1000 -v b=$r1 'BEGIN{if (a == "-") print "-"; else printf "%.2f", a/b}') | |"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "raw samples in $out" >&2
