// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the domain XML libvirt gives the hook on stdin: hook_domxml_parse (name,
 * uuid, type) and the <vt:trace> metadata applied onto the defaults
 * (vt_config_apply_domain). Invariants: bad metadata leaves the config as it was; what
 * is taken is in range.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "hook.h"
#include "vt/config.h"

static bool same(const struct vt_config *a, const struct vt_config *b)
{
	return !strcmp(a->host_events, b->host_events) &&
	       !strcmp(a->guest_events, b->guest_events) && a->host_buffer_kb == b->host_buffer_kb &&
	       a->guest_buffer_kb == b->guest_buffer_kb;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vt_config cfg, defaults;
	struct hook_domain dom;
	struct vt_errbuf eb;
	bool enabled = false;
	char *xml = malloc(size + 1);
	int r;

	FUZZ_CHECK(xml);
	memcpy(xml, data, size);
	xml[size] = '\0';	/* the hook reads stdin into a NUL-terminated buffer */
	r = hook_domxml_parse(xml, size, &dom, &eb);
	if (r == 0) {
		FUZZ_CHECK(strlen(dom.name) < sizeof(dom.name) && strlen(dom.uuid) < sizeof(dom.uuid) &&
			   strlen(dom.type) < sizeof(dom.type));
	} else {
		FUZZ_CHECK(eb.msg[0] != '\0');
	}

	FUZZ_CHECK(vt_config_defaults(&cfg) == 0 && vt_config_defaults(&defaults) == 0);
	r = vt_config_apply_domain(&cfg, r == 0 && dom.name[0] ? dom.name : "fuzz", xml, &enabled,
				   &eb);
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG && eb.msg[0] != '\0');
		FUZZ_CHECK(same(&cfg, &defaults));
	} else {
		FUZZ_CHECK(cfg.host_buffer_kb >= 4 && cfg.guest_buffer_kb >= 4);
	}
	vt_config_fini(&cfg);
	vt_config_fini(&defaults);
	free(xml);
	return 0;
}
