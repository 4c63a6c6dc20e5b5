#!/usr/bin/env bats
# The Compose walkthrough of docs/guide.md, as a user runs it on day one
# (scripts/lib/walkthrough.sh builds it; scripts/demo shows the same): three
# bridge networks made by netdctl, nginx, web, db and redis on them with real
# servers, and one check per thing the user expects: names, reachability by
# name, isolation, published ports from the host and from another machine,
# masquerade to the outside, hairpin, all of it again after a firewall
# reload (nft flush ruleset), and nothing left after the tear-down.

: "${NETD_BUILD:?NETD_BUILD must point at the cmake build directory}"
: "${NETD_SRC:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
export WT_BUILD=$NETD_BUILD WT_SRC=$NETD_SRC WT_DIR=$BATS_FILE_TMPDIR/wt
. "$NETD_SRC/scripts/lib/walkthrough.sh"

setup_file() {
	wt_up >"$BATS_FILE_TMPDIR/up.log" 2>&1 || { cat "$BATS_FILE_TMPDIR/up.log" >&3; return 1; }
}

teardown_file() {
	wt_down >/dev/null 2>&1 || true
	wt_stop
}

# answered NETNS HOST PORT NAME [PEER]: NAME's server answered (and saw PEER)
answered() {
	local got want=$4${5:+ $5}
	got=$(wt_ask "$1" "$2" "$3") || { echo "no answer from $2:$3 in $1 (wanted $want)"; return 1; }
	if [ -n "${5:-}" ]; then [ "$got" = "$want" ]; else [ "${got%% *}" = "$4" ]; fi ||
		{ echo "$2:$3 from $1: answered '$got', wanted '$want'"; return 1; }
}

# silent NETNS HOST PORT: nothing answers there
silent() {
	local got
	if got=$(wt_ask "$1" "$2" "$3" 2>/dev/null); then
		echo "$2:$3 from $1 answered '$got', expected nothing"
		return 1
	fi
}

@test "web resolves db and redis by name, with the C library and with dig" {
	ip netns exec web getent hosts db | grep -Eqx "$(wt_ip db db_network)[[:space:]]+db"
	ip netns exec web getent hosts redis | grep -Eqx "$(wt_ip redis redis_network)[[:space:]]+redis"
	[ "$(ip netns exec web dig +short +tries=1 +time=5 @127.0.0.11 db)" = "$(wt_ip db db_network)" ]
	[ "$(ip netns exec web dig +short +tries=1 +time=5 @127.0.0.11 redis)" = "$(wt_ip redis redis_network)" ]
}

@test "web reaches db:3306 and redis:6379 by name, through its own interface on each network" {
	answered web db 3306 db "$(wt_ip web db_network)"
	answered web redis 6379 redis "$(wt_ip web redis_network)"
}

@test "nginx reaches web:8000 by name" {
	[ "$(wt_get nginx http://web:8000/)" = "hello from web" ]
}

@test "nginx can neither resolve db or redis nor reach them, by name or by address" {
	! ip netns exec nginx getent hosts db || false
	! ip netns exec nginx getent hosts redis || false
	[ "$(ip netns exec nginx dig +tries=1 +time=5 @127.0.0.11 db | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')" = NXDOMAIN ]
	silent nginx db 3306
	silent nginx redis 6379
	silent nginx "$(wt_ip db db_network)" 3306
	silent nginx "$(wt_ip redis redis_network)" 6379
	# and back: db does not reach web's server on nginx_network's address
	silent db "$(wt_ip web nginx_network)" 8000
}

@test "published ports answer from the host, on 127.0.0.1 and on its own address" {
	for a in 127.0.0.1 "$WT_OUT_HOST"; do
		[ "$(wt_get host "http://$a:18080/")" = "hello from nginx" ]
		answered host "$a" 13306 db
		answered host "$a" 16379 redis
	done
}

@test "published ports answer another machine routing through the host's address, which sees its own address" {
	[ "$(wt_get out "http://$WT_OUT_HOST:18080/")" = "hello from nginx" ]
	answered out "$WT_OUT_HOST" 13306 db "$WT_OUT"
	answered out "$WT_OUT_HOST" 16379 redis "$WT_OUT"
}

@test "an unpublished port does not answer, from the host or from another machine" {
	# web listens on 8000, which is not published
	silent host 127.0.0.1 8000
	silent host "$WT_OUT_HOST" 8000
	silent out "$WT_OUT_HOST" 8000
	# a published host port's neighbour
	silent out "$WT_OUT_HOST" 13307
	# nor does a container's port when the other machine routes to it directly
	silent out "$(wt_ip db db_network)" 3306
	silent out "$(wt_ip web nginx_network)" 8000
}

@test "every container reaches a server outside all its networks, masqueraded behind the host's address" {
	for c in $WT_CONTAINERS; do
		answered "$c" "$WT_OUT" 80 out "$WT_OUT_HOST"
	done
}

@test "hairpin: web reaches nginx through the host's published 18080; db, on another network, too" {
	[ "$(wt_get web "http://$WT_OUT_HOST:18080/")" = "hello from nginx" ]
	[ "$(wt_get web http://10.89.1.1:18080/)" = "hello from nginx" ]
	[ "$(wt_get db "http://$WT_OUT_HOST:18080/")" = "hello from nginx" ]
	answered nginx "$WT_OUT_HOST" 13306 db
}

@test "after nft flush ruleset (a firewall reload) netd puts it all back: ports, isolation, masquerade" {
	nft flush ruleset
	for i in $(seq 40); do
		nft list table inet netd >/dev/null 2>&1 && nft list table inet netd_cni >/dev/null 2>&1 && break
		sleep 0.05
	done
	sleep 0.2
	answered web db 3306 db "$(wt_ip web db_network)"
	[ "$(wt_get nginx http://web:8000/)" = "hello from web" ]
	[ "$(wt_get out "http://$WT_OUT_HOST:18080/")" = "hello from nginx" ]
	answered host 127.0.0.1 13306 db
	silent nginx "$(wt_ip db db_network)" 3306
	silent out "$(wt_ip db db_network)" 3306
	for c in $WT_CONTAINERS; do
		answered "$c" "$WT_OUT" 80 out "$WT_OUT_HOST"
	done
	[ "$(wt_get web "http://$WT_OUT_HOST:18080/")" = "hello from nginx" ]
}

@test "tearing down through netdctl leaves nothing behind" {
	wt_down
	[ -z "$(ip netns list | grep -v '^out')" ]
	[ -z "$(ip -o link show type veth)" ]
	[ -z "$(ip -o link show type bridge)" ]
	[ -z "$(ls /etc/cni/net.d)" ]
	[ -z "$(find /var/lib/cni/networks -type f ! -name lock ! -name 'last_reserved_ip*' 2>/dev/null)" ]
	[ "$(nft -j list map inet netd ports4 | jq '[.nftables[].map.elem // empty | .[]] | length')" = 0 ]
}
