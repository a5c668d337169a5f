// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of the trace.dat writer (core/src/dat-write.c): header and option bytes, page
 * alignment, atomic rename/abort, misuse, and trace-cmd reading the files cleanly.
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
#include "vt-formats.h"
#include "vt-test.h"
#include "vt/dat.h"
#include "vt/page.h"

#define PAGE 4096

static const char cmdlines[] = "4000 CPU 0/KVM\n512 bash\n";

static struct vt_dat_meta test_meta(void)
{
	static struct vt_dat_format formats[2];
	struct vt_dat_meta meta;

	formats[0] = vt_formats[VT_FMT_KVM_WRITE_TSC_OFFSET];
	formats[1] = vt_formats[VT_FMT_WRITE_MSR];
	meta = vt_formats_meta(formats, 2, cmdlines, "Linux test 6.1.0 x86_64");
	meta.kallsyms = (struct vt_blob){ "ffffffff81000000 T _stext\n", 26 };
	return meta;
}

/* The events every test file holds. */
struct tev {
	const char *buffer;
	unsigned cpu;
	uint64_t ts;
	const char *name;	/* event name in trace-cmd report */
};

static const struct tev test_events[] = {
	{ "", 0, 1000, "write_msr" },
	{ "", 0, 2000, "write_msr" },
	{ "", 0, 2000 + (1ULL << 28), "write_msr" },	/* time extend */
	{ "", 0, 1500, "write_msr" },			/* backwards: absolute stamp */
	{ "", 1, 3000, "write_msr" },			/* via vt_datw_cpu_page */
	{ "", 1, 3100, "write_msr" },
	{ "tsc", 0, 900, "kvm_write_tsc_offset" },
	{ "tsc", 1, 1200, "kvm_write_tsc_offset" },
};

#define N_TEST_EVENTS (sizeof(test_events) / sizeof(test_events[0]))

static void msr_payload(uint8_t p[28], uint64_t val)
{
	memset(p, 0, 28);
	vtc_put_le16(p, VT_ID_WRITE_MSR);
	vtc_put_le32(p + 4, 512);
	vtc_put_le32(p + 8, 0x10);
	vtc_put_le64(p + 16, val);
}

static void tsc_payload(uint8_t p[32], uint64_t next)
{
	memset(p, 0, 32);
	vtc_put_le16(p, VT_ID_KVM_WRITE_TSC_OFFSET);
	vtc_put_le32(p + 4, 4000);
	vtc_put_le64(p + 24, next);
}

static const uint32_t guest_tids[2] = { 4000, 4001 };

static void write_test_file(const char *path, int version, const struct vt_tsc2nsec *t2n)
{
	const struct vt_dat_guest guest = { "guest1", 0x1122334455667788ULL, 2, guest_tids };
	struct vt_dat_meta meta = test_meta();
	struct vt_datw_opts opts = {
		.version = version, .clock = "x86-tsc", .trace_id = 0xabcdef0123456789ULL,
		.tsc2nsec = t2n, .guests = &guest, .nguests = 1,
	};
	struct vt_errbuf eb = { { 0 } };
	struct vt_page_enc pe;
	struct vt_datw *w;
	uint8_t p[32];
	char tmp[PATH_MAX + 8];
	struct stat st;

	assert_int_equal(vt_datw_create(path, &meta, &opts, &w, &eb), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(stat(tmp, &st), 0);
	assert_int_equal(vt_datw_buffer_begin(w, "", 2, &eb), 0);
	assert_int_equal(vt_datw_cpu_begin(w, 0, &eb), 0);
	for (size_t i = 0; i < 4; i++) {
		msr_payload(p, test_events[i].ts);
		assert_int_equal(vt_datw_cpu_event(w, test_events[i].ts, p, 28, &eb), 0);
	}
	assert_int_equal(vt_datw_cpu_end(w, &eb), 0);
	assert_int_equal(vt_datw_cpu_begin(w, 1, &eb), 0);
	assert_int_equal(vt_page_enc_init(&pe, PAGE, 8), 0);
	for (size_t i = 4; i < 6; i++) {
		msr_payload(p, test_events[i].ts);
		assert_int_equal(vt_page_enc_add(&pe, test_events[i].ts, p, 28), 0);
	}
	assert_int_equal(vt_datw_cpu_page(w, vt_page_enc_finish(&pe), &eb), 0);
	vt_page_enc_fini(&pe);
	assert_int_equal(vt_datw_cpu_end(w, &eb), 0);
	assert_int_equal(vt_datw_buffer_end(w, &eb), 0);

	assert_int_equal(vt_datw_buffer_begin(w, "tsc", 2, &eb), 0);
	for (unsigned cpu = 0; cpu < 2; cpu++) {
		assert_int_equal(vt_datw_cpu_begin(w, cpu, &eb), 0);
		tsc_payload(p, (uint64_t)-1000000);
		assert_int_equal(vt_datw_cpu_event(w, test_events[6 + cpu].ts, p, 32, &eb), 0);
		assert_int_equal(vt_datw_cpu_end(w, &eb), 0);
	}
	assert_int_equal(vt_datw_buffer_end(w, &eb), 0);
	/* not visible under its name before close */
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(vt_datw_close(w, false, &eb), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(stat(tmp, &st), -1);
}

/* ---- a small independent parser of what we wrote ---- */

struct opt {
	uint16_t id;
	uint32_t size;
	const uint8_t *data;
};

struct parsed {
	char *buf;
	size_t len;
	int version;
	struct opt opts[64];
	size_t nopts;
	uint64_t cpu_off[4][8], cpu_size[4][8];	/* per buffer, per CPU */
	char names[4][16];
	unsigned ncpus[4];
	size_t nbufs;
};

static const struct opt *find_opt(const struct parsed *f, uint16_t id, size_t nth)
{
	for (size_t i = 0; i < f->nopts; i++)
		if (f->opts[i].id == id && nth-- == 0)
			return &f->opts[i];
	return NULL;
}

/* parse options from @off until DONE; returns the offset after DONE's id+size */
static size_t parse_options(struct parsed *f, size_t off)
{
	for (;;) {
		uint16_t id = 0;
		uint32_t size = 0;

		assert_int_equal(vtc_get_le16(f->buf, f->len, off, &id), 0);
		if (id == 0 && f->version == 6)
			return off + 2;
		assert_int_equal(vtc_get_le32(f->buf, f->len, off + 2, &size), 0);
		assert_true(off + 6 + size <= f->len);
		if (id == 0)
			return off + 6;
		assert_true(f->nopts < 64);
		f->opts[f->nopts++] = (struct opt){ id, size, (const uint8_t *)f->buf + off + 6 };
		off += 6 + size;
	}
}

static void parse_v7(struct parsed *f)
{
	uint64_t opt_off = 0, next;
	size_t off = 24;

	assert_memory_equal(f->buf + 18, "none\0\0", 6);	/* compression */
	assert_int_equal(vtc_get_le64(f->buf, f->len, 24, &opt_off), 0);
	/* sections are back to back with exact sizes up to the end of the file */
	off = 32;
	while (off < f->len) {
		uint64_t size = 0;

		assert_int_equal(vtc_get_le64(f->buf, f->len, off + 8, &size), 0);
		assert_true(size <= f->len - off - 16);
		off += 16 + size;
	}
	assert_int_equal(off, f->len);
	/* options sections chained through DONE */
	for (next = opt_off; next; ) {
		uint16_t id = 0;
		size_t done;

		assert_int_equal(vtc_get_le16(f->buf, f->len, next, &id), 0);
		assert_int_equal(id, VT_OPT_DONE);	/* section id 0 = OPTIONS */
		done = parse_options(f, next + 16);
		assert_int_equal(vtc_get_le64(f->buf, f->len, done, &next), 0);
	}
	for (size_t n = 0; find_opt(f, VT_OPT_BUFFER, n); n++) {
		const struct opt *o = find_opt(f, VT_OPT_BUFFER, n);
		const uint8_t *p = o->data + 8;
		uint32_t page_size, ncpus;

		snprintf(f->names[n], sizeof(f->names[n]), "%s", (const char *)p);
		p += strlen((const char *)p) + 1;
		assert_string_equal((const char *)p, "x86-tsc");
		p += strlen((const char *)p) + 1;
		memcpy(&page_size, p, 4);
		memcpy(&ncpus, p + 4, 4);
		assert_int_equal(le32toh(page_size), PAGE);
		f->ncpus[n] = le32toh(ncpus);
		p += 8;
		for (unsigned c = 0; c < f->ncpus[n]; c++, p += 20) {
			uint32_t id;

			memcpy(&id, p, 4);
			assert_int_equal(le32toh(id), c);
			memcpy(&f->cpu_off[n][c], p + 4, 8);
			memcpy(&f->cpu_size[n][c], p + 12, 8);
			f->cpu_off[n][c] = le64toh(f->cpu_off[n][c]);
			f->cpu_size[n][c] = le64toh(f->cpu_size[n][c]);
		}
		f->nbufs++;
	}
}

static size_t parse_v6_table(struct parsed *f, size_t off, size_t buf, unsigned ncpus)
{
	assert_memory_equal(f->buf + off, "flyrecord\0", 10);
	off += 10;
	f->ncpus[buf] = ncpus;
	for (unsigned c = 0; c < ncpus; c++, off += 16) {
		assert_int_equal(vtc_get_le64(f->buf, f->len, off, &f->cpu_off[buf][c]), 0);
		assert_int_equal(vtc_get_le64(f->buf, f->len, off + 8, &f->cpu_size[buf][c]), 0);
	}
	return off;
}

static void parse_v6(struct parsed *f)
{
	const char *p = memmem(f->buf, f->len, "options  \0", 10);
	uint32_t ncpus = 0;
	uint64_t clen = 0;
	size_t off;

	assert_non_null(p);
	off = (size_t)(p - f->buf);
	assert_int_equal(vtc_get_le32(f->buf, f->len, off - 4, &ncpus), 0);
	off = parse_options(f, off + 10);
	off = parse_v6_table(f, off, 0, ncpus);
	assert_int_equal(vtc_get_le64(f->buf, f->len, off, &clen), 0);
	assert_memory_equal(f->buf + off + 8, "[x86-tsc]", clen);
	f->nbufs = 1;
	for (size_t n = 0; find_opt(f, VT_OPT_BUFFER, n); n++) {
		const struct opt *o = find_opt(f, VT_OPT_BUFFER, n);
		uint64_t boff;

		memcpy(&boff, o->data, 8);
		snprintf(f->names[f->nbufs], sizeof(f->names[0]), "%s",
			 (const char *)o->data + 8);
		parse_v6_table(f, le64toh(boff), f->nbufs, ncpus);
		f->nbufs++;
	}
}

static void parse_file(const char *path, struct parsed *f)
{
	static const uint8_t magic[] = { 0x17, 0x08, 0x44, 't', 'r', 'a', 'c', 'i', 'n', 'g' };
	uint32_t page_size = 0;

	memset(f, 0, sizeof(*f));
	assert_int_equal(vtc_read_file(path, &f->buf, &f->len), 0);
	assert_true(f->len > 64);
	assert_memory_equal(f->buf, magic, sizeof(magic));
	assert_int_equal(f->buf[11], '\0');
	f->version = f->buf[10] - '0';
	assert_int_equal(f->buf[12], 0);	/* little endian */
	assert_int_equal(f->buf[13], 8);
	assert_int_equal(vtc_get_le32(f->buf, f->len, 14, &page_size), 0);
	assert_int_equal(page_size, PAGE);
	if (f->version == 7)
		parse_v7(f);
	else
		parse_v6(f);
}

/* Walk every CPU's pages of every buffer and compare with test_events. */
static void check_events(const struct parsed *f)
{
	size_t seen = 0;

	assert_int_equal(f->nbufs, 2);
	assert_string_equal(f->names[0], "");
	assert_string_equal(f->names[1], "tsc");
	for (size_t b = 0; b < f->nbufs; b++) {
		for (unsigned c = 0; c < f->ncpus[b]; c++) {
			assert_int_equal(f->cpu_off[b][c] % PAGE, 0);
			assert_int_equal(f->cpu_size[b][c] % PAGE, 0);
			assert_true(f->cpu_off[b][c] + f->cpu_size[b][c] <= f->len);
			for (uint64_t o = 0; o < f->cpu_size[b][c]; o += PAGE) {
				struct vt_page_iter it;
				struct vt_event ev;
				struct vt_errbuf eb;

				assert_int_equal(vt_page_load(&it, f->buf + f->cpu_off[b][c] + o,
							      PAGE, 8, &eb), 0);
				while (vt_page_next(&it, &ev, &eb) == 1) {
					const struct tev *t = &test_events[seen++];

					assert_string_equal(t->buffer, f->names[b]);
					assert_int_equal(t->cpu, c);
					assert_int_equal(t->ts, ev.ts);
				}
			}
		}
	}
	assert_int_equal(seen, N_TEST_EVENTS);
}

static void check_options(const struct parsed *f, bool with_t2n)
{
	const struct opt *o;
	uint64_t v;

	o = find_opt(f, VT_OPT_TRACECLOCK, 0);
	assert_non_null(o);
	assert_string_equal((const char *)o->data, "[x86-tsc]");
	o = find_opt(f, VT_OPT_TRACEID, 0);
	assert_non_null(o);
	assert_int_equal(o->size, 8);
	memcpy(&v, o->data, 8);
	assert_int_equal(le64toh(v), 0xabcdef0123456789ULL);
	o = find_opt(f, VT_OPT_GUEST, 0);
	assert_non_null(o);
	assert_int_equal(o->size, 7 + 8 + 4 + 16);
	assert_string_equal((const char *)o->data, "guest1");
	assert_memory_equal(o->data + 7, "\x88\x77\x66\x55\x44\x33\x22\x11\x02\0\0\0", 12);
	assert_memory_equal(o->data + 19, "\0\0\0\0\xa0\x0f\0\0\x01\0\0\0\xa1\x0f\0\0", 16);
	o = find_opt(f, VT_OPT_UNAME, 0);
	assert_non_null(o);
	assert_string_equal((const char *)o->data, "Linux test 6.1.0 x86_64");
	o = find_opt(f, VT_OPT_CPUCOUNT, 0);
	assert_non_null(o);
	assert_memory_equal(o->data, "\x02\0\0\0", 4);
	assert_null(find_opt(f, VT_OPT_TIME_SHIFT, 0));
	o = find_opt(f, VT_OPT_TSC2NSEC, 0);
	if (!with_t2n) {
		assert_null(o);
		return;
	}
	assert_non_null(o);
	assert_int_equal(o->size, 16);
	/* 0x90000000 >> 1 < 2^31, shift one less */
	assert_memory_equal(o->data, "\x00\x00\x00\x48\x1f\0\0\0\x07\0\0\0\0\0\0\0", 16);
}

/* ---- trace-cmd ---- */

static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);
	char line[4096];

	assert_non_null(p);
	assert_non_null(mem);
	while (fgets(line, sizeof(line), p))
		fputs(line, mem);
	assert_int_equal(pclose(p), 0);
	fclose(mem);
	return out;
}

static void assert_clean(const char *what, const char *out)
{
	const char *bad[] = { "warning", "error", "unknown", "cannot", "failed" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strcasestr(out, bad[i]))
			fail_msg("%s printed '%s':\n%s", what, bad[i], out);
}

static bool have_trace_cmd(void)
{
	if (access("/usr/bin/trace-cmd", X_OK) == 0)
		return true;
	printf("skipped: /usr/bin/trace-cmd is not installed\n");
	return false;
}

static void check_trace_cmd(const char *path)
{
	char cmd[PATH_MAX + 64];
	char *out;

	snprintf(cmd, sizeof(cmd), "trace-cmd report --raw-ts -i '%s' 2>&1", path);
	out = run_capture(cmd);
	assert_clean("trace-cmd report", out);
	for (size_t i = 0; i < N_TEST_EVENTS; i++) {
		const struct tev *t = &test_events[i];
		char want[128];
		bool found = false;

		snprintf(want, sizeof(want), "[%03u]%" PRIu64 ": %s:", t->cpu, t->ts, t->name);
		for (char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			char *end = strchr(l, '\n');
			char norm[512];
			size_t n = 0;

			/* squeeze runs of blanks so column widths do not matter */
			for (char *c = l; *c && c != end && n < sizeof(norm) - 1; c++)
				if (!(*c == ' ' && n && (norm[n - 1] == ' ' || norm[n - 1] == ']')))
					norm[n++] = *c;
			norm[n] = '\0';
			if (strstr(norm, want) &&
			    (*t->buffer ? !strncmp(norm, "tsc:", 4) : strncmp(norm, "tsc:", 4))) {
				found = true;
				break;
			}
		}
		if (!found)
			fail_msg("trace-cmd report lacks '%s':\n%s", want, out);
	}
	free(out);

	snprintf(cmd, sizeof(cmd), "trace-cmd dump --options -i '%s' 2>&1", path);
	out = run_capture(cmd);
	assert_clean("trace-cmd dump --options", out);
	assert_non_null(strstr(out, "guest1 [Guest name]"));
	assert_non_null(strstr(out, "0xABCDEF0123456789"));
	free(out);
	snprintf(cmd, sizeof(cmd), "trace-cmd dump -i '%s' 2>&1", path);
	out = run_capture(cmd);
	assert_clean("trace-cmd dump", out);
	free(out);
}

/* ---- tests ---- */

static void write_and_check(int version, bool with_t2n)
{
	const struct vt_tsc2nsec t2n = { 0x90000000u, 32, 7 };
	char *dir = vt_test_tmpdir();
	char path[PATH_MAX];
	struct parsed f;

	snprintf(path, sizeof(path), "%s/test.dat", dir);
	write_test_file(path, version, with_t2n ? &t2n : NULL);
	parse_file(path, &f);
	assert_int_equal(f.version, version ? version : 7);
	check_options(&f, with_t2n);
	check_events(&f);
	if (have_trace_cmd())
		check_trace_cmd(path);
	free(f.buf);
	vt_test_rmtree(dir);
	free(dir);
}

static void v7_is_default_and_carries_options_and_events(void **state)
{
	(void)state;
	write_and_check(0, true);
}

static void v6_carries_options_and_events(void **state)
{
	(void)state;
	write_and_check(6, true);
}

static void v7_without_tsc2nsec_has_no_tsc2nsec_option(void **state)
{
	(void)state;
	write_and_check(7, false);
}

static void v6_without_tsc2nsec_has_no_tsc2nsec_option(void **state)
{
	(void)state;
	write_and_check(6, false);
}

static void no_trace_id_means_no_traceid_option(void **state)
{
	struct vt_dat_meta meta = test_meta();
	struct vt_datw_opts opts = { .version = 7, .clock = "x86-tsc" };
	char *dir = vt_test_tmpdir();
	char path[PATH_MAX];
	struct vt_datw *w;
	struct parsed f;

	(void)state;
	snprintf(path, sizeof(path), "%s/empty.dat", dir);
	assert_int_equal(vt_datw_create(path, &meta, &opts, &w, NULL), 0);
	assert_int_equal(vt_datw_buffer_begin(w, "", 1, NULL), 0);
	assert_int_equal(vt_datw_buffer_end(w, NULL), 0);	/* CPU without pages */
	assert_int_equal(vt_datw_close(w, false, NULL), 0);
	parse_file(path, &f);
	assert_null(find_opt(&f, VT_OPT_TRACEID, 0));
	assert_null(find_opt(&f, VT_OPT_GUEST, 0));
	assert_int_equal(f.nbufs, 1);
	assert_int_equal(f.cpu_size[0][0], 0);
	if (have_trace_cmd()) {
		char cmd[PATH_MAX + 64];
		char *out;

		snprintf(cmd, sizeof(cmd), "trace-cmd report -i '%s' 2>&1", path);
		out = run_capture(cmd);
		assert_clean("trace-cmd report (empty)", out);
		free(out);
	}
	free(f.buf);
	vt_test_rmtree(dir);
	free(dir);
}

/*
 * Buffers with different CPU counts: a top buffer without CPUs and the data in an
 * instance (like `trace-cmd extract -B inst`), or an instance with fewer CPUs than the top.
 */
static const struct {
	unsigned top_ncpus, inst_ncpus;
} cpu_shapes[] = { { 0, 2 }, { 3, 2 } };

static void buffers_with_other_cpu_counts_read_cleanly(void **state)
{
	struct vt_dat_meta meta = test_meta();
	char *dir = vt_test_tmpdir();

	(void)state;
	for (int k = 0; k < 4; k++) {
		int v = 6 + k % 2;
		unsigned top = cpu_shapes[k / 2].top_ncpus, inst = cpu_shapes[k / 2].inst_ncpus;
		struct vt_datw_opts opts = { .version = v, .clock = "x86-tsc", .trace_id = 5 };
		char path[PATH_MAX], cmd[PATH_MAX + 64];
		struct vt_datw *w;
		struct parsed f;
		uint8_t p[32];

		snprintf(path, sizeof(path), "%s/shape-%d-v%d.dat", dir, k / 2, v);
		assert_int_equal(vt_datw_create(path, &meta, &opts, &w, NULL), 0);
		assert_int_equal(vt_datw_buffer_begin(w, "", top, NULL), 0);
		if (top) {
			/* one CPU with data, the others empty */
			assert_int_equal(vt_datw_cpu_begin(w, 1, NULL), 0);
			msr_payload(p, 1);
			assert_int_equal(vt_datw_cpu_event(w, 4000, p, 28, NULL), 0);
		}
		assert_int_equal(vt_datw_buffer_end(w, NULL), 0);
		assert_int_equal(vt_datw_buffer_begin(w, "inst", inst, NULL), 0);
		for (unsigned cpu = 0; cpu < inst; cpu++) {
			assert_int_equal(vt_datw_cpu_begin(w, cpu, NULL), 0);
			tsc_payload(p, 77);
			assert_int_equal(vt_datw_cpu_event(w, 5000 + cpu, p, 32, NULL), 0);
			assert_int_equal(vt_datw_cpu_end(w, NULL), 0);
		}
		assert_int_equal(vt_datw_buffer_end(w, NULL), 0);
		assert_int_equal(vt_datw_close(w, false, NULL), 0);
		parse_file(path, &f);
		assert_int_equal(f.nbufs, 2);
		assert_string_equal(f.names[1], "inst");
		assert_int_equal(f.cpu_size[1][0], PAGE);
		assert_int_equal(f.cpu_size[1][1], PAGE);
		free(f.buf);
		if (have_trace_cmd()) {
			char *out;

			snprintf(cmd, sizeof(cmd), "trace-cmd report --raw-ts -i '%s' 2>&1", path);
			out = run_capture(cmd);
			assert_clean("trace-cmd report (cpu counts)", out);
			if (!strstr(out, "5000: kvm_write_tsc_offset") ||
			    !strstr(out, "5001: kvm_write_tsc_offset") ||
			    (top && !strstr(out, "4000: write_msr")))
				fail_msg("v%d: events missing:\n%s", v, out);
			free(out);
			snprintf(cmd, sizeof(cmd), "trace-cmd dump -i '%s' 2>&1", path);
			out = run_capture(cmd);
			assert_clean("trace-cmd dump (cpu counts)", out);
			free(out);
		}
	}
	vt_test_rmtree(dir);
	free(dir);
}

static void abort_removes_the_temporary_file(void **state)
{
	struct vt_dat_meta meta = test_meta();
	char *dir = vt_test_tmpdir();
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	struct vt_datw *w;
	struct stat st;
	uint8_t p[28];

	(void)state;
	snprintf(path, sizeof(path), "%s/a.dat", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(vt_datw_create(path, &meta, NULL, &w, NULL), 0);
	assert_int_equal(vt_datw_buffer_begin(w, "", 1, NULL), 0);
	assert_int_equal(vt_datw_cpu_begin(w, 0, NULL), 0);
	msr_payload(p, 1);
	assert_int_equal(vt_datw_cpu_event(w, 1, p, sizeof(p), NULL), 0);
	assert_int_equal(stat(tmp, &st), 0);
	assert_int_equal(vt_datw_close(w, true, NULL), 0);
	assert_int_equal(stat(tmp, &st), -1);
	assert_int_equal(stat(path, &st), -1);
	vt_test_rmtree(dir);
	free(dir);
}

/* misuse of the call order fails, poisons the writer, and close removes the file */
struct misuse {
	const char *name;
	int step;	/* which call goes wrong */
	bool poisons;	/* false: only that call fails, the file can still be finished */
};

static const struct misuse misuses[] = {
	{ "named_buffer_first_fails", 0, true },
	{ "cpus_out_of_order_fails", 1, true },
	{ "cpu_beyond_ncpus_fails", 2, true },
	{ "event_outside_cpu_fails", 3, true },
	{ "event_larger_than_a_page_fails", 4, false },
	{ "v6_named_buffer_with_more_cpus_fails", 5, true },
	{ "raw_page_with_commit_past_end_fails", 6, false },
};

static void misuse_fails_and_leaves_no_file(void **state)
{
	struct vt_dat_meta meta = test_meta();
	static uint8_t big[PAGE];
	char *dir = vt_test_tmpdir();

	(void)state;
	for (size_t i = 0; i < sizeof(misuses) / sizeof(misuses[0]); i++) {
		struct vt_datw_opts opts = { .version = misuses[i].step == 5 ? 6 : 7 };
		struct vt_errbuf eb = { { 0 } };
		char path[PATH_MAX], tmp[PATH_MAX + 8];
		struct vt_datw *w;
		struct stat st;
		int r = 0;

		snprintf(path, sizeof(path), "%s/%s.dat", dir, misuses[i].name);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		assert_int_equal(vt_datw_create(path, &meta, &opts, &w, &eb), 0);
		switch (misuses[i].step) {
		case 0:
			r = vt_datw_buffer_begin(w, "tsc", 1, &eb);
			break;
		case 1:
			assert_int_equal(vt_datw_buffer_begin(w, "", 2, &eb), 0);
			assert_int_equal(vt_datw_cpu_begin(w, 1, &eb), 0);
			assert_int_equal(vt_datw_cpu_end(w, &eb), 0);
			r = vt_datw_cpu_begin(w, 0, &eb);
			break;
		case 2:
			assert_int_equal(vt_datw_buffer_begin(w, "", 2, &eb), 0);
			r = vt_datw_cpu_begin(w, 2, &eb);
			break;
		case 3:
			assert_int_equal(vt_datw_buffer_begin(w, "", 2, &eb), 0);
			r = vt_datw_cpu_event(w, 1, big, 28, &eb);
			break;
		case 4:
			assert_int_equal(vt_datw_buffer_begin(w, "", 1, &eb), 0);
			assert_int_equal(vt_datw_cpu_begin(w, 0, &eb), 0);
			r = vt_datw_cpu_event(w, 1, big, sizeof(big), &eb);
			break;
		case 5:
			assert_int_equal(vt_datw_buffer_begin(w, "", 1, &eb), 0);
			assert_int_equal(vt_datw_buffer_end(w, &eb), 0);
			r = vt_datw_buffer_begin(w, "tsc", 2, &eb);
			break;
		case 6:
			assert_int_equal(vt_datw_buffer_begin(w, "", 1, &eb), 0);
			assert_int_equal(vt_datw_cpu_begin(w, 0, &eb), 0);
			vtc_put_le64(big + 8, PAGE);	/* commit larger than the data area */
			r = vt_datw_cpu_page(w, big, &eb);
			memset(big, 0, sizeof(big));
			break;
		}
		if (r >= 0)
			fail_msg("%s: call succeeded", misuses[i].name);
		if (!eb.msg[0])
			fail_msg("%s: no reason given", misuses[i].name);
		if (misuses[i].poisons) {
			assert_true(vt_datw_buffer_end(w, NULL) < 0);
			assert_true(vt_datw_close(w, false, NULL) < 0);
			assert_int_equal(stat(path, &st), -1);
		} else {
			assert_int_equal(vt_datw_buffer_end(w, NULL), 0);
			assert_int_equal(vt_datw_close(w, false, NULL), 0);
			assert_int_equal(stat(path, &st), 0);
		}
		assert_int_equal(stat(tmp, &st), -1);
	}
	vt_test_rmtree(dir);
	free(dir);
}

static void create_in_missing_directory_fails(void **state)
{
	struct vt_dat_meta meta = test_meta();
	struct vt_errbuf eb = { { 0 } };
	struct vt_datw *w = NULL;

	(void)state;
	assert_int_equal(vt_datw_create("/nonexistent-dir/x.dat", &meta, NULL, &w, &eb), -ENOENT);
	assert_non_null(strstr(eb.msg, "/nonexistent-dir/x.dat.tmp"));
	meta.page_size = 1000;
	assert_int_equal(vt_datw_create("/tmp/x.dat", &meta, NULL, &w, &eb), -EINVAL);
}

static void huge_tsc2nsec_mult_fails(void **state)
{
	const struct vt_tsc2nsec t2n = { 0xffffffffu, 0, 0 };
	struct vt_dat_meta meta = test_meta();
	struct vt_datw_opts opts = { .tsc2nsec = &t2n };
	struct vt_errbuf eb = { { 0 } };
	struct vt_datw *w = NULL;

	(void)state;
	assert_int_equal(vt_datw_create("/tmp/vt-t2n.dat", &meta, &opts, &w, &eb), -ERANGE);
	assert_non_null(strstr(eb.msg, "TSC2NSEC"));
}

/* vt-gen's files for every scenario: trace-cmd reads them cleanly, events match expect */
static void generator_scenarios_read_cleanly(void **state)
{
	const char *build = getenv("VT_BUILD_DIR");
	char gen[PATH_MAX], cmd[3 * PATH_MAX], line[256];
	char *dir, *list;
	size_t nscen = 0;

	(void)state;
	snprintf(gen, sizeof(gen), "%s/tests/vt-gen", build ? build : ".");
	if (access(gen, X_OK) != 0) {
		printf("skipped: %s not built\n", gen);
		return;
	}
	if (!have_trace_cmd())
		return;
	dir = vt_test_tmpdir();
	snprintf(cmd, sizeof(cmd), "'%s' list", gen);
	list = run_capture(cmd);
	for (char *l = list; *l; ) {
		char *end = strchr(l, '\n'), name[64];

		if (sscanf(l, "%63s", name) != 1)
			break;
		for (int v = 6; v <= 7; v++) {
			char *out;
			long want = 0, got = 0;
			FILE *f;

			snprintf(cmd, sizeof(cmd),
				 "'%s' pair -o '%s/%s-%d' --scenario %s --events 400 --vcpus 2 "
				 "--file-version %d 2>&1 >/dev/null",
				 gen, dir, name, v, name, v);
			out = run_capture(cmd);
			free(out);
			snprintf(cmd, sizeof(cmd),
				 "cd '%s/%s-%d' && for f in *.dat; do trace-cmd report -i $f; "
				 "trace-cmd dump --options -i $f; done 2>&1 >/dev/null", dir, name, v);
			out = run_capture(cmd);
			assert_clean(name, out);
			free(out);
			snprintf(cmd, sizeof(cmd),
				 "trace-cmd report -i '%s/%s-%d/guest.dat' 2>&1 | grep -c ']'", dir,
				 name, v);
			out = run_capture(cmd);
			got = strtol(out, NULL, 10);
			free(out);
			snprintf(cmd, sizeof(cmd), "%s/%s-%d/expect.txt", dir, name, v);
			f = fopen(cmd, "re");
			assert_non_null(f);
			while (fgets(line, sizeof(line), f))
				want += line[0] != '#';
			fclose(f);
			if (got != want || want == 0)
				fail_msg("%s v%d: trace-cmd shows %ld guest events, expect.txt %ld",
					 name, v, got, want);
		}
		nscen++;
		if (!end)
			break;
		l = end + 1;
	}
	assert_true(nscen >= 9);
	free(list);
	vt_test_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(v7_is_default_and_carries_options_and_events),
		cmocka_unit_test(v6_carries_options_and_events),
		cmocka_unit_test(v7_without_tsc2nsec_has_no_tsc2nsec_option),
		cmocka_unit_test(v6_without_tsc2nsec_has_no_tsc2nsec_option),
		cmocka_unit_test(no_trace_id_means_no_traceid_option),
		cmocka_unit_test(buffers_with_other_cpu_counts_read_cleanly),
		cmocka_unit_test(abort_removes_the_temporary_file),
		cmocka_unit_test(misuse_fails_and_leaves_no_file),
		cmocka_unit_test(create_in_missing_directory_fails),
		cmocka_unit_test(huge_tsc2nsec_mult_fails),
		cmocka_unit_test(generator_scenarios_read_cleanly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
