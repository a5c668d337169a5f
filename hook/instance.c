// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The hook's side of the domain's tracefs instances: prepared by a detached worker at
 * 'prepare begin' (-tsc first), taken at 'start begin' as soon as the -tsc one traces
 * (or created then: the -tsc one at once, the main one in a worker), leftovers removed
 * at 'release end'; libvtcore's vt_instances_* do the tracefs work.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <tracefs.h>
#include <unistd.h>

#include "cleanup.h"
#include "hook.h"
#include "util.h"
#include "vt/instances.h"
#include "vt/runstore.h"

/* a stamp older than this is not from this start's 'prepare begin' */
#define PREPARED_MAX_AGE_S 120

/* <rundir>/<escaped domain><suffix> */
static int side_path(const char *domain, const char *suffix, char *out, size_t len)
{
	char esc[256];
	int r = vt_store_escape(domain, esc, sizeof(esc));

	if (r < 0)
		return r;
	if ((size_t)snprintf(out, len, "%s/%s%s", vt_store_rundir(), esc, suffix) >= len)
		return vtc_err(ENAMETOOLONG);
	return 0;
}

/* the domain's setup lock (@tsc_part: of its -tsc instance); see vt_instances_lock */
static int setup_lock(const char *domain, bool tsc_part, bool wait)
{
	return vt_instances_lock(domain, tsc_part, wait ? -1 : 0);
}

/*
 * The stamps a worker leaves in the run dir: STAMP_TSC when the -tsc instance traces,
 * STAMP_BOTH when the main one does too.
 */
#define STAMP_TSC ".tsc-prepared"
#define STAMP_BOTH ".prepared"

static void stamp_remove(const char *domain, const char *stamp)
{
	char path[4096];

	if (side_path(domain, stamp, path, sizeof(path)) == 0)
		(void)unlink(path);
}

static void stamps_remove(const char *domain)
{
	stamp_remove(domain, STAMP_TSC);
	stamp_remove(domain, STAMP_BOTH);
}

static void stamp_write(const char *domain, const char *stamp)
{
	_cleanup_close_ int fd = -1;
	char path[4096];

	if (side_path(domain, stamp, path, sizeof(path)) < 0)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
}

static bool stamp_fresh(const char *domain, const char *stamp)
{
	struct stat st;
	char path[4096];
	time_t now = time(NULL);

	return side_path(domain, stamp, path, sizeof(path)) == 0 && stat(path, &st) == 0 &&
	       st.st_mtime <= now && now - st.st_mtime <= PREPARED_MAX_AGE_S;
}

static bool tsc_exists(const struct hook_ctx *ctx);

bool hook_instances_exist(const struct hook_ctx *ctx)
{
	return vt_instances_exist(ctx->name) || tsc_exists(ctx);
}

static bool tsc_exists(const struct hook_ctx *ctx)
{
	char tsc[300];

	return vt_instance_name(ctx->name, true, tsc, sizeof(tsc)) == 0 &&
	       tracefs_instance_exists(tsc);
}

/* both instances are there */
static bool instances_complete(const struct hook_ctx *ctx)
{
	return vt_instances_exist(ctx->name) && tsc_exists(ctx);
}

static void log_busy(const struct hook_ctx *ctx)
{
	hook_log(ctx->name, LOG_ERR,
		 "a recorder of the previous run still holds the domain; not tracing this run");
}

/* the -tsc instance with @ctx->cfg; logs a failure */
static int create_tsc(struct hook_ctx *ctx)
{
	struct vt_errbuf eb = {""};
	int r = vt_instances_create_tsc(ctx->name, ctx->cfg.tsc_buffer_kb, &eb);

	if (r == -EBUSY)
		log_busy(ctx);
	else if (r < 0)
		hook_log(ctx->name, LOG_ERR, "cannot switch host tracing on: %s",
			 eb.msg[0] ? eb.msg : strerror(-r));
	return r;
}

/* the main instance with @ctx->cfg, one log line for the outcome (@when: how) */
static int create_main(struct hook_ctx *ctx, const char *when)
{
	struct vt_errbuf eb = {""};
	char name[300];
	int r;

	r = vt_instances_create_main(ctx->name, ctx->cfg.host_events, ctx->cfg.host_buffer_kb,
				     &eb);
	if (r < 0) {
		hook_log(ctx->name, LOG_ERR, "cannot switch host tracing on: %s",
			 eb.msg[0] ? eb.msg : strerror(-r));
		return r;
	}
	if (r > 0)
		hook_log(ctx->name, LOG_WARNING, "%s (tracing the others)", eb.msg);
	if (vt_instance_name(ctx->name, false, name, sizeof(name)) < 0)
		name[0] = '\0';
	hook_log(
	    ctx->name, LOG_INFO,
	    "host tracing on%s: instances '%s' (%s, %u KiB/CPU) and '%s-tsc' (kvm:%s, %u KiB/CPU)",
	    when, name, ctx->cfg.host_events[0] ? ctx->cfg.host_events : "no events",
	    ctx->cfg.host_buffer_kb, name, VT_TSC_EVENT, ctx->cfg.tsc_buffer_kb);
	return 0;
}

/* both, -tsc first; the -tsc one is removed again when the main one fails */
static int create_both(struct hook_ctx *ctx, const char *when)
{
	struct vt_errbuf eb = {""};
	int r = create_tsc(ctx);

	if (r < 0)
		return r;
	r = create_main(ctx, when);
	if (r < 0)
		(void)vt_instances_destroy(ctx->name, &eb);
	return r;
}

/*
 * In a detached worker that holds @lock_fd (.setup): the main instance, then _exit.
 * A failure leaves the -tsc instance alone: the recorder, which waits for .setup, finds
 * no main instance and ends its run saying so; 'release end' removes the rest.
 */
static _Noreturn void main_worker(struct hook_ctx *ctx, const char *when)
{
	if (create_main(ctx, when) == 0)
		stamp_write(ctx->name, STAMP_BOTH);
	_exit(0);
}

int hook_instances_prepare(struct hook_ctx *ctx)
{
	int locks[2], r;

	if (vt_run_domain_locked(ctx->name)) {
		log_busy(ctx);
		return vtc_err(EBUSY);
	}
	/* a worker still busy (removing, say): 'start begin' creates them itself */
	locks[0] = setup_lock(ctx->name, false, false);
	if (locks[0] < 0)
		return 0;
	locks[1] = setup_lock(ctx->name, true, false);
	if (locks[1] < 0) {
		close(locks[0]);
		return 0;
	}
	stamps_remove(ctx->name);
	r = hook_detach_fork(locks, 2);
	if (r == 0) {
		/* detached worker: .tsc-setup until the -tsc instance traces, .setup to the end */
		bool tsc_ok = create_tsc(ctx) == 0;

		if (tsc_ok)
			stamp_write(ctx->name, STAMP_TSC);
		close(locks[1]);
		if (!tsc_ok)
			_exit(0);
		main_worker(ctx, " (prepared)");
	}
	close(locks[0]);
	close(locks[1]);
	if (r < 0)
		hook_log(ctx->name, LOG_WARNING,
			 "cannot detach the instance worker: %s; 'start begin' creates them",
			 strerror(-r));
	return 0;
}

/* strict: both instances exist when 'start begin' returns, or it fails */
static int setup_strict(struct hook_ctx *ctx)
{
	/* waits for a worker that is still creating them */
	_cleanup_close_ int lock = setup_lock(ctx->name, false, true);
	bool prepared = lock >= 0 && stamp_fresh(ctx->name, STAMP_BOTH);

	stamps_remove(ctx->name);
	if (prepared && instances_complete(ctx) && !vt_run_domain_locked(ctx->name))
		return 0;
	return create_both(ctx, "");
}

int hook_instances_setup(struct hook_ctx *ctx)
{
	_cleanup_close_ int lock = -1;
	int r;

	if (ctx->cfg.strict)
		return setup_strict(ctx);
	/*
	 * Only the -tsc instance must trace before QEMU creates its vCPUs. Wait for the
	 * prepare worker's -tsc part; it goes on with the main instance, which the
	 * recorder waits for (.setup).
	 */
	lock = setup_lock(ctx->name, true, true);
	if (lock >= 0 && stamp_fresh(ctx->name, STAMP_TSC) && tsc_exists(ctx) &&
	    !vt_run_domain_locked(ctx->name)) {
		stamp_remove(ctx->name, STAMP_TSC);
		return 0;
	}
	close(TAKE_FD(lock));
	/* no prepared -tsc instance: create it now, the main one in a worker */
	lock = setup_lock(ctx->name, false, true);
	stamps_remove(ctx->name);
	r = create_tsc(ctx);
	if (r < 0)
		return r;
	r = hook_detach_fork(&lock, lock >= 0 ? 1 : 0);
	if (r == 0)
		main_worker(ctx, "");
	if (r < 0) {
		struct vt_errbuf eb = {""};

		hook_log(ctx->name, LOG_WARNING, "cannot detach the instance worker: %s",
			 strerror(-r));
		r = create_main(ctx, "");
		if (r < 0)
			(void)vt_instances_destroy(ctx->name, &eb);
		return r;
	}
	return 0;
}

/* the latest run still says recording/finalizing while no recorder holds the domain */
static bool run_interrupted(const struct hook_ctx *ctx, char *run_id, size_t len)
{
	struct vt_errbuf eb = {""};
	enum vt_run_state st;
	struct vt_run run;

	if (vt_run_open(ctx->name, NULL, &run, &eb) < 0 || vt_run_get_state(&run, &st, &eb) < 0)
		return false;
	snprintf(run_id, len, "%s", run.id);
	return (st == VT_RUN_RECORDING || st == VT_RUN_FINALIZING) &&
	       !vt_run_domain_locked(ctx->name);
}

/* in the worker: `virt-trace recover DOMAIN`, which also drains the ring buffers */
static void recover_run(const struct hook_ctx *ctx, const char *run_id)
{
	char *argv[] = {(char *)hook_cli_path(), "recover", (char *)ctx->name, NULL};
	int status = 0;
	pid_t pid;

	hook_log(ctx->name, LOG_WARNING, "run %s: its recorder died; recovering it", run_id);
	pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		hook_log(ctx->name, LOG_ERR, "run %s: %s recover failed (status 0x%x)", run_id,
			 argv[0], (unsigned)status);
}

int hook_instances_remove(struct hook_ctx *ctx)
{
	struct vt_errbuf eb = {""};
	char run_id[32] = "";
	bool interrupted;
	int lock, r;

	/* the recorder removes them (and finalizes its run) itself */
	if (vt_run_domain_locked(ctx->name))
		return 0;
	interrupted = run_interrupted(ctx, run_id, sizeof(run_id));
	if (!interrupted && !hook_instances_exist(ctx)) {
		stamps_remove(ctx->name);
		return 0;
	}
	lock = setup_lock(ctx->name, false, true);
	r = hook_detach_fork(&lock, lock >= 0 ? 1 : 0);
	if (r == 0) {
		/* detached worker: recovery parses the spool, rmdir waits for RCU */
		stamps_remove(ctx->name);
		if (interrupted)
			recover_run(ctx, run_id);
		if (vt_run_domain_locked(ctx->name) || !hook_instances_exist(ctx))
			_exit(0);
		r = vt_instances_destroy(ctx->name, &eb);
		if (r < 0)
			hook_log(ctx->name, LOG_ERR,
				 "cannot remove the leftover tracefs instances: %s",
				 eb.msg[0] ? eb.msg : strerror(-r));
		else
			hook_log(ctx->name, LOG_INFO,
				 "removed the leftover tracefs instances (no recorder)");
		_exit(0);
	}
	if (lock >= 0)
		close(lock);
	if (r < 0) {
		hook_log(ctx->name, LOG_ERR, "cannot detach the instance remover: %s",
			 strerror(-r));
		return r;
	}
	return 0;
}
