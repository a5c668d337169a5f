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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>	/* LOG_* of vt_log */
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "collector.h"
#include "qga.h"
#include "util.h"
#include "vt/chunk.h"
#include "vt/config.h"
#include "vt/log.h"

#define GUEST_INFO_PATH "/tmp/virt-trace-info.json"
#define MAX_ERRORS 16

struct coll {
	char *domain, *spool;
	char *events;
	char *agent_binary;	/* the config's agent_binary, or NULL */
	unsigned buffer_kb, poll_ms;
	bool push;
	int (*reserve)(void *ctx, uint64_t bytes);
	void *reserve_ctx;
	_Atomic int64_t deadline;	/* coll_deadline_watch: set by coll_stop, flush */

	pthread_t thread;
	bool thread_running;
	pthread_mutex_t lock;	/* the flags below and the spool writes */
	pthread_cond_t cond;
	volatile bool stop, shutdown_req, abandoned;
	volatile bool reconnect_req;	/* coll_reconnect: libvirtd restarted */
	bool shutdown_done;

	struct coll_conn cc;	/* the connection and the domain */
	bool lost;		/* an agent call found the connection gone */
	bool flushing;		/* in flush(): reconnect tries end at the deadline only */
	char *agent;		/* path in the guest */
	bool started;		/* the agent records in this boot */
	unsigned boot;		/* K of spool/guest-boot<K>, 0 before the first */
	struct coll_session sess;	/* what the boot's chunks must match */
	unsigned bad_in_row;	/* failed collects since the last good one */
	bool last_dropped;	/* the last collect's chunk or reply was dropped */

	/* figures for the manifest */
	bool pushed, flushed, have_last_ok;
	uint64_t chunks, dropped, bytes, pull_ms, failures, lost_events;
	uint64_t bad[COLL_BAD_N];	/* dropped, per reason */
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
	vt_log(LOG_WARNING, "domain %s: guest agent: %s", c->domain, line);
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
	{
		struct json_object *bad = json_object_new_object();

		for (int i = 0; bad && i < COLL_BAD_N; i++)
			if (c->bad[i])
				json_object_object_add(bad, coll_bad_name((enum coll_bad)i),
						       json_object_new_uint64(c->bad[i]));
		json_object_object_add(o, "bad_chunks", bad);
	}
	json_object_object_add(o, "checked_events", json_object_new_uint64(c->sess.stats.events));
	json_object_object_add(o, "ts_backwards_pages",
			       json_object_new_uint64(c->sess.stats.ts_backwards));
	json_object_object_add(o, "ts_after_cut_events",
			       json_object_new_uint64(c->sess.stats.ts_after_cut));
	json_object_object_add(o, "bytes", json_object_new_uint64(c->bytes));
	json_object_object_add(o, "pull_seconds", json_object_new_double(secs));
	json_object_object_add(o, "mb_per_s", json_object_new_double(
			secs > 0 ? (double)c->bytes / 1e6 / secs : 0.0));
	json_object_object_add(o, "lost_events", json_object_new_uint64(c->lost_events));
	json_object_object_add(o, "collect_failures", json_object_new_uint64(c->failures));
	json_object_object_add(o, "libvirt_reconnects", json_object_new_uint64(c->cc.reconnects));
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

/* run 'AGENT args...' and parse its JSON stdout (exit code 0 required) */
static int agent_run(struct coll *c, const char *const *args, int timeout_ms,
		     struct json_object **ret, struct vt_errbuf *eb)
{
	struct coll_exec_status st;
	int r = coll_exec_wait(c->cc.dom, c->agent, args, timeout_ms, &st, eb);

	if (r < 0)
		return r;
	if (st.err)	/* one line in the logs */
		st.err[strcspn(st.err, "\n")] = '\0';
	if (st.exitcode != 0) {
		r = vtc_errf(eb, EIO, "virt-trace-agent %s: exit code %d: %.200s", args[0],
			     st.exitcode, st.err && *st.err ? st.err : (char *)st.out);
	} else if (coll_parse_json(st.out, st.out_len, ret) < 0) {
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
	_cleanup_free_ struct coll_session *s = calloc(1, sizeof(*s));
	_cleanup_free_ uint8_t *buf = NULL;
	char dir[PATH_MAX];
	struct coll_probe probe;
	size_t len;
	int r;

	if (!s)
		return vtc_err(ENOMEM);
	r = agent_run(c, args, COLL_AGENT_TIMEOUT_MS, &desc, eb);
	if (r < 0)
		return r;
	r = coll_file_read_all(c->cc.dom, GUEST_INFO_PATH, COLL_INFO_MAX_BYTES, &buf, &len, eb);
	if (r < 0)
		return vtc_err_prefix(eb, r, "agent info");
	coll_file_delete(c->cc.dom, GUEST_INFO_PATH, NULL);
	if (coll_parse_json(buf, len, &info) < 0)
		return vtc_errf(eb, EBADMSG, "agent info: not a JSON object");
	r = coll_session_from_info(s, info, eb);
	if (r < 0)
		return r;
	if (c->boot && !strcmp(s->boot_id, c->sess.boot_id)) {
		/* the agent restarted in the same boot: its seq starts at 0 again */
		s->stats = c->sess.stats;
		c->sess = *s;
		return 0;
	}
	if (c->boot == COLL_MAX_BOOTS)
		return vtc_errf(eb, EMLINK, "guest boot %s: %u boots recorded already, no more",
				s->boot_id, COLL_MAX_BOOTS);
	if (c->reserve && c->reserve(c->reserve_ctx, len) < 0)
		return vtc_errf(eb, EDQUOT, "guest boot %s: the spool quota is used up",
				s->boot_id);
	r = boot_dir(c, c->boot + 1, dir, sizeof(dir));
	if (r < 0)
		return r;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return vtc_errf(eb, errno, "%s: %s", dir, strerror(errno));
	r = save_file(dir, "info.json", buf, len);
	if (r < 0)
		return vtc_errf(eb, r, "%s/info.json: %s", dir, strerror(-r));
	c->boot++;
	s->stats = c->sess.stats;
	c->sess = *s;
	vt_log(LOG_INFO, "domain %s: guest boot %u (boot_id %s)", c->domain, c->boot,
	       c->sess.boot_id);
	r = coll_probe_run(c->cc.dom, c->agent, COLL_PROBE_ROUNDS, &probe, eb);
	if (r < 0) {
		note_error(c, "probe", eb);
		eb->msg[0] = '\0';
		return 0;	/* a tracepoint timeline may still exist */
	}
	save_probe(dir, &probe);
	vt_log(LOG_INFO, "domain %s: probe offset %" PRId64 " +- %" PRIu64 " ticks (%u samples)",
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
	r = agent_run(c, args, COLL_AGENT_TIMEOUT_MS, &out, eb);
	if (r == -EIO) {
		/* left running by an earlier recorder: stop it (its data is stale), again */
		struct json_object *o = NULL;

		if (agent_run(c, stop, COLL_AGENT_TIMEOUT_MS, &o, NULL) == 0) {
			const char *path = json_object_get_string(get(o, "path"));

			if (path)
				coll_file_delete(c->cc.dom, path, NULL);
		}
		json_object_put(o);
		eb->msg[0] = '\0';
		r = agent_run(c, args, COLL_AGENT_TIMEOUT_MS, &out, eb);
	}
	return r;
}

/* one agent session: ping, agent present, start, info (+ probe at a new boot) */
static int setup(struct coll *c, struct vt_errbuf *eb)
{
	bool pushed = false;
	int r;

	r = coll_domain_active(c->cc.dom, eb);
	if (r < 0)
		return r;
	if (r == 0)
		return vtc_errf(eb, ESRCH, "the domain is not running");
	r = coll_ping(c->cc.dom, 5, eb);
	if (r < 0)
		return vtc_err_prefix(eb, r, "qemu-ga");
	free(c->agent);
	c->agent = NULL;
	r = coll_agent_ensure(c->cc.dom, c->push, c->agent_binary, &c->agent, &pushed, eb);
	if (r < 0)
		return r;
	c->pushed |= pushed;	/* found later where it was pushed before */
	/* start first: the guest's saved_cmdlines fills once its tracing runs */
	r = start_agent(c, eb);
	if (r < 0)
		return r;
	r = take_info(c, eb);
	if (r < 0)
		return r;
	c->started = true;
	c->bad_in_row = 0;
	vt_log(LOG_INFO, "domain %s: guest agent %s started%s", c->domain, c->agent,
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

/* a chunk or reply the guest got wrong: dropped, counted per reason, logged */
static void drop(struct coll *c, enum coll_bad why, const struct vt_errbuf *eb)
{
	char what[64];

	c->dropped++;
	c->bad[why]++;
	snprintf(what, sizeof(what), "chunk dropped (%s)", coll_bad_name(why));
	note_error(c, what, eb);
}

/*
 * collect - 'collect' or 'stop': pull the chunk, check it, keep its pages. Return: 1 when
 * more waits, 0, or -errno when the agent must be set up again (a new boot, the agent
 * or qemu-ga gone, COLL_MAX_FAILURES bad replies in a row).
 */
static int collect(struct coll *c, const char *verb, struct vt_errbuf *eb)
{
	static struct vt_chunk ch;	/* large; one collector thread uses it */
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t h0 = coll_host_tsc();
	int64_t t0 = coll_now_ms();
	enum coll_bad why;
	size_t len = 0;
	bool more = false;
	int r;

	r = coll_pull(c->cc.dom, c->agent, verb, COLL_COLLECT_TIMEOUT_MS, &c->sess, &ch, &buf, &len,
		      &more, &why, eb);
	if (r > 0 && c->reserve && c->reserve(c->reserve_ctx, len) < 0) {
		r = vtc_errf(eb, EDQUOT, "the spool quota is used up: %zu bytes of guest pages "
					 "not kept", len);
		why = COLL_BAD_QUOTA;
	}
	c->last_dropped = r < 0 && why != COLL_BAD_N;
	if (r < 0 && why == COLL_BAD_N)
		return r;
	if (r < 0) {
		drop(c, why, eb);
		eb->msg[0] = '\0';
		if (why != COLL_BAD_QUOTA && ++c->bad_in_row >= COLL_MAX_FAILURES)
			return vtc_errf(eb, EPROTO, "%u bad replies in a row", c->bad_in_row);
		return 0;
	}
	c->bad_in_row = 0;
	if (r > 0) {
		c->bytes += len;
		c->pull_ms += (uint64_t)(coll_now_ms() - t0);
		c->chunks++;
		r = append_pages(c, &ch, eb);
		if (r < 0)
			return r;
	}
	c->last_ok_host_tsc = h0;	/* every event before h0 is in the chunk */
	c->have_last_ok = true;
	return more ? 1 : 0;
}

/* CLOCK_REALTIME @ms from now, for pthread_cond_timedwait and pthread_timedjoin_np */
static void abs_time(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* wait @ms or until a request; true when the thread should end */
static bool idle(struct coll *c, unsigned ms)
{
	struct timespec ts;
	bool stop;

	abs_time(&ts, ms);
	pthread_mutex_lock(&c->lock);
	while (!c->stop && !(c->shutdown_req && !c->shutdown_done) && !c->reconnect_req &&
	       pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0)
		;
	stop = c->stop;
	pthread_mutex_unlock(&c->lock);
	return stop;
}

/*
 * between reconnect tries: @ms, cut to the stop's deadline. True to give up: the deadline
 * passed, or coll_stop came (except in the last collect, which the deadline bounds).
 */
static bool reconnect_wait(void *ctx, unsigned ms)
{
	struct coll *c = ctx;
	int left = coll_deadline_left_ms();
	struct timespec ts;
	bool give_up;

	if (left == 0)
		return true;
	if ((unsigned)left < ms)
		ms = (unsigned)left;
	abs_time(&ts, ms);
	pthread_mutex_lock(&c->lock);
	while (!(c->stop && !c->flushing) && pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0)
		;
	give_up = c->stop && !c->flushing;
	pthread_mutex_unlock(&c->lock);
	return give_up || coll_deadline_left_ms() == 0;
}

/*
 * revive - libvirtd restarted: a new connection to the same domain. The agent's session
 * (boot, sequence numbers, the agent started) is kept: the agent in the guest never
 * noticed. libvirtd reconnects to qemu-ga itself after its start: wait for an answer.
 */
static int revive(struct coll *c, struct vt_errbuf *eb)
{
	unsigned ms = COLL_RECONNECT_FIRST_MS;
	int r;

	pthread_mutex_lock(&c->lock);
	c->reconnect_req = false;
	pthread_mutex_unlock(&c->lock);
	c->lost = false;
	vt_log(LOG_NOTICE, "domain %s: libvirt connection lost (libvirtd restarted?): reopening",
	       c->domain);
	r = coll_conn_reopen(&c->cc, reconnect_wait, c, eb);
	if (r < 0) {
		note_error(c, "libvirt", eb);
		return r;
	}
	vt_log(LOG_NOTICE, "domain %s: libvirt connection reopened (%" PRIu64 " reconnects)",
	       c->domain, c->cc.reconnects);
	for (int i = 0; c->started && i < 8; i++) {
		struct vt_errbuf ping = { "" };

		r = coll_ping(c->cc.dom, 2, &ping);
		if (r == -ECONNRESET) {
			c->lost = true;	/* gone again: the next round reopens it */
			break;
		}
		if (r != -ENOTCONN || reconnect_wait(c, ms))
			break;	/* answered, or failing for another reason: collect says */
		ms = ms * 2 > COLL_RECONNECT_MAX_MS ? COLL_RECONNECT_MAX_MS : ms * 2;
	}
	eb->msg[0] = '\0';
	return 0;
}

/*
 * the connection is gone, or the recorder said libvirtd restarted. A request is checked
 * with one call first: the collector may have found the loss and reopened already.
 */
static bool must_reconnect(struct coll *c)
{
	struct vt_errbuf ignored = { "" };
	bool req;

	pthread_mutex_lock(&c->lock);
	req = c->reconnect_req;
	c->reconnect_req = false;
	pthread_mutex_unlock(&c->lock);
	if (c->lost || coll_conn_lost(&c->cc, 0))
		return true;
	return req && coll_domain_active(c->cc.dom, &ignored) == -ECONNRESET;
}

/* the last collect: what waits, then the agent's 'stop' (the guest's rest); it ends by
 * c->deadline (coll_stop's), or within COLL_FLUSH_MS from now */
static int flush_pull(struct coll *c, struct vt_errbuf *eb)
{
	int r = 1;

	for (int i = 0; r == 1 && i < 64; i++)
		r = collect(c, "collect", eb);
	if (r >= 0) {
		r = collect(c, "stop", eb);
		if (r >= 0 && c->last_dropped)	/* the guest's rest is lost, it still traces */
			r = vtc_errf(eb, EIO, "the agent's stop was dropped (see bad_chunks)");
	}
	if (r == 1)	/* stopped with pages left over: one more pull */
		r = collect(c, "collect", eb) < 0 ? 0 : 0;
	return r;
}

/*
 * flush_tries - flush_pull with the connection checked first; a connection lost before or
 * during it is reopened (twice at most, by the deadline). Return: 0 flushed, 1 the domain
 * does not run any more (nothing to flush), -errno.
 */
static int flush_tries(struct coll *c, struct vt_errbuf *eb)
{
	int r;

	for (int tries = 0;; tries++) {
		eb->msg[0] = '\0';
		if (c->lost || coll_conn_lost(&c->cc, 0))
			r = vtc_errf(eb, ECONNRESET, "libvirt connection lost");
		else if ((r = coll_domain_active(c->cc.dom, eb)) == 0)
			return 1;
		else if (r > 0)
			r = flush_pull(c, eb);
		if (r == -ECONNRESET)
			c->lost = true;
		if (r != -ECONNRESET || tries == 2 || revive(c, eb) < 0)
			return r;
	}
}

static void flush(struct coll *c)
{
	struct vt_errbuf eb = { "" };
	int64_t none = 0;
	int r;

	atomic_compare_exchange_strong(&c->deadline, &none, coll_now_ms() + COLL_FLUSH_MS);
	if (!c->started)
		return;
	c->flushing = true;
	r = flush_tries(c, &eb);
	c->flushing = false;
	if (r < 0)
		note_error(c, "final collect", &eb);
	if (r != 0)
		return;
	c->flushed = true;
	c->started = false;
}

static void open_libvirt(struct coll *c)
{
	struct vt_errbuf eb = { "" };

	while (!c->cc.dom && !c->stop) {
		pthread_mutex_lock(&c->lock);
		c->reconnect_req = false;	/* a first open is what it asks for: idle waits */
		pthread_mutex_unlock(&c->lock);
		if (coll_conn_open(&c->cc, c->domain, &eb) == 0)
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
		vt_log(LOG_WARNING, "domain %s: config: %s (defaults used)", c->domain, eb.msg);
	xml = c->cc.dom ? virDomainGetXMLDesc(c->cc.dom, 0) : NULL;
	if (xml && vt_config_apply_domain(&cfg, c->domain, xml, &enabled, &eb) < 0)
		vt_log(LOG_WARNING, "domain %s: metadata: %s", c->domain, eb.msg);
	free(xml);
	free(c->events);
	c->events = strdup(cfg.guest_events ? cfg.guest_events : "sched:sched_switch");
	free(c->agent_binary);
	c->agent_binary = cfg.agent_binary ? strdup(cfg.agent_binary) : NULL;
	c->buffer_kb = cfg.guest_buffer_kb ? cfg.guest_buffer_kb : 8192;
	c->poll_ms = cfg.poll_interval_ms ? cfg.poll_interval_ms : 2000;
	c->push = cfg.agent_push;
	vt_config_fini(&cfg);
}

/* virDomainShutdown, once more on a reopened connection when libvirtd restarted */
static int shutdown_domain(struct coll *c, struct vt_errbuf *eb)
{
	for (int tries = 0;; tries++) {
		virErrorPtr e;

		if (c->cc.dom && virDomainShutdown(c->cc.dom) == 0)
			return 0;
		e = c->cc.dom ? virGetLastError() : NULL;
		if (tries == 1 || (c->cc.dom && !coll_conn_lost_error(e)))
			return vtc_errf(eb, EIO, "%s", e && e->message ? e->message : "failed");
		c->lost = true;
		if (revive(c, eb) < 0)
			return vtc_err(ENOTCONN);
	}
}

static void *thread_main(void *arg)
{
	struct coll *c = arg;
	struct vt_errbuf eb;
	bool stop = false;

	coll_deadline_watch(&c->deadline);
	open_libvirt(c);
	if (c->cc.dom)
		load_domain_config(c);
	else
		stop = true;	/* stopped before the domain was found */
	while (!stop) {
		bool revived = false;
		int r = 0;

		eb.msg[0] = '\0';
		pthread_mutex_lock(&c->lock);
		bool shut = c->shutdown_req && !c->shutdown_done;
		if (c->shutdown_done)
			c->reconnect_req = false;	/* the domain goes: nothing to reopen for */
		pthread_mutex_unlock(&c->lock);
		if (c->shutdown_done) {
			stop = idle(c, 600000);
			continue;
		}
		if (must_reconnect(c)) {
			if (revive(c, &eb) < 0) {
				save_state(c);
				stop = idle(c, 5000);	/* libvirtd still away: try again */
				continue;
			}
			revived = true;
		}
		if (shut) {
			flush(c);
			pthread_mutex_lock(&c->lock);
			if (!c->stop)	/* the flush's own limit is over */
				atomic_store(&c->deadline, 0);
			pthread_mutex_unlock(&c->lock);
			r = shutdown_domain(c, &eb);
			if (r < 0)
				note_error(c, "virDomainShutdown", &eb);
			c->shutdown_done = true;
			save_state(c);
			stop = idle(c, 600000);
			continue;
		}
		if (!c->started) {
			r = setup(c, &eb);
			if (r == -ECONNRESET) {	/* reopened at once, not the guest's fault */
				c->lost = true;
				if (revived)	/* lost again at once: not in a tight loop */
					stop = idle(c, c->poll_ms);
				continue;
			}
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
		if (r == -ECONNRESET) {
			/* libvirtd restarted: the agent in the guest goes on, its session too */
			c->lost = true;
			save_state(c);
			if (revived)
				stop = idle(c, c->poll_ms);
			continue;
		}
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
	if (!c->shutdown_done)
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
	c->reserve = opts->reserve;
	c->reserve_ctx = opts->reserve_ctx;
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

/* set a request flag of the collector thread and wake it */
static void request(struct coll *c, volatile bool *flag)
{
	pthread_mutex_lock(&c->lock);
	*flag = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void coll_reconnect(struct coll *c)
{
	if (c)
		request(c, &c->reconnect_req);
}

void coll_shutdown(struct coll *c)
{
	if (c)
		request(c, &c->shutdown_req);
}

void coll_stop(struct coll *c, int max_ms)
{
	struct timespec ts;

	if (!c || !c->thread_running)
		return;
	pthread_mutex_lock(&c->lock);
	c->end_host_tsc = coll_host_tsc();
	/* what runs now and the last collect: within COLL_FLUSH_MS, and well before max_ms */
	atomic_store(&c->deadline, coll_now_ms() + (max_ms > 2 * COLL_FLUSH_MS ? COLL_FLUSH_MS
									      : max_ms / 2));
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	abs_time(&ts, max_ms > 0 ? (unsigned)max_ms : 0);
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
	vt_log(LOG_WARNING, "domain %s: guest agent: collector stuck after %d ms: abandoned",
	       c->domain, max_ms);
}

void coll_free(struct coll *c)
{
	if (!c)
		return;
	if (c->abandoned)
		return;	/* the stuck thread still uses it */
	coll_conn_close(&c->cc);
	for (unsigned i = 0; i < c->nerrors; i++)
		free(c->errors[i]);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->agent);
	free(c->agent_binary);
	free(c->events);
	free(c->domain);
	free(c->spool);
	free(c);
}
