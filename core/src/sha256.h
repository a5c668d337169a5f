/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SHA-256 of files (OpenSSL's libcrypto: SHA-NI/AVX2 code paths), for the manifest's
 * member checksums.
 */
#ifndef VT_SHA256_H
#define VT_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* hex digest of @len bytes into hex[65]: 0 or -ENOMEM */
int vtc_sha256_hex(const void *data, size_t len, char hex[65]);
/* hex digest of a file into hex[65]: 0 or -errno; *ret_size gets its size */
int vtc_sha256_file(const char *path, char hex[65], uint64_t *ret_size);

#endif
