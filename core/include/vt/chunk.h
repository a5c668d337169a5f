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
#define VT_CHUNK_MAX_BYTES (256u << 20)	/* refused above this, whatever the guest says */

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

/* Writer side (the agent): the header for @c (pages follow); *ret_len bytes in @out. */
int vt_chunk_header(const struct vt_chunk *c, uint8_t *out, size_t cap, size_t *ret_len);

#endif
