// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for core/src/control.c: socket paths, the one-line client (replies, errors,
 * timeout) against a forked listener, stale sockets.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "vt-test.h"
#include "vt/control.h"

static int setup(void **state)
{
	char *dir = vt_test_tmpdir();

	setenv("VT_RUN_DIR", dir, 1);
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	vt_test_rmtree(*state);
	free(*state);
	unsetenv("VT_RUN_DIR");
	return 0;
}

enum serve_mode { SERVE_ECHO, SERVE_ERROR, SERVE_SILENT };

/* a listener child answering one connection per mode */
static pid_t serve(const char *domain, enum serve_mode mode)
{
	int lfd = vt_control_listen(domain);
	pid_t pid;

	assert_true(lfd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		char buf[256], reply[300];
		ssize_t n;
		int fd;

		if (poll(&p, 1, 5000) != 1)
			_exit(1);
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			_exit(2);
		n = read(fd, buf, sizeof(buf) - 1);
		if (n <= 0)
			_exit(3);
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (mode == SERVE_SILENT) {
			pause();
			_exit(0);
		}
		snprintf(reply, sizeof(reply), "%s %s\n", mode == SERVE_ECHO ? "ok" : "error",
			 buf);
		if (write(fd, reply, strlen(reply)) < 0)
			_exit(4);
		close(fd);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void reap(pid_t pid, bool kill_it)
{
	int status;

	if (kill_it)
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!kill_it)
		assert_int_equal(WEXITSTATUS(status), 0);
}

static void path_is_under_the_run_dir(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 32];
	char long_name[301];
	struct sockaddr_un sun;

	assert_int_equal(vt_control_path("web 1", path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/web%%201.sock", (const char *)*state);
	assert_string_equal(path, want);
	assert_int_equal(vt_control_path("", path, sizeof(path)), -EINVAL);
	/* a name too long for sun_path still gets a (hashed) socket of its own */
	memset(long_name, 'x', 300);
	long_name[300] = '\0';
	assert_int_equal(vt_control_path(long_name, path, sizeof(path)), 0);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	assert_non_null(strstr(path, "/h-"));
	long_name[0] = 'y';
	assert_int_equal(vt_control_path(long_name, want, sizeof(want)), 0);
	assert_string_not_equal(path, want);
}

static void reply_ok_is_copied_without_newline(void **state)
{
	char reply[64];
	pid_t pid = serve("d1", SERVE_ECHO);

	(void)state;
	assert_int_equal(vt_control_send("d1", "status", reply, sizeof(reply), 5000), 0);
	assert_string_equal(reply, "ok status");
	reap(pid, false);
}

static void reply_error_is_eremoteio(void **state)
{
	char reply[64];
	pid_t pid = serve("d2", SERVE_ERROR);

	(void)state;
	assert_int_equal(vt_control_send("d2", "started 1", reply, sizeof(reply), 5000),
			 -EREMOTEIO);
	assert_string_equal(reply, "error started 1");
	reap(pid, false);
}

static void silent_recorder_times_out(void **state)
{
	char reply[64];
	pid_t pid = serve("d3", SERVE_SILENT);

	(void)state;
	assert_int_equal(vt_control_send("d3", "ping", reply, sizeof(reply), 200), -ETIMEDOUT);
	reap(pid, true);
}

static void nobody_listening(void **state)
{
	char reply[64], path[PATH_MAX];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	(void)state;
	assert_int_equal(vt_control_send("none", "ping", reply, sizeof(reply), 500), -ENOENT);
	/* a socket file left by a dead recorder */
	assert_int_equal(vt_control_path("stale", path, sizeof(path)), 0);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(vt_control_send("stale", "ping", reply, sizeof(reply), 500),
			 -ECONNREFUSED);
	/* and a new listener replaces it */
	{
		pid_t pid = serve("stale", SERVE_ECHO);
		struct stat st;

		assert_int_equal(vt_control_send("stale", "ping", reply, sizeof(reply), 5000), 0);
		assert_string_equal(reply, "ok ping");
		reap(pid, false);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(path_is_under_the_run_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(reply_ok_is_copied_without_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(reply_error_is_eremoteio, setup, teardown),
		cmocka_unit_test_setup_teardown(silent_recorder_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(nobody_listening, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
