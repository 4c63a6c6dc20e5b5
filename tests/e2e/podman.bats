#!/usr/bin/env bats
# e2e: podman 4.3 with its CNI backend runs containers on netd networks.
# Private config and storage, inside the isolated host.
#
# The networks are what `podman network create` writes for this backend
# (cniVersion 0.4.0: bridge with isGateway, ipMasq, hairpinMode; host-local
# with routes [{"dst":"0.0.0.0/0"}] and a ranges gateway; then portmap,
# firewall, tuning), with the bridge and IPAM types swapped for ours and the
# reference portmap replaced by netd-endpoint (portMappings and aliases), as
# a user would: netd publishes the ports and answers names, and nothing else
# DNATs. firewall and tuning stay the reference plugins. One netd runs for
# the whole file.
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
	mkdir -p "$W/netd"
	"$NETD_BUILD/netd/netd" --socket "$W/netd/netd.sock" --state-dir "$W/netd/state" 2>"$W/netd/log" 3>&- &
	echo $! >"$W/netd/pid"
	for i in $(seq 100); do [ -S "$W/netd/netd.sock" ] && break; sleep 0.05; done
	netnet netd-e2e 10.123.0.0/24
	netnet netd-e2f 10.125.0.0/24
	# the shape is podman's own
	jq -e '.cniVersion == "0.4.0" and ([.plugins[].type] == ["netd-bridge","netd-endpoint","firewall","tuning"])
	       and .plugins[0].isGateway and .plugins[0].ipMasq and .plugins[0].hairpinMode
	       and .plugins[0].ipam.routes == [{"dst":"0.0.0.0/0"}] and .plugins[0].ipam.ranges[0][0].gateway == "10.123.0.1"
	       and (.plugins[0] | has("isDefaultGateway") | not)' "$W/netconf/netd-e2e.conflist" >/dev/null
	export BR1 BR2
	BR1=$(jq -r '.plugins[0].bridge' "$W/netconf/netd-e2e.conflist")
	BR2=$(jq -r '.plugins[0].bridge' "$W/netconf/netd-e2f.conflist")

	cp /bin/busybox "$W/img/bin/busybox"
	for a in sh ip ping sleep cat hostname nslookup wget timeout httpd; do ln -sf busybox "$W/img/bin/$a"; done
	echo "hello from web" > "$W/img/www/index.html"
	for c in nginx web db redis; do
		mkdir -p "$W/img/www/$c"
		echo "hello from $c" > "$W/img/www/$c/index.html"
	done
	tar -C "$W/img" -cf "$W/img.tar" .
	pm import "$W/img.tar" localhost/netd-e2e:latest >/dev/null

	ip netns add out
	ip -n out link set lo up
	ip link add vout type veth peer name eth0 netns out
	ip addr add 192.0.2.1/24 dev vout
	ip link set vout up
	ip -n out addr add 192.0.2.2/24 dev eth0
	ip addr add 2001:db8:2::1/64 dev vout nodad
	ip -n out addr add 2001:db8:2::2/64 dev eth0 nodad
	ip -n out link set eth0 up
	echo "hello from out" > "$W/www/index.html"
	# bats waits for whatever holds its fd 3: the server must not
	ip netns exec out busybox httpd -f -p 8080 -h "$W/www" >/dev/null 2>&1 3>&- &
	echo $! > "$W/httpd.pid"
}

# netnet NAME SUBNET [ARGS...]: a network as `podman network create` writes
# it (ARGS: more of its flags), with netd's bridge and IPAM, and netd-endpoint
# where the reference portmap was
netnet() {
	local f=$W/netconf/$1.conflist
	pm network create --subnet "$2" "${@:3}" "$1" >/dev/null
	jq --arg sock "$W/netd/netd.sock" '.plugins[0].type = "netd-bridge" | .plugins[0].ipam.type = "netd-ipam" |
		.plugins |= map(if .type == "portmap" then {type: "netd-endpoint", socket: $sock,
			capabilities: {portMappings: true, aliases: true}} else . end)' "$f" >"$f.new"
	mv "$f.new" "$f"
}

pm() {
	CONTAINERS_CONF=$W/containers.conf podman --root "$W/storage" --runroot "$W/run" --storage-driver vfs "$@"
}

teardown_file() {
	[ -n "${W:-}" ] || return 0
	kill "$(cat "$W/httpd.pid")" $(cat "$W/servers" 2>/dev/null) 2>/dev/null || true
	pm rm -af -t 0 >/dev/null 2>&1 || true
	pm rmi -af >/dev/null 2>&1 || true
	kill "$(cat "$W/netd/pid")" 2>/dev/null || true
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
	N=$W/netd
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

# get NAME URL: the page, as NAME's applications fetch it (getaddrinfo, so
# through the resolv.conf podman wrote)
get() { pm exec "$1" timeout 5 wget -q -O - "$2"; }

@test "podman: the Compose walkthrough: names, isolation and published ports, all through netd" {
	netnet nginx_network 10.89.1.0/24
	netnet db_network 10.89.2.0/24
	netnet redis_network 10.89.3.0/24
	img=localhost/netd-e2e
	pm run -d --name nginx --network nginx_network -p 18080:80 $img httpd -f -p 80 -h /www/nginx
	pm run -d --name web --network nginx_network,db_network,redis_network $img httpd -f -p 8000 -h /www/web
	pm run -d --name db --network db_network -p 13306:3306 $img httpd -f -p 3306 -h /www/db
	pm run -d --name redis --network redis_network -p 16379:6379 $img httpd -f -p 6379 -h /www/redis
	# podman wrote netd's resolver into every container, first
	for c in nginx web db redis; do
		[ "$(pm exec $c sh -c 'grep -m1 ^nameserver /etc/resolv.conf')" = "nameserver 127.0.0.11" ]
	done
	# web resolves and reaches db and redis by name; nginx reaches web by name
	[ "$(get web http://db:3306/)" = "hello from db" ]
	[ "$(get web http://redis:6379/)" = "hello from redis" ]
	[ "$(get nginx http://web:8000/)" = "hello from web" ]
	# nginx shares no network with db or redis: no name, no way through by address
	run pm exec nginx timeout 5 wget -q -O - http://db:3306/
	[ "$status" -ne 0 ]
	[[ "$output" == *"bad address"* ]]
	! get nginx http://redis:6379/ || false
	db_ip=$(pm inspect db --format '{{(index .NetworkSettings.Networks "db_network").IPAddress}}')
	[[ $db_ip == 10.89.2.* ]]
	! get nginx "http://$db_ip:3306/" || false
	get web "http://$db_ip:3306/"
	# published ports answer from the host (127.0.0.1 and its address) and from out
	[ "$(curl -sf -m 5 http://127.0.0.1:18080/)" = "hello from nginx" ]
	[ "$(curl -sf -m 5 http://127.0.0.1:13306/)" = "hello from db" ]
	[ "$(curl -sf -m 5 http://192.0.2.1:16379/)" = "hello from redis" ]
	[ "$(ip netns exec out timeout 5 busybox wget -q -O - http://192.0.2.1:18080/)" = "hello from nginx" ]
	[ "$(ip netns exec out timeout 5 busybox wget -q -O - http://192.0.2.1:13306/)" = "hello from db" ]
	# an unpublished port does not
	! ip netns exec out timeout 5 busybox wget -q -O - http://192.0.2.1:8000/ || false
	# hairpin: web through the host's published port to nginx
	[ "$(get web http://192.0.2.1:18080/)" = "hello from nginx" ]
	# egress from every container
	for c in nginx web db redis; do egress $c; done
	# netd alone published them: its map holds the three, nobody else DNATs
	[ "$(nft -j list map inet netd ports4 | jq '[.nftables[].map.elem // empty | .[]] | length')" = 3 ]
	! nft list ruleset | grep -qi -e CNI-HOSTPORT -e cni_hostport || false
	pm rm -f -t 0 nginx web db redis
	[ "$(nft -j list map inet netd ports4 | jq '[.nftables[].map.elem // empty | .[]] | length')" = 0 ]
	[ "$(curl -s --unix-socket "$W/netd/netd.sock" http://netd/v1/endpoints | jq length)" = 0 ]
}

# ns NAME HOST: busybox nslookup's "Address" lines for NAME, as container HOST asks
ns() { pm exec "$2" nslookup "$1" 2>&1 | sed -n '/^Name:/,$s/^Address: *//p'; }

@test "podman: --network-alias on podman's own network shape (0.4.0, firewall and tuning chained): names, aliases, PTR" {
	pm run -d --name pdb --network netd-e2e --network-alias database --network-alias sql localhost/netd-e2e sleep 300
	pm run -d --name pdb2 --network netd-e2e --network-alias sql localhost/netd-e2e sleep 300
	pm run -d --name pweb --network netd-e2e localhost/netd-e2e sleep 300
	db=$(pm inspect pdb --format '{{(index .NetworkSettings.Networks "netd-e2e").IPAddress}}')
	db2=$(pm inspect pdb2 --format '{{(index .NetworkSettings.Networks "netd-e2e").IPAddress}}')
	[[ $db == 10.123.0.* && $db2 == 10.123.0.* ]]
	[ "$(ns pdb pweb)" = "$db" ]
	[ "$(ns database pweb)" = "$db" ]
	[ "$(ns DataBase.netd-e2e pweb)" = "$db" ]
	# an alias two containers hold: both
	[ "$(ns sql pweb | sort | tr '\n' ' ')" = "$(printf '%s\n' "$db" "$db2" | sort | tr '\n' ' ')" ]
	# what applications see (getaddrinfo through the resolv.conf podman wrote)
	run pm exec pweb timeout 5 wget -O /dev/null http://database:1/
	[[ "$output" == *"Connecting to database:1 ($db:1)"* ]]
	# the address back to a name
	run pm exec pweb nslookup "$db"
	[[ "$output" == *"pdb.netd-e2e"* ]]
	pm rm -f -t 0 pdb pdb2 pweb
	# gone with the containers
	pm run -d --name pweb --network netd-e2e localhost/netd-e2e sleep 300
	[ -z "$(ns database pweb)" ]
	pm rm -f -t 0 pweb
}

@test "podman: a container on two networks resolves and is resolved on each, and only there" {
	pm run -d --name both --network netd-e2e,netd-e2f localhost/netd-e2e sleep 300
	pm run -d --name left --network netd-e2e localhost/netd-e2e sleep 300
	pm run -d --name right --network netd-e2f localhost/netd-e2e sleep 300
	b1=$(pm inspect both --format '{{(index .NetworkSettings.Networks "netd-e2e").IPAddress}}')
	b2=$(pm inspect both --format '{{(index .NetworkSettings.Networks "netd-e2f").IPAddress}}')
	l=$(pm inspect left --format '{{(index .NetworkSettings.Networks "netd-e2e").IPAddress}}')
	r=$(pm inspect right --format '{{(index .NetworkSettings.Networks "netd-e2f").IPAddress}}')
	[[ $b1 == 10.123.0.* && $l == 10.123.0.* && $b2 == 10.125.0.* && $r == 10.125.0.* ]]
	[ "$(ns left both)" = "$l" ]
	[ "$(ns right both)" = "$r" ]
	[ "$(ns both left)" = "$b1" ]
	[ "$(ns both right)" = "$b2" ]
	# left and right share no network: no name, by either spelling
	run pm exec left nslookup right
	[[ "$output" == *"NXDOMAIN"* ]]
	run pm exec left nslookup right.netd-e2f
	[[ "$output" == *"NXDOMAIN"* ]]
	# a disconnect takes the name off that network at once
	pm network disconnect netd-e2e both
	[ -z "$(ns both left)" ]
	[ "$(ns both right)" = "$b2" ]
	pm rm -f -t 0 both left right
}

@test "podman: macvlan containers resolve each other by name (netd-macvlan, netd-ipam, netd-endpoint)" {
	ip link add pm0 type veth peer name pm1
	ip link set pm0 up
	ip link set pm1 up
	pm network create -d macvlan -o parent=pm0 --subnet 10.126.0.0/24 netd-mv >/dev/null
	f=$W/netconf/netd-mv.conflist
	jq --arg sock "$W/netd/netd.sock" '.plugins[0].type = "netd-macvlan" | .plugins[0].ipam.type = "netd-ipam" |
		.plugins += [{type: "netd-endpoint", socket: $sock, capabilities: {aliases: true}}]' "$f" >"$f.new"
	mv "$f.new" "$f"
	pm run -d --name mva --network netd-mv localhost/netd-e2e sleep 300
	pm run -d --name mvb --network netd-mv --network-alias beta localhost/netd-e2e sleep 300
	b=$(pm inspect mvb --format '{{(index .NetworkSettings.Networks "netd-mv").IPAddress}}')
	[[ $b == 10.126.0.* ]]
	[ "$(pm exec mva sh -c 'grep -m1 ^nameserver /etc/resolv.conf')" = "nameserver 127.0.0.11" ]
	[ "$(ns mvb mva)" = "$b" ]
	[ "$(ns beta mva)" = "$b" ]
	pm rm -f -t 0 mva mvb
	pm network rm netd-mv >/dev/null
	ip link del pm0
}

# serve_in NAME PORT...: the echo server (tests/harness/echo.py: TCP and UDP,
# answers "NAME PEER") in container NAME's network namespace, for protocols
# busybox has no server for
serve_in() {
	local name=$1 ns log=$W/serve-$1.log i
	shift
	ns=$(pm inspect "$name" --format '{{.NetworkSettings.SandboxKey}}')
	nsenter --net="$ns" "$NETD_SRC/tests/harness/echo.py" serve "$name" "$@" >"$log" 2>&1 3>&- &
	echo $! >>"$W/servers"
	for i in $(seq 50); do grep -q ready "$log" && return 0; sleep 0.1; done
	return 1
}

# ask_from NETNS|host PROTO HOST PORT: "NAME PEER" of whoever answered
ask_from() {
	local ns=$1
	shift
	if [ "$ns" = host ]; then "$NETD_SRC/tests/harness/echo.py" "$@" 2; else
		ip netns exec "$ns" "$NETD_SRC/tests/harness/echo.py" "$@" 2; fi
}

@test "podman -p: hostIP, ranges, udp and sctp on a dual-stack network, as podman sends them" {
	netnet netd-ds 10.126.0.0/24 --ipv6 --subnet fd00:126::/64
	jq -e '[.plugins[0].ipam.ranges[][0].subnet] == ["10.126.0.0/24","fd00:126::/64"]' "$W/netconf/netd-ds.conflist"
	pm run -d --name pp --network netd-ds -p 127.0.0.1:18081:80 -p 192.0.2.1:18082:80 \
		-p 18100-18102:80-82 -p 5353:53/udp -p 9132:9132/sctp localhost/netd-e2e sleep 300
	serve_in pp 80 81 82 53
	pp4=$(pm inspect pp --format '{{(index .NetworkSettings.Networks "netd-ds").IPAddress}}')
	pp6=$(pm inspect pp --format '{{(index .NetworkSettings.Networks "netd-ds").GlobalIPv6Address}}')
	[[ $pp4 == 10.126.0.* && $pp6 == fd00:126::* ]]
	# hostIP 127.0.0.1: the host only, never another machine
	[ "$(ask_from host tcp 127.0.0.1 18081)" = "pp 10.126.0.1" ]
	! ask_from out tcp 192.0.2.1 18081 || false
	# hostIP 192.0.2.1: that address only, from outside (source kept) and from the host
	[ "$(ask_from out tcp 192.0.2.1 18082)" = "pp 192.0.2.2" ]
	[ "$(ask_from host tcp 192.0.2.1 18082 | cut -d' ' -f1)" = pp ]
	! ask_from host tcp 127.0.0.1 18082 || false
	! ask_from out tcp 2001:db8:2::1 18082 || false
	# a range: podman sends one mapping per port; each reaches its own port, both families
	[ "$(ask_from out tcp 192.0.2.1 18101)" = "pp 192.0.2.2" ]
	[ "$(ask_from out tcp 2001:db8:2::1 18102)" = "pp 2001:db8:2::2" ]
	! ask_from out tcp 192.0.2.1 18103 || false
	# udp, both families; not on tcp
	[ "$(ask_from out udp 192.0.2.1 5353)" = "pp 192.0.2.2" ]
	[ "$(ask_from out udp 2001:db8:2::1 5353)" = "pp 2001:db8:2::2" ]
	! ask_from out tcp 192.0.2.1 5353 || false
	# sctp (this kernel may have no SCTP to send with): the mapping is netd's, both families
	nft list map inet netd ports4 | grep -q "sctp . 9132 : $pp4 . 9132"
	nft list map inet netd ports6 | grep -q "sctp . 9132 : $pp6 . 9132"
	pm rm -f -t 0 pp
	[ "$(nft -j list map inet netd ports4 | jq '[.nftables[].map.elem // empty | .[]] | length')" = 0 ]
	[ "$(nft -j list map inet netd ports4ip | jq '[.nftables[].map.elem // empty | .[]] | length')" = 0 ]
	[ "$(nft -j list map inet netd ports6 | jq '[.nftables[].map.elem // empty | .[]] | length')" = 0 ]
}

@test "podman -p on a container of two networks: one target, no conflict with itself; it moves when that network is disconnected" {
	pm run -d --name two --network netd-e2e,netd-e2f -p 18200:80 localhost/netd-e2e sleep 300 >/dev/null
	serve_in two 80
	[ "$(ask_from out tcp 192.0.2.1 18200)" = "two 192.0.2.2" ]
	[ "$(nft -j list map inet netd ports4 | jq '[.nftables[].map.elem // empty | .[]] | length')" = 1 ]
	first=$(nft -j list map inet netd ports4 | jq -r '.nftables[].map.elem // empty | .[0][1].concat[0]')
	[[ $first == 10.123.0.* || $first == 10.125.0.* ]]
	# disconnect the network the target is on: the mapping moves to the other
	if [[ $first == 10.123.0.* ]]; then pm network disconnect netd-e2e two; want=10.125.0.; else
		pm network disconnect netd-e2f two; want=10.123.0.; fi
	[[ "$(nft -j list map inet netd ports4 | jq -r '.nftables[].map.elem // empty | .[0][1].concat[0]')" == $want* ]]
	[ "$(ask_from out tcp 192.0.2.1 18200)" = "two 192.0.2.2" ]
	# another container asking for the port is refused, naming the holder; it is not left half-made
	run pm run -d --name thief --network netd-e2e -p 18200:80 localhost/netd-e2e sleep 300
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"host port 18200/tcp is already published by container two"* ]]
	[ "$(ask_from out tcp 192.0.2.1 18200)" = "two 192.0.2.2" ]
	pm rm -f -t 0 thief two >/dev/null 2>&1 || true
	[ "$(nft -j list map inet netd ports4 | jq '[.nftables[].map.elem // empty | .[]] | length')" = 0 ]
	[ "$(curl -s --unix-socket "$W/netd/netd.sock" http://netd/v1/endpoints | jq length)" = 0 ]
}
