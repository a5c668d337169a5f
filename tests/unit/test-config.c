// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for core/src/config.c: defaults, the JSON file (good and *_fails cases, never
 * half-applied) and the <vt:trace> metadata of the domain XML.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vt-test.h"
#include "vt/config.h"

static char *write_conf(const char *dir, const char *text)
{
	char *path = malloc(4096);
	FILE *f;

	assert_non_null(path);
	snprintf(path, 4096, "%s/virt-trace.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void assert_defaults(const struct vt_config *cfg)
{
	assert_int_equal(cfg->ndomains, 1);
	assert_string_equal(cfg->domains[0], "*");
	assert_string_equal(cfg->host_events, "kvm:kvm_entry,kvm:kvm_exit,sched:sched_switch");
	assert_string_equal(cfg->guest_events, "sched:sched_switch");
	assert_int_equal(cfg->host_buffer_kb, 8192);
	assert_int_equal(cfg->tsc_buffer_kb, 1024);
	assert_int_equal(cfg->guest_buffer_kb, 8192);
	assert_int_equal(cfg->poll_interval_ms, 2000);
	assert_int_equal(cfg->spool_quota_mb, 4096);
	assert_int_equal(cfg->retention_runs, 10);
	assert_false(cfg->strict);
	assert_true(cfg->agent_push);
	assert_null(cfg->agent_binary);
}

static void defaults_match_the_man_page(void **state)
{
	struct vt_config cfg;

	(void)state;
	assert_int_equal(vt_config_defaults(&cfg), 0);
	assert_defaults(&cfg);
	vt_config_fini(&cfg);
	vt_config_fini(&cfg); /* idempotent */
}

static void missing_file_gives_defaults(void **state)
{
	struct vt_config cfg;
	struct vt_errbuf eb = {""};

	(void)state;
	assert_int_equal(vt_config_load("/nonexistent/virt-trace.conf", &cfg, &eb), 0);
	assert_defaults(&cfg);
	vt_config_fini(&cfg);
}

static void env_names_the_file(void **state)
{
	char *dir = vt_test_tmpdir(), *path = write_conf(dir, "{ \"strict\": true }");
	struct vt_config cfg;

	(void)state;
	setenv("VT_CONFIG", path, 1);
	assert_int_equal(vt_config_load(NULL, &cfg, NULL), 0);
	assert_true(cfg.strict);
	unsetenv("VT_CONFIG");
	vt_config_fini(&cfg);
	vt_test_rmtree(dir);
	free(dir);
	free(path);
}

static void every_key_is_read(void **state)
{
	char *dir = vt_test_tmpdir();
	char *path = write_conf(dir, "{\n"
				     "  \"domains\": [\"web-*\", \"db?\"],\n"
				     "  \"host_events\": \"kvm:*,irq:irq_handler_entry\",\n"
				     "  \"guest_events\": [\"sched:sched_switch\", \"irq:*\"],\n"
				     "  \"host_buffer_kb\": 16384,\n"
				     "  \"tsc_buffer_kb\": 4,\n"
				     "  \"guest_buffer_kb\": 1048576,\n"
				     "  \"poll_interval_ms\": 100,\n"
				     "  \"spool_quota_mb\": 16777216,\n"
				     "  \"retention_runs\": 0,\n"
				     "  \"strict\": true,\n"
				     "  \"agent_push\": false,\n"
				     "  \"agent_binary\": \"/opt/vt/virt-trace-agent\"\n"
				     "}\n");
	struct vt_config cfg;
	struct vt_errbuf eb = {""};

	(void)state;
	assert_int_equal(vt_config_load(path, &cfg, &eb), 0);
	assert_int_equal(cfg.ndomains, 2);
	assert_string_equal(cfg.domains[0], "web-*");
	assert_string_equal(cfg.domains[1], "db?");
	assert_string_equal(cfg.host_events, "kvm:*,irq:irq_handler_entry");
	assert_string_equal(cfg.guest_events, "sched:sched_switch,irq:*");
	assert_int_equal(cfg.host_buffer_kb, 16384);
	assert_int_equal(cfg.tsc_buffer_kb, 4);
	assert_int_equal(cfg.guest_buffer_kb, 1048576);
	assert_int_equal(cfg.poll_interval_ms, 100);
	assert_int_equal(cfg.spool_quota_mb, 16777216);
	assert_int_equal(cfg.retention_runs, 0);
	assert_true(cfg.strict);
	assert_false(cfg.agent_push);
	assert_string_equal(cfg.agent_binary, "/opt/vt/virt-trace-agent");
	vt_config_fini(&cfg);
	vt_test_rmtree(dir);
	free(dir);
	free(path);
}

/* files that load, and one field that shows it */
static void good_files_load(void **state)
{
	static const struct {
		const char *name, *text;
		unsigned host_kb;
		size_t ndomains;
		const char *host_events;
	} cases[] = {
	    {"empty_file_is_defaults", "", 8192, 1, NULL},
	    {"whitespace_only_is_defaults", " \n\t\n", 8192, 1, NULL},
	    {"empty_object_is_defaults", "{}", 8192, 1, NULL},
	    {"trailing_newlines_are_fine", "{\"host_buffer_kb\": 64}\n\n", 64, 1, NULL},
	    {"empty_domains_trace_nothing", "{\"domains\": []}", 8192, 0, NULL},
	    {"empty_host_events_mean_tsc_only", "{\"host_events\": \"\"}", 8192, 1, ""},
	    {"system_alone_means_all_its_events", "{\"host_events\": \"sched\"}", 8192, 1, "sched"},
	    {"spaces_around_commas", "{\"host_events\": \"kvm:kvm_exit , sched:*\"}", 8192, 1,
	     "kvm:kvm_exit , sched:*"},
	    {"later_duplicate_key_wins", "{\"host_buffer_kb\": 8, \"host_buffer_kb\": 16}", 16, 1,
	     NULL},
	};
	char *dir = vt_test_tmpdir();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_conf(dir, cases[i].text);
		struct vt_config cfg;
		struct vt_errbuf eb = {""};
		int r = vt_config_load(path, &cfg, &eb);

		if (r != 0)
			fail_msg("%s: %d %s", cases[i].name, r, eb.msg);
		assert_int_equal(cfg.host_buffer_kb, cases[i].host_kb);
		assert_int_equal(cfg.ndomains, cases[i].ndomains);
		if (cases[i].host_events)
			assert_string_equal(cfg.host_events, cases[i].host_events);
		vt_config_fini(&cfg);
		free(path);
	}
	vt_test_rmtree(dir);
	free(dir);
}

/* bad files: -EBADMSG, the reason names the problem, and cfg holds the defaults */
static void bad_files_fail(void **state)
{
	static const struct {
		const char *name, *text, *reason;
	} cases[] = {
	    {"unknown_key_fails", "{\"host_buffer\": 10}", "unknown key 'host_buffer'"},
	    {"half_good_file_fails_whole",
	     "{\"strict\": true, \"host_buffer_kb\": 64, \"bogus\": 1}", "unknown key 'bogus'"},
	    {"not_json_fails", "strict = true", ":1:1:"},
	    {"truncated_json_fails", "{\"strict\": tr", "unexpected end"},
	    {"comment_fails", "{ /* no */ \"strict\": true }", ":1:3:"},
	    {"trailing_comma_fails", "{\"strict\": true,}", ":1:"},
	    {"second_object_fails", "{} {}", "text after the JSON object"},
	    {"top_level_array_fails", "[1, 2]", "top level must be an object"},
	    {"top_level_null_fails", "null", "top level must be an object"},
	    {"string_for_integer_fails", "{\"host_buffer_kb\": \"8192\"}",
	     "key 'host_buffer_kb': expected an integer"},
	    {"float_for_integer_fails", "{\"poll_interval_ms\": 2000.5}",
	     "key 'poll_interval_ms': expected an integer"},
	    {"buffer_below_range_fails", "{\"host_buffer_kb\": 3}", "'3' is out of range 4.."},
	    {"buffer_above_range_fails", "{\"guest_buffer_kb\": 1048577}", "out of range"},
	    {"negative_fails", "{\"retention_runs\": -1}", "'-1' is out of range"},
	    {"huge_fails", "{\"spool_quota_mb\": 99999999999999999999}", "out of range"},
	    {"zero_quota_fails", "{\"spool_quota_mb\": 0}", "out of range 1.."},
	    {"poll_too_fast_fails", "{\"poll_interval_ms\": 99}", "out of range 100.."},
	    {"int_for_bool_fails", "{\"strict\": 1}", "key 'strict': expected true or false"},
	    {"string_for_bool_fails", "{\"agent_push\": \"yes\"}", "expected true or false"},
	    {"relative_agent_binary_fails", "{\"agent_binary\": \"virt-trace-agent\"}",
	     "key 'agent_binary': expected an absolute path"},
	    {"number_for_agent_binary_fails", "{\"agent_binary\": 1}", "expected an absolute path"},
	    {"string_for_domains_fails", "{\"domains\": \"*\"}",
	     "key 'domains': expected an array"},
	    {"number_in_domains_fails", "{\"domains\": [\"a\", 2]}", "item 1 is not a string"},
	    {"empty_pattern_fails", "{\"domains\": [\"\"]}", "item 0"},
	    {"number_for_events_fails", "{\"host_events\": 5}",
	     "key 'host_events': expected a string"},
	    {"bad_event_char_fails", "{\"host_events\": \"kvm:kvm_exit;rm\"}",
	     "bad event 'kvm:kvm_exit;rm'"},
	    {"empty_event_item_fails", "{\"host_events\": \"kvm:kvm_exit,,sched:*\"}",
	     "bad event ''"},
	    {"two_colons_fails", "{\"guest_events\": \"a:b:c\"}", "bad event 'a:b:c'"},
	    {"empty_event_name_fails", "{\"guest_events\": \"sched:\"}", "bad event 'sched:'"},
	    {"empty_system_fails", "{\"guest_events\": \":x\"}", "bad event ':x'"},
	    {"empty_array_item_fails", "{\"guest_events\": [\"\"]}", "item 0 is empty"},
	};
	char *dir = vt_test_tmpdir();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_conf(dir, cases[i].text);
		struct vt_config cfg;
		struct vt_errbuf eb = {""};
		int r = vt_config_load(path, &cfg, &eb);

		if (r != -EBADMSG)
			fail_msg("%s: want -EBADMSG, got %d (%s)", cases[i].name, r, eb.msg);
		if (!strstr(eb.msg, cases[i].reason))
			fail_msg("%s: reason '%s' lacks '%s'", cases[i].name, eb.msg,
				 cases[i].reason);
		if (!strstr(eb.msg, path))
			fail_msg("%s: reason '%s' does not name the file", cases[i].name, eb.msg);
		assert_defaults(&cfg);
		vt_config_fini(&cfg);
		free(path);
	}
	vt_test_rmtree(dir);
	free(dir);
}

static void nul_byte_fails(void **state)
{
	char *dir = vt_test_tmpdir(), path[4096];
	struct vt_config cfg;
	struct vt_errbuf eb = {""};
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/nul.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite("{}\0{", 1, 4, f);
	fclose(f);
	assert_int_equal(vt_config_load(path, &cfg, &eb), -EBADMSG);
	assert_non_null(strstr(eb.msg, "NUL byte"));
	assert_defaults(&cfg);
	vt_config_fini(&cfg);
	vt_test_rmtree(dir);
	free(dir);
}

static void unreadable_path_fails_with_errno(void **state)
{
	char *dir = vt_test_tmpdir();
	struct vt_config cfg;
	struct vt_errbuf eb = {""};

	(void)state;
	/* a directory: read() fails with EISDIR */
	assert_int_equal(vt_config_load(dir, &cfg, &eb), -EISDIR);
	assert_non_null(strstr(eb.msg, "cannot read"));
	assert_defaults(&cfg);
	vt_config_fini(&cfg);
	vt_test_rmtree(dir);
	free(dir);
}

/* ---- metadata ---- */

#define NS "xmlns:vt=\"urn:x-virt-trace:1\""

static int load_patterns(struct vt_config *cfg, const char *pattern)
{
	int r = vt_config_defaults(cfg);

	if (r < 0)
		return r;
	free(cfg->domains[0]);
	cfg->domains[0] = strdup(pattern);
	return cfg->domains[0] ? 0 : -ENOMEM;
}

static void metadata_decides_and_overrides(void **state)
{
	static const struct {
		const char *name, *pattern, *xml;
		bool enabled;
		const char *host_events, *guest_events;
		unsigned host_kb, guest_kb;
	} cases[] = {
	    {"no_xml_uses_the_patterns", "*", NULL, true, NULL, NULL, 8192, 8192},
	    {"no_metadata_uses_the_patterns", "*", "<domain><name>d</name></domain>", true, NULL,
	     NULL, 8192, 8192},
	    {"unmatched_pattern_is_off", "web-*", "<domain><name>d</name></domain>", false, NULL,
	     NULL, 8192, 8192},
	    {"other_namespaces_are_ignored", "*",
	     "<domain><metadata><x:trace xmlns:x=\"urn:other\" enabled=\"no\"/></metadata>"
	     "</domain>",
	     true, NULL, NULL, 8192, 8192},
	    {"enabled_no_wins_over_pattern", "*",
	     "<domain><metadata><vt:trace " NS " enabled=\"no\"/></metadata></domain>", false, NULL,
	     NULL, 8192, 8192},
	    {"enabled_yes_wins_over_unmatched_pattern", "web-*",
	     "<domain><metadata><vt:trace " NS " enabled=\"yes\"/></metadata></domain>", true, NULL,
	     NULL, 8192, 8192},
	    {"no_enabled_attribute_uses_the_patterns", "web-*",
	     "<domain><metadata><vt:trace " NS "><vt:host buffer-kb=\"64\"/></vt:trace>"
	     "</metadata></domain>",
	     false, NULL, NULL, 64, 8192},
	    {"design_example_applies", "*",
	     "<domain type='kvm'><name>d</name><metadata>\n"
	     "  <vt:trace " NS " enabled=\"yes\">\n"
	     "    <vt:host events=\"kvm:kvm_entry,kvm:kvm_exit,sched:sched_switch\"/>\n"
	     "    <vt:guest events=\"sched:sched_switch,irq:*\" buffer-kb=\"4096\"/>\n"
	     "  </vt:trace>\n"
	     "</metadata></domain>",
	     true, "kvm:kvm_entry,kvm:kvm_exit,sched:sched_switch", "sched:sched_switch,irq:*",
	     8192, 4096},
	    {"bare_trace_element_applies", "*",
	     "<vt:trace " NS "><vt:host events=\"irq:*\" buffer-kb=\"128\"/></vt:trace>", true,
	     "irq:*", NULL, 128, 8192},
	    {"metadata_element_alone_applies", "*",
	     "<metadata><vt:trace " NS " enabled=\"no\"/></metadata>", false, NULL, NULL, 8192,
	     8192},
	    {"default_namespace_works", "*",
	     "<domain><metadata><trace xmlns=\"urn:x-virt-trace:1\"><host events=\"sched:*\"/>"
	     "</trace></metadata></domain>",
	     true, "sched:*", NULL, 8192, 8192},
	    {"virsh_metadata_output_applies", "web-*",
	     "<domain type='qemu'>\n  <name>d</name>\n  <metadata>\n"
	     "    <vt:trace xmlns:vt=\"urn:x-virt-trace:1\" enabled=\"yes\">\n"
	     "      <vt:host events=\"kvm:*,sched:sched_switch\"/>\n"
	     "      <vt:guest events=\"sched:sched_switch,irq:*\" buffer-kb=\"8192\"/>\n"
	     "    </vt:trace>\n  </metadata>\n</domain>\n",
	     true, "kvm:*,sched:sched_switch", "sched:sched_switch,irq:*", 8192, 8192},
	    {"unqualified_children_are_ours", "*",
	     "<vt:trace " NS "><host buffer-kb=\"256\"/></vt:trace>", true, NULL, NULL, 256, 8192},
	    {"empty_host_events_are_allowed", "*",
	     "<vt:trace " NS "><vt:host events=\"\"/></vt:trace>", true, "", NULL, 8192, 8192},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vt_config cfg;
		struct vt_errbuf eb = {""};
		bool enabled = !cases[i].enabled;
		int r;

		assert_int_equal(load_patterns(&cfg, cases[i].pattern), 0);
		r = vt_config_apply_domain(&cfg, "d", cases[i].xml, &enabled, &eb);
		if (r != 0)
			fail_msg("%s: %d %s", cases[i].name, r, eb.msg);
		if (enabled != cases[i].enabled)
			fail_msg("%s: enabled %d", cases[i].name, enabled);
		assert_string_equal(cfg.host_events,
				    cases[i].host_events
					? cases[i].host_events
					: "kvm:kvm_entry,kvm:kvm_exit,sched:sched_switch");
		assert_string_equal(cfg.guest_events, cases[i].guest_events ? cases[i].guest_events
									    : "sched:sched_switch");
		assert_int_equal(cfg.host_buffer_kb, cases[i].host_kb);
		assert_int_equal(cfg.guest_buffer_kb, cases[i].guest_kb);
		vt_config_fini(&cfg);
	}
}

/* malformed metadata: -EBADMSG, reason named, cfg untouched, the patterns decide */
static void bad_metadata_fails(void **state)
{
	static const struct {
		const char *name, *xml, *reason;
	} cases[] = {
	    {"not_well_formed_fails", "<domain><name>d</domain>", "domain XML: line 1"},
	    {"empty_string_fails", "", "domain XML"},
	    {"enabled_maybe_fails",
	     "<domain><metadata><vt:trace " NS " enabled=\"maybe\"/></metadata></domain>",
	     "'maybe' is not yes or no"},
	    {"unknown_trace_attribute_fails",
	     "<domain><metadata><vt:trace " NS " enable=\"yes\"/></metadata></domain>",
	     "unknown attribute 'enable'"},
	    {"unknown_child_fails",
	     "<domain><metadata><vt:trace " NS "><vt:hots/></vt:trace></metadata></domain>",
	     "unknown element <hots>"},
	    {"foreign_child_fails",
	     "<domain><metadata><vt:trace " NS "><o:host xmlns:o='urn:o'/></vt:trace>"
	     "</metadata></domain>",
	     "element <host> is not in urn:x-virt-trace:1"},
	    {"two_host_elements_fail",
	     "<domain><metadata><vt:trace " NS "><vt:host/><vt:host/></vt:trace></metadata>"
	     "</domain>",
	     "more than one <host>"},
	    {"two_trace_elements_fail",
	     "<domain><metadata><vt:trace " NS "/><vt:trace " NS "/></metadata></domain>",
	     "more than one <trace>"},
	    {"misnamed_element_in_our_namespace_fails",
	     "<domain><metadata><vt:tracing " NS "/></metadata></domain>",
	     "unknown element <tracing>"},
	    {"unknown_host_attribute_fails", "<vt:trace " NS "><vt:host buffer=\"64\"/></vt:trace>",
	     "<host>: unknown attribute 'buffer'"},
	    {"buffer_kb_not_a_number_fails",
	     "<vt:trace " NS "><vt:guest buffer-kb=\"lots\"/></vt:trace>",
	     "<guest buffer-kb>: 'lots' is not a number"},
	    {"buffer_kb_negative_fails", "<vt:trace " NS "><vt:guest buffer-kb=\"-4\"/></vt:trace>",
	     "is not a number"},
	    {"buffer_kb_out_of_range_fails",
	     "<vt:trace " NS "><vt:host buffer-kb=\"2\"/></vt:trace>", "'2' is out of range"},
	    {"bad_events_fail",
	     "<vt:trace " NS "><vt:host events=\"kvm:kvm_exit sched\"/></vt:trace>",
	     "<host events>: bad event 'kvm:kvm_exit sched'"},
	    {"second_element_bad_keeps_first_unapplied",
	     "<vt:trace " NS " enabled=\"no\"><vt:host buffer-kb=\"64\"/>"
	     "<vt:guest buffer-kb=\"x\"/></vt:trace>",
	     "'x' is not a number"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vt_config cfg;
		struct vt_errbuf eb = {""};
		bool enabled = false;
		int r;

		assert_int_equal(vt_config_defaults(&cfg), 0);
		r = vt_config_apply_domain(&cfg, "d", cases[i].xml, &enabled, &eb);
		if (r != -EBADMSG)
			fail_msg("%s: want -EBADMSG, got %d", cases[i].name, r);
		if (!strstr(eb.msg, cases[i].reason))
			fail_msg("%s: reason '%s' lacks '%s'", cases[i].name, eb.msg,
				 cases[i].reason);
		/* never half-applied; the pattern "*" decides */
		assert_defaults(&cfg);
		assert_true(enabled);
		vt_config_fini(&cfg);
	}
}

static void patterns_are_globs(void **state)
{
	static const struct {
		const char *pattern, *domain;
		bool enabled;
	} cases[] = {
	    {"*", "anything at all", true}, {"web-*", "web-1", true},	 {"web-*", "db-1", false},
	    {"db?", "db1", true},	    {"db?", "db12", false},	 {"[ab]*", "beta", true},
	    {"exact", "exact", true},	    {"exact", "exactly", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vt_config cfg;
		bool enabled;

		assert_int_equal(load_patterns(&cfg, cases[i].pattern), 0);
		assert_int_equal(
		    vt_config_apply_domain(&cfg, cases[i].domain, NULL, &enabled, NULL), 0);
		if (enabled != cases[i].enabled)
			fail_msg("'%s' vs '%s': %d", cases[i].pattern, cases[i].domain, enabled);
		vt_config_fini(&cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_match_the_man_page),
	    cmocka_unit_test(missing_file_gives_defaults),
	    cmocka_unit_test(env_names_the_file),
	    cmocka_unit_test(every_key_is_read),
	    cmocka_unit_test(good_files_load),
	    cmocka_unit_test(bad_files_fail),
	    cmocka_unit_test(nul_byte_fails),
	    cmocka_unit_test(unreadable_path_fails_with_errno),
	    cmocka_unit_test(metadata_decides_and_overrides),
	    cmocka_unit_test(bad_metadata_fails),
	    cmocka_unit_test(patterns_are_globs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
