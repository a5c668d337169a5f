// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace: command table, help, and the CLI's error path (exit 0 ok, 1 error, 2 usage).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const struct cli_verb verbs[] = {
	{ "merge", cmd_merge,
	  "merge --host H.dat [--guest G.dat ...] [--pid PID] [--tgids FILE] [options] -o DIR",
	  "correlate a host trace (with kvm:kvm_write_tsc_offset) and guest traces (-C x86-tsc)" },
	{ "report", cmd_report,
	  "report DOMAIN [RUN] | DIR [--json] [--cpu LIST] [--events LIST] [--from TSC] [--to TSC]",
	  "merged host/guest timeline of a run" },
	{ "verify", cmd_verify, "verify DOMAIN [RUN] | DIR [--list N]",
	  "containment share and ambiguous events of a run" },
	{ "list", cmd_list, "list [DOMAIN]", "runs with state, duration, size and events" },
	{ "show", cmd_show, "show DOMAIN [RUN] | DIR",
	  "a run's manifest in words: offsets, sync source and error, counts, gaps, warnings" },
	{ "path", cmd_path, "path DOMAIN [RUN]", "the run directory (for trace-cmd, kernelshark)" },
	{ "export", cmd_export, "export DOMAIN [RUN] | DIR -o FILE.tar.zst",
	  "a single .tar.zst of a run" },
	{ "start", cmd_start, "start DOMAIN", "capture a running domain" },
	{ "stop", cmd_stop, "stop [--timeout SEC] DOMAIN",
	  "end a capture without shutting the domain down" },
	{ "shutdown", cmd_shutdown, "shutdown [--timeout SEC] [--no-wait] DOMAIN",
	  "flush the guest's trace, then shut the domain down cleanly" },
	{ "agent-install", cmd_agent_install, "agent-install [--path FILE] DOMAIN",
	  "copy virt-trace-agent into a running guest through qemu-ga" },
	{ "status", cmd_status, "status", "recordings in progress" },
	{ "recover", cmd_recover, "recover [DOMAIN]", "finalize interrupted runs" },
	{ "record", cmd_record, "record --domain NAME [--uuid UUID] [--pid PID]", NULL },
};

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("virt-trace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILURE;
}

int cli_error_eb(int r, const struct vt_errbuf *eb, const char *ctx)
{
	const char *why = eb && eb->msg[0] ? eb->msg : strerror(r < 0 ? -r : r);

	return cli_error("%s: %s", ctx, why);
}

int cli_usage(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "virt-trace %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'virt-trace %s --help')\n", verb);
	return EXIT_USAGE;
}

void cli_progress(const char *fmt, ...)
{
	va_list ap;

	if (!isatty(STDERR_FILENO))
		return;
	va_start(ap, fmt);
	fputs("\r\033[K", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: virt-trace VERB [ARGS]\n\n"
		   "One timeline for a virtual machine and its host.\n\nVerbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].summary)	/* hidden verbs have none */
			fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\nOptions:\n  -h, --help     this help; 'virt-trace VERB --help' for a verb\n"
		   "  -V, --version  print the version\n\n"
		   "Exit status: 0 ok, 1 error, 2 usage. See virt-trace(1).\n");
}

int cli_help_only(int argc, char **argv, const char *help)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		fputs(help, stdout);
		return -1;
	}
	return 0;
}

void cli_print_verb_help(const char *verb)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verbs[i].name, verb)) {
			printf("Usage: virt-trace %s\n", verbs[i].synopsis);
			if (verbs[i].summary)	/* record, run by the hook, has none */
				printf("\n%s.\n", verbs[i].summary);
		}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("virt-trace %s\n", VT_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verbs[i].name, argv[1]))
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "virt-trace: unknown verb '%s' (see 'virt-trace --help')\n", argv[1]);
	return EXIT_USAGE;
}
