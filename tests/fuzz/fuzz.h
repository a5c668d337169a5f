/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the libFuzzer harnesses: the entry points, a memfd that holds the input as
 * a file for the readers that take a path, a scratch directory on tmpfs, and the check
 * that turns a broken invariant into a crash libFuzzer reports.
 */
#ifndef VT_FUZZ_H
#define VT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* an invariant of the parser under test: abort (a finding) when it does not hold */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * fuzz_memfd_path - @data as the whole contents of one memfd (reused from call to
 * call); returns its /proc/self/fd path (static buffer). Aborts when memfds fail.
 */
const char *fuzz_memfd_path(const void *data, size_t size);

/* fuzz_scratch_dir - a private directory on tmpfs (made once, removed at exit) */
const char *fuzz_scratch_dir(void);

/* fuzz_write_file - @data into @path (created or truncated); aborts on failure */
void fuzz_write_file(const char *path, const void *data, size_t size);

#endif
