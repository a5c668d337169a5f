// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * SHA-256 of buffers and files through libcrypto's EVP interface.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <unistd.h>

#include "cleanup.h"
#include "sha256.h"
#include "util.h"

static void to_hex(const unsigned char *dig, unsigned len, char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < len && i < 32; i++) {
		hex[2 * i] = digits[dig[i] >> 4];
		hex[2 * i + 1] = digits[dig[i] & 15];
	}
	hex[64] = '\0';
}

int vtc_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;

	if (!EVP_Digest(data, len, dig, &dlen, EVP_sha256(), NULL))
		return vtc_err(ENOMEM);
	to_hex(dig, dlen, hex);
	return 0;
}

static void md_ctx_freep(EVP_MD_CTX **ctx)
{
	EVP_MD_CTX_free(*ctx);
}

int vtc_sha256_file(const char *path, char hex[65], uint64_t *ret_size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ unsigned char *buf = malloc(1 << 20);
	_cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	uint64_t size = 0;

	if (fd < 0)
		return vtc_err(errno);
	if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		return vtc_err(ENOMEM);
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vtc_err(errno);
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			return vtc_err(ENOMEM);
		size += (uint64_t)n;
	}
	if (!EVP_DigestFinal_ex(ctx, dig, &dlen))
		return vtc_err(ENOMEM);
	to_hex(dig, dlen, hex);
	if (ret_size)
		*ret_size = size;
	return 0;
}
