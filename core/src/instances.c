// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Create and destroy a domain's two tracefs instances (main and -tsc), and the setup
 * locks that order their creation against the recorder.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <tracefs.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "vt/instances.h"
#include "vt/runstore.h"

int vt_instance_name(const char *domain, bool tsc, char *out, size_t len)
{
	char esc[256];
	int r = vt_store_escape(domain, esc, sizeof(esc));

	if (r < 0)
		return r;
	if ((size_t)snprintf(out, len, VT_INSTANCE_PREFIX "%s%s", esc, tsc ? "-tsc" : "") >=
		    len ||
	    strlen(out) > 255)
		return vtc_err(ENAMETOOLONG);
	return 0;
}

static void free_inst(struct tracefs_instance **inst)
{
	tracefs_instance_free(*inst);
}

static int write_file(struct tracefs_instance *inst, const char *file, const char *val,
		      struct vt_errbuf *eb)
{
	if (tracefs_instance_file_write(inst, file, val) < 0)
		return vtc_errf(eb, errno ? errno : EIO, "instance %s: cannot write '%s' to %s",
				tracefs_instance_get_name(inst), val, file);
	return 0;
}

/* enable every event matching the glob pair; returns the number enabled or -errno */
static int enable_glob(struct tracefs_instance *inst, const char *sys_glob,
		       const char *ev_glob)
{
	char **systems = tracefs_event_systems(NULL);
	int n = 0;

	if (!systems)
		return vtc_err(ENOENT);
	for (size_t s = 0; systems[s]; s++) {
		char **events;

		if (fnmatch(sys_glob, systems[s], 0))
			continue;
		events = tracefs_system_events(NULL, systems[s]);
		for (size_t e = 0; events && events[e]; e++) {
			char file[512];

			if (fnmatch(ev_glob, events[e], 0))
				continue;
			snprintf(file, sizeof(file), "events/%s/%s/enable", systems[s], events[e]);
			if (tracefs_instance_file_write(inst, file, "1") > 0)
				n++;
		}
		tracefs_list_free(events);
	}
	tracefs_list_free(systems);
	return n;
}

/* "sys:ev,sys:*,sys" -> enabled; returns the count of patterns that matched nothing */
static int enable_list(struct tracefs_instance *inst, const char *list, struct vt_errbuf *eb)
{
	_cleanup_free_ char *copy = strdup(list ? list : "");
	char *save = NULL, *tok, missing[256] = "";
	int unmatched = 0;

	if (!copy)
		return vtc_err(ENOMEM);
	for (tok = strtok_r(copy, ", \t\n", &save); tok; tok = strtok_r(NULL, ", \t\n", &save)) {
		char *colon = strchr(tok, ':');
		const char *ev = "*";

		if (colon) {
			*colon = '\0';
			ev = colon[1] ? colon + 1 : "*";
		}
		if (enable_glob(inst, tok, ev) <= 0) {
			size_t l = strlen(missing);

			snprintf(missing + l, sizeof(missing) - l, "%s%s:%s", l ? ", " : "", tok,
				 ev);
			unmatched++;
		}
	}
	if (unmatched)
		vtc_errf(eb, ENOENT, "instance %s: no such host events: %s",
			 tracefs_instance_get_name(inst), missing);
	return unmatched;
}

/* an existing instance, with tracing off: 1 with *ret, 0 when there is none, -errno */
static int open_stopped(const char *name, struct tracefs_instance **ret, struct vt_errbuf *eb)
{
	if (!tracefs_instance_exists(name))
		return 0;
	*ret = tracefs_instance_alloc(NULL, name);
	if (!*ret)
		return vtc_errf(eb, errno ? errno : ENOMEM, "instance %s: %s", name,
				strerror(errno ? errno : ENOMEM));
	tracefs_trace_off(*ret);
	return 1;
}

static int destroy_one(const char *name, struct vt_errbuf *eb)
{
	struct tracefs_instance *inst __attribute__((cleanup(free_inst))) = NULL;
	int r;

	r = open_stopped(name, &inst, eb);
	if (r <= 0)
		return r;
	if (tracefs_instance_destroy(inst) < 0)
		return vtc_errf(eb, errno ? errno : EIO, "instance %s: cannot remove: %s", name,
				strerror(errno ? errno : EIO));
	return 0;
}

int vt_instances_destroy(const char *domain, struct vt_errbuf *eb)
{
	char name[300], tsc[300];
	int r, r2;

	r = vt_instance_name(domain, false, name, sizeof(name));
	if (r < 0 || (r = vt_instance_name(domain, true, tsc, sizeof(tsc))) < 0)
		return vtc_errf(eb, r, "domain '%.64s': bad name for an instance", domain);
	r = destroy_one(name, eb);
	r2 = destroy_one(tsc, r < 0 ? NULL : eb);
	return r < 0 ? r : r2;
}

bool vt_instances_exist(const char *domain)
{
	char name[300];

	return vt_instance_name(domain, false, name, sizeof(name)) == 0 &&
	       tracefs_instance_exists(name);
}

static int setup(const char *name, unsigned kb, bool overwrite,
		 struct tracefs_instance **ret, struct vt_errbuf *eb)
{
	struct tracefs_instance *inst;
	int r;

	if (tracefs_instance_exists(name)) {
		r = destroy_one(name, eb);
		if (r < 0)
			return r;
	}
	inst = tracefs_instance_create(name);
	if (!inst)
		return vtc_errf(eb, errno ? errno : EIO, "instance %s: cannot create: %s", name,
				strerror(errno ? errno : EIO));
	tracefs_trace_off(inst);
	r = write_file(inst, "trace_clock", "x86-tsc", eb);
	/*
	 * Each resize waits for RCU grace periods. The -tsc instance is set up on 'start
	 * begin''s path: it keeps a default that is large enough. The main one is set up
	 * off that path and gets exactly what was asked (smaller too).
	 */
	if (!r && kb &&
	    (overwrite ? tracefs_instance_get_buffer_size(inst, 0) != (ssize_t)kb
		       : tracefs_instance_get_buffer_size(inst, 0) < (ssize_t)kb) &&
	    tracefs_instance_set_buffer_size(inst, kb, -1) < 0)
		r = vtc_errf(eb, errno ? errno : EIO, "instance %s: cannot set %u KiB buffers",
			     name, kb);
	if (!r && tracefs_option_enable(inst, TRACEFS_OPTION_RECORD_TGID) < 0)
		r = vtc_errf(eb, errno ? errno : EIO, "instance %s: cannot enable record-tgid",
			     name);
	if (!r && !overwrite)
		tracefs_option_disable(inst, TRACEFS_OPTION_OVERWRITE);
	if (r < 0) {
		tracefs_instance_destroy(inst);
		tracefs_instance_free(inst);
		return r;
	}
	*ret = inst;
	return 0;
}

int vt_instances_create_tsc(const char *domain, unsigned tsc_kb, struct vt_errbuf *eb)
{
	struct tracefs_instance *inst __attribute__((cleanup(free_inst))) = NULL;
	char tsc[300];
	int r;

	r = vt_instance_name(domain, true, tsc, sizeof(tsc));
	if (r < 0)
		return vtc_errf(eb, r, "domain '%.64s': bad name for an instance", domain);
	if (vt_run_domain_locked(domain))
		return vtc_errf(eb, EBUSY, "domain %s: a recorder is running", domain);
	r = setup(tsc, tsc_kb, false, &inst, eb);
	if (r < 0)
		return r;
	if (tracefs_instance_file_write(inst,
					"events/" VT_TSC_EVENT_SYSTEM "/" VT_TSC_EVENT "/enable",
					"1") <= 0) {
		tracefs_instance_destroy(inst);
		return vtc_errf(eb, ENOENT, "instance %s: no event kvm:kvm_write_tsc_offset "
				"(is the kvm module loaded?)", tsc);
	}
	if (tracefs_trace_on(inst) < 0) {
		r = vtc_errf(eb, errno ? errno : EIO, "instance %s: cannot switch tracing on", tsc);
		tracefs_instance_destroy(inst);
		return r;
	}
	return 0;
}

int vt_instances_create_main(const char *domain, const char *host_events, unsigned host_kb,
			     struct vt_errbuf *eb)
{
	struct tracefs_instance *inst __attribute__((cleanup(free_inst))) = NULL;
	char name[300];
	int r, unmatched;

	r = vt_instance_name(domain, false, name, sizeof(name));
	if (r < 0)
		return vtc_errf(eb, r, "domain '%.64s': bad name for an instance", domain);
	r = setup(name, host_kb, true, &inst, eb);
	if (r < 0)
		return r;
	unmatched = enable_list(inst, host_events, eb);
	if (unmatched < 0) {
		tracefs_instance_destroy(inst);
		return vtc_errf(eb, unmatched, "instance %s: cannot enable events", name);
	}
	if (tracefs_trace_on(inst) < 0) {
		r = vtc_errf(eb, errno ? errno : EIO, "instance %s: cannot switch tracing on",
			     name);
		tracefs_instance_destroy(inst);
		return r;
	}
	return unmatched;
}

int vt_instances_create(const char *domain, const char *host_events, unsigned host_kb,
			unsigned tsc_kb, struct vt_errbuf *eb)
{
	char tsc[300];
	int r;

	/* the -tsc instance first: it is on before anything else is set up */
	r = vt_instances_create_tsc(domain, tsc_kb, eb);
	if (r < 0)
		return r;
	r = vt_instances_create_main(domain, host_events, host_kb, eb);
	if (r < 0 && vt_instance_name(domain, true, tsc, sizeof(tsc)) == 0)
		destroy_one(tsc, NULL);
	return r;
}

/* <rundir>/<escaped domain>.setup or .tsc-setup */
static int lock_path(const char *domain, bool tsc_part, char *out, size_t len)
{
	char esc[256];
	int r = vt_store_escape(domain, esc, sizeof(esc));

	if (r < 0)
		return r;
	if ((size_t)snprintf(out, len, "%s/%s%s", vt_store_rundir(), esc,
			     tsc_part ? ".tsc-setup" : ".setup") >= len)
		return vtc_err(ENAMETOOLONG);
	return 0;
}

int vt_instances_lock(const char *domain, bool tsc_part, int timeout_ms)
{
	_cleanup_close_ int fd = -1;
	char path[4096];
	int r, waited_ms = 0;

	r = lock_path(domain, tsc_part, path, sizeof(path));
	if (r < 0)
		return r;
	if (mkdir(vt_store_rundir(), 0750) < 0 && errno != EEXIST)
		return vtc_err(errno);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return vtc_err(errno);
	while (flock(fd, LOCK_EX | (timeout_ms < 0 ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return vtc_err(errno);
		if (timeout_ms == 0)
			return vtc_err(EWOULDBLOCK);
		if (waited_ms >= timeout_ms)
			return vtc_err(ETIMEDOUT);
		usleep(2000);
		waited_ms += 2;
	}
	return TAKE_FD(fd);
}

/* cut a torn last page (a writer killed mid-page) and go to the end */
static void cut_torn(int fd, int page_size)
{
	off_t end = lseek(fd, 0, SEEK_END);

	if (end > 0 && page_size > 0 && end % page_size) {
		end -= end % page_size;
		(void)!ftruncate(fd, end);
		lseek(fd, end, SEEK_SET);
	}
}

static int64_t drain_one(const char *name, const char *spool, const char *sub,
			 struct vt_errbuf *eb)
{
	struct tracefs_instance *inst __attribute__((cleanup(free_inst))) = NULL;
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	char path[PATH_MAX];
	int64_t total = 0;
	int r = open_stopped(name, &inst, eb);

	if (r <= 0)
		return r;
	if (snprintf(path, sizeof(path), "%s/%s", spool, sub) >= (int)sizeof(path))
		return vtc_err(ENAMETOOLONG);
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return vtc_errf(eb, errno, "%s: cannot create: %s", path, strerror(errno));
	for (long cpu = 0; cpu < (cpus > 0 ? cpus : 1); cpu++) {
		struct tracefs_cpu *tc = tracefs_cpu_open(inst, (int)cpu, true);
		_cleanup_close_ int fd = -1;
		int n;

		if (!tc)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s/cpu%ld.raw", spool, sub, cpu) >=
		    (int)sizeof(path)) {
			tracefs_cpu_close(tc);
			return vtc_err(ENAMETOOLONG);
		}
		/* no O_APPEND: splice() refuses it */
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			r = vtc_errf(eb, errno, "%s: %s", path, strerror(errno));
			tracefs_cpu_close(tc);
			return r;
		}
		cut_torn(fd, tracefs_cpu_read_size(tc));
		/* one page per call */
		while ((n = tracefs_cpu_flush_write(tc, fd)) > 0)
			total += n;
		fsync(fd);
		tracefs_cpu_close(tc);
	}
	return total;
}

int64_t vt_instances_drain(const char *domain, const char *spool, struct vt_errbuf *eb)
{
	char name[300], tsc[300];
	int64_t a, b;
	int r;

	r = vt_instance_name(domain, false, name, sizeof(name));
	if (r < 0 || (r = vt_instance_name(domain, true, tsc, sizeof(tsc))) < 0)
		return vtc_errf(eb, r, "domain '%.64s': bad name for an instance", domain);
	a = drain_one(name, spool, "main", eb);
	if (a < 0)
		return a;
	b = drain_one(tsc, spool, "tsc", eb);
	return b < 0 ? b : a + b;
}
