// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for core/src/instances.c against the real tracefs (root, kvm loaded; skipped
 * otherwise): names, both instances set up, re-creation of a stale pair, destroy.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "vt-test.h"
#include "vt/instances.h"

#define TRACING "/sys/kernel/tracing"

static char *read_inst(const char *inst, const char *file)
{
	char path[PATH_MAX];
	char *text = NULL;

	snprintf(path, sizeof(path), TRACING "/instances/%s/%s", inst, file);
	if (vtc_read_file(path, &text, NULL) < 0)
		return NULL;
	return text;
}

static void names_are_escaped(void **state)
{
	char out[300];

	(void)state;
	assert_int_equal(vt_instance_name("web 1", false, out, sizeof(out)), 0);
	assert_string_equal(out, "virt-trace-web%201");
	assert_int_equal(vt_instance_name("../x", true, out, sizeof(out)), 0);
	assert_string_equal(out, "virt-trace-%2E.%2Fx-tsc");
	assert_int_equal(vt_instance_name("", false, out, sizeof(out)), -EINVAL);
}

static void create_sets_up_both_and_destroy_removes_them(void **state)
{
	char dom[64], name[300], tsc[300];
	struct vt_errbuf eb = { "" };
	char *text;
	int r;

	(void)state;
	if (geteuid() != 0 || access(TRACING "/events/kvm/kvm_write_tsc_offset", F_OK) < 0) {
		print_message("skipped: needs root, tracefs and the kvm module\n");
		skip();
	}
	snprintf(dom, sizeof(dom), "vt-unit-%d", (int)getpid());
	assert_int_equal(vt_instance_name(dom, false, name, sizeof(name)), 0);
	assert_int_equal(vt_instance_name(dom, true, tsc, sizeof(tsc)), 0);
	/* a pattern that matches nothing is counted and named, the rest works */
	r = vt_instances_create(dom, "sched:sched_switch,nosuchsys:*", 256, 64, &eb);
	assert_int_equal(r, 1);
	assert_non_null(strstr(eb.msg, "nosuchsys"));
	assert_true(vt_instances_exist(dom));
	text = read_inst(name, "set_event");
	assert_non_null(text);
	assert_string_equal(text, "sched:sched_switch\n");
	free(text);
	text = read_inst(tsc, "set_event");
	assert_string_equal(text, "kvm:kvm_write_tsc_offset\n");
	free(text);
	text = read_inst(tsc, "trace_clock");
	assert_non_null(strstr(text, "[x86-tsc]"));
	free(text);
	text = read_inst(name, "tracing_on");
	assert_string_equal(text, "1\n");
	free(text);
	text = read_inst(tsc, "options/overwrite");
	assert_string_equal(text, "0\n");
	free(text);
	text = read_inst(name, "options/record-tgid");
	assert_string_equal(text, "1\n");
	free(text);
	/* a stale pair is replaced */
	assert_int_equal(vt_instances_create(dom, "sched:sched_switch", 256, 64, &eb), 0);
	assert_int_equal(vt_instances_destroy(dom, &eb), 0);
	assert_false(vt_instances_exist(dom));
	/* missing ones are fine */
	assert_int_equal(vt_instances_destroy(dom, &eb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_are_escaped),
		cmocka_unit_test(create_sets_up_both_and_destroy_removes_them),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
