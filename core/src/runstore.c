// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The run store: escaped domain directories, run ids, 'latest', the domain lock and the
 * state field of manifest.json (DESIGN.md §3).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "vt/manifest.h"
#include "vt/runstore.h"

static const char *const state_names[_VT_RUN_STATE_MAX] = {
	[VT_RUN_RECORDING] = "recording",
	[VT_RUN_FINALIZING] = "finalizing",
	[VT_RUN_COMPLETE] = "complete",
	[VT_RUN_INCOMPLETE] = "incomplete",
	[VT_RUN_FAILED] = "failed",
};

const char *vt_store_root(void)
{
	const char *d = getenv("VT_STATE_DIR");

	return d && *d ? d : "/var/lib/virt-trace";
}

const char *vt_store_rundir(void)
{
	const char *d = getenv("VT_RUN_DIR");

	return d && *d ? d : "/run/virt-trace";
}

const char *vt_run_state_name(enum vt_run_state st)
{
	return st < _VT_RUN_STATE_MAX ? state_names[st] : "unknown";
}

int vt_run_state_parse(const char *name, enum vt_run_state *ret)
{
	for (int i = 0; i < _VT_RUN_STATE_MAX; i++) {
		if (name && !strcmp(name, state_names[i])) {
			*ret = (enum vt_run_state)i;
			return 0;
		}
	}
	return vtc_err(EINVAL);
}

static bool keep_byte(unsigned char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	if (c == '_' || c == '+' || c == '-')
		return true;
	return c == '.' && !first;
}

int vt_store_escape(const char *domain, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (!domain || !*domain)
		return vtc_err(EINVAL);
	for (const unsigned char *p = (const unsigned char *)domain; *p; p++) {
		bool keep = keep_byte(*p, p == (const unsigned char *)domain);
		size_t need = keep ? 1 : 3;

		if (o + need >= len || o + need > NAME_MAX)
			return vtc_err(ENAMETOOLONG);
		if (keep) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* inverse of vt_store_escape; -EINVAL for a name it cannot have produced */
static int unescape(const char *name, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = name; *p; p++) {
		char c = *p;

		if (c == '%') {
			int hi = unhex(p[1]), lo = hi < 0 ? -1 : unhex(p[2]);

			if (hi < 0 || lo < 0)
				return vtc_err(EINVAL);
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if (o + 1 >= len)
			return vtc_err(ENAMETOOLONG);
		out[o++] = c;
	}
	out[o] = '\0';
	return o ? 0 : vtc_err(EINVAL);
}

/* files and directories of the store belong to group libvirt where it exists */
static gid_t libvirt_gid(void)
{
	static gid_t gid = (gid_t)-2;

	if (gid == (gid_t)-2) {
		struct group *g = getgrnam("libvirt");

		gid = g ? g->gr_gid : (gid_t)-1;
	}
	return gid;
}

static void set_group(int fd, const char *path)
{
	gid_t gid = libvirt_gid();

	if (gid == (gid_t)-1)
		return;
	if (path)
		(void)!lchown(path, (uid_t)-1, gid);
	else if (fd >= 0)
		(void)!fchown(fd, (uid_t)-1, gid);
}

static int mkdir_store(const char *path)
{
	if (mkdir(path, 0750) < 0) {
		if (errno != EEXIST)
			return vtc_err(errno);
		return 0;
	}
	(void)chmod(path, 0750);	/* umask */
	set_group(-1, path);
	return 0;
}

static int domain_dir(const char *domain, char *out, size_t len, struct vt_errbuf *eb)
{
	char esc[NAME_MAX + 1];
	int r = vt_store_escape(domain, esc, sizeof(esc));

	if (r < 0)
		return vtc_errf(eb, r, "domain name '%.64s': %s", domain ? domain : "",
				r == -ENAMETOOLONG ? "too long for a directory name"
						   : "empty");
	if ((size_t)snprintf(out, len, "%s/%s", vt_store_root(), esc) >= len)
		return vtc_errf(eb, ENAMETOOLONG, "%s/%s: path too long", vt_store_root(), esc);
	return 0;
}

/* manifest.json of @run, atomically, with the store's group */
static int write_manifest(const struct vt_run *run, struct json_object *root,
			  struct vt_errbuf *eb)
{
	char path[PATH_MAX];
	int r = vt_manifest_write(run->dir, root, eb);

	if (!r && snprintf(path, sizeof(path), "%s/manifest.json", run->dir) < (int)sizeof(path))
		set_group(-1, path);
	return r;
}

static int open_lock(const char *ddir, int flags)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/.lock", ddir) >= (int)sizeof(path))
		return vtc_err(ENAMETOOLONG);
	fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return vtc_err(errno);
	if (flags & O_CREAT)
		set_group(fd, NULL);
	return fd;
}

static int replace_latest(const char *ddir, const char *id)
{
	char tmp[PATH_MAX], path[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s/.latest.tmp", ddir) >= (int)sizeof(tmp) ||
	    snprintf(path, sizeof(path), "%s/latest", ddir) >= (int)sizeof(path))
		return vtc_err(ENAMETOOLONG);
	unlink(tmp);
	if (symlink(id, tmp) < 0)
		return vtc_err(errno);
	set_group(-1, tmp);
	if (rename(tmp, path) < 0) {
		int r = vtc_err(errno);

		unlink(tmp);
		return r;
	}
	return 0;
}

static int write_initial_manifest(const struct vt_run *run, const char *uuid,
				  struct vt_errbuf *eb)
{
	struct json_object *root = vt_manifest_new("recording"), *dom;
	char started[32];
	time_t now = time(NULL);
	struct tm tm;
	int r;

	if (!root)
		return vtc_err(ENOMEM);
	gmtime_r(&now, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	dom = json_object_new_object();
	if (!dom || json_object_object_add(root, "domain", dom) < 0) {
		json_object_put(dom);
		json_object_put(root);
		return vtc_err(ENOMEM);
	}
	json_object_object_add(dom, "name", json_object_new_string(run->domain));
	if (uuid)
		json_object_object_add(dom, "uuid", json_object_new_string(uuid));
	json_object_object_add(root, "run_id", json_object_new_string(run->id));
	json_object_object_add(root, "started", json_object_new_string(started));
	r = write_manifest(run, root, eb);
	json_object_put(root);
	return r;
}

/*
 * The domain lock is an open file description lock (F_OFD_SETLK) on the whole of
 * <domain>/.lock: it belongs to the open file, so it passes to a child with the fd
 * (the hook hands it to the recorder), and it can be tested without being taken
 * (F_OFD_GETLK). A test that took the lock for a moment, as flock(2) would have to,
 * made a recorder starting at that moment fail with "another run is recording".
 */
static int lock_fd_take(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? vtc_err(EBUSY) : vtc_err(errno);
}

int vt_run_lock_domain(const char *domain, struct vt_errbuf *eb)
{
	char ddir[PATH_MAX];
	_cleanup_close_ int lock = -1;
	int r;

	r = domain_dir(domain, ddir, sizeof(ddir), eb);
	if (r < 0)
		return r;
	r = mkdir_store(vt_store_root());
	if (r < 0)
		return vtc_errf(eb, r, "%s: cannot create: %s", vt_store_root(), strerror(-r));
	r = mkdir_store(ddir);
	if (r < 0)
		return vtc_errf(eb, r, "%s: cannot create: %s", ddir, strerror(-r));
	lock = open_lock(ddir, O_RDWR | O_CREAT);
	if (lock < 0)
		return vtc_errf(eb, lock, "%s/.lock: %s", ddir, strerror(-lock));
	r = lock_fd_take(lock);
	if (r == -EBUSY)
		return vtc_errf(eb, EBUSY, "domain %s: another run is recording", domain);
	if (r < 0)
		return vtc_errf(eb, r, "%s/.lock: %s", ddir, strerror(-r));
	return TAKE_FD(lock);
}

/* @fd is an open file of <@ddir>/.lock, and the domain lock is (now) its own */
static int check_lock_fd(const char *domain, const char *ddir, int fd, struct vt_errbuf *eb)
{
	char path[PATH_MAX];
	struct stat fst, pst;
	int r;

	if (snprintf(path, sizeof(path), "%s/.lock", ddir) >= (int)sizeof(path))
		return vtc_errf(eb, ENAMETOOLONG, "%s: path too long", ddir);
	if (fstat(fd, &fst) < 0)
		return vtc_errf(eb, errno, "lock fd %d: %s", fd, strerror(errno));
	if (lstat(path, &pst) < 0 || fst.st_dev != pst.st_dev || fst.st_ino != pst.st_ino)
		return vtc_errf(eb, EBADF, "lock fd %d is not %s", fd, path);
	/* inherited through exec: no program this one runs may keep the domain held */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return vtc_errf(eb, errno, "lock fd %d: %s", fd, strerror(errno));
	/* taking it again through the same open file succeeds only when it is ours */
	r = lock_fd_take(fd);
	if (r == -EBUSY)
		return vtc_errf(eb, EBUSY, "domain %s: another run is recording", domain);
	if (r < 0)
		return vtc_errf(eb, r, "%s: %s", path, strerror(-r));
	return 0;
}

int vt_run_create(const char *domain, const char *uuid, struct vt_run *ret,
		  struct vt_errbuf *eb)
{
	int lock = vt_run_lock_domain(domain, eb);

	if (lock < 0)
		return lock;
	return vt_run_create_locked(domain, uuid, lock, ret, eb);
}

int vt_run_create_locked(const char *domain, const char *uuid, int lock_fd,
			 struct vt_run *ret, struct vt_errbuf *eb)
{
	char ddir[PATH_MAX], base[32], spool[PATH_MAX + 8];
	_cleanup_close_ int lock = lock_fd;
	struct vt_run run = { .lock_fd = -1 };
	time_t now = time(NULL);
	struct tm tm;
	int r;

	r = domain_dir(domain, ddir, sizeof(ddir), eb);
	if (r < 0)
		return r;
	if (strlen(domain) >= sizeof(run.domain))
		return vtc_errf(eb, ENAMETOOLONG, "domain name '%.64s...': too long", domain);
	r = check_lock_fd(domain, ddir, lock, eb);
	if (r < 0)
		return r;
	gmtime_r(&now, &tm);
	strftime(base, sizeof(base), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(run.domain, sizeof(run.domain), "%s", domain);
	for (unsigned n = 1;; n++) {
		if ((size_t)snprintf(run.id, sizeof(run.id), n == 1 ? "%s" : "%s-%u", base, n) >=
		    sizeof(run.id))
			return vtc_errf(eb, ENAMETOOLONG, "run id too long");
		if ((size_t)snprintf(run.dir, sizeof(run.dir), "%s/%s", ddir, run.id) >=
		    sizeof(run.dir))
			return vtc_errf(eb, ENAMETOOLONG, "%s: path too long", ddir);
		if (mkdir(run.dir, 0750) == 0)
			break;
		if (errno != EEXIST || n > 10000)
			return vtc_errf(eb, errno, "%s: cannot create: %s", run.dir,
					strerror(errno));
	}
	(void)chmod(run.dir, 0750);
	set_group(-1, run.dir);
	snprintf(spool, sizeof(spool), "%s/spool", run.dir);
	r = mkdir_store(spool);
	if (r < 0)
		return vtc_errf(eb, r, "%s: cannot create: %s", spool, strerror(-r));
	r = write_initial_manifest(&run, uuid, eb);
	if (r < 0)
		return r;
	r = replace_latest(ddir, run.id);
	if (r < 0)
		return vtc_errf(eb, r, "%s/latest: %s", ddir, strerror(-r));
	run.lock_fd = TAKE_FD(lock);
	*ret = run;
	return 0;
}

static bool valid_run_id(const char *id)
{
	return id && id[0] >= '0' && id[0] <= '9' && !strchr(id, '/') && strlen(id) < 32;
}

int vt_run_open(const char *domain, const char *run_id, struct vt_run *ret,
		struct vt_errbuf *eb)
{
	struct vt_run run = { .lock_fd = -1 };
	char ddir[PATH_MAX];
	struct stat st;
	int r;

	r = domain_dir(domain, ddir, sizeof(ddir), eb);
	if (r < 0)
		return r;
	if (access(ddir, F_OK) < 0)
		return vtc_errf(eb, ENOENT, "domain %s: no runs in %s", domain, vt_store_root());
	snprintf(run.domain, sizeof(run.domain), "%s", domain);
	if (!run_id || !strcmp(run_id, "latest")) {
		char path[PATH_MAX + 8], target[sizeof(run.id)];
		ssize_t n;

		snprintf(path, sizeof(path), "%s/latest", ddir);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			snprintf(run.id, sizeof(run.id), "%s", target);
		} else {
			char **ids = NULL;
			size_t nids = 0;

			r = vt_run_list(domain, &ids, &nids);
			if (r < 0)
				return vtc_errf(eb, r, "domain %s: %s", domain, strerror(-r));
			if (nids)
				snprintf(run.id, sizeof(run.id), "%s", ids[nids - 1]);
			for (size_t i = 0; i < nids; i++)
				free(ids[i]);
			free(ids);
			if (!nids)
				return vtc_errf(eb, ENOENT, "domain %s: no runs", domain);
		}
	} else {
		if (strlen(run_id) >= sizeof(run.id))
			return vtc_errf(eb, ENOENT, "domain %s: no run '%.40s'", domain, run_id);
		memcpy(run.id, run_id, strlen(run_id) + 1);
	}
	if (!valid_run_id(run.id))
		return vtc_errf(eb, ENOENT, "domain %s: no run '%.40s'", domain, run.id);
	if ((size_t)snprintf(run.dir, sizeof(run.dir), "%s/%s", ddir, run.id) >= sizeof(run.dir))
		return vtc_errf(eb, ENAMETOOLONG, "%s: path too long", ddir);
	if (lstat(run.dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return vtc_errf(eb, ENOENT, "domain %s: no run %s", domain, run.id);
	*ret = run;
	return 0;
}

void vt_run_close(struct vt_run *run)
{
	if (run && run->lock_fd >= 0) {
		close(run->lock_fd);
		run->lock_fd = -1;
	}
}

bool vt_run_domain_locked(const char *domain)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char ddir[PATH_MAX];
	_cleanup_close_ int fd = -1;

	if (domain_dir(domain, ddir, sizeof(ddir), NULL) < 0)
		return false;
	fd = open_lock(ddir, O_RDONLY);
	if (fd < 0)
		return false;
	/* tested, never taken: see lock_fd_take */
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return false;
	return fl.l_type != F_UNLCK;
}

int vt_run_set_state(const struct vt_run *run, enum vt_run_state st, const char *reason,
		     struct vt_errbuf *eb)
{
	struct json_object *root = NULL;
	int r;

	if (st >= _VT_RUN_STATE_MAX)
		return vtc_err(EINVAL);
	r = vt_manifest_read(run->dir, &root, eb);
	if (r < 0)
		return r;
	if (json_object_object_add(root, "state", json_object_new_string(state_names[st])) < 0 ||
	    (reason && json_object_object_add(root, "state_reason",
					      json_object_new_string(reason)) < 0)) {
		json_object_put(root);
		return vtc_err(ENOMEM);
	}
	r = write_manifest(run, root, eb);
	json_object_put(root);
	return r;
}

int vt_run_get_state(const struct vt_run *run, enum vt_run_state *ret, struct vt_errbuf *eb)
{
	struct json_object *root = NULL, *v;
	int r = vt_manifest_read(run->dir, &root, eb);

	if (r < 0)
		return r;
	if (!json_object_object_get_ex(root, "state", &v) ||
	    vt_run_state_parse(json_object_get_string(v), ret) < 0)
		r = vtc_errf(eb, EBADMSG, "%s/manifest.json: no valid state", run->dir);
	json_object_put(root);
	return r;
}

/* run ids sort by their time, then by the numeric collision suffix */
static int cmp_run_id(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strcspn(x, "-"), ly = strcspn(y, "-");
	int c = strncmp(x, y, lx < ly ? lx : ly);

	if (c || lx != ly)
		return c ? c : (lx < ly ? -1 : 1);
	unsigned long nx = x[lx] ? strtoul(x + lx + 1, NULL, 10) : 1;
	unsigned long ny = y[ly] ? strtoul(y + ly + 1, NULL, 10) : 1;

	return nx < ny ? -1 : nx > ny;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* names of @dir accepted by @keep (converted by it into @buf), sorted by @cmp */
static int list_dir(const char *dir, int (*keep)(int dfd, const char *name, char *buf,
						 size_t len),
		    int (*cmp)(const void *, const void *), char ***ret, size_t *ret_n)
{
	DIR *d = opendir(dir);
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!d) {
		if (errno == ENOENT) {
			*ret = NULL;
			*ret_n = 0;
			return 0;
		}
		return vtc_err(errno);
	}
	while ((de = readdir(d))) {
		char buf[NAME_MAX + 1];

		if (!keep(dirfd(d), de->d_name, buf, sizeof(buf)))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(v, ncap * sizeof(*v));

			if (!nv)
				goto nomem;
			v = nv;
			cap = ncap;
		}
		v[n] = strdup(buf);
		if (!v[n])
			goto nomem;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp);
	*ret = v;
	*ret_n = n;
	return 0;
nomem:
	closedir(d);
	free_strv(v, n);
	return vtc_err(ENOMEM);
}

static int keep_run(int dfd, const char *name, char *buf, size_t len)
{
	struct stat st;

	if (!valid_run_id(name) || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		return 0;
	snprintf(buf, len, "%s", name);
	return 1;
}

int vt_run_list(const char *domain, char ***ret, size_t *ret_n)
{
	char ddir[PATH_MAX];
	int r = domain_dir(domain, ddir, sizeof(ddir), NULL);

	if (r < 0)
		return r;
	return list_dir(ddir, keep_run, cmp_run_id, ret, ret_n);
}

static int keep_domain(int dfd, const char *name, char *buf, size_t len)
{
	struct stat st;
	char check[NAME_MAX + 1];

	if (name[0] == '.' || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		return 0;
	if (unescape(name, buf, len) < 0)
		return 0;
	/* only directories we made: the escape of the name must give it back */
	if (vt_store_escape(buf, check, sizeof(check)) < 0 || strcmp(check, name))
		return 0;
	return 1;
}

int vt_store_domains(char ***ret, size_t *ret_n)
{
	return list_dir(vt_store_root(), keep_domain, cmp_str, ret, ret_n);
}

void vt_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}
