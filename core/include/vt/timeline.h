/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Offset timelines: per QEMU process and per vCPU, the ordered TSC offset writes found
 * in a host trace (kvm:kvm_write_tsc_offset), or given by another source (debugfs,
 * probe, user). Writes of other processes (other VMs, libvirtd's capability probes)
 * are counted and left out.
 */
#ifndef VT_TIMELINE_H
#define VT_TIMELINE_H

#include "vt/common.h"
#include "vt/segments.h"

struct vt_dat;

/* A sorted set of thread ids (the threads of one QEMU process). */
struct vt_tidset {
	int32_t *tids;
	size_t n;
};

void vt_tidset_fini(struct vt_tidset *set);
bool vt_tidset_has(const struct vt_tidset *set, int32_t tid);
/* add one tid (keeps the set sorted, no duplicates): 0 or -ENOMEM */
int vt_tidset_add(struct vt_tidset *set, int32_t tid);
/*
 * vt_tidset_from_tgids - the threads of @pid in a saved_tgids text ("tid tgid" lines,
 * /sys/kernel/tracing/saved_tgids). @pid itself is always in the set.
 * Return: 0, -EBADMSG on a malformed line (reason in @eb), -ENOMEM.
 */
int vt_tidset_from_tgids(const char *text, int32_t pid, struct vt_tidset *ret,
			 struct vt_errbuf *eb);

struct vt_vcpu_timeline {
	uint32_t vcpu_id;	/* KVM vcpu id (the APIC id on x86) */
	int32_t tid;		/* host thread of the vCPU (common_pid of its writes), -1 unknown */
	struct vt_tsc_write *writes;
	size_t nwrites;
};

struct vt_timeline {
	int32_t pid;		/* QEMU process, -1 when unknown */
	struct vt_vcpu_timeline *vcpus;	/* sorted by vcpu_id */
	size_t nvcpus;
	uint64_t foreign_writes;	/* writes of other processes, left out */
	uint64_t events_seen;	/* kvm_write_tsc_offset events in the file */
};

/*
 * vt_timeline_from_dat - scan every buffer of @host for kvm:kvm_write_tsc_offset and
 * build the timeline of the threads in @tids. With @tids NULL the file must hold the
 * writes of exactly one VM (no vcpu id written by two threads), else -EEXIST with the
 * reason in @eb. The previous offset of each write is the preceding write's next offset
 * (the event's previous_tsc_offset field is not trusted: it reads 0 on some hosts).
 * Return: 0 with *ret (free with vt_timeline_free); -ENOENT when the file has no such
 * event format or no write of these threads; -EBADMSG on a corrupt file.
 */
int vt_timeline_from_dat(struct vt_dat *host, const struct vt_tidset *tids, int32_t pid,
			 struct vt_timeline **ret, struct vt_errbuf *eb);

/*
 * vt_timeline_constant - a timeline from one known offset per vCPU (sources debugfs,
 * probe, user): @offsets[i] for vCPU @vcpu_ids[i], valid from @host_tsc on, error bound
 * @error_ticks. Return: 0 with *ret, -EINVAL, -ENOMEM.
 */
int vt_timeline_constant(const uint32_t *vcpu_ids, const uint64_t *offsets, size_t n,
			 uint64_t host_tsc, enum vt_offset_source source, uint64_t error_ticks,
			 struct vt_timeline **ret);

void vt_timeline_free(struct vt_timeline *tl);

/* "tracepoint", "debugfs", "probe", "user" (borrowed) */
const char *vt_offset_source_name(enum vt_offset_source src);
/* -EINVAL for an unknown name */
int vt_offset_source_parse(const char *name, enum vt_offset_source *ret);

#endif
