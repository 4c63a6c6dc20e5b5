# Helpers for the netd*.bats files: start/stop private netd instances.
# Each instance gets its own socket and state dir under $BATS_TEST_TMPDIR
# (or the given dir), so tests do not collide with each other or a real netd.

NETD_BIN="$NETD_BUILD/netd/netd"
NETDCTL_BIN="$NETD_BUILD/netd/ctl/netdctl"
NETD_ENDPOINT_BIN="$NETD_BUILD/plugins/endpoint/netd-endpoint"

# etc_netns_private / etc_netns_release (setup_file / teardown_file): ip netns
# exec binds /etc/netns/NAME/resolv.conf over /etc/resolv.conf; keep those
# files in the test file's private mount namespace
etc_netns_private() {
	mkdir -p /etc/netns
	mount -t tmpfs tmpfs /etc/netns
}

etc_netns_release() {
	umount /etc/netns 2>/dev/null || true
}

# netd_start DIR [netd args...]: socket DIR/netd.sock, state DIR/state, log DIR/log
netd_start() {
	local dir=$1
	shift
	mkdir -p "$dir"
	"$NETD_BIN" --socket "$dir/netd.sock" --state-dir "$dir/state" --log-level debug "$@" \
		2>>"$dir/log" &
	echo $! >"$dir/pid"
	netd_wait_socket "${NETD_TEST_SOCK:-$dir/netd.sock}"
}

netd_wait_socket() {
	local i
	for i in $(seq 100); do
		if curl -sf --unix-socket "$1" http://netd/v1/status >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	echo "netd did not come up on $1" >&2
	return 1
}

# netd_stop DIR [SIGNAL]: signal the instance and wait for it to exit
netd_stop() {
	local dir=$1 sig=${2:-TERM} pid
	pid=$(cat "$dir/pid")
	kill -"$sig" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# netd_curl DIR ARGS...: curl against the instance; prints body, then the status on the last line
netd_curl() {
	local dir=$1
	shift
	curl -s -w '\n%{http_code}' --unix-socket "$dir/netd.sock" "$@"
}
