// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for core/src/convert.c (with timeline.c, segments.c, dat-read/write): synthetic
 * host/guest pairs from tests/gen/vt-gen with known offsets are converted, and every
 * guest event's host TSC must equal the generator's expectation with 0 ticks of error;
 * what the rule cannot decide must be flagged, never silently guessed.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "vt/convert.h"
#include "vt/dat.h"
#include "vt/timeline.h"
#include "vt-test.h"

struct expect_line {
	unsigned cpu;
	uint64_t index, guest_ts, host_ts;
};

struct expectation {
	struct expect_line *l;
	size_t n;
	int32_t first_tid;
};

static void gen(const char *dir, const char *scenario, const char *extra)
{
	const char *build = getenv("VT_BUILD_DIR");
	char cmd[PATH_MAX * 2];

	snprintf(cmd, sizeof(cmd), "'%s/tests/vt-gen' pair -o '%s' --scenario %s %s >/dev/null",
		 build ? build : "build", dir, scenario, extra ? extra : "");
	assert_int_equal(system(cmd), 0);
}

static void load_expect(const char *path, struct expectation *e)
{
	FILE *f = fopen(path, "r");
	char line[512];

	assert_non_null(f);
	memset(e, 0, sizeof(*e));
	e->first_tid = -1;
	while (fgets(line, sizeof(line), f)) {
		struct expect_line x;
		char *tid;

		if (line[0] == '#') {
			tid = strstr(line, " tid=");
			if (!strncmp(line, "# write ", 8) && tid && e->first_tid < 0)
				e->first_tid = atoi(tid + 5);
			continue;
		}
		if (sscanf(line, "%u %" SCNu64 " %" SCNu64 " %" SCNu64, &x.cpu, &x.index,
			   &x.guest_ts, &x.host_ts) != 4)
			continue;
		e->l = realloc(e->l, (e->n + 1) * sizeof(*e->l));
		assert_non_null(e->l);
		e->l[e->n++] = x;
	}
	fclose(f);
	assert_true(e->n > 0);
}

static int32_t tgid_of(const char *tgids_path, int32_t tid)
{
	FILE *f = fopen(tgids_path, "r");
	int a, b;

	assert_non_null(f);
	while (fscanf(f, "%d %d", &a, &b) == 2) {
		if (a == tid) {
			fclose(f);
			return b;
		}
	}
	fclose(f);
	fail_msg("tid %d not in %s", tid, tgids_path);
	return -1;
}

struct outcome {
	uint64_t events, mismatched, mismatched_flagged, ambiguous;
	uint64_t last_host_tsc;
	size_t boundaries;
	bool containment_used;
};

static bool flagged(const struct vt_convert_result *res, unsigned cpu, uint64_t index)
{
	for (size_t i = 0; i < res->namb; i++)
		if (res->amb[i].cpu == cpu && res->amb[i].index == index)
			return true;
	return false;
}

/* convert @guest_name of @dir and compare with @expect_name */
static void convert_and_compare(const char *dir, const char *guest_name, const char *expect_name,
				bool use_tids, unsigned boot, struct outcome *out)
{
	char host_path[PATH_MAX], guest_path[PATH_MAX], out_path[PATH_MAX], path[PATH_MAX];
	struct vt_dat *host = NULL, *guest = NULL, *conv = NULL;
	struct vt_timeline *tl = NULL;
	struct vt_convert_result *res = NULL;
	struct vt_tidset tids = { 0 };
	struct expectation e;
	struct vt_errbuf eb = { "" };
	size_t li = 0;

	memset(out, 0, sizeof(*out));
	snprintf(host_path, sizeof(host_path), "%s/host.dat", dir);
	snprintf(guest_path, sizeof(guest_path), "%s/%s", dir, guest_name);
	snprintf(out_path, sizeof(out_path), "%s/out-%s", dir, guest_name);
	snprintf(path, sizeof(path), "%s/%s", dir, expect_name);
	load_expect(path, &e);

	assert_int_equal(vt_dat_open(host_path, &host, &eb), 0);
	assert_int_equal(vt_dat_open(guest_path, &guest, &eb), 0);
	if (use_tids) {
		char *text = NULL;
		int32_t pid;

		snprintf(path, sizeof(path), "%s/saved_tgids", dir);
		pid = tgid_of(path, e.first_tid);
		assert_int_equal(vtc_read_file(path, &text, NULL), 0);
		assert_int_equal(vt_tidset_from_tgids(text, pid, &tids, &eb), 0);
		free(text);
		assert_int_equal(vt_timeline_from_dat(host, &tids, pid, &tl, &eb), 0);
		assert_true(tl->foreign_writes > 0);
	} else {
		int r = vt_timeline_from_dat(host, NULL, -1, &tl, &eb);

		if (r)
			fail_msg("timeline: %s", eb.msg);
	}
	struct vt_convert_opts co = { .timeline = tl, .host = host, .boot = boot };
	int r = vt_convert_guest(guest, out_path, &co, &res, &eb);
	if (r)
		fail_msg("convert: %d %s", r, eb.msg);

	assert_int_equal(vt_dat_open(out_path, &conv, &eb), 0);
	assert_int_equal(vt_dat_trace_id(conv), res->trace_id);
	assert_false(vt_dat_has_time_shift(conv));
	for (unsigned cpu = 0; cpu < vt_dat_buffer_ncpus(conv, 0); cpu++) {
		struct vt_dat_cpu *c = NULL;
		struct vt_event ev;
		uint64_t index = 0;

		assert_int_equal(vt_dat_cpu_open(conv, 0, cpu, &c, &eb), 0);
		while ((r = vt_dat_cpu_next_event(c, &ev, &eb)) > 0) {
			const struct expect_line *x = NULL;

			/* expect.txt lists the events by cpu, then index */
			for (size_t k = li; k < e.n; k++) {
				if (e.l[k].cpu == cpu && e.l[k].index == index) {
					x = &e.l[k];
					li = k + 1;
					break;
				}
			}
			if (!x)
				fail_msg("cpu %u event %" PRIu64 " not in expect.txt", cpu, index);
			out->events++;
			if (ev.ts != x->host_ts) {
				out->mismatched++;
				if (flagged(res, cpu, index))
					out->mismatched_flagged++;
			}
			index++;
		}
		assert_int_equal(r, 0);
		vt_dat_cpu_close(c);
	}
	assert_int_equal(out->events, e.n);
	out->ambiguous = res->ambiguous;
	out->containment_used = res->containment_used;
	for (size_t i = 0; i < res->ncpus; i++) {
		out->boundaries += res->cpus[i].nboundaries;
		if (res->cpus[i].last_host_tsc > out->last_host_tsc)
			out->last_host_tsc = res->cpus[i].last_host_tsc;
	}
	vt_dat_close(conv);
	vt_convert_result_free(res);
	vt_timeline_free(tl);
	vt_tidset_fini(&tids);
	vt_dat_close(guest);
	vt_dat_close(host);
	free(e.l);
}

struct scenario {
	const char *name;
	bool use_tids;
	size_t boundaries;	/* offset changes the guest stream crosses */
};

static void run_exact(const struct scenario *sc)
{
	char *dir = vt_test_tmpdir();
	struct outcome o;

	gen(dir, sc->name, NULL);
	convert_and_compare(dir, "guest.dat", "expect.txt", sc->use_tids, 1, &o);
	assert_true(o.events > 0);
	if (o.mismatched)
		fail_msg("%s: %" PRIu64 " of %" PRIu64 " events off", sc->name, o.mismatched,
			 o.events);
	assert_int_equal(o.ambiguous, 0);
	assert_int_equal(o.boundaries, sc->boundaries);
	vt_test_rmtree(dir);
	free(dir);
}

#define EXACT(fn, scen, tids, nb)                                                                  \
	static void fn(void **state)                                                               \
	{                                                                                          \
		static const struct scenario sc = { scen, tids, nb };                              \
		(void)state;                                                                       \
		run_exact(&sc);                                                                    \
	}

EXACT(boot_offset_only_converts_with_zero_error, "boot", false, 0)
EXACT(forward_jump_with_marker_converts_exactly, "forward", false, 1)
EXACT(forward_jump_without_marker_uses_rule, "forward-nomarker", false, 1)
EXACT(backward_jump_with_marker_converts_exactly, "backward", false, 1)
EXACT(backward_jump_without_marker_uses_rule, "backward-nomarker", false, 1)
EXACT(two_vcpus_with_different_offsets_convert_exactly, "two-vcpus", false, 0)
EXACT(noise_from_another_qemu_is_left_out, "noise", true, 1)

static void second_boot_converts_with_reset_offset(void **state)
{
	char *dir = vt_test_tmpdir();
	struct outcome o;

	(void)state;
	gen(dir, "two-boots", NULL);
	convert_and_compare(dir, "guest.dat", "expect.txt", false, 1, &o);
	assert_int_equal(o.mismatched, 0);
	convert_and_compare(dir, "guest-boot2.dat", "expect-boot2.txt", false, 2, &o);
	assert_int_equal(o.mismatched, 0);
	assert_int_equal(o.ambiguous, 0);
	vt_test_rmtree(dir);
	free(dir);
}

static void ambiguous_jump_is_flagged_not_guessed(void **state)
{
	char *dir = vt_test_tmpdir();
	struct outcome o;

	(void)state;
	gen(dir, "ambiguous", NULL);
	convert_and_compare(dir, "guest.dat", "expect.txt", false, 1, &o);
	assert_true(o.ambiguous > 0);
	/* every event placed wrongly is one of the flagged ones */
	assert_int_equal(o.mismatched, o.mismatched_flagged);
	vt_test_rmtree(dir);
	free(dir);
}

/* the same jump, but the host's kvm_entry/kvm_exit intervals show where each event ran */
static void ambiguous_jump_decided_by_containment(void **state)
{
	char *dir = vt_test_tmpdir();
	struct outcome o;

	(void)state;
	gen(dir, "ambiguous-contained", NULL);
	convert_and_compare(dir, "guest.dat", "expect.txt", false, 1, &o);
	if (o.mismatched)
		fail_msg("%" PRIu64 " of %" PRIu64 " events off", o.mismatched, o.events);
	assert_int_equal(o.ambiguous, 0);
	assert_true(o.containment_used);
	vt_test_rmtree(dir);
	free(dir);
}

static void noise_without_pid_fails_with_reason(void **state)
{
	char *dir = vt_test_tmpdir(), path[PATH_MAX];
	struct vt_dat *host = NULL;
	struct vt_timeline *tl = NULL;
	struct vt_errbuf eb = { "" };

	(void)state;
	gen(dir, "noise", NULL);
	snprintf(path, sizeof(path), "%s/host.dat", dir);
	assert_int_equal(vt_dat_open(path, &host, &eb), 0);
	assert_int_equal(vt_timeline_from_dat(host, NULL, -1, &tl, &eb), -EEXIST);
	assert_non_null(strstr(eb.msg, "several QEMU processes"));
	vt_dat_close(host);
	vt_test_rmtree(dir);
	free(dir);
}

static void truncated_guest_fails_and_leaves_no_output(void **state)
{
	char *dir = vt_test_tmpdir(), path[PATH_MAX], out_path[PATH_MAX];
	struct vt_dat *host = NULL, *guest = NULL;
	struct vt_timeline *tl = NULL;
	struct vt_convert_result *res = NULL;
	struct vt_errbuf eb = { "" };
	struct stat st;
	int r;

	(void)state;
	gen(dir, "boot", "--events 5000");
	snprintf(path, sizeof(path), "%s/guest.dat", dir);
	assert_int_equal(stat(path, &st), 0);
	/* cut the last CPU's data in the middle of a page */
	assert_int_equal(truncate(path, st.st_size - 5000), 0);
	snprintf(out_path, sizeof(out_path), "%s/out.dat", dir);
	r = vt_dat_open(path, &guest, &eb);
	if (r == 0) {
		snprintf(path, sizeof(path), "%s/host.dat", dir);
		assert_int_equal(vt_dat_open(path, &host, &eb), 0);
		assert_int_equal(vt_timeline_from_dat(host, NULL, -1, &tl, &eb), 0);
		struct vt_convert_opts co = { .timeline = tl };
		r = vt_convert_guest(guest, out_path, &co, &res, &eb);
	}
	assert_int_equal(r, -EBADMSG);
	assert_true(strlen(eb.msg) > 0);
	assert_int_not_equal(access(out_path, F_OK), 0);
	vt_timeline_free(tl);
	vt_dat_close(guest);
	vt_dat_close(host);
	vt_test_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(boot_offset_only_converts_with_zero_error),
		cmocka_unit_test(forward_jump_with_marker_converts_exactly),
		cmocka_unit_test(forward_jump_without_marker_uses_rule),
		cmocka_unit_test(backward_jump_with_marker_converts_exactly),
		cmocka_unit_test(backward_jump_without_marker_uses_rule),
		cmocka_unit_test(two_vcpus_with_different_offsets_convert_exactly),
		cmocka_unit_test(noise_from_another_qemu_is_left_out),
		cmocka_unit_test(second_boot_converts_with_reset_offset),
		cmocka_unit_test(ambiguous_jump_is_flagged_not_guessed),
		cmocka_unit_test(ambiguous_jump_decided_by_containment),
		cmocka_unit_test(noise_without_pid_fails_with_reason),
		cmocka_unit_test(truncated_guest_fails_and_leaves_no_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
