/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging of the daemons and the hook: syslog (daemon facility), and the same lines
 * appended with a UTC time stamp to a file when no syslog daemon listens (/dev/log
 * absent: syslog() would drop them) or when the caller's environment variable names
 * one, so that syslog-less hosts and tests see what detached processes did.
 */
#ifndef VT_LOG_H
#define VT_LOG_H

#include <stdarg.h>

/*
 * vt_log_open - openlog(@ident, LOG_PID, LOG_DAEMON); the file lines go to $@env_var
 * when set and non-empty, else to <vt_store_rundir()>/@file when /dev/log is absent,
 * else nowhere. @ident, @file and @env_var are borrowed (string literals).
 * Before vt_log_open, vt_log goes to syslog only.
 */
void vt_log_open(const char *ident, const char *file, const char *env_var);
/* vt_log_reset - close the syslog socket (reopened at the next line): after a fork */
void vt_log_reset(void);
/* vt_log_close - closelog(); the file settings stay */
void vt_log_close(void);
/* vt_log - one line at @prio; lines at LOG_DEBUG go to syslog only */
void vt_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vt_logv(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
