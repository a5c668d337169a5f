// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for core/src/tracefs-meta.c (save/load round trip of a tracefs-like tree, the
 * live tracefs when we may read it) and core/src/perfclock.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "vt-test.h"
#include "vt/dat.h"
#include "vt/perfclock.h"
#include "vt/tracefs-meta.h"

static const char header_page[] =
	"\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
	"\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
	"\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n";

static void put(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0750);
		*p = '/';
	}
	assert_int_equal(vtc_write_file_atomic(path, text, strlen(text)), 0);
}

static void make_tree(const char *root)
{
	put(root, "events/header_page", header_page);
	put(root, "events/header_event", "# compressed entry header\n");
	put(root, "events/ftrace/function/format", "name: function\nID: 1\n");
	put(root, "events/ftrace/print/format", "name: print\nID: 5\n");
	put(root, "events/kvm/kvm_write_tsc_offset/format", "name: kvm_write_tsc_offset\nID: 83\n");
	put(root, "events/sched/sched_switch/format", "name: sched_switch\nID: 300\n");
	put(root, "kallsyms", "ffffffff81000000 T _stext\n");
	put(root, "printk_formats", "0x1 : \"x\"\n");
	put(root, "saved_cmdlines", "1 systemd\n");
	put(root, "uname", "Linux host 6.1.0 #1 SMP\n");
}

static size_t count_system(const struct vt_dat_meta *m, const char *sys)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nformats; i++)
		n += !strcmp(m->formats[i].system, sys);
	return n;
}

static void saved_tree_round_trips(void **state)
{
	char *a = vt_test_tmpdir(), *b = vt_test_tmpdir();
	struct vt_tracefs_meta *m = NULL, *m2 = NULL;
	struct vt_errbuf eb = { "" };
	const struct vt_dat_meta *d, *d2;

	(void)state;
	make_tree(a);
	assert_int_equal(vt_tracefs_meta_load(a, &m, &eb), 0);
	d = vt_tracefs_meta_get(m);
	assert_int_equal(d->long_size, 8);
	assert_int_equal(d->page_size, (unsigned)sysconf(_SC_PAGESIZE));
	assert_int_equal(d->nformats, 4);
	/* ftrace formats first, as the writer wants them */
	assert_string_equal(d->formats[0].system, "ftrace");
	assert_string_equal(d->formats[1].system, "ftrace");
	assert_int_equal(count_system(d, "kvm"), 1);
	assert_int_equal(count_system(d, "sched"), 1);
	assert_string_equal(d->uname, "Linux host 6.1.0 #1 SMP");
	assert_int_equal(d->cmdlines.len, strlen("1 systemd\n"));
	assert_int_equal(vt_tracefs_meta_set_cmdlines(m, "2 qemu\n", 7), 0);
	assert_int_equal(vt_tracefs_meta_get(m)->cmdlines.len, 7);
	/* save and load again: the same metadata */
	vt_test_rmtree(b);
	assert_int_equal(vt_tracefs_meta_save(m, b, &eb), 0);
	assert_int_equal(vt_tracefs_meta_load(b, &m2, &eb), 0);
	d2 = vt_tracefs_meta_get(m2);
	assert_int_equal(d2->nformats, d->nformats);
	assert_int_equal(d2->header_page.len, d->header_page.len);
	assert_memory_equal(d2->header_page.data, header_page, d2->header_page.len);
	assert_int_equal(d2->kallsyms.len, d->kallsyms.len);
	assert_memory_equal(d2->cmdlines.data, "2 qemu\n", 7);
	assert_string_equal(d2->uname, d->uname);
	vt_tracefs_meta_free(m);
	vt_tracefs_meta_free(m2);
	vt_test_rmtree(a);
	vt_test_rmtree(b);
	free(a);
	free(b);
}

static void tree_without_header_page_fails(void **state)
{
	char *a = vt_test_tmpdir();
	struct vt_tracefs_meta *m = NULL;
	struct vt_errbuf eb = { "" };

	(void)state;
	put(a, "events/header_event", "x\n");
	assert_int_equal(vt_tracefs_meta_load(a, &m, &eb), -ENOENT);
	assert_non_null(strstr(eb.msg, "header_page"));
	assert_null(m);
	vt_test_rmtree(a);
	free(a);
}

static void live_tracefs_has_the_tsc_event(void **state)
{
	const char *extra[] = { "kvm:kvm_write_tsc_offset", "sched:sched_switch" };
	struct vt_tracefs_meta *m = NULL;
	struct vt_errbuf eb = { "" };
	const struct vt_dat_meta *d;

	(void)state;
	if (geteuid() != 0 || access("/sys/kernel/tracing/events/header_page", R_OK) < 0) {
		print_message("skipped: needs root and a mounted tracefs\n");
		skip();
	}
	assert_int_equal(vt_tracefs_meta_read(NULL, 0, extra, 2, &m, &eb), 0);
	d = vt_tracefs_meta_get(m);
	assert_true(count_system(d, "ftrace") > 0);
	assert_int_equal(count_system(d, "sched"), 1);
	assert_true(d->kallsyms.len > 0);
	assert_non_null(d->uname);
	vt_tracefs_meta_free(m);
}

static void perfclock_gives_a_signed_safe_mult_or_enotsup(void **state)
{
	struct vt_tsc2nsec t = { 0 };
	int r = vt_perfclock_tsc2nsec(&t);

	(void)state;
	if (r == -ENOTSUP) {
		print_message("perf mmap page has no cap_user_time here (virtualized clock)\n");
		return;
	}
	assert_int_equal(r, 0);
	assert_true(t.mult > 0 && t.mult < (1u << 31));
	assert_true(t.shift < 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(saved_tree_round_trips),
		cmocka_unit_test(tree_without_header_page_fails),
		cmocka_unit_test(live_tracefs_has_the_tsc_event),
		cmocka_unit_test(perfclock_gives_a_signed_safe_mult_or_enotsup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
