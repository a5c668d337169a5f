/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The recorder daemon's internal interfaces: the spool writers, QEMU's start-up facts,
 * the entry point of 'virt-trace record'.
 */
#ifndef REC_RECORDER_H
#define REC_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "vt/common.h"
#include "vt/runstore.h"

struct json_object;
struct tracefs_instance;

/* ---- spool.c: one thread per instance x CPU splicing trace_pipe_raw into the spool */
struct rec_spool;

struct rec_spool_stats {
	uint64_t written;	/* bytes in the spool (host pages and guest data) */
	uint64_t guest;		/* of which guest data (rec_spool_reserve) */
	uint64_t lost;		/* bytes read and dropped past the quota */
	bool over_quota;
	int err;		/* first reader error (-errno), 0 if none */
	bool disk_full;		/* pages were dropped for want of disk space */
	uint64_t disk_lost;	/* the part of lost dropped for want of disk space */
};

/*
 * rec_spool_start - open every CPU of @main (-> @spool/main/cpuN.raw) and @tsc
 * (-> @spool/tsc/cpuN.raw) and start the readers; past @quota bytes in all (0: no
 * limit) the main instance's readers read and drop; the -tsc ones never drop.
 * Return: 0 with *ret, -errno (reason in @eb).
 */
int rec_spool_start(const char *spool, struct tracefs_instance *main,
		    struct tracefs_instance *tsc, uint64_t quota, struct rec_spool **ret,
		    struct vt_errbuf *eb);
/* stop the readers, drain what the ring buffers hold (partial pages too), join */
void rec_spool_stop(struct rec_spool *s);
void rec_spool_get_stats(struct rec_spool *s, struct rec_spool_stats *ret);
/*
 * rec_spool_reserve - count @bytes of guest data (a struct rec_spool * in @ctx) against
 * the quota, which host and guest share. Return: 0, or -EDQUOT when they do not fit
 * (nothing counted; the host readers go on until the quota is reached).
 */
int rec_spool_reserve(void *ctx, uint64_t bytes);
/*
 * rec_spool_set_reserve - the room the archive needs besides the spooled pages (host.dat
 * headers, kallsyms, manifest); the readers of the main instance stop writing (read and
 * drop) when more pages would leave less than that plus the pages' own size for
 * finalizing. rec_spool_check_space - redo that sum from the free space now (each tick).
 */
void rec_spool_set_reserve(struct rec_spool *s, uint64_t bytes);
void rec_spool_check_space(struct rec_spool *s);
void rec_spool_free(struct rec_spool *s);

/* ---- qemu.c: what the recorder learns at 'started' */
/*
 * rec_qemu_started - QEMU @pid of @run's domain is up: vCPU threads (status XML or
 * 'CPU n/KVM' names), all its threads, the debugfs TSC offsets and scaling, tsc2nsec;
 * written into @root (the manifest) under "recorder"; narrows @main to QEMU's threads
 * with set_event_pid. Problems that do not stop recording become warnings in @root.
 */
int rec_qemu_started(const char *domain, int pid, struct tracefs_instance *main,
		     struct json_object *root, struct vt_errbuf *eb);

/*
 * rec_qemu_exit_reason - when QEMU @pid of @domain has exited, ask libvirt (bounded
 * wait) why. Return: 1 with @buf saying how QEMU died (crashed, killed, failed: the run
 * is incomplete), 0 when QEMU still runs or ended normally (shutdown, destroy, save,
 * migration), -errno with @buf saying why nobody can tell.
 */
int rec_qemu_exit_reason(const char *domain, int pid, char *buf, size_t len);

/* ---- recorder.c */
/* room kept on the spool's file system for the archive, besides host.dat's metadata */
#define REC_ARCHIVE_SLACK (8ull << 20)

struct rec_args {
	const char *domain;
	const char *uuid;
	int pid;	/* QEMU's pid when already known (virt-trace start), else 0 */
	int lock_fd;	/* the domain lock taken by the spawner (--lock-fd), else -1 */
};

/* Run a recorder until stopped; returns an exit status. */
int rec_main(const struct rec_args *args);

#endif
