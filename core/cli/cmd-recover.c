// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace recover: finalize, as incomplete, the runs whose recorder died (state
 * recording or finalizing, domain lock free).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "finalize.h"
#include "vt/runstore.h"

static const char recover_help[] =
	"Usage: virt-trace recover [DOMAIN]\n"
	"\n"
	"Finalize every interrupted run (of DOMAIN, or of every domain): a run still in\n"
	"state recording or finalizing whose recorder is gone gets its host.dat from the\n"
	"spooled pages, its manifest, and state incomplete (\"recorder died\", with what the\n"
	"recorder had noted, such as a full disk). A run whose finalizing ran out of disk\n"
	"space is finished the same way once there is room. Runs with a live recorder are\n"
	"left alone.\n"
	"\n"
	"Options:\n"
	"  -h, --help   this help\n";

/* finalize the interrupted runs of @domain; counts into *done / *failed */
static void recover_domain(const char *domain, unsigned *done, unsigned *failed)
{
	char **ids = NULL;
	size_t n = 0;

	if (vt_run_list(domain, &ids, &n) < 0) {
		cli_error("%s: cannot list runs", domain);
		(*failed)++;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct vt_errbuf eb = { "" };
		enum vt_run_state st;
		struct vt_run run;
		char why[1024];
		int r;

		if (vt_run_open(domain, ids[i], &run, &eb) < 0 ||
		    vt_run_get_state(&run, &st, &eb) < 0)
			continue;	/* not a run we can read: list shows it */
		if (st != VT_RUN_RECORDING && st != VT_RUN_FINALIZING)
			continue;
		if (vt_run_domain_locked(domain))
			continue;	/* a live recorder owns it */
		cli_progress("recovering %s/%s", domain, ids[i]);
		rec_recover_reason(&run, why, sizeof(why));
		r = rec_finalize(&run, false, why, &eb);
		cli_progress("%s", "");
		if (r == -EBUSY)
			continue;
		if (r < 0) {
			char ctx[512];

			snprintf(ctx, sizeof(ctx), "%s/%s", domain, ids[i]);
			cli_error_eb(r, &eb, ctx);
			(*failed)++;
			continue;
		}
		if (vt_run_get_state(&run, &st, &eb) < 0)
			st = VT_RUN_INCOMPLETE;
		printf("%s/%s: %s\n", domain, ids[i], vt_run_state_name(st));
		(*done)++;
	}
	vt_strv_free(ids, n);
}

int cmd_recover(int argc, char **argv)
{
	unsigned done = 0, failed = 0;
	char **domains = NULL;
	size_t n = 0;
	int r;

	r = cli_help_only(argc, argv, recover_help);
	if (r)
		return r < 0 ? 0 : r;
	if (argc - optind > 1)
		return cli_usage("recover", "expected at most one DOMAIN");
	if (optind < argc) {
		recover_domain(argv[optind], &done, &failed);
	} else {
		r = vt_store_domains(&domains, &n);
		if (r < 0)
			return cli_error("%s: %s", vt_store_root(), strerror(-r));
		for (size_t i = 0; i < n; i++)
			recover_domain(domains[i], &done, &failed);
		vt_strv_free(domains, n);
	}
	if (!done && !failed)
		printf("nothing to recover\n");
	fflush(stdout);
	return failed ? EXIT_FAILURE : 0;
}
