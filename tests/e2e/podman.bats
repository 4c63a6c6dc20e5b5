#!/usr/bin/env bats
# e2e: podman 4.3 with its CNI backend runs containers on a netd-bridge +
# netd-ipam network. Private config and storage, inside the isolated host.

load ../harness/lib
bats_require_minimum_version 1.5.0

setup_file() {
	command -v podman >/dev/null || skip "podman is not installed"
	[ -x /bin/busybox ] || skip "busybox-static is not installed"
	export W=$BATS_FILE_TMPDIR/podman
	mkdir -p "$W"/{netconf,plugins,tmp,img/bin}
	for p in "$NETD_PLUGIN_DIR"/netd-*; do ln -sf "$(readlink -f "$p")" "$W/plugins/"; done
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
	cat > "$W/netconf/netd-e2e.conflist" <<-EOC
	{"cniVersion":"1.0.0","name":"netd-e2e","plugins":[
	 {"type":"netd-bridge","bridge":"netde2e0","isGateway":true,"isDefaultGateway":true,"ipMasq":true,
	  "ipam":{"type":"netd-ipam","ranges":[[{"subnet":"10.123.0.0/24"}]]}}]}
	EOC
	cp /bin/busybox "$W/img/bin/busybox"
	for a in sh ip ping sleep cat hostname nslookup; do ln -sf busybox "$W/img/bin/$a"; done
	tar -C "$W/img" -cf "$W/img.tar" .
	pm import "$W/img.tar" localhost/netd-e2e:latest >/dev/null
}

pm() {
	CONTAINERS_CONF=$W/containers.conf podman --root "$W/storage" --runroot "$W/run" --storage-driver vfs "$@"
}

teardown_file() {
	[ -n "${W:-}" ] || return 0
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
	[ "$(ip -o link show master netde2e0 | wc -l)" -eq 0 ]
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
