// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The agent's state directory and chunk writer: drains every CPU's trace_pipe_raw into
 * DIR/chunk-<seq>.bin (vt/chunk.h), keeping the sequence counter and lost-event
 * baselines in DIR.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "util.h"
#include "vt/chunk.h"

#define COMMIT_MISSED_EVENTS (1u << 31)
#define CPU_LIMIT 1024		/* VT_CHUNK_MAX_CPUS */

/* What one CPU gave in this collect. */
struct cpu_drain {
	uint32_t cpu;
	int fd;
	bool done;		/* EAGAIN seen: nothing left */
	bool missed;		/* a page said events were lost before it */
	uint8_t *pages;
	size_t npages, cap;	/* in pages */
	uint64_t lost;
};

struct drain {
	struct cpu_drain *cpus;
	uint32_t ncpus;
	uint32_t page_size;
};

static void drain_fini(struct drain *d)
{
	for (uint32_t i = 0; d->cpus && i < d->ncpus; i++) {
		if (d->cpus[i].fd >= 0)
			close(d->cpus[i].fd);
		free(d->cpus[i].pages);
	}
	free(d->cpus);
}

static int path_in(char *buf, const char *dir, const char *name)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		return vtc_err(ENAMETOOLONG);
	return 0;
}

static int mkdir_p(const char *dir, struct vt_errbuf *eb)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (!len || len >= sizeof(path))
		return vtc_errf(eb, EINVAL, "directory '%s': bad path", dir);
	memcpy(path, dir, len + 1);
	for (char *p = path + 1;; p++) {
		char c = *p;

		if (c != '/' && c)
			continue;
		*p = '\0';
		if (mkdir(path, 0750) < 0 && errno != EEXIST)
			return vtc_errf(eb, errno, "mkdir %s: %m", path);
		*p = c;
		if (!c)
			return 0;
	}
}

int vta_dir_lock(const char *dir, int *ret_fd, struct vt_errbuf *eb)
{
	char path[PATH_MAX];
	int fd, r;

	r = mkdir_p(dir, eb);
	if (r)
		return r;
	r = path_in(path, dir, "lock");
	if (r)
		return vtc_errf(eb, r, "%s: path too long", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return vtc_errf(eb, errno, "open %s: %m", path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		r = vtc_errf(eb, errno, "lock %s: %m", path);
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static int write_text(const char *dir, const char *name, const char *text, struct vt_errbuf *eb)
{
	char path[PATH_MAX];
	int r = path_in(path, dir, name);

	if (!r)
		r = vtc_write_file_atomic(path, text, strlen(text));
	if (r)
		return vtc_errf(eb, r, "write %s/%s: %s", dir, name, strerror(-r));
	return 0;
}

/* DIR/seq: the next chunk number; 0 when the file does not exist. */
static int read_seq(const char *dir, uint64_t *ret, struct vt_errbuf *eb)
{
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX];
	size_t len;
	int r = path_in(path, dir, "seq");

	if (r)
		return vtc_errf(eb, r, "%s: path too long", dir);
	r = vtc_read_file(path, &text, &len);
	if (r == -ENOENT) {
		*ret = 0;
		return 0;
	}
	if (r)
		return vtc_errf(eb, r, "read %s: %s", path, strerror(-r));
	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	if (vtc_parse_u64(text, ret))
		return vtc_errf(eb, EBADMSG, "%s: not a number", path);
	return 0;
}

/* DIR/lost: "cpu counter" lines, the counters at the last collect (absent = 0). */
static int read_baseline(const char *dir, uint64_t *base, struct vt_errbuf *eb)
{
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX];
	char *save = NULL;
	int r = path_in(path, dir, "lost");

	memset(base, 0, CPU_LIMIT * sizeof(*base));
	if (r)
		return vtc_errf(eb, r, "%s: path too long", dir);
	r = vtc_read_file(path, &text, NULL);
	if (r == -ENOENT)
		return 0;
	if (r)
		return vtc_errf(eb, r, "read %s: %s", path, strerror(-r));
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');
		uint64_t cpu, count;

		if (!sp)
			return vtc_errf(eb, EBADMSG, "%s: bad line '%s'", path, l);
		*sp = '\0';
		if (vtc_parse_u64(l, &cpu) || vtc_parse_u64(sp + 1, &count) || cpu >= CPU_LIMIT)
			return vtc_errf(eb, EBADMSG, "%s: bad line '%s'", path, l);
		base[cpu] = count;
	}
	return 0;
}

/* Write the current counters of @cpus as the new baseline. */
static int write_baseline(const char *dir, const uint32_t *cpus, const uint64_t *counts,
			  uint32_t n, struct vt_errbuf *eb)
{
	_cleanup_free_ char *text = malloc((size_t)n * 48 + 1);
	size_t len = 0;

	if (!text)
		return vtc_err(ENOMEM);
	text[0] = '\0';
	for (uint32_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "%u %llu\n", cpus[i],
				       (unsigned long long)counts[i]);
	return write_text(dir, "lost", text, eb);
}

static int remove_old_chunks(const char *dir, struct vt_errbuf *eb)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return vtc_errf(eb, errno, "open %s: %m", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (strncmp(de->d_name, "chunk-", 6) ||
		    !((len > 4 && !strcmp(de->d_name + len - 4, ".bin")) ||
		      (len > 8 && !strcmp(de->d_name + len - 8, ".bin.tmp"))))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			int r = vtc_errf(eb, errno, "remove %s/%s: %m", dir, de->d_name);

			closedir(d);
			return r;
		}
	}
	closedir(d);
	return 0;
}

int vta_dir_reset(const char *dir, struct tracefs_instance *inst, struct vt_errbuf *eb)
{
	_cleanup_free_ uint32_t *cpus = NULL;
	_cleanup_free_ uint64_t *counts = NULL;
	uint32_t n;
	int r;

	r = remove_old_chunks(dir, eb);
	if (!r)
		r = write_text(dir, "seq", "0\n", eb);
	if (!r)
		r = vta_cpu_list(inst, &cpus, &n, eb);
	if (r)
		return r;
	counts = calloc(n, sizeof(*counts));
	if (!counts)
		return vtc_err(ENOMEM);
	for (uint32_t i = 0; i < n; i++) {
		r = vta_cpu_lost(inst, cpus[i], &counts[i], eb);
		if (r)
			return r;
	}
	return write_baseline(dir, cpus, counts, n, eb);
}

static int drain_open(struct drain *d, struct tracefs_instance *inst, struct vt_errbuf *eb)
{
	_cleanup_free_ uint32_t *cpus = NULL;
	uint32_t n;
	int r;

	r = vta_cpu_list(inst, &cpus, &n, eb);
	if (r)
		return r;
	d->cpus = calloc(n, sizeof(*d->cpus));
	if (!d->cpus)
		return vtc_err(ENOMEM);
	d->ncpus = n;
	for (uint32_t i = 0; i < n; i++)
		d->cpus[i].fd = -1;
	for (uint32_t i = 0; i < n; i++) {
		char file[64];
		char *path;

		d->cpus[i].cpu = cpus[i];
		snprintf(file, sizeof(file), "per_cpu/cpu%u/trace_pipe_raw", cpus[i]);
		path = tracefs_instance_get_file(inst, file);
		if (!path)
			return vtc_err(ENOMEM);
		d->cpus[i].fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (d->cpus[i].fd < 0)
			r = vtc_errf(eb, errno, "open %s: %m", path);
		tracefs_put_tracing_file(path);
		if (r)
			return r;
	}
	return 0;
}

/* Read one page of @c: 1 with a page, 0 when the CPU has nothing left. */
static int drain_page(struct drain *d, struct cpu_drain *c, struct vt_errbuf *eb)
{
	uint8_t *page;
	uint32_t commit;
	ssize_t n;

	if (c->npages == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		uint8_t *np = realloc(c->pages, ncap * d->page_size);

		if (!np)
			return vtc_err(ENOMEM);
		c->pages = np;
		c->cap = ncap;
	}
	page = c->pages + c->npages * d->page_size;
	do
		n = read(c->fd, page, d->page_size);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0)
		return vtc_errf(eb, errno, "CPU %u: read trace_pipe_raw: %m", c->cpu);
	if (n == 0)
		return 0;
	if ((size_t)n < d->page_size)
		memset(page + n, 0, d->page_size - (size_t)n);
	memcpy(&commit, page + 8, sizeof(commit));
	if (le32toh(commit) & COMMIT_MISSED_EVENTS)
		c->missed = true;
	c->npages++;
	return 1;
}

/*
 * Round robin, a page per CPU at a time, so that one busy CPU cannot take the whole cap.
 * Return: 0, with *more set when the cap stopped the drain.
 */
static int drain_all(struct drain *d, bool *more, struct vt_errbuf *eb)
{
	size_t total = 0;
	bool left = true;

	*more = false;
	while (left) {
		left = false;
		for (uint32_t i = 0; i < d->ncpus; i++) {
			struct cpu_drain *c = &d->cpus[i];
			int r;

			if (c->done)
				continue;
			if (total + d->page_size > VTA_CHUNK_CAP) {
				*more = true;
				return 0;
			}
			r = drain_page(d, c, eb);
			if (r < 0)
				return r;
			if (r == 0) {
				c->done = true;
				continue;
			}
			total += d->page_size;
			left = true;
		}
	}
	return 0;
}

/* Lost events since the last collect, per CPU; the baseline moves on. */
static int drain_lost(struct drain *d, const char *dir, struct tracefs_instance *inst,
		      struct vt_errbuf *eb)
{
	_cleanup_free_ uint64_t *base = calloc(CPU_LIMIT, sizeof(*base));
	_cleanup_free_ uint64_t *now = calloc(d->ncpus, sizeof(*now));
	_cleanup_free_ uint32_t *ids = calloc(d->ncpus, sizeof(*ids));
	int r;

	if (!base || !now || !ids)
		return vtc_err(ENOMEM);
	r = read_baseline(dir, base, eb);
	if (r)
		return r;
	for (uint32_t i = 0; i < d->ncpus; i++) {
		struct cpu_drain *c = &d->cpus[i];

		r = vta_cpu_lost(inst, c->cpu, &now[i], eb);
		if (r)
			return r;
		ids[i] = c->cpu;
		/* a counter below its baseline was reset: count from zero */
		c->lost = now[i] >= base[c->cpu] ? now[i] - base[c->cpu] : now[i];
	}
	return write_baseline(dir, ids, now, d->ncpus, eb);
}

/* tmp + fsync + rename: header, then every CPU's pages in entry order. */
static int write_chunk(const char *path, const uint8_t *hdr, size_t hlen, const struct drain *d,
		       struct vt_errbuf *eb)
{
	struct iovec iov[1 + VT_CHUNK_MAX_CPUS];
	size_t n = 0;
	int r;

	iov[n++] = (struct iovec){ .iov_base = (void *)hdr, .iov_len = hlen };
	for (uint32_t i = 0; i < d->ncpus && n < sizeof(iov) / sizeof(iov[0]); i++)
		iov[n++] = (struct iovec){ .iov_base = (void *)d->cpus[i].pages,
					   .iov_len = (size_t)d->cpus[i].npages * d->page_size };
	r = vtc_write_file_atomicv(path, iov, n);
	if (r)
		return vtc_errf(eb, r, "write %s: %s", path, strerror(-r));
	return 0;
}

static int describe(const char *path, uint64_t bytes, const struct vt_chunk *c,
		    const struct drain *d, bool more, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *cpus = json_object_new_array();
	int r;

	if (!o) {
		json_object_put(cpus);
		return vtc_err(ENOMEM);
	}
	r = vta_json_add(o, "path", json_object_new_string(path)) ?:
	    vta_json_add(o, "bytes", json_object_new_uint64(bytes)) ?:
	    vta_json_add(o, "seq", json_object_new_uint64(c->seq)) ?:
	    vta_json_add(o, "cpus", cpus);
	for (uint32_t i = 0; !r && i < d->ncpus; i++) {
		struct json_object *e = json_object_new_object();

		r = vta_json_push(cpus, e);
		if (!r)
			r = vta_json_add(e, "cpu", json_object_new_uint64(d->cpus[i].cpu)) ?:
			    vta_json_add(e, "pages", json_object_new_uint64(d->cpus[i].npages)) ?:
			    vta_json_add(e, "lost", json_object_new_uint64(d->cpus[i].lost));
	}
	if (!r)
		r = vta_json_add(o, "boot_id", json_object_new_string(c->boot_id)) ?:
		    vta_json_add(o, "guest_tsc", json_object_new_uint64(c->guest_tsc)) ?:
		    vta_json_add(o, "more", json_object_new_boolean(more));
	if (r)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
}

static int collect_locked(const char *dir, struct tracefs_instance *inst, struct drain *d,
			  struct vt_chunk *c, struct json_object **ret, bool *ret_more,
			  struct vt_errbuf *eb)
{
	char path[PATH_MAX], name[64], seqtext[32];
	_cleanup_free_ uint8_t *hdr = NULL;
	unsigned long_size;
	uint64_t bytes;
	size_t hlen;
	bool more;
	int r;

	r = read_seq(dir, &c->seq, eb);
	if (r)
		return r;
	/* the counter moves first: a crash leaves a gap, never two chunks of one number */
	snprintf(seqtext, sizeof(seqtext), "%llu\n", (unsigned long long)c->seq + 1);
	r = write_text(dir, "seq", seqtext, eb) ?:
	    vta_header_page(inst, &d->page_size, &long_size, eb) ?:
	    vta_boot_id(c->boot_id, eb) ?:
	    drain_open(d, inst, eb);
	if (r)
		return r;
	if (d->ncpus > VT_CHUNK_MAX_CPUS)
		return vtc_errf(eb, E2BIG, "%u CPUs, a chunk holds %u", d->ncpus,
				(unsigned)VT_CHUNK_MAX_CPUS);
	r = drain_all(d, &more, eb) ?: drain_lost(d, dir, inst, eb);
	if (r)
		return r;
	c->guest_tsc = vta_rdtsc();
	c->page_size = d->page_size;
	c->ncpus = d->ncpus;
	for (uint32_t i = 0; i < d->ncpus; i++) {
		c->cpus[i].cpu = d->cpus[i].cpu;
		c->cpus[i].npages = (uint32_t)d->cpus[i].npages;
		c->cpus[i].lost_events = d->cpus[i].lost;
		c->cpus[i].flags = (d->cpus[i].lost || d->cpus[i].missed) ? 1 : 0;
	}
	hlen = 80 + (size_t)d->ncpus * 24;
	hdr = malloc(hlen);
	if (!hdr)
		return vtc_err(ENOMEM);
	r = vt_chunk_header(c, hdr, hlen, &hlen);
	if (r)
		return vtc_errf(eb, r, "chunk header: %s", strerror(-r));
	bytes = hlen;
	for (uint32_t i = 0; i < d->ncpus; i++)
		bytes += (uint64_t)d->cpus[i].npages * d->page_size;
	snprintf(name, sizeof(name), "chunk-%llu.bin", (unsigned long long)c->seq);
	r = path_in(path, dir, name);
	if (r)
		return vtc_errf(eb, r, "%s: path too long", dir);
	r = write_chunk(path, hdr, hlen, d, eb);
	if (r)
		return r;
	*ret_more = more;
	return describe(path, bytes, c, d, more, ret);
}

int vta_collect(const char *dir, struct tracefs_instance *inst, struct json_object **ret,
		bool *ret_more, struct vt_errbuf *eb)
{
	_cleanup_free_ struct vt_chunk *c = calloc(1, sizeof(*c));
	struct drain d = { 0 };
	int r;

	if (!c)
		return vtc_err(ENOMEM);
	r = collect_locked(dir, inst, &d, c, ret, ret_more, eb);
	drain_fini(&d);
	return r;
}
