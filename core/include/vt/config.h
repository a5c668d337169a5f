/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Configuration: /etc/virt-trace/virt-trace.conf (JSON, every key optional, defaults
 * embedded; $VT_CONFIG overrides the path) and the per-domain <vt:trace> metadata of
 * the domain XML (namespace urn:x-virt-trace:1), which overrides it. See
 * virt-trace.conf(5).
 */
#ifndef VT_CONFIG_H
#define VT_CONFIG_H

#include "vt/common.h"

#define VT_CONFIG_PATH "/etc/virt-trace/virt-trace.conf"
#define VT_META_NS "urn:x-virt-trace:1"

struct vt_config {
	char **domains;		/* glob patterns of traced domains; default {"*"} */
	size_t ndomains;
	char *host_events;	/* comma list "sys:event,..."; default
				   "kvm:kvm_entry,kvm:kvm_exit,sched:sched_switch" */
	char *guest_events;	/* default "sched:sched_switch" */
	unsigned host_buffer_kb;	/* per CPU, main instance; default 8192 */
	unsigned tsc_buffer_kb;	/* per CPU, -tsc instance; default 1024 */
	unsigned guest_buffer_kb;	/* default 8192 */
	unsigned poll_interval_ms;	/* guest collection; default 2000 */
	uint64_t spool_quota_mb;	/* per domain run; default 4096 */
	unsigned retention_runs;	/* runs kept per domain; default 10 (0 = all) */
	bool strict;		/* fail prepare/start on a tracing error; default false */
	bool agent_push;	/* push the agent into guests; default true */
	char *agent_binary;	/* the host file pushed as the agent; default NULL (the
				   installed virt-trace-agent) */
};

/* Defaults (caller frees with vt_config_fini). 0 or -ENOMEM. */
int vt_config_defaults(struct vt_config *cfg);
/*
 * vt_config_load - defaults, then the JSON file at @path (NULL: $VT_CONFIG or
 * VT_CONFIG_PATH; a missing file is fine). A bad file or key: -EBADMSG with the reason
 * in @eb, and @cfg holds the defaults (never half a file).
 */
int vt_config_load(const char *path, struct vt_config *cfg, struct vt_errbuf *eb);
/*
 * vt_config_apply_metadata - apply a <vt:trace> element (the XML text of the domain's
 * <metadata> child in our namespace, or the whole domain XML) to @cfg; sets *enabled
 * (true unless enabled="no"; also false when no pattern of cfg->domains matches and the
 * metadata does not say enabled="yes"). -EBADMSG on malformed XML (reason in @eb).
 */
int vt_config_apply_domain(struct vt_config *cfg, const char *domain, const char *domain_xml,
			   bool *enabled, struct vt_errbuf *eb);
void vt_config_fini(struct vt_config *cfg);

#endif
