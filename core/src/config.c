// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Configuration: defaults, virt-trace.conf (JSON) and the per-domain <vt:trace> metadata.
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"
#include "xmlutil.h"
#include "vt/config.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define EVENTS_MAX_LEN 4096
#define PATTERN_MAX_LEN 256
#define PATH_MAX_LEN 4096
#define BUFFER_KB_MIN 4
#define BUFFER_KB_MAX (1024 * 1024)

/* ---- defaults, copy, free ---- */

int vt_config_defaults(struct vt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->domains = calloc(1, sizeof(*cfg->domains));
	if (cfg->domains)
		cfg->domains[0] = strdup("*");
	cfg->ndomains = 1;
	cfg->host_events = strdup("kvm:kvm_entry,kvm:kvm_exit,sched:sched_switch");
	cfg->guest_events = strdup("sched:sched_switch");
	cfg->host_buffer_kb = 8192;
	cfg->tsc_buffer_kb = 1024;
	cfg->guest_buffer_kb = 8192;
	cfg->poll_interval_ms = 2000;
	cfg->spool_quota_mb = 4096;
	cfg->retention_runs = 10;
	cfg->strict = false;
	cfg->agent_push = true;
	if (!cfg->domains || !cfg->domains[0] || !cfg->host_events || !cfg->guest_events) {
		vt_config_fini(cfg);
		return vtc_err(ENOMEM);
	}
	return 0;
}

static void free_patterns(char **patterns, size_t n)
{
	for (size_t i = 0; patterns && i < n; i++)
		free(patterns[i]);
	free(patterns);
}

void vt_config_fini(struct vt_config *cfg)
{
	if (!cfg)
		return;
	free_patterns(cfg->domains, cfg->ndomains);
	free(cfg->host_events);
	free(cfg->guest_events);
	free(cfg->agent_binary);
	memset(cfg, 0, sizeof(*cfg));
}

static char **copy_patterns(char *const *src, size_t n)
{
	char **dst = calloc(n ? n : 1, sizeof(*dst));

	if (!dst)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		dst[i] = strdup(src[i]);
		if (!dst[i]) {
			free_patterns(dst, i);
			return NULL;
		}
	}
	return dst;
}

static int config_copy(struct vt_config *dst, const struct vt_config *src)
{
	*dst = *src;
	dst->domains = copy_patterns(src->domains, src->ndomains);
	dst->host_events = src->host_events ? strdup(src->host_events) : NULL;
	dst->guest_events = src->guest_events ? strdup(src->guest_events) : NULL;
	dst->agent_binary = src->agent_binary ? strdup(src->agent_binary) : NULL;
	if (!dst->domains || (src->host_events && !dst->host_events) ||
	    (src->guest_events && !dst->guest_events) ||
	    (src->agent_binary && !dst->agent_binary)) {
		vt_config_fini(dst);
		return vtc_err(ENOMEM);
	}
	return 0;
}

/* move @src into @dst (whose old contents are freed) */
static void config_move(struct vt_config *dst, struct vt_config *src)
{
	vt_config_fini(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

static void config_finip(struct vt_config *cfg)
{
	vt_config_fini(cfg);
}

#define _cleanup_config_ _cleanup_(config_finip)

/* ---- value checks shared by the file and the metadata ---- */

static bool event_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_-*?[]!.", c);
}

/*
 * A comma list of "system[:event]" globs ("" = no events): every item non-empty, one
 * colon at most, glob characters only. Returns 0 or -EBADMSG with the bad item in @why.
 */
static int check_events(const char *list, char *why, size_t why_len)
{
	const char *p = list;

	if (strlen(list) > EVENTS_MAX_LEN) {
		snprintf(why, why_len, "longer than %d bytes", EVENTS_MAX_LEN);
		return vtc_err(EBADMSG);
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 0;
	for (;;) {
		const char *start = p, *end;
		unsigned colons = 0;
		bool bad = false;

		while (*p && *p != ',')
			p++;
		end = p;
		while (start < end && (*start == ' ' || *start == '\t'))
			start++;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		for (const char *c = start; c < end; c++) {
			if (*c == ':')
				colons++;
			else if (!event_char(*c))
				bad = true;
		}
		if (start == end || bad || colons > 1 || *start == ':' ||
		    (colons && end[-1] == ':')) {
			snprintf(why, why_len,
				 "bad event '%.*s' (want system:event, globs allowed)",
				 (int)(end - start > 64 ? 64 : end - start), start);
			return vtc_err(EBADMSG);
		}
		if (!*p)
			return 0;
		p++;
	}
}

static int check_range(uint64_t v, uint64_t min, uint64_t max, const char *s, char *why,
		       size_t why_len)
{
	if (v >= min && v <= max)
		return 0;
	snprintf(why, why_len, "'%.32s' is out of range %" PRIu64 "..%" PRIu64, s, min, max);
	return vtc_err(EBADMSG);
}

/* ---- the JSON file ---- */

enum key_type {
	KEY_PATTERNS,
	KEY_EVENTS,
	KEY_UINT,
	KEY_U64,
	KEY_BOOL,
	KEY_PATH,
};

struct key {
	const char *name;
	enum key_type type;
	size_t offset;
	uint64_t min, max;
};

#define K(n, t, lo, hi)                                                                            \
	{                                                                                          \
#n, t, offsetof(struct vt_config, n), lo, hi                                       \
	}
static const struct key keys[] = {
    K(domains, KEY_PATTERNS, 0, 0),
    K(host_events, KEY_EVENTS, 0, 0),
    K(guest_events, KEY_EVENTS, 0, 0),
    K(host_buffer_kb, KEY_UINT, BUFFER_KB_MIN, BUFFER_KB_MAX),
    K(tsc_buffer_kb, KEY_UINT, BUFFER_KB_MIN, BUFFER_KB_MAX),
    K(guest_buffer_kb, KEY_UINT, BUFFER_KB_MIN, BUFFER_KB_MAX),
    K(poll_interval_ms, KEY_UINT, 100, 600000),
    K(spool_quota_mb, KEY_U64, 1, UINT64_C(16) * 1024 * 1024),
    K(retention_runs, KEY_UINT, 0, 100000),
    K(strict, KEY_BOOL, 0, 0),
    K(agent_push, KEY_BOOL, 0, 0),
    K(agent_binary, KEY_PATH, 0, 0),
};
#undef K

static int set_patterns(struct vt_config *cfg, struct json_object *val, char *why, size_t why_len)
{
	size_t n;
	char **patterns;

	if (!json_object_is_type(val, json_type_array)) {
		snprintf(why, why_len, "expected an array of domain name patterns");
		return vtc_err(EBADMSG);
	}
	n = json_object_array_length(val);
	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(val, i);
		const char *s;

		if (!json_object_is_type(item, json_type_string)) {
			snprintf(why, why_len, "item %zu is not a string", i);
			return vtc_err(EBADMSG);
		}
		s = json_object_get_string(item);
		if (!*s || strlen(s) > PATTERN_MAX_LEN) {
			snprintf(why, why_len, "item %zu: a pattern has 1..%d bytes", i,
				 PATTERN_MAX_LEN);
			return vtc_err(EBADMSG);
		}
	}
	patterns = calloc(n ? n : 1, sizeof(*patterns));
	if (!patterns)
		return vtc_err(ENOMEM);
	for (size_t i = 0; i < n; i++) {
		patterns[i] = strdup(json_object_get_string(json_object_array_get_idx(val, i)));
		if (!patterns[i]) {
			free_patterns(patterns, i);
			return vtc_err(ENOMEM);
		}
	}
	free_patterns(cfg->domains, cfg->ndomains);
	cfg->domains = patterns;
	cfg->ndomains = n;
	return 0;
}

/* a string, or an array of strings joined with "," */
static int set_events(char **dst, struct json_object *val, char *why, size_t why_len)
{
	_cleanup_free_ char *list = NULL;
	int r;

	if (json_object_is_type(val, json_type_string)) {
		list = strdup(json_object_get_string(val));
		if (!list)
			return vtc_err(ENOMEM);
	} else if (json_object_is_type(val, json_type_array)) {
		size_t n = json_object_array_length(val), len = 0;

		for (size_t i = 0; i < n; i++) {
			struct json_object *item = json_object_array_get_idx(val, i);

			if (!json_object_is_type(item, json_type_string)) {
				snprintf(why, why_len, "item %zu is not a string", i);
				return vtc_err(EBADMSG);
			}
			len += strlen(json_object_get_string(item)) + 1;
		}
		list = calloc(1, len + 1);
		if (!list)
			return vtc_err(ENOMEM);
		for (size_t i = 0; i < n; i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(val, i));

			if (!*s) {
				snprintf(why, why_len, "item %zu is empty", i);
				return vtc_err(EBADMSG);
			}
			if (i)
				strcat(list, ",");
			strcat(list, s);
		}
	} else {
		snprintf(why, why_len, "expected a string \"sys:event,...\" or an array of them");
		return vtc_err(EBADMSG);
	}
	r = check_events(list, why, why_len);
	if (r < 0)
		return r;
	free(*dst);
	*dst = TAKE_PTR(list);
	return 0;
}

static int set_key(struct vt_config *cfg, const struct key *k, struct json_object *val, char *why,
		   size_t why_len)
{
	void *field = (char *)cfg + k->offset;
	int64_t v;
	char num[32];
	int r;

	switch (k->type) {
	case KEY_PATTERNS:
		return set_patterns(cfg, val, why, why_len);
	case KEY_EVENTS:
		return set_events(field, val, why, why_len);
	case KEY_PATH:
		if (!json_object_is_type(val, json_type_string) ||
		    json_object_get_string(val)[0] != '/' ||
		    strlen(json_object_get_string(val)) >= PATH_MAX_LEN) {
			snprintf(why, why_len, "expected an absolute path of less than %d bytes",
				 PATH_MAX_LEN);
			return vtc_err(EBADMSG);
		}
		free(*(char **)field);
		*(char **)field = strdup(json_object_get_string(val));
		return *(char **)field ? 0 : vtc_err(ENOMEM);
	case KEY_BOOL:
		if (!json_object_is_type(val, json_type_boolean)) {
			snprintf(why, why_len, "expected true or false");
			return vtc_err(EBADMSG);
		}
		*(bool *)field = json_object_get_boolean(val);
		return 0;
	case KEY_UINT:
	case KEY_U64:
		if (!json_object_is_type(val, json_type_int)) {
			snprintf(why, why_len, "expected an integer in %" PRIu64 "..%" PRIu64,
				 k->min, k->max);
			return vtc_err(EBADMSG);
		}
		/* saturates at INT64_MAX, which is out of every range */
		v = json_object_get_int64(val);
		snprintf(num, sizeof(num), "%" PRId64, v);
		if (v < 0) {
			snprintf(why, why_len, "'%s' is out of range %" PRIu64 "..%" PRIu64, num,
				 k->min, k->max);
			return vtc_err(EBADMSG);
		}
		r = check_range((uint64_t)v, k->min, k->max, num, why, why_len);
		if (r < 0)
			return r;
		if (k->type == KEY_UINT)
			*(unsigned *)field = (unsigned)v;
		else
			*(uint64_t *)field = (uint64_t)v;
		return 0;
	}
	return vtc_err(EINVAL);
}

/* line:column of byte @off in @text (1-based) */
static void text_position(const char *text, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static bool only_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]))
			return false;
	return true;
}

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static void tokener_freep(struct json_tokener **t)
{
	if (*t)
		json_tokener_free(*t);
}

/* parse @text (@len bytes, from @path) onto @cfg */
static int apply_json(struct vt_config *cfg, const char *path, const char *text, size_t len,
		      struct vt_errbuf *eb)
{
	_cleanup_(tokener_freep) struct json_tokener *tok = NULL;
	_cleanup_(json_putp) struct json_object *root = NULL;
	unsigned line, col;
	size_t end;

	if (only_space(text, len))
		return 0;
	if (strlen(text) != len)
		return vtc_errf(eb, EBADMSG, "%s: NUL byte in the file", path);
	tok = json_tokener_new();
	if (!tok)
		return vtc_err(ENOMEM);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	/* with its NUL: a bare literal at the end of the file is complete */
	root = json_tokener_parse_ex(tok, text, (int)len + 1);
	end = json_tokener_get_parse_end(tok);
	if (end > len)
		end = len;
	if (!root) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		text_position(text, end, &line, &col);
		if (e == json_tokener_continue)
			return vtc_errf(eb, EBADMSG, "%s:%u:%u: unexpected end of file", path, line,
					col);
		if (e == json_tokener_success) /* a bare 'null' */
			return vtc_errf(eb, EBADMSG, "%s: the top level must be an object", path);
		return vtc_errf(eb, EBADMSG, "%s:%u:%u: %s", path, line, col,
				json_tokener_error_desc(e));
	}
	if (!only_space(text + end, len - end)) {
		text_position(text, end, &line, &col);
		return vtc_errf(eb, EBADMSG, "%s:%u:%u: text after the JSON object", path, line,
				col);
	}
	if (!json_object_is_type(root, json_type_object))
		return vtc_errf(eb, EBADMSG, "%s: the top level must be an object", path);

	json_object_object_foreach(root, name, val)
	{
		const struct key *k = NULL;
		char why[200];
		int r;

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(keys[i].name, name))
				k = &keys[i];
		if (!k)
			return vtc_errf(eb, EBADMSG, "%s: unknown key '%.64s'", path, name);
		why[0] = '\0';
		r = set_key(cfg, k, val, why, sizeof(why));
		if (r == -ENOMEM)
			return vtc_errf(eb, r, "%s: out of memory", path);
		if (r < 0)
			return vtc_errf(eb, r, "%s: key '%s': %s", path, name, why);
	}
	return 0;
}

int vt_config_load(const char *path, struct vt_config *cfg, struct vt_errbuf *eb)
{
	_cleanup_config_ struct vt_config tmp = {0};
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	if (!path) {
		path = getenv("VT_CONFIG");
		if (!path || !*path)
			path = VT_CONFIG_PATH;
	}
	r = vt_config_defaults(cfg);
	if (r < 0)
		return vtc_errf(eb, r, "%s: out of memory", path);
	r = vtc_read_file(path, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return vtc_errf(eb, r, "%s: cannot read: %s", path, strerror(-r));
	if (len > CONFIG_MAX_BYTES)
		return vtc_errf(eb, EBADMSG, "%s: larger than %d bytes", path, CONFIG_MAX_BYTES);
	r = config_copy(&tmp, cfg);
	if (r < 0)
		return vtc_errf(eb, r, "%s: out of memory", path);
	r = apply_json(&tmp, path, text, len, eb);
	if (r < 0)
		return r;
	config_move(cfg, &tmp);
	return 0;
}

/* ---- the <vt:trace> metadata ---- */

static bool is_ours(const xmlNode *node)
{
	return node->ns && node->ns->href && !strcmp((const char *)node->ns->href, VT_META_NS);
}

static bool named(const xmlNode *node, const char *name)
{
	return node->type == XML_ELEMENT_NODE && !strcmp((const char *)node->name, name);
}

/* the <vt:trace> element: @root itself, or in a <metadata> child of @root; NULL if none */
static int find_trace(xmlNode *root, xmlNode **ret, struct vt_errbuf *eb)
{
	xmlNode *found = NULL;

	if (is_ours(root) && named(root, "trace")) {
		*ret = root;
		return 0;
	}
	if (is_ours(root))
		return vtc_errf(eb, EBADMSG, "metadata: unknown element <%.32s> in %s",
				(const char *)root->name, VT_META_NS);
	for (xmlNode *md = named(root, "metadata") ? root : root->children; md;
	     md = md == root ? NULL : md->next) {
		if (!named(md, "metadata") || md->ns)
			continue;
		for (xmlNode *n = md->children; n; n = n->next) {
			if (n->type != XML_ELEMENT_NODE || !is_ours(n))
				continue;
			if (!named(n, "trace"))
				return vtc_errf(eb, EBADMSG,
						"metadata: unknown element <%.32s> in %s",
						(const char *)n->name, VT_META_NS);
			if (found)
				return vtc_errf(eb, EBADMSG,
						"metadata: more than one <trace> in %s",
						VT_META_NS);
			found = n;
		}
	}
	*ret = found;
	return 0;
}

/* attributes without a namespace or in ours */
static bool attr_is(const xmlAttr *a, const char *name)
{
	return (!a->ns || (a->ns->href && !strcmp((const char *)a->ns->href, VT_META_NS))) &&
	       !strcmp((const char *)a->name, name);
}

static int attr_value(xmlNode *node, xmlAttr *a, xmlChar **ret)
{
	*ret = xmlNodeListGetString(node->doc, a->children, 1);
	if (!*ret)
		*ret = xmlStrdup((const xmlChar *)"");
	return *ret ? 0 : vtc_err(ENOMEM);
}

/* <vt:host> or <vt:guest>: events="..." buffer-kb="N" */
static int apply_side(xmlNode *node, char **events, unsigned *buffer_kb, struct vt_errbuf *eb)
{
	const char *side = (const char *)node->name;

	for (xmlAttr *a = node->properties; a; a = a->next) {
		_cleanup_(vtc_xml_charp) xmlChar *value = NULL;
		char why[160];
		int r = attr_value(node, a, &value);

		if (r < 0)
			return r;
		if (attr_is(a, "events")) {
			char *copy;

			r = check_events((const char *)value, why, sizeof(why));
			if (r < 0)
				return vtc_errf(eb, r, "metadata: <%s events>: %s", side, why);
			copy = strdup((const char *)value);
			if (!copy)
				return vtc_err(ENOMEM);
			free(*events);
			*events = copy;
		} else if (attr_is(a, "buffer-kb")) {
			uint64_t kb;

			if (vtc_parse_u64((const char *)value, &kb) < 0)
				return vtc_errf(eb, EBADMSG,
						"metadata: <%s buffer-kb>: '%.32s' is not a number",
						side, (const char *)value);
			r = check_range(kb, BUFFER_KB_MIN, BUFFER_KB_MAX, (const char *)value, why,
					sizeof(why));
			if (r < 0)
				return vtc_errf(eb, r, "metadata: <%s buffer-kb>: %s", side, why);
			*buffer_kb = (unsigned)kb;
		} else {
			return vtc_errf(eb, EBADMSG, "metadata: <%s>: unknown attribute '%.32s'",
					side, (const char *)a->name);
		}
	}
	return 0;
}

/* apply <vt:trace> onto @cfg; *meta_enabled: -1 unset, 0 no, 1 yes */
static int apply_trace(struct vt_config *cfg, xmlNode *trace, int *meta_enabled,
		       struct vt_errbuf *eb)
{
	bool seen_host = false, seen_guest = false;
	int r;

	*meta_enabled = -1;
	for (xmlAttr *a = trace->properties; a; a = a->next) {
		_cleanup_(vtc_xml_charp) xmlChar *value = NULL;

		r = attr_value(trace, a, &value);
		if (r < 0)
			return r;
		if (!attr_is(a, "enabled"))
			return vtc_errf(eb, EBADMSG, "metadata: <trace>: unknown attribute '%.32s'",
					(const char *)a->name);
		if (!strcmp((const char *)value, "yes"))
			*meta_enabled = 1;
		else if (!strcmp((const char *)value, "no"))
			*meta_enabled = 0;
		else
			return vtc_errf(eb, EBADMSG,
					"metadata: <trace enabled>: '%.32s' is not yes or no",
					(const char *)value);
	}
	for (xmlNode *n = trace->children; n; n = n->next) {
		bool *seen;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		/* unqualified children (hand-written XML) mean ours too */
		if (n->ns && !is_ours(n))
			return vtc_errf(eb, EBADMSG,
					"metadata: <trace>: element <%.32s> is not in %s",
					(const char *)n->name, VT_META_NS);
		if (named(n, "host"))
			seen = &seen_host;
		else if (named(n, "guest"))
			seen = &seen_guest;
		else
			return vtc_errf(eb, EBADMSG, "metadata: <trace>: unknown element <%.32s>",
					(const char *)n->name);
		if (*seen)
			return vtc_errf(eb, EBADMSG, "metadata: <trace>: more than one <%s>",
					(const char *)n->name);
		*seen = true;
		if (seen == &seen_host)
			r = apply_side(n, &cfg->host_events, &cfg->host_buffer_kb, eb);
		else
			r = apply_side(n, &cfg->guest_events, &cfg->guest_buffer_kb, eb);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool domain_matches(const struct vt_config *cfg, const char *domain)
{
	for (size_t i = 0; i < cfg->ndomains; i++)
		if (cfg->domains[i] && !fnmatch(cfg->domains[i], domain, 0))
			return true;
	return false;
}

/* one line from libxml2's last error: "line N: message" */
static int xml_error(struct vt_errbuf *eb)
{
	const xmlError *e = xmlGetLastError();
	char msg[200] = "not well-formed";

	if (e && e->message) {
		size_t l;

		snprintf(msg, sizeof(msg), "%s", e->message);
		l = strlen(msg);
		while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
			msg[--l] = '\0';
	}
	if (e && e->line > 0)
		return vtc_errf(eb, EBADMSG, "domain XML: line %d: %s", e->line, msg);
	return vtc_errf(eb, EBADMSG, "domain XML: %s", msg);
}

int vt_config_apply_domain(struct vt_config *cfg, const char *domain, const char *domain_xml,
			   bool *enabled, struct vt_errbuf *eb)
{
	_cleanup_config_ struct vt_config tmp = {0};
	_cleanup_(vtc_xml_docp) xmlDocPtr doc = NULL;
	xmlNode *root, *trace = NULL;
	bool matched;
	int meta_enabled = -1, r;
	size_t len;

	matched = domain && domain_matches(cfg, domain);
	*enabled = matched;
	if (!domain_xml)
		return 0;
	len = strlen(domain_xml);
	if (len > INT32_MAX)
		return vtc_errf(eb, EBADMSG, "domain XML: too large");
	xmlResetLastError();
	doc = xmlReadMemory(domain_xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return xml_error(eb);
	root = xmlDocGetRootElement(doc);
	if (!root)
		return vtc_errf(eb, EBADMSG, "domain XML: no root element");
	r = find_trace(root, &trace, eb);
	if (r < 0)
		return r;
	if (!trace)
		return 0;
	r = config_copy(&tmp, cfg);
	if (r < 0)
		return vtc_errf(eb, r, "metadata: out of memory");
	r = apply_trace(&tmp, trace, &meta_enabled, eb);
	if (r == -ENOMEM)
		return vtc_errf(eb, r, "metadata: out of memory");
	if (r < 0)
		return r;
	config_move(cfg, &tmp);
	*enabled = meta_enabled == 1 || (meta_enabled == -1 && matched);
	return 0;
}
