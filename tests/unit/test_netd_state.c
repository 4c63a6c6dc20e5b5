/* netd's endpoint store on disk: the journal, compaction, torn tails, the
 * sync modes. What is asserted is what
 * a restart gives back (netd_state_open on the same dir), compared with the
 * state before it record for record and in registration order. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "daemon.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/netd-state-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct netd_state *open_state(size_t *dropped)
{
	struct netd_state *s = NULL;
	struct netd_err err = {0};

	if (netd_state_open(dir, &s, dropped, &err) < 0)
		fail_msg("open %s: %s", dir, err.msg);
	return s;
}

static void put(struct netd_state *s, const char *cid, const char *net, const char *netns, const char *alias)
{
	char body[512];
	json_t *j;
	struct netd_ep *ep;
	struct netd_err err = {0};

	snprintf(body, sizeof(body), "{\"containerID\":\"%s\",\"network\":\"%s\",\"netns\":\"%s\","
		 "\"aliases\":[\"%s\"],\"ips\":[\"10.1.2.3/24\"]}", cid, net, netns, alias);
	assert_non_null(j = json_loads(body, 0, NULL));
	if (netd_ep_from_json(j, &ep, &err) < 0 || netd_state_put_ep(s, ep, NULL, &err) < 0)
		fail_msg("put %s: %s", cid, err.msg);
	json_decref(j);
}

static void del(struct netd_state *s, const char *net, const char *cid)
{
	char id[256];
	struct netd_err err = {0};

	snprintf(id, sizeof(id), "%s:%s:eth0", net, cid);
	if (netd_state_del_ep(s, id, &err) < 0)
		fail_msg("del %s: %s", id, err.msg);
}

/* Every endpoint record in registration order, one per line. */
static char *dump(const struct netd_state *s)
{
	size_t len = 0, cap = 1;
	char *out = calloc(1, 1);

	for (struct netd_ep *e = s->first; e; e = e->next) {
		size_t n = strlen(e->json);

		if (len + n + 2 > cap)
			out = realloc(out, cap = (len + n + 2) * 2);
		memcpy(out + len, e->json, n);
		out[len + n] = '\n';
		out[len += n + 1] = 0;
	}
	return out;
}

/* s holds exactly the records of `want` (a dump), in the same order. */
static void assert_dump(const struct netd_state *s, const char *want)
{
	char *got = dump(s);

	assert_string_equal(want, got);
	free(got);
}

static bool exists(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static size_t count_files(const char *suffix)
{
	char cmd[256];
	size_t n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls -A %s | grep -c '%s$'", dir, suffix);
	f = popen(cmd, "r");
	if (fscanf(f, "%zu", &n) != 1)
		n = 0;
	pclose(f);
	return n;
}

static void append_file(const char *name, const void *data, size_t len)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_true((fd = open(path, O_WRONLY | O_APPEND)) >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* A restart gives back exactly what was acknowledged, replaced and deleted
 * records included, with and without compaction in between. */
static void journal_round_trip(void **state)
{
	struct netd_state *s = open_state(NULL);
	char cid[32], *before;
	struct stat st;
	char path[256];

	(void)state;
	for (int i = 0; i < 300; i++) {
		snprintf(cid, sizeof(cid), "c%d", i);
		put(s, cid, i % 3 ? "blue" : "red", "/proc/self/ns/net", "a");
	}
	for (int i = 0; i < 300; i += 7) {
		snprintf(cid, sizeof(cid), "c%d", i);
		del(s, i % 3 ? "blue" : "red", cid);
	}
	put(s, "c1", "blue", "/proc/self/ns/net", "replaced"); /* moves to the end */
	assert_true(exists("endpoints.0000000001.log"));
	snprintf(path, sizeof(path), "%s/endpoints.0000000001.log", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	before = dump(s);
	netd_state_free(s);

	s = open_state(NULL);
	assert_dump(s, before);
	assert_int_equal(s->n_eps, 300 - 43);
	assert_int_equal(s->n_warnings, 0);
	assert_non_null(strstr(s->last->json, "\"replaced\""));
	assert_non_null(netd_state_get_net(s, "red"));
	netd_state_free(s);
	free(before);
}

/* Compaction keeps everything, retires the old journal, and changes made
 * after it (into the new journal) come back too. */
static void compaction_keeps_everything(void **state)
{
	struct netd_state *s = open_state(NULL);
	struct netd_err err = {0};
	char cid[32], *before;

	(void)state;
	for (int i = 0; i < 500; i++) {
		snprintf(cid, sizeof(cid), "k%d", i);
		put(s, cid, "n", "/proc/self/ns/net", "x");
		if (i % 2) {
			snprintf(cid, sizeof(cid), "k%d", i - 1);
			del(s, "n", cid);
		}
	}
	assert_int_equal(s->n_eps, 250);
	assert_int_equal(s->j_records, 750);
	assert_int_equal(netd_state_compact(s, &err), 0);
	assert_int_equal(s->n_compactions, 1);
	assert_int_equal(s->j_records, 0);
	assert_true(exists("endpoints.0000000001.snap"));
	assert_false(exists("endpoints.0000000001.log"));
	assert_true(exists("endpoints.0000000002.log"));
	before = dump(s);
	netd_state_free(s);

	s = open_state(NULL);
	assert_dump(s, before);
	free(before);
	/* after the compaction: more changes, then a restart */
	del(s, "n", "k1");
	put(s, "late", "n", "/proc/self/ns/net", "y");
	before = dump(s);
	netd_state_free(s);
	s = open_state(NULL);
	assert_dump(s, before);
	assert_null(netd_state_get_ep(s, "n:k1:eth0"));
	assert_non_null(netd_state_get_ep(s, "n:late:eth0"));
	assert_int_equal(s->n_warnings, 0);
	/* a second compaction replaces the first snapshot */
	assert_int_equal(netd_state_compact(s, &err), 0);
	assert_true(exists("endpoints.0000000002.snap"));
	assert_false(exists("endpoints.0000000001.snap"));
	assert_int_equal(count_files(".log"), 1);
	netd_state_free(s);
	s = open_state(NULL);
	assert_dump(s, before);
	free(before);
	netd_state_free(s);
}

/* The loop's tick compacts by itself once the journal outgrows the live set,
 * in a child, while changes keep coming; nothing made meanwhile is lost. */
static void compaction_in_the_background(void **state)
{
	struct netd_state *s = open_state(NULL);
	struct netd_err err = {0};
	char cid[32], *before;
	int spins = 0;

	(void)state;
	s->compact_min = 64;
	for (int i = 0; i < 100; i++) {
		snprintf(cid, sizeof(cid), "b%d", i);
		put(s, cid, "n", "/proc/self/ns/net", "x");
	}
	assert_int_equal(netd_state_tick(s, &err), 0);
	assert_int_equal(s->child, 0); /* pure growth: the journal is as small as a snapshot */
	for (int i = 0; i < 60; i++) {
		snprintf(cid, sizeof(cid), "b%d", i);
		del(s, "n", cid);
	}
	assert_int_equal(netd_state_tick(s, &err), 0);
	assert_true(s->child > 0);
	assert_true(netd_state_timeout_ms(s) >= 0);
	/* while the child writes its snapshot */
	put(s, "during", "n", "/proc/self/ns/net", "z");
	del(s, "n", "b99");
	while (s->child && spins++ < 500) {
		usleep(10000);
		assert_int_equal(netd_state_tick(s, &err), 0);
	}
	assert_int_equal(s->child, 0);
	assert_int_equal(s->n_compactions, 1);
	assert_true(exists("endpoints.0000000001.snap"));
	assert_false(exists("endpoints.0000000001.log"));
	before = dump(s);
	netd_state_free(s);
	s = open_state(NULL);
	assert_dump(s, before);
	assert_int_equal(s->n_eps, 40);
	assert_non_null(netd_state_get_ep(s, "n:during:eth0"));
	assert_null(netd_state_get_ep(s, "n:b99:eth0"));
	free(before);
	netd_state_free(s);
}

/* A power loss mid-append leaves part of a record: it is dropped with a
 * warning, everything before it kept, and new records never follow it. */
static void torn_tail_dropped(void **state)
{
	struct netd_state *s = open_state(NULL);
	struct netd_err err = {0};
	char cid[32], *before;
	static const char partial[] = "P 00000120 5d1e9a0c {\"id\":\"n:torn:eth0\",\"contai";

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(cid, sizeof(cid), "t%d", i);
		put(s, cid, "n", "/proc/self/ns/net", "x");
	}
	before = dump(s);
	netd_state_free(s);
	append_file("endpoints.0000000001.log", partial, sizeof(partial) - 1);

	s = open_state(NULL);
	assert_dump(s, before);
	assert_int_equal(s->n_warnings, 1);
	assert_non_null(strstr(s->warning, "endpoints.0000000001.log: torn or corrupt record at byte"));
	assert_non_null(strstr(s->warning, "the 10 records before it are kept"));
	assert_true(s->want_compact);
	assert_int_equal(s->jgen, 2); /* appends go to a new journal */
	put(s, "after", "n", "/proc/self/ns/net", "y");
	free(before);
	before = dump(s);
	netd_state_free(s);

	s = open_state(NULL);
	assert_dump(s, before);
	assert_non_null(netd_state_get_ep(s, "n:after:eth0"));
	/* the tick retires the torn journal */
	assert_int_equal(netd_state_tick(s, &err), 0);
	assert_int_equal(netd_state_compact(s, &err), 0);
	assert_false(exists("endpoints.0000000001.log"));
	netd_state_free(s);
	s = open_state(NULL);
	assert_int_equal(s->n_warnings, 0);
	assert_dump(s, before);
	free(before);
	netd_state_free(s);
}

/* A flipped byte in the middle (bad checksum): the records before it are
 * kept, the rest of that file is not trusted. */
static void corrupt_record_detected(void **state)
{
	struct netd_state *s = open_state(NULL);
	char cid[32], path[256], buf[65536];
	ssize_t n;
	int fd;

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(cid, sizeof(cid), "f%d", i);
		put(s, cid, "n", "/proc/self/ns/net", "x");
	}
	netd_state_free(s);
	snprintf(path, sizeof(path), "%s/endpoints.0000000001.log", dir);
	assert_true((fd = open(path, O_RDWR)) >= 0);
	assert_true((n = read(fd, buf, sizeof(buf))) > 0);
	/* in the 6th record's payload */
	{
		char *p = buf;

		for (int i = 0; i < 5; i++)
			p = strchr(p, '\n') + 1;
		p = strstr(p, "\"f5\"");
		assert_non_null(p);
		p[2] = '6';
	}
	assert_int_equal(pwrite(fd, buf, n, 0), n);
	close(fd);
	s = open_state(NULL);
	assert_int_equal(s->n_eps, 5);
	assert_non_null(netd_state_get_ep(s, "n:f4:eth0"));
	assert_null(netd_state_get_ep(s, "n:f5:eth0"));
	assert_null(netd_state_get_ep(s, "n:f6:eth0"));
	assert_int_equal(s->n_warnings, 1);
	assert_non_null(strstr(s->warning, "torn or corrupt record"));
	netd_state_free(s);
}

/* Endpoints whose netns is gone are dropped at load, once: the drop is
 * journalled, and junk files do not stop a load. */
static void dropped_once_and_junk_ignored(void **state)
{
	struct netd_state *s = open_state(NULL);
	size_t dropped = 0;
	char path[256];
	FILE *f;

	(void)state;
	put(s, "live", "n", "/proc/self/ns/net", "x");
	put(s, "gone", "n", "/nonexistent/netns", "x");
	netd_state_free(s);
	snprintf(path, sizeof(path), "%s/.endpoints.0000000001.snap.tmp", dir);
	f = fopen(path, "w");
	fputs("half a snapshot", f);
	fclose(f);
	s = open_state(&dropped);
	assert_int_equal(dropped, 1);
	assert_int_equal(s->n_eps, 1);
	assert_false(exists(".endpoints.0000000001.snap.tmp"));
	netd_state_free(s);
	s = open_state(&dropped);
	assert_int_equal(dropped, 0);
	assert_int_equal(s->n_eps, 1);
	netd_state_free(s);
}

/* batch: synced within NETD_SYNC_BATCH_MS by the tick; always: before the
 * answer; never: left to the kernel. */
static void sync_modes(void **state)
{
	struct netd_state *s = open_state(NULL);
	struct netd_err err = {0};
	int t;

	(void)state;
	assert_int_equal(s->sync, NETD_SYNC_BATCH);
	assert_int_equal(netd_state_timeout_ms(s), -1);
	put(s, "a", "n", "/proc/self/ns/net", "x");
	assert_true(s->dirty);
	t = netd_state_timeout_ms(s);
	assert_true(t >= 0 && t <= NETD_SYNC_BATCH_MS);
	assert_int_equal(netd_state_tick(s, &err), 0);
	usleep((NETD_SYNC_BATCH_MS + 5) * 1000);
	assert_int_equal(netd_state_timeout_ms(s), 0);
	assert_int_equal(netd_state_tick(s, &err), 0);
	assert_false(s->dirty);
	assert_int_equal(netd_state_timeout_ms(s), -1);
	s->sync = NETD_SYNC_ALWAYS;
	put(s, "b", "n", "/proc/self/ns/net", "x");
	assert_false(s->dirty);
	s->sync = NETD_SYNC_NEVER;
	put(s, "c", "n", "/proc/self/ns/net", "x");
	assert_false(s->dirty);
	assert_int_equal(netd_state_timeout_ms(s), -1);
	netd_state_free(s);
	s = open_state(NULL);
	assert_int_equal(s->n_eps, 3);
	netd_state_free(s);
}

/* The record format as docs/netd.md describes it, written by hand with an
 * independent CRC-32: key order and escapes other than netd's own load too. */
static uint32_t crc32_ieee(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static void hand_record(FILE *f, char op, const char *payload)
{
	uint32_t crc = crc32_ieee(crc32_ieee(0, &op, 1), payload, strlen(payload));

	fprintf(f, "%c %08zx %08x %s\n", op, strlen(payload), (unsigned)crc, payload);
}

static void hand_written_records(void **state)
{
	char path[256];
	struct netd_state *s;
	struct netd_ep *ep;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/endpoints.0000000007.log", dir);
	f = fopen(path, "w");
	hand_record(f, 'P', "{\"containerID\":\"h1\",\"id\":\"n:h1:eth0\",\"network\":\"n\",\"ifname\":\"eth0\","
		    "\"netns\":\"/proc/self/ns/net\",\"name\":\"web\"}");
	hand_record(f, 'P', "{\"id\":\"n:h2:eth0\",\"containerID\":\"h2\",\"name\":\"\",\"network\":\"n\","
		    "\"ifname\":\"eth0\",\"netns\":\"\\/proc\\/self\\/ns\\/net\",\"mac\":\"\",\"ips\":[]}");
	hand_record(f, 'P', "{\"id\":\"n:h3:eth0\",\"containerID\":\"h3\",\"network\":\"n\",\"netns\":\"/x\"}");
	hand_record(f, 'D', "n:h3:eth0");
	hand_record(f, 'P', "{\"id\":\"wrong\",\"containerID\":\"h4\",\"network\":\"n\",\"netns\":\"/x\"}");
	fclose(f);
	s = open_state(NULL);
	assert_int_equal(s->n_eps, 2);
	assert_non_null(ep = netd_state_get_ep(s, "n:h1:eth0"));
	assert_string_equal(ep->name, "web");
	assert_non_null(ep = netd_state_get_ep(s, "n:h2:eth0"));
	assert_string_equal(ep->netns, "/proc/self/ns/net");
	assert_null(netd_state_get_ep(s, "n:h3:eth0"));
	/* a whole record whose content does not validate: skipped, said so */
	assert_int_equal(s->n_warnings, 1);
	assert_non_null(strstr(s->warning, "does not validate"));
	assert_int_equal(s->jgen, 7);
	netd_state_free(s);
}

static double now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 10,000 endpoints: compaction happens off the loop (the caller only forks),
 * and a restart gives them all back. Times are printed, not asserted. */
static void ten_thousand(void **state)
{
	struct netd_state *s = open_state(NULL);
	struct netd_err err = {0};
	char cid[32];
	double t0, t1, t2, c1, c2;

	(void)state;
	s->sync = NETD_SYNC_NEVER;
	for (int i = 0; i < 10000; i++) {
		snprintf(cid, sizeof(cid), "x%05d", i);
		put(s, cid, "big", "/proc/self/ns/net", "x");
	}
	t0 = now_ms(CLOCK_MONOTONIC);
	assert_int_equal(netd_state_compact(s, &err), 0);
	t1 = now_ms(CLOCK_MONOTONIC);
	netd_state_free(s);
	c1 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	s = open_state(NULL);
	t2 = now_ms(CLOCK_MONOTONIC);
	c2 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	assert_int_equal(s->n_eps, 10000);
	assert_int_equal(s->n_warnings, 0);
	print_message("10,000 endpoints: compaction %.1f ms (fork to exit, snapshot fsynced), "
		      "load %.1f ms (%.1f ms CPU)\n", t1 - t0, t2 - t1, c2 - c1);
	netd_state_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(journal_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(compaction_keeps_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(compaction_in_the_background, setup, teardown),
		cmocka_unit_test_setup_teardown(torn_tail_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_record_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(dropped_once_and_junk_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(sync_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(hand_written_records, setup, teardown),
		cmocka_unit_test_setup_teardown(ten_thousand, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
