#!/usr/bin/env bats
# Isolation between netd networks, in netd's table inet netd: containers on
# different networks cannot reach each other by address in either direction,
# a container on several networks reaches each, everyone reaches the outside
# and published ports through the host; another machine routing to the
# container subnets reaches no unpublished port; `nft flush ruleset` is healed,
# the plugins' masquerade table (inet netd_cni) included.

load fw_lib

setup() { isolation_setup; }

teardown() {
	fw_teardown
	# the FORWARD tests' iptables-like table would drop the next tests' traffic
	nft delete table ip filter 2>/dev/null || true
}

# every table of the ruleset, in name order (the order of creation changes)
tables() {
	local t
	nft list tables | sort | while read -r t; do nft list $t; done
}

@test "networks are isolated both ways; a container on both reaches each; the table is what stops them" {
	no_answer a1 tcp "$B1" 80
	no_answer a1 udp "$B1" 81
	no_answer b1 tcp "$A1" 80
	no_answer b1 udp "$A1" 81
	no_answer a1 tcp "$AB_B" 80	# ab's address on b, from a
	answered_by ab tcp "$A1" 80 a1
	answered_by ab udp "$B1" 81 b1
	answered_by a1 tcp "$AB_A" 80 ab
	answered_by b1 tcp "$AB_B" 80 ab
	# within one network
	container a2 a
	answered_by a2 tcp "$A1" 80 a1
	# without netd's table the same packets go through: it is the table that isolates
	fw_stop
	nft delete table inet netd
	answered_by a1 tcp "$B1" 80 b1
	answered_by b1 udp "$A1" 81 a1
}

# After the test above in the same private host (other addresses, earlier
# traffic and conntrack entries): everything netd and the plugins had is back.
@test "nft flush ruleset and table deletion are healed within a second; the user chain is left alone" {
	# masquerade is the plugins' (inet netd_cni): out sees the host's address
	run ask a1 tcp 198.51.100.2 80
	[ "$output" = "out 198.51.100.1" ]
	answered_by ab tcp "$B1" 80 b1
	tables >"$BATS_TEST_TMPDIR/before"
	nft add rule inet netd user ip saddr 198.51.100.99 drop
	nft flush ruleset
	ms=$(table_back)
	echo "back after ${ms} ms"
	[ "$ms" -lt 1000 ]
	cni_tables_back
	no_answer a1 tcp "$B1" 80
	answered_by out tcp 198.51.100.1 8080 b1
	# a container on both networks still reaches its neighbour on each
	answered_by ab tcp "$B1" 80 b1
	answered_by ab udp "$A1" 81 a1
	answered_by a1 tcp "$AB_A" 80 ab
	run ask a1 tcp 198.51.100.2 80
	[ "$output" = "out 198.51.100.1" ]
	grep -q "changed by someone else: rebuilt" "$D/log"
	grep -q "netd_cni were changed by someone else: 8 of the plugins' elements" "$D/log"
	# every table as it was, but the user chain: it came back empty (flush
	# ruleset took it); operator rules there are kept
	tables >"$BATS_TEST_TMPDIR/after"
	diff <(grep -v 198.51.100.99 "$BATS_TEST_TMPDIR/before") "$BATS_TEST_TMPDIR/after"
	nft add rule inet netd user meta l4proto tcp ct original proto-dst 8080 drop
	no_answer out tcp 198.51.100.1 8080
	nft delete table inet netd
	table_back >/dev/null
	no_answer a1 tcp "$B1" 80
	nft flush chain inet netd forward
	sleep 0.2
	[ "$(nft list chain inet netd forward | grep -c 'drop')" -ge 2 ]
	no_answer a1 tcp "$B1" 80
	# a rule added to the user chain survives netd's own rebuilds
	nft add rule inet netd user meta l4proto tcp ct original proto-dst 8080 drop
	nft delete set inet netd ports6ip 2>/dev/null || nft flush set inet netd same4
	sleep 0.2
	nft list chain inet netd user | grep -q "proto-dst 8080 drop"
	no_answer out tcp 198.51.100.1 8080
	# the plugins' table deleted alone comes back too
	nft delete table inet netd_cni
	cni_tables_back
	run ask a1 tcp 198.51.100.2 80
	[ "$output" = "out 198.51.100.1" ]
	# restart: the table is rebuilt from state in one batch
	fw_stop
	nft delete table inet netd
	netd_start "$D"
	no_answer a1 tcp "$B1" 80
	answered_by out tcp 198.51.100.1 8080 b1
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
	no_answer a1 tcp "$B1" 80
}

@test "another machine reaches published ports only, never a container address directly" {
	answered_by out tcp 198.51.100.1 8080 b1
	no_answer out tcp "$B1" 80
	no_answer out udp "$B1" 81
	no_answer out tcp "$A1" 80
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

# status_warning: netd's status warnings, one per line
status_warnings() { curl -s --unix-socket "$D/netd.sock" http://netd/v1/status | jq -r '.warnings[]'; }

@test "a FORWARD policy of drop set after netd started (Docker starting later) is reported within a second; the documented fix works; the warning goes with the policy" {
	[ -z "$(status_warnings)" ]
	answered_by out tcp 198.51.100.1 8080 b1
	nft add table ip filter
	nft add chain ip filter FORWARD '{ type filter hook forward priority 0; policy drop; }'
	for i in $(seq 100); do [ -n "$(status_warnings)" ] && break; sleep 0.01; done
	[[ "$(status_warnings)" == *"chain FORWARD of table ip filter has policy drop"* ]]
	grep -q "chain FORWARD of table ip filter has policy drop" "$D/log"
	run ctl status
	[[ "$output" == *"warnings   chain FORWARD of table ip filter has policy drop"*'(docs/netd.md, "Coexistence")'* ]]
	# it drops what netd accepts: published ports and egress
	no_answer out tcp 198.51.100.1 8080
	no_answer a1 tcp 198.51.100.2 80
	# the fix docs/netd.md gives, per bridge
	for br in nd-a nd-b; do
		nft insert rule ip filter FORWARD iifname "$br" accept
		nft insert rule ip filter FORWARD oifname "$br" accept
	done
	answered_by out tcp 198.51.100.1 8080 b1
	answered_by a1 tcp 198.51.100.2 80 out
	# isolation is still netd's: the accept there does not open a to b
	no_answer a1 tcp "$B1" 80
	# the policy goes back to accept (iptables -P FORWARD ACCEPT): no warning
	nft add chain ip filter FORWARD '{ policy accept; }'
	for i in $(seq 100); do [ -z "$(status_warnings)" ] && break; sleep 0.01; done
	[ -z "$(status_warnings)" ]
	grep -q "no forward-hook chain has policy drop any more" "$D/log"
	run ctl status
	[[ "$output" == *"warnings   none"* ]]
}
