// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The agent in the guest: find one of our version, or push the host's static binary
 * through guest-file-write and chmod it; libvirt connection and agent wait helpers.
 */
#include <errno.h>
#include <libgen.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "collector.h"
#include "qga.h"
#include "util.h"

#define AGENT_MAX_BYTES (64u << 20)

int coll_agent_binary(const char *configured, char **ret, struct vt_errbuf *eb)
{
	const char *env = getenv("VT_AGENT_BINARY");
	char self[PATH_MAX], cand[PATH_MAX + 64];
	ssize_t n;

	if (env && *env) {
		if (access(env, R_OK) < 0)
			return vtc_errf(eb, errno, "VT_AGENT_BINARY=%s: %s", env, strerror(errno));
		*ret = strdup(env);
		return *ret ? 0 : vtc_err(ENOMEM);
	}
	if (configured && *configured) {
		if (access(configured, R_OK) < 0)
			return vtc_errf(eb, errno, "agent_binary %s: %s", configured,
					strerror(errno));
		*ret = strdup(configured);
		return *ret ? 0 : vtc_err(ENOMEM);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *bindir;

		self[n] = '\0';
		bindir = dirname(self);
		/* <prefix>/bin/virt-trace -> <prefix>/lib/virt-trace/virt-trace-agent */
		snprintf(cand, sizeof(cand), "%s/../lib/virt-trace/virt-trace-agent", bindir);
		if (access(cand, R_OK) == 0)
			return (*ret = realpath(cand, NULL)) ? 0 : vtc_err(ENOMEM);
		/* a build tree: <build>/core/virt-trace -> <build>/agent/virt-trace-agent */
		snprintf(cand, sizeof(cand), "%s/../agent/virt-trace-agent", bindir);
		if (access(cand, R_OK) == 0)
			return (*ret = realpath(cand, NULL)) ? 0 : vtc_err(ENOMEM);
	}
	if (access("/usr/lib/virt-trace/virt-trace-agent", R_OK) == 0)
		return (*ret = strdup("/usr/lib/virt-trace/virt-trace-agent")) ? 0 : vtc_err(ENOMEM);
	return vtc_errf(eb, ENOENT, "no virt-trace-agent binary on the host (looked beside "
				    "virt-trace and in /usr/lib/virt-trace; set VT_AGENT_BINARY)");
}

static int chmod_x(virDomainPtr dom, const char *path, struct vt_errbuf *eb)
{
	const char *a[] = { "0755", path, NULL };
	const char *b[] = { "chmod", "0755", path, NULL };
	struct coll_exec_status st;
	int r = coll_exec_wait(dom, "/bin/chmod", a, 10000, &st, eb);

	if (r == -EREMOTEIO)
		r = coll_exec_wait(dom, "/bin/busybox", b, 10000, &st, eb);
	if (r < 0)
		return vtc_err_prefix(eb, r, "chmod %s", path);
	r = st.exitcode == 0 ? 0 : vtc_errf(eb, EIO, "chmod 0755 %s: exit code %d", path,
					   st.exitcode);
	coll_exec_status_fini(&st);
	return r;
}

int coll_agent_push(virDomainPtr dom, const char *binary, const char *guest_path,
		    uint64_t *ret_bytes, struct vt_errbuf *eb)
{
	_cleanup_free_ char *bin = NULL, *data = NULL;
	const char *b[] = { "mkdir", "-p", NULL, NULL };
	char dir[PATH_MAX];
	struct coll_exec_status st;
	size_t len;
	int r;

	if (!guest_path)
		guest_path = COLL_AGENT_PUSH_PATH;
	r = coll_agent_binary(binary, &bin, eb);
	if (r < 0)
		return r;
	r = vtc_read_file(bin, &data, &len);
	if (r < 0)
		return vtc_errf(eb, r, "%s: %s", bin, strerror(-r));
	if (len > AGENT_MAX_BYTES)
		return vtc_errf(eb, EFBIG, "%s: %zu bytes is too big to push", bin, len);
	snprintf(dir, sizeof(dir), "%s", guest_path);
	b[2] = dirname(dir);
	if (strcmp(b[2], "/tmp") && strcmp(b[2], "/") &&
	    coll_exec_wait(dom, "/bin/busybox", b, 10000, &st, NULL) == 0)
		coll_exec_status_fini(&st);
	r = coll_file_write(dom, guest_path, data, len, eb);
	if (r < 0)
		return r;
	r = chmod_x(dom, guest_path, eb);
	if (r < 0)
		return r;
	if (ret_bytes)
		*ret_bytes = len;
	return 0;
}

/* whether @path in the guest answers --version with our version */
static int agent_version_ok(virDomainPtr dom, const char *path, struct vt_errbuf *eb)
{
	static const char *const args[] = { "--version", NULL };
	struct coll_exec_status st;
	int r = coll_exec_wait(dom, path, args, 10000, &st, eb);

	if (r < 0)
		return r;	/* -EREMOTEIO: no such file */
	r = st.exitcode == 0 && st.out && strstr((const char *)st.out, VT_VERSION) ? 1 : 0;
	if (!r)
		vtc_errf(eb, ENOEXEC, "%s --version: '%.60s' (want %s)", path,
			 st.out ? (const char *)st.out : "", VT_VERSION);
	coll_exec_status_fini(&st);
	return r;
}

int coll_agent_ensure(virDomainPtr dom, bool push, const char *binary, char **ret_path,
		      bool *ret_pushed, struct vt_errbuf *eb)
{
	static const char *const paths[] = { COLL_AGENT_GUEST_PATH, COLL_AGENT_PUSH_PATH };
	struct vt_errbuf why = { "" };
	int r;

	*ret_pushed = false;
	for (size_t i = 0; i < 2; i++) {
		if (agent_version_ok(dom, paths[i], &why) == 1) {
			*ret_path = strdup(paths[i]);
			return *ret_path ? 0 : vtc_err(ENOMEM);
		}
	}
	if (!push)
		return vtc_errf(eb, ENOENT, "no virt-trace-agent %s in the guest and agent_push "
					    "is off (last: %s)", VT_VERSION, why.msg);
	r = coll_agent_push(dom, binary, COLL_AGENT_PUSH_PATH, NULL, eb);
	if (r < 0)
		return vtc_err_prefix(eb, r, "pushing the agent");
	r = agent_version_ok(dom, COLL_AGENT_PUSH_PATH, eb);
	if (r <= 0)
		return vtc_err_prefix(eb, r < 0 ? r : -ENOEXEC, "pushed agent does not run");
	*ret_pushed = true;
	*ret_path = strdup(COLL_AGENT_PUSH_PATH);
	return *ret_path ? 0 : vtc_err(ENOMEM);
}

static void silent(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

virConnectPtr coll_connect(struct vt_errbuf *eb)
{
	const char *uri = getenv("VT_LIBVIRT_URI");
	virConnectPtr conn;

	virSetErrorFunc(NULL, silent);
	conn = virConnectOpen(uri ? uri : "qemu:///system");
	if (!conn) {
		virErrorPtr e = virGetLastError();

		vtc_errf(eb, ENOTCONN, "cannot connect to libvirt: %s",
			 e && e->message ? e->message : "unknown error");
	}
	return conn;
}

int coll_open_domain(const char *domain, virConnectPtr *ret_conn, virDomainPtr *ret_dom,
		     struct vt_errbuf *eb)
{
	virConnectPtr conn = coll_connect(eb);
	virDomainPtr dom;

	if (!conn)
		return -ENOTCONN;
	dom = virDomainLookupByName(conn, domain);
	if (!dom) {
		virConnectClose(conn);
		return vtc_errf(eb, ENOENT, "domain %s: no such domain", domain);
	}
	*ret_conn = conn;
	*ret_dom = dom;
	return 0;
}

int coll_wait_agent(virDomainPtr dom, int timeout_ms, const volatile bool *cancel,
		    struct vt_errbuf *eb)
{
	int64_t deadline = coll_now_ms() + timeout_ms;
	int r;

	for (;;) {
		if (virDomainIsActive(dom) != 1)
			return vtc_errf(eb, ESRCH, "the domain is not running");
		r = coll_ping(dom, 5, eb);
		if (r == 0)
			return 0;
		if (cancel && *cancel)
			return vtc_errf(eb, ECANCELED, "stopped while waiting for qemu-ga");
		if (coll_now_ms() > deadline)
			return vtc_err_prefix(eb, ETIMEDOUT, "qemu-ga did not answer");
		nanosleep(&(struct timespec){ .tv_sec = 1 }, NULL);
	}
}

int coll_shutdown_domain(const char *domain, struct vt_errbuf *eb)
{
	virConnectPtr conn = NULL;
	virDomainPtr dom = NULL;
	int r = coll_open_domain(domain, &conn, &dom, eb);

	if (r < 0)
		return r;
	if (virDomainShutdown(dom) < 0) {
		virErrorPtr e = virGetLastError();

		r = vtc_errf(eb, EIO, "domain %s: shutdown: %s", domain,
			     e && e->message ? e->message : "failed");
	}
	virDomainFree(dom);
	virConnectClose(conn);
	return r;
}
