/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Finalizing a run from its spool: host.dat (top buffer = the main instance, buffer
 * "tsc" = the -tsc instance), the offset timeline of QEMU's threads, manifest.json,
 * state complete or incomplete, spool removed. Used by the recorder at stop and by
 * 'virt-trace recover' for runs whose recorder died.
 */
#ifndef REC_FINALIZE_H
#define REC_FINALIZE_H

#include <stdbool.h>

#include "vt/common.h"
#include "vt/runstore.h"

struct json_object;
struct vt_dat;
struct vt_dat_format;
struct vt_dat_meta;
struct vt_datw;
struct vt_timeline;
struct vt_tsc_scale;

/*
 * rec_finalize - finalize @run: state "finalizing", then host.dat from every whole page
 * of spool/, timeline, warnings, members, state "complete" (@complete) or "incomplete"
 * with @reason (also kept with "complete" when non-NULL). When @run does not hold the
 * domain lock (recover), the lock is taken for the duration (-EBUSY if a live recorder
 * holds it) and what the domain's instances still buffer is drained into the spool
 * first. On failure the state is "failed" with the reason and the spool is kept; when
 * the disk has no room for the archive (-ENOSPC), the state stays "finalizing" with
 * @reason and REC_FINALIZE_NOSPACE, for 'virt-trace recover' to finish later.
 * Return: 0, -errno (reason in @eb).
 */
int rec_finalize(const struct vt_run *run, bool complete, const char *reason,
		 struct vt_errbuf *eb);

#define REC_FINALIZE_NOSPACE "finalizing stopped: no space left on device for the archive"

/*
 * rec_recover_reason - the reason an interrupted @run gets when it is recovered:
 * "recorder died" and what the recorder had noted in the manifest, or the reasons of a
 * finalize that ran out of space.
 */
void rec_recover_reason(const struct vt_run *run, char *buf, size_t len);

/*
 * rec_recover - finalize as "incomplete" (rec_recover_reason) every run of @domain (NULL:
 * every domain) in state recording or finalizing whose domain lock is free. *ret_n =
 * runs finalized. Return: 0, or the first error (-errno, reason in @eb) after trying
 * every run.
 */
int rec_recover(const char *domain, unsigned *ret_n, struct vt_errbuf *eb);

/* the ring buffers' lost-event counts, saved at stop for vt_lost_account (spool-relative) */
#define REC_RING_STATS "meta/ring-stats.json"
/*
 * rec_ring_stats_save - save the per-CPU ring stats of @domain's instances to
 * @spool/REC_RING_STATS (unless it exists and !@replace); a failure is logged.
 */
void rec_ring_stats_save(const char *domain, const char *spool, bool replace);

struct rec_page_stats {
	uint64_t pages, torn_bytes;
};

/*
 * rec_write_cpu - append the whole pages of the spool file @path (missing: none) to the
 * current CPU of @w; empty pages are skipped, a torn last page is counted.
 */
int rec_write_cpu(struct vt_datw *w, const char *path, const struct vt_dat_meta *meta,
		  struct rec_page_stats *st, struct vt_errbuf *eb);

/* ---- guest.c: the guest half */
#define REC_MAX_GUESTS 16
#define REC_MAX_VCPUS 1024

struct rec_guest_file {
	char name[32];		/* guest.dat, guest-boot2.dat, ... */
	uint64_t trace_id;
	uint32_t ncpus;
	uint32_t tids[REC_MAX_VCPUS];	/* guest CPU -> host vCPU thread */
};

struct rec_guests {
	struct rec_guest_file files[REC_MAX_GUESTS];
	size_t n;
};

#define REC_GUEST_MAX_FORMATS 4096

/*
 * rec_guest_meta - the trace.dat metadata of a guest from the agent's info JSON (texts
 * borrowed from @info; @formats has room for REC_GUEST_MAX_FORMATS). -EBADMSG when
 * incomplete.
 */
int rec_guest_meta(struct json_object *info, struct vt_dat_format *formats,
		   struct vt_dat_meta *m, struct vt_errbuf *eb);
/* guest CPU -> APIC id from the info's cpus[], which must list CPUs 0..n-1 once each
 * (*ret_n = 0 when it does not, has none, or more than @max) */
void rec_guest_apic_ids(struct json_object *info, uint32_t *ids, size_t max, size_t *ret_n);

/* whether the collector probed the offset of the first guest boot */
bool rec_guest_has_probe(const char *spool);
/*
 * rec_guest_finalize - convert every spool/guest-boot<K>/ of @run into guest.dat /
 * guest-boot<K>.dat (the host timeline @host_tl when it covers the guest's vCPUs, else
 * the boot's probe), add the manifest entries and "guest_agent" figures; *out lists the
 * files for host.dat's GUEST options. A boot that cannot be converted is a warning, the
 * rest is kept. Return: 0, -errno.
 */
int rec_guest_finalize(const struct vt_run *run, const char *spool, struct json_object *root,
		       struct vt_dat *host, const struct vt_timeline *host_tl,
		       const struct vt_tsc_scale *scale, struct rec_guests *out,
		       struct vt_errbuf *eb);

/* ---- guest-step.c: the guest half in a sandboxed child */
/*
 * rec_guest_step - rec_guest_finalize in a forked child confined by vt_sandbox_enter
 * (no_new_privs, no capabilities, writes only beneath @run->dir, bounded file size, a
 * deadline); its results are checked before they enter @root and @out, and
 * "guest_sandbox" in @root says what it ran in and how it ended. When it crashes, hangs
 * or reports nonsense, nothing of it is kept (files removed, *out empty), a warning
 * says why and @failure (else "") holds one line for the state reason. Return: 0.
 */
int rec_guest_step(const struct vt_run *run, const char *spool, struct json_object *root,
		   struct vt_dat *host, const struct vt_timeline *host_tl,
		   const struct vt_tsc_scale *scale, struct rec_guests *out, char *failure,
		   size_t failure_len);

#endif
