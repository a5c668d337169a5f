// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Offset timelines: per vCPU of one QEMU process, the TSC offset writes of a host trace.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "evfield.h"
#include "util.h"
#include "vt/dat.h"
#include "vt/timeline.h"

static const char *const source_names[_VT_SRC_MAX] = {
	[VT_SRC_TRACEPOINT] = "tracepoint",
	[VT_SRC_DEBUGFS] = "debugfs",
	[VT_SRC_PROBE] = "probe",
	[VT_SRC_USER] = "user",
};

const char *vt_offset_source_name(enum vt_offset_source src)
{
	return src < _VT_SRC_MAX ? source_names[src] : "unknown";
}

int vt_offset_source_parse(const char *name, enum vt_offset_source *ret)
{
	for (unsigned i = 0; i < _VT_SRC_MAX; i++) {
		if (!strcmp(name, source_names[i])) {
			*ret = (enum vt_offset_source)i;
			return 0;
		}
	}
	return vtc_err(EINVAL);
}

void vt_tidset_fini(struct vt_tidset *set)
{
	free(set->tids);
	set->tids = NULL;
	set->n = 0;
}

static size_t tidset_lower_bound(const struct vt_tidset *set, int32_t tid)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (set->tids[mid] < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool vt_tidset_has(const struct vt_tidset *set, int32_t tid)
{
	size_t i = tidset_lower_bound(set, tid);

	return i < set->n && set->tids[i] == tid;
}

int vt_tidset_add(struct vt_tidset *set, int32_t tid)
{
	size_t i = tidset_lower_bound(set, tid);
	int32_t *tids;

	if (i < set->n && set->tids[i] == tid)
		return 0;
	tids = realloc(set->tids, (set->n + 1) * sizeof(*tids));
	if (!tids)
		return vtc_err(ENOMEM);
	memmove(tids + i + 1, tids + i, (set->n - i) * sizeof(*tids));
	tids[i] = tid;
	set->tids = tids;
	set->n++;
	return 0;
}

int vt_tidset_from_tgids(const char *text, int32_t pid, struct vt_tidset *ret,
			 struct vt_errbuf *eb)
{
	struct vt_tidset set = { 0 };
	unsigned line = 0;
	const char *p = text;
	int r;

	r = vt_tidset_add(&set, pid);
	while (!r && p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char buf[64], *sp;
		int64_t tid, tgid;

		line++;
		if (len == 0) {
			p = nl ? nl + 1 : NULL;
			continue;
		}
		if (len >= sizeof(buf)) {
			r = vtc_errf(eb, EBADMSG, "saved_tgids line %u: too long", line);
			break;
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		sp = strchr(buf, ' ');
		if (!sp) {
			r = vtc_errf(eb, EBADMSG, "saved_tgids line %u: expected 'tid tgid'", line);
			break;
		}
		*sp = '\0';
		if (vtc_parse_s64(buf, &tid) < 0 || vtc_parse_s64(sp + 1, &tgid) < 0 ||
		    tid < 0 || tid > INT32_MAX || tgid < 0 || tgid > INT32_MAX) {
			r = vtc_errf(eb, EBADMSG, "saved_tgids line %u: bad number", line);
			break;
		}
		if (tgid == pid)
			r = vt_tidset_add(&set, (int32_t)tid);
		p = nl ? nl + 1 : NULL;
	}
	if (r) {
		vt_tidset_fini(&set);
		return r;
	}
	*ret = set;
	return 0;
}

void vt_timeline_free(struct vt_timeline *tl)
{
	if (!tl)
		return;
	for (size_t i = 0; i < tl->nvcpus; i++)
		free(tl->vcpus[i].writes);
	free(tl->vcpus);
	free(tl);
}

/* One raw write as found in the file, before grouping. */
struct raw_write {
	uint64_t host_tsc;
	uint64_t next_offset;
	uint64_t seq;		/* file order, to keep the sort stable */
	uint32_t vcpu_id;
	int32_t tid;
};

struct raw_writes {
	struct raw_write *w;
	size_t n, cap;
};

static int raw_push(struct raw_writes *rw, const struct raw_write *w)
{
	if (rw->n == rw->cap) {
		size_t ncap = rw->cap ? rw->cap * 2 : 64;
		struct raw_write *nw = realloc(rw->w, ncap * sizeof(*nw));

		if (!nw)
			return vtc_err(ENOMEM);
		rw->w = nw;
		rw->cap = ncap;
	}
	rw->w[rw->n++] = *w;
	return 0;
}

static int raw_cmp(const void *a, const void *b)
{
	const struct raw_write *x = a, *y = b;

	if (x->vcpu_id != y->vcpu_id)
		return x->vcpu_id < y->vcpu_id ? -1 : 1;
	if (x->host_tsc != y->host_tsc)
		return x->host_tsc < y->host_tsc ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

enum { F_VCPU, F_NEXT };

static int scan_buffer(struct vt_dat *host, size_t buf, const struct vtc_evdesc *d,
		       struct raw_writes *rw, uint64_t *seq, struct vt_errbuf *eb)
{
	unsigned ncpus = vt_dat_buffer_ncpus(host, buf);

	for (unsigned cpu = 0; cpu < ncpus; cpu++) {
		struct vt_dat_cpu *c = NULL;
		struct vt_event ev;
		int r;

		r = vt_dat_cpu_open(host, buf, cpu, &c, eb);
		if (r < 0)
			return r;
		while ((r = vt_dat_cpu_next_event(c, &ev, eb)) > 0) {
			struct raw_write w = { .host_tsc = ev.ts, .tid = ev.pid, .seq = (*seq)++ };
			uint64_t vcpu;

			if (ev.type_id != d->id)
				continue;
			if (vtc_field_u64(d, F_VCPU, &ev, &vcpu) < 0 ||
			    vtc_field_u64(d, F_NEXT, &ev, &w.next_offset) < 0) {
				r = vtc_errf(eb, EBADMSG,
					     "CPU %u: kvm_write_tsc_offset event too short", cpu);
				break;
			}
			w.vcpu_id = (uint32_t)vcpu;
			r = raw_push(rw, &w);
			if (r < 0)
				break;
		}
		vt_dat_cpu_close(c);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Without a thread set: the writes must come from one VM, one thread per vCPU id. */
static int single_vm_check(const struct raw_writes *rw, struct vt_errbuf *eb)
{
	for (size_t i = 1; i < rw->n; i++) {
		const struct raw_write *a = &rw->w[i - 1], *b = &rw->w[i];

		if (a->vcpu_id == b->vcpu_id && a->tid != b->tid)
			return vtc_errf(eb, EEXIST,
					"vCPU %u written by threads %d and %d: the host trace holds "
					"several QEMU processes (give --pid and --tgids)",
					a->vcpu_id, a->tid, b->tid);
	}
	return 0;
}

static int group_writes(const struct raw_writes *rw, struct vt_timeline *tl)
{
	for (size_t i = 0; i < rw->n; i++) {
		const struct raw_write *w = &rw->w[i];
		struct vt_vcpu_timeline *v;
		struct vt_tsc_write *nw;

		if (!tl->nvcpus || tl->vcpus[tl->nvcpus - 1].vcpu_id != w->vcpu_id) {
			struct vt_vcpu_timeline *nv =
				realloc(tl->vcpus, (tl->nvcpus + 1) * sizeof(*nv));

			if (!nv)
				return vtc_err(ENOMEM);
			tl->vcpus = nv;
			tl->vcpus[tl->nvcpus++] = (struct vt_vcpu_timeline){
				.vcpu_id = w->vcpu_id, .tid = w->tid
			};
		}
		v = &tl->vcpus[tl->nvcpus - 1];
		nw = realloc(v->writes, (v->nwrites + 1) * sizeof(*nw));
		if (!nw)
			return vtc_err(ENOMEM);
		v->writes = nw;
		/* previous offset from the timeline: the field reads 0 on some hosts */
		v->writes[v->nwrites] = (struct vt_tsc_write){
			.host_tsc = w->host_tsc,
			.prev_offset = v->nwrites ? v->writes[v->nwrites - 1].next_offset
						  : w->next_offset,
			.next_offset = w->next_offset,
			.source = VT_SRC_TRACEPOINT,
		};
		v->nwrites++;
	}
	return 0;
}

int vt_timeline_from_dat(struct vt_dat *host, const struct vt_tidset *tids, int32_t pid,
			 struct vt_timeline **ret, struct vt_errbuf *eb)
{
	static const char *const fields[] = { "vcpu_id", "next_tsc_offset", NULL };
	struct raw_writes rw = { 0 };
	struct vt_timeline *tl = NULL;
	struct vtc_evdesc d;
	uint64_t seq = 0, foreign = 0;
	size_t kept = 0;
	int r = 0;

	vtc_evdesc_find(vt_dat_tep(host), "kvm", "kvm_write_tsc_offset", fields, &d);
	if (d.id < 0 || d.f[F_VCPU].offset < 0 || d.f[F_NEXT].offset < 0)
		return vtc_errf(eb, ENOENT, "no kvm:kvm_write_tsc_offset format in the host trace");

	for (size_t b = 0; b < vt_dat_nbuffers(host) && !r; b++)
		r = scan_buffer(host, b, &d, &rw, &seq, eb);
	if (r < 0)
		goto out;

	for (size_t i = 0; i < rw.n; i++) {
		if (tids && !vt_tidset_has(tids, rw.w[i].tid)) {
			foreign++;
			continue;
		}
		rw.w[kept++] = rw.w[i];
	}
	if (kept)	/* rw.w is NULL when the trace holds no write at all */
		qsort(rw.w, kept, sizeof(*rw.w), raw_cmp);
	tl = calloc(1, sizeof(*tl));
	if (!tl) {
		r = vtc_err(ENOMEM);
		goto out;
	}
	tl->pid = pid;
	tl->events_seen = rw.n;
	tl->foreign_writes = foreign;
	rw.n = kept;
	if (!kept) {
		r = vtc_errf(eb, ENOENT,
			     "no kvm_write_tsc_offset event of the QEMU threads in the host trace "
			     "(%" PRIu64 " of other threads)", foreign);
		goto out;
	}
	if (!tids)
		r = single_vm_check(&rw, eb);
	if (!r)
		r = group_writes(&rw, tl);
out:
	free(rw.w);
	if (r < 0) {
		vt_timeline_free(tl);
		return r;
	}
	*ret = tl;
	return 0;
}

static int vcpu_id_cmp(const void *a, const void *b)
{
	const struct vt_vcpu_timeline *x = a, *y = b;

	return x->vcpu_id < y->vcpu_id ? -1 : x->vcpu_id > y->vcpu_id;
}

int vt_timeline_constant(const uint32_t *vcpu_ids, const uint64_t *offsets, size_t n,
			 uint64_t host_tsc, enum vt_offset_source source, uint64_t error_ticks,
			 struct vt_timeline **ret)
{
	struct vt_timeline *tl;

	if (!n || source >= _VT_SRC_MAX)
		return vtc_err(EINVAL);
	tl = calloc(1, sizeof(*tl));
	if (!tl)
		return vtc_err(ENOMEM);
	tl->pid = -1;
	tl->vcpus = calloc(n, sizeof(*tl->vcpus));
	if (!tl->vcpus) {
		free(tl);
		return vtc_err(ENOMEM);
	}
	for (size_t i = 0; i < n; i++) {
		struct vt_vcpu_timeline *v = &tl->vcpus[i];

		v->vcpu_id = vcpu_ids[i];
		v->tid = -1;
		v->writes = calloc(1, sizeof(*v->writes));
		if (!v->writes) {
			tl->nvcpus = i;
			vt_timeline_free(tl);
			return vtc_err(ENOMEM);
		}
		v->writes[0] = (struct vt_tsc_write){ .host_tsc = host_tsc,
						      .prev_offset = offsets[i],
						      .next_offset = offsets[i],
						      .source = source,
						      .error_ticks = error_ticks };
		v->nwrites = 1;
	}
	tl->nvcpus = n;
	qsort(tl->vcpus, n, sizeof(*tl->vcpus), vcpu_id_cmp);
	for (size_t i = 1; i < n; i++) {
		if (tl->vcpus[i].vcpu_id == tl->vcpus[i - 1].vcpu_id) {
			vt_timeline_free(tl);
			return vtc_err(EINVAL);
		}
	}
	*ret = tl;
	return 0;
}
