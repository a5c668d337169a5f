/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * trace.dat (trace-cmd file format v6 and v7, see trace-cmd.dat.v6(5)/.v7(5)):
 * a streaming reader (per buffer, per CPU, page by page; v7 zstd sections decompressed
 * chunk by chunk) and a writer (v7 by default, v6 on request) from raw pages or from
 * re-encoded events. Both take nothing on trust: every size and offset is checked.
 */
#ifndef VT_DAT_H
#define VT_DAT_H

#include "vt/common.h"
#include "vt/page.h"

struct tep_handle;

/* trace-cmd option ids (trace-cmd-private.h, 3.1) */
enum vt_dat_option {
	VT_OPT_DONE = 0,
	VT_OPT_DATE = 1,
	VT_OPT_CPUSTAT = 2,
	VT_OPT_BUFFER = 3,
	VT_OPT_TRACECLOCK = 4,
	VT_OPT_UNAME = 5,
	VT_OPT_HOOK = 6,
	VT_OPT_OFFSET = 7,
	VT_OPT_CPUCOUNT = 8,
	VT_OPT_VERSION = 9,
	VT_OPT_PROCMAPS = 10,
	VT_OPT_TRACEID = 11,
	VT_OPT_TIME_SHIFT = 12,
	VT_OPT_GUEST = 13,
	VT_OPT_TSC2NSEC = 14,
	VT_OPT_STRINGS = 15,
	VT_OPT_HEADER_INFO = 16,
	VT_OPT_FTRACE_EVENTS = 17,
	VT_OPT_EVENT_FORMATS = 18,
	VT_OPT_KALLSYMS = 19,
	VT_OPT_PRINTK = 20,
	VT_OPT_CMDLINES = 21,
	VT_OPT_BUFFER_TEXT = 22,
};

/* A (pointer, length) view; borrowed from the object that hands it out. */
struct vt_blob {
	const char *data;
	size_t len;
};

/* One event format as stored in the file. */
struct vt_dat_format {
	const char *system;	/* "ftrace" for the ftrace formats */
	struct vt_blob text;	/* the format file text */
};

/*
 * File metadata needed to write another trace.dat that parses the same events.
 * All blobs are borrowed from the reader (or, for a writer, copied at set time).
 */
struct vt_dat_meta {
	unsigned page_size;
	unsigned long_size;	/* kernel long in the file header (4 or 8) */
	struct vt_blob header_page;
	struct vt_blob header_event;
	const struct vt_dat_format *formats;	/* ftrace formats first, then systems */
	size_t nformats;
	struct vt_blob kallsyms;
	struct vt_blob printk;
	struct vt_blob cmdlines;	/* saved_cmdlines text "pid comm\n" */
	const char *uname;	/* may be NULL */
};

struct vt_tsc2nsec {
	uint32_t mult;
	uint32_t shift;
	uint64_t offset;
};

struct vt_dat_guest {
	const char *name;
	uint64_t trace_id;
	uint32_t ncpus;
	const uint32_t *vcpu_tid;	/* vcpu_tid[cpu] = host TID, ncpus entries */
};

struct vt_dat;

/*
 * vt_dat_open - open and parse the metadata of a trace.dat file.
 * Return: 0 with *ret (free with vt_dat_close), or -errno / -EBADMSG with the reason
 * ("ext.dat: offset 812: option 3 size 9000 past the section") in @eb.
 */
int vt_dat_open(const char *path, struct vt_dat **ret, struct vt_errbuf *eb);
void vt_dat_close(struct vt_dat *dat);

int vt_dat_version(const struct vt_dat *dat);
/* size of a page's commit field (the kernel's long, from header_page): 4 or 8 */
unsigned vt_dat_kernel_long(const struct vt_dat *dat);
/* borrowed; NULL for a file without metadata it needs */
const struct vt_dat_meta *vt_dat_meta(const struct vt_dat *dat);
/* libtraceevent handle with every format, cmdline, kallsyms and printk of the file
 * parsed in; borrowed, valid until vt_dat_close. */
struct tep_handle *vt_dat_tep(const struct vt_dat *dat);
/* 0 when the file has no TRACEID option */
uint64_t vt_dat_trace_id(const struct vt_dat *dat);
/* false when the file has no TSC2NSEC option */
bool vt_dat_tsc2nsec(const struct vt_dat *dat, struct vt_tsc2nsec *ret);
/* GUEST options of the file (host files); borrowed */
size_t vt_dat_nguests(const struct vt_dat *dat);
const struct vt_dat_guest *vt_dat_guest(const struct vt_dat *dat, size_t i);
/* whether the file carries a TIME_SHIFT option */
bool vt_dat_has_time_shift(const struct vt_dat *dat);

/* Buffers: index 0 is the top buffer ("" name) when the file has one. */
size_t vt_dat_nbuffers(const struct vt_dat *dat);
const char *vt_dat_buffer_name(const struct vt_dat *dat, size_t buf);	/* borrowed */
const char *vt_dat_buffer_clock(const struct vt_dat *dat, size_t buf);	/* borrowed, may be "" */
unsigned vt_dat_buffer_ncpus(const struct vt_dat *dat, size_t buf);
/* bytes of (uncompressed) page data of one CPU */
uint64_t vt_dat_cpu_size(const struct vt_dat *dat, size_t buf, unsigned cpu);

/*
 * vt_dat_cpu_range - where the pages of an uncompressed CPU lie in the file (for copying
 * them as they are): the file descriptor (borrowed), offset and length.
 * Return: 0, -EOPNOTSUPP for compressed data, -EINVAL for no such CPU.
 */
int vt_dat_cpu_range(const struct vt_dat *dat, size_t buf, unsigned cpu, int *ret_fd,
		     uint64_t *ret_off, uint64_t *ret_len);

/* A per-CPU stream of one buffer: pages in file order. Several may be open at once. */
struct vt_dat_cpu;

/* 0 with *ret (free with vt_dat_cpu_close), or -errno. */
int vt_dat_cpu_open(struct vt_dat *dat, size_t buf, unsigned cpu, struct vt_dat_cpu **ret,
		    struct vt_errbuf *eb);
void vt_dat_cpu_close(struct vt_dat_cpu *c);
/*
 * vt_dat_cpu_next_page - the next page of the stream (borrowed, page_size bytes, valid
 * until the next call). Return: 1, 0 at the end, -errno / -EBADMSG.
 */
int vt_dat_cpu_next_page(struct vt_dat_cpu *c, const void **ret, struct vt_errbuf *eb);
/*
 * vt_dat_cpu_next_event - the next event (payload borrowed, valid until the next call);
 * walks the pages with vt_page_*. The error names the file, CPU and page index.
 * Return: 1, 0 at the end, -errno / -EBADMSG.
 */
int vt_dat_cpu_next_event(struct vt_dat_cpu *c, struct vt_event *ret, struct vt_errbuf *eb);
/*
 * vt_dat_cpu_page_offset - the file and offset of the page vt_dat_cpu_next_page (or the
 * event walk) returned last, for copying it as it is. Return: 0, -EOPNOTSUPP when the
 * data is compressed (or not mapped), -ENOENT before the first page.
 */
int vt_dat_cpu_page_offset(const struct vt_dat_cpu *c, int *ret_fd, uint64_t *ret_off);
/* events lost before the current page (from the page's missed-events flag), 0 if none */
bool vt_dat_cpu_page_missed(const struct vt_dat_cpu *c);
/* how many, when the page stored the count (RB_MISSED_STORED), else 0 */
uint64_t vt_dat_cpu_page_missed_count(const struct vt_dat_cpu *c);
/* index of the current page in the stream (0-based), for error messages */
uint64_t vt_dat_cpu_page_index(const struct vt_dat_cpu *c);

/* ---- writer ---- */

struct vt_datw_opts {
	int version;		/* 7 (default when 0) or 6 */
	const char *clock;	/* trace clock name, e.g. "x86-tsc" (TRACECLOCK option, trailer) */
	uint64_t trace_id;	/* TRACEID option when non-zero */
	const struct vt_tsc2nsec *tsc2nsec;	/* TSC2NSEC option when non-NULL */
	const struct vt_dat_guest *guests;	/* GUEST options (host file) */
	size_t nguests;
};

struct vt_datw;

/*
 * vt_datw_create - start writing @path (written as path.tmp, renamed by
 * vt_datw_close on success). @meta gives the formats etc. (copied); @nbuffers buffers
 * follow, the first is the top one. Return: 0 with *ret, or -errno.
 */
int vt_datw_create(const char *path, const struct vt_dat_meta *meta,
		   const struct vt_datw_opts *opts, struct vt_datw **ret, struct vt_errbuf *eb);
/*
 * vt_datw_buffer_begin - begin the data of buffer @name ("" = top) with @ncpus CPUs.
 * Buffers are written one after the other; the first must be the top buffer.
 */
int vt_datw_buffer_begin(struct vt_datw *w, const char *name, unsigned ncpus,
			 struct vt_errbuf *eb);
/* CPUs of the current buffer are written in order 0..ncpus-1, each begun, fed, ended. */
int vt_datw_cpu_begin(struct vt_datw *w, unsigned cpu, struct vt_errbuf *eb);
/* one raw page (page_size bytes) as read from a ring buffer or another file */
int vt_datw_cpu_page(struct vt_datw *w, const void *page, struct vt_errbuf *eb);
/*
 * vt_datw_cpu_copy - @len bytes of whole pages from @fd at @off (pages that were
 * already checked, e.g. read with vt_dat_cpu_next_page), copied in the kernel
 * (copy_file_range) where it can.
 */
int vt_datw_cpu_copy(struct vt_datw *w, int fd, uint64_t off, uint64_t len,
		     struct vt_errbuf *eb);
/*
 * vt_datw_cpu_copy_page - one checked page of @fd at @off, copied as it is but for its
 * header time stamp, which becomes @page_ts (the page moves on the time axis as a
 * whole: its records hold deltas). Consecutive pages are copied in one kernel call.
 */
int vt_datw_cpu_copy_page(struct vt_datw *w, int fd, uint64_t off, uint64_t page_ts,
			  struct vt_errbuf *eb);
/* one event (timestamps of a CPU should not decrease); encoded into pages */
int vt_datw_cpu_event(struct vt_datw *w, uint64_t ts, const void *data, uint32_t size,
		      struct vt_errbuf *eb);
int vt_datw_cpu_end(struct vt_datw *w, struct vt_errbuf *eb);
int vt_datw_buffer_end(struct vt_datw *w, struct vt_errbuf *eb);
/*
 * vt_datw_close - finish the file: fsync, rename into place. Always frees @w; with
 * @abort (or after an error) the temporary file is removed instead.
 */
int vt_datw_close(struct vt_datw *w, bool abort, struct vt_errbuf *eb);
/*
 * vt_datw_finish - end a write whose steps returned @r: after an error the file is
 * discarded and @r returned (its reason stays in @eb), else vt_datw_close's result.
 */
int vt_datw_finish(struct vt_datw *w, int r, struct vt_errbuf *eb);

/*
 * vt_dat_copy - write @src again as @path with @opts (e.g. GUEST options added): every
 * buffer and page, checked; *ret_lost (may be NULL) = pages that said events were lost.
 * @path may be @src's own file (written as path.tmp, renamed at the end).
 */
int vt_dat_copy(struct vt_dat *src, const char *path, const struct vt_datw_opts *opts,
		uint64_t *ret_lost, struct vt_errbuf *eb);

#endif
