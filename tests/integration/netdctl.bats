#!/usr/bin/env bats
# netdctl round trips: networks as conflists, containers through real plugin
# chains (netd-bridge + netd-ipam + netd-endpoint, and the reference bridge +
# host-local + netd-endpoint), endpoints seen by netd.

load netd_lib

setup() {
	D=$BATS_TEST_TMPDIR/n
	BIN=$BATS_TEST_TMPDIR/bin
	mkdir -p "$BIN"
	for p in bridge ipam endpoint; do
		[ -x "$NETD_BUILD/plugins/$p/netd-$p" ] && cp "$NETD_BUILD/plugins/$p/netd-$p" "$BIN/"
	done
	cp /usr/lib/cni/bridge /usr/lib/cni/host-local "$BIN/"
	export CNI_PATH=$BIN NETD_SOCKET=$D/netd.sock NETD_CACHE_DIR=$BATS_TEST_TMPDIR/cache
	export NETD_CNI_CONF_DIR=$BATS_TEST_TMPDIR/net.d
}

teardown() {
	[ -f "$D/pid" ] && kill -9 "$(cat "$D/pid")" 2>/dev/null || true
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do ip netns del "$ns" || true; done
}

ctl() { "$NETDCTL_BIN" "$@"; }

@test "network create writes a conflist with netd-<driver> + netd-ipam + netd-endpoint; ls, inspect, rm" {
	run ctl network create -d bridge --subnet 10.66.0.0/24 --gateway 10.66.0.254 -o mtu=1400 -o hairpinMode=false blue
	[ "$status" -eq 0 ]
	f=$NETD_CNI_CONF_DIR/blue.conflist
	[ "$(jq -r '.name' "$f")" = blue ]
	[ "$(jq -r '[.plugins[].type] | join(",")' "$f")" = netd-bridge,netd-endpoint ]
	[ "$(jq -r '.plugins[0].ipam.type' "$f")" = netd-ipam ]
	[ "$(jq -c '.plugins[0].ipam.ranges' "$f")" = '[[{"subnet":"10.66.0.0/24","gateway":"10.66.0.254"}]]' ]
	[ "$(jq '.plugins[0].mtu' "$f")" = 1400 ]
	[ "$(jq '.plugins[0].hairpinMode' "$f")" = false ]
	[ "$(jq -r '.plugins[1].socket' "$f")" = "$D/netd.sock" ]
	[ "$(jq -c '.plugins[1].capabilities' "$f")" = '{"aliases":true,"portMappings":true}' ]
	# without --subnet: the first free 10.89.X.0/24
	run ctl network create green
	[ "$(jq -r '.plugins[0].ipam.ranges[0][0].subnet' "$NETD_CNI_CONF_DIR/green.conflist")" = 10.89.0.0/24 ]
	run ctl network create -d macvlan -o master=veth0 mv
	[ "$(jq -r '.plugins[0].type' "$NETD_CNI_CONF_DIR/mv.conflist")" = netd-macvlan ]
	[ "$(jq -r '.plugins[0].ipam.ranges[0][0].subnet' "$NETD_CNI_CONF_DIR/mv.conflist")" = 10.89.1.0/24 ]
	run ctl network ls
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "NAME   DRIVER   SUBNETS       PLUGINS" ]
	[[ "${lines[1]}" == "blue   bridge   10.66.0.0/24  netd-bridge,netd-endpoint" ]]
	run ctl --json network ls
	[ "$(jq -r '[.[].name] | join(",")' <<<"$output")" = blue,green,mv ]
	run ctl network inspect blue
	[ "$(jq -r .conflist.name <<<"$output")" = blue ]
	run ctl network rm green
	[ "$status" -eq 0 ]
	[ ! -e "$NETD_CNI_CONF_DIR/green.conflist" ]
	# errors fit for scripts
	run ctl network create blue
	[ "$status" -eq 1 ]
	[[ "$output" == *"already exists"* ]]
	run ctl network create --subnet 10.0.0.0/99 x
	[ "$status" -eq 2 ]
	run ctl network create -d nope x
	[ "$status" -eq 2 ]
	run ctl network create ../evil
	[ "$status" -eq 2 ]
	run ctl network rm nothere
	[ "$status" -eq 1 ]
	run ctl network inspect nothere
	[ "$status" -eq 1 ]
}

@test "container add/check/ls/del with netd-bridge + netd-ipam + netd-endpoint, registered in netd" {
	[ -x "$BIN/netd-bridge" ] && [ -x "$BIN/netd-ipam" ] || skip "netd-bridge/netd-ipam not built"
	netd_start "$D"
	ctl network create --subnet 10.66.0.0/24 blue
	ctl network create --subnet 10.67.0.0/24 red
	run ctl container add web --net blue,red -p 8080:80 -p 5353:53/udp --alias www --link db:database
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(printf 'blue\teth0\t10.66.0.2/24')" ]
	[ "${lines[1]}" = "$(printf 'red\teth1\t10.67.0.2/24')" ]
	ip netns exec web ip -br addr show eth0 | grep -q 10.66.0.2/24
	ip netns exec web ip -br addr show eth1 | grep -q 10.67.0.2/24
	run netd_curl "$D" http://netd/v1/endpoints/blue:web:eth0
	[ "${lines[-1]}" = 200 ]
	ep=${lines[0]}
	[ "$(jq -r .name <<<"$ep")" = web ]
	[ "$(jq -c .aliases <<<"$ep")" = '["www"]' ]
	[ "$(jq -c .portMappings <<<"$ep")" = '[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},{"hostPort":5353,"containerPort":53,"protocol":"udp"}]' ]
	[ "$(jq -c .links <<<"$ep")" = '[{"name":"db","alias":"database"}]' ]
	run ctl endpoints
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == CONTAINER* ]]
	run ctl --json endpoints --network red
	[ "$(jq -r '.[0].id' <<<"$output")" = red:web:eth1 ]
	run ctl container check web
	[ "$status" -eq 0 ]
	run ctl container ls
	[[ "${lines[1]}" =~ ^web\ +/run/netns/web\ +blue,red\ +10.66.0.2/24,10.67.0.2/24$ ]]
	# the same container on the same network again is refused
	run ctl container add web --net blue
	[ "$status" -eq 1 ]
	# a network in use cannot be removed
	run ctl network rm blue
	[ "$status" -eq 1 ]
	run ctl container del web
	[ "$status" -eq 0 ]
	run ctl endpoints --json
	[ "$output" = "[]" ]
	! ip netns list | grep -q web || false
	[ ! -d "$NETD_CACHE_DIR/web" ]
	run ctl container del web
	[ "$status" -eq 1 ]
	run ctl network rm blue
	[ "$status" -eq 0 ]
	run ctl status
	[[ "$output" == *"endpoints  0"* ]]
}

@test "container add with the reference bridge + host-local; a failing chain leaves nothing behind" {
	netd_start "$D"
	mkdir -p "$NETD_CNI_CONF_DIR"
	cat >"$NETD_CNI_CONF_DIR/ref.conflist" <<-EOF
	{"cniVersion":"1.0.0","name":"ref","plugins":[
	 {"type":"bridge","bridge":"refbr0","isGateway":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.55.0.0/24"}]]}},
	 {"type":"netd-endpoint","socket":"$D/netd.sock","capabilities":{"aliases":true}}]}
	EOF
	cat >"$NETD_CNI_CONF_DIR/broken.conflist" <<-EOF
	{"cniVersion":"1.0.0","name":"broken","plugins":[
	 {"type":"bridge","bridge":"brokbr0","ipam":{"type":"host-local","ranges":[[{"subnet":"10.56.0.0/24"}]]}},
	 {"type":"netd-endpoint","socket":"$BATS_TEST_TMPDIR/nobody-home.sock"}]}
	EOF
	run ctl container add c1 --net ref --alias one
	[ "$status" -eq 0 ]
	run netd_curl "$D" http://netd/v1/endpoints/ref:c1:eth0
	[ "$(jq -c .aliases <<<"${lines[0]}")" = '["one"]' ]
	[ "$(jq -c .ips <<<"${lines[0]}")" = '["10.55.0.2/24"]' ]
	# ref is attached, broken fails (netd-endpoint cannot reach its netd): all or nothing
	run ctl container add c2 --net ref,broken
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"netd is not running"*"(code 11)"* ]]
	! ip netns list | grep -q c2 || false
	run netd_curl "$D" http://netd/v1/endpoints/ref:c2:eth0
	[ "${lines[-1]}" = 404 ]
	[ ! -e /var/lib/cni/networks/broken/10.56.0.2 ]
	[ ! -e /var/lib/cni/networks/ref/10.55.0.3 ]
	run ctl container del c1
	[ "$status" -eq 0 ]
	[ ! -e /var/lib/cni/networks/ref/10.55.0.2 ]
}

@test "usage errors exit 2" {
	run ctl
	[ "$status" -eq 2 ]
	run ctl frobnicate
	[ "$status" -eq 2 ]
	run ctl container add
	[ "$status" -eq 2 ]
	run ctl container add x --net a -p 99999:1
	[ "$status" -eq 2 ]
	run ctl status
	[ "$status" -eq 1 ]
	[[ "$output" == *"netd is not running (connect $D/netd.sock"* ]]
}
