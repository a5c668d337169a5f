// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of core/recorder/guest.c: the agent's info JSON (a guest's word) turned into
 * trace.dat metadata and a vCPU map, with a *_fails case per malformed shape.
 */
#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finalize.h"
#include "vt-test.h"
#include "vt/dat.h"

static const char good[] =
	"{\"boot_id\":\"b\",\"page_size\":4096,\"long_size\":8,\"kernel\":\"6.1.0\","
	"\"cpus\":[{\"cpu\":1,\"apic_id\":2},{\"cpu\":0,\"apic_id\":0}],"
	"\"formats\":{\"header_page\":\"hp\",\"header_event\":\"he\","
	"\"ftrace\":[\"name: print\\n\"],"
	"\"events\":[{\"system\":\"sched\",\"name\":\"s\",\"format\":\"name: s\\n\"}]},"
	"\"printk\":\"p\",\"cmdlines\":\"1 init\\n\"}";

static struct vt_dat_format formats[REC_GUEST_MAX_FORMATS];

static struct json_object *info_with(const char *key, const char *value)
{
	struct json_object *o = json_tokener_parse(good), *v;

	assert_non_null(o);
	if (key) {
		v = value ? json_tokener_parse(value) : NULL;
		json_object_object_add(o, key, v);
	}
	return o;
}

static void info_gives_metadata_and_vcpu_map(void **state)
{
	struct json_object *info = info_with(NULL, NULL);
	struct vt_dat_meta m;
	struct vt_errbuf eb = { "" };
	uint32_t ids[4] = { 99, 99, 99, 99 };
	size_t n = 9;

	(void)state;
	assert_int_equal(rec_guest_meta(info, formats, &m, &eb), 0);
	assert_int_equal(m.page_size, 4096);
	assert_int_equal(m.long_size, 8);
	assert_int_equal(m.nformats, 2);
	assert_string_equal(m.formats[0].system, "ftrace");
	assert_string_equal(m.formats[1].system, "sched");
	assert_int_equal(m.header_page.len, 2);
	assert_string_equal(m.uname, "6.1.0");
	rec_guest_apic_ids(info, ids, 4, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[1], 2);
	json_object_put(info);
}

static size_t map_of(const char *cpus)
{
	struct json_object *info = info_with("cpus", cpus);
	uint32_t ids[4];
	size_t n = 9;

	rec_guest_apic_ids(info, ids, 4, &n);
	json_object_put(info);
	return n;
}

/* fuzz-guest-info: a CPU listed twice left another CPU's APIC id unset */
static void info_cpu_listed_twice_fails(void **state)
{
	(void)state;
	assert_int_equal(map_of("[{\"cpu\":0,\"apic_id\":0},{\"cpu\":0,\"apic_id\":2}]"), 0);
}

static void info_cpu_out_of_range_fails(void **state)
{
	(void)state;
	assert_int_equal(map_of("[{\"cpu\":0,\"apic_id\":0},{\"cpu\":2,\"apic_id\":2}]"), 0);
	assert_int_equal(map_of("[{\"cpu\":-1,\"apic_id\":0}]"), 0);
	assert_int_equal(map_of("[{\"cpu\":0}]"), 0);		/* no apic_id */
	/* fuzz-guest-info: a missing "cpu" was taken as CPU 0 */
	assert_int_equal(map_of("[{\"cpu)\":0,\"apic_id\":0},{\"cpu\":1,\"apic_id\":2}]"), 0);
	assert_int_equal(map_of("[{\"cpu\":\"0\",\"apic_id\":0}]"), 0);
	assert_int_equal(map_of("[{\"cpu\":0,\"apic_id\":\"1\"}]"), 0);
	assert_int_equal(map_of("[{\"cpu\":0,\"apic_id\":1},{\"cpu\":1,\"apic_id\":2},"
				"{\"cpu\":2,\"apic_id\":3},{\"cpu\":3,\"apic_id\":4},"
				"{\"cpu\":4,\"apic_id\":5}]"), 0);	/* more than max */
	assert_int_equal(map_of("\"cpus\""), 0);		/* not an array (json-c asserted) */
	assert_int_equal(map_of("{\"cpu\":0}"), 0);
}

static void meta_fails(const char *key, const char *value)
{
	struct json_object *info = info_with(key, value);
	struct vt_dat_meta m;
	struct vt_errbuf eb = { "" };

	assert_int_equal(rec_guest_meta(info, formats, &m, &eb), -EBADMSG);
	printf("# %s\n", eb.msg);
	assert_non_null(strstr(eb.msg, "agent info"));
	json_object_put(info);
}

static void info_bad_page_or_long_size_fails(void **state)
{
	(void)state;
	meta_fails("page_size", "32");
	meta_fails("page_size", "4294967296");
	meta_fails("long_size", "2");
}

static void info_without_header_page_fails(void **state)
{
	(void)state;
	meta_fails("formats", "{\"ftrace\":[]}");
	meta_fails("formats", "{\"header_page\":42}");
}

static void info_bad_format_entry_fails(void **state)
{
	(void)state;
	meta_fails("formats", "{\"header_page\":\"hp\",\"ftrace\":[42]}");
	meta_fails("formats", "{\"header_page\":\"hp\",\"events\":[{\"format\":\"x\"}]}");
	meta_fails("formats", "{\"header_page\":\"hp\",\"events\":[{\"system\":\"s\"}]}");
}

/* unit test found: json-c asserts (abort) on array calls of a non-array */
static void info_formats_not_arrays_fails(void **state)
{
	(void)state;
	meta_fails("formats", "{\"header_page\":\"hp\",\"ftrace\":\"x\"}");
	meta_fails("formats", "{\"header_page\":\"hp\",\"events\":{}}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(info_gives_metadata_and_vcpu_map),
		cmocka_unit_test(info_cpu_listed_twice_fails),
		cmocka_unit_test(info_cpu_out_of_range_fails),
		cmocka_unit_test(info_bad_page_or_long_size_fails),
		cmocka_unit_test(info_without_header_page_fails),
		cmocka_unit_test(info_bad_format_entry_fails),
		cmocka_unit_test(info_formats_not_arrays_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
