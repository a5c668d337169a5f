// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the guest half as finalize builds it. Input: the agent's info JSON, then
 * optionally a NUL and the raw pages of guest CPU 0 (what the chunks delivered). The JSON
 * is parsed as read_json does, turned into trace.dat metadata (rec_guest_meta) and a vCPU
 * map (rec_guest_apic_ids); a raw guest trace.dat is written from it and the pages
 * (vt_datw_* and rec_write_cpu, as raw_dat does) on tmpfs, opened again (vt_dat_open
 * parses the guest's formats with libtraceevent) and every event is walked and printed
 * as report does. Invariant: a vCPU map names every CPU exactly once.
 */
#include <event-parse.h>
#include <json.h>
#include <limits.h>
#include <string.h>

#include "finalize.h"
#include "evfield.h"
#include "fuzz.h"
#include "vt/dat.h"
#include "vt/merge.h"

#define MAX_EVENTS 20000

static struct vt_dat_format formats[REC_GUEST_MAX_FORMATS];
static uint32_t ids[1024];
static struct trace_seq seq;
static struct vtc_print_buf pb;
static char raw_path[PATH_MAX], cpu0_path[PATH_MAX];

/* every CPU of the info's cpus[] listed once (what a vCPU map needs) */
static void check_cpus(struct json_object *info, size_t n)
{
	struct json_object *cpus = NULL;
	unsigned count[1024] = { 0 };

	FUZZ_CHECK(json_object_object_get_ex(info, "cpus", &cpus));
	FUZZ_CHECK(json_object_array_length(cpus) == n && n <= 1024);
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cpus, i), *v = NULL;
		int64_t cpu;

		FUZZ_CHECK(json_object_object_get_ex(c, "cpu", &v));
		cpu = json_object_get_int64(v);
		FUZZ_CHECK(cpu >= 0 && (size_t)cpu < n);
		count[cpu]++;
	}
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(count[i] == 1);
}

static int write_raw(const struct vt_dat_meta *meta, unsigned ncpus)
{
	struct vt_datw_opts wo = { .version = 7, .clock = "x86-tsc", .trace_id = 1 };
	struct rec_page_stats st = { 0 };
	struct vt_datw *w = NULL;
	struct vt_errbuf eb;
	int r;

	r = vt_datw_create(raw_path, meta, &wo, &w, &eb);
	if (r < 0)
		return r;
	r = vt_datw_buffer_begin(w, "", ncpus, &eb);
	for (unsigned cpu = 0; !r && cpu < ncpus; cpu++) {
		r = vt_datw_cpu_begin(w, cpu, &eb);
		if (!r && cpu == 0)
			r = rec_write_cpu(w, cpu0_path, meta, &st, &eb);
		if (!r)
			r = vt_datw_cpu_end(w, &eb);
	}
	if (!r)
		r = vt_datw_buffer_end(w, &eb);
	return vt_datw_finish(w, r, &eb);
}

static void read_raw(void)
{
	struct vt_dat *dat = NULL;
	struct vt_merge *m = NULL;
	struct vt_merge_item it;
	struct vt_errbuf eb;
	unsigned events = 0;

	if (vt_dat_open(raw_path, &dat, &eb) < 0)
		return;
	if (vt_merge_new(&dat, 1, &m, &eb) == 0) {
		struct tep_handle *tep = vt_dat_tep(dat);

		while (events++ < MAX_EVENTS && vt_merge_next(m, &it, &eb) > 0) {
			struct tep_record rec = { .ts = it.ev.ts, .cpu = (int)it.cpu,
						  .size = (int)it.ev.size,
						  .data = (void *)it.ev.data };

			struct tep_event *event = tep_find_event(tep, it.ev.type_id);

			(void)tep_data_comm_from_pid(tep, it.ev.pid);
			trace_seq_reset(&seq);
			if (event)
				FUZZ_CHECK(vtc_print_event(tep, event, &rec, &pb, &seq) == 0);
			trace_seq_terminate(&seq);
		}
		vt_merge_free(m);
	}
	vt_dat_close(dat);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t json_len = nul ? (size_t)(nul - data) : size;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *info;
	struct vt_dat_meta meta;
	struct vt_errbuf eb;
	size_t nids = 0;

	FUZZ_CHECK(tok);
	info = json_tokener_parse_ex(tok, (const char *)data, (int)json_len);
	json_tokener_free(tok);
	if (!info || !json_object_is_type(info, json_type_object))
		goto out;
	if (rec_guest_meta(info, formats, &meta, &eb) < 0) {
		FUZZ_CHECK(eb.msg[0] != '\0');
		goto out;
	}
	FUZZ_CHECK(meta.nformats <= REC_GUEST_MAX_FORMATS);
	rec_guest_apic_ids(info, ids, 1024, &nids);
	if (!nids)
		goto out;
	check_cpus(info, nids);
	fuzz_write_file(cpu0_path, nul ? nul + 1 : data, nul ? size - json_len - 1 : 0);
	if (write_raw(&meta, (unsigned)nids) == 0)
		read_raw();
out:
	json_object_put(info);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_scratch_dir();

	(void)argc;
	(void)argv;
	trace_seq_init(&seq);
	snprintf(raw_path, sizeof(raw_path), "%s/raw.dat", dir);
	snprintf(cpu0_path, sizeof(cpu0_path), "%s/cpu0.raw", dir);
	return 0;
}
