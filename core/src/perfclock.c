// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tsc2nsec from the perf mmap page (cap_user_time, time_mult, time_shift, time_zero).
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "vt/perfclock.h"

static int open_event(uint32_t type, uint64_t config)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = type;
	attr.config = config;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

int vt_perfclock_tsc2nsec(struct vt_tsc2nsec *ret)
{
	long psz = sysconf(_SC_PAGESIZE);
	_cleanup_close_ int fd = open_event(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_DUMMY);
	volatile struct perf_event_mmap_page *pc;
	struct vt_tsc2nsec t = { 0 };
	bool cap;

	if (fd < 0)
		fd = open_event(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK);
	if (fd < 0)
		return vtc_err(errno == ENOENT || errno == ENOSYS || errno == EACCES ||
					       errno == EPERM
				       ? ENOTSUP
				       : errno);
	pc = mmap(NULL, (size_t)psz, PROT_READ, MAP_SHARED, fd, 0);
	if (pc == MAP_FAILED)
		return vtc_err(errno);
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t seq = pc->lock;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		cap = pc->cap_user_time && pc->cap_user_time_zero;
		t.mult = pc->time_mult;
		t.shift = pc->time_shift;
		t.offset = pc->time_zero;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (pc->lock == seq && !(seq & 1))
			break;
	}
	munmap((void *)pc, (size_t)psz);
	if (!cap || !t.mult)
		return vtc_err(ENOTSUP);
	while (t.mult >= (1u << 31) && t.shift) {
		t.mult >>= 1;
		t.shift--;
	}
	*ret = t;
	return 0;
}
