#!/usr/bin/env bats
# Per-network icc=false and links, in netd's table bridge netd: containers on
# such a network reach each other only along links, on the linked container's
# exposed ports; the gateway, the outside and published ports stay reachable.

load fw_lib

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

@test "a link to a container that registers later, and its removal, take effect; icc=true networks are open" {
	container late q --link db2
	container db2 q --expose 80
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

@test "bad expose and link arguments are usage errors" {
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
