// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vt_log: syslog plus, without a syslog daemon, one time-stamped line per message
 * appended to a file of the runtime dir (O_APPEND, one write: lines never interleave).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "vt/log.h"
#include "vt/runstore.h"

static const char *log_ident = "virt-trace";
static const char *log_file;
static const char *log_env;

void vt_log_open(const char *ident, const char *file, const char *env_var)
{
	log_ident = ident;
	log_file = file;
	log_env = env_var;
	openlog(ident, LOG_PID, LOG_DAEMON);
}

void vt_log_reset(void)
{
	closelog();
	openlog(log_ident, LOG_PID, LOG_DAEMON);
}

void vt_log_close(void)
{
	closelog();
}

/* where the file lines go: NULL for nowhere */
static const char *file_path(char *buf, size_t len)
{
	const char *path = log_env ? getenv(log_env) : NULL;

	if (path && *path)
		return path;
	if (!log_file || access("/dev/log", F_OK) == 0)
		return NULL;
	if ((size_t)snprintf(buf, len, "%s/%s", vt_store_rundir(), log_file) >= len)
		return NULL;
	(void)mkdir(vt_store_rundir(), 0750);
	return buf;
}

static void file_line(const char *msg)
{
	char line[1024], buf[4096], stamp[32];
	const char *path = file_path(buf, sizeof(buf));
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
	n = snprintf(line, sizeof(line), "%s.%06ldZ %s[%d]: %s\n", stamp, ts.tv_nsec / 1000,
		     log_ident, (int)getpid(), msg);
	if (n >= (int)sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		n = 0;
	close(fd);
}

void vt_logv(int prio, const char *fmt, va_list ap)
{
	char msg[768];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	syslog(prio, "%s", msg);
	if (prio < LOG_DEBUG)
		file_line(msg);
}

void vt_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vt_logv(prio, fmt, ap);
	va_end(ap);
}
