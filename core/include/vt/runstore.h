/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The run store (DESIGN.md §3): /var/lib/virt-trace/<domain>/<run-id>/ with
 * <domain>/latest pointing at the newest run. Domain names are escaped into one safe
 * path component; run ids are the UTC start time YYYYMMDDTHHMMSSZ (-2, -3... on
 * collision). Directories 0750, files 0640 (group libvirt where it exists). One run per
 * domain records at a time: the recorder holds an open file description lock
 * (fcntl F_OFD_SETLK, whole file) on <domain>/.lock.
 */
#ifndef VT_RUNSTORE_H
#define VT_RUNSTORE_H

#include "vt/common.h"

/* Root of the store: $VT_STATE_DIR if set (tests), else /var/lib/virt-trace. Borrowed. */
const char *vt_store_root(void);
/* Runtime dir for control sockets: $VT_RUN_DIR if set, else /run/virt-trace. Borrowed. */
const char *vt_store_rundir(void);

/*
 * vt_store_escape - a libvirt domain name as one path component: [A-Za-z0-9_+-] and
 * '.' (not leading) kept, every other byte as %XX. Never "", ".", ".." and never holds
 * '/'. Return: 0 (into @out of @len bytes), -ENAMETOOLONG, -EINVAL for an empty name.
 */
int vt_store_escape(const char *domain, char *out, size_t len);

enum vt_run_state {
	VT_RUN_RECORDING = 0,
	VT_RUN_FINALIZING,
	VT_RUN_COMPLETE,
	VT_RUN_INCOMPLETE,
	VT_RUN_FAILED,
	_VT_RUN_STATE_MAX,
};

const char *vt_run_state_name(enum vt_run_state st);	/* "recording", ... */
int vt_run_state_parse(const char *name, enum vt_run_state *ret);

struct vt_run {
	char domain[256];	/* libvirt name as given */
	char id[32];		/* run id */
	char dir[4096];		/* absolute run directory */
	int lock_fd;		/* the held domain lock (<domain>/.lock), -1 when not held */
};

/*
 * vt_run_create - a new run directory for @domain (with spool/), 'latest' pointed at
 * it, manifest.json written with state "recording", domain name and @uuid (may be
 * NULL). Takes the domain lock (fails -EBUSY when another run of the domain holds it).
 * Return: 0 with *ret filled (release the lock with vt_run_close), -errno.
 */
int vt_run_create(const char *domain, const char *uuid, struct vt_run *ret,
		  struct vt_errbuf *eb);
/*
 * vt_run_lock_domain - take @domain's lock (creating <store>/<domain>/.lock) without
 * creating a run: the hook takes it before it spawns the recorder and passes the fd on,
 * so that the domain is never without its lock while a recorder starts.
 * Return: the locked fd (caller owns; closing every copy releases it), -EBUSY when a
 * run of the domain holds it, -errno.
 */
int vt_run_lock_domain(const char *domain, struct vt_errbuf *eb);
/*
 * vt_run_create_locked - vt_run_create with the lock already taken: @lock_fd from
 * vt_run_lock_domain (possibly in another process, inherited). It is checked to be
 * <domain>/.lock and held through it (-EBADF, -EBUSY otherwise), and always consumed.
 */
int vt_run_create_locked(const char *domain, const char *uuid, int lock_fd,
			 struct vt_run *ret, struct vt_errbuf *eb);
/*
 * vt_run_open - an existing run: @run_id NULL or "latest" for the newest.
 * Does not take the lock. Return: 0, -ENOENT (reason names the domain/run), -errno.
 */
int vt_run_open(const char *domain, const char *run_id, struct vt_run *ret,
		struct vt_errbuf *eb);
/* release the lock (if held) */
void vt_run_close(struct vt_run *run);
/* whether a live recorder holds the domain lock (tested with F_OFD_GETLK, not taken) */
bool vt_run_domain_locked(const char *domain);

/*
 * vt_run_set_state - rewrite manifest.json's "state" (and "state_reason" when @reason is
 * non-NULL) atomically, keeping every other field. Return: 0, -errno.
 */
int vt_run_set_state(const struct vt_run *run, enum vt_run_state st, const char *reason,
		     struct vt_errbuf *eb);
int vt_run_get_state(const struct vt_run *run, enum vt_run_state *ret, struct vt_errbuf *eb);

/* free an array of @n strings as vt_run_list and vt_store_domains return them */
void vt_strv_free(char **v, size_t n);
/* Run ids of @domain, oldest first: *ret (free each and the array), *ret_n. */
int vt_run_list(const char *domain, char ***ret, size_t *ret_n);
/* Domains in the store (unescaped names), sorted: *ret (free each and the array). */
int vt_store_domains(char ***ret, size_t *ret_n);

#endif
