// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: virt-trace.conf (vt_config_load from a memfd). Invariants: a bad file
 * leaves exactly the defaults (never half a file), a good one only values in range.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "vt/config.h"

static struct vt_config defaults;

static bool same(const struct vt_config *a, const struct vt_config *b)
{
	if (a->ndomains != b->ndomains || strcmp(a->host_events, b->host_events) ||
	    strcmp(a->guest_events, b->guest_events) || a->host_buffer_kb != b->host_buffer_kb ||
	    a->tsc_buffer_kb != b->tsc_buffer_kb || a->guest_buffer_kb != b->guest_buffer_kb ||
	    a->poll_interval_ms != b->poll_interval_ms || a->spool_quota_mb != b->spool_quota_mb ||
	    a->retention_runs != b->retention_runs || a->strict != b->strict ||
	    a->agent_push != b->agent_push)
		return false;
	for (size_t i = 0; i < a->ndomains; i++)
		if (strcmp(a->domains[i], b->domains[i]))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_memfd_path(data, size);
	struct vt_config cfg;
	struct vt_errbuf eb;
	int r = vt_config_load(path, &cfg, &eb);

	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG && eb.msg[0] != '\0');
		FUZZ_CHECK(same(&cfg, &defaults));
	} else {
		FUZZ_CHECK(cfg.host_events && cfg.guest_events && cfg.domains);
		FUZZ_CHECK(cfg.host_buffer_kb >= 4 && cfg.tsc_buffer_kb >= 4 &&
			   cfg.guest_buffer_kb >= 4 && cfg.poll_interval_ms >= 100);
		for (size_t i = 0; i < cfg.ndomains; i++)
			FUZZ_CHECK(cfg.domains[i] && cfg.domains[i][0]);
	}
	vt_config_fini(&cfg);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_CHECK(vt_config_defaults(&defaults) == 0);
	return 0;
}
