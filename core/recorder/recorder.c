// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The recorder daemon ('virt-trace record'): one per traced domain; spools both
 * instances, answers the control socket, finalizes the run on stop, SIGTERM or QEMU's
 * exit, with the reason of every fault it saw (disk full, QEMU died, instance gone).
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <json.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <tracefs.h>
#include <unistd.h>

#include "cleanup.h"
#include "collector.h"
#include "finalize.h"
#include "recorder.h"
#include "util.h"
#include "vt/config.h"
#include "vt/control.h"
#include "vt/instances.h"
#include "vt/log.h"
#include "vt/manifest.h"
#include "vt/runstore.h"
#include "vt/sandbox.h"
#include "vt/tracefs-meta.h"

struct recorder {
	const char *domain;
	struct vt_run run;
	struct tracefs_instance *main, *tsc;
	struct rec_spool *spool;
	int listen_fd, sig_fd;
	int qemu_pid;		/* 0 until 'started' */
	bool stopping;
	char stop_reason[768];	/* non-empty: finalize incomplete, with these words */
	char note[256];		/* kept as the reason of a complete run */
	bool quota_warned, disk_warned, reconnected;
	uint64_t quota;
	struct coll *coll;	/* the guest collector, after 'started' */
};

static int manifest_edit(const struct vt_run *run,
			 int (*fn)(struct json_object *root, void *ctx), void *ctx,
			 struct vt_errbuf *eb)
{
	struct json_object *root = NULL;
	int r = vt_manifest_read(run->dir, &root, eb);

	if (r < 0)
		return r;
	r = fn(root, ctx);
	if (!r)
		r = vt_manifest_write(run->dir, root, eb);
	json_object_put(root);
	return r;
}

/* one more reason the run is incomplete ("; " between reasons) */
__attribute__((format(printf, 2, 3))) static void add_reason(struct recorder *rec,
							      const char *fmt, ...)
{
	size_t len = strlen(rec->stop_reason);
	va_list ap;

	if (len && len + 2 < sizeof(rec->stop_reason)) {
		memcpy(rec->stop_reason + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(rec->stop_reason + len, sizeof(rec->stop_reason) - len, fmt, ap);
	va_end(ap);
}

static int reason_edit(struct json_object *root, void *ctx)
{
	return json_object_object_add(root, "state_reason",
				      json_object_new_string((const char *)ctx)) < 0 ? -ENOMEM : 0;
}

/*
 * The reasons so far into the manifest while it still says recording: if the recorder
 * dies later, 'virt-trace recover' keeps them.
 */
static void save_reason(struct recorder *rec)
{
	struct vt_errbuf eb;

	manifest_edit(&rec->run, reason_edit, rec->stop_reason, &eb);
}

static void load_config(const char *domain, uint64_t *quota)
{
	struct vt_errbuf eb = { "" };

	struct vt_config cfg = { 0 };

	/* a bad file leaves the defaults in cfg */
	if (vt_config_load(NULL, &cfg, &eb) < 0)
		vt_log(LOG_WARNING, "domain %s: config: %s (defaults used)", domain, eb.msg);
	*quota = cfg.spool_quota_mb ? cfg.spool_quota_mb << 20 : 4096ull << 20;
	vt_config_fini(&cfg);
}

/* how long the recorder waits for the hook's instance worker */
#define SETUP_WAIT_MS 30000

static int open_instances(struct recorder *rec, struct vt_errbuf *eb)
{
	_cleanup_close_ int lock = -1;
	char name[300], tsc[300];
	int r;

	r = vt_instance_name(rec->domain, false, name, sizeof(name));
	if (!r)
		r = vt_instance_name(rec->domain, true, tsc, sizeof(tsc));
	if (r < 0)
		return vtc_errf(eb, r, "bad domain name for an instance");
	/* the hook's worker may still be setting the main instance up: it holds .setup */
	lock = vt_instances_lock(rec->domain, false, SETUP_WAIT_MS);
	if (lock == -ETIMEDOUT)
		vt_log(LOG_WARNING, "domain %s: the instance worker is still busy after %d ms",
		       rec->domain, SETUP_WAIT_MS);
	if (!tracefs_instance_exists(name) || !tracefs_instance_exists(tsc))
		return vtc_errf(eb, ENOENT, "instances %s / %s do not exist (the hook creates "
				"them at 'start begin')", name, tsc);
	rec->main = tracefs_instance_alloc(NULL, name);
	rec->tsc = tracefs_instance_alloc(NULL, tsc);
	if (!rec->main || !rec->tsc)
		return vtc_errf(eb, ENOMEM, "cannot open the instances");
	return 0;
}

static int save_meta(struct recorder *rec, struct vt_errbuf *eb)
{
	struct vt_tracefs_meta *meta = NULL;
	const char *insts[2] = { tracefs_instance_get_name(rec->main),
				 tracefs_instance_get_name(rec->tsc) };
	const char *extra[] = { "kvm:kvm_write_tsc_offset" };
	char dir[PATH_MAX];
	int r;

	if (snprintf(dir, sizeof(dir), "%s/spool/meta", rec->run.dir) >= (int)sizeof(dir))
		return vtc_err(ENAMETOOLONG);
	r = vt_tracefs_meta_read(insts, 2, extra, 1, &meta, eb);
	if (r < 0)
		return r;
	r = vt_tracefs_meta_save(meta, dir, eb);
	vt_tracefs_meta_free(meta);
	return r;
}

static uint64_t dir_total;

static int add_size(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F)
		dir_total += (uint64_t)sb->st_size;
	return 0;
}

/*
 * What the archive needs besides the pages: host.dat repeats spool/meta (kallsyms is
 * most of it), the manifest and the guest files need some more.
 */
static void set_reserve(struct recorder *rec)
{
	char dir[PATH_MAX];

	dir_total = 0;
	if (snprintf(dir, sizeof(dir), "%s/spool/meta", rec->run.dir) < (int)sizeof(dir))
		nftw(dir, add_size, 8, FTW_PHYS);
	rec_spool_set_reserve(rec->spool, 2 * dir_total + REC_ARCHIVE_SLACK);
}

static void save_tgids(struct recorder *rec)
{
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX];
	size_t len;

	if (vtc_read_file("/sys/kernel/tracing/saved_tgids", &text, &len) < 0)
		return;
	if (snprintf(path, sizeof(path), "%s/spool/meta/saved_tgids", rec->run.dir) <
	    (int)sizeof(path))
		vtc_write_file_atomic(path, text, len);
}

/* the guest half: a collector thread reaching the agent through qemu-ga */
static void start_collector(struct recorder *rec)
{
	struct vt_errbuf eb = { "" };
	char spool[PATH_MAX];
	struct coll_opts o = { .domain = rec->domain, .spool = spool, .push = true,
			       .reserve = rec_spool_reserve, .reserve_ctx = rec->spool };

	if (rec->coll || getenv("VT_NO_COLLECTOR"))
		return;
	if (snprintf(spool, sizeof(spool), "%s/spool", rec->run.dir) >= (int)sizeof(spool))
		return;
	if (coll_start(&o, &rec->coll, &eb) < 0)
		vt_log(LOG_WARNING, "domain %s: no guest collector: %s", rec->domain, eb.msg);
}

struct started_ctx {
	struct recorder *rec;
	int pid;
	struct vt_errbuf *eb;
};

static int started_edit(struct json_object *root, void *ctx)
{
	struct started_ctx *c = ctx;

	return rec_qemu_started(c->rec->domain, c->pid, c->rec->main, root, c->eb);
}

static int on_started(struct recorder *rec, int pid, struct vt_errbuf *eb)
{
	struct started_ctx c = { rec, pid, eb };
	int r;

	if (rec->qemu_pid)
		return vtc_errf(eb, EALREADY, "already started with pid %d", rec->qemu_pid);
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return vtc_errf(eb, ESRCH, "no process %d", pid);
	r = manifest_edit(&rec->run, started_edit, &c, eb);
	if (r < 0)
		return r;
	rec->qemu_pid = pid;
	save_tgids(rec);
	start_collector(rec);
	vt_log(LOG_INFO, "domain %s: QEMU pid %d started, host instance narrowed to its threads",
	       rec->domain, pid);
	return 0;
}

struct warn_ctx {
	const char *text;
};

static int warn_edit(struct json_object *root, void *ctx)
{
	return vt_manifest_add_warning(root, "%s", ((struct warn_ctx *)ctx)->text);
}

/* the hook's 'reconnect begin': libvirtd restarted while this recorder went on */
static void on_reconnect(struct recorder *rec)
{
	char when[32], text[200];
	struct warn_ctx c = { text };
	struct vt_errbuf eb;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(text, sizeof(text), "libvirtd restarted (reconnect at %s); the recorder went "
		 "on, the host trace has no gap", when);
	manifest_edit(&rec->run, warn_edit, &c, &eb);
	if (!rec->note[0])
		snprintf(rec->note, sizeof(rec->note), "%s", text);
	vt_log(LOG_NOTICE, "domain %s: %s", rec->domain, text);
	coll_reconnect(rec->coll);	/* its libvirt connection died with the old libvirtd */
}

/* one request line per connection, one reply line */
static void serve(struct recorder *rec)
{
	_cleanup_close_ int fd = accept4(rec->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	char req[256], reply[VT_ERRBUF_LEN + PATH_MAX + 64];
	struct vt_errbuf eb = { "" };
	size_t got = 0;

	if (fd < 0)
		return;
	while (got < sizeof(req) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0)
			break;
		n = read(fd, req + got, sizeof(req) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(req, '\n', got))
			break;
	}
	req[got] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	if (!strncmp(req, "started ", 8)) {
		uint64_t pid;

		if (vtc_parse_u64(req + 8, &pid) < 0 || !pid || pid > INT32_MAX)
			snprintf(reply, sizeof(reply), "error bad pid '%.32s'", req + 8);
		else if (on_started(rec, (int)pid, &eb) < 0)
			snprintf(reply, sizeof(reply), "error %s", eb.msg);
		else
			snprintf(reply, sizeof(reply), "ok");
	} else if (!strcmp(req, "stop")) {
		rec->stopping = true;
		if (!rec->qemu_pid)
			add_reason(rec, "QEMU never started (no 'started' message)");
		snprintf(reply, sizeof(reply), "ok finalizing %s", rec->run.dir);
	} else if (!strcmp(req, "shutdown")) {
		/* flush the guest, then a clean shutdown; finalized when QEMU exits */
		if (!rec->qemu_pid) {
			snprintf(reply, sizeof(reply), "error QEMU has not started");
		} else if (rec->coll) {
			coll_shutdown(rec->coll);
			snprintf(reply, sizeof(reply), "ok shutting down %s", rec->run.dir);
		} else if (coll_shutdown_domain(rec->domain, &eb) < 0) {
			snprintf(reply, sizeof(reply), "error %s", eb.msg);
		} else {
			snprintf(reply, sizeof(reply), "ok shutting down %s", rec->run.dir);
		}
	} else if (!strcmp(req, "status")) {
		snprintf(reply, sizeof(reply), "ok %s %s", rec->stopping ? "finalizing" : "recording",
			 rec->run.dir);
	} else if (!strcmp(req, "ping")) {
		snprintf(reply, sizeof(reply), "ok");
	} else if (!strcmp(req, "reconnect")) {
		rec->reconnected = true;	/* noted at the next tick: the hook waits 3 ms */
		snprintf(reply, sizeof(reply), "ok recording %s", rec->run.dir);
	} else {
		snprintf(reply, sizeof(reply), "error unknown request '%.64s'", req);
	}
	strcat(reply, "\n");
	vtc_write_all(fd, reply, strlen(reply));
	vt_log(LOG_DEBUG, "domain %s: control '%s' -> %s", rec->domain, req, reply);
}

/* requests the hook left while no recorder listened (see vt_control_post) */
static void take_posts(struct recorder *rec)
{
	char arg[64];
	uint64_t pid;
	struct vt_errbuf eb = { "" };

	if (!rec->qemu_pid && vt_control_take(rec->domain, "started", arg, sizeof(arg)) > 0) {
		if (vtc_parse_u64(arg, &pid) == 0 && pid && pid <= INT32_MAX &&
		    on_started(rec, (int)pid, &eb) < 0)
			vt_log(LOG_WARNING, "domain %s: QEMU pid %s: %s", rec->domain, arg, eb.msg);
	}
	if (vt_control_take(rec->domain, "stop", arg, sizeof(arg)) > 0) {
		rec->stopping = true;
		if (!rec->qemu_pid)
			add_reason(rec, "QEMU never started (no 'started' message)");
	}
}

/* the first pages dropped for want of disk space: say so now, in case we die later */
static void check_disk(struct recorder *rec, const struct rec_spool_stats *st)
{
	char text[PATH_MAX + 200];
	struct warn_ctx c = { text };
	struct vt_errbuf eb;

	if (!st->disk_full || rec->disk_warned)
		return;
	rec->disk_warned = true;
	snprintf(text, sizeof(text), "host disk full (no space left on device for %s/spool and "
		 "the archive): host pages dropped from here on", rec->run.dir);
	manifest_edit(&rec->run, warn_edit, &c, &eb);
	add_reason(rec, "host disk full (no space left on device): host pages dropped");
	save_reason(rec);
	vt_log(LOG_WARNING, "domain %s: %s", rec->domain, text);
}

/* an instance removed under us (kernels refuse while trace_pipe_raw is open) */
static void check_instances(struct recorder *rec)
{
	const char *name = NULL;

	if (!tracefs_instance_exists(tracefs_instance_get_name(rec->main)))
		name = tracefs_instance_get_name(rec->main);
	else if (!tracefs_instance_exists(tracefs_instance_get_name(rec->tsc)))
		name = tracefs_instance_get_name(rec->tsc);
	if (!name)
		return;
	add_reason(rec, "tracefs instance %s was removed under the recorder", name);
	save_reason(rec);
	vt_log(LOG_ERR, "domain %s: tracefs instance %s is gone: finalizing", rec->domain, name);
	rec->stopping = true;
}

static void tick(struct recorder *rec)
{
	struct rec_spool_stats st;

	take_posts(rec);
	if (rec->reconnected) {
		rec->reconnected = false;
		on_reconnect(rec);
	}

	rec_spool_check_space(rec->spool);
	rec_spool_get_stats(rec->spool, &st);
	check_disk(rec, &st);
	check_instances(rec);
	if (st.over_quota && !rec->quota_warned) {
		char text[160];
		struct warn_ctx c = { text };
		struct vt_errbuf eb;

		snprintf(text, sizeof(text), "spool quota of %" PRIu64 " MiB reached: host events "
			 "after it are dropped", rec->quota >> 20);
		manifest_edit(&rec->run, warn_edit, &c, &eb);
		vt_log(LOG_WARNING, "domain %s: %s", rec->domain, text);
		rec->quota_warned = true;
	}
	if (rec->qemu_pid && kill(rec->qemu_pid, 0) < 0 && errno == ESRCH) {
		vt_log(LOG_INFO, "domain %s: QEMU pid %d is gone: finalizing", rec->domain,
		       rec->qemu_pid);
		rec->stopping = true;
	}
}

struct stats_ctx {
	struct rec_spool_stats st;
	uint64_t quota;
};

static int stats_edit(struct json_object *root, void *ctx)
{
	struct stats_ctx *c = ctx;
	struct json_object *rec;

	if (!json_object_object_get_ex(root, "recorder", &rec)) {
		rec = json_object_new_object();
		json_object_object_add(root, "recorder", rec);
	}
	json_object_object_add(rec, "spool_bytes", json_object_new_uint64(c->st.written));
	json_object_object_add(rec, "spool_guest_bytes", json_object_new_uint64(c->st.guest));
	json_object_object_add(rec, "spool_quota_bytes", json_object_new_uint64(c->quota));
	json_object_object_add(rec, "dropped_bytes", json_object_new_uint64(c->st.lost));
	json_object_object_add(rec, "disk_full_dropped_bytes",
			       json_object_new_uint64(c->st.disk_lost));
	if (c->st.lost > c->st.disk_lost)
		vt_manifest_add_warning(root, "spool quota: %" PRIu64 " bytes of host pages dropped",
					c->st.lost - c->st.disk_lost);
	if (c->st.disk_lost)
		vt_manifest_add_warning(root, "host disk full: %" PRIu64 " bytes of host pages "
					      "dropped", c->st.disk_lost);
	if (c->st.err)
		vt_manifest_add_warning(root, "spool: a reader failed: %s", strerror(-c->st.err));
	return 0;
}

/* QEMU is gone: if libvirt says it died (killed, crashed), the run is incomplete */
static void qemu_end(struct recorder *rec)
{
	char why[256] = "";
	int r = rec_qemu_exit_reason(rec->domain, rec->qemu_pid, why, sizeof(why));

	if (r > 0) {
		add_reason(rec, "%s", why);
		vt_log(LOG_WARNING, "domain %s: %s", rec->domain, why);
	} else if (r < 0) {
		char text[320];
		struct warn_ctx c = { text };
		struct vt_errbuf eb;

		snprintf(text, sizeof(text), "QEMU pid %d ended; why is unknown (%s)",
			 rec->qemu_pid, why);
		manifest_edit(&rec->run, warn_edit, &c, &eb);
	}
}

/*
 * Earlier runs of this domain left recording by a recorder that died (libvirtd's
 * 'reconnect' started this one instead): finalize them as incomplete now. We hold the
 * domain lock, so nobody else can; what the ring buffers hold is ours.
 */
static void recover_earlier(struct recorder *rec)
{
	char **ids = NULL;
	size_t n = 0;

	if (vt_run_list(rec->domain, &ids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct vt_errbuf eb = { "" };
		char why[VT_ERRBUF_LEN + 64];
		enum vt_run_state st;
		struct vt_run run;

		if (strcmp(ids[i], rec->run.id) && vt_run_open(rec->domain, ids[i], &run, &eb) == 0 &&
		    vt_run_get_state(&run, &st, &eb) == 0 &&
		    (st == VT_RUN_RECORDING || st == VT_RUN_FINALIZING)) {
			rec_recover_reason(&run, why, sizeof(why));
			run.lock_fd = rec->run.lock_fd;	/* borrowed: no drain */
			if (rec_finalize(&run, false, why, &eb) < 0)
				vt_log(LOG_ERR, "domain %s: run %s: recover failed: %s",
				       rec->domain, run.id, eb.msg);
			else
				vt_log(LOG_NOTICE, "domain %s: run %s: recovered as incomplete (%s)",
				       rec->domain, run.id, why);
			snprintf(rec->note, sizeof(rec->note), "recording restarted: the recorder "
				 "of run %s had died, that run is finalized as incomplete", run.id);
		}
		free(ids[i]);
	}
	free(ids);
}

static void ready(void)
{
	const char *s = getenv("VT_READY_FD");
	uint64_t fd;

	if (!s || vtc_parse_u64(s, &fd) < 0 || fd > INT32_MAX)
		return;
	(void)!write((int)fd, "r", 1);
	close((int)fd);
	unsetenv("VT_READY_FD");
}

static int privileges_edit(struct json_object *root, void *ctx)
{
	struct json_object *rec, *p = vt_sandbox_info_json(ctx);

	if (!p)
		return -ENOMEM;
	if (!json_object_object_get_ex(root, "recorder", &rec)) {
		rec = json_object_new_object();
		json_object_object_add(root, "recorder", rec);
	}
	json_object_object_add(rec, "privileges", p);
	return 0;
}

/*
 * After the privileged setup, before any thread exists (capabilities are per thread):
 * no_new_privs, and of the capabilities only CAP_CHOWN (group libvirt on the run's
 * files), CAP_SETPCAP (so that the guest step can empty its bounding set) and, where
 * the kernel has no Landlock, CAP_SYS_ADMIN (the guest step's mount namespace).
 * tracefs, debugfs, the store and libvirt's socket are root's by owner: uid 0 is enough.
 */
static void drop_privileges(struct recorder *rec)
{
	uint64_t keep = 1ull << CAP_CHOWN | 1ull << CAP_SETPCAP;
	struct vt_sandbox_info info;
	struct vt_errbuf eb = { "" };

	if (!vt_sandbox_landlock_abi())
		keep |= 1ull << CAP_SYS_ADMIN;
	if (vt_sandbox_drop_privileges(keep, &info, &eb) < 0) {
		vt_log(LOG_WARNING, "domain %s: recorder keeps its privileges: %s", rec->domain,
		       eb.msg);
		return;
	}
	if (manifest_edit(&rec->run, privileges_edit, &info, &eb) < 0)
		vt_log(LOG_WARNING, "domain %s: manifest: %s", rec->domain, eb.msg);
}

static int setup(struct recorder *rec, const struct rec_args *args, struct vt_errbuf *eb)
{
	sigset_t mask;
	int r;

	if (args->lock_fd >= 0)
		r = vt_run_create_locked(rec->domain, args->uuid, args->lock_fd, &rec->run, eb);
	else
		r = vt_run_create(rec->domain, args->uuid, &rec->run, eb);
	if (r < 0)
		return r;
	vt_log(LOG_INFO, "domain %s: recording run %s", rec->domain, rec->run.id);
	r = open_instances(rec, eb);
	if (r < 0)
		return r;
	drop_privileges(rec);
	/* the readers first: the ring buffers already hold the vCPU creation writes */
	{
		char spool[PATH_MAX];

		if (snprintf(spool, sizeof(spool), "%s/spool", rec->run.dir) >= (int)sizeof(spool))
			return vtc_err(ENAMETOOLONG);
		r = rec_spool_start(spool, rec->main, rec->tsc, rec->quota, &rec->spool, eb);
		if (r < 0)
			return r;
	}
	r = save_meta(rec, eb);
	if (r < 0)
		return r;
	set_reserve(rec);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	rec->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (rec->sig_fd < 0)
		return vtc_errf(eb, errno, "signalfd: %s", strerror(errno));
	rec->listen_fd = vt_control_listen(rec->domain);
	if (rec->listen_fd < 0)
		return vtc_errf(eb, rec->listen_fd, "control socket: %s",
				strerror(-rec->listen_fd));
	if (args->pid > 0) {
		r = on_started(rec, args->pid, eb);
		if (r < 0)
			return r;
	}
	return 0;
}

static void loop(struct recorder *rec)
{
	while (!rec->stopping) {
		struct pollfd p[2] = { { .fd = rec->listen_fd, .events = POLLIN },
				       { .fd = rec->sig_fd, .events = POLLIN } };
		int n = poll(p, 2, 1000);

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(rec->sig_fd, &si, sizeof(si)) == sizeof(si) &&
			    si.ssi_signo != SIGHUP) {
				vt_log(LOG_INFO, "domain %s: signal %u: finalizing", rec->domain,
				       si.ssi_signo);
				rec->stopping = true;
				if (!rec->qemu_pid)
					add_reason(rec, "stopped by a signal before QEMU started");
			}
		}
		if (n > 0 && (p[0].revents & POLLIN))
			serve(rec);
		tick(rec);
	}
}

static void teardown(struct recorder *rec)
{
	char path[PATH_MAX];

	if (rec->listen_fd >= 0) {
		close(rec->listen_fd);
		if (vt_control_path(rec->domain, path, sizeof(path)) == 0)
			unlink(path);
	}
	if (rec->sig_fd >= 0)
		close(rec->sig_fd);
	rec_spool_free(rec->spool);
	rec->spool = NULL;
	tracefs_instance_free(rec->main);
	tracefs_instance_free(rec->tsc);
	rec->main = rec->tsc = NULL;
}

int rec_main(const struct rec_args *args)
{
	struct recorder rec = { .domain = args->domain, .listen_fd = -1, .sig_fd = -1,
				.run = { .lock_fd = -1 } };
	struct vt_errbuf eb = { "" };
	struct stats_ctx sc;
	struct timespec t0, t1;
	sigset_t mask;
	int r;

	vt_log_open("virt-trace-record", "recorder.log", "VT_RECORDER_LOG");
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* blocked in every thread: the spool threads inherit the mask */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	load_config(rec.domain, &rec.quota);
	r = setup(&rec, args, &eb);
	if (r < 0) {
		vt_log(LOG_ERR, "domain %s: recorder: %s", rec.domain, eb.msg);
		fprintf(stderr, "virt-trace record: domain %s: %s\n", rec.domain, eb.msg);
		if (rec.spool)
			rec_spool_stop(rec.spool);
		if (rec.run.lock_fd >= 0) {
			struct vt_errbuf feb = { "" };
			char why[VT_ERRBUF_LEN + 32];

			snprintf(why, sizeof(why), "recorder failed to start: %s", eb.msg);
			teardown(&rec);
			if (rec_finalize(&rec.run, false, why, &feb) < 0)
				vt_run_set_state(&rec.run, VT_RUN_FAILED, why, &feb);
			vt_run_close(&rec.run);
		}
		teardown(&rec);
		ready();
		return EXIT_FAILURE;
	}
	ready();
	recover_earlier(&rec);
	loop(&rec);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	qemu_end(&rec);
	/* the guest's last chunk while the host still records */
	coll_stop(rec.coll, COLL_STOP_MAX_MS);
	coll_free(rec.coll);
	rec.coll = NULL;
	vt_run_set_state(&rec.run, VT_RUN_FINALIZING, NULL, &eb);
	tracefs_trace_off(rec.main);
	tracefs_trace_off(rec.tsc);
	rec_spool_stop(rec.spool);
	rec_spool_get_stats(rec.spool, &sc.st);
	sc.quota = rec.quota;
	check_disk(&rec, &sc.st);	/* the last drain may have met a full disk */
	/* the ring buffers' own lost-event counts, before the instances go */
	{
		char spool[PATH_MAX];

		if (snprintf(spool, sizeof(spool), "%s/spool", rec.run.dir) < (int)sizeof(spool))
			rec_ring_stats_save(rec.domain, spool, true);
	}
	save_tgids(&rec);
	manifest_edit(&rec.run, stats_edit, &sc, &eb);
	teardown(&rec);
	r = rec_finalize(&rec.run, !rec.stop_reason[0],
			 rec.stop_reason[0] ? rec.stop_reason : rec.note[0] ? rec.note : NULL, &eb);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r < 0)
		vt_log(LOG_ERR, "domain %s: run %s: finalize failed: %s", rec.domain, rec.run.id,
		       eb.msg);
	else
		vt_log(LOG_INFO, "domain %s: run %s %s in %.3f s (%" PRIu64 " spool bytes)",
		       rec.domain, rec.run.id, rec.stop_reason[0] ? "incomplete" : "complete",
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		       sc.st.written);
	if (vt_instances_destroy(rec.domain, &eb) < 0)
		vt_log(LOG_WARNING, "domain %s: %s", rec.domain, eb.msg);
	vt_run_close(&rec.run);
	vt_log_close();
	return r < 0 ? EXIT_FAILURE : 0;
}
