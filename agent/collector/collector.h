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

#include "vt/common.h"

struct json_object;
struct vt_chunk;

/* where the agent lives in the guest; the first that answers with our version is used */
#define COLL_AGENT_GUEST_PATH "/usr/local/lib/virt-trace/virt-trace-agent"
#define COLL_AGENT_PUSH_PATH "/tmp/virt-trace-agent"
#define COLL_PROBE_ROUNDS 9

/* guest_events .. push are defaults: the thread reads the config file and the domain's
 * <vt:trace> metadata once it has the domain, and those win */
struct coll_opts {
	const char *domain;
	const char *spool;		/* the run's spool directory */
	const char *guest_events;	/* comma list */
	unsigned buffer_kb;
	unsigned poll_ms;
	bool push;			/* push the agent when missing or of another version */
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
 * coll_stop - end the collector: a last collect while the domain still runs (bounded
 * by timeouts), the uncovered time recorded, spool/guest.json written; joins the thread
 * (a thread stuck past @max_ms is abandoned: it writes nothing more to the spool).
 */
void coll_stop(struct coll *c, int max_ms);
void coll_free(struct coll *c);

/* ---- collector.c: the agent's JSON answers (guest data) */
/* a JSON object from @len bytes of agent output: 0 with *ret (json_object_put), -EBADMSG */
int coll_json_parse(const uint8_t *buf, size_t len, struct json_object **ret);
/*
 * coll_info_parse - the agent's info JSON: 0 with *ret (json_object_put), its boot_id
 * (borrowed from *ret, at most 40 bytes) and page_size; -EBADMSG (reason in @eb).
 */
int coll_info_parse(const uint8_t *buf, size_t len, struct json_object **ret,
		    const char **ret_boot_id, uint32_t *ret_page_size, struct vt_errbuf *eb);

/* ---- push.c */
/* the host's agent binary: $VT_AGENT_BINARY, <prefix>/lib/virt-trace/virt-trace-agent
 * beside our executable, /usr/lib/virt-trace/virt-trace-agent. *ret malloc'ed. */
int coll_agent_binary(char **ret, struct vt_errbuf *eb);
/*
 * coll_agent_ensure - find an agent of our version in the guest (*ret_path, malloc'ed);
 * with @push, copy the host binary to COLL_AGENT_PUSH_PATH (0755) when there is none.
 * *ret_pushed says whether it was pushed.
 */
int coll_agent_ensure(virDomainPtr dom, bool push, char **ret_path, bool *ret_pushed,
		      struct vt_errbuf *eb);
/* push the host binary to @guest_path (NULL: COLL_AGENT_PUSH_PATH) and chmod 0755 */
int coll_agent_push(virDomainPtr dom, const char *guest_path, uint64_t *ret_bytes,
		    struct vt_errbuf *eb);

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

/* ---- open a read-write connection and the domain (for agent-install, shutdown) */
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
