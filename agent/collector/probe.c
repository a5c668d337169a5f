// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The 'probe' offset source: host TSC before and after an agent round trip that reads
 * the guest TSC; offset from the shortest round trip, error = half of it.
 */
#include <errno.h>
#include <json.h>
#include <string.h>
#include <x86intrin.h>

#include "collector.h"
#include "qga.h"
#include "util.h"

uint64_t coll_host_tsc(void)
{
	return __rdtsc();
}

int coll_probe_pick(const struct coll_probe_sample *s, size_t n, struct coll_probe *ret)
{
	size_t best = n;

	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < n; i++) {
		uint64_t rtt;

		if (s[i].host_after < s[i].host_before)
			continue;	/* TSC went backwards on the host: useless sample */
		rtt = s[i].host_after - s[i].host_before;
		if (!ret->samples || rtt < ret->rtt_min) {
			ret->rtt_min = rtt;
			best = i;
		}
		if (rtt > ret->rtt_max)
			ret->rtt_max = rtt;
		ret->samples++;
	}
	if (best == n)
		return vtc_err(EINVAL);
	/* the guest read its TSC somewhere inside [before, after] */
	ret->host_tsc = s[best].host_before + ret->rtt_min / 2;
	ret->offset = s[best].guest_tsc - ret->host_tsc;
	ret->error_ticks = (ret->rtt_min + 1) / 2;
	return 0;
}

/* {"guest_tsc":N} from the agent's stdout */
static int parse_tsc(const uint8_t *out, size_t len, uint64_t *ret)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o, *v;
	int r = -EBADMSG;

	if (!tok)
		return vtc_err(ENOMEM);
	o = json_tokener_parse_ex(tok, (const char *)out, (int)len);
	if (o && json_object_object_get_ex(o, "guest_tsc", &v) &&
	    json_object_is_type(v, json_type_int)) {
		*ret = json_object_get_uint64(v);
		r = 0;
	}
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

int coll_probe_run(virDomainPtr dom, const char *agent, unsigned rounds, struct coll_probe *ret,
		   struct vt_errbuf *eb)
{
	static const char *const args[] = { "tsc", NULL };
	struct coll_probe_sample s[32] = { 0 };
	size_t n = 0;
	int r = 0;

	if (rounds > 32)
		rounds = 32;
	for (unsigned i = 0; i < rounds; i++) {
		struct coll_exec_status st;
		uint64_t before = coll_host_tsc(), after;

		r = coll_exec_wait(dom, agent, args, 10000, &st, eb);
		after = coll_host_tsc();
		if (r < 0)
			break;
		if (st.exitcode != 0 || parse_tsc(st.out, st.out_len, &s[n].guest_tsc) < 0) {
			r = vtc_errf(eb, EBADMSG, "%s tsc: exit code %d, output '%.80s'", agent,
				     st.exitcode, st.out ? (const char *)st.out : "");
			coll_exec_status_fini(&st);
			break;
		}
		coll_exec_status_fini(&st);
		s[n].host_before = before;
		s[n].host_after = after;
		n++;
	}
	if (coll_probe_pick(s, n, ret) < 0)
		return r < 0 ? r : vtc_errf(eb, EINVAL, "probe: no usable round trip");
	return 0;
}
