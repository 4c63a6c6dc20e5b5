#!/usr/bin/env bats
# netd-macvlan, black-box. The "host" is a private netns; its master is one end
# (m0) of a veth pair whose other end (m1, 10.50.0.1) sits in netns "peer",
# standing for the switch and the rest of the LAN.

load ../harness/lib
bats_require_minimum_version 1.5.0

IPAM='{"type":"netd-ipam","ranges":[[{"subnet":"10.50.0.0/24","rangeStart":"10.50.0.10"}]]}'

# conf [extra top-level JSON members] [ipam JSON, "" for none]
conf() {
	local extra=${1:-} ipam=${2-$IPAM}
	echo "{\"cniVersion\":\"1.0.0\",\"name\":\"mv\",\"type\":\"netd-macvlan\",\"master\":\"m0\"${extra:+,$extra}${ipam:+,\"ipam\":$ipam}}"
}
setup() {
	ns_add peer
	ip link add m0 type veth peer name m1 netns peer
	# no IPv6 link-local address appearing later in host_state snapshots
	ip link set m0 addrgenmode none
	ip link set m0 up
	ns_exec peer ip link set m1 up
	ns_exec peer ip addr add 10.50.0.1/24 dev m1
}

teardown() { cleanup_host /var/lib/cni/networks; }

@test "ADD: a bridge-mode macvlan of m0 in the container, with address and result" {
	ns_add c1
	before=$(host_state)
	cni netd-macvlan ADD c1 <<<"$(conf)"
	assert_success
	[ "$(json_field .cniVersion)" = 1.0.0 ]
	[ "$(json_field '.interfaces | length')" = 1 ]
	[ "$(json_field '.interfaces[0].name')" = eth0 ]
	[ "$(json_field '.interfaces[0].sandbox')" = /run/netns/c1 ]
	[ "$(json_field '.ips[0].address')" = 10.50.0.10/24 ]
	[ "$(json_field '.ips[0].interface')" = 0 ]
	mac=$(json_field '.interfaces[0].mac')
	ns_exec c1 ip -d link show eth0 | grep -q "macvlan mode bridge"
	ns_exec c1 ip -o link show eth0 | grep -q "link/ether $mac"
	ns_exec c1 ip -o link show eth0 | grep -q "eth0@if$(cat /sys/class/net/m0/ifindex)"
	ns_exec c1 ip -o addr show dev eth0 | grep -q "inet 10.50.0.10/24"
	# no link on the host: it was born in the container
	[ "$(host_links | sort | tr '\n' ' ')" = "m0 " ]
	diff <(echo "$before" | grep -v /var/lib/cni) <(host_state | grep -v /var/lib/cni)
}

@test "bridge mode: two containers ping each other and the outside; the outside sees the container's MAC" {
	ns_add c1 c2
	cni netd-macvlan ADD c1 <<<"$(conf)"; assert_success
	mac1=$(json_field '.interfaces[0].mac')
	cni netd-macvlan ADD c2 <<<"$(conf)"; assert_success
	ns_exec c1 ping -c1 -W2 10.50.0.11
	ns_exec c2 ping -c1 -W2 10.50.0.10
	ns_exec c1 ping -c1 -W2 10.50.0.1
	ns_exec peer ip neigh show 10.50.0.10 dev m1 | grep -q "lladdr $mac1"
}

@test "ADD announces the address: a gratuitous ARP reaches the outside without any traffic" {
	ns_add c1
	ns_exec peer sysctl -qw net.ipv4.conf.m1.arp_accept=1
	! ns_exec peer ip neigh show 10.50.0.10 dev m1 | grep -q lladdr || false
	cni netd-macvlan ADD c1 <<<"$(conf)"; assert_success
	mac=$(json_field '.interfaces[0].mac')
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		ns_exec peer ip neigh show 10.50.0.10 dev m1 | grep -q "lladdr $mac" && break
		sleep 0.1
	done
	ns_exec peer ip neigh show 10.50.0.10 dev m1 | grep -q "lladdr $mac"
}

@test "private mode: containers on one master cannot reach each other, the outside they can" {
	ns_add c1 c2
	cni netd-macvlan ADD c1 <<<"$(conf '"mode":"private"')"; assert_success
	cni netd-macvlan ADD c2 <<<"$(conf '"mode":"private"')"; assert_success
	ns_exec c1 ip -d link show eth0 | grep -q "macvlan mode private"
	ns_exec c1 ping -c1 -W2 10.50.0.1
	ns_exec c2 ping -c1 -W2 10.50.0.1
	! ns_exec c1 ping -c1 -W1 10.50.0.11 || false
}

@test "vepa and passthru modes are created as asked" {
	ns_add c1 c2
	cni netd-macvlan ADD c1 <<<"$(conf '"mode":"vepa"')"; assert_success
	ns_exec c1 ip -d link show eth0 | grep -q "macvlan mode vepa"
	ns_exec c1 ping -c1 -W2 10.50.0.1
	cni netd-macvlan DEL c1 <<<"$(conf '"mode":"vepa"')"; assert_success
	cni netd-macvlan ADD c2 <<<"$(conf '"mode":"passthru"')"; assert_success
	ns_exec c2 ip -d link show eth0 | grep -q "macvlan mode passthru"
	ns_exec c2 ping -c1 -W2 10.50.0.1
}

@test "mtu, MAC from CNI_ARGS and from runtimeConfig are applied" {
	ns_add c1 c2
	ip link set m0 mtu 9000
	CNI_ARGS="IgnoreUnknown=1;MAC=02:42:ac:11:00:99"; export CNI_ARGS
	cni netd-macvlan ADD c1 <<<"$(conf '"mtu":1400')"
	unset CNI_ARGS
	assert_success
	ns_exec c1 ip -o link show eth0 | grep -q "mtu 1400"
	ns_exec c1 ip -o link show eth0 | grep -q "02:42:ac:11:00:99"
	[ "$(json_field '.interfaces[0].mac')" = 02:42:ac:11:00:99 ]
	cni netd-macvlan ADD c2 <<<"$(conf '"capabilities":{"mac":true},"runtimeConfig":{"mac":"02:42:ac:11:00:98"}')"
	assert_success
	ns_exec c2 ip -o link show eth0 | grep -q "02:42:ac:11:00:98"
	ns_exec c2 ip -o link show eth0 | grep -q "mtu 9000"
	ns_exec c1 ping -c1 -W2 10.50.0.11
}

@test "no master: the link of the host's default route" {
	ns_add c1
	ip link add x0 type veth peer name x1
	ip link set x0 up
	ip addr add 10.50.0.5/24 dev m0
	ip route add default via 10.50.0.1 dev m0
	cni netd-macvlan ADD c1 <<<"$(conf | jq -c 'del(.master)')"
	assert_success
	ns_exec c1 ip -o link show eth0 | grep -q "eth0@if$(cat /sys/class/net/m0/ifindex)"
	ns_exec c1 ping -c1 -W2 10.50.0.1
	ip route del default
	ns_add c2
	before=$(host_state)
	cni netd-macvlan ADD c2 <<<"$(conf | jq -c 'del(.master)')"
	assert_cni_error 7 "no 'master' given"
	[ "$(host_state)" = "$before" ]
}

@test "linkInContainer: the master is already inside the netns" {
	ns_add c1
	ip link add k0 type veth peer name k1 netns peer
	ip link set k0 netns c1
	ns_exec c1 ip link set k0 up
	ns_exec peer ip link set k1 up
	ns_exec peer ip addr add 10.60.0.1/24 dev k1
	ipam='{"type":"netd-ipam","ranges":[[{"subnet":"10.60.0.0/24","rangeStart":"10.60.0.10"}]]}'
	c=$(conf '"linkInContainer":true' "$ipam" | sed 's/"m0"/"k0"/')
	cni netd-macvlan ADD c1 <<<"$c"; assert_success
	ns_exec c1 ip -o link show eth0 | grep -q "eth0@k0"
	ns_exec c1 ping -c1 -W2 10.60.0.1
	prev=$output
	cni netd-macvlan CHECK c1 <<<"$(withprev "$c" "$prev")"; assert_success
	cni netd-macvlan DEL c1 <<<"$c"; assert_success
	! ns_exec c1 ip link show eth0 2>/dev/null || false
	ns_exec c1 ip link show k0
	# the same master name on the host is not used for it
	cni netd-macvlan ADD c1 <<<"$(conf '"linkInContainer":true' "$ipam")"
	assert_cni_error 7 "master interface 'm0' does not exist in the container's netns"
}

@test "no IPAM: an L2-only macvlan, up, without addresses" {
	ns_add c1
	cni netd-macvlan ADD c1 <<<"$(conf "" "")"; assert_success
	[ "$(json_field '.ips // [] | length')" = 0 ]
	ns_exec c1 ip -o link show eth0 | grep -q "UP"
	[ -z "$(ns_exec c1 ip -4 -o addr show dev eth0)" ]
	ns_exec c1 ip addr add 10.50.0.77/24 dev eth0
	ns_exec c1 ping -c1 -W2 10.50.0.1
}

@test "CHECK passes after ADD and names the drift" {
	ns_add c1
	cni netd-macvlan ADD c1 <<<"$(conf)"; assert_success
	prev=$output
	cni netd-macvlan CHECK c1 <<<"$(withprev "$(conf)" "$prev")"
	assert_success
	[ -z "$output" ]
	ns_exec c1 ip addr del 10.50.0.10/24 dev eth0
	cni netd-macvlan CHECK c1 <<<"$(withprev "$(conf)" "$prev")"
	assert_cni_error 103 "address 10.50.0.10/24 is missing"
	ns_exec c1 ip link set eth0 down
	cni netd-macvlan CHECK c1 <<<"$(withprev "$(conf)" "$prev")"
	assert_cni_error 103 "down"
	ns_exec c1 ip link set eth0 address 02:00:00:00:00:01
	cni netd-macvlan CHECK c1 <<<"$(withprev "$(conf)" "$prev")"
	assert_cni_error 103 "MAC"
	ip link add m2 type veth peer name m3
	cni netd-macvlan CHECK c1 <<<"$(withprev "$(conf | sed 's/"m0"/"m2"/')" "$prev")"
	assert_cni_error 103 "not a macvlan of m2"
	ns_exec c1 ip link del eth0
	cni netd-macvlan CHECK c1 <<<"$(withprev "$(conf)" "$prev")"
	assert_cni_error 103 "does not exist"
}

@test "DEL removes the macvlan and the reservation, and is idempotent" {
	ns_add c1 c2
	cni netd-macvlan ADD c1 <<<"$(conf)"; assert_success
	ls /var/lib/cni/networks/mv/10.50.0.10
	cni netd-macvlan DEL c1 <<<"$(conf)"; assert_success
	[ -z "$output" ]
	! ns_exec c1 ip link show eth0 2>/dev/null || false
	[ ! -e /var/lib/cni/networks/mv/10.50.0.10 ]
	cni netd-macvlan DEL c1 <<<"$(conf)"; assert_success
	cni netd-macvlan DEL nosuch <<<"$(conf)"; assert_success
	# a link of another kind under that name is not ours to delete
	ns_exec c1 ip link add eth0 type veth peer name eth1
	cni netd-macvlan DEL c1 <<<"$(conf)"; assert_success
	ns_exec c1 ip link show eth0
	# netns gone first; then without CNI_NETNS; the master gone too
	cni netd-macvlan ADD c2 <<<"$(conf)"; assert_success
	ip netns del c2
	cni netd-macvlan DEL c2 <<<"$(conf)"; assert_success
	ip link del m0
	cni netd-macvlan DEL c2 eth0 "" <<<"$(conf)"; assert_success
	[ ! -e /var/lib/cni/networks/mv/10.50.0.10 ]
}

@test "a failed ADD after the link exists removes it and the reservation" {
	ns_add c1
	before=$(host_state)
	ipam='{"type":"netd-ipam","ranges":[[{"subnet":"10.50.0.0/24"}]],"routes":[{"dst":"192.0.2.0/24","gw":"10.99.0.1"}]}'
	cni netd-macvlan ADD c1 <<<"$(conf "" "$ipam")"
	assert_cni_error 100 "route"
	[ "$(host_state)" = "$before" ]
	[ "$(ns_exec c1 ip -o link show | wc -l)" -eq 1 ]
	# passthru takes the whole master: a second one is refused by the kernel, cleanly
	ns_add c2 c3
	cni netd-macvlan ADD c2 <<<"$(conf '"mode":"passthru"')"; assert_success
	before=$(host_state)
	cni netd-macvlan ADD c3 <<<"$(conf '"mode":"passthru"')"
	assert_cni_error 100 "macvlan"
	[ "$(host_state)" = "$before" ]
	[ "$(ns_exec c3 ip -o link show | wc -l)" -eq 1 ]
}

@test "bad input: each a well-formed error with the right code, nothing changed" {
	ns_add c1
	bad_add netd-macvlan 7 "master interface 'nope0' does not exist on the host" "$(conf | sed 's/"m0"/"nope0"/')"
	bad_add netd-macvlan 7 "not a valid interface name" "$(conf | sed 's/"m0"/"a\/b"/')"
	bad_add netd-macvlan 7 "invalid macvlan mode 'bridged'" "$(conf '"mode":"bridged"')"
	bad_add netd-macvlan 7 "MAC address 'zz:zz' does not parse" "$(conf)" "MAC=zz:zz"
	bad_add netd-macvlan 7 "multicast" "$(conf)" "MAC=01:00:5e:00:00:01"
	bad_add netd-macvlan 7 "mtu 9000 is larger than master m0's MTU 1500" "$(conf '"mtu":9000')"
	bad_add netd-macvlan 7 "field 'mtu'" "$(conf '"mtu":"big"')"
	bad_add netd-macvlan 7 "field 'mode'" "$(conf '"mode":3')"
	bad_add netd-macvlan 7 "unknown IPAM type 'nosuch'" "$(conf "" '{"type":"nosuch"}')"
	bad_add netd-macvlan 7 "loopback" "$(conf | sed 's/"m0"/"lo"/')"
	ns_exec c1 ip link add eth0 type veth peer name eth1
	bad_add netd-macvlan 102 "interface eth0 already exists in netns /run/netns/c1" "$(conf)"
	ns_exec c1 ip link del eth0
	cni netd-macvlan ADD nope <<<"$(conf)"
	assert_cni_error 3 "does not exist"
	[ ! -e /var/lib/cni/networks/mv ] || [ -z "$(ls /var/lib/cni/networks/mv | grep -v -e lock -e last_reserved)" ]
}

@test "GC releases what no valid attachment holds; STATUS answers and sees a missing master" {
	ns_add c1 c2
	c=$(conf | sed 's/"1.0.0"/"1.1.0"/')
	cni netd-macvlan ADD c1 <<<"$c"; assert_success
	[ "$(json_field '.interfaces[0].mtu')" = 1500 ]
	cni netd-macvlan ADD c2 <<<"$c"; assert_success
	cni netd-macvlan GC "" <<<"$(jq -c '. + {"cni.dev/valid-attachments":[{"containerID":"c2","ifname":"eth0"}]}' <<<"$c")"
	assert_success
	[ ! -e /var/lib/cni/networks/mv/10.50.0.10 ]
	[ -e /var/lib/cni/networks/mv/10.50.0.11 ]
	cni netd-macvlan STATUS "" <<<"$c"; assert_success
	cni netd-macvlan STATUS "" <<<"$(sed 's/"m0"/"gone0"/' <<<"$c")"
	assert_cni_error 50 "gone0"
}

@test "interop: netd-macvlan with the reference host-local, and versions" {
	[ -x "$REF_CNI_DIR/host-local" ] || skip "reference host-local not installed in $REF_CNI_DIR"
	ns_add c1 c2
	ipam='{"type":"host-local","ranges":[[{"subnet":"10.50.0.0/24","rangeStart":"10.50.0.20"}]]}'
	cni netd-macvlan ADD c1 <<<"$(conf "" "$ipam")"; assert_success
	[ "$(json_field '.ips[0].address')" = 10.50.0.20/24 ]
	cni netd-macvlan ADD c2 <<<"$(conf "" "$ipam" | sed 's/"1.0.0"/"0.4.0"/')"; assert_success
	[ "$(json_field .cniVersion)" = 0.4.0 ]
	[ "$(json_field '.ips[0].version')" = 4 ]
	ns_exec c1 ping -c1 -W2 10.50.0.21
	cni netd-macvlan DEL c1 <<<"$(conf "" "$ipam")"; assert_success
	[ ! -e /var/lib/cni/networks/mv/10.50.0.20 ]
	[ -e /var/lib/cni/networks/mv/10.50.0.21 ]
}

# Every container's eth0 address, one per line.
all_addrs() {
	local n
	for n in $(ip netns list | awk '{print $1}'); do
		ns_exec "$n" ip -o -4 addr show dev eth0 2>/dev/null | awk '{print $4}'
	done
}

retry_into_new_netns() { # ipam-json first-address second-address
	ns_add c1 c1b c2
	cni netd-macvlan ADD c1 <<<"$(conf "" "$1")"; assert_success
	[ "$(json_field '.ips[0].address')" = "$2/24" ]
	lease=$(cat "/var/lib/cni/networks/mv/$2")
	cni netd-macvlan ADD c1 eth0 /run/netns/c1b <<<"$(conf "" "$1")"
	assert_cni_error 102 "container c1 is already attached to network mv as eth0"
	[ "$(cat "/var/lib/cni/networks/mv/$2")" = "$lease" ]
	[ "$(ns_exec c1b ip -o link show | wc -l)" -eq 1 ]
	ns_exec c1 ping -c1 -W2 10.50.0.1
	cni netd-macvlan ADD c2 <<<"$(conf "" "$1")"; assert_success
	[ "$(json_field '.ips[0].address')" = "$3/24" ]
	[ -z "$(all_addrs | sort | uniq -d)" ]
	[ "$(all_addrs | wc -l)" -eq 2 ]
}

@test "a repeated ADD into a new netns is refused with 102 and releases nothing (netd-ipam)" {
	retry_into_new_netns "$IPAM" 10.50.0.10 10.50.0.11
}

@test "a repeated ADD into a new netns is refused with 102 before IPAM is asked (host-local)" {
	[ -x "$REF_CNI_DIR/host-local" ] || skip "reference host-local not installed in $REF_CNI_DIR"
	retry_into_new_netns '{"type":"host-local","ranges":[[{"subnet":"10.50.0.0/24","rangeStart":"10.50.0.20"}]]}' 10.50.0.20 10.50.0.21
}

@test "DEL succeeds on a MAC that only ADD refuses" {
	ns_add c1
	c=$(conf '"capabilities":{"mac":true},"runtimeConfig":{"mac":"03:00:00:00:00:01"}')
	cni netd-macvlan ADD c1 <<<"$c"
	assert_cni_error 7 "multicast"
	cni netd-macvlan DEL c1 <<<"$c"; assert_success
	CNI_ARGS="MAC=03:00:00:00:00:01" cni netd-macvlan DEL c1 <<<"$(conf)"; assert_success
	cni netd-macvlan DEL c1 <<<"$(conf '"mode":"bridged","mtu":"big"')"; assert_success
}

@test "CHECK names an MTU changed in the container (the MTU the 1.1.0 result reported)" {
	ns_add c1
	c=$(conf | sed 's/"1.0.0"/"1.1.0"/')
	cni netd-macvlan ADD c1 <<<"$c"; assert_success
	prev=$output
	cni netd-macvlan CHECK c1 <<<"$(withprev "$c" "$prev")"; assert_success
	ns_exec c1 ip link set eth0 mtu 1400
	cni netd-macvlan CHECK c1 <<<"$(withprev "$c" "$prev")"
	assert_cni_error 103 "interface eth0 has MTU 1400, not 1500"
}

@test "dns from the network config is in the result" {
	ns_add c1
	cni netd-macvlan ADD c1 <<<"$(conf '"dns":{"nameservers":["192.0.2.53"],"search":["example.org"]}')"
	assert_success
	[ "$(json_field '.dns.nameservers[0]')" = 192.0.2.53 ]
	[ "$(json_field '.dns.search[0]')" = example.org ]
}

@test "ADD, DEL and GC wait for the network's lock" {
	ns_add c1
	c=$(conf | sed 's/"1.0.0"/"1.1.0"/')
	waits_for_lock netd-macvlan mv ADD c1 "$c"
	waits_for_lock netd-macvlan mv DEL c1 "$c"
	waits_for_lock netd-macvlan mv GC c1 "$(gc_none "$c")"
}
