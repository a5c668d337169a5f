// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hook logging: vt_log (syslog, and $VT_HOOK_LOG or <rundir>/hook.log without a syslog
 * daemon), every line "domain '<name>': ..."; mirrored on stderr only when
 * VT_HOOK_STDERR=1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "hook.h"
#include "vt/log.h"

static char last_error[768];
static const char *log_domain;
static unsigned lines;

void hook_log_open(const char *domain)
{
	log_domain = domain;
	vt_log_open("virt-trace-hook", "hook.log", "VT_HOOK_LOG");
}

void hook_log_reset(void)
{
	vt_log_reset();
}

static bool want_stderr(void)
{
	const char *v = getenv("VT_HOOK_STDERR");

	return v && !strcmp(v, "1");
}

/* a domain name fit for one log line: control bytes become '?', at most 128 bytes */
static void printable_name(const char *domain, char *out, size_t len)
{
	size_t o = 0;

	if (!domain)
		domain = "";
	for (const unsigned char *p = (const unsigned char *)domain; *p && o + 1 < len; p++)
		out[o++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
	out[o] = '\0';
}

void hook_log(const char *domain, int prio, const char *fmt, ...)
{
	char name[129], msg[512];
	va_list ap;

	printable_name(domain, name, sizeof(name));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vt_log(prio, "domain '%s': %s", name, msg);
	if (prio <= LOG_ERR)
		snprintf(last_error, sizeof(last_error), "domain '%s': %s", name, msg);
	if (prio < LOG_DEBUG && want_stderr())
		fprintf(stderr, "virt-trace-hook: domain '%s': %s\n", name, msg);
	if (prio < LOG_DEBUG)
		lines++;
}

unsigned hook_log_lines(void)
{
	return lines;
}

const char *hook_log_last_error(void)
{
	return last_error;
}

/* libtracefs' warnings (a weak symbol there) go to syslog at debug level, not stderr */
void tracefs_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tracefs_warning(const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hook_log(log_domain, LOG_DEBUG, "libtracefs: %s", msg);
}
