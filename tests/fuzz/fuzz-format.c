// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the text of one event format file (guest formats arrive in the agent's
 * info, host ones from tracefs) parsed as vt_dat_open's build_tep does (vtc_format_parse
 * into a libtraceevent handle with the real header_page when tracefs is readable),
 * field positions resolved with vtc_evdesc_find and read with vtc_field_u64, and a
 * record printed as report does (vtc_print_event). Input: the format text, optionally a
 * NUL and the record payload (exactly that long: a read past it is an ASan report).
 */
#include <event-parse.h>
#include <string.h>

#include "evfield.h"
#include "fuzz.h"
#include "util.h"

#define MAX_PAYLOAD 65536

static char *header_page;
static size_t header_page_len;
static struct trace_seq seq;
static struct vtc_print_buf pb;

static void use_fields(struct tep_handle *tep, struct tep_event *event, const uint8_t *p,
		       size_t n)
{
	const char *names[5] = { NULL };
	struct tep_format_field **fields = tep_event_fields(event);
	struct vtc_evdesc d;
	struct vt_event ev = { .data = p, .size = (uint32_t)n };
	unsigned k = 0;

	for (size_t i = 0; fields && fields[i] && k < 3; i++)
		names[k++] = fields[i]->name;
	free(fields);
	names[k++] = "val";
	vtc_evdesc_find(tep, event->system, event->name, names, &d);
	FUZZ_CHECK(d.id == event->id);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t v;

		if (vtc_field_u64(&d, i, &ev, &v) == 0)
			FUZZ_CHECK(d.f[i].offset >= 0 && (size_t)d.f[i].offset + d.f[i].size <= n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t text_len = nul ? (size_t)(nul - data) : size;
	size_t n = nul ? size - text_len - 1 : 0;
	struct tep_handle *tep;
	struct tep_event *event;
	char *text;

	if (n > MAX_PAYLOAD)
		n = MAX_PAYLOAD;
	text = malloc(text_len + 1);
	FUZZ_CHECK(text);
	memcpy(text, data, text_len);
	text[text_len] = '\0';
	tep = tep_alloc();
	FUZZ_CHECK(tep);
	tep_set_file_bigendian(tep, TEP_LITTLE_ENDIAN);
	tep_set_local_bigendian(tep, TEP_LITTLE_ENDIAN);
	tep_set_long_size(tep, 8);
	tep_set_page_size(tep, 4096);
	if (header_page)
		tep_parse_header_page(tep, header_page, (unsigned long)header_page_len, 8);
	/* as build_tep: a format that cannot be parsed is skipped */
	vtc_format_parse(tep, text, text_len, "fuzz", NULL);
	event = tep_get_events_count(tep) > 0 ? tep_get_event(tep, 0) : NULL;
	/* a record is at least one 4-byte word (what the page walker hands out) */
	if (event && n >= 4) {
		uint8_t *payload = malloc(n);
		struct tep_record rec = { .ts = 1, .cpu = 0, .size = (int)n, .data = payload };

		FUZZ_CHECK(payload);
		memcpy(payload, nul + 1, n);
		vtc_put_le16(payload, (uint16_t)event->id);	/* the record is of this event */
		use_fields(tep, event, payload, n);
		trace_seq_reset(&seq);
		FUZZ_CHECK(vtc_print_event(tep, event, &rec, &pb, &seq) == 0);
		trace_seq_terminate(&seq);
		free(payload);
	}
	tep_free(tep);
	free(text);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *f = fopen("/sys/kernel/tracing/events/header_page", "r");

	(void)argc;
	(void)argv;
	trace_seq_init(&seq);
	if (f) {
		static char buf[8192];

		header_page_len = fread(buf, 1, sizeof(buf) - 1, f);
		buf[header_page_len] = '\0';
		if (header_page_len)
			header_page = buf;
		fclose(f);
	}
	return 0;
}
