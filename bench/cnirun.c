/* cnirun — run CNI plugins (or any command) from a plan on stdin and time
 * each run, so the benchmark measures the plugin process and not a shell loop.
 *
 * Plan lines (fields separated by single spaces):
 *   cni <tag> <ADD|DEL|CHECK> <plugin> <config-file> <CNI_PATH> <containerid> <netns> <ifname>
 *   exec <tag> <argv0> [args...]
 * For each line: posix_spawn (stdin = config file or /dev/null, stdout =
 * a scratch file), wait4, and print
 *   <tag> <microseconds> <ru_maxrss KiB> <exit status> <cpu microseconds>
 * The time is CLOCK_MONOTONIC from just before the spawn to the reap, i.e.
 * exec + the whole plugin run (including anything it execs, such as IPAM).
 * ru_maxrss is the largest RSS of the child and of what it waited for; cpu
 * is its user + system time (with its reaped children), which a loaded
 * machine disturbs less than the wall time.
 * A failed run prints its stdout to stderr; the plan goes on.
 *
 * Build: cc -O2 -o cnirun bench/cnirun.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void dump(const char *path, const char *tag)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	fprintf(stderr, "cnirun: %s failed:", tag);
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fprintf(stderr, " %s", buf);
		fclose(f);
	}
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	char line[8192], out[4096];
	const char *scratch = argc > 1 ? argv[1] : "/tmp/cnirun.out";

	snprintf(out, sizeof(out), "%s", scratch);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		char *f[64], *save = NULL, *envp[16], envbuf[8][1024];
		const char *in = "/dev/null", *tag;
		char **args;
		int nf = 0, ne = 0, status;
		posix_spawn_file_actions_t fa;
		struct rusage ru;
		long long t0, t1;
		pid_t pid;

		line[strcspn(line, "\n")] = '\0';
		for (char *w = strtok_r(line, " ", &save); w && nf < 63; w = strtok_r(NULL, " ", &save))
			f[nf++] = w;
		f[nf] = NULL;
		if (nf < 3)
			continue;
		tag = f[1];
		if (!strcmp(f[0], "cni") && nf == 9) {
			static const char *keys[] = {"CNI_COMMAND", NULL, NULL, "CNI_PATH",
						     "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"};
			for (int i = 0; i < 7; i++) {
				if (!keys[i])
					continue;
				snprintf(envbuf[ne], sizeof(envbuf[ne]), "%s=%s", keys[i], f[2 + i]);
				envp[ne] = envbuf[ne];
				ne++;
			}
			snprintf(envbuf[ne], sizeof(envbuf[ne]), "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
			envp[ne] = envbuf[ne];
			ne++;
			envp[ne] = NULL;
			in = f[4];
			f[4] = NULL;
			args = &f[3];
		} else if (!strcmp(f[0], "exec")) {
			args = &f[2];
			memcpy(envp, (char *[]){"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL}, 2 * sizeof(char *));
		} else {
			fprintf(stderr, "cnirun: bad plan line for %s\n", tag);
			continue;
		}
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		t0 = now_us();
		if ((errno = posix_spawn(&pid, args[0], &fa, NULL, args, envp)) != 0) {
			fprintf(stderr, "cnirun: spawn %s: %m\n", args[0]);
			posix_spawn_file_actions_destroy(&fa);
			printf("%s -1 0 127 0\n", tag);
			continue;
		}
		while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
			;
		t1 = now_us();
		posix_spawn_file_actions_destroy(&fa);
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (status)
			dump(out, tag);
		printf("%s %lld %ld %d %lld\n", tag, t1 - t0, ru.ru_maxrss, status,
		       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
			       ru.ru_stime.tv_usec);
	}
	return 0;
}
