/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TSC to nanoseconds (the TSC2NSEC option): mult/shift/zero of the perf mmap page, as
 * trace-cmd takes them.
 */
#ifndef VT_PERFCLOCK_H
#define VT_PERFCLOCK_H

#include "vt/dat.h"

/*
 * vt_perfclock_tsc2nsec - open a dummy software perf event on this thread, mmap its
 * perf_event_mmap_page and read time_mult, time_shift and time_zero (under its seqlock).
 * mult is halved (and shift decremented) until it is below 2^31, as trace-cmd 3.1 reads
 * it signed. Return: 0, -ENOTSUP when the page has no cap_user_time (no stable TSC) or
 * perf events are not available, -errno.
 */
int vt_perfclock_tsc2nsec(struct vt_tsc2nsec *ret);

#endif
