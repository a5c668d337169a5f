// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The spool writers: one thread per instance x CPU moves whole ring-buffer pages from
 * trace_pipe_raw into spool/<main|tsc>/cpuN.raw (tracefs_cpu_write, no parsing), stops
 * writing past the quota (which the guest collector's data shares) or when the disk
 * would have no room left for the archive, and counts what it drops.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <tracefs.h>
#include <unistd.h>

#include "cleanup.h"
#include "recorder.h"
#include "util.h"

#define TSC_DRAIN_MS 1000
/*
 * Taken at start, given back when the disk is full: room for the manifest edits that
 * say so and for the state at the end, even when another process filled the disk.
 */
#define BALLAST_NAME ".ballast"
#define BALLAST_BYTES (1u << 20)

struct rec_reader {
	struct rec_spool *s;
	struct tracefs_cpu *tc;
	int fd;
	int cpu;
	pthread_t thread;
	bool running;
	void *scratch;
	int page_size;
	bool exempt;	/* the -tsc instance: rare and vital, never dropped */
	bool out_dead;	/* its file hit ENOSPC: this reader only drops from now on */
};

struct rec_spool {
	struct rec_reader *readers;
	size_t nreaders;
	uint64_t quota;
	atomic_bool stop;
	atomic_uint_fast64_t written;	/* host pages and guest data (rec_spool_reserve) */
	atomic_uint_fast64_t guest;
	atomic_uint_fast64_t lost;
	atomic_bool over_quota;
	atomic_int err;
	int dir_fd;			/* the spool directory, for fstatvfs */
	atomic_uint_fast64_t reserve;	/* room the archive needs besides the pages */
	atomic_uint_fast64_t space_cap;	/* spool bytes the disk allows (tick updates it) */
	atomic_bool disk_full;
	atomic_uint_fast64_t disk_lost;	/* part of lost: dropped for want of disk space */
	atomic_bool ballast_gone;
};

static bool disk_left(struct rec_spool *s)
{
	return atomic_load(&s->written) < atomic_load(&s->space_cap);
}

static void drop_page(struct rec_reader *rd, int n)
{
	struct rec_spool *s = rd->s;

	atomic_fetch_add(&s->lost, (uint64_t)n);
	if (rd->out_dead || !disk_left(s)) {
		atomic_fetch_add(&s->disk_lost, (uint64_t)n);
		atomic_store(&s->disk_full, true);
		if (!atomic_exchange(&s->ballast_gone, true))
			unlinkat(s->dir_fd, BALLAST_NAME, 0);
	} else {
		atomic_store(&s->over_quota, true);
	}
}

static bool quota_left(struct rec_reader *rd)
{
	struct rec_spool *s = rd->s;

	if (rd->out_dead)
		return false;
	if (rd->exempt)
		return true;
	return (!s->quota || atomic_load(&s->written) < s->quota) && disk_left(s);
}

static bool is_disk_full(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EFBIG;
}

/*
 * A write failed for want of space: cut the page it tore (the file stays whole pages),
 * count it and what the failed call had taken from the ring buffer as dropped, stop this
 * reader's writes for good (its splice pipe may hold part of a page) and the others'
 * until the next space check.
 */
static void out_of_space(struct rec_reader *rd)
{
	struct rec_spool *s = rd->s;
	off_t end = lseek(rd->fd, 0, SEEK_END);
	uint64_t torn = end > 0 && rd->page_size > 0 ? (uint64_t)(end % rd->page_size) : 0;

	if (torn) {
		(void)!ftruncate(rd->fd, end - (off_t)torn);
		lseek(rd->fd, 0, SEEK_END);
		atomic_fetch_sub(&s->written, torn);
	}
	rd->out_dead = true;
	atomic_store(&s->space_cap, atomic_load(&s->written));
	drop_page(rd, (int)torn + (rd->page_size > 0 ? rd->page_size : 4096));
}

static void *reader_main(void *arg)
{
	struct rec_reader *rd = arg;
	struct rec_spool *s = rd->s;
	int n;

	/*
	 * The -tsc instance holds a few writes per vCPU: a blocking splice would leave them
	 * in the ring buffer until it is half full, so a killed recorder would lose them.
	 * Its readers drain the partial page every TSC_DRAIN_MS instead.
	 */
	while (rd->exempt && !atomic_load(&s->stop)) {
		while (!rd->out_dead && (n = tracefs_cpu_flush_write(rd->tc, rd->fd)) > 0)
			atomic_fetch_add(&s->written, (uint64_t)n);
		if (!rd->out_dead && n < 0 && is_disk_full(errno))
			out_of_space(rd);
		while (rd->out_dead && (n = tracefs_cpu_flush(rd->tc, rd->scratch)) > 0)
			drop_page(rd, n);
		for (int i = 0; i < TSC_DRAIN_MS / 50 && !atomic_load(&s->stop); i++)
			usleep(50 * 1000);
	}
	while (!atomic_load(&s->stop)) {
		if (!quota_left(rd)) {
			n = tracefs_cpu_read(rd->tc, rd->scratch, false);
			if (n > 0)
				drop_page(rd, n);
		} else {
			n = tracefs_cpu_write(rd->tc, rd->fd, false);
			if (n > 0)
				atomic_fetch_add(&s->written, (uint64_t)n);
			if (n < 0 && is_disk_full(errno)) {
				out_of_space(rd);
				continue;
			}
		}
		if (n < 0 && errno != EINTR && errno != EAGAIN && !atomic_load(&s->stop)) {
			int expected = 0;

			atomic_compare_exchange_strong(&s->err, &expected, -errno);
			break;
		}
	}
	/* the rest, partial pages included */
	for (;;) {
		/* flush moves one page per call */
		if (quota_left(rd)) {
			n = tracefs_cpu_flush_write(rd->tc, rd->fd);
			if (n > 0)
				atomic_fetch_add(&s->written, (uint64_t)n);
			if (n < 0 && is_disk_full(errno)) {
				out_of_space(rd);
				continue;
			}
		} else {
			n = tracefs_cpu_flush(rd->tc, rd->scratch);
			if (n > 0)
				drop_page(rd, n);
		}
		if (n <= 0)
			break;
	}
	fsync(rd->fd);
	return NULL;
}

static int open_out(const char *spool, const char *sub, int cpu, bool append,
		    struct vt_errbuf *eb)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", spool, sub);
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return vtc_errf(eb, errno, "%s: cannot create: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s/cpu%d.raw", spool, sub, cpu);
	/* no O_APPEND: splice() refuses it; the readers write at the end themselves */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? 0 : O_TRUNC), 0640);
	if (fd < 0)
		return vtc_errf(eb, errno, "%s: %s", path, strerror(errno));
	if (append)
		lseek(fd, 0, SEEK_END);
	return fd;
}

static int ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return n > 0 ? (int)n : 1;
}

void rec_spool_free(struct rec_spool *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nreaders; i++) {
		struct rec_reader *rd = &s->readers[i];

		if (rd->running)
			pthread_join(rd->thread, NULL);
		if (rd->tc)
			tracefs_cpu_close(rd->tc);
		if (rd->fd >= 0)
			close(rd->fd);
		free(rd->scratch);
	}
	free(s->readers);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s);
}

int rec_spool_start(const char *spool, struct tracefs_instance *main,
		    struct tracefs_instance *tsc, uint64_t quota, struct rec_spool **ret,
		    struct vt_errbuf *eb)
{
	struct tracefs_instance *insts[2] = { main, tsc };
	const char *subs[2] = { "main", "tsc" };
	int cpus = ncpus();
	struct rec_spool *s = calloc(1, sizeof(*s));
	int r = 0;

	if (!s)
		return vtc_err(ENOMEM);
	s->quota = quota;
	s->space_cap = UINT64_MAX;
	s->dir_fd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		r = vtc_errf(eb, errno, "%s: %s", spool, strerror(errno));
		free(s);
		return r;
	}
	{
		int fd = openat(s->dir_fd, BALLAST_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				0640);

		/* no ballast (a file system without fallocate) only costs that safety */
		if (fd >= 0) {
			if (posix_fallocate(fd, 0, BALLAST_BYTES))
				(void)!unlinkat(s->dir_fd, BALLAST_NAME, 0);
			close(fd);
		}
	}
	s->readers = calloc(2 * (size_t)cpus, sizeof(*s->readers));
	if (!s->readers) {
		close(s->dir_fd);
		free(s);
		return vtc_err(ENOMEM);
	}
	for (int i = 0; i < 2 && !r; i++) {
		for (int cpu = 0; cpu < cpus && !r; cpu++) {
			struct rec_reader *rd = &s->readers[s->nreaders];

			rd->s = s;
			rd->cpu = cpu;
			rd->exempt = insts[i] == tsc;
			rd->fd = -1;
			rd->tc = tracefs_cpu_open(insts[i], cpu, false);
			if (!rd->tc) {
				if (errno == ENOENT)
					continue;	/* possible but absent CPU */
				r = vtc_errf(eb, errno ? errno : EIO,
					     "instance %s: CPU %d: cannot open trace_pipe_raw: %s",
					     tracefs_instance_get_name(insts[i]), cpu,
					     strerror(errno ? errno : EIO));
				break;
			}
			s->nreaders++;
			rd->page_size = tracefs_cpu_read_size(rd->tc);
			rd->scratch = malloc(rd->page_size > 0 ? (size_t)rd->page_size : 4096);
			if (!rd->scratch) {
				r = vtc_err(ENOMEM);
				break;
			}
			rd->fd = open_out(spool, subs[i], cpu, false, eb);
			if (rd->fd < 0)
				r = rd->fd;
		}
	}
	for (size_t i = 0; i < s->nreaders && !r; i++) {
		r = -pthread_create(&s->readers[i].thread, NULL, reader_main, &s->readers[i]);
		if (r)
			r = vtc_errf(eb, -r, "cannot start a spool thread: %s", strerror(-r));
		else
			s->readers[i].running = true;
	}
	if (r) {
		rec_spool_stop(s);
		rec_spool_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void rec_spool_stop(struct rec_spool *s)
{
	atomic_store(&s->stop, true);
	for (size_t i = 0; i < s->nreaders; i++)
		if (s->readers[i].tc)
			tracefs_cpu_stop(s->readers[i].tc);
	for (size_t i = 0; i < s->nreaders; i++) {
		if (s->readers[i].running) {
			pthread_join(s->readers[i].thread, NULL);
			s->readers[i].running = false;
		}
	}
}

int rec_spool_reserve(void *ctx, uint64_t bytes)
{
	struct rec_spool *s = ctx;
	uint_fast64_t cur = atomic_load(&s->written);

	do {
		if (s->quota && (cur > s->quota || bytes > s->quota - cur))
			return vtc_err(EDQUOT);
	} while (!atomic_compare_exchange_weak(&s->written, &cur, cur + bytes));
	atomic_fetch_add(&s->guest, bytes);
	return 0;
}

void rec_spool_get_stats(struct rec_spool *s, struct rec_spool_stats *ret)
{
	ret->written = atomic_load(&s->written);
	ret->guest = atomic_load(&s->guest);
	ret->lost = atomic_load(&s->lost);
	ret->over_quota = atomic_load(&s->over_quota);
	ret->err = atomic_load(&s->err);
	ret->disk_full = atomic_load(&s->disk_full);
	ret->disk_lost = atomic_load(&s->disk_lost);
}

void rec_spool_set_reserve(struct rec_spool *s, uint64_t bytes)
{
	atomic_store(&s->reserve, bytes);
	rec_spool_check_space(s);
}

/*
 * Finalizing writes host.dat beside the spool before it removes the spool: past W spool
 * bytes it needs W + reserve more. With F bytes free now and W0 spooled, spooling up to
 * (F + W0 - reserve) / 2 leaves exactly that room; others' use of the disk is caught at
 * the next check.
 */
void rec_spool_check_space(struct rec_spool *s)
{
	uint64_t w = atomic_load(&s->written), res = atomic_load(&s->reserve), free_b, cap;
	struct statvfs vfs;

	if (fstatvfs(s->dir_fd, &vfs) < 0)
		return;
	free_b = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	/* one call of every reader may move a whole pipe (16 pages) past the check */
	res += s->nreaders * 65536ull;
	cap = free_b + w > res ? (free_b + w - res) / 2 : 0;
	atomic_store(&s->space_cap, cap > w ? cap : w);
}
