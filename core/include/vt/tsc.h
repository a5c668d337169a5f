/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest <-> host TSC conversion (DESIGN.md §1). KVM's forward formula:
 *   guest = ((host * ratio) >> frac_bits) + offset            (mod 2^64)
 * and its inverse, computed with 128-bit integers:
 *   host  = (((guest - offset) mod 2^64) << frac_bits) / ratio
 * Without scaling (ratio == 0 here, or ratio == 1 << frac_bits) both are plain modular
 * additions. No floating point anywhere.
 */
#ifndef VT_TSC_H
#define VT_TSC_H

#include "vt/common.h"

struct vt_tsc_scale {
	uint64_t ratio;		/* 0 = no scaling */
	unsigned frac_bits;	/* 48 on Intel, 32 on AMD */
};

uint64_t vt_tsc_to_guest(const struct vt_tsc_scale *scale, uint64_t host_tsc, uint64_t offset);
uint64_t vt_tsc_to_host(const struct vt_tsc_scale *scale, uint64_t guest_tsc, uint64_t offset);
/* whether @scale is the identity (NULL, ratio 0, or ratio == 1 << frac_bits) */
bool vt_tsc_scale_is_identity(const struct vt_tsc_scale *scale);

#endif
