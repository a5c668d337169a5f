/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SHA-256 (FIPS 180-4) of files, for the manifest's member checksums.
 */
#ifndef VT_SHA256_H
#define VT_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct vtc_sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t nbuf;
};

void vtc_sha256_init(struct vtc_sha256 *c);
void vtc_sha256_update(struct vtc_sha256 *c, const void *data, size_t len);
void vtc_sha256_final(struct vtc_sha256 *c, uint8_t out[32]);
/* hex digest of a file into hex[65]: 0 or -errno; *ret_size gets its size */
int vtc_sha256_file(const char *path, char hex[65], uint64_t *ret_size);

#endif
