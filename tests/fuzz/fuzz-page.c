// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: one raw ring-buffer page (vt_page_load/vt_page_next), walked with a 8-
 * and a 4-byte commit field. Invariants: every event lies inside the page, and the
 * events re-encoded with vt_page_enc_* walk back to the same timestamps and payloads.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "vt/page.h"

#define MAX_EVENTS 8192
#define ENC_PAGE 4096

struct rec {
	uint64_t ts;
	const void *data;
	uint32_t size;
};

static struct rec recs[MAX_EVENTS];

/* walk the pages the encoder made and compare them with recs[0..n) */
static size_t check_page(const void *page, unsigned long_size, size_t at, size_t n)
{
	struct vt_page_iter it;
	struct vt_event ev;
	struct vt_errbuf eb;
	int r;

	FUZZ_CHECK(vt_page_load(&it, page, ENC_PAGE, long_size, &eb) == 0);
	while ((r = vt_page_next(&it, &ev, &eb)) > 0) {
		FUZZ_CHECK(at < n);
		FUZZ_CHECK(ev.ts == recs[at].ts);
		FUZZ_CHECK(ev.size >= recs[at].size && ev.size < recs[at].size + 4);
		FUZZ_CHECK(!memcmp(ev.data, recs[at].data, recs[at].size));
		at++;
	}
	FUZZ_CHECK(r == 0);
	return at;
}

static void round_trip(size_t n, unsigned long_size)
{
	struct vt_page_enc pe;
	size_t done = 0;
	const void *page;

	FUZZ_CHECK(vt_page_enc_init(&pe, ENC_PAGE, long_size) == 0);
	for (size_t i = 0; i < n; i++) {
		int r = vt_page_enc_add(&pe, recs[i].ts, recs[i].data, recs[i].size);

		if (r == -EINVAL)	/* larger than a page of ENC_PAGE: not comparable */
			goto out;
		if (r == -ENOSPC) {
			page = vt_page_enc_finish(&pe);
			FUZZ_CHECK(page);
			done = check_page(page, long_size, done, n);
			r = vt_page_enc_add(&pe, recs[i].ts, recs[i].data, recs[i].size);
		}
		FUZZ_CHECK(r == 0);
	}
	page = vt_page_enc_finish(&pe);
	if (page)
		done = check_page(page, long_size, done, n);
	FUZZ_CHECK(done == n);
out:
	vt_page_enc_fini(&pe);
}

static void walk(const uint8_t *data, size_t size, unsigned long_size)
{
	struct vt_page_iter it;
	struct vt_event ev;
	struct vt_errbuf eb;
	size_t n = 0;
	int r;

	if (vt_page_load(&it, data, size, long_size, &eb) < 0) {
		FUZZ_CHECK(eb.msg[0] != '\0');
		return;
	}
	while ((r = vt_page_next(&it, &ev, &eb)) > 0) {
		FUZZ_CHECK((const uint8_t *)ev.data >= data &&
			   (const uint8_t *)ev.data + ev.size <= data + size);
		FUZZ_CHECK(ev.size > 0);
		if (n < MAX_EVENTS)
			recs[n++] = (struct rec){ ev.ts, ev.data, ev.size };
	}
	FUZZ_CHECK(r == 0 || eb.msg[0] != '\0');
	if (r == 0 && n < MAX_EVENTS)
		round_trip(n, long_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	walk(data, size, 8);
	walk(data, size, 4);
	return 0;
}
