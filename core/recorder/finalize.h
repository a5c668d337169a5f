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
 * first. On failure the state is "failed" with the reason and the spool is kept.
 * Return: 0, -errno (reason in @eb).
 */
int rec_finalize(const struct vt_run *run, bool complete, const char *reason,
		 struct vt_errbuf *eb);

/*
 * rec_recover - finalize as "incomplete" ("recorder died") every run of @domain (NULL:
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

#endif
