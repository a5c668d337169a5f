// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace record (hidden): the per-domain recorder daemon, started by the hook.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "recorder.h"
#include "util.h"

static const char record_help[] =
	"Usage: virt-trace record --domain NAME [--uuid UUID] [--pid PID] [--lock-fd FD]\n"
	"\n"
	"The recorder of one domain (started by virt-trace-hook at 'start begin', or by\n"
	"'virt-trace start'): spools the instances virt-trace-<domain>[-tsc], listens on\n"
	"$VT_RUN_DIR/<domain>.sock for 'started PID', 'stop', 'status', 'ping', and writes\n"
	"the run into $VT_STATE_DIR/<domain>/<run-id>/ when stopped. With VT_READY_FD=N it\n"
	"writes one byte to fd N once it listens and spools. --lock-fd: the domain lock\n"
	"(<domain>/.lock), already taken by the program that started it.\n";

int cmd_record(int argc, char **argv)
{
	enum { O_DOMAIN = 256, O_UUID, O_PID, O_LOCK_FD };
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "uuid", required_argument, NULL, O_UUID },
		{ "pid", required_argument, NULL, O_PID },
		{ "lock-fd", required_argument, NULL, O_LOCK_FD },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rec_args a = { .lock_fd = -1 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		uint64_t v;

		switch (c) {
		case O_DOMAIN:
			a.domain = optarg;
			break;
		case O_UUID:
			a.uuid = optarg;
			break;
		case O_PID:
			if (vtc_parse_u64(optarg, &v) < 0 || !v || v > INT32_MAX)
				return cli_usage("record", "--pid: '%s' is not a process id", optarg);
			a.pid = (int)v;
			break;
		case O_LOCK_FD:
			if (vtc_parse_u64(optarg, &v) < 0 || v < 3 || v > INT32_MAX)
				return cli_usage("record", "--lock-fd: '%s' is not a file descriptor",
						 optarg);
			a.lock_fd = (int)v;
			break;
		case 'h':
			fputs(record_help, stdout);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage("record", "unexpected argument '%s'", argv[optind]);
	if (!a.domain || !*a.domain)
		return cli_usage("record", "--domain is required");
	return rec_main(&a);
}
