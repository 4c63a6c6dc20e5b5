#!/usr/bin/env bats
# Per-network icc=false and links, in netd's table bridge netd: containers on
# such a network reach each other only along links, on the linked container's
# exposed ports; the gateway, the outside and published ports stay reachable.

load fw_lib

setup_file() {
	etc_netns_private
}

teardown_file() {
	etc_netns_release
}

setup() {
	fw_setup
	ctl network create --subnet 10.72.1.0/24 -o icc=false q >/dev/null
	ctl network create --subnet 10.72.2.0/24 open >/dev/null
	container db q --expose 3306/tcp --expose 53/udp -p 13306:3306
	container c1 q
	container web q --link db:database
	outside
	serve db db 3306 53 81
	serve c1 c1 80
	serve host host 7000
}

teardown() { fw_teardown; }

addr() { ip netns exec "$1" ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1; }

@test "icc=false: only links reach, only on exposed ports, in both directions' answers" {
	db=$(addr db) c1=$(addr c1)
	answered_by web tcp "$db" 3306 db
	answered_by web udp "$db" 53 db
	no_answer web tcp "$db" 81	# not exposed
	no_answer c1 tcp "$db" 3306	# no link
	no_answer db tcp "$c1" 80	# links go one way
	no_answer web tcp "$c1" 80
	# the host, the outside world and published ports stay reachable
	answered_by c1 tcp 10.72.1.1 7000 host
	serve out out 80
	answered_by c1 tcp 198.51.100.2 80 out
	answered_by out tcp 198.51.100.1 13306 db
	# the link's record, and the table the rules live in
	run netd_curl "$D" http://netd/v1/endpoints/q:web:eth0
	[[ "${lines[0]}" == *'"links":[{"name":"db","alias":"database"}]'* ]]
	run netd_curl "$D" http://netd/v1/endpoints/q:db:eth0
	[[ "${lines[0]}" == *'"expose":[{"port":3306,"protocol":"tcp"},{"port":53,"protocol":"udp"}]'* ]]
	nft list set bridge netd links4 | grep -q "$(addr web) . $db . tcp . 3306"
}

@test "a link follows its container when it is replaced, and goes with the linker; icc=true networks are open" {
	container db2 q --expose 80
	container late q --link db2
	serve db2 db2 80
	answered_by late tcp "$(addr db2)" 80 db2
	old=$(addr db2)
	# db2 goes and comes back with another address: the link reaches the new one
	ctl container del db2
	! nft list set bridge netd links4 | grep -q "$old . tcp . 80" || false
	container db2 q --expose 80
	[ "$(addr db2)" != "$old" ]
	serve db2 db2 80
	answered_by late tcp "$(addr db2)" 80 db2
	ctl container del late
	! nft list set bridge netd links4 | grep -q "$(addr db2) . tcp . 80" || false
	container o1 open
	container o2 open
	serve o2 o2 80
	answered_by o1 tcp "$(addr o2)" 80 o2
	# flush ruleset: the bridge table comes back too
	nft flush ruleset
	table_back >/dev/null
	sleep 0.1
	no_answer c1 tcp "$(addr db)" 3306
	answered_by web tcp "$(addr db)" 3306 db
}

@test "bad expose and link arguments are refused; a link to a container netd does not know leaves nothing behind" {
	# as docker run --link: the linked container must exist, by name or id
	before=$(nft list ruleset)
	run ctl container add x --net q --link ghost:g
	[ "$status" -eq 1 ]
	[[ "$output" == *"--link ghost:g: no container 'ghost' is registered with netd"* ]]
	! ip netns list | grep -qw x || false
	[ ! -e "$NETD_CACHE_DIR/x" ]
	[ "$(nft list ruleset)" = "$before" ]
	# the same with containers netd knows works
	run ctl container add x --net q --link db --link web
	[ "$status" -eq 0 ]
	ctl container del x
	run ctl container add x --net q --expose 0/tcp
	[ "$status" -eq 2 ]
	[[ "$output" == *"--expose wants PORT"* ]]
	run ctl container add x --net q --expose 80/icmp
	[ "$status" -eq 2 ]
	ip netns add api
	run netd_curl "$D" -XPOST -d '{"containerID":"api","network":"q","netns":"/run/netns/api","expose":[{"port":70000}]}' http://netd/v1/endpoints
	[ "${lines[-1]}" = 400 ]
	[[ "${lines[0]}" == *"expose[0]"* ]]
}

# resolv NETNS: its C resolver asks netd's 127.0.0.11, as a runtime's resolv.conf would say
resolv() {
	mkdir -p "/etc/netns/$1"
	echo "nameserver 127.0.0.11" >"/etc/netns/$1/resolv.conf"
}

dig_status() {
	ip netns exec "$1" dig +tries=1 +time=5 @127.0.0.11 "$2" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'
}

@test "a link alias resolves for the linker alone, to the container the link reaches (CNI_ARGS and config args)" {
	db=$(addr db)
	resolv web; resolv c1
	# web linked db as database (netdctl --link: NETD_LINKS in CNI_ARGS)
	[ "$(ip netns exec web dig +short +tries=1 +time=5 @127.0.0.11 database)" = "$db" ]
	run ip netns exec web getent hosts database
	[ "$status" -eq 0 ]
	[[ "$output" == "$db"*database* ]]
	# by that name, through the C resolver: the exposed port answers, another does not
	answered_by web tcp database 3306 db
	no_answer web tcp database 81
	# c1, on the same network without the link: NXDOMAIN, by dig and by getent
	[ "$(dig_status c1 database)" = NXDOMAIN ]
	run ip netns exec c1 getent hosts database
	[ "$status" -ne 0 ]
	no_answer c1 tcp "$db" 3306
	run ctl dns database --from c1
	[ "$status" -eq 0 ]
	[[ "$output" == *"NXDOMAIN: it is a link alias held by web, which only the linking container sees"* ]]
	run ctl dns database --from web
	[[ "$output" == *'link alias "database" held by web, for container db on network q'* ]]
	# the same link from the network config's args, as a runtime may pass it:
	# netd-endpoint registers c1 again with args.cni.links
	cache=$NETD_CACHE_DIR/c1/q.json
	conf=$(jq -c --arg s "$NETD_SOCKET" '{cniVersion: "1.0.0", name: "q", type: "netd-endpoint", socket: $s,
		args: {cni: {links: ["db:store"]}}, prevResult: .result}' "$cache")
	run env CNI_COMMAND=ADD CNI_CONTAINERID="$(jq -r .containerID "$cache")" CNI_NETNS=/run/netns/c1 CNI_IFNAME=eth0 \
		CNI_PATH="$BIN" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=c1" "$BIN/netd-endpoint" <<<"$conf"
	[ "$status" -eq 0 ]
	[ "$(ip netns exec c1 dig +short +tries=1 +time=5 @127.0.0.11 store)" = "$db" ]
	answered_by c1 tcp store 3306 db
	[ "$(dig_status c1 database)" = NXDOMAIN ]
	[ "$(dig_status web store)" = NXDOMAIN ]
}
