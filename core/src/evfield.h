/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Event ids and field positions resolved once from a file's formats, then read from
 * record payloads with bounds checks (no libtraceevent call per event).
 */
#ifndef VT_EVFIELD_H
#define VT_EVFIELD_H

#include "vt/common.h"
#include "vt/page.h"

struct tep_handle;

struct vtc_field {
	int offset;	/* -1 when the event has no such field */
	int size;
};

struct vtc_evdesc {
	int id;		/* -1 when the file has no such event */
	struct vtc_field f[4];
};

/*
 * vtc_evdesc_find - look up @sys:@name in @tep and the offsets of up to 4 fields named
 * in @fields (NULL-terminated). Missing event: id -1. Missing field: offset -1.
 */
void vtc_evdesc_find(struct tep_handle *tep, const char *sys, const char *name,
		     const char *const *fields, struct vtc_evdesc *ret);

/* unsigned value of field @i of @ev (1..8 bytes, little endian): 0, or -EBADMSG when the
 * field lies outside the payload or is missing */
int vtc_field_u64(const struct vtc_evdesc *d, unsigned i, const struct vt_event *ev,
		  uint64_t *ret);

#endif
