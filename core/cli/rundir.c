// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Open a run directory: manifest.json, host.dat and the guest files it lists.
 */
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rundir.h"
#include "vt/manifest.h"

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* a member name must stay inside the run directory */
static bool safe_member(const char *name)
{
	return name && *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

static int open_file(struct rundir *rd, const char *dir, const char *name, const char *label)
{
	struct vt_errbuf eb = { "" };
	char path[PATH_MAX];
	int r;

	if (!safe_member(name))
		return cli_error("%s/manifest.json: bad member name", dir);
	if (rd->nfiles == RUNDIR_MAX_FILES)
		return cli_error("%s: too many guest files", dir);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = vt_dat_open(path, &rd->files[rd->nfiles], &eb);
	if (r < 0)
		return cli_error_eb(r, &eb, path);
	snprintf(rd->labels[rd->nfiles], sizeof(rd->labels[0]), "%s", label);
	snprintf(rd->paths[rd->nfiles], sizeof(rd->paths[0]), "%s", path);
	rd->nfiles++;
	return 0;
}

static void map_guest_cpus(struct rundir *rd, struct json_object *guest, unsigned file)
{
	struct json_object *cpus;

	if (!json_object_object_get_ex(guest, "cpus", &cpus) ||
	    !json_object_is_type(cpus, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(cpus); i++) {
		struct json_object *c = json_object_array_get_idx(cpus, i), *v;
		struct vt_stream_tid m = { .file = file, .tid = -1 };

		if (rd->nmap == sizeof(rd->map) / sizeof(rd->map[0]))
			return;
		if (json_object_object_get_ex(c, "cpu", &v))
			m.cpu = (unsigned)json_object_get_int(v);
		if (json_object_object_get_ex(c, "buffer", &v))
			m.buffer = (size_t)json_object_get_uint64(v);
		if (json_object_object_get_ex(c, "tid", &v))
			m.tid = json_object_get_int(v);
		rd->map[rd->nmap++] = m;
	}
}

int rundir_open(const char *dir, struct rundir *rd)
{
	struct vt_errbuf eb = { "" };
	struct json_object *host, *guests;
	int r;

	memset(rd, 0, sizeof(*rd));
	r = vt_manifest_read(dir, &rd->manifest, &eb);
	if (r < 0)
		return cli_error_eb(r, &eb, dir);
	if (!json_object_object_get_ex(rd->manifest, "host", &host)) {
		rundir_close(rd);
		return cli_error("%s/manifest.json: no host part", dir);
	}
	r = open_file(rd, dir, get_str(host, "file"), "host");
	if (!r && json_object_object_get_ex(rd->manifest, "guests", &guests) &&
	    json_object_is_type(guests, json_type_array)) {
		for (size_t i = 0; !r && i < json_object_array_length(guests); i++) {
			struct json_object *g = json_object_array_get_idx(guests, i);
			char label[32];

			if (i == 0)
				snprintf(label, sizeof(label), "guest");
			else
				snprintf(label, sizeof(label), "guest-boot%zu", i + 1);
			r = open_file(rd, dir, get_str(g, "file"), label);
			if (!r)
				map_guest_cpus(rd, g, (unsigned)rd->nfiles - 1);
		}
	}
	if (r)
		rundir_close(rd);
	return r;
}

void rundir_close(struct rundir *rd)
{
	for (size_t i = 0; i < rd->nfiles; i++)
		vt_dat_close(rd->files[i]);
	json_object_put(rd->manifest);
	memset(rd, 0, sizeof(*rd));
}
