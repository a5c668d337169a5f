// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest <-> host TSC conversion for one offset: KVM's forward formula and its exact inverse.
 */
#include "vt/tsc.h"

/*
 * Rounding of the inverse: vt_tsc_to_host() returns the smallest host TSC h with
 * ((h * ratio) >> frac_bits) >= guest - offset, i.e. the first host tick at which the
 * guest reads @guest_tsc: ceil(((guest - offset) << frac_bits) / ratio). Hence
 * vt_tsc_to_guest(vt_tsc_to_host(g)) == g for every g the forward formula produces, and
 * vt_tsc_to_host(vt_tsc_to_guest(h)) == h whenever ratio >= 1 << frac_bits (the guest
 * clock is not slower than the host's). With a slower guest clock several host ticks
 * read the same guest value and the first of them is returned. Exact as long as
 * (host * ratio) >> frac_bits fits in 64 bits; results are taken mod 2^64.
 * frac_bits >= 64 cannot be a KVM value and is treated as no scaling (vt_seg_new()
 * rejects it).
 */

bool vt_tsc_scale_is_identity(const struct vt_tsc_scale *scale)
{
	if (!scale || !scale->ratio || scale->frac_bits >= 64)
		return true;
	return scale->ratio == (uint64_t)1 << scale->frac_bits;
}

uint64_t vt_tsc_to_guest(const struct vt_tsc_scale *scale, uint64_t host_tsc, uint64_t offset)
{
	unsigned __int128 scaled;

	if (vt_tsc_scale_is_identity(scale))
		return host_tsc + offset;
	scaled = ((unsigned __int128)host_tsc * scale->ratio) >> scale->frac_bits;
	return (uint64_t)scaled + offset;
}

uint64_t vt_tsc_to_host(const struct vt_tsc_scale *scale, uint64_t guest_tsc, uint64_t offset)
{
	uint64_t delta = guest_tsc - offset;
	unsigned __int128 num;

	if (vt_tsc_scale_is_identity(scale))
		return delta;
	/* delta < 2^64, frac_bits < 64: num < 2^127, num + ratio - 1 cannot overflow */
	num = (unsigned __int128)delta << scale->frac_bits;
	return (uint64_t)((num + scale->ratio - 1) / scale->ratio);
}
