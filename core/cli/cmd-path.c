// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace path: print the directory of a run, for trace-cmd and kernelshark.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "runsel.h"

static const char path_help[] =
	"Usage: virt-trace path DOMAIN [RUN]\n"
	"\n"
	"Print the run directory of DOMAIN's run RUN (default: the latest), e.g.\n"
	"  trace-cmd report -i \"$(virt-trace path vm1)/host.dat\"\n"
	"\n"
	"Options:\n"
	"  -h, --help   this help\n";

int cmd_path(int argc, char **argv)
{
	struct vt_run run;
	int r;

	r = cli_help_only(argc, argv, path_help);
	if (r)
		return r < 0 ? 0 : r;
	r = runsel_resolve("path", argv + optind, argc - optind, false, &run);
	if (r)
		return r;
	printf("%s\n", run.dir);
	return fflush(stdout) ? cli_error("writing failed") : 0;
}
