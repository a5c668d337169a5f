// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Containment sweep: share of guest events inside their vCPU's guest-mode intervals.
 */
#include <errno.h>
#include <stdlib.h>

#include "evfield.h"
#include "util.h"
#include "vt/containment.h"
#include "vt/merge.h"

struct vcpu_state {
	int32_t tid;
	bool in_guest;
};

static struct vcpu_state *state_of(struct vcpu_state *st, size_t n, int32_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (st[i].tid == tid)
			return &st[i];
	return NULL;
}

static int32_t tid_of(const struct vt_stream_tid *map, size_t nmap,
		      const struct vt_merge_item *it)
{
	for (size_t i = 0; i < nmap; i++)
		if (map[i].file == it->file && map[i].buffer == it->buffer && map[i].cpu == it->cpu)
			return map[i].tid;
	return -1;
}

int vt_containment_sweep(struct vt_dat *const *files, size_t nfiles,
			 const struct vt_stream_tid *map, size_t nmap, struct vt_containment *ret,
			 struct vt_errbuf *eb)
{
	struct vtc_evdesc entry, exit_;
	struct vcpu_state *st = NULL;
	struct vt_merge *m = NULL;
	struct vt_merge_item it;
	size_t nst = 0;
	int r;

	*ret = (struct vt_containment){ 0 };
	vtc_evdesc_find(vt_dat_tep(files[0]), "kvm", "kvm_entry", NULL, &entry);
	vtc_evdesc_find(vt_dat_tep(files[0]), "kvm", "kvm_exit", NULL, &exit_);
	if (nfiles < 2)
		return 0;
	st = calloc(nmap ? nmap : 1, sizeof(*st));
	if (!st)
		return vtc_err(ENOMEM);
	for (size_t i = 0; i < nmap; i++)
		if (map[i].tid >= 0 && !state_of(st, nst, map[i].tid))
			st[nst++] = (struct vcpu_state){ .tid = map[i].tid };

	r = vt_merge_new(files, nfiles, &m, eb);
	while (!r && (r = vt_merge_next(m, &it, eb)) > 0) {
		struct vcpu_state *s;
		int32_t tid;

		r = 0;
		if (it.file == 0) {
			ret->host_events++;
			if (it.ev.type_id != entry.id && it.ev.type_id != exit_.id)
				continue;
			s = state_of(st, nst, it.ev.pid);
			if (s) {
				s->in_guest = it.ev.type_id == entry.id;
				ret->available = true;
			}
			continue;
		}
		tid = tid_of(map, nmap, &it);
		s = tid >= 0 ? state_of(st, nst, tid) : NULL;
		if (!s) {
			ret->unmapped++;
			continue;
		}
		ret->guest_events++;
		if (s->in_guest) {
			ret->inside++;
		} else if (ret->noutside < VT_OUTSIDE_LIST_MAX) {
			ret->outside[ret->noutside++] = (struct vt_outside_event){
				.file = it.file, .cpu = it.cpu, .host_tsc = it.ev.ts
			};
		}
	}
	vt_merge_free(m);
	free(st);
	if (r < 0)
		return r;
	/* a host that traced entry/exit formats but none of these threads: not available */
	if (!ret->available) {
		ret->inside = 0;
		ret->noutside = 0;
	}
	return 0;
}
