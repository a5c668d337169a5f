// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for core/src/segments.c: offset boundaries by marker, rule, containment, boot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vt-test.h"
#include "vt/segments.h"

/* the case tables are laid out by hand */
/* clang-format off */
#define N(a) (sizeof(a) / sizeof((a)[0]))
/* prev_offset is deliberately wrong: the segmenter must take the preceding next_offset */
#define W(host, next) { (host), 0xdeadbeefull, (uint64_t)(next), VT_SRC_TRACEPOINT, 0 }
#define EV(tsc, off, how) { (uint64_t)(tsc), false, 0, 0, (uint64_t)(off), (how) }
#define MK(tsc, msr, value, off, how) \
	{ (uint64_t)(tsc), true, (msr), (uint64_t)(value), (uint64_t)(off), (how) }

#define INIT VT_SEG_INITIAL
#define MARK VT_SEG_MARKER
#define RULE VT_SEG_RULE
#define CONT VT_SEG_CONTAINMENT
#define AMB VT_SEG_AMBIGUOUS

struct ev {
	uint64_t tsc;
	bool marker;
	uint32_t msr;
	uint64_t value;
	uint64_t offset;	/* expected */
	enum vt_seg_how how;	/* expected */
};

struct scenario {
	const char *name;
	const struct vt_tsc_write *w;
	size_t nw;
	const struct ev *ev;
	size_t nev;
	const struct vt_interval *iv;	/* given to vt_seg_resolve() when niv or resolve */
	size_t niv;
	bool resolve;
	uint64_t ambiguous;
	size_t boot_write;
	bool pin;			/* call vt_seg_set_boot(pin_write) */
	bool boot_guessed;
	size_t pin_write;
	bool check_bounds;
	const struct vt_boundary *bounds;
	size_t nbounds;
	uint64_t unmatched;
	bool check_win;
	const struct vt_window *win;
	size_t nwin;
};

static const char *how_name(enum vt_seg_how how)
{
	static const char *names[] = { "initial", "marker", "rule", "containment", "ambiguous" };

	return (unsigned)how < N(names) ? names[how] : "?";
}

static void run_scenario(const struct scenario *sc)
{
	struct vt_segmenter *s = NULL;
	const struct vt_boundary *b;
	const struct vt_window *win;
	size_t nb, nwin;

	assert_int_equal(vt_seg_new(sc->w, sc->nw, NULL, &s), 0);
	if (sc->pin)
		assert_int_equal(vt_seg_set_boot(s, sc->pin_write), 0);
	for (size_t i = 0; i < sc->nev; i++)
		assert_int_equal(vt_seg_feed(s, i, sc->ev[i].tsc, sc->ev[i].marker, sc->ev[i].msr,
					     sc->ev[i].value), 0);
	assert_int_equal(vt_seg_finish(s), 0);
	nwin = vt_seg_windows(s, &win);
	if (sc->check_win) {
		if (nwin != sc->nwin)
			fail_msg("%s: %zu windows, want %zu", sc->name, nwin, sc->nwin);
		for (size_t i = 0; i < nwin; i++) {
			assert_int_equal(win[i].from, sc->win[i].from);
			assert_int_equal(win[i].to, sc->win[i].to);
		}
	}
	if (sc->niv || sc->resolve)
		assert_int_equal(vt_seg_resolve(s, sc->iv, sc->niv), 0);
	for (size_t i = 0; i < sc->nev; i++) {
		uint64_t off;
		enum vt_seg_how how;

		assert_int_equal(vt_seg_lookup(s, i, &off, &how), 0);
		if (off != sc->ev[i].offset || how != sc->ev[i].how)
			fail_msg("%s: event %zu (tsc %llu): offset %lld %s, want %lld %s", sc->name,
				 i, (unsigned long long)sc->ev[i].tsc, (long long)off,
				 how_name(how), (long long)sc->ev[i].offset,
				 how_name(sc->ev[i].how));
	}
	if (vt_seg_ambiguous(s) != sc->ambiguous)
		fail_msg("%s: %llu ambiguous, want %llu", sc->name,
			 (unsigned long long)vt_seg_ambiguous(s),
			 (unsigned long long)sc->ambiguous);
	assert_int_equal(vt_seg_boot_write(s), sc->boot_write);
	assert_int_equal(vt_seg_boot_guessed(s), sc->boot_guessed);
	assert_int_equal(vt_seg_unmatched_markers(s), sc->unmatched);
	nb = vt_seg_boundaries(s, &b);
	if (sc->check_bounds) {
		if (nb != sc->nbounds)
			fail_msg("%s: %zu boundaries, want %zu", sc->name, nb, sc->nbounds);
		for (size_t i = 0; i < nb; i++) {
			if (b[i].write != sc->bounds[i].write ||
			    b[i].first_index != sc->bounds[i].first_index ||
			    b[i].how != sc->bounds[i].how ||
			    b[i].ambiguous != sc->bounds[i].ambiguous)
				fail_msg("%s: boundary %zu: write %zu first %llu %s amb %llu, want "
					 "write %zu first %llu %s amb %llu", sc->name, i, b[i].write,
					 (unsigned long long)b[i].first_index, how_name(b[i].how),
					 (unsigned long long)b[i].ambiguous, sc->bounds[i].write,
					 (unsigned long long)sc->bounds[i].first_index,
					 how_name(sc->bounds[i].how),
					 (unsigned long long)sc->bounds[i].ambiguous);
		}
	}
	vt_seg_free(s);
}

#define SC(wr, evs) .name = #evs, .w = (wr), .nw = N(wr), .ev = (evs), .nev = N(evs)
#define BOUNDS(b) .check_bounds = true, .bounds = (b), .nbounds = N(b)
#define NO_BOUNDS .check_bounds = true
#define WINDOWS(w) .check_win = true, .win = (w), .nwin = N(w)
#define NO_WINDOWS .check_win = true
#define PIN(i) .pin = true, .pin_write = (i)

/* ---- boot offset only ---- */

static const struct vt_tsc_write w_boot[] = { W(1000, -1000) };
static const struct ev ev_boot[] = {
	EV(5, -1000, INIT), EV(50, -1000, INIT), EV(500, -1000, INIT), EV(5000000, -1000, INIT),
};
static const struct vt_tsc_write w_boot_wrap[] = { W(77, -123456789ll) };
static const struct ev ev_boot_wrap[] = {
	EV(1, -123456789ll, INIT), EV(2, -123456789ll, INIT), EV(1u << 31, -123456789ll, INIT),
};

static void boot_offset_only_converts_all_events_with_zero_error(void **state)
{
	const struct scenario cases[] = {
		{ SC(w_boot, ev_boot), NO_BOUNDS, NO_WINDOWS },
		{ SC(w_boot_wrap, ev_boot_wrap), NO_BOUNDS },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		run_scenario(&cases[i]);
	/* and the host times are exact */
	for (size_t i = 0; i < N(ev_boot); i++)
		assert_int_equal(vt_tsc_to_host(NULL, ev_boot[i].tsc, ev_boot[i].offset),
				 ev_boot[i].tsc + 1000);
}

/* ---- the RFC rule ---- */

/* at host 1000 the guest TSC jumps from 1000 to 6000 */
static const struct vt_tsc_write w_fwd[] = { W(0, 0), W(1000, 5000) };
static const struct ev ev_fwd[] = {
	EV(100, 0, INIT), EV(500, 0, INIT), EV(900, 0, INIT),
	EV(6100, 5000, RULE), EV(6200, 5000, RULE), EV(9000, 5000, RULE),
};
static const struct vt_boundary b_fwd[] = { { 1, 3, VT_SEG_RULE, 0 } };
/* a trace that starts after the write: that write gives its boot segment */
static const struct ev ev_fwd_first[] = { EV(6100, 5000, INIT), EV(6200, 5000, INIT) };

static void forward_jump_rule_boundary_between_tn_and_tn1(void **state)
{
	const struct scenario cases[] = {
		{ SC(w_fwd, ev_fwd), BOUNDS(b_fwd), NO_WINDOWS },
		{ SC(w_fwd, ev_fwd_first), NO_BOUNDS, .boot_write = 1 },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		run_scenario(&cases[i]);
}

/* at host 1000 the guest TSC goes back from 1000 to 500 */
static const struct vt_tsc_write w_back[] = { W(0, 0), W(1000, -500) };
/* 600 and 900 could be on either side of the write; the decrease to 550 settles it */
static const struct ev ev_back[] = {
	EV(100, 0, INIT), EV(600, 0, INIT), EV(900, 0, INIT),
	EV(550, -500, RULE), EV(650, -500, RULE), EV(1200, -500, RULE),
};
static const struct vt_boundary b_back[] = { { 1, 3, VT_SEG_RULE, 0 } };
/* the guest's events after the write stay below the ones before it, then pass them */
static const struct ev ev_back_below[] = {
	EV(100, 0, INIT), EV(950, 0, INIT), EV(990, 0, INIT),
	EV(505, -500, RULE), EV(990, -500, RULE), EV(995, -500, RULE), EV(1001, -500, RULE),
};
static const struct vt_boundary b_back_below[] = { { 1, 3, VT_SEG_RULE, 0 } };

static void backward_jump_after_write_uses_next_offset(void **state)
{
	const struct scenario cases[] = {
		{ SC(w_back, ev_back), BOUNDS(b_back), NO_WINDOWS },
		{ SC(w_back, ev_back_below), BOUNDS(b_back_below) },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		run_scenario(&cases[i]);
}

/* ---- markers ---- */

/* at host 1000 the guest writes IA32_TSC = 500: a backward jump of 500 */
static const struct ev ev_mark[] = {
	EV(100, 0, INIT), EV(400, 0, INIT),
	MK(501, 0x10, 500, -500, MARK), EV(600, -500, MARK), EV(900, -500, MARK),
	EV(1100, -500, MARK),
};
static const struct vt_boundary b_mark[] = { { 1, 2, VT_SEG_MARKER, 0 } };
/* the same events without the marker: the rule cannot place 501..900 */
static const struct ev ev_mark_none[] = {
	EV(100, 0, INIT), EV(400, 0, INIT),
	EV(501, 0, AMB), EV(600, 0, AMB), EV(900, 0, AMB), EV(1100, -500, RULE),
};
static const struct vt_boundary b_mark_none[] = { { 1, 5, VT_SEG_RULE, 3 } };
/* a marker value that matches no write: ignored, counted, the event is an ordinary one */
static const struct ev ev_mark_wrong[] = {
	EV(100, 0, INIT), MK(200, 0x10, 77777777777ull, 0, INIT), EV(1600, -500, RULE),
};

/* 600 fits after the write too (host 1100, before the marker's 1601), but a marker is
 * the first event of its write's segment: 600 is before */
static const struct ev ev_mark_first[] = {
	EV(100, 0, INIT), EV(600, 0, INIT), MK(1101, 0x10, 500, -500, MARK), EV(1200, -500, MARK),
};

static void marker_boundary_exact_even_when_rule_would_differ(void **state)
{
	const struct scenario cases[] = {
		{ SC(w_back, ev_mark), BOUNDS(b_mark) },
		{ SC(w_back, ev_mark_none), .ambiguous = 3, BOUNDS(b_mark_none) },
		{ SC(w_back, ev_mark_wrong), .unmatched = 1 },
		{ SC(w_back, ev_mark_first) },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		run_scenario(&cases[i]);
}

/* IA32_TSC_ADJUST: 0 -> 300 at host 1000, 300 -> 200 at host 2000 */
static const struct vt_tsc_write w_adj[] = { W(0, 0), W(1000, 300), W(2000, 200) };
static const struct ev ev_adj[] = {
	EV(500, 0, INIT),
	MK(900, 0x3b, 999, 0, INIT),		/* no write adds 999: ignored */
	MK(1301, 0x3b, 300, 300, MARK),
	EV(1400, 300, MARK),
	EV(2250, 300, MARK),			/* host 1950 on 300, or 2050 on 200 */
	MK(2260, 0x3b, 999, 300, MARK),		/* fits after the write, value does not */
	MK(2201, 0x3b, 200, 200, MARK),		/* 200 - 300 == 200 - 300 */
	EV(2300, 200, MARK),
};
static const struct vt_boundary b_adj[] = {
	{ 1, 2, VT_SEG_MARKER, 0 }, { 2, 6, VT_SEG_MARKER, 0 },
};
/* after a guest IA32_TSC write KVM moves TSC_ADJUST by the same delta */
static const struct vt_tsc_write w_adj_tsc[] = { W(0, 0), W(1000, 700), W(3000, 1000) };
static const struct ev ev_adj_tsc[] = {
	EV(500, 0, INIT),
	MK(1702, 0x10, 1700, 700, MARK),	/* IA32_TSC = 1700: adjust becomes 700 */
	MK(4001, 0x3b, 1000, 1000, MARK),	/* adjust 700 -> 1000 adds 300 */
	EV(4100, 1000, MARK),
};

static void tsc_adjust_marker_matches_write(void **state)
{
	const struct scenario cases[] = {
		{ SC(w_adj, ev_adj), BOUNDS(b_adj), .unmatched = 2 },
		{ SC(w_adj_tsc, ev_adj_tsc) },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		run_scenario(&cases[i]);
}

/* ---- coalescing ---- */

static const struct vt_tsc_write w_same[] = {
	W(0, -50), W(10, -50), W(20, -50), W(3000, 7000), W(3005, 7000), W(3010, 7000),
};
static const struct ev ev_same[] = {
	EV(100, -50, INIT), EV(2000, -50, INIT), EV(10100, 7000, RULE), EV(10200, 7000, RULE),
};
static const struct vt_boundary b_same[] = { { 3, 2, VT_SEG_RULE, 0 } };

static void repeated_same_offset_writes_make_no_boundary(void **state)
{
	const struct scenario cases[] = {
		{ SC(w_same, ev_same), BOUNDS(b_same) },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		run_scenario(&cases[i]);
}

/* ---- ambiguity and containment ---- */

/*
 * The RFC thread: three host writes each set the guest TSC to 0 (host 100, 104, 108);
 * the guest trace reads 1 2 3 1 2 3 and is known to start on the first write's offset
 * (A at host 101). B and C could be on -100 or -104, D..F on -104 or -108: "there is no
 * certainty". Everything but A is flagged, each with the lower candidate.
 */
static const struct vt_tsc_write w_rfc[] = { W(0, 1000), W(100, -100), W(104, -104),
					       W(108, -108) };
static const struct ev ev_rfc[] = {
	EV(1, -100, INIT), EV(2, -100, AMB), EV(3, -100, AMB),
	EV(1, -104, AMB), EV(2, -104, AMB), EV(3, -104, AMB),
};
/* one backward write, then an event that can only be after it: 600..800 undecided */
static const struct ev ev_amb[] = {
	EV(100, 0, INIT), EV(200, 0, INIT),
	EV(600, 0, AMB), EV(700, 0, AMB), EV(800, 0, AMB),
	EV(1500, -500, RULE),
};
static const struct vt_boundary b_amb[] = { { 1, 5, VT_SEG_RULE, 3 } };
static const struct vt_window win_amb[] = { { 600, 1300 } };
/* ambiguity at the very end of the trace */
static const struct ev ev_amb_end[] = { EV(100, 0, INIT), EV(600, 0, AMB), EV(700, 0, AMB) };
static const struct vt_boundary b_amb_end[] = { { 1, 3, VT_SEG_AMBIGUOUS, 2 } };

static void ambiguous_backward_jump_flagged_not_guessed(void **state)
{
	const struct scenario cases[] = {
		/* pinned: by the boot rule alone T0 = 1 fits all three writes */
		{ SC(w_rfc, ev_rfc), .ambiguous = 5, PIN(1), .boot_write = 1, NO_WINDOWS },
		{ SC(w_back, ev_amb), .ambiguous = 3, BOUNDS(b_amb),
		  WINDOWS(win_amb) },
		/* no intervals cover anything: containment decides nothing */
		{ SC(w_back, ev_amb), .ambiguous = 3, BOUNDS(b_amb),
		  .resolve = true },
		{ SC(w_back, ev_amb_end), .ambiguous = 2, BOUNDS(b_amb_end) },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		run_scenario(&cases[i]);
}

/*
 * ev_amb on host time: p = 0 puts 600/700/800 at 600/700/800, q = -500 at 1100/1200/1300.
 * Intervals [550,650] and [1150,1350]: k = 1 (600 before, 700 and 800 after) puts all
 * three inside; k = 0 and k = 2 two, k = 3 one.
 */
static const struct vt_interval iv_k1[] = { { 50, 250 }, { 550, 650 }, { 1150, 1350 },
					    { 1900, 2100 } };
static const struct ev ev_k1[] = {
	EV(100, 0, INIT), EV(200, 0, INIT),
	EV(600, 0, CONT), EV(700, -500, CONT), EV(800, -500, CONT),
	EV(1500, -500, RULE),
};
static const struct vt_boundary b_k1[] = { { 1, 3, VT_SEG_CONTAINMENT, 0 } };
/* all after the write */
static const struct vt_interval iv_k0[] = { { 1050, 1350 } };
static const struct ev ev_k0[] = {
	EV(100, 0, INIT), EV(200, 0, INIT),
	EV(600, -500, CONT), EV(700, -500, CONT), EV(800, -500, CONT),
	EV(1500, -500, RULE),
};
static const struct vt_boundary b_k0[] = { { 1, 2, VT_SEG_CONTAINMENT, 0 } };

static void containment_decides_ambiguous_run(void **state)
{
	const struct scenario cases[] = {
		{ SC(w_back, ev_k1), .iv = iv_k1, .niv = N(iv_k1), BOUNDS(b_k1) },
		{ SC(w_back, ev_k0), .iv = iv_k0, .niv = N(iv_k0), BOUNDS(b_k0) },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		run_scenario(&cases[i]);
}

/* [550,750] and [1150,1350]: k = 1 and k = 2 both place three inside; 700 is undecided */
static const struct vt_interval iv_tie[] = { { 550, 750 }, { 1150, 1350 } };
static const struct ev ev_tie[] = {
	EV(100, 0, INIT), EV(200, 0, INIT),
	EV(600, 0, CONT), EV(700, 0, AMB), EV(800, -500, CONT),
	EV(1500, -500, RULE),
};
static const struct vt_boundary b_tie[] = { { 1, 4, VT_SEG_CONTAINMENT, 1 } };
/* one interval covering both placements: every k ties */
static const struct vt_interval iv_all[] = { { 0, 5000 } };

static void containment_tie_stays_ambiguous(void **state)
{
	const struct scenario cases[] = {
		{ SC(w_back, ev_tie), .iv = iv_tie, .niv = N(iv_tie), .ambiguous = 1,
		  BOUNDS(b_tie) },
		{ SC(w_back, ev_amb), .iv = iv_all, .niv = N(iv_all), .ambiguous = 3,
		  BOUNDS(b_amb) },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		run_scenario(&cases[i]);
}

/* ---- boots ---- */

/* boot 1 at host 100 (guest TSC 0), reset at 5000 (TSC 0 again), guest write at 9000 */
static const struct vt_tsc_write w_boots[] = { W(100, -100), W(5000, -5000), W(9000, 15000) };
static const struct ev ev_boot2[] = {
	EV(50, -5000, INIT), EV(3000, -5000, INIT),
	MK(24001, 0x10, 24000, 15000, MARK), EV(24100, 15000, MARK),
};
static const struct ev ev_boot2_late[] = { EV(3900, -5000, INIT), EV(3950, -5000, INIT) };
/* boot 1 read from its own file: its first event fits the reset segment as well, the
 * second (host 4100 on boot 1's offset, 9000 on the reset's: past the next write) not */
static const struct ev ev_boot1[] = { EV(10, -100, INIT), EV(4000, -100, INIT) };
/* nothing in this one tells the boots apart: the last candidate (the reset) is taken,
 * as the boot rule says; a caller that knows the boot order pins it */
static const struct ev ev_boot1_short[] = { EV(10, -5000, INIT) };
static const struct ev ev_boot1_pinned[] = { EV(10, -100, INIT) };

static void second_boot_picks_reset_write(void **state)
{
	const struct scenario cases[] = {
		{ SC(w_boots, ev_boot2), .boot_write = 1, .boot_guessed = true },
		{ SC(w_boots, ev_boot2_late), .boot_write = 1, .boot_guessed = true },
		{ SC(w_boots, ev_boot1), .boot_write = 0 },
		{ SC(w_boots, ev_boot1_short), .boot_write = 1, .boot_guessed = true },
		{ SC(w_boots, ev_boot1_pinned), .boot_write = 0, PIN(0) },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		run_scenario(&cases[i]);
}

/* ---- scaling ---- */

static uint64_t kvm_forward(const struct vt_tsc_scale *sc, uint64_t host, uint64_t offset)
{
	return (uint64_t)(((unsigned __int128)host * sc->ratio) >> sc->frac_bits) + offset;
}

static void scaled_offsets_convert_exactly(void **state)
{
	static const struct vt_tsc_scale scales[] = {
		{ 0x2b7e151628aedull, 48 },	/* Intel, e x */
		{ 3ull << 47, 48 },		/* Intel, 1.5x */
		{ 5ull << 30, 32 },		/* AMD, 1.25x */
		{ (1ull << 32) + 12345, 32 },	/* AMD, barely faster */
	};
	/* host times; index 3 is the marker of a forward write at 50000, 7 of a backward
	 * write at 150000 (the decrease after it decides it too) */
	static const uint64_t host[] = { 2000, 30000, 49999, 50003, 60000, 90000, 149990,
					 150004, 150100, 400000 };
	(void)state;
	for (size_t k = 0; k < N(scales); k++) {
		const struct vt_tsc_scale *sc = &scales[k];
		uint64_t p = -kvm_forward(sc, 1000, 0);		/* guest TSC 0 at host 1000 */
		uint64_t q = p + 1000000;
		uint64_t r = q - 700000;
		struct vt_tsc_write w[] = { W(1000, p), W(50000, q), W(150000, r) };
		struct vt_segmenter *s;

		assert_int_equal(vt_seg_new(w, N(w), sc, &s), 0);
		for (size_t i = 0; i < N(host); i++) {
			uint64_t off = i < 3 ? p : i < 7 ? q : r;
			bool mk = i == 3 || i == 7;
			uint64_t v = kvm_forward(sc, i == 3 ? 50000 : 150000, off);

			assert_int_equal(vt_seg_feed(s, i, kvm_forward(sc, host[i], off), mk, 0x10,
						     v), 0);
		}
		assert_int_equal(vt_seg_finish(s), 0);
		for (size_t i = 0; i < N(host); i++) {
			uint64_t want = i < 3 ? p : i < 7 ? q : r, off;
			uint64_t tsc = kvm_forward(sc, host[i], want);
			enum vt_seg_how how;

			assert_int_equal(vt_seg_lookup(s, i, &off, &how), 0);
			assert_int_equal(off, want);
			assert_int_equal(how, i < 3 ? VT_SEG_INITIAL : VT_SEG_MARKER);
			assert_int_equal(vt_tsc_to_host(sc, tsc, off), host[i]);
		}
		assert_int_equal(vt_seg_ambiguous(s), 0);
		vt_seg_free(s);
	}
}

/* ---- API misuse ---- */

static void lookup_backwards_fails(void **state)
{
	struct vt_segmenter *s;
	uint64_t off;

	(void)state;
	assert_int_equal(vt_seg_new(w_fwd, N(w_fwd), NULL, &s), 0);
	for (size_t i = 0; i < N(ev_fwd); i++)
		assert_int_equal(vt_seg_feed(s, i, ev_fwd[i].tsc, false, 0, 0), 0);
	assert_int_equal(vt_seg_lookup(s, 0, &off, NULL), -EINVAL);	/* before finish */
	assert_int_equal(vt_seg_finish(s), 0);
	assert_int_equal(vt_seg_lookup(s, 3, &off, NULL), 0);
	assert_int_equal(off, 5000);
	assert_int_equal(vt_seg_lookup(s, 3, &off, NULL), 0);		/* same index: fine */
	assert_int_equal(vt_seg_lookup(s, 2, &off, NULL), -EINVAL);
	assert_int_equal(vt_seg_lookup(s, N(ev_fwd), &off, NULL), -EINVAL);	/* never fed */
	vt_seg_free(s);
}

static void bad_calls_fail(void **state)
{
	static const struct vt_tsc_write unordered[] = { W(100, 0), W(50, 7) };
	static const struct vt_interval unsorted[] = { { 10, 20 }, { 5, 6 } };
	struct vt_tsc_scale bad_scale = { 1, 64 };
	struct vt_segmenter *s = NULL;

	(void)state;
	assert_int_equal(vt_seg_new(w_fwd, 0, NULL, &s), -EINVAL);
	assert_int_equal(vt_seg_new(unordered, N(unordered), NULL, &s), -EINVAL);
	assert_int_equal(vt_seg_new(w_fwd, N(w_fwd), &bad_scale, &s), -EINVAL);
	assert_int_equal(vt_seg_new(w_fwd, N(w_fwd), NULL, &s), 0);
	assert_int_equal(vt_seg_feed(s, 1, 100, false, 0, 0), -EINVAL);	/* skips 0 */
	assert_int_equal(vt_seg_feed(s, 0, 100, false, 0, 0), 0);
	assert_int_equal(vt_seg_set_boot(s, 0), -EINVAL);		/* after feeding */
	assert_int_equal(vt_seg_resolve(s, NULL, 0), -EINVAL);	/* before finish */
	assert_int_equal(vt_seg_finish(s), 0);
	assert_int_equal(vt_seg_feed(s, 1, 200, false, 0, 0), -EINVAL);	/* after finish */
	assert_int_equal(vt_seg_resolve(s, unsorted, N(unsorted)), -EINVAL);
	vt_seg_free(s);
	vt_seg_free(NULL);
}

/* ---- property: random layouts of jumps with markers convert with 0 ticks of error ---- */

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	return vt_test_rand(&rng_state);
}

#define P_WRITES 10
#define P_EVENTS 400

static void random_marker_layouts_convert_with_zero_error(void **state)
{
	static const struct vt_tsc_scale scales[] = { { 0, 0 }, { 3ull << 47, 48 },
						      { 5ull << 30, 32 } };
	(void)state;
	for (int trial = 0; trial < 3000; trial++) {
		const struct vt_tsc_scale *sc = &scales[trial % N(scales)];
		struct vt_tsc_write w[P_WRITES];
		uint64_t host[P_EVENTS], off[P_EVENTS], tsc[P_EVENTS], val[P_EVENTS];
		bool mk[P_EVENTS], is_adj[P_EVENTS];
		size_t nw = 1 + rnd() % P_WRITES, ne = 0;
		uint64_t h = 1000 + rnd() % 100000, adjust = 0;
		struct vt_segmenter *s;

		/* boot: any offset; then writes, forward (with or without marker) or backward
		 * (always with marker, the rule alone may not decide those) */
		w[0] = (struct vt_tsc_write)W(h, rnd());
		for (size_t i = 0; i < nw; i++) {
			uint64_t seg_end;
			bool marker = false, back = false;

			if (i) {
				uint64_t jump = 1 + rnd() % ((uint64_t)1 << 40);

				back = rnd() % 3 == 0;
				marker = back || rnd() % 2;
				w[i] = (struct vt_tsc_write)W(h, back ? w[i - 1].next_offset - jump
							      : w[i - 1].next_offset + jump);
				h += 1 + rnd() % 50;	/* the guest resumes after the write */
			}
			seg_end = h + 1 + rnd() % 200000;
			for (bool first = true; ne < P_EVENTS && h < seg_end; first = false) {
				host[ne] = h;
				off[ne] = w[i].next_offset;
				mk[ne] = first && marker;
				is_adj[ne] = rnd() % 2;
				if (mk[ne] && is_adj[ne]) {
					uint64_t delta = w[i].next_offset - w[i - 1].next_offset;

					adjust += delta;
					val[ne] = adjust;
				} else if (mk[ne]) {
					adjust += w[i].next_offset - w[i - 1].next_offset;
					val[ne] = vt_tsc_to_guest(sc, w[i].host_tsc, w[i].next_offset);
				} else {
					val[ne] = 0;
				}
				tsc[ne] = vt_tsc_to_guest(sc, h, off[ne]);
				ne++;
				h += 1 + rnd() % 5000;
			}
			/* the next write lies after this segment's last event */
			if (h < seg_end)
				h = seg_end;
			if (ne == P_EVENTS) {
				nw = i + 1;
				break;
			}
		}
		/* every segment has an event, so the first event picks the boot write */
		assert_int_equal(vt_seg_new(w, nw, sc, &s), 0);
		assert_int_equal(vt_seg_set_boot(s, 0), 0);
		for (size_t i = 0; i < ne; i++)
			assert_int_equal(vt_seg_feed(s, i, tsc[i], mk[i], is_adj[i] ? 0x3b : 0x10,
						     val[i]), 0);
		assert_int_equal(vt_seg_finish(s), 0);
		assert_int_equal(vt_seg_resolve(s, NULL, 0), 0);
		for (size_t i = 0; i < ne; i++) {
			uint64_t got;
			enum vt_seg_how how;

			assert_int_equal(vt_seg_lookup(s, i, &got, &how), 0);
			if (got != off[i] || vt_tsc_to_host(sc, tsc[i], got) != host[i])
				fail_msg("trial %d event %zu/%zu: offset %llx (%s), want %llx; host "
					 "%llu, want %llu", trial, i, ne, (unsigned long long)got,
					 how_name(how), (unsigned long long)off[i],
					 (unsigned long long)vt_tsc_to_host(sc, tsc[i], got),
					 (unsigned long long)host[i]);
		}
		assert_int_equal(vt_seg_ambiguous(s), 0);
		assert_int_equal(vt_seg_unmatched_markers(s), 0);
		vt_seg_free(s);
	}
}

/*
 * property: with host-initiated writes in both directions (no markers), whatever is
 * decided is right; what is not is flagged. Small jumps make ambiguity frequent.
 */
static void random_layouts_never_decide_wrongly(void **state)
{
	uint64_t decided = 0, flagged = 0;
	(void)state;
	for (int trial = 0; trial < 3000; trial++) {
		struct vt_tsc_write w[P_WRITES];
		uint64_t host[P_EVENTS], off[P_EVENTS], tsc[P_EVENTS], w_of[P_EVENTS];
		bool mk[P_EVENTS];
		size_t nw = 1 + rnd() % P_WRITES, ne = 0;
		uint64_t h = 1000 + rnd() % 1000;
		struct vt_segmenter *s;

		w[0] = (struct vt_tsc_write)W(h, -h);
		for (size_t i = 0; i < nw; i++) {
			uint64_t seg_end;
			bool marker = false;

			if (i) {
				uint64_t jump = 1 + rnd() % 20000;
				bool back = rnd() % 2;

				marker = rnd() % 4 == 0;
				w[i] = (struct vt_tsc_write)W(h, back ? w[i - 1].next_offset - jump
							      : w[i - 1].next_offset + jump);
				h += 1 + rnd() % 50;
			}
			seg_end = h + 1 + rnd() % 20000;
			for (bool first = true; ne < P_EVENTS && h < seg_end; first = false) {
				host[ne] = h;
				off[ne] = w[i].next_offset;
				mk[ne] = first && marker;
				w_of[ne] = w[i].host_tsc;
				tsc[ne] = host[ne] + off[ne];
				ne++;
				h += 1 + rnd() % 3000;
			}
			if (h < seg_end)
				h = seg_end;
			if (ne == P_EVENTS) {
				nw = i + 1;
				break;
			}
		}
		assert_int_equal(vt_seg_new(w, nw, NULL, &s), 0);
		assert_int_equal(vt_seg_set_boot(s, 0), 0);
		for (size_t i = 0; i < ne; i++) {
			/* IA32_TSC: guest(Hw) minus the ticks KVM spends before its tracepoint */
			uint64_t v = mk[i] ? tsc[i] - (host[i] - w_of[i]) - rnd() % 64 : 0;

			assert_int_equal(vt_seg_feed(s, i, tsc[i], mk[i], 0x10, v), 0);
		}
		assert_int_equal(vt_seg_finish(s), 0);
		for (size_t i = 0; i < ne; i++) {
			uint64_t got;
			enum vt_seg_how how;

			assert_int_equal(vt_seg_lookup(s, i, &got, &how), 0);
			if (how == VT_SEG_AMBIGUOUS) {
				flagged++;
				continue;
			}
			decided++;
			if (got != off[i])
				fail_msg("trial %d event %zu/%zu: offset %lld (%s), want %lld", trial,
					 i, ne, (long long)got, how_name(how), (long long)off[i]);
		}
		vt_seg_free(s);
	}
	/* the property must have something to bite on */
	assert_true(decided > 0);
	assert_true(flagged > 0);
}

/*
 * A run longer than the stored-TSC cap (2^20): it is still decided where the trace
 * decides it (a decrease), and where it does not, it is flagged with no window offered.
 */
static void run_beyond_cap_flagged_or_decided_without_storage(void **state)
{
	const uint64_t hw = 4000000, n = ((uint64_t)1 << 20) + 1000;
	const struct vt_tsc_write w[] = { W(0, 0), W(hw, 1000 - hw) };	/* TSC -> 1000 */
	(void)state;
	for (int decrease = 0; decrease < 2; decrease++) {
		const struct vt_window *win;
		struct vt_segmenter *s;
		uint64_t off, i;
		enum vt_seg_how how;

		assert_int_equal(vt_seg_new(w, N(w), NULL, &s), 0);
		assert_int_equal(vt_seg_feed(s, 0, 500, false, 0, 0), 0);
		for (i = 1; i <= n; i++)	/* host i + 1000 before, or hw + i after */
			assert_int_equal(vt_seg_feed(s, i, 1000 + i, false, 0, 0), 0);
		assert_int_equal(vt_seg_feed(s, i, decrease ? 1001 : hw + 10, false, 0, 0), 0);
		assert_int_equal(vt_seg_finish(s), 0);
		assert_int_equal(vt_seg_windows(s, &win), 0);
		assert_int_equal(vt_seg_resolve(s, NULL, 0), 0);
		assert_int_equal(vt_seg_ambiguous(s), decrease ? 0 : n);
		for (i = 1; i <= n; i += 4099) {
			assert_int_equal(vt_seg_lookup(s, i, &off, &how), 0);
			assert_int_equal(off, 0);
			assert_int_equal(how, decrease ? VT_SEG_INITIAL : VT_SEG_AMBIGUOUS);
		}
		assert_int_equal(vt_seg_lookup(s, n + 1, &off, &how), 0);
		assert_int_equal(off, 1000 - hw);
		assert_int_equal(how, VT_SEG_RULE);
		vt_seg_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(boot_offset_only_converts_all_events_with_zero_error),
		cmocka_unit_test(forward_jump_rule_boundary_between_tn_and_tn1),
		cmocka_unit_test(backward_jump_after_write_uses_next_offset),
		cmocka_unit_test(marker_boundary_exact_even_when_rule_would_differ),
		cmocka_unit_test(tsc_adjust_marker_matches_write),
		cmocka_unit_test(repeated_same_offset_writes_make_no_boundary),
		cmocka_unit_test(ambiguous_backward_jump_flagged_not_guessed),
		cmocka_unit_test(containment_decides_ambiguous_run),
		cmocka_unit_test(containment_tie_stays_ambiguous),
		cmocka_unit_test(second_boot_picks_reset_write),
		cmocka_unit_test(scaled_offsets_convert_exactly),
		cmocka_unit_test(lookup_backwards_fails),
		cmocka_unit_test(bad_calls_fail),
		cmocka_unit_test(random_marker_layouts_convert_with_zero_error),
		cmocka_unit_test(random_layouts_never_decide_wrongly),
		cmocka_unit_test(run_beyond_cap_flagged_or_decided_without_storage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
/* clang-format on */
