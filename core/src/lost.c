// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Lost host events: the ring buffers' per-CPU counts saved when recording stops, and
 * host.dat's missed-events pages, into the manifest's "lost_events".
 */
#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tracefs.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "vt/dat.h"
#include "vt/instances.h"
#include "vt/lost.h"
#include "vt/manifest.h"

/* the buffer names of host.dat (top buffer = the main instance) and of the stats file */
#define MAIN_NAME "main"
#define TSC_NAME "tsc"
/* CPUs listed in the manifest per buffer */
#define MAX_CPUS 4096

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

int vt_lost_parse_stats(const char *text, size_t len, struct vt_lost_ring *ret)
{
	static const struct {
		const char *name;
		size_t off;
		bool required;
	} keys[] = {
		{ "overrun", offsetof(struct vt_lost_ring, overrun), true },
		{ "commit overrun", offsetof(struct vt_lost_ring, commit_overrun), false },
		{ "dropped events", offsetof(struct vt_lost_ring, dropped), true },
		{ "entries", offsetof(struct vt_lost_ring, unread), false },
	};
	bool seen[sizeof(keys) / sizeof(keys[0])] = { false };
	size_t pos = 0;

	memset(ret, 0, sizeof(*ret));
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		const char *colon = memchr(line, ':', llen);

		pos += llen + 1;
		if (!colon)
			continue;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			char num[32];
			size_t nlen = (size_t)(colon - line), vlen;
			const char *v = colon + 1;
			uint64_t val;

			if (nlen != strlen(keys[k].name) || memcmp(line, keys[k].name, nlen))
				continue;
			while (v < line + llen && *v == ' ')
				v++;
			vlen = (size_t)(line + llen - v);
			if (!vlen || vlen >= sizeof(num))
				return vtc_err(EBADMSG);
			memcpy(num, v, vlen);
			num[vlen] = '\0';
			if (vtc_parse_u64(num, &val) < 0)
				return vtc_err(EBADMSG);
			*(uint64_t *)((char *)ret + keys[k].off) = val;
			seen[k] = true;
		}
	}
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (keys[k].required && !seen[k])
			return vtc_err(EBADMSG);
	return 0;
}

static uint64_t ring_lost(const struct vt_lost_ring *r)
{
	return r->overrun + r->commit_overrun + r->dropped + r->unread;
}

/* the stats of every CPU of instance @name into @arr as {"buffer","cpu",counts} */
static int ring_read_one(const char *name, const char *label, struct json_object *arr,
			 struct vt_errbuf *eb)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	struct tracefs_instance *inst;
	int r = 0;

	if (!tracefs_instance_exists(name))
		return 0;
	inst = tracefs_instance_alloc(NULL, name);
	if (!inst)
		return vtc_errf(eb, errno ? errno : ENOMEM, "instance %s: %s", name,
				strerror(errno ? errno : ENOMEM));
	for (long cpu = 0; !r && cpu < (cpus > 0 ? cpus : 1) && cpu < MAX_CPUS; cpu++) {
		_cleanup_free_ char *text = NULL;
		struct vt_lost_ring ring;
		struct json_object *o;
		char file[64];
		int size = 0;

		snprintf(file, sizeof(file), "per_cpu/cpu%ld/stats", cpu);
		text = tracefs_instance_file_read(inst, file, &size);
		if (!text)
			continue; /* an offline CPU has no buffer */
		if (size < 0 || vt_lost_parse_stats(text, (size_t)size, &ring) < 0) {
			r = vtc_errf(eb, EBADMSG, "instance %s: %s: cannot parse", name, file);
			break;
		}
		o = json_object_new_object();
		if (!o || json_object_object_add(o, "buffer", json_object_new_string(label)) < 0 ||
		    json_object_object_add(o, "cpu", json_object_new_int64(cpu)) < 0 ||
		    json_object_object_add(o, "overrun", json_object_new_uint64(ring.overrun)) < 0 ||
		    json_object_object_add(o, "commit_overrun",
					   json_object_new_uint64(ring.commit_overrun)) < 0 ||
		    json_object_object_add(o, "dropped", json_object_new_uint64(ring.dropped)) < 0 ||
		    json_object_object_add(o, "unread", json_object_new_uint64(ring.unread)) < 0 ||
		    json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			r = vtc_err(ENOMEM);
		}
	}
	tracefs_instance_free(inst);
	return r;
}

int vt_lost_ring_save(const char *domain, const char *path, struct vt_errbuf *eb)
{
	struct json_object *arr __attribute__((cleanup(json_putp))) = json_object_new_array();
	char name[300], tsc[300];
	const char *text;
	int r;

	if (!arr)
		return vtc_err(ENOMEM);
	r = vt_instance_name(domain, false, name, sizeof(name));
	if (!r)
		r = vt_instance_name(domain, true, tsc, sizeof(tsc));
	if (r < 0)
		return vtc_errf(eb, r, "domain '%.64s': bad name for an instance", domain);
	if (!tracefs_instance_exists(name) && !tracefs_instance_exists(tsc))
		return vtc_errf(eb, ENOENT, "domain %s: no instance to read the ring counts of",
				domain);
	r = ring_read_one(name, MAIN_NAME, arr, eb);
	if (!r)
		r = ring_read_one(tsc, TSC_NAME, arr, eb);
	if (r < 0)
		return r;
	text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
	r = vtc_write_file_atomic(path, text, strlen(text));
	if (r < 0)
		return vtc_errf(eb, r, "%s: %s", path, strerror(-r));
	return 0;
}

/* per buffer and CPU, what the pages and the ring said */
struct cpu_count {
	struct vt_lost_ring ring;
	bool have_ring;
	uint64_t events, pages_flagged, missed_in_pages;
};

struct buf_count {
	const char *label;
	unsigned ncpus;
	struct cpu_count *cpus;
};

static int count_pages(struct vt_dat *dat, size_t b, struct buf_count *bc, struct vt_errbuf *eb)
{
	for (unsigned cpu = 0; cpu < bc->ncpus; cpu++) {
		struct cpu_count *cc = &bc->cpus[cpu];
		struct vt_dat_cpu *c = NULL;
		uint64_t last_page = UINT64_MAX;
		struct vt_event ev;
		int r = vt_dat_cpu_open(dat, b, cpu, &c, eb);

		while (r >= 0 && (r = vt_dat_cpu_next_event(c, &ev, eb)) > 0) {
			cc->events++;
			if (vt_dat_cpu_page_index(c) == last_page)
				continue;
			last_page = vt_dat_cpu_page_index(c);
			if (vt_dat_cpu_page_missed(c)) {
				uint64_t n = vt_dat_cpu_page_missed_count(c);

				/* a flagged page without a stored count lost at least one */
				cc->pages_flagged++;
				cc->missed_in_pages += n ? n : 1;
			}
		}
		vt_dat_cpu_close(c);
		if (r < 0)
			return r;
	}
	return 0;
}

/* the saved ring counts into @bufs (entries of unknown buffers or CPUs are ignored) */
static void apply_ring(const char *path, struct buf_count *bufs, size_t nbufs, bool *any)
{
	struct json_object *arr __attribute__((cleanup(json_putp))) = NULL;

	*any = false;
	if (!path || access(path, F_OK) < 0)
		return;
	arr = json_object_from_file(path);
	if (!arr || !json_object_is_type(arr, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *v;
		const char *label;
		int64_t cpu;

		if (!json_object_object_get_ex(o, "buffer", &v) || !(label = json_object_get_string(v)) ||
		    !json_object_object_get_ex(o, "cpu", &v))
			continue;
		cpu = json_object_get_int64(v);
		for (size_t b = 0; b < nbufs; b++) {
			struct cpu_count *cc;

			if (strcmp(bufs[b].label, label) || cpu < 0 || cpu >= bufs[b].ncpus)
				continue;
			cc = &bufs[b].cpus[cpu];
#define GET(key, field)                                                                       \
	if (json_object_object_get_ex(o, key, &v))                                            \
		cc->ring.field = json_object_get_uint64(v);
			GET("overrun", overrun)
			GET("commit_overrun", commit_overrun)
			GET("dropped", dropped)
			GET("unread", unread)
#undef GET
			cc->have_ring = true;
			*any = true;
		}
	}
}

static int put_cpu(struct json_object *arr, const char *label, unsigned cpu,
		   const struct cpu_count *cc, uint64_t lost)
{
	struct json_object *o = json_object_new_object();

	if (!o || json_object_object_add(o, "buffer", json_object_new_string(label)) < 0 ||
	    json_object_object_add(o, "cpu", json_object_new_int64(cpu)) < 0 ||
	    json_object_object_add(o, "lost", json_object_new_uint64(lost)) < 0 ||
	    (cc->have_ring &&
	     (json_object_object_add(o, "overrun", json_object_new_uint64(cc->ring.overrun)) < 0 ||
	      json_object_object_add(o, "commit_overrun",
				     json_object_new_uint64(cc->ring.commit_overrun)) < 0 ||
	      json_object_object_add(o, "dropped", json_object_new_uint64(cc->ring.dropped)) < 0 ||
	      json_object_object_add(o, "unread", json_object_new_uint64(cc->ring.unread)) < 0)) ||
	    json_object_object_add(o, "pages_flagged", json_object_new_uint64(cc->pages_flagged)) <
		0 ||
	    json_object_object_add(o, "missed_in_pages",
				   json_object_new_uint64(cc->missed_in_pages)) < 0 ||
	    json_object_array_add(arr, o) < 0) {
		json_object_put(o);
		return vtc_err(ENOMEM);
	}
	return 0;
}

static void free_bufs(struct buf_count *bufs, size_t n)
{
	for (size_t b = 0; b < n; b++)
		free(bufs[b].cpus);
}

int vt_lost_account(struct json_object *root, struct vt_dat *host, const char *ring_path,
		    struct vt_lost_totals *ret, struct vt_errbuf *eb)
{
	struct buf_count bufs[8] = { { NULL, 0, NULL } };
	size_t nbufs = vt_dat_nbuffers(host);
	struct json_object *lost = NULL, *cpus = NULL;
	char detail[256] = "";
	bool any_ring;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (nbufs > sizeof(bufs) / sizeof(bufs[0]))
		nbufs = sizeof(bufs) / sizeof(bufs[0]);
	for (size_t b = 0; b < nbufs; b++) {
		const char *name = vt_dat_buffer_name(host, b);

		bufs[b].label = b == 0 || !name || !*name ? MAIN_NAME : name;
		bufs[b].ncpus = vt_dat_buffer_ncpus(host, b);
		if (bufs[b].ncpus > MAX_CPUS)
			bufs[b].ncpus = MAX_CPUS;
		bufs[b].cpus = calloc(bufs[b].ncpus ? bufs[b].ncpus : 1, sizeof(*bufs[b].cpus));
		if (!bufs[b].cpus) {
			free_bufs(bufs, b);
			return vtc_err(ENOMEM);
		}
	}
	for (size_t b = 0; !r && b < nbufs; b++)
		r = count_pages(host, b, &bufs[b], eb);
	if (r < 0)
		goto out;
	apply_ring(ring_path, bufs, nbufs, &any_ring);
	ret->exact = any_ring;
	lost = json_object_new_object();
	cpus = json_object_new_array();
	if (!lost || !cpus) {
		json_object_put(lost);
		json_object_put(cpus);
		r = vtc_err(ENOMEM);
		goto out;
	}
	for (size_t b = 0; !r && b < nbufs; b++) {
		for (unsigned cpu = 0; !r && cpu < bufs[b].ncpus; cpu++) {
			const struct cpu_count *cc = &bufs[b].cpus[cpu];
			uint64_t pages = cc->missed_in_pages;
			uint64_t n = cc->have_ring && ring_lost(&cc->ring) > pages
					 ? ring_lost(&cc->ring)
					 : pages;

			ret->events += cc->events;
			ret->lost_pages += cc->pages_flagged;
			ret->lost += n;
			if (n) {
				size_t l = strlen(detail);

				if (l < sizeof(detail) - 48)
					snprintf(detail + l, sizeof(detail) - l, "%s%s CPU %u: %" PRIu64,
						 l ? ", " : "", bufs[b].label, cpu, n);
			}
			r = put_cpu(cpus, bufs[b].label, cpu, cc, n);
		}
	}
	if (!r && (json_object_object_add(lost, "total", json_object_new_uint64(ret->lost)) < 0 ||
		   json_object_object_add(lost, "exact", json_object_new_boolean(any_ring)) < 0 ||
		   json_object_object_add(
		       lost, "source",
		       json_object_new_string(any_ring ? "ring buffer counts at stop and pages"
						       : "pages' missed-events marks only (no ring "
							 "buffer counts: a lower bound)")) < 0))
		r = vtc_err(ENOMEM);
	if (!r && json_object_object_add(lost, "cpus", cpus) < 0)
		r = vtc_err(ENOMEM);
	else if (!r)
		cpus = NULL;
	json_object_put(cpus);
	if (!r && json_object_object_add(root, "lost_events", lost) < 0)
		r = vtc_err(ENOMEM);
	else if (!r)
		lost = NULL;
	json_object_put(lost);
	if (!r && ret->lost)
		vt_manifest_add_warning(root,
					"host: %" PRIu64 "%s events lost in the ring buffers (%s%s): "
					"the reader fell behind; give the host a larger buffer_kb "
					"or trace fewer events",
					ret->lost, any_ring ? "" : " or more", detail,
					strlen(detail) >= sizeof(detail) - 48 ? ", ..." : "");
out:
	free_bufs(bufs, nbufs);
	return r;
}
