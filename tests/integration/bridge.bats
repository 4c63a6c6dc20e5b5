#!/usr/bin/env bats
# netd-bridge, black-box: run as a runtime would, check what the kernel has.

load ../harness/lib
load netd_lib
bats_require_minimum_version 1.5.0

# conf [extra top-level JSON members] [ipam JSON]
conf() {
	local extra=${1:-} ipam=${2:-'{"type":"netd-ipam","ranges":[[{"subnet":"10.88.0.0/24"}]]}'}
	echo "{\"cniVersion\":\"1.0.0\",\"name\":\"net1\",\"type\":\"netd-bridge\",\"bridge\":\"br0\",\"isGateway\":true,\"isDefaultGateway\":true${extra:+,$extra},\"ipam\":$ipam}"
}

teardown() {
	[ -f "$BATS_TEST_TMPDIR/n/pid" ] && kill -9 "$(cat "$BATS_TEST_TMPDIR/n/pid")" 2>/dev/null || true
	cleanup_host /var/lib/cni/networks
}

@test "ADD gives the container eth0 with an address, default route and a result" {
	ns_add c1
	cni netd-bridge ADD c1 <<<"$(conf)"
	assert_success
	[ "$(json_field .cniVersion)" = "1.0.0" ]
	addr=$(json_field '.ips[0].address')
	[ "$addr" = "10.88.0.2/24" ]
	[ "$(json_field '.ips[0].gateway')" = "10.88.0.1" ]
	idx=$(json_field '.ips[0].interface')
	[ "$(json_field ".interfaces[$idx].name")" = "eth0" ]
	[ "$(json_field ".interfaces[$idx].sandbox")" = "/run/netns/c1" ]
	mac=$(json_field ".interfaces[$idx].mac")
	ns_exec c1 ip -o addr show dev eth0 | grep -q "inet 10.88.0.2/24"
	[ "$(ns_exec c1 cat /sys/class/net/eth0/address)" = "$mac" ] || ns_exec c1 ip link show eth0 | grep -q "$mac"
	ns_exec c1 ip route show default | grep -q "via 10.88.0.1 dev eth0"
	ip -o addr show dev br0 | grep -q "inet 10.88.0.1/24"
	# host end attached to br0 and up
	host=$(json_field '.interfaces[1].name')
	ip -o link show "$host" | grep -q "master br0"
	ip -o link show "$host" | grep -q "state UP\|LOWER_UP"
}

@test "a bridge netd-bridge creates has a fixed MAC of its own: removing the lowest port's container loses no gateway ping" {
	ns_add c1 c2 c3
	declare -A veth_of
	for c in c1 c2 c3; do
		cni netd-bridge ADD $c <<<"$(conf)"; assert_success
		veth_of[$c]=$(json_field '.interfaces[1].name')
		# the result reports the bridge's MAC as it is now
		[ "$(json_field '.interfaces[0].name')" = br0 ]
		[ "$(json_field '.interfaces[0].mac')" = "$(cat /sys/class/net/br0/address)" ]
	done
	brmac=$(cat /sys/class/net/br0/address)
	[ "$(cat /sys/class/net/br0/addr_assign_type)" = 3 ]	# set, not taken from a port
	(( (0x${brmac:0:2} & 3) == 2 ))				# locally administered unicast
	# the container whose host end has the lowest MAC
	victim=$(for c in c1 c2 c3; do echo "$(cat /sys/class/net/${veth_of[$c]}/address) $c"; done | sort | head -1 | cut -d' ' -f2)
	others=$(echo c1 c2 c3 | tr ' ' '\n' | grep -vx "$victim")
	for c in $others; do ns_exec $c ping -c1 -W2 10.88.0.1; done
	for c in $others; do ns_exec $c ping -i 0.2 -c 20 -W 1 10.88.0.1 > "$BATS_TEST_TMPDIR/ping.$c" & done
	sleep 1
	cni netd-bridge DEL $victim <<<"$(conf)"; assert_success
	wait
	for c in $others; do grep -q " 0% packet loss" "$BATS_TEST_TMPDIR/ping.$c" || { cat "$BATS_TEST_TMPDIR/ping.$c"; false; }; done
	[ "$(cat /sys/class/net/br0/address)" = "$brmac" ]

	# the same MAC when the bridge is made again (a restart, a reboot)
	for c in $others; do cni netd-bridge DEL $c <<<"$(conf)"; assert_success; done
	ip link del br0
	cni netd-bridge ADD c1 <<<"$(conf)"; assert_success
	[ "$(cat /sys/class/net/br0/address)" = "$brmac" ]
	[ "$(json_field '.interfaces[0].mac')" = "$brmac" ]
}

@test "a bridge netd-bridge did not create keeps its MAC, and the result reports it" {
	ns_add c1
	ip link add br0 address 02:12:34:56:78:9a type bridge
	cni netd-bridge ADD c1 <<<"$(conf)"; assert_success
	[ "$(cat /sys/class/net/br0/address)" = 02:12:34:56:78:9a ]
	[ "$(json_field '.interfaces[0].mac')" = 02:12:34:56:78:9a ]
}

@test "two containers ping each other and the gateway" {
	ns_add c1 c2
	cni netd-bridge ADD c1 <<<"$(conf)"; assert_success
	cni netd-bridge ADD c2 <<<"$(conf)"; assert_success
	a2=$(json_field '.ips[0].address' | cut -d/ -f1)
	ns_exec c1 ping -c1 -W2 "$a2"
	ns_exec c1 ping -c1 -W2 10.88.0.1
	ns_exec c2 ping -c1 -W2 10.88.0.2
}

@test "CHECK passes after ADD and names the drift after a change" {
	ns_add c1
	cni netd-bridge ADD c1 <<<"$(conf)"; assert_success
	prev=$output
	cni netd-bridge CHECK c1 <<<"$(jq -c --argjson p "$prev" '. + {prevResult: $p}' <<<"$(conf)")"
	assert_success
	[ -z "$output" ]
	ns_exec c1 ip addr del 10.88.0.2/24 dev eth0
	cni netd-bridge CHECK c1 <<<"$(jq -c --argjson p "$prev" '. + {prevResult: $p}' <<<"$(conf)")"
	assert_cni_error 103 "address 10.88.0.2/24 is missing"
	ns_exec c1 ip link del eth0
	cni netd-bridge CHECK c1 <<<"$(jq -c --argjson p "$prev" '. + {prevResult: $p}' <<<"$(conf)")"
	assert_cni_error 103 ""
}

# netd putting the plugins' tables back (what comes back, what a DEL keeps
# away): cni_heal.bats

@test "a plugins' table an operator made differently: netd's puts-back back off, and follow at once when it goes" {
	ns_add c1
	cni netd-bridge ADD c1 <<<"$(conf '"ipMasq":true')"; assert_success
	netd_start "$BATS_TEST_TMPDIR/n"
	nft -f - <<-EOF
	delete table inet netd_cni
	table inet netd_cni { set masq4 { type ipv6_addr; }; }
	EOF
	# refused each time (masq4 is not the plugins' set): tries at 0, 1 and 3 s,
	# not one a second
	sleep 6.5
	n=$(grep -c "plugins' elements put back, the rest failed" "$BATS_TEST_TMPDIR/n/log")
	[ "$n" -ge 1 ] && [ "$n" -le 3 ] || { echo "$n tries in 6.5 s; netd's log:"; cat "$BATS_TEST_TMPDIR/n/log"; false; }
	nft list set inet netd_cni masq4 | grep -q ipv6_addr
	# the operator's table goes: c1's masquerade is back without waiting
	nft delete table inet netd_cni
	for _ in $(seq 20); do nft list set inet netd_cni masq4 2>/dev/null | grep -q 10.88.0.2 && break; sleep 0.1; done
	nft list set inet netd_cni masq4 | grep -q 10.88.0.2
}

@test "DEL removes the veth, the reservation and the masquerade, and is idempotent" {
	ns_add c1
	before=$(host_state)
	cni netd-bridge ADD c1 <<<"$(conf '"ipMasq":true')"; assert_success
	host=$(json_field '.interfaces[1].name')
	nft list table inet netd_cni | grep -q 10.88.0.2
	ls /var/lib/cni/networks/net1/10.88.0.2
	cni netd-bridge DEL c1 <<<"$(conf '"ipMasq":true')"; assert_success
	[ -z "$output" ]
	! ip link show "$host" 2>/dev/null || false
	! ns_exec c1 ip link show eth0 2>/dev/null || false
	[ ! -e /var/lib/cni/networks/net1/10.88.0.2 ]
	! nft list table inet netd_cni | grep -q 10.88.0.2 || false
	cni netd-bridge DEL c1 <<<"$(conf '"ipMasq":true')"; assert_success
	# never added
	cni netd-bridge DEL nosuch <<<"$(conf)"; assert_success
	# netns already gone
	ns_add c3
	cni netd-bridge ADD c3 <<<"$(conf)"; assert_success
	ip netns del c3
	cni netd-bridge DEL c3 <<<"$(conf)"; assert_success
	cni netd-bridge DEL c3 eth0 "" <<<"$(conf)"; assert_success
	[ ! -e /var/lib/cni/networks/net1/10.88.0.2 ]
}

@test "IPv6 and dual stack: addresses, default routes, ping" {
	ns_add c1 c2
	ipam='{"type":"netd-ipam","ranges":[[{"subnet":"10.88.0.0/24"}],[{"subnet":"fd00:88::/64"}]]}'
	cni netd-bridge ADD c1 <<<"$(conf "" "$ipam")"; assert_success
	[ "$(json_field '[.ips[].address] | length')" -eq 2 ]
	cni netd-bridge ADD c2 <<<"$(conf "" "$ipam")"; assert_success
	v6=$(json_field '.ips[] | select(.address | contains(":")) | .address' | cut -d/ -f1)
	ns_exec c1 ip -6 route show default | grep -q "via fd00:88::1"
	ip -6 -o addr show dev br0 | grep -q "fd00:88::1/64"
	ns_exec c1 ping -6 -c1 -W3 "$v6"
	ns_exec c1 ping -6 -c1 -W3 fd00:88::1
	ns_exec c1 ping -c1 -W2 10.88.0.3
}

@test "20 parallel ADDs get 20 distinct addresses; 20 parallel DELs leave nothing" {
	before=$(host_state)
	for i in $(seq 1 20); do ns_add "p$i"; done
	c=$(conf '"ipMasq":true')
	for i in $(seq 1 20); do
		(CNI_COMMAND=ADD CNI_CONTAINERID=p$i CNI_NETNS=/run/netns/p$i CNI_IFNAME=eth0 \
			"$NETD_PLUGIN_DIR/netd-bridge" <<<"$c" > "$BATS_TEST_TMPDIR/add$i.json") &
	done
	wait
	for i in $(seq 1 20); do jq -r '.ips[0].address' "$BATS_TEST_TMPDIR/add$i.json"; done | sort -u > "$BATS_TEST_TMPDIR/ips"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/ips")" -eq 20 ]
	! grep -q null "$BATS_TEST_TMPDIR/ips" || false
	[ "$(ip -o link show master br0 | wc -l)" -eq 20 ]
	for i in $(seq 1 20); do
		(CNI_COMMAND=DEL CNI_CONTAINERID=p$i CNI_NETNS=/run/netns/p$i CNI_IFNAME=eth0 \
			"$NETD_PLUGIN_DIR/netd-bridge" <<<"$c" || echo "DEL p$i failed" >> "$BATS_TEST_TMPDIR/fail") &
	done
	wait
	[ ! -e "$BATS_TEST_TMPDIR/fail" ]
	[ "$(ip -o link show master br0 | wc -l)" -eq 0 ]
	[ -z "$(ls /var/lib/cni/networks/net1 | grep -v -e lock -e last_reserved)" ]
	[ "$(nft -j list set inet netd_cni masq4 | jq '[.nftables[].set.elem // empty] | length')" -eq 0 ]
}

@test "a failed ADD leaves nothing behind (bridge name taken by a non-bridge)" {
	ns_add c1
	ip link add br0 type veth peer name br0p
	before=$(host_state)
	cni netd-bridge ADD c1 <<<"$(conf '"ipMasq":true')"
	assert_cni_error 102 "br0"
	[ "$(host_state)" = "$before" ]
	[ "$(ns_exec c1 ip -o link show | wc -l)" -eq 1 ]
}

@test "a failed ADD after the veth exists undoes veth, addresses and reservation" {
	ns_add c1
	before=$(host_state)
	# the route's gateway is unreachable from the container: fails at the last step
	ipam='{"type":"netd-ipam","ranges":[[{"subnet":"10.88.0.0/24"}]],"routes":[{"dst":"192.0.2.0/24","gw":"10.99.0.1"}]}'
	cni netd-bridge ADD c1 <<<"$(conf '"ipMasq":true' "$ipam")"
	assert_cni_error 100 "route"
	[ "$(host_state)" = "$before" ]
	[ "$(ns_exec c1 ip -o link show | wc -l)" -eq 1 ]
}

@test "masquerade: traffic leaving the subnet gets the host's address, and only with ipMasq" {
	ns_add c1 c2 out
	ip link add up0 type veth peer name up1
	ip link set up1 netns out
	ip addr add 192.0.2.1/24 dev up0; ip link set up0 up
	ns_exec out ip addr add 192.0.2.2/24 dev up1; ns_exec out ip link set up1 up
	# "out" has no route back to 10.88.0.0/24: only a masqueraded ping comes back
	cni netd-bridge ADD c1 <<<"$(conf '"ipMasq":true')"; assert_success
	cni netd-bridge ADD c2 <<<"$(conf '"ipMasq":false')"; assert_success
	ns_exec c1 ping -c1 -W2 192.0.2.2
	! ns_exec c2 ping -c1 -W1 192.0.2.2 || false
	# containers on the same subnet see each other's real address
	ns_exec c1 ping -c1 -W2 10.88.0.3
}

@test "mtu, hairpinMode and promiscMode are applied" {
	ns_add c1
	cni netd-bridge ADD c1 <<<"$(conf '"mtu":1400,"hairpinMode":true,"promiscMode":true')"
	assert_success
	host=$(json_field '.interfaces[1].name')
	ns_exec c1 ip -o link show eth0 | grep -q "mtu 1400"
	ip -o link show "$host" | grep -q "mtu 1400"
	ip -d link show "$host" | grep -q "hairpin on"
	ip -o link show br0 | grep -q PROMISC
	ns_exec c1 ping -c1 -W2 10.88.0.1
}

# This kernel may be built without CONFIG_BRIDGE_VLAN_FILTERING: then the
# option must fail clearly and leave nothing, else it must work.
@test "vlan: PVID untagged on the port and the bridge, or a clear error without kernel support" {
	ns_add c1
	if ip link add vprobe type bridge vlan_filtering 1 2>/dev/null; then
		ip link del vprobe
		cni netd-bridge ADD c1 <<<"$(conf '"vlan":42')"
		assert_success
		host=$(json_field '.interfaces[1].name')
		bridge vlan show dev "$host" | grep -q "42 PVID.*Egress Untagged"
		ip -d link show br0 | grep -q "vlan_filtering 1"
		ns_exec c1 ping -c1 -W2 10.88.0.1
	else
		before=$(host_state)
		cni netd-bridge ADD c1 <<<"$(conf '"vlan":42')"
		assert_cni_error 100 "VLAN filtering"
		[ "$(host_state)" = "$before" ]
	fi
}

@test "a MAC from CNI_ARGS is used" {
	ns_add c1
	CNI_ARGS="IgnoreUnknown=1;MAC=02:42:ac:11:00:99" ; export CNI_ARGS
	cni netd-bridge ADD c1 <<<"$(conf)"
	unset CNI_ARGS
	assert_success
	ns_exec c1 ip -o link show eth0 | grep -q "02:42:ac:11:00:99"
	[ "$(json_field '.interfaces[2].mac')" = "02:42:ac:11:00:99" ]
}

@test "prevResult is passed through and added to" {
	ns_add c1
	prev='{"cniVersion":"1.0.0","interfaces":[{"name":"x0"}],"ips":[{"address":"192.0.2.9/24"}],"dns":{"nameservers":["192.0.2.53"]}}'
	cni netd-bridge ADD c1 <<<"$(jq -c --argjson p "$prev" '. + {prevResult: $p}' <<<"$(conf)")"
	assert_success
	[ "$(json_field '.interfaces[0].name')" = x0 ]
	[ "$(json_field '.ips[0].address')" = 192.0.2.9/24 ]
	[ "$(json_field '.ips[1].address')" = 10.88.0.2/24 ]
	[ "$(json_field '.dns.nameservers[0]')" = 192.0.2.53 ]
	[ "$(json_field '.interfaces[.ips[1].interface].name')" = eth0 ]
}

@test "results come back in the config's cniVersion" {
	ns_add c1 c2
	cni netd-bridge ADD c1 <<<"$(conf | sed 's/"1.0.0"/"0.4.0"/')"; assert_success
	[ "$(json_field .cniVersion)" = 0.4.0 ]
	[ "$(json_field '.ips[0].version')" = 4 ]
	cni netd-bridge ADD c2 <<<"$(conf | sed 's/"1.0.0"/"1.1.0"/')"; assert_success
	[ "$(json_field .cniVersion)" = 1.1.0 ]
	cni netd-bridge VERSION x <<<"$(echo '{"cniVersion":"0.3.1"}')"
	assert_success
	[ "$(json_field .cniVersion)" = 0.3.1 ]
	[ "$(json_field '.supportedVersions | join(",")')" = "0.3.0,0.3.1,0.4.0,1.0.0,1.1.0" ]
}

@test "GC releases what no valid attachment holds" {
	ns_add c1 c2
	c=$(conf '"ipMasq":true' | sed 's/"1.0.0"/"1.1.0"/')
	cni netd-bridge ADD c1 <<<"$c"; assert_success
	cni netd-bridge ADD c2 <<<"$c"; assert_success
	cni netd-bridge GC "" <<<"$(jq -c '. + {"cni.dev/valid-attachments":[{"containerID":"c2","ifname":"eth0"}]}' <<<"$c")"
	assert_success
	[ ! -e /var/lib/cni/networks/net1/10.88.0.2 ]
	[ -e /var/lib/cni/networks/net1/10.88.0.3 ]
	! nft list table inet netd_cni | grep -q '10.88.0.2 ' || false
	nft list table inet netd_cni | grep -q '10.88.0.3'
	cni netd-bridge STATUS "" <<<"$c"; assert_success
}

bad_input() { # bad_input CODE NEEDLE ENV... <<< stdin
	local code=$1 needle=$2; shift 2
	local before; before=$(host_state)
	run --separate-stderr env -i PATH="$PATH" "$@" "$NETD_PLUGIN_DIR/netd-bridge"
	assert_cni_error "$code" "$needle"
	[ "$(host_state)" = "$before" ]
}

@test "bad input: each gets exit 1, one error object with the spec's code, nothing changed" {
	ns_add c1
	E="CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/c1 CNI_IFNAME=eth0 CNI_PATH=$CNI_PATH"
	good=$(conf)
	bad_input 4 "CNI_COMMAND is not set" $E <<<"$good"
	bad_input 4 "unknown CNI_COMMAND" CNI_COMMAND=FROB $E <<<"$good"
	bad_input 4 "CNI_CONTAINERID" CNI_COMMAND=ADD CNI_NETNS=/run/netns/c1 CNI_IFNAME=eth0 <<<"$good"
	bad_input 4 "CNI_NETNS" CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_IFNAME=eth0 <<<"$good"
	bad_input 4 "CNI_IFNAME" CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/c1 <<<"$good"
	bad_input 3 "does not exist" CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/nope CNI_IFNAME=eth0 CNI_PATH=$CNI_PATH <<<"$good"
	bad_input 6 "no network config" CNI_COMMAND=ADD $E </dev/null
	bad_input 6 "not valid JSON" CNI_COMMAND=ADD $E <<<'{"cniVersion": '
	bad_input 1 "incompatible CNI versions" CNI_COMMAND=ADD $E <<<"${good/1.0.0/0.2.0}"
	bad_input 7 "subnet" CNI_COMMAND=ADD $E <<<"$(conf "" '{"type":"netd-ipam","ranges":[[{"subnet":"10.88.0.0/33"}]]}')"
	bad_input 7 "unknown IPAM type 'nosuch'" CNI_COMMAND=ADD $E <<<"$(conf "" '{"type":"nosuch","subnet":"10.1.0.0/24"}')"
	bad_input 7 "no 'type'" CNI_COMMAND=ADD $E <<<"$(conf "" '{"ranges":[[{"subnet":"10.1.0.0/24"}]]}')"
	bad_input 4 "CNI_PATH" CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/c1 CNI_IFNAME=eth0 <<<"$good"
	bad_input 7 "mtu" CNI_COMMAND=ADD $E <<<"$(conf '"mtu":"big"')"
	bad_input 7 "MAC address" CNI_COMMAND=ADD CNI_ARGS="MAC=zz:zz" $E <<<"$good"
	bad_input 1 "CHECK" CNI_COMMAND=CHECK $E <<<"${good/1.0.0/0.3.1}"
	head -c 10000000 /dev/zero | tr '\0' ' ' > "$BATS_TEST_TMPDIR/big"
	bad_input 7 "larger than the limit of" CNI_COMMAND=ADD $E < "$BATS_TEST_TMPDIR/big"
	printf '{"cniVersion":"1.0.0","name":"n\xff\xfe","type":"netd-bridge"}' > "$BATS_TEST_TMPDIR/nonutf8"
	bad_input 6 "not valid JSON" CNI_COMMAND=ADD $E < "$BATS_TEST_TMPDIR/nonutf8"
}

@test "interop: netd-bridge with the reference host-local" {
	have_ref_plugins || skip "reference plugins not installed in $REF_CNI_DIR"
	ns_add c1 c2
	ipam='{"type":"host-local","ranges":[[{"subnet":"10.89.0.0/24"}]]}'
	cni netd-bridge ADD c1 <<<"$(conf "" "$ipam")"; assert_success
	[ "$(json_field '.ips[0].address')" = 10.89.0.2/24 ]
	cni netd-bridge ADD c2 <<<"$(conf "" "$ipam")"; assert_success
	ns_exec c1 ping -c1 -W2 10.89.0.3
	cni netd-bridge DEL c1 <<<"$(conf "" "$ipam")"; assert_success
	[ ! -e /var/lib/cni/networks/net1/10.89.0.2 ]
	[ -e /var/lib/cni/networks/net1/10.89.0.3 ]
}

@test "an L2-only network needs no IPAM and no CNI_PATH" {
	ns_add c1
	run --separate-stderr env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/c1 CNI_IFNAME=eth0 \
		"$NETD_PLUGIN_DIR/netd-bridge" <<<'{"cniVersion":"1.0.0","name":"l2","type":"netd-bridge","bridge":"br9"}'
	assert_success
	[ "$(json_field '.interfaces | length')" -eq 3 ]
	[ "$(jq '.ips // [] | length' <<<"$output")" -eq 0 ]
	ns_exec c1 ip -o link show eth0 | grep -q "state UP\|LOWER_UP"
	ip -o link show master br9 | grep -q veth
	run --separate-stderr env -i PATH="$PATH" CNI_COMMAND=DEL CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/c1 CNI_IFNAME=eth0 \
		"$NETD_PLUGIN_DIR/netd-bridge" <<<'{"cniVersion":"1.0.0","name":"l2","type":"netd-bridge","bridge":"br9"}'
	assert_success
	[ "$(ip -o link show master br9 | wc -l)" -eq 0 ]
}

@test "macspoofchk: a container that changes its MAC is cut off, others are not; DEL removes the guard" {
	ns_add c1 c2
	cni netd-bridge ADD c1 <<<"$(conf '"macspoofchk":true')"; assert_success
	prev=$output
	host=$(json_field '.interfaces[1].name')
	cni netd-bridge ADD c2 <<<"$(conf '"macspoofchk":true')"; assert_success
	ns_exec c1 ping -c1 -W2 10.88.0.3
	nft list table bridge netd_cni | grep -q "$host"
	jq -c --argjson p "$prev" '. + {prevResult: $p}' <<<"$(conf '"macspoofchk":true')" > "$BATS_TEST_TMPDIR/check"
	cni netd-bridge CHECK c1 < "$BATS_TEST_TMPDIR/check"; assert_success
	ns_exec c1 ip link set eth0 address 02:00:00:00:66:66
	ns_exec c1 ip neigh flush all
	! ns_exec c1 ping -c1 -W1 10.88.0.3 || false
	! ns_exec c1 ping -c1 -W1 10.88.0.1 || false
	ns_exec c2 ping -c1 -W2 10.88.0.1
	cni netd-bridge DEL c1 <<<"$(conf '"macspoofchk":true')"; assert_success
	! nft list table bridge netd_cni | grep -q "$host" || false
	# c2's guard stays
	[ "$(nft -j list set bridge netd_cni macspoof_ifaces | jq '[.nftables[].set.elem // empty | .[]] | length')" -eq 1 ]
}

# Every container's eth0 address, one per line, for "no two hold one address".
all_addrs() {
	local n
	for n in $(ip netns list | awk '{print $1}'); do
		ns_exec "$n" ip -o -4 addr show dev eth0 2>/dev/null | awk '{print $4}'
	done
}

# A runtime retries an ADD (same container id and ifname) into a new netns.
retry_into_new_netns() { # ipam-json subnet-prefix
	local ipam=$1 p=$2
	ns_add c1 c1b c2
	cni netd-bridge ADD c1 <<<"$(conf "" "$ipam")"; assert_success
	[ "$(json_field '.ips[0].address')" = "$p.2/24" ]
	lease=$(cat /var/lib/cni/networks/net1/$p.2)
	# (the new bridge's IPv6 link-local address arrives on its own, after DAD)
	before=$(host_state | grep -v -e fe80:: -e ff00::)
	cni netd-bridge ADD c1 eth0 /run/netns/c1b <<<"$(conf "" "$ipam")"
	assert_cni_error 102 "container c1 is already attached to network net1 as eth0"
	# IPAM untouched: the live container keeps its reservation and its link
	[ "$(cat /var/lib/cni/networks/net1/$p.2)" = "$lease" ]
	[ "$(host_state | grep -v -e fe80:: -e ff00::)" = "$before" ]
	[ "$(ns_exec c1b ip -o link show | wc -l)" -eq 1 ]
	ns_exec c1 ping -c1 -W2 "$p.1"
	cni netd-bridge ADD c2 <<<"$(conf "" "$ipam")"; assert_success
	[ "$(json_field '.ips[0].address')" = "$p.3/24" ]
	[ -z "$(all_addrs | sort | uniq -d)" ]
	[ "$(all_addrs | wc -l)" -eq 2 ]
}

@test "a repeated ADD into a new netns is refused with 102 before IPAM (netd-ipam): no address is shared" {
	retry_into_new_netns '{"type":"netd-ipam","ranges":[[{"subnet":"10.88.0.0/24"}]]}' 10.88.0
}

@test "a repeated ADD into a new netns is refused with 102 before IPAM (netd-ipam exec'd)" {
	NETD_IPAM_EXEC=1; export NETD_IPAM_EXEC
	retry_into_new_netns '{"type":"netd-ipam","ranges":[[{"subnet":"10.88.0.0/24"}]]}' 10.88.0
	unset NETD_IPAM_EXEC
}

@test "a repeated ADD into a new netns is refused with 102 before IPAM (host-local): no address is shared" {
	have_ref_plugins || skip "reference plugins not installed in $REF_CNI_DIR"
	retry_into_new_netns '{"type":"host-local","ranges":[[{"subnet":"10.89.0.0/24"}]]}' 10.89.0
}

@test "an ADD whose IPAM already holds the attachment's address (host end gone) is refused and releases nothing" {
	ns_add c1 c2
	cni netd-bridge ADD c1 <<<"$(conf)"; assert_success
	host=$(json_field '.interfaces[1].name')
	ip link del "$host"
	cni netd-bridge ADD c1 eth0 /run/netns/c2 <<<"$(conf)"
	assert_cni_error 102 "IPAM holds its address"
	[ "$(cat /var/lib/cni/networks/net1/10.88.0.2)" = "$(printf 'c1\r\neth0')" ]
	[ "$(ns_exec c2 ip -o link show | wc -l)" -eq 1 ]
}

# An IPAM plugin that reserves, then fails: it must get its DEL.
half_ipam() {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	cat > "$BATS_TEST_TMPDIR/bin/half-ipam" <<-'SH'
	#!/bin/sh
	case $CNI_COMMAND in
	ADD) touch "$HALF_DIR/reserved"; echo '{"cniVersion":"1.0.0","code":101,"msg":"second range set is full"}'; exit 1 ;;
	DEL) rm -f "$HALF_DIR/reserved"; echo DEL >> "$HALF_DIR/calls" ;;
	esac
	SH
	chmod +x "$BATS_TEST_TMPDIR/bin/half-ipam"
}

@test "a failed IPAM ADD is followed by IPAM DEL, so a half reservation is released" {
	ns_add c1
	half_ipam
	export HALF_DIR=$BATS_TEST_TMPDIR
	before=$(host_state)
	CNI_PATH=$CNI_PATH:$BATS_TEST_TMPDIR/bin cni netd-bridge ADD c1 <<<"$(conf "" '{"type":"half-ipam"}')"
	assert_cni_error 101 "second range set is full"
	[ ! -e "$BATS_TEST_TMPDIR/reserved" ]
	[ "$(cat "$BATS_TEST_TMPDIR/calls")" = DEL ]
	[ "$(host_state)" = "$before" ]
}

@test "DEL succeeds on a MAC that only ADD refuses (multicast in runtimeConfig, args or CNI_ARGS)" {
	ns_add c1
	c=$(conf '"capabilities":{"mac":true},"runtimeConfig":{"mac":"03:00:00:00:00:01"}')
	cni netd-bridge ADD c1 <<<"$c"
	assert_cni_error 7 "multicast"
	cni netd-bridge DEL c1 <<<"$c"
	assert_success
	c=$(conf '"args":{"cni":{"mac":"03:00:00:00:00:01"}}')
	cni netd-bridge DEL c1 <<<"$c"; assert_success
	CNI_ARGS="MAC=03:00:00:00:00:01" cni netd-bridge DEL c1 <<<"$(conf)"; assert_success
	[ -z "$(ls /var/lib/cni/networks/net1 2>/dev/null | grep -v -e lock -e last_reserved)" ]
}

@test "CHECK names MTU drift on either end, a host end that is down, a gateway gone from the bridge" {
	ns_add c1
	c=$(conf)
	cni netd-bridge ADD c1 <<<"$c"; assert_success
	prev=$output
	host=$(json_field '.interfaces[1].name')
	chk() { cni netd-bridge CHECK c1 <<<"$(jq -c --argjson p "$prev" '. + {prevResult: $p}' <<<"$c")"; }
	chk; assert_success
	ns_exec c1 ip link set eth0 mtu 1400
	chk; assert_cni_error 103 "MTU"
	ns_exec c1 ip link set eth0 mtu 1500
	chk; assert_success
	ip link set "$host" mtu 1400
	chk; assert_cni_error 103 "MTU"
	ip link set "$host" mtu 1500
	ip link set "$host" down
	chk; assert_cni_error 103 "host end $host is down"
	ip link set "$host" up
	chk; assert_success
	ip addr del 10.88.0.1/24 dev br0
	chk; assert_cni_error 103 "gateway 10.88.0.1 is missing from bridge br0"
	# with an MTU in the config, each end is held to it
	ip addr add 10.88.0.1/24 dev br0
	ns_add c2
	c=$(conf '"mtu":1400')
	cni netd-bridge ADD c2 <<<"$c"; assert_success
	prev=$output
	host=$(json_field '.interfaces[1].name')
	chk2() { cni netd-bridge CHECK c2 <<<"$(jq -c --argjson p "$prev" '. + {prevResult: $p}' <<<"$c")"; }
	chk2; assert_success
	ip link set "$host" mtu 1300
	ns_exec c2 ip link set eth0 mtu 1300
	chk2; assert_cni_error 103 "MTU 1300, not 1400"
}

@test "dns from the network config is in the result" {
	ns_add c1
	cni netd-bridge ADD c1 <<<"$(conf '"dns":{"nameservers":["192.0.2.53"],"domain":"example.org","search":["example.org"],"options":["ndots:2"]}')"
	assert_success
	[ "$(json_field '.dns.nameservers[0]')" = 192.0.2.53 ]
	[ "$(json_field '.dns.domain')" = example.org ]
	[ "$(json_field '.dns.search[0]')" = example.org ]
	[ "$(json_field '.dns.options[0]')" = ndots:2 ]
	ns_add c2
	cni netd-bridge ADD c2 <<<"$(conf '"dns":{"nameservers":"192.0.2.53"}')"
	assert_cni_error 7 "dns"
}

@test "GC waits for the bridge's lock like ADD and DEL" {
	ns_add c1
	c=$(conf | sed 's/"1.0.0"/"1.1.0"/')
	cni netd-bridge ADD c1 <<<"$c"; assert_success
	waits_for_lock netd-bridge br0 GC c1 "$(gc_none "$c")"
	[ ! -e /var/lib/cni/networks/net1/10.88.0.2 ]
}
