// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest trace conversion: segment each guest CPU (pass 1), let containment decide what
 * it can, then write every event with its host TSC (pass 2).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "evfield.h"
#include "util.h"
#include "vt/convert.h"
#include "vt/tsc.h"

enum { F_MSR, F_VAL, F_FAILED };
enum { MSR_IA32_TSC = 0x10, MSR_IA32_TSC_ADJUST = 0x3b };

uint64_t vt_make_trace_id(void)
{
	struct timespec ts;
	uint64_t id;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* splitmix64 of time and pid: unique enough to tell files apart, never zero */
	id = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + ((uint64_t)getpid() << 40);
	id += 0x9e3779b97f4a7c15ull;
	id = (id ^ (id >> 30)) * 0xbf58476d1ce4e5b9ull;
	id = (id ^ (id >> 27)) * 0x94d049bb133111ebull;
	id ^= id >> 31;
	return id ? id : 1;
}

static int vcpu_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

const struct vt_vcpu_timeline *vt_convert_vcpu_of(const struct vt_convert_opts *opts,
						  unsigned cpu)
{
	const struct vt_timeline *tl = opts->timeline;

	if (opts->apic_ids) {
		uint32_t id;
		struct vt_vcpu_timeline *v;

		if (cpu >= opts->napic_ids)
			return NULL;
		id = opts->apic_ids[cpu];
		v = bsearch(&id, tl->vcpus, tl->nvcpus, sizeof(*tl->vcpus), vcpu_cmp);
		return v;
	}
	/* no apic id map: guest CPUs in the sorted order of the vcpu ids */
	return cpu < tl->nvcpus ? &tl->vcpus[cpu] : NULL;
}

void vt_convert_result_free(struct vt_convert_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->ncpus; i++) {
		free(res->cpus[i].boundaries);
		free(res->cpus[i].windows);
	}
	free(res->cpus);
	free(res->amb);
	free(res);
}

static bool clock_is_tsc(const char *clock)
{
	char name[32];
	size_t len;

	if (!clock)
		return false;
	if (*clock == '[')
		clock++;
	len = strcspn(clock, "]");
	if (len >= sizeof(name))
		return false;
	memcpy(name, clock, len);
	name[len] = '\0';
	return !strcmp(name, "x86-tsc");
}

/* One guest CPU stream and its segmenter. */
struct stream {
	struct vt_segmenter *seg;	/* NULL when the boot keeps one offset throughout */
	uint64_t offset;		/* that offset */
	struct vt_convert_cpu *out;
};

struct conv {
	struct vt_dat *guest;
	const struct vt_convert_opts *opts;
	struct vt_convert_result *res;
	struct stream *streams;
	struct vtc_evdesc msr;
	struct vt_errbuf *eb;
};

/* an msr:write_msr of IA32_TSC or IA32_TSC_ADJUST that did not fault */
static bool is_marker(const struct conv *cv, const struct vt_event *ev, uint64_t *ret_msr,
		      uint64_t *ret_val)
{
	uint64_t failed = 0;

	*ret_msr = *ret_val = 0;
	if (ev->type_id != cv->msr.id || vtc_field_u64(&cv->msr, F_MSR, ev, ret_msr) < 0 ||
	    vtc_field_u64(&cv->msr, F_VAL, ev, ret_val) < 0 ||
	    (*ret_msr != MSR_IA32_TSC && *ret_msr != MSR_IA32_TSC_ADJUST))
		return false;
	if (cv->msr.f[F_FAILED].offset >= 0)
		(void)vtc_field_u64(&cv->msr, F_FAILED, ev, &failed);
	return failed == 0;
}

static void note_marker(struct vt_convert_cpu *out, uint64_t index, uint64_t guest_tsc,
			uint64_t msr, uint64_t value)
{
	out->markers++;
	if (out->nmarker_list < VT_MARKER_LIST_MAX)
		out->marker_list[out->nmarker_list++] = (struct vt_marker_event){
			.index = index, .guest_tsc = guest_tsc, .msr = (uint32_t)msr, .value = value
		};
}

static int pass1_stream(struct conv *cv, struct stream *st)
{
	struct vt_convert_cpu *out = st->out;
	struct vt_dat_cpu *c = NULL;
	struct vt_event ev;
	uint64_t index = 0, last_page = UINT64_MAX;
	int r;

	r = vt_dat_cpu_open(cv->guest, out->buffer, out->cpu, &c, cv->eb);
	if (r < 0)
		return r;
	while ((r = vt_dat_cpu_next_event(c, &ev, cv->eb)) > 0) {
		uint64_t msr, val;
		bool marker = is_marker(cv, &ev, &msr, &val);

		if (vt_dat_cpu_page_index(c) != last_page) {
			last_page = vt_dat_cpu_page_index(c);
			if (vt_dat_cpu_page_missed(c))
				out->lost_pages++;
		}
		if (marker)
			note_marker(out, index, ev.ts, msr, val);
		r = vt_seg_feed(st->seg, index++, ev.ts, marker, (uint32_t)msr, val);
		if (r < 0) {
			vtc_errf(cv->eb, -r, "guest CPU %u: segmenting event %" PRIu64 " failed",
				 out->cpu, index - 1);
			break;
		}
	}
	vt_dat_cpu_close(c);
	if (r < 0)
		return r;
	out->events = index;
	return vt_seg_finish(st->seg);
}

/* Host entry/exit events of one vCPU thread near the windows. */
struct hv_event {
	int32_t tid;
	bool entry;
	uint64_t ts;
};

struct hv_events {
	struct hv_event *e;
	size_t n, cap;
};

static int hv_cmp(const void *a, const void *b)
{
	const struct hv_event *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int hv_push(struct hv_events *hv, const struct hv_event *e)
{
	if (hv->n == hv->cap) {
		size_t ncap = hv->cap ? hv->cap * 2 : 256;
		struct hv_event *ne = realloc(hv->e, ncap * sizeof(*ne));

		if (!ne)
			return vtc_err(ENOMEM);
		hv->e = ne;
		hv->cap = ncap;
	}
	hv->e[hv->n++] = *e;
	return 0;
}

/* The nearest entry/exit of a window's vCPU thread before and after the window. */
struct hv_edge {
	struct hv_event before, after;
	bool have_before, have_after;
};

/*
 * Whether @e lies in a window of its thread. An event outside may still bound a
 * guest-mode interval that overlaps one (an entry before the window, its exit after
 * it): the nearest on each side of every window is kept in @edges (one per window, in
 * the order of cpus[] and their windows[]).
 */
static bool in_windows(const struct conv *cv, struct hv_edge *edges, const struct hv_event *e)
{
	struct hv_edge *edge = edges;
	bool in = false;

	for (size_t i = 0; i < cv->res->ncpus; i++) {
		const struct vt_convert_cpu *o = &cv->res->cpus[i];

		if (o->tid != e->tid) {
			edge += o->nwindows;
			continue;
		}
		for (size_t w = 0; w < o->nwindows; w++, edge++) {
			if (e->ts < o->windows[w].from) {
				if (!edge->have_before || e->ts > edge->before.ts)
					edge->before = *e;
				edge->have_before = true;
			} else if (e->ts > o->windows[w].to) {
				if (!edge->have_after || e->ts < edge->after.ts)
					edge->after = *e;
				edge->have_after = true;
			} else {
				in = true;
			}
		}
	}
	return in;
}

static int collect_cpu_events(struct conv *cv, size_t buffer, unsigned cpu,
			      const struct vtc_evdesc *entry, const struct vtc_evdesc *exit_,
			      struct hv_edge *edges, struct hv_events *hv)
{
	struct vt_dat_cpu *c = NULL;
	struct vt_event ev;
	int r = vt_dat_cpu_open(cv->opts->host, buffer, cpu, &c, cv->eb);

	if (r < 0)
		return r;
	while ((r = vt_dat_cpu_next_event(c, &ev, cv->eb)) > 0) {
		struct hv_event e = { .tid = ev.pid, .entry = ev.type_id == entry->id,
				      .ts = ev.ts };

		if (ev.type_id != entry->id && ev.type_id != exit_->id)
			continue;
		if (in_windows(cv, edges, &e)) {
			r = hv_push(hv, &e);
			if (r < 0)
				break;
		}
	}
	vt_dat_cpu_close(c);
	return r;
}

/* 1 with the entry/exit events in and around the windows in @hv, 0 without the formats */
static int collect_host_events(struct conv *cv, struct hv_events *hv)
{
	struct vt_dat *host = cv->opts->host;
	_cleanup_free_ struct hv_edge *edges = NULL;
	struct vtc_evdesc entry, exit_;
	size_t nedges = 0;
	int r = 0;

	vtc_evdesc_find(vt_dat_tep(host), "kvm", "kvm_entry", NULL, &entry);
	vtc_evdesc_find(vt_dat_tep(host), "kvm", "kvm_exit", NULL, &exit_);
	if (entry.id < 0 || exit_.id < 0)
		return 0;
	for (size_t i = 0; i < cv->res->ncpus; i++)
		nedges += cv->res->cpus[i].nwindows;
	edges = calloc(nedges ? nedges : 1, sizeof(*edges));
	if (!edges)
		return vtc_err(ENOMEM);
	for (size_t b = 0; b < vt_dat_nbuffers(host) && !r; b++)
		for (unsigned cpu = 0; cpu < vt_dat_buffer_ncpus(host, b) && !r; cpu++)
			r = collect_cpu_events(cv, b, cpu, &entry, &exit_, edges, hv);
	for (size_t i = 0; i < nedges && !r; i++) {
		if (edges[i].have_before)
			r = hv_push(hv, &edges[i].before);
		if (!r && edges[i].have_after)
			r = hv_push(hv, &edges[i].after);
	}
	if (r < 0)
		return r;
	if (hv->n)
		qsort(hv->e, hv->n, sizeof(*hv->e), hv_cmp);
	return 1;
}

/* Guest-mode intervals of @tid: each kvm_entry up to the next kvm_exit. */
static int intervals_of(const struct hv_events *hv, int32_t tid, struct vt_interval **ret,
			size_t *ret_n)
{
	struct vt_interval *iv = NULL;
	size_t n = 0;
	bool open = false;
	uint64_t entry_ts = 0;

	for (size_t i = 0; i < hv->n; i++) {
		const struct hv_event *e = &hv->e[i];

		if (e->tid != tid)
			continue;
		if (e->entry) {
			open = true;
			entry_ts = e->ts;
		} else if (open) {
			struct vt_interval *ni = realloc(iv, (n + 1) * sizeof(*ni));

			if (!ni) {
				free(iv);
				return vtc_err(ENOMEM);
			}
			iv = ni;
			iv[n++] = (struct vt_interval){ .entry = entry_ts, .exit = e->ts };
			open = false;
		}
	}
	*ret = iv;
	*ret_n = n;
	return 0;
}

static int resolve_containment(struct conv *cv)
{
	struct hv_events hv = { 0 };
	bool any = false;
	int r;

	for (size_t i = 0; i < cv->res->ncpus; i++)
		any |= cv->res->cpus[i].nwindows > 0;
	if (!any || !cv->opts->host)
		return 0;
	r = collect_host_events(cv, &hv);
	if (r <= 0) {
		free(hv.e);
		return r;
	}
	cv->res->containment_used = true;
	r = 0;
	for (size_t i = 0; i < cv->res->ncpus && !r; i++) {
		struct vt_interval *iv = NULL;
		size_t niv = 0;

		if (!cv->res->cpus[i].nwindows)
			continue;
		r = intervals_of(&hv, cv->res->cpus[i].tid, &iv, &niv);
		if (!r)
			r = vt_seg_resolve(cv->streams[i].seg, iv, niv);
		free(iv);
	}
	free(hv.e);
	return r;
}

static int keep_windows(struct stream *st)
{
	const struct vt_window *w;
	size_t n = vt_seg_windows(st->seg, &w);

	if (!n)
		return 0;
	st->out->windows = malloc(n * sizeof(*w));
	if (!st->out->windows)
		return vtc_err(ENOMEM);
	memcpy(st->out->windows, w, n * sizeof(*w));
	st->out->nwindows = n;
	return 0;
}

static int keep_boundaries(struct stream *st)
{
	const struct vt_boundary *b;
	size_t n = vt_seg_boundaries(st->seg, &b);

	st->out->boot_write = vt_seg_boot_write(st->seg);
	st->out->boot_guessed = vt_seg_boot_guessed(st->seg);
	st->out->ambiguous = vt_seg_ambiguous(st->seg);
	st->out->unmatched_markers = vt_seg_unmatched_markers(st->seg);
	st->out->inconsistent = vt_seg_inconsistent(st->seg);
	if (!n)
		return 0;
	st->out->boundaries = malloc(n * sizeof(*b));
	if (!st->out->boundaries)
		return vtc_err(ENOMEM);
	memcpy(st->out->boundaries, b, n * sizeof(*b));
	st->out->nboundaries = n;
	return 0;
}

static void note_ambiguous(struct vt_convert_result *res, unsigned cpu, uint64_t index,
			   uint64_t guest_tsc, uint64_t host_tsc)
{
	res->ambiguous++;
	if (res->namb < VT_AMBIGUOUS_LIST_MAX)
		res->amb[res->namb++] = (struct vt_ambiguous_event){
			.cpu = cpu, .index = index, .guest_tsc = guest_tsc, .host_tsc = host_tsc
		};
}

/* The events of one page, walked once. */
struct page_events {
	struct vt_event *ev;
	uint64_t *host_tsc;	/* each event's host TSC */
	size_t n, cap;		/* cap: a record takes at least 8 bytes of a page */
	bool abs_ts;
};

static int walk_page(struct conv *cv, const struct vt_convert_cpu *out, const void *page,
		     uint64_t page_index, struct page_events *pe)
{
	struct vt_errbuf peb = { "" };
	struct vt_page_iter it;
	int r;

	pe->n = 0;
	r = vt_page_load(&it, page, vt_dat_meta(cv->guest)->page_size,
			 vt_dat_kernel_long(cv->guest), &peb);
	while (r >= 0 && (r = vt_page_next(&it, &pe->ev[pe->n], &peb)) > 0) {
		if (++pe->n == pe->cap)
			return vtc_errf(cv->eb, EBADMSG, "guest CPU %u page %" PRIu64 ": too many events",
					out->cpu, page_index);
	}
	if (r < 0)
		return vtc_errf(cv->eb, EBADMSG, "guest CPU %u page %" PRIu64 ": %s", out->cpu,
				page_index, peb.msg);
	pe->abs_ts = it.abs_ts;
	return 0;
}

/*
 * Pass 2: every event with its host TSC. A page whose events all keep one decided
 * offset moves on the time axis as a whole (its records hold deltas): it is copied with
 * a new header time stamp. Other pages are re-encoded event by event.
 */
static int pass2_stream(struct conv *cv, struct stream *st, struct vt_datw *w,
			struct page_events *pe)
{
	struct vt_convert_cpu *out = st->out;
	bool identity = vt_tsc_scale_is_identity(cv->opts->scale);
	struct vt_dat_cpu *c = NULL;
	uint64_t index = 0, page_index = 0;
	const void *page;
	int r;

	r = vt_dat_cpu_open(cv->guest, out->buffer, out->cpu, &c, cv->eb);
	if (r < 0)
		return r;
	r = vt_datw_cpu_begin(w, out->cpu, cv->eb);
	while (!r && (r = vt_dat_cpu_next_page(c, &page, cv->eb)) > 0) {
		uint64_t page_offset = 0, src_off = 0;
		bool whole;
		int fd = -1;

		r = walk_page(cv, out, page, page_index++, pe);
		whole = identity && !pe->abs_ts && vt_dat_cpu_page_offset(c, &fd, &src_off) == 0;
		if (!st->seg && vt_dat_cpu_page_missed(c))
			out->lost_pages++;	/* pass 1 counted them otherwise */
		for (size_t i = 0; !r && i < pe->n; i++) {
			enum vt_seg_how how = VT_SEG_INITIAL;
			uint64_t offset = st->offset, host_tsc, msr, val;

			if (st->seg)
				r = vt_seg_lookup(st->seg, index + i, &offset, &how);
			else if (is_marker(cv, &pe->ev[i], &msr, &val))
				note_marker(out, index + i, pe->ev[i].ts, msr, val);
			if (r < 0)
				break;
			host_tsc = vt_tsc_to_host(cv->opts->scale, pe->ev[i].ts, offset);
			pe->host_tsc[i] = host_tsc;
			if (how == VT_SEG_AMBIGUOUS) {
				note_ambiguous(cv->res, out->cpu, index + i, pe->ev[i].ts, host_tsc);
				whole = false;
			}
			if (i == 0)
				page_offset = offset;
			else if (offset != page_offset)
				whole = false;
			if (index + i == 0)
				out->first_host_tsc = host_tsc;
			out->last_host_tsc = host_tsc;
		}
		if (r || !pe->n)
			continue;
		if (whole) {
			uint64_t page_ts;

			memcpy(&page_ts, page, sizeof(page_ts));
			r = vt_datw_cpu_copy_page(w, fd, src_off,
						  vt_tsc_to_host(NULL, le64toh(page_ts), page_offset),
						  cv->eb);
			index += pe->n;
			continue;
		}
		for (size_t i = 0; !r && i < pe->n; i++)
			r = vt_datw_cpu_event(w, pe->host_tsc[i], pe->ev[i].data, pe->ev[i].size,
					      cv->eb);
		index += pe->n;
	}
	vt_dat_cpu_close(c);
	if (r < 0)
		return r;
	if (!st->seg)
		out->events = index;
	return vt_datw_cpu_end(w, cv->eb);
}

static bool is_boot_write(const struct vt_convert_opts *opts, const struct vt_tsc_write *w)
{
	int64_t guest_tsc = (int64_t)vt_tsc_to_guest(opts->scale, w->host_tsc, w->next_offset);

	return w->source == VT_SRC_TRACEPOINT && guest_tsc > -(int64_t)VT_BOOT_TSC_MAX &&
	       guest_tsc < (int64_t)VT_BOOT_TSC_MAX;
}

/*
 * The writes of boot @boot: [*ret_first, *ret_end), its segment starting after the last
 * write of its cluster (*ret_pin). 1 when found, 0 when the timeline has no boot writes
 * (sources other than the tracepoint), -EINVAL when there are fewer boots.
 */
static int boot_writes(const struct vt_convert_opts *opts, const struct vt_vcpu_timeline *v,
		       unsigned boot, size_t *ret_pin, size_t *ret_end)
{
	unsigned k = 0;
	size_t pin = 0, i;
	bool in_cluster = false, any = false;
	uint64_t last_boot_tsc = 0;

	for (i = 0; i < v->nwrites; i++) {
		const struct vt_tsc_write *w = &v->writes[i];

		if (!is_boot_write(opts, w)) {
			in_cluster = false;
			continue;
		}
		any = true;
		if (!in_cluster || w->host_tsc - last_boot_tsc > VT_BOOT_CLUSTER_GAP) {
			if (k == boot)
				break;	/* the next boot starts here */
			k++;
		}
		in_cluster = true;
		last_boot_tsc = w->host_tsc;
		if (k == boot)
			pin = i;
	}
	if (!any)
		return 0;
	if (k < boot)
		return vtc_err(EINVAL);
	*ret_pin = pin;
	*ret_end = i;
	return 1;
}

static int new_segmenter(struct conv *cv, const struct vt_vcpu_timeline *v, struct stream *st)
{
	struct vt_segmenter **ret = &st->seg;
	bool constant = true;
	unsigned boot = cv->opts->boot ? cv->opts->boot : 1;
	size_t pin = 0, end = v->nwrites;
	int r;

	r = boot_writes(cv->opts, v, boot, &pin, &end);
	if (r < 0)
		return vtc_errf(cv->eb, EINVAL,
				"vCPU %u: the host trace shows fewer than %u guest boots (no TSC "
				"reset write for boot %u)",
				v->vcpu_id, boot, boot);
	if (r == 0 && boot > 1)
		return vtc_errf(cv->eb, EINVAL,
				"vCPU %u: offsets from %s cannot tell guest boots apart", v->vcpu_id,
				vt_offset_source_name(v->writes[0].source));
	/* one offset from the boot on: no boundary is possible, no pass 1 is needed */
	for (size_t i = pin + 1; i < end; i++)
		constant &= v->writes[i].next_offset == v->writes[pin].next_offset;
	if (constant) {
		st->offset = v->writes[pin].next_offset;
		st->out->boot_write = pin;
		return 0;
	}
	r = vt_seg_new(v->writes, end, cv->opts->scale, ret);
	if (r < 0)
		return r;
	if (pin)
		r = vt_seg_set_boot(*ret, pin);
	return r;
}

static int setup_streams(struct conv *cv)
{
	struct vt_convert_result *res = cv->res;
	size_t n = 0;

	for (size_t b = 0; b < vt_dat_nbuffers(cv->guest); b++)
		n += vt_dat_buffer_ncpus(cv->guest, b);
	res->cpus = calloc(n ? n : 1, sizeof(*res->cpus));
	cv->streams = calloc(n ? n : 1, sizeof(*cv->streams));
	res->amb = calloc(VT_AMBIGUOUS_LIST_MAX, sizeof(*res->amb));
	if (!res->cpus || !cv->streams || !res->amb)
		return vtc_err(ENOMEM);
	for (size_t b = 0; b < vt_dat_nbuffers(cv->guest); b++) {
		const char *clock = vt_dat_buffer_clock(cv->guest, b);

		if (!clock_is_tsc(clock))
			return vtc_errf(cv->eb, EINVAL,
					"guest buffer '%s' uses clock '%s', not x86-tsc (record the "
					"guest with -C x86-tsc)",
					vt_dat_buffer_name(cv->guest, b), clock ? clock : "");
		for (unsigned cpu = 0; cpu < vt_dat_buffer_ncpus(cv->guest, b); cpu++) {
			const struct vt_vcpu_timeline *v = vt_convert_vcpu_of(cv->opts, cpu);
			struct vt_convert_cpu *out = &res->cpus[res->ncpus];
			int r;

			if (!v)
				return vtc_errf(cv->eb, EINVAL,
						"guest CPU %u has no vCPU in the host's offset timeline "
						"(%zu vCPUs found)",
						cpu, cv->opts->timeline->nvcpus);
			out->buffer = b;
			out->cpu = cpu;
			out->vcpu_id = v->vcpu_id;
			out->tid = v->tid;
			cv->streams[res->ncpus].out = out;
			r = new_segmenter(cv, v, &cv->streams[res->ncpus]);
			if (r < 0)
				return r;
			res->ncpus++;
		}
	}
	return 0;
}

static int write_output(struct conv *cv, const char *out_path)
{
	struct vt_datw_opts wo = {
		.version = cv->opts->file_version,
		.clock = "x86-tsc",
		.trace_id = cv->res->trace_id,
		.tsc2nsec = cv->opts->tsc2nsec,
	};
	struct page_events *pe = calloc(1, sizeof(*pe));
	struct vt_datw *w = NULL;
	size_t s = 0;
	int r;

	if (pe) {
		pe->cap = vt_dat_meta(cv->guest)->page_size / 8 + 1;
		pe->ev = calloc(pe->cap, sizeof(*pe->ev));
		pe->host_tsc = calloc(pe->cap, sizeof(*pe->host_tsc));
	}
	if (!pe || !pe->ev || !pe->host_tsc) {
		if (pe) {
			free(pe->ev);
			free(pe->host_tsc);
		}
		free(pe);
		return vtc_err(ENOMEM);
	}
	r = vt_datw_create(out_path, vt_dat_meta(cv->guest), &wo, &w, cv->eb);
	if (r < 0) {
		free(pe->ev);
		free(pe->host_tsc);
		free(pe);
		return r;
	}
	for (size_t b = 0; b < vt_dat_nbuffers(cv->guest) && !r; b++) {
		unsigned ncpus = vt_dat_buffer_ncpus(cv->guest, b);

		r = vt_datw_buffer_begin(w, vt_dat_buffer_name(cv->guest, b), ncpus, cv->eb);
		for (unsigned cpu = 0; cpu < ncpus && !r; cpu++, s++)
			r = pass2_stream(cv, &cv->streams[s], w, pe);
		if (!r)
			r = vt_datw_buffer_end(w, cv->eb);
	}
	free(pe->ev);
	free(pe->host_tsc);
	free(pe);
	return vt_datw_finish(w, r, cv->eb);
}

int vt_convert_guest(struct vt_dat *guest, const char *out_path,
		     const struct vt_convert_opts *opts, struct vt_convert_result **ret,
		     struct vt_errbuf *eb)
{
	static const char *const msr_fields[] = { "msr", "val", "failed", NULL };
	struct conv cv = { .guest = guest, .opts = opts, .eb = eb };
	int r;

	if (!vt_dat_meta(guest))
		return vtc_errf(eb, EBADMSG, "guest trace has no metadata");
	cv.res = calloc(1, sizeof(*cv.res));
	if (!cv.res)
		return vtc_err(ENOMEM);
	cv.res->trace_id = opts->trace_id ? opts->trace_id : vt_dat_trace_id(guest);
	if (!cv.res->trace_id)
		cv.res->trace_id = vt_make_trace_id();
	vtc_evdesc_find(vt_dat_tep(guest), "msr", "write_msr", msr_fields, &cv.msr);

	r = setup_streams(&cv);
	for (size_t i = 0; !r && i < cv.res->ncpus; i++) {
		if (!cv.streams[i].seg)
			continue;
		r = pass1_stream(&cv, &cv.streams[i]);
		if (!r)
			r = keep_windows(&cv.streams[i]);
	}
	if (!r)
		r = resolve_containment(&cv);
	for (size_t i = 0; !r && i < cv.res->ncpus; i++)
		if (cv.streams[i].seg)
			r = keep_boundaries(&cv.streams[i]);
	if (!r)
		r = write_output(&cv, out_path);
	for (size_t i = 0; i < cv.res->ncpus; i++) {
		cv.res->events += cv.res->cpus[i].events;
		vt_seg_free(cv.streams[i].seg);
	}
	free(cv.streams);
	if (r < 0) {
		vt_convert_result_free(cv.res);
		return r;
	}
	*ret = cv.res;
	return 0;
}
