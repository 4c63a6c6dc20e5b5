#!/usr/bin/env bats
# netd-overlay across simulated hosts (tests/harness/netd-hosts): each host a
# netns on a shared underlay running its own netd; containers are attached
# with netdctl on their host (netd-overlay + netd-ipam + netd-endpoint).

load ../harness/lib
load netd_lib
bats_require_minimum_version 1.5.0

HOSTS=$NETD_SRC/tests/harness/netd-hosts

setup() {
	export NETD_HOSTS_DIR=$BATS_TEST_TMPDIR/hosts
}

teardown() {
	"$HOSTS" down >/dev/null 2>&1 || true
	ip link del ul0 2>/dev/null || true
	ip link del bare0 2>/dev/null || true
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do ip netns del "$ns" || true; done
}

on() { "$HOSTS" exec "$@"; }
ctr_ip() { ip -n "$1" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1; }
ctr_mac() { ip -n "$1" -o link show dev eth0 | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}'; }
# host_devs HOST: the overlay devices on HOST
host_devs() { on "$1" ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^ndo[bv]' || true; }

# 3 hosts x 2 containers on overlay "ov" (VNI 4242)
three_by_two() {
	"$HOSTS" up 3 >/dev/null
	"$HOSTS" overlay ov --vni 4242 "$@" >/dev/null
	for h in 1 2 3; do
		for c in a b; do
			on h$h netdctl container add h$h$c --net ov >/dev/null
		done
	done
	CTRS="h1a h1b h2a h2b h3a h3b"
}

@test "3 hosts x 2 containers: every container reaches every other and sees its real IP and MAC" {
	three_by_two
	for c in $CTRS; do
		for d in $CTRS; do
			[ $c = $d ] && continue
			ip netns exec $c ping -c1 -W2 "$(ctr_ip $d)" >/dev/null || { echo "$c -> $d failed"; return 1; }
		done
	done
	# one L2: the neighbour entry of each peer is that container's own MAC
	for d in h1b h2a h3b; do
		ip -n h1a neigh show "$(ctr_ip $d)" | grep -q "lladdr $(ctr_mac $d)"
	done
	# distinct per-host ranges
	[ "$(for c in $CTRS; do ctr_ip $c; done | sort -u | wc -l)" -eq 6 ]
	[[ $(ctr_ip h1a) == 10.210.0.6* ]] && [[ $(ctr_ip h2a) == 10.210.0.1[23]* ]] && [[ $(ctr_ip h3a) == 10.210.0.19* ]]
	# on each host: one bridge, one vxlan without learning, flood entries to the two others
	on h1 ip -d link show ndov4242 | grep -q 'vxlan id 4242 local 192.0.2.1 dev eth0'
	on h1 ip -d link show ndov4242 | grep -q nolearning
	on h1 ip -o link show ndov4242 | grep -q 'master ndob4242'
	[ "$(on h1 bridge fdb show dev ndov4242 | grep -c '^00:00:00:00:00:00 dst')" -eq 2 ]
	on h1 bridge fdb show dev ndov4242 | grep -q '00:00:00:00:00:00 dst 192.0.2.2 self permanent'
	on h1 bridge fdb show dev ndov4242 | grep -q '00:00:00:00:00:00 dst 192.0.2.3 self permanent'
	# netd-endpoint ran after netd-overlay: each host's netd knows its containers
	run on h2 netdctl endpoints --network ov
	assert_success
	[[ $output == *h2a* ]] && [[ $output == *h2b* ]]
	[[ $output != *h1a* ]]
	# and its DNS answers for containers of the same host (across hosts
	# comes with the shared store)
	[ "$(ip netns exec h2a dig +short +tries=1 +time=5 @127.0.0.11 h2b)" = "$(ctr_ip h2b)" ]
	# CHECK through the chain is clean
	on h3 netdctl container check h3a
}

@test "MTU: underlay minus 50 end to end; the largest DF ping passes, one byte more fails; TCP does not stall" {
	three_by_two
	ip -n h1a -o link show eth0 | grep -q 'mtu 1450'
	on h1 ip -o link show ndob4242 | grep -q 'mtu 1450'
	on h1 ip -o link show ndov4242 | grep -q 'mtu 1450'
	dst=$(ctr_ip h3a)
	ip netns exec h1a ping -c1 -W2 -M do -s 1422 "$dst"
	! ip netns exec h1a ping -c1 -W2 -M do -s 1423 "$dst" || false
	ip netns exec h3a iperf3 -s -1 -D -B "$dst"
	sleep 0.3
	timeout 20 ip netns exec h1a iperf3 -c "$dst" -n 20M -J >"$BATS_TEST_TMPDIR/tcp.json"
	# all 20 MiB sent and acknowledged within the timeout, no error
	[ "$(jq '.end.sum_sent.bytes' "$BATS_TEST_TMPDIR/tcp.json")" -ge 20971520 ]
	[ "$(jq -r '.error // "none"' "$BATS_TEST_TMPDIR/tcp.json")" = none ]
}

@test "IPv6 underlay: overhead 70 bytes, containers on different hosts reach each other" {
	"$HOSTS" up 2 --ipv6 >/dev/null
	"$HOSTS" overlay ov6 --vni 66 --ipv6-underlay >/dev/null
	on h1 netdctl container add x1 --net ov6 >/dev/null
	on h2 netdctl container add x2 --net ov6 >/dev/null
	ip -n x1 -o link show eth0 | grep -q 'mtu 1430'
	on h1 bridge fdb show dev ndov66 | grep -q '00:00:00:00:00:00 dst 2001:db8::2 self permanent'
	ip netns exec x1 ping -c1 -W2 -M do -s 1402 "$(ctr_ip x2)"
	! ip netns exec x1 ping -c1 -W2 -M do -s 1403 "$(ctr_ip x2)" || false
}

@test "the last container's DEL on a host removes its bridge and vxlan; the other hosts keep working" {
	three_by_two
	on h2 netdctl container del h2a >/dev/null
	[ "$(host_devs h2 | sort | tr '\n' ' ')" = "ndob4242 ndov4242 " ]
	on h2 netdctl container del h2b >/dev/null
	[ -z "$(host_devs h2)" ]
	! on h2 nft list set inet netd_cni masq4 | grep -q 10.210 || false
	! on h2 ip -o link show type veth | grep -q veth || false
	ip netns exec h1a ping -c1 -W2 "$(ctr_ip h3b)"
	# and comes back with the next container
	on h2 netdctl container add h2c --net ov >/dev/null
	[ "$(host_devs h2 | wc -l)" -eq 2 ]
	ip netns exec h2c ping -c1 -W2 "$(ctr_ip h1a)"
}

@test "a host with another VNI on the same subnet is isolated" {
	"$HOSTS" up 3 >/dev/null
	"$HOSTS" overlay ov --vni 100 --hosts h1,h2 >/dev/null
	"$HOSTS" overlay other --vni 200 --hosts h3 --subnet 10.210.0.0/24 -o peers=192.0.2.1,192.0.2.2 >/dev/null
	on h1 netdctl container add a1 --net ov >/dev/null
	on h2 netdctl container add a2 --net ov >/dev/null
	on h3 netdctl container add a3 --net other >/dev/null
	ip netns exec a1 ping -c1 -W2 "$(ctr_ip a2)"
	! ip netns exec a1 ping -c1 -W1 "$(ctr_ip a3)" || false
	! ip netns exec a3 ping -c1 -W1 "$(ctr_ip a2)" || false
}

@test "egress through the container's own host, masqueraded; the overlay itself is not" {
	three_by_two
	# the underlay has no route to 10.210.0.0/24: only a masqueraded ping comes back
	ip netns exec h2a ping -c1 -W2 198.51.100.1
	ip -n h2a route show default | grep -q 'via 10.210.0.2'
	on h2 nft list ruleset | grep -q "$(ctr_ip h2a)"
	# across the overlay the peer sees the real source address
	ip netns exec h3a iperf3 -s -1 -D -B "$(ctr_ip h3a)"
	sleep 0.3
	ip netns exec h2a iperf3 -c "$(ctr_ip h3a)" -n 1M -J >"$BATS_TEST_TMPDIR/j"
	[ "$(jq -r '.start.connected[0].local_host' "$BATS_TEST_TMPDIR/j")" = "$(ctr_ip h2a)" ]
}

@test "concurrent ADD/DEL on one host while traffic flows between the others" {
	three_by_two
	ip netns exec h2a ping -c 40 -i 0.1 -W1 "$(ctr_ip h3b)" >"$BATS_TEST_TMPDIR/ping" &
	pinger=$!
	for i in 1 2 3 4 5 6; do on h1 netdctl container add p$i --net ov >/dev/null & done
	wait -n; wait -n; wait -n; wait -n; wait -n; wait -n
	for i in 1 2 3 4 5 6; do ip netns exec p$i ping -c1 -W2 "$(ctr_ip h2b)" >/dev/null; done
	[ "$(on h1 ip -o link show master ndob4242 | wc -l)" -eq 9 ]
	for c in p1 p2 p3 p4 p5 p6 h1a h1b; do on h1 netdctl container del $c >/dev/null & done
	for i in 1 2 3 4 5 6 7 8; do wait -n; done
	[ -z "$(host_devs h1)" ]
	wait $pinger
	grep -q ' 0% packet loss' "$BATS_TEST_TMPDIR/ping"
	# add and del racing on one host, ending empty
	for i in 1 2 3 4; do
		(on h1 netdctl container add r$i --net ov >/dev/null && on h1 netdctl container del r$i >/dev/null) &
	done
	for i in 1 2 3 4; do wait -n; done
	[ -z "$(host_devs h1)" ]
	[ -z "$(ls "$NETD_HOSTS_DIR/h1/ipam/ov" 2>/dev/null | grep -v -e lock -e last_reserved)" ]
}

@test "CHECK names a missing flood entry" {
	three_by_two
	on h1 bridge fdb del 00:00:00:00:00:00 dev ndov4242 dst 192.0.2.3
	run on h1 netdctl container check h1a
	[ "$status" -ne 0 ]
	[[ $output == *"no flood entry for peer 192.0.2.3"* ]]
	# the next ADD restores it
	on h1 netdctl container add h1c --net ov >/dev/null
	on h1 bridge fdb show dev ndov4242 | grep -q '00:00:00:00:00:00 dst 192.0.2.3'
}

# ---- bad input: straight plugin runs on this test's own host -----------

# conf [JSON-MEMBERS]: the base config with those members set or replaced
conf() {
	jq -c ". + {${1:-}}" <<EOF
{"cniVersion":"1.1.0","name":"ovb","type":"netd-overlay","underlay":"ul0","peers":["192.0.2.2"],
 "ipam":{"type":"netd-ipam","subnet":"10.211.0.0/24","dataDir":"$BATS_TEST_TMPDIR/ipam"}}
EOF
}

bad_setup() {
	ip link add ul0 type veth peer name ul1
	ip addr add 192.0.2.1/24 dev ul0
	ip link set ul0 up
	ip link add bare0 type veth peer name bare1
	ns_add c1
	BEFORE=$(host_state)
}

# bad CONF-FRAGMENT MSG-SUBSTRING: code 7, that message, nothing created
bad() {
	cni netd-overlay ADD c1 <<<"$(conf "$1")"
	assert_cni_error 7 "$2"
	[ "$(host_state)" = "$BEFORE" ] || { diff <(echo "$BEFORE") <(host_state); return 1; }
	[ "$(ns_exec c1 ip -o link show | wc -l)" -eq 1 ]
}

@test "bad input: VNI, port, underlay, peers, MTU give clear CNI errors and create nothing" {
	bad_setup
	bad '"vni":0' "field 'vni' is 0, must be 1..16777215"
	bad '"vni":16777216' "field 'vni' is 16777216, must be 1..16777215"
	bad '"vni":"7"' "field 'vni' must be an integer"
	bad '"port":1' "field 'vni' is required"
	bad '"vni":7,"port":0' "field 'port' is 0, must be 1..65535"
	bad '"vni":7,"port":65536' "field 'port' is 65536, must be 1..65535"
	bad '"vni":7,"underlay":"nosuch0"' "underlay nosuch0: no such interface or address"
	bad '"vni":7,"underlay":null' "no 'underlay' given and this host has no default route to take it from"
	bad '"vni":7,"underlay":"bare0"' "underlay bare0 has no IPv4 or global IPv6 address"
	bad '"vni":7,"underlay":"192.0.2.77"' "underlay 192.0.2.77 is not an address of this host"
	bad '"vni":7,"peers":["192.0.2.2","not-an-ip"]' "peers[1]: not-an-ip is not an IP address"
	bad '"vni":7,"peers":"192.0.2.2"' "field 'peers' must be an array"
	bad '"vni":7,"peers":["2001:db8::2"]' "peers[0]: 2001:db8::2 is not of the underlay's family"
	bad '"vni":7,"mtu":1451' "mtu 1451 is above what underlay ul0 (MTU 1500) carries: at most 1450"
	# the limit itself is fine, and the underlay given by address works
	# (no gateway: the masquerade table would outlive the DEL, by design)
	cni netd-overlay ADD c1 <<<"$(conf '"vni":7,"mtu":1450,"underlay":"192.0.2.1","isGateway":false')"
	assert_success
	ip -d link show ndov7 | grep -q 'vxlan id 7 local 192.0.2.1 dev ul0'
	cni netd-overlay DEL c1 <<<"$(conf '"vni":7,"mtu":1450,"underlay":"192.0.2.1","isGateway":false')"
	assert_success
	[ "$(host_state)" = "$BEFORE" ] || { diff <(echo "$BEFORE") <(host_state); return 1; }
}

@test "a VNI's devices belong to one network: another network with the same VNI is refused" {
	bad_setup
	cni netd-overlay ADD c1 <<<"$(conf '"vni":9,"isGateway":false')"
	assert_success
	ns_add c2
	cni netd-overlay ADD c2 <<<"$(conf '"vni":9,"isGateway":false,"name":"other"')"
	assert_cni_error 102 "VNI 9 is in use on this host by another network"
	! ns_exec c2 ip link show eth0 2>/dev/null || false
	cni netd-overlay DEL c1 <<<"$(conf '"vni":9,"isGateway":false')"
	assert_success
	[ "$(host_state)" = "$BEFORE" ]
}

@test "dns from the network config is in the result; a bad one is a config error and creates nothing" {
	bad_setup
	bad '"vni":7,"dns":{"nameservers":"192.0.2.53"}' "dns"
	cni netd-overlay ADD c1 <<<"$(conf '"vni":7,"isGateway":false,"dns":{"nameservers":["192.0.2.53"],"domain":"example.org","search":["example.org"],"options":["ndots:2"]}')"
	assert_success
	[ "$(json_field '.dns.nameservers[0]')" = 192.0.2.53 ]
	[ "$(json_field '.dns.domain')" = example.org ]
	[ "$(json_field '.dns.search[0]')" = example.org ]
	[ "$(json_field '.dns.options[0]')" = ndots:2 ]
	cni netd-overlay DEL c1 <<<"$(conf '"vni":7,"isGateway":false')"
	assert_success
	[ "$(host_state)" = "$BEFORE" ] || { diff <(echo "$BEFORE") <(host_state); return 1; }
}

@test "netdctl network create -d overlay: VNI from the name unless given, peers as a list" {
	export NETD_CNI_CONF_DIR=$BATS_TEST_TMPDIR/net.d
	"$NETDCTL_BIN" network create -d overlay --subnet 10.212.0.0/24 -o underlay=eth0 -o peers=192.0.2.2,192.0.2.3 blue
	f=$NETD_CNI_CONF_DIR/blue.conflist
	[ "$(jq -r '.plugins[0].type' "$f")" = netd-overlay ]
	vni=$(jq '.plugins[0].vni' "$f")
	[ "$vni" -ge 1 ] && [ "$vni" -le 16777215 ]
	[ "$(jq -c '.plugins[0].peers' "$f")" = '["192.0.2.2","192.0.2.3"]' ]
	# the same name gives the same VNI on another host
	NETD_CNI_CONF_DIR=$BATS_TEST_TMPDIR/other "$NETDCTL_BIN" network create -d overlay blue
	[ "$(jq '.plugins[0].vni' "$BATS_TEST_TMPDIR/other/blue.conflist")" = "$vni" ]
	"$NETDCTL_BIN" network create -d overlay --vni 77 --gateway 10.213.0.2 --subnet 10.213.0.0/24 \
		--ip-range 10.213.0.128/25 -o ipam.dataDir=/tmp/x green
	g=$NETD_CNI_CONF_DIR/green.conflist
	[ "$(jq '.plugins[0].vni' "$g")" = 77 ]
	[ "$(jq -c '.plugins[0].ipam.ranges[0][0]' "$g")" = '{"subnet":"10.213.0.0/24","gateway":"10.213.0.2","rangeStart":"10.213.0.128","rangeEnd":"10.213.0.255"}' ]
	[ "$(jq -r '.plugins[0].ipam.dataDir' "$g")" = /tmp/x ]
	run "$NETDCTL_BIN" network create -d overlay --vni 16777216 red
	[ "$status" -eq 2 ]
	run "$NETDCTL_BIN" network create -d bridge --vni 5 red
	[ "$status" -eq 2 ]
}
