// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Start the recorder fully detached from libvirt (vt_spawn_detached) and wait briefly
 * for its exec to succeed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "hook.h"
#include "util.h"
#include "vt/runstore.h"
#include "vt/spawn.h"

const char *hook_cli_path(void)
{
	const char *cli = getenv("VT_CLI");

	return cli && *cli ? cli : VT_HOOK_CLI;
}

int hook_detach_fork(int *keep, size_t nkeep)
{
	hook_log_reset();
	return vt_detach_fork(keep, nkeep);
}

int hook_spawn_recorder(const struct hook_ctx *ctx, pid_t qemu_pid, pid_t *ret_pid,
			struct vt_errbuf *eb)
{
	char pid_arg[24], lock_arg[12], *argv[12];
	_cleanup_close_ int lock = -1;
	size_t n = 0;

	*ret_pid = 0;
	/*
	 * The domain lock, taken here and inherited by the recorder: from now on the domain
	 * is held, so 'stopped end' leaves its stop for a recorder that is slow to start
	 * instead of taking it for gone (the storm lost a run that way).
	 */
	lock = vt_run_lock_domain(ctx->name, eb);
	if (lock < 0)
		return lock;
	snprintf(lock_arg, sizeof(lock_arg), "%d", VT_SPAWN_PASS_FD);
	argv[n++] = (char *)hook_cli_path();
	argv[n++] = "record";
	argv[n++] = "--domain";
	argv[n++] = (char *)ctx->name;
	argv[n++] = "--lock-fd";
	argv[n++] = lock_arg;
	if (ctx->xml_ok && ctx->dom.uuid[0]) {
		argv[n++] = "--uuid";
		argv[n++] = (char *)ctx->dom.uuid;
	}
	if (qemu_pid > 0) {
		snprintf(pid_arg, sizeof(pid_arg), "%d", (int)qemu_pid);
		argv[n++] = "--pid";
		argv[n++] = pid_arg;
	}
	argv[n] = NULL;
	/*
	 * Only the exec is awaited, not the recorder's VT_READY_FD byte: its set-up (run
	 * directory, manifest fsync, per-CPU opens) takes 60-100 ms here, more than all of
	 * 'start begin' may. The ring buffers keep the events until it reads them, and
	 * 'started begin' retries while nobody listens yet.
	 */
	return vt_spawn_detached(argv, false, lock, HOOK_READY_TIMEOUT_MS, ret_pid, eb);
}
