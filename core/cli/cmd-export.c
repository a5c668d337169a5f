// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace export: one run as a single .tar.zst (pax tar, zstd), written atomically
 * (temporary file beside the target, fsync, rename).
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "runsel.h"
#include "vt/manifest.h"

static const char export_help[] =
	"Usage: virt-trace export DOMAIN [RUN] -o FILE.tar.zst\n"
	"       virt-trace export DIR -o FILE.tar.zst\n"
	"\n"
	"Write one run (default: the latest) as a single pax tar archive compressed with\n"
	"zstd. Its members sit in one directory named DOMAIN-RUN; unpack with\n"
	"'tar --zstd -xf FILE.tar.zst'. A run that is still recording is refused.\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE   the archive to write (replaced atomically)\n"
	"  -h, --help          this help\n";

struct exporter {
	struct archive *a;
	const char *top;	/* name of the archive's top directory */
	uint64_t done, total;
	char buf[1 << 16];
};

static int add_file(struct exporter *ex, const char *path, const char *name,
		    const struct stat *st)
{
	struct archive_entry *e = archive_entry_new();
	_cleanup_close_ int fd = -1;
	int r = 0;

	if (!e)
		return cli_error("out of memory");
	if (S_ISREG(st->st_mode)) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			archive_entry_free(e);
			return cli_error("%s: %s", path, strerror(errno));
		}
	}
	archive_entry_copy_stat(e, st);
	archive_entry_set_pathname(e, name);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	if (archive_write_header(ex->a, e) != ARCHIVE_OK) {
		r = cli_error("%s: %s", name, archive_error_string(ex->a));
		goto out;
	}
	for (off_t left = S_ISREG(st->st_mode) ? st->st_size : 0; left > 0;) {
		ssize_t n = read(fd, ex->buf, sizeof(ex->buf) < (size_t)left ? sizeof(ex->buf)
									   : (size_t)left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = cli_error("%s: %s", path, n < 0 ? strerror(errno) : "file shrank while exporting");
			goto out;
		}
		if (archive_write_data(ex->a, ex->buf, (size_t)n) != n) {
			r = cli_error("%s: %s", name, archive_error_string(ex->a));
			goto out;
		}
		left -= n;
		ex->done += (uint64_t)n;
		cli_progress("exporting: %llu of %llu MiB", (unsigned long long)(ex->done >> 20),
			     (unsigned long long)(ex->total >> 20));
	}
out:
	archive_entry_free(e);
	return r;
}

/* @dir (path on disk) as @name in the archive, members sorted, sub-directories too */
static int add_dir(struct exporter *ex, const char *dir, const char *name, unsigned depth)
{
	struct dirent **ents = NULL;
	struct stat st;
	int n, r = 0;

	if (lstat(dir, &st) < 0)
		return cli_error("%s: %s", dir, strerror(errno));
	r = add_file(ex, dir, name, &st);
	if (r)
		return r;
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return cli_error("%s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *base = ents[i]->d_name;
		char path[PATH_MAX], member[PATH_MAX];
		size_t blen = strlen(base);

		if (r || !strcmp(base, ".") || !strcmp(base, "..") ||
		    (blen > 4 && !strcmp(base + blen - 4, ".tmp")) || base[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, base) >= sizeof(path) ||
		    (size_t)snprintf(member, sizeof(member), "%s/%s", name, base) >= sizeof(member)) {
			r = cli_error("%s/%s: path too long", dir, base);
			continue;
		}
		if (lstat(path, &st) < 0) {
			r = cli_error("%s: %s", path, strerror(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode) && depth < 8)
			r = add_dir(ex, path, member, depth + 1);
		else if (S_ISREG(st.st_mode))
			r = add_file(ex, path, member, &st);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return r;
}

static int write_archive(const char *dir, const char *top, const char *out)
{
	_cleanup_free_ char *tmp = NULL, *copy = strdup(out);
	struct exporter *ex = calloc(1, sizeof(*ex));
	int fd, r;

	if (!ex || !copy || asprintf(&tmp, "%s.XXXXXX", out) < 0) {
		free(ex);
		return cli_error("out of memory");
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		free(ex);
		return cli_error("%s: cannot create: %s", out, strerror(errno));
	}
	(void)fchmod(fd, 0640);
	ex->top = top;
	ex->total = runsel_dir_bytes(dir);
	ex->a = archive_write_new();
	if (!ex->a || archive_write_set_format_pax_restricted(ex->a) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(ex->a) != ARCHIVE_OK ||
	    archive_write_open_fd(ex->a, fd) != ARCHIVE_OK) {
		r = cli_error("%s: %s", out, ex->a ? archive_error_string(ex->a) : "out of memory");
		goto fail;
	}
	r = add_dir(ex, dir, top, 0);
	if (r)
		goto fail;
	if (archive_write_close(ex->a) != ARCHIVE_OK) {
		r = cli_error("%s: %s", out, archive_error_string(ex->a));
		goto fail;
	}
	if (fsync(fd) < 0) {
		r = cli_error("%s: %s", out, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, out) < 0) {
		r = cli_error("%s: %s", out, strerror(errno));
		goto fail;
	}
	/* the rename itself must survive a crash too */
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	archive_write_free(ex->a);
	free(ex);
	cli_progress("%s", "");
	return 0;
fail:
	if (ex->a)
		archive_write_free(ex->a);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(ex);
	cli_progress("%s", "");
	return r;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct vt_errbuf eb = { "" };
	struct json_object *mf = NULL;
	const char *out = NULL, *state;
	char top[512], esc[256];
	struct vt_run run;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			fputs(export_help, stdout);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (!out)
		return cli_usage("export", "-o FILE.tar.zst is required");
	r = runsel_resolve("export", argv + optind, argc - optind, true, &run);
	if (r)
		return r;
	r = vt_manifest_read(run.dir, &mf, &eb);
	if (r < 0)
		return cli_error_eb(r, &eb, run.dir);
	state = runsel_str(mf, "state");
	if (state && (!strcmp(state, "recording") || !strcmp(state, "finalizing"))) {
		r = cli_error("%s: the run is still %s (end it with 'virt-trace stop %s')", run.dir,
			      state, run.domain[0] ? run.domain : "DOMAIN");
		json_object_put(mf);
		return r;
	}
	json_object_put(mf);
	if (run.domain[0] && vt_store_escape(run.domain, esc, sizeof(esc)) == 0) {
		const char *id = strrchr(run.dir, '/') ? strrchr(run.dir, '/') + 1 : run.dir;

		snprintf(top, sizeof(top), "%.255s-%.200s", esc, id);
	} else {
		const char *base = strrchr(run.dir, '/');

		snprintf(top, sizeof(top), "%.255s", base && base[1] ? base + 1 : "run");
	}
	return write_archive(run.dir, top, out);
}
