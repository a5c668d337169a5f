// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * manifest.json: build from the conversion results, write atomically, read back.
 */
#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "sha256.h"
#include "util.h"
#include "vt/dat.h"
#include "vt/manifest.h"

/* json_object_object_add that reports failure (and drops @val then) */
static int put(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val)
		return vtc_err(ENOMEM);
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return vtc_err(ENOMEM);
	}
	return 0;
}

static int push(struct json_object *arr, struct json_object *val)
{
	if (!val)
		return vtc_err(ENOMEM);
	if (json_object_array_add(arr, val) < 0) {
		json_object_put(val);
		return vtc_err(ENOMEM);
	}
	return 0;
}

static struct json_object *hex64(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%016" PRIx64, v);
	return json_object_new_string(buf);
}

static struct json_object *u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

struct json_object *vt_manifest_new(const char *state)
{
	struct json_object *root = json_object_new_object();

	if (!root)
		return NULL;
	if (put(root, "tool", json_object_new_string("virt-trace")) < 0 ||
	    put(root, "tool_version", json_object_new_string(VT_VERSION)) < 0 ||
	    put(root, "format", json_object_new_int(1)) < 0 ||
	    put(root, "state", json_object_new_string(state)) < 0 ||
	    put(root, "warnings", json_object_new_array()) < 0) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

int vt_manifest_set_host(struct json_object *root, const char *file, struct vt_dat *host,
			 uint64_t trace_id, uint64_t events, uint64_t lost_pages)
{
	struct json_object *h = json_object_new_object();
	const struct vt_dat_meta *meta = vt_dat_meta(host);
	struct vt_tsc2nsec t;
	int r;

	if (!h)
		return vtc_err(ENOMEM);
	r = put(root, "host", h);
	if (r < 0)
		return r;
	r = put(h, "file", json_object_new_string(file));
	if (!r)
		r = put(h, "trace_id", hex64(trace_id));
	if (!r)
		r = put(h, "clock", json_object_new_string(vt_dat_buffer_clock(host, 0)));
	if (!r && meta && meta->uname)
		r = put(h, "kernel", json_object_new_string(meta->uname));
	if (!r)
		r = put(h, "events", u64(events));
	if (!r)
		r = put(h, "lost_pages", u64(lost_pages));
	if (!r && vt_dat_tsc2nsec(host, &t)) {
		struct json_object *o = json_object_new_object();

		r = put(root, "tsc2nsec", o);
		if (!r)
			r = put(o, "mult", u64(t.mult));
		if (!r)
			r = put(o, "shift", u64(t.shift));
		if (!r)
			r = put(o, "offset", u64(t.offset));
	}
	return r;
}

static struct json_object *offset_entry(const struct vt_tsc_write *w)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (put(o, "host_tsc", u64(w->host_tsc)) < 0 || put(o, "offset", hex64(w->next_offset)) < 0 ||
	    put(o, "offset_s64", json_object_new_int64((int64_t)w->next_offset)) < 0 ||
	    put(o, "source", json_object_new_string(vt_offset_source_name(w->source))) < 0 ||
	    put(o, "error_ticks", u64(w->error_ticks)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int vt_manifest_set_timeline(struct json_object *root, const struct vt_timeline *tl,
			     const struct vt_tsc_scale *scale)
{
	struct json_object *vcpus = json_object_new_array();
	int r = put(root, "vcpus", vcpus);

	if (!r && tl && tl->pid >= 0)
		r = put(root, "qemu_pid", json_object_new_int(tl->pid));
	if (!r && tl)
		r = put(root, "foreign_writes", u64(tl->foreign_writes));
	if (!r && scale && scale->ratio) {
		struct json_object *s = json_object_new_object();

		r = put(root, "scaling", s);
		if (!r)
			r = put(s, "ratio", u64(scale->ratio));
		if (!r)
			r = put(s, "frac_bits", u64(scale->frac_bits));
	}
	for (size_t i = 0; !r && tl && i < tl->nvcpus; i++) {
		const struct vt_vcpu_timeline *v = &tl->vcpus[i];
		struct json_object *o = json_object_new_object(), *offs;

		r = push(vcpus, o);
		if (!r)
			r = put(o, "vcpu", json_object_new_int((int)i));
		if (!r)
			r = put(o, "apic_id", u64(v->vcpu_id));
		if (!r)
			r = put(o, "tid", json_object_new_int(v->tid));
		offs = json_object_new_array();
		if (!r)
			r = put(o, "offsets", offs);
		for (size_t w = 0; !r && w < v->nwrites; w++)
			r = push(offs, offset_entry(&v->writes[w]));
	}
	return r;
}

static const char *how_name(enum vt_seg_how how)
{
	static const char *const names[] = { "initial", "marker", "rule", "containment",
					     "ambiguous" };

	return how <= VT_SEG_AMBIGUOUS ? names[how] : "unknown";
}

/* the boundary (write index) that a marker starts, or -1 */
static int64_t marker_boundary(const struct vt_convert_cpu *c, uint64_t index)
{
	for (size_t i = 0; i < c->nboundaries; i++)
		if (c->boundaries[i].how == VT_SEG_MARKER && c->boundaries[i].first_index == index)
			return (int64_t)c->boundaries[i].write;
	return -1;
}

static int add_markers(struct json_object *o, const struct vt_convert_cpu *c)
{
	struct json_object *list = json_object_new_array();
	int r = put(o, "marker_events", list);

	for (size_t i = 0; !r && i < c->nmarker_list; i++) {
		const struct vt_marker_event *m = &c->marker_list[i];
		struct json_object *e = json_object_new_object();
		int64_t write = marker_boundary(c, m->index);

		r = push(list, e);
		if (!r)
			r = put(e, "index", u64(m->index));
		if (!r)
			r = put(e, "guest_tsc", u64(m->guest_tsc));
		if (!r)
			r = put(e, "msr", json_object_new_int((int)m->msr));
		if (!r)
			r = put(e, "value", hex64(m->value));
		/* the host offset write the marker starts, or null: no write matched (the
		 * guest TSC did not move, e.g. under TCG, or the write lies elsewhere) */
		if (!r && write >= 0)
			r = put(e, "boundary_write", u64((uint64_t)write));
		else if (!r && json_object_object_add(e, "boundary_write", NULL) < 0)
			r = vtc_err(ENOMEM);
	}
	return r;
}

static int add_cpu(struct json_object *cpus, const struct vt_convert_cpu *c)
{
	struct json_object *o = json_object_new_object(), *bs;
	int r = push(cpus, o);

	if (!r)
		r = put(o, "cpu", json_object_new_int((int)c->cpu));
	if (!r)
		r = put(o, "buffer", u64(c->buffer));
	if (!r)
		r = put(o, "apic_id", u64(c->vcpu_id));
	if (!r)
		r = put(o, "tid", json_object_new_int(c->tid));
	if (!r)
		r = put(o, "events", u64(c->events));
	if (!r)
		r = put(o, "markers", u64(c->markers));
	if (!r)
		r = add_markers(o, c);
	if (!r)
		r = put(o, "ambiguous", u64(c->ambiguous));
	if (!r)
		r = put(o, "lost_pages", u64(c->lost_pages));
	if (!r)
		r = put(o, "first_host_tsc", u64(c->first_host_tsc));
	if (!r)
		r = put(o, "last_host_tsc", u64(c->last_host_tsc));
	if (!r)
		r = put(o, "boot_write", u64(c->boot_write));
	if (!r)
		r = put(o, "boot_guessed", json_object_new_boolean(c->boot_guessed));
	if (!r)
		r = put(o, "unmatched_markers", u64(c->unmatched_markers));
	if (!r)
		r = put(o, "inconsistent", u64(c->inconsistent));
	bs = json_object_new_array();
	if (!r)
		r = put(o, "boundaries", bs);
	for (size_t i = 0; !r && i < c->nboundaries; i++) {
		const struct vt_boundary *b = &c->boundaries[i];
		struct json_object *bo = json_object_new_object();

		r = push(bs, bo);
		if (!r)
			r = put(bo, "write", u64(b->write));
		if (!r)
			r = put(bo, "first_index", u64(b->first_index));
		if (!r)
			r = put(bo, "how", json_object_new_string(how_name(b->how)));
		if (!r)
			r = put(bo, "ambiguous", u64(b->ambiguous));
	}
	return r;
}

int vt_manifest_add_guest(struct json_object *root, const char *file, unsigned boot,
			  struct vt_dat *guest, const struct vt_convert_result *res)
{
	const struct vt_dat_meta *meta = vt_dat_meta(guest);
	struct json_object *guests, *g, *cpus, *amb, *list;
	int r = 0;

	if (!json_object_object_get_ex(root, "guests", &guests)) {
		guests = json_object_new_array();
		r = put(root, "guests", guests);
		if (r < 0)
			return r;
	}
	g = json_object_new_object();
	r = push(guests, g);
	if (!r)
		r = put(g, "file", json_object_new_string(file));
	if (!r)
		r = put(g, "boot", json_object_new_int((int)boot));
	if (!r)
		r = put(g, "trace_id", hex64(res->trace_id));
	if (!r && meta && meta->uname)
		r = put(g, "kernel", json_object_new_string(meta->uname));
	if (!r)
		r = put(g, "events", u64(res->events));
	if (!r)
		r = put(g, "containment_used", json_object_new_boolean(res->containment_used));
	cpus = json_object_new_array();
	if (!r)
		r = put(g, "cpus", cpus);
	for (size_t i = 0; !r && i < res->ncpus; i++)
		r = add_cpu(cpus, &res->cpus[i]);
	amb = json_object_new_object();
	if (!r)
		r = put(g, "ambiguous", amb);
	if (!r)
		r = put(amb, "count", u64(res->ambiguous));
	list = json_object_new_array();
	if (!r)
		r = put(amb, "events", list);
	for (size_t i = 0; !r && i < res->namb; i++) {
		const struct vt_ambiguous_event *a = &res->amb[i];
		struct json_object *o = json_object_new_object();

		r = push(list, o);
		if (!r)
			r = put(o, "cpu", json_object_new_int((int)a->cpu));
		if (!r)
			r = put(o, "index", u64(a->index));
		if (!r)
			r = put(o, "guest_tsc", u64(a->guest_tsc));
		if (!r)
			r = put(o, "host_tsc", u64(a->host_tsc));
	}
	return r;
}

int vt_manifest_set_containment(struct json_object *root, const struct vt_containment *c)
{
	struct json_object *o = json_object_new_object();
	int r = put(root, "containment", o);

	if (!r)
		r = put(o, "available", json_object_new_boolean(c->available));
	if (!r && c->available) {
		r = put(o, "guest_events", u64(c->guest_events));
		if (!r)
			r = put(o, "inside", u64(c->inside));
		if (!r)
			r = put(o, "share",
				json_object_new_double(c->guest_events ? (double)c->inside /
										 (double)c->guest_events
								       : 1.0));
	}
	return r;
}

int vt_manifest_add_warning(struct json_object *root, const char *fmt, ...)
{
	struct json_object *w;
	char buf[512];
	va_list ap;

	if (!json_object_object_get_ex(root, "warnings", &w))
		return vtc_err(EINVAL);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return push(w, json_object_new_string(buf));
}

int vt_manifest_add_members(struct json_object *root, const char *dir,
			    const char *const *names, size_t n, struct vt_errbuf *eb)
{
	struct json_object *members = json_object_new_object();
	int r = put(root, "members", members);

	for (size_t i = 0; !r && i < n; i++) {
		char path[PATH_MAX], hex[65];
		struct json_object *o;
		uint64_t size;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		r = vtc_sha256_file(path, hex, &size);
		if (r < 0)
			return vtc_errf(eb, -r, "%s: %s", path, strerror(-r));
		o = json_object_new_object();
		r = put(members, names[i], o);
		if (!r)
			r = put(o, "sha256", json_object_new_string(hex));
		if (!r)
			r = put(o, "bytes", u64(size));
	}
	return r;
}

int vt_manifest_write(const char *dir, struct json_object *root, struct vt_errbuf *eb)
{
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
									JSON_C_TO_STRING_NOSLASHESCAPE);
	char path[PATH_MAX];
	_cleanup_free_ char *buf = NULL;
	int r;

	if (!text)
		return vtc_err(ENOMEM);
	if (asprintf(&buf, "%s\n", text) < 0)
		return vtc_err(ENOMEM);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	r = vtc_write_file_atomic(path, buf, strlen(buf));
	if (r < 0)
		return vtc_errf(eb, -r, "%s: %s", path, strerror(-r));
	return 0;
}

int vt_manifest_read(const char *dir, struct json_object **ret, struct vt_errbuf *eb)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	struct json_tokener *tok;
	struct json_object *root;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	r = vtc_read_file(path, &text, &len);
	if (r < 0)
		return vtc_errf(eb, -r, "%s: %s", path, strerror(-r));
	tok = json_tokener_new();
	if (!tok)
		return vtc_err(ENOMEM);
	root = json_tokener_parse_ex(tok, text, (int)(len > INT_MAX ? INT_MAX : len));
	if (!root || !json_object_is_type(root, json_type_object)) {
		const char *why = json_tokener_error_desc(json_tokener_get_error(tok));

		json_object_put(root);
		json_tokener_free(tok);
		return vtc_errf(eb, EBADMSG, "%s: not a manifest (%s)", path, why);
	}
	json_tokener_free(tok);
	*ret = root;
	return 0;
}
