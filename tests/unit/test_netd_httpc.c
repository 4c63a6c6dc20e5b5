/* httpc: the unix-socket HTTP client netd-endpoint and netdctl use. A forked
 * server answers with canned bytes, so framing (Content-Length, chunked,
 * 204, keep-alive, truncation) is tested exactly. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "netd/httpc.h"

static char sock_path[108];

/* A listening socket at sock_path, where the server under test will be. */
static int listen_here(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int l = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sock_path, sizeof(sock_path), "/tmp/netd-httpc-%d.sock", (int)getpid());
	unlink(sock_path);
	strcpy(sa.sun_path, sock_path);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	return l;
}

/* Serve one connection: for each canned answer, read one request (up to the
 * blank line plus Content-Length body) and write the answer; then close. */
static pid_t serve(const char *const *answers, size_t n)
{
	int l = listen_here();
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		int c = accept(l, NULL, NULL);
		char buf[8192];
		size_t len = 0;

		for (size_t i = 0; i < n; i++) {
			char *end;
			long clen = 0;

			while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
				ssize_t r = read(c, buf + len, sizeof(buf) - len);

				if (r <= 0)
					_exit(1);
				len += r;
			}
			char *cl = strcasestr(buf, "Content-Length:");
			if (cl && cl < end)
				clen = strtol(cl + 15, NULL, 10);
			while (len < (size_t)(end - buf) + 4 + clen) {
				ssize_t r = read(c, buf + len, sizeof(buf) - len);

				if (r <= 0)
					_exit(1);
				len += r;
			}
			size_t used = (end - buf) + 4 + clen;
			memmove(buf, buf + used, len - used);
			len -= used;
			if (write(c, answers[i], strlen(answers[i])) < 0)
				_exit(1);
		}
		close(c);
		_exit(0);
	}
	close(l);
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	waitpid(pid, &st, 0);
	unlink(sock_path);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* One request on c, answered with that status and body. */
static void answered(struct netd_httpc *c, const char *method, const char *path, const char *req, int status,
		     const char *body)
{
	struct netd_http_resp r;
	struct netd_err err = {0};

	assert_int_equal(netd_httpc_do(c, method, path, req, &r, &err), 0);
	assert_int_equal(r.status, status);
	assert_string_equal(r.body, body);
	netd_http_resp_free(&r);
}

static void keepalive_framings(void **state)
{
	static const char *const answers[] = {
		"HTTP/1.1 201 Created\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\n{\"a\":\"b c\"}",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n[1,2\r\n2\r\n,3\r\n1\r\n]\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}",
	};
	pid_t pid = serve(answers, 4);
	struct netd_httpc *c;
	struct netd_http_resp r;
	struct netd_err err = {0};

	assert_int_equal(netd_httpc_open(sock_path, 2000, &c, &err), 0);
	answered(c, "POST", "/v1/endpoints", "{\"x\":1}", 201, "{\"a\":\"b c\"}");
	answered(c, "GET", "/v1/endpoints", NULL, 200, "[1,2,3]");
	answered(c, "DELETE", "/v1/endpoints/a:b:c", NULL, 204, "");
	answered(c, "GET", "/x", NULL, 404, "{}");
	/* the server closed: the next request fails, with a message */
	assert_true(netd_httpc_do(c, "GET", "/x", NULL, &r, &err) < 0);
	assert_true(netd_err_isset(&err));
	netd_httpc_close(c);
	reap(pid);
}

static void truncated_and_garbage(void **state)
{
	static const char *const trunc[] = {"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"};
	static const char *const garbage[] = {"SSH-2.0-OpenSSH\r\n\r\n"};
	static const char *const to_eof[] = {"HTTP/1.0 200 OK\r\n\r\nuntil eof"};
	struct netd_http_resp r;
	struct netd_err err = {0};
	pid_t pid;

	pid = serve(trunc, 1);
	assert_int_equal(netd_http_request(sock_path, "GET", "/", NULL, 2000, &r, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "truncated"));
	reap(pid);

	memset(&err, 0, sizeof(err));
	pid = serve(garbage, 1);
	assert_int_equal(netd_http_request(sock_path, "GET", "/", NULL, 2000, &r, &err), -EPROTO);
	assert_int_equal(err.code, CNI_ERR_IO);
	reap(pid);

	memset(&err, 0, sizeof(err));
	pid = serve(to_eof, 1);
	assert_int_equal(netd_http_request(sock_path, "GET", "/", NULL, 2000, &r, &err), 0);
	assert_string_equal(r.body, "until eof");
	netd_http_resp_free(&r);
	reap(pid);
}

static void not_running(void **state)
{
	struct netd_http_resp r;
	struct netd_err err = {0};
	int rc = netd_http_request("/nonexistent/netd.sock", "GET", "/v1/status", NULL, 1000, &r, &err);

	assert_int_equal(rc, -ENOENT);
	assert_true(netd_httpc_unreachable(rc));
	assert_int_equal(err.code, CNI_ERR_TRY_LATER);
	assert_string_equal(err.msg, "connect /nonexistent/netd.sock: No such file or directory");
}

static void closed_without_answer(void **state)
{
	static const char *const none[] = {""};
	struct netd_http_resp r;
	struct netd_err err = {0};
	pid_t pid = serve(none, 1);

	assert_int_equal(netd_http_request(sock_path, "GET", "/", NULL, 300, &r, &err), -ECONNRESET);
	assert_non_null(strstr(err.msg, "closed the connection"));
	reap(pid);
}

static void timeout(void **state)
{
	struct netd_http_resp r;
	struct netd_err err = {0};
	int l = listen_here(), st;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		int c = accept(l, NULL, NULL);

		sleep(3); /* a hung netd: accepts, never answers */
		close(c);
		_exit(0);
	}
	close(l);
	assert_int_equal(netd_http_request(sock_path, "GET", "/", NULL, 300, &r, &err), -ETIMEDOUT);
	assert_int_equal(err.code, CNI_ERR_TRY_LATER);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	unlink(sock_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keepalive_framings),
		cmocka_unit_test(truncated_and_garbage),
		cmocka_unit_test(not_running),
		cmocka_unit_test(closed_without_answer),
		cmocka_unit_test(timeout),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
