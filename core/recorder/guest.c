// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Finalize the guest half of a run: each spool/guest-boot<K>/ (the collector's pages and
 * the agent's info) becomes a raw guest trace.dat (guest TSC), converted onto the host
 * TSC axis as guest.dat / guest-boot<K>.dat with the host's tracepoint timeline or the
 * probe timeline; manifest entries for the files and the collector's figures.
 */
#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "finalize.h"
#include "util.h"
#include "vt/convert.h"
#include "vt/dat.h"
#include "vt/log.h"
#include "vt/manifest.h"
#include "vt/timeline.h"

#define MAX_FORMATS REC_GUEST_MAX_FORMATS

static void json_putp(struct json_object **o)
{
	json_object_put(*o);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* @o when it is an array (json-c asserts on array calls of other types), else NULL */
static struct json_object *array(struct json_object *o)
{
	return o && json_object_is_type(o, json_type_array) ? o : NULL;
}

static struct vt_blob blob(struct json_object *s)
{
	if (!s || !json_object_is_type(s, json_type_string))
		return (struct vt_blob){ "", 0 };
	return (struct vt_blob){ json_object_get_string(s), (size_t)json_object_get_string_len(s) };
}

static int read_json(const char *path, struct json_object **ret)
{
	_cleanup_free_ char *text = NULL;
	struct json_tokener *tok;
	size_t len;
	int r = vtc_read_file(path, &text, &len);

	if (r < 0)
		return r;
	tok = json_tokener_new();
	if (!tok)
		return vtc_err(ENOMEM);
	*ret = json_tokener_parse_ex(tok, text, (int)(len > INT_MAX ? INT_MAX : len));
	json_tokener_free(tok);
	if (!*ret || !json_object_is_type(*ret, json_type_object)) {
		json_object_put(*ret);
		*ret = NULL;
		return vtc_err(EBADMSG);
	}
	return 0;
}

/* one format entry of the agent's info: {"system","name","format"} or a plain string */
static int add_format(struct vt_dat_format *f, size_t *n, struct json_object *e,
		      const char *system)
{
	struct json_object *text = json_object_is_type(e, json_type_string) ? e : get(e, "format");
	const char *sys = system ? system : json_object_get_string(get(e, "system"));

	if (*n == MAX_FORMATS || !text || !json_object_is_type(text, json_type_string) || !sys)
		return vtc_err(EBADMSG);
	f[*n] = (struct vt_dat_format){ .system = sys, .text = blob(text) };
	(*n)++;
	return 0;
}

int rec_guest_meta(struct json_object *info, struct vt_dat_format *formats,
		   struct vt_dat_meta *m, struct vt_errbuf *eb)
{
	struct json_object *fm = get(info, "formats"), *ft, *evs;
	size_t n = 0;
	int r = 0;

	memset(m, 0, sizeof(*m));
	m->page_size = (unsigned)json_object_get_uint64(get(info, "page_size"));
	m->long_size = get(info, "long_size") ? (unsigned)json_object_get_uint64(
							get(info, "long_size")) : 8;
	if (m->page_size < 64 || m->page_size > (1u << 20) ||
	    (m->long_size != 4 && m->long_size != 8))
		return vtc_errf(eb, EBADMSG, "agent info: page_size %u / long_size %u", m->page_size,
				m->long_size);
	m->header_page = blob(get(fm, "header_page"));
	m->header_event = blob(get(fm, "header_event"));
	if (!m->header_page.len)
		return vtc_errf(eb, EBADMSG, "agent info: no header_page format");
	ft = get(fm, "ftrace");
	evs = get(fm, "events");
	if ((ft && !array(ft)) || (evs && !array(evs)))
		return vtc_errf(eb, EBADMSG, "agent info: formats are not arrays");
	for (size_t i = 0; !r && ft && i < json_object_array_length(ft); i++)
		r = add_format(formats, &n, json_object_array_get_idx(ft, i), "ftrace");
	for (size_t i = 0; !r && evs && i < json_object_array_length(evs); i++)
		r = add_format(formats, &n, json_object_array_get_idx(evs, i), NULL);
	if (r < 0)
		return vtc_errf(eb, EBADMSG, "agent info: bad event format entry");
	m->formats = formats;
	m->nformats = n;
	m->printk = blob(get(info, "printk"));
	m->cmdlines = blob(get(info, "cmdlines"));
	m->kallsyms = blob(get(info, "kallsyms"));
	m->uname = json_object_get_string(get(info, "kernel"));
	return 0;
}

void rec_guest_apic_ids(struct json_object *info, uint32_t *ids, size_t max, size_t *ret_n)
{
	struct json_object *cpus = array(get(info, "cpus"));
	size_t n = cpus ? json_object_array_length(cpus) : 0;
	uint8_t seen[REC_MAX_VCPUS / 8] = { 0 };

	*ret_n = 0;
	if (n > max || n > REC_MAX_VCPUS)
		return;
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cpus, i);
		struct json_object *jcpu = get(c, "cpu"), *japic = get(c, "apic_id");
		int64_t cpu = json_object_get_int64(jcpu);

		/* every CPU once, by number: a CPU listed twice (or a "cpu" missing and taken
		 * as 0) would leave another one unmapped */
		if (!json_object_is_type(jcpu, json_type_int) ||
		    !json_object_is_type(japic, json_type_int) || cpu < 0 || (size_t)cpu >= n ||
		    (seen[cpu / 8] & (1u << (cpu % 8))))
			return;
		seen[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
		ids[cpu] = (uint32_t)json_object_get_uint64(japic);
	}
	*ret_n = n;
}

static int raw_dat(const char *dir, const struct vt_dat_meta *meta, unsigned ncpus,
		   uint64_t *ret_pages, struct vt_errbuf *eb)
{
	struct vt_datw_opts wo = { .version = 7, .clock = "x86-tsc",
				   .trace_id = vt_make_trace_id() };
	struct rec_page_stats st = { 0 };
	char path[PATH_MAX + 32];
	struct vt_datw *w = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/raw.dat", dir);
	r = vt_datw_create(path, meta, &wo, &w, eb);
	if (r < 0)
		return r;
	r = vt_datw_buffer_begin(w, "", ncpus, eb);
	for (unsigned cpu = 0; !r && cpu < ncpus; cpu++) {
		snprintf(path, sizeof(path), "%s/cpu%u.raw", dir, cpu);
		r = vt_datw_cpu_begin(w, cpu, eb);
		if (!r)
			r = rec_write_cpu(w, path, meta, &st, eb);
		if (!r)
			r = vt_datw_cpu_end(w, eb);
	}
	if (!r)
		r = vt_datw_buffer_end(w, eb);
	r = vt_datw_finish(w, r, eb);
	if (!r) {
		*ret_pages = st.pages;
	}
	return r;
}

/* the probe of boot @dir as a constant timeline over @ids (vCPU tids from the manifest) */
static int probe_timeline(const char *dir, struct json_object *root, const uint32_t *ids,
			  size_t n, struct json_object **ret_probe, struct vt_timeline **ret)
{
	struct json_object *p = NULL, *vt = get(root, "vcpu_threads");
	char path[PATH_MAX + 16];
	uint64_t offs[1024];
	uint32_t sorted[1024];
	int r;

	if (!n || n > 1024)
		return vtc_err(EINVAL);
	snprintf(path, sizeof(path), "%s/probe.json", dir);
	r = read_json(path, &p);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		offs[i] = (uint64_t)json_object_get_int64(get(p, "offset_s64"));
		sorted[i] = ids[i];
	}
	r = vt_timeline_constant(sorted, offs, n, json_object_get_uint64(get(p, "host_tsc")),
				 VT_SRC_PROBE, json_object_get_uint64(get(p, "error_ticks")), ret);
	if (r < 0) {
		json_object_put(p);
		return r;
	}
	/* guest CPU i runs on vCPU thread i; the timeline is sorted by APIC id */
	for (size_t i = 0; i < n; i++)
		for (size_t v = 0; v < (*ret)->nvcpus; v++)
			if ((*ret)->vcpus[v].vcpu_id == ids[i] && vt &&
			    i < json_object_array_length(vt))
				(*ret)->vcpus[v].tid = json_object_get_int(
					get(json_object_array_get_idx(vt, i), "tid"));
	(*ret)->pid = get(root, "qemu_pid") ? json_object_get_int(get(root, "qemu_pid")) : -1;
	*ret_probe = p;
	return 0;
}

/* the tracepoint offset of each vCPU at the probe's time vs the probe */
static void cross_check(struct json_object *root, const char *name,
			const struct vt_timeline *host_tl, const struct vt_timeline *probe_tl)
{
	for (size_t i = 0; i < probe_tl->nvcpus; i++) {
		const struct vt_tsc_write *pw = &probe_tl->vcpus[i].writes[0], *last = NULL;

		for (size_t v = 0; v < host_tl->nvcpus; v++) {
			if (host_tl->vcpus[v].vcpu_id != probe_tl->vcpus[i].vcpu_id)
				continue;
			for (size_t k = 0; k < host_tl->vcpus[v].nwrites; k++)
				if (host_tl->vcpus[v].writes[k].host_tsc <= pw->host_tsc)
					last = &host_tl->vcpus[v].writes[k];
		}
		if (!last)
			continue;
		int64_t diff = (int64_t)(pw->next_offset - last->next_offset);
		uint64_t adiff = diff < 0 ? (uint64_t)-diff : (uint64_t)diff;

		if (adiff > pw->error_ticks)
			vt_manifest_add_warning(root, "%s: vCPU %u: probe offset %" PRId64 " differs "
						      "from the tracepoint's %" PRId64 " by %" PRIu64
						      " ticks (error bound %" PRIu64 ")",
						name, probe_tl->vcpus[i].vcpu_id,
						(int64_t)pw->next_offset, (int64_t)last->next_offset,
						adiff, pw->error_ticks);
	}
}

static bool covers(const struct vt_timeline *tl, const uint32_t *ids, size_t n)
{
	if (!tl || !tl->nvcpus)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t v = 0; v < tl->nvcpus; v++)
			found |= tl->vcpus[v].vcpu_id == ids[i];
		if (!found)
			return false;
	}
	return true;
}

static void conversion_warnings(struct json_object *root, const char *name,
				const struct vt_convert_result *res)
{
	for (size_t i = 0; i < res->ncpus; i++) {
		const struct vt_convert_cpu *c = &res->cpus[i];

		if (c->boot_guessed)
			vt_manifest_add_warning(root, "%s: CPU %u: boot segment chosen by the "
						      "fallback rule (several fitted)", name, c->cpu);
		if (c->inconsistent)
			vt_manifest_add_warning(root, "%s: CPU %u: %" PRIu64 " events fit no offset "
						      "segment (flagged)", name, c->cpu,
						c->inconsistent);
	}
	if (res->ambiguous)
		vt_manifest_add_warning(root, "%s: %" PRIu64 " events with an undecided offset "
					      "segment (see virt-trace verify)", name, res->ambiguous);
}

struct boot_ctx {
	const struct vt_run *run;
	struct json_object *root;
	struct vt_dat *host;
	const struct vt_timeline *host_tl;
	const struct vt_tsc_scale *scale;
	const struct vt_tsc2nsec *t2n;
	struct rec_guests *out;
};

static int one_boot(struct boot_ctx *bc, const char *dir, unsigned boot, struct vt_errbuf *eb)
{
	struct json_object *info __attribute__((cleanup(json_putp))) = NULL;
	struct json_object *probe __attribute__((cleanup(json_putp))) = NULL;
	_cleanup_free_ struct vt_dat_format *formats = calloc(MAX_FORMATS, sizeof(*formats));
	struct vt_timeline *ptl = NULL;
	struct vt_convert_result *res = NULL;
	struct vt_dat *raw = NULL;
	struct rec_guest_file *gf = &bc->out->files[bc->out->n];
	struct vt_dat_meta meta;
	uint32_t ids[1024];
	size_t nids;
	uint64_t pages = 0;
	char path[PATH_MAX + 32], out[PATH_MAX + 32];
	bool use_host;
	int r;

	if (!formats)
		return vtc_err(ENOMEM);
	snprintf(path, sizeof(path), "%s/info.json", dir);
	if (read_json(path, &info) < 0)
		return vtc_errf(eb, EBADMSG, "%s: missing or not JSON", path);
	r = rec_guest_meta(info, formats, &meta, eb);
	if (r < 0)
		return r;
	rec_guest_apic_ids(info, ids, 1024, &nids);
	if (!nids)
		return vtc_errf(eb, EBADMSG, "%s: no cpus", path);
	r = raw_dat(dir, &meta, (unsigned)nids, &pages, eb);
	if (r < 0)
		return r;
	if (!pages)
		vt_manifest_add_warning(bc->root, "guest boot %u: the agent delivered no pages",
					boot);
	snprintf(path, sizeof(path), "%s/raw.dat", dir);
	r = vt_dat_open(path, &raw, eb);
	if (r < 0)
		return r;
	if (boot == 1)
		snprintf(gf->name, sizeof(gf->name), "guest.dat");
	else
		snprintf(gf->name, sizeof(gf->name), "guest-boot%u.dat", boot);
	snprintf(out, sizeof(out), "%s/%s", bc->run->dir, gf->name);
	if (probe_timeline(dir, bc->root, ids, nids, &probe, &ptl) < 0)
		ptl = NULL;
	use_host = covers(bc->host_tl, ids, nids);
	if (!use_host && !ptl) {
		vt_dat_close(raw);
		return vtc_errf(eb, ENOENT, "guest boot %u: no offset (no tracepoint write of "
					    "its vCPUs and no probe)", boot);
	}
	if (use_host && ptl)
		cross_check(bc->root, gf->name, bc->host_tl, ptl);
	struct vt_convert_opts co = {
		.timeline = use_host ? bc->host_tl : ptl,
		.apic_ids = ids,
		.napic_ids = nids,
		.scale = use_host ? bc->scale : NULL,
		.host = bc->host,
		.tsc2nsec = bc->t2n,
		.boot = use_host ? boot : 1,
	};
	r = vt_convert_guest(raw, out, &co, &res, eb);
	if (r < 0 && use_host && ptl) {
		vt_manifest_add_warning(bc->root, "%s: the tracepoint timeline failed (%s): the "
						  "probe offset is used", gf->name, eb->msg);
		co.timeline = ptl;
		co.scale = NULL;
		co.boot = 1;
		use_host = false;
		r = vt_convert_guest(raw, out, &co, &res, eb);
	}
	if (r == 0 && !use_host && boot == 1 && !covers(bc->host_tl, ids, nids))
		r = vt_manifest_set_timeline(bc->root, ptl, NULL);
	if (r == 0)
		r = vt_manifest_add_guest(bc->root, gf->name, boot, raw, res);
	if (r == 0) {
		struct json_object *gs = get(bc->root, "guests");
		struct json_object *g = json_object_array_get_idx(gs, json_object_array_length(gs) - 1);

		json_object_object_add(g, "offset_source", json_object_new_string(
					       use_host ? vt_offset_source_name(
							bc->host_tl->vcpus[0].writes[0].source)
							: "probe"));
		if (probe)
			json_object_object_add(g, "probe", json_object_get(probe));
		json_object_object_add(g, "boot_id", json_object_get(get(info, "boot_id")));
		json_object_object_add(g, "clocksource", json_object_get(get(info, "clocksource")));
		conversion_warnings(bc->root, gf->name, res);
		gf->trace_id = res->trace_id;
		gf->ncpus = 0;
		for (size_t i = 0; i < res->ncpus && gf->ncpus < 1024; i++)
			if (res->cpus[i].buffer == 0)
				gf->tids[gf->ncpus++] = (uint32_t)res->cpus[i].tid;
		bc->out->n++;
	}
	vt_convert_result_free(res);
	vt_timeline_free(ptl);
	vt_dat_close(raw);
	return r;
}

/* the collector's figures (spool/guest.json) as "guest_agent" */
static void agent_figures(struct json_object *root, const char *spool,
			  const struct vt_tsc2nsec *t2n, size_t nfiles)
{
	struct json_object *g = NULL, *unc;
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/guest.json", spool);
	if (read_json(path, &g) < 0) {
		g = json_object_new_object();
		json_object_object_add(g, "no_agent_reason", json_object_new_string(
				get(root, "qemu_pid") ? "no collector ran for this run"
						      : "QEMU never started"));
	}
	unc = get(g, "uncovered_ticks");
	if (unc && t2n && t2n->mult) {
		unsigned __int128 ns = (unsigned __int128)json_object_get_uint64(unc) * t2n->mult;

		json_object_object_add(g, "uncovered_ms", json_object_new_double(
				(double)(uint64_t)(ns >> t2n->shift) / 1e6));
	}
	if (!nfiles)
		vt_manifest_add_warning(root, "no guest half: %s",
					get(g, "no_agent_reason")
						? json_object_get_string(get(g, "no_agent_reason"))
						: "the agent delivered nothing");
	else if (unc && json_object_get_uint64(unc))
		vt_manifest_add_warning(root, "guest events after the last collect are lost "
					      "(%" PRIu64 " host ticks uncovered: the guest was not "
					      "flushed before it stopped)", json_object_get_uint64(unc));
	if (get(g, "dropped_chunks") && json_object_get_uint64(get(g, "dropped_chunks"))) {
		char why[256] = "";
		size_t len = 0;

		struct json_object *bad = get(g, "bad_chunks");

		if (!bad || !json_object_is_type(bad, json_type_object))
			bad = json_object_new_object();
		else
			json_object_get(bad);
		json_object_object_foreach(bad, reason, count) {
			int n = snprintf(why + len, sizeof(why) - len, "%s%s %" PRIu64, len ? ", " : "",
					 reason, json_object_get_uint64(count));

			if (n < 0 || (size_t)n >= sizeof(why) - len)
				break;
			len += (size_t)n;
		}
		json_object_put(bad);
		vt_manifest_add_warning(root, "guest agent: %" PRIu64 " chunks dropped (%s; see "
					      "guest_agent.bad_chunks and errors)",
					json_object_get_uint64(get(g, "dropped_chunks")),
					len ? why : "bad or mismatched");
	}
	if (get(g, "ts_backwards_pages") && json_object_get_uint64(get(g, "ts_backwards_pages")))
		vt_manifest_add_warning(root, "guest agent: %" PRIu64 " guest pages start before "
					      "the last event of their CPU (a guest TSC write, or "
					      "flagged as out of order)",
					json_object_get_uint64(get(g, "ts_backwards_pages")));
	json_object_object_add(root, "guest_agent", g);
}

bool rec_guest_has_probe(const char *spool)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/guest-boot1/probe.json", spool);
	return access(path, F_OK) == 0;
}

int rec_guest_finalize(const struct vt_run *run, const char *spool, struct json_object *root,
		       struct vt_dat *host, const struct vt_timeline *host_tl,
		       const struct vt_tsc_scale *scale, struct rec_guests *out,
		       struct vt_errbuf *eb)
{
	struct vt_tsc2nsec t2n;
	struct boot_ctx bc = { run, root, host, host_tl, scale,
			       vt_dat_tsc2nsec(host, &t2n) ? &t2n : NULL, out };

	out->n = 0;
	for (unsigned boot = 1; boot <= REC_MAX_GUESTS; boot++) {
		struct vt_errbuf beb = { "" };
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s/guest-boot%u", spool, boot);
		if (access(dir, F_OK) < 0)
			break;
		if (one_boot(&bc, dir, boot, &beb) < 0) {
			/* the host half and the other boots are kept */
			vt_manifest_add_warning(root, "guest boot %u left out: %s", boot, beb.msg);
			vt_log(LOG_WARNING, "domain %s: run %s: guest boot %u: %s", run->domain,
			       run->id, boot, beb.msg);
		}
	}
	agent_figures(root, spool, bc.t2n, out->n);
	(void)eb;
	return 0;
}
