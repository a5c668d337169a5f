// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * qemu-ga through libvirt: checked agent commands, base64, guest-exec and guest-file-*
 * helpers with timeouts and size caps.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <json.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "qga.h"
#include "util.h"

/*
 * raw bytes per guest-file-write. Far below the 4 MiB RPC string on purpose: with qemu-ga
 * 7.2 in a TCG guest, commands of 256 KiB and more were intermittently mangled or stalled
 * the agent (measured here); 48 KiB chunks moved 1.2 MB in 0.8 s.
 */
#define WRITE_CHUNK (48u << 10)

/* a kill after a timeout may run past the deadline, with short timeouts */
#define GRACE_TIMEOUT_S 2

static __thread const _Atomic int64_t *deadline_ptr;
static __thread bool grace;

int64_t coll_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void coll_deadline_watch(const _Atomic int64_t *deadline_ms)
{
	deadline_ptr = deadline_ms;
}

int coll_deadline_left_ms(void)
{
	int64_t d = deadline_ptr ? atomic_load(deadline_ptr) : 0, left;

	if (!d || grace)
		return INT32_MAX;
	left = d - coll_now_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* @timeout_s cut to the deadline (and to GRACE_TIMEOUT_S in a grace); 0 when it passed */
static int call_timeout_s(int timeout_s)
{
	int64_t left = coll_deadline_left_ms();

	if (timeout_s <= 0)
		timeout_s = COLL_TIMEOUT_S;
	if (grace && timeout_s > GRACE_TIMEOUT_S)
		timeout_s = GRACE_TIMEOUT_S;
	if (left == 0)
		return 0;
	if ((left + 999) / 1000 < timeout_s)
		timeout_s = (int)((left + 999) / 1000);
	return timeout_s;
}

static void json_putp(struct json_object **o)
{
	json_object_put(*o);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

bool coll_conn_lost_error(const virError *e)
{
	if (!e)
		return false;
	if (e->code == VIR_ERR_NO_CONNECT || e->code == VIR_ERR_INVALID_CONN)
		return true;
	/* "End of file while reading data", "Cannot write data: Broken pipe", ... */
	if (e->domain == VIR_FROM_RPC && e->code == VIR_ERR_SYSTEM_ERROR)
		return true;
	return e->message && strstr(e->message, "client socket is closed");
}

/* a libvirt failure as -errno with the reason */
static int virt_failure(struct vt_errbuf *eb, const char *what)
{
	virErrorPtr e = virGetLastError();
	const char *msg = e && e->message ? e->message : "no reply from the guest agent";
	int err = EREMOTEIO;

	if (coll_conn_lost_error(e))	/* not the guest's doing: the collector reconnects */
		return vtc_errf(eb, ECONNRESET, "%s: libvirt connection lost: %s", what, msg);
	if (e && e->code == VIR_ERR_OPERATION_TIMEOUT)
		err = ETIMEDOUT;
	else if (e && e->code == VIR_ERR_AGENT_UNRESPONSIVE)
		err = ENOTCONN;
	else if (e && e->code == VIR_ERR_RPC && e->message && strstr(e->message, "encode"))
		err = EMSGSIZE;	/* a reply over libvirt's 4 MiB RPC string: never ours */
	return vtc_errf(eb, err, "%s: %s", what, msg);
}

static const char *cmd_name(const char *cmd, char *buf, size_t len)
{
	const char *p = strstr(cmd, "\"execute\"");
	size_t n;

	if (!p || !(p = strchr(p + 9, '"')))
		return "agent command";
	p++;
	n = strcspn(p, "\"");
	snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), p);
	return buf;
}

int coll_qga(virDomainPtr dom, const char *cmd, int timeout_s, struct json_object **ret,
	     struct vt_errbuf *eb)
{
	_cleanup_free_ char *reply = NULL;
	struct json_object *root __attribute__((cleanup(json_putp))) = NULL;
	struct json_object *rv, *err;
	struct json_tokener *tok;
	char name[48];
	size_t len;

	*ret = NULL;
	cmd_name(cmd, name, sizeof(name));
	if (strlen(cmd) >= COLL_REPLY_MAX)
		return vtc_errf(eb, EMSGSIZE, "%s: command of %zu bytes is too big", name,
				strlen(cmd));
	timeout_s = call_timeout_s(timeout_s);
	if (!timeout_s)
		return vtc_errf(eb, ECANCELED, "%s: not sent, the collector's time is up", name);
	reply = virDomainQemuAgentCommand(dom, cmd, timeout_s, 0);
	if (!reply)
		return virt_failure(eb, name);
	len = strnlen(reply, COLL_REPLY_MAX + 1);
	if (len > COLL_REPLY_MAX)
		return vtc_errf(eb, EMSGSIZE, "%s: reply over %u bytes refused", name,
				COLL_REPLY_MAX);
	tok = json_tokener_new();
	if (!tok)
		return vtc_err(ENOMEM);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, reply, (int)len);
	if (!root || json_tokener_get_parse_end(tok) < len) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		json_tokener_free(tok);
		return vtc_errf(eb, EBADMSG, "%s: reply is not JSON (%s)", name,
				root ? "trailing data" : json_tokener_error_desc(je));
	}
	json_tokener_free(tok);
	if (!json_object_is_type(root, json_type_object))
		return vtc_errf(eb, EBADMSG, "%s: reply is not a JSON object", name);
	if ((err = get(root, "error"))) {
		const char *desc = json_object_get_string(get(err, "desc"));

		return vtc_errf(eb, EREMOTEIO, "%s: guest agent error: %.300s", name,
				desc ? desc : "(no description)");
	}
	rv = get(root, "return");
	if (!rv)
		return vtc_errf(eb, EBADMSG, "%s: reply has neither return nor error", name);
	*ret = json_object_get(rv);
	return 0;
}

/* ---- base64 */
static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int coll_b64_encode(const void *data, size_t len, char **ret)
{
	const uint8_t *p = data;
	size_t olen = (len + 2) / 3 * 4;
	char *out = malloc(olen + 1), *o = out;

	if (!out)
		return vtc_err(ENOMEM);
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64chars[(v >> 18) & 63];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64chars[v & 63] : '=';
	}
	*o = '\0';
	*ret = out;
	return 0;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int coll_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t n = 0;

	if (len % 4)
		return vtc_err(EBADMSG);
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)	/* data after '=' */
				return vtc_err(EBADMSG);
			v[k] = b64val(s[i + k]);
			if (v[k] < 0)
				return vtc_err(EBADMSG);
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		size_t take = 3 - (size_t)pad;

		if (cap - n < take)
			return vtc_err(EMSGSIZE);
		out[n++] = (uint8_t)(w >> 16);
		if (take > 1)
			out[n++] = (uint8_t)(w >> 8);
		if (take > 2)
			out[n++] = (uint8_t)w;
	}
	*ret_len = n;
	return 0;
}

/* ---- commands */
static int run(virDomainPtr dom, struct json_object *cmd, int timeout_s, struct json_object **ret,
	       struct vt_errbuf *eb)
{
	const char *text = json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!text)
		return vtc_err(ENOMEM);
	return coll_qga(dom, text, timeout_s, ret, eb);
}

static struct json_object *command(const char *name, struct json_object **args)
{
	struct json_object *c = json_object_new_object();

	*args = json_object_new_object();
	if (!c || !*args) {
		json_object_put(c);
		json_object_put(*args);
		return NULL;
	}
	json_object_object_add(c, "execute", json_object_new_string(name));
	json_object_object_add(c, "arguments", *args);
	return c;
}

static int int_member(struct json_object *o, const char *key, int64_t *ret)
{
	struct json_object *v = get(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return vtc_err(EBADMSG);
	*ret = json_object_get_int64(v);
	return 0;
}

int coll_ping(virDomainPtr dom, int timeout_s, struct vt_errbuf *eb)
{
	struct json_object *rv = NULL;
	int r = coll_qga(dom, "{\"execute\":\"guest-ping\"}", timeout_s, &rv, eb);

	json_object_put(rv);
	return r;
}

int coll_exec(virDomainPtr dom, const char *path, const char *const *args, int64_t *ret_pid,
	      struct vt_errbuf *eb)
{
	struct json_object *a, *arr, *rv __attribute__((cleanup(json_putp))) = NULL;
	struct json_object *cmd __attribute__((cleanup(json_putp))) = command("guest-exec", &a);
	int r;

	if (!cmd || !(arr = json_object_new_array()))
		return vtc_err(ENOMEM);
	json_object_object_add(a, "path", json_object_new_string(path));
	for (size_t i = 0; args && args[i]; i++)
		json_object_array_add(arr, json_object_new_string(args[i]));
	json_object_object_add(a, "arg", arr);
	json_object_object_add(a, "capture-output", json_object_new_boolean(1));
	r = run(dom, cmd, COLL_TIMEOUT_S, &rv, eb);
	if (r < 0)
		return r;
	if (int_member(rv, "pid", ret_pid) < 0)
		return vtc_errf(eb, EBADMSG, "guest-exec %s: reply without a pid", path);
	return 0;
}

void coll_exec_status_fini(struct coll_exec_status *st)
{
	free(st->out);
	free(st->err);
	st->out = NULL;
	st->err = NULL;
}

/* base64 member @key decoded; more than @cap bytes: -EMSGSIZE, or cut when @cut is given */
static int decode_member(struct json_object *o, const char *key, size_t cap, uint8_t **ret,
			 size_t *ret_len, bool *cut)
{
	struct json_object *v = get(o, key);
	const char *s;
	size_t len, n = 0;
	uint8_t *buf;
	int r;

	*ret = NULL;
	*ret_len = 0;
	if (v && !json_object_is_type(v, json_type_string))
		return vtc_err(EBADMSG);
	s = v ? json_object_get_string(v) : "";
	len = v ? (size_t)json_object_get_string_len(v) : 0;
	if (cut)
		*cut = false;
	if (len > (cap + 2) / 3 * 4) {
		if (!cut)
			return vtc_err(EMSGSIZE);
		len = cap / 3 * 4;	/* whole groups of 4: no padding inside */
		*cut = true;
	}
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return vtc_err(ENOMEM);
	r = coll_b64_decode(s, len, buf, len / 4 * 3, &n);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[n] = '\0';
	*ret = buf;
	*ret_len = n;
	return 0;
}

int coll_exec_status(virDomainPtr dom, int64_t pid, struct coll_exec_status *ret,
		     struct vt_errbuf *eb)
{
	struct json_object *a, *rv __attribute__((cleanup(json_putp))) = NULL, *ex;
	struct json_object *cmd __attribute__((cleanup(json_putp))) =
		command("guest-exec-status", &a);
	size_t elen;
	int64_t v = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!cmd)
		return vtc_err(ENOMEM);
	json_object_object_add(a, "pid", json_object_new_int64(pid));
	r = run(dom, cmd, COLL_TIMEOUT_S, &rv, eb);
	if (r < 0)
		return r;
	ex = get(rv, "exited");
	if (!ex || !json_object_is_type(ex, json_type_boolean))
		return vtc_errf(eb, EBADMSG, "guest-exec-status: reply without 'exited'");
	ret->exited = json_object_get_boolean(ex);
	ret->exitcode = int_member(rv, "exitcode", &v) == 0 ? (int)v : -1;
	ret->signal = int_member(rv, "signal", &v) == 0 ? (int)v : 0;
	r = decode_member(rv, "out-data", COLL_EXEC_OUT_MAX, &ret->out, &ret->out_len, NULL);
	if (r == -EMSGSIZE)
		return vtc_errf(eb, EMSGSIZE, "guest-exec-status: more than %u bytes of output "
					      "refused", COLL_EXEC_OUT_MAX);
	if (!r)
		r = decode_member(rv, "err-data", COLL_EXEC_ERR_MAX, (uint8_t **)&ret->err, &elen,
				  &ret->err_cut);
	if (r < 0) {
		coll_exec_status_fini(ret);
		return vtc_errf(eb, r, "guest-exec-status: bad output data");
	}
	return 0;
}

static int exec_wait(virDomainPtr dom, const char *path, const char *const *args, int timeout_ms,
		     bool kill, struct coll_exec_status *ret, struct vt_errbuf *eb);

/* kill -9 @pid in the guest and reap it, past the deadline but with short timeouts */
static void kill_guest(virDomainPtr dom, int64_t pid)
{
	char num[24];
	const char *a[] = { "-KILL", num, NULL };
	const char *b[] = { "kill", "-KILL", num, NULL };
	struct coll_exec_status st;
	bool was = grace;
	int r;

	snprintf(num, sizeof(num), "%" PRId64, pid);
	grace = true;
	r = exec_wait(dom, "/bin/kill", a, COLL_KILL_TIMEOUT_MS / 2, false, &st, NULL);
	if (r == -EREMOTEIO)	/* no /bin/kill: a busybox-only guest */
		r = exec_wait(dom, "/bin/busybox", b, COLL_KILL_TIMEOUT_MS / 2, false, &st, NULL);
	if (r == 0)
		coll_exec_status_fini(&st);
	/* qemu-ga keeps an exited process until its status is asked for */
	if (coll_exec_status(dom, pid, &st, NULL) == 0)
		coll_exec_status_fini(&st);
	grace = was;
}

static int exec_wait(virDomainPtr dom, const char *path, const char *const *args, int timeout_ms,
		     bool kill, struct coll_exec_status *ret, struct vt_errbuf *eb)
{
	int64_t t0 = coll_now_ms(), deadline = t0 + timeout_ms, pid;
	long sleep_us = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = coll_exec(dom, path, args, &pid, eb);
	if (r < 0)
		return r;
	for (;;) {
		int64_t now;

		r = coll_exec_status(dom, pid, ret, eb);
		if (r < 0 || ret->exited)
			return r;
		coll_exec_status_fini(ret);
		now = coll_now_ms();
		if (now >= deadline || coll_deadline_left_ms() == 0) {
			if (kill)
				kill_guest(dom, pid);
			return vtc_errf(eb, ETIMEDOUT, "%s %s: still running after %" PRId64 " ms%s",
					path, args && args[0] ? args[0] : "", now - t0,
					kill ? ": killed" : "");
		}
		if (sleep_us) {
			long nap_us = sleep_us < (deadline - now) * 1000 ? sleep_us
									 : (long)(deadline - now) * 1000;

			nanosleep(&(struct timespec){ .tv_nsec = nap_us * 1000 }, NULL);
		}
		sleep_us = sleep_us ? (sleep_us * 2 > 100000 ? 100000 : sleep_us * 2) : 500;
	}
}

int coll_exec_wait(virDomainPtr dom, const char *path, const char *const *args, int timeout_ms,
		   struct coll_exec_status *ret, struct vt_errbuf *eb)
{
	return exec_wait(dom, path, args, timeout_ms, true, ret, eb);
}

static int file_open(virDomainPtr dom, const char *path, const char *mode, int64_t *handle,
		     struct vt_errbuf *eb)
{
	struct json_object *a, *rv __attribute__((cleanup(json_putp))) = NULL;
	struct json_object *cmd __attribute__((cleanup(json_putp))) =
		command("guest-file-open", &a);
	int r;

	if (!cmd)
		return vtc_err(ENOMEM);
	json_object_object_add(a, "path", json_object_new_string(path));
	json_object_object_add(a, "mode", json_object_new_string(mode));
	r = run(dom, cmd, COLL_TIMEOUT_S, &rv, eb);
	if (r < 0)
		return vtc_err_prefix(eb, r, "%s", path);
	if (!rv || !json_object_is_type(rv, json_type_int))
		return vtc_errf(eb, EBADMSG, "guest-file-open %s: no handle", path);
	*handle = json_object_get_int64(rv);
	return 0;
}

static void file_close(virDomainPtr dom, int64_t handle)
{
	struct json_object *a, *rv = NULL;
	struct json_object *cmd = command("guest-file-close", &a);
	struct vt_errbuf ignored;
	bool was = grace;

	if (!cmd)
		return;
	json_object_object_add(a, "handle", json_object_new_int64(handle));
	grace = true;	/* a handle left open stays open in qemu-ga */
	run(dom, cmd, COLL_TIMEOUT_S, &rv, &ignored);
	grace = was;
	json_object_put(rv);
	json_object_put(cmd);
}

static int file_read(virDomainPtr dom, int64_t handle, uint8_t *out, size_t cap, size_t *ret_n,
		     bool *eof, struct vt_errbuf *eb)
{
	struct json_object *a, *rv __attribute__((cleanup(json_putp))) = NULL, *e, *b;
	struct json_object *cmd __attribute__((cleanup(json_putp))) =
		command("guest-file-read", &a);
	int64_t count = 0;
	size_t n = 0;
	int r;

	if (!cmd)
		return vtc_err(ENOMEM);
	json_object_object_add(a, "handle", json_object_new_int64(handle));
	json_object_object_add(a, "count", json_object_new_int64(COLL_FILE_CHUNK));
	r = run(dom, cmd, COLL_FILE_TIMEOUT_S, &rv, eb);
	if (r < 0)
		return r;
	e = get(rv, "eof");
	b = get(rv, "buf-b64");
	if (int_member(rv, "count", &count) < 0 || count < 0 || count > COLL_FILE_CHUNK ||
	    !e || !json_object_is_type(e, json_type_boolean) ||
	    (b && !json_object_is_type(b, json_type_string)))
		return vtc_errf(eb, EBADMSG, "guest-file-read: malformed reply");
	if ((size_t)count > cap)
		return vtc_err(EFBIG);
	if (b && coll_b64_decode(json_object_get_string(b), (size_t)json_object_get_string_len(b),
				 out, cap, &n) < 0)
		return vtc_errf(eb, EBADMSG, "guest-file-read: bad base64");
	if (n != (size_t)count)
		return vtc_errf(eb, EBADMSG, "guest-file-read: count %" PRId64 " but %zu bytes",
				count, n);
	*ret_n = n;
	*eof = json_object_get_boolean(e);
	return 0;
}

int coll_file_read_all(virDomainPtr dom, const char *path, size_t max_bytes, uint8_t **ret,
		       size_t *ret_len, struct vt_errbuf *eb)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int64_t handle;
	int r;

	r = file_open(dom, path, "r", &handle, eb);
	if (r < 0)
		return r;
	for (;;) {
		size_t n = 0;
		bool eof = false;

		if (cap - len < COLL_FILE_CHUNK) {
			size_t ncap = cap ? cap * 2 : 2 * COLL_FILE_CHUNK;
			uint8_t *nb;

			if (ncap > max_bytes + COLL_FILE_CHUNK)
				ncap = max_bytes + COLL_FILE_CHUNK;
			if (ncap - len < COLL_FILE_CHUNK) {
				r = vtc_errf(eb, EFBIG, "%s: more than %zu bytes", path, max_bytes);
				break;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				r = vtc_err(ENOMEM);
				break;
			}
			buf = nb;
			cap = ncap;
		}
		r = file_read(dom, handle, buf + len, cap - len, &n, &eof, eb);
		if (r < 0) {
			vtc_err_prefix(eb, r, "%s", path);
			break;
		}
		len += n;
		if (len > max_bytes) {
			r = vtc_errf(eb, EFBIG, "%s: more than %zu bytes", path, max_bytes);
			break;
		}
		if (eof || n == 0)
			break;
	}
	file_close(dom, handle);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	if (!*ret) {
		*ret = malloc(1);
		if (!*ret)
			return vtc_err(ENOMEM);
	}
	return 0;
}

int coll_file_write(virDomainPtr dom, const char *path, const void *data, size_t len,
		    struct vt_errbuf *eb)
{
	const uint8_t *p = data;
	int64_t handle;
	size_t off = 0;
	int r;

	r = file_open(dom, path, "w", &handle, eb);
	if (r < 0)
		return r;
	while (off < len) {
		size_t n = len - off < WRITE_CHUNK ? len - off : WRITE_CHUNK;
		struct json_object *a, *rv = NULL, *cmd = command("guest-file-write", &a);
		_cleanup_free_ char *b64 = NULL;
		int64_t count = 0;

		if (!cmd || coll_b64_encode(p + off, n, &b64) < 0) {
			json_object_put(cmd);
			r = vtc_err(ENOMEM);
			break;
		}
		json_object_object_add(a, "handle", json_object_new_int64(handle));
		json_object_object_add(a, "buf-b64", json_object_new_string(b64));
		r = run(dom, cmd, COLL_FILE_TIMEOUT_S, &rv, eb);
		if (!r && (int_member(rv, "count", &count) < 0 || count != (int64_t)n))
			r = vtc_errf(eb, EIO, "guest-file-write %s: short write at %zu", path, off);
		json_object_put(rv);
		json_object_put(cmd);
		if (r < 0)
			break;
		off += n;
	}
	file_close(dom, handle);
	return r < 0 ? vtc_err_prefix(eb, r, "%s", path) : 0;
}

int coll_file_delete(virDomainPtr dom, const char *path, struct vt_errbuf *eb)
{
	const char *rm[] = { "-f", path, NULL };
	const char *bb[] = { "rm", "-f", path, NULL };
	struct coll_exec_status st;
	int r;

	r = coll_exec_wait(dom, "/bin/rm", rm, 10000, &st, eb);
	if (r == -EREMOTEIO)	/* no /bin/rm: a busybox-only guest */
		r = coll_exec_wait(dom, "/bin/busybox", bb, 10000, &st, eb);
	if (r < 0)
		return r;
	r = st.exitcode == 0 ? 0 : vtc_errf(eb, EIO, "rm -f %s: exit code %d", path, st.exitcode);
	coll_exec_status_fini(&st);
	return r;
}
