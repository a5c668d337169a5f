/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The metadata of a host trace.dat taken from the live tracefs: header_page,
 * header_event, the ftrace formats, the formats of the events enabled in some
 * instances, /proc/kallsyms, printk_formats, saved_cmdlines and uname. It can be saved
 * into a directory laid out like tracefs (the recorder keeps one in its spool, so a run
 * can be finalized after the instances are gone) and loaded back.
 */
#ifndef VT_TRACEFS_META_H
#define VT_TRACEFS_META_H

#include "vt/common.h"
#include "vt/dat.h"

struct vt_tracefs_meta;

/*
 * vt_tracefs_meta_read - from the mounted tracefs: the formats of every event listed in
 * the set_event file of the @ninst @instances (names; NULL entries skipped) plus the
 * events "sys:event" of @extra (may be NULL), and everything else listed above.
 * Return: 0 with *ret (free with vt_tracefs_meta_free), -errno (reason in @eb).
 */
int vt_tracefs_meta_read(const char *const *instances, size_t ninst, const char *const *extra,
			 size_t nextra, struct vt_tracefs_meta **ret, struct vt_errbuf *eb);
/* write @m into @dir (created, 0750; files 0640): events/..., kallsyms, ... */
int vt_tracefs_meta_save(const struct vt_tracefs_meta *m, const char *dir,
			 struct vt_errbuf *eb);
/* load what vt_tracefs_meta_save wrote (every format found under @dir/events) */
int vt_tracefs_meta_load(const char *dir, struct vt_tracefs_meta **ret, struct vt_errbuf *eb);
/* replace the saved_cmdlines text (copied); 0 or -ENOMEM */
int vt_tracefs_meta_set_cmdlines(struct vt_tracefs_meta *m, const char *text, size_t len);
/* re-read saved_cmdlines from the live tracefs (at finalize time); 0 or -errno */
int vt_tracefs_meta_refresh_cmdlines(struct vt_tracefs_meta *m);
/* the metadata for vt_datw_create; borrowed from @m */
const struct vt_dat_meta *vt_tracefs_meta_get(const struct vt_tracefs_meta *m);
void vt_tracefs_meta_free(struct vt_tracefs_meta *m);

#endif
