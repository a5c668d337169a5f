// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hook logging: syslog (daemon facility), every line "domain '<name>': ...";
 * mirrored on stderr only when VT_HOOK_STDERR=1, and appended to a file ($VT_HOOK_LOG,
 * or <rundir>/hook.log without a syslog daemon) so that tests and syslog-less hosts
 * see the lines of the detached workers too.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "vt/runstore.h"

static char last_error[768];
static const char *log_domain;
static unsigned lines;

void hook_log_open(const char *domain)
{
	log_domain = domain;
	openlog("virt-trace-hook", LOG_PID, LOG_DAEMON);
}

void hook_log_reset(void)
{
	closelog();
	openlog("virt-trace-hook", LOG_PID, LOG_DAEMON);
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

/*
 * The file lines also go to: $VT_HOOK_LOG, else <rundir>/hook.log when there is no
 * syslog daemon (/dev/log absent: syslog() would drop the line). NULL: none.
 */
static const char *log_path(char *buf, size_t len)
{
	const char *path = getenv("VT_HOOK_LOG");

	if (path && *path)
		return path;
	if (access("/dev/log", F_OK) == 0)
		return NULL;
	if ((size_t)snprintf(buf, len, "%s/hook.log", vt_store_rundir()) >= len)
		return NULL;
	(void)mkdir(vt_store_rundir(), 0750);
	return buf;
}

/* one line, one write (O_APPEND): lines of concurrent hooks never interleave */
static void log_file(const char *name, const char *msg)
{
	char line[768], buf[4096], stamp[32];
	const char *path = log_path(buf, sizeof(buf));
	struct timespec ts;
	struct tm tm;
	int fd, n;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%06ldZ virt-trace-hook[%d]: domain '%s': %s\n", stamp,
		     ts.tv_nsec / 1000, (int)getpid(), name, msg);
	if (n > 0 && write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		n = 0;
	close(fd);
}

void hook_log(const char *domain, int prio, const char *fmt, ...)
{
	char name[129], msg[512];
	va_list ap;

	printable_name(domain, name, sizeof(name));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	syslog(prio, "domain '%s': %s", name, msg);
	if (prio <= LOG_ERR)
		snprintf(last_error, sizeof(last_error), "domain '%s': %s", name, msg);
	if (prio < LOG_DEBUG && want_stderr())
		fprintf(stderr, "virt-trace-hook: domain '%s': %s\n", name, msg);
	if (prio < LOG_DEBUG) {
		log_file(name, msg);
		lines++;
	}
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
