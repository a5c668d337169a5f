// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace start: capture a domain that is already running. Creates the domain's
 * tracefs instances, starts a detached recorder and tells it QEMU's pid; the offsets
 * then come from debugfs (the boot-time writes are long gone).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "util.h"
#include "vt/config.h"
#include "vt/control.h"
#include "vt/instances.h"
#include "vt/runstore.h"
#include "vt/spawn.h"

static const char start_help[] =
	"Usage: virt-trace start DOMAIN\n"
	"\n"
	"Start recording DOMAIN, a libvirt domain that is already running (one started\n"
	"before the hook was installed, or whose recording was stopped). The host events\n"
	"come from virt-trace.conf(5) and the domain's metadata; the TSC offsets are read\n"
	"from debugfs, since the writes made at boot are gone. A domain the configuration\n"
	"leaves out is recorded all the same. End it with 'virt-trace stop DOMAIN' or by\n"
	"shutting the domain down.\n"
	"\n"
	"Options:\n"
	"  -h, --help   this help\n"
	"\n"
	"Environment: VT_LIBVIRT_RUNDIR replaces /run/libvirt/qemu (pid and status files).\n";

static const char *libvirt_rundir(void)
{
	const char *d = getenv("VT_LIBVIRT_RUNDIR");

	return d && *d ? d : "/run/libvirt/qemu";
}

/* QEMU's pid from <rundir>/<domain>.pid: 0, or EXIT_FAILURE with the line printed */
static int qemu_pid(const char *domain, int *ret)
{
	_cleanup_free_ char *text = NULL, *path = NULL;
	uint64_t pid;
	size_t len;
	int r;

	if (strchr(domain, '/'))
		return cli_error("%s: not a domain name", domain);
	if (asprintf(&path, "%s/%s.pid", libvirt_rundir(), domain) < 0)
		return cli_error("out of memory");
	r = vtc_read_file(path, &text, &len);
	if (r < 0)
		return cli_error("domain %s is not running (%s: %s)", domain, path, strerror(-r));
	text[strcspn(text, "\n")] = '\0';
	if (vtc_parse_u64(text, &pid) < 0 || pid < 2 || pid > INT_MAX)
		return cli_error("%s: not a pid: '%.20s'", path, text);
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return cli_error("domain %s is not running (QEMU pid %d from %s is gone)", domain,
				 (int)pid, path);
	*ret = (int)pid;
	return 0;
}

/* the domain's uuid from its status XML into @out (37 bytes); "" when not found */
static void status_uuid(const char *domain, char *out)
{
	_cleanup_free_ char *xml = NULL, *path = NULL;
	const char *p;
	size_t len;

	out[0] = '\0';
	if (asprintf(&path, "%s/%s.xml", libvirt_rundir(), domain) < 0 ||
	    vtc_read_file(path, &xml, &len) < 0)
		return;
	p = strstr(xml, "<uuid>");
	if (!p || strspn(p + 6, "0123456789abcdefABCDEF-") != 36 || p[42] != '<')
		return;
	memcpy(out, p + 6, 36);
	out[36] = '\0';
}

/* Start 'virt-trace record --domain DOMAIN [--uuid UUID]' detached (vt_spawn_recorder). */
static int spawn_recorder(const char *domain)
{
	char exe[PATH_MAX], uuid[37];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct vt_errbuf eb = { "" };
	pid_t pid;
	int r;

	if (n <= 0)
		return cli_error("cannot find the virt-trace binary: %s", strerror(errno));
	exe[n] = '\0';
	status_uuid(domain, uuid);
	r = vt_spawn_recorder(exe, domain, uuid, 0, 2000, &pid, &eb);
	if (r < 0)
		return cli_error_eb(r, &eb, "cannot start the recorder");
	return 0;
}

/* wait until the recorder answers "ping" (at most @ms) */
static int wait_recorder(const char *domain, int ms)
{
	char reply[256];

	for (int waited = 0; waited < ms; waited += 50) {
		if (vt_control_send(domain, "ping", reply, sizeof(reply), 1000) == 0)
			return 0;
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000000L }, NULL);
	}
	return -ETIMEDOUT;
}

static int create_instances(const char *domain)
{
	struct vt_config cfg;
	struct vt_errbuf eb = { "" };
	_cleanup_free_ char *xml = NULL, *path = NULL;
	bool enabled;
	size_t len;
	int r;

	r = vt_config_load(NULL, &cfg, &eb);
	if (r < 0)
		fprintf(stderr, "virt-trace: warning: %s (using the defaults)\n",
			eb.msg[0] ? eb.msg : strerror(-r));
	/* the status XML holds the domain XML with its <metadata> */
	if (asprintf(&path, "%s/%s.xml", libvirt_rundir(), domain) >= 0 &&
	    vtc_read_file(path, &xml, &len) == 0) {
		eb.msg[0] = '\0';
		r = vt_config_apply_domain(&cfg, domain, xml, &enabled, &eb);
		if (r < 0)
			fprintf(stderr, "virt-trace: warning: %s: %s (metadata ignored)\n", path,
				eb.msg[0] ? eb.msg : strerror(-r));
		/* an explicit start records even a domain the config leaves out */
	}
	eb.msg[0] = '\0';
	r = vt_instances_create(domain, cfg.host_events, cfg.host_buffer_kb, cfg.tsc_buffer_kb,
				&eb);
	vt_config_fini(&cfg);
	if (r == -EBUSY)
		return cli_error("domain %s is already being recorded", domain);
	if (r < 0)
		return cli_error_eb(r, &eb, domain);
	if (r > 0)
		fprintf(stderr, "virt-trace: warning: %s: %s\n", domain, eb.msg);
	return 0;
}

int cmd_start(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct vt_errbuf eb = { "" };
	char reply[4096], req[32];
	const char *domain;
	int c, r, pid = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		fputs(start_help, stdout);
		return 0;
	}
	if (argc - optind != 1)
		return cli_usage("start", "expected one DOMAIN");
	domain = argv[optind];
	if (qemu_pid(domain, &pid))
		return EXIT_FAILURE;
	if (vt_control_send(domain, "ping", reply, sizeof(reply), 1000) == 0 ||
	    vt_run_domain_locked(domain))
		return cli_error("domain %s is already being recorded (see 'virt-trace status')",
				 domain);
	r = create_instances(domain);
	if (r)
		return r;
	cli_progress("starting the recorder of %s", domain);
	r = spawn_recorder(domain);
	if (!r && wait_recorder(domain, 10000) < 0)
		r = cli_error("domain %s: the recorder did not come up (see syslog)", domain);
	if (!r) {
		snprintf(req, sizeof(req), "started %d", pid);
		r = vt_control_send(domain, req, reply, sizeof(reply), 10000);
		if (r < 0) {
			char ctx[300];

			snprintf(ctx, sizeof(ctx), "domain %s: recorder", domain);
			snprintf(eb.msg, sizeof(eb.msg), "%.400s", r == -EREMOTEIO ? reply : strerror(-r));
			r = cli_error_eb(r, &eb, ctx);
		}
	}
	cli_progress("%s", "");
	if (r) {
		/* a recorder that is up stops and destroys the instances itself */
		if (vt_control_send(domain, "stop", reply, sizeof(reply), 2000) < 0 &&
		    !vt_run_domain_locked(domain))
			vt_instances_destroy(domain, NULL);
		return r;
	}
	if (vt_control_send(domain, "status", reply, sizeof(reply), 2000) == 0 &&
	    strchr(reply + 3, ' '))
		printf("recording %s (QEMU pid %d) into %s\n", domain, pid, strchr(reply + 3, ' ') + 1);
	else
		printf("recording %s (QEMU pid %d)\n", domain, pid);
	return 0;
}
