// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace show: a run's manifest in words: state, offsets per vCPU with their source
 * and error, the sync source, event counts, lost events, gaps and warnings.
 */
#include <getopt.h>
#include <inttypes.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "runsel.h"
#include "vt/manifest.h"

static const char show_help[] =
	"Usage: virt-trace show DOMAIN [RUN]\n"
	"       virt-trace show DIR\n"
	"\n"
	"Describe a run (RUN defaults to the latest): its state, the TSC offset timeline of\n"
	"every vCPU with the source and error bound of each offset, the sync source, event\n"
	"counts, lost events, uncovered time and the run's warnings.\n"
	"\n"
	"Options:\n"
	"  -h, --help   this help\n";

static bool get_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static bool has(struct json_object *o, const char *key)
{
	return o && json_object_object_get_ex(o, key, NULL);
}

static struct json_object *obj(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

static void show_header(struct json_object *mf, const struct vt_run *run)
{
	struct json_object *dom = obj(mf, "domain");
	const char *reason = runsel_str(mf, "state_reason");
	char dur[32], size[32];

	printf("run:          %s%s%s\n", run->domain[0] ? run->domain : "", run->domain[0] ? "/" : "",
	       runsel_str(mf, "run_id") ? runsel_str(mf, "run_id") : run->dir);
	printf("directory:    %s\n", run->dir);
	printf("state:        %s%s%s%s\n", or_dash(runsel_str(mf, "state")), reason ? " (" : "",
	       reason ? reason : "", reason ? ")" : "");
	if (dom)
		printf("domain:       %s%s%s\n", or_dash(runsel_str(dom, "name")),
		       runsel_str(dom, "uuid") ? ", uuid " : "", or_dash(runsel_str(dom, "uuid")));
	if (runsel_str(mf, "started"))
		printf("started:      %s, duration %s\n", runsel_str(mf, "started"),
		       runsel_fmt_duration(runsel_duration(mf, run->dir), dur, sizeof(dur)));
	printf("size:         %s\n", runsel_fmt_bytes(runsel_dir_bytes(run->dir), size, sizeof(size)));
	printf("tool:         %s %s\n", or_dash(runsel_str(mf, "tool")),
	       or_dash(runsel_str(mf, "tool_version")));
}

static void show_host(struct json_object *mf)
{
	struct json_object *host = obj(mf, "host"), *t = obj(mf, "tsc2nsec"), *s = obj(mf, "scaling");

	if (host) {
		printf("host:         %s, clock %s, kernel %s\n", or_dash(runsel_str(host, "file")),
		       or_dash(runsel_str(host, "clock")), or_dash(runsel_str(host, "kernel")));
		printf("              %" PRIu64 " events, %" PRIu64 " pages with lost events\n",
		       runsel_u64(host, "events"), runsel_u64(host, "lost_pages"));
	} else {
		printf("host:         no host.dat yet\n");
	}
	if (t)
		printf("tsc2nsec:     mult %" PRIu64 ", shift %" PRIu64 ", offset %" PRIu64 "\n",
		       runsel_u64(t, "mult"), runsel_u64(t, "shift"), runsel_u64(t, "offset"));
	if (has(mf, "qemu_pid"))
		printf("qemu:         pid %" PRIu64 "; %" PRIu64
		       " offset writes of other processes left out\n",
		       runsel_u64(mf, "qemu_pid"), runsel_u64(mf, "foreign_writes"));
	if (s)
		printf("scaling:      ratio %" PRIu64 ", frac bits %" PRIu64 "\n", runsel_u64(s, "ratio"),
		       runsel_u64(s, "frac_bits"));
	else
		printf("scaling:      none\n");
}

/* per vCPU offsets; returns the sync summary into @sources and *max_err */
static void show_vcpus(struct json_object *mf, char *sources, size_t len, uint64_t *max_err)
{
	struct json_object *vcpus = runsel_array(mf, "vcpus");
	size_t nv = vcpus ? json_object_array_length(vcpus) : 0;

	sources[0] = '\0';
	*max_err = 0;
	printf("vcpus:        %zu\n", nv);
	for (size_t i = 0; i < nv; i++) {
		struct json_object *v = json_object_array_get_idx(vcpus, i);
		struct json_object *offs = runsel_array(v, "offsets");
		size_t no = offs ? json_object_array_length(offs) : 0;

		printf("  vCPU %" PRIu64 " (APIC id %" PRIu64 ", thread %" PRId64 "): %zu offset%s\n",
		       runsel_u64(v, "vcpu"), runsel_u64(v, "apic_id"),
		       has(v, "tid") ? json_object_get_int64(json_object_object_get(v, "tid")) : -1,
		       no, no == 1 ? "" : "s");
		for (size_t w = 0; w < no; w++) {
			struct json_object *o = json_object_array_get_idx(offs, w);
			const char *src = or_dash(runsel_str(o, "source"));
			int64_t s64 = has(o, "offset_s64") ?
				json_object_get_int64(json_object_object_get(o, "offset_s64")) : 0;
			uint64_t err = runsel_u64(o, "error_ticks");

			printf("    from host TSC %-20" PRIu64 " offset %s (%" PRId64 ")  %s, error %"
			       PRIu64 " ticks\n",
			       runsel_u64(o, "host_tsc"), or_dash(runsel_str(o, "offset")), s64, src,
			       err);
			if (runsel_str(o, "error"))
				printf("      error: %s\n", runsel_str(o, "error"));
			if (err > *max_err)
				*max_err = err;
			if (!strstr(sources, src) && strlen(sources) + strlen(src) + 3 < len) {
				if (sources[0])
					strcat(sources, ", ");
				strcat(sources, src);
			}
		}
	}
}

static void show_guests(struct json_object *mf)
{
	struct json_object *guests = runsel_array(mf, "guests");
	size_t ng = guests ? json_object_array_length(guests) : 0;

	if (!ng) {
		printf("guests:       none (host trace only)\n");
		return;
	}
	for (size_t g = 0; g < ng; g++) {
		struct json_object *gi = json_object_array_get_idx(guests, g);
		struct json_object *cpus = runsel_array(gi, "cpus"), *amb = obj(gi, "ambiguous");
		uint64_t lost = 0, markers = 0;

		for (size_t c = 0; cpus && c < json_object_array_length(cpus); c++) {
			lost += runsel_u64(json_object_array_get_idx(cpus, c), "lost_pages");
			markers += runsel_u64(json_object_array_get_idx(cpus, c), "markers");
		}
		printf("guest:        %s (boot %" PRIu64 "), kernel %s\n", or_dash(runsel_str(gi, "file")),
		       runsel_u64(gi, "boot"), or_dash(runsel_str(gi, "kernel")));
		printf("              %" PRIu64 " events on %zu CPUs, %" PRIu64 " TSC write markers, %"
		       PRIu64 " ambiguous, %" PRIu64 " pages with lost events%s\n",
		       runsel_u64(gi, "events"), cpus ? json_object_array_length(cpus) : 0, markers,
		       runsel_u64(amb, "count"), lost,
		       get_bool(gi, "containment_used") ? ", containment used" : "");
	}
}

/* uncovered time / gaps: arrays of {from, to[, reason]} or a number, as the recorder wrote */
static void show_gaps(struct json_object *mf)
{
	static const char *const keys[] = { "uncovered", "gaps" };

	for (size_t k = 0; k < 2; k++) {
		struct json_object *v;

		if (!json_object_object_get_ex(mf, keys[k], &v))
			continue;
		if (json_object_is_type(v, json_type_array)) {
			printf("%-13s %zu\n", keys[k][0] == 'u' ? "uncovered:" : "gaps:",
			       json_object_array_length(v));
			for (size_t i = 0; i < json_object_array_length(v); i++)
				printf("  %s\n", json_object_to_json_string_ext(
					json_object_array_get_idx(v, i), JSON_C_TO_STRING_PLAIN));
		} else {
			printf("%-13s %s\n", keys[k][0] == 'u' ? "uncovered:" : "gaps:",
			       json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		}
	}
}

/* "lost events: N (exact|at least), per buffer and CPU where non-zero" */
static void show_lost(struct json_object *lost)
{
	struct json_object *cpus = runsel_array(lost, "cpus");
	uint64_t total = runsel_u64(lost, "total");
	bool first = true;

	printf("lost events:  %" PRIu64 "%s%s", total,
	       total && !get_bool(lost, "exact") ? " at least (no ring buffer counts)" : "",
	       total ? ":" : "");
	for (size_t i = 0; cpus && i < json_object_array_length(cpus); i++) {
		struct json_object *c = json_object_array_get_idx(cpus, i);

		if (!runsel_u64(c, "lost"))
			continue;
		printf("%s %s CPU %" PRIu64 " %" PRIu64, first ? "" : ",",
		       or_dash(runsel_str(c, "buffer")), runsel_u64(c, "cpu"), runsel_u64(c, "lost"));
		first = false;
	}
	printf("%s\n", total ? "  (WARNING: the trace has holes)" : "");
}

static void show_rest(struct json_object *mf)
{
	struct json_object *c = obj(mf, "containment"), *w = runsel_array(mf, "warnings");
	struct json_object *lost;
	size_t nw = w ? json_object_array_length(w) : 0;

	if (json_object_object_get_ex(mf, "lost_events", &lost))
		show_lost(lost);
	show_gaps(mf);
	if (c && get_bool(c, "available"))
		printf("containment:  %" PRIu64 " of %" PRIu64 " guest events inside guest mode\n",
		       runsel_u64(c, "inside"), runsel_u64(c, "guest_events"));
	else if (c)
		printf("containment:  not available (no kvm_entry/kvm_exit of the vCPU threads)\n");
	printf("warnings:     %zu\n", nw);
	for (size_t i = 0; i < nw; i++)
		printf("  - %s\n", json_object_get_string(json_object_array_get_idx(w, i)));
}

int cmd_show(int argc, char **argv)
{
	struct vt_errbuf eb = { "" };
	struct json_object *mf = NULL;
	char sources[128];
	uint64_t max_err;
	struct vt_run run;
	int r;

	r = cli_help_only(argc, argv, show_help);
	if (r)
		return r < 0 ? 0 : r;
	r = runsel_resolve("show", argv + optind, argc - optind, true, &run);
	if (r)
		return r;
	r = vt_manifest_read(run.dir, &mf, &eb);
	if (r < 0)
		return cli_error_eb(r, &eb, run.dir);
	show_header(mf, &run);
	show_host(mf);
	show_vcpus(mf, sources, sizeof(sources), &max_err);
	if (sources[0])
		printf("sync:         %s, largest error %" PRIu64 " ticks%s\n", sources, max_err,
		       max_err ? "" : " (exact)");
	else
		printf("sync:         no offsets recorded\n");
	show_guests(mf);
	show_rest(mf);
	json_object_put(mf);
	return fflush(stdout) ? cli_error("writing failed") : 0;
}
