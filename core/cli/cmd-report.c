// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace report: the merged host/guest timeline of a run directory, as text (like
 * trace-cmd report, with a host/guest column) or as JSON lines.
 */
#include <event-parse.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <trace-seq.h>

#include "cleanup.h"
#include "cli.h"
#include "rundir.h"
#include "runsel.h"
#include "util.h"
#include "vt/merge.h"

#define MAX_CPUS 4096

struct report_args {
	const char *dir;
	struct vt_run run;	/* what DIR or DOMAIN [RUN] named */
	bool json;
	bool cpu_filter;
	bool cpus[MAX_CPUS];
	const char *events;	/* comma list: name, sys:name or sys:* */
	uint64_t from, to;
};

static const char report_help[] =
	"Usage: virt-trace report DOMAIN [RUN] [options]\n"
	"       virt-trace report DIR [options]\n"
	"\n"
	"Print the merged timeline of a run (RUN defaults to the latest) or of a run\n"
	"directory: host and guest events in host TSC order, one per line, with a\n"
	"host/guest column.\n"
	"\n"
	"Options:\n"
	"  --json            one JSON object per event and line\n"
	"  --cpu LIST        only these CPU numbers (host CPUs and guest CPUs), e.g. 0,2\n"
	"  --events LIST     only these events: name, system:name or system:*\n"
	"  --from TSC        only events at or after this host TSC\n"
	"  --to TSC          only events at or before this host TSC\n"
	"  -h, --help        this help\n";

static int parse_args(int argc, char **argv, struct report_args *a)
{
	enum { O_JSON = 256, O_CPU, O_EVENTS, O_FROM, O_TO };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "events", required_argument, NULL, O_EVENTS },
		{ "from", required_argument, NULL, O_FROM },
		{ "to", required_argument, NULL, O_TO },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, r;

	memset(a, 0, sizeof(*a));
	a->to = UINT64_MAX;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		_cleanup_free_ char *copy = NULL;
		char *tok, *save = NULL;
		uint64_t v;

		switch (c) {
		case O_JSON:
			a->json = true;
			break;
		case O_CPU:
			copy = strdup(optarg);
			if (!copy)
				return cli_error("out of memory");
			a->cpu_filter = true;
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (vtc_parse_u64(tok, &v) < 0 || v >= MAX_CPUS)
					return cli_usage("report", "--cpu: '%s' is not a CPU", tok);
				a->cpus[v] = true;
			}
			break;
		case O_EVENTS:
			a->events = optarg;
			break;
		case O_FROM:
		case O_TO:
			if (vtc_parse_u64(optarg, &v) < 0)
				return cli_usage("report", "%s: '%s' is not a TSC value",
						 c == O_FROM ? "--from" : "--to", optarg);
			*(c == O_FROM ? &a->from : &a->to) = v;
			break;
		case 'h':
			fputs(report_help, stdout);
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	r = runsel_resolve("report", argv + optind, argc - optind, true, &a->run);
	if (r)
		return r;
	a->dir = a->run.dir;
	return 0;
}

/* Which event ids of one file pass --events (NULL: all). */
static bool *event_mask(struct tep_handle *tep, const char *list)
{
	bool *mask = calloc(65536, sizeof(*mask));
	_cleanup_free_ char *copy = strdup(list);
	struct tep_event **events = tep_list_events(tep, TEP_EVENT_SORT_ID);
	char *tok, *save = NULL;

	if (!mask || !copy || !events) {
		free(mask);
		return NULL;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		const char *sys = colon ? tok : NULL, *name = colon ? colon + 1 : tok;

		if (colon)
			*colon = '\0';
		for (size_t i = 0; events[i]; i++) {
			struct tep_event *e = events[i];

			if (sys && strcmp(sys, e->system))
				continue;
			if (strcmp(name, "*") && strcmp(name, e->name))
				continue;
			if (e->id >= 0 && e->id < 65536)
				mask[e->id] = true;
		}
	}
	return mask;
}

static void json_string(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

struct printer {
	struct rundir *rd;
	const struct report_args *a;
	bool *masks[RUNDIR_MAX_FILES];
	struct tep_plugin_list *plugins[RUNDIR_MAX_FILES];
	struct trace_seq seq;
};

static void print_item(struct printer *p, const struct vt_merge_item *it)
{
	struct tep_handle *tep = vt_dat_tep(p->rd->files[it->file]);
	struct tep_record rec = { .ts = it->ev.ts, .cpu = (int)it->cpu, .size = (int)it->ev.size,
				  .data = (void *)it->ev.data };
	struct tep_event *event = tep_find_event(tep, it->ev.type_id);
	const char *comm = tep_data_comm_from_pid(tep, it->ev.pid);
	const char *label = p->rd->labels[it->file];

	trace_seq_reset(&p->seq);
	if (event)
		tep_print_event(tep, &p->seq, &rec, "%s", TEP_PRINT_INFO);
	else
		trace_seq_printf(&p->seq, "[unknown event %u]", it->ev.type_id);
	trace_seq_terminate(&p->seq);
	if (p->a->json) {
		printf("{\"ts\":%" PRIu64 ",\"side\":\"%s\",\"cpu\":%u,\"pid\":%d,\"comm\":", it->ev.ts,
		       label, it->cpu, it->ev.pid);
		json_string(stdout, comm, strlen(comm));
		printf(",\"event\":");
		if (event) {
			printf("\"%s:%s\"", event->system, event->name);
		} else {
			printf("null");
		}
		printf(",\"info\":");
		json_string(stdout, p->seq.buffer, p->seq.len);
		fputs("}\n", stdout);
		return;
	}
	printf("%-11s %16s-%-7d [%03u] %" PRIu64 ": %s: %.*s\n", label, comm, it->ev.pid, it->cpu,
	       it->ev.ts, event ? event->name : "unknown", (int)p->seq.len, p->seq.buffer);
}

int cmd_report(int argc, char **argv)
{
	struct report_args *a = calloc(1, sizeof(*a));
	struct rundir *rd = calloc(1, sizeof(*rd));
	struct printer p = { 0 };
	struct vt_errbuf eb = { "" };
	struct vt_merge *m = NULL;
	struct vt_merge_item it;
	int r;

	if (!a || !rd) {
		free(a);
		free(rd);
		return cli_error("out of memory");
	}
	r = parse_args(argc, argv, a);
	if (r) {
		free(a);
		free(rd);
		return r < 0 ? 0 : r;
	}
	r = rundir_open(a->dir, rd);
	if (r) {
		free(a);
		free(rd);
		return r;
	}
	p.rd = rd;
	p.a = a;
	trace_seq_init(&p.seq);
	/* the same event plugins trace-cmd report loads, so the info column reads the same */
	for (size_t f = 0; f < rd->nfiles; f++)
		p.plugins[f] = tep_load_plugins(vt_dat_tep(rd->files[f]));
	for (size_t f = 0; a->events && f < rd->nfiles; f++) {
		p.masks[f] = event_mask(vt_dat_tep(rd->files[f]), a->events);
		if (!p.masks[f]) {
			r = cli_error("out of memory");
			goto out;
		}
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	r = vt_merge_new(rd->files, rd->nfiles, &m, &eb);
	while (r >= 0 && (r = vt_merge_next(m, &it, &eb)) > 0) {
		if (it.ev.ts < a->from)
			continue;
		if (it.ev.ts > a->to)
			break;
		if (a->cpu_filter && (it.cpu >= MAX_CPUS || !a->cpus[it.cpu]))
			continue;
		if (p.masks[it.file] && !p.masks[it.file][it.ev.type_id])
			continue;
		print_item(&p, &it);
	}
	if (fflush(stdout) != 0 && r >= 0)
		r = cli_error("writing the report failed");
	else if (r < 0)
		r = cli_error_eb(r, &eb, a->dir);
out:
	vt_merge_free(m);
	trace_seq_destroy(&p.seq);
	for (size_t f = 0; f < RUNDIR_MAX_FILES; f++) {
		free(p.masks[f]);
		if (p.plugins[f])
			tep_unload_plugins(p.plugins[f], vt_dat_tep(rd->files[f]));
	}
	rundir_close(rd);
	free(rd);
	free(a);
	return r > 0 ? r : 0;
}
