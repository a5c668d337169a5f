// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of agent/collector: qemu-ga replies replayed through
 * -Wl,--wrap=virDomainQemuAgentCommand (good, oversized, garbage, error, timeout),
 * base64, the guest-file and guest-exec helpers, and the probe's offset choice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "qga.h"

static char last_cmd[4096];
static virError fake_error;
static bool have_error;

char *__wrap_virDomainQemuAgentCommand(virDomainPtr d, const char *cmd, int timeout,
				       unsigned int flags);
char *__wrap_virDomainQemuAgentCommand(virDomainPtr d, const char *cmd, int timeout,
				       unsigned int flags)
{
	const char *reply;

	(void)d;
	(void)flags;
	assert_true(timeout > 0);	/* every call has a timeout */
	snprintf(last_cmd, sizeof(last_cmd), "%s", cmd);
	reply = mock_ptr_type(const char *);
	if (!reply) {
		have_error = true;
		return NULL;
	}
	have_error = false;
	return strdup(reply);
}

virErrorPtr __wrap_virGetLastError(void);
virErrorPtr __wrap_virGetLastError(void)
{
	return have_error ? &fake_error : NULL;
}

static virDomainPtr dom = (virDomainPtr)0x1;

static void b64_round_trips_every_length(void **state)
{
	uint8_t in[64], out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(in); len++) {
		char *s = NULL;
		size_t n = 99;

		assert_int_equal(coll_b64_encode(in, len, &s), 0);
		assert_int_equal(strlen(s), (len + 2) / 3 * 4);
		assert_int_equal(coll_b64_decode(s, strlen(s), out, sizeof(out), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(in, out, len);
		free(s);
	}
}

static void b64_decode_fails(void **state)
{
	uint8_t out[16];
	size_t n;

	(void)state;
	assert_int_equal(coll_b64_decode("abc", 3, out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(coll_b64_decode("ab!d", 4, out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(coll_b64_decode("a=bc", 4, out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(coll_b64_decode("ab==abcd", 8, out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(coll_b64_decode("YWJjZGVmZ2g=", 12, out, 4, &n), -EMSGSIZE);
}

static void qga_good_reply_gives_return(void **state)
{
	struct vt_errbuf eb = { "" };
	int64_t pid = 0;
	const char *args[] = { "tsc", NULL };

	(void)state;
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{\"pid\":4242}}");
	assert_int_equal(coll_exec(dom, "/tmp/virt-trace-agent", args, &pid, &eb), 0);
	assert_int_equal(pid, 4242);
	assert_non_null(strstr(last_cmd, "\"execute\":\"guest-exec\""));
	assert_non_null(strstr(last_cmd, "\"arg\":[\"tsc\"]"));
	assert_non_null(strstr(last_cmd, "\"capture-output\":true"));
}

static void qga_error_reply_fails(void **state)
{
	struct vt_errbuf eb = { "" };

	(void)state;
	will_return(__wrap_virDomainQemuAgentCommand,
		    "{\"error\":{\"class\":\"GenericError\",\"desc\":\"no such file\"}}");
	assert_int_equal(coll_ping(dom, 5, &eb), -EREMOTEIO);
	assert_non_null(strstr(eb.msg, "no such file"));
}

static void qga_oversized_reply_fails(void **state)
{
	struct vt_errbuf eb = { "" };
	size_t len = COLL_REPLY_MAX + 64;
	char *big = malloc(len + 1);

	(void)state;
	memset(big, ' ', len);
	memcpy(big, "{\"return\":\"", 11);
	memset(big + 11, 'A', len - 13);
	memcpy(big + len - 2, "\"}", 2);
	big[len] = '\0';
	will_return(__wrap_virDomainQemuAgentCommand, big);
	assert_int_equal(coll_ping(dom, 5, &eb), -EMSGSIZE);
	free(big);
}

static void qga_garbage_reply_fails(void **state)
{
	static const char *const garbage[] = {
		"{\"return\":", "not json", "{\"return\":{}} trailing", "[1,2]", "{\"other\":1}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		struct vt_errbuf eb = { "" };

		will_return(__wrap_virDomainQemuAgentCommand, garbage[i]);
		if (coll_ping(dom, 5, &eb) != -EBADMSG)
			fail_msg("'%s' was taken", garbage[i]);
	}
}

static void qga_timeout_fails(void **state)
{
	struct vt_errbuf eb = { "" };

	(void)state;
	fake_error = (virError){ .code = VIR_ERR_OPERATION_TIMEOUT,
				 .message = (char *)"timed out" };
	will_return(__wrap_virDomainQemuAgentCommand, NULL);
	assert_int_equal(coll_ping(dom, 5, &eb), -ETIMEDOUT);
	assert_non_null(strstr(eb.msg, "timed out"));
	fake_error = (virError){ .code = VIR_ERR_AGENT_UNRESPONSIVE,
				 .message = (char *)"not responding" };
	will_return(__wrap_virDomainQemuAgentCommand, NULL);
	assert_int_equal(coll_ping(dom, 5, &eb), -ENOTCONN);
}

static void file_read_all_joins_chunks(void **state)
{
	struct vt_errbuf eb = { "" };
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":1000}");
	will_return(__wrap_virDomainQemuAgentCommand,
		    "{\"return\":{\"count\":3,\"buf-b64\":\"YWJj\",\"eof\":false}}");
	will_return(__wrap_virDomainQemuAgentCommand,
		    "{\"return\":{\"count\":2,\"buf-b64\":\"ZGU=\",\"eof\":true}}");
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{}}");	/* close */
	assert_int_equal(coll_file_read_all(dom, "/tmp/c", 100, &buf, &len, &eb), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "abcde", 5);
	assert_non_null(strstr(last_cmd, "guest-file-close"));
	free(buf);
}

static void file_read_all_bad_count_fails(void **state)
{
	struct vt_errbuf eb = { "" };
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":1000}");
	will_return(__wrap_virDomainQemuAgentCommand,
		    "{\"return\":{\"count\":9,\"buf-b64\":\"YWJj\",\"eof\":true}}");
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{}}");	/* still closed */
	assert_int_equal(coll_file_read_all(dom, "/tmp/c", 100, &buf, &len, &eb), -EBADMSG);
	assert_non_null(strstr(last_cmd, "guest-file-close"));
}

static void file_read_all_over_max_fails(void **state)
{
	struct vt_errbuf eb = { "" };
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":1000}");
	will_return(__wrap_virDomainQemuAgentCommand,
		    "{\"return\":{\"count\":3,\"buf-b64\":\"YWJj\",\"eof\":false}}");
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{}}");
	assert_int_equal(coll_file_read_all(dom, "/tmp/c", 2, &buf, &len, &eb), -EFBIG);
}

static void file_write_sends_base64(void **state)
{
	struct vt_errbuf eb = { "" };

	(void)state;
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":1001}");
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{\"count\":3,\"eof\":false}}");
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{}}");
	assert_int_equal(coll_file_write(dom, "/tmp/a", "abc", 3, &eb), 0);
	/* a short write is an error */
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":1001}");
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{\"count\":1,\"eof\":false}}");
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{}}");
	assert_int_equal(coll_file_write(dom, "/tmp/a", "abc", 3, &eb), -EIO);
}

static void exec_wait_polls_until_exited(void **state)
{
	struct vt_errbuf eb = { "" };
	struct coll_exec_status st;
	const char *args[] = { "tsc", NULL };

	(void)state;
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{\"pid\":7}}");
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{\"exited\":false}}");
	/* {"guest_tsc":5} */
	will_return(__wrap_virDomainQemuAgentCommand,
		    "{\"return\":{\"exited\":true,\"exitcode\":0,"
		    "\"out-data\":\"eyJndWVzdF90c2MiOjV9\"}}");
	assert_int_equal(coll_exec_wait(dom, "/a", args, 5000, &st, &eb), 0);
	assert_true(st.exited);
	assert_int_equal(st.exitcode, 0);
	assert_string_equal((char *)st.out, "{\"guest_tsc\":5}");
	coll_exec_status_fini(&st);
	/* garbage output data */
	will_return(__wrap_virDomainQemuAgentCommand, "{\"return\":{\"pid\":8}}");
	will_return(__wrap_virDomainQemuAgentCommand,
		    "{\"return\":{\"exited\":true,\"exitcode\":0,\"out-data\":\"@@@\"}}");
	assert_int_equal(coll_exec_wait(dom, "/a", args, 5000, &st, &eb), -EBADMSG);
}

static void probe_picks_shortest_round_trip(void **state)
{
	const struct coll_probe_sample s[] = {
		{ 1000, 1600, 5000 },	/* rtt 600 */
		{ 2000, 2100, 6550 },	/* rtt 100: offset 6550 - 2050 = 4500 */
		{ 3000, 3300, 7000 },
	};
	struct coll_probe p;

	(void)state;
	assert_int_equal(coll_probe_pick(s, 3, &p), 0);
	assert_int_equal(p.offset, 4500);
	assert_int_equal(p.error_ticks, 50);
	assert_int_equal(p.host_tsc, 2050);
	assert_int_equal(p.rtt_min, 100);
	assert_int_equal(p.rtt_max, 600);
	assert_int_equal(p.samples, 3);
}

static void probe_negative_offset_wraps(void **state)
{
	const struct coll_probe_sample s[] = { { 1000000, 1000010, 5 } };
	struct coll_probe p;

	(void)state;
	assert_int_equal(coll_probe_pick(s, 1, &p), 0);
	assert_int_equal((int64_t)p.offset, 5 - 1000005);
}

static void probe_without_usable_sample_fails(void **state)
{
	const struct coll_probe_sample s[] = { { 2000, 1000, 5 } };	/* host TSC backwards */
	struct coll_probe p;

	(void)state;
	assert_int_equal(coll_probe_pick(s, 1, &p), -EINVAL);
	assert_int_equal(coll_probe_pick(s, 0, &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(b64_round_trips_every_length),
		cmocka_unit_test(b64_decode_fails),
		cmocka_unit_test(qga_good_reply_gives_return),
		cmocka_unit_test(qga_error_reply_fails),
		cmocka_unit_test(qga_oversized_reply_fails),
		cmocka_unit_test(qga_garbage_reply_fails),
		cmocka_unit_test(qga_timeout_fails),
		cmocka_unit_test(file_read_all_joins_chunks),
		cmocka_unit_test(file_read_all_bad_count_fails),
		cmocka_unit_test(file_read_all_over_max_fails),
		cmocka_unit_test(file_write_sends_base64),
		cmocka_unit_test(exec_wait_polls_until_exited),
		cmocka_unit_test(probe_picks_shortest_round_trip),
		cmocka_unit_test(probe_negative_offset_wraps),
		cmocka_unit_test(probe_without_usable_sample_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
