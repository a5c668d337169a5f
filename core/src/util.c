// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Library-internal helpers: the error helper, write/read loops, number parsing, files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

int vtc_err(int err)
{
	if (err > 0)
		err = -err;
	if (err == 0)
		err = -EIO;
	errno = -err;
	return err;
}

int vtc_errf(struct vt_errbuf *eb, int err, const char *fmt, ...)
{
	if (eb) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
		va_end(ap);
	}
	return vtc_err(err);
}

int vtc_err_prefix(struct vt_errbuf *eb, int err, const char *fmt, ...)
{
	char ctx[VT_ERRBUF_LEN], why[VT_ERRBUF_LEN];
	va_list ap;

	if (!eb)
		return vtc_err(err);
	snprintf(why, sizeof(why), "%s", eb->msg[0] ? eb->msg : strerror(err < 0 ? -err : err));
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	return vtc_errf(eb, err, "%s: %s", ctx, why);
}

int vtc_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vtc_err(errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vtc_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vtc_err(errno);
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int vtc_pread_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vtc_err(errno);
		}
		if (n == 0)
			return vtc_err(EBADMSG);
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int vtc_parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return vtc_err(EINVAL);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return vtc_err(ERANGE);
	if (errno || end == s || *end)
		return vtc_err(EINVAL);
	*ret = v;
	return 0;
}

int vtc_parse_s64(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !*s)
		return vtc_err(EINVAL);
	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno == ERANGE)
		return vtc_err(ERANGE);
	if (errno || end == s || *end)
		return vtc_err(EINVAL);
	*ret = v;
	return 0;
}

int vtc_read_file(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return vtc_err(errno);
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nbuf = realloc(buf, ncap + 1);

			if (!nbuf)
				return vtc_err(ENOMEM);
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vtc_err(errno);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return vtc_err(ENOMEM);
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int vtc_write_file_atomicv(const char *path, const struct iovec *iov, size_t n)
{
	char tmp[PATH_MAX];
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return vtc_err(ENAMETOOLONG);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return vtc_err(errno);
	for (size_t i = 0; !r && i < n; i++)
		r = vtc_write_all(fd, iov[i].iov_base, iov[i].iov_len);
	if (!r && fsync(fd) < 0)
		r = vtc_err(errno);
	if (close(fd) < 0 && !r)
		r = vtc_err(errno);
	if (!r && rename(tmp, path) < 0)
		r = vtc_err(errno);
	if (r)
		unlink(tmp);
	return r;
}

int vtc_write_file_atomic(const char *path, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return vtc_write_file_atomicv(path, &iov, 1);
}
