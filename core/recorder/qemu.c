// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the recorder learns when QEMU is up ('started PID'): vCPU -> thread map (status
 * XML, else 'CPU n/KVM' thread names), QEMU's threads, the debugfs TSC offset and
 * scaling of each vCPU, tsc2nsec; and the main instance narrowed to QEMU's threads.
 * At the end, why QEMU is gone, as libvirt tells.
 */
#include <dirent.h>
#include <errno.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <signal.h>
#include <inttypes.h>
#include <json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tracefs.h>
#include <unistd.h>
#include <x86intrin.h>

#include "cleanup.h"
#include "collector.h"
#include "recorder.h"
#include "util.h"
#include "vt/manifest.h"
#include "vt/perfclock.h"

#define MAX_VCPUS 1024
/* how long the recorder waits for libvirt to say why QEMU ended */
#define REC_EXIT_QUERY_S 10

struct vcpu_tid {
	unsigned vcpu;
	int tid;
};

static const char *libvirt_rundir(void)
{
	const char *d = getenv("VT_LIBVIRT_RUNDIR");

	return d && *d ? d : "/run/libvirt/qemu";
}

static void xml_freep(xmlDoc **doc)
{
	if (*doc)
		xmlFreeDoc(*doc);
}

static bool xml_uint(xmlNode *n, const char *attr, uint64_t *ret)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
	int r = v ? vtc_parse_u64((const char *)v, ret) : -EINVAL;

	xmlFree(v);
	return r == 0;
}

static xmlNode *child(xmlNode *parent, const char *name)
{
	for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
			return c;
	return NULL;
}

/* <domstatus pid='...'><vcpus><vcpu id='N' pid='TID'/>... */
static int map_from_status(const char *domain, int pid, struct vcpu_tid *out, size_t *n)
{
	char path[PATH_MAX];
	xmlDoc *doc __attribute__((cleanup(xml_freep))) = NULL;
	xmlNode *root, *vcpus;
	uint64_t spid;

	snprintf(path, sizeof(path), "%s/%s.xml", libvirt_rundir(), domain);
	doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return vtc_err(ENOENT);
	root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, "domstatus"))
		return vtc_err(EBADMSG);
	if (xml_uint(root, "pid", &spid) && spid != (uint64_t)pid)
		return vtc_err(ESRCH);	/* the status of another QEMU */
	vcpus = child(root, "vcpus");
	*n = 0;
	for (xmlNode *c = vcpus ? vcpus->children : NULL; c && *n < MAX_VCPUS; c = c->next) {
		uint64_t id, tid;

		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "vcpu"))
			continue;
		if (xml_uint(c, "id", &id) && xml_uint(c, "pid", &tid) && tid <= INT32_MAX)
			out[(*n)++] = (struct vcpu_tid){ (unsigned)id, (int)tid };
	}
	return *n ? 0 : vtc_err(ENOENT);
}

/* /proc/PID/task/TID/comm "CPU n/KVM"; also collects every thread into @tids */
static int map_from_proc(int pid, struct vcpu_tid *out, size_t *n, struct json_object *tids)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return vtc_err(errno);
	*n = 0;
	while ((de = readdir(d))) {
		_cleanup_free_ char *comm = NULL;
		unsigned vcpu;
		uint64_t tid;

		if (vtc_parse_u64(de->d_name, &tid) < 0 || tid > INT32_MAX)
			continue;
		if (tids)
			json_object_array_add(tids, json_object_new_int((int)tid));
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", pid, de->d_name);
		if (vtc_read_file(path, &comm, NULL) < 0)
			continue;
		if (sscanf(comm, "CPU %u/KVM", &vcpu) == 1 && *n < MAX_VCPUS)
			out[(*n)++] = (struct vcpu_tid){ vcpu, (int)tid };
	}
	closedir(d);
	return 0;
}

static int cmp_vcpu(const void *a, const void *b)
{
	const struct vcpu_tid *x = a, *y = b;

	return x->vcpu < y->vcpu ? -1 : x->vcpu > y->vcpu;
}

static int read_num(const char *dir, const char *name, int64_t *ret)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = vtc_read_file(path, &text, NULL);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	if (vtc_parse_s64(text, ret) == 0)
		return 0;
	uint64_t u;

	r = vtc_parse_u64(text, &u);
	*ret = (int64_t)u;
	return r;
}

/* /sys/kernel/debug/kvm/<pid>-<fd>/vcpuN/{tsc-offset,tsc-scaling-ratio,...-frac-bits} */
static int debugfs_snapshot(int pid, struct json_object *root)
{
	struct json_object *arr = json_object_new_array();
	char base[PATH_MAX], prefix[32];
	struct dirent *de;
	DIR *d = opendir("/sys/kernel/debug/kvm");
	int found = 0;

	if (!arr)
		return vtc_err(ENOMEM);
	json_object_object_add(root, "debugfs", arr);
	json_object_object_add(root, "debugfs_host_tsc", json_object_new_uint64(__rdtsc()));
	if (!d)
		return vtc_err(errno);
	snprintf(prefix, sizeof(prefix), "%d-", pid);
	while ((de = readdir(d))) {
		struct dirent *ve;
		DIR *vd;

		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(base, sizeof(base), "/sys/kernel/debug/kvm/%s", de->d_name);
		vd = opendir(base);
		if (!vd)
			continue;
		while ((ve = readdir(vd))) {
			char dir[PATH_MAX + 300], hex[24];
			int64_t off, ratio, frac;
			unsigned id;
			struct json_object *o;

			if (sscanf(ve->d_name, "vcpu%u", &id) != 1)
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", base, ve->d_name);
			if (read_num(dir, "tsc-offset", &off) < 0)
				continue;
			o = json_object_new_object();
			json_object_object_add(o, "vcpu_id", json_object_new_int((int)id));
			snprintf(hex, sizeof(hex), "0x%016" PRIx64, (uint64_t)off);
			json_object_object_add(o, "tsc_offset", json_object_new_string(hex));
			json_object_object_add(o, "tsc_offset_s64", json_object_new_int64(off));
			if (read_num(dir, "tsc-scaling-ratio", &ratio) == 0)
				json_object_object_add(o, "tsc_scaling_ratio",
						       json_object_new_uint64((uint64_t)ratio));
			if (read_num(dir, "tsc-scaling-ratio-frac-bits", &frac) == 0)
				json_object_object_add(o, "tsc_scaling_frac_bits",
						       json_object_new_int64(frac));
			json_object_array_add(arr, o);
			found++;
		}
		closedir(vd);
	}
	closedir(d);
	return found ? 0 : vtc_err(ENOENT);
}

/* set_event_pid = every thread of QEMU; event-fork adds threads QEMU makes later */
static int narrow(struct tracefs_instance *main, struct json_object *tids)
{
	size_t n = json_object_array_length(tids), len = 0;
	_cleanup_free_ char *buf = malloc(n * 12 + 2);

	if (!buf)
		return vtc_err(ENOMEM);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(buf + len, "%s%d", i ? " " : "",
				       json_object_get_int(json_object_array_get_idx(tids, i)));
	buf[len] = '\0';
	tracefs_option_enable(main, TRACEFS_OPTION_EVENT_FORK);
	if (tracefs_instance_file_write(main, "set_event_pid", buf) < 0)
		return vtc_err(errno ? errno : EIO);
	return 0;
}

int rec_qemu_started(const char *domain, int pid, struct tracefs_instance *main,
		     struct json_object *root, struct vt_errbuf *eb)
{
	struct vcpu_tid map[MAX_VCPUS];
	struct json_object *rec, *tids, *vt;
	struct vt_tsc2nsec t2n;
	const char *source = "status-xml";
	size_t n = 0, nproc = 0;
	int r;

	if (!json_object_object_get_ex(root, "recorder", &rec)) {
		rec = json_object_new_object();
		json_object_object_add(root, "recorder", rec);
	}
	tids = json_object_new_array();
	json_object_object_add(rec, "qemu_tids", tids);
	json_object_object_add(root, "qemu_pid", json_object_new_int(pid));
	{
		struct vcpu_tid pmap[MAX_VCPUS];

		r = map_from_proc(pid, pmap, &nproc, tids);
		if (r < 0)
			return vtc_errf(eb, r, "domain %s: QEMU pid %d: %s", domain, pid,
					strerror(-r));
		if (map_from_status(domain, pid, map, &n) < 0) {
			memcpy(map, pmap, nproc * sizeof(*map));
			n = nproc;
			source = "thread-names";
		}
	}
	qsort(map, n, sizeof(*map), cmp_vcpu);
	vt = json_object_new_array();
	json_object_object_add(root, "vcpu_threads", vt);
	json_object_object_add(root, "vcpu_map_source", json_object_new_string(n ? source : "none"));
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "vcpu", json_object_new_int((int)map[i].vcpu));
		json_object_object_add(o, "tid", json_object_new_int(map[i].tid));
		json_object_array_add(vt, o);
	}
	if (!n)
		vt_manifest_add_warning(root, "QEMU pid %d: no vCPU threads found (status XML "
					      "or 'CPU n/KVM' names)", pid);
	r = debugfs_snapshot(pid, root);
	if (r < 0)
		vt_manifest_add_warning(root, "debugfs: no TSC offsets of QEMU pid %d (%s)", pid,
					strerror(-r));
	r = vt_perfclock_tsc2nsec(&t2n);
	if (r == 0) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "mult", json_object_new_uint64(t2n.mult));
		json_object_object_add(o, "shift", json_object_new_uint64(t2n.shift));
		json_object_object_add(o, "offset", json_object_new_uint64(t2n.offset));
		json_object_object_add(rec, "tsc2nsec", o);
	} else {
		vt_manifest_add_warning(root, "tsc2nsec: not available (%s); timestamps stay in "
					      "TSC ticks", strerror(-r));
	}
	if (main) {
		r = narrow(main, tids);
		if (r < 0)
			vt_manifest_add_warning(root, "cannot narrow the host instance to QEMU's "
						      "threads (%s): it holds every process",
						strerror(-r));
	}
	return 0;
}

/* /proc/PID/stat state: a zombie has exited already */
static bool qemu_alive(int pid)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	const char *paren;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (vtc_read_file(path, &text, NULL) < 0)
		return errno != ENOENT;
	paren = strrchr(text, ')');
	return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

struct exit_query {
	char domain[256];
	char reason[200];
	int r;			/* 1 lost, 0 normal end, -errno: cannot tell */
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done, abandoned;
};

/* virDomainShutoffReason -> 1 and words when the run lost something, else 0 */
static int shutoff_words(int reason, char *buf, size_t len)
{
	switch (reason) {
	case VIR_DOMAIN_SHUTOFF_CRASHED:
		snprintf(buf, len, "QEMU died: libvirt says the domain crashed (QEMU ended "
			 "without a shutdown, e.g. killed)");
		return 1;
	case VIR_DOMAIN_SHUTOFF_FAILED:
		snprintf(buf, len, "QEMU died: libvirt says the domain failed");
		return 1;
	case VIR_DOMAIN_SHUTOFF_DAEMON:
		snprintf(buf, len, "QEMU died: libvirtd ended it while reconnecting");
		return 1;
	default:
		return 0;
	}
}

static void query_end(struct exit_query *q)
{
	bool free_it;

	pthread_mutex_lock(&q->lock);
	q->done = true;
	free_it = q->abandoned;
	pthread_cond_signal(&q->done_cond);
	pthread_mutex_unlock(&q->lock);
	if (free_it)
		free(q);
}

/* libvirt has the domain's state only once it has stopped it: ask until shut off */
static void *query_main(void *arg)
{
	struct exit_query *q = arg;
	struct vt_errbuf eb = { "" };
	virConnectPtr conn = NULL;
	virDomainPtr dom = NULL;
	int state = -1, reason = 0;

	q->r = coll_open_domain(q->domain, &conn, &dom, &eb);
	if (q->r < 0)
		snprintf(q->reason, sizeof(q->reason), "%s", eb.msg);
	for (int i = 0; dom && i < 100; i++) {
		if (virDomainGetState(dom, &state, &reason, 0) < 0 ||
		    state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_CRASHED)
			break;
		usleep(100 * 1000);
	}
	if (dom && state == VIR_DOMAIN_SHUTOFF) {
		q->r = shutoff_words(reason, q->reason, sizeof(q->reason));
	} else if (dom && state == VIR_DOMAIN_CRASHED) {
		snprintf(q->reason, sizeof(q->reason), "QEMU died: the guest crashed");
		q->r = 1;
	} else if (dom) {
		snprintf(q->reason, sizeof(q->reason), "libvirt still reports state %d", state);
		q->r = vtc_err(EAGAIN);
	}
	if (dom)
		virDomainFree(dom);
	if (conn)
		virConnectClose(conn);
	query_end(q);
	return NULL;
}

int rec_qemu_exit_reason(const char *domain, int pid, char *buf, size_t len)
{
	struct exit_query *q;
	struct timespec until;
	pthread_t thread;
	int r = 0;

	if (pid <= 0 || qemu_alive(pid))
		return 0;
	q = calloc(1, sizeof(*q));
	if (!q)
		return vtc_err(ENOMEM);
	snprintf(q->domain, sizeof(q->domain), "%s", domain);
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->done_cond, NULL);
	if (pthread_create(&thread, NULL, query_main, q)) {
		free(q);
		return vtc_err(EAGAIN);
	}
	pthread_detach(thread);
	/* libvirtd may be restarting or hung: never wait longer than this */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += REC_EXIT_QUERY_S;
	pthread_mutex_lock(&q->lock);
	while (!q->done && r == 0)
		r = pthread_cond_timedwait(&q->done_cond, &q->lock, &until);
	if (!q->done) {
		q->abandoned = true;	/* the thread frees it */
		pthread_mutex_unlock(&q->lock);
		snprintf(buf, len, "libvirt did not answer within %d s", REC_EXIT_QUERY_S);
		return vtc_err(ETIMEDOUT);
	}
	pthread_mutex_unlock(&q->lock);
	r = q->r;
	snprintf(buf, len, "%s", q->reason);
	free(q);
	return r;
}
