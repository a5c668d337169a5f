// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace status: the recordings in progress, i.e. runs in state recording or
 * finalizing whose recorder answers on its control socket.
 */
#include <getopt.h>
#include <inttypes.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "finalize.h"
#include "runsel.h"
#include "vt/control.h"
#include "vt/manifest.h"

static const char status_help[] =
	"Usage: virt-trace status\n"
	"\n"
	"List the recordings in progress: for every domain whose latest run is recording\n"
	"(or finalizing) and whose recorder answers, the run, its duration so far and its\n"
	"size on disk. Runs left in state recording by a recorder that died are named too\n"
	"(interrupted), and runs whose finalizing found no disk space (disk-full);\n"
	"'virt-trace recover' finalizes them.\n"
	"\n"
	"Options:\n"
	"  -h, --help   this help\n";

/* 1 when a line was printed for @domain */
static int status_domain(const char *domain, bool header)
{
	struct vt_errbuf eb = { "" };
	struct json_object *mf = NULL;
	char reply[4096], dur[32], size[32];
	const char *state, *what, *dir;
	struct vt_run run;
	int r;

	r = vt_control_send(domain, "status", reply, sizeof(reply), 2000);
	if (r == 0) {
		/* "ok recording RUN-DIR" */
		char *sp = strchr(reply + 3, ' ');

		what = sp ? (*sp = '\0', reply + 3) : "recording";
		dir = sp ? sp + 1 : NULL;
		if (!dir || vt_manifest_read(dir, &mf, &eb) < 0) {
			if (vt_run_open(domain, NULL, &run, &eb) < 0)
				return 0;
			dir = run.dir;
			vt_manifest_read(dir, &mf, &eb);
		}
	} else {
		if (vt_run_open(domain, NULL, &run, &eb) < 0 ||
		    vt_manifest_read(run.dir, &mf, &eb) < 0)
			return 0;
		state = runsel_str(mf, "state");
		if (!state || (strcmp(state, "recording") && strcmp(state, "finalizing"))) {
			json_object_put(mf);
			return 0;
		}
		dir = run.dir;
		what = vt_run_domain_locked(domain) ? "finalizing" : "interrupted";
		/* finalizing ran out of disk space: recover finishes it once there is room */
		if (!strcmp(what, "interrupted") && runsel_str(mf, "state_reason") &&
		    strstr(runsel_str(mf, "state_reason"), REC_FINALIZE_NOSPACE))
			what = "disk-full";
	}
	if (header)
		printf("%-20s %-20s %-12s %9s %11s\n", "DOMAIN", "RUN", "STATE", "DURATION", "SIZE");
	printf("%-20s %-20s %-12s %9s %11s\n", domain,
	       runsel_str(mf, "run_id") ? runsel_str(mf, "run_id") : "-", what,
	       runsel_fmt_duration(mf ? runsel_duration(mf, dir) : -1, dur, sizeof(dur)),
	       runsel_fmt_bytes(runsel_dir_bytes(dir), size, sizeof(size)));
	json_object_put(mf);
	return 1;
}

int cmd_status(int argc, char **argv)
{
	char **domains = NULL;
	size_t n = 0, shown = 0;
	int r;

	r = cli_help_only(argc, argv, status_help);
	if (r)
		return r < 0 ? 0 : r;
	if (optind != argc)
		return cli_usage("status", "takes no arguments");
	r = vt_store_domains(&domains, &n);
	if (r < 0)
		return cli_error("%s: %s", vt_store_root(), strerror(-r));
	for (size_t i = 0; i < n; i++)
		shown += (size_t)status_domain(domains[i], shown == 0);
	vt_strv_free(domains, n);
	if (!shown)
		printf("no recordings in progress\n");
	return fflush(stdout) ? cli_error("writing failed") : 0;
}
