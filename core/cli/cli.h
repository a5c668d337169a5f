/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virt-trace command: verb table entries and the one error path of the CLI.
 */
#ifndef VT_CLI_H
#define VT_CLI_H

#include <stdbool.h>

#include <stdint.h>

#include "vt/common.h"
#include "vt/runstore.h"

#define EXIT_USAGE 2

struct cli_verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
	const char *summary;
};

/* Print "virt-trace: <msg>" on stderr (one line); returns EXIT_FAILURE. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "virt-trace: <ctx>: <eb or strerror(-r)>"; returns EXIT_FAILURE. */
int cli_error_eb(int r, const struct vt_errbuf *eb, const char *ctx);
/* Usage error for @verb: one line on stderr, returns EXIT_USAGE. */
int cli_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Progress on a terminal (stderr), nothing otherwise. */
void cli_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_print_verb_help(const char *verb);
/*
 * cli_help_only - option parsing of a verb whose only option is -h/--help: -1 when the
 * help was printed, EXIT_USAGE for another option, else 0 (optind at the operands).
 */
int cli_help_only(int argc, char **argv, const char *help);

/* cmd-stop.c: the run @domain's recorder records into (prints the error; 1 then) */
int cli_current_run(const char *domain, struct vt_run *run);
/*
 * cli_wait_final - wait until @run is final and its recorder gone, progress "@doing
 * DOMAIN: state" on a terminal; *ret_st the final state. 0, or 1 after a timeout (printed).
 */
int cli_wait_final(const char *domain, const struct vt_run *run, const char *doing,
		   uint64_t timeout, enum vt_run_state *ret_st);

int cmd_merge(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_path(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_shutdown(int argc, char **argv);
int cmd_agent_install(int argc, char **argv);
int cmd_record(int argc, char **argv);	/* hidden: the recorder daemon */

#endif
