// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Event ids and field positions from a file's formats; bounded field reads.
 */
#include <errno.h>
#include <event-parse.h>

#include "evfield.h"
#include "util.h"

void vtc_evdesc_find(struct tep_handle *tep, const char *sys, const char *name,
		     const char *const *fields, struct vtc_evdesc *ret)
{
	struct tep_event *event = tep ? tep_find_event_by_name(tep, sys, name) : NULL;
	unsigned i;

	ret->id = event ? event->id : -1;
	for (i = 0; i < 4; i++) {
		ret->f[i].offset = -1;
		ret->f[i].size = 0;
	}
	for (i = 0; event && fields && i < 4 && fields[i]; i++) {
		struct tep_format_field *field = tep_find_field(event, fields[i]);

		if (!field || field->size < 1 || field->size > 8)
			continue;
		ret->f[i].offset = field->offset;
		ret->f[i].size = field->size;
	}
}

int vtc_field_u64(const struct vtc_evdesc *d, unsigned i, const struct vt_event *ev,
		  uint64_t *ret)
{
	const struct vtc_field *f = &d->f[i];
	uint64_t v = 0;

	if (i >= 4 || f->offset < 0 || (size_t)f->offset + (size_t)f->size > ev->size)
		return vtc_err(EBADMSG);
	memcpy(&v, (const char *)ev->data + f->offset, (size_t)f->size);
	*ret = le64toh(v);
	return 0;
}
