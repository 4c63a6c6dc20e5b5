#!/usr/bin/env bats
# netdctl round trips: networks as conflists, containers through real plugin
# chains (netd-bridge + netd-ipam + netd-endpoint, and the reference bridge +
# host-local + netd-endpoint), endpoints seen by netd.

load netd_lib

setup() {
	D=$BATS_TEST_TMPDIR/n
	BIN=$BATS_TEST_TMPDIR/bin
	mkdir -p "$BIN"
	# netd-overlay is left out on purpose: a driver that is not installed
	for p in bridge macvlan ipam endpoint; do
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

@test "network create: --subnet twice makes a dual-stack network; each --gateway and --ip-range goes to its subnet" {
	[ -x "$BIN/netd-bridge" ] && [ -x "$BIN/netd-ipam" ] || skip "netd-bridge/netd-ipam not built"
	netd_start "$D"
	ctl network create --subnet 10.66.0.0/24 --subnet fd00:66::/64 --gateway fd00:66::fe --ip-range 10.66.0.128/25 ds
	f=$NETD_CNI_CONF_DIR/ds.conflist
	[ "$(jq -c '.plugins[0].ipam.ranges' "$f")" = '[[{"subnet":"10.66.0.0/24","rangeStart":"10.66.0.128","rangeEnd":"10.66.0.255"}],[{"subnet":"fd00:66::/64","gateway":"fd00:66::fe"}]]' ]
	[ "$(jq -c '.plugins[0].ipam.routes' "$f")" = '[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]' ]
	run ctl network ls
	[[ "${lines[1]}" == "ds "*"10.66.0.0/24,fd00:66::/64"* ]]
	# a container gets an address and a default route of each family
	run ctl container add c --net ds
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'ds\teth0\t10.66.0.128/24,fd00:66::1/64')" ]
	ip netns exec c ip -4 route | grep -q '^default via 10.66.0.1 dev eth0'
	ip netns exec c ip -6 route | grep -q '^default via fd00:66::fe dev eth0'
	ctl container del c
	# a gateway or range that fits no subnet, or two for one subnet: usage errors, nothing written
	run ctl network create --subnet 10.67.0.0/24 --gateway 10.68.0.1 x
	[ "$status" -eq 2 ]
	[[ "$output" == *"--gateway '10.68.0.1' is not an address in 10.67.0.0/24"* ]]
	run ctl network create --subnet 10.67.0.0/24 --subnet fd00:67::/64 --gateway 10.67.0.1 --gateway 10.67.0.2 x
	[ "$status" -eq 2 ]
	[[ "$output" == *"--gateway '10.67.0.1' and '10.67.0.2' are both in 10.67.0.0/24"* ]]
	run ctl network create --subnet 10.67.0.0/24 --ip-range fd00:67::/80 x
	[ "$status" -eq 2 ]
	[[ "$output" == *"--ip-range 'fd00:67::/80' is not a CIDR inside 10.67.0.0/24"* ]]
	run ctl network create --subnet 10.1.0.0/24 --subnet 10.2.0.0/24 --subnet 10.3.0.0/24 --subnet 10.4.0.0/24 --subnet 10.5.0.0/24 x
	[ "$status" -eq 2 ]
	[ ! -e "$NETD_CNI_CONF_DIR/x.conflist" ]
}

@test "container add/check/ls/del with netd-bridge + netd-ipam + netd-endpoint, registered in netd" {
	[ -x "$BIN/netd-bridge" ] && [ -x "$BIN/netd-ipam" ] || skip "netd-bridge/netd-ipam not built"
	netd_start "$D"
	ctl network create --subnet 10.66.0.0/24 blue
	ctl network create --subnet 10.67.0.0/24 red
	# a link names a container netd knows: db, registered by hand and gone again below
	ip netns add db
	netd_curl "$D" -XPOST -d '{"containerID":"db","name":"db","network":"blue","netns":"/run/netns/db","ips":["10.66.0.200/24"]}' \
		http://netd/v1/endpoints >/dev/null
	run ctl container add web --net blue,red -p 8080:80 -p 5353:53/udp --alias www --link db:database
	netd_curl "$D" -XDELETE http://netd/v1/endpoints/blue:db:eth0 >/dev/null
	ip netns del db
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

@test "network rm removes the bridge network create made, once no container uses it; never a bridge it did not name" {
	[ -x "$BIN/netd-bridge" ] && [ -x "$BIN/netd-ipam" ] || skip "netd-bridge/netd-ipam not built"
	netd_start "$D"
	ctl network create --subnet 10.68.0.0/24 blue
	ctl container add c1 --net blue >/dev/null
	ip -d link show nd-blue | grep -q bridge
	ctl container del c1
	ip link show nd-blue # deleting the last container leaves the bridge
	# a port that is not netdctl's (a runtime's container): still in use
	ip link add d0 type veth peer name d1
	ip link set d0 master nd-blue
	run ctl network rm blue
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"network 'blue' is in use: bridge nd-blue still has 1 port (d0)"* ]]
	[ -e "$NETD_CNI_CONF_DIR/blue.conflist" ]
	ip link del d0
	run ctl network rm blue
	[ "$status" -eq 0 ]
	! ip link show nd-blue 2>/dev/null || false
	[ ! -e "$NETD_CNI_CONF_DIR/blue.conflist" ]
	# a network that never had a container: nothing to remove but the conflist
	ctl network create --subnet 10.68.1.0/24 idle
	run ctl network rm idle
	[ "$status" -eq 0 ]
	# a bridge given with -o bridge= is the operator's: it stays
	ctl network create --subnet 10.68.2.0/24 -o bridge=br-keep keep
	ctl container add c2 --net keep >/dev/null
	ctl container del c2
	run ctl network rm keep
	[ "$status" -eq 0 ]
	ip -d link show br-keep | grep -q bridge
}

@test "bridge names never collide: long names sharing 12 characters get their own bridges; a taken bridge is refused" {
	[ -x "$BIN/netd-bridge" ] && [ -x "$BIN/netd-ipam" ] || skip "netd-bridge/netd-ipam not built"
	netd_start "$D"
	ctl network create --subnet 10.69.1.0/24 averylongname1
	ctl network create --subnet 10.69.2.0/24 averylongname2
	ctl network create --subnet 10.69.3.0/24 averylongnam # 12 characters: the readable form
	b1=$(jq -r '.plugins[0].bridge' "$NETD_CNI_CONF_DIR/averylongname1.conflist")
	b2=$(jq -r '.plugins[0].bridge' "$NETD_CNI_CONF_DIR/averylongname2.conflist")
	b3=$(jq -r '.plugins[0].bridge' "$NETD_CNI_CONF_DIR/averylongnam.conflist")
	echo "$b1 $b2 $b3"
	[ "$b3" = nd-averylongnam ]
	[ "$b1" != "$b2" ] && [ "$b1" != "$b3" ] && [ "$b2" != "$b3" ]
	[ "${#b1}" -le 15 ] && [ "${#b2}" -le 15 ]
	[[ "$b1" == nd_aver* ]]
	# the same name always gives the same bridge (another host, a re-create)
	NETD_CNI_CONF_DIR=$BATS_TEST_TMPDIR/other ctl network create --subnet 10.69.1.0/24 averylongname1
	[ "$(jq -r '.plugins[0].bridge' "$BATS_TEST_TMPDIR/other/averylongname1.conflist")" = "$b1" ]
	# containers on both land on different bridges, each with its own gateway
	ctl container add x1 --net averylongname1 >/dev/null
	ctl container add x2 --net averylongname2 >/dev/null
	ip -4 -br addr show "$b1" | grep -q 10.69.1.1/24
	ip -4 -br addr show "$b2" | grep -q 10.69.2.1/24
	! ip -4 -br addr show "$b1" | grep -q 10.69.2.1 || false
	# one bridge for two networks is refused, naming the holder
	run ctl network create --subnet 10.69.4.0/24 -o bridge="$b1" thief
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bridge $b1 is already the bridge of network 'averylongname1'"* ]]
	[ ! -e "$NETD_CNI_CONF_DIR/thief.conflist" ]
	ctl container del x1
	ctl container del x2
}

@test "network create refuses a driver whose plugin is not installed, listing those that are" {
	run ctl network create -d overlay --subnet 10.70.0.0/24 ov
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"driver 'overlay' is not installed: no netd-overlay in $BIN (installed drivers: bridge, macvlan)"* ]]
	[ ! -e "$NETD_CNI_CONF_DIR/ov.conflist" ]
	run ctl network create -d nope x
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown driver 'nope' (installed drivers: bridge, macvlan)"* ]]
	# installed: accepted
	cp "$NETD_BUILD/plugins/overlay/netd-overlay" "$BIN/"
	run ctl network create -d overlay --subnet 10.70.0.0/24 ov
	[ "$status" -eq 0 ]
	[ "$(jq -r '.plugins[0].type' "$NETD_CNI_CONF_DIR/ov.conflist")" = netd-overlay ]
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

@test "topology --dot draws netd's networks, containers, addresses, published ports and links; dot accepts it" {
	[ -x "$BIN/netd-bridge" ] && [ -x "$BIN/netd-ipam" ] || skip "netd-bridge/netd-ipam not built"
	netd_start "$D"
	ctl network create --subnet 10.66.0.0/24 front
	ctl network create --subnet 10.67.0.0/24 back
	ctl container add db --net back >/dev/null
	ctl container add web --net front,back -p 18080:80 -p 5353:53/udp --link db:database >/dev/null
	run ctl topology --dot
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "graph netd {" ]
	[[ "$output" == *'"net:front" [shape=ellipse'*'label="front\nbridge\n10.66.0.0/24"]'* ]]
	[[ "$output" == *'"net:back" [shape=ellipse'*'label="back\nbridge\n10.67.0.0/24"]'* ]]
	[[ "$output" == *'"ctr:web" -- "net:front" [label="eth0\n10.66.0.2/24"]'* ]]
	[[ "$output" == *'"ctr:web" -- "net:back" [label="eth1\n10.67.0.3/24"]'* ]]
	[[ "$output" == *'"ctr:db" -- "net:back" [label="eth0\n10.67.0.2/24"]'* ]]
	[[ "$output" == *'"host" -- "ctr:web" ['*'label="18080->80/tcp\n5353->53/udp"]'* ]]
	[[ "$output" == *'"ctr:web" -- "ctr:db" [style=dotted, dir=forward, label="database"]'* ]]
	# one box per container, however many networks it is on; no port edge for db
	[ "$(grep -c '^  "ctr:web" \[shape=box' <<<"$output")" -eq 1 ]
	! grep -q '"host" -- "ctr:db"' <<<"$output" || false
	if command -v dot >/dev/null; then
		svg=$(ctl topology --dot | dot -Tsvg)
		[[ "$svg" == *"<svg"* ]]
		[[ "$svg" == *"18080"*"80/tcp"* ]]
	fi
	# a range is one line as -p wrote it; what does not fit the label is counted
	ctl container add many --net front -p 7000-7999:7000-7999 $(for i in $(seq 0 2 198); do printf -- '-p %d:80 ' $((9000 + i)); done) >/dev/null
	label=$(ctl topology --dot | sed -n 's/^  "host" -- "ctr:many" \[.*label="\(.*\)"\];$/\1/p')
	[[ "$label" == '7000-7999->7000-7999/tcp\n9000->80/tcp\n9002->80/tcp\n'* ]]
	shown=$(grep -o '\\n' <<<"$label" | wc -l)
	more=$(sed -n 's/.*(\([0-9]*\) more)$/\1/p' <<<"$label")
	[ "$((shown - 1 + more))" -eq 100 ]
	ctl container del many
	ctl container del web
	ctl container del db
	run ctl topology
	[ "$status" -eq 0 ]
	! grep -q '"ctr:' <<<"$output" || false
	# netd down: a clear failure
	netd_stop "$D"
	run ctl topology --dot
	[ "$status" -eq 1 ]
	[[ "$output" == *"netd is not reachable"* ]]
	run ctl topology --svg
	[ "$status" -eq 2 ]
}
