// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz-seed: writes the binary seeds of the fuzz corpus from real files at test time
 * (nothing binary is committed): pages and chunks from trace.dat files made by vt-gen
 * and trace-cmd, format seeds from tracefs format files, guest seeds from the agent's
 * own info output, qemu-ga reply series around them.
 */
#include <errno.h>
#include <event-parse.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qga.h"
#include "util.h"
#include "vt-formats.h"
#include "vt/chunk.h"
#include "vt/dat.h"
#include "vt/page.h"

#define SEED_PAGES 3

static int fail(const char *what, int r)
{
	fprintf(stderr, "fuzz-seed: %s: %s\n", what, strerror(r < 0 ? -r : r));
	return 1;
}

static int write_file(const char *path, const void *a, size_t alen, const void *b, size_t blen)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return fail(path, errno);
	ok = fwrite(a, 1, alen, f) == alen && (!blen || fwrite(b, 1, blen, f) == blen);
	if (fclose(f) != 0 || !ok)
		return fail(path, EIO);
	return 0;
}

static int read_all(const char *path, char **ret, size_t *len)
{
	int r = vtc_read_file(path, ret, len);

	return r < 0 ? fail(path, r) : 0;
}

/* pages DAT DIR: the first non-empty pages of every CPU of every buffer */
static int cmd_pages(const char *dat_path, const char *dir)
{
	struct vt_dat *dat;
	struct vt_errbuf eb;
	char path[4096];
	const char *base = strrchr(dat_path, '/') ? strrchr(dat_path, '/') + 1 : dat_path;
	int r = vt_dat_open(dat_path, &dat, &eb);

	if (r < 0)
		return fprintf(stderr, "fuzz-seed: %s\n", eb.msg), 1;
	for (size_t b = 0; b < vt_dat_nbuffers(dat); b++) {
		for (unsigned cpu = 0; cpu < vt_dat_buffer_ncpus(dat, b); cpu++) {
			struct vt_dat_cpu *c;
			const void *page;

			if (vt_dat_cpu_open(dat, b, cpu, &c, &eb) < 0)
				continue;
			for (unsigned i = 0; i < SEED_PAGES && vt_dat_cpu_next_page(c, &page, &eb) > 0;
			     i++) {
				snprintf(path, sizeof(path), "%s/%s-b%zu-cpu%u-%u", dir, base, b, cpu, i);
				if (write_file(path, page, vt_dat_meta(dat)->page_size, NULL, 0)) {
					vt_dat_cpu_close(c);
					vt_dat_close(dat);
					return 1;
				}
			}
			vt_dat_cpu_close(c);
		}
	}
	vt_dat_close(dat);
	return 0;
}

/* the top buffer's first pages as the agent would cut them into a chunk */
static int make_chunk(const char *dat_path, uint8_t **ret, size_t *ret_len)
{
	static struct vt_chunk ch;
	struct vt_dat *dat;
	struct vt_errbuf eb;
	uint8_t *out, *pages[8] = { NULL };
	size_t hlen, total;
	unsigned ncpus;
	int r = vt_dat_open(dat_path, &dat, &eb);

	if (r < 0)
		return fprintf(stderr, "fuzz-seed: %s\n", eb.msg), 1;
	ncpus = vt_dat_buffer_ncpus(dat, 0);
	if (ncpus > 8)
		ncpus = 8;
	memset(&ch, 0, sizeof(ch));
	ch.seq = 1;
	ch.guest_tsc = 123456789;
	snprintf(ch.boot_id, sizeof(ch.boot_id), "3f1c6a2e-5b7d-4e9a-8c10-fuzzseed0001");
	ch.page_size = vt_dat_meta(dat)->page_size;
	ch.ncpus = ncpus;
	total = 80 + 24 * (size_t)ncpus;
	for (unsigned cpu = 0; cpu < ncpus; cpu++) {
		struct vt_dat_cpu *c;
		const void *page;

		ch.cpus[cpu].cpu = cpu;
		pages[cpu] = malloc((size_t)SEED_PAGES * ch.page_size);
		if (!pages[cpu] || vt_dat_cpu_open(dat, 0, cpu, &c, &eb) < 0)
			continue;
		while (ch.cpus[cpu].npages < SEED_PAGES && vt_dat_cpu_next_page(c, &page, &eb) > 0)
			memcpy(pages[cpu] + (size_t)ch.cpus[cpu].npages++ * ch.page_size, page,
			       ch.page_size);
		vt_dat_cpu_close(c);
		total += (size_t)ch.cpus[cpu].npages * ch.page_size;
	}
	out = malloc(total);
	if (!out || vt_chunk_header(&ch, out, total, &hlen) < 0)
		return fail("chunk", ENOMEM);
	for (unsigned cpu = 0, off = (unsigned)hlen; cpu < ncpus; cpu++) {
		memcpy(out + off, pages[cpu], (size_t)ch.cpus[cpu].npages * ch.page_size);
		off += ch.cpus[cpu].npages * ch.page_size;
		free(pages[cpu]);
	}
	vt_dat_close(dat);
	*ret = out;
	*ret_len = total;
	return 0;
}

static int cmd_chunk(const char *dat_path, const char *out_path)
{
	uint8_t *chunk;
	size_t len;
	int r = make_chunk(dat_path, &chunk, &len);

	if (!r)
		r = write_file(out_path, chunk, len, NULL, 0);
	if (!r)
		free(chunk);
	return r;
}

/* bytes of a record of @event: past its last field (at least one word) */
static size_t record_size(struct tep_event *event)
{
	struct tep_format_field **fields = tep_event_fields(event);
	struct tep_format_field **common = tep_event_common_fields(event);
	size_t size = 4;

	for (size_t i = 0; fields && fields[i]; i++)
		if ((size_t)fields[i]->offset + (size_t)fields[i]->size > size)
			size = (size_t)fields[i]->offset + (size_t)fields[i]->size;
	for (size_t i = 0; common && common[i]; i++)
		if ((size_t)common[i]->offset + (size_t)common[i]->size > size)
			size = (size_t)common[i]->offset + (size_t)common[i]->size;
	free(fields);
	free(common);
	return size;
}

/* a record of @event: its id, pid 1, the other bytes from a counter */
static void fill_record(struct tep_event *event, uint8_t *rec, size_t size, unsigned seed)
{
	for (size_t i = 0; i < size; i++)
		rec[i] = (uint8_t)(seed * 31 + i * 7);
	vtc_put_le16(rec, (uint16_t)event->id);
	if (size >= 8)
		vtc_put_le32(rec + 4, 1);
}

/* format FILE OUT: the format text, a NUL, one record of the event */
static int cmd_format(const char *fmt_path, const char *out_path)
{
	struct tep_handle *tep = tep_alloc();
	char *text;
	size_t len, size = 64;
	uint8_t rec[65536];
	int r;

	if (!tep || read_all(fmt_path, &text, &len))
		return 1;
	tep_set_long_size(tep, 8);
	if (tep_parse_event(tep, text, len, "seed") == 0 && tep_get_events_count(tep) > 0) {
		size = record_size(tep_get_event(tep, 0));
		if (size > sizeof(rec))
			size = sizeof(rec);
		fill_record(tep_get_event(tep, 0), rec, size, 1);
	} else {
		memset(rec, 0, size);
	}
	text = realloc(text, len + 1);
	text[len] = '\0';
	r = write_file(out_path, text, len + 1, rec, size);
	free(text);
	tep_free(tep);
	return r;
}

/* formats DIR: the fixture formats of tests/helpers (when tracefs cannot be read) */
static int cmd_formats(const char *dir)
{
	char path[4096];

	for (size_t i = 0; i < VT_FMT_COUNT; i++) {
		uint8_t rec[64] = { 0 };

		vtc_put_le16(rec, 1);
		snprintf(path, sizeof(path), "%s/fixture-%zu", dir, i);
		if (write_file(path, vt_formats[i].text.data, vt_formats[i].text.len + 1, rec,
			       sizeof(rec)))
			return 1;
	}
	return 0;
}

/* guest INFO OUT: the info JSON, a NUL, pages with a record of each of its events */
static int cmd_guest(const char *info_path, const char *out_path)
{
	struct json_object *info, *fm, *ft = NULL, *evs = NULL;
	struct tep_handle *tep = tep_alloc();
	struct vt_page_enc pe;
	uint8_t *pages = NULL, rec[4096];
	size_t npages = 0, len;
	char *text;
	uint64_t ts = 1000;
	int r;

	if (!tep || read_all(info_path, &text, &len))
		return 1;
	info = json_tokener_parse(text);
	if (!info || !json_object_object_get_ex(info, "formats", &fm))
		return fail("info: no formats", EBADMSG);
	tep_set_long_size(tep, 8);
	json_object_object_get_ex(fm, "ftrace", &ft);
	json_object_object_get_ex(fm, "events", &evs);
	for (size_t i = 0; evs && i < json_object_array_length(evs); i++) {
		struct json_object *e = json_object_array_get_idx(evs, i), *f = NULL, *s = NULL;

		if (json_object_object_get_ex(e, "format", &f) &&
		    json_object_object_get_ex(e, "system", &s))
			tep_parse_event(tep, json_object_get_string(f),
					(unsigned long)json_object_get_string_len(f),
					json_object_get_string(s));
	}
	if (vt_page_enc_init(&pe, 4096, 8) < 0)
		return fail("page encoder", ENOMEM);
	for (int i = 0; i < tep_get_events_count(tep) && i < 64; i++) {
		struct tep_event *event = tep_get_event(tep, i);
		size_t size = record_size(event);

		if (size > sizeof(rec))
			continue;
		fill_record(event, rec, size, (unsigned)i);
		r = vt_page_enc_add(&pe, ts, rec, (uint32_t)size);
		if (r == -ENOSPC) {
			pages = realloc(pages, (npages + 1) * 4096);
			memcpy(pages + npages++ * 4096, vt_page_enc_finish(&pe), 4096);
			r = vt_page_enc_add(&pe, ts, rec, (uint32_t)size);
		}
		ts += 1000;
	}
	{
		const void *last = vt_page_enc_finish(&pe);

		if (last) {
			pages = realloc(pages, (npages + 1) * 4096);
			memcpy(pages + npages++ * 4096, last, 4096);
		}
	}
	vt_page_enc_fini(&pe);
	text = realloc(text, len + 1);
	text[len] = '\0';
	r = write_file(out_path, text, len + 1, pages, npages * 4096);
	free(pages);
	free(text);
	json_object_put(info);
	tep_free(tep);
	return r;
}

/* one qemu-ga reply line: {"return": ...} */
static int put_reply(FILE *f, struct json_object *rv)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "return", rv);
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return 0;
}

static struct json_object *b64_string(const void *data, size_t len)
{
	char *b64 = NULL;
	struct json_object *s;

	if (coll_b64_encode(data, len, &b64) < 0)
		return NULL;
	s = json_object_new_string(b64);
	free(b64);
	return s;
}

/* the replies fuzz-qga asks for, in its call order, with @file as the guest file */
static int qga_series(const char *path, const char *stdout_json, const void *file, size_t len)
{
	FILE *f = fopen(path, "w");
	struct json_object *o;
	size_t off = 0;

	if (!f)
		return fail(path, errno);
	put_reply(f, json_object_new_object());				/* guest-ping */
	o = json_object_new_object();					/* guest-exec */
	json_object_object_add(o, "pid", json_object_new_int(4242));
	put_reply(f, o);
	o = json_object_new_object();					/* guest-exec-status */
	json_object_object_add(o, "exited", json_object_new_boolean(1));
	json_object_object_add(o, "exitcode", json_object_new_int(0));
	json_object_object_add(o, "out-data", b64_string(stdout_json, strlen(stdout_json)));
	put_reply(f, o);
	put_reply(f, json_object_new_int(1000));			/* guest-file-open */
	do {								/* guest-file-read */
		size_t n = len - off > COLL_FILE_CHUNK ? COLL_FILE_CHUNK : len - off;

		o = json_object_new_object();
		json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
		json_object_object_add(o, "buf-b64", b64_string((const uint8_t *)file + off, n));
		json_object_object_add(o, "eof", json_object_new_boolean(off + n == len));
		put_reply(f, o);
		off += n;
	} while (off < len);
	put_reply(f, json_object_new_object());				/* guest-file-close */
	if (fclose(f) != 0)
		return fail(path, EIO);
	return 0;
}

/* qga INFO DAT DIR: reply series that deliver the info file and a chunk */
static int cmd_qga(const char *info_path, const char *dat_path, const char *dir)
{
	char path[4096], *info;
	uint8_t *chunk;
	size_t ilen, clen;
	int r;

	if (read_all(info_path, &info, &ilen) || make_chunk(dat_path, &chunk, &clen))
		return 1;
	snprintf(path, sizeof(path), "%s/info", dir);
	r = qga_series(path, "{\"path\":\"/tmp/virt-trace-info.json\",\"bytes\":1}", info, ilen);
	snprintf(path, sizeof(path), "%s/chunk", dir);
	if (!r)
		r = qga_series(path, "{\"boot_id\":\"3f1c6a2e-5b7d-4e9a-8c10-fuzzseed0001\","
				     "\"path\":\"/tmp/chunk\",\"bytes\":1,\"more\":false}",
			       chunk, clen);
	free(info);
	free(chunk);
	return r;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "pages"))
		return cmd_pages(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "chunk"))
		return cmd_chunk(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "format"))
		return cmd_format(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "formats"))
		return cmd_formats(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "guest"))
		return cmd_guest(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "qga"))
		return cmd_qga(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: fuzz-seed pages DAT DIR | chunk DAT OUT | format FORMAT OUT |\n"
			"                 formats DIR | guest INFO OUT | qga INFO DAT DIR\n");
	return 2;
}
