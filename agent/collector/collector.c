// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The collector thread: waits for qemu-ga, makes sure virt-trace-agent runs in the guest,
 * pulls its chunks every poll interval into spool/guest-boot<K>/cpuN.raw, flushes at
 * stop or shutdown, and records its figures in spool/guest.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "collector.h"
#include "qga.h"
#include "util.h"
#include "vt/chunk.h"
#include "vt/config.h"

#define GUEST_INFO_PATH "/tmp/virt-trace-info.json"
#define INFO_MAX_BYTES (16u << 20)
#define MAX_ERRORS 16

struct coll {
	char *domain, *spool;
	char *events;
	unsigned buffer_kb, poll_ms;
	bool push;

	pthread_t thread;
	bool thread_running;
	pthread_mutex_t lock;	/* the flags below and the spool writes */
	pthread_cond_t cond;
	volatile bool stop, shutdown_req, abandoned;
	bool shutdown_done;

	virConnectPtr conn;
	virDomainPtr dom;
	char *agent;		/* path in the guest */
	bool started;		/* the agent records in this boot */
	unsigned boot;		/* K of spool/guest-boot<K>, 0 before the first */
	char boot_id[41];
	uint32_t page_size;

	/* figures for the manifest */
	bool pushed, flushed, have_last_ok;
	uint64_t chunks, dropped, bytes, pull_ms, failures, lost_events;
	uint64_t last_ok_host_tsc, end_host_tsc;
	char no_agent[VT_ERRBUF_LEN];
	char *errors[MAX_ERRORS];
	unsigned nerrors;
};

static void json_putp(struct json_object **o)
{
	json_object_put(*o);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static void note_error(struct coll *c, const char *what, const struct vt_errbuf *eb)
{
	char line[VT_ERRBUF_LEN + 64];

	snprintf(line, sizeof(line), "%s: %s", what, eb->msg[0] ? eb->msg : "failed");
	if (c->nerrors && !strcmp(c->errors[c->nerrors - 1], line))
		return;	/* a guest without an agent says the same every round */
	syslog(LOG_WARNING, "domain %s: guest agent: %s", c->domain, line);
	if (c->nerrors == MAX_ERRORS) {
		free(c->errors[0]);
		memmove(c->errors, c->errors + 1, (MAX_ERRORS - 1) * sizeof(*c->errors));
		c->nerrors--;
	}
	c->errors[c->nerrors] = strdup(line);
	if (c->errors[c->nerrors])
		c->nerrors++;
}

static int boot_dir(const struct coll *c, unsigned boot, char *out, size_t len)
{
	if (snprintf(out, len, "%s/guest-boot%u", c->spool, boot) >= (int)len)
		return vtc_err(ENAMETOOLONG);
	return 0;
}

/* spool/guest.json: everything finalize needs to describe the guest half */
static void save_state(struct coll *c)
{
	struct json_object *o __attribute__((cleanup(json_putp))) = json_object_new_object();
	struct json_object *errs = json_object_new_array();
	char path[PATH_MAX];
	const char *text;
	double secs = (double)c->pull_ms / 1000.0;

	if (!o || !errs) {
		json_object_put(errs);
		return;
	}
	json_object_object_add(o, "agent", c->agent ? json_object_new_string(c->agent) : NULL);
	json_object_object_add(o, "agent_pushed", json_object_new_boolean(c->pushed));
	json_object_object_add(o, "boots", json_object_new_int((int)c->boot));
	json_object_object_add(o, "chunks", json_object_new_uint64(c->chunks));
	json_object_object_add(o, "dropped_chunks", json_object_new_uint64(c->dropped));
	json_object_object_add(o, "bytes", json_object_new_uint64(c->bytes));
	json_object_object_add(o, "pull_seconds", json_object_new_double(secs));
	json_object_object_add(o, "mb_per_s", json_object_new_double(
			secs > 0 ? (double)c->bytes / 1e6 / secs : 0.0));
	json_object_object_add(o, "lost_events", json_object_new_uint64(c->lost_events));
	json_object_object_add(o, "collect_failures", json_object_new_uint64(c->failures));
	json_object_object_add(o, "poll_interval_ms", json_object_new_int((int)c->poll_ms));
	json_object_object_add(o, "flushed", json_object_new_boolean(c->flushed));
	if (c->have_last_ok)
		json_object_object_add(o, "last_collect_host_tsc",
				       json_object_new_uint64(c->last_ok_host_tsc));
	if (c->end_host_tsc) {
		json_object_object_add(o, "end_host_tsc", json_object_new_uint64(c->end_host_tsc));
		if (c->have_last_ok)
			json_object_object_add(o, "uncovered_ticks", json_object_new_uint64(
					c->flushed || c->end_host_tsc < c->last_ok_host_tsc
						? 0 : c->end_host_tsc - c->last_ok_host_tsc));
	}
	if (!c->boot)
		json_object_object_add(o, "no_agent_reason", json_object_new_string(
				c->no_agent[0] ? c->no_agent : "qemu-ga never answered"));
	for (unsigned i = 0; i < c->nerrors; i++)
		json_object_array_add(errs, json_object_new_string(c->errors[i]));
	json_object_object_add(o, "errors", errs);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	if (!text || snprintf(path, sizeof(path), "%s/guest.json", c->spool) >= (int)sizeof(path))
		return;
	pthread_mutex_lock(&c->lock);
	if (!c->abandoned)
		vtc_write_file_atomic(path, text, strlen(text));
	pthread_mutex_unlock(&c->lock);
}

int coll_json_parse(const uint8_t *buf, size_t len, struct json_object **ret)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok)
		return vtc_err(ENOMEM);
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)(len > INT_MAX ? INT_MAX : len));
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return vtc_err(EBADMSG);
	}
	*ret = o;
	return 0;
}

int coll_info_parse(const uint8_t *buf, size_t len, struct json_object **ret,
		    const char **ret_boot_id, uint32_t *ret_page_size, struct vt_errbuf *eb)
{
	struct json_object *info = NULL;
	const char *boot_id;

	if (coll_json_parse(buf, len, &info) < 0)
		return vtc_errf(eb, EBADMSG, "agent info: not a JSON object");
	boot_id = json_object_get_string(get(info, "boot_id"));
	if (!boot_id || strlen(boot_id) > 40 || !get(info, "page_size")) {
		json_object_put(info);
		return vtc_errf(eb, EBADMSG, "agent info: no boot_id or page_size");
	}
	*ret = info;
	*ret_boot_id = boot_id;
	*ret_page_size = (uint32_t)json_object_get_uint64(get(info, "page_size"));
	return 0;
}

/* run 'AGENT args...' and parse its JSON stdout (exit code 0 required) */
static int agent_run(struct coll *c, const char *const *args, int timeout_ms,
		     struct json_object **ret, struct vt_errbuf *eb)
{
	struct coll_exec_status st;
	int r = coll_exec_wait(c->dom, c->agent, args, timeout_ms, &st, eb);

	if (r < 0)
		return r;
	if (st.err)	/* one line in the logs */
		st.err[strcspn(st.err, "\n")] = '\0';
	if (st.exitcode != 0) {
		r = vtc_errf(eb, EIO, "virt-trace-agent %s: exit code %d: %.200s", args[0],
			     st.exitcode, st.err && *st.err ? st.err : (char *)st.out);
	} else if (coll_json_parse(st.out, st.out_len, ret) < 0) {
		r = vtc_errf(eb, EBADMSG, "virt-trace-agent %s: output is not JSON: '%.80s'",
			     args[0], (char *)st.out);
	}
	coll_exec_status_fini(&st);
	return r;
}

static int save_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return vtc_err(ENAMETOOLONG);
	return vtc_write_file_atomic(path, data, len);
}

static void save_probe(const char *dir, const struct coll_probe *p)
{
	struct json_object *o __attribute__((cleanup(json_putp))) = json_object_new_object();
	const char *text;

	if (!o)
		return;
	json_object_object_add(o, "source", json_object_new_string("probe"));
	json_object_object_add(o, "offset_s64", json_object_new_int64((int64_t)p->offset));
	json_object_object_add(o, "error_ticks", json_object_new_uint64(p->error_ticks));
	json_object_object_add(o, "host_tsc", json_object_new_uint64(p->host_tsc));
	json_object_object_add(o, "rtt_min_ticks", json_object_new_uint64(p->rtt_min));
	json_object_object_add(o, "rtt_max_ticks", json_object_new_uint64(p->rtt_max));
	json_object_object_add(o, "samples", json_object_new_int((int)p->samples));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	if (text)
		save_file(dir, "probe.json", text, strlen(text));
}

/* agent info: a new boot_id opens spool/guest-boot<K+1> with info.json and probe.json */
static int take_info(struct coll *c, struct vt_errbuf *eb)
{
	static const char *const args[] = { "info", "--out", GUEST_INFO_PATH, NULL };
	struct json_object *desc __attribute__((cleanup(json_putp))) = NULL;
	struct json_object *info __attribute__((cleanup(json_putp))) = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	const char *boot_id;
	char dir[PATH_MAX];
	struct coll_probe probe;
	size_t len;
	int r;

	r = agent_run(c, args, 30000, &desc, eb);
	if (r < 0)
		return r;
	r = coll_file_read_all(c->dom, GUEST_INFO_PATH, INFO_MAX_BYTES, &buf, &len, eb);
	if (r < 0)
		return r;
	coll_file_delete(c->dom, GUEST_INFO_PATH, NULL);
	r = coll_info_parse(buf, len, &info, &boot_id, &c->page_size, eb);
	if (r < 0)
		return r;
	if (c->boot && !strcmp(boot_id, c->boot_id))
		return 0;	/* the agent restarted in the same boot */
	r = boot_dir(c, c->boot + 1, dir, sizeof(dir));
	if (r < 0)
		return r;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return vtc_errf(eb, errno, "%s: %s", dir, strerror(errno));
	r = save_file(dir, "info.json", buf, len);
	if (r < 0)
		return vtc_errf(eb, r, "%s/info.json: %s", dir, strerror(-r));
	c->boot++;
	snprintf(c->boot_id, sizeof(c->boot_id), "%s", boot_id);
	syslog(LOG_INFO, "domain %s: guest boot %u (boot_id %s)", c->domain, c->boot, boot_id);
	r = coll_probe_run(c->dom, c->agent, COLL_PROBE_ROUNDS, &probe, eb);
	if (r < 0) {
		note_error(c, "probe", eb);
		eb->msg[0] = '\0';
		return 0;	/* a tracepoint timeline may still exist */
	}
	save_probe(dir, &probe);
	syslog(LOG_INFO, "domain %s: probe offset %" PRId64 " +- %" PRIu64 " ticks (%u samples)",
	       c->domain, (int64_t)probe.offset, probe.error_ticks, probe.samples);
	return 0;
}

static int start_agent(struct coll *c, struct vt_errbuf *eb)
{
	struct json_object *out __attribute__((cleanup(json_putp))) = NULL;
	char kb[16];
	const char *args[] = { "start", "--events", c->events, "--buffer-kb", kb, NULL };
	static const char *const stop[] = { "stop", NULL };
	int r;

	snprintf(kb, sizeof(kb), "%u", c->buffer_kb);
	r = agent_run(c, args, 30000, &out, eb);
	if (r == -EIO) {
		/* left running by an earlier recorder: stop it (its data is stale), again */
		struct json_object *o = NULL;

		if (agent_run(c, stop, 30000, &o, NULL) == 0) {
			const char *path = json_object_get_string(get(o, "path"));

			if (path)
				coll_file_delete(c->dom, path, NULL);
		}
		json_object_put(o);
		eb->msg[0] = '\0';
		r = agent_run(c, args, 30000, &out, eb);
	}
	return r;
}

/* one agent session: ping, agent present, start, info (+ probe at a new boot) */
static int setup(struct coll *c, struct vt_errbuf *eb)
{
	int r;

	if (virDomainIsActive(c->dom) != 1)
		return vtc_errf(eb, ESRCH, "the domain is not running");
	r = coll_ping(c->dom, 5, eb);
	if (r < 0)
		return vtc_err_prefix(eb, r, "qemu-ga");
	free(c->agent);
	c->agent = NULL;
	r = coll_agent_ensure(c->dom, c->push, &c->agent, &c->pushed, eb);
	if (r < 0)
		return r;
	/* start first: the guest's saved_cmdlines fills once its tracing runs */
	r = start_agent(c, eb);
	if (r < 0)
		return r;
	r = take_info(c, eb);
	if (r < 0)
		return r;
	c->started = true;
	syslog(LOG_INFO, "domain %s: guest agent %s started%s", c->domain, c->agent,
	       c->pushed ? " (pushed)" : "");
	return 0;
}

static int append_pages(struct coll *c, const struct vt_chunk *ch, struct vt_errbuf *eb)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int r = boot_dir(c, c->boot, dir, sizeof(dir));

	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; !r && !c->abandoned && i < ch->ncpus; i++) {
		const struct vt_chunk_cpu *cpu = &ch->cpus[i];
		_cleanup_close_ int fd = -1;

		c->lost_events += cpu->lost_events;
		if (!cpu->npages)
			continue;
		snprintf(path, sizeof(path), "%s/cpu%u.raw", dir, cpu->cpu);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0)
			r = vtc_errf(eb, errno, "%s: %s", path, strerror(errno));
		else
			r = vtc_write_all(fd, cpu->pages, (size_t)cpu->npages * ch->page_size);
		if (r < 0 && !eb->msg[0])
			vtc_errf(eb, r, "%s: %s", path, strerror(-r));
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/*
 * take_chunk - check a pulled chunk against the boot being recorded and append its
 * pages; a bad chunk is dropped and counted (-EBADMSG), the run goes on.
 */
static int take_chunk(struct coll *c, const uint8_t *buf, size_t len, struct vt_errbuf *eb)
{
	static struct vt_chunk ch;	/* large; one collector thread uses it */
	int r = vt_chunk_parse(buf, len, &ch, eb);

	if (r == 0 && strcmp(ch.boot_id, c->boot_id))
		r = vtc_errf(eb, EBADMSG, "chunk of boot %s, recording boot %s", ch.boot_id,
			     c->boot_id);
	if (r == 0 && ch.page_size != c->page_size)
		r = vtc_errf(eb, EBADMSG, "chunk page size %u, info said %u", ch.page_size,
			     c->page_size);
	if (r < 0) {
		c->dropped++;
		return vtc_err(EBADMSG);
	}
	return append_pages(c, &ch, eb);
}

/* 'collect' or 'stop': pull the chunk, delete it, keep its pages. 1 when more waits. */
static int collect(struct coll *c, const char *verb, struct vt_errbuf *eb)
{
	const char *args[] = { verb, NULL };
	struct json_object *out __attribute__((cleanup(json_putp))) = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t h0 = coll_host_tsc(), bytes = 0;
	int64_t t0 = coll_now_ms();
	const char *path, *boot_id;
	size_t len = 0;
	int r;

	r = agent_run(c, args, 30000, &out, eb);
	if (r < 0)
		return r;
	boot_id = json_object_get_string(get(out, "boot_id"));
	if (boot_id && strcmp(boot_id, c->boot_id))
		return vtc_errf(eb, ESTALE, "agent reports boot %s, recording boot %s", boot_id,
				c->boot_id);
	path = json_object_get_string(get(out, "path"));
	if (get(out, "bytes"))
		bytes = json_object_get_uint64(get(out, "bytes"));
	if (path && bytes) {
		if (bytes > VT_CHUNK_MAX_BYTES)
			r = vtc_errf(eb, EFBIG, "chunk of %" PRIu64 " bytes refused", bytes);
		else
			r = coll_file_read_all(c->dom, path, VT_CHUNK_MAX_BYTES, &buf, &len, eb);
		coll_file_delete(c->dom, path, NULL);
		if (r < 0)
			return r;
		c->bytes += len;
		c->pull_ms += (uint64_t)(coll_now_ms() - t0);
		c->chunks++;
		if (len != bytes) {
			c->dropped++;
			note_error(c, "chunk", &(struct vt_errbuf){ "size differs from what the "
								    "agent said: dropped" });
		} else if (take_chunk(c, buf, len, eb) < 0) {
			note_error(c, "chunk dropped", eb);
			eb->msg[0] = '\0';
		}
	}
	c->last_ok_host_tsc = h0;	/* every event before h0 is in the chunk */
	c->have_last_ok = true;
	return json_object_get_boolean(get(out, "more")) ? 1 : 0;
}

/* wait @ms or until a request; true when the thread should end */
static bool idle(struct coll *c, unsigned ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->stop && !(c->shutdown_req && !c->shutdown_done) &&
	       pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0)
		;
	stop = c->stop;
	pthread_mutex_unlock(&c->lock);
	return stop;
}

/* the last collect: what waits, then the agent's 'stop' (the guest's rest) */
static void flush(struct coll *c)
{
	struct vt_errbuf eb = { "" };
	int r = 1;

	if (!c->started || virDomainIsActive(c->dom) != 1)
		return;
	for (int i = 0; r == 1 && i < 64; i++)
		r = collect(c, "collect", &eb);
	if (r >= 0)
		r = collect(c, "stop", &eb);
	if (r == 1)	/* stopped with pages left over: one more pull */
		r = collect(c, "collect", &eb) < 0 ? 0 : 0;
	if (r < 0) {
		note_error(c, "final collect", &eb);
		return;
	}
	c->flushed = true;
	c->started = false;
}

static void open_libvirt(struct coll *c)
{
	struct vt_errbuf eb = { "" };

	while (!c->dom && !c->stop) {
		if (coll_open_domain(c->domain, &c->conn, &c->dom, &eb) == 0)
			break;
		snprintf(c->no_agent, sizeof(c->no_agent), "libvirt: %s", eb.msg);
		if (idle(c, 5000))
			return;
	}
}

static void load_domain_config(struct coll *c)
{
	struct vt_config cfg = { 0 };
	struct vt_errbuf eb = { "" };
	char *xml;
	bool enabled;

	if (vt_config_load(NULL, &cfg, &eb) < 0)
		syslog(LOG_WARNING, "domain %s: config: %s (defaults used)", c->domain, eb.msg);
	xml = c->dom ? virDomainGetXMLDesc(c->dom, 0) : NULL;
	if (xml && vt_config_apply_domain(&cfg, c->domain, xml, &enabled, &eb) < 0)
		syslog(LOG_WARNING, "domain %s: metadata: %s", c->domain, eb.msg);
	free(xml);
	free(c->events);
	c->events = strdup(cfg.guest_events ? cfg.guest_events : "sched:sched_switch");
	c->buffer_kb = cfg.guest_buffer_kb ? cfg.guest_buffer_kb : 8192;
	c->poll_ms = cfg.poll_interval_ms ? cfg.poll_interval_ms : 2000;
	c->push = cfg.agent_push;
	vt_config_fini(&cfg);
}

static void *thread_main(void *arg)
{
	struct coll *c = arg;
	struct vt_errbuf eb;
	bool stop = false;

	open_libvirt(c);
	if (c->dom)
		load_domain_config(c);
	while (c->dom && !stop) {
		int r = 0;

		eb.msg[0] = '\0';
		pthread_mutex_lock(&c->lock);
		bool shut = c->shutdown_req && !c->shutdown_done;
		pthread_mutex_unlock(&c->lock);
		if (shut) {
			flush(c);
			if (virDomainShutdown(c->dom) < 0) {
				virErrorPtr e = virGetLastError();

				snprintf(eb.msg, sizeof(eb.msg), "%s",
					 e && e->message ? e->message : "failed");
				note_error(c, "virDomainShutdown", &eb);
			}
			c->shutdown_done = true;
			save_state(c);
			stop = idle(c, 600000);
			continue;
		}
		if (c->shutdown_done) {
			stop = idle(c, 600000);
			continue;
		}
		if (!c->started) {
			r = setup(c, &eb);
			if (r < 0) {
				if (!c->boot)
					snprintf(c->no_agent, sizeof(c->no_agent), "%s", eb.msg);
				if (r != -ESRCH && r != -ENOTCONN)
					note_error(c, "agent setup", &eb);
				save_state(c);
				stop = idle(c, c->poll_ms > 5000 ? c->poll_ms : 5000);
				continue;
			}
			c->no_agent[0] = '\0';
		}
		r = collect(c, "collect", &eb);
		if (r < 0) {
			c->failures++;
			note_error(c, "collect", &eb);
			c->started = false;	/* next round: ping, and start again */
		}
		save_state(c);
		if (r != 1)
			stop = idle(c, c->poll_ms);
	}
	/* stop: the last collect while the domain still runs (every call has a timeout) */
	if (c->dom && !c->shutdown_done)
		flush(c);
	save_state(c);
	return NULL;
}

int coll_start(const struct coll_opts *opts, struct coll **ret, struct vt_errbuf *eb)
{
	struct coll *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return vtc_err(ENOMEM);
	c->domain = strdup(opts->domain);
	c->spool = strdup(opts->spool);
	c->events = strdup(opts->guest_events ? opts->guest_events : "sched:sched_switch");
	c->buffer_kb = opts->buffer_kb ? opts->buffer_kb : 8192;
	c->poll_ms = opts->poll_ms ? opts->poll_ms : 2000;
	c->push = opts->push;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (!c->domain || !c->spool || !c->events) {
		coll_free(c);
		return vtc_err(ENOMEM);
	}
	r = pthread_create(&c->thread, NULL, thread_main, c);
	if (r) {
		coll_free(c);
		return vtc_errf(eb, r, "collector thread: %s", strerror(r));
	}
	c->thread_running = true;
	*ret = c;
	return 0;
}

void coll_shutdown(struct coll *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->shutdown_req = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void coll_stop(struct coll *c, int max_ms)
{
	struct timespec ts;

	if (!c || !c->thread_running)
		return;
	pthread_mutex_lock(&c->lock);
	c->end_host_tsc = coll_host_tsc();
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += max_ms / 1000;
	if (pthread_timedjoin_np(c->thread, NULL, &ts) == 0) {
		c->thread_running = false;
		return;
	}
	note_error(c, "collector", &(struct vt_errbuf){ "stuck at stop: abandoned" });
	save_state(c);
	pthread_mutex_lock(&c->lock);
	c->abandoned = true;
	pthread_mutex_unlock(&c->lock);
	pthread_detach(c->thread);
	c->thread_running = false;
	syslog(LOG_WARNING, "domain %s: guest agent: collector stuck after %d ms: abandoned",
	       c->domain, max_ms);
}

void coll_free(struct coll *c)
{
	if (!c)
		return;
	if (c->abandoned)
		return;	/* the stuck thread still uses it */
	if (c->dom)
		virDomainFree(c->dom);
	if (c->conn)
		virConnectClose(c->conn);
	for (unsigned i = 0; i < c->nerrors; i++)
		free(c->errors[i]);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->agent);
	free(c->events);
	free(c->domain);
	free(c->spool);
	free(c);
}
