// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace list: the runs of the store (or of one domain) with state, duration, size
 * and event count, read from each run's manifest.json.
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

static const char list_help[] =
	"Usage: virt-trace list [DOMAIN]\n"
	"\n"
	"List the recorded runs of every domain in the run store (or of DOMAIN), oldest\n"
	"first: run id, state, duration, size on disk and number of events.\n"
	"\n"
	"Options:\n"
	"  -h, --help   this help\n";

static void print_run(const char *domain, const char *id)
{
	struct vt_errbuf eb = { "" };
	struct json_object *mf = NULL;
	struct vt_run run;
	char size[32], dur[32];
	const char *state = "?";
	uint64_t events = 0;
	int64_t secs = -1;

	if (vt_run_open(domain, id, &run, &eb) < 0) {
		printf("%-20s %-20s %-11s %s\n", domain, id, "unreadable", eb.msg);
		return;
	}
	if (vt_manifest_read(run.dir, &mf, &eb) == 0) {
		state = runsel_str(mf, "state") ? runsel_str(mf, "state") : "?";
		events = runsel_events(mf);
		secs = runsel_duration(mf, run.dir);
	} else {
		state = "unreadable";
	}
	printf("%-20s %-20s %-11s %9s %11s %12" PRIu64 "\n", domain, id, state,
	       runsel_fmt_duration(secs, dur, sizeof(dur)),
	       runsel_fmt_bytes(runsel_dir_bytes(run.dir), size, sizeof(size)), events);
	json_object_put(mf);
}

static int list_domain(const char *domain, bool *any)
{
	char **ids = NULL;
	size_t n = 0;
	int r = vt_run_list(domain, &ids, &n);

	if (r < 0)
		return cli_error("%s: cannot list runs: %s", domain, strerror(-r));
	for (size_t i = 0; i < n; i++) {
		if (!*any)
			printf("%-20s %-20s %-11s %9s %11s %12s\n", "DOMAIN", "RUN", "STATE",
			       "DURATION", "SIZE", "EVENTS");
		*any = true;
		print_run(domain, ids[i]);
	}
	vt_strv_free(ids, n);
	return 0;
}

int cmd_list(int argc, char **argv)
{
	char **domains = NULL;
	size_t n = 0;
	bool any = false;
	int r;

	r = cli_help_only(argc, argv, list_help);
	if (r)
		return r < 0 ? 0 : r;
	if (argc - optind > 1)
		return cli_usage("list", "expected at most one DOMAIN");
	if (optind < argc) {
		struct vt_errbuf eb = { "" };
		struct vt_run run;

		/* a clear "no runs" for an unknown domain */
		r = vt_run_open(argv[optind], NULL, &run, &eb);
		if (r < 0)
			return cli_error("%s", eb.msg[0] ? eb.msg : strerror(-r));
		r = list_domain(argv[optind], &any);
	} else {
		r = vt_store_domains(&domains, &n);
		if (r < 0)
			return cli_error("%s: %s", vt_store_root(), strerror(-r));
		for (size_t i = 0; !r && i < n; i++)
			r = list_domain(domains[i], &any);
		vt_strv_free(domains, n);
	}
	if (!r && !any)
		printf("no runs in %s\n", vt_store_root());
	if (fflush(stdout) != 0 && !r)
		r = cli_error("writing the list failed");
	return r;
}
