/* The published-port registry: which container holds a host port, the DNAT
 * target (first registering network, moving when it leaves), conflicts
 * named by holder, and the element changes handed to nftables. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pub.h"

struct ep {
	struct netd_pub_ep e;
	struct netd_portmap *maps;
	size_t n;
};

/* ep "NET:CID:eth0" with v4 (and v6 if given) and -p specs separated by ' ' */
static struct ep *mk(const char *id, const char *cid, const char *v4, const char *v6, const char *specs)
{
	struct ep *x = calloc(1, sizeof(*x));
	struct netd_err err = {0};
	char buf[512], *save = NULL;

	x->e.id = id;
	x->e.container_id = cid;
	x->e.name = cid;
	if (v4)
		assert_int_equal(netd_addr_parse(v4, &x->e.v4), 0);
	if (v6)
		assert_int_equal(netd_addr_parse(v6, &x->e.v6), 0);
	snprintf(buf, sizeof(buf), "%s", specs);
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (netd_portspec_parse(t, &x->maps, &x->n, &err) < 0)
			fail_msg("%s: %s", t, err.msg);
	x->e.maps = x->maps;
	x->e.n_maps = x->n;
	return x;
}

static void ep_free(struct ep *x)
{
	free(x->maps);
	free(x);
}

static void put(struct netd_pub *p, struct ep *x, struct netd_pub_delta *d)
{
	struct netd_err err = {0};

	if (netd_pub_check(p, &x->e, &err) < 0)
		fail_msg("%s: %s", x->e.id, err.msg);
	assert_int_equal(netd_pub_put(p, &x->e, d), 0);
}

static const char *to(const struct netd_pub_elem *e, char *buf)
{
	char a[NETD_ADDR_STRLEN];

	snprintf(buf, 64, "%s:%u", netd_addr_str(&e->to, a), e->to_port);
	return buf;
}

static void test_target_first_network_then_moves(void **state)
{
	struct netd_pub *p = netd_pub_new();
	struct netd_pub_delta d = {0};
	struct ep *a = mk("blue:web:eth0", "web", "10.1.0.2", NULL, "8080:80");
	struct ep *b = mk("red:web:eth1", "web", "10.2.0.2", NULL, "8080:80");
	char buf[64];

	(void)state;
	put(p, a, &d);
	assert_int_equal(d.n_add, 1);
	assert_string_equal(to(&d.add[0], buf), "10.1.0.2:80");
	assert_int_equal(d.add[0].host_ip.family, 0);
	netd_pub_delta_free(&d);
	/* the same container's identical mapping on another network: no conflict, no change */
	put(p, b, &d);
	assert_int_equal(d.n_add + d.n_del, 0);
	assert_int_equal(netd_pub_count(p), 1);
	/* the first network leaves: the target moves to the second */
	assert_int_equal(netd_pub_del(p, "blue:web:eth0", &d), 0);
	assert_int_equal(d.n_del, 1);
	assert_int_equal(d.n_add, 1);
	assert_string_equal(to(&d.del[0], buf), "10.1.0.2:80");
	assert_string_equal(to(&d.add[0], buf), "10.2.0.2:80");
	netd_pub_delta_free(&d);
	assert_int_equal(netd_pub_del(p, "red:web:eth1", &d), 0);
	assert_int_equal(d.n_del, 1);
	assert_int_equal(d.n_add, 0);
	assert_int_equal(netd_pub_count(p), 0);
	netd_pub_delta_free(&d);
	/* unknown endpoint: nothing */
	assert_int_equal(netd_pub_del(p, "red:web:eth1", &d), 0);
	assert_int_equal(d.n_del + d.n_add, 0);
	ep_free(a);
	ep_free(b);
	netd_pub_free(p);
}

static void test_conflicts_name_holder(void **state)
{
	struct netd_pub *p = netd_pub_new();
	struct netd_pub_delta d = {0};
	struct netd_err err = {0};
	struct ep *web = mk("blue:web:eth0", "web", "10.1.0.2", "fd00::2", "8080:80 127.0.0.1:9000:90");
	struct ep *db = mk("blue:db:eth0", "db", "10.1.0.3", NULL, "8080:3306");
	struct ep *db6 = mk("blue:db:eth0", "db", NULL, "fd00::3", "[::]:8080:80");
	struct ep *lo = mk("blue:db:eth0", "db", "10.1.0.3", NULL, "127.0.0.2:9000:90 9001:90/udp 8080:80/udp");
	struct ep *wide = mk("blue:db:eth0", "db", "10.1.0.3", NULL, "9000:90");
	struct ep *same_diff = mk("red:web:eth1", "web", "10.2.0.2", NULL, "8080:81");

	(void)state;
	put(p, web, &d);
	assert_int_equal(d.n_add, 3);	/* v4 + v6 for 8080, v4 only for 127.0.0.1 */
	assert_int_equal(netd_pub_check(p, &db->e, &err), -EEXIST);
	assert_int_equal(err.code, NETD_ERR_IN_USE);
	if (!strstr(err.msg, "container web") || !strstr(err.msg, "blue:web:eth0") || !strstr(err.msg, "8080/tcp"))
		fail_msg("%s", err.msg);
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_pub_check(p, &db6->e, &err), -EEXIST);	/* v6 wildcard vs web's v6 */
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_pub_check(p, &wide->e, &err), -EEXIST);	/* any vs 127.0.0.1 */
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_pub_check(p, &lo->e, &err), 0);	/* other address, other protocol */
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_pub_check(p, &same_diff->e, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "differently"));
	/* a refused check changed nothing */
	assert_int_equal(netd_pub_count(p), 3);
	netd_pub_delta_free(&d);
	ep_free(web);
	ep_free(db);
	ep_free(db6);
	ep_free(lo);
	ep_free(wide);
	ep_free(same_diff);
	netd_pub_free(p);
}

static void test_duplicates_in_one_request(void **state)
{
	struct netd_pub *p = netd_pub_new();
	struct netd_err err = {0};
	struct ep *dup = mk("blue:web:eth0", "web", "10.1.0.2", NULL, "8080:80 8079-8081:79-81");

	(void)state;
	assert_int_equal(netd_pub_check(p, &dup->e, &err), -EINVAL);
	assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err.msg, "portMappings[0]"));
	assert_non_null(strstr(err.msg, "portMappings[2]"));
	ep_free(dup);
	netd_pub_free(p);
}

static void test_replace_own_registration(void **state)
{
	struct netd_pub *p = netd_pub_new();
	struct netd_pub_delta d = {0};
	struct netd_err err = {0};
	struct ep *a = mk("blue:web:eth0", "web", "10.1.0.2", NULL, "8080:80");
	struct ep *a2 = mk("blue:web:eth0", "web", "10.1.0.2", NULL, "8080:81 8081:81");
	char buf[64];

	(void)state;
	put(p, a, &d);
	netd_pub_delta_free(&d);
	assert_int_equal(netd_pub_check(p, &a2->e, &err), 0);
	assert_int_equal(netd_pub_put(p, &a2->e, &d), 0);
	assert_int_equal(d.n_del, 1);
	assert_int_equal(d.n_add, 2);
	assert_string_equal(to(&d.add[0], buf), "10.1.0.2:81");
	assert_int_equal(netd_pub_count(p), 2);
	netd_pub_delta_free(&d);
	ep_free(a);
	ep_free(a2);
	netd_pub_free(p);
}

static void count_cb(const struct netd_pub_elem *e, void *arg)
{
	(void)e;
	(*(size_t *)arg)++;
}

static void test_ten_thousand(void **state)
{
	struct netd_pub *p = netd_pub_new();
	struct netd_pub_delta d = {0};
	struct ep *a = mk("blue:web:eth0", "web", "10.1.0.2", NULL, "20000-29999:20000-29999");
	struct ep *b = mk("blue:db:eth0", "db", "10.1.0.3", NULL, "30000:1");
	size_t n = 0;

	(void)state;
	put(p, a, &d);
	assert_int_equal(d.n_add, 10000);
	netd_pub_delta_free(&d);
	put(p, b, &d);
	netd_pub_delta_free(&d);
	netd_pub_each(p, count_cb, &n);
	assert_int_equal(n, 10001);
	assert_int_equal(netd_pub_del(p, "blue:web:eth0", &d), 0);
	assert_int_equal(d.n_del, 10000);
	netd_pub_delta_free(&d);
	ep_free(a);
	ep_free(b);
	netd_pub_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_first_network_then_moves),
		cmocka_unit_test(test_conflicts_name_holder),
		cmocka_unit_test(test_duplicates_in_one_request),
		cmocka_unit_test(test_replace_own_registration),
		cmocka_unit_test(test_ten_thousand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
