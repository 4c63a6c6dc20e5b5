#!/usr/bin/env bats
# Isolation healed: `nft flush ruleset`, table deletion and a flushed chain are
# repaired by netd, the operator's user chain is left alone. Its own file (a
# fresh private host): after an earlier test in the same host, a dual-network
# container's same-network traffic was lost after the flush (under study).
#
# Isolation between netd networks, in netd's table inet netd: containers on
# different networks cannot reach each other by address in either direction,
# a container on several networks reaches each, everyone reaches the outside
# and published ports through the host; another machine routing to the
# container subnets reaches no unpublished port; `nft flush ruleset` is healed.

load fw_lib

setup() { isolation_setup; }

teardown() { fw_teardown; }

@test "nft flush ruleset and table deletion are healed within a second; the user chain is left alone" {
	nft add rule inet netd user ip saddr 198.51.100.99 drop
	nft flush ruleset
	ms=$(table_back)
	echo "back after ${ms} ms"
	[ "$ms" -lt 1000 ]
	no_answer a1 tcp 10.70.2.2 80
	answered_by out tcp 198.51.100.1 8080 b1
	answered_by ab tcp 10.70.2.2 80 b1
	grep -q "changed by someone else: rebuilt" "$D/log"
	# the user chain came back empty (flush ruleset took it); operator rules there are kept
	nft add rule inet netd user meta l4proto tcp ct original proto-dst 8080 drop
	no_answer out tcp 198.51.100.1 8080
	nft delete table inet netd
	table_back >/dev/null
	no_answer a1 tcp 10.70.2.2 80
	nft flush chain inet netd forward
	sleep 0.2
	[ "$(nft list chain inet netd forward | grep -c 'drop')" -ge 2 ]
	no_answer a1 tcp 10.70.2.2 80
	# a rule added to the user chain survives netd's own rebuilds
	nft add rule inet netd user meta l4proto tcp ct original proto-dst 8080 drop
	nft delete set inet netd ports6ip 2>/dev/null || nft flush set inet netd same4
	sleep 0.2
	nft list chain inet netd user | grep -q "proto-dst 8080 drop"
	no_answer out tcp 198.51.100.1 8080
	# restart: the table is rebuilt from state in one batch
	fw_stop
	nft delete table inet netd
	netd_start "$D"
	no_answer a1 tcp 10.70.2.2 80
	answered_by out tcp 198.51.100.1 8080 b1
}

