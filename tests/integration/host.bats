#!/usr/bin/env bats
# netd-host, black-box. The "host" is a private netns; its device is one end
# (h0) of a veth pair whose other end (h1, 10.70.0.1) sits in netns "peer".
#
# When a netns is deleted the kernel destroys virtual devices in it (a veth
# with its peer) and hands physical ones back to the initial netns, under
# their container name or as "devN". This kernel gives us veths only, so the
# tests make that hand-back themselves (ip link set ... netns host) before
# deleting the netns: the state DEL finds is the same.

load ../harness/lib
bats_require_minimum_version 1.5.0

IPAM='{"type":"netd-ipam","ranges":[[{"subnet":"10.70.0.0/24","rangeStart":"10.70.0.10"}]]}'

# conf [extra top-level JSON members] [ipam JSON, "" for none]
conf() {
	local extra=${1:-'"device":"h0"'} ipam=${2-$IPAM}
	echo "{\"cniVersion\":\"1.0.0\",\"name\":\"hd\",\"type\":\"netd-host\"${extra:+,$extra}${ipam:+,\"ipam\":$ipam}}"
}
# everything about a device the user can see, without its ifindex
dev_state() { ip -o link show "$1" | sed 's/^[0-9]*: //; s/@if[0-9]*//; s/link-netns[^ ]* [^ ]*//'; }

setup() {
	ns_add peer
	ip link add h0 type veth peer name h1 netns peer
	ip link set h0 addrgenmode none
	ip link set h0 mtu 1400 address 02:aa:00:00:00:01 alias "uplink to peer" up
	ns_exec peer ip link set h1 up
	ns_exec peer ip addr add 10.70.0.1/24 dev h1
	ip netns attach host $$
}

teardown() { cleanup_host /var/lib/cni/networks /var/lib/netd/host; }

@test "ADD moves h0 in as eth0 with its address; DEL gives it back with name, MAC, MTU, alias and state" {
	ns_add c1
	before=$(dev_state h0)
	cni netd-host ADD c1 <<<"$(conf)"
	assert_success
	[ "$(json_field '.interfaces[0].name')" = eth0 ]
	[ "$(json_field '.interfaces[0].mac')" = 02:aa:00:00:00:01 ]
	[ "$(json_field '.interfaces[0].sandbox')" = /run/netns/c1 ]
	[ "$(json_field '.ips[0].address')" = 10.70.0.10/24 ]
	! ip link show h0 2>/dev/null || false
	ns_exec c1 ip -o link show eth0 | grep -q "02:aa:00:00:00:01"
	ns_exec c1 ip -o link show eth0 | grep -q "mtu 1400"
	ns_exec c1 ip -o addr show dev eth0 | grep -q "inet 10.70.0.10/24"
	ns_exec c1 ping -c1 -W2 10.70.0.1
	cni netd-host DEL c1 <<<"$(conf)"
	assert_success
	[ -z "$output" ]
	[ "$(dev_state h0)" = "$before" ]
	! ns_exec c1 ip link show eth0 2>/dev/null || false
	[ ! -e /var/lib/cni/networks/hd/10.70.0.10 ]
	[ -z "$(ls -A /var/lib/netd/host)" ]
	cni netd-host DEL c1 <<<"$(conf)"; assert_success
	cni netd-host DEL nosuch <<<"$(conf)"; assert_success
	[ "$(dev_state h0)" = "$before" ]
}

@test "DEL restores it even after the container renamed it, changed its MAC, MTU and alias and took it down" {
	ns_add c1
	before=$(dev_state h0)
	cni netd-host ADD c1 <<<"$(conf)"; assert_success
	ns_exec c1 ip link set eth0 down
	ns_exec c1 ip link set eth0 name foo0 address 02:bb:00:00:00:09 mtu 1300 alias "mine now"
	cni netd-host DEL c1 <<<"$(conf)"; assert_success
	[ "$(dev_state h0)" = "$before" ]
	! ns_exec c1 ip link show foo0 2>/dev/null || false
}

@test "DEL after the netns was deleted first: the device handed back under the container's name or devN" {
	ns_add c1 c2
	before=$(dev_state h0)
	cni netd-host ADD c1 <<<"$(conf)"; assert_success
	ns_exec c1 ip link set eth0 netns host
	ip netns del c1
	ip link show eth0
	cni netd-host DEL c1 <<<"$(conf)"; assert_success
	[ "$(dev_state h0)" = "$before" ]
	! ip link show eth0 2>/dev/null || false
	# name taken on the host: the kernel calls it devN; DEL without CNI_NETNS
	cni netd-host ADD c2 <<<"$(conf)"; assert_success
	ns_exec c2 ip link set eth0 netns host name dev7
	ip netns del c2
	cni netd-host DEL c2 eth0 "" <<<"$(conf)"; assert_success
	[ "$(dev_state h0)" = "$before" ]
	[ ! -e /var/lib/cni/networks/hd/10.70.0.10 ]
	[ -z "$(ls -A /var/lib/netd/host)" ]
}

@test "DEL finds it by its alias alone when the state file is lost" {
	ns_add c1
	before=$(dev_state h0)
	cni netd-host ADD c1 <<<"$(conf)"; assert_success
	rm -f /var/lib/netd/host/*
	cni netd-host DEL c1 <<<"$(conf)"; assert_success
	[ "$(dev_state h0)" = "$before" ]
}

@test "a veth dies with its netns: DEL succeeds and forgets it" {
	ns_add c1
	cni netd-host ADD c1 <<<"$(conf)"; assert_success
	ip netns del c1
	cni netd-host DEL c1 <<<"$(conf)"; assert_success
	grep -q "neither in the container nor on the host" <<<"$stderr"
	[ -z "$(ls -A /var/lib/netd/host)" ]
	[ ! -e /var/lib/cni/networks/hd/10.70.0.10 ]
}

@test "hwaddr, kernelpath and device select the same device; disagreeing selectors are refused" {
	ns_add c1 c2 c3
	ip link add g0 type veth peer name g1
	cni netd-host ADD c1 <<<"$(conf '"hwaddr":"02:AA:00:00:00:01"' "")"; assert_success
	ns_exec c1 ip link show eth0 | grep -q 02:aa:00:00:00:01
	cni netd-host DEL c1 <<<"$(conf '"hwaddr":"02:aa:00:00:00:01"' "")"; assert_success
	cni netd-host ADD c2 <<<"$(conf '"kernelpath":"/sys/devices/virtual/net/h0"' "")"; assert_success
	ns_exec c2 ip link show eth0 | grep -q 02:aa:00:00:00:01
	cni netd-host DEL c2 <<<"$(conf '"kernelpath":"/sys/devices/virtual/net/h0"' "")"; assert_success
	ip link show h0
	# (h0's link-local address comes back on its own after the move: not ours)
	before=$(host_state | grep -v -e ff00:: -e fe80::)
	cni netd-host ADD c3 <<<"$(conf '"device":"g0","hwaddr":"02:aa:00:00:00:01"' "")"
	assert_cni_error 7 "name different interfaces (g0 and h0)"
	[ "$(host_state | grep -v -e ff00:: -e fe80::)" = "$before" ]
	cni netd-host ADD c3 <<<"$(conf '"device":"h0","kernelpath":"/sys/devices/virtual/net/h0"' "")"; assert_success
}

@test "a device in use is refused: in another container, or handed back without a DEL" {
	ns_add c1 c2
	cni netd-host ADD c1 <<<"$(conf)"; assert_success
	before=$(host_state)
	cni netd-host ADD c2 <<<"$(conf)"
	assert_cni_error 102 "device h0 is not on the host"
	[ "$(host_state)" = "$before" ]
	ns_exec c1 ip link set eth0 netns host name h0
	ip netns del c1
	before=$(host_state)
	cni netd-host ADD c2 <<<"$(conf)"
	assert_cni_error 102 "device h0 is still held by container c1 as eth0"
	[ "$(host_state)" = "$before" ]
	cni netd-host DEL c1 <<<"$(conf)"; assert_success
	cni netd-host ADD c2 <<<"$(conf)"; assert_success
	ns_exec c2 ping -c1 -W2 10.70.0.1
}

@test "CHECK passes after ADD and names the drift" {
	ns_add c1
	cni netd-host ADD c1 <<<"$(conf)"; assert_success
	prev=$output
	cni netd-host CHECK c1 <<<"$(withprev "$(conf)" "$prev")"
	assert_success
	[ -z "$output" ]
	ns_exec c1 ip addr flush dev eth0
	cni netd-host CHECK c1 <<<"$(withprev "$(conf)" "$prev")"
	assert_cni_error 103 "address 10.70.0.10/24 is missing"
	ns_exec c1 ip link set eth0 down
	cni netd-host CHECK c1 <<<"$(withprev "$(conf)" "$prev")"
	assert_cni_error 103 "down"
	cni netd-host CHECK c1 <<<"$(withprev "$(conf '"device":"g9"')" "$prev")"
	assert_cni_error 103 "host device h0, not g9"
	ns_exec c1 ip link set eth0 name x0
	ns_exec c1 ip link add eth0 type veth peer name eth1
	cni netd-host CHECK c1 <<<"$(withprev "$(conf)" "$prev")"
	assert_cni_error 103 "not the device netd-host moved in"
	# DEL still finds it by its recorded index, and leaves the impostor
	cni netd-host DEL c1 <<<"$(conf)"; assert_success
	ip link show h0
	ns_exec c1 ip link show eth0
}

@test "a failed ADD after the move gives the device back as it was and releases the address" {
	ns_add c1
	before=$(host_state)
	dev=$(dev_state h0)
	ipam='{"type":"netd-ipam","ranges":[[{"subnet":"10.70.0.0/24"}]],"routes":[{"dst":"192.0.2.0/24","gw":"10.99.0.1"}]}'
	cni netd-host ADD c1 <<<"$(conf "" "$ipam")"
	assert_cni_error 100 "route"
	# a netns move resets the device's IPv6 state (kernel): ignore its link-local noise
	diff <(echo "$before" | grep -v -e ff00:: -e fe80::) <(host_state | grep -v -e ff00:: -e fe80::)
	[ "$(dev_state h0)" = "$dev" ]
	[ "$(ns_exec c1 ip -o link show | wc -l)" -eq 1 ]
	[ -z "$(ls -A /var/lib/netd/host 2>/dev/null)" ]
}

@test "bad input: each a well-formed error with the right code, nothing changed" {
	ns_add c1
	bad_add netd-host 7 "no device given" "$(conf '"mtu":1500')"
	bad_add netd-host 102 "device nope0 is not on the host" "$(conf '"device":"nope0"')"
	bad_add netd-host 7 "not a valid interface name" "$(conf '"device":"a/b"')"
	bad_add netd-host 7 "hwaddr 'zz:zz' does not parse" "$(conf '"hwaddr":"zz:zz"')"
	bad_add netd-host 102 "device 02:00:00:00:00:77 is not on the host" "$(conf '"hwaddr":"02:00:00:00:00:77"')"
	bad_add netd-host 7 "must be a path under /sys/" "$(conf '"kernelpath":"/etc/passwd"')"
	bad_add netd-host 102 "is not on the host" "$(conf '"kernelpath":"/sys/devices/virtual/net/nope0"')"
	bad_add netd-host 7 "loopback" "$(conf '"device":"lo"')"
	bad_add netd-host 7 "field 'device'" "$(conf '"device":5')"
	bad_add netd-host 7 "unknown IPAM type 'nosuch'" "$(conf "" '{"type":"nosuch"}')"
	ns_exec c1 ip link add eth0 type veth peer name eth1
	bad_add netd-host 102 "interface eth0 already exists in netns /run/netns/c1" "$(conf)"
	cni netd-host ADD nope <<<"$(conf)"
	assert_cni_error 3 "does not exist"
	ip link show h0
}

@test "GC gives back devices of attachments no longer valid; STATUS answers" {
	ns_add c1 c2
	ip link add g0 type veth peer name g1
	before=$(dev_state h0)
	c=$(conf | sed 's/"1.0.0"/"1.1.0"/')
	cni netd-host ADD c1 <<<"$c"; assert_success
	[ "$(json_field '.interfaces[0].mtu')" = 1400 ]
	cni netd-host ADD c2 <<<"$(sed 's/"h0"/"g0"/' <<<"$c")"; assert_success
	cni netd-host GC "" <<<"$(jq -c '. + {"cni.dev/valid-attachments":[{"containerID":"c2","ifname":"eth0"}]}' <<<"$c")"
	assert_success
	[ "$(dev_state h0)" = "$before" ]
	! ns_exec c1 ip link show eth0 2>/dev/null || false
	ns_exec c2 ip link show eth0
	[ ! -e /var/lib/cni/networks/hd/10.70.0.10 ]
	[ -e /var/lib/cni/networks/hd/10.70.0.11 ]
	cni netd-host STATUS "" <<<"$c"; assert_success
}

@test "interop: netd-host with the reference host-local, and versions" {
	[ -x "$REF_CNI_DIR/host-local" ] || skip "reference host-local not installed in $REF_CNI_DIR"
	ns_add c1
	ipam='{"type":"host-local","ranges":[[{"subnet":"10.70.0.0/24","rangeStart":"10.70.0.20"}]]}'
	cni netd-host ADD c1 <<<"$(conf "" "$ipam" | sed 's/"1.0.0"/"0.4.0"/')"; assert_success
	[ "$(json_field .cniVersion)" = 0.4.0 ]
	[ "$(json_field '.ips[0].address')" = 10.70.0.20/24 ]
	[ "$(json_field '.ips[0].version')" = 4 ]
	ns_exec c1 ping -c1 -W2 10.70.0.1
	cni netd-host DEL c1 <<<"$(conf "" "$ipam")"; assert_success
	[ ! -e /var/lib/cni/networks/hd/10.70.0.20 ]
	ip link show h0
}

@test "two ADDs racing for one device: one wins, the other gets 102 and leaves nothing" {
	for round in 1 2 3 4 5; do
		ns_add a$round b$round
		c=$(conf)
		(CNI_COMMAND=ADD CNI_CONTAINERID=a$round CNI_NETNS=/run/netns/a$round CNI_IFNAME=eth0 \
			"$NETD_PLUGIN_DIR/netd-host" <<<"$c" > "$BATS_TEST_TMPDIR/a.json") &
		(CNI_COMMAND=ADD CNI_CONTAINERID=b$round CNI_NETNS=/run/netns/b$round CNI_IFNAME=eth0 \
			"$NETD_PLUGIN_DIR/netd-host" <<<"$c" > "$BATS_TEST_TMPDIR/b.json") &
		wait
		codes=$(jq -r '.code // "ok"' "$BATS_TEST_TMPDIR/a.json" "$BATS_TEST_TMPDIR/b.json" | sort | tr '\n' ' ')
		[ "$codes" = "102 ok " ] || { echo "round $round: $codes"; cat "$BATS_TEST_TMPDIR"/[ab].json; false; }
		# exactly one reservation, and the device is in the winner only
		[ "$(ls /var/lib/cni/networks/hd | grep -c '^10\.')" -eq 1 ]
		[ "$( (ns_exec a$round ip -o link show eth0; ns_exec b$round ip -o link show eth0) 2>/dev/null | wc -l)" -eq 1 ]
		winner=$(jq -r 'select(.ips) | .interfaces[0].sandbox' "$BATS_TEST_TMPDIR/a.json" "$BATS_TEST_TMPDIR/b.json" | sed 's,.*/,,')
		cni netd-host DEL "$winner" <<<"$c"; assert_success
		ip link show h0
	done
}

@test "ADD, DEL and GC wait for the network's lock" {
	ns_add c1
	c=$(conf | sed 's/"1.0.0"/"1.1.0"/')
	waits_for_lock netd-host hd ADD c1 "$c"
	waits_for_lock netd-host hd DEL c1 "$c"
	waits_for_lock netd-host hd GC c1 "$(gc_none "$c")"
	ip link show h0
}

@test "CHECK names an MTU changed in the container" {
	ns_add c1
	cni netd-host ADD c1 <<<"$(conf)"; assert_success
	prev=$output
	ns_exec c1 ip link set eth0 mtu 1300
	cni netd-host CHECK c1 <<<"$(withprev "$(conf)" "$prev")"
	assert_cni_error 103 "interface eth0 has MTU 1300, not 1400"
}

@test "dns from the network config is in the result; DEL needs no device selector" {
	ns_add c1
	cni netd-host ADD c1 <<<"$(conf '"device":"h0","dns":{"nameservers":["192.0.2.53"]}')"
	assert_success
	[ "$(json_field '.dns.nameservers[0]')" = 192.0.2.53 ]
	cni netd-host DEL c1 <<<"$(conf '"device":"a/b"')"; assert_success
	ip link show h0
}
