// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for core/src/sha256.c against the FIPS 180-4 example digests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "util.h"
#include "vt-test.h"

static void digest_of(const char *msg, char out[65])
{
	assert_int_equal(vtc_sha256_hex(msg, strlen(msg), out), 0);
}

static void known_digests_match_fips_examples(void **state)
{
	static const struct {
		const char *msg, *digest;
	} cases[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	char out[65];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		digest_of(cases[i].msg, out);
		assert_string_equal(out, cases[i].digest);
	}
}

static void file_digest_equals_memory_digest(void **state)
{
	char *dir = vt_test_tmpdir(), path[256], want[65], got[65];
	static char data[3 << 20];	/* several read() chunks of the file */
	uint64_t size;

	(void)state;
	for (size_t i = 0; i < sizeof(data) - 1; i++)
		data[i] = (char)('a' + i % 26);
	data[sizeof(data) - 1] = '\0';
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(vtc_write_file_atomic(path, data, strlen(data)), 0);
	digest_of(data, want);
	assert_int_equal(vtc_sha256_file(path, got, &size), 0);
	assert_string_equal(got, want);
	assert_int_equal(size, strlen(data));
	vt_test_rmtree(dir);
	free(dir);
}

static void missing_file_fails(void **state)
{
	char hex_out[65];

	(void)state;
	assert_int_equal(vtc_sha256_file("/nonexistent/x", hex_out, NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_digests_match_fips_examples),
		cmocka_unit_test(file_digest_equals_memory_digest),
		cmocka_unit_test(missing_file_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
