#!/bin/sh
# The demo's body (scripts/demo runs it in a private host namespace, so the
# bridges, the nftables tables, /run/netns and netd's state vanish with it):
# the Compose walkthrough of docs/guide.md, built by scripts/lib/walkthrough.sh
# as tests/integration/walkthrough.bats builds it, then what a user checks on
# day one: names resolving, ports answering, isolation holding, egress, all
# of it after a firewall reload, and nothing left after the clean-up.
# $1 = the build directory.
set -e
WT_BUILD=$1
WT_SRC=$(cd "$(dirname "$0")/../.." && pwd)
WT_DIR=$(mktemp -d)
WT_SHOW=1
. "$WT_SRC/scripts/lib/walkthrough.sh"
trap 'wt_stop; rm -rf "$WT_DIR"' EXIT
failed=0

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# works NETNS CMD...: shows "[NETNS]$ CMD" and its output; the demo fails if CMD does
works() {
	ns=$1
	shift
	echo "[$ns]\$ $*"
	if [ "$ns" = host ]; then out=$("$@" 2>&1); else out=$(ip netns exec "$ns" "$@" 2>&1); fi ||
		{ echo "$out"; echo "  ^ FAILED: this should have worked"; failed=1; return 0; }
	echo "$out" | sed 's/^/  /'
}

# fails NETNS WHY CMD...: shows CMD and that it got nothing, because WHY
fails() {
	ns=$1 why=$2
	shift 2
	echo "[$ns]\$ $*"
	if [ "$ns" = host ]; then out=$("$@" 2>&1); else out=$(ip netns exec "$ns" "$@" 2>&1); fi &&
		{ echo "$out"; echo "  ^ FAILED: this should not have worked ($why)"; failed=1; return 0; }
	echo "  nothing: $why"
}

# echo.py (tests/harness) asks a TCP port and prints the answer
PATH=$WT_SRC/tests/harness:$PATH
ECHO=echo.py

wt_init

step "start netd (API on /run/netd/netd.sock)"
wt_netd_start
wt_run netdctl status

step "three networks: each a CNI conflist of netd-bridge + netd-ipam + netd-endpoint"
wt_networks
wt_run netdctl network ls

step "four containers (network namespaces); web on all three networks"
wt_containers
wt_run netdctl endpoints

step "their services: nginx (HTTP :80), web (HTTP :8000), db (:3306), redis (:6379)"
wt_resolv
wt_outside
wt_servers
echo "each container's resolv.conf says: $(cat /etc/netns/web/resolv.conf) (netd's resolver)"
echo "'out' is another machine, $WT_OUT; the host is $WT_OUT_HOST on its side"

step "names: web finds db and redis, nginx finds web; nginx cannot see db or redis"
works web getent hosts db
works web getent hosts redis
works nginx getent hosts web
fails nginx "nginx shares no network with db" getent hosts db
fails nginx "nginx shares no network with redis" getent hosts redis

step "services by name (db and redis answer with the address they saw)"
works web "$ECHO" tcp db 3306
works web "$ECHO" tcp redis 6379
works nginx curl -sf -m 3 http://web:8000/

step "published ports, from the host (127.0.0.1 and its address) and from another machine"
works host curl -sf -m 3 http://127.0.0.1:18080/
works host curl -sf -m 3 "http://$WT_OUT_HOST:18080/"
works host "$ECHO" tcp 127.0.0.1 13306
works out "$ECHO" tcp "$WT_OUT_HOST" 13306
works out "$ECHO" tcp "$WT_OUT_HOST" 16379
fails out "web's 8000 is not published" "$ECHO" tcp "$WT_OUT_HOST" 8000
fails host "web's 8000 is not published" "$ECHO" tcp 127.0.0.1 8000

step "isolation: nginx reaches neither db nor redis by address; nor does another machine"
DB=$(wt_ip db db_network)
REDIS=$(wt_ip redis redis_network)
fails nginx "db_network is isolated from nginx_network" "$ECHO" tcp "$DB" 3306
fails nginx "redis_network is isolated from nginx_network" "$ECHO" tcp "$REDIS" 6379
fails out "only published ports are reachable from outside" "$ECHO" tcp "$DB" 3306

step "egress: every container reaches a server beyond the host, masqueraded as $WT_OUT_HOST"
for c in $WT_CONTAINERS; do works "$c" "$ECHO" tcp "$WT_OUT" 80; done

step "hairpin: web reaches nginx through the host's published port"
works web curl -sf -m 3 "http://$WT_OUT_HOST:18080/"

step "a firewall reload (nft flush ruleset): netd puts its tables and the plugins' back"
wt_run nft flush ruleset
for i in $(seq 40); do nft list table inet netd_cni >/dev/null 2>&1 && break; sleep 0.05; done
sleep 0.2
works out curl -sf -m 3 "http://$WT_OUT_HOST:18080/"
works web "$ECHO" tcp db 3306
fails nginx "db_network is still isolated from nginx_network" "$ECHO" tcp "$DB" 3306
works db "$ECHO" tcp "$WT_OUT" 80

step "clean-up"
wt_down
echo "network namespaces left: $(ip netns list | wc -l)"
echo "veths and bridges left: $(ip -o link show type veth | wc -l) $(ip -o link show type bridge | wc -l)"
echo "conflists left: $(ls /etc/cni/net.d | wc -l)"
echo "published ports left: $(nft -j list map inet netd ports4 | jq '[.nftables[].map.elem // empty | .[]] | length')"
wt_stop

if [ "$failed" = 0 ]; then
	echo "demo done: everything answered as it should"
else
	echo "demo done, with FAILED steps above" >&2
	exit 1
fi
