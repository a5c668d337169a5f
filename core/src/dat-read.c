// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * trace.dat reader (trace-cmd file format v6 and v7): header, options, metadata, buffers,
 * and per-CPU page streams read with pread (v7 zstd chunks decompressed one at a time).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event-parse.h>
#include <zstd.h>

#include "cleanup.h"
#include "evfield.h"
#include "util.h"
#include "vt/dat.h"

#define DAT_MAGIC		"\x17\x08\x44tracing"
#define DAT_MAGIC_LEN		10
#define DAT_MAX_CPUS		8192u		/* the kernel's NR_CPUS maximum */
#define DAT_MAX_STRING		4096u		/* names and clocks */
#define DAT_MAX_CLOCK_TEXT	65536u		/* v6 clock trailer (trace_clock text) */
#define DAT_MAX_OPTION		(16u << 20)	/* payload of an option we interpret */
#define DAT_MAX_META		(256ull << 20)	/* one metadata section, decompressed */
#define DAT_MAX_CHUNK		(64u << 20)	/* one flyrecord chunk, decompressed */
#define DAT_MAX_OPT_SECTIONS	1024		/* DONE chain length (loop guard) */
#define DAT_MAX_BUFFERS		4096
#define DAT_MAX_GUESTS		4096
#define DAT_MAX_CPU_SLOTS	(1u << 20)	/* per-CPU entries of all buffers together */
#define DAT_MAX_PAGE		(16u << 20)
#define DAT_WINDOW_PAGES	16		/* pages per pread of uncompressed data */
#define DAT_DROP_BYTES		(8u << 20)	/* mapped data given back in steps of this */
#define DAT_COMMIT_MASK		((1u << 27) - 1)
#define SEC_FL_COMPRESSED	1

/* per-CPU data of one buffer */
struct dat_cpu_data {
	uint64_t offset;	/* file offset of the pages, or of the chunk count */
	uint64_t size;		/* bytes in the file, as the file says (0 = no data) */
	uint64_t usize;		/* bytes of pages (uncompressed) */
	uint64_t limit;		/* compressed: end of the flyrecord section */
	uint32_t nchunks;
	uint32_t max_csize;	/* largest chunk, compressed and not */
	uint32_t max_usize;
	bool listed;		/* v7: named in the BUFFER option */
};

struct dat_buffer {
	const char *name;
	const char *clock;
	uint64_t sec_offset;	/* v7: its flyrecord section; v6: its "flyrecord" block */
	unsigned page_size;
	unsigned ncpus;
	bool compressed;
	struct dat_cpu_data *cpus;
};

struct vt_dat {
	char *path;
	int fd;
	uint64_t file_size;
	int version;
	bool zstd;
	unsigned long_size;	/* file header: user space long */
	unsigned kernel_long;	/* size of a page's commit field */
	unsigned page_size;
	uint32_t v6_cpus;

	void **owned;		/* memory that blobs and strings point into */
	size_t nowned, aowned;

	struct vt_dat_meta meta;
	bool have_meta;
	struct vt_dat_format *formats;
	size_t nformats, aformats;
	struct tep_handle *tep;

	uint64_t trace_id;
	bool has_tsc2nsec, has_time_shift, has_traceclock;
	struct vt_tsc2nsec tsc2nsec;
	uint32_t cpucount;
	struct vt_dat_guest *guests;
	size_t nguests;

	struct dat_buffer *buffers;
	size_t nbuffers;
	size_t cpu_slots;	/* sum of the buffers' ncpus (bounds hostile sparse CPU ids) */

	uint64_t meta_off[VT_OPT_BUFFER_TEXT + 1];	/* v7 metadata section offsets */
	bool meta_seen[VT_OPT_BUFFER_TEXT + 1];
};

struct vt_dat_cpu {
	struct vt_dat *dat;
	const struct dat_buffer *b;
	const struct dat_cpu_data *cd;
	unsigned cpu;
	unsigned page_size;
	uint64_t pos;		/* next file offset to read (pages or a chunk header) */
	uint64_t end;		/* uncompressed: end of the pages; compressed: section end */
	uint32_t chunks_left;
	uint32_t chunk_index;
	uint8_t *buf;		/* a window of pages or one decompressed chunk */
	size_t buf_cap, buf_len, buf_pos;
	void *map;		/* uncompressed data mapped (buf points into it), or NULL */
	size_t map_len;
	size_t map_dropped;	/* bytes at the start of map given back (MADV_DONTNEED) */
	uint8_t *cbuf;
	size_t cbuf_cap;
	ZSTD_DCtx *zd;
	uint64_t npages;	/* pages taken so far (including skipped empty ones) */
	bool have_page;
	bool missed;
	struct vt_page_iter it;
};

/* ---- a bounded cursor over a file range or a section in memory ---- */

struct src {
	struct vt_dat *dat;
	const uint8_t *mem;	/* NULL: read the file with pread */
	uint64_t base;		/* file offset of mem[0] (not decompressed) / section offset */
	uint64_t pos;		/* offset into mem, or file offset */
	uint64_t end;
	int sec_id;		/* decompressed section id, or -1 */
	uint64_t sec_end;	/* file offset of the end of the loaded section */
	bool nul_at_end;	/* mem[end] is a NUL we put there */
};

static const char *const sec_names[] = {
	[VT_OPT_DONE] = "OPTIONS",
	[VT_OPT_BUFFER] = "BUFFER",
	[VT_OPT_STRINGS] = "STRINGS",
	[VT_OPT_HEADER_INFO] = "HEADER_INFO",
	[VT_OPT_FTRACE_EVENTS] = "FTRACE_EVENTS",
	[VT_OPT_EVENT_FORMATS] = "EVENT_FORMATS",
	[VT_OPT_KALLSYMS] = "KALLSYMS",
	[VT_OPT_PRINTK] = "PRINTK",
	[VT_OPT_CMDLINES] = "CMDLINES",
	[VT_OPT_BUFFER_TEXT] = "BUFFER_TEXT",
};

static const char *sec_name(unsigned id)
{
	if (id < sizeof(sec_names) / sizeof(sec_names[0]) && sec_names[id])
		return sec_names[id];
	return "unknown";
}

/* "" for the top buffer, "buffer NAME " for an instance: message prefix before "CPU n" */
static const char *buf_label(const struct dat_buffer *b, char *out, size_t n)
{
	if (!b->name[0])
		return "";
	snprintf(out, n, "buffer %s ", b->name);
	return out;
}

static int dat_errf(const struct vt_dat *d, struct vt_errbuf *eb, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int dat_errf(const struct vt_dat *d, struct vt_errbuf *eb, int err, const char *fmt, ...)
{
	char msg[VT_ERRBUF_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return vtc_errf(eb, err, "%s: %s", d->path, msg);
}

/* -EBADMSG with the position of @at in @s ("ext.dat: offset 812: ...") */
static int src_bad(const struct src *s, uint64_t at, struct vt_errbuf *eb, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int src_bad(const struct src *s, uint64_t at, struct vt_errbuf *eb, const char *fmt, ...)
{
	char msg[VT_ERRBUF_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->sec_id >= 0)
		return dat_errf(s->dat, eb, EBADMSG, "%s section at %llu, byte %llu: %s",
				sec_name((unsigned)s->sec_id), (unsigned long long)s->base,
				(unsigned long long)at, msg);
	return dat_errf(s->dat, eb, EBADMSG, "offset %llu: %s",
			(unsigned long long)(s->mem ? s->base + at : at), msg);
}

static const char *src_where(const struct src *s)
{
	if (s->mem)
		return s->sec_id >= 0 ? "section" : "option";
	return "file";
}

static int src_need(const struct src *s, uint64_t n, const char *what, struct vt_errbuf *eb)
{
	if (s->pos > s->end || n > s->end - s->pos)
		return src_bad(s, s->pos, eb, "%s (%llu bytes) past the end of the %s", what,
			       (unsigned long long)n, src_where(s));
	return 0;
}

static int src_read(struct src *s, void *dst, size_t n, const char *what, struct vt_errbuf *eb)
{
	int r = src_need(s, n, what, eb);

	if (r < 0)
		return r;
	if (s->mem) {
		memcpy(dst, s->mem + s->pos, n);
	} else {
		r = vtc_pread_all(s->dat->fd, dst, n, (off_t)s->pos);
		if (r == -EBADMSG)
			return src_bad(s, s->pos, eb, "%s cut off (file shrank?)", what);
		if (r < 0)
			return dat_errf(s->dat, eb, r, "offset %llu: read: %s",
					(unsigned long long)s->pos, strerror(-r));
	}
	s->pos += n;
	return 0;
}

static int src_u8(struct src *s, uint8_t *ret, const char *what, struct vt_errbuf *eb)
{
	*ret = 0;
	return src_read(s, ret, 1, what, eb);
}

static int src_u16(struct src *s, uint16_t *ret, const char *what, struct vt_errbuf *eb)
{
	uint16_t v = 0;
	int r = src_read(s, &v, sizeof(v), what, eb);

	*ret = le16toh(v);
	return r;
}

static int src_u32(struct src *s, uint32_t *ret, const char *what, struct vt_errbuf *eb)
{
	uint32_t v = 0;
	int r = src_read(s, &v, sizeof(v), what, eb);

	*ret = le32toh(v);
	return r;
}

static int src_u64(struct src *s, uint64_t *ret, const char *what, struct vt_errbuf *eb)
{
	uint64_t v = 0;
	int r = src_read(s, &v, sizeof(v), what, eb);

	*ret = le64toh(v);
	return r;
}

static int dat_own(struct vt_dat *d, void *p)
{
	if (d->nowned == d->aowned) {
		size_t n = d->aowned ? d->aowned * 2 : 64;
		void **v = realloc(d->owned, n * sizeof(*v));

		if (!v) {
			free(p);
			return vtc_err(ENOMEM);
		}
		d->owned = v;
		d->aowned = n;
	}
	d->owned[d->nowned++] = p;
	return 0;
}

/*
 * src_bytes - @n bytes at the cursor. From memory they are borrowed unless @nul asks for
 * NUL termination (then copied, except at the end of a loaded section, which has a NUL
 * after it); from the file they are always read into owned NUL-terminated memory.
 */
static int src_bytes(struct src *s, uint64_t n, bool nul, const char **ret, const char *what,
		     struct vt_errbuf *eb)
{
	char *p;
	int r = src_need(s, n, what, eb);

	if (r < 0)
		return r;
	if (s->mem && (!nul || (s->nul_at_end && s->end - s->pos == n))) {
		*ret = (const char *)s->mem + s->pos;
		s->pos += n;
		return 0;
	}
	p = malloc((size_t)n + 1);
	if (!p)
		return dat_errf(s->dat, eb, ENOMEM, "%s: %llu bytes: out of memory", what,
				(unsigned long long)n);
	r = src_read(s, p, (size_t)n, what, eb);
	if (r < 0) {
		free(p);
		return r;
	}
	p[n] = '\0';
	r = dat_own(s->dat, p);
	if (r < 0)
		return dat_errf(s->dat, eb, r, "out of memory");
	*ret = p;
	return 0;
}

/* a NUL-terminated string of at most DAT_MAX_STRING bytes; owned copy */
static int src_str(struct src *s, char **ret, const char *what, struct vt_errbuf *eb)
{
	char buf[DAT_MAX_STRING + 1];
	uint64_t start = s->pos;
	size_t n = DAT_MAX_STRING + 1;
	const char *nul;
	int r;

	if (s->pos > s->end)
		return src_bad(s, start, eb, "%s past the end of the %s", what, src_where(s));
	if (n > s->end - s->pos)
		n = (size_t)(s->end - s->pos);
	r = src_read(s, buf, n, what, eb);
	if (r < 0)
		return r;
	nul = memchr(buf, '\0', n);
	if (!nul)
		return src_bad(s, start, eb, "%s: no NUL within %zu bytes", what, n);
	s->pos = start + (uint64_t)(nul - buf) + 1;
	*ret = strdup(buf);
	if (!*ret || dat_own(s->dat, *ret) < 0)
		return dat_errf(s->dat, eb, ENOMEM, "out of memory");
	return 0;
}

static int src_magic(struct src *s, const char *magic, size_t n, const char *what,
		     struct vt_errbuf *eb)
{
	char buf[32];
	uint64_t at = s->pos;
	int r;

	if (n > sizeof(buf))
		return vtc_err(EINVAL);
	r = src_read(s, buf, n, what, eb);
	if (r < 0)
		return r;
	if (memcmp(buf, magic, n) != 0)
		return src_bad(s, at, eb, "%s expected", what);
	return 0;
}

static struct src src_file(struct vt_dat *d, uint64_t pos)
{
	return (struct src){ .dat = d, .pos = pos, .end = d->file_size, .sec_id = -1 };
}

/* ---- v7 sections ---- */

struct section {
	uint16_t id;
	uint16_t flags;
	uint64_t off;		/* of the header */
	uint64_t data;		/* off + 16 */
	uint64_t size;
};

static int sec_header(struct vt_dat *d, uint64_t off, struct section *sec, struct vt_errbuf *eb)
{
	uint8_t h[16];
	uint32_t str_id;
	int r;

	if (off > d->file_size || d->file_size - off < sizeof(h))
		return dat_errf(d, eb, EBADMSG,
				"offset %llu: section header past the end of the file (size %llu)",
				(unsigned long long)off, (unsigned long long)d->file_size);
	r = vtc_pread_all(d->fd, h, sizeof(h), (off_t)off);
	if (r < 0)
		return dat_errf(d, eb, r, "offset %llu: read: %s", (unsigned long long)off,
				strerror(-r));
	vtc_get_le16(h, sizeof(h), 0, &sec->id);
	vtc_get_le16(h, sizeof(h), 2, &sec->flags);
	vtc_get_le32(h, sizeof(h), 4, &str_id);
	vtc_get_le64(h, sizeof(h), 8, &sec->size);
	sec->off = off;
	sec->data = off + sizeof(h);
	if (sec->size > d->file_size - sec->data)
		return dat_errf(d, eb, EBADMSG,
				"offset %llu: section %u (%s) size %llu past the end of the file (size %llu)",
				(unsigned long long)off, sec->id, sec_name(sec->id),
				(unsigned long long)sec->size, (unsigned long long)d->file_size);
	if ((sec->flags & SEC_FL_COMPRESSED) && !d->zstd)
		return dat_errf(d, eb, EBADMSG,
				"offset %llu: section %u (%s) compressed in a file without compression",
				(unsigned long long)off, sec->id, sec_name(sec->id));
	return 0;
}

/* Load a whole (metadata or options) section into owned memory, decompressed. */
static int sec_load(struct vt_dat *d, uint64_t off, uint16_t want, struct src *ret,
		    struct vt_errbuf *eb)
{
	struct section sec = { 0 };
	uint8_t *out;
	int r;

	r = sec_header(d, off, &sec, eb);
	if (r < 0)
		return r;
	if (sec.id != want)
		return dat_errf(d, eb, EBADMSG, "offset %llu: section %u (%s), expected %u (%s)",
				(unsigned long long)off, sec.id, sec_name(sec.id), want,
				sec_name(want));
	if (sec.flags & SEC_FL_COMPRESSED) {
		_cleanup_free_ uint8_t *cbuf = NULL;
		uint8_t h[8];
		uint32_t csize, usize;
		size_t n;

		if (sec.size < sizeof(h))
			return dat_errf(d, eb, EBADMSG,
					"offset %llu: compressed %s section of %llu bytes has no compression header",
					(unsigned long long)off, sec_name(want),
					(unsigned long long)sec.size);
		r = vtc_pread_all(d->fd, h, sizeof(h), (off_t)sec.data);
		if (r < 0)
			return dat_errf(d, eb, r, "offset %llu: read: %s",
					(unsigned long long)sec.data, strerror(-r));
		vtc_get_le32(h, sizeof(h), 0, &csize);
		vtc_get_le32(h, sizeof(h), 4, &usize);
		if (csize > sec.size - sizeof(h))
			return dat_errf(d, eb, EBADMSG,
					"offset %llu: %s section: compressed size %u past the section (%llu bytes)",
					(unsigned long long)off, sec_name(want), csize,
					(unsigned long long)(sec.size - sizeof(h)));
		if (usize > DAT_MAX_META)
			return dat_errf(d, eb, EBADMSG,
					"offset %llu: %s section: uncompressed size %u too large",
					(unsigned long long)off, sec_name(want), usize);
		cbuf = malloc(csize ? csize : 1);
		out = malloc((size_t)usize + 1);
		if (!cbuf || !out) {
			free(out);
			return dat_errf(d, eb, ENOMEM, "%s section: out of memory", sec_name(want));
		}
		r = vtc_pread_all(d->fd, cbuf, csize, (off_t)(sec.data + sizeof(h)));
		if (r < 0) {
			free(out);
			return dat_errf(d, eb, r, "offset %llu: read: %s",
					(unsigned long long)sec.data, strerror(-r));
		}
		n = ZSTD_decompress(out, usize, cbuf, csize);
		if (ZSTD_isError(n) || n != usize) {
			free(out);
			return dat_errf(d, eb, EBADMSG,
					"offset %llu: %s section: corrupt zstd data (%s)",
					(unsigned long long)off, sec_name(want),
					ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch");
		}
		out[usize] = 0;
		*ret = (struct src){ .dat = d, .mem = out, .base = off, .end = usize,
				     .sec_id = want };
	} else {
		if (sec.size > DAT_MAX_META)
			return dat_errf(d, eb, EBADMSG, "offset %llu: %s section size %llu too large",
					(unsigned long long)off, sec_name(want),
					(unsigned long long)sec.size);
		out = malloc((size_t)sec.size + 1);
		if (!out)
			return dat_errf(d, eb, ENOMEM, "%s section: out of memory", sec_name(want));
		r = vtc_pread_all(d->fd, out, (size_t)sec.size, (off_t)sec.data);
		if (r < 0) {
			free(out);
			return dat_errf(d, eb, r, "offset %llu: read: %s",
					(unsigned long long)sec.data, strerror(-r));
		}
		out[sec.size] = 0;
		*ret = (struct src){ .dat = d, .mem = out, .base = sec.data, .end = sec.size,
				     .sec_id = -1 };
	}
	ret->sec_end = sec.data + sec.size;
	ret->nul_at_end = true;
	r = dat_own(d, out);
	if (r < 0)
		return dat_errf(d, eb, r, "out of memory");
	return 0;
}

/* ---- metadata (same payloads in v6 and v7) ---- */

static int add_format(struct vt_dat *d, const char *system, const char *text, size_t len,
		      struct vt_errbuf *eb)
{
	if (d->nformats == d->aformats) {
		size_t n = d->aformats ? d->aformats * 2 : 256;
		struct vt_dat_format *v = realloc(d->formats, n * sizeof(*v));

		if (!v)
			return dat_errf(d, eb, ENOMEM, "out of memory");
		d->formats = v;
		d->aformats = n;
	}
	d->formats[d->nformats++] = (struct vt_dat_format){
		.system = system, .text = { .data = text, .len = len } };
	return 0;
}

static int parse_header_info(struct vt_dat *d, struct src *s, struct vt_errbuf *eb)
{
	uint64_t len = 0;
	int r;

	r = src_magic(s, "header_page", 12, "\"header_page\"", eb);
	if (r == 0)
		r = src_u64(s, &len, "header_page size", eb);
	if (r == 0)
		r = src_bytes(s, len, true, &d->meta.header_page.data, "header_page", eb);
	if (r < 0)
		return r;
	d->meta.header_page.len = len;
	r = src_magic(s, "header_event", 13, "\"header_event\"", eb);
	if (r == 0)
		r = src_u64(s, &len, "header_event size", eb);
	if (r == 0)
		r = src_bytes(s, len, true, &d->meta.header_event.data, "header_event", eb);
	if (r < 0)
		return r;
	d->meta.header_event.len = len;
	d->have_meta = true;
	return 0;
}

static int parse_format_list(struct vt_dat *d, struct src *s, const char *system,
			     struct vt_errbuf *eb)
{
	uint32_t n, i;
	int r;

	r = src_u32(s, &n, "event count", eb);
	for (i = 0; r == 0 && i < n; i++) {
		const char *text;
		uint64_t len;

		r = src_u64(s, &len, "format size", eb);
		if (r == 0)
			r = src_bytes(s, len, false, &text, "event format", eb);
		if (r == 0)
			r = add_format(d, system, text, (size_t)len, eb);
	}
	return r;
}

static int parse_event_formats(struct vt_dat *d, struct src *s, struct vt_errbuf *eb)
{
	uint32_t nsys, i;
	int r;

	r = src_u32(s, &nsys, "event system count", eb);
	for (i = 0; r == 0 && i < nsys; i++) {
		char *system;

		r = src_str(s, &system, "event system name", eb);
		if (r == 0)
			r = parse_format_list(d, s, system, eb);
	}
	return r;
}

static int parse_text(struct src *s, bool len64, struct vt_blob *ret,
		      const char *what, struct vt_errbuf *eb)
{
	uint64_t len;
	uint32_t len32;
	int r;

	if (len64) {
		r = src_u64(s, &len, what, eb);
	} else {
		r = src_u32(s, &len32, what, eb);
		len = len32;
	}
	if (r == 0)
		r = src_bytes(s, len, true, &ret->data, what, eb);
	if (r == 0)
		ret->len = (size_t)len;
	return r;
}

/* ---- options ---- */

static char *clock_name(const char *text, size_t len)
{
	const char *lb = memchr(text, '[', len);
	const char *rb = lb ? memchr(lb, ']', len - (size_t)(lb - text)) : NULL;

	if (lb && rb)
		return strndup(lb + 1, (size_t)(rb - lb - 1));
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\0'))
		len--;
	return strndup(text, len);
}

static int opt_string(struct vt_dat *d, const struct src *o, const char **ret,
		      struct vt_errbuf *eb)
{
	size_t len = (size_t)(o->end - o->pos);
	char *p;

	while (len && (o->mem[o->pos + len - 1] == '\0' || o->mem[o->pos + len - 1] == '\n'))
		len--;
	p = strndup((const char *)o->mem + o->pos, len);
	if (!p || dat_own(d, p) < 0)
		return dat_errf(d, eb, ENOMEM, "out of memory");
	*ret = p;
	return 0;
}

static int opt_guest(struct vt_dat *d, struct src *o, struct vt_errbuf *eb)
{
	struct vt_dat_guest g = { 0 };
	uint32_t n = 0, i, *tids;
	uint64_t start = o->pos;
	char *name;
	int r;

	r = src_str(o, &name, "GUEST name", eb);
	if (r == 0)
		r = src_u64(o, &g.trace_id, "GUEST trace id", eb);
	if (r == 0)
		r = src_u32(o, &n, "GUEST CPU count", eb);
	if (r < 0)
		return r;
	if ((uint64_t)n * 8 > o->end - o->pos)
		return src_bad(o, start, eb, "GUEST %s: %u CPUs past the option", name, n);
	if (d->nguests == DAT_MAX_GUESTS)
		return src_bad(o, start, eb, "more than %d GUEST options", DAT_MAX_GUESTS);
	tids = calloc(n ? n : 1, sizeof(*tids));
	if (!tids || dat_own(d, tids) < 0)
		return dat_errf(d, eb, ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		uint32_t cpu, tid;

		src_u32(o, &cpu, "GUEST cpu", eb);
		src_u32(o, &tid, "GUEST tid", eb);
		if (cpu >= n)
			return src_bad(o, start, eb, "GUEST %s: vCPU %u of %u", name, cpu, n);
		tids[cpu] = tid;
	}
	g.name = name;
	g.ncpus = n;
	g.vcpu_tid = tids;
	{
		struct vt_dat_guest *v = realloc(d->guests, (d->nguests + 1) * sizeof(*v));

		if (!v)
			return dat_errf(d, eb, ENOMEM, "out of memory");
		d->guests = v;
		d->guests[d->nguests++] = g;
	}
	return 0;
}

static int add_buffer(struct vt_dat *d, struct dat_buffer **ret, struct vt_errbuf *eb)
{
	struct dat_buffer *v;

	*ret = NULL;
	if (d->nbuffers == DAT_MAX_BUFFERS)
		return dat_errf(d, eb, EBADMSG, "more than %d buffers", DAT_MAX_BUFFERS);
	v = realloc(d->buffers, (d->nbuffers + 1) * sizeof(*v));
	if (!v)
		return dat_errf(d, eb, ENOMEM, "out of memory");
	d->buffers = v;
	*ret = &v[d->nbuffers++];
	**ret = (struct dat_buffer){ 0 };
	return 0;
}

static int buffer_cpus(struct vt_dat *d, struct dat_buffer *b, unsigned ncpus,
		       struct vt_errbuf *eb)
{
	if (ncpus > DAT_MAX_CPU_SLOTS - d->cpu_slots)
		return dat_errf(d, eb, EBADMSG, "buffers: more than %u CPUs in all",
				DAT_MAX_CPU_SLOTS);
	d->cpu_slots += ncpus;
	b->cpus = calloc(ncpus ? ncpus : 1, sizeof(*b->cpus));
	if (!b->cpus || dat_own(d, b->cpus) < 0)
		return dat_errf(d, eb, ENOMEM, "out of memory");
	b->ncpus = ncpus;
	return 0;
}

/* v7 BUFFER: u64 section, name, clock, u32 page size, u32 n, n x {u32 cpu, u64 off, u64 size} */
static int opt_buffer_v7(struct vt_dat *d, struct src *o, struct vt_errbuf *eb)
{
	struct dat_buffer *b;
	uint64_t start = o->pos, sec_off = 0, mark;
	uint32_t page_size = 0, n = 0, i, max_cpu = 0;
	char *name, *clock;
	int r;

	r = src_u64(o, &sec_off, "BUFFER section offset", eb);
	if (r == 0)
		r = src_str(o, &name, "BUFFER name", eb);
	if (r == 0)
		r = src_str(o, &clock, "BUFFER clock", eb);
	if (r == 0)
		r = src_u32(o, &page_size, "BUFFER page size", eb);
	if (r == 0)
		r = src_u32(o, &n, "BUFFER CPU count", eb);
	if (r < 0)
		return r;
	if ((uint64_t)n * 20 > o->end - o->pos)
		return src_bad(o, start, eb, "BUFFER \"%s\": %u CPUs past the option", name, n);
	if (page_size != d->page_size &&
	    (page_size < 64 || page_size > DAT_MAX_PAGE || (page_size & (page_size - 1))))
		return src_bad(o, start, eb, "BUFFER \"%s\": bad page size %u", name, page_size);
	mark = o->pos;
	for (i = 0; i < n; i++) {
		uint32_t cpu;

		src_u32(o, &cpu, "BUFFER cpu", eb);
		o->pos += 16;
		if (cpu >= DAT_MAX_CPUS)
			return src_bad(o, start, eb, "BUFFER \"%s\": CPU id %u too large", name,
				       cpu);
		if (cpu > max_cpu)
			max_cpu = cpu;
	}
	r = add_buffer(d, &b, eb);
	if (r < 0)
		return r;
	b->name = name;
	b->clock = clock;
	b->page_size = page_size;
	b->sec_offset = sec_off;
	r = buffer_cpus(d, b, n ? max_cpu + 1 : 0, eb);
	if (r < 0)
		return r;
	o->pos = mark;
	for (i = 0; i < n; i++) {
		struct dat_cpu_data *cd;
		uint32_t cpu;

		src_u32(o, &cpu, "BUFFER cpu", eb);
		cd = &b->cpus[cpu];
		if (cd->listed)
			return src_bad(o, start, eb, "BUFFER \"%s\": CPU %u listed twice", name,
				       cpu);
		cd->listed = true;
		src_u64(o, &cd->offset, "BUFFER cpu offset", eb);
		src_u64(o, &cd->size, "BUFFER cpu size", eb);
	}
	return 0;
}

/* v6 BUFFER: u64 offset of a "flyrecord" block, name */
static int opt_buffer_v6(struct vt_dat *d, struct src *o, struct vt_errbuf *eb)
{
	struct dat_buffer *b;
	uint64_t off;
	char *name;
	int r;

	r = src_u64(o, &off, "BUFFER offset", eb);
	if (r == 0)
		r = src_str(o, &name, "BUFFER name", eb);
	if (r == 0)
		r = add_buffer(d, &b, eb);
	if (r < 0)
		return r;
	b->name = name;
	b->sec_offset = off;
	b->page_size = d->page_size;
	return 0;
}

static int opt_size(const struct src *o, uint64_t start, uint16_t id, uint32_t size,
		    uint32_t want, struct vt_errbuf *eb)
{
	if (size != want)
		return src_bad(o, start, eb, "option %u size %u, expected %u", id, size, want);
	return 0;
}

static int parse_option(struct vt_dat *d, uint16_t id, uint32_t size, struct src *o,
			uint64_t start, uint64_t *next, struct vt_errbuf *eb)
{
	uint32_t v32 = 0;
	int r = 0;

	switch (id) {
	case VT_OPT_DONE:
		r = opt_size(o, start, id, size, 8, eb);
		if (r == 0)
			r = src_u64(o, next, "DONE", eb);
		break;
	case VT_OPT_UNAME:
		r = opt_string(d, o, &d->meta.uname, eb);
		break;
	case VT_OPT_TRACEID:
		r = opt_size(o, start, id, size, 8, eb);
		if (r == 0)
			r = src_u64(o, &d->trace_id, "TRACEID", eb);
		break;
	case VT_OPT_TSC2NSEC:
		r = opt_size(o, start, id, size, 16, eb);
		if (r == 0)
			r = src_u32(o, &d->tsc2nsec.mult, "TSC2NSEC", eb);
		if (r == 0)
			r = src_u32(o, &d->tsc2nsec.shift, "TSC2NSEC", eb);
		if (r == 0)
			r = src_u64(o, &d->tsc2nsec.offset, "TSC2NSEC", eb);
		d->has_tsc2nsec = r == 0;
		break;
	case VT_OPT_GUEST:
		r = opt_guest(d, o, eb);
		break;
	case VT_OPT_CPUCOUNT:
		r = opt_size(o, start, id, size, 4, eb);
		if (r == 0)
			r = src_u32(o, &v32, "CPUCOUNT", eb);
		d->cpucount = v32;
		break;
	case VT_OPT_BUFFER:
		r = d->version >= 7 ? opt_buffer_v7(d, o, eb) : opt_buffer_v6(d, o, eb);
		break;
	case VT_OPT_HEADER_INFO:
	case VT_OPT_FTRACE_EVENTS:
	case VT_OPT_EVENT_FORMATS:
	case VT_OPT_KALLSYMS:
	case VT_OPT_PRINTK:
	case VT_OPT_CMDLINES:
		if (d->version < 7)
			break;
		r = opt_size(o, start, id, size, 8, eb);
		if (r == 0)
			r = src_u64(o, &d->meta_off[id], sec_name(id), eb);
		d->meta_seen[id] = true;
		break;
	default:
		break;	/* DATE, CPUSTAT, VERSION, BUFFER_TEXT, ...: not needed */
	}
	return r;
}

static bool option_wanted(uint16_t id)
{
	switch (id) {
	case VT_OPT_DONE:
	case VT_OPT_UNAME:
	case VT_OPT_TRACEID:
	case VT_OPT_TSC2NSEC:
	case VT_OPT_GUEST:
	case VT_OPT_CPUCOUNT:
	case VT_OPT_BUFFER:
	case VT_OPT_HEADER_INFO:
	case VT_OPT_FTRACE_EVENTS:
	case VT_OPT_EVENT_FORMATS:
	case VT_OPT_KALLSYMS:
	case VT_OPT_PRINTK:
	case VT_OPT_CMDLINES:
		return true;
	default:
		return false;
	}
}

/*
 * parse_options - the options at @s: v6 until a 2-byte 0 id, v7 until DONE (whose u64 is
 * returned in *next) or the end of the section.
 */
static int parse_options(struct vt_dat *d, struct src *s, uint64_t *next, struct vt_errbuf *eb)
{
	*next = 0;
	for (;;) {
		_cleanup_free_ uint8_t *payload = NULL;
		uint64_t start = s->pos;
		struct src o;
		uint16_t id;
		uint32_t size;
		int r;

		if (d->version >= 7 && s->pos == s->end)
			return 0;
		r = src_u16(s, &id, "option id", eb);
		if (r < 0)
			return r;
		if (d->version < 7 && id == VT_OPT_DONE)
			return 0;
		r = src_u32(s, &size, "option size", eb);
		if (r < 0)
			return r;
		if (size > s->end - s->pos)
			return src_bad(s, start, eb, "option %u size %u past the %s", id, size,
				       s->mem ? "section" : "file");
		if (id == VT_OPT_TRACECLOCK)
			d->has_traceclock = true;
		if (id == VT_OPT_TIME_SHIFT)
			d->has_time_shift = true;
		if (!option_wanted(id)) {
			s->pos += size;
			continue;
		}
		if (s->mem) {
			o = *s;
			o.end = s->pos + size;
			o.nul_at_end = false;
		} else {
			if (size > DAT_MAX_OPTION)
				return src_bad(s, start, eb, "option %u size %u too large", id,
					       size);
			payload = malloc(size ? size : 1);
			if (!payload)
				return dat_errf(d, eb, ENOMEM, "out of memory");
			r = src_read(s, payload, size, "option", eb);
			if (r < 0)
				return r;
			o = (struct src){ .dat = d, .mem = payload, .base = s->pos - size,
					  .end = size, .sec_id = -1 };
			s->pos -= size;
		}
		s->pos += size;
		r = parse_option(d, id, size, &o, start, next, eb);
		if (r < 0)
			return r;
		if (id == VT_OPT_DONE && d->version >= 7)
			return 0;
	}
}

/* ---- buffers and CPU data ---- */

static int cpu_walk_chunks(struct vt_dat *d, struct dat_buffer *b, unsigned cpu,
			   struct dat_cpu_data *cd, struct vt_errbuf *eb)
{
	char lbl[DAT_MAX_STRING + 16];
	const char *bl = buf_label(b, lbl, sizeof(lbl));
	uint64_t pos = cd->offset;
	uint32_t n, i;
	uint8_t h[8];
	int r;

	if (cd->limit - pos < 4)
		return dat_errf(d, eb, EBADMSG,
				"%sCPU %u: chunk count at %llu past the section",
				bl, cpu, (unsigned long long)pos);
	r = vtc_pread_all(d->fd, h, 4, (off_t)pos);
	if (r < 0)
		return dat_errf(d, eb, r, "offset %llu: read: %s", (unsigned long long)pos,
				strerror(-r));
	vtc_get_le32(h, 4, 0, &n);
	pos += 4;
	if ((uint64_t)n * 8 > cd->limit - pos)
		return dat_errf(d, eb, EBADMSG,
				"%sCPU %u: %u chunks past the section", bl, cpu,
				n);
	for (i = 0; i < n; i++) {
		uint32_t csize, usize;

		if (cd->limit - pos < sizeof(h))
			return dat_errf(d, eb, EBADMSG,
					"%sCPU %u chunk %u: header at %llu past the section",
					bl, cpu, i, (unsigned long long)pos);
		r = vtc_pread_all(d->fd, h, sizeof(h), (off_t)pos);
		if (r < 0)
			return dat_errf(d, eb, r, "offset %llu: read: %s",
					(unsigned long long)pos, strerror(-r));
		vtc_get_le32(h, sizeof(h), 0, &csize);
		vtc_get_le32(h, sizeof(h), 4, &usize);
		pos += sizeof(h);
		if (csize > cd->limit - pos)
			return dat_errf(d, eb, EBADMSG,
					"%sCPU %u chunk %u: compressed size %u at %llu past the section",
					bl, cpu, i, csize, (unsigned long long)pos);
		if (usize > DAT_MAX_CHUNK || usize % b->page_size)
			return dat_errf(d, eb, EBADMSG,
					"%sCPU %u chunk %u: uncompressed size %u is not whole pages of %u",
					bl, cpu, i, usize, b->page_size);
		pos += csize;
		cd->usize += usize;
		if (csize > cd->max_csize)
			cd->max_csize = csize;
		if (usize > cd->max_usize)
			cd->max_usize = usize;
	}
	cd->nchunks = n;
	return 0;
}

/* check one buffer's CPU data against the file (and, v7, against its section) */
static int buffer_check(struct vt_dat *d, struct dat_buffer *b, uint64_t sec_data,
			uint64_t sec_end, struct vt_errbuf *eb)
{
	char lbl[DAT_MAX_STRING + 16];
	const char *bl = buf_label(b, lbl, sizeof(lbl));
	unsigned cpu;
	int r;

	for (cpu = 0; cpu < b->ncpus; cpu++) {
		struct dat_cpu_data *cd = &b->cpus[cpu];

		if (cd->size == 0) {
			cd->offset = 0;
			continue;
		}
		if (cd->offset > d->file_size || cd->size > d->file_size - cd->offset)
			return dat_errf(d, eb, EBADMSG,
					"%sCPU %u: data at offset %llu size %llu past the end of the file (size %llu)",
					bl, cpu, (unsigned long long)cd->offset,
					(unsigned long long)cd->size,
					(unsigned long long)d->file_size);
		if (d->version >= 7 && (cd->offset < sec_data || cd->offset > sec_end ||
					(!b->compressed && cd->size > sec_end - cd->offset)))
			return dat_errf(d, eb, EBADMSG,
					"%sCPU %u: data at offset %llu size %llu outside its section [%llu, %llu)",
					bl, cpu, (unsigned long long)cd->offset,
					(unsigned long long)cd->size, (unsigned long long)sec_data,
					(unsigned long long)sec_end);
		if (b->compressed) {
			/* trace-cmd 3.1.6 stores the size without the u32 chunk count: bound
			 * the chunk walk by the section instead */
			cd->limit = sec_end;
			r = cpu_walk_chunks(d, b, cpu, cd, eb);
			if (r < 0)
				return r;
			continue;
		}
		if (cd->size % b->page_size)
			return dat_errf(d, eb, EBADMSG,
					"%sCPU %u: data size %llu is not whole pages of %u",
					bl, cpu, (unsigned long long)cd->size,
					b->page_size);
		cd->usize = cd->size;
	}
	return 0;
}

static int buffers_v7(struct vt_dat *d, struct vt_errbuf *eb)
{
	size_t i;
	int r;

	for (i = 0; i < d->nbuffers; i++) {
		struct dat_buffer *b = &d->buffers[i];
		struct section sec = { 0 };

		r = sec_header(d, b->sec_offset, &sec, eb);
		if (r < 0)
			return r;
		if (sec.id != VT_OPT_BUFFER)
			return dat_errf(d, eb, EBADMSG,
					"offset %llu: buffer \"%s\": section %u (%s), expected 3 (BUFFER)",
					(unsigned long long)sec.off, b->name, sec.id,
					sec_name(sec.id));
		b->compressed = sec.flags & SEC_FL_COMPRESSED;
		r = buffer_check(d, b, sec.data, sec.data + sec.size, eb);
		if (r < 0)
			return r;
	}
	return 0;
}

/* v6 "flyrecord" block: cpus x {u64 offset, u64 size}, then the clock if TRACECLOCK */
static int flyrecord_v6(struct vt_dat *d, struct src *s, struct dat_buffer *b,
			struct vt_errbuf *eb)
{
	unsigned cpu;
	int r;

	r = src_magic(s, "flyrecord", 10, "\"flyrecord\"", eb);
	if (r == 0)
		r = buffer_cpus(d, b, d->v6_cpus, eb);
	for (cpu = 0; r == 0 && cpu < d->v6_cpus; cpu++) {
		r = src_u64(s, &b->cpus[cpu].offset, "CPU data offset", eb);
		if (r == 0)
			r = src_u64(s, &b->cpus[cpu].size, "CPU data size", eb);
	}
	if (r == 0 && d->has_traceclock) {
		const char *text;
		uint64_t len;

		r = src_u64(s, &len, "clock size", eb);
		if (r == 0 && len > DAT_MAX_CLOCK_TEXT)
			r = src_bad(s, s->pos - 8, eb, "clock of %llu bytes",
				    (unsigned long long)len);
		if (r == 0)
			r = src_bytes(s, len, true, &text, "clock", eb);
		if (r == 0) {
			char *clock = clock_name(text, (size_t)len);

			if (!clock || dat_own(d, clock) < 0)
				r = dat_errf(d, eb, ENOMEM, "out of memory");
			b->clock = clock;
		}
	}
	if (r == 0 && !b->clock)
		b->clock = "";
	if (r == 0)
		r = buffer_check(d, b, 0, d->file_size, eb);
	return r;
}

/* put the top buffer ("") first */
static void buffers_top_first(struct vt_dat *d)
{
	size_t i;

	for (i = 1; i < d->nbuffers; i++) {
		if (d->buffers[i].name[0] == '\0') {
			struct dat_buffer top = d->buffers[i];

			memmove(&d->buffers[1], &d->buffers[0], i * sizeof(top));
			d->buffers[0] = top;
			return;
		}
	}
}

/* ---- the two layouts ---- */

static int open_v6(struct vt_dat *d, struct src *s, struct vt_errbuf *eb)
{
	struct dat_buffer *top;
	size_t nopt_buffers, i;
	uint64_t next;
	char magic[10];
	int r;

	r = parse_header_info(d, s, eb);
	if (r == 0)
		r = parse_format_list(d, s, "ftrace", eb);
	if (r == 0)
		r = parse_event_formats(d, s, eb);
	if (r == 0)
		r = parse_text(s, false, &d->meta.kallsyms, "kallsyms", eb);
	if (r == 0)
		r = parse_text(s, false, &d->meta.printk, "printk formats", eb);
	if (r == 0)
		r = parse_text(s, true, &d->meta.cmdlines, "saved cmdlines", eb);
	if (r == 0)
		r = src_u32(s, &d->v6_cpus, "CPU count", eb);
	if (r < 0)
		return r;
	if (d->v6_cpus > DAT_MAX_CPUS)
		return src_bad(s, s->pos - 4, eb, "CPU count %u too large", d->v6_cpus);
	r = src_read(s, magic, sizeof(magic), "\"options\" or \"flyrecord\"", eb);
	if (r < 0)
		return r;
	if (memcmp(magic, "options  ", 10) == 0) {
		r = parse_options(d, s, &next, eb);
		if (r == 0)
			r = src_read(s, magic, sizeof(magic), "\"flyrecord\"", eb);
		if (r < 0)
			return r;
	}
	if (memcmp(magic, "latency  ", 10) == 0)
		return dat_errf(d, eb, EOPNOTSUPP, "latency traces are not supported");
	if (memcmp(magic, "flyrecord", 10) != 0)
		return src_bad(s, s->pos - 10, eb, "\"flyrecord\" expected");
	s->pos -= 10;

	/* the top buffer goes first; BUFFER options made the others already */
	nopt_buffers = d->nbuffers;
	r = add_buffer(d, &top, eb);
	if (r < 0)
		return r;
	top->name = "";
	top->page_size = d->page_size;
	r = flyrecord_v6(d, s, top, eb);
	if (r < 0)
		return r;
	for (i = 0; i < nopt_buffers; i++) {
		struct src bs = src_file(d, d->buffers[i].sec_offset);

		r = flyrecord_v6(d, &bs, &d->buffers[i], eb);
		if (r < 0)
			return r;
	}
	buffers_top_first(d);
	return 0;
}

static int open_v7(struct vt_dat *d, struct src *s, struct vt_errbuf *eb)
{
	char *comp, *comp_version;
	uint64_t off;
	unsigned i;
	int r;

	r = src_str(s, &comp, "compression name", eb);
	if (r == 0)
		r = src_str(s, &comp_version, "compression version", eb);
	if (r == 0)
		r = src_u64(s, &off, "first options offset", eb);
	if (r < 0)
		return r;
	if (strcmp(comp, "zstd") == 0)
		d->zstd = true;
	else if (strcmp(comp, "none") != 0 && comp[0] != '\0')
		return dat_errf(d, eb, EOPNOTSUPP, "compression \"%s\" is not supported", comp);

	for (i = 0; off; i++) {
		struct src os;

		if (i == DAT_MAX_OPT_SECTIONS)
			return dat_errf(d, eb, EBADMSG, "more than %d options sections (a loop?)",
					DAT_MAX_OPT_SECTIONS);
		uint64_t here = off;

		r = sec_load(d, off, VT_OPT_DONE, &os, eb);
		if (r == 0)
			r = parse_options(d, &os, &off, eb);
		if (r < 0)
			return r;
		/* trace-cmd appends options sections: each next one lies after this one,
		 * which also bounds what a hostile chain can make us load */
		if (off && off < os.sec_end)
			return dat_errf(d, eb, EBADMSG,
					"offset %llu: options section: next options at %llu inside or before it",
					(unsigned long long)here, (unsigned long long)off);
	}

	for (i = VT_OPT_HEADER_INFO; i <= VT_OPT_CMDLINES; i++) {
		struct src ms;

		if (!d->meta_seen[i])
			continue;
		r = sec_load(d, d->meta_off[i], (uint16_t)i, &ms, eb);
		if (r < 0)
			return r;
		switch (i) {
		case VT_OPT_HEADER_INFO:
			r = parse_header_info(d, &ms, eb);
			break;
		case VT_OPT_FTRACE_EVENTS:
			r = parse_format_list(d, &ms, "ftrace", eb);
			break;
		case VT_OPT_EVENT_FORMATS:
			r = parse_event_formats(d, &ms, eb);
			break;
		case VT_OPT_KALLSYMS:
			r = parse_text(&ms, false, &d->meta.kallsyms, "kallsyms", eb);
			break;
		case VT_OPT_PRINTK:
			r = parse_text(&ms, false, &d->meta.printk, "printk formats", eb);
			break;
		case VT_OPT_CMDLINES:
			r = parse_text(&ms, true, &d->meta.cmdlines, "saved cmdlines", eb);
			break;
		}
		if (r < 0)
			return r;
	}
	/* FTRACE_EVENTS (17) was parsed before EVENT_FORMATS (18): ftrace formats first */
	r = buffers_v7(d, eb);
	if (r < 0)
		return r;
	buffers_top_first(d);
	return 0;
}

/*
 * saved_cmdlines, "pid comm" lines, registered one by one: a malformed line is skipped
 * (the whole text is untrusted; libtraceevent's own parser stops at the first bad line).
 */
static int tep_add_cmdlines(struct vt_dat *d, const char *text, size_t len)
{
	const char *p = text, *end;

	if (!text)	/* a file without the section */
		return 0;
	end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		char line[256], *comm;

		if ((size_t)(eol - p) < sizeof(line)) {
			long pid;

			memcpy(line, p, (size_t)(eol - p));
			line[eol - p] = '\0';
			errno = 0;
			pid = strtol(line, &comm, 10);
			if (!errno && comm != line && *comm == ' ' && comm[1] && pid >= 0 &&
			    pid <= INT32_MAX && tep_register_comm(d->tep, comm + 1, (int)pid) < 0)
				return vtc_err(ENOMEM);
		}
		p = eol + 1;
	}
	return 0;
}

/*
 * printk_formats, "0xaddr : \"fmt\"" lines. libtraceevent 1.7.1's parser and
 * tep_register_print_string() read before the string when a format is shorter than
 * 3 bytes, so the format is stripped here and handed over as "fmt\n" (which it strips
 * back to fmt).
 */
static int tep_add_printk(struct vt_dat *d, const char *text, size_t len)
{
	const char *p = text, *end;

	if (!text)	/* a file without the section */
		return 0;
	end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		char *fmt, *addr_end;
		const char *f, *fe;
		unsigned long long addr;
		int r;

		if (!colon)
			goto next;
		errno = 0;
		addr = strtoull(p, &addr_end, 16);
		if (errno || addr_end == p || (*addr_end != ' ' && *addr_end != ':'))
			goto next;
		f = colon + 1;
		if (f < eol && *f == ' ')
			f++;
		fe = eol;
		if (f < fe && *f == '"')
			f++;
		if (fe > f && fe[-1] == '"')
			fe--;
		if (fe - f >= 2 && fe[-2] == '\\' && fe[-1] == 'n')
			fe -= 2;
		if (asprintf(&fmt, "\"%.*s\\n\"", (int)(fe - f), f) < 0)
			return vtc_err(ENOMEM);
		r = tep_register_print_string(d->tep, fmt, addr);
		free(fmt);
		if (r < 0)
			return vtc_err(ENOMEM);
next:
		p = eol + 1;
	}
	return 0;
}

static int build_tep(struct vt_dat *d, struct vt_errbuf *eb)
{
	size_t i, n;
	int hps;

	d->tep = tep_alloc();
	if (!d->tep)
		return dat_errf(d, eb, ENOMEM, "tep_alloc: out of memory");
	tep_set_file_bigendian(d->tep, TEP_LITTLE_ENDIAN);
#if __BYTE_ORDER == __LITTLE_ENDIAN
	tep_set_local_bigendian(d->tep, TEP_LITTLE_ENDIAN);
#else
	tep_set_local_bigendian(d->tep, TEP_BIG_ENDIAN);
#endif
	tep_set_long_size(d->tep, (int)d->long_size);
	tep_set_page_size(d->tep, (int)d->page_size);
	if (d->have_meta) {
		if (tep_parse_header_page(d->tep, (char *)d->meta.header_page.data,
					  d->meta.header_page.len, (int)d->long_size) < 0)
			return dat_errf(d, eb, EBADMSG, "header_page: cannot be parsed");
		hps = tep_get_header_page_size(d->tep);
		if (hps == 4 || hps == 8)
			d->kernel_long = (unsigned)hps;
	}
	/*
	 * Formats the library cannot parse are skipped, as trace-cmd does. What is written
	 * from this file (vt_dat_meta) is what was parsed: a refused format is dropped and
	 * a print format left out is left out there too, so that trace-cmd and KernelShark,
	 * whose libtraceevent would crash on it as ours did, never read it.
	 */
	for (i = 0, n = 0; i < d->nformats; i++) {
		struct vt_dat_format *f = &d->formats[i];

		if (vtc_format_parse(d->tep, f->text.data, f->text.len, f->system,
				     &f->text.len) == -EBADMSG)
			continue;
		d->formats[n++] = *f;
	}
	d->nformats = n;
	if (tep_add_cmdlines(d, d->meta.cmdlines.data, d->meta.cmdlines.len) < 0)
		return dat_errf(d, eb, ENOMEM, "saved cmdlines: out of memory");
	if (d->meta.kallsyms.len && tep_parse_kallsyms(d->tep, d->meta.kallsyms.data) < 0)
		return dat_errf(d, eb, EBADMSG, "kallsyms: cannot be parsed");
	if (tep_add_printk(d, d->meta.printk.data, d->meta.printk.len) < 0)
		return dat_errf(d, eb, ENOMEM, "printk formats: out of memory");
	return 0;
}

static int open_header(struct vt_dat *d, struct src *s, struct vt_errbuf *eb)
{
	char magic[DAT_MAGIC_LEN], *version;
	uint64_t v;
	uint8_t endian = 0, long_size = 0;
	uint32_t page_size = 0;
	int r;

	if (d->file_size < DAT_MAGIC_LEN)
		return dat_errf(d, eb, EBADMSG, "%llu bytes: too short for a trace.dat header",
				(unsigned long long)d->file_size);
	r = src_read(s, magic, sizeof(magic), "magic", eb);
	if (r < 0)
		return r;
	if (memcmp(magic, DAT_MAGIC, DAT_MAGIC_LEN) != 0)
		return dat_errf(d, eb, EBADMSG, "offset 0: bad magic (not a trace.dat file)");
	r = src_str(s, &version, "version", eb);
	if (r < 0)
		return r;
	if (vtc_parse_u64(version, &v) < 0)
		return dat_errf(d, eb, EBADMSG, "offset 10: bad version \"%.16s\"", version);
	if (v != 6 && v != 7)
		return dat_errf(d, eb, EOPNOTSUPP, "file version %llu is not supported (6 or 7)",
				(unsigned long long)v);
	d->version = (int)v;
	r = src_u8(s, &endian, "endianness", eb);
	if (r == 0)
		r = src_u8(s, &long_size, "long size", eb);
	if (r == 0)
		r = src_u32(s, &page_size, "page size", eb);
	if (r < 0)
		return r;
	if (endian != 0)
		return dat_errf(d, eb, EOPNOTSUPP, "big-endian files are not supported");
	if (long_size != 4 && long_size != 8)
		return src_bad(s, s->pos - 5, eb, "long size %u is neither 4 nor 8", long_size);
	if (page_size < 64 || page_size > DAT_MAX_PAGE || (page_size & (page_size - 1)))
		return src_bad(s, s->pos - 4, eb, "bad page size %u", page_size);
	d->long_size = long_size;
	d->kernel_long = long_size;
	d->page_size = page_size;
	return 0;
}

void vt_dat_close(struct vt_dat *dat)
{
	size_t i;

	if (!dat)
		return;
	if (dat->tep)
		tep_free(dat->tep);
	for (i = 0; i < dat->nowned; i++)
		free(dat->owned[i]);
	free(dat->owned);
	free(dat->formats);
	free(dat->guests);
	free(dat->buffers);
	if (dat->fd >= 0)
		close(dat->fd);
	free(dat->path);
	free(dat);
}

int vt_dat_open(const char *path, struct vt_dat **ret, struct vt_errbuf *eb)
{
	struct vt_dat *d;
	struct src s;
	struct stat st;
	int r;

	*ret = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return vtc_errf(eb, ENOMEM, "%s: out of memory", path);
	d->fd = -1;
	d->path = strdup(path);
	if (!d->path) {
		vt_dat_close(d);
		return vtc_errf(eb, ENOMEM, "%s: out of memory", path);
	}
	d->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (d->fd < 0 || fstat(d->fd, &st) < 0) {
		r = vtc_errf(eb, errno, "%s: %s", path, strerror(errno));
		vt_dat_close(d);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		vt_dat_close(d);
		return vtc_errf(eb, EINVAL, "%s: not a regular file", path);
	}
	d->file_size = (uint64_t)st.st_size;
	s = src_file(d, 0);
	r = open_header(d, &s, eb);
	if (r == 0)
		r = d->version == 6 ? open_v6(d, &s, eb) : open_v7(d, &s, eb);
	if (r == 0)
		r = build_tep(d, eb);
	if (r < 0) {
		vt_dat_close(d);
		return r;
	}
	d->meta.page_size = d->page_size;
	d->meta.long_size = d->long_size;
	d->meta.formats = d->formats;
	d->meta.nformats = d->nformats;
	*ret = d;
	return 0;
}

/* ---- accessors ---- */

int vt_dat_version(const struct vt_dat *dat)
{
	return dat->version;
}

const struct vt_dat_meta *vt_dat_meta(const struct vt_dat *dat)
{
	return dat->have_meta ? &dat->meta : NULL;
}

unsigned vt_dat_kernel_long(const struct vt_dat *dat)
{
	return dat->kernel_long;
}

struct tep_handle *vt_dat_tep(const struct vt_dat *dat)
{
	return dat->tep;
}

uint64_t vt_dat_trace_id(const struct vt_dat *dat)
{
	return dat->trace_id;
}

bool vt_dat_tsc2nsec(const struct vt_dat *dat, struct vt_tsc2nsec *ret)
{
	if (dat->has_tsc2nsec && ret)
		*ret = dat->tsc2nsec;
	return dat->has_tsc2nsec;
}

size_t vt_dat_nguests(const struct vt_dat *dat)
{
	return dat->nguests;
}

const struct vt_dat_guest *vt_dat_guest(const struct vt_dat *dat, size_t i)
{
	return i < dat->nguests ? &dat->guests[i] : NULL;
}

bool vt_dat_has_time_shift(const struct vt_dat *dat)
{
	return dat->has_time_shift;
}

size_t vt_dat_nbuffers(const struct vt_dat *dat)
{
	return dat->nbuffers;
}

const char *vt_dat_buffer_name(const struct vt_dat *dat, size_t buf)
{
	return buf < dat->nbuffers ? dat->buffers[buf].name : NULL;
}

const char *vt_dat_buffer_clock(const struct vt_dat *dat, size_t buf)
{
	return buf < dat->nbuffers ? dat->buffers[buf].clock : NULL;
}

unsigned vt_dat_buffer_ncpus(const struct vt_dat *dat, size_t buf)
{
	return buf < dat->nbuffers ? dat->buffers[buf].ncpus : 0;
}

uint64_t vt_dat_cpu_size(const struct vt_dat *dat, size_t buf, unsigned cpu)
{
	if (buf >= dat->nbuffers || cpu >= dat->buffers[buf].ncpus)
		return 0;
	return dat->buffers[buf].cpus[cpu].usize;
}

int vt_dat_cpu_range(const struct vt_dat *dat, size_t buf, unsigned cpu, int *ret_fd,
		     uint64_t *ret_off, uint64_t *ret_len)
{
	const struct dat_buffer *b;

	if (buf >= dat->nbuffers || cpu >= dat->buffers[buf].ncpus)
		return vtc_err(EINVAL);
	b = &dat->buffers[buf];
	if (b->compressed)
		return vtc_err(EOPNOTSUPP);
	*ret_fd = dat->fd;
	*ret_off = b->cpus[cpu].offset;
	*ret_len = b->cpus[cpu].usize;
	return 0;
}

/* ---- per-CPU streams ---- */

static int cpu_errf(const struct vt_dat_cpu *c, struct vt_errbuf *eb, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cpu_errf(const struct vt_dat_cpu *c, struct vt_errbuf *eb, const char *fmt, ...)
{
	char msg[VT_ERRBUF_LEN], lbl[DAT_MAX_STRING + 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return vtc_errf(eb, EBADMSG, "%s: %sCPU %u %s", c->dat->path,
			buf_label(c->b, lbl, sizeof(lbl)), c->cpu, msg);
}

void vt_dat_cpu_close(struct vt_dat_cpu *c)
{
	if (!c)
		return;
	ZSTD_freeDCtx(c->zd);
	if (c->map)
		munmap(c->map, c->map_len);
	else
		free(c->buf);
	free(c->cbuf);
	free(c);
}

/*
 * Map the pages of an uncompressed stream: no copy per page, the kernel reads ahead.
 * Sizes were checked against the file at open; 0 when mapping is not possible (the
 * caller falls back to pread windows).
 */
static int cpu_map(struct vt_dat_cpu *c)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t start = c->cd->offset, usize = c->cd->usize, aligned;
	void *map;

	if (pg <= 0 || !usize || start + usize > c->dat->file_size)
		return 0;
	aligned = start - start % (uint64_t)pg;
	map = mmap(NULL, (size_t)(usize + (start - aligned)), PROT_READ, MAP_PRIVATE, c->dat->fd,
		   (off_t)aligned);
	if (map == MAP_FAILED)
		return 0;
	(void)madvise(map, (size_t)(usize + (start - aligned)), MADV_SEQUENTIAL);
	c->map = map;
	c->map_len = (size_t)(usize + (start - aligned));
	c->buf = (uint8_t *)map + (start - aligned);
	c->buf_cap = c->buf_len = (size_t)usize;
	c->buf_pos = 0;
	c->pos = c->end;
	return 1;
}

int vt_dat_cpu_open(struct vt_dat *dat, size_t buf, unsigned cpu, struct vt_dat_cpu **ret,
		    struct vt_errbuf *eb)
{
	const struct dat_buffer *b;
	struct vt_dat_cpu *c;

	*ret = NULL;
	if (buf >= dat->nbuffers)
		return dat_errf(dat, eb, EINVAL, "no buffer %zu (%zu buffers)", buf, dat->nbuffers);
	b = &dat->buffers[buf];
	if (cpu >= b->ncpus)
		return dat_errf(dat, eb, EINVAL, "buffer \"%s\": no CPU %u (%u CPUs)", b->name,
				cpu, b->ncpus);
	c = calloc(1, sizeof(*c));
	if (!c)
		return dat_errf(dat, eb, ENOMEM, "out of memory");
	c->dat = dat;
	c->b = b;
	c->cd = &b->cpus[cpu];
	c->cpu = cpu;
	c->page_size = b->page_size;
	c->pos = c->cd->offset;
	if (b->compressed) {
		c->end = c->cd->limit;
		c->chunks_left = c->cd->nchunks;
		c->pos += c->cd->size ? 4 : 0;
		c->buf_cap = c->cd->max_usize;
		c->cbuf_cap = c->cd->max_csize;
		if (c->chunks_left) {
			c->zd = ZSTD_createDCtx();
			c->cbuf = malloc(c->cbuf_cap ? c->cbuf_cap : 1);
		}
	} else {
		c->end = c->cd->offset + c->cd->usize;
		c->buf_cap = (size_t)c->page_size * DAT_WINDOW_PAGES;
		if (c->buf_cap > c->cd->usize)
			c->buf_cap = (size_t)c->cd->usize;
		if (cpu_map(c)) {
			*ret = c;
			return 0;
		}
	}
	c->buf = malloc(c->buf_cap ? c->buf_cap : 1);
	if (!c->buf || (c->chunks_left && (!c->zd || !c->cbuf))) {
		vt_dat_cpu_close(c);
		return dat_errf(dat, eb, ENOMEM, "out of memory");
	}
	*ret = c;
	return 0;
}

static int cpu_read_chunk(struct vt_dat_cpu *c, struct vt_errbuf *eb)
{
	uint32_t csize = 0, usize = 0;
	uint8_t h[8];
	size_t n;
	int r;

	if (c->end - c->pos < sizeof(h))
		return cpu_errf(c, eb, "chunk %u: header past the section", c->chunk_index);
	r = vtc_pread_all(c->dat->fd, h, sizeof(h), (off_t)c->pos);
	if (r == 0) {
		vtc_get_le32(h, sizeof(h), 0, &csize);
		vtc_get_le32(h, sizeof(h), 4, &usize);
		if (csize > c->cbuf_cap || usize > c->buf_cap || usize % c->page_size ||
		    csize > c->end - c->pos - 8)
			return cpu_errf(c, eb, "chunk %u: sizes changed since open",
					c->chunk_index);
		r = vtc_pread_all(c->dat->fd, c->cbuf, csize, (off_t)(c->pos + sizeof(h)));
	}
	if (r < 0)
		return vtc_errf(eb, r, "%s: CPU %u chunk %u: read: %s", c->dat->path, c->cpu,
				c->chunk_index, strerror(-r));
	n = ZSTD_decompressDCtx(c->zd, c->buf, c->buf_cap, c->cbuf, csize);
	if (ZSTD_isError(n))
		return cpu_errf(c, eb, "chunk %u (page %llu): corrupt zstd data: %s",
				c->chunk_index, (unsigned long long)c->npages,
				ZSTD_getErrorName(n));
	if (n != usize)
		return cpu_errf(c, eb, "chunk %u (page %llu): %zu bytes decompressed, %u expected",
				c->chunk_index, (unsigned long long)c->npages, n, usize);
	c->pos += sizeof(h) + csize;
	c->chunks_left--;
	c->chunk_index++;
	c->buf_len = n;
	c->buf_pos = 0;
	return 0;
}

static int cpu_refill(struct vt_dat_cpu *c, struct vt_errbuf *eb)
{
	size_t n;
	int r;

	if (c->b->compressed) {
		if (!c->chunks_left)
			return 0;
		r = cpu_read_chunk(c, eb);
		return r < 0 ? r : 1;
	}
	if (c->pos >= c->end)
		return 0;
	n = c->buf_cap;
	if (n > c->end - c->pos)
		n = (size_t)(c->end - c->pos);
	r = vtc_pread_all(c->dat->fd, c->buf, n, (off_t)c->pos);
	if (r == -EBADMSG)
		return cpu_errf(c, eb, "page %llu: data cut off (file shrank?)",
				(unsigned long long)c->npages);
	if (r < 0)
		return vtc_errf(eb, r, "%s: CPU %u page %llu: read: %s", c->dat->path, c->cpu,
				(unsigned long long)c->npages, strerror(-r));
	c->pos += n;
	c->buf_len = n;
	c->buf_pos = 0;
	return 1;
}

/*
 * Give the mapped pages behind the cursor back to the page cache, so that the resident
 * size stays flat however long the stream is (the previous page may still be in use).
 */
static void cpu_drop_behind(struct vt_dat_cpu *c, const uint8_t *page)
{
	size_t done = (size_t)(page - (const uint8_t *)c->map);

	if (done < c->map_dropped + DAT_DROP_BYTES + c->page_size)
		return;
	done -= c->page_size;
	done -= done % DAT_DROP_BYTES;
	(void)madvise((uint8_t *)c->map + c->map_dropped, done - c->map_dropped, MADV_DONTNEED);
	c->map_dropped = done;
}

int vt_dat_cpu_next_page(struct vt_dat_cpu *c, const void **ret, struct vt_errbuf *eb)
{
	size_t hdr = 8 + (size_t)c->dat->kernel_long;

	c->have_page = false;
	for (;;) {
		const uint8_t *page;
		uint64_t commit = 0;
		uint32_t c32 = 0;

		while (c->buf_len - c->buf_pos < c->page_size) {
			int r;

			c->buf_len = c->buf_pos = 0;
			r = cpu_refill(c, eb);
			if (r <= 0)
				return r;
		}
		page = c->buf + c->buf_pos;
		if (c->map)
			cpu_drop_behind(c, page);
		c->buf_pos += c->page_size;
		c->npages++;
		if (c->dat->kernel_long == 8) {
			vtc_get_le64(page, c->page_size, 8, &commit);
		} else {
			vtc_get_le32(page, c->page_size, 8, &c32);
			commit = c32;
		}
		if ((commit & DAT_COMMIT_MASK) > c->page_size - hdr)
			return cpu_errf(c, eb, "page %llu: commit %llu > %zu",
					(unsigned long long)(c->npages - 1),
					(unsigned long long)(commit & DAT_COMMIT_MASK),
					c->page_size - hdr);
		if ((commit & DAT_COMMIT_MASK) == 0)
			continue;	/* an empty page (padding at the end): skipped */
		*ret = page;
		return 1;
	}
}

int vt_dat_cpu_page_offset(const struct vt_dat_cpu *c, int *ret_fd, uint64_t *ret_off)
{
	if (!c->map)
		return vtc_err(EOPNOTSUPP);
	if (!c->npages || c->buf_pos < c->page_size)
		return vtc_err(ENOENT);
	*ret_fd = c->dat->fd;
	*ret_off = c->cd->offset + c->buf_pos - c->page_size;
	return 0;
}

int vt_dat_cpu_next_event(struct vt_dat_cpu *c, struct vt_event *ret, struct vt_errbuf *eb)
{
	for (;;) {
		struct vt_errbuf peb;
		const void *page;
		int r;

		if (c->have_page) {
			r = vt_page_next(&c->it, ret, &peb);
			if (r > 0)
				return 1;
			if (r < 0)
				return cpu_errf(c, eb, "page %llu: %s",
						(unsigned long long)(c->npages - 1), peb.msg);
		}
		r = vt_dat_cpu_next_page(c, &page, eb);
		if (r <= 0)
			return r;
		r = vt_page_load(&c->it, page, c->page_size, c->dat->kernel_long, &peb);
		if (r < 0)
			return cpu_errf(c, eb, "page %llu: %s", (unsigned long long)(c->npages - 1),
					peb.msg);
		c->have_page = true;
		c->missed = c->it.missed_events;
	}
}

bool vt_dat_cpu_page_missed(const struct vt_dat_cpu *c)
{
	return c->have_page && c->missed;
}

uint64_t vt_dat_cpu_page_missed_count(const struct vt_dat_cpu *c)
{
	return c->have_page && c->missed ? c->it.missed : 0;
}

uint64_t vt_dat_cpu_page_index(const struct vt_dat_cpu *c)
{
	return c->npages ? c->npages - 1 : 0;
}
