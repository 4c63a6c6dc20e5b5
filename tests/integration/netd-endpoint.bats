#!/usr/bin/env bats
# netd-endpoint, the chained plugin, run the way a runtime runs it.

load ../harness/lib
load netd_lib
bats_require_minimum_version 1.5.0

setup() {
	D=$BATS_TEST_TMPDIR/n
	ip netns add ctr
	PREV='{"cniVersion":"1.0.0","interfaces":[{"name":"veth1","mac":"02:aa:00:00:00:01"},{"name":"eth0","mac":"02:bb:00:00:00:02","sandbox":"/run/netns/ctr"}],"ips":[{"address":"10.88.0.5/16","gateway":"10.88.0.1","interface":1},{"address":"fd88::5/64","interface":1}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}'
}

teardown() {
	[ -f "$D/pid" ] && kill -9 "$(cat "$D/pid")" 2>/dev/null || true
	ip netns del ctr 2>/dev/null || true
}

# conf [extra json members]: a netd-endpoint config with prevResult
conf() {
	printf '{"cniVersion":"1.0.0","name":"mynet","type":"netd-endpoint","socket":"%s","prevResult":%s%s}' \
		"$D/netd.sock" "$PREV" "${1:-}"
}

status_cmd() { env CNI_COMMAND=STATUS "$NETD_ENDPOINT_BIN" 2>/dev/null; }

plugin() { # plugin CMD CONTAINERID [CNI_ARGS]: config on stdin
	env CNI_COMMAND="$1" CNI_CONTAINERID="$2" CNI_NETNS=/run/netns/ctr CNI_IFNAME=eth0 \
		CNI_PATH=/nonexistent CNI_ARGS="${3:-}" "$NETD_ENDPOINT_BIN" 2>>"$BATS_TEST_TMPDIR/stderr"
}

@test "ADD without netd fails with code 11 and says netd is not running; DEL succeeds" {
	run plugin ADD c1 <<<"$(conf)"
	[ "$status" -eq 1 ]
	[ "$(jq .code <<<"$output")" = 11 ]
	[[ "$(jq -r .msg <<<"$output")" == "netd is not running (connect $D/netd.sock: No such file or directory)" ]]
	run plugin DEL c1 <<<"$(conf)"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run plugin CHECK c1 <<<"$(conf)"
	[ "$(jq .code <<<"$output")" = 11 ]
}

@test "ADD needs a prevResult (code 7)" {
	netd_start "$D"
	run plugin ADD c1 <<<"{\"cniVersion\":\"1.0.0\",\"name\":\"mynet\",\"type\":\"netd-endpoint\",\"socket\":\"$D/netd.sock\"}"
	[ "$status" -eq 1 ]
	[ "$(jq .code <<<"$output")" = 7 ]
	[[ "$output" == *"chained plugin"* ]]
}

@test "ADD registers name, netns, ips, mac, aliases, ports, links and passes prevResult on, its dns naming netd's resolver" {
	netd_start "$D"
	extra=',"capabilities":{"aliases":true,"portMappings":true},"runtimeConfig":{"aliases":{"mynet":["web","3f2a1b"],"other":["no"]},"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":""}]}'
	run plugin ADD c1 "IgnoreUnknown=1;K8S_POD_NAME=frontend;NETD_LINKS=db:database,cache" <<<"$(conf "$extra")"
	[ "$status" -eq 0 ]
	[ "$(jq -S . <<<"$output")" = "$(jq -S '.dns = {"nameservers":["127.0.0.11"]}' <<<"$PREV")" ]
	run netd_curl "$D" http://netd/v1/endpoints/mynet:c1:eth0
	[ "${lines[-1]}" = 200 ]
	ep=${lines[0]}
	[ "$(jq -r .name <<<"$ep")" = frontend ]
	[ "$(jq -r .netns <<<"$ep")" = /run/netns/ctr ]
	[ "$(jq -c .ips <<<"$ep")" = '["10.88.0.5/16","fd88::5/64"]' ]
	[ "$(jq -r .mac <<<"$ep")" = 02:bb:00:00:00:02 ]
	[ "$(jq -c .aliases <<<"$ep")" = '["web","3f2a1b"]' ]
	[ "$(jq -c .portMappings <<<"$ep")" = '[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]' ]
	[ "$(jq -c .links <<<"$ep")" = '[{"name":"db","alias":"database"},{"name":"cache"}]' ]
	run plugin CHECK c1 <<<"$(conf)"
	[ "$status" -eq 0 ]
}

@test "ADD: the network's dns servers become netd's upstreams, its search and options stay in the result" {
	netd_start "$D"
	PREV=$(jq -c '.dns = {"nameservers":["10.0.0.53","127.0.0.11"],"search":["corp.example"]}' <<<"$PREV")
	run plugin ADD c1 <<<"$(conf ',"dns":{"options":["ndots:2"]}')"
	[ "$status" -eq 0 ]
	[ "$(jq -c .dns <<<"$output")" = '{"nameservers":["127.0.0.11"],"search":["corp.example"],"options":["ndots:2"]}' ]
	run netd_curl "$D" http://netd/v1/endpoints/mynet:c1:eth0
	[ "$(jq -c .dns <<<"${lines[0]}")" = '{"nameservers":["10.0.0.53"]}' ]
	# the plugin's own dns.nameservers win over prevResult's
	run plugin ADD c1 <<<"$(conf ',"dns":{"nameservers":["fd00::53"]}')"
	[ "$status" -eq 0 ]
	run netd_curl "$D" http://netd/v1/endpoints/mynet:c1:eth0
	[ "$(jq -c .dns <<<"${lines[0]}")" = '{"nameservers":["fd00::53"]}' ]
}

@test "DEL unregisters and is idempotent; CHECK then reports drift" {
	netd_start "$D"
	run plugin ADD c1 <<<"$(conf)"
	[ "$status" -eq 0 ]
	run plugin DEL c1 <<<"$(conf)"
	[ "$status" -eq 0 ]
	run plugin DEL c1 <<<"$(conf)"
	[ "$status" -eq 0 ]
	run netd_curl "$D" http://netd/v1/endpoints/mynet:c1:eth0
	[ "${lines[-1]}" = 404 ]
	run plugin CHECK c1 <<<"$(conf)"
	[ "$status" -eq 1 ]
	[ "$(jq .code <<<"$output")" = 103 ]
}

@test "netd's validation reaches the runtime as a CNI error" {
	netd_start "$D"
	run plugin ADD c1 "K8S_POD_NAME=bad name!" <<<"$(conf)"
	[ "$status" -eq 1 ]
	[ "$(jq .code <<<"$output")" = 7 ]
	[[ "$(jq -r .msg <<<"$output")" == *"field 'name'"* ]]
}

# bconf NAME: a netd-bridge config for network NAME
bconf() {
	printf '{"cniVersion":"1.0.0","name":"%s","type":"netd-bridge","bridge":"br-lim","ipam":{"type":"netd-ipam","subnet":"10.77.0.0/24"}}' "$1"
}

# econf NAME PREV: netd-endpoint after it
econf() {
	printf '{"cniVersion":"1.0.0","name":"%s","type":"netd-endpoint","socket":"%s","prevResult":%s}' "$1" "$D/netd.sock" "$2"
}

@test "the longest container id and network name a main plugin accepts, netd-endpoint accepts too; longer ones are refused before anything changes" {
	netd_start "$D"
	id=$(printf 'c%.0s' $(seq 128))
	net=$(printf 'n%.0s' $(seq 64))
	cni netd-bridge ADD "$id" eth0 /run/netns/ctr <<<"$(bconf "$net")"; assert_success
	prev=$output
	cni netd-endpoint ADD "$id" eth0 /run/netns/ctr <<<"$(econf "$net" "$prev")"; assert_success
	run netd_curl "$D" "http://netd/v1/endpoints/$net:$id:eth0"
	[ "${lines[-1]}" = 200 ]
	before=$(host_state)
	# one longer: the main plugin refuses it, as netd-endpoint would, with nothing built
	cni netd-bridge ADD "${id}c" eth1 /run/netns/ctr <<<"$(bconf "$net")"
	assert_cni_error 4 "not a valid container id"
	cni netd-endpoint ADD "${id}c" eth1 /run/netns/ctr <<<"$(econf "$net" "$prev")"
	assert_cni_error 4 "not a valid container id"
	cni netd-bridge ADD c2 eth1 /run/netns/ctr <<<"$(bconf "${net}n")"
	assert_cni_error 7 "not a valid name"
	cni netd-endpoint ADD c2 eth1 /run/netns/ctr <<<"$(econf "${net}n" "$prev")"
	assert_cni_error 7 "not a valid name"
	[ "$(host_state)" = "$before" ]
	! ns_exec ctr ip link show eth1 2>/dev/null || false
	cni netd-endpoint DEL "$id" eth0 /run/netns/ctr <<<"$(econf "$net" "$prev")"; assert_success
	cni netd-bridge DEL "$id" eth0 /run/netns/ctr <<<"$(bconf "$net")"; assert_success
}

@test "GC drops this network's endpoints that are not valid attachments, and only those" {
	netd_start "$D"
	for c in keep1 stale1 stale2; do
		plugin ADD $c <<<"$(conf)" >/dev/null
	done
	netd_curl "$D" -XPOST -d '{"containerID":"stale3","network":"othernet","netns":"/run/netns/ctr"}' \
		http://netd/v1/endpoints
	gc='{"cniVersion":"1.1.0","name":"mynet","type":"netd-endpoint","socket":"'$D'/netd.sock","cni.dev/valid-attachments":[{"containerID":"keep1","ifname":"eth0"}]}'
	run env CNI_COMMAND=GC CNI_PATH=/x "$NETD_ENDPOINT_BIN" <<<"$gc"
	[ "$status" -eq 0 ]
	run netd_curl "$D" http://netd/v1/endpoints
	[ "$(jq -r '[.[].containerID] | sort | join(",")' <<<"${lines[0]}")" = keep1,stale3 ]
	# STATUS: available while netd runs, code 50 once it is gone
	st='{"cniVersion":"1.1.0","name":"mynet","type":"netd-endpoint","socket":"'$D'/netd.sock"}'
	run status_cmd <<<"$st"
	[ "$status" -eq 0 ]
	netd_stop "$D"
	run status_cmd <<<"$st"
	[ "$status" -eq 1 ]
	[ "$(jq .code <<<"$output")" = 50 ]
}
