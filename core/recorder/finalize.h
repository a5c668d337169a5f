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

#endif
