// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace-hook: the libvirt QEMU hook (qemu.d/virt-trace). main(): argv, the domain
 * XML from stdin, then the op table of ops.c. Never prints on stdout, never calls libvirt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "hook.h"
#include "util.h"
#include "vt/log.h"

#define XML_MAX_BYTES (16 * 1024 * 1024)

/* stdout is libvirt's pipe and, for migrate/restore, the new domain XML: keep it empty */
static void silence_stdout(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fd != STDOUT_FILENO) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
}

/* all of stdin (libvirt writes the XML, then closes): 0, -EFBIG past @max, -errno */
static int read_stdin(char **ret, size_t *ret_len, size_t max)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	bool too_big = false;

	if (isatty(STDIN_FILENO)) {
		*ret = calloc(1, 1);
		*ret_len = 0;
		return *ret ? 0 : vtc_err(ENOMEM);
	}
	for (;;) {
		char sink[4096];
		ssize_t n;

		if (!too_big && cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *nbuf = realloc(buf, ncap + 1);

			if (!nbuf)
				return vtc_err(ENOMEM);
			buf = nbuf;
			cap = ncap;
		}
		/* past @max, keep draining so that libvirt's write does not fail */
		n = too_big ? read(STDIN_FILENO, sink, sizeof(sink))
			    : read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vtc_err(errno);
		if (n == 0)
			break;
		if (!too_big) {
			len += (size_t)n;
			too_big = len > max;
		}
	}
	if (too_big)
		return vtc_err(EFBIG);
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

int main(int argc, char **argv)
{
	struct hook_ctx ctx = {0};
	struct timespec t0;
	_cleanup_free_ char *xml = NULL;
	size_t xml_len = 0;
	int r, status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	silence_stdout();
	hook_log_open(argc > 1 ? argv[1] : NULL);
	if (argc < 4) {
		fprintf(stderr, "usage: virt-trace-hook DOMAIN OP SUBOP [EXTRA] < domain.xml\n"
				"(called by libvirt as /etc/libvirt/hooks/qemu.d/virt-trace)\n");
		hook_log(argc > 1 ? argv[1] : "", LOG_NOTICE, "called with %d arguments; ignored",
			 argc - 1);
		return 0;
	}
	ctx.name = argv[1];
	ctx.op = argv[2];
	ctx.subop = argv[3];
	/* on failure the XML stays empty; hook_run reports that where an op needs it */
	r = read_stdin(&xml, &xml_len, XML_MAX_BYTES);
	if (r < 0)
		xml_len = 0;
	ctx.xml = xml ? xml : "";
	ctx.xml_len = xml_len;
	status = hook_run(&ctx);
	/* a call for a traced domain says how long it took (from main(), not from exec) */
	if (ctx.handled) {
		double ms = ms_since(&t0);

		if (hook_log_lines() || hook_domain_is_ours(&ctx))
			hook_log(ctx.name, LOG_INFO, "%s %s: %.2f ms, exit %d", ctx.op, ctx.subop,
				 ms, status);
	}
	/* libvirt logs a failing hook's stderr (VT_HOOK_STDERR=1 printed it already) */
	if (status && !(getenv("VT_HOOK_STDERR") && !strcmp(getenv("VT_HOOK_STDERR"), "1")))
		fprintf(stderr, "virt-trace-hook: %s\n", hook_log_last_error());
	hook_ctx_fini(&ctx);
	vt_log_close();
	return status;
}
