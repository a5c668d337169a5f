// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Least privilege for the code that parses guest data: limits, capabilities,
 * no_new_privs, Landlock (raw syscalls, ABI probed) or a read-only mount namespace,
 * and a forked-child runner with a deadline and a bounded result pipe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "vt/sandbox.h"

/* Landlock uapi, spelled out so that an older <linux/landlock.h> does not limit us */
#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_EXECUTE (1ull << 0)
#define LL_FS_WRITE_FILE (1ull << 1)
#define LL_FS_READ_FILE (1ull << 2)
#define LL_FS_READ_DIR (1ull << 3)
#define LL_FS_REMOVE_DIR (1ull << 4)
#define LL_FS_REMOVE_FILE (1ull << 5)
#define LL_FS_MAKE_CHAR (1ull << 6)
#define LL_FS_MAKE_DIR (1ull << 7)
#define LL_FS_MAKE_REG (1ull << 8)
#define LL_FS_MAKE_SOCK (1ull << 9)
#define LL_FS_MAKE_FIFO (1ull << 10)
#define LL_FS_MAKE_BLOCK (1ull << 11)
#define LL_FS_MAKE_SYM (1ull << 12)
#define LL_FS_REFER (1ull << 13)	/* ABI 2 */
#define LL_FS_TRUNCATE (1ull << 14)	/* ABI 3 */
#define LL_FS_IOCTL_DEV (1ull << 15)	/* ABI 5 */
#define LL_NET_BIND_TCP (1ull << 0)	/* ABI 4 */
#define LL_NET_CONNECT_TCP (1ull << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ull << 0)	/* ABI 6 */
#define LL_SCOPE_SIGNAL (1ull << 1)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;	/* ABI 4 */
	uint64_t scoped;		/* ABI 6 */
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
struct vtc_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

#ifndef SECBIT_NOROOT
#define SECBIT_NOROOT (1 << 0)
#define SECBIT_NOROOT_LOCKED (1 << 1)
#define SECBIT_NO_SETUID_FIXUP (1 << 2)
#define SECBIT_NO_SETUID_FIXUP_LOCKED (1 << 3)
#define SECBIT_KEEP_CAPS_LOCKED (1 << 5)
#define SECBIT_NO_CAP_AMBIENT_RAISE (1 << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED (1 << 7)
#endif

#define CAP_SETPCAP_BIT (1ull << CAP_SETPCAP)
#define CAP_SYS_ADMIN_BIT (1ull << CAP_SYS_ADMIN)

int vt_sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);

	return abi > 0 ? (int)abi : 0;
}

static unsigned last_cap(void)
{
	_cleanup_free_ char *text = NULL;
	uint64_t n;

	if (vtc_read_file("/proc/sys/kernel/cap_last_cap", &text, NULL) == 0) {
		text[strcspn(text, "\n")] = '\0';
		if (vtc_parse_u64(text, &n) == 0 && n < 64)
			return (unsigned)n;
	}
	return CAP_LAST_CAP;
}

int vt_sandbox_caps(uint64_t *eff, uint64_t *prm, uint64_t *inh, uint64_t *bnd)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return vtc_err(errno);
	if (eff)
		*eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	if (prm)
		*prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	if (inh)
		*inh = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
	if (bnd) {
		unsigned last = last_cap();

		*bnd = 0;
		for (unsigned c = 0; c <= last; c++)
			if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
				*bnd |= 1ull << c;
	}
	return 0;
}

static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	uint64_t prm = 0;
	int r = vt_sandbox_caps(NULL, &prm, NULL, NULL);

	if (r < 0)
		return r;
	keep &= prm;
	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	return syscall(SYS_capset, &h, d) < 0 ? vtc_err(errno) : 0;
}

static int limit(int res, uint64_t max)
{
	struct rlimit rl = { .rlim_cur = max, .rlim_max = max };

	return setrlimit(res, &rl) < 0 ? vtc_err(errno) : 0;
}

static uint64_t get_limit(int res)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) < 0)
		return 0;
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
}

/* highest fd number open now (the new RLIMIT_NOFILE must leave room above it) */
static int highest_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int high = 2;

	if (!d)
		return 1024;
	while ((de = readdir(d))) {
		uint64_t fd;

		if (vtc_parse_u64(de->d_name, &fd) == 0 && fd < INT32_MAX && (int)fd > high &&
		    (int)fd != dirfd(d))
			high = (int)fd;
	}
	closedir(d);
	return high;
}

static int set_limits(const struct vt_sandbox_opts *o, struct vt_errbuf *eb)
{
	uint64_t nofile = o->nofile_max ? o->nofile_max : 64;
	uint64_t cur = get_limit(RLIMIT_NOFILE);
	int high = highest_fd(), r;

	if (nofile < (uint64_t)high + 16)
		nofile = (uint64_t)high + 16;
	if (cur && nofile > cur)
		nofile = cur;
	r = limit(RLIMIT_CORE, 0);
	if (!r && o->fsize_max)
		r = limit(RLIMIT_FSIZE, o->fsize_max);
	if (!r)
		r = limit(RLIMIT_NOFILE, nofile);
	return r < 0 ? vtc_errf(eb, r, "setrlimit: %s", strerror(-r)) : 0;
}

/* bounding set and ambient set down to @keep; securebits noroot, locked */
static int drop_inheritance(uint64_t keep, struct vt_errbuf *eb)
{
	uint64_t eff = 0, bnd = 0;
	int r = vt_sandbox_caps(&eff, NULL, NULL, &bnd);

	if (r < 0)
		return vtc_errf(eb, r, "capget: %s", strerror(-r));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return vtc_errf(eb, errno, "clearing the ambient capabilities: %s",
				strerror(errno));
	if (!(eff & CAP_SETPCAP_BIT))
		return 0;	/* an unprivileged caller: no_new_privs does the rest */
	for (unsigned c = 0, last = last_cap(); c <= last; c++)
		if ((bnd & (1ull << c)) && !(keep & (1ull << c)) &&
		    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return vtc_errf(eb, errno, "dropping capability %u from the bounding set: "
					"%s", c, strerror(errno));
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		  SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
		  SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0) < 0)
		return vtc_errf(eb, errno, "securebits: %s", strerror(errno));
	return 0;
}

static uint64_t fs_access(int abi)
{
	uint64_t a = (LL_FS_MAKE_SYM << 1) - 1;	/* ABI 1: bits 0-12 */

	if (abi >= 2)
		a |= LL_FS_REFER;
	if (abi >= 3)
		a |= LL_FS_TRUNCATE;
	if (abi >= 5)
		a |= LL_FS_IOCTL_DEV;
	return a;
}

static int add_rule(int ruleset, const char *path, uint64_t allowed)
{
	_cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct ll_path_beneath_attr pb = { .allowed_access = allowed };

	if (fd < 0)
		return vtc_err(errno);
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0) < 0)
		return vtc_err(errno);
	return 0;
}

/* read and execute anywhere; write, create (regular files and dirs) and remove beneath @dir */
static int landlock(const char *dir, int abi, struct vt_sandbox_info *info,
		    struct vt_errbuf *eb)
{
	uint64_t handled = fs_access(abi);
	uint64_t read = LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR;
	uint64_t write = read | LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE |
			 LL_FS_MAKE_DIR | LL_FS_MAKE_REG | (abi >= 3 ? LL_FS_TRUNCATE : 0);
	struct ll_ruleset_attr attr = { .handled_access_fs = handled };
	size_t size = sizeof(attr.handled_access_fs);
	_cleanup_close_ int ruleset = -1;
	int r;

	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (ruleset < 0)
		return vtc_errf(eb, errno, "landlock_create_ruleset (ABI %d): %s", abi,
				strerror(errno));
	r = add_rule(ruleset, "/", read);
	if (r < 0)
		return vtc_errf(eb, r, "landlock rule for /: %s", strerror(-r));
	r = add_rule(ruleset, dir, write);
	if (r < 0)
		return vtc_errf(eb, r, "landlock rule for %s: %s", dir, strerror(-r));
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		return vtc_errf(eb, errno, "landlock_restrict_self: %s", strerror(errno));
	info->landlock_abi = abi;
	info->landlock_net = abi >= 4;
	info->landlock_scoped = abi >= 6;
	return 0;
}

static int mount_attr(const char *path, unsigned flags, uint64_t set, uint64_t clr)
{
	struct vtc_mount_attr a = { .attr_set = set, .attr_clr = clr };

	return syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a, sizeof(a)) < 0
		       ? vtc_err(errno) : 0;
}

/* the fallback: a private mount namespace, everything read-only and nodev but @dir */
static int mount_ns(const char *dir, struct vt_sandbox_info *info, struct vt_errbuf *eb)
{
	int r;

	if (unshare(CLONE_NEWNS) < 0)
		return vtc_errf(eb, errno, "unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return vtc_errf(eb, errno, "making / private: %s", strerror(errno));
	if (mount(dir, dir, NULL, MS_BIND, NULL) < 0)
		return vtc_errf(eb, errno, "bind mount of %s: %s", dir, strerror(errno));
	r = mount_attr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			       MOUNT_ATTR_NODEV, 0);
	if (r < 0)
		return vtc_errf(eb, r, "remounting / read-only: %s", strerror(-r));
	r = mount_attr(dir, 0, 0, MOUNT_ATTR_RDONLY);
	if (r < 0)
		return vtc_errf(eb, r, "remounting %s read-write: %s", dir, strerror(-r));
	/* the cwd may still point into the old tree: go where writes are allowed */
	if (chdir(dir) < 0)
		return vtc_errf(eb, errno, "chdir %s: %s", dir, strerror(errno));
	info->mount_ns = true;
	return 0;
}

static int read_back(struct vt_sandbox_info *info)
{
	int r = vt_sandbox_caps(&info->cap_effective, &info->cap_permitted,
				&info->cap_inheritable, &info->cap_bounding);

	info->cap_ambient = 0;
	for (unsigned c = 0, last = last_cap(); !r && c <= last; c++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
			info->cap_ambient |= 1ull << c;
	info->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
	info->rlimit_core = get_limit(RLIMIT_CORE);
	info->rlimit_fsize = get_limit(RLIMIT_FSIZE);
	info->rlimit_nofile = get_limit(RLIMIT_NOFILE);
	return r;
}

static int drop_privileges(uint64_t keep, struct vt_errbuf *eb)
{
	int r = drop_inheritance(keep, eb);

	if (r < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return vtc_errf(eb, errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	r = set_caps(keep);
	return r < 0 ? vtc_errf(eb, r, "capset: %s", strerror(-r)) : 0;
}

int vt_sandbox_drop_privileges(uint64_t keep_caps, struct vt_sandbox_info *ret,
			       struct vt_errbuf *eb)
{
	struct vt_sandbox_info info = { 0 };
	int r = drop_privileges(keep_caps, eb);

	if (r < 0)
		return r;
	r = read_back(&info);
	if (r < 0)
		return vtc_errf(eb, r, "capget: %s", strerror(-r));
	if (ret)
		*ret = info;
	return 0;
}

int vt_sandbox_enter(const struct vt_sandbox_opts *o, struct vt_sandbox_info *ret,
		     struct vt_errbuf *eb)
{
	struct vt_sandbox_info info = { 0 };
	struct vt_errbuf leb = { "" };
	uint64_t eff = 0;
	int abi = o->flags & VT_SANDBOX_NO_LANDLOCK ? 0 : vt_sandbox_landlock_abi();
	int r;

	if (!o->write_dir || o->write_dir[0] != '/')
		return vtc_errf(eb, EINVAL, "sandbox: the write directory must be absolute");
	r = set_limits(o, eb);
	if (r < 0)
		return r;
	/* a write past RLIMIT_FSIZE fails with EFBIG instead of killing the process */
	signal(SIGXFSZ, SIG_IGN);
	r = vt_sandbox_caps(&eff, NULL, NULL, NULL);
	if (r < 0)
		return vtc_errf(eb, r, "capget: %s", strerror(-r));
	/* the fallback needs CAP_SYS_ADMIN, so it comes before the capabilities go */
	if (!abi) {
		if (!(eff & CAP_SYS_ADMIN_BIT))
			vtc_errf(&leb, EPERM, "no Landlock in this kernel and no CAP_SYS_ADMIN for "
				 "a read-only mount namespace");
		else if (mount_ns(o->write_dir, &info, &leb) == 0)
			info.fs_confined = true;
		if (!info.fs_confined) {
			if (!(o->flags & VT_SANDBOX_FS_BEST_EFFORT))
				return vtc_errf(eb, EPERM, "sandbox: writes cannot be confined to "
						"%s: %s", o->write_dir, leb.msg);
			snprintf(info.fs_error, sizeof(info.fs_error), "%s", leb.msg);
		}
	}
	r = drop_privileges(o->keep_caps, eb);
	if (r < 0)
		return r;
	if (abi) {
		r = landlock(o->write_dir, abi, &info, eb);
		if (r < 0)
			return r;
		info.fs_confined = true;
	}
	r = read_back(&info);
	if (r < 0)
		return vtc_errf(eb, r, "capget: %s", strerror(-r));
	if (ret)
		*ret = info;
	return 0;
}

static struct json_object *caps_json(uint64_t mask)
{
	char hex[24];

	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)mask);
	return json_object_new_string(hex);
}

static struct json_object *limit_json(uint64_t v)
{
	return v == UINT64_MAX ? json_object_new_string("unlimited") : json_object_new_uint64(v);
}

struct json_object *vt_sandbox_info_json(const struct vt_sandbox_info *i)
{
	struct json_object *o = json_object_new_object(), *rl = json_object_new_object();

	if (!o || !rl) {
		json_object_put(o);
		json_object_put(rl);
		return NULL;
	}
	json_object_object_add(o, "no_new_privs", json_object_new_boolean(i->no_new_privs));
	json_object_object_add(o, "capabilities", caps_json(i->cap_effective | i->cap_permitted));
	json_object_object_add(o, "bounding_set", caps_json(i->cap_bounding));
	json_object_object_add(o, "ambient", caps_json(i->cap_ambient));
	json_object_object_add(o, "landlock_abi", json_object_new_int(i->landlock_abi));
	if (i->landlock_abi) {
		json_object_object_add(o, "landlock_net", json_object_new_boolean(i->landlock_net));
		json_object_object_add(o, "landlock_scoped",
				       json_object_new_boolean(i->landlock_scoped));
	}
	json_object_object_add(o, "mount_namespace", json_object_new_boolean(i->mount_ns));
	json_object_object_add(o, "writes_confined", json_object_new_boolean(i->fs_confined));
	if (!i->fs_confined && i->fs_error[0])
		json_object_object_add(o, "writes_not_confined_because",
				       json_object_new_string(i->fs_error));
	json_object_object_add(rl, "core", limit_json(i->rlimit_core));
	json_object_object_add(rl, "fsize", limit_json(i->rlimit_fsize));
	json_object_object_add(rl, "nofile", limit_json(i->rlimit_nofile));
	json_object_object_add(o, "rlimits", rl);
	return o;
}

/* ---- the child runner */

static void child_main(const struct vt_sandbox_opts *o,
		       int (*fn)(void *arg, int fd, const struct vt_sandbox_info *info),
		       void *arg, int fd, pid_t parent)
{
	struct vt_sandbox_info info;
	struct vt_errbuf eb = { "" };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(VT_SANDBOX_EXIT_SETUP);
	(void)setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	if (vt_sandbox_enter(o, &info, &eb) < 0) {
		vtc_write_all(fd, eb.msg, strlen(eb.msg));
		_exit(VT_SANDBOX_EXIT_SETUP);
	}
	_exit(fn(arg, fd, &info) & 0xff);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* read the child's result until EOF, then wait for its exit; false: not reaped yet */
static bool collect(struct vt_sandbox_child *c, int fd, int pidfd, int64_t deadline,
		    size_t max)
{
	size_t cap = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t got;
		int n;

		if (left <= 0) {
			c->timed_out = true;
			return false;
		}
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		if (n == 0)
			continue;
		if (c->len + 4096 + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *nb = realloc(c->out, ncap);

			if (!nb)
				return false;
			c->out = nb;
			cap = ncap;
		}
		got = read(fd, c->out + c->len, 4096);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			break;
		c->len += (size_t)got;
		if (c->len > max) {
			c->overflow = true;
			return false;
		}
	}
	for (;;) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int64_t left = deadline - now_ms();

		if (waitpid(c->pid, &c->status, WNOHANG) == c->pid)
			return true;
		if (left <= 0) {
			c->timed_out = true;
			return false;
		}
		if (pidfd < 0 || poll(&p, 1, left > 10 ? 10 : (int)left) < 0)
			usleep(10000);
	}
}

int vt_sandbox_run(const struct vt_sandbox_opts *o,
		   int (*fn)(void *arg, int fd, const struct vt_sandbox_info *info), void *arg,
		   unsigned timeout_ms, size_t max_out, struct vt_sandbox_child *ret,
		   struct vt_errbuf *eb)
{
	int64_t deadline = now_ms() + timeout_ms;
	_cleanup_close_ int pidfd = -1;
	int p[2];
	pid_t parent = getpid();

	memset(ret, 0, sizeof(*ret));
	if (pipe2(p, O_CLOEXEC) < 0)
		return vtc_errf(eb, errno, "pipe: %s", strerror(errno));
	fflush(NULL);
	ret->pid = fork();
	if (ret->pid < 0) {
		int r = vtc_errf(eb, errno, "fork: %s", strerror(errno));

		close(p[0]);
		close(p[1]);
		return r;
	}
	if (ret->pid == 0) {
		close(p[0]);
		child_main(o, fn, arg, p[1], parent);
	}
	close(p[1]);
	pidfd = (int)syscall(SYS_pidfd_open, ret->pid, 0);
	if (!collect(ret, p[0], pidfd, deadline, max_out)) {
		/* the child and whatever it forked (its own process group) */
		kill(-ret->pid, SIGKILL);
		kill(ret->pid, SIGKILL);
		while (waitpid(ret->pid, &ret->status, 0) < 0 && errno == EINTR)
			;
	}
	close(p[0]);
	if (!ret->out)
		ret->out = calloc(1, 1);
	if (!ret->out)
		return vtc_err(ENOMEM);
	ret->out[ret->len] = '\0';
	return 0;
}

bool vt_sandbox_child_ok(const struct vt_sandbox_child *c)
{
	return !c->timed_out && !c->overflow && WIFEXITED(c->status) &&
	       WEXITSTATUS(c->status) == 0;
}

void vt_sandbox_child_describe(const struct vt_sandbox_child *c, unsigned timeout_ms,
			       char *buf, size_t len)
{
	if (c->timed_out)
		snprintf(buf, len, "timed out after %u.%03u s (killed)", timeout_ms / 1000,
			 timeout_ms % 1000);
	else if (c->overflow)
		snprintf(buf, len, "wrote more than its result may hold (killed)");
	else if (WIFSIGNALED(c->status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(c->status),
			 strsignal(WTERMSIG(c->status)));
	else if (WIFEXITED(c->status) && WEXITSTATUS(c->status) == VT_SANDBOX_EXIT_SETUP)
		snprintf(buf, len, "sandbox setup failed: %.300s",
			 c->out && c->out[0] ? c->out : "(no reason)");
	else if (WIFEXITED(c->status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(c->status));
	else
		snprintf(buf, len, "ended with wait status 0x%x", c->status);
}

void vt_sandbox_child_fini(struct vt_sandbox_child *c)
{
	free(c->out);
	c->out = NULL;
	c->len = 0;
}
