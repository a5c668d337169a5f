// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for core/src/sandbox.c: what a forked child can still do after vt_sandbox_enter
 * (writes, creation, TCP, signals, capabilities, limits), the mount-namespace fallback,
 * and the child runner's verdicts (result, crash, hang, flood, setup failure).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "vt-test.h"
#include "vt/sandbox.h"

struct dirs {
	char *root;
	char allowed[PATH_MAX], outside[PATH_MAX];
};

static int setup(void **state)
{
	struct dirs *d = calloc(1, sizeof(*d));

	d->root = vt_test_tmpdir();
	snprintf(d->allowed, sizeof(d->allowed), "%s/run", d->root);
	snprintf(d->outside, sizeof(d->outside), "%s/elsewhere", d->root);
	assert_int_equal(mkdir(d->allowed, 0750), 0);
	assert_int_equal(mkdir(d->outside, 0750), 0);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dirs *d = *state;

	vt_test_rmtree(d->root);
	free(d->root);
	free(d);
	return 0;
}

/* errno of creating @dir/@name for writing (0: it worked) */
static int try_create(const char *dir, const char *name)
{
	char path[PATH_MAX * 2];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return errno;
	if (write(fd, "x", 1) != 1) {
		close(fd);
		return errno;
	}
	close(fd);
	return 0;
}

/* the value of "@key:" in /proc/self/status, as text */
static void status_field(const char *key, char *out, size_t len)
{
	char *text = NULL;
	const char *p;

	out[0] = '\0';
	if (vtc_read_file("/proc/self/status", &text, NULL) < 0)
		return;
	p = strstr(text, key);
	if (p) {
		p += strlen(key);
		p += strspn(p, ":\t ");
		snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
	}
	free(text);
}

static int highest_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int high = 2;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (atoi(de->d_name) > high && atoi(de->d_name) != dirfd(d))
			high = atoi(de->d_name);
	closedir(d);
	return high;
}

/* each check of a sandboxed child, by exit code */
enum {
	CHILD_OK = 0,
	CHILD_ENTER_FAILED = 10,
	CHILD_WROTE_OUTSIDE,
	CHILD_OUTSIDE_WRONG_ERRNO,
	CHILD_INSIDE_FAILED,
	CHILD_MKDIR_INSIDE_FAILED,
	CHILD_SYMLINK_INSIDE_WORKED,
	CHILD_RENAME_OUT_WORKED,
	CHILD_NNP_NOT_SET,
	CHILD_CAPS_LEFT,
	CHILD_BOUNDING_LEFT,
	CHILD_CORE_LIMIT,
	CHILD_FSIZE_LIMIT,
	CHILD_NOFILE_LIMIT,
	CHILD_FSIZE_NOT_ENFORCED,
	CHILD_INFO_WRONG,
	CHILD_UNLINK_OUTSIDE_WORKED,
};

#define FSIZE_MAX (1u << 20)

static int confined_child(const struct dirs *d, unsigned flags, int outside_errno)
{
	struct vt_sandbox_opts o = { .write_dir = d->allowed, .fsize_max = FSIZE_MAX,
				     .nofile_max = 48, .flags = flags };
	struct vt_sandbox_info info;
	struct vt_errbuf eb = { "" };
	char v[64], path[PATH_MAX * 2], dst[PATH_MAX * 2];
	struct rlimit rl;
	int e, fd, high = highest_fd();

	if (vt_sandbox_enter(&o, &info, &eb) < 0) {
		fprintf(stderr, "vt_sandbox_enter: %s\n", eb.msg);
		return CHILD_ENTER_FAILED;
	}
	e = try_create(d->outside, "escaped");
	if (!e)
		return CHILD_WROTE_OUTSIDE;
	if (e != outside_errno) {
		fprintf(stderr, "outside: %s\n", strerror(e));
		return CHILD_OUTSIDE_WRONG_ERRNO;
	}
	snprintf(path, sizeof(path), "%s/victim", d->outside);
	if (unlink(path) == 0)
		return CHILD_UNLINK_OUTSIDE_WORKED;
	if (try_create(d->allowed, "inside"))
		return CHILD_INSIDE_FAILED;
	snprintf(path, sizeof(path), "%s/sub", d->allowed);
	if (mkdir(path, 0750) < 0 || try_create(path, "deeper"))
		return CHILD_MKDIR_INSIDE_FAILED;
	snprintf(path, sizeof(path), "%s/link", d->allowed);
	if (!(flags & VT_SANDBOX_NO_LANDLOCK) && symlink("/etc/shadow", path) == 0)
		return CHILD_SYMLINK_INSIDE_WORKED;
	snprintf(path, sizeof(path), "%s/inside", d->allowed);
	snprintf(dst, sizeof(dst), "%s/moved", d->outside);
	if (rename(path, dst) == 0)
		return CHILD_RENAME_OUT_WORKED;
	status_field("NoNewPrivs", v, sizeof(v));
	if (strcmp(v, "1"))
		return CHILD_NNP_NOT_SET;
	status_field("CapEff", v, sizeof(v));
	if (strcmp(v, "0000000000000000"))
		return CHILD_CAPS_LEFT;
	status_field("CapPrm", v, sizeof(v));
	if (strcmp(v, "0000000000000000"))
		return CHILD_CAPS_LEFT;
	status_field("CapAmb", v, sizeof(v));
	if (strcmp(v, "0000000000000000"))
		return CHILD_CAPS_LEFT;
	status_field("CapBnd", v, sizeof(v));
	if (geteuid() == 0 && strcmp(v, "0000000000000000"))
		return CHILD_BOUNDING_LEFT;
	if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
		return CHILD_CORE_LIMIT;
	if (getrlimit(RLIMIT_FSIZE, &rl) < 0 || rl.rlim_cur != FSIZE_MAX)
		return CHILD_FSIZE_LIMIT;
	/* 48, or room above the fds this test inherited */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 ||
	    rl.rlim_cur != (high + 16 > 48 ? (rlim_t)high + 16 : 48)) {
		fprintf(stderr, "RLIMIT_NOFILE %llu\n", (unsigned long long)rl.rlim_cur);
		return CHILD_NOFILE_LIMIT;
	}
	/* a file may not grow past RLIMIT_FSIZE: EFBIG, not a SIGXFSZ death */
	snprintf(path, sizeof(path), "%s/big", d->allowed);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || ftruncate(fd, FSIZE_MAX) < 0 || lseek(fd, FSIZE_MAX, SEEK_SET) < 0 ||
	    write(fd, "y", 1) != -1 || errno != EFBIG)
		return CHILD_FSIZE_NOT_ENFORCED;
	close(fd);
	if (!info.no_new_privs || info.cap_effective || info.cap_permitted || info.cap_ambient ||
	    !info.fs_confined || info.rlimit_core != 0 || info.rlimit_fsize != FSIZE_MAX ||
	    (flags & VT_SANDBOX_NO_LANDLOCK ? !info.mount_ns || info.landlock_abi
					    : info.mount_ns || !info.landlock_abi))
		return CHILD_INFO_WRONG;
	return CHILD_OK;
}

static void expect_child(const struct dirs *d, unsigned flags, int outside_errno)
{
	int status;
	pid_t pid;

	assert_int_equal(try_create(d->outside, "victim"), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(confined_child(d, flags, outside_errno));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
	/* the parent is untouched: it still writes anywhere */
	assert_int_equal(try_create(d->outside, "parent"), 0);
}

static void landlock_confines_writes_to_the_run_dir(void **state)
{
	int abi = vt_sandbox_landlock_abi();

	if (!abi) {
		printf("SKIP: this kernel has no Landlock (not in /sys/kernel/security/lsm?)\n");
		skip();
	}
	printf("Landlock ABI %d\n", abi);
	expect_child(*state, 0, EACCES);
}

static void mount_namespace_fallback_confines_writes(void **state)
{
	uint64_t eff = 0;

	assert_int_equal(vt_sandbox_caps(&eff, NULL, NULL, NULL), 0);
	if (!(eff & (1ull << 21))) {	/* CAP_SYS_ADMIN */
		printf("SKIP: the fallback needs CAP_SYS_ADMIN (run as root)\n");
		skip();
	}
	expect_child(*state, VT_SANDBOX_NO_LANDLOCK, EROFS);
}

/* a check run in a sandboxed child through vt_sandbox_run: prints its verdict to fd */
static int tcp_connect(void *arg, int fd, const struct vt_sandbox_info *info)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char out[64];

	(void)arg;
	(void)info;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0)
		return 2;
	snprintf(out, sizeof(out), "%s", connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0
						 ? strerror(errno) : "connected");
	vtc_write_all(fd, out, strlen(out));
	return 0;
}

static int signal_parent(void *arg, int fd, const struct vt_sandbox_info *info)
{
	const char *out = kill(getppid(), 0) < 0 ? strerror(errno) : "signalled";

	(void)arg;
	(void)info;
	vtc_write_all(fd, out, strlen(out));
	return 0;
}

static void run_in_sandbox(const struct dirs *d, int (*fn)(void *, int,
							   const struct vt_sandbox_info *),
			   struct vt_sandbox_child *c)
{
	struct vt_sandbox_opts o = { .write_dir = d->allowed };
	struct vt_errbuf eb = { "" };

	assert_int_equal(vt_sandbox_run(&o, fn, NULL, 10000, 4096, c, &eb), 0);
}

static void landlock_denies_tcp_and_signals_outside(void **state)
{
	struct vt_sandbox_child c;
	int abi = vt_sandbox_landlock_abi();

	if (abi < 6) {
		printf("SKIP: Landlock ABI %d: TCP rules need 4, signal scoping 6\n", abi);
		skip();
	}
	run_in_sandbox(*state, tcp_connect, &c);
	assert_true(vt_sandbox_child_ok(&c));
	assert_string_equal(c.out, strerror(EACCES));
	vt_sandbox_child_fini(&c);
	run_in_sandbox(*state, signal_parent, &c);
	assert_true(vt_sandbox_child_ok(&c));
	assert_string_equal(c.out, strerror(EPERM));
	vt_sandbox_child_fini(&c);
}

static int report_info(void *arg, int fd, const struct vt_sandbox_info *info)
{
	struct json_object *o = vt_sandbox_info_json(info);
	const char *text = json_object_to_json_string(o);

	(void)arg;
	vtc_write_all(fd, text, strlen(text));
	json_object_put(o);
	return 0;
}

static int crash(void *arg, int fd, const struct vt_sandbox_info *info)
{
	(void)arg;
	(void)fd;
	(void)info;
	signal(SIGSEGV, SIG_DFL);	/* cmocka's handler would catch it */
	raise(SIGSEGV);
	return 0;
}

static int hang(void *arg, int fd, const struct vt_sandbox_info *info)
{
	(void)arg;
	(void)info;
	vtc_write_all(fd, "partial", 7);
	for (;;)
		pause();
	return 0;
}

static int hang_after_close(void *arg, int fd, const struct vt_sandbox_info *info)
{
	(void)arg;
	(void)info;
	close(fd);
	for (;;)
		pause();
	return 0;
}

static int flood(void *arg, int fd, const struct vt_sandbox_info *info)
{
	char buf[4096];

	(void)arg;
	(void)info;
	memset(buf, 'A', sizeof(buf));
	for (;;)
		if (vtc_write_all(fd, buf, sizeof(buf)) < 0)
			return 3;
	return 0;
}

static int exit_7(void *arg, int fd, const struct vt_sandbox_info *info)
{
	(void)arg;
	(void)fd;
	(void)info;
	return 7;
}

struct run_case {
	const char *name;
	int (*fn)(void *, int, const struct vt_sandbox_info *);
	bool relative_dir;
	bool ok, timed_out, overflow;
	const char *describe;	/* a substring of vt_sandbox_child_describe */
};

static const struct run_case run_cases[] = {
	{ "result_is_collected", report_info, false, true, false, false, "exit status 0" },
	{ "crash_fails", crash, false, false, false, false, "killed by signal 11" },
	{ "hang_fails", hang, false, false, true, false, "timed out after 0.300 s" },
	{ "hang_after_closing_fails", hang_after_close, false, false, true, false, "timed out" },
	{ "flood_fails", flood, false, false, false, true, "more than its result" },
	{ "exit_status_fails", exit_7, false, false, false, false, "exit status 7" },
	{ "relative_write_dir_fails", report_info, true, false, false, false,
	  "sandbox setup failed: sandbox: the write directory must be absolute" },
};

static void runner_reports_how_the_child_ended(void **state)
{
	const struct dirs *d = *state;

	for (size_t i = 0; i < sizeof(run_cases) / sizeof(run_cases[0]); i++) {
		const struct run_case *rc = &run_cases[i];
		struct vt_sandbox_opts o = { .write_dir = rc->relative_dir ? "run" : d->allowed,
					     .flags = VT_SANDBOX_FS_BEST_EFFORT };
		struct vt_sandbox_child c;
		struct vt_errbuf eb = { "" };
		char why[512];

		printf("case %s\n", rc->name);
		assert_int_equal(vt_sandbox_run(&o, rc->fn, NULL, 300, 64 * 1024, &c, &eb), 0);
		assert_int_equal(vt_sandbox_child_ok(&c), rc->ok);
		assert_int_equal(c.timed_out, rc->timed_out);
		assert_int_equal(c.overflow, rc->overflow);
		vt_sandbox_child_describe(&c, 300, why, sizeof(why));
		if (!strstr(why, rc->describe))
			fail_msg("%s: '%s' lacks '%s'", rc->name, why, rc->describe);
		/* reaped: no zombie left */
		assert_int_equal(waitpid(c.pid, NULL, WNOHANG), -1);
		if (rc->fn == report_info && rc->ok) {
			struct json_object *j = json_tokener_parse(c.out), *v;

			assert_non_null(j);
			assert_true(json_object_object_get_ex(j, "no_new_privs", &v));
			assert_true(json_object_get_boolean(v));
			assert_true(json_object_object_get_ex(j, "capabilities", &v));
			assert_string_equal(json_object_get_string(v), "0x0");
			assert_true(json_object_object_get_ex(j, "landlock_abi", &v));
			assert_int_equal(json_object_get_int(v), vt_sandbox_landlock_abi());
			json_object_put(j);
		}
		vt_sandbox_child_fini(&c);
	}
}

static void enter_without_a_dir_fails(void **state)
{
	struct vt_sandbox_opts o = { .write_dir = NULL };
	struct vt_errbuf eb = { "" };

	(void)state;
	/* refused before anything is applied: safe in the test process itself */
	assert_int_equal(vt_sandbox_enter(&o, NULL, &eb), -EINVAL);
	assert_non_null(strstr(eb.msg, "absolute"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(landlock_confines_writes_to_the_run_dir, setup,
						teardown),
		cmocka_unit_test_setup_teardown(mount_namespace_fallback_confines_writes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(landlock_denies_tcp_and_signals_outside, setup,
						teardown),
		cmocka_unit_test_setup_teardown(runner_reports_how_the_child_ended, setup,
						teardown),
		cmocka_unit_test(enter_without_a_dir_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
