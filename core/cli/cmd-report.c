// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace report: the merged host/guest timeline of a run directory, as text (like
 * trace-cmd report, with a host/guest column) or as JSON lines.
 */
#include <event-parse.h>
#include <getopt.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <trace-seq.h>

#include "cleanup.h"
#include "cli.h"
#include "evfield.h"
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

/* Growable output text of one batch. */
struct outbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static char *out_reserve(struct outbuf *o, size_t n)
{
	if (o->cap - o->len < n) {
		size_t ncap = o->cap ? o->cap : 1 << 16;
		char *np;

		while (ncap - o->len < n)
			ncap *= 2;
		np = realloc(o->p, ncap);
		if (!np) {
			o->oom = true;
			return NULL;
		}
		o->p = np;
		o->cap = ncap;
	}
	return o->p + o->len;
}

static void out_put(struct outbuf *o, const void *data, size_t n)
{
	char *dst = out_reserve(o, n);

	if (dst) {
		memcpy(dst, data, n);
		o->len += n;
	}
}

static void out_printf(struct outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct outbuf *o, const char *fmt, ...)
{
	va_list ap;
	char *dst = out_reserve(o, 256);
	int n;

	if (!dst)
		return;
	va_start(ap, fmt);
	n = vsnprintf(dst, 256, fmt, ap);
	va_end(ap);
	if (n >= 256) {
		dst = out_reserve(o, (size_t)n + 1);
		if (!dst)
			return;
		va_start(ap, fmt);
		vsnprintf(dst, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	if (n > 0)
		o->len += (size_t)n;
}

static void json_string(struct outbuf *o, const char *s, size_t len)
{
	out_put(o, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			char esc[2] = { '\\', (char)ch };

			out_put(o, esc, 2);
		} else if (ch == '\n') {
			out_put(o, "\\n", 2);
		} else if (ch == '\t') {
			out_put(o, "\\t", 2);
		} else if (ch < 0x20) {
			out_printf(o, "\\u%04x", ch);
		} else {
			out_put(o, &s[i], 1);
		}
	}
	out_put(o, "\"", 1);
}

/* decimal digits of @v right-aligned ending at @end; returns the start */
static char *utoa_end(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static char *pad_to(char *p, const char *s, size_t len, size_t width, bool right)
{
	size_t pad = len < width ? width - len : 0;

	if (right) {
		memset(p, ' ', pad);
		p += pad;
	}
	memcpy(p, s, len);
	p += len;
	if (!right) {
		memset(p, ' ', pad);
		p += pad;
	}
	return p;
}

/* One event to print, copied out of the merge (its page moves on). */
struct bitem {
	uint64_t ts;
	uint32_t data_off, size;
	int32_t pid;
	uint16_t type_id;
	uint16_t file;
	uint32_t cpu;
};

/*
 * One text line, "%-11s %16s-%-7d [%03u] %llu: %s: %s", formatted by hand: printf is a
 * large share of a report.
 */
static void text_line(struct outbuf *o, const char *label, const char *comm,
		      const struct bitem *it, const char *name, const struct trace_seq *info)
{
	size_t comm_len = strnlen(comm, 64), name_len = strnlen(name, 128);
	char num[24], *n, *p = out_reserve(o, 128 + comm_len + name_len + info->len), *line = p;

	if (!p)
		return;
	p = pad_to(p, label, strlen(label), 11, false);
	*p++ = ' ';
	p = pad_to(p, comm, comm_len, 16, true);
	*p++ = '-';
	if (it->pid < 0)
		*p++ = '-';
	n = utoa_end(num + sizeof(num), it->pid < 0 ? (uint64_t)-(int64_t)it->pid : (uint64_t)it->pid);
	p = pad_to(p, n, (size_t)(num + sizeof(num) - n), it->pid < 0 ? 6 : 7, false);
	*p++ = ' ';
	*p++ = '[';
	n = utoa_end(num + sizeof(num), it->cpu);
	while (num + sizeof(num) - n < 3)
		*--n = '0';
	memcpy(p, n, (size_t)(num + sizeof(num) - n));
	p += num + sizeof(num) - n;
	*p++ = ']';
	*p++ = ' ';
	n = utoa_end(num + sizeof(num), it->ts);
	memcpy(p, n, (size_t)(num + sizeof(num) - n));
	p += num + sizeof(num) - n;
	*p++ = ':';
	*p++ = ' ';
	memcpy(p, name, name_len);
	p += name_len;
	*p++ = ':';
	*p++ = ' ';
	memcpy(p, info->buffer, info->len);
	p += info->len;
	*p++ = '\n';
	o->len += (size_t)(p - line);
}

/* What formatting needs: per file a libtraceevent handle with its plugins. */
struct fmt_ctx {
	struct vt_dat *own[RUNDIR_MAX_FILES];	/* handles opened for this worker, or NULL */
	struct tep_handle *tep[RUNDIR_MAX_FILES];
	struct tep_plugin_list *plugins[RUNDIR_MAX_FILES];
	size_t nfiles;
	const char (*labels)[32];
	bool json;
	struct trace_seq seq;
	struct vtc_print_buf pb;	/* records are printed from a padded copy */
};

static void format_item(struct fmt_ctx *fc, const struct bitem *it, const uint8_t *arena,
			struct outbuf *o)
{
	struct tep_handle *tep = fc->tep[it->file];
	struct tep_record rec = { .ts = it->ts, .cpu = (int)it->cpu, .size = (int)it->size,
				  .data = (void *)(arena + it->data_off) };
	struct tep_event *event = tep_find_event(tep, it->type_id);
	const char *comm = tep_data_comm_from_pid(tep, it->pid);
	const char *label = fc->labels[it->file];

	trace_seq_reset(&fc->seq);
	if (event) {
		if (vtc_print_event(tep, event, &rec, &fc->pb, &fc->seq) < 0)
			trace_seq_puts(&fc->seq, "[out of memory]");
	} else
		trace_seq_printf(&fc->seq, "[unknown event %u]", it->type_id);
	trace_seq_terminate(&fc->seq);
	if (!fc->json) {
		text_line(o, label, comm, it, event ? event->name : "unknown", &fc->seq);
		return;
	}
	out_printf(o, "{\"ts\":%" PRIu64 ",\"side\":\"%s\",\"cpu\":%u,\"pid\":%d,\"comm\":", it->ts,
		   label, it->cpu, it->pid);
	json_string(o, comm, strlen(comm));
	if (event)
		out_printf(o, ",\"event\":\"%s:%s\",\"info\":", event->system, event->name);
	else
		out_printf(o, ",\"event\":null,\"info\":");
	json_string(o, fc->seq.buffer, fc->seq.len);
	out_put(o, "}\n", 2);
}

/*
 * A formatting context over @files; with @paths each file is opened again, so that the
 * worker has libtraceevent handles of its own (they cache lookups as they go and are not
 * meant to be shared between threads).
 */
static int fmt_ctx_init(struct fmt_ctx *fc, struct rundir *rd, bool own, bool json,
			struct vt_errbuf *eb)
{
	memset(fc, 0, sizeof(*fc));
	fc->nfiles = rd->nfiles;
	fc->labels = rd->labels;
	fc->json = json;
	trace_seq_init(&fc->seq);
	for (size_t f = 0; f < rd->nfiles; f++) {
		if (own) {
			int r = vt_dat_open(rd->paths[f], &fc->own[f], eb);

			if (r < 0)
				return r;
			fc->tep[f] = vt_dat_tep(fc->own[f]);
		} else {
			fc->tep[f] = vt_dat_tep(rd->files[f]);
		}
		/* the event plugins trace-cmd report loads, so the info column reads the same */
		fc->plugins[f] = tep_load_plugins(fc->tep[f]);
	}
	return 0;
}

static void fmt_ctx_fini(struct fmt_ctx *fc)
{
	for (size_t f = 0; f < fc->nfiles; f++) {
		if (fc->plugins[f])
			tep_unload_plugins(fc->plugins[f], fc->tep[f]);
		vt_dat_close(fc->own[f]);
	}
	trace_seq_destroy(&fc->seq);
	vtc_print_buf_fini(&fc->pb);
}

/* ---- the formatting pipeline: the merge fills batches, workers format them ---- */

#define BATCH_EVENTS 8192
#define BATCH_ARENA (BATCH_EVENTS * 64)
#define MAX_WORKERS 4
/* below this much event data one thread prints faster than it can open more handles */
#define PARALLEL_MIN_BYTES (64ull << 20)

enum slot_state { SLOT_EMPTY, SLOT_FILLED, SLOT_FORMATTED };

struct slot {
	enum slot_state state;
	size_t n;
	struct bitem items[BATCH_EVENTS];
	uint8_t *arena;
	size_t arena_len, arena_cap;
	struct outbuf out;
};

struct pipeline {
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct slot *slots;
	size_t nslots;
	size_t queue[2 * MAX_WORKERS];	/* filled slots in order */
	size_t qhead, qlen;
	bool quit;
	struct fmt_ctx ctx[MAX_WORKERS];
	pthread_t threads[MAX_WORKERS];
	size_t nworkers;
};

static void format_slot(struct fmt_ctx *fc, struct slot *s)
{
	s->out.len = 0;
	for (size_t i = 0; i < s->n; i++)
		format_item(fc, &s->items[i], s->arena, &s->out);
}

struct worker_arg {
	struct pipeline *pl;
	struct fmt_ctx *fc;
};

static struct worker_arg worker_args[MAX_WORKERS];

static void *worker_main(void *opaque)
{
	struct worker_arg *wa = opaque;
	struct pipeline *pl = wa->pl;

	pthread_mutex_lock(&pl->lock);
	for (;;) {
		struct slot *s;

		while (!pl->qlen && !pl->quit)
			pthread_cond_wait(&pl->work, &pl->lock);
		if (!pl->qlen)
			break;
		s = &pl->slots[pl->queue[pl->qhead]];
		pl->qhead = (pl->qhead + 1) % (2 * MAX_WORKERS);
		pl->qlen--;
		pthread_mutex_unlock(&pl->lock);
		format_slot(wa->fc, s);
		pthread_mutex_lock(&pl->lock);
		s->state = SLOT_FORMATTED;
		pthread_cond_broadcast(&pl->done);
	}
	pthread_mutex_unlock(&pl->lock);
	return NULL;
}

/* events per batch; tests make it small to cross many batches */
static size_t batch_events = BATCH_EVENTS;

/* copy one merged event into a slot; false when the slot is full */
static bool slot_add(struct slot *s, const struct vt_merge_item *it)
{
	if (s->n == batch_events || s->arena_cap - s->arena_len < it->ev.size)
		return false;
	memcpy(s->arena + s->arena_len, it->ev.data, it->ev.size);
	s->items[s->n++] = (struct bitem){ .ts = it->ev.ts, .data_off = (uint32_t)s->arena_len,
					   .size = it->ev.size, .pid = it->ev.pid,
					   .type_id = it->ev.type_id, .file = (uint16_t)it->file,
					   .cpu = it->cpu };
	s->arena_len += it->ev.size;
	return true;
}

static int write_out(struct outbuf *o)
{
	if (o->oom)
		return cli_error("out of memory");
	if (o->len && fwrite(o->p, 1, o->len, stdout) != o->len)
		return cli_error("writing the report failed");
	o->len = 0;
	return 0;
}

static bool wanted(const struct report_args *a, bool *const *masks, const struct vt_merge_item *it)
{
	if (it->ev.ts < a->from)
		return false;
	if (a->cpu_filter && (it->cpu >= MAX_CPUS || !a->cpus[it->cpu]))
		return false;
	if (masks[it->file] && !masks[it->file][it->ev.type_id])
		return false;
	return true;
}

/* Wait until slot @s is free, writing what it formatted (slots are reused in order). */
static int slot_reclaim(struct pipeline *pl, struct slot *s)
{
	int r = 0;

	pthread_mutex_lock(&pl->lock);
	while (s->state == SLOT_FILLED)
		pthread_cond_wait(&pl->done, &pl->lock);
	pthread_mutex_unlock(&pl->lock);
	if (s->state == SLOT_FORMATTED)
		r = write_out(&s->out);
	s->state = SLOT_EMPTY;
	s->n = 0;
	s->arena_len = 0;
	return r;
}

static void slot_submit(struct pipeline *pl, size_t idx)
{
	pthread_mutex_lock(&pl->lock);
	pl->slots[idx].state = SLOT_FILLED;
	pl->queue[(pl->qhead + pl->qlen) % (2 * MAX_WORKERS)] = idx;
	pl->qlen++;
	pthread_cond_signal(&pl->work);
	pthread_mutex_unlock(&pl->lock);
}

static void pipeline_stop(struct pipeline *pl)
{
	pthread_mutex_lock(&pl->lock);
	pl->quit = true;
	pthread_cond_broadcast(&pl->work);
	pthread_mutex_unlock(&pl->lock);
	for (size_t w = 0; w < pl->nworkers; w++) {
		pthread_join(pl->threads[w], NULL);
		fmt_ctx_fini(&pl->ctx[w]);
	}
	for (size_t i = 0; i < pl->nslots; i++) {
		free(pl->slots[i].arena);
		free(pl->slots[i].out.p);
	}
	free(pl->slots);
	pthread_mutex_destroy(&pl->lock);
	pthread_cond_destroy(&pl->work);
	pthread_cond_destroy(&pl->done);
}

static int pipeline_start(struct pipeline *pl, struct rundir *rd, bool json, size_t nworkers)
{
	struct vt_errbuf eb = { "" };

	memset(pl, 0, sizeof(*pl));
	pthread_mutex_init(&pl->lock, NULL);
	pthread_cond_init(&pl->work, NULL);
	pthread_cond_init(&pl->done, NULL);
	pl->nslots = 2 * nworkers;
	pl->slots = calloc(pl->nslots, sizeof(*pl->slots));
	if (!pl->slots)
		return cli_error("out of memory");
	for (size_t i = 0; i < pl->nslots; i++) {
		pl->slots[i].arena_cap = BATCH_ARENA;
		pl->slots[i].arena = malloc(BATCH_ARENA);
		if (!pl->slots[i].arena)
			return cli_error("out of memory");
	}
	for (size_t w = 0; w < nworkers; w++) {
		int r = fmt_ctx_init(&pl->ctx[w], rd, true, json, &eb);

		if (r < 0) {
			fmt_ctx_fini(&pl->ctx[w]);
			return cli_error_eb(r, &eb, "report");
		}
		worker_args[w] = (struct worker_arg){ .pl = pl, .fc = &pl->ctx[w] };
		if (pthread_create(&pl->threads[w], NULL, worker_main, &worker_args[w]) != 0) {
			fmt_ctx_fini(&pl->ctx[w]);
			return cli_error("cannot start a formatting thread");
		}
		pl->nworkers++;
	}
	return 0;
}

static size_t workers_for(struct rundir *rd)
{
	uint64_t bytes = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	for (size_t f = 0; f < rd->nfiles; f++)
		for (size_t b = 0; b < vt_dat_nbuffers(rd->files[f]); b++)
			for (unsigned c = 0; c < vt_dat_buffer_ncpus(rd->files[f], b); c++)
				bytes += vt_dat_cpu_size(rd->files[f], b, c);
	const char *force = getenv("VT_REPORT_WORKERS");	/* tests: 0 = serial */
	uint64_t n;

	const char *batch = getenv("VT_REPORT_BATCH");

	if (batch && vtc_parse_u64(batch, &n) == 0 && n > 0 && n < BATCH_EVENTS)
		batch_events = (size_t)n;
	if (force && vtc_parse_u64(force, &n) == 0)
		return n > MAX_WORKERS ? MAX_WORKERS : (size_t)n;
	if (ncpu < 2 || bytes < PARALLEL_MIN_BYTES)
		return 0;
	return ncpu > MAX_WORKERS ? MAX_WORKERS : (size_t)ncpu;
}

/* Print serially in this thread. */
static int run_serial(struct rundir *rd, const struct report_args *a, bool *const *masks,
		      struct vt_merge *m, struct vt_errbuf *eb)
{
	struct fmt_ctx fc;
	struct slot *s = calloc(1, sizeof(*s));
	struct vt_merge_item it;
	int r;

	if (!s)
		return -ENOMEM;
	s->arena_cap = BATCH_ARENA;
	s->arena = malloc(BATCH_ARENA);
	r = fmt_ctx_init(&fc, rd, false, a->json, eb);
	while (r >= 0 && s->arena && (r = vt_merge_next(m, &it, eb)) > 0) {
		r = 0;
		if (it.ev.ts > a->to)
			break;
		if (!wanted(a, masks, &it))
			continue;
		if (!slot_add(s, &it)) {
			format_slot(&fc, s);
			if (write_out(&s->out))
				r = -EIO;
			s->n = s->arena_len = 0;
			slot_add(s, &it);
		}
	}
	if (r >= 0 && s->arena) {
		format_slot(&fc, s);
		if (write_out(&s->out))
			r = -EIO;
	}
	if (!s->arena)
		r = -ENOMEM;
	fmt_ctx_fini(&fc);
	free(s->arena);
	free(s->out.p);
	free(s);
	return r;
}

/* Merge in this thread, format in @nworkers threads, write in order. */
static int run_parallel(struct rundir *rd, const struct report_args *a, bool *const *masks,
			struct vt_merge *m, size_t nworkers, struct vt_errbuf *eb)
{
	struct pipeline *pl = calloc(1, sizeof(*pl));
	struct vt_merge_item it;
	size_t seq = 0;
	int r, werr = 0;

	if (!pl)
		return -ENOMEM;
	r = pipeline_start(pl, rd, a->json, nworkers);
	if (r) {
		pipeline_stop(pl);
		free(pl);
		return -EIO;
	}
	struct slot *s = &pl->slots[0];
	while ((r = vt_merge_next(m, &it, eb)) > 0) {
		r = 0;
		if (it.ev.ts > a->to)
			break;
		if (!wanted(a, masks, &it))
			continue;
		if (slot_add(s, &it))
			continue;
		slot_submit(pl, seq % pl->nslots);
		seq++;
		s = &pl->slots[seq % pl->nslots];
		werr |= slot_reclaim(pl, s);
		slot_add(s, &it);
	}
	if (r >= 0 && s->n) {
		slot_submit(pl, seq % pl->nslots);
		seq++;
	}
	/* write what is still in flight, in order */
	for (size_t i = 0; i < pl->nslots; i++)
		werr |= slot_reclaim(pl, &pl->slots[(seq + i) % pl->nslots]);
	pipeline_stop(pl);
	free(pl);
	if (r >= 0 && werr)
		r = -EIO;
	return r;
}

int cmd_report(int argc, char **argv)
{
	struct report_args *a = calloc(1, sizeof(*a));
	struct rundir *rd = calloc(1, sizeof(*rd));
	bool *masks[RUNDIR_MAX_FILES] = { 0 };
	struct vt_errbuf eb = { "" };
	struct vt_merge *m = NULL;
	size_t nworkers;
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
	for (size_t f = 0; a->events && f < rd->nfiles; f++) {
		masks[f] = event_mask(vt_dat_tep(rd->files[f]), a->events);
		if (!masks[f]) {
			r = cli_error("out of memory");
			goto out;
		}
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	nworkers = workers_for(rd);
	r = vt_merge_new(rd->files, rd->nfiles, &m, &eb);
	if (r >= 0)
		r = nworkers ? run_parallel(rd, a, masks, m, nworkers, &eb)
			     : run_serial(rd, a, masks, m, &eb);
	if (r == -EIO)
		r = EXIT_FAILURE;	/* already said */
	else if (r < 0)
		r = cli_error_eb(r, &eb, a->dir);
	else if (fflush(stdout) != 0)
		r = cli_error("writing the report failed");
	else
		r = 0;
out:
	vt_merge_free(m);
	for (size_t f = 0; f < RUNDIR_MAX_FILES; f++)
		free(masks[f]);
	rundir_close(rd);
	free(rd);
	free(a);
	return r;
}
