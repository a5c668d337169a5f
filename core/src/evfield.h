/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Event ids and field positions resolved once from a file's formats, then read from
 * record payloads with bounds checks (no libtraceevent call per event); and records
 * printed by libtraceevent from a padded copy, so that a hostile format cannot make it
 * read past the record.
 */
#ifndef VT_EVFIELD_H
#define VT_EVFIELD_H

#include "vt/common.h"
#include "vt/page.h"

struct tep_event;
struct tep_handle;
struct tep_record;
struct trace_seq;

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

/*
 * vtc_format_parse - tep_parse_event of one format text of a file (possibly a hostile
 * guest's), checked first: libtraceevent 1.7 crashes on malformed field lines and on
 * many a syntax error or REC->x of no field x in the print section, cannot parse sizeof
 * (with use-after-frees on the way), and divides without a zero check when it folds
 * constants at parse time and evaluates print arguments at print time. A text whose
 * lines before "print" are not name/ID/format/field lines as tracefs writes them is
 * refused (-EBADMSG). A print section that is not one well-formed line of C expression
 * characters, names a field the format lacks, uses sizeof, divides (/ or %) by anything
 * but a non-zero literal, or is built otherwise than the kernel builds its formats
 * (operators libtraceevent does not know, chains of unary operators, subscripts or
 * braces outside the kernel's "REC->f[N]" and "{ VALUE, "NAME" }", an unclosed "?") is
 * left out: the event keeps its fields and prints them raw (returns 1). Else
 * tep_parse_event's result. *@ret_kept (if not NULL) is set to the length of the text
 * that was parsed: @len, or that of the lines before the print line when it returns 1.
 */
int vtc_format_parse(struct tep_handle *tep, const char *text, size_t len, const char *sys,
		     size_t *ret_kept);

/*
 * Printing a record with libtraceevent, which believes the format: it reads fields at
 * the format's offsets and strings up to their NUL, whatever the record's size. The
 * record is printed from a copy in a zeroed buffer that reaches past the furthest byte
 * the event's fields can name (dynamic fields: offset and length of 16 bits each).
 */
#define VTC_PRINT_MAX_EXTENT (1u << 20)	/* an event whose fields reach further: not printed */

struct vtc_print_buf {
	uint8_t *buf;	/* cap bytes, all zero between calls */
	size_t cap;
};

/* free the buffer (an unused vtc_print_buf is all zero) */
void vtc_print_buf_fini(struct vtc_print_buf *pb);
/* bytes past a record's start that @event's fields can reach; -EBADMSG past
 * VTC_PRINT_MAX_EXTENT or for a negative offset or size */
int vtc_event_extent(const struct tep_event *event, size_t *ret);
/*
 * vtc_print_event - the info column of @rec (an event of @event) into @s, as
 * tep_print_event "%s" TEP_PRINT_INFO prints it; a malformed format prints
 * "[malformed format]". 0, -ENOMEM.
 */
int vtc_print_event(struct tep_handle *tep, const struct tep_event *event,
		    const struct tep_record *rec, struct vtc_print_buf *pb, struct trace_seq *s);

#endif
