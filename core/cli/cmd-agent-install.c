// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace agent-install: copy the static virt-trace-agent into a running guest
 * through qemu-ga (guest-file-write, chmod through guest-exec), by hand.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "collector.h"
#include "qga.h"
#include "util.h"
#include "vt/config.h"

static const char install_help[] =
	"Usage: virt-trace agent-install [--path GUEST-PATH] [--timeout SEC] DOMAIN\n"
	"\n"
	"Copy the host's virt-trace-agent (a static binary) into the running guest DOMAIN\n"
	"through qemu-guest-agent, make it executable, and check that it runs. The recorder\n"
	"does the same by itself unless agent_push is false (virt-trace.conf(5)).\n"
	"\n"
	"Options:\n"
	"  --path FILE     where in the guest (default " COLL_AGENT_PUSH_PATH ")\n"
	"  --timeout SEC   wait that long for qemu-ga to answer (default 60)\n"
	"  -h, --help      this help\n"
	"\n"
	"Environment: VT_AGENT_BINARY names the host binary to push.\n";

int cmd_agent_install(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const char *const version[] = { "--version", NULL };
	const char *path = COLL_AGENT_PUSH_PATH, *domain;
	struct vt_errbuf eb = { "" };
	struct coll_exec_status st;
	virConnectPtr conn;
	virDomainPtr dom;
	uint64_t timeout = 60, bytes = 0;
	int64_t t0;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (optarg[0] != '/')
				return cli_usage("agent-install", "--path: an absolute guest path");
			path = optarg;
			break;
		case 't':
			if (vtc_parse_u64(optarg, &timeout) < 0 || timeout > 86400)
				return cli_usage("agent-install", "--timeout: '%s' is not a number "
								  "of seconds", optarg);
			break;
		case 'h':
			fputs(install_help, stdout);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage("agent-install", "expected one DOMAIN");
	domain = argv[optind];
	r = coll_open_domain(domain, &conn, &dom, &eb);
	if (r < 0)
		return cli_error_eb(r, &eb, domain);
	r = coll_wait_agent(dom, (int)timeout * 1000, NULL, &eb);
	t0 = coll_now_ms();
	if (!r) {
		struct vt_config cfg = { 0 };
		struct vt_errbuf ceb = { "" };

		/* the agent_binary of the config, as the recorder pushes it; a bad file: defaults */
		vt_config_load(NULL, &cfg, &ceb);
		r = coll_agent_push(dom, cfg.agent_binary, path, &bytes, &eb);
		vt_config_fini(&cfg);
	}
	if (!r)
		r = coll_exec_wait(dom, path, version, 10000, &st, &eb);
	if (!r) {
		if (st.exitcode != 0)
			r = vtc_errf(&eb, EIO, "%s --version: exit code %d", path, st.exitcode);
		else
			printf("%s: %s installed (%" PRIu64 " bytes in %.1f s): %s", domain, path,
			       bytes, (double)(coll_now_ms() - t0) / 1000.0,
			       st.out_len ? (char *)st.out : "\n");
		coll_exec_status_fini(&st);
	}
	virDomainFree(dom);
	virConnectClose(conn);
	return r < 0 ? cli_error_eb(r, &eb, domain) : 0;
}
