/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cleanup attributes for libxml2 objects (see cleanup.h).
 */
#ifndef VT_XMLUTIL_H
#define VT_XMLUTIL_H

#include <libxml/parser.h>
#include <libxml/tree.h>

static inline void vtc_xml_docp(xmlDocPtr *doc)
{
	if (*doc)
		xmlFreeDoc(*doc);
}

static inline void vtc_xml_charp(xmlChar **s)
{
	if (*s)
		xmlFree(*s);
}

#endif
