#!/usr/bin/env bats
# The plugins' tables (inet netd_cni: masquerade, bridge netd_cni:
# macspoofchk) put back by netd after someone deletes them, from the
# plugins' own record: what a DEL removed stays removed, even a DEL that ran
# while the table was gone or while netd was not running; what an ADD made,
# even just before the deletion or while netd was stopped, comes back.
# Masquerade is checked with real traffic: "out" routes the container
# subnets back through this host, so it sees a container's own address
# unless the host masqueraded it.

load ../harness/lib
load fw_lib
bats_require_minimum_version 1.5.0

conf() {
	echo '{"cniVersion":"1.0.0","name":"net1","type":"netd-bridge","bridge":"br0","isGateway":true,
"isDefaultGateway":true,"ipMasq":true,"macspoofchk":true,
"ipam":{"type":"netd-ipam","ranges":[[{"subnet":"10.88.0.0/24"}]]}}'
}

setup() {
	D=$BATS_TEST_TMPDIR/n
	outside
	serve out out 80
}

teardown() {
	local p
	for p in $(cat "$BATS_TEST_TMPDIR/servers" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	[ -f "$D/pid" ] && kill -CONT "$(cat "$D/pid")" 2>/dev/null && kill -9 "$(cat "$D/pid")" 2>/dev/null || true
	ip link del h-out 2>/dev/null || true
	cleanup_host /var/lib/cni/networks
}

# add NAME...: a container on net1 with masquerade and macspoofchk; its
# address in ADDR_<NAME>, its host-side veth in VETH_<NAME>
add() {
	local c
	for c in "$@"; do
		ns_add "$c"
		cni netd-bridge ADD "$c" <<<"$(conf)"
		assert_success
		printf -v "ADDR_$c" %s "$(json_field '.ips[0].address' | cut -d/ -f1)"
		printf -v "VETH_$c" %s "$(json_field '.interfaces[1].name')"
	done
}

del() { cni netd-bridge DEL "$1" <<<"$(conf)"; assert_success; }

masq_has() { nft list set inet netd_cni masq4 2>/dev/null | grep -qw "$1"; }
guard_has() { nft list set bridge netd_cni macspoof_ifaces 2>/dev/null | grep -qw "$1"; }

# wait until ADDR's masquerade is back (at most 3 s)
masq_back() {
	local i
	for i in $(seq 300); do masq_has "$1" && return 0; sleep 0.01; done
	return 1
}

# masquerades NETNS: out sees the host's address, not the container's
masquerades() {
	local got
	got=$(ask "$1" tcp 198.51.100.2 80) || { echo "no answer from out in $1"; return 1; }
	[ "$got" = "out 198.51.100.1" ] || { echo "out saw '$got' from $1"; return 1; }
}

# stopped: netd stops (TERM) and is gone
stopped() {
	local pid i
	pid=$(cat "$D/pid")
	netd_stop "$D"
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
	return 1
}

@test "a DEL while the plugins' tables are gone stays deleted: netd puts back only the live containers" {
	add c1 c2
	netd_start "$D"
	masquerades c1
	masquerades c2
	# netd frozen, so that c2's DEL surely runs while both tables are gone
	# and before netd looks (a busy or slow netd)
	kill -STOP "$(cat "$D/pid")"
	nft delete table inet netd_cni
	nft delete table bridge netd_cni
	del c2
	kill -CONT "$(cat "$D/pid")"
	masq_back "$ADDR_c1"
	guard_has "$VETH_c1"
	sleep 0.5	# a late put-back would show now
	! masq_has "$ADDR_c2" || false
	! guard_has "$VETH_c2" || false
	! nft list table inet netd_cni | grep -q "$ADDR_c2" || false
	[ "$(nft -j list set inet netd_cni masq4 | jq '[.nftables[].set.elem // empty | .[]] | length')" -eq 1 ]
	masquerades c1
	grep -q "4 of the plugins' elements (masquerade, macspoofchk) put back" "$D/log"

	# the same with netd running: nft flush ruleset, then a DEL at once
	add c3
	masquerades c3
	nft flush ruleset
	del c3
	masq_back "$ADDR_c1"
	sleep 0.5
	! masq_has "$ADDR_c3" || false
	! guard_has "$VETH_c3" || false
	masquerades c1
}

@test "netd stopped: a DEL while the tables are gone stays deleted, an ADD comes back, at netd's start" {
	add c1 c2
	netd_start "$D"
	stopped
	# while netd is away: an ADD, the tables flushed, a DEL that finds nothing
	add c3
	nft flush ruleset
	del c2
	! masquerades c1 || false	# nothing heals without netd
	netd_start "$D"
	masq_back "$ADDR_c1"
	masq_back "$ADDR_c3"
	guard_has "$VETH_c1"
	guard_has "$VETH_c3"
	! masq_has "$ADDR_c2" || false
	! guard_has "$VETH_c2" || false
	masquerades c1
	masquerades c3
	# and again across a restart with nothing changed: nothing to put back
	n=$(grep -c "put back" "$D/log")
	stopped
	netd_start "$D"
	sleep 0.3
	[ "$(grep -c "put back" "$D/log")" -eq "$n" ]
	masquerades c1
}

@test "an element a plugin added just before the deletion comes back" {
	add c1
	netd_start "$D"
	# frozen: ADD and deletion both happen before netd reads a single event
	kill -STOP "$(cat "$D/pid")"
	add c2
	nft delete table inet netd_cni
	kill -CONT "$(cat "$D/pid")"
	masq_back "$ADDR_c1"
	masq_back "$ADDR_c2"
	masquerades c2
}

@test "elements deleted by hand are put back; the ones a plugin's DEL removed are not" {
	add c1 c2
	netd_start "$D"
	del c2
	kill -STOP "$(cat "$D/pid")"
	nft delete element inet netd_cni masq4 "{ $ADDR_c1 }"
	! masquerades c1 || false
	kill -CONT "$(cat "$D/pid")"
	masq_back "$ADDR_c1"
	nft flush set inet netd_cni masq4_local
	for _ in $(seq 100); do nft list set inet netd_cni masq4_local | grep -q "$ADDR_c1 \." && break; sleep 0.01; done
	nft list set inet netd_cni masq4_local | grep -q "$ADDR_c1 \."
	sleep 0.3
	! masq_has "$ADDR_c2" || false
	masquerades c1
	[ "$(grep -c "1 of the plugins' elements (masquerade, macspoofchk) put back" "$D/log")" -eq 2 ]
}

@test "a GC while the plugins' tables are gone keeps its removals away" {
	add c1 c2
	netd_start "$D"
	kill -STOP "$(cat "$D/pid")"
	nft flush ruleset
	# the runtime knows c1 alone (c2 vanished without a DEL)
	cni netd-bridge GC "" <<<"$(jq -c '. + {cniVersion: "1.1.0", "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]}' <<<"$(conf)")"
	assert_success
	kill -CONT "$(cat "$D/pid")"
	masq_back "$ADDR_c1"
	guard_has "$VETH_c1"
	sleep 0.5
	! masq_has "$ADDR_c2" || false
	! guard_has "$VETH_c2" || false
	masquerades c1
}
