// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The info verb: what the host needs to turn the guest's chunks into a trace.dat and
 * onto the host's axis (kernel, CPUs and apic ids, TSC flags, clocksource, formats).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "agent.h"
#include "cleanup.h"
#include "util.h"

#define CLOCKSOURCE "/sys/devices/system/clocksource/clocksource0/current_clocksource"

static const char *const tsc_flag_names[] = { "constant_tsc", "nonstop_tsc", "tsc_known_freq" };

static int add_string(struct json_object *o, const char *key, const char *text)
{
	return vta_json_add(o, key, json_object_new_string(text));
}

static int add_null(struct json_object *o, const char *key)
{
	return json_object_object_add(o, key, NULL) ? vtc_err(ENOMEM) : 0;
}

/* A file's text, or JSON null when it cannot be read (the reason is not fatal here). */
static int add_file(struct json_object *o, const char *key, const char *path)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (vtc_read_file(path, &text, &len))
		return add_null(o, key);
	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	return add_string(o, key, text);
}

/* Trim blanks around @s in place; returns the new start. */
static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

static bool has_word(const char *list, const char *word)
{
	size_t wlen = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += wlen)
		if ((p == list || p[-1] == ' ') && (p[wlen] == ' ' || p[wlen] == '\0'))
			return true;
	return false;
}

static int add_cpu(struct json_object *cpus, uint64_t cpu, bool has_apic, uint64_t apic)
{
	struct json_object *e = json_object_new_object();
	int r = vta_json_push(cpus, e);

	if (!r)
		r = vta_json_add(e, "cpu", json_object_new_uint64(cpu));
	if (!r && has_apic)
		r = vta_json_add(e, "apic_id", json_object_new_uint64(apic));
	return r;
}

/* "cpus" (processor + apicid of every block) and "tsc_flags" from /proc/cpuinfo. */
static int add_cpuinfo(struct json_object *o, struct vt_errbuf *eb)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *flags = NULL;
	struct json_object *cpus, *tf;
	uint64_t cpu = 0, apic = 0;
	bool in_cpu = false, has_apic = false;
	char *save = NULL;
	int r;

	r = vtc_read_file("/proc/cpuinfo", &text, NULL);
	if (r)
		return vtc_errf(eb, r, "read /proc/cpuinfo: %s", strerror(-r));
	cpus = json_object_new_array();
	r = vta_json_add(o, "cpus", cpus);
	if (r)
		return r;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(l, ':');
		char *key, *val;

		if (!colon)
			continue;
		*colon = '\0';
		key = trim(l);
		val = trim(colon + 1);
		if (!strcmp(key, "processor")) {
			if (in_cpu && (r = add_cpu(cpus, cpu, has_apic, apic)))
				return r;
			if (vtc_parse_u64(val, &cpu))
				return vtc_errf(eb, EBADMSG, "/proc/cpuinfo: processor '%s'", val);
			in_cpu = true;
			has_apic = false;
		} else if (!strcmp(key, "apicid") ||
			   (!has_apic && !strcmp(key, "initial apicid"))) {
			if (vtc_parse_u64(val, &apic))
				return vtc_errf(eb, EBADMSG, "/proc/cpuinfo: %s '%s'", key, val);
			has_apic = true;
		} else if (!strcmp(key, "flags") && !flags) {
			flags = strdup(val);
			if (!flags)
				return vtc_err(ENOMEM);
		}
	}
	if (in_cpu && (r = add_cpu(cpus, cpu, has_apic, apic)))
		return r;

	tf = json_object_new_object();
	r = vta_json_add(o, "tsc_flags", tf);
	for (size_t i = 0; !r && i < sizeof(tsc_flag_names) / sizeof(tsc_flag_names[0]); i++)
		r = vta_json_add(tf, tsc_flag_names[i],
				 json_object_new_boolean(flags && has_word(flags, tsc_flag_names[i])));
	return r;
}

/* {"system","name","format"} of events/<system>/<name>/format (instance or top level). */
static int push_format(struct json_object *arr, struct tracefs_instance *inst,
		       const char *system, const char *name, struct vt_errbuf *eb)
{
	_cleanup_free_ char *text = NULL;
	char file[512];
	struct json_object *e;
	int r;

	if (snprintf(file, sizeof(file), "events/%s/%s/format", system, name) >= (int)sizeof(file))
		return vtc_errf(eb, ENAMETOOLONG, "event %s:%s: name too long", system, name);
	text = tracefs_instance_file_read(inst, file, NULL);
	if (!text)
		return vtc_errf(eb, errno ? errno : EIO, "read %s: %m", file);
	e = json_object_new_object();
	r = vta_json_push(arr, e);
	return r ?: add_string(e, "system", system) ?: add_string(e, "name", name) ?:
		    add_string(e, "format", text);
}

struct format_set {
	struct json_object *arr;	/* the "events" array */
	struct json_object *seen;	/* "system:name" keys already in it */
};

/* push_format once per event */
static int format_once(const char *system, const char *name, void *ctx, struct vt_errbuf *eb)
{
	struct format_set *fs = ctx;
	char key[512];

	snprintf(key, sizeof(key), "%s:%s", system, name);
	if (json_object_object_get_ex(fs->seen, key, NULL))
		return 0;
	if (json_object_object_add(fs->seen, key, NULL))
		return vtc_err(ENOMEM);
	return push_format(fs->arr, NULL, system, name, eb);
}

static int add_event_formats(struct json_object *f, struct tracefs_instance *inst,
			     const char *events, struct vt_errbuf *eb)
{
	_cleanup_json_ struct json_object *enabled = NULL;
	_cleanup_json_ struct json_object *seen = json_object_new_object();
	struct format_set fs = { .arr = json_object_new_array(), .seen = seen };
	size_t n;
	int r;

	if (!seen) {
		json_object_put(fs.arr);
		return vtc_err(ENOMEM);
	}
	r = vta_json_add(f, "events", fs.arr);
	if (!r && inst)
		r = vta_instance_events(inst, &enabled, eb);
	if (r)
		return r;
	n = enabled ? json_object_array_length(enabled) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *spec = json_object_get_string(json_object_array_get_idx(enabled, i));
		_cleanup_free_ char *sys = strdup(spec);
		char *colon;

		if (!sys)
			return vtc_err(ENOMEM);
		colon = strchr(sys, ':');
		if (!colon)
			return vtc_errf(eb, EBADMSG, "set_event: '%s'", spec);
		*colon = '\0';
		r = format_once(sys, colon + 1, &fs, eb);
		if (r)
			return r;
	}
	if (!events)
		return 0;
	r = vta_events_foreach(events, format_once, &fs, eb);
	if (!r && vta_msr_marker_exists())
		r = format_once("msr", "write_msr", &fs, eb);
	return r;
}

static int add_ftrace_formats(struct json_object *f, struct vt_errbuf *eb)
{
	_cleanup_list_ char **events = tracefs_system_events(NULL, "ftrace");
	struct json_object *arr = json_object_new_array();
	int r;

	r = vta_json_add(f, "ftrace", arr);
	for (char **e = events; !r && e && *e; e++)
		r = push_format(arr, NULL, "ftrace", *e, eb);
	return r;
}

/* A tracefs file's text under @key (top level when @inst is NULL). */
static int add_tracefs_text(struct json_object *o, const char *key, struct tracefs_instance *inst,
			    const char *file, struct vt_errbuf *eb)
{
	_cleanup_free_ char *text = NULL;

	errno = 0;
	text = tracefs_instance_file_read(inst, file, NULL);
	/* libtracefs returns NULL for an empty file too (saved_cmdlines before any event) */
	if (!text && errno && errno != ENODATA)
		return vtc_errf(eb, errno, "read %s: %m", file);
	return add_string(o, key, text ? text : "");
}

static int add_formats(struct json_object *o, struct tracefs_instance *inst,
		       const char *events, struct vt_errbuf *eb)
{
	struct json_object *f = json_object_new_object();
	int r = vta_json_add(o, "formats", f);

	return r ?: add_tracefs_text(f, "header_page", inst, "events/header_page", eb) ?:
		    add_tracefs_text(f, "header_event", inst, "events/header_event", eb) ?:
		    add_event_formats(f, inst, events, eb) ?: add_ftrace_formats(f, eb);
}

/* The instance's clock, the selected one of trace_clock ("[x86-tsc]"), or null. */
static int add_clock(struct json_object *o, struct tracefs_instance *inst)
{
	_cleanup_free_ char *text = inst ? tracefs_instance_file_read(inst, "trace_clock", NULL) :
					   NULL;
	char *open = text ? strchr(text, '[') : NULL;
	char *close = open ? strchr(open, ']') : NULL;

	if (!close)
		return add_null(o, "trace_clock");
	*close = '\0';
	return add_string(o, "trace_clock", open + 1);
}

int vta_info(struct tracefs_instance *inst, const char *events, struct json_object **ret,
	     struct vt_errbuf *eb)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	char boot_id[VTA_BOOT_ID_LEN + 1];
	struct utsname un;
	uint32_t page_size;
	unsigned long_size;
	int r;

	if (!o)
		return vtc_err(ENOMEM);
	if (uname(&un) < 0)
		return vtc_errf(eb, errno, "uname: %m");
	r = vta_boot_id(boot_id, eb) ?: vta_header_page(inst, &page_size, &long_size, eb);
	if (r)
		return r;
	r = add_string(o, "version", VT_VERSION) ?: add_string(o, "kernel", un.release) ?:
	    add_string(o, "machine", un.machine) ?: add_string(o, "boot_id", boot_id) ?:
	    add_file(o, "clocksource", CLOCKSOURCE) ?: add_cpuinfo(o, eb) ?:
	    vta_json_add(o, "page_size", json_object_new_uint64(page_size)) ?:
	    vta_json_add(o, "long_size", json_object_new_uint64(long_size)) ?:
	    (inst ? add_string(o, "instance", VTA_INSTANCE) : add_null(o, "instance")) ?: add_clock(o, inst) ?:
	    add_formats(o, inst, events, eb) ?:
	    add_tracefs_text(o, "printk", NULL, "printk_formats", eb) ?:
	    add_tracefs_text(o, "cmdlines", NULL, "saved_cmdlines", eb);
	if (r)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
}
