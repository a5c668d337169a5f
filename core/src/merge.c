// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * k-way merge of per-CPU streams on the host TSC axis: a binary min-heap of streams,
 * sized once, no allocation per event.
 */
#include <errno.h>
#include <stdlib.h>

#include "util.h"
#include "vt/merge.h"

struct mstream {
	struct vt_dat_cpu *c;
	struct vt_event ev;	/* current head */
	uint64_t order;		/* (file, buffer, cpu) rank for ties */
	unsigned file;
	size_t buffer;
	unsigned cpu;
};

struct vt_merge {
	struct mstream *s;
	size_t ns;
	struct mstream **heap;
	size_t nheap;
	struct mstream *last;	/* stream of the item handed out, to advance next time */
};

static bool before(const struct mstream *a, const struct mstream *b)
{
	if (a->ev.ts != b->ev.ts)
		return a->ev.ts < b->ev.ts;
	return a->order < b->order;
}

static void sift_down(struct vt_merge *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		struct mstream *tmp;

		if (l < m->nheap && before(m->heap[l], m->heap[min]))
			min = l;
		if (r < m->nheap && before(m->heap[r], m->heap[min]))
			min = r;
		if (min == i)
			return;
		tmp = m->heap[i];
		m->heap[i] = m->heap[min];
		m->heap[min] = tmp;
		i = min;
	}
}

void vt_merge_free(struct vt_merge *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ns; i++)
		vt_dat_cpu_close(m->s[i].c);
	free(m->s);
	free(m->heap);
	free(m);
}

int vt_merge_new(struct vt_dat *const *files, size_t nfiles, struct vt_merge **ret,
		 struct vt_errbuf *eb)
{
	struct vt_merge *m = calloc(1, sizeof(*m));
	size_t n = 0;
	int r = 0;

	if (!m)
		return vtc_err(ENOMEM);
	for (size_t f = 0; f < nfiles; f++)
		for (size_t b = 0; b < vt_dat_nbuffers(files[f]); b++)
			n += vt_dat_buffer_ncpus(files[f], b);
	m->s = calloc(n ? n : 1, sizeof(*m->s));
	m->heap = calloc(n ? n : 1, sizeof(*m->heap));
	if (!m->s || !m->heap) {
		vt_merge_free(m);
		return vtc_err(ENOMEM);
	}
	for (size_t f = 0; f < nfiles && !r; f++) {
		for (size_t b = 0; b < vt_dat_nbuffers(files[f]) && !r; b++) {
			for (unsigned cpu = 0; cpu < vt_dat_buffer_ncpus(files[f], b); cpu++) {
				struct mstream *s = &m->s[m->ns];

				r = vt_dat_cpu_open(files[f], b, cpu, &s->c, eb);
				if (r < 0)
					break;
				s->file = (unsigned)f;
				s->buffer = b;
				s->cpu = cpu;
				s->order = m->ns++;
				r = vt_dat_cpu_next_event(s->c, &s->ev, eb);
				if (r < 0)
					break;
				if (r > 0)
					m->heap[m->nheap++] = s;
				r = 0;
			}
		}
	}
	if (r < 0) {
		vt_merge_free(m);
		return r;
	}
	for (size_t i = m->nheap / 2; i-- > 0;)
		sift_down(m, i);
	*ret = m;
	return 0;
}

int vt_merge_next(struct vt_merge *m, struct vt_merge_item *ret, struct vt_errbuf *eb)
{
	struct mstream *s;

	if (m->last) {
		int r = vt_dat_cpu_next_event(m->last->c, &m->last->ev, eb);

		if (r < 0)
			return r;
		if (r == 0)
			m->heap[0] = m->heap[--m->nheap];
		m->last = NULL;
		if (m->nheap)
			sift_down(m, 0);
	}
	if (!m->nheap)
		return 0;
	s = m->heap[0];
	ret->ev = s->ev;
	ret->file = s->file;
	ret->buffer = s->buffer;
	ret->cpu = s->cpu;
	m->last = s;
	return 1;
}
