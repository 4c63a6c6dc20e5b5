/* The resolver's restart path as containers see it: listeners put `later`
 * wait for their turn (dns_server_restore_next), answer from every record
 * once open, open at once on a registration, and one whose container goes
 * while it waits takes the previous run's redirect table along. Needs root
 * (a private host); skipped otherwise. */
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

#include "netd/dns_server.h"
#include "netd/netns.h"
#include "netd/nft_dns.h"
#include "unit.h"

#define N_NS 3

static int ns[N_NS];
static char path[N_NS][64];

static void put(struct dns_server *s, const char *id, const char *view, const char *addr, bool later)
{
	struct netd_addr a;
	struct dns_ep_info e = {id, view, "n", id, NULL, 0, NULL, 0, &a, 1};
	struct netd_err err = {0};

	assert_int_equal(netd_addr_parse(addr, &a), 0);
	assert_int_equal(dns_server_put(s, &e, NULL, 0, later, &err), 0);
}

/* An A query for name from inside netns i, the server run until it answers:
 * the address, or "" (no answer within ~2 s, or none in it). */
static void ask(struct dns_server *s, int i, const char *name, char *out)
{
	struct netd_err err = {0};
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53)};
	uint8_t q[512] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, a[512];
	int fd = netns_socket(ns[i], AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0, &err), wl;
	ssize_t n = -1;

	*out = 0;
	assert_true(fd >= 0);
	to.sin_addr.s_addr = htonl(0x7f00000b);
	wl = dns_name_to_wire(name, q + 12, sizeof(q) - 16);
	assert_true(wl > 0);
	memcpy(q + 12 + wl, "\0\1\0\1", 4); /* A, IN */
	if (sendto(fd, q, 12 + (size_t)wl + 4, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd); /* nothing listens there: refused */
		return;
	}
	for (int t = 0; t < 200 && n < 0; t++) {
		dns_server_run(s, 0);
		n = recv(fd, a, sizeof(a), 0);
		if (n < 0)
			usleep(10000);
	}
	close(fd);
	/* one A record, last in the answer: its 4 bytes end the message */
	if (n > 12 && a[7] == 1 && (a[3] & 0xf) == 0)
		inet_ntop(AF_INET, a + n - 4, out, NETD_ADDR_STRLEN);
}

static bool has_table(int i)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "nsenter --net=%s nft list tables | grep -q netd_dns", path[i]);
	return system(cmd) == 0;
}

static void test_restore(void **state)
{
	struct dns_server *s;
	struct netd_err err = {0};
	const struct dns_stats *st;
	char addr[NETD_ADDR_STRLEN];

	for (int i = 0; i < N_NS; i++) {
		ns[i] = netd_test_new_netns();
		snprintf(path[i], sizeof(path[i]), "/proc/%d/fd/%d", (int)getpid(), ns[i]);
	}
	/* the previous run's table in c's netns */
	assert_int_equal(netd_nft_dns_redirect(ns[2], 40001, 40002, &err), 0);
	assert_int_equal(dns_server_new(NULL, &s, &err), 0);
	st = dns_server_stats(s);
	put(s, "a", path[0], "10.20.0.1", true);
	put(s, "b", path[1], "10.20.0.2", true);
	put(s, "c", path[2], "10.20.0.3", true);
	assert_int_equal(st->listeners, 0);
	assert_int_equal(st->listeners_waiting, 3);
	assert_true(dns_server_listening(s, path[0])); /* waiting is not failed */
	ask(s, 0, "b", addr);
	assert_string_equal(addr, "");

	/* b registered again before its turn: open at once, answering a's
	 * name though a's own listener still waits */
	put(s, "b", path[1], "10.20.0.2", false);
	assert_int_equal(st->listeners, 1);
	assert_int_equal(st->listeners_waiting, 2);
	ask(s, 1, "a", addr);
	assert_string_equal(addr, "10.20.0.1");

	/* c gone while waiting: no longer waits, and its table goes */
	assert_true(has_table(2));
	dns_server_del(s, "c");
	assert_int_equal(st->listeners_waiting, 1);
	assert_false(has_table(2));

	/* the rest in turn */
	assert_int_equal(dns_server_restore_next(s, &err), 1);
	assert_int_equal(dns_server_restore_next(s, &err), 0);
	assert_int_equal(st->listeners, 2);
	assert_int_equal(st->listeners_waiting, 0);
	ask(s, 0, "b", addr);
	assert_string_equal(addr, "10.20.0.2");
	assert_false(has_table(2));

	/* one whose netns is gone by its turn: an error naming it, dropped;
	 * its records stay for the others */
	put(s, "d", "/run/netns/netd-test-gone", "10.20.0.4", true);
	assert_int_equal(st->listeners_waiting, 1);
	assert_true(dns_server_restore_next(s, &err) < 0);
	assert_non_null(strstr(err.msg, "/run/netns/netd-test-gone"));
	assert_int_equal(st->listeners_waiting, 0);
	assert_false(dns_server_listening(s, "/run/netns/netd-test-gone"));
	assert_int_equal(dns_server_restore_next(s, &err), 0);
	ask(s, 0, "d", addr);
	assert_string_equal(addr, "10.20.0.4");

	dns_server_free(s);
	for (int i = 0; i < N_NS; i++)
		close(ns[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore),
	};
	int rc = netd_test_private_host("test_dns_server", NULL);

	if (rc)
		return rc;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
