// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The spool writers: one thread per instance x CPU moves whole ring-buffer pages from
 * trace_pipe_raw into spool/<main|tsc>/cpuN.raw (tracefs_cpu_write, no parsing), stops
 * writing past the quota and counts what it drops; the guest collector's data counts
 * against the same quota.
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
#include <tracefs.h>
#include <unistd.h>

#include "cleanup.h"
#include "recorder.h"
#include "util.h"

#define TSC_DRAIN_MS 1000

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
};

static void drop_page(struct rec_reader *rd, int n)
{
	atomic_fetch_add(&rd->s->lost, (uint64_t)n);
	atomic_store(&rd->s->over_quota, true);
}

static bool quota_left(struct rec_reader *rd)
{
	struct rec_spool *s = rd->s;

	return rd->exempt || !s->quota || atomic_load(&s->written) < s->quota;
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
		while ((n = tracefs_cpu_flush_write(rd->tc, rd->fd)) > 0)
			atomic_fetch_add(&s->written, (uint64_t)n);
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
	s->readers = calloc(2 * (size_t)cpus, sizeof(*s->readers));
	if (!s->readers) {
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
}
