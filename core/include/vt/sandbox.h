/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Least privilege for code that parses what a guest produced: no_new_privs, capabilities
 * dropped (effective, permitted, inheritable, ambient, bounding set), writes confined to
 * one directory (Landlock, or a read-only mount namespace where Landlock is missing),
 * resource limits; and a runner that does it in a forked child with a deadline.
 */
#ifndef VT_SANDBOX_H
#define VT_SANDBOX_H

#include <sys/types.h>

#include "vt/common.h"

struct json_object;

enum {
	/* skip Landlock and use the mount-namespace fallback (tests of the fallback) */
	VT_SANDBOX_NO_LANDLOCK = 1u << 0,
	/*
	 * when neither Landlock nor a mount namespace can confine writes, go on with the
	 * rest (no_new_privs, capabilities, limits) instead of failing: for a user's own
	 * files ('virt-trace merge'), never for the recorder's guest step
	 */
	VT_SANDBOX_FS_BEST_EFFORT = 1u << 1,
};

struct vt_sandbox_opts {
	const char *write_dir;	/* the one tree writes may go to (must exist) */
	uint64_t keep_caps;	/* capabilities kept, bit (1 << CAP_x); 0: none */
	uint64_t fsize_max;	/* RLIMIT_FSIZE in bytes; 0: leave it */
	unsigned nofile_max;	/* RLIMIT_NOFILE; 0: 64 (raised above the fds already open) */
	unsigned flags;		/* VT_SANDBOX_* */
};

/* what vt_sandbox_enter applied, read back from the kernel where it can be */
struct vt_sandbox_info {
	bool no_new_privs;
	uint64_t cap_effective, cap_permitted, cap_inheritable, cap_ambient, cap_bounding;
	int landlock_abi;	/* ABI of the ruleset in force; 0: no Landlock */
	bool landlock_net;	/* TCP bind/connect denied (ABI >= 4) */
	bool landlock_scoped;	/* signals and abstract sockets scoped (ABI >= 6) */
	bool mount_ns;		/* read-only mount namespace (the fallback) */
	bool fs_confined;	/* writes confined to write_dir by one of the two */
	uint64_t rlimit_core, rlimit_fsize, rlimit_nofile;	/* RLIM_INFINITY as UINT64_MAX */
	char fs_error[160];	/* why writes are not confined (fs_confined false) */
};

/* Landlock ABI the running kernel offers: > 0, or 0 when it has none (or it is off). */
int vt_sandbox_landlock_abi(void);

/*
 * vt_sandbox_enter - confine the calling thread (and what it forks and execs later):
 * resource limits (RLIMIT_CORE 0, RLIMIT_FSIZE with SIGXFSZ ignored, so that a write
 * past it fails with EFBIG, RLIMIT_NOFILE), bounding set and ambient
 * set emptied (but @o->keep_caps; the bounding set only with CAP_SETPCAP), securebits
 * noroot locked (with CAP_SETPCAP), no_new_privs, capabilities reduced to keep_caps, and
 * writes, file creation and removal only beneath @o->write_dir: Landlock when the kernel
 * has it (read and execute stay allowed everywhere; TCP bind/connect denied from ABI 4,
 * signals and abstract unix sockets scoped from ABI 6), else a private mount namespace
 * with every mount read-only and nodev except a bind of write_dir (needs CAP_SYS_ADMIN).
 * It cannot be undone. Other threads of the process are not affected: call it in a
 * single-threaded process or a fresh child.
 * Return: 0 with @ret filled, -errno (reason in @eb; -EPERM/-ENOSYS when writes cannot
 * be confined and VT_SANDBOX_FS_BEST_EFFORT is not set). Partly applied on failure.
 */
int vt_sandbox_enter(const struct vt_sandbox_opts *o, struct vt_sandbox_info *ret,
		     struct vt_errbuf *eb);

/*
 * vt_sandbox_drop_privileges - only the capability part of vt_sandbox_enter: bounding
 * and ambient sets emptied but @keep_caps (bounding set and securebits only with
 * CAP_SETPCAP), no_new_privs, effective/permitted reduced to @keep_caps, inheritable
 * empty. For the recorder after its setup; per thread like vt_sandbox_enter (threads
 * created later inherit it). Return: 0 with @ret filled (may be NULL), -errno.
 */
int vt_sandbox_drop_privileges(uint64_t keep_caps, struct vt_sandbox_info *ret,
			       struct vt_errbuf *eb);

/* @i as a JSON object for the manifest (caller owns it); NULL when out of memory */
struct json_object *vt_sandbox_info_json(const struct vt_sandbox_info *i);

/* capability sets of the calling thread as CAP_x bit masks (capget, PR_CAPBSET_READ) */
int vt_sandbox_caps(uint64_t *eff, uint64_t *prm, uint64_t *inh, uint64_t *bnd);

/* what a sandboxed child did (vt_sandbox_run) */
struct vt_sandbox_child {
	pid_t pid;
	int status;		/* waitpid status (when the child was reaped) */
	bool timed_out;		/* killed at the deadline */
	bool overflow;		/* killed for writing more than max_out bytes */
	char *out;		/* what it wrote, NUL-terminated (caller frees) */
	size_t len;
};

/* exit status of a child whose vt_sandbox_enter failed; out holds the reason */
#define VT_SANDBOX_EXIT_SETUP 125

/*
 * vt_sandbox_run - fork a child that enters the sandbox @o, then runs @fn(@arg, fd,
 * info) and exits with its return value (fn writes its result to fd). The parent reads
 * at most @max_out bytes of it and waits at most @timeout_ms in all; past either the
 * child is killed (SIGKILL). The child dies with the parent (PR_SET_PDEATHSIG).
 * Return: 0 when the child ran and was reaped (@ret says how it ended: check
 * vt_sandbox_child_ok), -errno when it could not be started. Free with
 * vt_sandbox_child_fini.
 */
int vt_sandbox_run(const struct vt_sandbox_opts *o,
		   int (*fn)(void *arg, int fd, const struct vt_sandbox_info *info), void *arg,
		   unsigned timeout_ms, size_t max_out, struct vt_sandbox_child *ret,
		   struct vt_errbuf *eb);
/* whether the child exited with status 0 in time */
bool vt_sandbox_child_ok(const struct vt_sandbox_child *c);
/* how it ended, in words: "killed by signal 11 (Segmentation fault)", "timed out"... */
void vt_sandbox_child_describe(const struct vt_sandbox_child *c, unsigned timeout_ms,
			       char *buf, size_t len);
void vt_sandbox_child_fini(struct vt_sandbox_child *c);

#endif
