/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest trace conversion: every event of a guest trace.dat (guest TSC clock) is put on
 * the host TSC axis with its vCPU's offset timeline and written to a new trace.dat.
 * Streaming, two passes per guest CPU (segment boundaries, then conversion).
 */
#ifndef VT_CONVERT_H
#define VT_CONVERT_H

#include "vt/common.h"
#include "vt/dat.h"
#include "vt/segments.h"
#include "vt/timeline.h"

struct vt_convert_opts {
	const struct vt_timeline *timeline;
	const uint32_t *apic_ids;	/* guest CPU n -> KVM vcpu id; NULL: sorted vcpu ids */
	size_t napic_ids;
	const struct vt_tsc_scale *scale;	/* NULL: no TSC scaling */
	struct vt_dat *host;	/* host trace, for containment (kvm_entry/kvm_exit); may be NULL */
	int file_version;	/* 6 or 7 (0 = 7) */
	uint64_t trace_id;	/* TRACEID of the output (0: keep the guest's, or make one) */
	const struct vt_tsc2nsec *tsc2nsec;	/* the host's, written into the output */
	/*
	 * Which guest boot of the domain run the file holds (1-based; 0 = 1). A boot
	 * starts with a cluster of writes that set the guest TSC to about 0 (vCPU
	 * creation, reset); boot k uses the writes from its cluster up to the next.
	 */
	unsigned boot;
};

/*
 * A write that (re)sets the guest TSC to within this many ticks of 0 starts a boot (KVM
 * at vCPU creation and QEMU at reset write IA32_TSC = 0; the tracepoint follows within
 * microseconds).
 */
#define VT_BOOT_TSC_MAX (1ull << 28)
/*
 * Boot writes closer than this (host ticks, ~0.3 s at 3 GHz) belong to the same boot:
 * QEMU's creation and reset writes come within milliseconds, a guest reboot takes longer.
 */
#define VT_BOOT_CLUSTER_GAP (1ull << 30)

/* An event whose offset segment could not be decided (listed by verify). */
struct vt_ambiguous_event {
	unsigned cpu;
	uint64_t index;		/* event index in the guest CPU's buffer order */
	uint64_t guest_tsc;
	uint64_t host_tsc;	/* as written (previous offset kept) */
};

/* A guest write of IA32_TSC (0x10) or IA32_TSC_ADJUST (0x3b) seen in its buffer. */
struct vt_marker_event {
	uint64_t index;		/* event index in the CPU's buffer order */
	uint64_t guest_tsc;
	uint32_t msr;
	uint64_t value;
};

#define VT_MARKER_LIST_MAX 32

struct vt_convert_cpu {
	size_t buffer;
	unsigned cpu;		/* guest CPU */
	uint32_t vcpu_id;
	int32_t tid;		/* host thread of that vCPU, -1 unknown */
	uint64_t events;
	uint64_t markers;	/* msr:write_msr events of MSR 0x10 / 0x3b */
	struct vt_marker_event marker_list[VT_MARKER_LIST_MAX];	/* the first ones */
	size_t nmarker_list;
	uint64_t ambiguous;
	uint64_t lost_pages;	/* pages that said events were lost before them */
	uint64_t first_host_tsc, last_host_tsc;
	size_t boot_write;
	bool boot_guessed;	/* the boot segment was chosen by the fallback rule */
	uint64_t unmatched_markers;	/* markers that matched no host write */
	uint64_t inconsistent;	/* events no segment could hold (flagged) */
	struct vt_boundary *boundaries;
	size_t nboundaries;
	struct vt_window *windows;	/* host windows containment was asked about */
	size_t nwindows;
};

#define VT_AMBIGUOUS_LIST_MAX 1000

struct vt_convert_result {
	uint64_t trace_id;	/* TRACEID written */
	struct vt_convert_cpu *cpus;
	size_t ncpus;
	uint64_t events;
	uint64_t ambiguous;
	bool containment_used;
	struct vt_ambiguous_event *amb;	/* the first VT_AMBIGUOUS_LIST_MAX */
	size_t namb;
};

/*
 * vt_convert_guest - convert @guest into @out_path.
 * Return: 0 with *ret (free with vt_convert_result_free); -EINVAL when the guest clock
 * is not a TSC clock or a guest CPU has no vCPU in the timeline (reason in @eb);
 * -EBADMSG for a corrupt input; -errno for I/O. Nothing is left at @out_path on error.
 */
int vt_convert_guest(struct vt_dat *guest, const char *out_path,
		     const struct vt_convert_opts *opts, struct vt_convert_result **ret,
		     struct vt_errbuf *eb);
void vt_convert_result_free(struct vt_convert_result *res);

/* The vCPU timeline for guest CPU @cpu (NULL when there is none); borrowed. */
const struct vt_vcpu_timeline *vt_convert_vcpu_of(const struct vt_convert_opts *opts,
						  unsigned cpu);

/* A non-zero trace id made from the clock and pid. */
uint64_t vt_make_trace_id(void);

#endif
