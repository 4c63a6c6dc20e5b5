# The Compose walkthrough of docs/guide.md as shell functions, shared by
# scripts/demo, scripts/walkthrough and tests/integration/walkthrough.bats.
#
# Source it inside a private host (tests/harness/isolate) with
#   WT_BUILD  the cmake build directory (netd, netdctl, the plugins)
#   WT_SRC    the source tree
#   WT_DIR    an empty scratch directory (plugin links, logs, web roots, pids)
# netd and netdctl use their default paths (/run/netd/netd.sock,
# /etc/cni/net.d, /var/lib/netd), which isolate makes private.
#
#   networks:  nginx_network (10.89.1.0/24)  db_network (.2)  redis_network (.3)
#   nginx      nginx_network                         publishes 18080 -> 80  (HTTP)
#   web        all three                             listens on 8000        (HTTP)
#   db         db_network                            publishes 13306 -> 3306
#   redis      redis_network                         publishes 16379 -> 6379
#   out        another machine, 198.51.100.2; the host is 198.51.100.1 there
#
# db, redis and out run tests/harness/echo.py, which answers "NAME PEER": who
# answered and whose address it saw. nginx and web serve "hello from NAME"
# over HTTP (busybox httpd, else python3 -m http.server).
# Written for sh; bash sources it too.

WT_CONTAINERS="nginx web db redis"
WT_OUT_HOST=198.51.100.1	# the host's address on the outside link
WT_OUT=198.51.100.2		# the outside machine

# wt_init: plugins in a CNI_PATH of their own, netd and netdctl on PATH, and
# /etc/netns private, for the containers' resolv.conf files
wt_init() {
	[ "${NETD_ISOLATED:-}" = 1 ] || { echo "the walkthrough runs only in a private host (tests/harness/isolate)" >&2; return 1; }
	mkdir -p "$WT_DIR/bin"
	for wt_p in bridge ipam endpoint; do
		ln -sf "$WT_BUILD/plugins/$wt_p/netd-$wt_p" "$WT_DIR/bin/"
	done
	export CNI_PATH="$WT_DIR/bin"
	export PATH="$WT_BUILD/netd:$WT_BUILD/netd/ctl:$PATH"
	# isolate gave us a private mount namespace: a tmpfs here hides the
	# machine's /etc/netns and vanishes with the namespace
	mkdir -p /etc/netns
	mount -t tmpfs -o mode=0755 tmpfs /etc/netns
	: >"$WT_DIR/pids"
}

# wt_bg LOG CMD...: a server in the background, its pid kept for wt_down. fd 3
# is closed so that bats does not wait for the server to end.
wt_bg() {
	wt_log=$1
	shift
	"$@" >"$wt_log" 2>&1 3>&- &
	echo $! >>"$WT_DIR/pids"
}

wt_netd_start() {
	netd --log-level info >"$WT_DIR/netd.log" 2>&1 3>&- &
	echo $! >"$WT_DIR/netd.pid"
	for wt_i in $(seq 100); do
		netdctl status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "netd did not start:" >&2
	cat "$WT_DIR/netd.log" >&2
	return 1
}

# wt_run CMD...: CMD, shown first as "$ CMD" when WT_SHOW is set (the demo)
wt_run() {
	[ -z "${WT_SHOW:-}" ] || echo "\$ $*"
	"$@"
}

# wt_networks and wt_containers: the guide's commands, as a user types them
wt_networks() {
	wt_run netdctl network create --subnet 10.89.1.0/24 nginx_network &&
	wt_run netdctl network create --subnet 10.89.2.0/24 db_network &&
	wt_run netdctl network create --subnet 10.89.3.0/24 redis_network
}

wt_containers() {
	wt_run netdctl container add nginx --net nginx_network -p 18080:80 &&
	wt_run netdctl container add web --net nginx_network,db_network,redis_network &&
	wt_run netdctl container add db --net db_network -p 13306:3306 &&
	wt_run netdctl container add redis --net redis_network -p 16379:6379
}

# wt_resolv: every container's C library asks netd's resolver, as a runtime
# writes it from netd-endpoint's result (ip netns exec binds the file over
# /etc/resolv.conf)
wt_resolv() {
	for wt_c in $WT_CONTAINERS; do
		mkdir -p "/etc/netns/$wt_c"
		echo "nameserver 127.0.0.11" >"/etc/netns/$wt_c/resolv.conf"
	done
}

# wt_outside: "out", another machine on 198.51.100.0/24 whose route to the
# container subnets goes through the host: it can try them directly, and a
# container's request reaching it without masquerade would be answered
wt_outside() {
	ip netns add out
	ip link add h-out type veth peer name eth0 netns out
	ip addr add "$WT_OUT_HOST/24" dev h-out
	ip link set h-out up
	ip -n out addr add "$WT_OUT/24" dev eth0
	ip -n out link set eth0 up
	ip -n out link set lo up
	ip -n out route add 10.89.0.0/16 via "$WT_OUT_HOST"
	sysctl -qw net.ipv4.ip_forward=1
}

# wt_http NETNS NAME PORT: an HTTP server saying "hello from NAME"
wt_http() {
	mkdir -p "$WT_DIR/www/$2"
	echo "hello from $2" >"$WT_DIR/www/$2/index.html"
	if command -v busybox >/dev/null; then
		wt_bg "$WT_DIR/$2.log" ip netns exec "$1" busybox httpd -f -p "$3" -h "$WT_DIR/www/$2"
	else
		wt_bg "$WT_DIR/$2.log" ip netns exec "$1" python3 -m http.server "$3" -d "$WT_DIR/www/$2"
	fi
}

# wt_tcp NETNS NAME PORT...: echo.py's TCP/UDP server
wt_tcp() {
	wt_ns=$1
	shift
	wt_bg "$WT_DIR/$1.log" ip netns exec "$wt_ns" "$WT_SRC/tests/harness/echo.py" serve "$@"
}

# wt_servers: the services, then wait until each listens (python can take
# seconds to start on a loaded machine)
wt_servers() {
	wt_http nginx nginx 80
	wt_http web web 8000
	wt_tcp db db 3306
	wt_tcp redis redis 6379
	wt_tcp out out 80
	for wt_s in nginx:80 web:8000 db:3306 redis:6379 out:80; do
		wt_listening "${wt_s%:*}" "${wt_s#*:}" || { echo "nothing listens on ${wt_s#*:} in ${wt_s%:*}" >&2; return 1; }
	done
}

# wt_listening NETNS PORT: until a TCP socket listens there (at most 10 s)
wt_listening() {
	for wt_i in $(seq 100); do
		ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# wt_up: the whole walkthrough, running (netdctl's output on stdout)
wt_up() {
	wt_init && wt_netd_start && wt_networks && wt_containers &&
		wt_resolv && wt_outside && wt_servers
}

# wt_ask NETNS HOST PORT: the echo server's answer ("NAME PEER"); NETNS
# "host" asks from the host. Exit 1 without one within a second.
wt_ask() {
	if [ "$1" = host ]; then
		"$WT_SRC/tests/harness/echo.py" tcp "$2" "$3"
	else
		ip netns exec "$1" "$WT_SRC/tests/harness/echo.py" tcp "$2" "$3"
	fi
}

# wt_get NETNS URL: the page's body; NETNS "host" asks from the host
wt_get() {
	if [ "$1" = host ]; then
		curl -sf -m 3 "$2"
	else
		ip netns exec "$1" curl -sf -m 3 "$2"
	fi
}

# wt_ip CONTAINER NETWORK: the container's address there, from netd
wt_ip() {
	netdctl endpoints --network "$2" | awk -v c="$1" '$2 == c { sub("/.*", "", $5); print $5 }'
}

# wt_down: the servers end (as a runtime stops a container's processes
# before its DEL), then the containers and networks go in reverse, through
# the plugins
wt_down() {
	for wt_p in $(cat "$WT_DIR/pids" 2>/dev/null); do kill "$wt_p" 2>/dev/null || true; done
	for wt_p in $(cat "$WT_DIR/pids" 2>/dev/null); do
		wt_gone "$wt_p"
	done
	: >"$WT_DIR/pids"
	for wt_c in redis db web nginx; do wt_run netdctl container del "$wt_c" || true; done
	for wt_n in redis_network db_network nginx_network; do wt_run netdctl network rm "$wt_n" || true; done
	ip netns del out 2>/dev/null || true
}

# wt_gone PID: until PID has ended (a zombie has; at most 5 s)
wt_gone() {
	for wt_i in $(seq 100); do
		grep -qs '^State:[[:space:]]*[^Z]' "/proc/$1/status" || return 0
		sleep 0.05
	done
	return 1
}

# wt_stop: netd ends
wt_stop() {
	wt_p=$(cat "$WT_DIR/netd.pid" 2>/dev/null) || return 0
	kill "$wt_p" 2>/dev/null || true
	wt_gone "$wt_p"
	rm -f "$WT_DIR/netd.pid"
}
