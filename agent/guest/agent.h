/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virt-trace-agent internals (vta_ prefix): the tracefs instance, the chunk writer and
 * the info verb, shared by the verbs in agent.c. Functions return 0 or -errno and put
 * the reason in a struct vt_errbuf; only agent.c prints.
 */
#ifndef VTA_AGENT_H
#define VTA_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <json.h>
#include <tracefs.h>

#include "vt/common.h"

#define VTA_INSTANCE "virt-trace-agent"
#define VTA_DEFAULT_DIR "/var/lib/virt-trace-agent"
#define VTA_DEFAULT_EVENTS "sched:sched_switch"
#define VTA_DEFAULT_BUFFER_KB 4096u
#define VTA_CHUNK_CAP (3u << 20)	/* page bytes in one chunk (a few 1 MiB reads) */
#define VTA_BOOT_ID_LEN 40

static inline void vta_json_putp(struct json_object **o)
{
	json_object_put(*o);
}

static inline void vta_instance_freep(struct tracefs_instance **inst)
{
	tracefs_instance_free(*inst);
}

static inline void vta_listp(char ***list)
{
	tracefs_list_free(*list);
}

#define _cleanup_json_ __attribute__((cleanup(vta_json_putp)))
#define _cleanup_instance_ __attribute__((cleanup(vta_instance_freep)))
#define _cleanup_list_ __attribute__((cleanup(vta_listp)))

/* ---- ftrace.c: the instance and tracefs metadata ---- */

/* The running instance (NULL with -ENOENT when there is none). Free with tracefs_instance_free. */
int vta_instance_get(struct tracefs_instance **ret, struct vt_errbuf *eb);
/*
 * vta_instance_start - (re)create the instance, tracing off, clock x86-tsc, buffer
 * size, @events (comma list of system:event globs) plus msr:write_msr filtered to the
 * TSC MSRs when that event exists. Tracing stays off. On failure the instance is gone.
 */
int vta_instance_start(const char *events, uint64_t buffer_kb, struct tracefs_instance **ret,
		       struct vt_errbuf *eb);
/* Called per event by vta_events_foreach; non-zero ends the walk with that return. */
typedef int (*vta_event_fn)(const char *system, const char *event, void *ctx,
			    struct vt_errbuf *eb);
/*
 * vta_events_foreach - expand @list (comma list of "system:event" with globs, "system",
 * or a bare event name) and call @fn per event. -ENOENT when a pattern matches nothing,
 * -EINVAL for a malformed one.
 */
int vta_events_foreach(const char *list, vta_event_fn fn, void *ctx, struct vt_errbuf *eb);
/* Whether this kernel has the msr:write_msr tracepoint (the TSC-write marker). */
bool vta_msr_marker_exists(void);
/* vta_instance_events - the instance's enabled events as a JSON array of "system:name". */
int vta_instance_events(struct tracefs_instance *inst, struct json_object **ret,
			struct vt_errbuf *eb);
/* Ring-buffer page size and the kernel's long size, from @inst's (or the top) header_page. */
int vta_header_page(struct tracefs_instance *inst, uint32_t *page_size, unsigned *long_size,
		    struct vt_errbuf *eb);
/* The CPUs of @inst's per_cpu directory, ascending (caller frees *ret). */
int vta_cpu_list(struct tracefs_instance *inst, uint32_t **ret, uint32_t *ret_n,
		 struct vt_errbuf *eb);
/* Lost-event counters of one CPU: "overrun" + "dropped events" of per_cpu/cpuN/stats. */
int vta_cpu_lost(struct tracefs_instance *inst, uint32_t cpu, uint64_t *ret,
		 struct vt_errbuf *eb);
/* /proc/sys/kernel/random/boot_id without its newline, into @buf (VTA_BOOT_ID_LEN + 1). */
int vta_boot_id(char *buf, struct vt_errbuf *eb);
/* The guest TSC now (rdtsc). */
uint64_t vta_rdtsc(void);

/* ---- chunkw.c: chunks, the sequence counter and lost-event baselines in DIR ---- */

/* mkdir -p @dir (0750) and take its lock (the fd, held until closed). */
int vta_dir_lock(const char *dir, int *ret_fd, struct vt_errbuf *eb);
/* vta_dir_reset - for start: seq 0, baselines from @inst's counters, old chunks removed. */
int vta_dir_reset(const char *dir, struct tracefs_instance *inst, struct vt_errbuf *eb);
/*
 * vta_collect - drain what every CPU of @inst has (up to VTA_CHUNK_CAP of pages) into
 * DIR/chunk-<seq>.bin and describe it in *ret (owned by the caller). *ret_more is set
 * when pages were left for the next collect.
 */
int vta_collect(const char *dir, struct tracefs_instance *inst, struct json_object **ret,
		bool *ret_more, struct vt_errbuf *eb);

/* ---- info.c ---- */

/*
 * vta_info - the guest description of the info verb (owned by the caller). Formats are
 * those of @inst's enabled events (@inst may be NULL) and of @events (NULL: none; with
 * msr:write_msr as start adds it).
 */
int vta_info(struct tracefs_instance *inst, const char *events, struct json_object **ret,
	     struct vt_errbuf *eb);

/* ---- agent.c ---- */

/* Add @val to @obj under @key; on failure @val is freed. 0 or -ENOMEM. */
int vta_json_add(struct json_object *obj, const char *key, struct json_object *val);
/* Append @val to @arr; on failure @val is freed. 0 or -ENOMEM. */
int vta_json_push(struct json_object *arr, struct json_object *val);

#endif
