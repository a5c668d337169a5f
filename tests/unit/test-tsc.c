// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for core/src/tsc.c: the inverse conversion checked against KVM's forward formula.
 */
#include "vt-test.h"
#include "vt/tsc.h"

/* the case tables are laid out by hand */
/* clang-format off */
/* KVM: kvm_scale_tsc() = mul_u64_u64_shr(tsc, ratio, frac_bits), then + tsc_offset */
static uint64_t kvm_forward(uint64_t ratio, unsigned frac, uint64_t host, uint64_t offset)
{
	return (uint64_t)(((unsigned __int128)host * ratio) >> frac) + offset;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	return vt_test_rand(&rng_state);
}

static void identity_round_trip_is_exact_for_any_offset(void **state)
{
	static const struct vt_tsc_scale scales[] = {
		{ 0, 0 }, { 0, 48 }, { 1ull << 48, 48 }, { 1ull << 32, 32 },
	};
	(void)state;
	for (size_t k = 0; k < sizeof(scales) / sizeof(scales[0]); k++) {
		assert_true(vt_tsc_scale_is_identity(&scales[k]));
		for (int i = 0; i < 10000; i++) {
			uint64_t host = rnd(), offset = rnd();
			uint64_t guest = vt_tsc_to_guest(&scales[k], host, offset);

			assert_int_equal(guest, host + offset);
			assert_int_equal(vt_tsc_to_host(&scales[k], guest, offset), host);
			assert_int_equal(vt_tsc_to_host(NULL, guest, offset), host);
		}
	}
}

static void identity_detection(void **state)
{
	static const struct {
		struct vt_tsc_scale scale;
		bool identity;
	} cases[] = {
		{ { 0, 48 }, true },
		{ { 1ull << 48, 48 }, true },
		{ { 1ull << 32, 32 }, true },
		{ { (1ull << 48) + 1, 48 }, false },
		{ { 1ull << 48, 32 }, false },
		{ { 3ull << 31, 32 }, false },
	};
	(void)state;
	assert_true(vt_tsc_scale_is_identity(NULL));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(vt_tsc_scale_is_identity(&cases[i].scale), cases[i].identity);
}

static const struct {
	const char *name;
	uint64_t ratio;
	unsigned frac;
} ratios[] = {
	{ "intel 1.5x", 3ull << 47, 48 },
	{ "intel 2.7183x", 0x2b7e151628aedull, 48 },	/* e * 2^48 */
	{ "intel 1x+1", (1ull << 48) + 1, 48 },
	{ "intel 0.6x (guest slower)", 0x9999999999999ull, 48 },
	{ "amd 1.25x", 5ull << 30, 32 },
	{ "amd 3.9999x", 0x3fffe0000ull, 32 },
	{ "amd 0.9x (guest slower)", 0xe6666666ull, 32 },
	{ "amd 0.3x (guest slower)", 0x4ccccccdull, 32 },
};

/*
 * Guarantee: to_host(g) is the smallest host h with forward(h) >= g. So for every host h,
 * h' = to_host(forward(h)) satisfies forward(h') == forward(h), h' <= h, and h' - 1 reads
 * an earlier guest value; h' == h whenever ratio >= 1 << frac.
 */
static void scaled_inverse_matches_kvm_forward_formula(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(ratios) / sizeof(ratios[0]); k++) {
		struct vt_tsc_scale scale = { ratios[k].ratio, ratios[k].frac };
		bool faster = ratios[k].ratio >= 1ull << ratios[k].frac;

		for (int i = 0; i < 20000; i++) {
			/* host < 2^60 keeps the scaled value in 64 bits for ratios < 16 */
			uint64_t host = rnd() >> 4;
			/* every 4th offset is "negative" and larger than the guest value: the
			 * subtraction guest - offset wraps */
			uint64_t offset = (i % 4 == 0) ? -(rnd() >> 2) : rnd();
			uint64_t guest = kvm_forward(scale.ratio, scale.frac_bits, host, offset);
			uint64_t back;

			assert_int_equal(vt_tsc_to_guest(&scale, host, offset), guest);
			back = vt_tsc_to_host(&scale, guest, offset);
			if (faster && back != host)
				fail_msg("%s: host %llu -> guest %llu -> host %llu", ratios[k].name,
					 (unsigned long long)host, (unsigned long long)guest,
					 (unsigned long long)back);
			assert_true(back <= host);
			assert_int_equal(kvm_forward(scale.ratio, scale.frac_bits, back, offset),
					 guest);
			if (back)
				assert_true(kvm_forward(scale.ratio, scale.frac_bits, back - 1,
							offset) != guest);
		}
	}
}

/* Table of hand-checked values for the rounding rule (ceil, not floor). */
static void scaled_inverse_rounds_to_first_host_tick(void **state)
{
	static const struct {
		uint64_t ratio;
		unsigned frac;
		uint64_t guest, offset, host;
	} cases[] = {
		/* 1.5x: host 1 -> 1.5 -> guest 1; the first host tick reading 1 is 1 */
		{ 3ull << 47, 48, 1, 0, 1 },
		/* 1.5x: guest 3 is read first at host 2 (2 * 1.5 = 3) */
		{ 3ull << 47, 48, 3, 0, 2 },
		/* 1.5x: guest 2 never occurs (host 1 -> 1, host 2 -> 3): first tick >= is 2 */
		{ 3ull << 47, 48, 2, 0, 2 },
		/* 0.5x on AMD: guest 3 is read at hosts 6 and 7; 6 is returned */
		{ 1ull << 31, 32, 3, 0, 6 },
		/* offset 10 with guest 7: guest - offset wraps to 2^64 - 3; at 0.5x the
		 * inverse is 2^65 - 6, taken mod 2^64 */
		{ 1ull << 31, 32, 7, 10, (uint64_t)-6 },
		/* identity through ratio 0 and a wrapping offset */
		{ 0, 48, 5, 10, (uint64_t)-5 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vt_tsc_scale scale = { cases[i].ratio, cases[i].frac };

		assert_int_equal(vt_tsc_to_host(&scale, cases[i].guest, cases[i].offset),
				 cases[i].host);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identity_round_trip_is_exact_for_any_offset),
		cmocka_unit_test(identity_detection),
		cmocka_unit_test(scaled_inverse_matches_kvm_forward_formula),
		cmocka_unit_test(scaled_inverse_rounds_to_first_host_tick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
/* clang-format on */
