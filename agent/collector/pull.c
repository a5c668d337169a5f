// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One collect from a guest that may be hostile: the agent's info becomes what a chunk
 * must match (boot, page size, CPUs, event ids), and every reply, file and page the
 * agent sends is checked against it before the collector keeps a byte of it.
 */
#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "collector.h"
#include "qga.h"
#include "util.h"
#include "vt/chunk.h"

#define CHUNK_PATH_PREFIX COLL_AGENT_DIR "/chunk-"
#define MAX_INFO_FORMATS 4096	/* guest.c's MAX_FORMATS */

static const char *const bad_names[COLL_BAD_N] = {
	[COLL_BAD_TIMEOUT] = "timeout",
	[COLL_BAD_REPLY_SIZE] = "reply_too_big",
	[COLL_BAD_REPLY] = "bad_reply",
	[COLL_BAD_TOO_BIG] = "too_big",
	[COLL_BAD_TRUNCATED] = "truncated",
	[COLL_BAD_HEADER] = "bad_header",
	[COLL_BAD_BOOT] = "wrong_boot",
	[COLL_BAD_PAGE_SIZE] = "page_size",
	[COLL_BAD_SEQ] = "replayed",
	[COLL_BAD_CPU] = "bad_cpu",
	[COLL_BAD_PAGE] = "bad_page",
	[COLL_BAD_EVENT] = "unknown_event",
	[COLL_BAD_QUOTA] = "over_quota",
};

const char *coll_bad_name(enum coll_bad b)
{
	return b >= 0 && b < COLL_BAD_N ? bad_names[b] : "none";
}

static void json_putp(struct json_object **o)
{
	json_object_put(*o);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* /proc/sys/kernel/random/boot_id: 8-4-4-4-12 lower-case hex digits */
bool coll_boot_id_ok(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

static bool uint_member(struct json_object *o, const char *key, uint64_t max, uint64_t *ret)
{
	struct json_object *v = get(o, key);
	int64_t n;

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max)
		return false;
	*ret = (uint64_t)n;
	return true;
}

/* "ID: N" of one format text into the bitmap */
static int format_id(struct json_object *e, uint8_t *ids)
{
	struct json_object *f = json_object_is_type(e, json_type_string) ? e : get(e, "format");
	const char *text, *p;
	uint64_t id;
	char num[8];
	size_t n;

	if (!f || !json_object_is_type(f, json_type_string))
		return vtc_err(EBADMSG);
	text = json_object_get_string(f);
	p = strncmp(text, "ID: ", 4) ? strstr(text, "\nID: ") : text - 1;
	if (!p)
		return vtc_err(EBADMSG);
	p += 5;
	n = strspn(p, "0123456789");
	if (!n || n >= sizeof(num))
		return vtc_err(EBADMSG);
	memcpy(num, p, n);
	num[n] = '\0';
	if (vtc_parse_u64(num, &id) < 0 || id >= VT_CHUNK_EVENT_IDS)
		return vtc_err(EBADMSG);
	ids[id / 8] |= (uint8_t)(1u << (id % 8));
	return 0;
}

static int info_formats(struct coll_session *s, struct json_object *info, struct vt_errbuf *eb)
{
	struct json_object *fm = get(info, "formats");
	static const char *const lists[] = { "ftrace", "events" };
	size_t total = 0;

	memset(s->event_ids, 0, sizeof(s->event_ids));
	if (!fm || !json_object_is_type(fm, json_type_object) || !get(fm, "header_page") ||
	    !json_object_is_type(get(fm, "header_page"), json_type_string))
		return vtc_errf(eb, EBADMSG, "agent info: no formats.header_page");
	for (size_t l = 0; l < 2; l++) {
		struct json_object *arr = get(fm, lists[l]);
		size_t n;

		if (!arr)
			continue;
		if (!json_object_is_type(arr, json_type_array))
			return vtc_errf(eb, EBADMSG, "agent info: formats.%s is not an array",
					lists[l]);
		n = json_object_array_length(arr);
		total += n;
		if (total > MAX_INFO_FORMATS)
			return vtc_errf(eb, EBADMSG, "agent info: more than %d formats",
					MAX_INFO_FORMATS);
		for (size_t i = 0; i < n; i++)
			if (format_id(json_object_array_get_idx(arr, i), s->event_ids) < 0)
				return vtc_errf(eb, EBADMSG, "agent info: formats.%s[%zu] has no "
							    "'ID: N' (N < 65536)", lists[l], i);
	}
	if (!total)
		return vtc_errf(eb, EBADMSG, "agent info: no event formats");
	return 0;
}

/* cpus[]: 1..VT_CHUNK_MAX_CPUS entries, "cpu" 0..n-1 each once, "apic_id" a u32 */
static int info_cpus(struct coll_session *s, struct json_object *info, struct vt_errbuf *eb)
{
	struct json_object *cpus = get(info, "cpus");
	uint8_t seen[VT_CHUNK_MAX_CPUS / 8] = { 0 };
	size_t n;

	if (!cpus || !json_object_is_type(cpus, json_type_array))
		return vtc_errf(eb, EBADMSG, "agent info: no cpus array");
	n = json_object_array_length(cpus);
	if (!n || n > VT_CHUNK_MAX_CPUS)
		return vtc_errf(eb, EBADMSG, "agent info: %zu CPUs (1..%u)", n, VT_CHUNK_MAX_CPUS);
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cpus, i);
		uint64_t cpu, apic;

		if (!uint_member(c, "cpu", n - 1, &cpu) || !uint_member(c, "apic_id", UINT32_MAX, &apic))
			return vtc_errf(eb, EBADMSG, "agent info: cpus[%zu]: cpu not in 0..%zu or no "
						    "apic_id", i, n - 1);
		if (seen[cpu / 8] & (1u << (cpu % 8)))
			return vtc_errf(eb, EBADMSG, "agent info: CPU %" PRIu64 " listed twice", cpu);
		seen[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
	}
	s->ncpus = (uint32_t)n;
	return 0;
}

int coll_session_from_info(struct coll_session *s, struct json_object *info, struct vt_errbuf *eb)
{
	const char *boot_id = json_object_get_string(get(info, "boot_id"));
	uint64_t page_size, long_size;
	int r;

	if (!info || !json_object_is_type(info, json_type_object))
		return vtc_errf(eb, EBADMSG, "agent info: not a JSON object");
	if (!json_object_is_type(get(info, "boot_id"), json_type_string) || !coll_boot_id_ok(boot_id))
		return vtc_errf(eb, EBADMSG, "agent info: boot_id '%.40s' is not a boot id",
				boot_id ? boot_id : "");
	if (!uint_member(info, "page_size", 1u << 20, &page_size) || page_size < 4096 ||
	    (page_size & (page_size - 1)))
		return vtc_errf(eb, EBADMSG, "agent info: page_size not a power of two in "
					    "4096..1048576");
	if (!uint_member(info, "long_size", 8, &long_size) || (long_size != 4 && long_size != 8))
		return vtc_errf(eb, EBADMSG, "agent info: long_size is neither 4 nor 8");
	r = info_cpus(s, info, eb);
	if (!r)
		r = info_formats(s, info, eb);
	if (r < 0)
		return r;
	snprintf(s->boot_id, sizeof(s->boot_id), "%s", boot_id);
	s->page_size = (uint32_t)page_size;
	s->long_size = (unsigned)long_size;
	coll_session_restart(s);
	return 0;
}

void coll_session_restart(struct coll_session *s)
{
	s->next_seq = 0;
	memset(s->last_ts, 0, sizeof(s->last_ts));
	s->pending[0] = '\0';	/* the new agent starts an empty directory */
}

/* a failed agent call as a reason: the guest's fault, or not (COLL_BAD_N) */
static enum coll_bad call_reason(int r)
{
	switch (r) {
	case -ETIMEDOUT:
		return COLL_BAD_TIMEOUT;
	case -EMSGSIZE:
		return COLL_BAD_REPLY_SIZE;
	case -EBADMSG:
	case -EREMOTEIO:	/* qemu-ga's error reply, or libvirt's */
		return COLL_BAD_REPLY;
	case -ECONNRESET:	/* libvirtd restarted: not the guest's fault, the collector reconnects */
	default:
		return COLL_BAD_N;	/* qemu-ga or the domain gone: set up again */
	}
}

static int bad(enum coll_bad *ret, enum coll_bad why, int r)
{
	*ret = why;
	return r;
}

/* the agent's collect/stop reply: path and bytes of its chunk (path NULL: none), more */
static int read_reply(struct json_object *out, const struct coll_session *s, const char **path,
		      uint64_t *bytes, bool *more, enum coll_bad *why, struct vt_errbuf *eb)
{
	struct json_object *p = get(out, "path"), *m = get(out, "more"), *id = get(out, "boot_id");
	const char *boot_id = json_object_get_string(id);

	*path = NULL;
	*bytes = 0;
	if (id && (!json_object_is_type(id, json_type_string) || !coll_boot_id_ok(boot_id)))
		return bad(why, COLL_BAD_REPLY, vtc_errf(eb, EBADMSG, "agent reply: boot_id "
								       "'%.40s' is not a boot id",
							 boot_id ? boot_id : ""));
	if (id && strcmp(boot_id, s->boot_id))	/* a new guest boot: set up again */
		return vtc_errf(eb, ESTALE, "agent reports boot %s, recording boot %s", boot_id,
				s->boot_id);
	if ((m && !json_object_is_type(m, json_type_boolean)) ||
	    (p && !json_object_is_type(p, json_type_string)))
		return bad(why, COLL_BAD_REPLY, vtc_errf(eb, EBADMSG, "agent reply: 'path' or "
								       "'more' of the wrong type"));
	*more = m && json_object_get_boolean(m);
	if (!p)
		return 0;
	if (!get(out, "bytes") || !json_object_is_type(get(out, "bytes"), json_type_int) ||
	    json_object_get_int64(get(out, "bytes")) < 0)
		return bad(why, COLL_BAD_REPLY, vtc_errf(eb, EBADMSG, "agent reply: a path "
								       "without bytes"));
	*path = json_object_get_string(p);
	/* only the agent's own chunk files are read, and deleted, in the guest */
	if (strncmp(*path, CHUNK_PATH_PREFIX, strlen(CHUNK_PATH_PREFIX)) ||
	    strstr(*path, "/..") || strlen(*path) > COLL_CHUNK_PATH_MAX)
		return bad(why, COLL_BAD_REPLY, vtc_errf(eb, EBADMSG, "agent reply: chunk path "
								       "'%.80s' outside %s",
							 *path, COLL_AGENT_DIR));
	*bytes = (uint64_t)json_object_get_int64(get(out, "bytes"));
	return 0;
}

static enum coll_bad check_reason(enum vt_chunk_bad b)
{
	switch (b) {
	case VT_CHUNK_BAD_BOOT:
		return COLL_BAD_BOOT;
	case VT_CHUNK_BAD_PAGE_SIZE:
		return COLL_BAD_PAGE_SIZE;
	case VT_CHUNK_BAD_SEQ:
		return COLL_BAD_SEQ;
	case VT_CHUNK_BAD_CPU:
		return COLL_BAD_CPU;
	case VT_CHUNK_BAD_EVENT:
		return COLL_BAD_EVENT;
	default:
		return COLL_BAD_PAGE;
	}
}

/* the chunk file of @bytes at @path, read, parsed and checked against @s */
static int take_file(virDomainPtr dom, const char *path, uint64_t bytes, struct coll_session *s,
		     struct vt_chunk *ch, uint8_t **buf, size_t *len, enum coll_bad *why,
		     struct vt_errbuf *eb)
{
	struct vt_chunk_expect x = { .boot_id = s->boot_id, .page_size = s->page_size,
				     .long_size = s->long_size, .ncpus = s->ncpus,
				     .event_ids = s->event_ids, .min_seq = s->next_seq };
	struct vt_chunk_stats st = { 0 };
	enum vt_chunk_bad cb;
	int r;

	if (bytes > VT_CHUNK_MAX_BYTES)
		return bad(why, COLL_BAD_TOO_BIG, vtc_errf(eb, EFBIG, "chunk of %" PRIu64 " bytes "
								        "refused (at most %u)",
							   bytes, VT_CHUNK_MAX_BYTES));
	r = coll_file_read_all(dom, path, VT_CHUNK_MAX_BYTES, buf, len, eb);
	if (r == -EFBIG)
		return bad(why, COLL_BAD_TOO_BIG, r);
	if (r < 0)	/* a file that is not there, or unreadable: the reply was wrong */
		return bad(why, call_reason(r), r);
	if (*len < bytes)
		return bad(why, COLL_BAD_TRUNCATED, vtc_errf(eb, EBADMSG, "chunk %s: %zu bytes, "
									  "the agent said %" PRIu64,
							     path, *len, bytes));
	if (*len > bytes)
		return bad(why, COLL_BAD_TOO_BIG, vtc_errf(eb, EBADMSG, "chunk %s: %zu bytes, the "
									"agent said %" PRIu64,
							   path, *len, bytes));
	r = vt_chunk_parse(*buf, *len, ch, eb);
	if (r < 0)
		return bad(why, COLL_BAD_HEADER, r);
	r = vt_chunk_check(ch, &x, s->last_ts, &st, &cb, eb);
	if (r < 0)
		return bad(why, check_reason(cb), r);
	s->next_seq = ch->seq + 1;
	s->stats.pages += st.pages;
	s->stats.empty_pages += st.empty_pages;
	s->stats.events += st.events;
	s->stats.ts_backwards += st.ts_backwards;
	s->stats.ts_after_cut += st.ts_after_cut;
	return 1;
}

/*
 * take the chunk at @path: read and check it, then delete it in the guest. When the
 * libvirt connection is lost on the way, the chunk (or only its deletion) is left for the
 * next pull in s->pending.
 */
static int take_and_delete(virDomainPtr dom, const char *path, uint64_t bytes,
			   struct coll_session *s, struct vt_chunk *ch, uint8_t **buf, size_t *len,
			   enum coll_bad *why, struct vt_errbuf *eb)
{
	int r = take_file(dom, path, bytes, s, ch, buf, len, why, eb), d;

	if (r == -ECONNRESET) {
		snprintf(s->pending, sizeof(s->pending), "%s", path);
		s->pending_bytes = bytes;
		s->pending_taken = false;
		return r;
	}
	/* a dropped chunk goes too: the agent never cuts it again */
	d = coll_file_delete(dom, path, NULL);
	if (d == -ECONNRESET) {
		snprintf(s->pending, sizeof(s->pending), "%s", path);
		s->pending_taken = true;
	}
	if (r < 0) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return r;
}

/* the chunk a lost connection left: read (with more to come) or deleted */
static int take_pending(virDomainPtr dom, struct coll_session *s, struct vt_chunk *ch,
			uint8_t **buf, size_t *len, bool *more, enum coll_bad *why,
			struct vt_errbuf *eb)
{
	char path[sizeof(s->pending)];
	int r;

	memcpy(path, s->pending, sizeof(path));
	s->pending[0] = '\0';
	if (s->pending_taken) {
		r = coll_file_delete(dom, path, NULL);
		if (r == -ECONNRESET) {
			memcpy(s->pending, path, sizeof(path));
			return r;
		}
		return 0;
	}
	*more = true;
	return take_and_delete(dom, path, s->pending_bytes, s, ch, buf, len, why, eb);
}

int coll_pull(virDomainPtr dom, const char *agent, const char *verb, int timeout_ms,
	      struct coll_session *s, struct vt_chunk *ch, uint8_t **buf, size_t *len, bool *more,
	      enum coll_bad *why, struct vt_errbuf *eb)
{
	const char *args[] = { verb, NULL };
	struct json_object *out __attribute__((cleanup(json_putp))) = NULL;
	struct coll_exec_status st;
	const char *path;
	uint64_t bytes;
	int r;

	*why = COLL_BAD_N;
	*buf = NULL;
	*len = 0;
	*more = false;
	if (s->pending[0]) {
		bool taken = s->pending_taken;

		r = take_pending(dom, s, ch, buf, len, more, why, eb);
		if (r != 0 || !taken)
			return r;
	}
	r = coll_exec_wait(dom, agent, args, timeout_ms, &st, eb);
	if (r < 0)
		return bad(why, call_reason(r), r);
	if (st.exitcode != 0) {
		if (st.err)
			st.err[strcspn(st.err, "\n")] = '\0';
		r = vtc_errf(eb, EIO, "virt-trace-agent %s: exit code %d: %.200s", verb,
			     st.exitcode, st.err && *st.err ? st.err : "");
	} else if (coll_parse_json(st.out, st.out_len, &out) < 0) {
		r = bad(why, COLL_BAD_REPLY, vtc_errf(eb, EBADMSG, "virt-trace-agent %s: output "
								     "is not a JSON object", verb));
	}
	coll_exec_status_fini(&st);
	if (r < 0)
		return r;
	r = read_reply(out, s, &path, &bytes, more, why, eb);
	if (r < 0 || !path)
		return r;
	return take_and_delete(dom, path, bytes, s, ch, buf, len, why, eb);
}

int coll_parse_json(const uint8_t *buf, size_t len, struct json_object **ret)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t end;

	*ret = NULL;
	if (!buf || len > INT_MAX)
		return vtc_err(EBADMSG);
	tok = json_tokener_new();
	if (!tok)
		return vtc_err(ENOMEM);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (o && end < len && strchr(" \t\r\n", buf[end]) && buf[end])
		end++;
	if (!o || !json_object_is_type(o, json_type_object) || end < len) {
		json_object_put(o);
		return vtc_err(EBADMSG);
	}
	*ret = o;
	return 0;
}
