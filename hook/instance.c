// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The hook's side of the domain's tracefs instances: prepared by a detached worker at
 * 'prepare begin', taken (or created) at 'start begin', leftovers removed at 'release
 * end'; libvtcore's vt_instances_* do the tracefs work.
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

/*
 * The domain's setup lock (<rundir>/<escaped>.setup): serializes the workers and the
 * hook calls that create or remove the instances. Return: the fd holding the lock,
 * -EWOULDBLOCK (@wait false and held elsewhere), -errno.
 */
static int setup_lock(const char *domain, bool wait)
{
	_cleanup_close_ int fd = -1;
	char path[4096];
	int r;

	r = side_path(domain, ".setup", path, sizeof(path));
	if (r < 0)
		return r;
	if (mkdir(vt_store_rundir(), 0750) < 0 && errno != EEXIST)
		return vtc_err(errno);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return vtc_err(errno);
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno != EINTR)
			return vtc_err(errno);
	}
	return TAKE_FD(fd);
}

static void stamp_remove(const char *domain)
{
	char path[4096];

	if (side_path(domain, ".prepared", path, sizeof(path)) == 0)
		(void)unlink(path);
}

static void stamp_write(const char *domain)
{
	_cleanup_close_ int fd = -1;
	char path[4096];

	if (side_path(domain, ".prepared", path, sizeof(path)) < 0)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
}

static bool stamp_fresh(const char *domain)
{
	struct stat st;
	char path[4096];
	time_t now = time(NULL);

	return side_path(domain, ".prepared", path, sizeof(path)) == 0 && stat(path, &st) == 0 &&
	       st.st_mtime <= now && now - st.st_mtime <= PREPARED_MAX_AGE_S;
}

bool hook_instances_exist(const struct hook_ctx *ctx)
{
	char tsc[300];

	if (vt_instances_exist(ctx->name))
		return true;
	return vt_instance_name(ctx->name, true, tsc, sizeof(tsc)) == 0 &&
	       tracefs_instance_exists(tsc);
}

/* both instances are there */
static bool instances_complete(const struct hook_ctx *ctx)
{
	char tsc[300];

	return vt_instances_exist(ctx->name) &&
	       vt_instance_name(ctx->name, true, tsc, sizeof(tsc)) == 0 &&
	       tracefs_instance_exists(tsc);
}

/* vt_instances_create with @ctx->cfg, one log line for the outcome */
static int create_now(struct hook_ctx *ctx, const char *when)
{
	struct vt_errbuf eb = {""};
	char name[300];
	int r;

	r = vt_instances_create(ctx->name, ctx->cfg.host_events, ctx->cfg.host_buffer_kb,
				ctx->cfg.tsc_buffer_kb, &eb);
	if (r == -EBUSY) {
		hook_log(
		    ctx->name, LOG_ERR,
		    "a recorder of the previous run still holds the domain; not tracing this run");
		return r;
	}
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

int hook_instances_prepare(struct hook_ctx *ctx)
{
	int lock, r;

	if (vt_run_domain_locked(ctx->name)) {
		hook_log(
		    ctx->name, LOG_ERR,
		    "a recorder of the previous run still holds the domain; not tracing this run");
		return vtc_err(EBUSY);
	}
	/* a worker still busy (removing, say): 'start begin' creates them itself */
	lock = setup_lock(ctx->name, false);
	if (lock < 0)
		return 0;
	stamp_remove(ctx->name);
	r = hook_detach_fork(&lock, 1);
	if (r == 0) {
		/* detached worker: the lock is held until it exits */
		if (create_now(ctx, " (prepared)") == 0)
			stamp_write(ctx->name);
		_exit(0);
	}
	close(lock);
	if (r < 0)
		hook_log(ctx->name, LOG_WARNING,
			 "cannot detach the instance worker: %s; 'start begin' creates them",
			 strerror(-r));
	return 0;
}

int hook_instances_setup(struct hook_ctx *ctx)
{
	/* waits for a worker that is still creating them */
	_cleanup_close_ int lock = setup_lock(ctx->name, true);
	bool prepared = lock >= 0 && stamp_fresh(ctx->name);

	stamp_remove(ctx->name);
	if (prepared && instances_complete(ctx) && !vt_run_domain_locked(ctx->name))
		return 0;
	return create_now(ctx, "");
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
		stamp_remove(ctx->name);
		return 0;
	}
	lock = setup_lock(ctx->name, true);
	r = hook_detach_fork(&lock, lock >= 0 ? 1 : 0);
	if (r == 0) {
		/* detached worker: recovery parses the spool, rmdir waits for RCU */
		stamp_remove(ctx->name);
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
