// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Copy a trace.dat into a new one with other options (GUEST, TRACEID...): every buffer
 * page by page, checked, then copied in the kernel where the data is uncompressed.
 */
#include <errno.h>

#include "util.h"
#include "vt/dat.h"

int vt_dat_copy(struct vt_dat *src, const char *path, const struct vt_datw_opts *opts,
		uint64_t *ret_lost, struct vt_errbuf *eb)
{
	struct vt_datw *w = NULL;
	uint64_t lost = 0;
	int r;

	r = vt_datw_create(path, vt_dat_meta(src), opts, &w, eb);
	if (r < 0)
		return r;
	for (size_t b = 0; b < vt_dat_nbuffers(src) && !r; b++) {
		unsigned ncpus = vt_dat_buffer_ncpus(src, b);

		r = vt_datw_buffer_begin(w, vt_dat_buffer_name(src, b), ncpus, eb);
		for (unsigned cpu = 0; cpu < ncpus && !r; cpu++) {
			struct vt_dat_cpu *c = NULL;
			const void *page;
			int fd;
			uint64_t off, len;
			/* uncompressed pages are checked here, then copied in the kernel */
			bool copy = vt_dat_cpu_range(src, b, cpu, &fd, &off, &len) == 0;

			r = vt_datw_cpu_begin(w, cpu, eb);
			if (!r)
				r = vt_dat_cpu_open(src, b, cpu, &c, eb);
			while (!r && (r = vt_dat_cpu_next_page(c, &page, eb)) > 0) {
				r = copy ? 0 : vt_datw_cpu_page(w, page, eb);
				if (!r && vt_dat_cpu_page_missed(c))
					lost++;
			}
			vt_dat_cpu_close(c);
			if (!r && copy)
				r = vt_datw_cpu_copy(w, fd, off, len, eb);
			if (!r)
				r = vt_datw_cpu_end(w, eb);
		}
		if (!r)
			r = vt_datw_buffer_end(w, eb);
	}
	r = vt_datw_finish(w, r, eb);
	if (!r) {
		if (ret_lost)
			*ret_lost = lost;
	}
	return r;
}
