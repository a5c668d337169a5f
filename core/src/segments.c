// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Offset segments of one guest CPU: decides which TSC offset applies to each guest event.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"
#include "vt/segments.h"

/*
 * The model. After coalescing writes that do not change the offset, the vCPU's host
 * time axis is cut into segments: segment s has offset off_s and covers host times
 * [start_s, start_s+1) (the boot segment has no lower bound, the last no upper one).
 * Each guest event i, in buffer order, lies in one segment sigma(i); sigma never
 * decreases, the event's host time h(i) = to_host(T_i, off_sigma(i)) lies inside its
 * segment, and within one segment host times do not decrease. A matched marker is the
 * first event of its write's segment (its predecessor lies in a lower one).
 *
 * Pass 1 keeps, per event, the set F of segments a consistent placement of the events
 * seen so far allows (a bitmask over at most 64 segments from a base). Where F is a
 * single segment every placement agrees, so the events since the previous such point
 * (the "stretch", stored run-length encoded as blocks of events with the same F and
 * non-decreasing host time) are resolved backwards: G, the segments a placement of the
 * whole trace allows, follows from the successor's G. This is the RFC rule made exact:
 * a forward jump leaves a gap in guest time, so F is a single segment everywhere; a
 * backward jump makes events with guest TSC in [to_guest(Hw, q), to_guest(Hw, p)) fit
 * both, and a later decrease (Tn+1 < Tn) or a marker or an event that fits only one
 * segment decides them. Events whose G keeps two or more segments are ambiguous: they
 * get the lowest candidate (the previous offset, which keeps the CPU's order), are
 * counted, and a run between segment g and g+1 can be decided by containment.
 * Boot: the first event may lie in any segment (a guest boot that starts after a reset
 * write); the boot segment is the one the resolution puts it in. When several remain,
 * the last is taken (DESIGN.md §1's boot rule) and vt_seg_boot_guessed() says so;
 * vt_seg_set_boot() pins it instead.
 * Segments more than 63 above the lowest candidate of a stretch are not considered.
 * Host times are unsigned below 2^63; no wrap of the host TSC is modelled.
 * Memory: the blocks of the open stretch (a stretch of 2^16 blocks is cut, soundly,
 * using the next event's F), plus the guest TSCs of events in a stretch with more than
 * one candidate (at most VT_SEG_RUN_MAX, also the total kept for containment); beyond
 * that, stretches are resolved as usual but their runs cannot use containment.
 */

#define VT_SEG_WINDOW 64		    /* candidate segments per stretch */
#define VT_SEG_RUN_MAX ((size_t)1 << 20)    /* stored guest TSCs */
#define VT_SEG_BLOCKS_MAX ((size_t)1 << 16) /* blocks per stretch before a forced cut */
#define VT_SEG_MARKER_TOLERANCE ((uint64_t)1 << 31)
#define MSR_IA32_TSC 0x10
#define MSR_IA32_TSC_ADJUST 0x3b
#define NONE SIZE_MAX

struct seg {
	size_t write; /* index into writes */
	uint64_t offset;
	uint64_t start;	     /* host TSC of the write */
	enum vt_seg_how how; /* how events decided in it were decided */
};

struct block {
	uint64_t first; /* event index */
	uint64_t count;
	uint64_t mask; /* forward-feasible segments, bit b = segment base + b */
	uint64_t tsc_first;
	uint64_t tsc_last;
	uint64_t g;  /* resolved: segments the whole trace allows for its events */
	bool marker; /* first event is a matched marker */
	bool bad;    /* fits no segment: flagged, constrains nothing */
};

struct run {
	uint64_t first;
	uint64_t count;
	size_t seg;	 /* lowest candidate g */
	bool pair;	 /* every event could be in g or g + 1, nothing else */
	uint64_t *tsc;	 /* guest TSCs, NULL when not stored */
	uint64_t k1, k2; /* [0,k1) on g, [k2,count) on g + 1, between ambiguous */
	size_t boundary; /* boundary of the write after the run, or NONE */
	size_t window;	 /* index into windows, or NONE */
};

struct range {
	uint64_t first; /* first event index of the range */
	size_t seg;
	enum vt_seg_how how;
	size_t run; /* NONE, or the run deciding each event */
};

struct vt_segmenter {
	struct vt_tsc_scale scale;
	bool identity;
	struct seg *segs;
	size_t nsegs;
	size_t nwrites;
	size_t boot;
	bool boot_known;   /* pinned by vt_seg_set_boot(), or settled by the events */
	bool boot_guessed; /* several boot segments fitted: the last was taken */

	/* pass 1 */
	uint64_t nfed;
	bool finished;
	bool have_prev; /* prev_mask/prev_tsc describe the last good event */
	uint64_t prev_mask;
	uint64_t prev_tsc;
	size_t base;
	uint64_t adjust; /* guest IA32_TSC_ADJUST as known from markers */
	bool adjust_known;
	struct block *blocks;
	size_t nblocks, ablocks;
	bool multi; /* the stretch has an event with several candidates */
	uint64_t *stash;
	size_t nstash, astash;
	uint64_t stash_first;
	bool stash_full;
	size_t retained;

	/* results */
	size_t cur_seg;	      /* highest decided segment */
	size_t last_seg;      /* segment given to the last emitted event */
	uint64_t pending_amb; /* ambiguous events since the last boundary */
	size_t runs_open;     /* first run not yet linked to a boundary */
	size_t open_run;      /* run the last emitted event belongs to, or NONE */
	struct range *ranges;
	size_t nranges, aranges;
	struct run *runs;
	size_t nruns, aruns;
	struct vt_boundary *bounds;
	size_t nbounds, abounds;
	struct vt_window *windows;
	size_t nwindows;
	uint64_t ambiguous;
	uint64_t unmatched;
	uint64_t inconsistent;
	bool resolved;

	/* pass 2 */
	size_t cursor;
	uint64_t next_lookup;
};

/* Make room for one more element in arr[0..n) (doubling): 0 or -ENOMEM. */
#define GROW(arr, alloc, n)                                                                        \
	({                                                                                         \
		int _r = 0;                                                                        \
		if ((n) >= (alloc)) {                                                              \
			size_t _na = (alloc) ? 2 * (alloc) : 16;                                   \
			__typeof__(arr) _p = reallocarray((arr), _na, sizeof(*(arr)));             \
                                                                                                   \
			if (_p) {                                                                  \
				(arr) = _p;                                                        \
				(alloc) = _na;                                                     \
			} else {                                                                   \
				_r = vtc_err(ENOMEM);                                              \
			}                                                                          \
		}                                                                                  \
		_r;                                                                                \
	})

static uint64_t host_of(const struct vt_segmenter *s, uint64_t guest_tsc, size_t seg)
{
	if (s->identity)
		return guest_tsc - s->segs[seg].offset;
	return vt_tsc_to_host(&s->scale, guest_tsc, s->segs[seg].offset);
}

/*
 * Host TSC values are taken to be below 2^63 (58 years at 5 GHz): a conversion landing
 * above is a wrap of guest - offset and fits no segment.
 */
static bool host_valid(uint64_t h)
{
	return h < (uint64_t)1 << 63;
}

static bool fits(const struct vt_segmenter *s, uint64_t guest_tsc, size_t seg)
{
	uint64_t h = host_of(s, guest_tsc, seg);

	if (!host_valid(h))
		return false;
	if (seg != s->boot && h < s->segs[seg].start)
		return false;
	if (seg + 1 < s->nsegs && h >= s->segs[seg + 1].start)
		return false;
	return true;
}

/* whether guest TSC @b may follow @a inside segment @seg */
static bool ordered(const struct vt_segmenter *s, uint64_t a, uint64_t b, size_t seg)
{
	return host_of(s, b, seg) >= host_of(s, a, seg);
}

static bool ordered_all(const struct vt_segmenter *s, uint64_t a, uint64_t b, uint64_t mask)
{
	for (unsigned bit = 0; mask; bit++, mask >>= 1)
		if ((mask & 1) && !ordered(s, a, b, s->base + bit))
			return false;
	return true;
}

static unsigned lowest(uint64_t mask)
{
	return (unsigned)__builtin_ctzll(mask);
}

static unsigned highest(uint64_t mask)
{
	return 63u - (unsigned)__builtin_clzll(mask);
}

static bool single(uint64_t mask)
{
	return mask && !(mask & (mask - 1));
}

/* bits 0..bit */
static uint64_t upto(unsigned bit)
{
	return bit >= 63 ? UINT64_MAX : ((uint64_t)2 << bit) - 1;
}

static size_t window_end(const struct vt_segmenter *s)
{
	size_t hi = s->base + VT_SEG_WINDOW - 1;

	return hi < s->nsegs - 1 ? hi : s->nsegs - 1;
}

int vt_seg_new(const struct vt_tsc_write *writes, size_t nwrites, const struct vt_tsc_scale *scale,
	       struct vt_segmenter **ret)
{
	_cleanup_free_ struct vt_segmenter *s = NULL;

	if (!writes || !nwrites || !ret)
		return vtc_err(EINVAL);
	if (scale && scale->ratio && scale->frac_bits >= 64)
		return vtc_err(EINVAL);
	for (size_t i = 1; i < nwrites; i++)
		if (writes[i].host_tsc < writes[i - 1].host_tsc)
			return vtc_err(EINVAL);
	s = calloc(1, sizeof(*s));
	if (!s)
		return vtc_err(ENOMEM);
	s->segs = calloc(nwrites, sizeof(*s->segs));
	if (!s->segs)
		return vtc_err(ENOMEM);
	if (scale)
		s->scale = *scale;
	s->nwrites = nwrites;
	s->identity = vt_tsc_scale_is_identity(scale);
	/* a write whose offset equals the current one (vCPU creation, reset) changes nothing */
	s->segs[0] = (struct seg){.write = 0,
				  .offset = writes[0].next_offset,
				  .start = writes[0].host_tsc,
				  .how = VT_SEG_INITIAL};
	s->nsegs = 1;
	for (size_t i = 1; i < nwrites; i++) {
		if (writes[i].next_offset == s->segs[s->nsegs - 1].offset)
			continue;
		s->segs[s->nsegs++] = (struct seg){.write = i,
						   .offset = writes[i].next_offset,
						   .start = writes[i].host_tsc,
						   .how = VT_SEG_RULE};
	}
	s->open_run = NONE;
	s->adjust_known = true; /* 0 at guest boot */
	*ret = TAKE_PTR(s);
	return 0;
}

void vt_seg_free(struct vt_segmenter *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nruns; i++)
		free(s->runs[i].tsc);
	free(s->segs);
	free(s->blocks);
	free(s->stash);
	free(s->ranges);
	free(s->runs);
	free(s->bounds);
	free(s->windows);
	free(s);
}

/*
 * Where the window starts for the first event when the boot is not pinned: up to 64
 * segments ending at the last one whose write precedes the first event converted with
 * its offset and whose next write does not (the boot rule of DESIGN.md §1).
 */
static void first_window(struct vt_segmenter *s, uint64_t guest_tsc)
{
	size_t last = 0;

	for (size_t i = s->nsegs; i-- > 1;) {
		uint64_t h = host_of(s, guest_tsc, i);

		if (!host_valid(h) || h < s->segs[i].start)
			continue;
		if (i + 1 < s->nsegs && h >= s->segs[i + 1].start)
			continue;
		last = i;
		break;
	}
	s->base = last >= VT_SEG_WINDOW ? last - (VT_SEG_WINDOW - 1) : 0;
}

static int add_range(struct vt_segmenter *s, uint64_t first, size_t seg, enum vt_seg_how how,
		     size_t run)
{
	struct range *last = s->nranges ? &s->ranges[s->nranges - 1] : NULL;
	int r;

	if (last && run == NONE && last->run == NONE && last->seg == seg && last->how == how)
		return 0;
	r = GROW(s->ranges, s->aranges, s->nranges);
	if (r < 0)
		return r;
	s->ranges[s->nranges++] = (struct range){first, seg, how, run};
	return 0;
}

static int add_boundary(struct vt_segmenter *s, size_t seg, uint64_t first, enum vt_seg_how how)
{
	int r = GROW(s->bounds, s->abounds, s->nbounds);

	if (r < 0)
		return r;
	s->bounds[s->nbounds] = (struct vt_boundary){.write = s->segs[seg].write,
						     .first_index = first,
						     .how = how,
						     .ambiguous = s->pending_amb};
	for (; s->runs_open < s->nruns; s->runs_open++)
		s->runs[s->runs_open].boundary = s->nbounds;
	s->nbounds++;
	s->pending_amb = 0;
	return 0;
}

/* Emit @n events from @first whose allowed segments (relative to base) are @g. */
static int emit(struct vt_segmenter *s, uint64_t first, uint64_t n, uint64_t g, bool marker)
{
	size_t seg = s->base + lowest(g);
	struct run *run;
	int r;

	if (!n)
		return 0;
	if (single(g)) {
		if (seg > s->cur_seg) {
			enum vt_seg_how how = marker ? VT_SEG_MARKER : VT_SEG_RULE;

			s->segs[seg].how = how;
			r = add_boundary(s, seg, first, how);
			if (r < 0)
				return r;
			s->cur_seg = seg;
		}
		s->open_run = NONE;
		s->last_seg = seg;
		return add_range(s, first, seg, s->segs[seg].how, NONE);
	}
	s->ambiguous += n;
	s->pending_amb += n;
	s->last_seg = seg;
	if (s->open_run != NONE) {
		run = &s->runs[s->open_run];
		if (run->seg == seg && run->first + run->count == first &&
		    run->pair == (g >> lowest(g) == 3)) {
			run->count += n;
			run->k2 = run->count;
			return 0;
		}
	}
	r = GROW(s->runs, s->aruns, s->nruns);
	if (r < 0)
		return r;
	s->runs[s->nruns] = (struct run){.first = first,
					 .count = n,
					 .seg = seg,
					 .pair = g >> lowest(g) == 3,
					 .k1 = 0,
					 .k2 = n,
					 .boundary = NONE,
					 .window = NONE};
	s->open_run = s->nruns++;
	return add_range(s, first, seg, VT_SEG_AMBIGUOUS, s->open_run);
}

/* An event that fits no segment: flagged, given the segment of the event before it. */
static int emit_bad(struct vt_segmenter *s, uint64_t first, uint64_t n)
{
	s->ambiguous += n;
	s->pending_amb += n;
	s->open_run = NONE;
	return add_range(s, first, s->last_seg, VT_SEG_AMBIGUOUS, NONE);
}

/* Keep the guest TSCs of the pair runs made by the last resolution, for containment. */
static int keep_run_tscs(struct vt_segmenter *s, size_t from)
{
	for (size_t i = from; i < s->nruns; i++) {
		struct run *run = &s->runs[i];
		uint64_t off;

		if (!run->pair || run->tsc || run->first < s->stash_first)
			continue;
		off = run->first - s->stash_first;
		if (off + run->count > s->nstash || s->retained + run->count > VT_SEG_RUN_MAX)
			continue;
		run->tsc = malloc(run->count * sizeof(*run->tsc));
		if (!run->tsc)
			return vtc_err(ENOMEM);
		memcpy(run->tsc, s->stash + off, run->count * sizeof(*run->tsc));
		s->retained += run->count;
	}
	return 0;
}

/*
 * Resolve the open stretch backwards. @have_succ: the event after it allows @succ_mask
 * (relative to base; a superset of what the whole trace allows is sound), has guest TSC
 * @succ_tsc and, if @succ_marker, must be in a higher segment than its predecessor.
 */
static void backward(struct vt_segmenter *s, bool have_succ, uint64_t succ_mask, uint64_t succ_tsc,
		     bool succ_marker)
{
	uint64_t gn = succ_mask, tn = succ_tsc;
	bool strict = succ_marker, have = have_succ;

	for (size_t b = s->nblocks; b-- > 0;) {
		struct block *blk = &s->blocks[b];
		uint64_t gl = 0;

		if (blk->bad)
			continue;
		if (!have) {
			gl = blk->mask;
		} else {
			for (unsigned bit = 0; bit < 64; bit++) {
				if (!(blk->mask >> bit & 1))
					continue;
				if (bit < 63 && gn >> (bit + 1))
					gl |= (uint64_t)1 << bit;
				else if (!strict && (gn >> bit & 1) &&
					 ordered(s, blk->tsc_last, tn, s->base + bit))
					gl |= (uint64_t)1 << bit;
			}
			if (!gl) /* cannot happen with a consistent F; stay sound */
				gl = blk->mask;
		}
		/*
		 * Inside a block host times never decrease for any candidate, so an earlier
		 * event allows {s in mask: s <= max G(next)}; for the last one that is gl
		 * already (every candidate below max G(next) qualifies), hence for all.
		 */
		blk->g = gl;
		gn = gl;
		tn = blk->tsc_first;
		strict = blk->marker;
		have = true;
	}
}

/*
 * The boot segment is the one the first event lies in. When the events cannot tell
 * (a reset wrote an offset that makes them fit a later segment too), take the last
 * candidate, as for a guest boot that starts after a reset write (DESIGN.md §1).
 */
static void settle_boot(struct vt_segmenter *s, bool have_succ, uint64_t succ_mask,
			uint64_t succ_tsc, bool succ_marker)
{
	const struct block *first = NULL;
	uint64_t g;

	for (size_t b = 0; b < s->nblocks && !first; b++)
		if (!s->blocks[b].bad)
			first = &s->blocks[b];
	if (!first)
		return;
	g = first->g;
	if (first->marker) {
		/* the trace starts with a guest write: the boot is the segment before it */
		s->boot = s->base + lowest(g) - 1;
	} else if (single(g)) {
		s->boot = s->base + lowest(g);
	} else {
		unsigned last = highest(g);

		s->boot = s->base + last;
		s->boot_guessed = true;
		for (size_t b = 0; b < s->nblocks; b++)
			if (!s->blocks[b].bad)
				s->blocks[b].mask &= ~upto(last) | ((uint64_t)1 << last);
		backward(s, have_succ, succ_mask & (~upto(last) | ((uint64_t)1 << last)), succ_tsc,
			 succ_marker);
	}
	s->boot_known = true;
	s->segs[s->boot].how = VT_SEG_INITIAL;
	s->cur_seg = s->last_seg = s->boot;
}

static int resolve_stretch(struct vt_segmenter *s, bool have_succ, uint64_t succ_mask,
			   uint64_t succ_tsc, bool succ_marker)
{
	size_t runs_before = s->nruns;
	int r;

	backward(s, have_succ, succ_mask, succ_tsc, succ_marker);
	if (!s->boot_known)
		settle_boot(s, have_succ, succ_mask, succ_tsc, succ_marker);
	for (size_t b = 0; b < s->nblocks; b++) {
		struct block *blk = &s->blocks[b];

		if (blk->bad) {
			r = emit_bad(s, blk->first, blk->count);
		} else {
			r = emit(s, blk->first, blk->count, blk->g, blk->marker);
		}
		if (r < 0)
			return r;
	}
	r = keep_run_tscs(s, runs_before);
	if (r < 0)
		return r;
	s->nblocks = 0;
	s->multi = false;
	s->nstash = 0;
	s->stash_full = false;
	return 0;
}

static int add_block(struct vt_segmenter *s, uint64_t index, uint64_t guest_tsc, uint64_t mask,
		     bool marker, bool bad)
{
	int r = GROW(s->blocks, s->ablocks, s->nblocks);

	if (r < 0)
		return r;
	s->blocks[s->nblocks++] = (struct block){.first = index,
						 .count = 1,
						 .mask = mask,
						 .tsc_first = guest_tsc,
						 .tsc_last = guest_tsc,
						 .marker = marker,
						 .bad = bad};
	return 0;
}

static int stash_tsc(struct vt_segmenter *s, uint64_t index, uint64_t guest_tsc)
{
	int r;

	if (s->stash_full)
		return 0;
	if (!s->nstash)
		s->stash_first = index;
	if (s->nstash >= VT_SEG_RUN_MAX) {
		s->stash_full = true;
		return 0;
	}
	r = GROW(s->stash, s->astash, s->nstash);
	if (r < 0)
		return r;
	s->stash[s->nstash++] = guest_tsc;
	return 0;
}

/*
 * The pending writes a marker can stand for, as a mask relative to base (0: none). A
 * pending write is one after the lowest candidate of the event before, whose segment
 * the marker event itself fits (it is read after the write). IA32_TSC_ADJUST value V:
 * the writes whose offset change equals V - the previous TSC_ADJUST (0 at guest boot).
 * IA32_TSC value V: KVM sets offset = V - guest(host TSC read just before its
 * tracepoint), so guest(Hw, next_offset) is V plus a few hundred ticks: the writes
 * within VT_SEG_MARKER_TOLERANCE of V. Usually one write qualifies; when several do
 * (a guest writing the same value twice), the marker still says it is the first event
 * of one of them, and the backward pass decides or flags.
 */
static uint64_t match_marker(struct vt_segmenter *s, size_t lo, uint64_t guest_tsc, uint32_t msr,
			     uint64_t msr_value)
{
	size_t hi = window_end(s);
	uint64_t mask = 0, delta = 0;
	bool same_delta = true;

	for (size_t t = lo + 1; t <= hi; t++) {
		const struct seg *g = &s->segs[t];
		uint64_t dt = g->offset - s->segs[t - 1].offset;
		bool ok;

		if (!fits(s, guest_tsc, t))
			continue;
		if (msr == MSR_IA32_TSC) {
			int64_t d =
			    (int64_t)(vt_tsc_to_guest(&s->scale, g->start, g->offset) - msr_value);

			ok = (d < 0 ? -(uint64_t)d : (uint64_t)d) < VT_SEG_MARKER_TOLERANCE;
		} else {
			ok = !s->adjust_known || dt == msr_value - s->adjust;
		}
		if (!ok)
			continue;
		if (mask && dt != delta)
			same_delta = false;
		delta = dt;
		mask |= (uint64_t)1 << (t - s->base);
	}
	if (!mask)
		return 0;
	/* KVM adds a guest TSC write's delta to IA32_TSC_ADJUST too */
	if (msr == MSR_IA32_TSC_ADJUST) {
		s->adjust = msr_value;
		s->adjust_known = true;
	} else if (same_delta) {
		s->adjust += delta;
	} else {
		s->adjust_known = false;
	}
	return mask;
}

int vt_seg_feed(struct vt_segmenter *s, uint64_t index, uint64_t guest_tsc, bool marker,
		uint32_t msr, uint64_t msr_value)
{
	uint64_t mask = 0;
	size_t lo, hi;
	bool matched = false;
	int r;

	if (!s || s->finished || index != s->nfed)
		return vtc_err(EINVAL);
	if (!s->nfed && !s->boot_known)
		first_window(s, guest_tsc);
	lo = s->have_prev ? s->base + lowest(s->prev_mask) : s->boot_known ? s->boot : s->base;
	hi = window_end(s);

	if (marker && (msr == MSR_IA32_TSC || msr == MSR_IA32_TSC_ADJUST)) {
		mask = match_marker(s, lo, guest_tsc, msr, msr_value);
		if (mask)
			matched = true;
		else
			s->unmatched++;
	}
	if (!matched && !s->have_prev && s->boot_known) {
		/* pinned boot: the first event lies in it */
		if (fits(s, guest_tsc, s->boot))
			mask = (uint64_t)1 << (s->boot - s->base);
	} else if (!matched) {
		for (size_t t = lo; t <= hi; t++) {
			if (!fits(s, guest_tsc, t))
				continue;
			if (t > lo || !s->have_prev || ordered(s, s->prev_tsc, guest_tsc, t))
				mask |= (uint64_t)1 << (t - s->base);
		}
	}
	s->nfed++;

	if (!mask) {
		s->inconsistent++;
		if (s->multi) {
			r = stash_tsc(s, index, guest_tsc);
			if (r < 0)
				return r;
		}
		return add_block(s, index, guest_tsc, s->have_prev ? s->prev_mask : 1, false, true);
	}

	if (s->nblocks) {
		struct block *last = &s->blocks[s->nblocks - 1];
		bool extend = !last->bad && !matched && last->mask == mask &&
			      ordered_all(s, last->tsc_last, guest_tsc, mask);

		if (single(mask) && (s->multi || !extend)) {
			/* every placement passes through this event: settle what came before */
			r = resolve_stretch(s, true, mask, guest_tsc, matched);
			if (r < 0)
				return r;
		} else if (s->nblocks >= VT_SEG_BLOCKS_MAX && !extend) {
			/* bound memory: cut soundly, this event's F as the successor */
			r = resolve_stretch(s, true, mask, guest_tsc, matched);
			if (r < 0)
				return r;
		} else if (extend) {
			last->count++;
			last->tsc_last = guest_tsc;
			goto out;
		}
	}
	if (!s->nblocks) {
		/* rebase the window on this event's lowest candidate */
		unsigned sh = lowest(mask);

		s->base += sh;
		mask >>= sh;
	}
	r = add_block(s, index, guest_tsc, mask, matched, false);
	if (r < 0)
		return r;
out:
	if (!single(mask))
		s->multi = true;
	if (s->multi) {
		r = stash_tsc(s, index, guest_tsc);
		if (r < 0)
			return r;
	}
	s->have_prev = true;
	s->prev_mask = mask;
	s->prev_tsc = guest_tsc;
	return 0;
}

int vt_seg_finish(struct vt_segmenter *s)
{
	int r;

	if (!s || s->finished)
		return vtc_err(EINVAL);
	r = resolve_stretch(s, false, 0, 0, false);
	if (r < 0)
		return r;
	/* ambiguity at the end of the trace: the write after it has no decided event */
	if (s->pending_amb && s->runs_open < s->nruns) {
		size_t seg = s->runs[s->nruns - 1].seg + 1;

		if (seg < s->nsegs) {
			r = add_boundary(s, seg, s->nfed, VT_SEG_AMBIGUOUS);
			if (r < 0)
				return r;
		}
	}
	free(s->stash);
	s->stash = NULL;
	s->nstash = s->astash = 0;

	/* windows: pair runs with stored TSCs, alone before the boundary of write g + 1 */
	s->windows = calloc(s->nruns ? s->nruns : 1, sizeof(*s->windows));
	if (!s->windows)
		return vtc_err(ENOMEM);
	for (size_t i = 0; i < s->nruns; i++) {
		struct run *run = &s->runs[i];
		uint64_t a, b, c, d;

		if (!run->pair || !run->tsc || run->boundary == NONE ||
		    s->bounds[run->boundary].write != s->segs[run->seg + 1].write ||
		    (i > 0 && s->runs[i - 1].boundary == run->boundary) ||
		    (i + 1 < s->nruns && s->runs[i + 1].boundary == run->boundary))
			continue;
		a = host_of(s, run->tsc[0], run->seg);
		b = host_of(s, run->tsc[0], run->seg + 1);
		c = host_of(s, run->tsc[run->count - 1], run->seg);
		d = host_of(s, run->tsc[run->count - 1], run->seg + 1);
		run->window = s->nwindows;
		s->windows[s->nwindows++] =
		    (struct vt_window){.from = a < b ? a : b, .to = c > d ? c : d};
	}
	s->finished = true;
	return 0;
}

size_t vt_seg_windows(const struct vt_segmenter *s, const struct vt_window **ret)
{
	*ret = s->windows;
	return s->nwindows;
}

static bool inside(const struct vt_interval *iv, size_t niv, uint64_t h)
{
	size_t lo = 0, hi = niv;

	/* last interval with entry <= h */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (iv[mid].entry <= h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && h <= iv[lo - 1].exit;
}

static int resolve_run(struct vt_segmenter *s, struct run *run, const struct vt_interval *iv,
		       size_t niv)
{
	_cleanup_free_ uint64_t *in_p = calloc(run->count + 1, sizeof(uint64_t));
	_cleanup_free_ uint64_t *in_q = calloc(run->count + 1, sizeof(uint64_t));
	_cleanup_free_ bool *ok_p = calloc(run->count + 1, sizeof(bool));
	_cleanup_free_ bool *ok_q = calloc(run->count + 1, sizeof(bool));
	size_t p = run->seg, q = run->seg + 1;
	uint64_t n = run->count, best = 0, k1 = NONE, k2 = 0, dropped;
	struct vt_boundary *bd = &s->bounds[run->boundary];

	if (!in_p || !in_q || !ok_p || !ok_q)
		return vtc_err(ENOMEM);
	/* in_p[k]: events [0,k) inside on p; in_q[k]: events [k,n) inside on q */
	ok_p[0] = true;
	for (uint64_t i = 0; i < n; i++) {
		in_p[i + 1] = in_p[i] + inside(iv, niv, host_of(s, run->tsc[i], p));
		ok_p[i + 1] = ok_p[i] && (!i || ordered(s, run->tsc[i - 1], run->tsc[i], p));
	}
	ok_q[n] = true;
	for (uint64_t i = n; i-- > 0;) {
		in_q[i] = in_q[i + 1] + inside(iv, niv, host_of(s, run->tsc[i], q));
		ok_q[i] =
		    ok_q[i + 1] && (i + 1 == n || ordered(s, run->tsc[i], run->tsc[i + 1], q));
	}
	for (uint64_t k = 0; k <= n; k++) {
		uint64_t score = in_p[k] + in_q[k];

		if (!ok_p[k] || !ok_q[k])
			continue;
		if (k1 == NONE || score > best) {
			best = score;
			k1 = k2 = k;
		} else if (score == best) {
			k2 = k;
		}
	}
	if (k1 == NONE)
		return 0;
	run->k1 = k1;
	run->k2 = k2;
	dropped = n - (k2 - k1);
	s->ambiguous -= dropped;
	bd->ambiguous -= dropped;
	if (k2 < n)
		bd->first_index = run->first + k2;
	if (k2 < n || (k1 == k2 && bd->how == VT_SEG_AMBIGUOUS))
		bd->how = VT_SEG_CONTAINMENT;
	return 0;
}

int vt_seg_resolve(struct vt_segmenter *s, const struct vt_interval *iv, size_t niv)
{
	if (!s || !s->finished || s->resolved || (niv && !iv))
		return vtc_err(EINVAL);
	for (size_t i = 0; i < niv; i++)
		if (iv[i].exit < iv[i].entry || (i && iv[i].entry < iv[i - 1].entry))
			return vtc_err(EINVAL);
	s->resolved = true;
	for (size_t i = 0; i < s->nruns; i++) {
		int r;

		if (s->runs[i].window == NONE)
			continue;
		r = resolve_run(s, &s->runs[i], iv, niv);
		if (r < 0)
			return r;
	}
	return 0;
}

int vt_seg_lookup(struct vt_segmenter *s, uint64_t index, uint64_t *ret_offset,
		  enum vt_seg_how *ret_how)
{
	const struct range *rg;
	size_t seg;
	enum vt_seg_how how;

	if (!s || !s->finished || index >= s->nfed || index < s->next_lookup)
		return vtc_err(EINVAL);
	while (s->cursor + 1 < s->nranges && s->ranges[s->cursor + 1].first <= index)
		s->cursor++;
	rg = &s->ranges[s->cursor];
	seg = rg->seg;
	how = rg->how;
	if (rg->run != NONE) {
		const struct run *run = &s->runs[rg->run];
		uint64_t rel = index - run->first;

		if (rel < run->k1) {
			how = VT_SEG_CONTAINMENT;
		} else if (rel >= run->k2) {
			seg = run->seg + 1;
			how = VT_SEG_CONTAINMENT;
		}
	}
	s->next_lookup = index;
	if (ret_offset)
		*ret_offset = s->segs[seg].offset;
	if (ret_how)
		*ret_how = how;
	return 0;
}

size_t vt_seg_boundaries(const struct vt_segmenter *s, const struct vt_boundary **ret)
{
	*ret = s->bounds;
	return s->nbounds;
}

uint64_t vt_seg_ambiguous(const struct vt_segmenter *s)
{
	return s->ambiguous;
}

size_t vt_seg_boot_write(const struct vt_segmenter *s)
{
	return s->segs[s->boot].write;
}

uint64_t vt_seg_unmatched_markers(const struct vt_segmenter *s)
{
	return s->unmatched;
}

uint64_t vt_seg_inconsistent(const struct vt_segmenter *s)
{
	return s->inconsistent;
}

int vt_seg_set_boot(struct vt_segmenter *s, size_t write)
{
	size_t seg = 0;

	if (!s || s->nfed || write >= s->nwrites)
		return vtc_err(EINVAL);
	/* the segment in force after @write (a coalesced write belongs to the one before) */
	while (seg + 1 < s->nsegs && s->segs[seg + 1].write <= write)
		seg++;
	s->boot = seg;
	s->boot_known = true;
	s->segs[seg].how = VT_SEG_INITIAL;
	s->base = s->cur_seg = s->last_seg = seg;
	return 0;
}

bool vt_seg_boot_guessed(const struct vt_segmenter *s)
{
	return s->boot_guessed;
}
