// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The domain XML on the hook's stdin (libxml2): name, uuid, type; and the decision
 * whether the domain is traced (config file + <vt:trace> metadata).
 */
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "cleanup.h"
#include "hook.h"
#include "util.h"
#include "xmlutil.h"

static bool is(const xmlNode *node, const char *name)
{
	return node->type == XML_ELEMENT_NODE && !node->ns &&
	       !strcmp((const char *)node->name, name);
}

static bool uuid_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == '-';
}

static bool type_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* the text of @node's first child element @name into @out; -EBADMSG when bad */
static int child_text(xmlNode *node, const char *name, bool (*ok)(char), char *out, size_t len,
		      struct vt_errbuf *eb)
{
	out[0] = '\0';
	for (xmlNode *n = node->children; n; n = n->next) {
		_cleanup_(vtc_xml_charp) xmlChar *text = NULL;
		size_t l;

		if (!is(n, name))
			continue;
		text = xmlNodeGetContent(n);
		if (!text)
			return vtc_errf(eb, ENOMEM, "domain XML: out of memory");
		l = strlen((const char *)text);
		if (!l || l >= len)
			return vtc_errf(eb, EBADMSG, "domain XML: <%s> is empty or too long", name);
		for (size_t i = 0; ok && i < l; i++)
			if (!ok((char)text[i]))
				return vtc_errf(eb, EBADMSG,
						"domain XML: <%s> '%.64s' is malformed", name,
						(const char *)text);
		memcpy(out, text, l + 1);
		return 0;
	}
	return 0;
}

int hook_domxml_parse(const char *xml, size_t len, struct hook_domain *ret, struct vt_errbuf *eb)
{
	_cleanup_(vtc_xml_docp) xmlDocPtr doc = NULL;
	_cleanup_(vtc_xml_charp) xmlChar *type = NULL;
	struct hook_domain dom = {0};
	xmlNode *root;
	int r;

	if (!xml || !len)
		return vtc_errf(eb, EBADMSG, "domain XML: empty input");
	if (len > INT32_MAX || strlen(xml) != len)
		return vtc_errf(eb, EBADMSG, "domain XML: NUL byte or too large");
	xmlResetLastError();
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		char msg[200] = "not well-formed";

		if (e && e->message) {
			snprintf(msg, sizeof(msg), "%s", e->message);
			msg[strcspn(msg, "\n")] = '\0';
		}
		return vtc_errf(eb, EBADMSG, "domain XML: line %d: %s", e ? e->line : 0, msg);
	}
	root = xmlDocGetRootElement(doc);
	if (!root || !is(root, "domain"))
		return vtc_errf(eb, EBADMSG, "domain XML: the root element is not <domain>");
	r = child_text(root, "name", NULL, dom.name, sizeof(dom.name), eb);
	if (r < 0)
		return r;
	r = child_text(root, "uuid", uuid_char, dom.uuid, sizeof(dom.uuid), eb);
	if (r < 0)
		return r;
	type = xmlGetNoNsProp(root, (const xmlChar *)"type");
	if (type) {
		size_t l = strlen((const char *)type);

		for (size_t i = 0; i < l; i++)
			if (!type_char((char)type[i]) || l >= sizeof(dom.type))
				return vtc_errf(eb, EBADMSG,
						"domain XML: type '%.32s' is malformed",
						(const char *)type);
		memcpy(dom.type, type, l + 1);
	}
	*ret = dom;
	return 0;
}

int hook_decide(struct hook_ctx *ctx)
{
	struct vt_errbuf eb = {""};
	int r, bad = 0;

	vt_config_fini(&ctx->cfg);
	ctx->traced = false;
	r = vt_config_load(NULL, &ctx->cfg, &eb);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		hook_log(ctx->name, LOG_ERR, "%s; using the defaults", eb.msg);
		bad = r;
	}
	if (!ctx->xml_ok)
		return bad;
	eb.msg[0] = '\0';
	r = vt_config_apply_domain(&ctx->cfg, ctx->name, ctx->xml, &ctx->traced, &eb);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		hook_log(ctx->name, LOG_ERR, "%s; <vt:trace> ignored", eb.msg);
		bad = r;
	}
	return bad;
}
