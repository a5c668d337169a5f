// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of core/src/page.c: encoder/walker round trips, agreement with libtraceevent's
 * kbuffer, and one *_fails case per malformed page shape.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kbuffer.h>

#include "util.h"
#include "vt-test.h"
#include "vt/page.h"

#define PAGE 4096

struct ev {
	uint64_t ts;
	uint32_t size;
};

/* payload bytes derived from the event's index, so every payload differs */
static void fill_payload(uint8_t *p, uint32_t size, unsigned idx)
{
	for (uint32_t i = 0; i < size; i++)
		p[i] = (uint8_t)(idx * 31 + i * 7 + 1);
	if (size >= 8) {
		vtc_put_le16(p, (uint16_t)(100 + idx));
		vtc_put_le32(p + 4, 1000 + idx);
	}
}

static uint8_t *keep_page(uint8_t *pages, size_t *npages, const void *page)
{
	uint8_t *n = realloc(pages, (*npages + 1) * PAGE);

	assert_non_null(n);
	memcpy(n + (*npages)++ * PAGE, page, PAGE);
	return n;
}

/* Encode @evs (several pages if needed), walk every page back and compare. */
static void round_trip(const struct ev *evs, size_t n, unsigned long_size, size_t *npages_ret)
{
	struct vt_page_enc pe;
	uint8_t payload[PAGE];
	uint8_t *pages = NULL;
	size_t npages = 0, seen = 0;
	struct vt_errbuf eb;

	assert_int_equal(vt_page_enc_init(&pe, PAGE, long_size), 0);
	for (size_t i = 0; i < n; i++) {
		int r;

		fill_payload(payload, evs[i].size, (unsigned)i);
		r = vt_page_enc_add(&pe, evs[i].ts, payload, evs[i].size);
		if (r == -ENOSPC) {
			const void *page = vt_page_enc_finish(&pe);

			assert_non_null(page);
			pages = keep_page(pages, &npages, page);
			r = vt_page_enc_add(&pe, evs[i].ts, payload, evs[i].size);
		}
		assert_int_equal(r, 0);
	}
	{
		const void *page = vt_page_enc_finish(&pe);

		if (page)
			pages = keep_page(pages, &npages, page);
	}
	assert_null(vt_page_enc_finish(&pe));
	vt_page_enc_fini(&pe);

	for (size_t p = 0; p < npages; p++) {
		struct vt_page_iter it;
		struct vt_event ev;
		int r;

		assert_int_equal(vt_page_load(&it, pages + p * PAGE, PAGE, long_size, &eb), 0);
		while ((r = vt_page_next(&it, &ev, &eb)) == 1) {
			uint32_t want = (evs[seen].size + 3) & ~3u;

			assert_true(seen < n);
			assert_int_equal(ev.ts, evs[seen].ts);
			assert_int_equal(ev.size, want);
			fill_payload(payload, evs[seen].size, (unsigned)seen);
			assert_memory_equal(ev.data, payload, evs[seen].size);
			if (evs[seen].size >= 8) {
				assert_int_equal(ev.type_id, 100 + seen);
				assert_int_equal(ev.pid, 1000 + (int32_t)seen);
			}
			seen++;
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(seen, n);
	free(pages);
	if (npages_ret)
		*npages_ret = npages;
}

static void round_trip_small_payloads_keep_ts_and_bytes(void **state)
{
	struct ev evs[112];

	(void)state;
	for (unsigned i = 0; i < 112; i++)
		evs[i] = (struct ev){ 1000 + i * 10, i + 1 };
	round_trip(evs, 112, 8, NULL);
	round_trip(evs, 112, 4, NULL);
}

static void round_trip_large_payloads_use_length_word(void **state)
{
	const struct ev evs[] = {
		{ 5, 113 }, { 6, 200 }, { 6, 4000 }, { 9, 112 }, { 10, 1 }, { 11, 4060 },
	};

	(void)state;
	round_trip(evs, sizeof(evs) / sizeof(evs[0]), 8, NULL);
}

static void round_trip_deltas_over_2_27_use_time_extend(void **state)
{
	const struct ev evs[] = {
		{ 100, 16 },
		{ 100 + (1ULL << 27) - 1, 16 },	/* largest delta that fits the record */
		{ 100 + (1ULL << 27) - 1 + (1ULL << 27), 16 },
		{ 1ULL << 40, 64 },
		{ (1ULL << 58) + 12345, 8 },
	};

	(void)state;
	round_trip(evs, sizeof(evs) / sizeof(evs[0]), 8, NULL);
}

static void round_trip_backward_ts_use_absolute_stamp(void **state)
{
	const struct ev evs[] = {
		{ 5000000000ULL, 32 }, { 5000000100ULL, 32 }, { 2000000000ULL, 32 },
		{ 2000000050ULL, 32 }, { 1, 32 }, { (1ULL << 59) - 1, 32 }, { 7, 200 },
	};
	size_t npages;

	(void)state;
	round_trip(evs, sizeof(evs) / sizeof(evs[0]), 8, &npages);
	assert_int_equal(npages, 1);
}

static void round_trip_ts_beyond_2_59_starts_new_pages(void **state)
{
	/* 59-bit stamps cannot carry these steps: each starts a page of its own */
	const struct ev evs[] = {
		{ 10, 16 }, { (1ULL << 60) + 10, 16 }, { (1ULL << 60) + 20, 16 },
		{ (1ULL << 60) - 5, 16 }, { UINT64_MAX - 1, 16 }, { 3, 16 },
	};
	size_t npages;

	(void)state;
	round_trip(evs, sizeof(evs) / sizeof(evs[0]), 8, &npages);
	assert_int_equal(npages, 5);
}

static void round_trip_many_events_fill_many_pages(void **state)
{
	size_t n = 20000, npages;
	struct ev *evs = calloc(n, sizeof(*evs));
	uint64_t ts = 1ULL << 32;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		ts += (i % 97 == 0) ? (1ULL << 30) : (i % 7) * 1000;
		evs[i] = (struct ev){ ts, (uint32_t)(4 + (i * 13) % 180) };
	}
	round_trip(evs, n, 8, &npages);
	assert_true(npages > 100);
	free(evs);
}

/* ---- encoder details ---- */

static uint32_t word_at(const void *page, size_t off)
{
	uint32_t v;

	assert_int_equal(vtc_get_le32(page, PAGE, off, &v), 0);
	return v;
}

static void enc_writes_header_commit_and_record_types(void **state)
{
	uint8_t data[200] = { 0 };
	struct vt_page_enc pe;
	const uint8_t *page;
	uint64_t v;

	(void)state;
	assert_int_equal(vt_page_enc_init(&pe, PAGE, 8), 0);
	assert_int_equal(vt_page_enc_add(&pe, 1000, data, 10), 0);	/* type_len 3 */
	assert_int_equal(vt_page_enc_add(&pe, 1000 + (1u << 27), data, 8), 0);
	assert_int_equal(vt_page_enc_add(&pe, 500, data, 8), 0);	/* backwards */
	assert_int_equal(vt_page_enc_add(&pe, 501, data, 200), 0);	/* length word */
	pe.missed_events = true;
	page = vt_page_enc_finish(&pe);
	assert_non_null(page);

	assert_int_equal(vtc_get_le64(page, PAGE, 0, &v), 0);
	assert_int_equal(v, 1000);	/* page ts = first event */
	assert_int_equal(vtc_get_le64(page, PAGE, 8, &v), 0);
	assert_int_equal(v & ((1u << 27) - 1), 16 + 20 + 20 + 208);
	assert_true(v & (1u << 31));
	assert_int_equal(word_at(page, 16), 3);			/* type_len 3, delta 0 */
	assert_int_equal(word_at(page, 32) & 31, 30);		/* time extend */
	assert_int_equal(word_at(page, 32) >> 5, 0);
	assert_int_equal(word_at(page, 36), 1);
	assert_int_equal(word_at(page, 40), 2);			/* data record, delta 0 */
	assert_int_equal(word_at(page, 52), 31 | (500u << 5));	/* absolute stamp */
	assert_int_equal(word_at(page, 56), 0);
	assert_int_equal(word_at(page, 60), 2);
	assert_int_equal(word_at(page, 72), 0 | (1u << 5));	/* type_len 0, delta 1 */
	assert_int_equal(word_at(page, 76), 204);
	/* missed-events flag is per page */
	assert_int_equal(vt_page_enc_add(&pe, 600, data, 8), 0);
	page = vt_page_enc_finish(&pe);
	assert_int_equal(vtc_get_le64(page, PAGE, 8, &v), 0);
	assert_int_equal(v, 12);
	vt_page_enc_fini(&pe);
}

static void enc_long_size_4_writes_4_byte_commit(void **state)
{
	uint8_t data[8] = { 1 };
	struct vt_page_enc pe;
	const uint8_t *page;

	(void)state;
	assert_int_equal(vt_page_enc_init(&pe, PAGE, 4), 0);
	assert_int_equal(vt_page_enc_add(&pe, 7, data, 8), 0);
	page = vt_page_enc_finish(&pe);
	assert_int_equal(word_at(page, 8), 12);
	assert_int_equal(word_at(page, 12), 2);
	vt_page_enc_fini(&pe);
}

static void enc_full_page_returns_enospc(void **state)
{
	uint8_t data[100] = { 0 };
	struct vt_page_enc pe;
	int r, n = 0;

	(void)state;
	assert_int_equal(vt_page_enc_init(&pe, PAGE, 8), 0);
	while ((r = vt_page_enc_add(&pe, (uint64_t)n, data, 100)) == 0)
		n++;
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(n, (PAGE - 16) / 104);
	assert_non_null(vt_page_enc_finish(&pe));
	assert_int_equal(vt_page_enc_add(&pe, (uint64_t)n, data, 100), 0);
	vt_page_enc_fini(&pe);
}

static void enc_rejects_events_that_never_fit(void **state)
{
	uint8_t data[PAGE] = { 0 };
	struct vt_page_enc pe;

	(void)state;
	assert_int_equal(vt_page_enc_init(&pe, PAGE, 8), 0);
	assert_int_equal(vt_page_enc_add(&pe, 1, data, PAGE - 16 - 8 + 1), -EINVAL);
	assert_int_equal(vt_page_enc_add(&pe, 1, data, 0), -EINVAL);
	assert_int_equal(vt_page_enc_add(&pe, 1, data, PAGE - 16 - 8), 0);
	vt_page_enc_fini(&pe);
	assert_int_equal(vt_page_enc_init(&pe, PAGE, 5), -EINVAL);
}

/* ---- walker details on hand-made pages ---- */

struct raw_page {
	uint8_t b[PAGE];
	size_t pos;
};

static void raw_init(struct raw_page *p, uint64_t ts)
{
	memset(p, 0, sizeof(*p));
	vtc_put_le64(p->b, ts);
	p->pos = 16;
}

static void raw_word(struct raw_page *p, uint32_t w)
{
	vtc_put_le32(p->b + p->pos, w);
	p->pos += 4;
}

static void raw_commit(struct raw_page *p, uint64_t extra_flags)
{
	vtc_put_le64(p->b + 8, (p->pos - 16) | extra_flags);
}

/* as libtraceevent's kbuffer does: a discarded event's delta moves the clock */
static void walker_skips_discarded_events_but_counts_their_delta(void **state)
{
	struct raw_page p;
	struct vt_page_iter it;
	struct vt_event ev;
	struct vt_errbuf eb;

	(void)state;
	raw_init(&p, 1000);
	raw_word(&p, 2 | (10u << 5));	/* event, +10 */
	raw_word(&p, 0x00010063);
	raw_word(&p, 77);
	raw_word(&p, 29 | (5u << 5));	/* discarded event of 8 bytes, +5 */
	raw_word(&p, 8);
	raw_word(&p, 0);
	raw_word(&p, 1 | (3u << 5));	/* 4-byte event, +3 */
	raw_word(&p, 0xdead);
	raw_word(&p, 29);		/* null padding: end of data */
	raw_word(&p, 0);
	raw_commit(&p, 0);
	assert_int_equal(vt_page_load(&it, p.b, PAGE, 8, &eb), 0);
	assert_int_equal(vt_page_next(&it, &ev, &eb), 1);
	assert_int_equal(ev.ts, 1010);
	assert_int_equal(ev.type_id, 0x63);
	assert_int_equal(ev.pid, 77);
	assert_int_equal(vt_page_next(&it, &ev, &eb), 1);
	assert_int_equal(ev.ts, 1018);
	assert_int_equal(ev.size, 4);
	assert_int_equal(ev.pid, -1);	/* too short for common fields */
	assert_int_equal(vt_page_next(&it, &ev, &eb), 0);
	assert_int_equal(vt_page_next(&it, &ev, &eb), 0);

	/* the same two events and stamps through kbuffer */
	{
		struct kbuffer *kb = kbuffer_alloc(KBUFFER_LSIZE_8, KBUFFER_ENDIAN_LITTLE);
		unsigned long long kts;

		assert_non_null(kb);
		assert_int_equal(kbuffer_load_subbuffer(kb, p.b), 0);
		assert_non_null(kbuffer_read_event(kb, &kts));
		assert_int_equal(kts, 1010);
		assert_non_null(kbuffer_next_event(kb, &kts));
		assert_int_equal(kts, 1018);
		assert_int_equal(kbuffer_event_size(kb), 4);
		kbuffer_free(kb);
	}
}

static void walker_takes_abs_ts_top_bits_from_running_ts(void **state)
{
	uint64_t page_ts = (3ULL << 59) + 1000;
	struct raw_page p;
	struct vt_page_iter it;
	struct vt_event ev;
	struct vt_errbuf eb;

	(void)state;
	raw_init(&p, page_ts);
	/* absolute 59-bit stamp 2000: same top bits as the page */
	raw_word(&p, 31 | (2000u << 5));
	raw_word(&p, 0);
	raw_word(&p, 2);
	raw_word(&p, 0);
	raw_word(&p, 0);
	/* absolute 59-bit stamp 500 < running: the kernel assumes the top bits wrapped */
	raw_word(&p, 31 | (500u << 5));
	raw_word(&p, 0);
	raw_word(&p, 2);
	raw_word(&p, 0);
	raw_word(&p, 0);
	raw_commit(&p, 0);
	assert_int_equal(vt_page_load(&it, p.b, PAGE, 8, &eb), 0);
	assert_int_equal(vt_page_next(&it, &ev, &eb), 1);
	assert_int_equal(ev.ts, (3ULL << 59) + 2000);
	assert_int_equal(vt_page_next(&it, &ev, &eb), 1);
	assert_int_equal(ev.ts, (4ULL << 59) + 500);
	assert_int_equal(vt_page_next(&it, &ev, &eb), 0);
}

static void walker_reads_missed_events_flags_and_count(void **state)
{
	struct raw_page p;
	struct vt_page_iter it;
	struct vt_errbuf eb;

	(void)state;
	raw_init(&p, 1);
	raw_word(&p, 1);
	raw_word(&p, 0);
	vtc_put_le64(p.b + p.pos, 4242);	/* count stored after the data */
	raw_commit(&p, (1u << 31) | (1u << 30));
	assert_int_equal(vt_page_load(&it, p.b, PAGE, 8, &eb), 0);
	assert_true(it.missed_events);
	assert_int_equal(it.missed, 4242);
	raw_commit(&p, 1u << 31);
	assert_int_equal(vt_page_load(&it, p.b, PAGE, 8, &eb), 0);
	assert_true(it.missed_events);
	assert_int_equal(it.missed, 0);
}

/* The walker and libtraceevent's kbuffer see the same events on encoder pages. */
static void walker_agrees_with_kbuffer(void **state)
{
	const uint64_t ts[] = { 10, 20, 20 + (1ULL << 28), 15, 16, 1ULL << 45, 3 };
	const uint32_t sizes[] = { 8, 40, 300, 12, 112, 113, 64 };
	uint8_t data[512] = { 0 };
	struct vt_page_enc pe;
	struct kbuffer *kb;
	const void *page;
	void *copy;
	unsigned long long kts;
	void *rec;
	struct vt_page_iter it;
	struct vt_event ev;
	struct vt_errbuf eb;
	size_t i = 0;

	(void)state;
	assert_int_equal(vt_page_enc_init(&pe, PAGE, 8), 0);
	for (size_t k = 0; k < 7; k++) {
		fill_payload(data, sizes[k], (unsigned)k);
		assert_int_equal(vt_page_enc_add(&pe, ts[k], data, sizes[k]), 0);
	}
	page = vt_page_enc_finish(&pe);
	copy = malloc(PAGE);
	memcpy(copy, page, PAGE);
	kb = kbuffer_alloc(KBUFFER_LSIZE_8, KBUFFER_ENDIAN_LITTLE);
	assert_non_null(kb);
	assert_int_equal(kbuffer_load_subbuffer(kb, copy), 0);
	assert_int_equal(vt_page_load(&it, copy, PAGE, 8, &eb), 0);
	while ((rec = kbuffer_read_event(kb, &kts))) {
		assert_int_equal(vt_page_next(&it, &ev, &eb), 1);
		assert_int_equal(ev.ts, kts);
		assert_ptr_equal(ev.data, rec);
		assert_int_equal(ev.size, kbuffer_event_size(kb));
		assert_int_equal(ev.ts, ts[i]);
		i++;
		kbuffer_next_event(kb, NULL);
	}
	assert_int_equal(i, 7);
	assert_int_equal(vt_page_next(&it, &ev, &eb), 0);
	kbuffer_free(kb);
	free(copy);
	vt_page_enc_fini(&pe);
}

/* ---- malformed pages: one case per shape ---- */

struct bad_page {
	const char *name;
	size_t len;		/* bytes handed to the walker */
	uint64_t commit;
	uint32_t words[8];
	size_t nwords;
	int load_err;		/* expected from vt_page_load (0 = loads) */
	const char *reason;	/* substring of the error */
};

static const struct bad_page bad_pages[] = {
	{ "truncated header", 12, 0, { 0 }, 0, -EBADMSG, "page header" },
	{ "commit past the end", 64, 49, { 0 }, 0, -EBADMSG, "commit 49 past the end" },
	{ "record header cut off", PAGE, 2, { 1 }, 1, 0, "cut off" },
	{ "record length past commit", PAGE, 12, { 5, 0, 0 }, 3, 0, "past commit" },
	{ "time extend cut off", PAGE, 12, { 1, 0, 30 }, 3, 0, "type 30 at 8 cut off" },
	{ "absolute stamp cut off", PAGE, 4, { 31 }, 1, 0, "type 31 at 0 cut off" },
	{ "bad type_len 0 length", PAGE, 12, { 0, 2, 0 }, 3, 0, "bad record length 2" },
	{ "type_len 0 length past commit", PAGE, 16, { 0, 400, 0, 0 }, 4, 0,
	  "record length 400 at 0 past commit" },
	{ "padding length past commit", PAGE, 12, { 29 | (1u << 5), 100, 0 }, 3, 0,
	  "padding length 100" },
	{ "missed count cut off", 32, 12 | (1u << 30), { 1, 0, 0 }, 3, -EBADMSG,
	  "missed-events count" },
};

static void malformed_pages_fail(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_pages) / sizeof(bad_pages[0]); i++) {
		const struct bad_page *b = &bad_pages[i];
		struct raw_page p;
		struct vt_page_iter it;
		struct vt_event ev;
		struct vt_errbuf eb = { { 0 } };
		int r;

		raw_init(&p, 100);
		for (size_t w = 0; w < b->nwords; w++)
			raw_word(&p, b->words[w]);
		vtc_put_le64(p.b + 8, b->commit);
		r = vt_page_load(&it, p.b, b->len, 8, &eb);
		if (r == 0) {
			while ((r = vt_page_next(&it, &ev, &eb)) == 1)
				;
		}
		if (r != -EBADMSG || !strstr(eb.msg, b->reason))
			fail_msg("%s: got %d '%s', want -EBADMSG '%s'", b->name, r, eb.msg,
				 b->reason);
		if (b->load_err)
			assert_int_equal(vt_page_load(&it, p.b, b->len, 8, NULL), b->load_err);
	}
}

static void truncated_header_fails(void **state)
{
	uint8_t b[15] = { 0 };
	struct vt_page_iter it;

	(void)state;
	assert_int_equal(vt_page_load(&it, b, sizeof(b), 8, NULL), -EBADMSG);
	assert_int_equal(vt_page_load(&it, b, 11, 4, NULL), -EBADMSG);
	assert_int_equal(vt_page_load(&it, b, 12, 4, NULL), 0);
	assert_int_equal(vt_page_load(&it, b, sizeof(b), 3, NULL), -EINVAL);
}

static void commit_past_end_fails(void **state)
{
	struct raw_page p;
	struct vt_page_iter it;

	(void)state;
	raw_init(&p, 1);
	vtc_put_le64(p.b + 8, PAGE - 16 + 1);
	assert_int_equal(vt_page_load(&it, p.b, PAGE, 8, NULL), -EBADMSG);
	vtc_put_le64(p.b + 8, PAGE - 16);
	assert_int_equal(vt_page_load(&it, p.b, PAGE, 8, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_small_payloads_keep_ts_and_bytes),
		cmocka_unit_test(round_trip_large_payloads_use_length_word),
		cmocka_unit_test(round_trip_deltas_over_2_27_use_time_extend),
		cmocka_unit_test(round_trip_backward_ts_use_absolute_stamp),
		cmocka_unit_test(round_trip_ts_beyond_2_59_starts_new_pages),
		cmocka_unit_test(round_trip_many_events_fill_many_pages),
		cmocka_unit_test(enc_writes_header_commit_and_record_types),
		cmocka_unit_test(enc_long_size_4_writes_4_byte_commit),
		cmocka_unit_test(enc_full_page_returns_enospc),
		cmocka_unit_test(enc_rejects_events_that_never_fit),
		cmocka_unit_test(walker_skips_discarded_events_but_counts_their_delta),
		cmocka_unit_test(walker_takes_abs_ts_top_bits_from_running_ts),
		cmocka_unit_test(walker_reads_missed_events_flags_and_count),
		cmocka_unit_test(walker_agrees_with_kbuffer),
		cmocka_unit_test(malformed_pages_fail),
		cmocka_unit_test(truncated_header_fails),
		cmocka_unit_test(commit_past_end_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
