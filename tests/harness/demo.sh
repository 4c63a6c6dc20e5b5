#!/bin/sh
# Demo body; see scripts/demo. $1 = build directory. Runs inside a private
# host namespace, so the bridge, the nftables tables, /run/netns and the state
# directories here vanish with it.
set -e
B=$1
BIN=$(mktemp -d)
ln -s "$B"/plugins/*/netd-* "$BIN"/
export CNI_PATH=$BIN
export PATH=$B/netd:$B/netd/ctl:$PATH

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { echo "\$ $*"; "$@"; }

step "start netd (state in /var/lib/netd, API on /run/netd/netd.sock)"
netd --log-level info 2>/tmp/netd-demo.log &
NETD=$!
for i in $(seq 50); do [ -S /run/netd/netd.sock ] && break; sleep 0.1; done
run netdctl status

step "a bridge network: netd-bridge + netd-ipam + netd-endpoint, written as a CNI conflist"
run netdctl network create --subnet 10.42.0.0/24 demo
run netdctl network ls

step "two containers (network namespaces) on it"
run netdctl container add web --net demo -p 8080:80 --alias www
run netdctl container add db --net demo --link web:frontend
run netdctl container ls

step "their addresses, as the kernel has them"
for c in web db; do echo "$c:"; ip netns exec $c ip -br addr show dev eth0; done
DB=$(ip netns exec db ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)

step "web pings db ($DB) and the gateway"
run ip netns exec web ping -c2 -W2 "$DB"
run ip netns exec web ping -c1 -W2 10.42.0.1

step "what netd knows, through netdctl and the raw API"
run netdctl endpoints
echo "\$ curl --unix-socket /run/netd/netd.sock http://netd/metrics"
curl -s --unix-socket /run/netd/netd.sock http://netd/metrics | grep -E '^netd_(endpoints|networks)'

step "netd restarts; containers keep working and their records are still there"
kill -TERM $NETD; wait $NETD || true
netd 2>>/tmp/netd-demo.log &
NETD=$!
for i in $(seq 50); do curl -s --unix-socket /run/netd/netd.sock http://netd/v1/status >/dev/null 2>&1 && break; sleep 0.1; done
run netdctl endpoints
ip netns exec web ping -c1 -W2 "$DB" >/dev/null && echo "web still reaches db"

step "clean-up"
run netdctl container del web
run netdctl container del db
run netdctl network rm demo
echo "network namespaces left: $(ip netns list | wc -l)"
echo "ports left on the bridge: $(ip -o link show type veth | wc -l)"
echo "reservations left: $(ls /var/lib/cni/networks/demo 2>/dev/null | grep -cv -e lock -e last_reserved || true)"
echo "masquerade elements left: $(nft -j list set inet netd_cni masq4 2>/dev/null | jq '[.nftables[].set.elem // empty | .[]] | length')"
kill -TERM $NETD; wait $NETD || true
echo "demo done"
