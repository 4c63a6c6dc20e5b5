#!/usr/bin/env bats
# Egress: a container reaches a server outside its own subnet, through its
# gateway, on IPv4 and IPv6, with routes written as runtimes write them (no
# `gw`: podman's {"dst":"0.0.0.0/0"}).
#
#   bridge:  container -- bridge (gateway, masquerade) -- host -- vout -- "out"
#   macvlan, host-device: the master / the device is a veth whose peer is in
#            netns "rt", the router (gateway, forwarding), which reaches "out"
#            through a second veth; "out" routes the container subnets back.
#
# "out" runs an HTTP server (busybox httpd) answering "hello" on 8080. For the
# bridge, "out" has no route back to the container subnets: only masquerade
# (ipMasq) lets the answer through.

load ../harness/lib
bats_require_minimum_version 1.5.0

setup() {
	mkdir -p "$BATS_TEST_TMPDIR/www"
	echo hello > "$BATS_TEST_TMPDIR/www/index.html"
	ns_add out
	ns_exec out ip link set lo up
	# the host's own uplink to "out"
	ip link add vout type veth peer name eth0 netns out
	ip addr add 192.0.2.1/24 dev vout
	ip addr add 2001:db8:1::1/64 dev vout nodad
	ip link set vout up
	ns_exec out ip addr add 192.0.2.2/24 dev eth0
	ns_exec out ip addr add 2001:db8:1::2/64 dev eth0 nodad
	ns_exec out ip link set eth0 up
	# bats waits for whatever holds its fd 3: the server must not
	ns_exec out busybox httpd -f -p 8080 -h "$BATS_TEST_TMPDIR/www" >/dev/null 2>&1 3>&- &
	echo $! > "$BATS_TEST_TMPDIR/httpd.pid"
}

teardown() {
	kill "$(cat "$BATS_TEST_TMPDIR/httpd.pid")" 2>/dev/null || true
	cleanup_host /var/lib/cni/networks /var/lib/netd/host
}

# router: netns "rt" with a veth to "out" (198.51.100.0/24, 2001:db8:2::/64)
# and forwarding on; "out" routes the given subnets back through it.
router_setup() {
	ns_add rt
	ns_exec rt ip link set lo up
	ip link add up0 netns rt type veth peer name eth1 netns out
	ns_exec rt ip addr add 198.51.100.1/24 dev up0
	ns_exec rt ip addr add 2001:db8:2::1/64 dev up0 nodad
	ns_exec rt ip link set up0 up
	ns_exec out ip addr add 198.51.100.2/24 dev eth1
	ns_exec out ip addr add 2001:db8:2::2/64 dev eth1 nodad
	ns_exec out ip link set eth1 up
	ns_exec rt sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	local s
	for s in "$@"; do
		case $s in
		*:*) ns_exec out ip -6 route add "$s" via 2001:db8:2::1 ;;
		*) ns_exec out ip route add "$s" via 198.51.100.1 ;;
		esac
	done
}

# router_link HOSTNAME V4GW/LEN V6GW/LEN: a veth from the host (HOSTNAME, up,
# no address) to the router, which holds the gateway addresses.
router_link() {
	ip link add "$1" type veth peer name "r-$1" netns rt
	ip link set "$1" addrgenmode none
	ip link set "$1" up
	ns_exec rt ip addr add "$2" dev "r-$1"
	ns_exec rt ip addr add "$3" dev "r-$1" nodad
	ns_exec rt ip link set "r-$1" up
}

# defaults NS [-6]: the container's default routes, one a line, no trailing blanks
defaults() { ns_exec "$1" ip ${2:-} route show default | sed 's/ *$//'; }

# get NS URL: the server's answer, as the container sees it
get() { ns_exec "$1" timeout 5 busybox wget -q -O - "$2"; }

# reaches NS V4 V6: the container reaches the server at both addresses
reaches() {
	[ "$(get "$1" "http://$2:8080/")" = hello ] || { echo "$1: no answer from $2"; ns_exec "$1" ip route; return 1; }
	[ "$(get "$1" "http://[$3]:8080/")" = hello ] || { echo "$1: no answer from $3"; ns_exec "$1" ip -6 route; return 1; }
}

# podman's shape: routes without gw, a gateway from the ranges
bridge_conf() { # NAME BRIDGE N (subnets 10.9N.0.0/24 and fd9N::/64) [extra]
	echo "{\"cniVersion\":\"1.0.0\",\"name\":\"$1\",\"type\":\"netd-bridge\",\"bridge\":\"$2\",\"isGateway\":true,\"ipMasq\":true${4:+,$4},
	 \"ipam\":{\"type\":\"netd-ipam\",\"ranges\":[[{\"subnet\":\"10.9$3.0.0/24\"}],[{\"subnet\":\"fd9$3::/64\"}]],
	  \"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"::/0\"}]}}"
}

@test "bridge: a route without gw goes via the gateway, and the container reaches a server beyond the host (IPv4, IPv6)" {
	ns_add c1
	cni netd-bridge ADD c1 <<<"$(bridge_conf net1 eg1 1)"; assert_success
	defaults c1 | grep -qx "default via 10.91.0.1 dev eth0"
	defaults c1 -6 | grep -q "^default via fd91::1 dev eth0 metric 1024"
	[ "$(json_field '[.routes[] | select(.dst == "0.0.0.0/0")][0].gw')" = 10.91.0.1 ]
	[ "$(json_field '[.routes[] | select(.dst == "::/0")][0].gw')" = fd91::1 ]
	reaches c1 192.0.2.2 2001:db8:1::2
}

@test "bridge: isDefaultGateway on top of IPAM's default route gives one default route per family, and egress" {
	ns_add c1
	cni netd-bridge ADD c1 <<<"$(bridge_conf net1 eg1 1 '"isDefaultGateway":true')"; assert_success
	[ "$(ns_exec c1 ip route show default | wc -l)" = 1 ]
	[ "$(ns_exec c1 ip -6 route show default | wc -l)" = 1 ]
	[ "$(json_field '[.routes[] | select(.dst == "0.0.0.0/0" or .dst == "::/0")] | length')" = 2 ]
	reaches c1 192.0.2.2 2001:db8:1::2
}

@test "bridge: a container on two networks has a default route per network and keeps egress after either is removed" {
	ns_add c1
	A=$(bridge_conf neta ega 3) B=$(bridge_conf netb egb 4)
	cni netd-bridge ADD c1 eth0 <<<"$A"; assert_success
	cni netd-bridge ADD c1 eth1 <<<"$B"; assert_success
	# in order of attachment: A first, then B one metric after
	defaults c1 | grep -qx "default via 10.93.0.1 dev eth0"
	defaults c1 | grep -qx "default via 10.94.0.1 dev eth1 metric 1"
	defaults c1 -6 | grep -q "^default via fd93::1 dev eth0 metric 1024"
	defaults c1 -6 | grep -q "^default via fd94::1 dev eth1 metric 1025"
	reaches c1 192.0.2.2 2001:db8:1::2

	cni netd-bridge DEL c1 eth0 <<<"$A"; assert_success
	[ "$(defaults c1)" = "default via 10.94.0.1 dev eth1 metric 1" ]
	reaches c1 192.0.2.2 2001:db8:1::2

	# back on A (now after B), then B goes
	cni netd-bridge ADD c1 eth0 <<<"$A"; assert_success
	defaults c1 | grep -qx "default via 10.93.0.1 dev eth0 metric 2"
	cni netd-bridge DEL c1 eth1 <<<"$B"; assert_success
	[ "$(ns_exec c1 ip route show default | wc -l)" = 1 ]
	reaches c1 192.0.2.2 2001:db8:1::2
}

@test "bridge: a route that conflicts is code 102 and the ADD leaves nothing behind" {
	ns_add c1
	conf=$(jq -c '.ipam.routes = [{"dst":"0.0.0.0/0","gw":"10.91.0.254"},{"dst":"0.0.0.0/0"}]' <<<"$(bridge_conf net1 eg1 1)")
	cni netd-bridge ADD c1 <<<"$conf"
	assert_cni_error 102 "route default via 10.91.0.1 dev eth0 conflicts with default via 10.91.0.254 dev eth0"
	! ns_exec c1 ip link show eth0 2>/dev/null || false
	[ -z "$(ls /var/lib/cni/networks/net1 2>/dev/null | grep -v -e lock -e last_reserved)" ]
}

@test "macvlan: a route without gw goes via the router, and the container reaches a server beyond it (IPv4, IPv6)" {
	router_setup 10.95.0.0/24 fd95::/64
	router_link mv0 10.95.0.1/24 fd95::1/64
	ns_add c1
	cni netd-macvlan ADD c1 <<<'{"cniVersion":"1.0.0","name":"mv","type":"netd-macvlan","master":"mv0","mode":"bridge",
	 "ipam":{"type":"netd-ipam","ranges":[[{"subnet":"10.95.0.0/24","rangeStart":"10.95.0.10","gateway":"10.95.0.1"}],
	  [{"subnet":"fd95::/64","rangeStart":"fd95::10","gateway":"fd95::1"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]}}'
	assert_success
	ns_exec c1 ip route show default | grep -q "default via 10.95.0.1 dev eth0"
	reaches c1 198.51.100.2 2001:db8:2::2
}

@test "host-device: a route without gw goes via the router, and the container reaches a server beyond it (IPv4, IPv6)" {
	router_setup 10.96.0.0/24 fd96::/64
	router_link hd0 10.96.0.1/24 fd96::1/64
	ns_add c1
	cni netd-host ADD c1 <<<'{"cniVersion":"1.0.0","name":"hd","type":"netd-host","device":"hd0",
	 "ipam":{"type":"netd-ipam","ranges":[[{"subnet":"10.96.0.0/24","rangeStart":"10.96.0.10","gateway":"10.96.0.1"}],
	  [{"subnet":"fd96::/64","rangeStart":"fd96::10","gateway":"fd96::1"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]}}'
	assert_success
	ns_exec c1 ip -6 route show default | grep -q "default via fd96::1 dev eth0"
	reaches c1 198.51.100.2 2001:db8:2::2
}

@test "macvlan beside bridge: a container on both keeps egress after either network is removed" {
	router_setup 10.95.0.0/24 fd95::/64
	router_link mv0 10.95.0.1/24 fd95::1/64
	ns_add c1
	M='{"cniVersion":"1.0.0","name":"mv","type":"netd-macvlan","master":"mv0",
	 "ipam":{"type":"netd-ipam","ranges":[[{"subnet":"10.95.0.0/24","rangeStart":"10.95.0.10","gateway":"10.95.0.1"}],
	  [{"subnet":"fd95::/64","rangeStart":"fd95::10","gateway":"fd95::1"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]}}'
	B=$(bridge_conf net1 eg1 1)
	cni netd-macvlan ADD c1 eth0 <<<"$M"; assert_success
	cni netd-bridge ADD c1 eth1 <<<"$B"; assert_success
	[ "$(ns_exec c1 ip route show default | wc -l)" = 2 ]
	# the first attached (macvlan) is preferred: "out" sees the router's side
	reaches c1 198.51.100.2 2001:db8:2::2
	cni netd-macvlan DEL c1 eth0 <<<"$M"; assert_success
	# now through the bridge and the host's uplink
	reaches c1 192.0.2.2 2001:db8:1::2
}
