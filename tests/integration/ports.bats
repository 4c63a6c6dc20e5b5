#!/usr/bin/env bats
# Published ports in netd's table inet netd, with real TCP and UDP traffic:
# from the host (127.0.0.1, its addresses), from another machine, hairpin from
# containers; hostIP binding; IPv6; the target on the first network and its
# move; conflicts and bad input refused whole; 10,000 mappings on one endpoint.

load fw_lib

setup() {
	fw_setup
	ctl network create --subnet 10.71.1.0/24 a >/dev/null
	ctl network create --subnet 10.71.2.0/24 b >/dev/null
	outside
}

teardown() { fw_teardown; }

elements() { # elements MAP: one "key : value" per line
	nft -j list map inet netd "$1" | jq -r '.nftables[1].map.elem // [] | .[] |
		"\(.[0].concat | map(tostring) | join(" . ")) : \(.[1].concat | map(tostring) | join(" . "))"'
}

# elements_count MAP N: MAP holds N elements; if not, shows what it holds,
# the table and netd's log, so a failure says why
elements_count() {
	local got
	got=$(elements "$1" | wc -l)
	[ "$got" = "$2" ] && return 0
	echo "map $1 holds $got elements, wanted $2; the first of them:"
	elements "$1" | head -5
	echo "--- nft list table inet netd"
	nft list table inet netd 2>&1 | head -60
	echo "--- netd's log"
	tail -80 "$D/log"
	return 1
}

@test "TCP and UDP answer from the host (127.0.0.1, its addresses), another machine and containers; nothing else does" {
	container web a -p 8080:80 -p 5353:53/udp
	container c2 a
	container bb b
	serve web web 80 53 81
	serve host host 7001
	# from the host: 127.0.0.1 and every host address; the source seen through 127.0.0.1 is the gateway
	run ask host tcp 127.0.0.1 8080
	[ "$output" = "web 10.71.1.1" ]
	answered_by host udp 127.0.0.1 5353 web
	answered_by host tcp 198.51.100.1 8080 web
	answered_by host tcp 10.71.2.1 8080 web
	# another machine, source kept
	run ask out tcp 198.51.100.1 8080
	[ "$output" = "web 198.51.100.2" ]
	run ask out udp 198.51.100.1 5353
	[ "$output" = "web 198.51.100.2" ]
	# hairpin: itself and a neighbour through the gateway or another host address; another network too
	answered_by web tcp 10.71.1.1 8080 web
	run ask c2 tcp 198.51.100.1 8080
	[ "$output" = "web 10.71.1.1" ]	# masqueraded: else the answer would bypass the host
	answered_by bb udp 10.71.2.1 5353 web
	# unpublished: not from the host's addresses, not from outside, not the other protocol
	no_answer host tcp 127.0.0.1 8081
	no_answer out tcp 198.51.100.1 81
	no_answer out udp 198.51.100.1 8080
	no_answer out tcp 10.71.1.2 80
	# 127.0.0.1 publishing opens nothing: route_localnet only on the bridge,
	# and 127/8 arriving on any interface but lo is dropped
	[ "$(cat /proc/sys/net/ipv4/conf/nd-a/route_localnet)" = 1 ]
	[ "$(cat /proc/sys/net/ipv4/conf/all/route_localnet)" = 0 ]
	[ "$(cat /proc/sys/net/ipv4/conf/h-out/route_localnet)" = 0 ]
	[ "$(nft list chain inet netd guard | grep -c 'iif != "lo" ip [sd]addr 127.0.0.0/8 drop')" = 2 ]
}

@test "hostIP binds a mapping to that address only; 127.0.0.1 is not reachable from another machine" {
	container web a -p 198.51.100.1:8080:80 -p 127.0.0.1:9000:90 -p 10.71.2.1:8443:443/udp
	serve web web 80 90 443
	answered_by out tcp 198.51.100.1 8080 web
	answered_by host tcp 198.51.100.1 8080 web
	no_answer host tcp 127.0.0.1 8080
	no_answer host tcp 10.71.1.1 8080
	answered_by host tcp 127.0.0.1 9000 web
	no_answer out tcp 198.51.100.1 9000
	no_answer host tcp 198.51.100.1 9000
	answered_by host udp 10.71.2.1 8443 web
	no_answer host udp 198.51.100.1 8443
	# two containers on one port with different host addresses: no conflict
	container api a -p 10.71.1.1:8080:80
	serve api api 80
	answered_by host tcp 10.71.1.1 8080 api
	answered_by host tcp 198.51.100.1 8080 web
}

@test "IPv6: published on the host's IPv6 addresses, from the host and another machine; [::1] and link-local hostIPs are refused" {
	ctl network create --subnet fd00:71:6::/64 six >/dev/null
	ctl container add w6 --net six -p 8086:80 -p 5356:53/udp >/dev/null
	ip netns exec w6 ip -6 route replace default via fd00:71:6::1
	serve w6 w6 80 53
	answered_by out tcp 2001:db8:100::1 8086 w6
	answered_by out udp 2001:db8:100::1 5356 w6
	answered_by host tcp 2001:db8:100::1 8086 w6
	answered_by host tcp fd00:71:6::1 8086 w6
	no_answer out tcp fd00:71:6::2 80
	# [::1] is not translated: refused at once, so a client trying
	# localhost's ::1 first goes on to 127.0.0.1 instead of timing out
	run ask host tcp ::1 8086 2
	[[ "$output" == *"Connection refused"* ]]
	run ctl container add w7 --net six -p '[::1]:8087:80'
	[ "$status" -ne 0 ]
	[[ "$output" == *"::1 is not supported"* ]]
	! ip netns list | grep -q w7 || false
	# link-local: the kernel would not forward what arrives from a link-local
	# peer, and fe80::1 is not even this host's
	run ctl container add w7 --net six -p '[fe80::1]:8087:80'
	[ "$status" -eq 1 ]
	[[ "$output" == *"publishing on link-local fe80::1 is not supported"* ]]
	run ctl container add w7 --net six -p "[$(ip -6 -o addr show dev h-out scope link | awk '{print $4}' | cut -d/ -f1)]:8087:80"
	[ "$status" -eq 1 ]
	[[ "$output" == *"link-local"* ]]
	! ip netns list | grep -q w7 || false
	[ -z "$(nft list map inet netd ports6ip | grep 8087)" ]
}

@test "IPv6 answers right after ADD on a new bridge: no DAD on its link-local address" {
	ctl network create --subnet fd00:71:7::/64 fresh >/dev/null
	ctl container add f6 --net fresh -p 8088:80 >/dev/null
	ip netns exec f6 ip -6 route replace default via fd00:71:7::1
	# without DAD nothing on the bridge is tentative: its link-local address
	# answers neighbour solicitations and sends its own at once
	[ "$(cat /proc/sys/net/ipv6/conf/nd-fresh/accept_dad)" = 0 ]
	! ip -6 addr show dev nd-fresh | grep -q tentative || false
	serve f6 f6 80
	# the first connection, within the client's 1 s: a packet lost to DAD
	# would be retried only after it
	answered_by out tcp 2001:db8:100::1 8088 f6
	answered_by host tcp fd00:71:7::2 80 f6
}

@test "the same mapping on several networks: target on the first, moves when it detaches; another container is refused" {
	container m a,b -p 9000:80
	serve m m 80
	ma=$(ip netns exec m ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)
	mb=$(ip netns exec m ip -4 -o addr show eth1 | awk '{print $4}' | cut -d/ -f1)
	elements ports4 | grep -qx "tcp . 9000 : $ma . 80"
	answered_by out tcp 198.51.100.1 9000 m
	ctl container del m --net a
	elements ports4 | grep -qx "tcp . 9000 : $mb . 80"
	answered_by out tcp 198.51.100.1 9000 m
	# a conflict names the holder, and nothing of the refused container stays
	before=$(nft list table inet netd)
	run ctl container add other --net a -p 9000:3306
	[ "$status" -eq 1 ]
	[[ "$output" == *"host port 9000/tcp is already published by container m"* ]]
	[[ "$output" == *"b:m:eth"* ]]
	! ip netns list | grep -q other || false
	[ "$(nft list table inet netd)" = "$before" ]
	run netd_curl "$D" http://netd/v1/endpoints
	! grep -q other <<<"${lines[0]}" || false
	ctl container del m
	[ -z "$(elements ports4)" ]
	# freed: another container may take it now
	container other a -p 9000:3306
	elements ports4 | grep -qx "tcp . 9000 : $(ip netns exec other ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1) . 3306"
}

@test "a container that died without a DEL does not keep its port: another takes it at once; without a conflict it goes within seconds" {
	container dead a -p 9100:80
	elements ports4 | grep -q "^tcp . 9100 : "
	# its runtime is gone: the netns with it, and no DEL ever comes
	ip netns del dead
	container heir b -p 9100:80
	serve heir heir 80
	answered_by out tcp 198.51.100.1 9100 heir
	run netd_curl "$D" http://netd/v1/endpoints
	[ "$(jq -r '[.[].name] | sort | join(",")' <<<"${lines[0]}")" = heir ]
	# no one asks for its port: netd notices by itself (it looks every 10 s)
	container dead2 a -p 9101:80
	ip netns del dead2
	for i in $(seq 150); do elements ports4 | grep -q "^tcp . 9101 : " || break; sleep 0.1; done
	! elements ports4 | grep -q "^tcp . 9101 : " || false
	grep -q "dropped 1 endpoints whose network namespace is gone" "$D/log"
	run netd_curl "$D" http://netd/v1/endpoints
	[ "$(jq -r '[.[].name] | sort | join(",")' <<<"${lines[0]}")" = heir ]
}

@test "ranges expand; bad input is refused with a clear error and nothing applied" {
	container r a -p 8000-8010:80-90 -p 7000-7001:7000-7001/udp
	serve r r 85 7001
	[ "$(elements ports4 | wc -l)" = 13 ]
	answered_by out tcp 198.51.100.1 8005 r
	answered_by out udp 198.51.100.1 7001 r
	before=$(nft list table inet netd)
	for spec in 0:80 8080:65536 8080:80/icmp 8000-8010:80-85 8080; do
		run ctl container add bad --net a -p "$spec"
		[ "$status" -eq 2 ]
		[[ "$output" == *"-p $spec"* ]]
	done
	run ctl container add bad --net a -p 192.0.2.77:8080:80
	[ "$status" -eq 1 ]
	[[ "$output" == *"hostIP 192.0.2.77 is not an address of this host"* ]]
	run ctl container add bad --net a -p 8080:80 -p 8080:81
	[ "$status" -eq 1 ]
	[[ "$output" == *"want the same host port"* ]]
	[ "$(nft list table inet netd)" = "$before" ]
	! ip netns list | grep -q bad || false
	# the API says the same with 400 / 409
	ip netns add api
	for pm in '{"hostPort":0,"containerPort":80}' '{"hostPort":80,"containerPort":70000}' \
		  '{"hostPort":80,"containerPort":80,"protocol":"icmp"}' \
		  '{"hostPort":80,"containerPort":80,"hostIP":"not-an-ip"}' \
		  '{"hostPort":80,"containerPort":80,"hostIP":"::ffff:127.0.0.1"}'; do
		run netd_curl "$D" -XPOST -d "{\"containerID\":\"api\",\"network\":\"a\",\"netns\":\"/run/netns/api\",\"ips\":[\"10.71.1.99/24\"],\"portMappings\":[$pm]}" http://netd/v1/endpoints
		[ "${lines[-1]}" = 400 ]
		[[ "${lines[0]}" == *'portMappings[0]'* ]]
	done
	[[ "${lines[0]}" == *"hostIP ::ffff:127.0.0.1 is an IPv4-mapped IPv6 address: publish on 127.0.0.1 itself"* ]]
	run netd_curl "$D" -XPOST -d '{"containerID":"api","network":"a","netns":"/run/netns/api","ips":["10.71.1.99/24"],"portMappings":[{"hostPort":8003,"containerPort":1}]}' http://netd/v1/endpoints
	[ "${lines[-1]}" = 409 ]
	[[ "${lines[0]}" == *"container r"* ]]
	[ "$(nft list table inet netd)" = "$before" ]
}

@test "10,000 mappings on one endpoint: one request, one batch; DEL, a restart and a flush keep the table exact" {
	ip netns add big
	python3 -c '
import json
pm = [{"hostPort": 20000 + i, "containerPort": 20000 + i, "protocol": "tcp"} for i in range(10000)]
print(json.dumps({"containerID": "big", "network": "a", "netns": "/run/netns/big", "ips": ["10.71.1.50/24"], "portMappings": pm}))' >"$BATS_TEST_TMPDIR/big.json"
	start=$(date +%s%N)
	run netd_curl "$D" -XPOST --data-binary @"$BATS_TEST_TMPDIR/big.json" http://netd/v1/endpoints
	end=$(date +%s%N)
	[ "${lines[-1]}" = 201 ]
	echo "10,000 mappings registered in $(((end - start) / 1000000)) ms"
	elements_count ports4 10000
	elements ports4 | grep -qx "tcp . 29999 : 10.71.1.50 . 29999"
	fw_stop
	netd_start "$D"
	elements_count ports4 10000
	# netd's own batches never make it heal (their 20,000 events once
	# overflowed its event socket: every rebuild caused the next, and a
	# dump across one of them saw part of the map)
	! grep "changed by someone else" "$D/log" || false
	# someone else's flush of the map is healed, whole
	nft flush map inet netd ports4
	for i in $(seq 100); do grep -q "changed by someone else" "$D/log" && break; sleep 0.05; done
	elements_count ports4 10000
	run netd_curl "$D" -XDELETE http://netd/v1/endpoints/a:big:eth0
	[ "${lines[-1]}" = 204 ]
	elements_count ports4 0
	# a netns that is gone at restart: its ports go with it
	container gone a -p 8080:80
	fw_stop
	ip netns del gone
	netd_start "$D"
	elements_count ports4 0
}
