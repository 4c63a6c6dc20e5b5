#!/usr/bin/env bats
# netd-ipam through its binary, as a runtime (or a main plugin) calls it; and
# side by side with the reference host-local and bridge. Runs under
# tests/harness/isolate: /var/lib/cni is a private tmpfs.

load ../harness/lib.bash

IPAM=$NETD_BUILD/plugins/ipam/netd-ipam
DATA=/var/lib/cni/networks

setup() {
	[ -x "$IPAM" ] || skip "netd-ipam not built"
	NET=ipt$BATS_TEST_NUMBER
}

# ipam_conf IPAM_JSON_FIELDS [VERSION] [EXTRA_TOP_LEVEL_FIELDS]
ipam_conf() {
	printf '{"cniVersion":"%s","name":"%s","type":"netd-ipam"%s,"ipam":{"type":"netd-ipam"%s}}' \
		"${2:-1.1.0}" "$NET" "${3:+,$3}" "${1:+,$1}"
}

# ipam_run PLUGIN CMD CONTAINER IFNAME <<< config: stdout in $output, stderr in
# $ipam_stderr (kept apart so $output is exactly the one JSON object).
ipam_exec() {
	local bin=$1 cmd=$2 cid=$3 ifname=${4:-eth0}
	env CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" CNI_NETNS=/proc/self/ns/net CNI_IFNAME="$ifname" \
		CNI_PATH="$CNI_PATH" ${CNI_ARGS:+CNI_ARGS="$CNI_ARGS"} "$bin" 2>"$BATS_TEST_TMPDIR/stderr"
}
ipam_run() {
	run ipam_exec "$@"
	ipam_stderr=$(cat "$BATS_TEST_TMPDIR/stderr")
}

# reservation files of $NET (not lock, not last_reserved_ip.N), sorted
ipam_files() { ls "$DATA/$NET" 2>/dev/null | grep -v -e '^lock$' -e '^last_reserved_ip' | sort || true; }

@test "ADD returns an address with the subnet's prefix, gateway, routes; file holds id and ifname" {
	ipam_run "$IPAM" ADD ctr1 eth0 <<<"$(ipam_conf '"subnet":"10.10.0.0/24","routes":[{"dst":"0.0.0.0/0"},{"dst":"10.99.0.0/16","gw":"10.10.0.254"}]')"
	assert_success
	[ "$(json_field .cniVersion)" = 1.1.0 ]
	[ "$(json_field '.ips | length')" = 1 ]
	[ "$(json_field '.ips[0].address')" = 10.10.0.2/24 ]
	[ "$(json_field '.ips[0].gateway')" = 10.10.0.1 ]
	[ "$(json_field '.routes[0].dst')" = 0.0.0.0/0 ]
	[ "$(json_field '.routes[1].gw')" = 10.10.0.254 ]
	[ "$(cat "$DATA/$NET/10.10.0.2")" = "$(printf 'ctr1\r\neth0')" ]
	[ "$(cat "$DATA/$NET/last_reserved_ip.0")" = 10.10.0.2 ]
	[ -f "$DATA/$NET/lock" ]
}

@test "ADD speaks the config's version (0.3.1 has ips[].version)" {
	ipam_run "$IPAM" ADD ctr1 eth0 <<<"$(ipam_conf '"subnet":"10.10.0.0/24"' 0.3.1)"
	assert_success
	[ "$(json_field .cniVersion)" = 0.3.1 ]
	[ "$(json_field '.ips[0].version')" = 4 ]
}

@test "ADD again for the same container+ifname returns the same address; another ifname gets a new one" {
	local c
	c=$(ipam_conf '"subnet":"10.10.0.0/24"')
	ipam_run "$IPAM" ADD ctr1 eth0 <<<"$c"
	assert_success
	ipam_run "$IPAM" ADD ctr1 eth0 <<<"$c"
	assert_success
	[ "$(json_field '.ips[0].address')" = 10.10.0.2/24 ]
	ipam_run "$IPAM" ADD ctr1 eth1 <<<"$c"
	[ "$(json_field '.ips[0].address')" = 10.10.0.3/24 ]
	[ "$(ipam_files | wc -l)" = 2 ]
}

@test "dual stack: one address per range set, dns from resolvConf" {
	printf 'nameserver 10.0.0.53\nsearch example.com\noptions ndots:3\n' >"$BATS_TEST_TMPDIR/resolv"
	ipam_run "$IPAM" ADD ctr1 eth0 <<<"$(ipam_conf "\"ranges\":[[{\"subnet\":\"10.10.0.0/24\"}],[{\"subnet\":\"fd10::/64\",\"rangeStart\":\"fd10::100\"}]],\"resolvConf\":\"$BATS_TEST_TMPDIR/resolv\"")"
	assert_success
	[ "$(json_field '.ips[1].address')" = fd10::100/64 ]
	[ "$(json_field '.ips[1].gateway')" = fd10::1 ]
	[ "$(json_field '.dns.nameservers[0]')" = 10.0.0.53 ]
	[ "$(json_field '.dns.search[0]')" = example.com ]
	[ -f "$DATA/$NET/fd10::100" ]
	[ "$(cat "$DATA/$NET/last_reserved_ip.1")" = fd10::100 ]
	# an unreadable resolvConf fails the ADD before anything is reserved
	ipam_run "$IPAM" ADD ctr2 eth0 <<<"$(ipam_conf "\"subnet\":\"10.10.0.0/24\",\"resolvConf\":\"$BATS_TEST_TMPDIR/nope\"")"
	assert_cni_error 5 "ipam.resolvConf: cannot read $BATS_TEST_TMPDIR/nope"
	[ "$(ipam_files | tr '\n' ' ')" = "10.10.0.2 fd10::100 " ]
}

@test "CHECK verifies prevResult's addresses; DEL releases and is idempotent" {
	local c prev
	c=$(ipam_conf '"subnet":"10.10.0.0/24"')
	ipam_run "$IPAM" ADD ctr1 eth0 <<<"$c"
	assert_success
	prev=$output
	ipam_run "$IPAM" CHECK ctr1 eth0 <<<"$(jq -c --argjson p "$prev" '.prevResult = $p' <<<"$c")"
	assert_success
	[ -z "$output" ]
	# another container claiming that address is drift
	ipam_run "$IPAM" CHECK ctr2 eth0 <<<"$(jq -c --argjson p "$prev" '.prevResult = $p' <<<"$c")"
	assert_cni_error 103 "no address is reserved for container ctr2"
	ipam_run "$IPAM" ADD ctr2 eth0 <<<"$c"
	ipam_run "$IPAM" CHECK ctr2 eth0 <<<"$(jq -c --argjson p "$prev" '.prevResult = $p' <<<"$c")"
	assert_cni_error 103 "10.10.0.2 is reserved for another container"
	ipam_run "$IPAM" DEL ctr1 eth0 <<<"$c"
	assert_success
	[ -z "$output" ]
	[ "$(ipam_files)" = 10.10.0.3 ]
	ipam_run "$IPAM" DEL ctr1 eth0 <<<"$c"
	assert_success
	ipam_run "$IPAM" CHECK ctr1 eth0 <<<"$(jq -c --argjson p "$prev" '.prevResult = $p' <<<"$c")"
	assert_cni_error 103
	# DEL of a network that never existed creates nothing
	NET=never ipam_run "$IPAM" DEL ctr1 eth0 <<<"$(NET=never ipam_conf '"subnet":"10.11.0.0/24"')"
	assert_success
	[ ! -e "$DATA/never" ]
}

@test "bad configs: one error object, code 7, message naming the field" {
	local cases=(
		'|ipam.ranges: missing'
		'"ranges":[]|ipam.ranges: missing'
		'"subnet":"nonsense"|ipam.subnet: '"'"'nonsense'"'"' is not a CIDR subnet'
		'"subnet":"10.1.0.5/24"|ipam.subnet: 10.1.0.5/24 has host bits set'
		'"subnet":"10.1.0.0/24","rangeStart":"10.2.0.1"|ipam.rangeStart: 10.2.0.1 is outside subnet 10.1.0.0/24'
		'"subnet":"10.1.0.0/24","rangeEnd":"10.1.1.9"|ipam.rangeEnd: 10.1.1.9 is outside subnet'
		'"ranges":[[{"subnet":"10.1.0.0/24"},{"subnet":"10.1.0.0/25"}]]|ipam.ranges[0]: ranges 10.1.0.0/24 and 10.1.0.0/25 overlap'
		'"ranges":[[{"subnet":"10.1.0.0/24"}],[{"subnet":"10.1.0.0/16"}]]|overlaps range set 1'
		'"ranges":[[{"rangeStart":"10.1.0.3"}]]|ipam.ranges[0][0].subnet: missing'
		'"subnet":"10.1.0.0/31"|too small'
		'"subnet":"10.1.0.0/24","routes":[{"dst":"x"}]|ipam.routes[0].dst'
		'"subnet":"10.1.0.0/24","exclude":["nope"]|ipam.exclude[0]'
	)
	local cs conf needle
	for cs in "${cases[@]}"; do
		conf=${cs%%|*} needle=${cs#*|}
		ipam_run "$IPAM" ADD ctr1 eth0 <<<"$(ipam_conf "$conf")"
		echo "case: $conf"
		assert_cni_error 7 "$needle"
		[ "$(json_field .cniVersion)" = 1.1.0 ]
	done
	ipam_run "$IPAM" ADD ctr1 eth0 <<<'{"cniVersion":"1.1.0","name":"x","type":"netd-ipam"}'
	assert_cni_error 7 "ipam: missing"
	[ ! -e "$DATA/$NET" ]
}

@test "a full range set is code 101; nothing is left behind by the failed ADD" {
	local c
	c=$(ipam_conf '"ranges":[[{"subnet":"10.10.0.0/24"}],[{"subnet":"10.20.0.0/30"}]]')
	ipam_run "$IPAM" ADD ctr1 eth0 <<<"$c"
	assert_success
	ipam_run "$IPAM" ADD ctr2 eth0 <<<"$c"
	assert_cni_error 101 "no IP addresses available in range set 10.20.0.0/30"
	[ "$(ipam_files | tr '\n' ' ')" = "10.10.0.2 10.20.0.2 " ]
}

@test "requested IP: CNI_ARGS IP=, runtimeConfig ips, args.cni.ips; taken and outside are errors" {
	CNI_ARGS="IgnoreUnknown=1;IP=10.10.0.50" ipam_run "$IPAM" ADD a eth0 <<<"$(ipam_conf '"subnet":"10.10.0.0/24"')"
	assert_success
	[ "$(json_field '.ips[0].address')" = 10.10.0.50/24 ]
	ipam_run "$IPAM" ADD b eth0 <<<"$(ipam_conf '"subnet":"10.10.0.0/24"' 1.1.0 '"runtimeConfig":{"ips":["10.10.0.51/24"]}')"
	[ "$(json_field '.ips[0].address')" = 10.10.0.51/24 ]
	ipam_run "$IPAM" ADD c eth0 <<<"$(ipam_conf '"subnet":"10.10.0.0/24"' 1.1.0 '"args":{"cni":{"ips":["10.10.0.52"]}}')"
	[ "$(json_field '.ips[0].address')" = 10.10.0.52/24 ]
	CNI_ARGS="IP=10.10.0.60,fd10::60" ipam_run "$IPAM" ADD d eth0 <<<"$(ipam_conf '"ranges":[[{"subnet":"10.10.0.0/24"}],[{"subnet":"fd10::/64"}]]')"
	assert_success
	[ "$(json_field '[.ips[].address] | join(" ")')" = "10.10.0.60/24 fd10::60/64" ]
	CNI_ARGS="IP=10.10.0.50" ipam_run "$IPAM" ADD e eth0 <<<"$(ipam_conf '"subnet":"10.10.0.0/24"')"
	assert_cni_error 102 "requested IP 10.10.0.50 is already in use by container a ifname eth0"
	CNI_ARGS="IP=10.77.0.1" ipam_run "$IPAM" ADD e eth0 <<<"$(ipam_conf '"subnet":"10.10.0.0/24"')"
	assert_cni_error 7 "requested IP 10.77.0.1 is outside every range"
	CNI_ARGS="IP=10.10.0.1" ipam_run "$IPAM" ADD e eth0 <<<"$(ipam_conf '"subnet":"10.10.0.0/24"')"
	assert_cni_error 7 "is the gateway"
	CNI_ARGS="IP=banana" ipam_run "$IPAM" ADD e eth0 <<<"$(ipam_conf '"subnet":"10.10.0.0/24"')"
	assert_cni_error 7 "'banana' is not an IP address"
	[ ! -e "$DATA/$NET/10.10.0.1" ]
}

@test "exclude: listed IPs and CIDRs are never handed out" {
	local c i
	c=$(ipam_conf '"subnet":"10.10.0.0/28","exclude":["10.10.0.2","10.10.0.4/30","10.10.0.12/30"]')
	for i in 1 2 3 4 5; do
		ipam_run "$IPAM" ADD c$i eth0 <<<"$c"
		assert_success
	done
	[ "$(ipam_files | tr '\n' ' ')" = "10.10.0.10 10.10.0.11 10.10.0.3 10.10.0.8 10.10.0.9 " ]
	ipam_run "$IPAM" ADD c6 eth0 <<<"$c"
	assert_cni_error 101
}

@test "20 parallel ADDs get 20 distinct addresses; 20 parallel DELs leave only lock and last_reserved_ip" {
	local c i d=$BATS_TEST_TMPDIR
	c=$(ipam_conf '"subnet":"10.30.0.0/24"')
	for i in $(seq 1 20); do
		env CNI_COMMAND=ADD CNI_CONTAINERID=par$i CNI_NETNS=/proc/self/ns/net CNI_IFNAME=eth0 \
			"$IPAM" <<<"$c" >"$d/out$i" 2>"$d/err$i" &
	done
	wait
	for i in $(seq 1 20); do
		jq -er '.ips[0].address' "$d/out$i" || { cat "$d/out$i" "$d/err$i"; return 1; }
	done | sort -u >"$d/addrs"
	[ "$(wc -l <"$d/addrs")" = 20 ]
	[ "$(ipam_files | wc -l)" = 20 ]
	for i in $(seq 1 20); do
		[ "$(cat "$DATA/$NET/$(jq -r '.ips[0].address' "$d/out$i" | cut -d/ -f1)")" = "$(printf 'par%s\r\neth0' $i)" ]
	done
	for i in $(seq 1 20); do
		env CNI_COMMAND=DEL CNI_CONTAINERID=par$i CNI_NETNS= CNI_IFNAME=eth0 "$IPAM" <<<"$c" >"$d/del$i" 2>&1 &
	done
	wait
	cat "$d"/del*
	[ -z "$(cat "$d"/del*)" ]
	[ "$(ls "$DATA/$NET" | sort | tr '\n' ' ')" = "last_reserved_ip.0 lock " ]
	[ -z "$(ls "$DATA/$NET/.netd-index")" ]
}

@test "GC releases every reservation not in cni.dev/valid-attachments; empty list releases all" {
	local c
	c=$(ipam_conf '"subnet":"10.10.0.0/24"')
	ipam_run "$IPAM" ADD keep eth0 <<<"$c"
	ipam_run "$IPAM" ADD keep eth1 <<<"$c"
	ipam_run "$IPAM" ADD gone eth0 <<<"$c"
	printf 'legacy' >"$DATA/$NET/10.10.0.100"
	printf 'legacy2' >"$DATA/$NET/10.10.0.101"
	ipam_run "$IPAM" GC "" "" <<<"$(ipam_conf '"subnet":"10.10.0.0/24"' 1.1.0 \
		'"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"},{"containerID":"legacy","ifname":"eth3"}]')"
	assert_success
	[ "$(ipam_files | tr '\n' ' ')" = "10.10.0.100 10.10.0.2 " ]
	ipam_run "$IPAM" GC "" "" <<<"$c"
	assert_cni_error 7 "cni.dev/valid-attachments is missing"
	ipam_run "$IPAM" GC "" "" <<<"$(ipam_conf '"subnet":"10.10.0.0/24"' 1.1.0 '"cni.dev/valid-attachments":[]')"
	assert_success
	[ -z "$(ipam_files)" ]
	[ -f "$DATA/$NET/lock" ] && [ -f "$DATA/$NET/last_reserved_ip.0" ]
}

@test "STATUS: ready while addresses are free, code 50 when full or the data dir is unusable" {
	local c
	c=$(ipam_conf '"subnet":"10.10.0.0/30"')
	ipam_run "$IPAM" STATUS "" "" <<<"$c"
	assert_success
	ipam_run "$IPAM" ADD a eth0 <<<"$c"
	ipam_run "$IPAM" STATUS "" "" <<<"$c"
	assert_cni_error 50 "no IP addresses available in range set 10.10.0.0/30"
	touch "$BATS_TEST_TMPDIR/file"
	ipam_run "$IPAM" STATUS "" "" <<<"$(ipam_conf "\"subnet\":\"10.10.0.0/24\",\"dataDir\":\"$BATS_TEST_TMPDIR/file/x\"")"
	assert_cni_error 50 "is not writable"
}

@test "interop: netd-ipam and host-local share a data dir and see each other's reservations" {
	[ -x "$REF_CNI_DIR/host-local" ] || skip "no reference host-local"
	local c i
	c=$(ipam_conf '"subnet":"10.40.0.0/24"' 1.0.0)
	for i in 1 2 3 4; do
		if [ $((i % 2)) = 1 ]; then bin=$IPAM; else bin=$REF_CNI_DIR/host-local; fi
		ipam_run "$bin" ADD c$i eth0 <<<"$c"
		assert_success
		[ "$(json_field '.ips[0].address')" = "10.40.0.$((i + 1))/24" ]
	done
	# each releases what the other reserved
	ipam_run "$REF_CNI_DIR/host-local" DEL c1 eth0 <<<"$c"
	assert_success
	ipam_run "$IPAM" DEL c2 eth0 <<<"$c"
	assert_success
	[ "$(ipam_files | tr '\n' ' ')" = "10.40.0.4 10.40.0.5 " ]
	# host-local's CHECK finds ours, ours finds host-local's
	ipam_run "$REF_CNI_DIR/host-local" CHECK c3 eth0 <<<"$c"
	assert_success
	ipam_run "$IPAM" CHECK c4 eth0 <<<"$c"
	assert_success
	# a requested IP held by host-local is refused by us, and the reverse
	CNI_ARGS="IP=10.40.0.5" ipam_run "$IPAM" ADD c9 eth0 <<<"$c"
	assert_cni_error 102 "container c4"
	ipam_run "$IPAM" ADD c5 eth0 <<<"$(ipam_conf '"subnet":"10.40.0.0/24"' 1.0.0 '"args":{"cni":{"ips":["10.40.0.77"]}}')"
	assert_success
	CNI_ARGS="IP=10.40.0.77" ipam_run "$REF_CNI_DIR/host-local" ADD c10 eth0 <<<"$c"
	[ "$status" -ne 0 ]
	# round robin continues across both: last was .77 (ours), host-local goes on at .78
	ipam_run "$REF_CNI_DIR/host-local" ADD c6 eth0 <<<"$c"
	[ "$(json_field '.ips[0].address')" = 10.40.0.78/24 ]
	ipam_run "$IPAM" ADD c7 eth0 <<<"$c"
	[ "$(json_field '.ips[0].address')" = 10.40.0.79/24 ]
}

@test "interop: the reference bridge delegating to netd-ipam builds a working container netns" {
	[ -x "$REF_CNI_DIR/bridge" ] || skip "no reference bridge plugin"
	local c
	c=$(printf '{"cniVersion":"1.0.0","name":"%s","type":"bridge","bridge":"ipambr0","isGateway":true,"ipMasq":false,
		"ipam":{"type":"netd-ipam","subnet":"10.50.0.0/24","routes":[{"dst":"0.0.0.0/0"}]}}' "$NET")
	ip netns add ipamc1
	run env CNI_COMMAND=ADD CNI_CONTAINERID=brc1 CNI_NETNS=/run/netns/ipamc1 CNI_IFNAME=eth0 \
		CNI_PATH="$NETD_PLUGIN_DIR:$REF_CNI_DIR" "$REF_CNI_DIR/bridge" <<<"$c"
	echo "$output"
	assert_success
	[ "$(json_field '.ips[0].address')" = 10.50.0.2/24 ]
	ip netns exec ipamc1 ip -o -4 addr show dev eth0 | grep -q 'inet 10.50.0.2/24'
	ip netns exec ipamc1 ip route show default | grep -q 'via 10.50.0.1'
	ip -o -4 addr show dev ipambr0 | grep -q 'inet 10.50.0.1/24'
	ip netns exec ipamc1 ping -c1 -W2 10.50.0.1
	[ "$(cat "$DATA/$NET/10.50.0.2")" = "$(printf 'brc1\r\neth0')" ]
	run env CNI_COMMAND=DEL CNI_CONTAINERID=brc1 CNI_NETNS=/run/netns/ipamc1 CNI_IFNAME=eth0 \
		CNI_PATH="$NETD_PLUGIN_DIR:$REF_CNI_DIR" "$REF_CNI_DIR/bridge" <<<"$c"
	assert_success
	[ -z "$(ipam_files)" ]
	ip netns del ipamc1
}
