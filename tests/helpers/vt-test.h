/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared test helpers: cmocka includes, temporary directories, golden files, random numbers.
 */
#ifndef VT_TEST_H
#define VT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh temporary directory (caller frees the string; removed by vt_test_rmtree). */
char *vt_test_tmpdir(void);
void vt_test_rmtree(const char *dir);
/*
 * vt_test_golden - compare @text with tests/golden/@name; with VT_TEST_REGENERATE=1 in
 * the environment the golden file is rewritten instead.
 */
void vt_test_golden(const char *name, const char *text);
/* vt_test_rand - xorshift64* step of *@state: deterministic, so a failure can be replayed */
uint64_t vt_test_rand(uint64_t *state);

#endif
