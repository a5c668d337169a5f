// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for core/src/lost.c: the ring buffers' per-CPU stats text, and the manifest's
 * "lost_events" from host.dat's missed-events pages combined with saved ring counts.
 */
#include <errno.h>
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "vt-formats.h"
#include "vt-test.h"
#include "vt/dat.h"
#include "vt/lost.h"
#include "vt/page.h"

#define PAGE 4096

/* ---- vt_lost_parse_stats ---- */

static const char stats_6x[] = "entries: 5\noverrun: 1234\ncommit overrun: 2\nbytes: 4096\n"
			       "oldest event ts:  4242.000001\nnow ts:  4243.000002\n"
			       "dropped events: 17\nread events: 99\n";

static void stats_of_a_real_kernel_parse(void **state)
{
	struct vt_lost_ring r;

	(void)state;
	assert_int_equal(vt_lost_parse_stats(stats_6x, strlen(stats_6x), &r), 0);
	assert_int_equal(r.overrun, 1234);
	assert_int_equal(r.commit_overrun, 2);
	assert_int_equal(r.dropped, 17);
	assert_int_equal(r.unread, 5);
	/* the optional lines may be absent */
	assert_int_equal(vt_lost_parse_stats("overrun: 1\ndropped events: 0", 29, &r), 0);
	assert_int_equal(r.overrun, 1);
	assert_int_equal(r.unread, 0);
}

static void malformed_stats_fails(void **state)
{
	static const char *const bad[] = {
		"",					/* nothing */
		"entries: 5\ndropped events: 0\n",	/* no overrun */
		"overrun: 3\n",				/* no dropped events */
		"overrun: -3\ndropped events: 0\n",	/* not a number */
		"overrun: 3x\ndropped events: 0\n",	/* trailing junk */
		"overrun: \ndropped events: 0\n",	/* empty value */
		"overrun: 99999999999999999999999\ndropped events: 0\n", /* past u64 */
	};
	struct vt_lost_ring r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vt_lost_parse_stats(bad[i], strlen(bad[i]), &r), -EBADMSG);
}

/* ---- vt_lost_account ---- */

static char *tmp;

static int setup(void **state)
{
	(void)state;
	tmp = vt_test_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vt_test_rmtree(tmp);
	free(tmp);
	return 0;
}

static void msr_payload(uint8_t p[28], uint64_t val)
{
	memset(p, 0, 28);
	vtc_put_le16(p, VT_ID_WRITE_MSR);
	vtc_put_le32(p + 4, 512);
	vtc_put_le32(p + 8, 0x10);
	vtc_put_le64(p + 16, val);
}

/*
 * One page of @n events; @missed: 0 none, else the missed-events flag, with the count
 * stored after the data when @missed > 1 (the kernel's RB_MISSED_STORED).
 */
static void put_page(struct vt_datw *w, uint64_t ts, unsigned n, uint64_t missed)
{
	struct vt_errbuf eb = { "" };
	struct vt_page_enc pe;
	uint8_t page[PAGE], p[28];
	uint64_t commit;

	assert_int_equal(vt_page_enc_init(&pe, PAGE, 8), 0);
	for (unsigned i = 0; i < n; i++) {
		msr_payload(p, ts + i);
		assert_int_equal(vt_page_enc_add(&pe, ts + i * 10, p, 28), 0);
	}
	memcpy(page, vt_page_enc_finish(&pe), PAGE);
	vt_page_enc_fini(&pe);
	vtc_get_le64(page, PAGE, 8, &commit);
	if (missed)
		commit |= 1ull << 31;
	if (missed > 1) {
		vtc_put_le64(page + 16 + (commit & ((1u << 27) - 1)), missed);
		commit |= 1ull << 30;
	}
	vtc_put_le64(page + 8, commit);
	assert_int_equal(vt_datw_cpu_page(w, page, &eb), 0);
}

/*
 * host.dat: main CPU 0 a clean page and one that stored "7 missed", main CPU 1 one
 * flagged page without a count, tsc CPU 0 a clean page.
 */
static struct vt_dat *write_host(bool clean)
{
	static struct vt_dat_format formats[1];
	struct vt_dat_meta meta;
	struct vt_errbuf eb = { "" };
	struct vt_datw_opts opts = { .clock = "x86-tsc" };
	struct vt_datw *w;
	struct vt_dat *dat;
	char path[PATH_MAX];

	formats[0] = vt_formats[VT_FMT_WRITE_MSR];
	meta = vt_formats_meta(formats, 1, "512 bash\n", "Linux test 6.1.0 x86_64");
	snprintf(path, sizeof(path), "%s/host.dat", tmp);
	assert_int_equal(vt_datw_create(path, &meta, &opts, &w, &eb), 0);
	assert_int_equal(vt_datw_buffer_begin(w, "", 2, &eb), 0);
	assert_int_equal(vt_datw_cpu_begin(w, 0, &eb), 0);
	put_page(w, 1000, 3, 0);
	put_page(w, 2000, 2, clean ? 0 : 7);
	assert_int_equal(vt_datw_cpu_end(w, &eb), 0);
	assert_int_equal(vt_datw_cpu_begin(w, 1, &eb), 0);
	put_page(w, 3000, 4, clean ? 0 : 1);
	assert_int_equal(vt_datw_cpu_end(w, &eb), 0);
	assert_int_equal(vt_datw_buffer_end(w, &eb), 0);
	assert_int_equal(vt_datw_buffer_begin(w, "tsc", 1, &eb), 0);
	assert_int_equal(vt_datw_cpu_begin(w, 0, &eb), 0);
	put_page(w, 500, 1, 0);
	assert_int_equal(vt_datw_cpu_end(w, &eb), 0);
	assert_int_equal(vt_datw_buffer_end(w, &eb), 0);
	assert_int_equal(vt_datw_close(w, false, &eb), 0);
	assert_int_equal(vt_dat_open(path, &dat, &eb), 0);
	return dat;
}

static const char *write_ring(const char *json)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ring-stats.json", tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(json, f);
	fclose(f);
	return path;
}

static uint64_t cpu_lost(struct json_object *lost, const char *buffer, int cpu)
{
	struct json_object *cpus, *v;

	assert_true(json_object_object_get_ex(lost, "cpus", &cpus));
	for (size_t i = 0; i < json_object_array_length(cpus); i++) {
		struct json_object *c = json_object_array_get_idx(cpus, i);

		json_object_object_get_ex(c, "buffer", &v);
		if (strcmp(json_object_get_string(v), buffer))
			continue;
		json_object_object_get_ex(c, "cpu", &v);
		if (json_object_get_int(v) != cpu)
			continue;
		json_object_object_get_ex(c, "lost", &v);
		return json_object_get_uint64(v);
	}
	fail_msg("no entry %s CPU %d", buffer, cpu);
	return 0;
}

static size_t nwarnings(struct json_object *root)
{
	struct json_object *w;

	return json_object_object_get_ex(root, "warnings", &w) ? json_object_array_length(w) : 0;
}

static const struct {
	const char *name;
	bool clean;
	const char *ring; /* NULL: no saved counts */
	uint64_t main0, main1, tsc0, total;
	bool exact;
} account_cases[] = {
	/* the ring's larger counts win; a page without a stored count is at least one */
	{ "ring_counts_and_pages_take_the_larger", false,
	  "[{\"buffer\":\"main\",\"cpu\":0,\"overrun\":10,\"commit_overrun\":0,\"dropped\":0,"
	  "\"unread\":0},{\"buffer\":\"main\",\"cpu\":1,\"overrun\":0,\"commit_overrun\":0,"
	  "\"dropped\":0,\"unread\":0},{\"buffer\":\"tsc\",\"cpu\":0,\"overrun\":0,"
	  "\"commit_overrun\":0,\"dropped\":3,\"unread\":0}]",
	  10, 1, 3, 14, true },
	{ "without_ring_counts_pages_give_a_lower_bound", false, NULL, 7, 1, 0, 8, false },
	{ "dropped_by_a_full_tsc_buffer_count_without_a_page_mark", true,
	  "[{\"buffer\":\"tsc\",\"cpu\":0,\"overrun\":0,\"dropped\":5}]", 0, 0, 5, 5, true },
	{ "a_clean_trace_loses_nothing", true,
	  "[{\"buffer\":\"main\",\"cpu\":0,\"overrun\":0,\"dropped\":0}]", 0, 0, 0, 0, true },
	/* a damaged counts file is as if there were none */
	{ "unreadable_ring_counts_fall_back_to_pages", false, "[{\"buf", 7, 1, 0, 8, false },
};

static void lost_events_go_to_the_manifest(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(account_cases) / sizeof(account_cases[0]); i++) {
		struct json_object *root = json_object_new_object(), *lost, *v;
		struct vt_dat *dat = write_host(account_cases[i].clean);
		struct vt_lost_totals t;
		struct vt_errbuf eb = { "" };

		json_object_object_add(root, "warnings", json_object_new_array());
		assert_int_equal(vt_lost_account(root, dat,
						 account_cases[i].ring ? write_ring(account_cases[i].ring)
								       : NULL,
						 &t, &eb),
				 0);
		assert_true(json_object_object_get_ex(root, "lost_events", &lost));
		assert_int_equal(cpu_lost(lost, "main", 0), account_cases[i].main0);
		assert_int_equal(cpu_lost(lost, "main", 1), account_cases[i].main1);
		assert_int_equal(cpu_lost(lost, "tsc", 0), account_cases[i].tsc0);
		assert_true(json_object_object_get_ex(lost, "total", &v));
		assert_int_equal(json_object_get_uint64(v), account_cases[i].total);
		assert_int_equal(t.lost, account_cases[i].total);
		assert_int_equal(t.exact, account_cases[i].exact);
		assert_int_equal(t.events, 3 + 2 + 4 + 1);
		assert_int_equal(t.lost_pages, account_cases[i].clean ? 0 : 2);
		/* never silent: a warning exactly when something was lost */
		assert_int_equal(nwarnings(root), account_cases[i].total ? 1 : 0);
		vt_dat_close(dat);
		json_object_put(root);
		unlink(write_ring("")); /* the next case starts without one */
	}
}

static void ring_save_without_instances_fails(void **state)
{
	struct vt_errbuf eb = { "" };
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/ring.json", tmp);
	/* no tracefs instance of this name exists (or tracefs is not there at all) */
	assert_int_equal(vt_lost_ring_save("vt-test-lost-no-such-domain", path, &eb), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stats_of_a_real_kernel_parse),
		cmocka_unit_test(malformed_stats_fails),
		cmocka_unit_test_setup_teardown(lost_events_go_to_the_manifest, setup, teardown),
		cmocka_unit_test_setup_teardown(ring_save_without_instances_fails, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
