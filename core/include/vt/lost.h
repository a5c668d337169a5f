/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lost host events, never silent (DESIGN.md §1): the ring buffers' own per-CPU counts
 * (per_cpu/cpuN/stats: overrun, dropped events, commit overrun), read when recording
 * stops, and the pages' missed-events flags and stored counts in host.dat, combined
 * into the manifest's "lost_events" (total and per buffer and CPU) with a warning.
 */
#ifndef VT_LOST_H
#define VT_LOST_H

#include <stdint.h>

#include "vt/common.h"

struct json_object;
struct vt_dat;

/* one CPU of one instance, from its per_cpu/cpuN/stats */
struct vt_lost_ring {
	uint64_t overrun;	 /* overwritten before they were read (overwrite mode) */
	uint64_t commit_overrun; /* lost by a nested writer wrapping the buffer */
	uint64_t dropped;	 /* refused because the buffer was full (no overwrite) */
	uint64_t unread;	 /* "entries": still in the buffer, never read */
};

/*
 * vt_lost_parse_stats - the counts of a per_cpu/cpuN/stats text (@len bytes; lines
 * "name: value"). Return: 0, -EBADMSG when an "overrun" or "dropped events" line is
 * missing or a value is not a number.
 */
int vt_lost_parse_stats(const char *text, size_t len, struct vt_lost_ring *ret);

/*
 * vt_lost_ring_save - read the stats of every CPU of @domain's two instances (tracing
 * should be off and the readers done) and write them to @path (JSON, atomically).
 * Return: 0, -ENOENT when neither instance exists, -errno (reason in @eb).
 */
int vt_lost_ring_save(const char *domain, const char *path, struct vt_errbuf *eb);

/* what vt_lost_account counted */
struct vt_lost_totals {
	uint64_t events;	/* events in host.dat */
	uint64_t lost_pages;	/* pages whose missed-events flag is set */
	uint64_t lost;		/* lost events, all buffers and CPUs */
	bool exact;		/* from the ring buffers' counts (else a lower bound) */
};

/*
 * vt_lost_account - walk every page of @host (buffer 0 "main", then "tsc"), count its
 * events and missed-events pages, combine them with the ring stats saved at @ring_path
 * (NULL or missing: the pages alone, a lower bound) and put "lost_events" into @root:
 * {"total", "exact", "source", "cpus": [{"buffer", "cpu", "lost", "overrun",
 * "commit_overrun", "dropped", "unread", "pages_flagged", "missed_in_pages"}]}; per CPU
 * lost = the larger of the ring's count (overrun + commit_overrun + dropped + unread) and
 * the pages' (missed_in_pages: their stored counts, 1 for a flagged page without one).
 * A non-zero total adds a warning.
 * Return: 0, -errno (reason in @eb; a host.dat page that cannot be read).
 */
int vt_lost_account(struct json_object *root, struct vt_dat *host, const char *ring_path,
		    struct vt_lost_totals *ret, struct vt_errbuf *eb);

#endif
