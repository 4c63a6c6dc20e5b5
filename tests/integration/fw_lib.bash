# Helpers for isolation.bats and ports.bats: a netd with netdctl networks
# (netd-bridge + netd-ipam + netd-endpoint), containers as namespaces, echo
# servers that say who answered and whom they saw, and "out": another machine
# that routes the container subnets through this host.

load netd_lib

ECHO=$NETD_SRC/tests/harness/echo.py

fw_setup() {
	D=$BATS_TEST_TMPDIR/n
	BIN=$BATS_TEST_TMPDIR/bin
	mkdir -p "$BIN"
	for p in bridge ipam endpoint; do
		cp "$NETD_BUILD/plugins/$p/netd-$p" "$BIN/"
	done
	export CNI_PATH=$BIN NETD_SOCKET=$D/netd.sock NETD_CACHE_DIR=$BATS_TEST_TMPDIR/cache
	export NETD_CNI_CONF_DIR=$BATS_TEST_TMPDIR/net.d
	netd_start "$D"
}

fw_teardown() {
	local p
	for p in $(cat "$BATS_TEST_TMPDIR/servers" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	# DEL through the plugins, so IPAM (kept across the tests of a file) lets
	# the next test's containers of the same names in again
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do ctl container del "$ns" >/dev/null 2>&1 || true; done
	[ -f "$D/pid" ] && kill -9 "$(cat "$D/pid")" 2>/dev/null || true
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do ip netns del "$ns" || true; done
}

ctl() { "$NETDCTL_BIN" "$@"; }

# fw_stop: stop netd and wait until it is gone (so it cannot heal what we do next)
fw_stop() {
	local pid i
	pid=$(cat "$D/pid")
	netd_stop "$D"
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
	return 1
}

# container NAME NETS [netdctl args]: attach, and route everything else through
# the first network's gateway (as a runtime's default route does)
container() {
	local name=$1 nets=$2 gw
	shift 2
	ctl container add "$name" --net "$nets" "$@" >/dev/null
	gw=$(ip netns exec "$name" ip -4 -o addr show eth0 | awk '{print $4}' | sed 's|\.[0-9]*/.*|.1|')
	ip netns exec "$name" ip route replace default via "$gw"
}

# serve NETNS NAME PORT...: echo servers on TCP and UDP; NETNS "host" for the host
serve() {
	local ns=$1 log=$BATS_TEST_TMPDIR/serve-$1-$2.log i
	shift
	if [ "$ns" = host ]; then
		"$ECHO" serve "$@" >"$log" 2>&1 &
	else
		ip netns exec "$ns" "$ECHO" serve "$@" >"$log" 2>&1 &
	fi
	echo $! >>"$BATS_TEST_TMPDIR/servers"
	for i in $(seq 50); do grep -q ready "$log" && return 0; sleep 0.05; done
	cat "$log"
	return 1
}

# ask NETNS tcp|udp HOST PORT: prints "NAME PEER" of whoever answered
ask() {
	local ns=$1
	shift
	if [ "$ns" = host ]; then "$ECHO" "$@"; else ip netns exec "$ns" "$ECHO" "$@"; fi
}

# answered_by NETNS PROTO HOST PORT NAME: asserts NAME answered
answered_by() {
	local want=$5 got
	got=$(ask "$1" "$2" "$3" "$4") || { echo "no answer from $3:$4/$2 in $1 (wanted $want)"; return 1; }
	[ "${got%% *}" = "$want" ] || { echo "$3:$4/$2 in $1: answered '$got', wanted $want"; return 1; }
}

# no_answer NETNS PROTO HOST PORT
no_answer() {
	local got
	if got=$(ask "$1" "$2" "$3" "$4" 0.5 2>/dev/null); then
		echo "$3:$4/$2 from $1 answered '$got', expected no answer"
		return 1
	fi
}

# out: a second machine on 198.51.100.0/24 (host .1, out .2) that routes 10.0.0.0/8
# (and fd00::/8) through this host
outside() {
	ip netns add out
	ip link add h-out type veth peer name eth0 netns out
	ip addr add 198.51.100.1/24 dev h-out
	ip addr add 2001:db8:100::1/64 dev h-out nodad
	ip link set h-out up
	ip netns exec out ip addr add 198.51.100.2/24 dev eth0
	ip netns exec out ip addr add 2001:db8:100::2/64 dev eth0 nodad
	ip netns exec out ip link set eth0 up
	ip netns exec out ip link set lo up
	ip netns exec out ip route add 10.0.0.0/8 via 198.51.100.1
	ip netns exec out ip route add fd00::/8 via 2001:db8:100::1
	sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# wait until the table holds its forward chain again (at most 2 s); prints ms
table_back() {
	local i
	for i in $(seq 200); do
		nft list chain inet netd forward >/dev/null 2>&1 && { echo $((i * 10)); return 0; }
		sleep 0.01
	done
	return 1
}

# addr_in NETNS PREFIX: the container's IPv4 address that starts with PREFIX
# ("10.70.2."). Tests look addresses up: netd-ipam hands them out round-robin
# (as host-local does), so the second test of a file gets other addresses
# than the first, and a hard-coded one may belong to nobody (a no_answer
# that cannot fail).
addr_in() {
	ip netns exec "$1" ip -4 -o addr show | awk '{sub("/.*", "", $4); print $4}' | grep -m1 "^${2//./\\.}"
}

# wait until the plugins' masquerade table holds its elements again (at most 2 s)
cni_tables_back() {
	local i
	for i in $(seq 200); do
		nft list set inet netd_cni masq4 2>/dev/null | grep -q "elements" && return 0
		sleep 0.01
	done
	return 1
}

# isolation_setup: networks a (10.70.1.0/24) and b (10.70.2.0/24); a1 on a,
# b1 on b publishing 8080->80, ab on both; echo servers on 80/81 in each, on
# "out", and on the host's 7000. Their addresses: $A1, $B1, $AB_A (ab on a),
# $AB_B (ab on b).
isolation_setup() {
	fw_setup
	ctl network create --subnet 10.70.1.0/24 a >/dev/null
	ctl network create --subnet 10.70.2.0/24 b >/dev/null
	container a1 a
	container b1 b -p 8080:80
	container ab a,b
	A1=$(addr_in a1 10.70.1.)
	B1=$(addr_in b1 10.70.2.)
	AB_A=$(addr_in ab 10.70.1.)
	AB_B=$(addr_in ab 10.70.2.)
	outside
	for c in a1 b1 ab out; do serve $c $c 80 81; done
	serve host host 7000
}
