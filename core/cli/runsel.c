// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Resolve a verb's run argument (a run directory or DOMAIN [RUN]) and read the manifest
 * figures that list, show and status print.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "runsel.h"

static bool is_run_dir(const char *path)
{
	char mf[PATH_MAX];
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if ((size_t)snprintf(mf, sizeof(mf), "%s/manifest.json", path) >= sizeof(mf))
		return false;
	return access(mf, F_OK) == 0;
}

int runsel_resolve(const char *verb, char **pos, int npos, bool allow_dir, struct vt_run *run)
{
	struct vt_errbuf eb = { "" };
	int r;

	memset(run, 0, sizeof(*run));
	run->lock_fd = -1;
	if (npos < 1)
		return cli_usage(verb, "expected DOMAIN [RUN]%s", allow_dir ? " or a run directory" : "");
	if (npos > 2)
		return cli_usage(verb, "too many arguments");
	if (allow_dir && npos == 1 && is_run_dir(pos[0])) {
		if (!realpath(pos[0], run->dir) &&
		    (size_t)snprintf(run->dir, sizeof(run->dir), "%s", pos[0]) >= sizeof(run->dir))
			return cli_error("%s: path too long", pos[0]);
		return 0;
	}
	/* libvirt domain names hold no '/': such an argument is a path */
	if (allow_dir && npos == 1 && strchr(pos[0], '/'))
		return cli_error("%s: not a run directory (no manifest.json)", pos[0]);
	r = vt_run_open(pos[0], npos == 2 ? pos[1] : NULL, run, &eb);
	if (r < 0)	/* the reason names the domain and run */
		return cli_error("%s", eb.msg[0] ? eb.msg : strerror(-r));
	return 0;
}

const char *runsel_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

uint64_t runsel_u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_uint64(v);
}

struct json_object *runsel_array(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

uint64_t runsel_events(struct json_object *manifest)
{
	struct json_object *host = NULL, *guests = runsel_array(manifest, "guests");
	uint64_t n = 0;

	if (json_object_object_get_ex(manifest, "host", &host))
		n += runsel_u64(host, "events");
	for (size_t i = 0; guests && i < json_object_array_length(guests); i++)
		n += runsel_u64(json_object_array_get_idx(guests, i), "events");
	return n;
}

static uint64_t dir_bytes_at(int dfd, unsigned depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	uint64_t n = 0;

	if (!d) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			n += (uint64_t)st.st_size;
		} else if (S_ISDIR(st.st_mode) && depth < 8) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				n += dir_bytes_at(sub, depth + 1);
		}
	}
	closedir(d);
	return n;
}

uint64_t runsel_dir_bytes(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? 0 : dir_bytes_at(fd, 0);
}

static int64_t parse_utc(const char *s)
{
	struct tm tm = { 0 };
	const char *end;

	if (!s)
		return -1;
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && *end != 'Z' && *end != '.'))
		return -1;
	return (int64_t)timegm(&tm);
}

int64_t runsel_duration(struct json_object *manifest, const char *dir)
{
	static const char *const end_keys[] = { "ended", "finished", "stopped" };
	int64_t start = parse_utc(runsel_str(manifest, "started")), end = -1;
	const char *state = runsel_str(manifest, "state");
	char path[PATH_MAX];
	struct stat st;

	if (start < 0)
		return -1;
	for (size_t i = 0; end < 0 && i < sizeof(end_keys) / sizeof(end_keys[0]); i++)
		end = parse_utc(runsel_str(manifest, end_keys[i]));
	if (end < 0 && state && !strcmp(state, "recording"))
		end = (int64_t)time(NULL);
	/* a final manifest is written last: its time is the end of the run */
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	if (end < 0 && stat(path, &st) == 0)
		end = (int64_t)st.st_mtime;
	return end >= start ? end - start : -1;
}

const char *runsel_fmt_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

const char *runsel_fmt_duration(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		snprintf(buf, len, "-");
	else if (secs >= 3600)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", secs / 3600, secs / 60 % 60);
	else if (secs >= 60)
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", secs / 60, secs % 60);
	else
		snprintf(buf, len, "%" PRId64 "s", secs);
	return buf;
}
