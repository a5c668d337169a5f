// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Ring-buffer page walker (checks every length against the page) and page encoder.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vt/page.h"

#define RB_TS_SHIFT		27
#define RB_DELTA_MASK		((1u << RB_TS_SHIFT) - 1)
#define RB_COMMIT_MASK		((1u << 27) - 1)
#define RB_MISSED_EVENTS	(1u << 31)
#define RB_MISSED_STORED	(1u << 30)
#define RB_TYPE_PADDING		29
#define RB_TYPE_TIME_EXTEND	30
#define RB_TYPE_TIME_STAMP	31
#define RB_MAX_SMALL_DATA	(28 * 4)
/* absolute time stamps carry 59 bits; the top 5 come from the running time stamp */
#define RB_TS_BITS		59
#define RB_TS_MSB		(~0ULL << RB_TS_BITS)

static size_t round4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* The kernel's rule (ring_buffer.c rb_fix_abs_ts) for a 59-bit absolute stamp. */
static uint64_t fix_abs_ts(uint64_t abs, uint64_t running_ts)
{
	if (running_ts & RB_TS_MSB) {
		abs |= running_ts & RB_TS_MSB;
		if (abs < running_ts)
			abs += 1ULL << RB_TS_BITS;
	}
	return abs;
}

static int read_long(const void *buf, size_t len, size_t off, unsigned long_size,
		     uint64_t *ret)
{
	uint32_t v32;
	int r;

	if (long_size == 8)
		return vtc_get_le64(buf, len, off, ret);
	r = vtc_get_le32(buf, len, off, &v32);
	if (r == 0)
		*ret = v32;
	return r;
}

int vt_page_load(struct vt_page_iter *it, const void *page, size_t len, unsigned long_size,
		 struct vt_errbuf *eb)
{
	size_t data_start = 8 + (size_t)long_size;
	uint64_t commit, page_ts, missed = 0;
	size_t commit_len;

	if (long_size != 4 && long_size != 8)
		return vtc_errf(eb, EINVAL, "page: long size %u is neither 4 nor 8", long_size);
	if (!page || len < data_start)
		return vtc_errf(eb, EBADMSG, "page: %zu bytes cannot hold a %zu-byte page header",
				len, data_start);
	if (vtc_get_le64(page, len, 0, &page_ts) < 0 ||
	    read_long(page, len, 8, long_size, &commit) < 0)
		return vtc_errf(eb, EBADMSG, "page: header cut off");
	commit_len = (size_t)(commit & RB_COMMIT_MASK);
	if (commit_len > len - data_start)
		return vtc_errf(eb, EBADMSG, "page: commit %zu past the end (%zu data bytes)",
				commit_len, len - data_start);
	if (commit & RB_MISSED_STORED) {
		if (read_long(page, len, data_start + commit_len, long_size, &missed) < 0)
			return vtc_errf(eb, EBADMSG,
					"page: missed-events count after commit %zu cut off",
					commit_len);
	}
	*it = (struct vt_page_iter){
		.buf = page,
		.data_start = data_start,
		.data_end = data_start + commit_len,
		.pos = data_start,
		.ts = page_ts,
		.page_ts = page_ts,
		.missed = missed,
		.missed_events = (commit & RB_MISSED_EVENTS) != 0,
		.long_size = long_size,
	};
	return 0;
}

static void fill_event(struct vt_event *ev, uint64_t ts, const uint8_t *data, uint32_t size)
{
	uint16_t type_id = 0;
	uint32_t pid = (uint32_t)-1;

	if (size >= 8) {
		vtc_get_le16(data, size, 0, &type_id);
		vtc_get_le32(data, size, 4, &pid);
	}
	ev->ts = ts;
	ev->data = data;
	ev->size = size;
	ev->type_id = type_id;
	ev->pid = (int32_t)pid;
}

int vt_page_next(struct vt_page_iter *it, struct vt_event *ret, struct vt_errbuf *eb)
{
	while (it->pos < it->data_end) {
		size_t off = it->pos - it->data_start;
		size_t left = it->data_end - it->pos;
		uint32_t hdr, type_len, delta, word = 0;
		size_t payload;

		if (left < 4)
			return vtc_errf(eb, EBADMSG, "page: record header at %zu cut off by commit",
					off);
		vtc_get_le32(it->buf, it->data_end, it->pos, &hdr);
		type_len = hdr & 0x1f;
		delta = hdr >> 5;
		/* every type but 1..28 has a second word */
		if (type_len == 0 || type_len > 28) {
			if (type_len == RB_TYPE_PADDING && delta == 0) {
				/* null event: the rest of the page is padding */
				it->pos = it->data_end;
				return 0;
			}
			if (left < 8)
				return vtc_errf(eb, EBADMSG,
						"page: record type %u at %zu cut off by commit",
						type_len, off);
			vtc_get_le32(it->buf, it->data_end, it->pos + 4, &word);
		}
		switch (type_len) {
		case RB_TYPE_PADDING:
			/*
			 * Discarded event: word = its length after the header. Its delta
			 * counts: since 5.10 the writer chains the next delta to it, and
			 * libtraceevent's kbuffer (trace-cmd) adds it too.
			 */
			if (word < 4 || round4(word) > left - 4)
				return vtc_errf(eb, EBADMSG,
						"page: padding length %u at %zu past commit",
						word, off);
			it->ts += delta;
			it->pos += 4 + round4(word);
			continue;
		case RB_TYPE_TIME_EXTEND:
			it->ts += ((uint64_t)word << RB_TS_SHIFT) | delta;
			it->pos += 8;
			continue;
		case RB_TYPE_TIME_STAMP:
			it->abs_ts = true;
			it->ts = fix_abs_ts(((uint64_t)word << RB_TS_SHIFT) | delta, it->ts);
			it->pos += 8;
			continue;
		case 0:
			/* word = payload length + 4 (the word itself) */
			if (word < 8)
				return vtc_errf(eb, EBADMSG, "page: bad record length %u at %zu",
						word, off);
			if (round4(word) > left - 4)
				return vtc_errf(eb, EBADMSG,
						"page: record length %u at %zu past commit", word,
						off);
			payload = round4(word) - 4;
			it->ts += delta;
			fill_event(ret, it->ts, it->buf + it->pos + 8, (uint32_t)payload);
			it->pos += 8 + payload;
			return 1;
		default:
			payload = (size_t)type_len * 4;
			if (payload > left - 4)
				return vtc_errf(eb, EBADMSG,
						"page: record of %zu bytes at %zu past commit",
						payload, off);
			it->ts += delta;
			fill_event(ret, it->ts, it->buf + it->pos + 4, (uint32_t)payload);
			it->pos += 4 + payload;
			return 1;
		}
	}
	return 0;
}

/* ---- encoder ---- */

static size_t enc_header_size(const struct vt_page_enc *pe)
{
	return 8 + (size_t)pe->long_size;
}

int vt_page_enc_init(struct vt_page_enc *pe, size_t page_size, unsigned long_size)
{
	*pe = (struct vt_page_enc){ 0 };
	if (long_size != 4 && long_size != 8)
		return vtc_err(EINVAL);
	if (page_size < 64 || page_size - 8 - long_size > RB_COMMIT_MASK)
		return vtc_err(EINVAL);
	pe->buf = calloc(1, page_size);
	if (!pe->buf)
		return vtc_err(ENOMEM);
	pe->page_size = page_size;
	pe->long_size = long_size;
	pe->pos = 0;	/* 0 = the page must be cleared before the next record */
	return 0;
}

void vt_page_enc_fini(struct vt_page_enc *pe)
{
	free(pe->buf);
	pe->buf = NULL;
}

static void enc_put_word(struct vt_page_enc *pe, uint32_t type_len, uint32_t delta)
{
	vtc_put_le32(pe->buf + pe->pos, type_len | (delta << 5));
	pe->pos += 4;
}

/*
 * How the step from the last record to @ts is written: 0 = in the record's own 27-bit
 * delta, RB_TYPE_TIME_EXTEND, RB_TYPE_TIME_STAMP, or -1 = not on this page (a new page
 * starts with its own 64-bit time stamp). Absolute stamps are only used below 2^59 from
 * a running stamp below 2^59: there the kernel's rule and libtraceevent's kbuffer (which
 * ignores the top bits) agree.
 */
static int enc_ts_kind(const struct vt_page_enc *pe, uint64_t ts)
{
	uint64_t delta;

	if (ts >= pe->last_ts) {
		delta = ts - pe->last_ts;
		if (delta <= RB_DELTA_MASK)
			return 0;
		if (delta < (1ULL << RB_TS_BITS))
			return RB_TYPE_TIME_EXTEND;
		return -1;
	}
	if (!(ts & RB_TS_MSB) && !(pe->last_ts & RB_TS_MSB))
		return RB_TYPE_TIME_STAMP;
	return -1;
}

int vt_page_enc_add(struct vt_page_enc *pe, uint64_t ts, const void *data, uint32_t size)
{
	size_t hdr = enc_header_size(pe);
	size_t padded = round4(size);
	size_t rec = (size <= RB_MAX_SMALL_DATA ? 4 : 8) + padded;
	size_t extra = 0;
	int kind = 0;

	if (size == 0 || rec > pe->page_size - hdr)
		return vtc_err(EINVAL);
	if (pe->pos == 0) {
		memset(pe->buf, 0, pe->page_size);
		pe->pos = hdr;
		pe->nevents = 0;
	}
	if (pe->nevents) {
		kind = enc_ts_kind(pe, ts);
		if (kind < 0)
			return -ENOSPC;
		if (kind)
			extra = 8;
	}
	if (extra + rec > pe->page_size - pe->pos)
		return -ENOSPC;

	if (pe->nevents == 0) {
		vtc_put_le64(pe->buf, ts);
	} else if (kind == 0) {
		/* delta goes into the record itself below */
	} else {
		uint64_t v = kind == RB_TYPE_TIME_EXTEND ? ts - pe->last_ts : ts;

		enc_put_word(pe, (uint32_t)kind, (uint32_t)(v & RB_DELTA_MASK));
		vtc_put_le32(pe->buf + pe->pos, (uint32_t)(v >> RB_TS_SHIFT));
		pe->pos += 4;
	}
	if (size <= RB_MAX_SMALL_DATA) {
		enc_put_word(pe, (uint32_t)(padded / 4),
			     kind == 0 && pe->nevents ? (uint32_t)(ts - pe->last_ts) : 0);
	} else {
		enc_put_word(pe, 0, kind == 0 && pe->nevents ? (uint32_t)(ts - pe->last_ts) : 0);
		vtc_put_le32(pe->buf + pe->pos, (uint32_t)(padded + 4));
		pe->pos += 4;
	}
	memcpy(pe->buf + pe->pos, data, size);
	pe->pos += padded;	/* pad bytes are already zero */
	pe->last_ts = ts;
	pe->nevents++;
	return 0;
}

const void *vt_page_enc_finish(struct vt_page_enc *pe)
{
	size_t hdr = enc_header_size(pe);
	uint64_t commit;

	if (pe->pos == 0 || pe->nevents == 0)
		return NULL;
	commit = pe->pos - hdr;
	if (pe->missed_events)
		commit |= RB_MISSED_EVENTS;
	if (pe->long_size == 8)
		vtc_put_le64(pe->buf + 8, commit);
	else
		vtc_put_le32(pe->buf + 8, (uint32_t)commit);
	pe->pos = 0;
	pe->nevents = 0;
	pe->missed_events = false;
	return pe->buf;
}
