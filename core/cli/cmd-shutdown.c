// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace shutdown: flush the guest's trace (the agent's last chunk), then a clean
 * shutdown through libvirt; wait until the run is final.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"
#include "vt/control.h"
#include "vt/runstore.h"

static const char shutdown_help[] =
	"Usage: virt-trace shutdown [--timeout SEC] [--no-wait] DOMAIN\n"
	"\n"
	"Shut DOMAIN down without losing guest events: its recorder pulls the guest agent's\n"
	"last chunk and stops the agent, then asks libvirt for a clean shutdown (like\n"
	"'virsh shutdown'). The run is finalized when QEMU exits; this waits for it.\n"
	"\n"
	"Options:\n"
	"  --timeout SEC   give up waiting after SEC seconds (default 300)\n"
	"  --no-wait       return once the shutdown is requested\n"
	"  -h, --help      this help\n";

int cmd_shutdown(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum vt_run_state st = VT_RUN_RECORDING;
	uint64_t timeout = 300;
	bool wait = true;
	const char *domain;
	struct vt_run run;
	char reply[4096];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (vtc_parse_u64(optarg, &timeout) < 0 || timeout > 86400)
				return cli_usage("shutdown", "--timeout: '%s' is not a number of "
							     "seconds", optarg);
			break;
		case 'n':
			wait = false;
			break;
		case 'h':
			fputs(shutdown_help, stdout);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage("shutdown", "expected one DOMAIN");
	domain = argv[optind];
	r = cli_current_run(domain, &run);
	if (r)
		return r;
	r = vt_control_send(domain, "shutdown", reply, sizeof(reply), 10000);
	if (r == -EREMOTEIO)
		return cli_error("domain %s: recorder: shutdown: %.400s", domain, reply);
	if (r < 0)
		return cli_error("domain %s: recorder: shutdown: %s", domain, strerror(-r));
	if (!wait) {
		printf("%s: shutting down, run %s (%s)\n", domain, run.id, run.dir);
		return 0;
	}
	r = cli_wait_final(domain, &run, "shutting down", timeout, &st);
	if (r)
		return r;
	cli_progress("%s", "");
	printf("%s: run %s %s (%s)\n", domain, run.id, vt_run_state_name(st), run.dir);
	return st == VT_RUN_FAILED ? EXIT_FAILURE : 0;
}
