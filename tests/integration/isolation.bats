#!/usr/bin/env bats
# Isolation between netd networks, in netd's table inet netd: containers on
# different networks cannot reach each other by address in either direction,
# a container on several networks reaches each, everyone reaches the outside
# and published ports through the host; another machine routing to the
# container subnets reaches no unpublished port; `nft flush ruleset` is healed.

load fw_lib

setup() { isolation_setup; }

teardown() { fw_teardown; }

@test "networks are isolated both ways; a container on both reaches each; the table is what stops them" {
	no_answer a1 tcp 10.70.2.2 80
	no_answer a1 udp 10.70.2.2 81
	no_answer b1 tcp 10.70.1.2 80
	no_answer b1 udp 10.70.1.2 81
	no_answer a1 tcp 10.70.2.3 80	# ab's address on b, from a
	answered_by ab tcp 10.70.1.2 80 a1
	answered_by ab udp 10.70.2.2 81 b1
	answered_by a1 tcp 10.70.1.3 80 ab
	answered_by b1 tcp 10.70.2.3 80 ab
	# within one network
	container a2 a
	answered_by a2 tcp 10.70.1.2 80 a1
	# without netd's table the same packets go through: it is the table that isolates
	fw_stop
	nft delete table inet netd
	answered_by a1 tcp 10.70.2.2 80 b1
	answered_by b1 udp 10.70.1.2 81 a1
}

@test "everyone reaches the outside and the host; another network's published port through the host" {
	answered_by a1 tcp 198.51.100.2 80 out
	answered_by b1 udp 198.51.100.2 81 out
	answered_by ab tcp 198.51.100.2 80 out
	answered_by a1 tcp 10.70.1.1 7000 host
	# b1 publishes 8080 -> 80: a1 gets there through the host's address on either network
	answered_by a1 tcp 10.70.1.1 8080 b1
	answered_by a1 tcp 198.51.100.1 8080 b1
	# but not to its unpublished port 81, and not directly
	no_answer a1 tcp 10.70.1.1 81
	no_answer a1 tcp 10.70.2.2 80
}

@test "another machine reaches published ports only, never a container address directly" {
	answered_by out tcp 198.51.100.1 8080 b1
	no_answer out tcp 10.70.2.2 80
	no_answer out udp 10.70.2.2 81
	no_answer out tcp 10.70.1.2 80
	no_answer out tcp 198.51.100.1 8081
}

@test "an iptables FORWARD policy of drop is reported at start and in netdctl status" {
	fw_stop
	nft add table ip filter
	nft add chain ip filter FORWARD '{ type filter hook forward priority 0; policy drop; }'
	netd_start "$D"
	grep -q "chain FORWARD of table ip filter has policy drop" "$D/log"
	run ctl status
	[ "$status" -eq 0 ]
	[[ "$output" == *"policy drop"* ]]
	curl -s --unix-socket "$D/netd.sock" http://netd/v1/status | jq -e '.warnings[0] | test("FORWARD")'
}
