#!/usr/bin/env bats
# netd-loopback, black-box: Docker's `none` network.

load ../harness/lib
bats_require_minimum_version 1.5.0

conf() { echo "{\"cniVersion\":\"${1:-1.0.0}\",\"name\":\"none\",\"type\":\"netd-loopback\"}"; }
teardown() { cleanup_host; }

@test "ADD brings lo up with 127.0.0.1/8 and ::1 and reports them" {
	ns_add c1
	ns_exec c1 ip link set lo down
	before=$(host_state)
	cni netd-loopback ADD c1 lo <<<"$(conf)"
	assert_success
	ns_exec c1 ip -o link show lo | grep -q "UP"
	ns_exec c1 ping -c1 -W2 127.0.0.1
	ns_exec c1 ping -6 -c1 -W2 ::1
	[ "$(json_field '.interfaces[0].name')" = lo ]
	[ "$(json_field '.interfaces[0].sandbox')" = /run/netns/c1 ]
	[ "$(json_field '[.ips[].address] | join(",")')" = "127.0.0.1/8,::1/128" ]
	[ "$(json_field '.ips[0].interface')" = 0 ]
	# nothing on the host changed
	[ "$(host_state)" = "$before" ]
}

@test "ADD puts back addresses someone flushed, and skips ::1 where IPv6 is off" {
	ns_add c1 c2
	ns_exec c1 ip addr flush dev lo
	cni netd-loopback ADD c1 lo <<<"$(conf)"; assert_success
	ns_exec c1 ip -o addr show dev lo | grep -q "inet 127.0.0.1/8"
	ns_exec c1 ip -o addr show dev lo | grep -q "inet6 ::1/128"
	ns_exec c1 ping -c1 -W2 127.0.0.1
	ns_exec c2 sysctl -qw net.ipv6.conf.lo.disable_ipv6=1
	cni netd-loopback ADD c2 lo <<<"$(conf)"; assert_success
	[ "$(json_field '[.ips[].address] | join(",")')" = "127.0.0.1/8" ]
}

@test "DEL leaves lo up and is idempotent, also without a netns" {
	ns_add c1
	cni netd-loopback ADD c1 lo <<<"$(conf)"; assert_success
	cni netd-loopback DEL c1 lo <<<"$(conf)"; assert_success
	[ -z "$output" ]
	ns_exec c1 ip -o link show lo | grep -q "UP"
	cni netd-loopback DEL c1 lo <<<"$(conf)"; assert_success
	ip netns del c1
	cni netd-loopback DEL c1 lo <<<"$(conf)"; assert_success
	cni netd-loopback DEL c1 lo "" <<<"$(conf)"; assert_success
}

@test "CHECK passes when lo is up and names the drift when it is down" {
	ns_add c1
	cni netd-loopback ADD c1 lo <<<"$(conf)"; assert_success
	prev=$output
	cni netd-loopback CHECK c1 lo <<<"$(withprev "$(conf)" "$prev")"
	assert_success
	[ -z "$output" ]
	ns_exec c1 ip link set lo down
	cni netd-loopback CHECK c1 lo <<<"$(withprev "$(conf)" "$prev")"
	assert_cni_error 103 "lo in netns /run/netns/c1 is down"
	cni netd-loopback CHECK c1 lo <<<"$(conf)"
	assert_cni_error 7 "prevResult"
}

@test "GC, STATUS and VERSION answer; versions are honoured" {
	ns_add c1
	cni netd-loopback GC "" <<<"$(jq -c '. + {"cni.dev/valid-attachments":[]}' <<<"$(conf 1.1.0)")"; assert_success
	cni netd-loopback GC "" <<<"$(conf 1.1.0)"
	assert_cni_error 7 "valid-attachments is missing"
	cni netd-loopback STATUS "" <<<"$(conf 1.1.0)"; assert_success
	[ -z "$output" ]
	cni netd-loopback ADD c1 lo <<<"$(conf 0.3.1)"; assert_success
	[ "$(json_field .cniVersion)" = 0.3.1 ]
	[ "$(json_field '.ips[0].version')" = 4 ]
	cni netd-loopback VERSION x <<<"$(conf 1.1.0)"; assert_success
	[ "$(json_field '.supportedVersions | join(",")')" = "0.3.0,0.3.1,0.4.0,1.0.0,1.1.0" ]
}

@test "bad input: missing netns and bad JSON are well-formed errors" {
	cni netd-loopback ADD nope lo <<<"$(conf)"
	assert_cni_error 3 "does not exist"
	cni netd-loopback ADD nope lo <<<'{"cniVersion":'
	assert_cni_error 6 "not valid JSON"
	cni netd-loopback GC "" <<<"$(conf 1.0.0)"
	assert_cni_error 1 ""
}
