// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The agent's tracefs instance (create, configure, events) and the tracefs metadata it
 * reads: header_page sizes, per-CPU directories and lost-event counters, boot_id, TSC.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cleanup.h"
#include "util.h"

#define MSR_FILTER "msr==0x10 || msr==0x3b"	/* IA32_TSC, IA32_TSC_ADJUST */

static void put_tracing_filep(char **p)
{
	tracefs_put_tracing_file(*p);
}

#define _cleanup_tracing_file_ __attribute__((cleanup(put_tracing_filep)))

int vta_instance_get(struct tracefs_instance **ret, struct vt_errbuf *eb)
{
	struct tracefs_instance *inst;

	*ret = NULL;
	if (!tracefs_tracing_dir())
		return vtc_errf(eb, ENOENT, "tracefs is not mounted and cannot be mounted");
	if (!tracefs_instance_exists(VTA_INSTANCE))
		return vtc_errf(eb, ENOENT, "no tracefs instance %s (start was not run)",
				VTA_INSTANCE);
	inst = tracefs_instance_create(VTA_INSTANCE);
	if (!inst)
		return vtc_errf(eb, errno, "open tracefs instance %s: %m", VTA_INSTANCE);
	*ret = inst;
	return 0;
}

/* Create the instance; a stale one (an earlier agent that was not stopped) is replaced. */
static int instance_create_fresh(struct tracefs_instance **ret, struct vt_errbuf *eb)
{
	_cleanup_instance_ struct tracefs_instance *inst = NULL;

	if (!tracefs_tracing_dir())
		return vtc_errf(eb, ENOENT, "tracefs is not mounted and cannot be mounted");
	inst = tracefs_instance_create(VTA_INSTANCE);
	if (!inst)
		return vtc_errf(eb, errno, "create tracefs instance %s: %m", VTA_INSTANCE);
	if (!tracefs_instance_is_new(inst)) {
		if (tracefs_instance_destroy(inst) < 0)
			return vtc_errf(eb, errno, "remove stale tracefs instance %s: %m",
					VTA_INSTANCE);
		tracefs_instance_free(inst);
		inst = tracefs_instance_create(VTA_INSTANCE);
		if (!inst)
			return vtc_errf(eb, errno, "create tracefs instance %s: %m", VTA_INSTANCE);
		if (!tracefs_instance_is_new(inst))
			return vtc_errf(eb, EEXIST, "tracefs instance %s came back while recreated",
					VTA_INSTANCE);
	}
	*ret = TAKE_PTR(inst);
	return 0;
}

static int write_file(struct tracefs_instance *inst, const char *file, const char *text,
		      struct vt_errbuf *eb)
{
	if (tracefs_instance_file_write(inst, file, text) < 0)
		return vtc_errf(eb, errno ? errno : EIO, "write '%s' to %s: %m", text, file);
	return 0;
}

/* A pattern holds only what event names hold, plus the globs * and ?. */
static bool pattern_ok(const char *p)
{
	if (!*p)
		return false;
	for (; *p; p++)
		if (!(*p == '_' || *p == '*' || *p == '?' || *p == '-' || *p == '.' ||
		      (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

static int enable_one(struct tracefs_instance *inst, const char *sys, const char *ev,
		      struct vt_errbuf *eb)
{
	if (tracefs_event_file_write(inst, sys, ev, "enable", "1") < 0)
		return vtc_errf(eb, errno ? errno : EIO, "enable event %s:%s: %m", sys, ev);
	return 0;
}

/* Call @fn for the events of every system matching @sys_pat whose name matches @ev_pat. */
static int foreach_matching(const char *sys_pat, const char *ev_pat, vta_event_fn fn, void *ctx,
			    unsigned *nmatched, struct vt_errbuf *eb)
{
	_cleanup_list_ char **systems = tracefs_event_systems(NULL);

	if (!systems)
		return vtc_errf(eb, errno ? errno : ENOENT, "list event systems: %m");
	for (char **s = systems; *s; s++) {
		_cleanup_list_ char **events = NULL;

		if (fnmatch(sys_pat, *s, 0))
			continue;
		events = tracefs_system_events(NULL, *s);
		for (char **e = events; e && *e; e++) {
			int r;

			if (fnmatch(ev_pat, *e, 0))
				continue;
			r = fn(*s, *e, ctx, eb);
			if (r)
				return r;
			(*nmatched)++;
		}
	}
	return 0;
}

/*
 * One event spec: "system:event" (globs allowed), "system" (all its events), or an event
 * name alone when no system has that name (trace-cmd's -e rules).
 */
static int foreach_spec(const char *spec, vta_event_fn fn, void *ctx, struct vt_errbuf *eb)
{
	_cleanup_free_ char *copy = strdup(spec);
	unsigned n = 0;
	char *colon;
	int r;

	if (!copy)
		return vtc_err(ENOMEM);
	colon = strchr(copy, ':');
	if (colon)
		*colon = '\0';
	if (!pattern_ok(copy) || (colon && !pattern_ok(colon + 1)))
		return vtc_errf(eb, EINVAL, "event '%s': not system:event", spec);
	if (colon) {
		r = foreach_matching(copy, colon + 1, fn, ctx, &n, eb);
	} else {
		r = foreach_matching(copy, "*", fn, ctx, &n, eb);
		if (!r && !n)
			r = foreach_matching("*", copy, fn, ctx, &n, eb);
	}
	if (r)
		return r;
	if (!n)
		return vtc_errf(eb, ENOENT, "event '%s': no such event in this kernel", spec);
	return 0;
}

int vta_events_foreach(const char *list, vta_event_fn fn, void *ctx, struct vt_errbuf *eb)
{
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL;
	unsigned n = 0;

	if (!copy)
		return vtc_err(ENOMEM);
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		int r;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*tok)
			continue;
		r = foreach_spec(tok, fn, ctx, eb);
		if (r)
			return r;
		n++;
	}
	if (!n)
		return vtc_errf(eb, EINVAL, "no events given");
	return 0;
}

bool vta_msr_marker_exists(void)
{
	return tracefs_event_file_exists(NULL, "msr", "write_msr", "format");
}

static int enable_cb(const char *sys, const char *ev, void *ctx, struct vt_errbuf *eb)
{
	return enable_one(ctx, sys, ev, eb);
}

/* The TSC-write marker: msr:write_msr filtered to MSR 0x10 and 0x3b, when the kernel has it. */
static int enable_msr_marker(struct tracefs_instance *inst, struct vt_errbuf *eb)
{
	if (!vta_msr_marker_exists())
		return 0;
	if (tracefs_event_file_write(inst, "msr", "write_msr", "filter", MSR_FILTER) < 0)
		return vtc_errf(eb, errno ? errno : EIO, "filter msr:write_msr '%s': %m",
				MSR_FILTER);
	return enable_one(inst, "msr", "write_msr", eb);
}

static int configure(struct tracefs_instance *inst, const char *events, uint64_t buffer_kb,
		     struct vt_errbuf *eb)
{
	int r;

	if (tracefs_trace_off(inst) < 0)
		return vtc_errf(eb, errno ? errno : EIO, "tracing_on 0: %m");
	r = write_file(inst, "trace_clock", "x86-tsc", eb);
	if (r)
		return r;
	if (tracefs_instance_set_buffer_size(inst, buffer_kb, -1) < 0)
		return vtc_errf(eb, errno ? errno : EIO, "buffer_size_kb %llu: %m",
				(unsigned long long)buffer_kb);
	r = vta_events_foreach(events, enable_cb, inst, eb);
	if (r)
		return r;
	return enable_msr_marker(inst, eb);
}

int vta_instance_start(const char *events, uint64_t buffer_kb, struct tracefs_instance **ret,
		       struct vt_errbuf *eb)
{
	_cleanup_instance_ struct tracefs_instance *inst = NULL;
	int r;

	r = instance_create_fresh(&inst, eb);
	if (r)
		return r;
	r = configure(inst, events, buffer_kb, eb);
	if (r) {
		tracefs_instance_destroy(inst);
		return r;
	}
	*ret = TAKE_PTR(inst);
	return 0;
}

int vta_instance_events(struct tracefs_instance *inst, struct json_object **ret,
			struct vt_errbuf *eb)
{
	_cleanup_json_ struct json_object *arr = json_object_new_array();
	_cleanup_free_ char *text = NULL;
	char *save = NULL;

	if (!arr)
		return vtc_err(ENOMEM);
	text = tracefs_instance_file_read(inst, "set_event", NULL);
	if (!text)
		return vtc_errf(eb, errno ? errno : EIO, "read set_event: %m");
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int r = vta_json_push(arr, json_object_new_string(l));

		if (r)
			return r;
	}
	*ret = TAKE_PTR(arr);
	return 0;
}

/* The number after @key ("size:") on @line, up to the next ';'. */
static int field_number(const char *line, size_t linelen, const char *key, uint64_t *ret)
{
	char num[32];
	const char *p = memmem(line, linelen, key, strlen(key));
	size_t n = 0;

	if (!p)
		return vtc_err(EBADMSG);
	p += strlen(key);
	while (p + n < line + linelen && p[n] != ';' && n < sizeof(num) - 1) {
		num[n] = p[n];
		n++;
	}
	num[n] = '\0';
	return vtc_parse_u64(num, ret);
}

/* Offset and size of the header_page field named @name ("commit", "data"). */
static int header_field(const char *text, const char *name, uint64_t *off, uint64_t *size)
{
	char pat[32];
	size_t plen = (size_t)snprintf(pat, sizeof(pat), " %s;", name);

	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		if (memmem(l, len, pat, plen))
			return field_number(l, len, "offset:", off) ?:
			       field_number(l, len, "size:", size);
		l += len + (nl ? 1 : 0);
	}
	return vtc_err(ENOENT);
}

int vta_header_page(struct tracefs_instance *inst, uint32_t *page_size, unsigned *long_size,
		    struct vt_errbuf *eb)
{
	_cleanup_free_ char *text = NULL;
	uint64_t coff, csize, doff, dsize;

	if (inst)
		text = tracefs_instance_file_read(inst, "events/header_page", NULL);
	if (!text)
		text = tracefs_instance_file_read(NULL, "events/header_page", NULL);
	if (!text)
		return vtc_errf(eb, errno ? errno : ENOENT, "read events/header_page: %m");
	if (header_field(text, "commit", &coff, &csize) || header_field(text, "data", &doff, &dsize))
		return vtc_errf(eb, EBADMSG, "events/header_page: no commit or data field");
	if (csize != 4 && csize != 8)
		return vtc_errf(eb, EBADMSG, "events/header_page: commit size %llu",
				(unsigned long long)csize);
	if (doff + dsize < 4096 || doff + dsize > (1u << 20) || ((doff + dsize) & (doff + dsize - 1)))
		return vtc_errf(eb, EBADMSG, "events/header_page: page size %llu",
				(unsigned long long)(doff + dsize));
	*page_size = (uint32_t)(doff + dsize);
	*long_size = (unsigned)csize;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

int vta_cpu_list(struct tracefs_instance *inst, uint32_t **ret, uint32_t *ret_n,
		 struct vt_errbuf *eb)
{
	_cleanup_tracing_file_ char *path = tracefs_instance_get_file(inst, "per_cpu");
	__attribute__((cleanup(closedirp))) DIR *d = NULL;
	_cleanup_free_ uint32_t *cpus = NULL;
	uint32_t n = 0, cap = 0;
	struct dirent *de;

	if (!path)
		return vtc_err(ENOMEM);
	d = opendir(path);
	if (!d)
		return vtc_errf(eb, errno, "open %s: %m", path);
	while ((de = readdir(d))) {
		uint64_t cpu;

		if (strncmp(de->d_name, "cpu", 3) || vtc_parse_u64(de->d_name + 3, &cpu) ||
		    cpu >= 1024)
			continue;
		if (n == cap) {
			uint32_t *nc = realloc(cpus, (cap ? cap * 2 : 16) * sizeof(*cpus));

			if (!nc)
				return vtc_err(ENOMEM);
			cpus = nc;
			cap = cap ? cap * 2 : 16;
		}
		cpus[n++] = (uint32_t)cpu;
	}
	if (!n)
		return vtc_errf(eb, ENOENT, "%s: no CPUs", path);
	qsort(cpus, n, sizeof(*cpus), cmp_u32);
	*ret = TAKE_PTR(cpus);
	*ret_n = n;
	return 0;
}

/* The number after "@key: " in a stats text, or 0 when the line is missing. */
static int stats_value(const char *text, const char *key, uint64_t *ret)
{
	size_t klen = strlen(key);
	char num[32];

	*ret = 0;
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		if (len > klen + 1 && !strncmp(l, key, klen) && l[klen] == ':') {
			const char *v = l + klen + 1;
			size_t vlen = len - klen - 1;

			while (vlen && *v == ' ') {
				v++;
				vlen--;
			}
			if (vlen >= sizeof(num))
				return vtc_err(ERANGE);
			memcpy(num, v, vlen);
			num[vlen] = '\0';
			return vtc_parse_u64(num, ret);
		}
		l += len + (nl ? 1 : 0);
	}
	return 0;
}

int vta_cpu_lost(struct tracefs_instance *inst, uint32_t cpu, uint64_t *ret,
		 struct vt_errbuf *eb)
{
	_cleanup_free_ char *text = NULL;
	char file[64];
	uint64_t overrun, dropped;

	snprintf(file, sizeof(file), "per_cpu/cpu%u/stats", cpu);
	text = tracefs_instance_file_read(inst, file, NULL);
	if (!text)
		return vtc_errf(eb, errno ? errno : EIO, "read %s: %m", file);
	if (stats_value(text, "overrun", &overrun) || stats_value(text, "dropped events", &dropped))
		return vtc_errf(eb, EBADMSG, "%s: unreadable counters", file);
	*ret = overrun + dropped;
	return 0;
}

int vta_boot_id(char *buf, struct vt_errbuf *eb)
{
	static const char path[] = "/proc/sys/kernel/random/boot_id";
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = vtc_read_file(path, &text, &len);
	if (r)
		return vtc_errf(eb, r, "read %s: %s", path, strerror(-r));
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (!len || len > VTA_BOOT_ID_LEN)
		return vtc_errf(eb, EBADMSG, "%s: %zu characters", path, len);
	for (size_t i = 0; i < len; i++)
		if (text[i] < 0x21 || text[i] > 0x7e)
			return vtc_errf(eb, EBADMSG, "%s: not printable", path);
	memcpy(buf, text, len + 1);
	return 0;
}

uint64_t vta_rdtsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
#error "virt-trace-agent reads the x86 TSC"
#endif
}
