// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The recorder's control socket: path, one-line client with a timeout, listener.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "sha256.h"
#include "util.h"
#include "vt/control.h"
#include "vt/runstore.h"

/*
 * <rundir>/<escaped>.sock; a name too long for sun_path is replaced by "h-" and the
 * first 16 bytes of its sha256 in hex, so every domain has a socket.
 */
int vt_control_path(const char *domain, char *out, size_t len)
{
	struct sockaddr_un sun;
	char esc[NAME_MAX + 1];
	int r = vt_store_escape(domain, esc, sizeof(esc));
	size_t max = len < sizeof(sun.sun_path) ? len : sizeof(sun.sun_path);

	if (r == -EINVAL)
		return r;
	if (r == 0 && (size_t)snprintf(out, max, "%s/%s.sock", vt_store_rundir(), esc) < max)
		return 0;
	char hex[65];

	/* a name too long for a socket path: a hash of it (128 bits are plenty) */
	if (vtc_sha256_hex(domain, strlen(domain), hex) < 0)
		return vtc_err(ENOMEM);
	hex[32] = '\0';
	if ((size_t)snprintf(out, max, "%s/h-%s.sock", vt_store_rundir(), hex) >= max)
		return vtc_err(ENAMETOOLONG);
	return 0;
}

static int fill_addr(const char *domain, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	return vt_control_path(domain, sun->sun_path, sizeof(sun->sun_path));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll @fd for @events until @deadline: 0, -ETIMEDOUT or -errno */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return vtc_err(ETIMEDOUT);
		n = poll(&p, 1, (int)(left > INT32_MAX ? INT32_MAX : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vtc_err(errno);
		if (n == 0)
			return vtc_err(ETIMEDOUT);
		return 0;
	}
}

int vt_control_send(const char *domain, const char *request, char *reply, size_t reply_len,
		    int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sun;
	char buf[1024];
	size_t got = 0;
	int r;

	if (reply && reply_len)
		reply[0] = '\0';
	r = fill_addr(domain, &sun);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return vtc_err(errno);
	/* EAGAIN: the listener's backlog is full; it is not in progress, so try again */
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return vtc_err(errno);
		if (now_ms() >= deadline)
			return vtc_err(ETIMEDOUT);
		usleep(10 * 1000);
	}
	/* one request line */
	{
		char line[512];
		size_t len = (size_t)snprintf(line, sizeof(line), "%s\n", request);
		size_t off = 0;

		if (len >= sizeof(line))
			return vtc_err(EINVAL);
		while (off < len) {
			ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				r = wait_fd(fd, POLLOUT, deadline);
				if (r < 0)
					return r;
				continue;
			}
			if (n < 0)
				return vtc_err(errno);
			off += (size_t)n;
		}
	}
	shutdown(fd, SHUT_WR);
	/* one reply line */
	for (;;) {
		ssize_t n;

		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return vtc_err(errno);
		got += (size_t)n;
		buf[got] = '\0';
		if (n == 0 || memchr(buf, '\n', got) || got == sizeof(buf) - 1)
			break;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (reply && reply_len)
		snprintf(reply, reply_len, "%s", buf);
	if (!strncmp(buf, "ok", 2) && (buf[2] == '\0' || buf[2] == ' '))
		return 0;
	if (!strncmp(buf, "error", 5))
		return vtc_err(EREMOTEIO);
	return vtc_err(got ? EBADMSG : ECONNRESET);
}

int vt_control_listen(const char *domain)
{
	struct sockaddr_un sun;
	int fd, r;

	r = fill_addr(domain, &sun);
	if (r < 0)
		return r;
	if (mkdir(vt_store_rundir(), 0750) < 0 && errno != EEXIST)
		return vtc_err(errno);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return vtc_err(errno);
	/* a stale socket of a dead recorder; the domain lock guards a live one */
	if (unlink(sun.sun_path) < 0 && errno != ENOENT) {
		r = vtc_err(errno);
		close(fd);
		return r;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(sun.sun_path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		r = vtc_err(errno);
		close(fd);
		return r;
	}
	return fd;
}

static const char *const post_verbs[] = { "started", "stop" };

static int post_path(const char *domain, const char *verb, char *out, size_t len)
{
	char sock[PATH_MAX];
	int r = vt_control_path(domain, sock, sizeof(sock));

	if (r < 0)
		return r;
	if ((size_t)snprintf(out, len, "%s.%s", sock, verb) >= len)
		return vtc_err(ENAMETOOLONG);
	return 0;
}

int vt_control_post(const char *domain, const char *verb, const char *arg)
{
	char path[PATH_MAX];
	int r = post_path(domain, verb, path, sizeof(path));

	if (r < 0)
		return r;
	(void)mkdir(vt_store_rundir(), 0750);
	return vtc_write_file_atomic(path, arg, strlen(arg));
}

int vt_control_take(const char *domain, const char *verb, char *arg, size_t len)
{
	char path[PATH_MAX];
	char *text = NULL;
	int r = post_path(domain, verb, path, sizeof(path));

	if (r < 0)
		return r;
	r = vtc_read_file(path, &text, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	unlink(path);
	snprintf(arg, len, "%s", text);
	free(text);
	return 1;
}

void vt_control_clear(const char *domain)
{
	for (size_t i = 0; i < sizeof(post_verbs) / sizeof(post_verbs[0]); i++) {
		char path[PATH_MAX];

		if (post_path(domain, post_verbs[i], path, sizeof(path)) == 0)
			unlink(path);
	}
}
