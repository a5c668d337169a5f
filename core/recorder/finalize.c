// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Finalize a run from its spool (at stop, and by recover after a recorder died):
 * host.dat, offset timeline, manifest.json, final state.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "finalize.h"
#include "recorder.h"
#include "util.h"
#include "vt/convert.h"
#include "vt/dat.h"
#include "vt/instances.h"
#include "vt/log.h"
#include "vt/lost.h"
#include "vt/manifest.h"
#include "vt/perfclock.h"
#include "vt/timeline.h"
#include "vt/tracefs-meta.h"

#define COMMIT_LEN_MASK ((1u << 27) - 1)

static void json_putp(struct json_object **o)
{
	json_object_put(*o);
}

static void meta_freep(struct vt_tracefs_meta **m)
{
	vt_tracefs_meta_free(*m);
}

static void dat_closep(struct vt_dat **d)
{
	vt_dat_close(*d);
}

static void timeline_freep(struct vt_timeline **t)
{
	vt_timeline_free(*t);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* number of CPUs of a spool buffer: highest cpuN.raw + 1 */
static unsigned spool_cpus(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0, cpu;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (sscanf(de->d_name, "cpu%u.raw", &cpu) == 1 && cpu < 8192 && cpu + 1 > n)
			n = cpu + 1;
	closedir(d);
	return n;
}

int rec_write_cpu(struct vt_datw *w, const char *path, const struct vt_dat_meta *meta,
		  struct rec_page_stats *st, struct vt_errbuf *eb)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ uint8_t *page = malloc(meta->page_size);
	size_t hdr = 8 + meta->long_size;

	if (!page)
		return vtc_err(ENOMEM);
	if (fd < 0)
		return errno == ENOENT ? 0 : vtc_errf(eb, errno, "%s: %s", path, strerror(errno));
	for (;;) {
		size_t got = 0;
		uint64_t commit = 0;
		int r;

		while (got < meta->page_size) {
			ssize_t n = read(fd, page + got, meta->page_size - got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return vtc_errf(eb, errno, "%s: %s", path, strerror(errno));
			if (n == 0)
				break;
			got += (size_t)n;
		}
		if (got < meta->page_size) {
			st->torn_bytes += got;	/* a page cut by a killed writer */
			return 0;
		}
		if (meta->long_size == 8)
			vtc_get_le64(page, hdr, 8, &commit);
		else {
			uint32_t c32 = 0;

			vtc_get_le32(page, hdr, 8, &c32);
			commit = c32;
		}
		if (!(commit & COMMIT_LEN_MASK) && !(commit >> 30))
			continue;	/* an empty page of a final flush */
		r = vt_datw_cpu_page(w, page, eb);
		if (r < 0)
			return vtc_err_prefix(eb, r, "%s: page %" PRIu64, path, st->pages);
		st->pages++;
	}
}

static int write_buffer(struct vt_datw *w, const char *spool, const char *sub,
			const char *name, const struct vt_dat_meta *meta, struct rec_page_stats *st,
			struct vt_errbuf *eb)
{
	char dir[PATH_MAX];
	unsigned ncpus;
	int r;

	snprintf(dir, sizeof(dir), "%s/%s", spool, sub);
	ncpus = spool_cpus(dir);
	if (!ncpus) {
		long n = sysconf(_SC_NPROCESSORS_CONF);

		ncpus = n > 0 ? (unsigned)n : 1;
	}
	r = vt_datw_buffer_begin(w, name, ncpus, eb);
	for (unsigned cpu = 0; !r && cpu < ncpus; cpu++) {
		char path[PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/cpu%u.raw", dir, cpu);
		r = vt_datw_cpu_begin(w, cpu, eb);
		if (!r)
			r = rec_write_cpu(w, path, meta, st, eb);
		if (!r)
			r = vt_datw_cpu_end(w, eb);
	}
	if (!r)
		r = vt_datw_buffer_end(w, eb);
	return r;
}

static bool tsc2nsec_from(struct json_object *rec, struct vt_tsc2nsec *t)
{
	struct json_object *o = get(rec, "tsc2nsec");

	if (!o || !get(o, "mult") || !get(o, "shift"))
		return false;
	t->mult = (uint32_t)json_object_get_uint64(get(o, "mult"));
	t->shift = (uint32_t)json_object_get_uint64(get(o, "shift"));
	t->offset = get(o, "offset") ? json_object_get_uint64(get(o, "offset")) : 0;
	return t->mult != 0;
}

static int write_host(const struct vt_run *run, const char *spool, struct json_object *root,
		      uint64_t *ret_trace_id, struct rec_page_stats *st, struct vt_errbuf *eb)
{
	struct vt_tracefs_meta *meta __attribute__((cleanup(meta_freep))) = NULL;
	char path[PATH_MAX];
	struct vt_tsc2nsec t2n;
	struct vt_datw_opts wo = { .version = 7, .clock = "x86-tsc" };
	struct vt_datw *w = NULL;
	int r;

	if (snprintf(path, sizeof(path), "%s/meta", spool) >= (int)sizeof(path))
		return vtc_err(ENAMETOOLONG);
	r = vt_tracefs_meta_load(path, &meta, eb);
	if (r < 0 && vt_instances_exist(run->domain)) {
		/* the recorder died before it saved them: the live formats still fit */
		char name[300], tsc[300];
		const char *insts[2] = { name, tsc };
		const char *extra[] = { "kvm:kvm_write_tsc_offset" };

		if (vt_instance_name(run->domain, false, name, sizeof(name)) == 0 &&
		    vt_instance_name(run->domain, true, tsc, sizeof(tsc)) == 0 &&
		    vt_tracefs_meta_read(insts, 2, extra, 1, &meta, eb) == 0) {
			vt_manifest_add_warning(root, "trace formats read at finalize time (none "
						      "saved in the spool)");
			r = 0;
		}
	}
	if (r < 0)
		return vtc_err_prefix(eb, r, "%s: no trace metadata in the spool", run->dir);
	/* saved_cmdlines as late as possible: the live one when tracefs is there */
	if (vt_tracefs_meta_refresh_cmdlines(meta) < 0)
		vt_manifest_add_warning(root, "saved_cmdlines: the copy from recording start is "
					      "used");
	if (tsc2nsec_from(get(root, "recorder"), &t2n) || vt_perfclock_tsc2nsec(&t2n) == 0)
		wo.tsc2nsec = &t2n;
	wo.trace_id = vt_make_trace_id();
	if (snprintf(path, sizeof(path), "%s/host.dat", run->dir) >= (int)sizeof(path))
		return vtc_err(ENAMETOOLONG);
	r = vt_datw_create(path, vt_tracefs_meta_get(meta), &wo, &w, eb);
	if (r < 0)
		return r;
	r = write_buffer(w, spool, "main", "", vt_tracefs_meta_get(meta), st, eb);
	if (!r)
		r = write_buffer(w, spool, "tsc", "tsc", vt_tracefs_meta_get(meta), st, eb);
	r = vt_datw_finish(w, r, eb);
	if (!r) {
		*ret_trace_id = wo.trace_id;
	}
	return r;
}

static char *read_tgids(const char *spool)
{
	char path[PATH_MAX];
	char *text = NULL;

	if (vtc_read_file("/sys/kernel/tracing/saved_tgids", &text, NULL) == 0)
		return text;
	if (snprintf(path, sizeof(path), "%s/meta/saved_tgids", spool) < (int)sizeof(path) &&
	    vtc_read_file(path, &text, NULL) == 0)
		return text;
	return NULL;
}

/* the threads of QEMU: saved_tgids, plus what the recorder saw in /proc at 'started' */
static int qemu_tids(struct json_object *root, const char *spool, int32_t pid,
		     struct vt_tidset *tids)
{
	_cleanup_free_ char *tg = read_tgids(spool);
	struct json_object *arr = get(get(root, "recorder"), "qemu_tids");
	struct vt_errbuf eb;
	int r = 0;

	if (!tg || vt_tidset_from_tgids(tg, pid, tids, &eb) < 0)
		r = vt_tidset_add(tids, pid);
	for (size_t i = 0; !r && arr && i < json_object_array_length(arr); i++)
		r = vt_tidset_add(tids, json_object_get_int(json_object_array_get_idx(arr, i)));
	return r;
}

/* debugfs snapshot vs the tracepoint writes: disagreements are warnings */
static void check_debugfs(struct json_object *root, const struct vt_timeline *tl,
			  struct vt_tsc_scale *scale)
{
	struct json_object *arr = get(root, "debugfs");
	uint64_t snap = get(root, "debugfs_host_tsc") ?
				json_object_get_uint64(get(root, "debugfs_host_tsc")) : UINT64_MAX;

	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		uint32_t id = (uint32_t)json_object_get_int(get(o, "vcpu_id"));
		uint64_t off = (uint64_t)json_object_get_int64(get(o, "tsc_offset_s64"));
		const struct vt_tsc_write *last = NULL;

		if (get(o, "tsc_scaling_ratio") && get(o, "tsc_scaling_frac_bits")) {
			uint64_t ratio = json_object_get_uint64(get(o, "tsc_scaling_ratio"));
			unsigned frac = (unsigned)json_object_get_int(get(o, "tsc_scaling_frac_bits"));

			if (frac && frac < 64 && ratio && ratio != (1ull << frac)) {
				scale->ratio = ratio;
				scale->frac_bits = frac;
			}
		}
		for (size_t v = 0; tl && v < tl->nvcpus; v++) {
			if (tl->vcpus[v].vcpu_id != id)
				continue;
			for (size_t k = 0; k < tl->vcpus[v].nwrites; k++)
				if (tl->vcpus[v].writes[k].host_tsc <= snap)
					last = &tl->vcpus[v].writes[k];
		}
		if (!last)
			vt_manifest_add_warning(root, "debugfs: vcpu%u tsc-offset %" PRId64 " has no "
						      "tracepoint write before it",
						id, (int64_t)off);
		else if (last->next_offset != off)
			vt_manifest_add_warning(root, "debugfs: vcpu%u tsc-offset %" PRId64
						      " disagrees with the tracepoint's %" PRId64
						      " (the tracepoint wins)",
						id, (int64_t)off, (int64_t)last->next_offset);
	}
}

/* vCPU threads of the status XML vs the threads that wrote the offsets */
static void check_vcpu_tids(struct json_object *root, const struct vt_timeline *tl)
{
	struct json_object *arr = get(root, "vcpu_threads");

	if (!arr || !tl)
		return;
	for (size_t v = 0; v < tl->nvcpus; v++) {
		bool found = false;

		for (size_t i = 0; i < json_object_array_length(arr); i++)
			found |= json_object_get_int(get(json_object_array_get_idx(arr, i), "tid")) ==
				 tl->vcpus[v].tid;
		if (!found)
			vt_manifest_add_warning(root, "vcpu id %u: offsets written by thread %d, "
						      "which is no vCPU thread of the status XML",
						tl->vcpus[v].vcpu_id, tl->vcpus[v].tid);
	}
	if (json_object_array_length(arr) != tl->nvcpus)
		vt_manifest_add_warning(root, "%zu vCPU threads but offset writes for %zu vCPUs",
					json_object_array_length(arr), tl->nvcpus);
}

/* a constant timeline from the debugfs snapshot: -ENOENT when there is none */
static int debugfs_timeline(struct json_object *root, struct vt_timeline **ret)
{
	struct json_object *arr = get(root, "debugfs");
	size_t n = arr ? json_object_array_length(arr) : 0;
	_cleanup_free_ uint32_t *ids = calloc(n ? n : 1, sizeof(*ids));
	_cleanup_free_ uint64_t *offs = calloc(n ? n : 1, sizeof(*offs));
	uint64_t snap = get(root, "debugfs_host_tsc") ?
				json_object_get_uint64(get(root, "debugfs_host_tsc")) : 0;

	if (!n)
		return vtc_err(ENOENT);
	if (!ids || !offs)
		return vtc_err(ENOMEM);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);

		ids[i] = (uint32_t)json_object_get_int(get(o, "vcpu_id"));
		offs[i] = (uint64_t)json_object_get_int64(get(o, "tsc_offset_s64"));
	}
	int r = vt_timeline_constant(ids, offs, n, snap, VT_SRC_DEBUGFS, 0, ret);
	struct json_object *vt = get(root, "vcpu_threads");

	if (r < 0)
		return r;
	/* vcpu ids in sorted order are the vCPUs 0, 1, ... (DESIGN.md §3) */
	(*ret)->pid = json_object_get_int(get(root, "qemu_pid"));
	for (size_t i = 0; vt && i < (*ret)->nvcpus && i < json_object_array_length(vt); i++)
		(*ret)->vcpus[i].tid = json_object_get_int(get(json_object_array_get_idx(vt, i), "tid"));
	return 0;
}

static bool all_zero(const struct vt_timeline *tl)
{
	for (size_t i = 0; i < tl->nvcpus; i++)
		for (size_t k = 0; k < tl->vcpus[i].nwrites; k++)
			if (tl->vcpus[i].writes[k].next_offset)
				return false;
	return true;
}

static int timeline(struct json_object *root, const char *spool, struct vt_dat *dat,
		    struct vt_timeline **ret_tl, struct vt_tsc_scale *ret_scale,
		    struct vt_errbuf *eb)
{
	struct vt_timeline *tl __attribute__((cleanup(timeline_freep))) = NULL;
	bool probe = rec_guest_has_probe(spool);
	struct vt_tidset tids = { 0 };
	struct vt_tsc_scale scale = { 0 };
	struct vt_errbuf teb = { "" };
	int32_t pid = get(root, "qemu_pid") ? json_object_get_int(get(root, "qemu_pid")) : -1;
	int r;

	if (pid <= 0) {
		/* every VM on the host writes offsets: without QEMU's pid none is ours */
		vt_manifest_add_warning(root, "no offset timeline: QEMU's pid is unknown (no "
					      "'started'); host.dat keeps every write");
		*ret_tl = NULL;
		return vt_manifest_set_timeline(root, NULL, NULL);
	}
	r = qemu_tids(root, spool, pid, &tids);
	if (r < 0)
		return vtc_errf(eb, r, "out of memory");
	r = vt_timeline_from_dat(dat, &tids, pid, &tl, &teb);
	vt_tidset_fini(&tids);
	if (r == -ENOENT) {
		/* capture of a running domain: no creation writes, debugfs is what we have */
		r = debugfs_timeline(root, &tl);
		if (r == 0)
			vt_manifest_add_warning(root, "no tracepoint write of QEMU's vCPUs: offsets "
						      "from the debugfs snapshot (exact only if no "
						      "write happened before it)");
		if (r == 0 && all_zero(tl))
			vt_manifest_add_warning(root, "debugfs: every vCPU's tsc-offset reads 0, "
						      "which nested hosts are known to report "
						      "wrongly: the conversion may be off");
		else if (r < 0 && !probe)
			vt_manifest_add_warning(root, "no offset timeline: %s", teb.msg);
		/* with a probe (TCG domains), the guest half brings its own timeline */
		r = 0;
	} else if (r == -EEXIST) {
		vt_manifest_add_warning(root, "no offset timeline: %s", teb.msg);
		tl = NULL;
	} else if (r < 0) {
		return vtc_errf(eb, r, "host.dat: %s", teb.msg);
	}
	check_debugfs(root, tl, &scale);
	check_vcpu_tids(root, tl);
	r = vt_manifest_set_timeline(root, tl, scale.ratio ? &scale : NULL);
	if (!r && tl && tl->foreign_writes)
		vt_manifest_add_warning(root, "%" PRIu64 " offset writes of other processes left "
					      "out", tl->foreign_writes);
	*ret_scale = scale;
	*ret_tl = TAKE_PTR(tl);
	return r;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* run members belong to group libvirt where it exists (DESIGN.md §3) */
static void member_group(const char *dir, const char *name)
{
	struct group *g = getgrnam("libvirt");
	char path[PATH_MAX + NAME_MAX + 2];

	if (!g || snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return;
	/* never through a symlink: the guest step could have left one */
	(void)!fchownat(AT_FDCWD, path, (uid_t)-1, g->gr_gid, AT_SYMLINK_NOFOLLOW);
}

static void now_iso(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* host.dat again, with one GUEST option per guest file */
static int host_add_guests(const struct vt_run *run, struct vt_dat *dat, uint64_t trace_id,
			   const struct rec_guests *g, struct vt_errbuf *eb)
{
	struct vt_dat_guest opts[REC_MAX_GUESTS];
	struct vt_tsc2nsec t2n;
	struct vt_datw_opts wo = { .version = 7, .clock = "x86-tsc", .trace_id = trace_id,
				   .tsc2nsec = vt_dat_tsc2nsec(dat, &t2n) ? &t2n : NULL,
				   .guests = opts, .nguests = g->n };
	char path[PATH_MAX];

	for (size_t i = 0; i < g->n; i++)
		opts[i] = (struct vt_dat_guest){ .name = run->domain,
						 .trace_id = g->files[i].trace_id,
						 .ncpus = g->files[i].ncpus,
						 .vcpu_tid = g->files[i].tids };
	if (snprintf(path, sizeof(path), "%s/host.dat", run->dir) >= (int)sizeof(path))
		return vtc_err(ENAMETOOLONG);
	return vt_dat_copy(dat, path, &wo, NULL, eb);
}

static int finalize_locked(const struct vt_run *run, bool complete, const char *reason,
			   struct vt_errbuf *eb)
{
	struct json_object *root __attribute__((cleanup(json_putp))) = NULL;
	struct vt_dat *dat __attribute__((cleanup(dat_closep))) = NULL;
	struct vt_timeline *tl __attribute__((cleanup(timeline_freep))) = NULL;
	_cleanup_free_ struct rec_guests *guests = calloc(1, sizeof(*guests));
	const char *members[1 + REC_MAX_GUESTS] = { "host.dat" };
	struct rec_page_stats st = { 0 };
	struct vt_tsc_scale scale = { 0 };
	char spool[PATH_MAX], path[PATH_MAX], ring[PATH_MAX], finished[32];
	char guest_failure[VT_ERRBUF_LEN + 128] = "", why[2 * VT_ERRBUF_LEN + 256];
	struct vt_lost_totals lt = { 0 };
	uint64_t trace_id = 0;
	int r;

	if (!guests)
		return vtc_err(ENOMEM);
	if (snprintf(spool, sizeof(spool), "%s/spool", run->dir) >= (int)sizeof(spool))
		return vtc_err(ENAMETOOLONG);
	r = vt_run_set_state(run, VT_RUN_FINALIZING, NULL, eb);
	if (r < 0)
		return r;
	r = vt_manifest_read(run->dir, &root, eb);
	if (r < 0)
		return r;
	r = write_host(run, spool, root, &trace_id, &st, eb);
	if (r < 0)
		return r;
	if (st.torn_bytes)
		vt_manifest_add_warning(root, "spool: %" PRIu64 " bytes of torn pages dropped "
					      "(the recorder was killed mid-write)", st.torn_bytes);
	if (snprintf(path, sizeof(path), "%s/host.dat", run->dir) >= (int)sizeof(path))
		return vtc_err(ENAMETOOLONG);
	r = vt_dat_open(path, &dat, eb);
	if (!r && snprintf(ring, sizeof(ring), "%s/" REC_RING_STATS, spool) >= (int)sizeof(ring))
		r = vtc_err(ENAMETOOLONG);
	if (!r)
		r = vt_lost_account(root, dat, ring, &lt, eb);
	if (r < 0)
		return vtc_err_prefix(eb, r, "%s: written but unreadable", path);
	r = timeline(root, spool, dat, &tl, &scale, eb);
	if (!r)
		r = rec_guest_step(run, spool, root, dat, tl, scale.ratio ? &scale : NULL, guests,
				   guest_failure, sizeof(guest_failure));
	if (!r && guest_failure[0]) {
		/* the host half is whole; the run says the guest half is not */
		complete = false;
		snprintf(why, sizeof(why), "%s%s%s", reason ? reason : "", reason ? "; " : "",
			 guest_failure);
		reason = why;
	}
	if (!r && guests->n)
		r = host_add_guests(run, dat, trace_id, guests, eb);
	if (!r)
		r = vt_manifest_set_host(root, "host.dat", dat, trace_id, lt.events, lt.lost_pages);
	if (!r && !lt.events)
		vt_manifest_add_warning(root, "host.dat holds no events (nothing reached the "
					      "spool)");
	for (size_t i = 0; i < guests->n; i++)
		members[1 + i] = guests->files[i].name;
	if (!r)
		r = vt_manifest_add_members(root, run->dir, members, 1 + guests->n, eb);
	if (r < 0)
		return r;
	now_iso(finished, sizeof(finished));
	json_object_object_add(root, "finished", json_object_new_string(finished));
	json_object_object_add(root, "state", json_object_new_string(
						      complete ? "complete" : "incomplete"));
	if (reason)
		json_object_object_add(root, "state_reason", json_object_new_string(reason));
	r = vt_manifest_write(run->dir, root, eb);
	if (r < 0)
		return r;
	for (size_t i = 0; i < 1 + guests->n; i++)
		member_group(run->dir, members[i]);
	member_group(run->dir, "manifest.json");
	nftw(spool, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

void rec_ring_stats_save(const char *domain, const char *spool, bool replace)
{
	struct vt_errbuf eb = { "" };
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/" REC_RING_STATS, spool) >= (int)sizeof(path) ||
	    (!replace && access(path, F_OK) == 0))
		return;
	r = vt_lost_ring_save(domain, path, &eb);
	if (r < 0 && r != -ENOENT)
		vt_log(LOG_WARNING, "domain %s: ring buffer counts: %s", domain, eb.msg);
}

/* only the newest run of a domain may own what its instances still hold */
static bool is_latest(const struct vt_run *run)
{
	struct vt_run latest;

	return vt_run_open(run->domain, NULL, &latest, NULL) == 0 && !strcmp(latest.id, run->id);
}

int rec_finalize(const struct vt_run *run, bool complete, const char *reason,
		 struct vt_errbuf *eb)
{
	_cleanup_close_ int lock = -1;
	int r;

	if (run->lock_fd < 0) {
		char spool[PATH_MAX];

		lock = vt_run_lock_domain(run->domain, eb);
		if (lock == -EBUSY)
			return vtc_errf(eb, EBUSY, "domain %s: a recorder is running", run->domain);
		if (lock < 0)
			return lock;
		/* what a dead recorder left in the ring buffers */
		if (snprintf(spool, sizeof(spool), "%s/spool", run->dir) >= (int)sizeof(spool))
			return vtc_err(ENAMETOOLONG);
		if (is_latest(run) && vt_instances_exist(run->domain) && access(spool, F_OK) == 0) {
			struct vt_errbuf deb = { "" };
			int64_t n = vt_instances_drain(run->domain, spool, &deb);

			if (n < 0)
				vt_log(LOG_WARNING, "domain %s: run %s: %s", run->domain, run->id,
				       deb.msg);
			else if (n > 0)
				vt_log(LOG_INFO, "domain %s: run %s: %" PRId64 " bytes left in the "
				       "ring buffers kept", run->domain, run->id, n);
			rec_ring_stats_save(run->domain, spool, false);
		}
	}
	r = finalize_locked(run, complete, reason, eb);
	if (r == -ENOSPC || r == -EDQUOT) {
		struct vt_errbuf ignored;
		char why[1024];

		/*
		 * Not failed: the spool is whole, only the room for the archive is missing.
		 * The state stays finalizing (recording if even that cannot be written), so
		 * that 'virt-trace recover' finishes the run once there is room.
		 */
		if (reason && strstr(reason, REC_FINALIZE_NOSPACE))
			snprintf(why, sizeof(why), "%s", reason);
		else
			snprintf(why, sizeof(why), "%s%s" REC_FINALIZE_NOSPACE,
				 reason ? reason : "", reason ? "; " : "");
		vt_run_set_state(run, VT_RUN_FINALIZING, why, &ignored);
	} else if (r < 0) {
		struct vt_errbuf ignored;
		char why[VT_ERRBUF_LEN + 32];

		snprintf(why, sizeof(why), "finalize failed: %s",
			 eb && eb->msg[0] ? eb->msg : strerror(-r));
		vt_run_set_state(run, VT_RUN_FAILED, why, &ignored);
	}
	return r;
}

void rec_recover_reason(const struct vt_run *run, char *buf, size_t len)
{
	struct json_object *root __attribute__((cleanup(json_putp))) = NULL;
	const char *state = NULL, *reason = NULL;
	struct vt_errbuf eb;

	if (vt_manifest_read(run->dir, &root, &eb) == 0) {
		state = get(root, "state") ? json_object_get_string(get(root, "state")) : NULL;
		reason = get(root, "state_reason") ? json_object_get_string(get(root, "state_reason"))
						   : NULL;
	}
	if (reason && state && !strcmp(state, "finalizing") &&
	    strstr(reason, REC_FINALIZE_NOSPACE))
		snprintf(buf, len, "%s", reason);	/* recorded whole, archive written now */
	else
		snprintf(buf, len, "recorder died%s%s", reason ? "; " : "", reason ? reason : "");
}

static int recover_domain(const char *domain, unsigned *n, struct vt_errbuf *eb)
{
	char **ids = NULL;
	size_t nids = 0;
	int first = 0, r;

	if (vt_run_domain_locked(domain))
		return 0;
	r = vt_run_list(domain, &ids, &nids);
	if (r < 0)
		return vtc_errf(eb, r, "domain %s: %s", domain, strerror(-r));
	for (size_t i = 0; i < nids; i++) {
		struct vt_errbuf reb = { "" };
		enum vt_run_state st;
		struct vt_run run;

		if (vt_run_open(domain, ids[i], &run, &reb) < 0 ||
		    vt_run_get_state(&run, &st, &reb) < 0 ||
		    (st != VT_RUN_RECORDING && st != VT_RUN_FINALIZING))
			continue;
		char why[1024];

		rec_recover_reason(&run, why, sizeof(why));
		r = rec_finalize(&run, false, why, &reb);
		if (r < 0) {
			vt_log(LOG_ERR, "domain %s: run %s: recover failed: %s", domain, run.id,
			       reb.msg);
			if (!first) {
				first = r;
				if (eb)
					*eb = reb;
			}
			continue;
		}
		vt_log(LOG_NOTICE, "domain %s: run %s: recovered as incomplete", domain, run.id);
		(*n)++;
	}
	for (size_t i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	return first;
}

int rec_recover(const char *domain, unsigned *ret_n, struct vt_errbuf *eb)
{
	char **doms = NULL;
	size_t ndoms = 0;
	unsigned n = 0;
	int first = 0, r;

	if (domain) {
		r = recover_domain(domain, &n, eb);
		*ret_n = n;
		return r;
	}
	r = vt_store_domains(&doms, &ndoms);
	if (r < 0)
		return vtc_errf(eb, r, "%s: %s", vt_store_root(), strerror(-r));
	for (size_t i = 0; i < ndoms; i++) {
		r = recover_domain(doms[i], &n, first ? NULL : eb);
		if (r < 0 && !first)
			first = r;
		free(doms[i]);
	}
	free(doms);
	*ret_n = n;
	return first;
}
