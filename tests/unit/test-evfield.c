// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of core/src/evfield.c: field lookup and bounded reads, and printing records with
 * libtraceevent from a padded copy, so that a hostile format or record (fuzz-format
 * findings) cannot make it read past the record.
 */
#include <errno.h>
#include <event-parse.h>
#include <stdlib.h>
#include <string.h>

#include "evfield.h"
#include "util.h"
#include "vt-test.h"

#define COMMON                                                                                     \
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"                     \
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"                     \
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"             \
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"

/* ftrace:print, as the kernel shows it: buf[] is a string that runs to the record's end */
static const char fmt_print[] = "name: print\nID: 5\nformat:\n" COMMON
	"\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n"
	"\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;\n\n"
	"print fmt: \"%ps: %s\", (void *)REC->ip, REC->buf\n";

/* a dynamic string: u32 at offset 8 = (length << 16) | offset */
static const char fmt_dyn[] = "name: dyn\nID: 7\nformat:\n" COMMON
	"\tfield:__data_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:u32 val;\toffset:12;\tsize:4;\tsigned:0;\n\n"
	"print fmt: \"name=%s val=%u\", __get_str(name), REC->val\n";

/* fields far past any record */
static const char fmt_far[] = "name: far\nID: 9\nformat:\n" COMMON
	"\tfield:u64 x;\toffset:2000000;\tsize:8;\tsigned:0;\n\n"
	"print fmt: \"x=%llu\", REC->x\n";

static struct tep_handle *tep_with(const char *fmt, struct tep_event **ret)
{
	struct tep_handle *tep = tep_alloc();

	assert_non_null(tep);
	tep_set_long_size(tep, 8);
	tep_set_file_bigendian(tep, TEP_LITTLE_ENDIAN);
	tep_set_local_bigendian(tep, TEP_LITTLE_ENDIAN);
	assert_int_equal(tep_parse_event(tep, fmt, strlen(fmt), "test"), 0);
	*ret = tep_get_event(tep, 0);
	assert_non_null(*ret);
	return tep;
}

/* print the record at @data (@size bytes) and return the info text (static) */
static const char *print(struct tep_handle *tep, struct tep_event *event, const void *data,
			 size_t size)
{
	static char out[256];
	struct vtc_print_buf pb = { 0 };
	struct tep_record rec = { .size = (int)size, .data = (void *)data };
	struct trace_seq s;

	trace_seq_init(&s);
	assert_int_equal(vtc_print_event(tep, event, &rec, &pb, &s), 0);
	trace_seq_terminate(&s);
	snprintf(out, sizeof(out), "%s", s.buffer);
	trace_seq_destroy(&s);
	for (size_t i = 0; i < pb.cap; i++)	/* the buffer is left all zero */
		assert_int_equal(pb.buf[i], 0);
	vtc_print_buf_fini(&pb);
	return out;
}

static void record_head(uint8_t *rec, uint16_t id)
{
	memset(rec, 0, 8);
	vtc_put_le16(rec, id);
	vtc_put_le32(rec + 4, 42);
}

static void terminated_string_prints_as_libtraceevent_does(void **state)
{
	struct tep_event *event;
	struct tep_handle *tep = tep_with(fmt_print, &event);
	uint8_t rec[24];

	(void)state;
	record_head(rec, 5);
	vtc_put_le64(rec + 8, 0);
	memcpy(rec + 16, "hello\0\0", 8);
	assert_string_equal(print(tep, event, rec, sizeof(rec)), "0x0: hello");
	tep_free(tep);
}

/* fuzz-format: a string without NUL in the record was read on past the record's end */
static void unterminated_string_record_prints_only_its_bytes(void **state)
{
	struct tep_event *event;
	struct tep_handle *tep = tep_with(fmt_print, &event);
	uint8_t mem[32];

	(void)state;
	/* the record (20 bytes) is followed by other bytes, as on a page */
	memset(mem, 'X', sizeof(mem));
	record_head(mem, 5);
	vtc_put_le64(mem + 8, 0);
	memcpy(mem + 16, "abcd", 4);
	assert_string_equal(print(tep, event, mem, 20), "0x0: abcd");
	/* shorter than the format's fields: "char buf[]" once got a negative length
	 * (malloc of 4 GiB); the missing bytes read as zeros */
	assert_string_equal(print(tep, event, mem, 12), "0x0: ");
	tep_free(tep);
}

/* a dynamic string whose offset lies past the record reads zeros, not the page */
static void dynamic_string_past_the_record_prints_empty(void **state)
{
	struct tep_event *event;
	struct tep_handle *tep = tep_with(fmt_dyn, &event);
	uint8_t mem[64];
	size_t ext = 0;

	(void)state;
	memset(mem, 'Y', sizeof(mem));
	record_head(mem, 7);
	vtc_put_le32(mem + 8, (5u << 16) | 40);	/* "name" at 40, 5 bytes: past the record */
	vtc_put_le32(mem + 12, 7);
	assert_string_equal(print(tep, event, mem, 16), "name= val=7");
	assert_int_equal(vtc_event_extent(event, &ext), 0);
	assert_true(ext >= 0x1ffff);
	tep_free(tep);
}

static void format_with_fields_past_the_limit_fails(void **state)
{
	struct tep_event *event;
	struct tep_handle *tep = tep_with(fmt_far, &event);
	uint8_t rec[16];
	size_t ext = 0;

	(void)state;
	record_head(rec, 9);
	assert_int_equal(vtc_event_extent(event, &ext), -EBADMSG);
	assert_string_equal(print(tep, event, rec, sizeof(rec)), "[malformed format]");
	tep_free(tep);
}

static int parse(const char *print_fmt, struct tep_handle **ret_tep, struct tep_event **ret)
{
	char text[1024];
	int r;

	snprintf(text, sizeof(text), "name: div\nID: 11\nformat:\n" COMMON
		 "\tfield:u32 a;\toffset:8;\tsize:4;\tsigned:0;\n"
		 "\tfield:u32 b;\toffset:12;\tsize:4;\tsigned:0;\n\n%s\n", print_fmt);
	*ret_tep = tep_alloc();
	assert_non_null(*ret_tep);
	tep_set_long_size(*ret_tep, 8);
	r = vtc_format_parse(*ret_tep, text, strlen(text), "test", NULL);
	*ret = tep_get_events_count(*ret_tep) ? tep_get_event(*ret_tep, 0) : NULL;
	return r;
}

/* divisions of real kernel formats (by literals) and the shapes of their other arguments */
static void print_fmt_dividing_by_literals_is_kept(void **state)
{
	static const char *const fmts[] = {
		"print fmt: \"a=%u\", REC->a / 1000L",
		"print fmt: \"a=%u b=%u\", REC->a % 64, (REC->b) / (1000)",
		"print fmt: \"a=%u\", (REC->a / 0x10) - 1",
		"print fmt: \"x/y %s\", REC->a ? \"a/0\" : \"b%0\"",
		"print fmt: \"%c %u\", REC->a ? 'y' : '\\n', REC->b",
		"print fmt: \"%s\", __print_hex(REC->a, 4)",
		/* the kernel's shapes of subscripts, entries and unary operators */
		"print fmt: \"%u %p\", REC->a[1], (void *)REC->b[0]",
		"print fmt: \"%s\", REC->a[0] ? \"x\" : \"\"",
		"print fmt: \"%s\", __print_flags(REC->a, \"|\", { 1 << 3, \"A\" }, { 0, ((void *)0) })",
		"print fmt: \"%s %d\", __print_symbolic(REC->a, { -1, \"x\" }), !!REC->b",
	};
	struct tep_handle *tep;
	struct tep_event *event;
	uint8_t rec[16];

	(void)state;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		assert_int_equal(parse(fmts[i], &tep, &event), 0);
		assert_non_null(event);
		if (event->flags & TEP_EVENT_FL_FAILED)
			fail_msg("libtraceevent could not parse %s", fmts[i]);
		tep_free(tep);
	}
	assert_int_equal(parse(fmts[0], &tep, &event), 0);
	record_head(rec, 11);
	vtc_put_le32(rec + 8, 5000);
	assert_string_equal(print(tep, event, rec, sizeof(rec)), "a=5");
	tep_free(tep);
}

/*
 * fuzz-dat: libtraceevent folds "x / 0" at parse time and evaluates "x / REC->b" at
 * print time without a zero check (SIGFPE), and frees too early parsing sizeof: such a
 * print fmt is left out, the fields stay (the record prints as its fields).
 */
static void print_fmt_dividing_by_zero_or_a_field_fails(void **state)
{
	static const char *const fmts[] = {
		"print fmt: \"a=%u\", REC->a / 0",
		"print fmt: \"a=%u\", REC->a % (0)",
		"print fmt: \"a=%u\", REC->a / (1 - 1)",
		"print fmt: \"a=%u\", REC->a / REC->b",
		"print fmt: \"a=%u\", REC->a / sizeof(REC->a)",
		"print fmt: \"a=%u\", REC->a / sizeof(int)",
		"print fmt: \"a=%u\", sizeof(int) + REC->a",
		"print    fmt : \"a=%u\", REC->a / 00UL",
		"print fmt: \"a=%u\", REC->a / 0999L",
		"print fmt: \"a=%u\", REC->a / 08",
	};
	struct tep_handle *tep;
	struct tep_event *event;
	uint8_t rec[16];

	(void)state;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		assert_int_equal(parse(fmts[i], &tep, &event), 1);
		assert_non_null(event);
		assert_string_equal(event->name, "div");
		assert_non_null(tep_find_field(event, "b"));
		record_head(rec, 11);
		vtc_put_le32(rec + 8, 7);
		vtc_put_le32(rec + 12, 0);
		print(tep, event, rec, sizeof(rec));	/* no SIGFPE */
		tep_free(tep);
	}
}

/*
 * fuzz-format, fuzz-dat: libtraceevent dereferences NULL on a syntax error inside
 * __print_symbolic and on REC->x of no field x: such a print fmt is left out.
 */
static void print_fmt_malformed_or_naming_no_field_fails(void **state)
{
	static const char *const fmts[] = {
		"print fmt: \"%s\", __print_symbolic(REC->a, { 0, \"x\" },){ 1, \"y\" })",
		"print fmt: \"%s\", __print_symbolic(REC->a, { '0x1, \"x\" })",
		"print fmt: \"%u\", (REC->a",
		"print fmt: \"%u\", REC->a]",
		"print fmt: \"%u, REC->a",
		"print fmt: \"%u\", REC->nosuch",
		"print fmt: \"%u\", REC->",
		"print fmt: \"%u\", REC->a\n, REC->b",
		"print fmt: \"%u\", REC->a \x01",
		"print fmt: \"%s\", __print_symbol#c(REC->a, { 0, \"x\" })",
		"print fmt: \"%u\", ({ int x = REC->a; x; })",
		/* fuzz-format: __print_hex of a non-field read as a field (wild pointer) */
		"print fmt: \"%s\", __print_hex(RE-C>a, REC->b)",
		"print fmt: \"%s\", __print_array(REC->a + 1, 2, 4)",
		"print fmt: \"%s\", __print_hex_str(__get_dynamic_array(nosuch), 4)",
		"print fmt: \"%s\", __get_str(nosuch)",
		/* fuzz-dat: a '.' (no kernel print fmt libtraceevent parses has one) */
		"print fmt: \"%s\", (REC->a == 1) ? \"\" : __pri.t_symbolic(REC->a, { 0, \"x\" })",
		/* fuzz-dat: process_op() on NULL after a subscript or a "?:" */
		"print fmt: \"%u\", REC->a[0][1]",
		"print fmt: \"%u\", REC->a ? 1 : REC->b[0]",
		"print fmt: \"%u\", REC->a[0] = 1",
		"print fmt: \"%u\", REC->a ? 1 : 2 = 3",
		"print fmt: \"%u\", REC->a + REC->b[0]",
		"print fmt: \"%u\", REC->a ? 1 : 2 { 3 }",
		"print fmt: \"%u\", REC->a ? 1",
		"print fmt: \"%u\", REC->a : 1",
		"print fmt: \"%u\", REC->a += 1",
		"print fmt: \"%u\", (REC)->a",
		"print fmt: \"%u\", REC->a ? 1 : long REC->b",
		"print fmt: \"%u\", REC->a ? 1 : \"x\" REC->b",
		/* fuzz-format: a chain of unary operators (one level of recursion each) */
		"print fmt: \"%u\", ~~REC->a",
		"print fmt: \"%u\", !!!REC->a",
		"print fmt: \"%s\", __print_symbolic(REC->a, { 85, ~~~~ \"x\" })",
		"print fmt: \"%s\", __print_symbolic(REC->a, { REC->b, \"x\" })",
		"print fmt: \"%s\", __print_symbolic(REC->a, { 1 ? 2 : 3, \"x\" })",
		"print fmt: \"%s\", REC->a, { 1, \"x\" }",
	};
	struct tep_handle *tep;
	struct tep_event *event;

	(void)state;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		if (parse(fmts[i], &tep, &event) != 1)
			fail_msg("kept: %s", fmts[i]);
		assert_non_null(event);
		assert_non_null(tep_find_field(event, "a"));
		tep_free(tep);
	}
}

/* fuzz-format: libtraceevent crashes (NULL strcmp) on garbage in the field lines */
static void format_with_malformed_field_line_fails(void **state)
{
	static const char *const bad[] = {
		"\tfield:char prev_comm[\xd8\xc9;\toffset:8;\tsize:16;\tsigned:0;\n",
		"\tfield:pid_t p\xff\xff;\toffset:24;\tsize:4;\tsigned:1;\n",
		"\tfield:int x;\toffset:24;\tsize:;\tsigned:1;\n",
		"\tfield:int x;\toffset:24;\tsize:4\n",
		"\tfield:;\toffset:24;\tsize:4;\tsigned:1;\n",
		"\tfield:int x;\toffset:24;\tsize:4;\tsigned:1; junk\n",
		"\tfiled:int x;\toffset:24;\tsize:4;\tsigned:1;\n",
		"ID: 12x\n",
		"name: a b\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[1024];
		struct tep_handle *tep = tep_alloc();

		assert_non_null(tep);
		snprintf(text, sizeof(text), "name: m\nID: 13\nformat:\n" COMMON "%s\n"
			 "print fmt: \"%%d\", REC->common_pid\n", bad[i]);
		if (vtc_format_parse(tep, text, strlen(text), "test", NULL) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(tep_get_events_count(tep), 0);
		tep_free(tep);
	}
}

/* a quote before the print line could hide where libtraceevent's print section starts */
static void format_quoting_before_its_print_line_fails(void **state)
{
	static const char text[] = "name: \"q\nID: 12\nformat:\n" COMMON
		"print fmt: \"%u\", REC->common_pid / 0\n";
	struct tep_handle *tep = tep_alloc();

	(void)state;
	assert_non_null(tep);
	assert_int_equal(vtc_format_parse(tep, text, strlen(text), "test", NULL), -EBADMSG);
	assert_int_equal(tep_get_events_count(tep), 0);
	tep_free(tep);
}

static void field_u64_reads_only_inside_the_payload(void **state)
{
	static const char *const fields[] = { "val", "name", "nosuch", NULL };
	struct tep_event *event;
	struct tep_handle *tep = tep_with(fmt_dyn, &event);
	struct vtc_evdesc d;
	uint8_t rec[16];
	struct vt_event ev = { .data = rec, .size = sizeof(rec) };
	uint64_t v = 0;

	(void)state;
	record_head(rec, 7);
	vtc_put_le32(rec + 12, 1234);
	vtc_evdesc_find(tep, "test", "dyn", fields, &d);
	assert_int_equal(d.id, 7);
	assert_int_equal(vtc_field_u64(&d, 0, &ev, &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(vtc_field_u64(&d, 2, &ev, &v), -EBADMSG);	/* missing field */
	ev.size = 14;						/* cuts "val" */
	assert_int_equal(vtc_field_u64(&d, 0, &ev, &v), -EBADMSG);
	vtc_evdesc_find(tep, "test", "nosuch", fields, &d);
	assert_int_equal(d.id, -1);
	tep_free(tep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(terminated_string_prints_as_libtraceevent_does),
		cmocka_unit_test(unterminated_string_record_prints_only_its_bytes),
		cmocka_unit_test(dynamic_string_past_the_record_prints_empty),
		cmocka_unit_test(format_with_fields_past_the_limit_fails),
		cmocka_unit_test(print_fmt_dividing_by_literals_is_kept),
		cmocka_unit_test(print_fmt_dividing_by_zero_or_a_field_fails),
		cmocka_unit_test(print_fmt_malformed_or_naming_no_field_fails),
		cmocka_unit_test(format_with_malformed_field_line_fails),
		cmocka_unit_test(format_quoting_before_its_print_line_fails),
		cmocka_unit_test(field_u64_reads_only_inside_the_payload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
