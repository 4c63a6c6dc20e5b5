# Shared helpers for the bats suites. Every suite runs under tests/harness/isolate,
# so the "host" here is a private network namespace with private /run/netns,
# /run/netd, /var/lib/cni and /var/lib/netd.
#
# NETD_BUILD (cmake build dir) and NETD_SRC (source dir) come from ctest; run by
# hand with e.g. NETD_BUILD=$PWD/build NETD_SRC=$PWD tests/harness/isolate bats tests/integration/bridge.bats

: "${NETD_BUILD:?NETD_BUILD must point at the cmake build directory}"
: "${NETD_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

# Where plugins are found: ours first, then the reference plugins if installed.
NETD_PLUGIN_DIR=$NETD_BUILD/cni-bin
REF_CNI_DIR=${REF_CNI_DIR:-/usr/lib/cni}
export CNI_PATH=$NETD_PLUGIN_DIR:$REF_CNI_DIR

# All our plugins in one directory, as a runtime would see them in /opt/cni/bin.
netd_plugin_dir_setup() {
	mkdir -p "$NETD_PLUGIN_DIR"
	local p
	for p in "$NETD_BUILD"/plugins/*/netd-*; do
		[ -x "$p" ] && ln -sf "$p" "$NETD_PLUGIN_DIR/$(basename "$p")"
	done
	return 0
}
netd_plugin_dir_setup

have_ref_plugins() { [ -x "$REF_CNI_DIR/bridge" ] && [ -x "$REF_CNI_DIR/host-local" ]; }

# ns_add NAME...: container namespaces under /run/netns
ns_add() { local n; for n in "$@"; do ip netns add "$n"; done; }
ns_exec() { local n=$1; shift; ip netns exec "$n" "$@"; }

# cni PLUGIN CMD CONTAINER [IFNAME] [NETNS] <<< config
# Runs a plugin like a runtime would; sets $output (stdout) and $status.
# Extra env may be given through CNI_ARGS=... in the caller's environment.
# Use as `cni netd-bridge ADD c1 <<<"$conf"` (not in a pipeline: run's
# $status and $output must stay in the test's shell). stderr goes to $stderr.
cni() {
	local plugin=$1 cmd=$2 cid=$3 ifname=${4:-eth0} netns=${5-/run/netns/$3}
	local input
	input=$(cat)
	run --separate-stderr env CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" CNI_NETNS="$netns" CNI_IFNAME="$ifname" \
		CNI_PATH="$CNI_PATH" ${CNI_ARGS:+CNI_ARGS="$CNI_ARGS"} \
		"$(plugin_path "$plugin")" <<<"$input"
}

plugin_path() {
	if [ -x "$NETD_PLUGIN_DIR/$1" ]; then echo "$NETD_PLUGIN_DIR/$1"; else echo "$REF_CNI_DIR/$1"; fi
}

# The output is exactly one JSON object; print field $2 of it (jq filter).
json_field() { jq -er "$1" <<<"$output"; }

# assert_cni_error CODE [substring of msg]: exit status 1 and one well-formed
# error object with that code, a cniVersion and the message.
assert_cni_error() {
	local code=$1 needle=${2:-}
	[ "$status" -eq 1 ] || { echo "expected exit 1, got $status: $output"; return 1; }
	[ "$(jq -s length <<<"$output")" -eq 1 ] || { echo "not exactly one JSON object: $output"; return 1; }
	[ "$(jq -r .code <<<"$output")" = "$code" ] || { echo "expected code $code: $output"; return 1; }
	jq -e '.cniVersion | type == "string"' <<<"$output" >/dev/null || { echo "no cniVersion: $output"; return 1; }
	if [ -n "$needle" ]; then
		jq -r .msg <<<"$output" | grep -qF -- "$needle" || { echo "msg lacks '$needle': $output"; return 1; }
	fi
}

assert_success() {
	[ "$status" -eq 0 ] || { echo "expected success, got $status: $output"; return 1; }
}

# host_links: the host's links other than lo, one name per line
host_links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -v '^lo$' || true; }

# snapshot of everything a plugin can change on the host, for "nothing left behind".
# IPv6 link-local addresses and their routes are left out: the kernel adds them
# on its own, some time after a link comes up, so they would make the snapshot
# depend on timing.
host_state() {
	{
		ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//'
		ip -o addr show | awk '{print $2, $4}' | grep -v ' fe80:' || true
		ip route show table all | grep -v '^\(local \)\?fe80:' || true
		nft list ruleset 2>/dev/null | grep -v '^$' || true
		find /var/lib/cni -type f 2>/dev/null | grep -v -e '/lock$' -e 'last_reserved_ip' | sort
	} 2>/dev/null
}

# Note for test authors: bats ignores a failing `! cmd` unless it is the last
# line of a test (bash's errexit does not apply to negated pipelines); write
# `! cmd || false` so the assertion can fail.

# withprev CONFIG PREV: CONFIG with PREV as its prevResult (for CHECK and DEL).
withprev() { jq -c --argjson p "$2" '. + {prevResult: $p}' <<<"$1"; }

# bad_add PLUGIN CODE NEEDLE CONFIG [CNI_ARGS]: an ADD into netns c1 fails with
# one CNI error object of CODE whose msg holds NEEDLE, and neither the host nor
# c1 changed.
bad_add() {
	local before ns_before
	before=$(host_state)
	ns_before=$(ns_exec c1 ip -o link show)
	CNI_ARGS=${5:-} cni "$1" ADD c1 <<<"$4"
	assert_cni_error "$2" "$3"
	diff <(echo "$before") <(host_state)
	[ "$(ns_exec c1 ip -o link show)" = "$ns_before" ]
}

# waits_for_lock PLUGIN LOCKNAME CMD CONTAINER CONFIG: PLUGIN's CMD for
# CONTAINER, run while another process holds /run/netd/locks/LOCKNAME.lock,
# is still waiting 2 s later, and succeeds once the lock is free.
waits_for_lock() {
	local plugin=$1 lock=/run/netd/locks/$2.lock cmd=$3 cid=$4 c=$5 holder run
	mkdir -p /run/netd/locks
	rm -f "$BATS_TEST_TMPDIR/done"
	flock "$lock" sleep 4 &
	holder=$!
	sleep 0.5
	(CNI_COMMAND=$cmd CNI_CONTAINERID=$cid CNI_NETNS=/run/netns/$cid CNI_IFNAME=eth0 \
		"$NETD_PLUGIN_DIR/$plugin" <<<"$c" > "$BATS_TEST_TMPDIR/out" && touch "$BATS_TEST_TMPDIR/done") &
	run=$!
	sleep 2
	[ ! -e "$BATS_TEST_TMPDIR/done" ] || { echo "$cmd did not wait for $lock"; return 1; }
	wait "$holder"
	wait "$run" || true
	[ -e "$BATS_TEST_TMPDIR/done" ] || { echo "$cmd failed: $(cat "$BATS_TEST_TMPDIR/out")"; return 1; }
}

# gc_none CONFIG: CONFIG for a GC that keeps no attachment.
gc_none() { jq -c '. + {"cni.dev/valid-attachments":[]}' <<<"$1"; }

# cleanup_host [DIR...]: what a test left in its private host goes: every
# netns, every link but lo, the nftables ruleset, and the given directories.
cleanup_host() {
	local n l
	for n in $(ip netns list | awk '{print $1}'); do ip netns del "$n"; done
	for l in $(host_links); do ip link del "$l" 2>/dev/null || true; done
	nft flush ruleset 2>/dev/null || true
	# the plugins' record for netd (lib/nft_log.h): a fresh host has none
	rm -f /run/netd/nft-*.copy /run/netd/nft-*.log
	rm -rf "$@"
}
