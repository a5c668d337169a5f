// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The hook's op table: one handler per libvirt qemu hook call we act on (DESIGN.md §2)
 * and the exit status policy. Everything else is ignored quietly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <tracefs.h>
#include <unistd.h>

#include "cleanup.h"
#include "hook.h"
#include "util.h"
#include "vt/control.h"
#include "vt/instances.h"
#include "vt/runstore.h"

/* libvirt's virHookQemuOp names, in enum hook_op order */
static const char *const op_names[_HOOK_OP_MAX] = {
    [HOOK_OP_START] = "start",	       [HOOK_OP_STOPPED] = "stopped", [HOOK_OP_PREPARE] = "prepare",
    [HOOK_OP_RELEASE] = "release",     [HOOK_OP_MIGRATE] = "migrate", [HOOK_OP_STARTED] = "started",
    [HOOK_OP_RECONNECT] = "reconnect", [HOOK_OP_ATTACH] = "attach",   [HOOK_OP_RESTORE] = "restore",
};

enum hook_op hook_op_parse(const char *op)
{
	for (int i = 0; op && i < _HOOK_OP_MAX; i++)
		if (!strcmp(op, op_names[i]))
			return (enum hook_op)i;
	return HOOK_OP_UNKNOWN;
}

const char *hook_op_name(enum hook_op op)
{
	return op < _HOOK_OP_MAX ? op_names[op] : "unknown";
}

int hook_exit_status(enum hook_op op, const char *subop, bool strict, int r)
{
	if (r >= 0 || !strict || !subop || strcmp(subop, "begin"))
		return 0;
	return op == HOOK_OP_PREPARE || op == HOOK_OP_START ? 1 : 0;
}

/* ---- helpers ---- */

static const char *libvirt_rundir(void)
{
	const char *d = getenv("VT_LIBVIRT_RUNDIR");

	return d && *d ? d : VT_HOOK_LIBVIRT_RUNDIR;
}

/* QEMU's pid from <rundir>/<name>.pid: 0, -ENOENT, -EBADMSG */
static int read_qemu_pid(const char *name, pid_t *ret)
{
	_cleanup_free_ char *text = NULL;
	char path[4096];
	uint64_t pid;
	int r;

	if (strchr(name, '/'))
		return vtc_err(EINVAL);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.pid", libvirt_rundir(), name) >=
	    sizeof(path))
		return vtc_err(ENAMETOOLONG);
	r = vtc_read_file(path, &text, NULL);
	if (r < 0)
		return r;
	text[strcspn(text, " \t\r\n")] = '\0';
	r = vtc_parse_u64(text, &pid);
	if (r < 0 || pid < 2 || pid > INT32_MAX)
		return vtc_err(EBADMSG);
	*ret = (pid_t)pid;
	return 0;
}

static bool no_listener(int r)
{
	return r == -ENOENT || r == -ECONNREFUSED;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * @request to the recorder; while nobody listens yet (a recorder spawned at 'start
 * begin' may still be starting), retry every millisecond until @patience_ms.
 */
static int tell_recorder(const char *name, const char *request, char *reply, size_t len,
			 int patience_ms)
{
	int64_t give_up = now_ms() + patience_ms;
	int r;

	for (;;) {
		r = vt_control_send(name, request, reply, len, HOOK_CONTROL_TIMEOUT_MS);
		if (!no_listener(r) || now_ms() >= give_up)
			return r;
		usleep(1000);
	}
}

/* ---- handlers ---- */

/* tracing is possible for this domain; only strict configs make this fatal */
static int preflight(struct hook_ctx *ctx)
{
	const char *cli = hook_cli_path();

	if (!tracefs_tracing_dir()) {
		hook_log(ctx->name, LOG_ERR, "tracefs is not mounted; cannot trace");
		return vtc_err(ENOENT);
	}
	if (!tracefs_event_file_exists(NULL, VT_TSC_EVENT_SYSTEM, VT_TSC_EVENT, "format")) {
		hook_log(ctx->name, LOG_ERR,
			 "no event kvm:%s (is the kvm module loaded?); cannot trace", VT_TSC_EVENT);
		return vtc_err(ENOENT);
	}
	if (access(cli, X_OK) < 0) {
		int err = errno;

		hook_log(ctx->name, LOG_ERR, "recorder %s: %s; cannot trace", cli, strerror(err));
		return vtc_err(err);
	}
	return 0;
}

static int op_prepare(struct hook_ctx *ctx)
{
	int bad = hook_decide(ctx), r;

	if (bad == -ENOMEM)
		return bad;
	if (!ctx->traced) {
		hook_log(ctx->name, LOG_INFO, "not traced (config and metadata)");
		return 0;
	}
	hook_log(ctx->name, LOG_INFO, "traced: host events '%s', guest events '%s'%s",
		 ctx->cfg.host_events, ctx->cfg.guest_events, ctx->cfg.strict ? ", strict" : "");
	/* a strict domain fails here, before libvirt labels its resources */
	if (bad < 0 && ctx->cfg.strict)
		return bad;
	r = preflight(ctx);
	if (r < 0)
		return r;
	/* tracefs is slow to set up (RCU grace periods): begin now, 'start begin' waits */
	return hook_instances_prepare(ctx);
}

static int op_start(struct hook_ctx *ctx)
{
	struct vt_errbuf eb = {""};
	pid_t pid;
	int bad, r;

	bad = hook_decide(ctx);
	if (bad == -ENOMEM)
		return bad;
	if (!ctx->traced)
		return 0;
	if (bad < 0 && ctx->cfg.strict)
		return bad;
	if (access(hook_cli_path(), X_OK) < 0) {
		r = vtc_err(errno);
		hook_log(ctx->name, LOG_ERR, "recorder %s: %s; not tracing", hook_cli_path(),
			 strerror(-r));
		return r;
	}
	/* tracing on first, synchronously: vCPU creation writes the first TSC offsets */
	r = hook_instances_setup(ctx);
	if (r < 0)
		return r;
	r = hook_spawn_recorder(ctx, 0, &pid, &eb);
	/*
	 * Forked but not seen to exec in time (a loaded host: the storm saw 4 of 248 starts
	 * like this): it most likely runs a little later, and tracing is on, the ring
	 * buffers keep the events. Removing the instances now would leave it nothing to
	 * record; if it never runs, 'release end' removes them (no recorder holds them).
	 */
	if (r == -ETIMEDOUT) {
		if (pid > 0)
			hook_log(ctx->name, LOG_WARNING, "recorder pid %d started slowly: %s",
				 (int)pid, eb.msg);
		else
			hook_log(ctx->name, LOG_WARNING,
				 "recorder forked but not seen to start yet: %s; instances kept",
				 eb.msg);
		return 0;
	}
	if (r < 0) {
		hook_log(ctx->name, LOG_ERR, "cannot start the recorder: %s; host tracing off",
			 eb.msg);
		(void)hook_instances_remove(ctx);
		return r;
	}
	hook_log(ctx->name, LOG_INFO, "recorder started (pid %d)", (int)pid);
	return 0;
}

static int op_started(struct hook_ctx *ctx)
{
	char request[64], reply[256];
	pid_t pid;
	int r;

	if (!hook_instances_exist(ctx))
		return 0;
	r = read_qemu_pid(ctx->name, &pid);
	if (r < 0) {
		hook_log(ctx->name, LOG_ERR, "%s/%s.pid: cannot read QEMU's pid: %s",
			 libvirt_rundir(), ctx->name, strerror(-r));
		return r;
	}
	snprintf(request, sizeof(request), "started %d", (int)pid);
	r = tell_recorder(ctx->name, request, reply, sizeof(reply), 4);
	if (r == -ETIMEDOUT) {
		/* delivered; the recorder answers once it has mapped the threads */
		hook_log(ctx->name, LOG_INFO, "QEMU pid %d sent; no reply within %d ms", (int)pid,
			 HOOK_CONTROL_TIMEOUT_MS);
		return 0;
	}
	if (no_listener(r) && vt_control_post(ctx->name, "started", request + 8) == 0) {
		/* the recorder is still starting up: it takes the pid up when it runs */
		hook_log(ctx->name, LOG_INFO, "QEMU pid %d left for the recorder", (int)pid);
		return 0;
	}
	if (r < 0) {
		hook_log(ctx->name, LOG_ERR, "cannot tell the recorder QEMU's pid %d: %s%s%s",
			 (int)pid, no_listener(r) ? "no recorder listens" : strerror(-r),
			 reply[0] ? ": " : "", reply);
		return r;
	}
	hook_log(ctx->name, LOG_INFO, "QEMU pid %d handed to the recorder", (int)pid);
	return 0;
}

static int op_stopped(struct hook_ctx *ctx)
{
	char reply[256];
	int r;

	r = vt_control_send(ctx->name, "stop", reply, sizeof(reply), HOOK_CONTROL_TIMEOUT_MS);
	if (no_listener(r) && vt_run_domain_locked(ctx->name) &&
	    vt_control_post(ctx->name, "stop", "") == 0) {
		/* a recorder holds the run but does not listen yet: it stops when it does */
		hook_log(ctx->name, LOG_INFO, "stop left for the recorder, which is starting up");
		return 0;
	}
	if (no_listener(r)) {
		if (hook_instances_exist(ctx))
			hook_log(ctx->name, LOG_WARNING,
				 "no recorder to stop; the instances are removed at release");
		return 0;
	}
	if (r == -ETIMEDOUT) {
		hook_log(ctx->name, LOG_WARNING,
			 "stop sent; the recorder did not reply within %d ms",
			 HOOK_CONTROL_TIMEOUT_MS);
		return 0;
	}
	if (r < 0) {
		hook_log(ctx->name, LOG_ERR, "cannot stop the recorder: %s%s%s", strerror(-r),
			 reply[0] ? ": " : "", reply);
		return r;
	}
	hook_log(ctx->name, LOG_INFO, "recorder stopping; it finalizes the run in the background");
	return 0;
}

static int op_release(struct hook_ctx *ctx)
{
	return hook_instances_remove(ctx);
}

static int op_reconnect(struct hook_ctx *ctx)
{
	struct vt_errbuf eb = {""};
	char reply[256];
	pid_t pid, qemu_pid;
	int r;

	/* a live recorder notes the restart in its run and goes on */
	r = vt_control_send(ctx->name, "reconnect", reply, sizeof(reply), HOOK_CONTROL_TIMEOUT_MS);
	if (r == 0 || !hook_instances_exist(ctx))
		return 0;
	if (vt_run_domain_locked(ctx->name)) {
		hook_log(ctx->name, LOG_WARNING,
			 "the recorder holds the domain but does not answer (%s); left alone",
			 strerror(-r));
		return 0;
	}
	/* QEMU runs and no 'started' will come: the new recorder gets its pid now */
	if (read_qemu_pid(ctx->name, &qemu_pid) < 0)
		qemu_pid = 0;
	r = hook_spawn_recorder(ctx, qemu_pid, &pid, &eb);
	if (r < 0 && r != -ETIMEDOUT) {
		hook_log(ctx->name, LOG_ERR, "the recorder is gone and cannot be restarted: %s",
			 eb.msg);
		return r;
	}
	hook_log(ctx->name, LOG_WARNING, "the recorder was gone; restarted it (pid %d)", (int)pid);
	return 0;
}

struct hook_handler {
	enum hook_op op;
	const char *subop;
	int (*fn)(struct hook_ctx *ctx);
	bool needs_xml;
};

static const struct hook_handler handlers[] = {
    {HOOK_OP_PREPARE, "begin", op_prepare, true},
    {HOOK_OP_START, "begin", op_start, true},
    {HOOK_OP_STARTED, "begin", op_started, false},
    {HOOK_OP_STOPPED, "end", op_stopped, false},
    {HOOK_OP_RELEASE, "end", op_release, false},
    {HOOK_OP_RECONNECT, "begin", op_reconnect, false},
};

static const struct hook_handler *find_handler(enum hook_op op, const char *subop)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].op == op && subop && !strcmp(handlers[i].subop, subop))
			return &handlers[i];
	return NULL;
}

int hook_run(struct hook_ctx *ctx)
{
	enum hook_op op = hook_op_parse(ctx->op);
	const struct hook_handler *h = find_handler(op, ctx->subop);
	struct vt_errbuf eb = {""};
	int r;

	if (op == HOOK_OP_UNKNOWN) {
		hook_log(ctx->name, LOG_NOTICE, "unknown operation '%.32s %.32s'; ignored",
			 ctx->op ? ctx->op : "", ctx->subop ? ctx->subop : "");
		return 0;
	}
	if (!h)
		return 0; /* migrate, restore, attach, start end, ...: nothing to do */
	if (!ctx->name || !*ctx->name) {
		hook_log(ctx->name, LOG_ERR, "%s %s: empty domain name; ignored", ctx->op,
			 ctx->subop);
		return 0;
	}
	r = hook_domxml_parse(ctx->xml, ctx->xml_len, &ctx->dom, &eb);
	ctx->xml_ok = r == 0;
	if (r < 0 && h->needs_xml) {
		/* libvirt wrote it: not ours to fail the domain over, even when strict */
		hook_log(ctx->name, LOG_ERR, "%s %s: %s; not traced", ctx->op, ctx->subop, eb.msg);
		return 0;
	}
	if (ctx->xml_ok && strcmp(ctx->dom.name, ctx->name))
		hook_log(ctx->name, LOG_WARNING, "the domain XML names '%.64s'; using '%.64s'",
			 ctx->dom.name, ctx->name);
	ctx->handled = true;
	r = h->fn(ctx);
	if (op == HOOK_OP_RECONNECT)
		return 0;
	return hook_exit_status(op, ctx->subop, ctx->cfg.strict, r);
}

bool hook_domain_is_ours(const struct hook_ctx *ctx)
{
	return vt_run_domain_locked(ctx->name) || hook_instances_exist(ctx);
}

void hook_ctx_fini(struct hook_ctx *ctx)
{
	vt_config_fini(&ctx->cfg);
}
