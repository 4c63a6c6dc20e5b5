#!/bin/sh
# Demo body; see scripts/demo. $1 = build directory.
set -e
B=$1
BIN=$(mktemp -d)
ln -s "$B"/plugins/bridge/netd-bridge "$B"/plugins/ipam/netd-ipam "$BIN"/
export CNI_PATH=$BIN
CONF='{"cniVersion":"1.1.0","name":"demo","type":"netd-bridge","bridge":"netd0",
 "isGateway":true,"isDefaultGateway":true,"ipMasq":true,
 "ipam":{"type":"netd-ipam","ranges":[[{"subnet":"10.42.0.0/24"}],[{"subnet":"fd42::/64"}]]}}'

cni() { # cni CMD CONTAINER
	echo "$CONF" | CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$2 CNI_IFNAME=eth0 "$BIN"/netd-bridge
}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "two containers: network namespaces web and db"
ip netns add web
ip netns add db
step "ADD web and db to network 'demo' (netd-bridge + netd-ipam, dual stack)"
cni ADD web | jq -c '{ips: [.ips[].address], interfaces: [.interfaces[].name]}'
cni ADD db | jq -c '{ips: [.ips[].address], interfaces: [.interfaces[].name]}'
step "their addresses"
for c in web db; do echo "$c:"; ip netns exec $c ip -br addr show dev eth0; done
DB4=$(ip netns exec db ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
DB6=$(ip netns exec db ip -6 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1)
step "web pings db ($DB4 and $DB6) and the gateway"
ip netns exec web ping -c2 -W2 "$DB4"
ip netns exec web ping -6 -c2 -W2 "$DB6"
ip netns exec web ping -c1 -W2 10.42.0.1
step "on the host: bridge netd0 and its ports, masquerade in table inet netd_cni"
ip -br link show master netd0
nft list table inet netd_cni | head -20
step "clean-up: DEL both, then nothing is left"
cni DEL web
cni DEL db
ip netns del web
ip netns del db
echo "ports left on netd0: $(ip -o link show master netd0 | wc -l)"
echo "reservations left: $(ls /var/lib/cni/networks/demo | grep -cv -e lock -e last_reserved || true)"
echo "masquerade elements left: $(nft -j list set inet netd_cni masq4 | jq '[.nftables[].set.elem // empty | .[]] | length')"
ip link del netd0
echo "demo done"
