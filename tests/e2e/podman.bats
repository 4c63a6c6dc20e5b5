#!/usr/bin/env bats
# e2e: podman 4.3 with its CNI backend runs containers on netd-bridge +
# netd-ipam networks. Private config and storage, inside the isolated host.
#
# The networks are what `podman network create` writes for this backend
# (cniVersion 0.4.0: bridge with isGateway, ipMasq, hairpinMode; host-local
# with routes [{"dst":"0.0.0.0/0"}] and a ranges gateway; then portmap,
# firewall, tuning), with only the bridge and IPAM types swapped for ours, as
# a user would; portmap, firewall and tuning are the reference plugins.
#
# "out" is a netns beyond the host (192.0.2.2, the host is 192.0.2.1 on its
# side) with an HTTP server: what the containers reach on egress, and where a
# published port is asked from. It has no route to the container subnets.

load ../harness/lib
bats_require_minimum_version 1.5.0

setup_file() {
	command -v podman >/dev/null || skip "podman is not installed"
	[ -x /bin/busybox ] || skip "busybox-static is not installed"
	for p in portmap firewall tuning; do [ -x "$REF_CNI_DIR/$p" ] || skip "reference plugin $p is not installed"; done
	export W=$BATS_FILE_TMPDIR/podman
	mkdir -p "$W"/{netconf,plugins,tmp,img/bin,img/www,www}
	for p in "$NETD_PLUGIN_DIR"/netd-*; do ln -sf "$(readlink -f "$p")" "$W/plugins/"; done
	for p in portmap firewall tuning; do ln -sf "$REF_CNI_DIR/$p" "$W/plugins/"; done
	cat > "$W/containers.conf" <<-EOC
	[network]
	network_backend = "cni"
	network_config_dir = "$W/netconf"
	cni_plugin_dirs = ["$W/plugins"]
	[engine]
	runtime = "runc"
	cgroup_manager = "cgroupfs"
	lock_type = "file"
	tmp_dir = "$W/tmp"
	events_logger = "file"
	events_logfile_path = "$W/events.log"
	[containers]
	default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]
	EOC
	pm network create --subnet 10.123.0.0/24 netd-e2e >/dev/null 2>&1
	pm network create --subnet 10.125.0.0/24 netd-e2f >/dev/null 2>&1
	for n in netd-e2e netd-e2f; do
		f=$W/netconf/$n.conflist
		jq '.plugins[0].type = "netd-bridge" | .plugins[0].ipam.type = "netd-ipam"' "$f" > "$f.new"
		mv "$f.new" "$f"
	done
	# the shape is podman's own
	jq -e '.cniVersion == "0.4.0" and ([.plugins[].type] == ["netd-bridge","portmap","firewall","tuning"])
	       and .plugins[0].isGateway and .plugins[0].ipMasq and .plugins[0].hairpinMode
	       and .plugins[0].ipam.routes == [{"dst":"0.0.0.0/0"}] and .plugins[0].ipam.ranges[0][0].gateway == "10.123.0.1"
	       and (.plugins[0] | has("isDefaultGateway") | not)' "$W/netconf/netd-e2e.conflist" >/dev/null
	export BR1 BR2
	BR1=$(jq -r '.plugins[0].bridge' "$W/netconf/netd-e2e.conflist")
	BR2=$(jq -r '.plugins[0].bridge' "$W/netconf/netd-e2f.conflist")

	cp /bin/busybox "$W/img/bin/busybox"
	for a in sh ip ping sleep cat hostname nslookup wget timeout httpd; do ln -sf busybox "$W/img/bin/$a"; done
	echo "hello from web" > "$W/img/www/index.html"
	tar -C "$W/img" -cf "$W/img.tar" .
	pm import "$W/img.tar" localhost/netd-e2e:latest >/dev/null

	ip netns add out
	ip -n out link set lo up
	ip link add vout type veth peer name eth0 netns out
	ip addr add 192.0.2.1/24 dev vout
	ip link set vout up
	ip -n out addr add 192.0.2.2/24 dev eth0
	ip -n out link set eth0 up
	echo "hello from out" > "$W/www/index.html"
	# bats waits for whatever holds its fd 3: the server must not
	ip netns exec out busybox httpd -f -p 8080 -h "$W/www" >/dev/null 2>&1 3>&- &
	echo $! > "$W/httpd.pid"
}

pm() {
	CONTAINERS_CONF=$W/containers.conf podman --root "$W/storage" --runroot "$W/run" --storage-driver vfs "$@"
}

teardown_file() {
	[ -n "${W:-}" ] || return 0
	kill "$(cat "$W/httpd.pid")" 2>/dev/null || true
	pm rm -af -t 0 >/dev/null 2>&1 || true
	pm rmi -af >/dev/null 2>&1 || true
}

@test "podman runs two containers on a netd network; they get addresses and ping each other" {
	pm run -d --name web --network netd-e2e localhost/netd-e2e sleep 300
	pm run -d --name db --network netd-e2e localhost/netd-e2e sleep 300
	web_ip=$(pm exec web ip -4 -o addr show eth0 | awk '{print $4}')
	db_ip=$(pm exec db ip -4 -o addr show eth0 | awk '{print $4}')
	[[ $web_ip == 10.123.0.* ]]
	[[ $db_ip == 10.123.0.* ]]
	[ "$web_ip" != "$db_ip" ]
	pm exec web ping -c1 -W2 "${db_ip%/*}"
	pm exec db ping -c1 -W2 "${web_ip%/*}"
	pm exec web ping -c1 -W2 10.123.0.1
	# podman's view of the address matches the kernel's (it came from our result)
	[ "$(pm inspect web --format '{{(index .NetworkSettings.Networks "netd-e2e").IPAddress}}')" = "${web_ip%/*}" ]
	ls /var/lib/cni/networks/netd-e2e/"${web_ip%/*}"
	pm rm -f -t 0 web db
	# DEL through podman released everything
	[ -z "$(ls /var/lib/cni/networks/netd-e2e | grep -v -e lock -e last_reserved)" ]
	[ "$(ip -o link show master "$BR1" | wc -l)" -eq 0 ]
	! nft list table inet netd_cni | grep -q 10.123.0 || false
}

@test "podman: a container finds another by name and by alias through netd's resolver, nothing configured by hand" {
	N=$BATS_TEST_TMPDIR/netd
	mkdir -p "$N"
	"$NETD_BUILD/netd/netd" --socket "$N/netd.sock" --state-dir "$N/state" 2>"$N/log" &
	echo $! >"$N/pid"
	for i in $(seq 100); do [ -S "$N/netd.sock" ] && break; sleep 0.05; done
	cat > "$W/netconf/netd-dns.conflist" <<-EOC
	{"cniVersion":"1.0.0","name":"netd-dns","plugins":[
	 {"type":"netd-bridge","bridge":"netddns0","isGateway":true,"ipMasq":true,
	  "ipam":{"type":"netd-ipam","ranges":[[{"subnet":"10.124.0.0/24"}]]}},
	 {"type":"netd-endpoint","socket":"$N/netd.sock","capabilities":{"aliases":true}}]}
	EOC
	pm run -d --name db --network netd-dns --network-alias database localhost/netd-e2e sleep 300
	db_ip=$(pm exec db ip -4 -o addr show eth0 | awk '{print $4}')
	db_ip=${db_ip%/*}
	# podman wrote the resolver from our result, first
	[ "$(pm exec db sh -c 'grep -m1 ^nameserver /etc/resolv.conf')" = "nameserver 127.0.0.11" ]
	run pm run --rm --name web --network netd-dns localhost/netd-e2e nslookup db
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Address: $db_ip"* ]]
	run pm run --rm --name web2 --network netd-dns localhost/netd-e2e nslookup database
	[[ "$output" == *"Address: $db_ip"* ]]
	pm rm -f -t 0 db
	kill "$(cat "$N/pid")"
	wait "$(cat "$N/pid")" 2>/dev/null || true
	rm -f "$W/netconf/netd-dns.conflist"
}

# defaults NAME: the container's default routes (busybox ip ignores "show default")
defaults() { pm exec "$1" ip route | grep '^default' | sed 's/ *$//'; }

# egress NAME: the container reaches the server in "out", through its gateway
egress() { [ "$(pm exec "$1" timeout 5 wget -q -O - http://192.0.2.2:8080/)" = "hello from out" ]; }

@test "podman: a container reaches a server beyond the host through its gateway" {
	pm run -d --name eg --network netd-e2e localhost/netd-e2e sleep 300
	[ "$(defaults eg)" = "default via 10.123.0.1 dev eth0" ]
	egress eg
	pm rm -f -t 0 eg
}

@test "podman: a published port (-p) answers from outside the host" {
	pm run -d --name web --network netd-e2e -p 8080:80 localhost/netd-e2e httpd -f -p 80 -h /www
	for i in $(seq 50); do
		out=$(ip netns exec out timeout 2 busybox wget -q -O - http://192.0.2.1:8080/ 2>/dev/null) && break
		sleep 0.2
	done
	[ "$out" = "hello from web" ]
	pm rm -f -t 0 web
}

@test "podman: a container on two networks has egress through each; after a disconnect, through the other" {
	pm run -d --name multi --network netd-e2e,netd-e2f localhost/netd-e2e sleep 300
	[ "$(defaults multi | wc -l)" = 2 ]
	defaults multi | grep -q "via 10.123.0.1 dev"
	defaults multi | grep -q "via 10.125.0.1 dev"
	egress multi
	pm network disconnect netd-e2e multi
	[ "$(defaults multi | wc -l)" = 1 ]
	defaults multi | grep -q "via 10.125.0.1 dev"
	egress multi
	pm network connect netd-e2e multi
	[ "$(defaults multi | wc -l)" = 2 ]
	pm network disconnect netd-e2f multi
	defaults multi | grep -q "via 10.123.0.1 dev"
	egress multi
	pm rm -f -t 0 multi
	[ "$(ip -o link show master "$BR1" | wc -l)" -eq 0 ]
	[ "$(ip -o link show master "$BR2" | wc -l)" -eq 0 ]
}
