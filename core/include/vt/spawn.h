/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Detached programs: what the libvirt hook and `virt-trace start` use to start the
 * recorder so that it holds none of the caller's fds (libvirt waits for EOF on the
 * hook's stdout and stderr) and outlives it.
 */
#ifndef VT_SPAWN_H
#define VT_SPAWN_H

#include <sys/types.h>

#include "vt/common.h"

/*
 * vt_detach_fork - fork a detached grandchild: it returns 0 in the grandchild (own
 * session, default signals, fds 0-2 on /dev/null, @keep[] moved to fds 3, 4, ...
 * close-on-exec, every other fd closed, cwd /, umask 027) and 1 in the caller once the
 * intermediate child is reaped. -errno when forking failed.
 */
int vt_detach_fork(int *keep, size_t nkeep);

/* the fd number a program started by vt_spawn_detached finds @pass_fd at */
#define VT_SPAWN_PASS_FD 4

/*
 * vt_spawn_detached - run @argv (argv[0] a path) detached. Waits at most @timeout_ms
 * for the exec (or, with @ready_fd, for one byte 'r' the program writes on fd
 * $VT_READY_FD). @pass_fd, unless -1, is the one fd of the caller's the program
 * inherits, as fd VT_SPAWN_PASS_FD (the caller keeps its own copy).
 * *ret_pid is the program's pid as soon as it is known.
 * Return: 0; -ETIMEDOUT (pid set) when it did not get that far in time; -ECHILD when it
 * died first; -errno of a failed exec (-ENOENT, -EACCES, -ENOEXEC...).
 */
int vt_spawn_detached(char *const argv[], bool ready_fd, int pass_fd, int timeout_ms,
		      pid_t *ret_pid, struct vt_errbuf *eb);

/*
 * vt_spawn_recorder - take @domain's lock (vt_run_lock_domain), drop the control requests
 * left for an earlier recorder (vt_control_clear) and start `@exe record
 * --domain DOMAIN --lock-fd 4 [--uuid UUID] [--pid QEMU_PID]` with it
 * (vt_spawn_detached, exec awaited): the domain is held from before the recorder exists,
 * so nobody takes a recorder that is slow to start for gone. @uuid NULL or "", @qemu_pid
 * 0: not passed. Return: as vt_spawn_detached; -EBUSY when a recorder holds the domain.
 */
int vt_spawn_recorder(const char *exe, const char *domain, const char *uuid, pid_t qemu_pid,
		      int timeout_ms, pid_t *ret_pid, struct vt_errbuf *eb);

#endif
