// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest chunks (vt/chunk.h): the agent's header writer and the host's parser, which
 * takes nothing the guest wrote on trust.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "vt/chunk.h"
#include "vt/page.h"

#define CHUNK_FIXED_LEN 80	/* magic .. ncpus */
#define CHUNK_CPU_LEN 24	/* one per-CPU entry */
#define CHUNK_BOOT_ID_LEN 40
#define CHUNK_MIN_PAGE 4096u
#define CHUNK_MAX_PAGE (1u << 20)

/* offsets of the fixed part */
#define OFF_VERSION 8
#define OFF_HEADER_LEN 12
#define OFF_SEQ 16
#define OFF_GUEST_TSC 24
#define OFF_BOOT_ID 32
#define OFF_PAGE_SIZE 72
#define OFF_NCPUS 76

static size_t chunk_header_len(uint32_t ncpus)
{
	return CHUNK_FIXED_LEN + (size_t)ncpus * CHUNK_CPU_LEN;
}

/* A boot_id is 1..40 printable characters (no blanks), then only NULs. */
static int check_boot_id(const uint8_t *p, struct vt_errbuf *eb)
{
	size_t n = 0;

	while (n < CHUNK_BOOT_ID_LEN && p[n])
		n++;
	if (n == 0)
		return vtc_errf(eb, EBADMSG, "chunk: empty boot_id");
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return vtc_errf(eb, EBADMSG,
					"chunk: boot_id byte %zu is not printable (0x%02x)", i, p[i]);
	for (size_t i = n; i < CHUNK_BOOT_ID_LEN; i++)
		if (p[i])
			return vtc_errf(eb, EBADMSG, "chunk: boot_id byte %zu after its NUL is 0x%02x",
					i, p[i]);
	return 0;
}

static bool page_size_ok(uint32_t page_size)
{
	return page_size >= CHUNK_MIN_PAGE && page_size <= CHUNK_MAX_PAGE &&
	       (page_size & (page_size - 1)) == 0;
}

/* The fixed part: magic, version, header_len, page_size, ncpus, boot_id. */
static int parse_fixed(const uint8_t *b, size_t len, struct vt_chunk *c, uint32_t *ret_hlen,
		       struct vt_errbuf *eb)
{
	uint32_t version, hlen;
	int r;

	if (len < CHUNK_FIXED_LEN)
		return vtc_errf(eb, EBADMSG, "chunk: %zu bytes, shorter than its %u-byte header",
				len, CHUNK_FIXED_LEN);
	if (memcmp(b, VT_CHUNK_MAGIC, 8))
		return vtc_errf(eb, EBADMSG, "chunk: bad magic (not a virt-trace chunk)");
	r = vtc_get_le32(b, len, OFF_VERSION, &version);
	if (!r)
		r = vtc_get_le32(b, len, OFF_HEADER_LEN, &hlen);
	if (!r)
		r = vtc_get_le64(b, len, OFF_SEQ, &c->seq);
	if (!r)
		r = vtc_get_le64(b, len, OFF_GUEST_TSC, &c->guest_tsc);
	if (!r)
		r = vtc_get_le32(b, len, OFF_PAGE_SIZE, &c->page_size);
	if (!r)
		r = vtc_get_le32(b, len, OFF_NCPUS, &c->ncpus);
	if (r)
		return vtc_errf(eb, EBADMSG, "chunk: truncated header");
	if (version != VT_CHUNK_VERSION)
		return vtc_errf(eb, EBADMSG, "chunk: version %u, only %u is known", version,
				VT_CHUNK_VERSION);
	if (c->ncpus > VT_CHUNK_MAX_CPUS)
		return vtc_errf(eb, EBADMSG, "chunk: %u CPUs, at most %u", c->ncpus,
				VT_CHUNK_MAX_CPUS);
	if (hlen < chunk_header_len(c->ncpus))
		return vtc_errf(eb, EBADMSG, "chunk: header_len %u < %zu needed for %u CPUs", hlen,
				chunk_header_len(c->ncpus), c->ncpus);
	if (hlen > len)
		return vtc_errf(eb, EBADMSG, "chunk: header_len %u past the end (%zu bytes)", hlen,
				len);
	if (!page_size_ok(c->page_size))
		return vtc_errf(eb, EBADMSG,
				"chunk: page_size %u is not a power of two in 4096..1048576",
				c->page_size);
	r = check_boot_id(b + OFF_BOOT_ID, eb);
	if (r)
		return r;
	memcpy(c->boot_id, b + OFF_BOOT_ID, CHUNK_BOOT_ID_LEN);
	c->boot_id[CHUNK_BOOT_ID_LEN] = '\0';
	*ret_hlen = hlen;
	return 0;
}

int vt_chunk_parse(const void *buf, size_t len, struct vt_chunk *ret, struct vt_errbuf *eb)
{
	static const uint8_t none[1];
	const uint8_t *b = buf;
	uint8_t seen[VT_CHUNK_MAX_CPUS / 8] = { 0 };
	uint64_t pos;
	uint32_t hlen = 0;
	int r;

	if (eb)
		eb->msg[0] = '\0';
	if (!buf || !ret)
		return vtc_errf(eb, EINVAL, "chunk: no buffer");
	if (len > VT_CHUNK_MAX_BYTES)
		return vtc_errf(eb, EBADMSG, "chunk: %zu bytes, more than the %u allowed", len,
				VT_CHUNK_MAX_BYTES);
	memset(ret, 0, sizeof(*ret) - sizeof(ret->cpus));
	r = parse_fixed(b, len, ret, &hlen, eb);
	if (r)
		return r;

	pos = hlen;
	for (uint32_t i = 0; i < ret->ncpus; i++) {
		struct vt_chunk_cpu *cc = &ret->cpus[i];
		size_t off = CHUNK_FIXED_LEN + (size_t)i * CHUNK_CPU_LEN;
		uint64_t bytes;

		/* in bounds: off + 24 <= hlen <= len was checked */
		vtc_get_le32(b, len, off, &cc->cpu);
		vtc_get_le32(b, len, off + 4, &cc->npages);
		vtc_get_le64(b, len, off + 8, &cc->lost_events);
		vtc_get_le32(b, len, off + 16, &cc->flags);
		if (cc->cpu >= VT_CHUNK_MAX_CPUS)
			return vtc_errf(eb, EBADMSG, "chunk: entry %u: CPU %u out of range", i,
					cc->cpu);
		if (seen[cc->cpu / 8] & (1u << (cc->cpu % 8)))
			return vtc_errf(eb, EBADMSG, "chunk: entry %u: CPU %u listed twice", i,
					cc->cpu);
		seen[cc->cpu / 8] |= (uint8_t)(1u << (cc->cpu % 8));
		bytes = (uint64_t)cc->npages * ret->page_size;
		if (bytes > len - pos)
			return vtc_errf(eb, EBADMSG, "chunk: CPU %u: %u pages past the end", cc->cpu,
					cc->npages);
		cc->pages = cc->npages ? b + pos : none;
		pos += bytes;
	}
	if (pos != len)
		return vtc_errf(eb, EBADMSG, "chunk: %llu bytes after the last page",
				(unsigned long long)(len - pos));
	return 0;
}

static int bad_chunk(enum vt_chunk_bad *bad, enum vt_chunk_bad why, struct vt_errbuf *eb,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int bad_chunk(enum vt_chunk_bad *bad, enum vt_chunk_bad why, struct vt_errbuf *eb,
		     const char *fmt, ...)
{
	va_list ap;

	*bad = why;
	if (eb) {
		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
		va_end(ap);
	}
	return vtc_err(EBADMSG);
}

/* Every page and event of one CPU entry; the CPU's last event time in *@ts. */
static int check_cpu(const struct vt_chunk *c, const struct vt_chunk_cpu *cc,
		     const struct vt_chunk_expect *x, uint64_t *ts, struct vt_chunk_stats *st,
		     enum vt_chunk_bad *bad, struct vt_errbuf *eb)
{
	struct vt_errbuf peb;

	for (uint32_t p = 0; p < cc->npages; p++) {
		struct vt_page_iter it;
		struct vt_event ev;
		bool first = true;
		int r;

		if (vt_page_load(&it, cc->pages + (size_t)p * c->page_size, c->page_size,
				 x->long_size, &peb) < 0)
			return bad_chunk(bad, VT_CHUNK_BAD_PAGE, eb, "chunk: CPU %u page %u: %s",
					 cc->cpu, p, peb.msg);
		st->pages++;
		while ((r = vt_page_next(&it, &ev, &peb)) == 1) {
			if (ev.size < 8)
				return bad_chunk(bad, VT_CHUNK_BAD_EVENT, eb,
						 "chunk: CPU %u page %u: event of %u bytes has no "
						 "common fields", cc->cpu, p, ev.size);
			if (x->event_ids && !(x->event_ids[ev.type_id / 8] & (1u << (ev.type_id % 8))))
				return bad_chunk(bad, VT_CHUNK_BAD_EVENT, eb,
						 "chunk: CPU %u page %u: event id %u is not in the "
						 "guest's formats", cc->cpu, p, ev.type_id);
			if (first && ev.ts < *ts)
				st->ts_backwards++;
			if (ev.ts > c->guest_tsc)
				st->ts_after_cut++;
			first = false;
			*ts = ev.ts;
			st->events++;
		}
		if (r < 0)
			return bad_chunk(bad, VT_CHUNK_BAD_PAGE, eb, "chunk: CPU %u page %u: %s",
					 cc->cpu, p, peb.msg);
		if (first)
			st->empty_pages++;
	}
	return 0;
}

int vt_chunk_check(const struct vt_chunk *c, const struct vt_chunk_expect *x, uint64_t *last_ts,
		   struct vt_chunk_stats *ret, enum vt_chunk_bad *bad, struct vt_errbuf *eb)
{
	struct vt_chunk_stats st = { 0 };
	uint64_t ts[VT_CHUNK_MAX_CPUS];

	*bad = VT_CHUNK_OK;
	if (!c || !x || !last_ts || !ret || c->ncpus > VT_CHUNK_MAX_CPUS)
		return vtc_errf(eb, EINVAL, "chunk: nothing to check");
	if (x->boot_id && strcmp(c->boot_id, x->boot_id))
		return bad_chunk(bad, VT_CHUNK_BAD_BOOT, eb, "chunk: boot %s, recording boot %s",
				 c->boot_id, x->boot_id);
	if (x->page_size && c->page_size != x->page_size)
		return bad_chunk(bad, VT_CHUNK_BAD_PAGE_SIZE, eb,
				 "chunk: page size %u, the guest's info said %u", c->page_size,
				 x->page_size);
	if (c->seq < x->min_seq)
		return bad_chunk(bad, VT_CHUNK_BAD_SEQ, eb,
				 "chunk: seq %llu, expected %llu or later (replayed?)",
				 (unsigned long long)c->seq, (unsigned long long)x->min_seq);
	for (uint32_t i = 0; i < c->ncpus; i++)
		if (c->cpus[i].cpu >= x->ncpus)
			return bad_chunk(bad, VT_CHUNK_BAD_CPU, eb,
					 "chunk: CPU %u, the guest has %u", c->cpus[i].cpu, x->ncpus);
	for (uint32_t i = 0; i < c->ncpus; i++) {
		const struct vt_chunk_cpu *cc = &c->cpus[i];
		int r;

		ts[i] = last_ts[cc->cpu];
		r = check_cpu(c, cc, x, &ts[i], &st, bad, eb);
		if (r < 0)
			return r;
	}
	for (uint32_t i = 0; i < c->ncpus; i++)
		last_ts[c->cpus[i].cpu] = ts[i];
	ret->pages += st.pages;
	ret->empty_pages += st.empty_pages;
	ret->events += st.events;
	ret->ts_backwards += st.ts_backwards;
	ret->ts_after_cut += st.ts_after_cut;
	return 0;
}

int vt_chunk_header(const struct vt_chunk *c, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t hlen, idlen;
	uint64_t total;

	if (!c || !out || !ret_len)
		return vtc_err(EINVAL);
	if (c->ncpus > VT_CHUNK_MAX_CPUS || !page_size_ok(c->page_size))
		return vtc_err(EINVAL);
	idlen = strnlen(c->boot_id, sizeof(c->boot_id));
	if (idlen == 0 || idlen > CHUNK_BOOT_ID_LEN)
		return vtc_err(EINVAL);
	hlen = chunk_header_len(c->ncpus);
	total = hlen;
	for (uint32_t i = 0; i < c->ncpus; i++)
		total += (uint64_t)c->cpus[i].npages * c->page_size;
	if (total > VT_CHUNK_MAX_BYTES)
		return vtc_err(EFBIG);
	if (cap < hlen)
		return vtc_err(ENOSPC);

	memset(out, 0, hlen);
	memcpy(out, VT_CHUNK_MAGIC, 8);
	vtc_put_le32(out + OFF_VERSION, VT_CHUNK_VERSION);
	vtc_put_le32(out + OFF_HEADER_LEN, (uint32_t)hlen);
	vtc_put_le64(out + OFF_SEQ, c->seq);
	vtc_put_le64(out + OFF_GUEST_TSC, c->guest_tsc);
	memcpy(out + OFF_BOOT_ID, c->boot_id, idlen);
	vtc_put_le32(out + OFF_PAGE_SIZE, c->page_size);
	vtc_put_le32(out + OFF_NCPUS, c->ncpus);
	for (uint32_t i = 0; i < c->ncpus; i++) {
		uint8_t *e = out + CHUNK_FIXED_LEN + (size_t)i * CHUNK_CPU_LEN;

		vtc_put_le32(e, c->cpus[i].cpu);
		vtc_put_le32(e + 4, c->cpus[i].npages);
		vtc_put_le64(e + 8, c->cpus[i].lost_events);
		vtc_put_le32(e + 16, c->cpus[i].flags);
	}
	*ret_len = hlen;
	return 0;
}
