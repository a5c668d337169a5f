// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest half of finalize in a sandboxed child (vt_sandbox_run): it parses what the
 * guest produced and writes guest*.dat, confined to the run directory; it reports back
 * one JSON line of its sandbox, then one JSON object of results, which the parent checks
 * and takes into the manifest. A child that crashes, hangs or lies leaves the host half
 * as it is and the failure stated.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "finalize.h"
#include "util.h"
#include "vt/log.h"
#include "vt/manifest.h"
#include "vt/sandbox.h"

#define STEP_MAX_OUT (64u << 20)	/* the result JSON: guests' per-CPU figures */
#define STEP_MAX_WARNINGS 1000
#define STEP_FSIZE_MARGIN (64ull << 20)

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

struct step {
	const struct vt_run *run;
	const char *spool;
	struct json_object *root;
	struct vt_dat *host;
	const struct vt_timeline *host_tl;
	const struct vt_tsc_scale *scale;
	size_t nwarnings;	/* warnings of root before the step */
	struct json_object *vcpus;	/* root's "vcpus" before the step */
};

/*
 * VT_TEST_GUEST_STEP: a misbehaving guest step for the tests, after the sandbox is in
 * force: "crash", "hang", "write:PATH" (tries to create PATH, says how it went), or
 * "lie" (reports host.dat as one of its guest files).
 */
static void test_fault(struct json_object *root)
{
	const char *f = getenv("VT_TEST_GUEST_STEP");

	if (!f)
		return;
	if (!strcmp(f, "crash"))
		raise(SIGSEGV);
	if (!strcmp(f, "hang"))
		for (;;)
			pause();
	if (!strncmp(f, "write:", 6)) {
		int fd = open(f + 6, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		vt_manifest_add_warning(root, "test: guest step writing %s: %s", f + 6,
					fd < 0 ? strerror(errno) : "written");
		if (fd >= 0)
			close(fd);
	}
}

static struct json_object *files_json(const struct rec_guests *g)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; arr && i < g->n; i++) {
		struct json_object *f = json_object_new_object(), *tids = json_object_new_array();

		for (uint32_t c = 0; c < g->files[i].ncpus; c++)
			json_object_array_add(tids, json_object_new_uint64(g->files[i].tids[c]));
		json_object_object_add(f, "name", json_object_new_string(g->files[i].name));
		json_object_object_add(f, "trace_id", json_object_new_uint64(g->files[i].trace_id));
		json_object_object_add(f, "tids", tids);
		json_object_array_add(arr, f);
	}
	return arr;
}

static int write_line(int fd, struct json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int r;

	if (!text)
		return -ENOMEM;
	r = vtc_write_all(fd, text, strlen(text));
	return r < 0 ? r : vtc_write_all(fd, "\n", 1);
}

/* in the child: the sandbox first (before any guest byte is read), then the results */
static int step_child(void *arg, int fd, const struct vt_sandbox_info *info)
{
	struct step *s = arg;
	struct json_object *sb = vt_sandbox_info_json(info), *res, *w, *nw;
	_cleanup_free_ struct rec_guests *out = calloc(1, sizeof(*out));
	struct vt_errbuf eb = { "" };

	if (!sb || !out || write_line(fd, sb) < 0)
		return 1;
	json_object_put(sb);
	test_fault(s->root);
	if (rec_guest_finalize(s->run, s->spool, s->root, s->host, s->host_tl, s->scale, out,
			       &eb) < 0)
		vt_manifest_add_warning(s->root, "guest half: %s", eb.msg);
	res = json_object_new_object();
	nw = json_object_new_array();
	w = get(s->root, "warnings");
	for (size_t i = s->nwarnings; w && i < json_object_array_length(w); i++)
		json_object_array_add(nw, json_object_get(json_object_array_get_idx(w, i)));
	json_object_object_add(res, "warnings", nw);
	json_object_object_add(res, "guests", json_object_get(get(s->root, "guests")));
	json_object_object_add(res, "guest_agent", json_object_get(get(s->root, "guest_agent")));
	if (get(s->root, "vcpus") != s->vcpus) {
		json_object_object_add(res, "vcpus", json_object_get(get(s->root, "vcpus")));
		json_object_object_add(res, "foreign_writes",
				       json_object_get(get(s->root, "foreign_writes")));
	}
	json_object_object_add(res, "files", files_json(out));
	if (getenv("VT_TEST_GUEST_STEP") && !strcmp(getenv("VT_TEST_GUEST_STEP"), "lie")) {
		struct json_object *f = json_object_new_object();

		json_object_object_add(f, "name", json_object_new_string("../host.dat"));
		json_object_object_add(f, "trace_id", json_object_new_uint64(1));
		json_object_object_add(f, "tids", json_object_new_array());
		json_object_array_add(get(res, "files"), f);
	}
	if (write_line(fd, res) < 0)
		return 1;
	json_object_put(res);
	return 0;
}

static bool guest_file_name(const char *name)
{
	unsigned boot;
	int end = 0;

	if (!strcmp(name, "guest.dat"))
		return true;
	return sscanf(name, "guest-boot%u.dat%n", &boot, &end) == 1 && name[end] == '\0' &&
	       boot >= 2 && boot <= REC_MAX_GUESTS;
}

/* a guest file the child says it wrote: a plain regular file of the run directory */
static int take_file(const struct vt_run *run, struct json_object *f, struct rec_guests *g)
{
	const char *name = json_object_get_string(get(f, "name"));
	struct json_object *tids = get(f, "tids");
	struct rec_guest_file *gf = &g->files[g->n];
	char path[PATH_MAX];
	struct stat st;

	if (g->n == REC_MAX_GUESTS || !name || !guest_file_name(name) ||
	    !json_object_is_type(tids, json_type_array) ||
	    json_object_array_length(tids) > REC_MAX_VCPUS || !get(f, "trace_id"))
		return -EBADMSG;
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->files[i].name, name))
			return -EBADMSG;
	if (snprintf(path, sizeof(path), "%s/%s", run->dir, name) >= (int)sizeof(path) ||
	    lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1)
		return -EBADMSG;
	memset(gf, 0, sizeof(*gf));
	snprintf(gf->name, sizeof(gf->name), "%s", name);
	gf->trace_id = json_object_get_uint64(get(f, "trace_id"));
	gf->ncpus = (uint32_t)json_object_array_length(tids);
	for (uint32_t c = 0; c < gf->ncpus; c++)
		gf->tids[c] = (uint32_t)json_object_get_uint64(json_object_array_get_idx(tids, c));
	g->n++;
	return 0;
}

/* the child's results into @root and @out; -EBADMSG when they do not hold together */
static int take_results(const struct step *s, struct json_object *res, struct rec_guests *out)
{
	struct json_object *w = get(res, "warnings"), *files = get(res, "files");
	struct json_object *guests = get(res, "guests"), *agent = get(res, "guest_agent");
	size_t ng;

	if (!json_object_is_type(res, json_type_object) ||
	    !json_object_is_type(files, json_type_array) ||
	    (guests && !json_object_is_type(guests, json_type_array)) ||
	    (agent && !json_object_is_type(agent, json_type_object)))
		return -EBADMSG;
	ng = guests ? json_object_array_length(guests) : 0;
	for (size_t i = 0; i < json_object_array_length(files); i++)
		if (take_file(s->run, json_object_array_get_idx(files, i), out) < 0)
			return -EBADMSG;
	if (ng != out->n)
		return -EBADMSG;
	for (size_t i = 0; w && i < json_object_array_length(w) && i < STEP_MAX_WARNINGS; i++) {
		struct json_object *e = json_object_array_get_idx(w, i);

		if (json_object_is_type(e, json_type_string))
			vt_manifest_add_warning(s->root, "%s", json_object_get_string(e));
	}
	if (guests)
		json_object_object_add(s->root, "guests", json_object_get(guests));
	if (agent)
		json_object_object_add(s->root, "guest_agent", json_object_get(agent));
	/* the probe's timeline stands in only where the host has none of its own */
	if (!s->host_tl && json_object_is_type(get(res, "vcpus"), json_type_array)) {
		json_object_object_add(s->root, "vcpus", json_object_get(get(res, "vcpus")));
		if (get(res, "foreign_writes"))
			json_object_object_add(s->root, "foreign_writes",
					       json_object_get(get(res, "foreign_writes")));
	}
	return 0;
}

static bool is_taken(const struct rec_guests *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->files[i].name, name))
			return true;
	return false;
}

/* what a failed or lying child left in the run directory: not part of the archive */
static void remove_leftovers(const struct vt_run *run, const struct rec_guests *g)
{
	DIR *d = opendir(run->dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		bool keep = !strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "spool") ||
			    !strcmp(n, "host.dat") || !strcmp(n, "manifest.json") ||
			    (guest_file_name(n) && is_taken(g, n));

		if (!keep && (!strncmp(n, "guest", 5) || strstr(n, ".tmp")))
			unlinkat(dirfd(d), n, 0);
	}
	closedir(d);
}

static uint64_t spool_bytes;

static int add_size(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F)
		spool_bytes += (uint64_t)sb->st_size;
	return 0;
}

/* what the guest half may write per file: its spool and a margin for the metadata */
static uint64_t fsize_bound(const char *spool)
{
	char dir[PATH_MAX + 16];

	spool_bytes = 0;
	for (unsigned boot = 1; boot <= REC_MAX_GUESTS; boot++) {
		snprintf(dir, sizeof(dir), "%s/guest-boot%u", spool, boot);
		if (access(dir, F_OK) < 0)
			break;
		nftw(dir, add_size, 8, FTW_PHYS);
	}
	return spool_bytes + STEP_FSIZE_MARGIN;
}

/* 60 s, and 1 s per 8 MiB of guest pages; $VT_GUEST_STEP_TIMEOUT_MS for the tests */
static unsigned step_timeout_ms(uint64_t fsize)
{
	const char *e = getenv("VT_GUEST_STEP_TIMEOUT_MS");
	uint64_t ms;

	if (e && vtc_parse_u64(e, &ms) == 0 && ms > 0 && ms < UINT32_MAX)
		return (unsigned)ms;
	ms = 60000 + (fsize - STEP_FSIZE_MARGIN) / (8u << 20) * 1000;
	return ms < UINT32_MAX ? (unsigned)ms : UINT32_MAX;
}

int rec_guest_step(const struct vt_run *run, const char *spool, struct json_object *root,
		   struct vt_dat *host, const struct vt_timeline *host_tl,
		   const struct vt_tsc_scale *scale, struct rec_guests *out, char *failure,
		   size_t failure_len)
{
	struct json_object *w = get(root, "warnings"), *sb = NULL, *res = NULL;
	struct step s = { run, spool, root, host, host_tl, scale,
			  w ? json_object_array_length(w) : 0, get(root, "vcpus") };
	uint64_t fsize = fsize_bound(spool);
	struct vt_sandbox_opts o = { .write_dir = run->dir, .fsize_max = fsize,
				     .nofile_max = 64 };
	unsigned timeout = step_timeout_ms(fsize);
	struct vt_sandbox_child c;
	struct vt_errbuf eb = { "" };
	char why[VT_ERRBUF_LEN + 64] = "";
	int r;

	out->n = 0;
	failure[0] = '\0';
	r = vt_sandbox_run(&o, step_child, &s, timeout, STEP_MAX_OUT, &c, &eb);
	if (r < 0) {
		snprintf(failure, failure_len, "guest step not run: %s", eb.msg);
		vt_manifest_add_warning(root, "guest half left out: %s", failure);
		return 0;
	}
	if (c.len) {
		char *nl = memchr(c.out, '\n', c.len);

		if (nl) {
			*nl = '\0';
			sb = json_tokener_parse(c.out);
			if (vt_sandbox_child_ok(&c))
				res = json_tokener_parse(nl + 1);
		}
	}
	if (!vt_sandbox_child_ok(&c))
		vt_sandbox_child_describe(&c, timeout, why, sizeof(why));
	else if (!res || take_results(&s, res, out) < 0)
		snprintf(why, sizeof(why), "its results do not hold together");
	if (!json_object_is_type(sb, json_type_object)) {
		json_object_put(sb);
		sb = json_object_new_object();
	}
	json_object_object_add(sb, "pid", json_object_new_int(c.pid));
	json_object_object_add(sb, "timeout_ms", json_object_new_uint64(timeout));
	json_object_object_add(sb, "result", json_object_new_string(why[0] ? why : "ok"));
	json_object_object_add(root, "guest_sandbox", sb);
	if (why[0]) {
		out->n = 0;
		snprintf(failure, failure_len, "guest step %s", why);
		vt_manifest_add_warning(root, "guest half left out: the guest step %s", why);
		vt_log(LOG_ERR, "domain %s: run %s: guest half left out: the guest step %s",
		       run->domain, run->id, why);
	}
	remove_leftovers(run, out);
	json_object_put(res);
	vt_sandbox_child_fini(&c);
	return 0;
}
