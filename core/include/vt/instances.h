/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The two tracefs instances of a traced domain (DESIGN.md §2): "virt-trace-<escaped>"
 * with the configured host events and "virt-trace-<escaped>-tsc" with
 * kvm:kvm_write_tsc_offset alone; both clock x86-tsc, record-tgid, tracing on.
 * Called by the hook at 'start begin' and by 'virt-trace start'; the recorder reads
 * them and destroys them when its run is final.
 */
#ifndef VT_INSTANCES_H
#define VT_INSTANCES_H

#include "vt/common.h"

#define VT_INSTANCE_PREFIX "virt-trace-"
#define VT_TSC_EVENT_SYSTEM "kvm"
#define VT_TSC_EVENT "kvm_write_tsc_offset"

/*
 * vt_instance_name - the instance name of @domain (@tsc: the -tsc one) into @out.
 * Return: 0, -EINVAL (empty name), -ENAMETOOLONG.
 */
int vt_instance_name(const char *domain, bool tsc, char *out, size_t len);

/*
 * vt_instances_create - create (or re-create, when a stale pair is left from a crash)
 * both instances of @domain and switch tracing on. @host_events is a comma list of
 * "sys:event" ("sys:*" and globs allowed); @host_kb / @tsc_kb are the per-CPU buffer
 * sizes (0: keep the kernel's default). The -tsc instance does not overwrite (it keeps
 * the oldest writes when its reader is late).
 * Return: 0; or a positive count of @host_events patterns that matched no event (named
 * in @eb; both instances are tracing anyway); -EBUSY when a live recorder of @domain
 * holds the domain lock; -ENOENT when kvm:kvm_write_tsc_offset does not exist (kvm not
 * loaded; nothing is left behind); -errno.
 */
int vt_instances_create(const char *domain, const char *host_events, unsigned host_kb,
			unsigned tsc_kb, struct vt_errbuf *eb);

/* Whether @domain's main instance exists. */
bool vt_instances_exist(const char *domain);

/*
 * vt_instances_drain - append what @domain's instances still buffer (no reader may be
 * open: a dead recorder's) to @spool/main/cpuN.raw and @spool/tsc/cpuN.raw, after
 * cutting a torn last page; switches tracing off first. Call it before destroying the
 * instances of a run whose recorder died, so that 'recover' keeps those pages.
 * Return: bytes appended, -errno (reason in @eb).
 */
int64_t vt_instances_drain(const char *domain, const char *spool, struct vt_errbuf *eb);

/*
 * vt_instances_destroy - switch tracing off and remove both instances (missing ones
 * are fine). Return: 0, -EBUSY while a reader still has a trace_pipe_raw open, -errno.
 */
int vt_instances_destroy(const char *domain, struct vt_errbuf *eb);

#endif
