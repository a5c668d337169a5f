/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest chunks: what virt-trace-agent writes in the guest and the collector pulls
 * through qemu-ga. A chunk holds the raw ring-buffer pages each guest CPU produced
 * since the last collect. All integers little endian. Chunks come from an untrusted
 * guest: the parser takes (buf, len) and checks every size before use.
 *
 *   "VTCHUNK1"            8 bytes magic
 *   u32 version (1)       u32 header_len (bytes up to the first page, >= 80 + 24 ncpus)
 *   u64 seq               collect number since the agent started (0, 1, 2...)
 *   u64 guest_tsc         guest TSC when the chunk was cut
 *   char boot_id[40]      /proc/sys/kernel/random/boot_id, NUL padded
 *   u32 page_size         u32 ncpus (entries below)
 *   ncpus x { u32 cpu, u32 npages, u64 lost_events (or 0), u32 flags (bit 0: the ring
 *             buffer overran since the last collect), u32 reserved }
 *   then, CPU entry by entry, npages x page_size bytes of pages
 */
#ifndef VT_CHUNK_H
#define VT_CHUNK_H

#include "vt/common.h"

#define VT_CHUNK_MAGIC "VTCHUNK1"
#define VT_CHUNK_VERSION 1
#define VT_CHUNK_MAX_CPUS 1024
/*
 * Refused above this, whatever the guest says: the agent cuts a chunk at 3 MiB of pages
 * (VTA_CHUNK_CAP) plus a header of at most 80 + 24 * 1024 bytes.
 */
#define VT_CHUNK_MAX_BYTES (8u << 20)
#define VT_CHUNK_EVENT_IDS 65536	/* common_type is a u16 */

struct vt_chunk_cpu {
	uint32_t cpu;
	uint32_t npages;
	uint64_t lost_events;
	uint32_t flags;
	const uint8_t *pages;	/* npages * page_size bytes, borrowed from the buffer */
};

struct vt_chunk {
	uint64_t seq;
	uint64_t guest_tsc;
	char boot_id[41];
	uint32_t page_size;
	uint32_t ncpus;
	struct vt_chunk_cpu cpus[VT_CHUNK_MAX_CPUS];
};

/*
 * vt_chunk_parse - check and describe a chunk in @buf (borrowed by the result).
 * Return: 0, or -EBADMSG with the reason ("chunk: CPU 3: 12 pages past the end") in @eb.
 */
int vt_chunk_parse(const void *buf, size_t len, struct vt_chunk *ret, struct vt_errbuf *eb);

/* What the host expects of a chunk before it takes its pages (vt_chunk_check). */
struct vt_chunk_expect {
	const char *boot_id;		/* the boot being recorded (NULL: any) */
	uint32_t page_size;		/* from the agent's info (0: any) */
	unsigned long_size;		/* the guest kernel's long: 4 or 8 */
	uint32_t ncpus;			/* the guest's CPUs: every entry's cpu < ncpus */
	const uint8_t *event_ids;	/* bitmap of VT_CHUNK_EVENT_IDS ids the guest's
					   formats define (NULL: any id) */
	uint64_t min_seq;		/* seq >= this (a replayed chunk is refused) */
};

enum vt_chunk_bad {
	VT_CHUNK_OK,
	VT_CHUNK_BAD_BOOT,		/* boot_id is not the recorded boot's */
	VT_CHUNK_BAD_PAGE_SIZE,		/* page_size differs from the info's */
	VT_CHUNK_BAD_SEQ,		/* seq below min_seq: replayed or out of order */
	VT_CHUNK_BAD_CPU,		/* a CPU the guest does not have */
	VT_CHUNK_BAD_PAGE,		/* a page header or record that does not hold */
	VT_CHUNK_BAD_EVENT,		/* an event id no format defines, or too short */
};

/* Flagged, not refused: a guest TSC write moves the clock back legitimately. */
struct vt_chunk_stats {
	uint64_t pages, empty_pages, events;
	uint64_t ts_backwards;		/* pages that start before the CPU's last event */
	uint64_t ts_after_cut;		/* events stamped after the chunk's guest_tsc */
};

/*
 * vt_chunk_check - check a parsed chunk against @x and walk every page and event of it
 * (commit sizes, record lengths, event ids). @last_ts (VT_CHUNK_MAX_CPUS entries, the
 * last event time per CPU of the chunks taken before) is moved on only when the chunk
 * is good. Return: 0 with *@ret (added to), or -EBADMSG with *@bad and the reason
 * ("chunk: CPU 1 page 3: event id 999 is not in the guest's formats") in @eb.
 */
int vt_chunk_check(const struct vt_chunk *c, const struct vt_chunk_expect *x, uint64_t *last_ts,
		   struct vt_chunk_stats *ret, enum vt_chunk_bad *bad, struct vt_errbuf *eb);

/* Writer side (the agent): the header for @c (pages follow); *ret_len bytes in @out. */
int vt_chunk_header(const struct vt_chunk *c, uint8_t *out, size_t cap, size_t *ret_len);

#endif
