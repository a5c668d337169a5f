// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for core/src/runstore.c: escaping, run ids, latest, the domain lock, states.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "vt-test.h"
#include "vt/manifest.h"
#include "vt/runstore.h"

static int setup(void **state)
{
	char *dir = vt_test_tmpdir();

	setenv("VT_STATE_DIR", dir, 1);
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	vt_test_rmtree(*state);
	free(*state);
	unsetenv("VT_STATE_DIR");
	return 0;
}

static char *repeat(const char *s, size_t n)
{
	size_t l = strlen(s);
	char *out = malloc(l * n + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(out + i * l, s, l);
	out[l * n] = '\0';
	return out;
}

static void escape_keeps_safe_names(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(vt_store_escape("web-01_a+b.c", out, sizeof(out)), 0);
	assert_string_equal(out, "web-01_a+b.c");
	assert_int_equal(vt_store_escape("a b/c", out, sizeof(out)), 0);
	assert_string_equal(out, "a%20b%2Fc");
	assert_int_equal(vt_store_escape(".hidden", out, sizeof(out)), 0);
	assert_string_equal(out, "%2Ehidden");
	assert_int_equal(vt_store_escape("", out, sizeof(out)), -EINVAL);
	assert_int_equal(vt_store_escape("abcdef", out, 4), -ENAMETOOLONG);
}

struct name_case {
	const char *what;
	const char *name;	/* NULL: built by name_of() */
	const char *escaped;	/* the directory under the root; NULL for the _fails cases */
	int err;
};

#define LONG_ASCII_200 "long_ascii_200"
#define LONG_ASCII_255 "long_ascii_255"

/* every shape of a hostile or odd domain name, and where it lands */
static const struct name_case name_cases[] = {
	{ "dot_dot", "..", "%2E.", 0 },
	{ "dot", ".", "%2E", 0 },
	{ "dot_dot_slash_dot_dot", "../..", "%2E.%2F..", 0 },
	{ "slash", "/", "%2F", 0 },
	{ "absolute_path", "/etc/passwd", "%2Fetc%2Fpasswd", 0 },
	{ "traversal_inside", "a/../../b", "a%2F..%2F..%2Fb", 0 },
	{ "space", "with space", "with%20space", 0 },
	{ "unicode", "\xc3\xbcnic\xc3\xb6" "de", "%C3%BCnic%C3%B6de", 0 },
	{ "leading_dot", ".hidden", "%2Ehidden", 0 },
	{ "lock_file_name", ".lock", "%2Elock", 0 },
	{ "latest", "latest", "latest", 0 },
	{ "spool", "spool", "spool", 0 },
	{ "newline", "a\nb", "a%0Ab", 0 },
	{ "tab_and_terminal_escape", "a\tb\x1b[31m", "a%09b%1B%5B31m", 0 },
	{ "delete_byte", "x\x7f", "x%7F", 0 },
	{ "high_bytes", "\xff\xfe", "%FF%FE", 0 },
	{ "percent", "%", "%25", 0 },
	{ "escape_lookalike", "..%2F..", "%2E.%252F..", 0 },
	{ "option_lookalike", "-rf", "-rf", 0 },
	{ LONG_ASCII_200, NULL, NULL, 0 },
	{ LONG_ASCII_255, NULL, NULL, 0 },
	{ "long_unicode_200_fails", NULL, NULL, -ENAMETOOLONG },
	{ "long_ascii_256_fails", NULL, NULL, -ENAMETOOLONG },
	{ "escapes_past_name_max_fails", NULL, NULL, -ENAMETOOLONG },
	{ "empty_fails", "", NULL, -EINVAL },
};

/* the long names of the table (caller frees) */
static char *name_of(const struct name_case *c)
{
	if (c->name)
		return strdup(c->name);
	if (!strcmp(c->what, LONG_ASCII_200))
		return repeat("a", 200);
	if (!strcmp(c->what, LONG_ASCII_255))
		return repeat("b", 255);
	if (!strcmp(c->what, "long_unicode_200_fails"))
		return repeat("\xc3\xbc", 200);	/* 1200 bytes escaped */
	if (!strcmp(c->what, "long_ascii_256_fails"))
		return repeat("c", 256);
	return repeat("/", 86);	/* 86 bytes, 258 escaped */
}

/* entries right under the store root (domain directories, whatever their names) */
static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void expect_mode(const char *path, mode_t mode)
{
	struct group *g = getgrnam("libvirt");
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	if ((st.st_mode & 07777) != mode)
		fail_msg("%s: mode %o, want %o", path, st.st_mode & 07777, mode);
	if (g && geteuid() == 0)
		assert_int_equal(st.st_gid, g->gr_gid);
}

/* every name lands in exactly one directory right under the root, or is refused */
static void domain_names_cannot_escape_the_root(void **state)
{
	const char *root = *state;
	char real_root[PATH_MAX];
	size_t made = 0;

	assert_non_null(realpath(root, real_root));
	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		const struct name_case *c = &name_cases[i];
		char *name = name_of(c);
		struct vt_errbuf eb = { "" };
		char esc[NAME_MAX + 1], real[PATH_MAX], want[PATH_MAX * 2], ddir[PATH_MAX * 2];
		struct stat st;
		struct vt_run run;
		char **doms;
		size_t n;
		bool listed = false;

		printf("case %s\n", c->what);
		if (c->err) {
			size_t before = count_entries(root);

			assert_int_equal(vt_store_escape(name, esc, sizeof(esc)), c->err);
			assert_int_equal(vt_run_create(name, NULL, &run, &eb), c->err);
			assert_non_null(strstr(eb.msg, c->err == -EINVAL ? "empty" : "too long"));
			assert_int_equal(count_entries(root), before);
			free(name);
			continue;
		}
		assert_int_equal(vt_store_escape(name, esc, sizeof(esc)), 0);
		if (c->escaped)
			assert_string_equal(esc, c->escaped);
		assert_null(strchr(esc, '/'));
		assert_true(esc[0] != '.' && strlen(esc) <= NAME_MAX);
		assert_int_equal(vt_run_create(name, NULL, &run, &eb), 0);
		made++;
		assert_string_equal(run.domain, name);
		/* the domain directory is a real directory right under the root */
		snprintf(ddir, sizeof(ddir), "%s/%s", root, esc);
		assert_int_equal(lstat(ddir, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_non_null(realpath(run.dir, real));
		snprintf(want, sizeof(want), "%s/%s/%s", real_root, esc, run.id);
		assert_string_equal(real, want);
		expect_mode(ddir, 0750);
		expect_mode(run.dir, 0750);
		snprintf(want, sizeof(want), "%s/manifest.json", run.dir);
		expect_mode(want, 0640);
		snprintf(want, sizeof(want), "%s/spool", run.dir);
		expect_mode(want, 0750);
		vt_run_close(&run);
		/* found again by name, and listed back under it */
		snprintf(want, sizeof(want), "%s", run.dir);
		assert_int_equal(vt_run_open(name, NULL, &run, &eb), 0);
		assert_string_equal(run.dir, want);
		assert_int_equal(vt_store_domains(&doms, &n), 0);
		assert_int_equal(n, made);
		for (size_t j = 0; j < n; j++)
			listed |= !strcmp(doms[j], name);
		vt_strv_free(doms, n);
		assert_true(listed);
		free(name);
	}
}

static void run_id_of(time_t t, char *out, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y%m%dT%H%M%SZ", &tm);
}

static void collision_gets_a_suffix_and_latest_follows(void **state)
{
	const char *root = *state;
	struct vt_errbuf eb = { "" };
	char base0[32], base1[32], path[PATH_MAX + 64], want0[40], want1[40], target[64];
	struct vt_run run, opened;
	time_t now = time(NULL);
	ssize_t n;

	/* the ids of this second and the next are taken already */
	run_id_of(now, base0, sizeof(base0));
	run_id_of(now + 1, base1, sizeof(base1));
	snprintf(path, sizeof(path), "%s/dom", root);
	assert_int_equal(mkdir(path, 0750), 0);
	snprintf(path, sizeof(path), "%s/dom/%s", root, base0);
	assert_int_equal(mkdir(path, 0750), 0);
	snprintf(path, sizeof(path), "%s/dom/%s", root, base1);
	assert_int_equal(mkdir(path, 0750), 0);
	assert_int_equal(vt_run_create("dom", "1234-uuid", &run, &eb), 0);
	snprintf(want0, sizeof(want0), "%s-2", base0);
	snprintf(want1, sizeof(want1), "%s-2", base1);
	assert_true(!strcmp(run.id, want0) || !strcmp(run.id, want1));
	snprintf(path, sizeof(path), "%s/dom/latest", root);
	n = readlink(path, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, run.id);
	assert_int_equal(vt_run_open("dom", NULL, &opened, &eb), 0);
	assert_string_equal(opened.id, run.id);
	assert_int_equal(opened.lock_fd, -1);
	assert_int_equal(vt_run_open("dom", "latest", &opened, &eb), 0);
	assert_string_equal(opened.id, run.id);
	/* the run dir has its spool and 0750 */
	{
		struct stat st;

		assert_int_equal(stat(run.dir, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0750);
		snprintf(path, sizeof(path), "%s/spool", run.dir);
		assert_int_equal(stat(path, &st), 0);
		snprintf(path, sizeof(path), "%s/manifest.json", run.dir);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0640);
	}
	vt_run_close(&run);
}

static void list_sorts_by_time_then_suffix(void **state)
{
	const char *root = *state;
	const char *ids[] = { "20260101T000000Z-10", "20250101T000000Z", "20260101T000000Z",
			      "20260101T000000Z-2", "latest-not-a-run" };
	const char *want[] = { "20250101T000000Z", "20260101T000000Z", "20260101T000000Z-2",
			       "20260101T000000Z-10" };
	char path[PATH_MAX], **got;
	size_t n;

	snprintf(path, sizeof(path), "%s/d", root);
	assert_int_equal(mkdir(path, 0750), 0);
	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/d/%s", root, ids[i]);
		assert_int_equal(mkdir(path, 0750), 0);
	}
	assert_int_equal(vt_run_list("d", &got, &n), 0);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(got[i], want[i]);
		free(got[i]);
	}
	free(got);
	/* no 'latest' link: the newest by id */
	{
		struct vt_run run;
		struct vt_errbuf eb = { "" };

		assert_int_equal(vt_run_open("d", NULL, &run, &eb), 0);
		assert_string_equal(run.id, "20260101T000000Z-10");
		assert_int_equal(vt_run_open("d", "../../etc", &run, &eb), -ENOENT);
		assert_int_equal(vt_run_open("nosuch", NULL, &run, &eb), -ENOENT);
		assert_non_null(strstr(eb.msg, "nosuch"));
	}
	assert_int_equal(vt_run_list("nosuch", &got, &n), 0);
	assert_int_equal(n, 0);
}

/* exit status of a child running @fn */
static int in_child(int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(fn());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int child_tries_second_run(void)
{
	struct vt_errbuf eb = { "" };
	struct vt_run run;
	int r = vt_run_create("locked", NULL, &run, &eb);

	if (r == -EBUSY && vt_run_domain_locked("locked") && strstr(eb.msg, "locked"))
		return 10;
	if (r == 0 && !vt_run_domain_locked("locked"))
		return 20;	/* we hold it ourselves: another open file sees it */
	return 1;
}

static int child_checks_unlocked(void)
{
	return vt_run_domain_locked("locked") ? 1 : 30;
}

static void lock_excludes_other_processes(void **state)
{
	struct vt_errbuf eb = { "" };
	struct vt_run run;

	(void)state;
	assert_false(vt_run_domain_locked("locked"));
	assert_int_equal(vt_run_create("locked", NULL, &run, &eb), 0);
	assert_true(run.lock_fd >= 0);
	assert_true(vt_run_domain_locked("locked"));
	assert_int_equal(in_child(child_tries_second_run), 10);
	vt_run_close(&run);
	assert_int_equal(run.lock_fd, -1);
	assert_int_equal(in_child(child_checks_unlocked), 30);
	assert_false(vt_run_domain_locked("locked"));
	/* free again: a new run can be made (in another second or with a suffix) */
	assert_int_equal(vt_run_create("locked", NULL, &run, &eb), 0);
	vt_run_close(&run);
}

/* a child that tests the lock as fast as it can, for @ms */
static pid_t spawn_prober(const char *domain, int ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			for (int i = 0; i < 64; i++)
				(void)vt_run_domain_locked(domain);
			clock_gettime(CLOCK_MONOTONIC, &t1);
		} while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < ms);
		_exit(0);
	}
	assert_true(pid > 0);
	return pid;
}

/*
 * The hook, the CLI and the recorders test the lock all the time; a test that took it
 * for a moment made a recorder starting then fail ("another run is recording"): the
 * storm lost a run that way. Tests must never make taking the lock fail.
 */
static void testing_the_lock_never_makes_taking_it_fail(void **state)
{
	struct vt_errbuf eb = { "" };
	unsigned taken = 0;
	pid_t prober;
	int status;

	(void)state;
	prober = spawn_prober("probed", 400);
	for (int i = 0; i < 20000; i++) {
		int fd = vt_run_lock_domain("probed", &eb);

		assert_true(fd >= 0);
		taken++;
		close(fd);
	}
	assert_int_equal(waitpid(prober, &status, 0), prober);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(taken, 20000);
}

static int child_cannot_lock_handed(void)
{
	struct vt_errbuf eb = { "" };

	return vt_run_lock_domain("handed", &eb) == -EBUSY ? 10 : 1;
}

static int child_creates_with_inherited_lock(int lock_fd)
{
	struct vt_errbuf eb = { "" };
	struct vt_run run;
	int r = vt_run_create_locked("handed", NULL, lock_fd, &run, &eb);

	if (r < 0)
		return 1;
	/* close-on-exec from now on: nothing the recorder runs keeps the domain held */
	if (!(fcntl(run.lock_fd, F_GETFD) & FD_CLOEXEC))
		return 2;
	vt_run_close(&run);
	return 40;
}

/* the hook takes the lock, the recorder it starts inherits it and makes the run */
static void create_locked_takes_over_a_handed_lock(void **state)
{
	struct vt_errbuf eb = { "" };
	int lock = vt_run_lock_domain("handed", &eb), status;
	char **ids = NULL;
	size_t n = 0;
	pid_t pid;

	(void)state;
	assert_true(lock >= 0);
	assert_true(vt_run_domain_locked("handed"));
	/* held by the hook's fd: nobody else can start a run */
	assert_int_equal(in_child(child_cannot_lock_handed), 10);
	assert_int_equal(fcntl(lock, F_SETFD, 0), 0);
	pid = fork();
	if (pid == 0)
		_exit(child_creates_with_inherited_lock(lock));
	close(lock);	/* the hook's copy: the child holds the domain alone */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 40);
	assert_false(vt_run_domain_locked("handed"));
	assert_int_equal(vt_run_list("handed", &ids, &n), 0);
	assert_int_equal(n, 1);
	vt_strv_free(ids, n);
}

static void create_locked_fails_on_a_foreign_fd(void **state)
{
	struct vt_errbuf eb = { "" };
	struct vt_run run;
	int other = vt_run_lock_domain("other", &eb), mine = vt_run_lock_domain("mine", &eb);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	(void)state;
	assert_true(other >= 0 && mine >= 0 && devnull >= 0);
	close(mine);
	assert_int_equal(vt_run_create_locked("mine", NULL, devnull, &run, &eb), -EBADF);
	assert_non_null(strstr(eb.msg, "is not"));
	/* another domain's lock is no lock of this one (and is consumed all the same) */
	assert_int_equal(vt_run_create_locked("mine", NULL, other, &run, &eb), -EBADF);
	assert_false(vt_run_domain_locked("other"));
	assert_int_equal(vt_run_create_locked("mine", NULL, -1, &run, &eb), -EBADF);
}

static void create_locked_fails_when_another_holds_the_domain(void **state)
{
	struct vt_errbuf eb = { "" };
	char path[PATH_MAX];
	struct vt_run run;
	int holder = vt_run_lock_domain("held", &eb), unlocked;

	assert_true(holder >= 0);
	snprintf(path, sizeof(path), "%s/held/.lock", (char *)*state);
	/* an open file of the right .lock, but not the one that holds it */
	unlocked = open(path, O_RDWR | O_CLOEXEC);
	assert_true(unlocked >= 0);
	assert_int_equal(vt_run_create_locked("held", NULL, unlocked, &run, &eb), -EBUSY);
	assert_non_null(strstr(eb.msg, "another run is recording"));
	assert_int_equal(vt_run_lock_domain("held", &eb), -EBUSY);
	close(holder);
}

static void state_round_trip_keeps_other_fields(void **state)
{
	struct vt_errbuf eb = { "" };
	struct json_object *root, *v, *dom;
	enum vt_run_state st;
	struct vt_run run;

	(void)state;
	assert_int_equal(vt_run_create("st", "c0ffee00-0000-4000-8000-000000000001", &run, &eb),
			 0);
	assert_int_equal(vt_run_get_state(&run, &st, &eb), 0);
	assert_int_equal(st, VT_RUN_RECORDING);
	for (int i = 0; i < _VT_RUN_STATE_MAX; i++) {
		enum vt_run_state parsed;

		assert_int_equal(vt_run_set_state(&run, (enum vt_run_state)i,
						  i == VT_RUN_INCOMPLETE ? "recorder died" : NULL,
						  &eb),
				 0);
		assert_int_equal(vt_run_get_state(&run, &st, &eb), 0);
		assert_int_equal(st, i);
		assert_int_equal(vt_run_state_parse(vt_run_state_name(st), &parsed), 0);
		assert_int_equal(parsed, st);
	}
	assert_int_equal(vt_run_state_parse("bogus", &st), -EINVAL);
	assert_int_equal(vt_manifest_read(run.dir, &root, &eb), 0);
	assert_true(json_object_object_get_ex(root, "state_reason", &v));
	assert_string_equal(json_object_get_string(v), "recorder died");
	assert_true(json_object_object_get_ex(root, "run_id", &v));
	assert_string_equal(json_object_get_string(v), run.id);
	assert_true(json_object_object_get_ex(root, "domain", &dom));
	assert_true(json_object_object_get_ex(dom, "name", &v));
	assert_string_equal(json_object_get_string(v), "st");
	assert_true(json_object_object_get_ex(dom, "uuid", &v));
	assert_string_equal(json_object_get_string(v), "c0ffee00-0000-4000-8000-000000000001");
	json_object_put(root);
	vt_run_close(&run);
}

static void roots_follow_the_environment(void **state)
{
	assert_string_equal(vt_store_root(), (const char *)*state);
	setenv("VT_RUN_DIR", "/tmp/x-run", 1);
	assert_string_equal(vt_store_rundir(), "/tmp/x-run");
	unsetenv("VT_RUN_DIR");
	assert_string_equal(vt_store_rundir(), "/run/virt-trace");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escape_keeps_safe_names),
		cmocka_unit_test_setup_teardown(domain_names_cannot_escape_the_root, setup, teardown),
		cmocka_unit_test_setup_teardown(collision_gets_a_suffix_and_latest_follows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(list_sorts_by_time_then_suffix, setup, teardown),
		cmocka_unit_test_setup_teardown(lock_excludes_other_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(testing_the_lock_never_makes_taking_it_fail, setup,
						teardown),
		cmocka_unit_test_setup_teardown(create_locked_takes_over_a_handed_lock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(create_locked_fails_on_a_foreign_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(create_locked_fails_when_another_holds_the_domain,
						setup, teardown),
		cmocka_unit_test_setup_teardown(state_round_trip_keeps_other_fields, setup,
						teardown),
		cmocka_unit_test_setup_teardown(roots_follow_the_environment, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
