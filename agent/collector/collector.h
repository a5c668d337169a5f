/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The collector (DESIGN.md §2): a thread of the recorder that reaches virt-trace-agent
 * in the guest through qemu-ga, pushes it when missing, starts it, pulls its chunks into
 * spool/guest-boot<K>/cpuN.raw (K+1 at a new guest boot_id), probes the TSC offset, and
 * keeps its figures in spool/guest.json for finalize. Internal (coll_ prefix).
 */
#ifndef COLL_COLLECTOR_H
#define COLL_COLLECTOR_H

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

#include "vt/chunk.h"
#include "vt/common.h"

struct json_object;
struct vt_chunk;

/* where the agent lives in the guest; the first that answers with our version is used */
#define COLL_AGENT_GUEST_PATH "/usr/local/lib/virt-trace/virt-trace-agent"
#define COLL_AGENT_PUSH_PATH "/tmp/virt-trace-agent"
#define COLL_AGENT_DIR "/var/lib/virt-trace-agent"	/* its chunks (VTA_DEFAULT_DIR) */
#define COLL_CHUNK_PATH_MAX 128				/* a longer chunk path is refused */
#define COLL_PROBE_ROUNDS 9

/*
 * Time limits (milliseconds). Every agent call has its own timeout besides (qga.h); a
 * guest command still running at its limit is killed.
 */
#define COLL_AGENT_TIMEOUT_MS 30000	/* start, info (and a stale agent's stop) */
#define COLL_COLLECT_TIMEOUT_MS 20000	/* collect, stop: drain at most 3 MiB of pages */
#define COLL_FLUSH_MS 20000		/* what runs after coll_stop, the last collect in it */
#define COLL_STOP_MAX_MS 45000		/* coll_stop abandons the thread after this */
#define COLL_MAX_FAILURES 3		/* bad replies in a row before the agent is set up again */
#define COLL_MAX_BOOTS 16		/* REC_MAX_GUESTS: later boots are not recorded */
#define COLL_INFO_MAX_BYTES (16u << 20)	/* the agent's info (formats, kallsyms) */

/* guest_events .. push are defaults: the thread reads the config file and the domain's
 * <vt:trace> metadata once it has the domain, and those win */
struct coll_opts {
	const char *domain;
	const char *spool;		/* the run's spool directory */
	const char *guest_events;	/* comma list */
	unsigned buffer_kb;
	unsigned poll_ms;
	bool push;			/* push the agent when missing or of another version */
	/* counts @bytes of guest data against the spool quota: 0, or -EDQUOT (NULL: none) */
	int (*reserve)(void *ctx, uint64_t bytes);
	void *reserve_ctx;
};

struct coll;

/* start the collector thread. Return: 0 with *ret, -errno (reason in @eb). */
int coll_start(const struct coll_opts *opts, struct coll **ret, struct vt_errbuf *eb);
/*
 * coll_shutdown - flush the guest (agent 'stop', last chunk pulled), then ask libvirt
 * for a clean shutdown of the domain; asynchronous (done by the collector thread).
 */
void coll_shutdown(struct coll *c);
/*
 * coll_reconnect - libvirtd restarted (the hook's 'reconnect'): reopen the libvirt
 * connection now rather than at the next failing agent call; asynchronous.
 */
void coll_reconnect(struct coll *c);
/*
 * coll_stop - end the collector: what it does now and a last collect while the domain
 * still runs, together within COLL_FLUSH_MS (and @max_ms); the uncovered time recorded,
 * spool/guest.json written; joins the thread (a thread stuck past @max_ms, e.g. in one
 * libvirt call, is abandoned: it writes nothing more to the spool).
 */
void coll_stop(struct coll *c, int max_ms);
void coll_free(struct coll *c);

/* ---- pull.c: one collect, everything the guest sends checked */
enum coll_bad {
	COLL_BAD_TIMEOUT,	/* the agent did not answer in time (its process killed) */
	COLL_BAD_REPLY_SIZE,	/* a reply or the agent's output over its limit */
	COLL_BAD_REPLY,		/* a reply that is not what the command returns */
	COLL_BAD_TOO_BIG,	/* a chunk over VT_CHUNK_MAX_BYTES, or longer than said */
	COLL_BAD_TRUNCATED,	/* a chunk shorter than the agent said */
	COLL_BAD_HEADER,	/* vt_chunk_parse refused it (garbage) */
	COLL_BAD_BOOT,		/* of another boot than the one recorded */
	COLL_BAD_PAGE_SIZE,	/* pages not of the info's size */
	COLL_BAD_SEQ,		/* seq not after the last chunk's (replayed) */
	COLL_BAD_CPU,		/* a CPU the guest does not have */
	COLL_BAD_PAGE,		/* a page header or record that does not hold */
	COLL_BAD_EVENT,		/* an event id no format of the guest defines */
	COLL_BAD_QUOTA,		/* the spool quota is used up */
	COLL_BAD_N,		/* (not the guest's fault) */
};

/* the reason's name in the manifest (guest_agent.bad_chunks): "timeout", ... */
const char *coll_bad_name(enum coll_bad b);

/* what the agent's info said a chunk of this boot must be */
struct coll_session {
	char boot_id[41];
	uint32_t page_size;
	unsigned long_size;
	uint32_t ncpus;
	uint8_t event_ids[VT_CHUNK_EVENT_IDS / 8];	/* ids of the info's formats */
	uint64_t next_seq;				/* since the agent's start */
	uint64_t last_ts[VT_CHUNK_MAX_CPUS];
	struct vt_chunk_stats stats;			/* of the chunks taken */
	/* the chunk a lost libvirt connection left in the guest, for the next pull */
	char pending[COLL_CHUNK_PATH_MAX + 1];
	uint64_t pending_bytes;
	bool pending_taken;				/* read: only its deletion is left */
};

/* boot_id of /proc/sys/kernel/random/boot_id: 36 characters, 8-4-4-4-12 lower hex */
bool coll_boot_id_ok(const char *s);
/*
 * coll_session_from_info - check the agent's info (boot_id, page_size, long_size, cpus,
 * formats with their ids) and set @s from it. Return: 0, -EBADMSG with the reason.
 */
int coll_session_from_info(struct coll_session *s, struct json_object *info, struct vt_errbuf *eb);
/* the agent (re)started: seq from 0, per-CPU times forgotten */
void coll_session_restart(struct coll_session *s);
/* a JSON object from @len bytes (trailing blanks allowed): 0 with *ret, -EBADMSG */
int coll_parse_json(const uint8_t *buf, size_t len, struct json_object **ret);
/*
 * coll_pull - run 'AGENT @verb' (collect or stop) for at most @timeout_ms, read the chunk
 * it cut, delete it in the guest and check it against @s. A chunk whose reading or
 * deletion a lost libvirt connection (-ECONNRESET) cut short is kept in @s and read or
 * deleted first by the next pull, on the new connection, with *@more. Return: 1 with the chunk in
 * *@ch (pages borrowed from *@buf, caller frees) and *@more; 0 when the agent cut none;
 * -errno: with *@why < COLL_BAD_N the guest sent something bad, dropped (reason in @eb);
 * with COLL_BAD_N the agent, qemu-ga or the domain is gone, or -ESTALE for a new boot.
 */
int coll_pull(virDomainPtr dom, const char *agent, const char *verb, int timeout_ms,
	      struct coll_session *s, struct vt_chunk *ch, uint8_t **buf, size_t *len, bool *more,
	      enum coll_bad *why, struct vt_errbuf *eb);

/* ---- push.c */
/*
 * coll_agent_binary - the host's agent binary: $VT_AGENT_BINARY, else @configured (the
 * config's agent_binary; NULL: none), else <prefix>/lib/virt-trace/virt-trace-agent
 * beside our executable, else /usr/lib/virt-trace/virt-trace-agent. *ret malloc'ed.
 */
int coll_agent_binary(const char *configured, char **ret, struct vt_errbuf *eb);
/*
 * coll_agent_ensure - find an agent of our version in the guest (*ret_path, malloc'ed);
 * with @push, copy the host binary (@binary: coll_agent_binary's @configured) to
 * COLL_AGENT_PUSH_PATH (0755) when there is none. *ret_pushed says whether it was pushed.
 */
int coll_agent_ensure(virDomainPtr dom, bool push, const char *binary, char **ret_path,
		      bool *ret_pushed, struct vt_errbuf *eb);
/* push the host binary to @guest_path (NULL: COLL_AGENT_PUSH_PATH) and chmod 0755 */
int coll_agent_push(virDomainPtr dom, const char *binary, const char *guest_path,
		    uint64_t *ret_bytes, struct vt_errbuf *eb);

/* ---- probe.c */
struct coll_probe_sample {
	uint64_t host_before, host_after;	/* host TSC around the round trip */
	uint64_t guest_tsc;			/* what the agent read */
};

struct coll_probe {
	uint64_t offset;	/* guest - host, two's complement */
	uint64_t error_ticks;	/* half the shortest round trip */
	uint64_t host_tsc;	/* middle of the shortest round trip */
	uint64_t rtt_min, rtt_max;
	unsigned samples;
};

/* the offset from the shortest round trip; -EINVAL when no sample is usable */
int coll_probe_pick(const struct coll_probe_sample *s, size_t n, struct coll_probe *ret);
/* @rounds round trips of 'AGENT tsc' through guest-exec */
int coll_probe_run(virDomainPtr dom, const char *agent, unsigned rounds, struct coll_probe *ret,
		   struct vt_errbuf *eb);
uint64_t coll_host_tsc(void);

/* ---- conn.c: the collector's own connection, reopened when libvirtd restarts */
#define COLL_RECONNECT_TRIES 12		/* opens in one reopen, the first at once */
#define COLL_RECONNECT_FIRST_MS 250	/* the wait before the second, doubled ... */
#define COLL_RECONNECT_MAX_MS 4000	/* ... up to this: 12 tries span about 32 s */

struct coll_conn {
	char *domain;				/* its name (owned) */
	char uuid[VIR_UUID_STRING_BUFLEN];	/* of the first open, "" before: reopens use it */
	virConnectPtr conn;
	virDomainPtr dom;			/* NULL while no connection is open */
	uint64_t reconnects;			/* reopens after a lost connection */
};

/* connect (VT_LIBVIRT_URI, else qemu:///system) and look @domain up by name */
int coll_conn_open(struct coll_conn *cc, const char *domain, struct vt_errbuf *eb);
/*
 * coll_conn_lost - true when the connection is gone: @r is -ECONNRESET (what an agent call
 * returns for coll_conn_lost_error), none is open, or virConnectIsAlive says so.
 */
bool coll_conn_lost(const struct coll_conn *cc, int r);
/*
 * coll_conn_reopen - release the dead connection, connect again and find the same domain
 * (by uuid): at most COLL_RECONNECT_TRIES, calling @wait(@ctx, ms) between tries with
 * growing waits (it returns true to give up: -ECANCELED). Return: 0 (reconnects counted),
 * or the last try's -errno with the reason in @eb; cc->dom is NULL then.
 */
int coll_conn_reopen(struct coll_conn *cc, bool (*wait)(void *ctx, unsigned ms), void *ctx,
		     struct vt_errbuf *eb);
/* virDomainIsActive: 1, 0, -ECONNRESET (connection lost), -EIO */
int coll_domain_active(virDomainPtr dom, struct vt_errbuf *eb);
void coll_conn_close(struct coll_conn *cc);

/* ---- open a read-write connection and the domain (for agent-install, shutdown) */
/* connect to $VT_LIBVIRT_URI, else qemu:///system, libvirt's error printing off: NULL with
 * the reason in @eb */
virConnectPtr coll_connect(struct vt_errbuf *eb);
int coll_open_domain(const char *domain, virConnectPtr *ret_conn, virDomainPtr *ret_dom,
		     struct vt_errbuf *eb);
/* virDomainShutdown of @domain through its own connection */
int coll_shutdown_domain(const char *domain, struct vt_errbuf *eb);
/*
 * coll_wait_agent - guest-ping until the agent answers or @timeout_ms passed, or
 * *@cancel turns true. Return: 0, -ETIMEDOUT, -ECANCELED, -ESRCH (domain not running).
 */
int coll_wait_agent(virDomainPtr dom, int timeout_ms, const volatile bool *cancel,
		    struct vt_errbuf *eb);

#endif
