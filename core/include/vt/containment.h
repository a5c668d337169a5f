/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Containment: a guest event can only have happened while its vCPU was in guest mode,
 * between the host's kvm:kvm_entry and the next kvm:kvm_exit of the vCPU thread. One
 * streaming sweep over the merged host and guest files counts the guest events inside.
 */
#ifndef VT_CONTAINMENT_H
#define VT_CONTAINMENT_H

#include "vt/common.h"
#include "vt/dat.h"

/* Guest stream -> host vCPU thread. */
struct vt_stream_tid {
	unsigned file;		/* index into the files (0 = host) */
	size_t buffer;
	unsigned cpu;
	int32_t tid;
};

struct vt_outside_event {
	unsigned file;
	unsigned cpu;
	uint64_t host_tsc;
};

#define VT_OUTSIDE_LIST_MAX 100

struct vt_containment {
	bool available;		/* the host traced kvm_entry and kvm_exit */
	uint64_t host_events;	/* events of the host file seen by the sweep */
	uint64_t guest_events;	/* guest events of mapped vCPUs */
	uint64_t inside;	/* of them, inside a guest-mode interval */
	uint64_t unmapped;	/* guest events of a stream without a vCPU thread */
	struct vt_outside_event outside[VT_OUTSIDE_LIST_MAX];	/* the first ones outside */
	size_t noutside;
};

/*
 * vt_containment_sweep - @files[0] is the host trace, the others converted guest
 * traces; @map gives each guest stream's vCPU thread. Return: 0 (result in @ret, with
 * available=false when the host has no kvm_entry/kvm_exit), -errno.
 */
int vt_containment_sweep(struct vt_dat *const *files, size_t nfiles,
			 const struct vt_stream_tid *map, size_t nmap, struct vt_containment *ret,
			 struct vt_errbuf *eb);

#endif
