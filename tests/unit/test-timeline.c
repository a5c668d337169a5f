// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for core/src/timeline.c: thread sets, saved_tgids parsing, constant timelines.
 * Timelines from real and synthetic host traces are tested in test-convert.c and e2e.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vt/timeline.h"
#include "vt-test.h"

static void tgids_select_threads_of_the_pid_only(void **state)
{
	const char *text = "100 100\n101 100\n102 100\n200 200\n201 200\n";
	struct vt_tidset set = { 0 };
	struct vt_errbuf eb = { "" };

	(void)state;
	assert_int_equal(vt_tidset_from_tgids(text, 100, &set, &eb), 0);
	assert_int_equal(set.n, 3);
	assert_true(vt_tidset_has(&set, 101));
	assert_true(vt_tidset_has(&set, 102));
	assert_false(vt_tidset_has(&set, 200));
	assert_false(vt_tidset_has(&set, 201));
	vt_tidset_fini(&set);
}

static void tgids_malformed_line_fails(void **state)
{
	static const char *const bad[] = { "100\n", "100 x\n", "-5 100\n", "1 99999999999\n" };
	struct vt_errbuf eb = { "" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vt_tidset set = { 0 };

		eb.msg[0] = '\0';
		assert_int_equal(vt_tidset_from_tgids(bad[i], 100, &set, &eb), -EBADMSG);
		assert_non_null(strstr(eb.msg, "line 1"));
		assert_null(set.tids);
	}
}

static void tidset_stays_sorted_without_duplicates(void **state)
{
	struct vt_tidset set = { 0 };
	const int32_t in[] = { 5, 3, 9, 3, 1, 9 };

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		assert_int_equal(vt_tidset_add(&set, in[i]), 0);
	assert_int_equal(set.n, 4);
	assert_int_equal(set.tids[0], 1);
	assert_int_equal(set.tids[1], 3);
	assert_int_equal(set.tids[2], 5);
	assert_int_equal(set.tids[3], 9);
	vt_tidset_fini(&set);
}

static void constant_timeline_sorts_by_vcpu_id(void **state)
{
	const uint32_t ids[] = { 2, 0 };
	const uint64_t offs[] = { 222, 100 };
	struct vt_timeline *tl = NULL;

	(void)state;
	assert_int_equal(vt_timeline_constant(ids, offs, 2, 7, VT_SRC_PROBE, 40, &tl), 0);
	assert_int_equal(tl->nvcpus, 2);
	assert_int_equal(tl->vcpus[0].vcpu_id, 0);
	assert_int_equal(tl->vcpus[0].writes[0].next_offset, 100);
	assert_int_equal(tl->vcpus[1].vcpu_id, 2);
	assert_int_equal(tl->vcpus[1].writes[0].next_offset, 222);
	assert_int_equal(tl->vcpus[1].writes[0].error_ticks, 40);
	assert_int_equal(tl->vcpus[1].writes[0].source, VT_SRC_PROBE);
	vt_timeline_free(tl);
}

static void constant_timeline_duplicate_vcpu_fails(void **state)
{
	const uint32_t ids[] = { 1, 1 };
	const uint64_t offs[] = { 1, 2 };
	struct vt_timeline *tl = NULL;

	(void)state;
	assert_int_equal(vt_timeline_constant(ids, offs, 2, 0, VT_SRC_USER, 0, &tl), -EINVAL);
	assert_null(tl);
}

static void source_names_round_trip(void **state)
{
	(void)state;
	for (unsigned i = 0; i < _VT_SRC_MAX; i++) {
		enum vt_offset_source src;

		assert_int_equal(vt_offset_source_parse(vt_offset_source_name(i), &src), 0);
		assert_int_equal(src, i);
	}
	enum vt_offset_source src;
	assert_int_equal(vt_offset_source_parse("ntp", &src), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tgids_select_threads_of_the_pid_only),
		cmocka_unit_test(tgids_malformed_line_fails),
		cmocka_unit_test(tidset_stays_sorted_without_duplicates),
		cmocka_unit_test(constant_timeline_sorts_by_vcpu_id),
		cmocka_unit_test(constant_timeline_duplicate_vcpu_fails),
		cmocka_unit_test(source_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
