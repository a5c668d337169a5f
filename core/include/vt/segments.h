/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Offset segments of one guest CPU: which TSC offset applies to each guest event
 * (DESIGN.md §1). Two passes, memory independent of the trace length:
 *   pass 1: vt_seg_feed() every event of the guest CPU in buffer order (index, guest
 *           TSC, and whether it is an msr:write_msr marker for MSR 0x10/0x3b), then
 *           vt_seg_finish();
 *   optional: for each window of vt_seg_windows(), give the host's guest-mode
 *           intervals of this vCPU (kvm_entry..kvm_exit) with vt_seg_resolve();
 *   pass 2: vt_seg_lookup() for each event index in increasing order.
 * Boundaries: exact at markers; the RFC's forward/backward jump rule where a write has
 * no marker; containment decides runs the rule cannot; what stays undecided is flagged
 * VT_SEG_AMBIGUOUS (it keeps the previous offset, so the CPU's order is preserved).
 */
#ifndef VT_SEGMENTS_H
#define VT_SEGMENTS_H

#include "vt/common.h"
#include "vt/tsc.h"

enum vt_offset_source {
	VT_SRC_TRACEPOINT = 0,	/* kvm:kvm_write_tsc_offset, exact */
	VT_SRC_DEBUGFS,		/* /sys/kernel/debug/kvm/<pid>-<fd>/vcpuN/tsc-offset, exact */
	VT_SRC_PROBE,		/* agent round trip; error = half the shortest round trip */
	VT_SRC_USER,		/* given on the command line */
	_VT_SRC_MAX,
};

/* One offset write of one vCPU, as seen by the host, in host-time order. */
struct vt_tsc_write {
	uint64_t host_tsc;	/* host TSC of the write (tracepoint time, sampling time) */
	uint64_t prev_offset;	/* offset before it: the preceding write's next_offset */
	uint64_t next_offset;	/* offset from then on (two's complement u64) */
	enum vt_offset_source source;
	uint64_t error_ticks;	/* error bound of next_offset (0 = exact) */
};

/* How an event's segment was decided. */
enum vt_seg_how {
	VT_SEG_INITIAL = 0,	/* before any boundary: the boot (first) segment */
	VT_SEG_MARKER,		/* after an msr:write_msr marker matched to the write */
	VT_SEG_RULE,		/* the RFC's forward/backward jump rule */
	VT_SEG_CONTAINMENT,	/* decided by the host's guest-mode intervals */
	VT_SEG_AMBIGUOUS,	/* could not be decided: previous offset kept, flagged */
};

/* One guest-mode interval of the vCPU in host TSC: [entry, exit]. */
struct vt_interval {
	uint64_t entry;
	uint64_t exit;
};

/* A host-time window in which containment could decide ambiguous events. */
struct vt_window {
	uint64_t from;
	uint64_t to;
};

/* A boundary found in pass 1 (for the manifest). */
struct vt_boundary {
	size_t write;		/* index into the writes array */
	uint64_t first_index;	/* first event index on the new offset */
	enum vt_seg_how how;
	uint64_t ambiguous;	/* events left ambiguous at this boundary */
};

struct vt_segmenter;

/*
 * vt_seg_new - a segmenter for one guest CPU. @writes (copied) are that vCPU's offset
 * writes in host-time order; the first one gives the boot offset. @scale may be NULL.
 * Return: 0 with *ret (free with vt_seg_free), -EINVAL without writes, -ENOMEM.
 */
int vt_seg_new(const struct vt_tsc_write *writes, size_t nwrites,
	       const struct vt_tsc_scale *scale, struct vt_segmenter **ret);
void vt_seg_free(struct vt_segmenter *s);

/*
 * vt_seg_feed - pass 1, one guest event. @index increases by one per call from 0.
 * @marker: the event is msr:write_msr of MSR @msr (0x10 or 0x3b) with value @msr_value.
 */
int vt_seg_feed(struct vt_segmenter *s, uint64_t index, uint64_t guest_tsc, bool marker,
		uint32_t msr, uint64_t msr_value);
int vt_seg_finish(struct vt_segmenter *s);

/* Host windows where intervals would help (borrowed, valid until vt_seg_resolve). */
size_t vt_seg_windows(const struct vt_segmenter *s, const struct vt_window **ret);
/* Decide what containment can; @iv sorted by entry. Call at most once, after finish. */
int vt_seg_resolve(struct vt_segmenter *s, const struct vt_interval *iv, size_t niv);

/*
 * vt_seg_lookup - pass 2: the offset for event @index (indexes must not decrease between
 * calls). Return: 0, or -EINVAL when @index goes backwards or was never fed.
 */
int vt_seg_lookup(struct vt_segmenter *s, uint64_t index, uint64_t *ret_offset,
		  enum vt_seg_how *ret_how);

/* Boundaries found (borrowed). */
size_t vt_seg_boundaries(const struct vt_segmenter *s, const struct vt_boundary **ret);
/* Events flagged VT_SEG_AMBIGUOUS in all. */
uint64_t vt_seg_ambiguous(const struct vt_segmenter *s);
/* index of the write that gives the boot segment (a guest boot starts after a reset) */
size_t vt_seg_boot_write(const struct vt_segmenter *s);

/* Additions (after the original contract; nothing above changed). */

/* msr:write_msr markers that matched no pending write (ignored as markers). */
uint64_t vt_seg_unmatched_markers(const struct vt_segmenter *s);
/* Events no segment could hold (e.g. guest TSC going back without a write); flagged. */
uint64_t vt_seg_inconsistent(const struct vt_segmenter *s);
/*
 * vt_seg_set_boot - pin the boot segment to the one in force after writes[@write], for
 * callers that know which write started this guest boot (boot order, agent boot_id):
 * the first event is taken to lie in it (later events may still move to later
 * segments). Overrides the boot rule. Call before the first vt_seg_feed().
 * Return: 0, or -EINVAL when @write is out of range or events were already fed.
 */
int vt_seg_set_boot(struct vt_segmenter *s, size_t write);
/*
 * Whether the boot segment was a guess: the first events fitted several segments (a
 * later reset write puts guest TSC values near 0 again) and, as DESIGN.md §1's boot rule
 * says, the last of them was taken. The caller should report it (or pin the boot).
 */
bool vt_seg_boot_guessed(const struct vt_segmenter *s);

#endif
