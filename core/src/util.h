/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Library-internal helpers (vtc_ prefix): the one error helper, bounded little-endian
 * readers, write loops, number parsing. Each of these exists once.
 */
#ifndef VT_UTIL_H
#define VT_UTIL_H

#include <endian.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "vt/common.h"

/*
 * vtc_err - the only way libvtcore returns an error: @err is a positive or negative
 * errno; returns -abs(err) and sets errno, so a sign cannot be typed wrong.
 */
int vtc_err(int err);

/* vtc_errf - like vtc_err(), and also formats the reason into @eb (may be NULL). */
int vtc_errf(struct vt_errbuf *eb, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * vtc_err_prefix - put context in front of the reason already in @eb (or of
 * strerror(err) when it holds none): "<context>: <reason>". Returns like vtc_err().
 */
int vtc_err_prefix(struct vt_errbuf *eb, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Bounded little-endian reads: 0, or -EBADMSG when [off, off+size) is outside len. */
static inline int vtc_get_le16(const void *buf, size_t len, size_t off, uint16_t *ret)
{
	uint16_t v;
	if (off > len || len - off < sizeof(v))
		return -74; /* -EBADMSG */
	memcpy(&v, (const char *)buf + off, sizeof(v));
	*ret = le16toh(v);
	return 0;
}

static inline int vtc_get_le32(const void *buf, size_t len, size_t off, uint32_t *ret)
{
	uint32_t v;
	if (off > len || len - off < sizeof(v))
		return -74;
	memcpy(&v, (const char *)buf + off, sizeof(v));
	*ret = le32toh(v);
	return 0;
}

static inline int vtc_get_le64(const void *buf, size_t len, size_t off, uint64_t *ret)
{
	uint64_t v;
	if (off > len || len - off < sizeof(v))
		return -74;
	memcpy(&v, (const char *)buf + off, sizeof(v));
	*ret = le64toh(v);
	return 0;
}

static inline void vtc_put_le16(void *buf, uint16_t v)
{
	v = htole16(v);
	memcpy(buf, &v, sizeof(v));
}

static inline void vtc_put_le32(void *buf, uint32_t v)
{
	v = htole32(v);
	memcpy(buf, &v, sizeof(v));
}

static inline void vtc_put_le64(void *buf, uint64_t v)
{
	v = htole64(v);
	memcpy(buf, &v, sizeof(v));
}

/* Write all of buf (loops on short writes and EINTR): 0 or -errno. */
int vtc_write_all(int fd, const void *buf, size_t len);
/* pwrite all of buf at off: 0 or -errno. */
int vtc_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* Read exactly len bytes at off: 0, -EBADMSG on short file, or -errno. */
int vtc_pread_all(int fd, void *buf, size_t len, off_t off);

/* strtoull with end pointer and ERANGE checks; base 0. 0 or -EINVAL/-ERANGE. */
int vtc_parse_u64(const char *s, uint64_t *ret);
int vtc_parse_s64(const char *s, int64_t *ret);

/* Read a whole (small) file: caller frees *ret. 0 or -errno. */
int vtc_read_file(const char *path, char **ret, size_t *ret_len);

/* Write a file atomically: path.tmp, fsync, rename, mode 0640. 0 or -errno. */
int vtc_write_file_atomic(const char *path, const void *buf, size_t len);
/* The same for @n pieces written one after the other. */
struct iovec;
int vtc_write_file_atomicv(const char *path, const struct iovec *iov, size_t n);

#endif
