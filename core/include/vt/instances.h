/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The two tracefs instances of a traced domain (DESIGN.md §2): "virt-trace-<escaped>"
 * with the configured host events and "virt-trace-<escaped>-tsc" with
 * kvm:kvm_write_tsc_offset alone; both clock x86-tsc, record-tgid, tracing on.
 * Created by the hook ('prepare begin' / 'start begin') and by 'virt-trace start'; the
 * recorder reads them and destroys them when its run is final.
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
 * vt_instances_create_tsc - create (or re-create a stale one) @domain's -tsc instance:
 * kvm:kvm_write_tsc_offset alone, no overwrite (it keeps the oldest writes when its
 * reader is late), @tsc_kb per CPU (0: the kernel's default), clock x86-tsc, tracing
 * on. This is what must exist before QEMU creates its vCPUs.
 * Return: 0; -EBUSY when a live recorder of @domain holds the domain lock; -ENOENT when
 * kvm:kvm_write_tsc_offset does not exist (kvm not loaded; nothing is left behind);
 * -errno (reason in @eb).
 */
int vt_instances_create_tsc(const char *domain, unsigned tsc_kb, struct vt_errbuf *eb);

/*
 * vt_instances_create_main - create (or re-create) @domain's main instance with
 * @host_events, a comma list of "sys:event" ("sys:*" and globs allowed), @host_kb per
 * CPU (0: the kernel's default), clock x86-tsc, record-tgid, tracing on. It does not
 * look at the domain lock: the recorder may already wait for it (vt_instances_lock).
 * Return: 0; a positive count of patterns that matched no event (named in @eb; the
 * instance traces the others); -errno (nothing is left behind).
 */
int vt_instances_create_main(const char *domain, const char *host_events, unsigned host_kb,
			     struct vt_errbuf *eb);

/*
 * vt_instances_create - both: the -tsc instance, then the main one (the -tsc one is
 * removed again when the main one fails). Return: as vt_instances_create_main, plus
 * the errors of vt_instances_create_tsc.
 */
int vt_instances_create(const char *domain, const char *host_events, unsigned host_kb,
			unsigned tsc_kb, struct vt_errbuf *eb);

/*
 * vt_instances_lock - take @domain's setup lock (<rundir>/<escaped>.setup), or with
 * @tsc_part the lock of its -tsc part (.tsc-setup). Whoever creates or removes the
 * instances holds .setup until both are done, and .tsc-setup until the -tsc instance
 * traces; the recorder takes .setup before it opens them. @timeout_ms: < 0 waits, 0
 * does not, > 0 waits that long.
 * Return: the fd that holds the lock (close it to release), -EWOULDBLOCK, -ETIMEDOUT,
 * -errno.
 */
int vt_instances_lock(const char *domain, bool tsc_part, int timeout_ms);

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
