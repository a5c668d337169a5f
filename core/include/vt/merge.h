/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Streaming k-way merge of per-CPU event streams of several trace.dat files (host
 * first, then converted guest files) on one time axis. One page per stream is held;
 * memory does not grow with the trace length. Ties go to the earlier file, then the
 * earlier buffer, then the lower CPU (the order trace-cmd report uses).
 */
#ifndef VT_MERGE_H
#define VT_MERGE_H

#include "vt/common.h"
#include "vt/dat.h"

struct vt_merge_item {
	struct vt_event ev;	/* payload borrowed until the next vt_merge_next */
	unsigned file;		/* index into the files given to vt_merge_new */
	size_t buffer;
	unsigned cpu;
};

struct vt_merge;

/*
 * vt_merge_new - merge every buffer and CPU of @files (borrowed; must outlive the
 * merge). Return: 0 with *ret (free with vt_merge_free), -errno.
 */
int vt_merge_new(struct vt_dat *const *files, size_t nfiles, struct vt_merge **ret,
		 struct vt_errbuf *eb);
/* 1 with the next item, 0 at the end, -errno / -EBADMSG (reason in @eb). */
int vt_merge_next(struct vt_merge *m, struct vt_merge_item *ret, struct vt_errbuf *eb);
void vt_merge_free(struct vt_merge *m);

#endif
