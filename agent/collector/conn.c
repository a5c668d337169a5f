// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The collector's libvirt connection: opened once for the run, told apart from the guest
 * when it dies (libvirtd restarted), and reopened to the same domain with bounded retries.
 */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "qga.h"
#include "util.h"

static const char *last_message(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->message ? e->message : "unknown error";
}

static void drop(struct coll_conn *cc)
{
	if (cc->dom)
		virDomainFree(cc->dom);
	if (cc->conn)
		virConnectClose(cc->conn);	/* a dead connection is only released here */
	cc->dom = NULL;
	cc->conn = NULL;
}

/* one open: the domain by its uuid once known (a name may be reused), else by name */
static int open_once(struct coll_conn *cc, struct vt_errbuf *eb)
{
	virConnectPtr conn = coll_connect(eb);
	virDomainPtr dom;

	if (!conn)
		return -ENOTCONN;
	dom = cc->uuid[0] ? virDomainLookupByUUIDString(conn, cc->uuid)
			  : virDomainLookupByName(conn, cc->domain);
	if (!dom) {
		int r = vtc_errf(eb, ENOENT, "domain %s%s%s: %s", cc->domain,
				 cc->uuid[0] ? " uuid " : "", cc->uuid, last_message());

		virConnectClose(conn);
		return r;
	}
	if (!cc->uuid[0] && virDomainGetUUIDString(dom, cc->uuid) < 0)
		cc->uuid[0] = '\0';	/* found by name again next time */
	cc->conn = conn;
	cc->dom = dom;
	return 0;
}

int coll_conn_open(struct coll_conn *cc, const char *domain, struct vt_errbuf *eb)
{
	if (!cc->domain) {
		cc->domain = strdup(domain);
		if (!cc->domain)
			return vtc_err(ENOMEM);
	}
	drop(cc);
	return open_once(cc, eb);
}

bool coll_conn_lost(const struct coll_conn *cc, int r)
{
	if (r == -ECONNRESET || !cc->conn || !cc->dom)
		return true;
	/* the remote driver notices a closed socket at its next call: this may still say 1 */
	return virConnectIsAlive(cc->conn) != 1;
}

int coll_conn_reopen(struct coll_conn *cc, bool (*wait)(void *ctx, unsigned ms), void *ctx,
		     struct vt_errbuf *eb)
{
	unsigned ms = COLL_RECONNECT_FIRST_MS;
	int r = vtc_errf(eb, ENOTCONN, "no try");

	drop(cc);
	for (unsigned i = 0; i < COLL_RECONNECT_TRIES; i++) {
		if (i) {
			if (wait(ctx, ms))
				return vtc_err_prefix(eb, ECANCELED, "libvirt reconnect given up");
			ms = ms * 2 > COLL_RECONNECT_MAX_MS ? COLL_RECONNECT_MAX_MS : ms * 2;
		}
		eb->msg[0] = '\0';
		r = open_once(cc, eb);
		if (r == 0) {
			cc->reconnects++;
			return 0;
		}
	}
	return vtc_err_prefix(eb, r, "libvirt reconnect: %u tries", COLL_RECONNECT_TRIES);
}

int coll_domain_active(virDomainPtr dom, struct vt_errbuf *eb)
{
	int r = dom ? virDomainIsActive(dom) : -1;

	if (r >= 0)
		return r;
	if (!dom || coll_conn_lost_error(virGetLastError()))
		return vtc_errf(eb, ECONNRESET, "libvirt connection lost: %s",
				dom ? last_message() : "no connection");
	return vtc_errf(eb, EIO, "virDomainIsActive: %s", last_message());
}

void coll_conn_close(struct coll_conn *cc)
{
	drop(cc);
	free(cc->domain);
	cc->domain = NULL;
}
