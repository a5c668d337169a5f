// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * trace.dat writer (v7 uncompressed by default, v6 on request): streams per-CPU pages
 * to path.tmp, patches tables and sizes with pwrite at the end, renames on close.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "vt/dat.h"

#define DATW_OUTBUF		(1u << 20)
/* v6: room kept in front of the data for the BUFFER options of named buffers */
#define DATW_V6_BUFOPT_RESERVE	4096
#define DATW_MAX_CPUS		8192
/* v6: CPU table room kept for the top buffer when it has no CPUs (trace-cmd extract -B) */
#define DATW_V6_CPU_RESERVE	1024

/* v7 section description strings: the STRINGS section is this table, NUL separated */
enum datw_str {
	STR_HEADERS,
	STR_FTRACE,
	STR_EVENTS,
	STR_KALLSYMS,
	STR_PRINTK,
	STR_CMDLINES,
	STR_OPTIONS,
	STR_FLYRECORD,
	STR_STRINGS,
	STR_COUNT,
};

static const char *const datw_strings[STR_COUNT] = {
	[STR_HEADERS] = "headers",
	[STR_FTRACE] = "ftrace events",
	[STR_EVENTS] = "events format",
	[STR_KALLSYMS] = "kallsyms",
	[STR_PRINTK] = "printk",
	[STR_CMDLINES] = "command lines",
	[STR_OPTIONS] = "options",
	[STR_FLYRECORD] = "flyrecord",
	[STR_STRINGS] = "strings",
};

struct datw_buffer {
	char *name;
	unsigned ncpus;
	uint64_t section_off;	/* v7: section header; v6 named: "flyrecord\0" block */
	uint64_t *cpu_off;
	uint64_t *cpu_size;
};

#define DATW_RUN_PAGES 256	/* pages copied per copy_file_range */
#define DATW_SYNC_STEP (16u << 20)	/* start writeback every this many bytes */

struct vt_datw {
	int fd;
	char *path;
	char *tmp;
	int version;
	unsigned page_size;
	unsigned long_size;
	char *clock;
	int err;		/* first error; every later call returns it */

	uint8_t *out;		/* write buffer in front of fd */
	size_t out_len;
	uint64_t off;		/* logical end of the file (flushed + buffered) */
	uint64_t synced;	/* writeback started up to here */

	uint8_t *opts;		/* options known at create time, encoded */
	size_t opts_len;

	struct datw_buffer *bufs;
	size_t nbufs;
	bool in_buffer;
	int cpu;		/* CPU being written, -1 = none */
	unsigned next_cpu;

	struct vt_page_enc enc;
	uint8_t *zero_page;

	/* pages to copy from another file (vt_datw_cpu_copy_page), not written yet */
	int run_fd;
	uint64_t run_src_off;
	size_t run_n;
	uint64_t run_ts[DATW_RUN_PAGES];

	uint64_t v7_done_off;	/* payload of the first OPTIONS section's DONE */
	uint64_t v6_meta_end;	/* end of the v6 metadata (cmdlines) */
	unsigned v6_ncpus;	/* v6: the file's one CPU count (first buffer with CPUs) */
	uint64_t v6_data_start;	/* first page of data; header tables go before it */
};

/* ---- output helpers ---- */

static int datw_fail(struct vt_datw *w, struct vt_errbuf *eb, int err, const char *what)
{
	int r = vtc_errf(eb, err, "%s: %s: %s", w->path, what, strerror(err < 0 ? -err : err));

	if (!w->err)
		w->err = r;
	return r;
}

/*
 * Start writeback of what was written since the last call, every DATW_SYNC_STEP bytes,
 * so that the fsync at close finds little left to do (the disk works while we convert).
 */
static void datw_start_writeback(struct vt_datw *w)
{
	uint64_t end = w->off - w->out_len;

	if (end - w->synced < DATW_SYNC_STEP)
		return;
	(void)sync_file_range(w->fd, (off64_t)w->synced, (off64_t)(end - w->synced),
			      SYNC_FILE_RANGE_WRITE);
	w->synced = end;
}

static int datw_flush(struct vt_datw *w)
{
	int r;

	if (!w->out_len)
		return 0;
	r = vtc_write_all(w->fd, w->out, w->out_len);
	if (r < 0)
		return r;
	w->out_len = 0;
	datw_start_writeback(w);
	return 0;
}

static int datw_put(struct vt_datw *w, const void *buf, size_t len)
{
	int r;

	if (len >= DATW_OUTBUF) {
		r = datw_flush(w);
		if (r < 0)
			return r;
		r = vtc_write_all(w->fd, buf, len);
		if (r < 0)
			return r;
		w->off += len;
		return 0;
	}
	if (DATW_OUTBUF - w->out_len < len) {
		r = datw_flush(w);
		if (r < 0)
			return r;
	}
	memcpy(w->out + w->out_len, buf, len);
	w->out_len += len;
	w->off += len;
	return 0;
}

static int datw_put_u16(struct vt_datw *w, uint16_t v)
{
	uint8_t b[2];

	vtc_put_le16(b, v);
	return datw_put(w, b, sizeof(b));
}

static int datw_put_u32(struct vt_datw *w, uint32_t v)
{
	uint8_t b[4];

	vtc_put_le32(b, v);
	return datw_put(w, b, sizeof(b));
}

static int datw_put_u64(struct vt_datw *w, uint64_t v)
{
	uint8_t b[8];

	vtc_put_le64(b, v);
	return datw_put(w, b, sizeof(b));
}

static int datw_put_str(struct vt_datw *w, const char *s)
{
	return datw_put(w, s, strlen(s) + 1);
}

static int datw_pad_to(struct vt_datw *w, uint64_t align)
{
	static const uint8_t zeros[256];
	int r;

	while (w->off % align) {
		size_t n = align - w->off % align;

		r = datw_put(w, zeros, n < sizeof(zeros) ? n : sizeof(zeros));
		if (r < 0)
			return r;
	}
	return 0;
}

static int datw_pwrite_u64(struct vt_datw *w, uint64_t off, uint64_t v)
{
	uint8_t b[8];
	int r = datw_flush(w);

	if (r < 0)
		return r;
	vtc_put_le64(b, v);
	return vtc_pwrite_all(w->fd, b, sizeof(b), (off_t)off);
}

/* A growable byte blob for option payloads and header tables. */
struct blob {
	uint8_t *data;
	size_t len, cap;
	bool oom;
};

static void blob_put(struct blob *b, const void *p, size_t len)
{
	if (b->oom)
		return;
	if (b->cap - b->len < len) {
		size_t ncap = b->cap ? b->cap : 256;
		uint8_t *n;

		while (ncap - b->len < len)
			ncap *= 2;
		n = realloc(b->data, ncap);
		if (!n) {
			b->oom = true;
			return;
		}
		b->data = n;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

static void blob_u16(struct blob *b, uint16_t v)
{
	uint8_t x[2];

	vtc_put_le16(x, v);
	blob_put(b, x, 2);
}

static void blob_u32(struct blob *b, uint32_t v)
{
	uint8_t x[4];

	vtc_put_le32(x, v);
	blob_put(b, x, 4);
}

static void blob_u64(struct blob *b, uint64_t v)
{
	uint8_t x[8];

	vtc_put_le64(x, v);
	blob_put(b, x, 8);
}

static void blob_str(struct blob *b, const char *s)
{
	blob_put(b, s, strlen(s) + 1);
}

/* option header: u16 id, u32 size */
static void blob_opt(struct blob *b, uint16_t id, uint32_t size)
{
	blob_u16(b, id);
	blob_u32(b, size);
}

/* ---- metadata ---- */

static uint32_t datw_string_id(enum datw_str s)
{
	uint32_t off = 0;

	for (int i = 0; i < (int)s; i++)
		off += (uint32_t)strlen(datw_strings[i]) + 1;
	return off;
}

/* v7 section header; returns the offset of its size field through @size_off */
static int datw_section_begin(struct vt_datw *w, uint16_t id, enum datw_str desc,
			      uint64_t *size_off)
{
	int r;

	r = datw_put_u16(w, id);
	if (!r)
		r = datw_put_u16(w, 0);
	if (!r)
		r = datw_put_u32(w, datw_string_id(desc));
	if (r)
		return r;
	*size_off = w->off;
	return datw_put_u64(w, 0);
}

static int datw_section_end(struct vt_datw *w, uint64_t size_off)
{
	return datw_pwrite_u64(w, size_off, w->off - size_off - 8);
}

static int datw_put_blob64(struct vt_datw *w, const struct vt_blob *b)
{
	int r = datw_put_u64(w, b->len);

	return r ? r : datw_put(w, b->data, b->len);
}

static int datw_put_blob32(struct vt_datw *w, const struct vt_blob *b)
{
	int r;

	if (b->len > UINT32_MAX)
		return -EFBIG;
	r = datw_put_u32(w, (uint32_t)b->len);
	return r ? r : datw_put(w, b->data, b->len);
}

static int write_header_info(struct vt_datw *w, const struct vt_dat_meta *m)
{
	int r = datw_put_str(w, "header_page");

	if (!r)
		r = datw_put_blob64(w, &m->header_page);
	if (!r)
		r = datw_put_str(w, "header_event");
	if (!r)
		r = datw_put_blob64(w, &m->header_event);
	return r;
}

static bool is_ftrace(const struct vt_dat_format *f)
{
	return f->system && !strcmp(f->system, "ftrace");
}

static int write_ftrace_formats(struct vt_datw *w, const struct vt_dat_meta *m)
{
	uint32_t n = 0;
	int r;

	for (size_t i = 0; i < m->nformats; i++)
		n += is_ftrace(&m->formats[i]);
	r = datw_put_u32(w, n);
	for (size_t i = 0; !r && i < m->nformats; i++)
		if (is_ftrace(&m->formats[i]))
			r = datw_put_blob64(w, &m->formats[i].text);
	return r;
}

/* index of the first format of @f's system (so each system is written once, in order) */
static bool first_of_system(const struct vt_dat_meta *m, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!strcmp(m->formats[j].system, m->formats[i].system))
			return false;
	return true;
}

static int write_event_formats(struct vt_datw *w, const struct vt_dat_meta *m)
{
	uint32_t nsys = 0;
	int r;

	for (size_t i = 0; i < m->nformats; i++)
		if (!is_ftrace(&m->formats[i]) && first_of_system(m, i))
			nsys++;
	r = datw_put_u32(w, nsys);
	for (size_t i = 0; !r && i < m->nformats; i++) {
		const char *sys = m->formats[i].system;
		uint32_t n = 0;

		if (is_ftrace(&m->formats[i]) || !first_of_system(m, i))
			continue;
		for (size_t j = i; j < m->nformats; j++)
			n += !strcmp(m->formats[j].system, sys);
		r = datw_put_str(w, sys);
		if (!r)
			r = datw_put_u32(w, n);
		for (size_t j = i; !r && j < m->nformats; j++)
			if (!strcmp(m->formats[j].system, sys))
				r = datw_put_blob64(w, &m->formats[j].text);
	}
	return r;
}

static int write_meta_part(struct vt_datw *w, const struct vt_dat_meta *m, int part)
{
	switch (part) {
	case VT_OPT_HEADER_INFO:
		return write_header_info(w, m);
	case VT_OPT_FTRACE_EVENTS:
		return write_ftrace_formats(w, m);
	case VT_OPT_EVENT_FORMATS:
		return write_event_formats(w, m);
	case VT_OPT_KALLSYMS:
		return datw_put_blob32(w, &m->kallsyms);
	case VT_OPT_PRINTK:
		return datw_put_blob32(w, &m->printk);
	case VT_OPT_CMDLINES:
		return datw_put_blob64(w, &m->cmdlines);
	}
	return -EINVAL;
}

static const struct {
	int id;
	enum datw_str desc;
} meta_parts[] = {
	{ VT_OPT_HEADER_INFO, STR_HEADERS },
	{ VT_OPT_FTRACE_EVENTS, STR_FTRACE },
	{ VT_OPT_EVENT_FORMATS, STR_EVENTS },
	{ VT_OPT_KALLSYMS, STR_KALLSYMS },
	{ VT_OPT_PRINTK, STR_PRINTK },
	{ VT_OPT_CMDLINES, STR_CMDLINES },
};

#define N_META_PARTS (sizeof(meta_parts) / sizeof(meta_parts[0]))

/* Options known at create time: TRACECLOCK, TRACEID, GUEST, TSC2NSEC, UNAME. */
static int build_static_options(struct vt_datw *w, const struct vt_dat_meta *m,
				const struct vt_datw_opts *o, struct vt_errbuf *eb)
{
	struct blob b = { 0 };
	char clock[256];
	int n;

	n = snprintf(clock, sizeof(clock), "[%s]", w->clock);
	if (n < 0 || (size_t)n >= sizeof(clock))
		return vtc_errf(eb, EINVAL, "%s: clock name too long", w->path);
	blob_opt(&b, VT_OPT_TRACECLOCK, (uint32_t)n + 1);
	blob_str(&b, clock);
	if (o->trace_id) {
		blob_opt(&b, VT_OPT_TRACEID, 8);
		blob_u64(&b, o->trace_id);
	}
	for (size_t i = 0; i < o->nguests; i++) {
		const struct vt_dat_guest *g = &o->guests[i];

		if (!g->name || !*g->name || (g->ncpus && !g->vcpu_tid) ||
		    g->ncpus > DATW_MAX_CPUS) {
			free(b.data);
			return vtc_errf(eb, EINVAL, "%s: guest %zu: bad name or CPU map", w->path,
					i);
		}
		blob_opt(&b, VT_OPT_GUEST, (uint32_t)(strlen(g->name) + 1 + 8 + 4 + 8 * (size_t)g->ncpus));
		blob_str(&b, g->name);
		blob_u64(&b, g->trace_id);
		blob_u32(&b, g->ncpus);
		for (uint32_t c = 0; c < g->ncpus; c++) {
			blob_u32(&b, c);
			blob_u32(&b, g->vcpu_tid[c]);
		}
	}
	if (o->tsc2nsec) {
		/* trace-cmd 3.1 reads mult as a signed int */
		uint32_t mult = o->tsc2nsec->mult, shift = o->tsc2nsec->shift;

		while (mult >= (1u << 31) && shift > 0) {
			mult >>= 1;
			shift--;
		}
		if (mult >= (1u << 31) || mult == 0) {
			free(b.data);
			return vtc_errf(eb, ERANGE, "%s: TSC2NSEC mult %u shift %u cannot be stored",
					w->path, o->tsc2nsec->mult, o->tsc2nsec->shift);
		}
		blob_opt(&b, VT_OPT_TSC2NSEC, 16);
		blob_u32(&b, mult);
		blob_u32(&b, shift);
		blob_u64(&b, o->tsc2nsec->offset);
	}
	if (m->uname) {
		blob_opt(&b, VT_OPT_UNAME, (uint32_t)strlen(m->uname) + 1);
		blob_str(&b, m->uname);
	}
	if (b.oom) {
		free(b.data);
		return vtc_errf(eb, ENOMEM, "%s: out of memory", w->path);
	}
	w->opts = b.data;
	w->opts_len = b.len;
	return 0;
}

static int write_file_header(struct vt_datw *w)
{
	static const uint8_t magic[] = { 0x17, 0x08, 0x44, 't', 'r', 'a', 'c', 'i', 'n', 'g' };
	uint8_t b[6];
	int r;

	r = datw_put(w, magic, sizeof(magic));
	if (!r)
		r = datw_put_str(w, w->version == 7 ? "7" : "6");
	b[0] = 0;	/* little endian */
	b[1] = (uint8_t)w->long_size;
	vtc_put_le32(b + 2, w->page_size);
	if (!r)
		r = datw_put(w, b, sizeof(b));
	if (!r && w->version == 7) {
		r = datw_put_str(w, "none");
		if (!r)
			r = datw_put_str(w, "");
	}
	return r;
}

/* v7: header, metadata sections, then the first OPTIONS section (its DONE patched later) */
static int write_v7_start(struct vt_datw *w, const struct vt_dat_meta *m)
{
	uint64_t opt_ptr, part_off[N_META_PARTS], size_off;
	struct blob b = { 0 };
	int r;

	r = write_file_header(w);
	if (r)
		return r;
	opt_ptr = w->off;
	r = datw_put_u64(w, 0);
	for (size_t i = 0; !r && i < N_META_PARTS; i++) {
		part_off[i] = w->off;
		r = datw_section_begin(w, (uint16_t)meta_parts[i].id, meta_parts[i].desc,
				       &size_off);
		if (!r)
			r = write_meta_part(w, m, meta_parts[i].id);
		if (!r)
			r = datw_section_end(w, size_off);
	}
	if (r)
		return r;
	r = datw_pwrite_u64(w, opt_ptr, w->off);
	if (!r)
		r = datw_section_begin(w, VT_OPT_DONE, STR_OPTIONS, &size_off);
	if (r)
		return r;
	for (size_t i = 0; i < N_META_PARTS; i++) {
		blob_opt(&b, (uint16_t)meta_parts[i].id, 8);
		blob_u64(&b, part_off[i]);
	}
	if (b.oom) {
		free(b.data);
		return -ENOMEM;
	}
	r = datw_put(w, b.data, b.len);
	free(b.data);
	if (!r)
		r = datw_put(w, w->opts, w->opts_len);
	if (!r)
		r = datw_put_u16(w, VT_OPT_DONE);
	if (!r)
		r = datw_put_u32(w, 8);
	w->v7_done_off = w->off;
	if (!r)
		r = datw_put_u64(w, 0);
	if (!r)
		r = datw_section_end(w, size_off);
	return r;
}

static int write_v6_start(struct vt_datw *w, const struct vt_dat_meta *m)
{
	int r = write_file_header(w);

	for (size_t i = 0; !r && i < N_META_PARTS; i++)
		r = write_meta_part(w, m, meta_parts[i].id);
	w->v6_meta_end = w->off;
	return r;
}

static bool blob_ok(const struct vt_blob *b)
{
	return b->len == 0 || b->data;
}

static int check_meta(const struct vt_dat_meta *m, const char *path, struct vt_errbuf *eb)
{
	if (m->page_size < 64 || (m->page_size & (m->page_size - 1)))
		return vtc_errf(eb, EINVAL, "%s: page size %u is not a power of two", path,
				m->page_size);
	if (m->long_size != 4 && m->long_size != 8)
		return vtc_errf(eb, EINVAL, "%s: long size %u", path, m->long_size);
	if (!blob_ok(&m->header_page) || !blob_ok(&m->header_event) || !blob_ok(&m->kallsyms) ||
	    !blob_ok(&m->printk) || !blob_ok(&m->cmdlines) || (m->nformats && !m->formats))
		return vtc_errf(eb, EINVAL, "%s: metadata blob without data", path);
	for (size_t i = 0; i < m->nformats; i++)
		if (!m->formats[i].system || !*m->formats[i].system ||
		    !blob_ok(&m->formats[i].text))
			return vtc_errf(eb, EINVAL, "%s: format %zu has no system", path, i);
	return 0;
}

static void datw_free(struct vt_datw *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	for (size_t i = 0; i < w->nbufs; i++) {
		free(w->bufs[i].name);
		free(w->bufs[i].cpu_off);
		free(w->bufs[i].cpu_size);
	}
	free(w->bufs);
	vt_page_enc_fini(&w->enc);
	free(w->zero_page);
	free(w->opts);
	free(w->out);
	free(w->clock);
	free(w->tmp);
	free(w->path);
	free(w);
}

int vt_datw_create(const char *path, const struct vt_dat_meta *meta,
		   const struct vt_datw_opts *opts, struct vt_datw **ret, struct vt_errbuf *eb)
{
	static const struct vt_datw_opts no_opts = { 0 };
	struct vt_datw *w;
	int r;

	if (!path || !meta || !ret)
		return vtc_errf(eb, EINVAL, "trace.dat writer: missing argument");
	if (!opts)
		opts = &no_opts;
	if (opts->version != 0 && opts->version != 6 && opts->version != 7)
		return vtc_errf(eb, EINVAL, "%s: file version %d (6 or 7)", path, opts->version);
	r = check_meta(meta, path, eb);
	if (r)
		return r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return vtc_errf(eb, ENOMEM, "%s: out of memory", path);
	w->fd = -1;
	w->cpu = -1;
	w->version = opts->version ? opts->version : 7;
	w->page_size = meta->page_size;
	w->long_size = meta->long_size;
	w->path = strdup(path);
	w->clock = strdup(opts->clock && *opts->clock ? opts->clock : "local");
	w->out = malloc(DATW_OUTBUF);
	w->zero_page = calloc(1, meta->page_size);
	if (!w->path || !w->clock || !w->out || !w->zero_page ||
	    asprintf(&w->tmp, "%s.tmp", path) < 0) {
		w->tmp = NULL;
		datw_free(w);
		return vtc_errf(eb, ENOMEM, "%s: out of memory", path);
	}
	r = vt_page_enc_init(&w->enc, meta->page_size, meta->long_size);
	if (r) {
		datw_free(w);
		return vtc_errf(eb, r, "%s: page encoder: %s", path, strerror(-r));
	}
	r = build_static_options(w, meta, opts, eb);
	if (r) {
		datw_free(w);
		return r;
	}
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (w->fd < 0) {
		r = vtc_errf(eb, errno, "%s: %m", w->tmp);
		datw_free(w);
		return r;
	}
	r = w->version == 7 ? write_v7_start(w, meta) : write_v6_start(w, meta);
	if (r) {
		r = vtc_errf(eb, r, "%s: writing the header: %s", w->path, strerror(-r));
		unlink(w->tmp);
		datw_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

/* ---- buffers and CPUs ---- */

static int datw_check(struct vt_datw *w, struct vt_errbuf *eb)
{
	if (!w)
		return vtc_errf(eb, EINVAL, "trace.dat writer: NULL handle");
	if (w->err)
		return vtc_errf(eb, w->err, "%s: an earlier write failed", w->path);
	return 0;
}

static int datw_misuse(struct vt_datw *w, struct vt_errbuf *eb, const char *what)
{
	int r = vtc_errf(eb, EINVAL, "%s: %s", w->path, what);

	w->err = r;
	return r;
}

/* v6 named buffer: its own "flyrecord\0" block, CPU table patched at buffer end */
static int write_v6_flyrecord_block(struct vt_datw *w, struct datw_buffer *b, unsigned ncpus)
{
	int r;

	b->section_off = w->off;
	r = datw_put(w, "flyrecord", 10);
	for (unsigned c = 0; !r && c < ncpus; c++) {
		r = datw_put_u64(w, 0);
		if (!r)
			r = datw_put_u64(w, 0);
	}
	if (!r)
		r = datw_put_u64(w, strlen(w->clock) + 2);
	if (!r)
		r = datw_put(w, "[", 1);
	if (!r)
		r = datw_put(w, w->clock, strlen(w->clock));
	if (!r)
		r = datw_put(w, "]", 1);
	return r;
}

/* bytes of the v6 tables in front of the data (options, top flyrecord), less BUFFER opts */
static size_t v6_header_fixed_size(const struct vt_datw *w, unsigned top_ncpus)
{
	return 4 + 10 + w->opts_len + 10 /* CPUCOUNT */ + 2 + 10 + 16 * (size_t)top_ncpus +
	       8 + strlen(w->clock) + 2;
}

int vt_datw_buffer_begin(struct vt_datw *w, const char *name, unsigned ncpus,
			 struct vt_errbuf *eb)
{
	struct datw_buffer *nb, *b;
	int r = datw_check(w, eb);

	if (r)
		return r;
	if (!name)
		name = "";
	if (w->in_buffer)
		return datw_misuse(w, eb, "buffer begun inside another buffer");
	if (w->nbufs == 0 && *name)
		return datw_misuse(w, eb, "the first buffer must be the top one (\"\")");
	if (w->nbufs > 0 && !*name)
		return datw_misuse(w, eb, "only the first buffer can be the top one");
	if (ncpus > DATW_MAX_CPUS)
		return datw_misuse(w, eb, "buffer CPU count out of range");
	for (size_t i = 0; i < w->nbufs; i++)
		if (!strcmp(w->bufs[i].name, name))
			return datw_misuse(w, eb, "buffer name used twice");
	if (w->version == 6 && w->nbufs > 0) {
		/* v6 has one CPU count for all buffers: the top one, or after an empty
		 * top buffer the first instance's */
		bool first_after_empty_top = w->nbufs == 1 && !w->v6_ncpus;

		if (first_after_empty_top && ncpus > DATW_V6_CPU_RESERVE)
			return datw_misuse(w, eb, "v6: too many CPUs after an empty top buffer");
		if (first_after_empty_top)
			w->v6_ncpus = ncpus;
		if (ncpus > w->v6_ncpus)
			return datw_misuse(w, eb,
					   "v6: a buffer cannot have more CPUs than the first one");
	}

	nb = realloc(w->bufs, (w->nbufs + 1) * sizeof(*nb));
	if (!nb)
		return datw_fail(w, eb, ENOMEM, "buffer table");
	w->bufs = nb;
	b = &w->bufs[w->nbufs];
	*b = (struct datw_buffer){ 0 };
	b->name = strdup(name);
	/* v6 tables of named buffers always cover the file's CPU count */
	b->ncpus = w->version == 6 && w->nbufs > 0 ? w->v6_ncpus : ncpus;
	b->cpu_off = calloc(b->ncpus ? b->ncpus : 1, sizeof(uint64_t));
	b->cpu_size = calloc(b->ncpus ? b->ncpus : 1, sizeof(uint64_t));
	w->nbufs++;
	if (!b->name || !b->cpu_off || !b->cpu_size)
		return datw_fail(w, eb, ENOMEM, "buffer table");

	if (w->version == 7) {
		b->section_off = w->off;
		r = datw_section_begin(w, VT_OPT_BUFFER, STR_FLYRECORD, &(uint64_t){ 0 });
	} else if (w->nbufs == 1) {
		/* tables go in front of the data, written at close */
		uint64_t start = w->v6_meta_end + DATW_V6_BUFOPT_RESERVE +
				 v6_header_fixed_size(w, ncpus ? ncpus : DATW_V6_CPU_RESERVE);

		w->v6_ncpus = ncpus;
		start = (start + w->page_size - 1) / w->page_size * w->page_size;
		w->v6_data_start = start;
		r = datw_flush(w);
		if (!r && lseek(w->fd, (off_t)start, SEEK_SET) < 0)
			r = -errno;
		if (!r)
			w->off = start;
	} else {
		r = write_v6_flyrecord_block(w, b, b->ncpus);
	}
	if (!r)
		r = datw_pad_to(w, w->page_size);
	if (r)
		return datw_fail(w, eb, r, "buffer header");
	w->in_buffer = true;
	w->next_cpu = 0;
	return 0;
}

int vt_datw_cpu_begin(struct vt_datw *w, unsigned cpu, struct vt_errbuf *eb)
{
	struct datw_buffer *b;
	int r = datw_check(w, eb);

	if (r)
		return r;
	if (!w->in_buffer || w->cpu >= 0)
		return datw_misuse(w, eb, "CPU begun outside a buffer or inside another CPU");
	b = &w->bufs[w->nbufs - 1];
	if (cpu < w->next_cpu || cpu >= b->ncpus)
		return datw_misuse(w, eb, "CPUs must be written in increasing order, < ncpus");
	for (unsigned c = w->next_cpu; c < cpu; c++)
		b->cpu_off[c] = w->off;
	b->cpu_off[cpu] = w->off;
	w->cpu = (int)cpu;
	return 0;
}

static int datw_emit_page(struct vt_datw *w, const void *page, struct vt_errbuf *eb)
{
	int r = datw_put(w, page, w->page_size);

	if (r)
		return datw_fail(w, eb, r, "CPU data");
	w->bufs[w->nbufs - 1].cpu_size[w->cpu] += w->page_size;
	return 0;
}

static int datw_flush_run(struct vt_datw *w, struct vt_errbuf *eb);

static int datw_flush_enc(struct vt_datw *w, struct vt_errbuf *eb)
{
	const void *page;
	int r = datw_flush_run(w, eb);

	if (r)
		return r;
	page = vt_page_enc_finish(&w->enc);
	return page ? datw_emit_page(w, page, eb) : 0;
}

int vt_datw_cpu_page(struct vt_datw *w, const void *page, struct vt_errbuf *eb)
{
	struct vt_errbuf peb = { { 0 } };
	struct vt_page_iter it;
	int r = datw_check(w, eb);

	if (r)
		return r;
	if (w->cpu < 0)
		return datw_misuse(w, eb, "page outside a CPU");
	if (!page)
		return datw_misuse(w, eb, "NULL page");
	/* a page whose header lies would make the whole file unreadable */
	r = vt_page_load(&it, page, w->page_size, w->long_size, &peb);
	if (r)
		return vtc_errf(eb, r, "%s: CPU %d page %" PRIu64 ": %s", w->path, w->cpu,
				w->bufs[w->nbufs - 1].cpu_size[w->cpu] / w->page_size, peb.msg);
	r = datw_flush_enc(w, eb);
	return r ? r : datw_emit_page(w, page, eb);
}

/* @len bytes of whole pages from @fd at @off to the end of the file (flushed first) */
static int datw_copy_in(struct vt_datw *w, int fd, uint64_t off, uint64_t len,
			struct vt_errbuf *eb)
{
	loff_t in_off = (loff_t)off;
	int r = datw_flush(w);

	if (r)
		return datw_fail(w, eb, r, "CPU data");
	while (len) {
		ssize_t n = copy_file_range(fd, &in_off, w->fd, NULL, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* not in the kernel here (or the file shrank): through a buffer */
			uint8_t *page = malloc(w->page_size);

			if (!page)
				return datw_fail(w, eb, -ENOMEM, "CPU data");
			while (len && !r) {
				r = vtc_pread_all(fd, page, w->page_size, (off_t)in_off);
				if (!r)
					r = datw_emit_page(w, page, eb);
				in_off += w->page_size;
				len -= w->page_size;
			}
			free(page);
			return r ? datw_fail(w, eb, r, "CPU data") : 0;
		}
		len -= (uint64_t)n;
		w->off += (uint64_t)n;
		w->bufs[w->nbufs - 1].cpu_size[w->cpu] += (uint64_t)n;
	}
	datw_start_writeback(w);
	return 0;
}

/* write out the pending run of copied pages, then their new header time stamps */
static int datw_flush_run(struct vt_datw *w, struct vt_errbuf *eb)
{
	uint64_t out_off = w->off;
	size_t n = w->run_n;
	int r;

	if (!n)
		return 0;
	w->run_n = 0;
	r = datw_copy_in(w, w->run_fd, w->run_src_off, (uint64_t)n * w->page_size, eb);
	for (size_t i = 0; !r && i < n; i++) {
		uint8_t ts[8];

		vtc_put_le64(ts, w->run_ts[i]);
		r = vtc_pwrite_all(w->fd, ts, sizeof(ts), (off_t)(out_off + i * w->page_size));
		if (r)
			r = datw_fail(w, eb, r, "CPU data");
	}
	return r;
}

/* the writer is healthy and inside a CPU */
static int datw_check_in_cpu(struct vt_datw *w, const char *what, struct vt_errbuf *eb)
{
	int r = datw_check(w, eb);

	if (r)
		return r;
	if (w->cpu < 0) {
		char msg[64];

		snprintf(msg, sizeof(msg), "%s outside a CPU", what);
		return datw_misuse(w, eb, msg);
	}
	return 0;
}

int vt_datw_cpu_copy(struct vt_datw *w, int fd, uint64_t off, uint64_t len,
		     struct vt_errbuf *eb)
{
	int r = datw_check_in_cpu(w, "copy", eb);

	if (r)
		return r;
	if (len % w->page_size)
		return datw_misuse(w, eb, "copy of a partial page");
	r = datw_flush_enc(w, eb);
	return r ? r : datw_copy_in(w, fd, off, len, eb);
}

int vt_datw_cpu_copy_page(struct vt_datw *w, int fd, uint64_t off, uint64_t page_ts,
			  struct vt_errbuf *eb)
{
	int r = datw_check_in_cpu(w, "copy", eb);

	if (r)
		return r;
	if (w->run_n && (w->run_fd != fd || w->run_n == DATW_RUN_PAGES ||
			 w->run_src_off + (uint64_t)w->run_n * w->page_size != off)) {
		r = datw_flush_run(w, eb);
		if (r)
			return r;
	}
	if (!w->run_n) {
		/* the encoder's partial page goes first */
		const void *page = vt_page_enc_finish(&w->enc);

		if (page) {
			r = datw_emit_page(w, page, eb);
			if (r)
				return r;
		}
		w->run_fd = fd;
		w->run_src_off = off;
	}
	w->run_ts[w->run_n++] = page_ts;
	return 0;
}

int vt_datw_cpu_event(struct vt_datw *w, uint64_t ts, const void *data, uint32_t size,
		      struct vt_errbuf *eb)
{
	int r = datw_check(w, eb);

	if (r)
		return r;
	if (w->cpu < 0)
		return datw_misuse(w, eb, "event outside a CPU");
	if (w->run_n) {
		/* copied pages stand before this event */
		r = datw_flush_run(w, eb);
		if (r)
			return r;
	}
	r = vt_page_enc_add(&w->enc, ts, data, size);
	if (r == -ENOSPC) {
		r = datw_flush_enc(w, eb);
		if (r)
			return r;
		r = vt_page_enc_add(&w->enc, ts, data, size);
	}
	if (r)
		return vtc_errf(eb, r, "%s: CPU %d: event of %u bytes does not fit a page",
				w->path, w->cpu, size);
	return 0;
}

int vt_datw_cpu_end(struct vt_datw *w, struct vt_errbuf *eb)
{
	int r = datw_check(w, eb);

	if (r)
		return r;
	if (w->cpu < 0)
		return datw_misuse(w, eb, "CPU ended without begin");
	r = datw_flush_enc(w, eb);
	if (r)
		return r;
	w->next_cpu = (unsigned)w->cpu + 1;
	w->cpu = -1;
	return 0;
}

int vt_datw_buffer_end(struct vt_datw *w, struct vt_errbuf *eb)
{
	struct datw_buffer *b;
	int r = datw_check(w, eb);

	if (r)
		return r;
	if (!w->in_buffer)
		return datw_misuse(w, eb, "buffer ended without begin");
	if (w->cpu >= 0) {
		r = vt_datw_cpu_end(w, eb);
		if (r)
			return r;
	}
	b = &w->bufs[w->nbufs - 1];
	for (unsigned c = w->next_cpu; c < b->ncpus; c++)
		b->cpu_off[c] = w->off;
	if (w->version == 7) {
		r = datw_pwrite_u64(w, b->section_off + 8, w->off - b->section_off - 16);
	} else if (w->nbufs > 1) {
		struct blob t = { 0 };

		for (unsigned c = 0; c < b->ncpus; c++) {
			blob_u64(&t, b->cpu_off[c]);
			blob_u64(&t, b->cpu_size[c]);
		}
		r = t.oom ? -ENOMEM : datw_flush(w);
		if (!r)
			r = vtc_pwrite_all(w->fd, t.data, t.len, (off_t)(b->section_off + 10));
		free(t.data);
	}
	if (r)
		return datw_fail(w, eb, r, "buffer table");
	w->in_buffer = false;
	return 0;
}

/* ---- close ---- */

static unsigned max_ncpus(const struct vt_datw *w)
{
	unsigned n = 0;

	for (size_t i = 0; i < w->nbufs; i++)
		if (w->bufs[i].ncpus > n)
			n = w->bufs[i].ncpus;
	return n;
}

static int finish_v7(struct vt_datw *w)
{
	struct blob b = { 0 };
	uint64_t opts_off = w->off, size_off;
	int r;

	r = datw_section_begin(w, VT_OPT_DONE, STR_OPTIONS, &size_off);
	if (r)
		return r;
	blob_opt(&b, VT_OPT_CPUCOUNT, 4);
	blob_u32(&b, max_ncpus(w));
	for (size_t i = 0; i < w->nbufs; i++) {
		const struct datw_buffer *d = &w->bufs[i];

		blob_opt(&b, VT_OPT_BUFFER,
			 (uint32_t)(8 + strlen(d->name) + 1 + strlen(w->clock) + 1 + 4 + 4 +
				    20 * (size_t)d->ncpus));
		blob_u64(&b, d->section_off);
		blob_str(&b, d->name);
		blob_str(&b, w->clock);
		blob_u32(&b, w->page_size);
		blob_u32(&b, d->ncpus);
		for (unsigned c = 0; c < d->ncpus; c++) {
			blob_u32(&b, c);
			blob_u64(&b, d->cpu_off[c]);
			blob_u64(&b, d->cpu_size[c]);
		}
	}
	blob_opt(&b, VT_OPT_DONE, 8);
	blob_u64(&b, 0);
	r = b.oom ? -ENOMEM : datw_put(w, b.data, b.len);
	free(b.data);
	if (!r)
		r = datw_section_end(w, size_off);
	if (!r)
		r = datw_pwrite_u64(w, w->v7_done_off, opts_off);
	if (r)
		return r;

	/* STRINGS: the section descriptions */
	r = datw_section_begin(w, VT_OPT_STRINGS, STR_STRINGS, &size_off);
	for (int i = 0; !r && i < STR_COUNT; i++)
		r = datw_put_str(w, datw_strings[i]);
	if (!r)
		r = datw_section_end(w, size_off);
	return r;
}

static int finish_v6(struct vt_datw *w)
{
	struct blob b = { 0 };
	unsigned ncpus = w->v6_ncpus;
	size_t clock_len = strlen(w->clock) + 2;
	int r;

	if (w->nbufs == 0)
		w->v6_data_start = w->v6_meta_end + v6_header_fixed_size(w, 0);
	r = datw_flush(w);
	if (r)
		return r;
	blob_u32(&b, ncpus);
	blob_put(&b, "options  ", 10);
	blob_put(&b, w->opts, w->opts_len);
	blob_opt(&b, VT_OPT_CPUCOUNT, 4);
	blob_u32(&b, max_ncpus(w));
	for (size_t i = 1; i < w->nbufs; i++) {
		blob_opt(&b, VT_OPT_BUFFER, (uint32_t)(8 + strlen(w->bufs[i].name) + 1));
		blob_u64(&b, w->bufs[i].section_off);
		blob_str(&b, w->bufs[i].name);
	}
	blob_u16(&b, VT_OPT_DONE);
	blob_put(&b, "flyrecord", 10);
	for (unsigned c = 0; c < ncpus; c++) {
		/* a top buffer without CPUs: empty entries */
		bool has = c < w->bufs[0].ncpus;

		blob_u64(&b, has ? w->bufs[0].cpu_off[c] : w->v6_data_start);
		blob_u64(&b, has ? w->bufs[0].cpu_size[c] : 0);
	}
	blob_u64(&b, clock_len);
	blob_put(&b, "[", 1);
	blob_put(&b, w->clock, clock_len - 2);
	blob_put(&b, "]", 1);
	if (b.oom) {
		free(b.data);
		return -ENOMEM;
	}
	if (w->v6_meta_end + b.len > w->v6_data_start) {
		free(b.data);
		return -E2BIG;
	}
	r = vtc_pwrite_all(w->fd, b.data, b.len, (off_t)w->v6_meta_end);
	free(b.data);
	/* a file without data still ends after its tables */
	if (!r && w->off < w->v6_data_start && ftruncate(w->fd, (off_t)w->v6_data_start) < 0)
		r = -errno;
	return r;
}

static void fsync_dir(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int fd = -1;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		fsync(fd);
}

int vt_datw_close(struct vt_datw *w, bool abort, struct vt_errbuf *eb)
{
	int r = 0;

	if (!w)
		return 0;
	if (!abort && w->err) {
		r = vtc_errf(eb, w->err, "%s: an earlier write failed; removed", w->path);
		abort = true;
	}
	if (!abort) {
		if (w->in_buffer)
			r = vt_datw_buffer_end(w, eb);
		if (!r) {
			r = w->version == 7 ? finish_v7(w) : finish_v6(w);
			if (!r)
				r = datw_flush(w);
			if (r == -E2BIG)
				r = vtc_errf(eb, E2BIG, "%s: v6 buffer names need more than %u bytes",
					     w->path, DATW_V6_BUFOPT_RESERVE);
			else if (r)
				r = vtc_errf(eb, r, "%s: finishing the file: %s", w->path,
					     strerror(-r));
		}
		if (!r && fsync(w->fd) < 0)
			r = vtc_errf(eb, errno, "%s: fsync: %m", w->tmp);
		if (!r) {
			int fd = TAKE_FD(w->fd);

			if (close(fd) < 0)
				r = vtc_errf(eb, errno, "%s: close: %m", w->tmp);
		}
		if (!r && rename(w->tmp, w->path) < 0)
			r = vtc_errf(eb, errno, "%s: rename: %m", w->path);
		if (!r)
			fsync_dir(w->path);
	}
	if (abort || r)
		unlink(w->tmp);
	datw_free(w);
	return r;
}

int vt_datw_finish(struct vt_datw *w, int r, struct vt_errbuf *eb)
{
	struct vt_errbuf ignored;

	if (r < 0) {
		vt_datw_close(w, true, &ignored);
		return r;
	}
	return vt_datw_close(w, false, eb);
}
