// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of core/src/chunk.c: header writer/parser round trips, one *_fails case per
 * malformed chunk shape, and (root + tracefs + a built agent) chunks the real
 * virt-trace-agent cut on this machine, walked page by page.
 */
#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "vt-test.h"
#include "vt/chunk.h"
#include "vt/page.h"

#define PAGE 4096
#define BOOT_ID "0b5e3c4a-2f7d-4e1a-9c3b-6d8e1f2a3b4c"

/* offsets of the format (vt/chunk.h) */
#define OFF_VERSION 8
#define OFF_HEADER_LEN 12
#define OFF_BOOT_ID 32
#define OFF_PAGE_SIZE 72
#define OFF_NCPUS 76
#define OFF_ENTRY(i) (80 + 24 * (i))

struct shape {
	uint32_t ncpus;
	uint32_t cpu[4];
	uint32_t npages[4];
	uint32_t page_size;
	size_t gap;		/* extra header bytes (a later version's fields) */
};

struct built {
	uint8_t *buf;
	size_t len;
	struct vt_chunk *c;	/* what was written */
};

/* A chunk of @s: pages of CPU entry i filled with byte (i * 16 + page + 1). */
static struct built build(const struct shape *s)
{
	struct built b = { .c = calloc(1, sizeof(struct vt_chunk)) };
	size_t hlen, pos;

	assert_non_null(b.c);
	b.c->seq = 42;
	b.c->guest_tsc = 0x123456789abcdefULL;
	strcpy(b.c->boot_id, BOOT_ID);
	b.c->page_size = s->page_size ? s->page_size : PAGE;
	b.c->ncpus = s->ncpus;
	b.len = 80 + 24 * (size_t)s->ncpus + s->gap;
	for (uint32_t i = 0; i < s->ncpus; i++) {
		b.c->cpus[i] = (struct vt_chunk_cpu){ .cpu = s->cpu[i], .npages = s->npages[i],
						      .lost_events = 1000 + i, .flags = i & 1 };
		b.len += (size_t)s->npages[i] * b.c->page_size;
	}
	b.buf = calloc(1, b.len);
	assert_non_null(b.buf);
	assert_int_equal(vt_chunk_header(b.c, b.buf, b.len, &hlen), 0);
	assert_int_equal(hlen, 80 + 24 * (size_t)s->ncpus);
	if (s->gap)
		vtc_put_le32(b.buf + OFF_HEADER_LEN, (uint32_t)(hlen + s->gap));
	pos = hlen + s->gap;
	for (uint32_t i = 0; i < s->ncpus; i++)
		for (uint32_t p = 0; p < s->npages[i]; p++) {
			memset(b.buf + pos, (int)(i * 16 + p + 1), b.c->page_size);
			pos += b.c->page_size;
		}
	assert_int_equal(pos, b.len);
	return b;
}

static void built_free(struct built *b)
{
	free(b->buf);
	free(b->c);
}

static const struct shape three_cpus = {
	.ncpus = 3, .cpu = { 0, 2, 5 }, .npages = { 2, 0, 3 },
};

static void check_parse(const struct built *b, const struct shape *s)
{
	struct vt_chunk *c = calloc(1, sizeof(*c));
	struct vt_errbuf eb = { "" };

	assert_non_null(c);
	assert_int_equal(vt_chunk_parse(b->buf, b->len, c, &eb), 0);
	assert_string_equal(eb.msg, "");
	assert_int_equal(c->seq, 42);
	assert_int_equal(c->guest_tsc, 0x123456789abcdefULL);
	assert_string_equal(c->boot_id, BOOT_ID);
	assert_int_equal(c->page_size, b->c->page_size);
	assert_int_equal(c->ncpus, s->ncpus);
	for (uint32_t i = 0; i < s->ncpus; i++) {
		const struct vt_chunk_cpu *cc = &c->cpus[i];

		assert_int_equal(cc->cpu, s->cpu[i]);
		assert_int_equal(cc->npages, s->npages[i]);
		assert_int_equal(cc->lost_events, 1000 + i);
		assert_int_equal(cc->flags, i & 1);
		assert_non_null(cc->pages);
		for (uint32_t p = 0; p < cc->npages; p++) {
			const uint8_t *pg = cc->pages + (size_t)p * c->page_size;

			assert_true(pg >= b->buf && pg + c->page_size <= b->buf + b->len);
			assert_int_equal(pg[0], i * 16 + p + 1);
			assert_int_equal(pg[c->page_size - 1], i * 16 + p + 1);
		}
	}
	free(c);
}

static void round_trip_keeps_every_field(void **state)
{
	struct built b = build(&three_cpus);

	(void)state;
	check_parse(&b, &three_cpus);
	built_free(&b);
}

static void round_trip_without_cpus(void **state)
{
	const struct shape s = { .ncpus = 0 };
	struct built b = build(&s);

	(void)state;
	assert_int_equal(b.len, 80);
	check_parse(&b, &s);
	built_free(&b);
}

static void round_trip_large_pages(void **state)
{
	const struct shape s = { .ncpus = 2, .cpu = { 1, 0 }, .npages = { 1, 2 },
				 .page_size = 1u << 20 };
	struct built b = build(&s);

	(void)state;
	check_parse(&b, &s);
	built_free(&b);
}

static void longer_header_len_skips_unknown_fields(void **state)
{
	const struct shape s = { .ncpus = 2, .cpu = { 0, 1 }, .npages = { 1, 1 }, .gap = 40 };
	struct built b = build(&s);

	(void)state;
	check_parse(&b, &s);
	built_free(&b);
}

static void writer_rejects_what_it_cannot_write(void **state)
{
	struct built b = build(&three_cpus);
	uint8_t small[100];
	size_t len;

	(void)state;
	assert_int_equal(vt_chunk_header(b.c, small, sizeof(small), &len), -ENOSPC);
	b.c->page_size = 6000;
	assert_int_equal(vt_chunk_header(b.c, b.buf, b.len, &len), -EINVAL);
	b.c->page_size = PAGE;
	b.c->ncpus = VT_CHUNK_MAX_CPUS + 1;
	assert_int_equal(vt_chunk_header(b.c, b.buf, b.len, &len), -EINVAL);
	b.c->ncpus = 3;
	b.c->boot_id[0] = '\0';
	assert_int_equal(vt_chunk_header(b.c, b.buf, b.len, &len), -EINVAL);
	strcpy(b.c->boot_id, BOOT_ID);
	b.c->cpus[0].npages = VT_CHUNK_MAX_BYTES / PAGE;
	assert_int_equal(vt_chunk_header(b.c, b.buf, b.len, &len), -EFBIG);
	built_free(&b);
}

/* ---- malformed chunks: each fails with its reason ---- */

static void parse_fails(const uint8_t *buf, size_t len, const char *why)
{
	struct vt_chunk *c = calloc(1, sizeof(*c));
	struct vt_errbuf eb = { "" };

	assert_non_null(c);
	assert_int_equal(vt_chunk_parse(buf, len, c, &eb), -EBADMSG);
	assert_string_equal(eb.msg, why);
	/* and without an error buffer */
	assert_int_equal(vt_chunk_parse(buf, len, c, NULL), -EBADMSG);
	free(c);
}

static void bad_magic_fails(void **state)
{
	struct built b = build(&three_cpus);

	(void)state;
	b.buf[7] = '2';
	parse_fails(b.buf, b.len, "chunk: bad magic (not a virt-trace chunk)");
	built_free(&b);
}

static void bad_version_fails(void **state)
{
	struct built b = build(&three_cpus);

	(void)state;
	vtc_put_le32(b.buf + OFF_VERSION, 2);
	parse_fails(b.buf, b.len, "chunk: version 2, only 1 is known");
	vtc_put_le32(b.buf + OFF_VERSION, 0);
	parse_fails(b.buf, b.len, "chunk: version 0, only 1 is known");
	built_free(&b);
}

static void truncated_header_fails(void **state)
{
	struct built b = build(&three_cpus);

	(void)state;
	parse_fails(b.buf, 79, "chunk: 79 bytes, shorter than its 80-byte header");
	parse_fails(b.buf, 0, "chunk: 0 bytes, shorter than its 80-byte header");
	/* the CPU entries cut off */
	parse_fails(b.buf, 100, "chunk: header_len 152 past the end (100 bytes)");
	built_free(&b);
}

static void header_len_too_small_fails(void **state)
{
	struct built b = build(&three_cpus);

	(void)state;
	vtc_put_le32(b.buf + OFF_HEADER_LEN, 151);
	parse_fails(b.buf, b.len, "chunk: header_len 151 < 152 needed for 3 CPUs");
	vtc_put_le32(b.buf + OFF_HEADER_LEN, 0);
	parse_fails(b.buf, b.len, "chunk: header_len 0 < 152 needed for 3 CPUs");
	built_free(&b);
}

static void header_len_too_large_fails(void **state)
{
	struct built b = build(&three_cpus);
	char why[128];

	(void)state;
	vtc_put_le32(b.buf + OFF_HEADER_LEN, UINT32_MAX);
	snprintf(why, sizeof(why), "chunk: header_len 4294967295 past the end (%zu bytes)",
		 b.len);
	parse_fails(b.buf, b.len, why);
	/* inside the buffer, but then the pages do not fit */
	vtc_put_le32(b.buf + OFF_HEADER_LEN, 152 + PAGE);
	parse_fails(b.buf, b.len, "chunk: CPU 5: 3 pages past the end");
	built_free(&b);
}

static void ncpus_too_many_fails(void **state)
{
	struct built b = build(&three_cpus);

	(void)state;
	vtc_put_le32(b.buf + OFF_NCPUS, VT_CHUNK_MAX_CPUS + 1);
	parse_fails(b.buf, b.len, "chunk: 1025 CPUs, at most 1024");
	vtc_put_le32(b.buf + OFF_NCPUS, UINT32_MAX);
	parse_fails(b.buf, b.len, "chunk: 4294967295 CPUs, at most 1024");
	/* more CPUs than the header has entries for */
	vtc_put_le32(b.buf + OFF_NCPUS, 4);
	parse_fails(b.buf, b.len, "chunk: header_len 152 < 176 needed for 4 CPUs");
	built_free(&b);
}

static void pages_past_end_fails(void **state)
{
	struct built b = build(&three_cpus);

	(void)state;
	vtc_put_le32(b.buf + OFF_ENTRY(2) + 4, 4);
	parse_fails(b.buf, b.len, "chunk: CPU 5: 4 pages past the end");
	/* npages * page_size beyond 32 bits must not wrap */
	vtc_put_le32(b.buf + OFF_ENTRY(0) + 4, 1u << 20);
	parse_fails(b.buf, b.len, "chunk: CPU 0: 1048576 pages past the end");
	vtc_put_le32(b.buf + OFF_ENTRY(0) + 4, UINT32_MAX);
	parse_fails(b.buf, b.len, "chunk: CPU 0: 4294967295 pages past the end");
	built_free(&b);
	b = build(&three_cpus);
	parse_fails(b.buf, b.len - 1, "chunk: CPU 5: 3 pages past the end");
	built_free(&b);
}

static void trailing_bytes_fails(void **state)
{
	struct built b = build(&three_cpus);
	uint8_t *longer = calloc(1, b.len + 8);

	(void)state;
	assert_non_null(longer);
	memcpy(longer, b.buf, b.len);
	parse_fails(longer, b.len + 8, "chunk: 8 bytes after the last page");
	free(longer);
	built_free(&b);
}

static void page_size_odd_fails(void **state)
{
	struct built b = build(&three_cpus);
	static const uint32_t bad[] = { 6000, 4097, 2048, 0, 2u << 20, UINT32_MAX };
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vtc_put_le32(b.buf + OFF_PAGE_SIZE, bad[i]);
		snprintf(why, sizeof(why),
			 "chunk: page_size %u is not a power of two in 4096..1048576", bad[i]);
		parse_fails(b.buf, b.len, why);
	}
	built_free(&b);
}

static void boot_id_garbage_fails(void **state)
{
	struct built b = build(&three_cpus);

	(void)state;
	b.buf[OFF_BOOT_ID + 3] = '\n';
	parse_fails(b.buf, b.len, "chunk: boot_id byte 3 is not printable (0x0a)");
	b.buf[OFF_BOOT_ID + 3] = ' ';
	parse_fails(b.buf, b.len, "chunk: boot_id byte 3 is not printable (0x20)");
	b.buf[OFF_BOOT_ID + 3] = (uint8_t)0xc3;
	parse_fails(b.buf, b.len, "chunk: boot_id byte 3 is not printable (0xc3)");
	b.buf[OFF_BOOT_ID + 3] = '5';
	b.buf[OFF_BOOT_ID + 38] = 'x';	/* after the NUL that ends the 36 characters */
	parse_fails(b.buf, b.len, "chunk: boot_id byte 38 after its NUL is 0x78");
	memset(b.buf + OFF_BOOT_ID, 0, 40);
	parse_fails(b.buf, b.len, "chunk: empty boot_id");
	/* 40 characters and no NUL: allowed, and the result is terminated */
	memset(b.buf + OFF_BOOT_ID, 'a', 40);
	{
		struct vt_chunk *c = calloc(1, sizeof(*c));

		assert_non_null(c);
		assert_int_equal(vt_chunk_parse(b.buf, b.len, c, NULL), 0);
		assert_int_equal(strlen(c->boot_id), 40);
		free(c);
	}
	built_free(&b);
}

static void cpu_listed_twice_fails(void **state)
{
	struct built b = build(&three_cpus);

	(void)state;
	vtc_put_le32(b.buf + OFF_ENTRY(2), 0);
	parse_fails(b.buf, b.len, "chunk: entry 2: CPU 0 listed twice");
	vtc_put_le32(b.buf + OFF_ENTRY(2), VT_CHUNK_MAX_CPUS);
	parse_fails(b.buf, b.len, "chunk: entry 2: CPU 1024 out of range");
	built_free(&b);
}

static void oversized_chunk_fails(void **state)
{
	struct built b = build(&three_cpus);

	(void)state;
	/* refused on its length alone, before a byte is read */
	parse_fails(b.buf, (size_t)VT_CHUNK_MAX_BYTES + 1,
		    "chunk: 8388609 bytes, more than the 8388608 allowed");
	built_free(&b);
}

/* Random bytes, with and without the magic in front: refused, never read past. */
static void garbage_chunk_fails(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct vt_chunk *c = calloc(1, sizeof(*c));
	uint8_t *buf = malloc(65536);

	(void)state;
	assert_non_null(c);
	assert_non_null(buf);
	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)(vt_test_rand(&seed) % 65536);

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)vt_test_rand(&seed);
		if (round & 1 && len >= 8)
			memcpy(buf, VT_CHUNK_MAGIC, 8);
		assert_int_equal(vt_chunk_parse(buf, len, c, NULL), -EBADMSG);
	}
	free(buf);
	free(c);
}

/* A chunk cut anywhere (a guest-file-read that stopped early) is refused. */
static void truncated_chunk_fails(void **state)
{
	struct built b = build(&three_cpus);
	struct vt_chunk *c = calloc(1, sizeof(*c));

	(void)state;
	assert_non_null(c);
	for (size_t len = 0; len < b.len; len += 97)
		assert_int_equal(vt_chunk_parse(b.buf, len, c, NULL), -EBADMSG);
	free(c);
	built_free(&b);
}

/* Every byte of a chunk flipped in turn: the parser only ever fails cleanly or agrees. */
static void flipped_bytes_never_break_the_parser(void **state)
{
	struct built b = build(&three_cpus);
	struct vt_chunk *c = calloc(1, sizeof(*c));
	const size_t hlen = 80 + 24 * 3;

	(void)state;
	assert_non_null(c);
	for (size_t off = 0; off < hlen; off++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			int r;

			b.buf[off] ^= (uint8_t)(1u << bit);
			r = vt_chunk_parse(b.buf, b.len, c, NULL);
			assert_true(r == 0 || r == -EBADMSG);
			if (r == 0)
				for (uint32_t i = 0; i < c->ncpus; i++)
					assert_true(c->cpus[i].npages == 0 ||
						    (c->cpus[i].pages >= b.buf &&
						     c->cpus[i].pages + (size_t)c->cpus[i].npages *
									     c->page_size <=
							     b.buf + b.len));
			b.buf[off] ^= (uint8_t)(1u << bit);
		}
	}
	free(c);
	built_free(&b);
}

/* ---- vt_chunk_check: pages of real events against what the guest's info said ---- */

#define ID_A 100
#define ID_B 317
#define EV_TS0 1000000ULL
#define CUT_TSC 90000000ULL

struct evchunk {
	uint8_t *buf;
	size_t len;
	struct vt_chunk *c;	/* parsed */
	uint8_t ids[VT_CHUNK_EVENT_IDS / 8];
	uint64_t last_ts[VT_CHUNK_MAX_CPUS];
	struct vt_chunk_expect x;
};

/* One page of @n events of 16 bytes (ids alternate A, B) from @ts0, @step apart. */
static void event_page(uint8_t *out, uint64_t ts0, uint64_t step, int n)
{
	struct vt_page_enc pe;
	const void *page;

	assert_int_equal(vt_page_enc_init(&pe, PAGE, 8), 0);
	for (int i = 0; i < n; i++) {
		uint8_t ev[16] = { 0 };

		vtc_put_le16(ev, i & 1 ? ID_B : ID_A);
		vtc_put_le32(ev + 4, 4242);
		assert_int_equal(vt_page_enc_add(&pe, ts0 + (uint64_t)i * step, ev, sizeof(ev)), 0);
	}
	page = vt_page_enc_finish(&pe);
	assert_non_null(page);
	memcpy(out, page, PAGE);
	vt_page_enc_fini(&pe);
}

/* CPU 0: two pages, CPU 1: one page, 20 events each; seq 5; guest CPUs 0..1. */
static struct evchunk evchunk(void)
{
	const struct shape s = { .ncpus = 2, .cpu = { 0, 1 }, .npages = { 2, 1 } };
	struct built b = build(&s);
	struct evchunk e = { .buf = b.buf, .len = b.len, .c = calloc(1, sizeof(struct vt_chunk)) };
	size_t hlen = 80 + 24 * 2;

	assert_non_null(e.c);
	vtc_put_le64(e.buf + 16, 5);			/* seq */
	vtc_put_le64(e.buf + 24, CUT_TSC);		/* guest_tsc */
	event_page(e.buf + hlen, EV_TS0, 1000, 20);
	event_page(e.buf + hlen + PAGE, EV_TS0 + 50000, 1000, 20);
	event_page(e.buf + hlen + 2 * PAGE, EV_TS0 + 7, 999, 20);
	free(b.c);
	e.ids[ID_A / 8] |= 1u << (ID_A % 8);
	e.ids[ID_B / 8] |= 1u << (ID_B % 8);
	e.x = (struct vt_chunk_expect){ .boot_id = BOOT_ID, .page_size = PAGE, .long_size = 8,
					.ncpus = 2, .event_ids = e.ids, .min_seq = 5 };
	return e;
}

static void evchunk_free(struct evchunk *e)
{
	free(e->buf);
	free(e->c);
}

/* parse (must hold) and check; the result of the check */
static int check(struct evchunk *e, struct vt_chunk_stats *st, enum vt_chunk_bad *bad,
		 struct vt_errbuf *eb)
{
	if (e->x.event_ids)	/* the copy's own bitmap */
		e->x.event_ids = e->ids;
	assert_int_equal(vt_chunk_parse(e->buf, e->len, e->c, NULL), 0);
	return vt_chunk_check(e->c, &e->x, e->last_ts, st, bad, eb);
}

static void check_fails(struct evchunk *e, enum vt_chunk_bad want, const char *why)
{
	struct vt_chunk_stats st = { 0 };
	uint64_t before[VT_CHUNK_MAX_CPUS];
	struct vt_errbuf eb = { "" };
	enum vt_chunk_bad bad = VT_CHUNK_OK;

	memcpy(before, e->last_ts, sizeof(before));
	assert_int_equal(check(e, &st, &bad, &eb), -EBADMSG);
	assert_int_equal(bad, want);
	assert_string_equal(eb.msg, why);
	/* a refused chunk moves nothing on */
	assert_memory_equal(before, e->last_ts, sizeof(before));
}

static void check_takes_good_pages(void **state)
{
	struct evchunk e = evchunk();
	struct vt_chunk_stats st = { 0 };
	struct vt_errbuf eb = { "" };
	enum vt_chunk_bad bad = VT_CHUNK_BAD_PAGE;

	(void)state;
	assert_int_equal(check(&e, &st, &bad, &eb), 0);
	assert_int_equal(bad, VT_CHUNK_OK);
	assert_int_equal(st.pages, 3);
	assert_int_equal(st.events, 60);
	assert_int_equal(st.empty_pages, 0);
	assert_int_equal(st.ts_backwards, 0);
	assert_int_equal(st.ts_after_cut, 0);
	assert_int_equal(e.last_ts[0], EV_TS0 + 50000 + 19 * 1000);
	assert_int_equal(e.last_ts[1], EV_TS0 + 7 + 19 * 999);
	/* no expectations at all: the same pages pass */
	e.x = (struct vt_chunk_expect){ .long_size = 8, .ncpus = 2 };
	assert_int_equal(check(&e, &st, &bad, &eb), 0);
	evchunk_free(&e);
}

static void check_wrong_boot_fails(void **state)
{
	struct evchunk e = evchunk();

	(void)state;
	e.x.boot_id = "1c2d3e4f-0000-4000-8000-000000000001";
	check_fails(&e, VT_CHUNK_BAD_BOOT, "chunk: boot " BOOT_ID ", recording boot "
					   "1c2d3e4f-0000-4000-8000-000000000001");
	evchunk_free(&e);
}

static void check_page_size_mismatch_fails(void **state)
{
	struct evchunk e = evchunk();

	(void)state;
	e.x.page_size = 8192;
	check_fails(&e, VT_CHUNK_BAD_PAGE_SIZE,
		    "chunk: page size 4096, the guest's info said 8192");
	evchunk_free(&e);
}

static void check_replayed_seq_fails(void **state)
{
	struct evchunk e = evchunk();

	(void)state;
	e.x.min_seq = 6;
	check_fails(&e, VT_CHUNK_BAD_SEQ, "chunk: seq 5, expected 6 or later (replayed?)");
	evchunk_free(&e);
}

static void check_cpu_out_of_range_fails(void **state)
{
	struct evchunk e = evchunk();

	(void)state;
	e.x.ncpus = 1;
	check_fails(&e, VT_CHUNK_BAD_CPU, "chunk: CPU 1, the guest has 1");
	evchunk_free(&e);
}

static void check_commit_past_page_fails(void **state)
{
	struct evchunk e = evchunk();
	size_t page1 = 80 + 24 * 2 + PAGE;

	(void)state;
	vtc_put_le64(e.buf + page1 + 8, PAGE);	/* commit: more than the page holds */
	check_fails(&e, VT_CHUNK_BAD_PAGE,
		    "chunk: CPU 0 page 1: page: commit 4096 past the end (4080 data bytes)");
	evchunk_free(&e);
}

static void check_truncated_record_fails(void **state)
{
	struct evchunk e = evchunk();
	size_t page2 = 80 + 24 * 2 + 2 * PAGE;
	uint64_t commit;

	(void)state;
	/* commit cuts the last record in half */
	vtc_get_le64(e.buf + page2, PAGE, 8, &commit);
	vtc_put_le64(e.buf + page2 + 8, commit - 10);
	e.x.event_ids = e.ids;
	assert_int_equal(vt_chunk_parse(e.buf, e.len, e.c, NULL), 0);
	{
		struct vt_chunk_stats st = { 0 };
		enum vt_chunk_bad bad;
		struct vt_errbuf eb = { "" };

		assert_int_equal(vt_chunk_check(e.c, &e.x, e.last_ts, &st, &bad, &eb), -EBADMSG);
		assert_int_equal(bad, VT_CHUNK_BAD_PAGE);
		assert_non_null(strstr(eb.msg, "chunk: CPU 1 page 0: page: "));
	}
	evchunk_free(&e);
}

static void check_unknown_event_id_fails(void **state)
{
	struct evchunk e = evchunk();

	(void)state;
	e.ids[ID_B / 8] &= (uint8_t)~(1u << (ID_B % 8));
	check_fails(&e, VT_CHUNK_BAD_EVENT,
		    "chunk: CPU 0 page 0: event id 317 is not in the guest's formats");
	evchunk_free(&e);
}

static void check_short_event_fails(void **state)
{
	struct evchunk e = evchunk();
	size_t page0 = 80 + 24 * 2;
	struct vt_page_enc pe;
	const void *page;

	(void)state;
	assert_int_equal(vt_page_enc_init(&pe, PAGE, 8), 0);
	assert_int_equal(vt_page_enc_add(&pe, EV_TS0, "\x64\0\0", 4), 0);
	page = vt_page_enc_finish(&pe);
	memcpy(e.buf + page0, page, PAGE);
	vt_page_enc_fini(&pe);
	check_fails(&e, VT_CHUNK_BAD_EVENT,
		    "chunk: CPU 0 page 0: event of 4 bytes has no common fields");
	evchunk_free(&e);
}

/* Time going back (a guest TSC write can do it) is counted, not refused. */
static void check_backward_timestamps_are_flagged(void **state)
{
	struct evchunk e = evchunk();
	struct vt_chunk_stats st = { 0 };
	enum vt_chunk_bad bad;

	(void)state;
	e.last_ts[1] = EV_TS0 + 1000000;	/* CPU 1 was later before this chunk */
	vtc_put_le64(e.buf + 24, EV_TS0 + 10000);	/* the cut before most events */
	assert_int_equal(check(&e, &st, &bad, NULL), 0);
	assert_int_equal(st.ts_backwards, 1);
	assert_int_equal(st.ts_after_cut, 60 - 11 - 11);
	assert_int_equal(e.last_ts[1], EV_TS0 + 7 + 19 * 999);
	evchunk_free(&e);
}

/* ---- chunks of the real agent on this machine ---- */

#define TRACEFS "/sys/kernel/tracing"
#define AGENT_INSTANCE TRACEFS "/instances/virt-trace-agent"

static char agent_path[512];

static const char *agent_missing(void)
{
	const char *build = getenv("VT_BUILD_DIR");
	struct stat st;

	if (geteuid() != 0)
		return "not root (the agent needs tracefs)";
	if (access(TRACEFS "/instances", W_OK) != 0)
		return "no writable " TRACEFS "/instances";
	if (!build)
		return "VT_BUILD_DIR is not set (run through ctest)";
	snprintf(agent_path, sizeof(agent_path), "%s/agent/virt-trace-agent", build);
	if (access(agent_path, X_OK) != 0)
		return "virt-trace-agent is not built";
	if (stat(AGENT_INSTANCE, &st) == 0)
		return "a virt-trace-agent instance is running on this machine";
	return NULL;
}

/* Run the agent with @args; its stdout parsed (exit status 0 asserted). */
static struct json_object *agent(const char *args)
{
	char cmd[1024], out[65536];
	struct json_object *o;
	size_t n;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s", agent_path, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	st = pclose(p);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s: exit %d: %s", cmd, WEXITSTATUS(st), out);
	o = json_tokener_parse(out);
	if (!o)
		fail_msg("%s: not JSON: %s", cmd, out);
	return o;
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return v;
}

/* context switches on every CPU: children that sleep and wake */
static void make_activity(void)
{
	for (int k = 0; k < 4; k++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			for (int i = 0; i < 40; i++)
				usleep(500);
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
}

struct walk {
	const char *boot_id;
	unsigned long_size;
	uint32_t page_size;
	uint64_t last_ts[VT_CHUNK_MAX_CPUS];
	uint64_t events;
	uint64_t pages;
	uint64_t next_seq;
};

/* Parse one chunk file the agent described in @o and walk every page of it. */
static void walk_chunk(struct walk *w, struct json_object *o)
{
	const char *path = json_object_get_string(member(o, "path"));
	struct json_object *cpus = member(o, "cpus");
	struct vt_chunk *c = calloc(1, sizeof(*c));
	struct vt_errbuf eb = { "" };
	char *buf;
	size_t len;

	assert_non_null(c);
	assert_int_equal(vtc_read_file(path, &buf, &len), 0);
	assert_int_equal(len, json_object_get_uint64(member(o, "bytes")));
	if (vt_chunk_parse(buf, len, c, &eb))
		fail_msg("%s: %s", path, eb.msg);
	assert_int_equal(c->seq, w->next_seq++);
	assert_int_equal(c->seq, json_object_get_uint64(member(o, "seq")));
	assert_string_equal(c->boot_id, w->boot_id);
	assert_int_equal(c->guest_tsc, json_object_get_uint64(member(o, "guest_tsc")));
	assert_int_equal(c->page_size, w->page_size);
	assert_int_equal(c->ncpus, json_object_array_length(cpus));
	for (uint32_t i = 0; i < c->ncpus; i++) {
		const struct vt_chunk_cpu *cc = &c->cpus[i];
		struct json_object *e = json_object_array_get_idx(cpus, i);

		assert_int_equal(cc->cpu, json_object_get_uint64(member(e, "cpu")));
		assert_int_equal(cc->npages, json_object_get_uint64(member(e, "pages")));
		assert_int_equal(cc->lost_events, json_object_get_uint64(member(e, "lost")));
		for (uint32_t p = 0; p < cc->npages; p++) {
			struct vt_page_iter it;
			struct vt_event ev;
			int r;

			if (vt_page_load(&it, cc->pages + (size_t)p * c->page_size, c->page_size,
					 w->long_size, &eb))
				fail_msg("%s CPU %u page %u: %s", path, cc->cpu, p, eb.msg);
			while ((r = vt_page_next(&it, &ev, &eb)) == 1) {
				if (ev.ts < w->last_ts[cc->cpu])
					fail_msg("%s CPU %u page %u: ts %llu after %llu", path,
						 cc->cpu, p, (unsigned long long)ev.ts,
						 (unsigned long long)w->last_ts[cc->cpu]);
				/* cut after the event: the chunk's TSC is later */
				if (ev.ts > c->guest_tsc)
					fail_msg("%s CPU %u: event ts %llu after guest_tsc %llu",
						 path, cc->cpu, (unsigned long long)ev.ts,
						 (unsigned long long)c->guest_tsc);
				w->last_ts[cc->cpu] = ev.ts;
				w->events++;
			}
			if (r < 0)
				fail_msg("%s CPU %u page %u: %s", path, cc->cpu, p, eb.msg);
			w->pages++;
		}
	}
	free(buf);
	free(c);
}

static void agent_chunks_parse_and_walk(void **state)
{
	const char *why = agent_missing();
	struct json_object *start, *o, *info, *formats;
	struct walk *w = calloc(1, sizeof(*w));
	char args[1024], path[600], *text;
	char *dir;
	bool sched_switch = false;
	size_t n;

	(void)state;
	if (why) {
		printf("# skipped: %s\n", why);
		free(w);
		skip();
	}
	assert_non_null(w);
	dir = vt_test_tmpdir();
	snprintf(args, sizeof(args), "start --dir %s --events sched:sched_switch --buffer-kb 2048",
		 dir);
	start = agent(args);
	assert_true(json_object_get_boolean(member(start, "ok")));
	w->boot_id = json_object_get_string(member(start, "boot_id"));

	snprintf(path, sizeof(path), "%s/info.json", dir);
	snprintf(args, sizeof(args), "info --out %s", path);
	json_object_put(agent(args));
	assert_int_equal(vtc_read_file(path, &text, NULL), 0);
	info = json_tokener_parse(text);
	free(text);
	assert_non_null(info);
	w->long_size = (unsigned)json_object_get_uint64(member(info, "long_size"));
	w->page_size = (uint32_t)json_object_get_uint64(member(info, "page_size"));
	assert_true(w->long_size == 4 || w->long_size == 8);
	assert_string_equal(json_object_get_string(member(info, "trace_clock")), "x86-tsc");
	assert_string_equal(json_object_get_string(member(info, "boot_id")), w->boot_id);
	formats = member(member(info, "formats"), "events");
	n = json_object_array_length(formats);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(formats, i);

		if (!strcmp(json_object_get_string(member(e, "name")), "sched_switch"))
			sched_switch = strstr(json_object_get_string(member(e, "format")),
					      "prev_pid") != NULL;
	}
	assert_true(sched_switch);
	assert_true(json_object_array_length(member(member(info, "formats"), "ftrace")) > 0);
	assert_true(json_object_array_length(member(info, "cpus")) > 0);

	for (int round = 0; round < 2; round++) {
		make_activity();
		snprintf(args, sizeof(args), "collect --dir %s", dir);
		o = agent(args);
		walk_chunk(w, o);
		json_object_put(o);
	}
	make_activity();
	snprintf(args, sizeof(args), "stop --dir %s", dir);
	for (;;) {
		bool more;

		o = agent(args);
		walk_chunk(w, o);
		more = json_object_get_boolean(member(o, "more"));
		assert_true(json_object_get_boolean(member(o, "stopped")));
		assert_int_equal(json_object_get_boolean(member(o, "removed")), !more);
		json_object_put(o);
		if (!more)
			break;
	}
	printf("# %llu chunks, %llu pages, %llu events\n", (unsigned long long)w->next_seq,
	       (unsigned long long)w->pages, (unsigned long long)w->events);
	assert_true(w->events > 0);
	assert_int_equal(access(AGENT_INSTANCE, F_OK), -1);
	json_object_put(info);
	json_object_put(start);
	vt_test_rmtree(dir);
	free(dir);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_keeps_every_field),
		cmocka_unit_test(round_trip_without_cpus),
		cmocka_unit_test(round_trip_large_pages),
		cmocka_unit_test(longer_header_len_skips_unknown_fields),
		cmocka_unit_test(writer_rejects_what_it_cannot_write),
		cmocka_unit_test(bad_magic_fails),
		cmocka_unit_test(bad_version_fails),
		cmocka_unit_test(truncated_header_fails),
		cmocka_unit_test(header_len_too_small_fails),
		cmocka_unit_test(header_len_too_large_fails),
		cmocka_unit_test(ncpus_too_many_fails),
		cmocka_unit_test(pages_past_end_fails),
		cmocka_unit_test(trailing_bytes_fails),
		cmocka_unit_test(page_size_odd_fails),
		cmocka_unit_test(boot_id_garbage_fails),
		cmocka_unit_test(cpu_listed_twice_fails),
		cmocka_unit_test(oversized_chunk_fails),
		cmocka_unit_test(garbage_chunk_fails),
		cmocka_unit_test(truncated_chunk_fails),
		cmocka_unit_test(check_takes_good_pages),
		cmocka_unit_test(check_wrong_boot_fails),
		cmocka_unit_test(check_page_size_mismatch_fails),
		cmocka_unit_test(check_replayed_seq_fails),
		cmocka_unit_test(check_cpu_out_of_range_fails),
		cmocka_unit_test(check_commit_past_page_fails),
		cmocka_unit_test(check_truncated_record_fails),
		cmocka_unit_test(check_unknown_event_id_fails),
		cmocka_unit_test(check_short_event_fails),
		cmocka_unit_test(check_backward_timestamps_are_flagged),
		cmocka_unit_test(flipped_bytes_never_break_the_parser),
		cmocka_unit_test(agent_chunks_parse_and_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
