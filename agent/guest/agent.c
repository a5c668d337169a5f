// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace-agent: the guest side of virt-trace. Parses the verb and its options, runs
 * it, prints one JSON object on stdout or one error line on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cleanup.h"
#include "util.h"

#define PROG "virt-trace-agent"
#define EXIT_USAGE 2
#define MAX_BUFFER_KB (1u << 20)	/* 1 GiB per CPU */

struct opts {
	const char *events;
	const char *dir;
	const char *out;
	uint64_t buffer_kb;
	bool events_given;
};

enum { OPT_EVENTS = 1, OPT_BUFFER_KB = 2, OPT_DIR = 4, OPT_OUT = 8 };

struct verb {
	const char *name;
	unsigned opts;		/* OPT_* it accepts */
	int (*run)(const struct opts *o, struct vt_errbuf *eb);
};

static const char usage_text[] =
	"Usage: " PROG " start [--events LIST] [--buffer-kb N] [--dir DIR]\n"
	"       " PROG " collect [--dir DIR]\n"
	"       " PROG " stop [--dir DIR]\n"
	"       " PROG " info [--events LIST] [--out FILE]\n"
	"       " PROG " tsc\n"
	"       " PROG " --version | --help\n"
	"\n"
	"Records the guest's ftrace events for virt-trace (see virt-trace-agent(8)).\n"
	"  start    create the tracefs instance " VTA_INSTANCE " (clock x86-tsc) and\n"
	"           start tracing LIST (default " VTA_DEFAULT_EVENTS ") plus msr:write_msr\n"
	"           for MSR 0x10/0x3b; N KiB of buffer per CPU (default %u)\n"
	"  collect  write the pages recorded since the last collect to DIR/chunk-<seq>.bin\n"
	"  stop     tracing off, a last collect, remove the instance\n"
	"  info     kernel, CPUs, TSC flags, formats of the instance's events and of\n"
	"           LIST (to FILE with --out)\n"
	"  tsc      the guest TSC now\n"
	"DIR defaults to " VTA_DEFAULT_DIR ". Output: one JSON object on stdout.\n";

int vta_json_add(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val || json_object_object_add(obj, key, val)) {
		json_object_put(val);
		return vtc_err(ENOMEM);
	}
	return 0;
}

int vta_json_push(struct json_object *arr, struct json_object *val)
{
	if (!val || json_object_array_add(arr, val)) {
		json_object_put(val);
		return vtc_err(ENOMEM);
	}
	return 0;
}

static const char *json_text(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The one line on stdout; a failed write (full pipe, closed stdout) is an error. */
static int print_json(struct json_object *o, struct vt_errbuf *eb)
{
	const char *text = json_text(o);

	if (!text)
		return vtc_err(ENOMEM);
	if (puts(text) == EOF || fflush(stdout) == EOF)
		return vtc_errf(eb, errno ? errno : EIO, "write stdout: %m");
	return 0;
}

static int add_boot_id(struct json_object *o, struct vt_errbuf *eb)
{
	char boot_id[VTA_BOOT_ID_LEN + 1];
	int r = vta_boot_id(boot_id, eb);

	return r ?: vta_json_add(o, "boot_id", json_object_new_string(boot_id));
}

static int verb_start(const struct opts *o, struct vt_errbuf *eb)
{
	_cleanup_instance_ struct tracefs_instance *inst = NULL;
	_cleanup_json_ struct json_object *out = json_object_new_object();
	_cleanup_json_ struct json_object *events = NULL;
	_cleanup_close_ int lock = -1;
	int r;

	if (!out)
		return vtc_err(ENOMEM);
	r = vta_dir_lock(o->dir, &lock, eb);
	if (!r)
		r = vta_instance_start(o->events, o->buffer_kb, &inst, eb);
	if (r)
		return r;
	r = vta_dir_reset(o->dir, inst, eb);
	if (!r && tracefs_trace_on(inst) < 0)
		r = vtc_errf(eb, errno ? errno : EIO, "tracing_on 1: %m");
	if (!r)
		r = vta_instance_events(inst, &events, eb);
	if (r) {
		tracefs_instance_destroy(inst);
		return r;
	}
	r = vta_json_add(out, "ok", json_object_new_boolean(1)) ?:
	    vta_json_add(out, "instance", json_object_new_string(VTA_INSTANCE)) ?:
	    vta_json_add(out, "events", TAKE_PTR(events)) ?:
	    vta_json_add(out, "buffer_kb", json_object_new_uint64(o->buffer_kb)) ?:
	    vta_json_add(out, "dir", json_object_new_string(o->dir)) ?:
	    add_boot_id(out, eb);
	return r ?: print_json(out, eb);
}

/* After a stop that left pages: the instance goes with the collect that empties it. */
static int remove_if_stopped(struct tracefs_instance *inst, bool more, struct json_object *out)
{
	if (more || tracefs_trace_is_on(inst) != 0)
		return 0;
	if (tracefs_instance_destroy(inst) < 0) {
		fprintf(stderr, PROG ": collect: remove tracefs instance %s: %m\n", VTA_INSTANCE);
		return vta_json_add(out, "removed", json_object_new_boolean(0));
	}
	return vta_json_add(out, "removed", json_object_new_boolean(1));
}

static int verb_collect(const struct opts *o, struct vt_errbuf *eb)
{
	_cleanup_instance_ struct tracefs_instance *inst = NULL;
	_cleanup_json_ struct json_object *out = NULL;
	_cleanup_close_ int lock = -1;
	bool more;
	int r;

	r = vta_dir_lock(o->dir, &lock, eb) ?: vta_instance_get(&inst, eb) ?:
	    vta_collect(o->dir, inst, &out, &more, eb) ?: remove_if_stopped(inst, more, out);
	return r ?: print_json(out, eb);
}

/*
 * Tracing off, then a last collect. The instance goes only when that collect emptied the
 * buffers; with "more":true the caller runs stop again for the rest.
 */
static int verb_stop(const struct opts *o, struct vt_errbuf *eb)
{
	_cleanup_instance_ struct tracefs_instance *inst = NULL;
	_cleanup_json_ struct json_object *out = NULL;
	_cleanup_close_ int lock = -1;
	bool more, removed = false;
	int r;

	r = vta_dir_lock(o->dir, &lock, eb) ?: vta_instance_get(&inst, eb);
	if (r)
		return r;
	if (tracefs_trace_off(inst) < 0)
		return vtc_errf(eb, errno ? errno : EIO, "tracing_on 0: %m");
	r = vta_collect(o->dir, inst, &out, &more, eb);
	if (r)
		return r;
	if (!more) {
		removed = tracefs_instance_destroy(inst) == 0;
		if (!removed)
			fprintf(stderr, PROG ": stop: remove tracefs instance %s: %m\n",
				VTA_INSTANCE);
	}
	r = vta_json_add(out, "stopped", json_object_new_boolean(1)) ?:
	    vta_json_add(out, "removed", json_object_new_boolean(removed));
	return r ?: print_json(out, eb);
}

static int verb_info(const struct opts *o, struct vt_errbuf *eb)
{
	_cleanup_instance_ struct tracefs_instance *inst = NULL;
	_cleanup_json_ struct json_object *info = NULL;
	_cleanup_json_ struct json_object *out = NULL;
	const char *text;
	int r;

	r = vta_instance_get(&inst, eb);
	if (r && r != -ENOENT)
		return r;
	r = vta_info(inst, o->events_given ? o->events : NULL, &info, eb);
	if (r)
		return r;
	if (!o->out)
		return print_json(info, eb);
	text = json_text(info);
	if (!text)
		return vtc_err(ENOMEM);
	r = vtc_write_file_atomic(o->out, text, strlen(text));
	if (r)
		return vtc_errf(eb, r, "write %s: %s", o->out, strerror(-r));
	out = json_object_new_object();
	if (!out)
		return vtc_err(ENOMEM);
	r = vta_json_add(out, "path", json_object_new_string(o->out)) ?:
	    vta_json_add(out, "bytes", json_object_new_uint64(strlen(text)));
	return r ?: print_json(out, eb);
}

static int verb_tsc(const struct opts *o, struct vt_errbuf *eb)
{
	_cleanup_json_ struct json_object *out = json_object_new_object();
	uint64_t guest_tsc = vta_rdtsc();
	int r;

	(void)o;
	if (!out)
		return vtc_err(ENOMEM);
	r = vta_json_add(out, "guest_tsc", json_object_new_uint64(guest_tsc));
	return r ?: print_json(out, eb);
}

static const struct verb verbs[] = {
	{ "start", OPT_EVENTS | OPT_BUFFER_KB | OPT_DIR, verb_start },
	{ "collect", OPT_DIR, verb_collect },
	{ "stop", OPT_DIR, verb_stop },
	{ "info", OPT_EVENTS | OPT_OUT, verb_info },
	{ "tsc", 0, verb_tsc },
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return EXIT_USAGE;
}

/* Options of @v from argv (argv[0] is the verb). Return: 0, or the exit status. */
static int parse_opts(const struct verb *v, int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "buffer-kb", required_argument, NULL, 'b' },
		{ "dir", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	int c, idx = -1;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, &idx)) != -1) {
		char name[32];

		if (idx >= 0)
			snprintf(name, sizeof(name), "--%s", longopts[idx].name);
		else
			snprintf(name, sizeof(name), "%.31s", argv[optind - 1]);
		idx = -1;

		switch (c) {
		case 'e':
			if (!(v->opts & OPT_EVENTS))
				return usage_error("%s: option not accepted here", name);
			o->events = optarg;
			o->events_given = true;
			break;
		case 'b':
			if (!(v->opts & OPT_BUFFER_KB))
				return usage_error("%s: option not accepted here", name);
			if (vtc_parse_u64(optarg, &o->buffer_kb) || !o->buffer_kb ||
			    o->buffer_kb > MAX_BUFFER_KB)
				return usage_error("--buffer-kb '%s': not a size in 1..1048576 KiB",
						   optarg);
			break;
		case 'd':
			if (!(v->opts & OPT_DIR))
				return usage_error("%s: option not accepted here", name);
			if (!*optarg)
				return usage_error("--dir '%s': empty", optarg);
			for (size_t n = strlen(optarg); n > 1 && optarg[n - 1] == '/'; n--)
				optarg[n - 1] = '\0';
			o->dir = optarg;
			break;
		case 'o':
			if (!(v->opts & OPT_OUT))
				return usage_error("%s: option not accepted here", name);
			if (!*optarg)
				return usage_error("--out '%s': empty", optarg);
			o->out = optarg;
			break;
		default:
			return usage_error("%s: unknown option or missing argument", name);
		}
	}
	if (optind < argc)
		return usage_error("%s: unexpected argument", argv[optind]);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.events = VTA_DEFAULT_EVENTS,
		.dir = VTA_DEFAULT_DIR,
		.buffer_kb = VTA_DEFAULT_BUFFER_KB,
	};
	struct vt_errbuf eb = { { 0 } };
	const struct verb *v = NULL;
	int r;

	if (argc < 2)
		return usage_error("no verb given");
	if (!strcmp(argv[1], "--version")) {
		printf(PROG " %s\n", VT_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		printf(usage_text, VTA_DEFAULT_BUFFER_KB);
		return 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].name))
			v = &verbs[i];
	if (!v)
		return usage_error("'%s': unknown verb", argv[1]);
	r = parse_opts(v, argc - 1, argv + 1, &o);
	if (r)
		return r;
	r = v->run(&o, &eb);
	if (r) {
		fprintf(stderr, PROG ": %s: %s\n", v->name, eb.msg[0] ? eb.msg : strerror(-r));
		return 1;
	}
	return 0;
}
