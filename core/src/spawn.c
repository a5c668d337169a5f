// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Start programs fully detached from the caller (fork, setsid, fork, /dev/null on
 * fds 0-2, nothing else inherited) and wait briefly for their exec or ready byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "vt/control.h"
#include "vt/runstore.h"
#include "vt/spawn.h"

/*
 * What the grandchild writes on the O_CLOEXEC pipe: 'R' + its pid once it is detached,
 * or 'E' + errno when a step or the exec failed. One write each, below PIPE_BUF, so
 * never torn. Then either exec closes the pipe (EOF: the exec worked), or, for the
 * recorder, the pipe stays open as fd $VT_READY_FD and the recorder writes one byte
 * 'r' once it listens and spools.
 */
struct ready_msg {
	char tag;
	int32_t value;
};

static void report(int fd, char tag, int32_t value)
{
	struct ready_msg m = {.tag = tag, .value = value};

	/* nobody to tell if this fails: the hook times out */
	if (write(fd, &m, sizeof(m)) < 0)
		return;
}

static void close_from(unsigned first)
{
	if (close_range(first, ~0U, 0) == 0)
		return;
	for (long fd = first, max = sysconf(_SC_OPEN_MAX); fd < (max > 0 ? max : 65536); fd++)
		close((int)fd);
}

/*
 * In the grandchild: default signals, fds 0-2 on /dev/null, @keep[] moved to 3, 4, ...
 * (close-on-exec), every other fd closed, cwd /, umask 027. 0 or -errno.
 */
static int become_detached(int *keep, size_t nkeep)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	int null_fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	/* out of the way first, then into place: no kept fd can overwrite another */
	for (size_t i = 0; i < nkeep; i++) {
		keep[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 64);
		if (keep[i] < 0)
			return vtc_err(errno);
	}
	for (size_t i = 0; i < nkeep; i++) {
		if (dup3(keep[i], 3 + (int)i, O_CLOEXEC) < 0)
			return vtc_err(errno);
		keep[i] = 3 + (int)i;
	}
	null_fd = open("/dev/null", O_RDWR);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0)
		return vtc_err(errno);
	close_from(3 + (unsigned)nkeep);
	if (chdir("/") < 0)
		return vtc_err(errno);
	umask(027);
	return 0;
}

int vt_detach_fork(int *keep, size_t nkeep)
{
	int status;
	pid_t child = fork();

	if (child < 0)
		return vtc_err(errno);
	if (child == 0) {
		pid_t grandchild;

		if (setsid() < 0)
			_exit(127);
		grandchild = fork();
		if (grandchild < 0)
			_exit(127);
		if (grandchild > 0)
			_exit(0);
		if (become_detached(keep, nkeep) < 0)
			_exit(127);
		return 0;
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 1 : vtc_err(ECHILD);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* what the spawned program told us so far */
struct spawn_state {
	char buf[16];
	size_t got;
	bool detached;
};

/*
 * Consume the messages in @st: 1 when the program said it is ready, 0 for more to
 * read, -errno for a failure it reported.
 */
static int parse_messages(struct spawn_state *st, bool ready_fd, const char *prog, pid_t *ret_pid,
			  struct vt_errbuf *eb)
{
	struct ready_msg m;

	while (st->got) {
		if (st->detached && ready_fd && st->buf[0] == 'r')
			return 1;
		if (st->got < sizeof(m))
			return 0;
		memcpy(&m, st->buf, sizeof(m));
		st->got -= sizeof(m);
		memmove(st->buf, st->buf + sizeof(m), st->got);
		if (m.tag == 'R' && !st->detached) {
			st->detached = true;
			*ret_pid = (pid_t)m.value;
			continue;
		}
		if (m.tag == 'E' && m.value > 0)
			return vtc_errf(eb, m.value, "%s: cannot start: %s", prog,
					strerror(m.value));
		return vtc_errf(eb, EPROTO, "%s: garbled start-up message", prog);
	}
	return 0;
}

int vt_spawn_detached(char *const argv[], bool ready_fd, int pass_fd, int timeout_ms,
		      pid_t *ret_pid, struct vt_errbuf *eb)
{
	int64_t deadline = now_ms() + timeout_ms;
	_cleanup_close_ int rd = -1;
	struct spawn_state st = {.got = 0};
	int p[2], keep[2], r;

	*ret_pid = 0;
	if (access(argv[0], X_OK) < 0)
		return vtc_errf(eb, errno, "%s: not executable: %s", argv[0], strerror(errno));
	if (pipe2(p, O_CLOEXEC) < 0)
		return vtc_errf(eb, errno, "pipe: %s", strerror(errno));
	rd = p[0];
	keep[0] = p[1];
	keep[1] = pass_fd;
	r = vt_detach_fork(keep, pass_fd >= 0 ? 2 : 1);
	if (r == 0) {
		/* the detached grandchild; the pipe is fd 3 now, @pass_fd fd 4 */
		int wr = keep[0];

		/*
		 * The caller may have given up waiting and closed its end (a loaded host):
		 * EPIPE then, not death by SIGPIPE before the exec. The program gets the
		 * default disposition back.
		 */
		signal(SIGPIPE, SIG_IGN);
		report(wr, 'R', (int32_t)getpid());
		/* the program writes 'r' on it when ready; else exec closes it */
		if (ready_fd && (fcntl(wr, F_SETFD, 0) < 0 || setenv("VT_READY_FD", "3", 1) < 0)) {
			report(wr, 'E', errno);
			_exit(127);
		}
		if (pass_fd >= 0 && fcntl(keep[1], F_SETFD, 0) < 0) {
			report(wr, 'E', errno);
			_exit(127);
		}
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		report(wr, 'E', errno);
		_exit(127);
	}
	close(keep[0]);
	if (r < 0)
		return vtc_errf(eb, r, "cannot detach %s: %s", argv[0], strerror(-r));

	for (;;) {
		struct pollfd pfd = {.fd = rd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return vtc_errf(eb, ETIMEDOUT, "%s: %s within %d ms", argv[0],
					st.detached ? "not ready" : "no sign of life", timeout_ms);
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vtc_errf(eb, errno, "poll: %s", strerror(errno));
		if (n == 0)
			continue;
		n = read(rd, st.buf + st.got, sizeof(st.buf) - st.got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vtc_errf(eb, errno, "read: %s", strerror(errno));
		if (n == 0)
			break;
		st.got += (size_t)n;
		r = parse_messages(&st, ready_fd, argv[0], ret_pid, eb);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	/* EOF: every copy of the pipe is closed */
	if (!st.detached)
		return vtc_errf(eb, ECHILD, "%s: the detached child died before its exec", argv[0]);
	if (ready_fd)
		return vtc_errf(eb, ECHILD, "%s: exited before it was ready", argv[0]);
	return 0;
}

int vt_spawn_recorder(const char *exe, const char *domain, const char *uuid, pid_t qemu_pid,
		      int timeout_ms, pid_t *ret_pid, struct vt_errbuf *eb)
{
	char pid_arg[24], lock_arg[12], *argv[12];
	_cleanup_close_ int lock = -1;
	size_t n = 0;

	*ret_pid = 0;
	lock = vt_run_lock_domain(domain, eb);
	if (lock < 0)
		return lock;
	vt_control_clear(domain);	/* requests left for an earlier recorder */
	snprintf(lock_arg, sizeof(lock_arg), "%d", VT_SPAWN_PASS_FD);
	argv[n++] = (char *)exe;
	argv[n++] = "record";
	argv[n++] = "--domain";
	argv[n++] = (char *)domain;
	argv[n++] = "--lock-fd";
	argv[n++] = lock_arg;
	if (uuid && *uuid) {
		argv[n++] = "--uuid";
		argv[n++] = (char *)uuid;
	}
	if (qemu_pid > 0) {
		snprintf(pid_arg, sizeof(pid_arg), "%d", (int)qemu_pid);
		argv[n++] = "--pid";
		argv[n++] = pid_arg;
	}
	argv[n] = NULL;
	return vt_spawn_detached(argv, false, lock, timeout_ms, ret_pid, eb);
}
