/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * manifest.json of a run directory (DESIGN.md §3), built and read with json-c.
 * TSC offsets are written as "0x..." hex strings of the two's-complement u64 (plus the
 * signed value as "offset_s64"), host TSC values as JSON integers.
 */
#ifndef VT_MANIFEST_H
#define VT_MANIFEST_H

#include "vt/common.h"
#include "vt/containment.h"
#include "vt/convert.h"
#include "vt/timeline.h"

struct json_object;

/* A new manifest root with tool, version and state (caller owns: json_object_put). */
struct json_object *vt_manifest_new(const char *state);
/* host part: file name, trace id, clock, kernel, tsc2nsec, events */
int vt_manifest_set_host(struct json_object *root, const char *file, struct vt_dat *host,
			 uint64_t trace_id, uint64_t events, uint64_t lost_pages);
int vt_manifest_set_timeline(struct json_object *root, const struct vt_timeline *tl,
			     const struct vt_tsc_scale *scale);
/* one guest file (boot 1, 2, ...) with its per-CPU conversion figures */
int vt_manifest_add_guest(struct json_object *root, const char *file, unsigned boot,
			  struct vt_dat *guest, const struct vt_convert_result *res);
int vt_manifest_set_containment(struct json_object *root, const struct vt_containment *c);
int vt_manifest_add_warning(struct json_object *root, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* sha256 and size of each named member of @dir */
int vt_manifest_add_members(struct json_object *root, const char *dir,
			    const char *const *names, size_t n, struct vt_errbuf *eb);
/* write @dir/manifest.json atomically (0640) */
int vt_manifest_write(const char *dir, struct json_object *root, struct vt_errbuf *eb);
/* read @dir/manifest.json: *ret owned by the caller (json_object_put) */
int vt_manifest_read(const char *dir, struct json_object **ret, struct vt_errbuf *eb);

#endif
