// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: what qemu-ga in the guest answers the collector. The input is a series of
 * replies, one a line, handed out by a --wrap of virDomainQemuAgentCommand in call
 * order (then the libvirt call fails); through them: guest-ping, guest-exec,
 * guest-exec-status (base64 output parsed as the agent's JSON, as agent_run does),
 * guest-file-open/read/close of a whole file, which is then taken as the agent's info
 * (coll_session_from_info) and as a chunk (vt_chunk_parse, then vt_chunk_check against
 * that session when the info held).
 */
#include <errno.h>
#include <json.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <string.h>

#include "collector.h"
#include "fuzz.h"
#include "qga.h"
#include "vt/chunk.h"

#define READ_MAX (16u << 20)

static const uint8_t *in, *in_end;
static virError fake_error = { .code = VIR_ERR_OPERATION_FAILED, .message = "fuzz: no reply" };
static bool failed;
static struct vt_chunk ch;

char *__wrap_virDomainQemuAgentCommand(virDomainPtr d, const char *cmd, int timeout,
				       unsigned int flags);
char *__wrap_virDomainQemuAgentCommand(virDomainPtr d, const char *cmd, int timeout,
				       unsigned int flags)
{
	const uint8_t *nl;
	char *reply;

	(void)d;
	(void)flags;
	FUZZ_CHECK(cmd && timeout > 0);
	if (in >= in_end) {
		failed = true;
		return NULL;
	}
	nl = memchr(in, '\n', (size_t)(in_end - in));
	if (!nl)
		nl = in_end;
	reply = strndup((const char *)in, (size_t)(nl - in));
	FUZZ_CHECK(reply);
	in = nl < in_end ? nl + 1 : in_end;
	failed = false;
	return reply;
}

virErrorPtr __wrap_virGetLastError(void);
virErrorPtr __wrap_virGetLastError(void)
{
	return failed ? &fake_error : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const args[] = { "collect", NULL };
	virDomainPtr dom = (virDomainPtr)0x1;
	struct coll_exec_status st;
	struct json_object *o = NULL;
	struct vt_errbuf eb;
	uint8_t *buf = NULL;
	int64_t pid = 0;
	size_t len = 0;

	in = data;
	in_end = data + size;
	(void)coll_ping(dom, 5, &eb);
	(void)coll_exec(dom, "/agent", args, &pid, &eb);
	if (coll_exec_status(dom, pid, &st, &eb) == 0) {
		FUZZ_CHECK(st.out && st.out[st.out_len] == '\0');
		if (st.exited && st.exitcode == 0 && coll_parse_json(st.out, st.out_len, &o) == 0)
			json_object_put(o);
		coll_exec_status_fini(&st);
	}
	if (coll_file_read_all(dom, "/tmp/virt-trace-info.json", READ_MAX, &buf, &len, &eb) == 0) {
		FUZZ_CHECK(buf && len <= READ_MAX);
		struct coll_session sess = { 0 };
		bool have_sess = false;

		o = NULL;
		if (coll_parse_json(buf, len, &o) == 0) {
			have_sess = coll_session_from_info(&sess, o, &eb) == 0;
			FUZZ_CHECK(!have_sess || coll_boot_id_ok(sess.boot_id));
			json_object_put(o);
		}
		if (vt_chunk_parse(buf, len, &ch, &eb) == 0 && have_sess) {
			struct vt_chunk_expect x = { .boot_id = sess.boot_id,
						     .page_size = sess.page_size,
						     .long_size = sess.long_size,
						     .ncpus = sess.ncpus,
						     .event_ids = sess.event_ids };
			struct vt_chunk_stats cs = { 0 };
			enum vt_chunk_bad bad;

			(void)vt_chunk_check(&ch, &x, sess.last_ts, &cs, &bad, &eb);
		}
		free(buf);
	}
	return 0;
}
