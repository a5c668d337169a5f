// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Host trace.dat metadata from the live tracefs (or a saved copy of it): formats,
 * kallsyms, printk_formats, saved_cmdlines, uname.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <tracefs.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "vt/tracefs-meta.h"

struct vt_tracefs_meta {
	struct vt_dat_meta meta;
	struct vt_dat_format *formats;	/* owned texts and systems */
	char **names;			/* event name of each format (for save) */
	size_t nformats, cap;
	char *header_page, *header_event, *kallsyms, *printk, *cmdlines, *uname;
};

void vt_tracefs_meta_free(struct vt_tracefs_meta *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nformats; i++) {
		free((char *)m->formats[i].system);
		free((char *)m->formats[i].text.data);
		free(m->names[i]);
	}
	free(m->formats);
	free(m->names);
	free(m->header_page);
	free(m->header_event);
	free(m->kallsyms);
	free(m->printk);
	free(m->cmdlines);
	free(m->uname);
	free(m);
}

static void meta_freep(struct vt_tracefs_meta **m)
{
	vt_tracefs_meta_free(*m);
}

const struct vt_dat_meta *vt_tracefs_meta_get(const struct vt_tracefs_meta *m)
{
	return &m->meta;
}

static bool have_format(const struct vt_tracefs_meta *m, const char *sys, const char *ev)
{
	for (size_t i = 0; i < m->nformats; i++)
		if (!strcmp(m->formats[i].system, sys) && !strcmp(m->names[i], ev))
			return true;
	return false;
}

/* read @root/events/@sys/@ev/format into the list (once); a missing one is skipped */
static int add_format(struct vt_tracefs_meta *m, const char *root, const char *sys,
		      const char *ev)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len;
	int r;

	if (strchr(sys, '/') || strchr(ev, '/') || have_format(m, sys, ev))
		return 0;
	snprintf(path, sizeof(path), "%s/events/%s/%s/format", root, sys, ev);
	r = vtc_read_file(path, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (m->nformats == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		void *f = realloc(m->formats, ncap * sizeof(*m->formats));

		if (!f) {
			free(text);
			return vtc_err(ENOMEM);
		}
		m->formats = f;
		f = realloc(m->names, ncap * sizeof(*m->names));
		if (!f) {
			free(text);
			return vtc_err(ENOMEM);
		}
		m->names = f;
		m->cap = ncap;
	}
	m->formats[m->nformats].system = strdup(sys);
	m->formats[m->nformats].text = (struct vt_blob){ text, len };
	m->names[m->nformats] = strdup(ev);
	if (!m->formats[m->nformats].system || !m->names[m->nformats]) {
		free((char *)m->formats[m->nformats].system);
		free(m->names[m->nformats]);
		free(text);
		return vtc_err(ENOMEM);
	}
	m->nformats++;
	return 0;
}

/* every event directory of @root/events/@sys */
static int add_system(struct vt_tracefs_meta *m, const char *root, const char *sys)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "%s/events/%s", root, sys);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : vtc_err(errno);
	while (!r && (de = readdir(d)))
		if (de->d_name[0] != '.' && de->d_type == DT_DIR)
			r = add_format(m, root, sys, de->d_name);
	closedir(d);
	return r;
}

static int add_event_spec(struct vt_tracefs_meta *m, const char *root, const char *spec)
{
	char buf[512], *colon;

	snprintf(buf, sizeof(buf), "%s", spec);
	colon = strchr(buf, ':');
	if (!colon || !colon[1])
		return 0;
	*colon = '\0';
	if (!strcmp(buf, "ftrace"))
		return 0;	/* already all there */
	return add_format(m, root, buf, colon + 1);
}

/* parse "field: local_t commit; offset:8; size:8;" for the kernel long size */
static unsigned long_size_of(const char *header_page)
{
	const char *p = header_page ? strstr(header_page, "commit;") : NULL;

	if (p && (p = strstr(p, "size:")))
		return (unsigned)strtoul(p + 5, NULL, 10) == 4 ? 4 : 8;
	return 8;
}

static int read_opt(const char *path, char **ret, size_t *len)
{
	int r = vtc_read_file(path, ret, len);

	if (r == -ENOENT || r == -EACCES) {
		*ret = strdup("");
		*len = 0;
		return *ret ? 0 : vtc_err(ENOMEM);
	}
	return r;
}

static void finish_meta(struct vt_tracefs_meta *m, size_t hp, size_t he, size_t ks, size_t pk,
			size_t cl)
{
	m->meta.page_size = (unsigned)sysconf(_SC_PAGESIZE);
	m->meta.long_size = long_size_of(m->header_page);
	m->meta.header_page = (struct vt_blob){ m->header_page, hp };
	m->meta.header_event = (struct vt_blob){ m->header_event, he };
	m->meta.formats = m->formats;
	m->meta.nformats = m->nformats;
	m->meta.kallsyms = (struct vt_blob){ m->kallsyms, ks };
	m->meta.printk = (struct vt_blob){ m->printk, pk };
	m->meta.cmdlines = (struct vt_blob){ m->cmdlines, cl };
	m->meta.uname = m->uname && *m->uname ? m->uname : NULL;
}

/* everything but the events: @live reads /proc/kallsyms and uname(2) */
static int read_common(struct vt_tracefs_meta *m, const char *root, bool live,
		       struct vt_errbuf *eb)
{
	size_t hp, he, ks, pk, cl, ul;
	char path[PATH_MAX];
	int r;

#define RD(name, field, len)                                                                       \
	do {                                                                                       \
		snprintf(path, sizeof(path), "%s/%s", root, name);                                  \
		r = read_opt(path, &m->field, &len);                                               \
		if (r < 0)                                                                         \
			return vtc_errf(eb, r, "%s: %s", path, strerror(-r));                       \
	} while (0)
	RD("events/header_page", header_page, hp);
	RD("events/header_event", header_event, he);
	if (!hp)
		return vtc_errf(eb, ENOENT, "%s/events/header_page: missing or empty", root);
	RD("printk_formats", printk, pk);
	RD("saved_cmdlines", cmdlines, cl);
	if (live) {
		struct utsname u;

		r = read_opt("/proc/kallsyms", &m->kallsyms, &ks);
		if (r < 0)
			return vtc_errf(eb, r, "/proc/kallsyms: %s", strerror(-r));
		if (uname(&u) == 0 && asprintf(&m->uname, "%s %s %s %s", u.sysname, u.nodename,
					       u.release, u.version) < 0)
			return vtc_err(ENOMEM);
	} else {
		RD("kallsyms", kallsyms, ks);
		RD("uname", uname, ul);
		m->uname[strcspn(m->uname, "\n")] = '\0';
	}
#undef RD
	r = add_system(m, root, "ftrace");
	if (r < 0)
		return vtc_errf(eb, r, "%s/events/ftrace: %s", root, strerror(-r));
	finish_meta(m, hp, he, ks, pk, cl);
	return 0;
}

int vt_tracefs_meta_read(const char *const *instances, size_t ninst, const char *const *extra,
			 size_t nextra, struct vt_tracefs_meta **ret, struct vt_errbuf *eb)
{
	struct vt_tracefs_meta *m __attribute__((cleanup(meta_freep))) = calloc(1, sizeof(*m));
	const char *root = tracefs_tracing_dir();
	int r;

	if (!m)
		return vtc_err(ENOMEM);
	if (!root)
		return vtc_errf(eb, ENOENT, "tracefs is not mounted");
	r = read_common(m, root, true, eb);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ninst; i++) {
		_cleanup_free_ char *set = NULL;
		char path[PATH_MAX], *save = NULL, *line;

		if (!instances[i])
			continue;
		snprintf(path, sizeof(path), "%s/instances/%s/set_event", root, instances[i]);
		r = vtc_read_file(path, &set, NULL);
		if (r < 0)
			return vtc_errf(eb, r, "%s: %s", path, strerror(-r));
		for (line = strtok_r(set, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			r = add_event_spec(m, root, line);
			if (r < 0)
				return vtc_errf(eb, r, "%s: format of %s: %s", root, line,
						strerror(-r));
		}
	}
	for (size_t i = 0; i < nextra; i++) {
		r = add_event_spec(m, root, extra[i]);
		if (r < 0)
			return vtc_errf(eb, r, "%s: format of %s: %s", root, extra[i], strerror(-r));
	}
	finish_meta(m, m->meta.header_page.len, m->meta.header_event.len, m->meta.kallsyms.len,
		    m->meta.printk.len, m->meta.cmdlines.len);
	*ret = TAKE_PTR(m);
	return 0;
}

int vt_tracefs_meta_load(const char *dir, struct vt_tracefs_meta **ret, struct vt_errbuf *eb)
{
	struct vt_tracefs_meta *m __attribute__((cleanup(meta_freep))) = calloc(1, sizeof(*m));
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r;

	if (!m)
		return vtc_err(ENOMEM);
	r = read_common(m, dir, false, eb);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/events", dir);
	d = opendir(path);
	if (!d)
		return vtc_errf(eb, errno, "%s: %s", path, strerror(errno));
	r = 0;
	while (!r && (de = readdir(d)))
		if (de->d_name[0] != '.' && de->d_type == DT_DIR && strcmp(de->d_name, "ftrace"))
			r = add_system(m, dir, de->d_name);
	closedir(d);
	if (r < 0)
		return vtc_errf(eb, r, "%s: %s", path, strerror(-r));
	finish_meta(m, m->meta.header_page.len, m->meta.header_event.len, m->meta.kallsyms.len,
		    m->meta.printk.len, m->meta.cmdlines.len);
	*ret = TAKE_PTR(m);
	return 0;
}

static int save_file(const char *dir, const char *name, const char *data, size_t len,
		     struct vt_errbuf *eb)
{
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return vtc_errf(eb, ENAMETOOLONG, "%s/%s: %s", dir, name, strerror(ENAMETOOLONG));
	r = vtc_write_file_atomic(path, data ? data : "", data ? len : 0);
	if (r < 0)
		return vtc_errf(eb, r, "%s: %s", path, strerror(-r));
	return 0;
}

static int mkdir_p2(const char *a, const char *b, const char *c)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s%s%s%s%s", a, b ? "/" : "", b ? b : "",
		     c ? "/" : "", c ? c : "") >= (int)sizeof(path))
		return vtc_err(ENAMETOOLONG);
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return vtc_err(errno);
	return 0;
}

int vt_tracefs_meta_save(const struct vt_tracefs_meta *m, const char *dir,
			 struct vt_errbuf *eb)
{
	char sub[PATH_MAX];
	int r;

	if ((r = mkdir_p2(dir, NULL, NULL)) < 0 || (r = mkdir_p2(dir, "events", NULL)) < 0)
		return vtc_errf(eb, r, "%s: cannot create: %s", dir, strerror(-r));
	r = save_file(dir, "events/header_page", m->header_page, m->meta.header_page.len, eb);
	if (!r)
		r = save_file(dir, "events/header_event", m->header_event,
			      m->meta.header_event.len, eb);
	if (!r)
		r = save_file(dir, "kallsyms", m->kallsyms, m->meta.kallsyms.len, eb);
	if (!r)
		r = save_file(dir, "printk_formats", m->printk, m->meta.printk.len, eb);
	if (!r)
		r = save_file(dir, "saved_cmdlines", m->cmdlines, m->meta.cmdlines.len, eb);
	if (!r)
		r = save_file(dir, "uname", m->uname, m->uname ? strlen(m->uname) : 0, eb);
	for (size_t i = 0; !r && i < m->nformats; i++) {
		snprintf(sub, sizeof(sub), "%s/events", dir);
		r = mkdir_p2(sub, m->formats[i].system, NULL);
		if (!r)
			r = mkdir_p2(sub, m->formats[i].system, m->names[i]);
		if (r < 0)
			return vtc_errf(eb, r, "%s/%s: cannot create: %s", sub,
					m->formats[i].system, strerror(-r));
		snprintf(sub, sizeof(sub), "events/%s/%s/format", m->formats[i].system,
			 m->names[i]);
		r = save_file(dir, sub, m->formats[i].text.data, m->formats[i].text.len, eb);
	}
	return r;
}

int vt_tracefs_meta_set_cmdlines(struct vt_tracefs_meta *m, const char *text, size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy)
		return vtc_err(ENOMEM);
	memcpy(copy, text, len);
	copy[len] = '\0';
	free(m->cmdlines);
	m->cmdlines = copy;
	m->meta.cmdlines = (struct vt_blob){ copy, len };
	return 0;
}

int vt_tracefs_meta_refresh_cmdlines(struct vt_tracefs_meta *m)
{
	const char *root = tracefs_tracing_dir();
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX];
	size_t len;
	int r;

	if (!root)
		return vtc_err(ENOENT);
	snprintf(path, sizeof(path), "%s/saved_cmdlines", root);
	r = vtc_read_file(path, &text, &len);
	if (r < 0)
		return r;
	return vt_tracefs_meta_set_cmdlines(m, text, len);
}
