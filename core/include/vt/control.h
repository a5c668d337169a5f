/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The recorder's control socket: a unix stream socket <rundir>/<escaped-domain>.sock
 * (see vt_store_rundir()). One request line per connection, one reply line:
 *   "started PID"   QEMU is up: map vCPU threads, snapshot debugfs, narrow the instance
 *   "stop"          drain, finalize the run, exit (reply sent before finalizing)
 *   "shutdown"      flush the guest agent, then virDomainShutdown ("ok shutting down
 *                   RUN-DIR"); the run is finalized when QEMU exits
 *   "status"        "ok recording RUN-DIR" or "ok finalizing RUN-DIR"
 *   "ping"          "ok"
 * Replies start with "ok" or "error <reason>".
 */
#ifndef VT_CONTROL_H
#define VT_CONTROL_H

#include "vt/common.h"

/* path of @domain's control socket into @out. 0 or -ENAMETOOLONG/-EINVAL. */
int vt_control_path(const char *domain, char *out, size_t len);
/*
 * vt_control_send - send @request to @domain's recorder and wait at most @timeout_ms for
 * the reply line (copied into @reply, without the newline). Return: 0 when the reply
 * starts with "ok", -EREMOTEIO when it starts with "error", -ECONNREFUSED/-ENOENT when no
 * recorder listens, -ETIMEDOUT.
 */
int vt_control_send(const char *domain, const char *request, char *reply, size_t reply_len,
		    int timeout_ms);
/*
 * vt_control_listen - create and bind the socket (0600 dir 0750; a stale socket file
 * is replaced). Return: the listening fd (O_CLOEXEC|O_NONBLOCK), or -errno.
 */
int vt_control_listen(const char *domain);

/*
 * Requests that arrive before the recorder listens (libvirt may call `started` or
 * `stopped` while it is still starting up) are left as a file beside the socket,
 * <socket>.<verb>, holding the argument; the recorder takes them up once it runs.
 * vt_control_post: 0 or -errno. vt_control_take: 1 with the argument in @arg (the file
 * is removed), 0 when there is none. vt_control_clear: drop stale posts (before a new
 * recorder is spawned).
 */
int vt_control_post(const char *domain, const char *verb, const char *arg);
int vt_control_take(const char *domain, const char *verb, char *arg, size_t len);
void vt_control_clear(const char *domain);

#endif
