// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: a guest chunk as the collector pulls it (vt_chunk_parse), then every page
 * of every CPU walked (vt_page_*) as finalize does. Invariants: a parsed chunk lies inside
 * the buffer, and writing its header again (vt_chunk_header) parses to the same chunk.
 */
#include <string.h>

#include "fuzz.h"
#include "vt/chunk.h"
#include "vt/page.h"

static struct vt_chunk ch, again;
static uint8_t hdr[80 + 24 * VT_CHUNK_MAX_CPUS];

static void walk_page(const uint8_t *page, size_t len, unsigned long_size)
{
	struct vt_page_iter it;
	struct vt_event ev;
	struct vt_errbuf eb;

	if (vt_page_load(&it, page, len, long_size, &eb) < 0)
		return;
	while (vt_page_next(&it, &ev, &eb) > 0)
		FUZZ_CHECK((const uint8_t *)ev.data >= page &&
			   (const uint8_t *)ev.data + ev.size <= page + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vt_errbuf eb;
	size_t hlen = 0, body;
	uint8_t *copy;

	if (vt_chunk_parse(data, size, &ch, &eb) < 0) {
		FUZZ_CHECK(eb.msg[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(ch.ncpus <= VT_CHUNK_MAX_CPUS);
	for (uint32_t i = 0; i < ch.ncpus; i++) {
		const struct vt_chunk_cpu *c = &ch.cpus[i];

		FUZZ_CHECK(c->cpu < VT_CHUNK_MAX_CPUS);
		if (!c->npages)
			continue;
		FUZZ_CHECK(c->pages >= data &&
			   (uint64_t)c->npages * ch.page_size <= (uint64_t)(data + size - c->pages));
		for (uint32_t p = 0; p < c->npages; p++) {
			walk_page(c->pages + (size_t)p * ch.page_size, ch.page_size, 8);
			walk_page(c->pages + (size_t)p * ch.page_size, ch.page_size, 4);
		}
	}

	/* the agent's writer: the same chunk again, with a header of the minimal length */
	FUZZ_CHECK(vt_chunk_header(&ch, hdr, sizeof(hdr), &hlen) == 0);
	body = 0;
	for (uint32_t i = 0; i < ch.ncpus; i++)
		body += (size_t)ch.cpus[i].npages * ch.page_size;
	copy = malloc(hlen + body ? hlen + body : 1);
	FUZZ_CHECK(copy);
	memcpy(copy, hdr, hlen);
	for (uint32_t i = 0, off = 0; i < ch.ncpus; i++) {
		size_t n = (size_t)ch.cpus[i].npages * ch.page_size;

		if (n)
			memcpy(copy + hlen + off, ch.cpus[i].pages, n);
		off += (uint32_t)n;
	}
	FUZZ_CHECK(vt_chunk_parse(copy, hlen + body, &again, &eb) == 0);
	FUZZ_CHECK(again.seq == ch.seq && again.guest_tsc == ch.guest_tsc &&
		   again.page_size == ch.page_size && again.ncpus == ch.ncpus &&
		   !strcmp(again.boot_id, ch.boot_id));
	for (uint32_t i = 0; i < ch.ncpus; i++)
		FUZZ_CHECK(again.cpus[i].cpu == ch.cpus[i].cpu &&
			   again.cpus[i].npages == ch.cpus[i].npages &&
			   again.cpus[i].lost_events == ch.cpus[i].lost_events &&
			   again.cpus[i].flags == ch.cpus[i].flags);
	free(copy);
	return 0;
}
