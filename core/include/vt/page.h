/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ring-buffer page walker and encoder (the kbuffer shape: load, next; no allocation).
 *
 * A page is what trace_pipe_raw returns and what trace.dat stores per CPU:
 *   u64 timestamp | commit (long_size bytes; bits 0-26 length, bit 31 missed events,
 *   bit 30 missed count stored at the end) | data.
 * Records: u32 header type_len:5 | time_delta:27; type_len 1..28 = payload of type_len*4
 * bytes, 0 = next u32 holds the length (which includes that u32), 29 = padding,
 * 30 = time extend, 31 = absolute time stamp. The walker never trusts the page: every
 * length is checked against (buf, len) before it is read.
 */
#ifndef VT_PAGE_H
#define VT_PAGE_H

#include "vt/common.h"

/* One event on a page. data/size are the record payload (borrowed from the page). */
struct vt_event {
	uint64_t ts;		/* absolute timestamp (the trace clock's unit) */
	const void *data;	/* payload: starts with the common fields (u16 common_type ...) */
	uint32_t size;		/* payload bytes */
	uint16_t type_id;	/* common_type, read from the payload */
	int32_t pid;		/* common_pid, read from the payload */
};

struct vt_page_iter {
	const uint8_t *buf;
	size_t data_start;	/* 8 + long_size */
	size_t data_end;	/* data_start + commit length (checked <= len) */
	size_t pos;		/* next record */
	uint64_t ts;		/* running timestamp */
	uint64_t page_ts;
	uint64_t missed;	/* missed events count before this page if stored, else 0 */
	bool missed_events;	/* the page says events were lost before it */
	bool abs_ts;		/* an absolute time stamp record (type 31) was walked */
	unsigned long_size;
};

/*
 * vt_page_load - start walking one page. @len is the bytes available (usually the page
 * size). @long_size is the kernel's long (size of 'commit': 4 or 8).
 * Return: 0, or -EBADMSG (reason in @eb) when the header does not fit or commit > len.
 */
int vt_page_load(struct vt_page_iter *it, const void *page, size_t len, unsigned long_size,
		 struct vt_errbuf *eb);

/*
 * vt_page_next - the next event of the page into @ret (payload borrowed from the page).
 * Return: 1 with an event, 0 at the end of the page, -EBADMSG on a malformed record.
 */
int vt_page_next(struct vt_page_iter *it, struct vt_event *ret, struct vt_errbuf *eb);

/* Page encoder: builds pages of page_size from events with non-decreasing timestamps. */
struct vt_page_enc {
	uint8_t *buf;		/* page_size bytes, owned */
	size_t page_size;
	unsigned long_size;
	size_t pos;		/* next free byte */
	uint64_t last_ts;	/* timestamp of the last record written */
	uint32_t nevents;
	bool missed_events;	/* set the page's missed-events flag when finished */
};

/* 0 or -ENOMEM. */
int vt_page_enc_init(struct vt_page_enc *pe, size_t page_size, unsigned long_size);
void vt_page_enc_fini(struct vt_page_enc *pe);
/*
 * vt_page_enc_add - append one event. An event with ts < last_ts is written with an
 * absolute time stamp record (type 31). Return: 0, -ENOSPC when the page is full (the
 * caller takes the page with vt_page_enc_finish and adds again), -EINVAL when @size can
 * never fit a page.
 */
int vt_page_enc_add(struct vt_page_enc *pe, uint64_t ts, const void *data, uint32_t size);
/* vt_page_enc_finish - seal the page: returns its bytes (borrowed, page_size long, zero
 * padded) or NULL when it holds no event; the encoder is reset for the next page. */
const void *vt_page_enc_finish(struct vt_page_enc *pe);

#endif
