/* netd's API connection table: who is pushed out when a bound is reached, and
 * when an incomplete request runs out of time (the sockets are main.c's). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "conn.h"

static int add(struct netd_conns *t, int fd, uid_t uid, uint64_t now)
{
	int evict = -2;

	assert_int_equal(netd_conns_add(t, fd, uid, false, now, &evict), 0);
	return evict;
}

static unsigned state_of(const struct netd_conns *t, int fd)
{
	return netd_conns_get(t, fd)->state;
}

/* a uid over its bound loses its own oldest waiting connection, never a busy
 * one while it has a waiting one, and never another uid's */
static void per_uid_bound(void **state)
{
	struct netd_conns t;

	netd_conns_init(&t);
	t.max_per_uid = 3;
	assert_int_equal(add(&t, 10, 0, 1), -1);
	assert_int_equal(add(&t, 11, 0, 2), -1);
	assert_int_equal(add(&t, 12, 0, 3), -1);
	assert_int_equal(add(&t, 20, 1000, 4), -1);
	assert_int_equal(netd_conns_of_uid(&t, 0), 3);
	assert_int_equal(add(&t, 13, 0, 5), 10);
	assert_int_equal(state_of(&t, 10), NETD_CONN_DROPPED);
	assert_int_equal(netd_conns_of_uid(&t, 0), 3);
	assert_int_equal(netd_conns_of_uid(&t, 1000), 1);
	netd_conns_busy(&t, 11);
	assert_int_equal(add(&t, 14, 0, 6), 12);
	assert_int_equal(state_of(&t, 11), NETD_CONN_BUSY);
	/* nothing of uid 0 is waiting any more: its oldest busy one goes */
	netd_conns_busy(&t, 13);
	netd_conns_busy(&t, 14);
	assert_int_equal(add(&t, 15, 0, 7), 11); /* all busy: the oldest busy */
	assert_int_equal(state_of(&t, 20), NETD_CONN_WAITING);
	assert_int_equal(t.n, 4);
	assert_int_equal(t.evicted, 3);
	netd_conns_fini(&t);
}

/* the total bound takes from the uid holding the most */
static void total_bound(void **state)
{
	struct netd_conns t;

	netd_conns_init(&t);
	t.max = 4;
	assert_int_equal(add(&t, 5, 1000, 1), -1);
	assert_int_equal(add(&t, 6, 0, 2), -1);
	assert_int_equal(add(&t, 7, 0, 3), -1);
	assert_int_equal(add(&t, 8, 0, 4), -1);
	/* a new uid gets in; uid 0 (three) gives up its oldest */
	assert_int_equal(add(&t, 9, 2000, 5), 6);
	assert_int_equal(netd_conns_of_uid(&t, 0), 2);
	assert_int_equal(netd_conns_of_uid(&t, 1000), 1);
	assert_int_equal(netd_conns_of_uid(&t, 2000), 1);
	assert_int_equal(t.n, 4);
	netd_conns_fini(&t);
}

/* a request must be whole within timeout_ms of the accept or of the last
 * answer; a connection being answered has no deadline */
static void deadlines(void **state)
{
	struct netd_conns t;

	netd_conns_init(&t);
	t.timeout_ms = 5000;
	assert_int_equal(netd_conns_timeout_ms(&t, 0), -1);
	add(&t, 5, 0, 1000);
	add(&t, 6, 0, 2000);
	add(&t, 7, 0, 3000);
	netd_conns_busy(&t, 5);
	assert_int_equal(netd_conns_timeout_ms(&t, 4000), 3000); /* fd 6 at 7000 */
	assert_int_equal(netd_conns_expired(&t, 6999), -1);
	assert_int_equal(netd_conns_expired(&t, 7000), 6);
	assert_int_equal(netd_conns_expired(&t, 7000), -1);
	assert_int_equal(netd_conns_timeout_ms(&t, 7000), 1000);
	/* fd 5's answer is sent at 7500: its next request is due by 12500 */
	netd_conns_idle(&t, 5, 7500);
	assert_int_equal(netd_conns_expired(&t, 12000), 7);
	assert_int_equal(netd_conns_expired(&t, 12000), -1);
	assert_int_equal(netd_conns_timeout_ms(&t, 12000), 500);
	assert_int_equal(netd_conns_expired(&t, 12500), 5);
	assert_int_equal(netd_conns_timeout_ms(&t, 12500), -1);
	assert_int_equal(t.expired, 3);
	assert_int_equal(t.n, 0);
	netd_conns_fini(&t);
}

/* a dropped fd stays taken until the caller closes it; then it is reusable */
static void fd_lifecycle(void **state)
{
	struct netd_conns t;
	int evict;

	netd_conns_init(&t);
	t.max_per_uid = 1;
	add(&t, 3, 0, 0);
	assert_int_equal(add(&t, 4, 0, 1), 3);
	/* late callbacks for a dropped connection change nothing */
	netd_conns_busy(&t, 3);
	netd_conns_idle(&t, 3, 2);
	assert_int_equal(state_of(&t, 3), NETD_CONN_DROPPED);
	assert_int_equal(t.n, 1);
	netd_conns_del(&t, 3);
	assert_int_equal(state_of(&t, 3), NETD_CONN_FREE);
	netd_conns_del(&t, 3);
	netd_conns_del(&t, 4);
	assert_int_equal(t.n, 0);
	assert_int_equal(netd_conns_of_uid(&t, 0), 0);
	/* fds far beyond the first allocation */
	assert_int_equal(netd_conns_add(&t, 70000, 0, true, 3, &evict), 0);
	assert_int_equal(evict, -1);
	assert_true(netd_conns_get(&t, 70000)->refused);
	assert_null(netd_conns_get(&t, t.cap));
	assert_int_equal(netd_conns_add(&t, -1, 0, false, 3, &evict), -EBADF);
	netd_conns_fini(&t);
}

/* 1,000 connections of one uid trickling in: the uid never holds more than
 * its bound, and the newest is always in */
static void flood(void **state)
{
	struct netd_conns t;

	netd_conns_init(&t);
	t.max_per_uid = 256;
	for (int fd = 10; fd < 1010; fd++) {
		int ev = add(&t, fd, 0, (uint64_t)fd);

		if (ev >= 0)
			netd_conns_del(&t, ev);
		assert_int_equal(state_of(&t, fd), NETD_CONN_WAITING);
	}
	assert_int_equal(netd_conns_of_uid(&t, 0), 256);
	assert_int_equal(t.evicted, 1000 - 256);
	assert_int_equal(state_of(&t, 1009 - 256), NETD_CONN_FREE);
	assert_int_equal(state_of(&t, 1010 - 256), NETD_CONN_WAITING);
	netd_conns_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(per_uid_bound),
		cmocka_unit_test(total_bound),
		cmocka_unit_test(deadlines),
		cmocka_unit_test(fd_lifecycle),
		cmocka_unit_test(flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
