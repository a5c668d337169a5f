// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Shared test helpers: temporary directories, golden-file comparison, random numbers.
 */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "vt-test.h"

char *vt_test_tmpdir(void)
{
	char tmpl[] = "/tmp/vt-test-XXXXXX";
	char *dir = mkdtemp(tmpl);

	assert_non_null(dir);
	return strdup(dir);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void vt_test_rmtree(const char *dir)
{
	if (dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void vt_test_golden(const char *name, const char *text)
{
	const char *src = getenv("VT_SOURCE_DIR");
	char path[PATH_MAX];
	char *want = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/tests/golden/%s", src ? src : ".", name);
	if (getenv("VT_TEST_REGENERATE")) {
		assert_int_equal(vtc_write_file_atomic(path, text, strlen(text)), 0);
		return;
	}
	if (vtc_read_file(path, &want, &len) < 0)
		fail_msg("golden file %s missing (run with VT_TEST_REGENERATE=1)", path);
	assert_string_equal(text, want);
	free(want);
}

uint64_t vt_test_rand(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dull;
}
