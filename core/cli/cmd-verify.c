// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace verify: containment share (guest events inside their vCPU's guest-mode
 * intervals) and the events whose offset segment could not be decided.
 */
#include <getopt.h>
#include <inttypes.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rundir.h"
#include "runsel.h"
#include "util.h"
#include "vt/containment.h"

static const char verify_help[] =
	"Usage: virt-trace verify DOMAIN [RUN] [--list N]\n"
	"       virt-trace verify DIR [--list N]\n"
	"\n"
	"Check a run (RUN defaults to the latest) or a run directory: the share of guest\n"
	"events that lie inside their vCPU's guest-mode intervals (when the host traced\n"
	"kvm:kvm_entry and kvm:kvm_exit), and the events whose TSC offset segment could\n"
	"not be decided. The offending events are listed (at most N of each kind, default\n"
	"20). Exit status 1 when any event is ambiguous or outside guest mode.\n";

static uint64_t get_u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

/* ambiguous events listed in the manifest, per guest file */
static uint64_t print_ambiguous(struct rundir *rd, unsigned list)
{
	struct json_object *guests;
	uint64_t total = 0;

	if (!json_object_object_get_ex(rd->manifest, "guests", &guests))
		return 0;
	for (size_t g = 0; g < json_object_array_length(guests); g++) {
		struct json_object *gi = json_object_array_get_idx(guests, g), *amb, *events;
		uint64_t count;

		if (!json_object_object_get_ex(gi, "ambiguous", &amb))
			continue;
		count = get_u64(amb, "count");
		total += count;
		printf("%s: %" PRIu64 " ambiguous events\n", rd->labels[g + 1], count);
		if (!json_object_object_get_ex(amb, "events", &events))
			continue;
		for (size_t i = 0; i < json_object_array_length(events) && i < list; i++) {
			struct json_object *e = json_object_array_get_idx(events, i);

			printf("  ambiguous: cpu %" PRIu64 " event %" PRIu64 " guest_tsc %" PRIu64
			       " host_tsc %" PRIu64 " (previous offset kept)\n",
			       get_u64(e, "cpu"), get_u64(e, "index"), get_u64(e, "guest_tsc"),
			       get_u64(e, "host_tsc"));
		}
	}
	return total;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "list", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rundir *rd;
	struct vt_containment *c;
	struct vt_run run;
	const char *dir;
	struct vt_errbuf eb = { "" };
	uint64_t list = 20, ambiguous;
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (vtc_parse_u64(optarg, &list) < 0)
				return cli_usage("verify", "--list: '%s' is not a number", optarg);
			break;
		case 'h':
			fputs(verify_help, stdout);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	r = runsel_resolve("verify", argv + optind, argc - optind, true, &run);
	if (r)
		return r;
	dir = run.dir;
	rd = calloc(1, sizeof(*rd));
	c = calloc(1, sizeof(*c));
	if (!rd || !c) {
		free(rd);
		free(c);
		return cli_error("out of memory");
	}
	r = rundir_open(dir, rd);
	if (r)
		goto out;
	r = vt_containment_sweep(rd->files, rd->nfiles, rd->map, rd->nmap, c, &eb);
	if (r < 0) {
		r = cli_error_eb(r, &eb, dir);
		goto out;
	}
	if (!c->available) {
		printf("containment: not available (the host trace has no kvm:kvm_entry/kvm_exit "
		       "of the vCPU threads)\n");
	} else {
		printf("containment: %" PRIu64 " of %" PRIu64 " guest events inside guest mode "
		       "(%.2f%%)\n",
		       c->inside, c->guest_events,
		       c->guest_events ? 100.0 * (double)c->inside / (double)c->guest_events : 100.0);
		for (size_t i = 0; i < c->noutside && i < list; i++)
			printf("  outside: %s cpu %u host_tsc %" PRIu64 "\n",
			       rd->labels[c->outside[i].file], c->outside[i].cpu,
			       c->outside[i].host_tsc);
	}
	if (c->unmapped)
		printf("unmapped: %" PRIu64 " guest events of CPUs without a vCPU thread\n",
		       c->unmapped);
	ambiguous = print_ambiguous(rd, (unsigned)list);
	r = (ambiguous || (c->available && c->inside < c->guest_events)) ? EXIT_FAILURE : 0;
	printf("verify: %s\n", r ? "FAILED" : "ok");
out:
	rundir_close(rd);
	free(rd);
	free(c);
	return r;
}
