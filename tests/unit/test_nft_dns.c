/* The DNS redirect table in a container netns: 127.0.0.11:53 reaches the
 * ports given, answers come back from :53, and setting new ports replaces
 * the rules. Needs root (a private host); skipped otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "netd/netns.h"
#include "netd/nft_dns.h"
#include "unit.h"

static struct sockaddr_in sin_of(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	a.sin_addr.s_addr = htonl(0x7f00000b);
	return a;
}

/* A datagram to 127.0.0.11:53 arrives at the socket on `port`, whose
 * answer comes back from :53. */
static void round_trip(int ns, uint16_t port)
{
	struct netd_err err = {0};
	int srv = netns_socket(ns, AF_INET, SOCK_DGRAM, 0, &err), cli = netns_socket(ns, AF_INET, SOCK_DGRAM, 0, &err);
	struct sockaddr_in to = sin_of(53), me = sin_of(port), from;
	struct timeval tv = {2, 0};
	socklen_t fl = sizeof(from);
	char buf[16];

	assert_true(srv >= 0 && cli >= 0);
	setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cli, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(bind(srv, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(sendto(cli, "q", 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
	assert_int_equal(recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 1);
	assert_int_equal(sendto(srv, "a", 1, 0, (struct sockaddr *)&from, fl), 1);
	fl = sizeof(from);
	assert_int_equal(recvfrom(cli, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 1);
	assert_int_equal(ntohs(from.sin_port), 53);
	assert_int_equal(ntohl(from.sin_addr.s_addr), 0x7f00000b);
	close(srv);
	close(cli);
}

static int lo_up(void *arg)
{
	return system("ip link set lo up") == 0 ? 0 : -EIO;
}

static void test_redirect(void **state)
{
	struct netd_err err = {0};
	int ns = netd_test_new_netns();

	assert_int_equal(netns_run(ns, lo_up, NULL, &err), 0);
	assert_int_equal(netd_nft_dns_redirect(ns, 40001, 40002, &err), 0);
	round_trip(ns, 40001);
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft list chain ip netd_dns output | grep -q 'tcp dport 53 dnat to 127.0.0.11:40002'",
		     (int)getpid(), ns);
	/* new ports: the same two rules, rewritten */
	assert_int_equal(netd_nft_dns_redirect(ns, 40003, 40004, &err), 0);
	round_trip(ns, 40003);
	netd_test_sh("test $(nsenter --net=/proc/%d/fd/%d nft list chain ip netd_dns output | grep -c dnat) = 2",
		     (int)getpid(), ns);
	close(ns);
}

/* Removal: the table is gone, and again is no error. */
static void test_remove(void **state)
{
	struct netd_err err = {0};
	int ns = netd_test_new_netns();

	assert_int_equal(netd_nft_dns_redirect(ns, 40001, 40002, &err), 0);
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft list tables | grep -qx 'table ip netd_dns'", (int)getpid(), ns);
	assert_int_equal(netd_nft_dns_remove(ns, &err), 0);
	netd_test_sh("! nsenter --net=/proc/%d/fd/%d nft list tables | grep -q netd_dns", (int)getpid(), ns);
	assert_int_equal(netd_nft_dns_remove(ns, &err), 0);
	/* and back */
	assert_int_equal(netd_nft_dns_redirect(ns, 40003, 40004, &err), 0);
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft list chain ip netd_dns output | grep -q 'dnat to 127.0.0.11:40004'",
		     (int)getpid(), ns);
	assert_int_equal(netd_nft_dns_remove(ns, &err), 0);
	netd_test_sh("! nsenter --net=/proc/%d/fd/%d nft list tables | grep -q netd_dns", (int)getpid(), ns);
	close(ns);
}

/* Reading back: the ports of a table exactly as written; anything else
 * (no table, a rule more, a rule changed, another priority) reads as 0. */
static void test_read(void **state)
{
	struct netd_err err = {0};
	int ns = netd_test_new_netns(), pid = (int)getpid();
	uint16_t u = 0, t = 0;

	assert_int_equal(netd_nft_dns_read(ns, &u, &t, &err), 0);
	assert_int_equal(netd_nft_dns_redirect(ns, 40001, 40002, &err), 0);
	assert_int_equal(netd_nft_dns_read(ns, &u, &t, &err), 1);
	assert_int_equal(u, 40001);
	assert_int_equal(t, 40002);
	/* a third rule */
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft add rule ip netd_dns output counter", pid, ns);
	assert_int_equal(netd_nft_dns_read(ns, &u, &t, &err), 0);
	assert_int_equal(netd_nft_dns_redirect(ns, 40003, 40004, &err), 0);
	assert_int_equal(netd_nft_dns_read(ns, &u, &t, &err), 1);
	assert_int_equal(u, 40003);
	/* one rule gone */
	netd_test_sh("nsenter --net=/proc/%d/fd/%d sh -c 'nft delete rule ip netd_dns output handle "
		     "$(nft -a list chain ip netd_dns output | sed -n \"s/.*tcp dport 53.* handle //p\")'", pid, ns);
	assert_int_equal(netd_nft_dns_read(ns, &u, &t, &err), 0);
	/* the same two rules with another address */
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft flush chain ip netd_dns output", pid, ns);
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft add rule ip netd_dns output ip daddr 127.0.0.12 udp dport 53 "
		     "dnat to 127.0.0.11:40003", pid, ns);
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft add rule ip netd_dns output ip daddr 127.0.0.11 tcp dport 53 "
		     "dnat to 127.0.0.11:40004", pid, ns);
	assert_int_equal(netd_nft_dns_read(ns, &u, &t, &err), 0);
	/* the right rules in a chain of another priority */
	assert_int_equal(netd_nft_dns_remove(ns, &err), 0);
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft add table ip netd_dns", pid, ns);
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft add chain ip netd_dns output "
		     "'{ type nat hook output priority 0; }'", pid, ns);
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft add rule ip netd_dns output ip daddr 127.0.0.11 udp dport 53 "
		     "dnat to 127.0.0.11:40003", pid, ns);
	netd_test_sh("nsenter --net=/proc/%d/fd/%d nft add rule ip netd_dns output ip daddr 127.0.0.11 tcp dport 53 "
		     "dnat to 127.0.0.11:40004", pid, ns);
	assert_int_equal(netd_nft_dns_read(ns, &u, &t, &err), 0);
	close(ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_read),
	};
	int rc = netd_test_private_host("test_nft_dns", NULL);

	if (rc)
		return rc;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
