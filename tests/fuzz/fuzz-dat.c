// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: a whole trace.dat (v6 or v7, zstd or not) opened from a memfd with
 * vt_dat_open (header, options, metadata sections, formats into libtraceevent, buffers),
 * then what the CLI does with it: every accessor, every CPU stream page by page (as
 * copy and finalize do), and the k-way merge of all streams with each event printed by
 * libtraceevent (as report does).
 */
#include <event-parse.h>
#include <string.h>

#include "evfield.h"
#include "fuzz.h"
#include "vt/dat.h"
#include "vt/merge.h"

#define MAX_PAGES 4096		/* per input: bounds the time of a huge sparse file */
#define MAX_EVENTS 20000

static struct trace_seq seq;
static struct vtc_print_buf pb;

static void walk_pages(struct vt_dat *dat, size_t b, unsigned cpu, unsigned *budget)
{
	struct vt_dat_cpu *c = NULL;
	struct vt_errbuf eb;
	const void *page;
	int fd, r;
	uint64_t off;

	if (vt_dat_cpu_open(dat, b, cpu, &c, &eb) < 0)
		return;
	while (*budget && (r = vt_dat_cpu_next_page(c, &page, &eb)) > 0) {
		(*budget)--;
		(void)vt_dat_cpu_page_offset(c, &fd, &off);
		(void)vt_dat_cpu_page_index(c);
	}
	vt_dat_cpu_close(c);
}

static void print_event(struct tep_handle *tep, const struct vt_merge_item *it)
{
	struct tep_record rec = { .ts = it->ev.ts, .cpu = (int)it->cpu, .size = (int)it->ev.size,
				  .data = (void *)it->ev.data };
	struct tep_event *event = tep_find_event(tep, it->ev.type_id);

	(void)tep_data_comm_from_pid(tep, it->ev.pid);
	trace_seq_reset(&seq);
	if (event)
		FUZZ_CHECK(vtc_print_event(tep, event, &rec, &pb, &seq) == 0);
	trace_seq_terminate(&seq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_memfd_path(data, size);
	struct vt_dat *dat = NULL;
	struct vt_merge *m = NULL;
	struct vt_merge_item it;
	struct vt_tsc2nsec t2n;
	struct vt_errbuf eb;
	struct tep_handle *tep;
	unsigned budget = MAX_PAGES, events = 0;
	int fd;
	uint64_t off, len;

	if (vt_dat_open(path, &dat, &eb) < 0) {
		FUZZ_CHECK(eb.msg[0] != '\0');
		return 0;
	}
	(void)vt_dat_version(dat);
	FUZZ_CHECK(vt_dat_kernel_long(dat) == 4 || vt_dat_kernel_long(dat) == 8);
	(void)vt_dat_meta(dat);
	(void)vt_dat_trace_id(dat);
	(void)vt_dat_tsc2nsec(dat, &t2n);
	(void)vt_dat_has_time_shift(dat);
	for (size_t g = 0; g < vt_dat_nguests(dat); g++) {
		const struct vt_dat_guest *gu = vt_dat_guest(dat, g);

		FUZZ_CHECK(gu && gu->name);
		for (uint32_t i = 0; i < gu->ncpus; i++)
			(void)gu->vcpu_tid[i];
	}
	for (size_t b = 0; b < vt_dat_nbuffers(dat); b++) {
		FUZZ_CHECK(vt_dat_buffer_name(dat, b) && vt_dat_buffer_clock(dat, b));
		for (unsigned cpu = 0; cpu < vt_dat_buffer_ncpus(dat, b); cpu++) {
			(void)vt_dat_cpu_size(dat, b, cpu);
			if (vt_dat_cpu_range(dat, b, cpu, &fd, &off, &len) == 0)
				FUZZ_CHECK(off <= size && len <= size - off);
			walk_pages(dat, b, cpu, &budget);
		}
	}

	tep = vt_dat_tep(dat);
	FUZZ_CHECK(tep);
	if (vt_merge_new(&dat, 1, &m, &eb) == 0) {
		while (events < MAX_EVENTS && vt_merge_next(m, &it, &eb) > 0) {
			print_event(tep, &it);
			events++;
		}
		vt_merge_free(m);
	}
	vt_dat_close(dat);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace_seq_init(&seq);
	return 0;
}
