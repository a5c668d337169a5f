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
	/*
	 * Only the exec is awaited, not the recorder's VT_READY_FD byte: its set-up (run
	 * directory, manifest fsync, per-CPU opens) takes 60-100 ms here, more than all of
	 * 'start begin' may. The ring buffers keep the events until it reads them, and
	 * 'started begin' retries while nobody listens yet. The domain lock it inherits
	 * keeps 'stopped end' from taking a slow one for gone (the storm lost runs so).
	 */
	return vt_spawn_recorder(hook_cli_path(), ctx->name, ctx->xml_ok ? ctx->dom.uuid : NULL,
				 qemu_pid, HOOK_READY_TIMEOUT_MS, ret_pid, eb);
}
