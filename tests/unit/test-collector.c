// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of agent/collector: qemu-ga replies replayed through
 * -Wl,--wrap=virDomainQemuAgentCommand (good, oversized, garbage, error, timeout),
 * base64, the guest-file and guest-exec helpers, the probe's offset choice, and whole
 * collects from a hostile agent (pull.c): oversized, truncated, garbage, wrong-boot,
 * replayed and slow answers, each dropped with its reason; the collector's libvirt
 * connection (conn.c, and collector.c's thread) with virConnectOpen and the domain calls
 * faked (--wrap): a lost connection told from a failing guest, reopened with growing
 * waits, given up at stop, and counted in spool/guest.json.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json.h>

#include "collector.h"
#include "qga.h"
#include "util.h"
#include "vt-test.h"
#include "vt/page.h"

static char last_cmd[4096];
static char cmd_log[64][160];	/* the commands of one case, cut */
static size_t ncmds;
static int last_timeout;
static virError fake_error;
static bool have_error;
static int64_t running_pid;	/* guest-exec-status of this pid: still running, forever */

char *__wrap_virDomainQemuAgentCommand(virDomainPtr d, const char *cmd, int timeout,
				       unsigned int flags);
char *__wrap_virDomainQemuAgentCommand(virDomainPtr d, const char *cmd, int timeout,
				       unsigned int flags)
{
	const char *reply;

	(void)d;
	(void)flags;
	assert_true(timeout > 0);	/* every call has a timeout */
	last_timeout = timeout;
	snprintf(last_cmd, sizeof(last_cmd), "%s", cmd);
	if (ncmds < 64)
		snprintf(cmd_log[ncmds++], sizeof(cmd_log[0]), "%s", cmd);
	if (running_pid && strstr(cmd, "guest-exec-status")) {
		char pid[48];

		snprintf(pid, sizeof(pid), "\"pid\":%lld}", (long long)running_pid);
		if (strstr(cmd, pid)) {
			have_error = false;
			return strdup("{\"return\":{\"exited\":false}}");
		}
	}
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

/* libvirt refuses to pass a reply over its 4 MiB RPC string: a reply too big, not a gone agent */
static void qga_reply_over_rpc_limit_fails(void **state)
{
	struct vt_errbuf eb = { "" };

	(void)state;
	fake_error = (virError){ .code = VIR_ERR_RPC,
				 .message = (char *)"Unable to encode message payload" };
	will_return(__wrap_virDomainQemuAgentCommand, NULL);
	assert_int_equal(coll_ping(dom, 5, &eb), -EMSGSIZE);
	fake_error = (virError){ .code = VIR_ERR_RPC, .message = (char *)"something else" };
	will_return(__wrap_virDomainQemuAgentCommand, NULL);
	assert_int_equal(coll_ping(dom, 5, &eb), -EREMOTEIO);
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

/* ---- pull.c: whole collects from a hostile agent ---- */

#define BOOT "0b5e3c4a-2f7d-4e1a-9c3b-6d8e1f2a3b4c"
#define OTHER_BOOT "7f000000-2f7d-4e1a-9c3b-6d8e1f2a3b4c"
#define CHUNK_PATH COLL_AGENT_DIR "/chunk-5.bin"
#define PAGE 4096
#define ID_SWITCH 317

static char *replies[256];	/* the replies queued, freed after each case */
static size_t nreplies;

static const char *keep(char *s)
{
	assert_non_null(s);
	assert_true(nreplies < 256);
	replies[nreplies++] = s;
	return s;
}

static int reset(void **state)
{
	(void)state;
	for (size_t i = 0; i < nreplies; i++)
		free(replies[i]);
	nreplies = 0;
	ncmds = 0;
	running_pid = 0;
	coll_deadline_watch(NULL);
	return 0;
}

static void queue(const char *reply)
{
	will_return(__wrap_virDomainQemuAgentCommand, reply);
}

static char *b64(const void *data, size_t len)
{
	char *s = NULL;

	assert_int_equal(coll_b64_encode(data, len, &s), 0);
	return s;
}

/* guest-exec of the agent and its status: exit code @code, stdout @out */
static void reply_agent(int code, const void *out, size_t len)
{
	char *enc = b64(out, len), *st;

	assert_true(asprintf(&st, "{\"return\":{\"exited\":true,\"exitcode\":%d,\"out-data\":\"%s\"}}",
			     code, enc) > 0);
	free(enc);
	queue("{\"return\":{\"pid\":7}}");
	queue(keep(st));
}

static void reply_agent_json(const char *json)
{
	reply_agent(0, json, strlen(json));
}

/* guest-file-open, -read (1 MiB at a time), -close of @len bytes */
static void reply_file(const uint8_t *data, size_t len)
{
	size_t off = 0;

	queue("{\"return\":1000}");
	do {
		size_t n = len - off < COLL_FILE_CHUNK ? len - off : COLL_FILE_CHUNK;
		char *enc = b64(data + off, n), *r;

		assert_true(asprintf(&r, "{\"return\":{\"count\":%zu,\"buf-b64\":\"%s\",\"eof\":%s}}",
				     n, enc, off + n == len ? "true" : "false") > 0);
		free(enc);
		queue(keep(r));
		off += n;
	} while (off < len);
	queue("{\"return\":{}}");
}

/* rm -f of the chunk in the guest */
static void reply_rm(void)
{
	queue("{\"return\":{\"pid\":8}}");
	queue("{\"return\":{\"exited\":true,\"exitcode\":0}}");
}

static const char *collect_reply(size_t bytes, const char *boot)
{
	char *r;

	assert_true(asprintf(&r, "{\"path\":\"" CHUNK_PATH "\",\"bytes\":%zu,\"seq\":5,"
			     "\"boot_id\":\"%s\",\"more\":false}", bytes, boot) > 0);
	return keep(r);
}

static struct coll_session *session(void)
{
	static const char info[] =
		"{\"boot_id\":\"" BOOT "\",\"page_size\":4096,\"long_size\":8,"
		"\"cpus\":[{\"cpu\":1,\"apic_id\":2},{\"cpu\":0,\"apic_id\":0}],"
		"\"formats\":{\"header_page\":\"field: u64 timestamp;\","
		"\"ftrace\":[{\"system\":\"ftrace\",\"name\":\"print\",\"format\":\"name: print\\nID: 5\\n\"}],"
		"\"events\":[{\"system\":\"sched\",\"name\":\"sched_switch\","
		"\"format\":\"name: sched_switch\\nID: 317\\nformat:\\n\"}]}}";
	struct coll_session *s = calloc(1, sizeof(*s));
	struct json_object *o = json_tokener_parse(info);
	struct vt_errbuf eb = { "" };

	assert_non_null(s);
	assert_non_null(o);
	if (coll_session_from_info(s, o, &eb))
		fail_msg("info: %s", eb.msg);
	json_object_put(o);
	return s;
}

/* a chunk of @boot, seq 5: CPU 0 and 1 with one page of 10 sched_switch events each */
static uint8_t *chunk(const char *boot, size_t *ret_len)
{
	struct vt_chunk *c = calloc(1, sizeof(*c));
	size_t hlen = 80 + 2 * 24, len = hlen + 2 * PAGE;
	uint8_t *buf = calloc(1, len);

	assert_non_null(c);
	assert_non_null(buf);
	c->seq = 5;
	c->guest_tsc = 1u << 30;
	strcpy(c->boot_id, boot);
	c->page_size = PAGE;
	c->ncpus = 2;
	for (uint32_t i = 0; i < 2; i++) {
		struct vt_page_enc pe;
		const void *page;

		c->cpus[i] = (struct vt_chunk_cpu){ .cpu = i, .npages = 1 };
		assert_int_equal(vt_page_enc_init(&pe, PAGE, 8), 0);
		for (int k = 0; k < 10; k++) {
			uint8_t ev[16] = { 0 };

			vtc_put_le16(ev, ID_SWITCH);
			assert_int_equal(vt_page_enc_add(&pe, 1000 + (uint64_t)k * 10, ev, 16), 0);
		}
		page = vt_page_enc_finish(&pe);
		memcpy(buf + hlen + i * PAGE, page, PAGE);
		vt_page_enc_fini(&pe);
	}
	assert_int_equal(vt_chunk_header(c, buf, len, &hlen), 0);
	free(c);
	*ret_len = len;
	return buf;
}

struct pulled {
	int r;
	enum coll_bad why;
	size_t len;
	bool more;
	struct vt_errbuf eb;
};

static struct pulled pull(struct coll_session *s, int timeout_ms)
{
	static struct vt_chunk ch;
	struct pulled p = { .eb = { "" } };
	uint8_t *buf = NULL;
	bool more = true;

	p.r = coll_pull(dom, "/tmp/virt-trace-agent", "collect", timeout_ms, s, &ch, &buf, &p.len,
			&more, &p.why, &p.eb);
	p.more = more;
	if (p.r < 0)
		assert_null(buf);
	free(buf);
	return p;
}

static void pull_fails(struct coll_session *s, int timeout_ms, enum coll_bad want,
		       const char *msg)
{
	struct pulled p = pull(s, timeout_ms);

	if (p.r >= 0 || p.why != want)
		fail_msg("want %s, got r %d reason %s (%s)", coll_bad_name(want), p.r,
			 coll_bad_name(p.why), p.eb.msg);
	if (msg && !strstr(p.eb.msg, msg))
		fail_msg("'%s' does not say '%s'", p.eb.msg, msg);
}

static bool sent(const char *what)
{
	for (size_t i = 0; i < ncmds; i++)
		if (strstr(cmd_log[i], what))
			return true;
	return false;
}

static void pull_takes_a_good_chunk(void **state)
{
	struct coll_session *s = session();
	size_t len;
	uint8_t *c = chunk(BOOT, &len);
	struct pulled p;

	(void)state;
	reply_agent_json(collect_reply(len, BOOT));
	reply_file(c, len);
	reply_rm();
	p = pull(s, 5000);
	if (p.r != 1)
		fail_msg("r %d: %s", p.r, p.eb.msg);
	assert_int_equal(p.len, len);
	assert_int_equal(s->next_seq, 6);
	assert_int_equal(s->stats.events, 20);
	assert_int_equal(s->last_ts[1], 1090);
	assert_true(sent("\"arg\":[\"-f\",\"" CHUNK_PATH "\"]"));
	/* the same chunk again: a replay */
	reply_agent_json(collect_reply(len, BOOT));
	reply_file(c, len);
	reply_rm();
	pull_fails(s, 5000, COLL_BAD_SEQ, "seq 5, expected 6");
	free(c);
	free(s);
}

static void pull_without_chunk_takes_nothing(void **state)
{
	struct coll_session *s = session();
	struct pulled p;

	(void)state;
	reply_agent_json("{\"more\":false}\n");
	p = pull(s, 5000);
	assert_int_equal(p.r, 0);
	free(s);
}

static void pull_oversized_output_fails(void **state)
{
	struct coll_session *s = session();
	size_t len = COLL_EXEC_OUT_MAX + 100;
	char *big = malloc(len);

	(void)state;
	memset(big, ' ', len);
	memcpy(big, "{\"more\":false}", 14);
	reply_agent(0, big, len);
	pull_fails(s, 5000, COLL_BAD_REPLY_SIZE, "more than 1048576 bytes of output");
	free(big);
	free(s);
}

static void pull_oversized_chunk_said_fails(void **state)
{
	struct coll_session *s = session();

	(void)state;
	reply_agent_json(collect_reply((size_t)VT_CHUNK_MAX_BYTES + 1, BOOT));
	reply_rm();	/* not read, but deleted */
	pull_fails(s, 5000, COLL_BAD_TOO_BIG, "chunk of 8388609 bytes refused");
	assert_false(sent("guest-file-open"));
	free(s);
}

static void pull_chunk_longer_than_said_fails(void **state)
{
	struct coll_session *s = session();
	size_t len;
	uint8_t *c = chunk(BOOT, &len);

	(void)state;
	reply_agent_json(collect_reply(len - PAGE, BOOT));
	reply_file(c, len);
	reply_rm();
	pull_fails(s, 5000, COLL_BAD_TOO_BIG, "the agent said");
	free(c);
	free(s);
}

static void pull_oversized_file_fails(void **state)
{
	struct coll_session *s = session();
	size_t len = VT_CHUNK_MAX_BYTES + COLL_FILE_CHUNK;
	uint8_t *big = calloc(1, len);

	(void)state;
	assert_non_null(big);
	reply_agent_json(collect_reply(1000, BOOT));
	/* the reads stop past the limit: 9 of the 10 are asked for, then close */
	queue("{\"return\":1000}");
	for (size_t off = 0; off <= VT_CHUNK_MAX_BYTES; off += COLL_FILE_CHUNK) {
		char *enc = b64(big, COLL_FILE_CHUNK), *r;

		assert_true(asprintf(&r, "{\"return\":{\"count\":%u,\"buf-b64\":\"%s\",\"eof\":false}}",
				     COLL_FILE_CHUNK, enc) > 0);
		free(enc);
		queue(keep(r));
	}
	queue("{\"return\":{}}");
	reply_rm();
	pull_fails(s, 5000, COLL_BAD_TOO_BIG, "more than 8388608 bytes");
	free(big);
	free(s);
}

static void pull_truncated_chunk_fails(void **state)
{
	struct coll_session *s = session();
	size_t len;
	uint8_t *c = chunk(BOOT, &len);

	(void)state;
	reply_agent_json(collect_reply(len, BOOT));
	reply_file(c, len - 1000);
	reply_rm();
	pull_fails(s, 5000, COLL_BAD_TRUNCATED, "bytes, the agent said");
	free(c);
	free(s);
}

static void pull_garbage_output_fails(void **state)
{
	static const char *const garbage[] = {
		"garbage", "{\"path\":", "[1]", "{\"more\":\"yes\"}", "{\"path\":7,\"bytes\":1}",
		"{\"path\":\"" CHUNK_PATH "\"}", "{\"path\":\"" CHUNK_PATH "\",\"bytes\":-1}",
		"{\"more\":false} trailing", "{\"boot_id\":\"../../x\",\"more\":false}",
	};
	struct coll_session *s = session();

	(void)state;
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		reply_agent_json(garbage[i]);
		pull_fails(s, 5000, COLL_BAD_REPLY, NULL);
	}
	free(s);
}

static void pull_path_outside_agent_dir_fails(void **state)
{
	static const char *const paths[] = {
		"/etc/shadow", COLL_AGENT_DIR "/chunk-1/../../../etc/shadow", COLL_AGENT_DIR "/x",
	};
	struct coll_session *s = session();

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *r;

		assert_true(asprintf(&r, "{\"path\":\"%s\",\"bytes\":100,\"more\":false}",
				     paths[i]) > 0);
		reply_agent_json(keep(r));
		pull_fails(s, 5000, COLL_BAD_REPLY, "outside " COLL_AGENT_DIR);
	}
	/* neither read nor deleted */
	assert_false(sent("guest-file-open"));
	assert_false(sent("/bin/rm"));
	free(s);
}

static void pull_garbage_chunk_fails(void **state)
{
	struct coll_session *s = session();
	uint64_t seed = 42;
	uint8_t junk[20000];

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)vt_test_rand(&seed);
	reply_agent_json(collect_reply(sizeof(junk), BOOT));
	reply_file(junk, sizeof(junk));
	reply_rm();
	pull_fails(s, 5000, COLL_BAD_HEADER, "chunk: bad magic");
	free(s);
}

static void pull_wrong_boot_chunk_fails(void **state)
{
	struct coll_session *s = session();
	size_t len;
	uint8_t *c = chunk(OTHER_BOOT, &len);

	(void)state;
	reply_agent_json(collect_reply(len, BOOT));	/* the reply says ours */
	reply_file(c, len);
	reply_rm();
	pull_fails(s, 5000, COLL_BAD_BOOT, "chunk: boot " OTHER_BOOT);
	free(c);
	free(s);
}

/* qemu-ga's error for the chunk file (gone, unreadable): the reply was wrong */
static void pull_missing_chunk_file_fails(void **state)
{
	struct coll_session *s = session();

	(void)state;
	reply_agent_json(collect_reply(1000, BOOT));
	queue("{\"error\":{\"class\":\"GenericError\",\"desc\":\"No such file\"}}");
	reply_rm();
	pull_fails(s, 5000, COLL_BAD_REPLY, "No such file");
	free(s);
}

/* A new boot in the reply is no bad chunk: the collector sets the agent up again. */
static void pull_new_boot_is_not_a_bad_chunk(void **state)
{
	struct coll_session *s = session();
	struct pulled p;

	(void)state;
	reply_agent_json(collect_reply(1000, OTHER_BOOT));
	p = pull(s, 5000);
	assert_int_equal(p.r, -ESTALE);
	assert_int_equal(p.why, COLL_BAD_N);
	free(s);
}

static void pull_bad_pages_fail(void **state)
{
	struct coll_session *s = session();
	size_t len;
	uint8_t *c = chunk(BOOT, &len);

	(void)state;
	vtc_put_le64(c + 80 + 48 + PAGE + 8, PAGE);	/* CPU 1: commit past the page */
	reply_agent_json(collect_reply(len, BOOT));
	reply_file(c, len);
	reply_rm();
	pull_fails(s, 5000, COLL_BAD_PAGE, "chunk: CPU 1 page 0: page: commit 4096");
	free(c);
	c = chunk(BOOT, &len);
	vtc_put_le16(c + 80 + 48 + 16 + 4, 999);	/* CPU 0's first event: id 999 */
	reply_agent_json(collect_reply(len, BOOT));
	reply_file(c, len);
	reply_rm();
	pull_fails(s, 5000, COLL_BAD_EVENT, "event id 999 is not in the guest's formats");
	free(c);
	free(s);
}

/* An agent that never ends: killed at the time limit, the collect dropped. */
static void pull_slow_agent_is_killed(void **state)
{
	struct coll_session *s = session();
	int64_t t0 = coll_now_ms();

	(void)state;
	running_pid = 7;
	queue("{\"return\":{\"pid\":7}}");
	/* kill -KILL 7 through guest-exec */
	queue("{\"return\":{\"pid\":99}}");
	queue("{\"return\":{\"exited\":true,\"exitcode\":0}}");
	pull_fails(s, 300, COLL_BAD_TIMEOUT, "still running after");
	assert_true(sent("\"path\":\"/bin/kill\",\"arg\":[\"-KILL\",\"7\"]"));
	assert_true(coll_now_ms() - t0 < 5000);	/* a bound, not a measurement */
	free(s);
}

/* qemu-ga itself does not answer in time (libvirt's timeout). */
static void pull_agent_call_timeout_fails(void **state)
{
	struct coll_session *s = session();

	(void)state;
	fake_error = (virError){ .code = VIR_ERR_OPERATION_TIMEOUT, .message = (char *)"timed out" };
	queue(NULL);
	pull_fails(s, 5000, COLL_BAD_TIMEOUT, "timed out");
	free(s);
}

/* A deadline cuts every call's timeout and then sends nothing. */
static void deadline_cuts_every_call(void **state)
{
	static _Atomic int64_t deadline;
	struct vt_errbuf eb = { "" };

	(void)state;
	atomic_store(&deadline, coll_now_ms() + 1500);
	coll_deadline_watch(&deadline);
	queue("{\"return\":{}}");
	assert_int_equal(coll_ping(dom, 10, &eb), 0);
	assert_int_equal(last_timeout, 2);
	atomic_store(&deadline, coll_now_ms() - 1);
	assert_int_equal(coll_ping(dom, 10, &eb), -ECANCELED);	/* nothing queued: not sent */
	assert_non_null(strstr(eb.msg, "not sent"));
	assert_int_equal(ncmds, 1);
}

static void exec_stderr_is_cut(void **state)
{
	struct vt_errbuf eb = { "" };
	struct coll_exec_status st;
	size_t len = 100000;
	char *err = malloc(len), *enc, *r;

	(void)state;
	memset(err, 'e', len);
	enc = b64(err, len);
	assert_true(asprintf(&r, "{\"return\":{\"exited\":true,\"exitcode\":1,\"err-data\":\"%s\"}}",
			     enc) > 0);
	queue(keep(r));
	assert_int_equal(coll_exec_status(dom, 7, &st, &eb), 0);
	assert_true(st.err_cut);
	assert_int_equal(strlen(st.err), COLL_EXEC_ERR_MAX / 3 * 3);
	coll_exec_status_fini(&st);
	free(enc);
	free(err);
}

static void session_from_bad_info_fails(void **state)
{
	static const char *const bad[] = {
		/* no object */ "[]",
		/* boot_id not a boot id */ "{\"boot_id\":\"../x\",\"page_size\":4096,\"long_size\":8}",
		/* upper case */ "{\"boot_id\":\"0B5E3C4A-2F7D-4E1A-9C3B-6D8E1F2A3B4C\"}",
		/* page size */ "{\"boot_id\":\"" BOOT "\",\"page_size\":6000,\"long_size\":8}",
		/* long size */ "{\"boot_id\":\"" BOOT "\",\"page_size\":4096,\"long_size\":5}",
		/* no cpus */ "{\"boot_id\":\"" BOOT "\",\"page_size\":4096,\"long_size\":8,\"cpus\":[]}",
		/* cpu twice */ "{\"boot_id\":\"" BOOT "\",\"page_size\":4096,\"long_size\":8,"
			"\"cpus\":[{\"cpu\":0,\"apic_id\":0},{\"cpu\":0,\"apic_id\":1}]}",
		/* cpu past n */ "{\"boot_id\":\"" BOOT "\",\"page_size\":4096,\"long_size\":8,"
			"\"cpus\":[{\"cpu\":1,\"apic_id\":0}]}",
		/* no formats */ "{\"boot_id\":\"" BOOT "\",\"page_size\":4096,\"long_size\":8,"
			"\"cpus\":[{\"cpu\":0,\"apic_id\":0}]}",
		/* format without ID */ "{\"boot_id\":\"" BOOT "\",\"page_size\":4096,\"long_size\":8,"
			"\"cpus\":[{\"cpu\":0,\"apic_id\":0}],\"formats\":{\"header_page\":\"x\","
			"\"events\":[{\"format\":\"name: x\\nformat:\\n\"}]}}",
		/* ID past u16 */ "{\"boot_id\":\"" BOOT "\",\"page_size\":4096,\"long_size\":8,"
			"\"cpus\":[{\"cpu\":0,\"apic_id\":0}],\"formats\":{\"header_page\":\"x\","
			"\"events\":[{\"format\":\"name: x\\nID: 70000\\n\"}]}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct coll_session *s = calloc(1, sizeof(*s));
		struct json_object *o = json_tokener_parse(bad[i]);
		struct vt_errbuf eb = { "" };

		assert_non_null(o);
		if (coll_session_from_info(s, o, &eb) != -EBADMSG)
			fail_msg("info %zu was taken: %s", i, bad[i]);
		assert_non_null(strstr(eb.msg, "agent info: "));
		json_object_put(o);
		free(s);
	}
}

static void session_takes_ids_of_the_formats(void **state)
{
	struct coll_session *s = session();

	(void)state;
	assert_string_equal(s->boot_id, BOOT);
	assert_int_equal(s->ncpus, 2);
	assert_int_equal(s->long_size, 8);
	assert_true(s->event_ids[5 / 8] & (1u << (5 % 8)));
	assert_true(s->event_ids[ID_SWITCH / 8] & (1u << (ID_SWITCH % 8)));
	assert_false(s->event_ids[318 / 8] & (1u << (318 % 8)));
	free(s);
}

/* ---- conn.c and the collector thread: libvirtd restarts ---- */

/* the libvirt calls of conn.c and collector.c; the collector thread calls them too */
static atomic_int opens, open_budget = -1;	/* budget: opens that succeed, -1 all */
static atomic_int closes, by_name, by_uuid, alive = 1;
static atomic_int active_calls, active_lost;	/* virDomainIsActive: calls, lost ones */
static atomic_bool active_always_lost;
#define UUID "6f1d2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"

static void lose_connection(void)
{
	have_error = true;
	fake_error = (virError){ .code = VIR_ERR_SYSTEM_ERROR, .domain = VIR_FROM_RPC,
				 .message = (char *)"End of file while reading data: "
						    "Input/output error" };
}

virConnectPtr __wrap_virConnectOpen(const char *uri);
virConnectPtr __wrap_virConnectOpen(const char *uri)
{
	int budget = atomic_load(&open_budget);

	(void)uri;
	if (budget == 0) {
		have_error = true;
		fake_error = (virError){ .code = VIR_ERR_SYSTEM_ERROR, .domain = VIR_FROM_RPC,
					 .message = (char *)"Failed to connect socket: "
							    "Connection refused" };
		return NULL;
	}
	if (budget > 0)
		atomic_fetch_sub(&open_budget, 1);
	have_error = false;
	return (virConnectPtr)(uintptr_t)(0x1000 + atomic_fetch_add(&opens, 1));
}

int __wrap_virConnectClose(virConnectPtr conn);
int __wrap_virConnectClose(virConnectPtr conn)
{
	(void)conn;
	atomic_fetch_add(&closes, 1);
	return 0;
}

int __wrap_virConnectIsAlive(virConnectPtr conn);
int __wrap_virConnectIsAlive(virConnectPtr conn)
{
	(void)conn;
	return atomic_load(&alive);
}

virDomainPtr __wrap_virDomainLookupByName(virConnectPtr conn, const char *name);
virDomainPtr __wrap_virDomainLookupByName(virConnectPtr conn, const char *name)
{
	(void)conn;
	(void)name;
	atomic_fetch_add(&by_name, 1);
	return (virDomainPtr)0x2000;
}

virDomainPtr __wrap_virDomainLookupByUUIDString(virConnectPtr conn, const char *uuid);
virDomainPtr __wrap_virDomainLookupByUUIDString(virConnectPtr conn, const char *uuid)
{
	(void)conn;
	if (strcmp(uuid, UUID))
		return NULL;
	atomic_fetch_add(&by_uuid, 1);
	return (virDomainPtr)0x2001;
}

int __wrap_virDomainGetUUIDString(virDomainPtr d, char *buf);
int __wrap_virDomainGetUUIDString(virDomainPtr d, char *buf)
{
	(void)d;
	strcpy(buf, UUID);
	return 0;
}

int __wrap_virDomainFree(virDomainPtr d);
int __wrap_virDomainFree(virDomainPtr d)
{
	(void)d;
	return 0;
}

/* 0 (not running), or a lost connection: always, or @active_lost times */
int __wrap_virDomainIsActive(virDomainPtr d);
int __wrap_virDomainIsActive(virDomainPtr d)
{
	int n = atomic_load(&active_lost);

	(void)d;
	atomic_fetch_add(&active_calls, 1);
	if (atomic_load(&active_always_lost) ||
	    (n > 0 && atomic_compare_exchange_strong(&active_lost, &n, n - 1))) {
		lose_connection();
		return -1;
	}
	have_error = false;
	return 0;
}

char *__wrap_virDomainGetXMLDesc(virDomainPtr d, unsigned int flags);
char *__wrap_virDomainGetXMLDesc(virDomainPtr d, unsigned int flags)
{
	(void)d;
	(void)flags;
	return NULL;
}

int __wrap_virDomainShutdown(virDomainPtr d);
int __wrap_virDomainShutdown(virDomainPtr d)
{
	(void)d;
	return 0;
}

static int conn_reset(void **state)
{
	(void)state;
	atomic_store(&opens, 0);
	atomic_store(&open_budget, -1);
	atomic_store(&closes, 0);
	atomic_store(&by_name, 0);
	atomic_store(&by_uuid, 0);
	atomic_store(&alive, 1);
	atomic_store(&active_calls, 0);
	atomic_store(&active_lost, 0);
	atomic_store(&active_always_lost, false);
	have_error = false;
	return 0;
}

/* Only libvirt's own connection failures count as lost, never the guest's or qemu-ga's. */
static void conn_lost_error_tells_libvirt_from_the_guest(void **state)
{
	static const struct {
		int domain, code;
		const char *message;
		bool lost;
	} cases[] = {
		{ VIR_FROM_RPC, VIR_ERR_SYSTEM_ERROR,
		  "End of file while reading data: Input/output error", true },
		{ VIR_FROM_RPC, VIR_ERR_SYSTEM_ERROR, "Cannot write data: Broken pipe", true },
		{ VIR_FROM_RPC, VIR_ERR_INTERNAL_ERROR, "internal error: client socket is closed",
		  true },
		{ VIR_FROM_NONE, VIR_ERR_NO_CONNECT, "no connection driver available", true },
		{ VIR_FROM_NONE, VIR_ERR_INVALID_CONN, "invalid connection pointer", true },
		{ VIR_FROM_QEMU, VIR_ERR_AGENT_UNRESPONSIVE,
		  "Guest agent is not responding: QEMU guest agent is not connected", false },
		{ VIR_FROM_QEMU, VIR_ERR_OPERATION_TIMEOUT, "timed out", false },
		{ VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID, "domain is not running", false },
		{ VIR_FROM_QEMU, VIR_ERR_SYSTEM_ERROR, "Cannot open file: Permission denied", false },
		{ VIR_FROM_RPC, VIR_ERR_RPC, "Unable to encode message payload", false },
		{ VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR, "unable to execute QEMU agent command",
		  false },
		{ VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR, NULL, false },
	};

	(void)state;
	assert_false(coll_conn_lost_error(NULL));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		virError e = { .domain = cases[i].domain, .code = cases[i].code,
			       .message = (char *)cases[i].message };

		if (coll_conn_lost_error(&e) != cases[i].lost)
			fail_msg("case %zu ('%s'): want %s", i, cases[i].message ? cases[i].message
										: "(null)",
				 cases[i].lost ? "lost" : "not lost");
	}
}

/*
 * An agent call on a dead connection: -ECONNRESET, and no dropped chunk in a pull; the
 * chunk whose reading (or deletion) it cut short is read (or deleted) first by the next
 * pull, on the new connection, before the agent cuts another.
 */
static void qga_lost_connection_is_econnreset(void **state)
{
	struct coll_session *s = session();
	struct vt_errbuf eb = { "" };
	size_t len;
	uint8_t *c = chunk(BOOT, &len);
	struct pulled p;

	(void)state;
	lose_connection();
	queue(NULL);
	assert_int_equal(coll_ping(dom, 5, &eb), -ECONNRESET);
	assert_non_null(strstr(eb.msg, "libvirt connection lost"));
	/* lost while the chunk is read: not the guest's fault, and not lost */
	reply_agent_json(collect_reply(len, BOOT));
	queue(NULL);	/* guest-file-open */
	p = pull(s, 5000);
	assert_int_equal(p.r, -ECONNRESET);
	assert_int_equal(p.why, COLL_BAD_N);
	assert_string_equal(s->pending, CHUNK_PATH);
	assert_false(s->pending_taken);
	/* the next connection: that chunk, without a collect, then deleted; more to come */
	ncmds = 0;
	reply_file(c, len);
	reply_rm();
	p = pull(s, 5000);
	if (p.r != 1)
		fail_msg("r %d: %s", p.r, p.eb.msg);
	assert_true(p.more);
	assert_int_equal(s->next_seq, 6);
	assert_int_equal(s->stats.events, 20);
	assert_false(sent("/tmp/virt-trace-agent"));
	assert_true(sent("\"arg\":[\"-f\",\"" CHUNK_PATH "\"]"));
	assert_string_equal(s->pending, "");
	free(s);

	/* lost while the chunk is deleted: taken, and deleted by the next pull */
	s = session();
	reply_agent_json(collect_reply(len, BOOT));
	reply_file(c, len);
	queue(NULL);	/* the chunk's rm: guest-exec */
	p = pull(s, 5000);
	assert_int_equal(p.r, 1);
	assert_int_equal(s->next_seq, 6);
	assert_string_equal(s->pending, CHUNK_PATH);
	assert_true(s->pending_taken);
	ncmds = 0;
	reply_rm();
	reply_agent_json("{\"more\":false}");
	p = pull(s, 5000);
	assert_int_equal(p.r, 0);
	assert_true(sent("\"arg\":[\"-f\",\"" CHUNK_PATH "\"]"));
	assert_true(sent("/tmp/virt-trace-agent"));
	assert_string_equal(s->pending, "");
	/* a restarted agent starts an empty directory: nothing is left to take */
	snprintf(s->pending, sizeof(s->pending), "%s", CHUNK_PATH);
	coll_session_restart(s);
	assert_string_equal(s->pending, "");
	free(s);
	free(c);
}

static void conn_lost_asks_the_connection(void **state)
{
	struct coll_conn cc = { 0 };
	struct vt_errbuf eb = { "" };

	(void)state;
	assert_true(coll_conn_lost(&cc, 0));	/* none open */
	assert_int_equal(coll_conn_open(&cc, "dom", &eb), 0);
	assert_string_equal(cc.uuid, UUID);
	assert_false(coll_conn_lost(&cc, 0));
	assert_false(coll_conn_lost(&cc, -EREMOTEIO));
	assert_true(coll_conn_lost(&cc, -ECONNRESET));
	atomic_store(&alive, 0);
	assert_true(coll_conn_lost(&cc, 0));
	assert_int_equal(coll_domain_active(cc.dom, &eb), 0);
	atomic_store(&active_lost, 1);
	assert_int_equal(coll_domain_active(cc.dom, &eb), -ECONNRESET);
	assert_int_equal(coll_domain_active(NULL, &eb), -ECONNRESET);
	coll_conn_close(&cc);
	assert_null(cc.domain);
	assert_int_equal(atomic_load(&closes), 1);
}

static unsigned waits[64];
static size_t nwaits;
static size_t back_at;		/* the wait after which libvirtd accepts again (1-based) */
static size_t give_up_at;	/* the wait that returns true (1-based), 0 never */

static bool record_wait(void *ctx, unsigned ms)
{
	(void)ctx;
	if (nwaits < 64)
		waits[nwaits] = ms;
	nwaits++;
	if (nwaits == back_at)
		atomic_store(&open_budget, -1);
	return nwaits == give_up_at;
}

static void waits_reset(size_t back, size_t give_up)
{
	nwaits = 0;
	back_at = back;
	give_up_at = give_up;
}

/* libvirtd back after four refused opens: the waits double, the domain found by uuid */
static void reopen_backs_off_then_finds_the_domain_by_uuid(void **state)
{
	static const unsigned want[] = { 250, 500, 1000, 2000 };
	struct coll_conn cc = { 0 };
	struct vt_errbuf eb = { "" };

	(void)state;
	assert_int_equal(coll_conn_open(&cc, "dom", &eb), 0);
	assert_int_equal(cc.reconnects, 0);
	atomic_store(&open_budget, 0);	/* libvirtd away: opens refused */
	waits_reset(4, 0);
	assert_int_equal(coll_conn_reopen(&cc, record_wait, NULL, &eb), 0);
	assert_int_equal(nwaits, 4);
	assert_memory_equal(waits, want, sizeof(want));
	assert_int_equal(atomic_load(&opens), 2);	/* the first and the reopen */
	assert_int_equal(cc.reconnects, 1);
	assert_ptr_equal(cc.dom, (virDomainPtr)0x2001);
	assert_int_equal(atomic_load(&by_name), 1);
	assert_int_equal(atomic_load(&by_uuid), 1);
	assert_int_equal(atomic_load(&closes), 1);	/* the dead one released */
	coll_conn_close(&cc);
	assert_int_equal(atomic_load(&closes), 2);
}

/* The waiter says stop: given up at once with -ECANCELED, nothing counted, nothing open. */
static void reopen_gives_up_when_the_wait_says_so(void **state)
{
	struct coll_conn cc = { 0 };
	struct vt_errbuf eb = { "" };

	(void)state;
	assert_int_equal(coll_conn_open(&cc, "dom", &eb), 0);
	atomic_store(&open_budget, 0);
	waits_reset(0, 3);
	assert_int_equal(coll_conn_reopen(&cc, record_wait, NULL, &eb), -ECANCELED);
	assert_int_equal(nwaits, 3);
	assert_non_null(strstr(eb.msg, "libvirt reconnect given up"));
	assert_non_null(strstr(eb.msg, "Connection refused"));
	assert_int_equal(cc.reconnects, 0);
	assert_null(cc.dom);
	assert_null(cc.conn);
	assert_true(coll_conn_lost(&cc, 0));
	coll_conn_close(&cc);
}

/* libvirtd never back: COLL_RECONNECT_TRIES opens, the waits capped, then its error. */
static void reopen_fails_after_its_tries(void **state)
{
	struct coll_conn cc = { 0 };
	struct vt_errbuf eb = { "" };
	unsigned total = 0;

	(void)state;
	assert_int_equal(coll_conn_open(&cc, "dom", &eb), 0);
	atomic_store(&open_budget, 0);
	waits_reset(0, 0);
	assert_int_equal(coll_conn_reopen(&cc, record_wait, NULL, &eb), -ENOTCONN);
	assert_int_equal(nwaits, COLL_RECONNECT_TRIES - 1);
	for (size_t i = 0; i < nwaits; i++) {
		assert_true(waits[i] <= COLL_RECONNECT_MAX_MS);
		assert_true(i == 0 || waits[i] >= waits[i - 1]);
		total += waits[i];
	}
	assert_int_equal(waits[0], COLL_RECONNECT_FIRST_MS);
	assert_int_equal(waits[nwaits - 1], COLL_RECONNECT_MAX_MS);
	assert_in_range(total, 20000, 40000);	/* "about 32 s" of collector.h */
	assert_non_null(strstr(eb.msg, "tries"));
	assert_int_equal(cc.reconnects, 0);
	assert_null(cc.dom);
	coll_conn_close(&cc);
}

/* ---- the collector thread over a libvirtd restart (no guest agent reached) ---- */

struct run {
	char *spool;
	struct coll *c;
};

static void run_start(struct run *run)
{
	struct coll_opts o = { .domain = "dom", .poll_ms = 100 };
	struct vt_errbuf eb = { "" };
	char cfg[512];

	run->spool = vt_test_tmpdir();
	snprintf(cfg, sizeof(cfg), "%s/none.conf", run->spool);
	setenv("VT_CONFIG", cfg, 1);	/* absent: the defaults */
	o.spool = run->spool;
	if (coll_start(&o, &run->c, &eb) < 0)
		fail_msg("coll_start: %s", eb.msg);
}

/* spool/guest.json's member @key as an integer; -1 while the file or the key is missing */
static int64_t state_figure(const struct run *run, const char *key)
{
	char path[512];
	struct json_object *o, *v;
	int64_t n = -1;

	snprintf(path, sizeof(path), "%s/guest.json", run->spool);
	o = json_object_from_file(path);
	if (o && json_object_object_get_ex(o, key, &v))
		n = json_object_get_int64(v);
	json_object_put(o);
	return n;
}

static bool state_says(const struct run *run, const char *text)
{
	char path[512], buf[8192] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/guest.json", run->spool);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && strstr(buf, text);
}

/* wait (5 s at most: a bound, not a measurement) until guest.json says @key >= @want */
static bool wait_figure(const struct run *run, const char *key, int64_t want)
{
	for (int i = 0; i < 500; i++) {
		if (state_figure(run, key) >= want)
			return true;
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	return false;
}

static bool wait_calls(int want)
{
	for (int i = 0; i < 500 && atomic_load(&active_calls) < want; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	return atomic_load(&active_calls) >= want;
}

static void run_end(struct run *run)
{
	coll_stop(run->c, 10000);
	coll_free(run->c);
	vt_test_rmtree(run->spool);
	free(run->spool);
	unsetenv("VT_CONFIG");
}

/* The connection dies under the collector: reopened at once, and counted in guest.json. */
static void collector_counts_a_reconnect_in_state(void **state)
{
	struct run run;

	(void)state;
	atomic_store(&active_lost, 1);	/* the first call finds libvirtd gone */
	run_start(&run);
	if (!wait_figure(&run, "libvirt_reconnects", 1))
		fail_msg("guest.json: libvirt_reconnects %lld, want 1",
			 (long long)state_figure(&run, "libvirt_reconnects"));
	run_end(&run);
	assert_int_equal(atomic_load(&opens), 2);
	assert_int_equal(atomic_load(&by_uuid), 1);
	assert_int_equal(atomic_load(&closes), 2);	/* the dead one, and at the end */
}

/*
 * coll_reconnect (the hook's 'reconnect'): a connection that still answers is kept; a dead
 * one is reopened at once, not at the next poll, and counted.
 */
static void collector_reconnect_request_reopens_a_dead_connection(void **state)
{
	struct run run;
	int calls;

	(void)state;
	run_start(&run);
	if (!wait_figure(&run, "collect_failures", 0) || !state_says(&run, "not running"))
		fail_msg("the collector did not reach its idle state");
	calls = atomic_load(&active_calls);
	coll_reconnect(run.c);	/* answers: kept */
	assert_true(wait_calls(calls + 2));	/* the check, then setup's */
	assert_int_equal(atomic_load(&opens), 1);
	atomic_store(&active_lost, 1);
	coll_reconnect(run.c);	/* dead: reopened */
	assert_true(wait_figure(&run, "libvirt_reconnects", 1));
	assert_int_equal(atomic_load(&opens), 2);
	assert_int_equal(state_figure(&run, "libvirt_reconnects"), 1);
	run_end(&run);
}

/* libvirtd away for good: coll_stop ends the reopen tries at once, not after 32 s. */
static void collector_stop_ends_the_reconnect_tries(void **state)
{
	struct run run;
	int64_t t0;

	(void)state;
	atomic_store(&open_budget, 1);	/* the first open only */
	atomic_store(&active_always_lost, true);
	run_start(&run);
	while (atomic_load(&opens) < 1 || atomic_load(&active_calls) < 1)
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	nanosleep(&(struct timespec){ .tv_nsec = 300000000 }, NULL);	/* in the waits */
	t0 = coll_now_ms();
	coll_stop(run.c, 10000);
	assert_true(coll_now_ms() - t0 < 3000);	/* a bound: the flush's deadline is 5 s */
	assert_true(state_says(&run, "libvirt reconnect given up"));
	assert_int_equal(state_figure(&run, "libvirt_reconnects"), 0);
	assert_int_equal(atomic_load(&opens), 1);
	coll_free(run.c);
	vt_test_rmtree(run.spool);
	free(run.spool);
	unsetenv("VT_CONFIG");
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
		cmocka_unit_test(qga_reply_over_rpc_limit_fails),
		cmocka_unit_test(file_read_all_joins_chunks),
		cmocka_unit_test(file_read_all_bad_count_fails),
		cmocka_unit_test(file_read_all_over_max_fails),
		cmocka_unit_test(file_write_sends_base64),
		cmocka_unit_test(exec_wait_polls_until_exited),
		cmocka_unit_test(probe_picks_shortest_round_trip),
		cmocka_unit_test(probe_negative_offset_wraps),
		cmocka_unit_test(probe_without_usable_sample_fails),
		cmocka_unit_test_teardown(pull_takes_a_good_chunk, reset),
		cmocka_unit_test_teardown(pull_without_chunk_takes_nothing, reset),
		cmocka_unit_test_teardown(pull_oversized_output_fails, reset),
		cmocka_unit_test_teardown(pull_oversized_chunk_said_fails, reset),
		cmocka_unit_test_teardown(pull_chunk_longer_than_said_fails, reset),
		cmocka_unit_test_teardown(pull_oversized_file_fails, reset),
		cmocka_unit_test_teardown(pull_truncated_chunk_fails, reset),
		cmocka_unit_test_teardown(pull_garbage_output_fails, reset),
		cmocka_unit_test_teardown(pull_path_outside_agent_dir_fails, reset),
		cmocka_unit_test_teardown(pull_garbage_chunk_fails, reset),
		cmocka_unit_test_teardown(pull_wrong_boot_chunk_fails, reset),
		cmocka_unit_test_teardown(pull_missing_chunk_file_fails, reset),
		cmocka_unit_test_teardown(pull_new_boot_is_not_a_bad_chunk, reset),
		cmocka_unit_test_teardown(pull_bad_pages_fail, reset),
		cmocka_unit_test_teardown(pull_slow_agent_is_killed, reset),
		cmocka_unit_test_teardown(pull_agent_call_timeout_fails, reset),
		cmocka_unit_test_teardown(deadline_cuts_every_call, reset),
		cmocka_unit_test_teardown(exec_stderr_is_cut, reset),
		cmocka_unit_test(session_from_bad_info_fails),
		cmocka_unit_test(session_takes_ids_of_the_formats),
		cmocka_unit_test(conn_lost_error_tells_libvirt_from_the_guest),
		cmocka_unit_test_teardown(qga_lost_connection_is_econnreset, reset),
		cmocka_unit_test_setup_teardown(conn_lost_asks_the_connection, conn_reset, conn_reset),
		cmocka_unit_test_setup_teardown(reopen_backs_off_then_finds_the_domain_by_uuid,
						conn_reset, conn_reset),
		cmocka_unit_test_setup_teardown(reopen_gives_up_when_the_wait_says_so, conn_reset,
						conn_reset),
		cmocka_unit_test_setup_teardown(reopen_fails_after_its_tries, conn_reset, conn_reset),
		cmocka_unit_test_setup_teardown(collector_counts_a_reconnect_in_state, conn_reset,
						conn_reset),
		cmocka_unit_test_setup_teardown(collector_reconnect_request_reopens_a_dead_connection,
						conn_reset, conn_reset),
		cmocka_unit_test_setup_teardown(collector_stop_ends_the_reconnect_tries, conn_reset,
						conn_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
