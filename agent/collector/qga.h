/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The collector's qemu-ga layer: one checked virDomainQemuAgentCommand, base64, and the
 * guest-exec / guest-file-* helpers built on it. Every call has a timeout; every reply
 * is size-checked (DESIGN.md §5 trap 5: < 4 MiB of base64, never > 10 MiB) and parsed
 * strictly. Internal to the virt-trace binary (coll_ prefix).
 */
#ifndef COLL_QGA_H
#define COLL_QGA_H

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vt/common.h"

struct json_object;

#define COLL_REPLY_MAX (4u << 20)	/* replies above this are refused */
#define COLL_FILE_CHUNK (1u << 20)	/* bytes per guest-file-read / -write */
#define COLL_TIMEOUT_S 10		/* default per-call timeout */
#define COLL_FILE_TIMEOUT_S 20		/* one guest-file-read/-write (1 MiB, 48 KiB) */
#define COLL_EXEC_OUT_MAX (1u << 20)	/* a guest command's stdout: more is refused */
#define COLL_EXEC_ERR_MAX 4096u		/* its stderr: the rest is cut off */
#define COLL_KILL_TIMEOUT_MS 4000	/* kill -9 of a guest command that timed out */

/*
 * coll_deadline_watch - every later agent call of this thread ends by *@deadline_ms
 * (CLOCK_MONOTONIC milliseconds, coll_now_ms(); 0 = no deadline): its timeout is cut to
 * what is left, and a call after it fails with -ECANCELED. Read at each call, so another
 * thread may set it (coll_stop does). NULL: no deadline.
 */
void coll_deadline_watch(const _Atomic int64_t *deadline_ms);
/* milliseconds left before the watched deadline (INT32_MAX when none, 0 when passed) */
int coll_deadline_left_ms(void);

/*
 * coll_qga - send @cmd (complete QGA JSON) to @dom's agent, wait at most @timeout_s.
 * Return: 0 with *ret = the reply's "return" member (caller owns: json_object_put);
 * -EREMOTEIO for an {"error":...} reply or a libvirt failure (desc in @eb), -ECONNRESET
 * when libvirt's connection is gone (coll_conn_lost_error), -ETIMEDOUT,
 * -EMSGSIZE for a reply over COLL_REPLY_MAX, -EBADMSG for garbage.
 */
int coll_qga(virDomainPtr dom, const char *cmd, int timeout_s, struct json_object **ret,
	     struct vt_errbuf *eb);

/*
 * coll_conn_lost_error - @e says libvirt's connection is gone (libvirtd stopped or
 * restarted: VIR_ERR_NO_CONNECT, VIR_ERR_INVALID_CONN, an RPC system error, "client
 * socket is closed"), not that the guest or its agent failed. The agent calls return
 * -ECONNRESET for it.
 */
bool coll_conn_lost_error(const virError *e);

/* base64 (RFC 4648, padded). encode: *ret malloc'ed, NUL-terminated. 0 or -ENOMEM. */
int coll_b64_encode(const void *data, size_t len, char **ret);
/* decode @len chars of @s into @out (at most @cap bytes). 0 with *ret_len, -EBADMSG,
 * -EMSGSIZE when the data would not fit. */
int coll_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *ret_len);

struct coll_exec_status {
	bool exited;
	int exitcode;		/* -1 when killed by a signal */
	int signal;
	uint8_t *out;		/* decoded stdout, NUL-terminated (caller frees) */
	size_t out_len;
	char *err;		/* decoded stderr, NUL-terminated, capped (caller frees) */
	bool err_cut;		/* stderr was longer than COLL_EXEC_ERR_MAX */
};

void coll_exec_status_fini(struct coll_exec_status *st);

/* guest-exec @path with @args (NULL-terminated, may be NULL), output captured: *ret_pid */
int coll_exec(virDomainPtr dom, const char *path, const char *const *args, int64_t *ret_pid,
	      struct vt_errbuf *eb);
/* guest-exec-status of @pid: stdout over COLL_EXEC_OUT_MAX is -EMSGSIZE, stderr is cut */
int coll_exec_status(virDomainPtr dom, int64_t pid, struct coll_exec_status *ret,
		     struct vt_errbuf *eb);
/*
 * coll_exec_wait - exec and poll the status until it exited or @timeout_ms (or the
 * watched deadline) passed: then the guest process is killed (kill -9 through guest-exec,
 * at most COLL_KILL_TIMEOUT_MS) and -ETIMEDOUT returned. Return: 0 with *ret (exit code
 * not checked).
 */
int coll_exec_wait(virDomainPtr dom, const char *path, const char *const *args, int timeout_ms,
		   struct coll_exec_status *ret, struct vt_errbuf *eb);

/* the whole guest file @path, at most @max_bytes (-EFBIG past it): *ret (caller frees) */
int coll_file_read_all(virDomainPtr dom, const char *path, size_t max_bytes, uint8_t **ret,
		       size_t *ret_len, struct vt_errbuf *eb);
/* create/truncate guest file @path with @len bytes of @data (chunks < 1 MiB) */
int coll_file_write(virDomainPtr dom, const char *path, const void *data, size_t len,
		    struct vt_errbuf *eb);
/* rm -f @path in the guest (/bin/rm, else busybox) */
int coll_file_delete(virDomainPtr dom, const char *path, struct vt_errbuf *eb);
/* guest-ping with @timeout_s */
int coll_ping(virDomainPtr dom, int timeout_s, struct vt_errbuf *eb);

/* milliseconds on CLOCK_MONOTONIC */
int64_t coll_now_ms(void);

#endif
