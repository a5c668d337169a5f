// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for hook/: domain XML parsing (domxml.c), the op table and exit status policy
 * (ops.c, with tracefs, the control socket and the spawns replaced by --wrap), and the
 * detached spawn itself (detach.c, for real: fds, session, exec errors).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#include "hook.h"
#include "vt/spawn.h"
#include "util.h"
#include "vt-test.h"
#include "vt/instances.h"
#include "vt/runstore.h"

/* ---- the wrapped world ---- */

static struct {
	int tsc_calls, tsc_ret;	      /* vt_instances_create_tsc */
	int create_calls, create_ret; /* vt_instances_create_main */
	char create_events[256];
	unsigned create_host_kb, create_tsc_kb;
	int destroy_calls;
	bool exists, locked;
	int send_calls;
	char sent[8][64];
	int send_ret[8]; /* per call; the last repeats */
	int spawn_calls, spawn_ret;
	pid_t spawn_qemu_pid;
	char spawn_uuid[64];
	int detach_calls;
} w;

int __wrap_vt_instances_create_tsc(const char *domain, unsigned tsc_kb, struct vt_errbuf *eb);
int __wrap_vt_instances_create_main(const char *domain, const char *host_events,
				    unsigned host_kb, struct vt_errbuf *eb);
int __wrap_vt_instances_destroy(const char *domain, struct vt_errbuf *eb);
bool __wrap_vt_instances_exist(const char *domain);
bool __wrap_vt_run_domain_locked(const char *domain);
int __wrap_vt_control_send(const char *domain, const char *request, char *reply, size_t reply_len,
			   int timeout_ms);
int __wrap_hook_spawn_recorder(const struct hook_ctx *ctx, pid_t qemu_pid, pid_t *ret_pid,
			       struct vt_errbuf *eb);
int __wrap_hook_detach_fork(int *keep, size_t nkeep);
bool __wrap_tracefs_instance_exists(const char *name);
struct tracefs_instance;
bool __wrap_tracefs_event_file_exists(struct tracefs_instance *instance, const char *system,
				      const char *event, const char *file);
const char *__wrap_tracefs_tracing_dir(void);

int __wrap_vt_instances_create_tsc(const char *domain, unsigned tsc_kb, struct vt_errbuf *eb)
{
	(void)domain;
	w.tsc_calls++;
	w.create_tsc_kb = tsc_kb;
	if (w.tsc_ret < 0)
		return vtc_errf(eb, w.tsc_ret, "instance: fake failure");
	w.exists = true;
	return 0;
}

int __wrap_vt_instances_create_main(const char *domain, const char *host_events,
				    unsigned host_kb, struct vt_errbuf *eb)
{
	(void)domain;
	w.create_calls++;
	snprintf(w.create_events, sizeof(w.create_events), "%s", host_events);
	w.create_host_kb = host_kb;
	if (w.create_ret < 0)
		return vtc_errf(eb, w.create_ret, "instance: fake failure");
	w.exists = true;
	return w.create_ret;
}

int __wrap_vt_instances_destroy(const char *domain, struct vt_errbuf *eb)
{
	(void)domain;
	(void)eb;
	w.destroy_calls++;
	w.exists = false;
	return 0;
}

bool __wrap_vt_instances_exist(const char *domain)
{
	(void)domain;
	return w.exists;
}

bool __wrap_vt_run_domain_locked(const char *domain)
{
	(void)domain;
	return w.locked;
}

int __wrap_vt_control_send(const char *domain, const char *request, char *reply, size_t reply_len,
			   int timeout_ms)
{
	int i = w.send_calls < 8 ? w.send_calls : 7;

	(void)domain;
	(void)timeout_ms;
	snprintf(w.sent[i], sizeof(w.sent[i]), "%s", request);
	w.send_calls++;
	if (reply && reply_len)
		snprintf(reply, reply_len, "%s", w.send_ret[i] ? "" : "ok");
	return w.send_ret[i];
}

int __wrap_hook_spawn_recorder(const struct hook_ctx *ctx, pid_t qemu_pid, pid_t *ret_pid,
			       struct vt_errbuf *eb)
{
	w.spawn_calls++;
	w.spawn_qemu_pid = qemu_pid;
	snprintf(w.spawn_uuid, sizeof(w.spawn_uuid), "%s", ctx->xml_ok ? ctx->dom.uuid : "");
	*ret_pid = w.spawn_ret < 0 ? 0 : 4242;
	if (w.spawn_ret < 0)
		return vtc_errf(eb, w.spawn_ret, "fake spawn failure");
	return 0;
}

/* the handlers' detached workers: pretend the fork happened, run nothing */
int __wrap_hook_detach_fork(int *keep, size_t nkeep)
{
	(void)keep;
	(void)nkeep;
	w.detach_calls++;
	return 1;
}

bool __wrap_tracefs_instance_exists(const char *name)
{
	(void)name;
	return w.exists;
}

bool __wrap_tracefs_event_file_exists(struct tracefs_instance *instance, const char *system,
				      const char *event, const char *file)
{
	(void)instance;
	(void)system;
	(void)event;
	(void)file;
	return true;
}

const char *__wrap_tracefs_tracing_dir(void)
{
	return "/sys/kernel/tracing";
}

/* ---- fixtures ---- */

static char *tmp;

static void write_file(const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void set_config(const char *json)
{
	write_file("virt-trace.conf", json);
}

static int setup(void **state)
{
	char path[4096];

	(void)state;
	memset(&w, 0, sizeof(w));
	tmp = vt_test_tmpdir();
	snprintf(path, sizeof(path), "%s/virt-trace.conf", tmp);
	setenv("VT_CONFIG", path, 1);
	snprintf(path, sizeof(path), "%s/run", tmp);
	setenv("VT_RUN_DIR", path, 1);
	snprintf(path, sizeof(path), "%s/state", tmp);
	setenv("VT_STATE_DIR", path, 1);
	setenv("VT_LIBVIRT_RUNDIR", tmp, 1);
	setenv("VT_CLI", "/bin/true", 1);
	unsetenv("VT_HOOK_STDERR");
	set_config("{}");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vt_test_rmtree(tmp);
	free(tmp);
	tmp = NULL;
	return 0;
}

#define UUID "6f1c0a3e-1d2b-4c5e-9f00-0123456789ab"
#define DOMXML "<domain type='kvm'><name>vm1</name><uuid>" UUID "</uuid></domain>"

static int run(const char *op, const char *subop, const char *xml)
{
	struct hook_ctx ctx = {0};
	int status;

	ctx.name = "vm1";
	ctx.op = op;
	ctx.subop = subop;
	ctx.xml = xml;
	ctx.xml_len = strlen(xml);
	status = hook_run(&ctx);
	hook_ctx_fini(&ctx);
	return status;
}

/* ---- domxml.c ---- */

static void domain_xml_gives_name_uuid_type(void **state)
{
	static const struct {
		const char *name, *xml, *dom_name, *uuid, *type;
	} cases[] = {
	    {"kvm_domain", DOMXML, "vm1", UUID, "kvm"},
	    {"tcg_domain_without_uuid", "<domain type=\"qemu\"><name>t</name></domain>", "t", "",
	     "qemu"},
	    {"odd_name_kept_verbatim", "<domain type='kvm'><name>a b&amp;c/ü</name></domain>",
	     "a b&c/ü", "", "kvm"},
	    {"live_xml_with_ids_and_metadata",
	     "<?xml version='1.0'?>\n<domain type='kvm' id='7'>\n  <name>vm</name>\n"
	     "  <uuid>" UUID "</uuid>\n  <metadata><vt:trace xmlns:vt='urn:x-virt-trace:1'/>"
	     "</metadata>\n  <memory unit='KiB'>1024</memory>\n</domain>\n",
	     "vm", UUID, "kvm"},
	    {"no_type_attribute", "<domain><name>n</name></domain>", "n", "", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hook_domain dom;
		struct vt_errbuf eb = {""};
		int r = hook_domxml_parse(cases[i].xml, strlen(cases[i].xml), &dom, &eb);

		if (r != 0)
			fail_msg("%s: %d %s", cases[i].name, r, eb.msg);
		assert_string_equal(dom.name, cases[i].dom_name);
		assert_string_equal(dom.uuid, cases[i].uuid);
		assert_string_equal(dom.type, cases[i].type);
	}
}

static void bad_domain_xml_fails(void **state)
{
	static const struct {
		const char *name, *xml, *reason;
	} cases[] = {
	    {"empty_input_fails", "", "empty input"},
	    {"not_xml_fails", "hello", "domain XML: line 1"},
	    {"truncated_fails", "<domain type='kvm'><name>vm1</name>", "domain XML: line 1"},
	    {"wrong_root_fails", "<network><name>n</name></network>",
	     "root element is not <domain>"},
	    {"empty_name_fails", "<domain><name></name></domain>", "<name> is empty"},
	    {"uuid_with_shell_chars_fails", "<domain><name>n</name><uuid>$(reboot)</uuid></domain>",
	     "<uuid> '$(reboot)' is malformed"},
	    {"type_with_odd_chars_fails", "<domain type='k m'><name>n</name></domain>",
	     "type 'k m' is malformed"},
	    {"entity_expansion_is_not_done",
	     "<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><domain><name>&x;</name>"
	     "</domain>",
	     "<name> is empty"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hook_domain dom;
		struct vt_errbuf eb = {""};
		int r = hook_domxml_parse(cases[i].xml, strlen(cases[i].xml), &dom, &eb);

		if (r != -EBADMSG)
			fail_msg("%s: want -EBADMSG, got %d", cases[i].name, r);
		if (!strstr(eb.msg, cases[i].reason))
			fail_msg("%s: reason '%s' lacks '%s'", cases[i].name, eb.msg,
				 cases[i].reason);
	}
}

static void nul_in_xml_fails(void **state)
{
	struct hook_domain dom;
	struct vt_errbuf eb = {""};

	(void)state;
	assert_int_equal(hook_domxml_parse("<domain/>\0x", 11, &dom, &eb), -EBADMSG);
	assert_non_null(strstr(eb.msg, "NUL"));
}

/* ---- ops.c: table and policy ---- */

static void op_names_round_trip(void **state)
{
	static const char *const names[] = {"start",   "stopped",   "prepare", "release", "migrate",
					    "started", "reconnect", "attach",  "restore"};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		enum hook_op op = hook_op_parse(names[i]);

		assert_int_not_equal(op, HOOK_OP_UNKNOWN);
		assert_string_equal(hook_op_name(op), names[i]);
	}
	assert_int_equal(hook_op_parse("Start"), HOOK_OP_UNKNOWN);
	assert_int_equal(hook_op_parse(""), HOOK_OP_UNKNOWN);
	assert_int_equal(hook_op_parse(NULL), HOOK_OP_UNKNOWN);
}

static void exit_status_policy(void **state)
{
	static const struct {
		const char *op, *subop;
		bool strict;
		int r, status;
	} cases[] = {
	    {"start", "begin", true, -EIO, 1},	 {"prepare", "begin", true, -ENOENT, 1},
	    {"start", "begin", false, -EIO, 0},	 {"prepare", "begin", false, -EIO, 0},
	    {"start", "begin", true, 0, 0},	 {"start", "begin", true, 2, 0},
	    {"started", "begin", true, -EIO, 0}, {"stopped", "end", true, -EIO, 0},
	    {"release", "end", true, -EIO, 0},	 {"reconnect", "begin", true, -EIO, 0},
	    {"migrate", "begin", true, -EIO, 0}, {"start", "end", true, -EIO, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (hook_exit_status(hook_op_parse(cases[i].op), cases[i].subop, cases[i].strict,
				     cases[i].r) != cases[i].status)
			fail_msg("%s %s strict=%d r=%d: want %d", cases[i].op, cases[i].subop,
				 cases[i].strict, cases[i].r, cases[i].status);
}

static void ignored_ops_do_nothing(void **state)
{
	static const char *const calls[][2] = {
	    {"migrate", "begin"}, {"restore", "begin"},	   {"attach", "begin"},
	    {"start", "end"},	  {"prepare", "end"},	   {"stopped", "begin"},
	    {"release", "begin"}, {"frobnicate", "begin"}, {"start", "sideways"},
	};

	(void)state;
	set_config("{\"strict\": true}");
	w.exists = true;
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		assert_int_equal(run(calls[i][0], calls[i][1], DOMXML), 0);
	assert_int_equal(
	    w.tsc_calls + w.create_calls + w.destroy_calls + w.send_calls + w.spawn_calls +
		w.detach_calls,
	    0);
}

static void start_creates_the_tsc_instance_then_spawns(void **state)
{
	(void)state;
	set_config("{\"host_events\": \"sched:*\", \"host_buffer_kb\": 64, \"tsc_buffer_kb\": 8}");
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.tsc_calls, 1);
	assert_int_equal(w.create_tsc_kb, 8);
	/* the main instance is the detached worker's */
	assert_int_equal(w.create_calls, 0);
	assert_int_equal(w.detach_calls, 1);
	assert_int_equal(w.spawn_calls, 1);
	assert_string_equal(w.spawn_uuid, UUID);
	assert_int_equal(w.spawn_qemu_pid, 0);
}

static void strict_start_creates_both_instances_then_spawns(void **state)
{
	(void)state;
	set_config("{\"host_events\": \"sched:*\", \"host_buffer_kb\": 64, \"tsc_buffer_kb\": 8, "
		   "\"strict\": true}");
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.tsc_calls, 1);
	assert_int_equal(w.create_calls, 1);
	assert_string_equal(w.create_events, "sched:*");
	assert_int_equal(w.create_host_kb, 64);
	assert_int_equal(w.create_tsc_kb, 8);
	assert_int_equal(w.detach_calls, 0);
	assert_int_equal(w.spawn_calls, 1);
}

static void metadata_overrides_the_host_events(void **state)
{
	(void)state;
	set_config("{\"strict\": true}");
	assert_int_equal(
	    run("start", "begin",
		"<domain type='kvm'><name>vm1</name><metadata>"
		"<vt:trace xmlns:vt='urn:x-virt-trace:1'>"
		"<vt:host events='irq:*' buffer-kb='512'/></vt:trace></metadata></domain>"),
	    0);
	assert_int_equal(w.create_calls, 1);
	assert_string_equal(w.create_events, "irq:*");
	assert_int_equal(w.create_host_kb, 512);
}

static void excluded_domain_is_not_traced(void **state)
{
	(void)state;
	set_config("{\"domains\": [\"web-*\"], \"strict\": true}");
	assert_int_equal(run("prepare", "begin", DOMXML), 0);
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.tsc_calls + w.create_calls + w.spawn_calls + w.detach_calls, 0);
}

static void metadata_can_switch_tracing_off(void **state)
{
	(void)state;
	assert_int_equal(run("start", "begin",
			     "<domain><name>vm1</name><metadata><vt:trace "
			     "xmlns:vt='urn:x-virt-trace:1' enabled='no'/></metadata></domain>"),
			 0);
	assert_int_equal(w.tsc_calls + w.create_calls, 0);
}

static void broken_xml_is_never_fatal(void **state)
{
	(void)state;
	set_config("{\"strict\": true}");
	assert_int_equal(run("prepare", "begin", "<domain><name>vm1"), 0);
	assert_int_equal(run("start", "begin", "<domain><name>vm1"), 0);
	assert_int_equal(run("start", "begin", ""), 0);
	assert_int_equal(w.tsc_calls + w.create_calls + w.spawn_calls, 0);
	assert_non_null(strstr(hook_log_last_error(), "domain 'vm1': start begin: domain XML"));
}

static void bad_config_falls_back_to_defaults(void **state)
{
	(void)state;
	/* strict is in the bad file, so it does not count: defaults, exit 0 */
	set_config("{\"strict\": true, \"bogus\": 1, \"tsc_buffer_kb\": 8}");
	w.tsc_ret = -EIO;
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.tsc_calls, 1);
	assert_int_equal(w.create_tsc_kb, 1024);
	assert_int_equal(w.spawn_calls, 0);
}

static void tracing_failure_fails_start_only_when_strict(void **state)
{
	(void)state;
	/* no -tsc instance (kvm not loaded): not traced either way */
	w.tsc_ret = -ENOENT;
	assert_int_equal(run("start", "begin", DOMXML), 0);
	set_config("{\"strict\": true}");
	assert_int_equal(run("start", "begin", DOMXML), 1);
	assert_int_equal(w.spawn_calls, 0);
	assert_non_null(strstr(hook_log_last_error(), "cannot switch host tracing on"));
	/* strict waits for the main instance too, and removes the -tsc one on failure */
	w.tsc_ret = 0;
	w.create_ret = -EIO;
	assert_int_equal(run("start", "begin", DOMXML), 1);
	assert_int_equal(w.create_calls, 1);
	assert_int_equal(w.destroy_calls, 1);
	assert_int_equal(w.spawn_calls, 0);
}

static void unmatched_events_are_only_a_warning(void **state)
{
	(void)state;
	set_config("{\"strict\": true}");
	w.create_ret = 2;
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.spawn_calls, 1);
}

static void spawn_failure_removes_the_instances(void **state)
{
	(void)state;
	w.spawn_ret = -ENOENT;
	assert_int_equal(run("start", "begin", DOMXML), 0);
	/* the main instance's worker, then the detached remover */
	assert_int_equal(w.detach_calls, 2);
	set_config("{\"strict\": true}");
	assert_int_equal(run("start", "begin", DOMXML), 1);
}

static void slow_recorder_exec_keeps_the_instances(void **state)
{
	(void)state;
	/* forked, but no sign of its exec within the wait: it runs later */
	w.spawn_ret = -ETIMEDOUT;
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.spawn_calls, 1);
	/* only the main instance's worker; no remover, nothing destroyed */
	assert_int_equal(w.detach_calls, 1);
	assert_int_equal(w.destroy_calls, 0);
	assert_true(w.exists);
	set_config("{\"strict\": true}");
	assert_int_equal(run("start", "begin", DOMXML), 0);
}

static void missing_recorder_means_no_instances(void **state)
{
	(void)state;
	setenv("VT_CLI", "/nonexistent/virt-trace", 1);
	assert_int_equal(run("start", "begin", DOMXML), 0);
	set_config("{\"strict\": true}");
	assert_int_equal(run("prepare", "begin", DOMXML), 1);
	assert_int_equal(run("start", "begin", DOMXML), 1);
	assert_int_equal(w.tsc_calls + w.create_calls + w.spawn_calls + w.detach_calls, 0);
	assert_non_null(strstr(hook_log_last_error(), "/nonexistent/virt-trace"));
}

static void strict_bad_metadata_fails_prepare(void **state)
{
	(void)state;
	set_config("{\"strict\": true}");
	assert_int_equal(
	    run("prepare", "begin",
		"<domain><name>vm1</name><metadata><vt:trace "
		"xmlns:vt='urn:x-virt-trace:1' enabled='perhaps'/></metadata></domain>"),
	    1);
	set_config("{}");
	assert_int_equal(
	    run("prepare", "begin",
		"<domain><name>vm1</name><metadata><vt:trace "
		"xmlns:vt='urn:x-virt-trace:1' enabled='perhaps'/></metadata></domain>"),
	    0);
}

static void prepare_hands_creation_to_a_worker(void **state)
{
	(void)state;
	assert_int_equal(run("prepare", "begin", DOMXML), 0);
	assert_int_equal(w.detach_calls, 1);
	assert_int_equal(w.tsc_calls + w.create_calls, 0);
}

static void start_takes_the_prepared_tsc_instance(void **state)
{
	char path[4096];

	(void)state;
	/* what the worker leaves once the -tsc instance traces */
	snprintf(path, sizeof(path), "%s/run", tmp);
	mkdir(path, 0750);
	write_file("run/vm1.tsc-prepared", "");
	w.exists = true;
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.tsc_calls + w.create_calls + w.detach_calls, 0);
	assert_int_equal(w.spawn_calls, 1);
	/* the stamp is used up: the next start creates them itself (stale ones recreated) */
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.tsc_calls, 1);
	assert_int_equal(w.detach_calls, 1);
}

static void start_does_not_wait_for_the_main_instance(void **state)
{
	char path[4096];
	int busy;

	(void)state;
	snprintf(path, sizeof(path), "%s/run", tmp);
	mkdir(path, 0750);
	write_file("run/vm1.tsc-prepared", "");
	w.exists = true;
	/* the worker still sets the main instance up: it holds .setup */
	busy = vt_instances_lock("vm1", false, 0);
	assert_true(busy >= 0);
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.tsc_calls + w.create_calls, 0);
	assert_int_equal(w.spawn_calls, 1);
	/* strict waits for .setup: it would block here, so it is not run */
	close(busy);
}

static void start_waits_for_the_tsc_part_of_the_worker(void **state)
{
	char path[4096];
	int lock, status;
	pid_t pid;

	(void)state;
	snprintf(path, sizeof(path), "%s/run", tmp);
	mkdir(path, 0750);
	lock = vt_instances_lock("vm1", true, 0);
	assert_true(lock >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the worker: the -tsc instance traces 100 ms later */
		usleep(100000);
		write_file("run/vm1.tsc-prepared", "");
		_exit(0);
	}
	close(lock);
	w.exists = true;
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.tsc_calls + w.create_calls, 0);
	assert_int_equal(w.spawn_calls, 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void strict_start_takes_prepared_instances(void **state)
{
	char path[4096];

	(void)state;
	set_config("{\"strict\": true}");
	snprintf(path, sizeof(path), "%s/run", tmp);
	mkdir(path, 0750);
	write_file("run/vm1.prepared", "");
	w.exists = true;
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.tsc_calls + w.create_calls, 0);
	assert_int_equal(w.spawn_calls, 1);
	assert_int_equal(run("start", "begin", DOMXML), 0);
	assert_int_equal(w.tsc_calls + w.create_calls, 2);
}

static void started_sends_qemu_pid(void **state)
{
	(void)state;
	write_file("vm1.pid", "31337\n");
	w.exists = true;
	assert_int_equal(run("started", "begin", DOMXML), 0);
	assert_int_equal(w.send_calls, 1);
	assert_string_equal(w.sent[0], "started 31337");
}

static void started_without_recorder_goes_on(void **state)
{
	(void)state;
	write_file("vm1.pid", "31337");
	w.exists = true;
	for (int i = 0; i < 8; i++)
		w.send_ret[i] = -ECONNREFUSED;
	assert_int_equal(run("started", "begin", DOMXML), 0);
	assert_true(w.send_calls >= 1);
	/* untraced (no instance): not even asked */
	w.exists = false;
	w.send_calls = 0;
	assert_int_equal(run("started", "begin", DOMXML), 0);
	assert_int_equal(w.send_calls, 0);
}

static void started_with_bad_pid_file_goes_on(void **state)
{
	(void)state;
	write_file("vm1.pid", "not a pid");
	w.exists = true;
	assert_int_equal(run("started", "begin", DOMXML), 0);
	assert_int_equal(w.send_calls, 0);
}

static void stopped_sends_stop(void **state)
{
	(void)state;
	assert_int_equal(run("stopped", "end", DOMXML), 0);
	assert_int_equal(w.send_calls, 1);
	assert_string_equal(w.sent[0], "stop");
	w.send_ret[1] = -ETIMEDOUT;
	assert_int_equal(run("stopped", "end", ""), 0);
}

static void release_leaves_a_live_recorder_alone(void **state)
{
	(void)state;
	w.exists = true;
	w.locked = true;
	assert_int_equal(run("release", "end", DOMXML), 0);
	assert_int_equal(w.detach_calls + w.destroy_calls, 0);
	w.locked = false;
	assert_int_equal(run("release", "end", DOMXML), 0);
	assert_int_equal(w.detach_calls, 1);
	/* nothing there: nothing to do */
	w.exists = false;
	assert_int_equal(run("release", "end", DOMXML), 0);
	assert_int_equal(w.detach_calls, 1);
}

static void release_recovers_a_run_whose_recorder_died(void **state)
{
	struct vt_errbuf eb = {""};
	struct vt_run left;

	(void)state;
	/* a run left in state recording, lock free: what a SIGKILLed recorder leaves */
	assert_int_equal(vt_run_create("vm1", UUID, &left, &eb), 0);
	vt_run_close(&left);
	assert_int_equal(run("release", "end", DOMXML), 0);
	assert_int_equal(w.detach_calls, 1);
	/* a live recorder: left alone */
	w.locked = true;
	assert_int_equal(run("release", "end", DOMXML), 0);
	assert_int_equal(w.detach_calls, 1);
}

static void reconnect_restarts_a_dead_recorder(void **state)
{
	(void)state;
	w.exists = true;
	w.send_ret[0] = -ENOENT;
	write_file("vm1.pid", "4711\n");
	assert_int_equal(run("reconnect", "begin", DOMXML), 0);
	assert_string_equal(w.sent[0], "reconnect");
	assert_int_equal(w.spawn_calls, 1);
	/* QEMU runs and no 'started' will come: the recorder gets the pid at once */
	assert_int_equal(w.spawn_qemu_pid, 4711);
}

static void reconnect_always_exits_zero(void **state)
{
	static const struct {
		const char *name;
		bool exists, locked;
		int ping, spawn, spawns;
	} cases[] = {
	    {"recorder_answers", true, true, 0, 0, 0},
	    {"untraced_domain", false, false, -ENOENT, 0, 0},
	    {"busy_recorder_left_alone", true, true, -ETIMEDOUT, 0, 0},
	    {"restart_fails", true, false, -ECONNREFUSED, -ENOENT, 1},
	};

	(void)state;
	set_config("{\"strict\": true}");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&w, 0, sizeof(w));
		w.exists = cases[i].exists;
		w.locked = cases[i].locked;
		w.send_ret[0] = cases[i].ping;
		w.spawn_ret = cases[i].spawn;
		if (run("reconnect", "begin", i % 2 ? "" : DOMXML) != 0)
			fail_msg("%s: not 0", cases[i].name);
		if (w.spawn_calls != cases[i].spawns)
			fail_msg("%s: %d spawns", cases[i].name, w.spawn_calls);
	}
}

/* ---- detach.c, for real ---- */

/* the fd numbers and targets, session and cwd of @pid, as one string */
static void describe_process(pid_t pid, char *out, size_t len)
{
	char path[128], link[256], stat[1024], *p;
	size_t o = 0;
	int sid = -1;
	FILE *f;

	out[0] = '\0';
	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		o += (size_t)snprintf(out + o, len - o, "%d=%s ", fd, link);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(stat, sizeof(stat), f));
	fclose(f);
	/* after "(comm)": state ppid pgrp session */
	p = strrchr(stat, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %d", &sid), 1);
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	{
		ssize_t n = readlink(path, link, sizeof(link) - 1);

		link[n > 0 ? n : 0] = '\0';
	}
	snprintf(out + o, len - o, "sid-is-ours=%d cwd=%s", sid == (int)getsid(0), link);
}

static void spawned_daemon_is_detached(void **state)
{
	char *argv[] = {"/bin/sleep", "30", NULL};
	struct vt_errbuf eb = {""};
	int leak = open("/dev/null", O_RDONLY); /* not O_CLOEXEC: must not reach the daemon */
	char got[4096];
	pid_t pid;

	(void)state;
	assert_true(leak >= 3);
	assert_int_equal(vt_spawn_detached(argv, false, -1, 2000, &pid, &eb), 0);
	close(leak);
	assert_true(pid > 0);
	/* vt_spawn_detached returned after the exec: what sleep has now, it inherited */
	describe_process(pid, got, sizeof(got));
	kill(pid, SIGTERM);
	assert_string_equal(got, "0=/dev/null 1=/dev/null 2=/dev/null sid-is-ours=0 cwd=/");
}

static void ready_byte_ends_the_wait(void **state)
{
	/* like the recorder: 'r' on $VT_READY_FD, then close it and go on running */
	char *argv[] = {"/bin/sh", "-c", "printf r >&$VT_READY_FD; exec 3>&-; exec /bin/sleep 30",
			NULL};
	char *never[] = {"/bin/sleep", "30", NULL};
	char *quits[] = {"/bin/true", NULL};
	struct vt_errbuf eb = {""};
	char got[4096];
	pid_t pid;

	(void)state;
	assert_int_equal(vt_spawn_detached(argv, true, -1, 5000, &pid, &eb), 0);
	assert_true(pid > 0);
	/* once sh has closed fd 3 and exec'd sleep, nothing of the pipe is left */
	for (int i = 0; i < 200; i++) {
		describe_process(pid, got, sizeof(got));
		if (!strncmp(got, "0=/dev/null 1=/dev/null 2=/dev/null sid", 39))
			break;
		usleep(10000);
	}
	kill(pid, SIGTERM);
	assert_string_equal(got, "0=/dev/null 1=/dev/null 2=/dev/null sid-is-ours=0 cwd=/");
	/* a program that never says ready: -ETIMEDOUT, pid known (time enough for the
	 * daemon's first word on a loaded host) */
	assert_int_equal(vt_spawn_detached(never, true, -1, 1000, &pid, &eb), -ETIMEDOUT);
	assert_true(pid > 0);
	kill(pid, SIGTERM);
	assert_non_null(strstr(eb.msg, "not ready within 1000 ms"));
	/* one that exits first: -ECHILD, pid known */
	assert_int_equal(vt_spawn_detached(quits, true, -1, 5000, &pid, &eb), -ECHILD);
	assert_true(pid > 0);
	assert_non_null(strstr(eb.msg, "exited before it was ready"));
}

/*
 * A caller that gave up waiting (a loaded host: 'start begin' has 40 ms) has closed its
 * end of the pipe before the daemon says it is detached: the daemon still runs. The storm
 * lost runs when this write killed it with SIGPIPE.
 */
static void daemon_runs_when_the_caller_gave_up(void **state)
{
	char path[4096], *argv[] = {"/bin/sh", "-c", "exec touch \"$0\"", path, NULL};
	struct vt_errbuf eb = {""};
	pid_t pid;

	(void)state;
	for (int round = 0; round < 10; round++) {
		snprintf(path, sizeof(path), "%s/ran-%d", tmp, round);
		/* 0 ms: the wait ends at once, nearly always before the daemon's first word */
		assert_int_equal(vt_spawn_detached(argv, false, -1, 0, &pid, &eb), -ETIMEDOUT);
		for (int i = 0; i < 500 && access(path, F_OK) < 0; i++)
			usleep(10000);
		assert_int_equal(access(path, F_OK), 0);
	}
}

/* the recorder gets its arguments and the domain lock as fd 4; while it holds the
 * domain, a second one is refused */
static void spawned_recorder_holds_the_domain_lock(void **state)
{
	char exe[4096], args[4096], got[512] = "";
	struct vt_errbuf eb = {""};
	pid_t pid, other;
	int lock = -EBUSY;
	FILE *f;

	(void)state;
	write_file("rec", "#!/bin/sh\n"
			  "[ -e /proc/$$/fd/4 ] && held=lock || held=nolock\n"
			  "echo \"$held $*\" >\"$0.tmp\" && mv \"$0.tmp\" \"$0.args\"\n"
			  "exec sleep 30\n");
	snprintf(exe, sizeof(exe), "%s/rec", tmp);
	snprintf(args, sizeof(args), "%s/rec.args", tmp);
	chmod(exe, 0755);
	assert_int_equal(vt_spawn_recorder(exe, "d1", "u-1", 123, 2000, &pid, &eb), 0);
	for (int i = 0; i < 500 && access(args, F_OK) < 0; i++)
		usleep(10000);
	f = fopen(args, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "lock record --domain d1 --lock-fd 4 --uuid u-1 --pid 123\n");
	assert_int_equal(vt_spawn_recorder(exe, "d1", NULL, 0, 2000, &other, &eb), -EBUSY);
	assert_int_equal(other, 0);
	/* the lock goes with the recorder */
	kill(pid, SIGTERM);
	for (int i = 0; i < 500 && lock == -EBUSY; i++) {
		lock = vt_run_lock_domain("d1", &eb);
		if (lock == -EBUSY)
			usleep(10000);
	}
	assert_true(lock >= 0);
	close(lock);
}

static void spawn_reports_exec_errors(void **state)
{
	char path[4096];
	char *argv[] = {path, NULL};
	struct vt_errbuf eb = {""};
	pid_t pid;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing", tmp);
	assert_int_equal(vt_spawn_detached(argv, false, -1, 1000, &pid, &eb), -ENOENT);
	write_file("notexec", "#!/bin/sh\n");
	snprintf(path, sizeof(path), "%s/notexec", tmp);
	assert_int_equal(vt_spawn_detached(argv, false, -1, 1000, &pid, &eb), -EACCES);
	/* executable, but no format the kernel knows: the exec in the daemon fails */
	write_file("garbage", "\x7f"
			      "ELFgarbage");
	snprintf(path, sizeof(path), "%s/garbage", tmp);
	chmod(path, 0755);
	assert_int_equal(vt_spawn_detached(argv, false, -1, 1000, &pid, &eb), -ENOEXEC);
	assert_non_null(strstr(eb.msg, "cannot start"));
}

static void cli_path_follows_env(void **state)
{
	(void)state;
	setenv("VT_CLI", "/x/virt-trace", 1);
	assert_string_equal(hook_cli_path(), "/x/virt-trace");
	unsetenv("VT_CLI");
	assert_string_equal(hook_cli_path(), VT_HOOK_CLI);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(domain_xml_gives_name_uuid_type),
	    T(bad_domain_xml_fails),
	    T(nul_in_xml_fails),
	    T(op_names_round_trip),
	    T(exit_status_policy),
	    T(ignored_ops_do_nothing),
	    T(start_creates_the_tsc_instance_then_spawns),
	    T(strict_start_creates_both_instances_then_spawns),
	    T(metadata_overrides_the_host_events),
	    T(excluded_domain_is_not_traced),
	    T(metadata_can_switch_tracing_off),
	    T(broken_xml_is_never_fatal),
	    T(bad_config_falls_back_to_defaults),
	    T(tracing_failure_fails_start_only_when_strict),
	    T(unmatched_events_are_only_a_warning),
	    T(spawn_failure_removes_the_instances),
	    T(slow_recorder_exec_keeps_the_instances),
	    T(missing_recorder_means_no_instances),
	    T(strict_bad_metadata_fails_prepare),
	    T(prepare_hands_creation_to_a_worker),
	    T(start_takes_the_prepared_tsc_instance),
	    T(start_does_not_wait_for_the_main_instance),
	    T(start_waits_for_the_tsc_part_of_the_worker),
	    T(strict_start_takes_prepared_instances),
	    T(started_sends_qemu_pid),
	    T(started_without_recorder_goes_on),
	    T(started_with_bad_pid_file_goes_on),
	    T(stopped_sends_stop),
	    T(release_leaves_a_live_recorder_alone),
	    T(release_recovers_a_run_whose_recorder_died),
	    T(reconnect_restarts_a_dead_recorder),
	    T(reconnect_always_exits_zero),
	    T(spawned_daemon_is_detached),
	    T(ready_byte_ends_the_wait),
	    T(daemon_runs_when_the_caller_gave_up),
	    T(spawned_recorder_holds_the_domain_lock),
	    T(spawn_reports_exec_errors),
	    T(cli_path_follows_env),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
