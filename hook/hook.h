/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virt-trace-hook internals: the per-call context, the op table, and the helpers of
 * domxml.c, instance.c, detach.c and log.c.
 */
#ifndef VT_HOOK_H
#define VT_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vt/common.h"
#include "vt/config.h"

#ifndef VT_HOOK_CLI
#define VT_HOOK_CLI "/usr/bin/virt-trace"
#endif
#define VT_HOOK_LIBVIRT_RUNDIR "/run/libvirt/qemu"

/* how long the hook waits for the detached recorder's exec */
#define HOOK_READY_TIMEOUT_MS 40
/* how long the hook waits for a recorder's reply on the control socket */
#define HOOK_CONTROL_TIMEOUT_MS 3

/* libvirt's qemu hook operations (virHookQemuOpType), then ours for anything else */
enum hook_op {
	HOOK_OP_START,
	HOOK_OP_STOPPED,
	HOOK_OP_PREPARE,
	HOOK_OP_RELEASE,
	HOOK_OP_MIGRATE,
	HOOK_OP_STARTED,
	HOOK_OP_RECONNECT,
	HOOK_OP_ATTACH,
	HOOK_OP_RESTORE,
	_HOOK_OP_MAX,
	HOOK_OP_UNKNOWN = _HOOK_OP_MAX,
};

/* what domxml.c takes from the domain XML */
struct hook_domain {
	char name[256];
	char uuid[64]; /* "" when absent */
	char type[32]; /* <domain type=...>: "kvm", "qemu", ... ("" when absent) */
};

struct hook_ctx {
	const char *name;  /* argv[1], the libvirt domain name */
	const char *op;	   /* argv[2] */
	const char *subop; /* argv[3] */
	const char *xml;   /* stdin, NUL-terminated; borrowed */
	size_t xml_len;
	struct hook_domain dom; /* valid when xml_ok */
	bool xml_ok;
	struct vt_config cfg; /* config file + metadata (defaults on error) */
	bool traced;	      /* decided by hook_decide() */
	bool handled;	      /* hook_run ran a handler */
};

/* ---- ops.c ---- */

enum hook_op hook_op_parse(const char *op);
const char *hook_op_name(enum hook_op op);
/*
 * hook_exit_status - the exit status policy: 0, except 1 for a failure (@r < 0) of
 * prepare or start when the config says strict.
 */
int hook_exit_status(enum hook_op op, const char *subop, bool strict, int r);
/*
 * hook_run - run the handler of @ctx->op/@ctx->subop; ops we do not handle (migrate,
 * restore, attach, ...) return 0 and do nothing. Return: the process exit status.
 */
int hook_run(struct hook_ctx *ctx);
/* whether @ctx's domain is virt-trace's now: a recorder holds it or instances exist */
bool hook_domain_is_ours(const struct hook_ctx *ctx);
/* free what hook_run left in @ctx */
void hook_ctx_fini(struct hook_ctx *ctx);

/* ---- domxml.c ---- */

/*
 * hook_domxml_parse - name, uuid and type of the domain XML @xml (@len bytes).
 * Return: 0, -EBADMSG (reason in @eb) for XML that is not well-formed or not a <domain>.
 */
int hook_domxml_parse(const char *xml, size_t len, struct hook_domain *ret, struct vt_errbuf *eb);
/*
 * hook_decide - config file and @ctx's metadata into @ctx->cfg, and whether the domain
 * is traced into @ctx->traced. Logs a bad config or metadata (one line each).
 * Return: 0, or -EBADMSG when the config or the metadata was bad (then the config file's
 * values, or the defaults, decide).
 */
int hook_decide(struct hook_ctx *ctx);

/* ---- instance.c ---- */

/*
 * hook_instances_prepare - at 'prepare begin': create both instances in a detached
 * worker that holds the domain's setup locks (.tsc-setup until the -tsc instance
 * traces, .setup until the main one does too), so that 'start begin' finds them ready
 * (the kernel needs tens of ms per clock change and buffer resize). 0 or -errno.
 */
int hook_instances_prepare(struct hook_ctx *ctx);
/*
 * hook_instances_setup - at 'start begin': wait for the prepare worker's -tsc instance
 * only (the recorder waits for the main one), or create the -tsc instance now and the
 * main one in a detached worker. Strict configs wait for both, or create both now.
 * The -tsc instance traces when it returns 0. 0 or -errno (logged).
 */
int hook_instances_setup(struct hook_ctx *ctx);
/*
 * hook_instances_remove - unless a recorder holds the domain lock: in a detached
 * worker, `virt-trace recover DOMAIN` when the latest run was left recording (its
 * recorder died; recover also drains the ring buffers), then remove both instances
 * (rmdir waits for RCU). 0 or -errno.
 */
int hook_instances_remove(struct hook_ctx *ctx);
/* whether the domain's main instance exists */
bool hook_instances_exist(const struct hook_ctx *ctx);

/* ---- detach.c ---- */

/* hook_detach_fork - vt_detach_fork() with the hook's syslog connection reopened in the
 * grandchild. It must end with _exit() or exec. */
int hook_detach_fork(int *keep, size_t nkeep);
/* the recorder binary: $VT_CLI, else VT_HOOK_CLI. Borrowed. */
const char *hook_cli_path(void);
/*
 * hook_spawn_recorder - take the domain lock and vt_spawn_detached `virt-trace record
 * --domain NAME --lock-fd 4 [--uuid UUID] [--pid QEMU_PID]` with it (@qemu_pid 0: QEMU
 * not running yet); waits for its exec only. -EBUSY when a recorder holds the domain.
 */
int hook_spawn_recorder(const struct hook_ctx *ctx, pid_t qemu_pid, pid_t *ret_pid,
			struct vt_errbuf *eb);

/* ---- log.c ---- */

/* openlog; @domain names the lines of libraries' warnings */
void hook_log_open(const char *domain);
/*
 * hook_log_reset - close the syslog socket (it reopens at the next line): before a
 * fork whose child rearranges its fds, so that glibc never writes a line to, or
 * closes, an fd that has become something else.
 */
void hook_log_reset(void);
/* one syslog line "domain '<name>': <message>" (also on stderr with VT_HOOK_STDERR=1) */
void hook_log(const char *domain, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* how many lines above LOG_DEBUG this process logged */
unsigned hook_log_lines(void);
/* the last LOG_ERR line, for stderr when the hook fails (libvirt logs it) */
const char *hook_log_last_error(void);

#endif
