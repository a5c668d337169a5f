// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace merge: correlate a host trace and guest traces offline into a run directory
 * (host.dat with GUEST options, guest.dat on the host TSC axis, manifest.json).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "cli.h"
#include "util.h"
#include "vt/containment.h"
#include "vt/convert.h"
#include "vt/dat.h"
#include "vt/manifest.h"
#include "vt/sandbox.h"
#include "vt/timeline.h"

#define MAX_GUESTS 16
#define MAX_VCPUS 1024

struct merge_args {
	const char *host;
	const char *guests[MAX_GUESTS];
	size_t nguests;
	const char *out;
	const char *tgids;
	const char *name;
	int32_t pid;
	enum vt_offset_source source;
	bool have_offset;
	uint64_t offset;
	uint64_t error_ticks;
	uint32_t apic_ids[MAX_VCPUS];
	size_t napic;
	struct vt_tsc_scale scale;
	int version;
};

static const char merge_help[] =
	"Usage: virt-trace merge --host H.dat [--guest G.dat ...] -o DIR [options]\n"
	"\n"
	"Correlate a host trace recorded with clock x86-tsc and kvm:kvm_write_tsc_offset with\n"
	"guest traces recorded with -C x86-tsc; write DIR/host.dat, DIR/guest.dat (guest events\n"
	"on the host TSC axis; guest-boot2.dat... for further --guest files, one per guest boot)\n"
	"and DIR/manifest.json.\n"
	"\n"
	"Options:\n"
	"  --host FILE            host trace.dat (required)\n"
	"  --guest FILE           guest trace.dat, once per guest boot, in boot order\n"
	"  -o, --output DIR       run directory to write (created; must be empty)\n"
	"  --pid PID              the QEMU process whose vCPUs ran the guest\n"
	"  --tgids FILE           saved_tgids of the host (\"tid tgid\" lines) to find PID's threads\n"
	"  --apic-ids LIST        KVM vcpu id (APIC id) of guest CPU 0,1,...; default: sorted order\n"
	"  --offset-source SRC    tracepoint (default), debugfs, probe or user\n"
	"  --offset N             the TSC offset for every vCPU (sources debugfs, probe, user)\n"
	"  --offset-error TICKS   error bound of --offset (default 0)\n"
	"  --scaling RATIO:FRAC   TSC scaling ratio and fraction bits (debugfs tsc-scaling-ratio)\n"
	"  --name NAME            guest name in host.dat's GUEST option (default \"guest\")\n"
	"  --file-version 6|7     trace.dat version to write (default 7)\n"
	"  -h, --help             this help\n";

static int parse_list(const char *s, uint32_t *out, size_t max, size_t *ret_n)
{
	_cleanup_free_ char *copy = strdup(s);
	char *save = NULL, *tok;
	size_t n = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (n == max || vtc_parse_u64(tok, &v) < 0 || v > UINT32_MAX)
			return -EINVAL;
		out[n++] = (uint32_t)v;
	}
	*ret_n = n;
	return n ? 0 : -EINVAL;
}

static int parse_offset(const char *s, uint64_t *ret)
{
	int64_t sv;

	if (vtc_parse_u64(s, ret) == 0)
		return 0;
	if (vtc_parse_s64(s, &sv) == 0) {
		*ret = (uint64_t)sv;
		return 0;
	}
	return -EINVAL;
}

static int parse_args(int argc, char **argv, struct merge_args *a)
{
	enum { O_HOST = 256, O_GUEST, O_PID, O_TGIDS, O_APIC, O_SRC, O_OFF, O_OFFERR, O_SCALE,
	       O_NAME, O_VER };
	static const struct option opts[] = {
		{ "host", required_argument, NULL, O_HOST },
		{ "guest", required_argument, NULL, O_GUEST },
		{ "output", required_argument, NULL, 'o' },
		{ "pid", required_argument, NULL, O_PID },
		{ "tgids", required_argument, NULL, O_TGIDS },
		{ "apic-ids", required_argument, NULL, O_APIC },
		{ "offset-source", required_argument, NULL, O_SRC },
		{ "offset", required_argument, NULL, O_OFF },
		{ "offset-error", required_argument, NULL, O_OFFERR },
		{ "scaling", required_argument, NULL, O_SCALE },
		{ "name", required_argument, NULL, O_NAME },
		{ "file-version", required_argument, NULL, O_VER },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*a = (struct merge_args){ .pid = -1, .name = "guest", .version = 7,
				  .source = VT_SRC_TRACEPOINT };
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		uint64_t v;
		char *colon;

		switch (c) {
		case O_HOST:
			a->host = optarg;
			break;
		case O_GUEST:
			if (a->nguests == MAX_GUESTS)
				return cli_usage("merge", "at most %d --guest files", MAX_GUESTS);
			a->guests[a->nguests++] = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case O_PID:
			if (vtc_parse_u64(optarg, &v) < 0 || v == 0 || v > INT32_MAX)
				return cli_usage("merge", "--pid: '%s' is not a process id", optarg);
			a->pid = (int32_t)v;
			break;
		case O_TGIDS:
			a->tgids = optarg;
			break;
		case O_APIC:
			if (parse_list(optarg, a->apic_ids, MAX_VCPUS, &a->napic) < 0)
				return cli_usage("merge", "--apic-ids: '%s' is not a list of ids",
						 optarg);
			break;
		case O_SRC:
			if (vt_offset_source_parse(optarg, &a->source) < 0)
				return cli_usage("merge", "--offset-source: unknown source '%s'",
						 optarg);
			break;
		case O_OFF:
			if (parse_offset(optarg, &a->offset) < 0)
				return cli_usage("merge", "--offset: '%s' is not a number", optarg);
			a->have_offset = true;
			break;
		case O_OFFERR:
			if (vtc_parse_u64(optarg, &a->error_ticks) < 0)
				return cli_usage("merge", "--offset-error: '%s' is not a number",
						 optarg);
			break;
		case O_SCALE:
			colon = strchr(optarg, ':');
			if (!colon)
				return cli_usage("merge", "--scaling: expected RATIO:FRAC");
			*colon = '\0';
			if (vtc_parse_u64(optarg, &a->scale.ratio) < 0 ||
			    vtc_parse_u64(colon + 1, &v) < 0 || v > 63 || !a->scale.ratio)
				return cli_usage("merge", "--scaling: bad ratio or fraction bits");
			a->scale.frac_bits = (unsigned)v;
			break;
		case O_NAME:
			a->name = optarg;
			break;
		case O_VER:
			if (strcmp(optarg, "6") && strcmp(optarg, "7"))
				return cli_usage("merge", "--file-version: 6 or 7");
			a->version = optarg[0] - '0';
			break;
		case 'h':
			fputs(merge_help, stdout);
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage("merge", "unexpected argument '%s'", argv[optind]);
	if (!a->host)
		return cli_usage("merge", "--host is required");
	if (!a->out)
		return cli_usage("merge", "-o DIR is required");
	if (a->source != VT_SRC_TRACEPOINT && !a->have_offset)
		return cli_usage("merge", "--offset-source %s needs --offset",
				 vt_offset_source_name(a->source));
	if (a->source == VT_SRC_TRACEPOINT && a->have_offset)
		return cli_usage("merge", "--offset needs --offset-source debugfs, probe or user");
	return 0;
}

static int make_outdir(const char *dir)
{
	DIR *d;
	struct dirent *de;

	if (mkdir(dir, 0750) == 0)
		return 0;
	if (errno != EEXIST)
		return cli_error("%s: cannot create: %s", dir, strerror(errno));
	d = opendir(dir);
	if (!d)
		return cli_error("%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			closedir(d);
			return cli_error("%s: not empty (will not overwrite a run)", dir);
		}
	}
	closedir(d);
	return 0;
}

static int load_tids(const struct merge_args *a, struct vt_tidset *tids)
{
	struct vt_errbuf eb = { "" };
	char path[64];
	int r;

	if (a->tgids) {
		_cleanup_free_ char *text = NULL;

		r = vtc_read_file(a->tgids, &text, NULL);
		if (r < 0)
			return cli_error("%s: %s", a->tgids, strerror(-r));
		r = vt_tidset_from_tgids(text, a->pid, tids, &eb);
		if (r < 0)
			return cli_error_eb(r, &eb, a->tgids);
		return 0;
	}
	/* a live process: its threads from /proc */
	snprintf(path, sizeof(path), "/proc/%d/task", a->pid);
	r = vt_tidset_add(tids, a->pid);
	if (r < 0)
		return cli_error("out of memory");
	DIR *d = opendir(path);
	if (d) {
		struct dirent *de;

		while ((de = readdir(d))) {
			uint64_t tid;

			if (vtc_parse_u64(de->d_name, &tid) == 0 && tid <= INT32_MAX)
				(void)vt_tidset_add(tids, (int32_t)tid);
		}
		closedir(d);
	}
	return 0;
}

static unsigned guest_cpus(struct vt_dat *const *guests, size_t n)
{
	unsigned max = 0;

	for (size_t g = 0; g < n; g++)
		for (size_t b = 0; b < vt_dat_nbuffers(guests[g]); b++)
			if (vt_dat_buffer_ncpus(guests[g], b) > max)
				max = vt_dat_buffer_ncpus(guests[g], b);
	return max;
}

static int build_timeline(const struct merge_args *a, struct vt_dat *host,
			  struct vt_dat *const *guests, struct vt_timeline **tl)
{
	struct vt_errbuf eb = { "" };
	int r;

	if (a->source == VT_SRC_TRACEPOINT) {
		struct vt_tidset tids = { 0 };

		if (a->pid > 0) {
			r = load_tids(a, &tids);
			if (r)
				return r;
		}
		r = vt_timeline_from_dat(host, a->pid > 0 ? &tids : NULL, a->pid, tl, &eb);
		vt_tidset_fini(&tids);
		if (r < 0)
			return cli_error_eb(r, &eb, a->host);
		return 0;
	}
	/* one known offset for every vCPU */
	size_t n = a->napic ? a->napic : guest_cpus(guests, a->nguests);
	uint32_t ids[MAX_VCPUS];
	uint64_t offs[MAX_VCPUS];

	if (!n || n > MAX_VCPUS)
		return cli_error("--offset-source %s: no guest CPUs to give the offset to",
				 vt_offset_source_name(a->source));
	for (size_t i = 0; i < n; i++) {
		ids[i] = a->napic ? a->apic_ids[i] : (uint32_t)i;
		offs[i] = a->offset;
	}
	r = vt_timeline_constant(ids, offs, n, 0, a->source, a->error_ticks, tl);
	if (r < 0)
		return cli_error("cannot build the offset timeline: %s", strerror(-r));
	return 0;
}

/* host.dat: every buffer of the input copied page by page, plus GUEST options */
static int write_host(const struct merge_args *a, struct vt_dat *host, uint64_t trace_id,
		      const struct vt_dat_guest *guests, size_t nguests, uint64_t *ret_lost,
		      struct vt_errbuf *eb)
{
	struct vt_tsc2nsec t2n;
	struct vt_datw_opts wo = {
		.version = a->version,
		.clock = vt_dat_buffer_clock(host, 0),
		.trace_id = trace_id,
		.tsc2nsec = vt_dat_tsc2nsec(host, &t2n) ? &t2n : NULL,
		.guests = guests,
		.nguests = nguests,
	};
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/host.dat", a->out);
	return vt_dat_copy(host, path, &wo, ret_lost, eb);
}

static uint64_t count_events(struct vt_dat *dat, struct vt_errbuf *eb, int *ret_r)
{
	uint64_t n = 0;

	*ret_r = 0;
	for (size_t b = 0; b < vt_dat_nbuffers(dat); b++) {
		for (unsigned cpu = 0; cpu < vt_dat_buffer_ncpus(dat, b); cpu++) {
			struct vt_dat_cpu *c = NULL;
			struct vt_event ev;
			int r = vt_dat_cpu_open(dat, b, cpu, &c, eb);

			while (r >= 0 && (r = vt_dat_cpu_next_event(c, &ev, eb)) > 0)
				n++;
			vt_dat_cpu_close(c);
			if (r < 0) {
				*ret_r = r;
				return n;
			}
		}
	}
	return n;
}

struct merge_state {
	struct merge_args a;
	struct vt_dat *host;
	struct vt_dat *guests[MAX_GUESTS];
	struct vt_convert_result *res[MAX_GUESTS];
	char names[MAX_GUESTS][32];
	struct vt_timeline *tl;
	struct json_object *manifest;
	uint64_t host_trace_id, host_lost;
	uint64_t host_events;	/* counted by the containment sweep, or on their own */
};

static void merge_state_free(struct merge_state *m)
{
	for (size_t g = 0; g < m->a.nguests; g++) {
		vt_dat_close(m->guests[g]);
		vt_convert_result_free(m->res[g]);
	}
	vt_dat_close(m->host);
	vt_timeline_free(m->tl);
	json_object_put(m->manifest);
}

static int convert_guests(struct merge_state *m)
{
	struct vt_tsc2nsec t2n;
	bool have_t2n = vt_dat_tsc2nsec(m->host, &t2n);

	for (size_t g = 0; g < m->a.nguests; g++) {
		struct vt_convert_opts co = {
			.timeline = m->tl,
			.apic_ids = m->a.napic ? m->a.apic_ids : NULL,
			.napic_ids = m->a.napic,
			.scale = m->a.scale.ratio ? &m->a.scale : NULL,
			.host = m->host,
			.file_version = m->a.version,
			.tsc2nsec = have_t2n ? &t2n : NULL,
			.boot = (unsigned)g + 1,
		};
		struct vt_errbuf eb = { "" };
		char path[PATH_MAX];
		int r;

		if (g == 0)
			snprintf(m->names[g], sizeof(m->names[g]), "guest.dat");
		else
			snprintf(m->names[g], sizeof(m->names[g]), "guest-boot%zu.dat", g + 1);
		snprintf(path, sizeof(path), "%s/%s", m->a.out, m->names[g]);
		cli_progress("converting %s ...", m->a.guests[g]);
		r = vt_convert_guest(m->guests[g], path, &co, &m->res[g], &eb);
		if (r < 0)
			return cli_error_eb(r, &eb, m->a.guests[g]);
		if (vt_manifest_add_guest(m->manifest, m->names[g], (unsigned)g + 1, m->guests[g],
					  m->res[g]) < 0)
			return cli_error("out of memory");
		for (size_t i = 0; i < m->res[g]->ncpus; i++) {
			const struct vt_convert_cpu *c = &m->res[g]->cpus[i];

			if (c->boot_guessed)
				vt_manifest_add_warning(m->manifest,
							"%s: CPU %u: boot segment chosen by the "
							"fallback rule (several fitted)",
							m->names[g], c->cpu);
			if (c->inconsistent)
				vt_manifest_add_warning(m->manifest,
							"%s: CPU %u: %" PRIu64 " events fit no "
							"offset segment (flagged)",
							m->names[g], c->cpu, c->inconsistent);
		}
		if (m->res[g]->ambiguous)
			vt_manifest_add_warning(m->manifest,
						"%s: %" PRIu64 " events with an undecided offset "
						"segment (see virt-trace verify)",
						m->names[g], m->res[g]->ambiguous);
	}
	return 0;
}

static int finish_host(struct merge_state *m)
{
	struct vt_dat_guest gopt[MAX_GUESTS];
	uint32_t tids[MAX_GUESTS][MAX_VCPUS];
	struct vt_errbuf eb = { "" };
	uint64_t trace_id = vt_dat_trace_id(m->host), lost = 0;
	int r;

	if (!trace_id)
		trace_id = vt_make_trace_id();
	for (size_t g = 0; g < m->a.nguests; g++) {
		const struct vt_convert_result *res = m->res[g];
		uint32_t n = 0;

		/* the GUEST option maps the top buffer's guest CPUs to vCPU threads */
		for (size_t i = 0; i < res->ncpus && n < MAX_VCPUS; i++)
			if (res->cpus[i].buffer == 0)
				tids[g][n++] = (uint32_t)res->cpus[i].tid;
		gopt[g] = (struct vt_dat_guest){ .name = m->a.name,
						 .trace_id = res->trace_id,
						 .ncpus = n,
						 .vcpu_tid = tids[g] };
	}
	cli_progress("writing host.dat ...");
	r = write_host(&m->a, m->host, trace_id, gopt, m->a.nguests, &lost, &eb);
	if (r < 0)
		return cli_error_eb(r, &eb, m->a.host);
	m->host_trace_id = trace_id;
	m->host_lost = lost;
	if (lost)
		vt_manifest_add_warning(m->manifest, "host.dat: %" PRIu64 " pages say events were lost",
					lost);
	return 0;
}

static int check_containment(struct merge_state *m)
{
	struct vt_dat *files[MAX_GUESTS + 1];
	struct vt_stream_tid map[MAX_GUESTS * 64];
	struct vt_containment c;
	struct vt_errbuf eb = { "" };
	size_t nmap = 0;
	int r;

	files[0] = m->host;
	for (size_t g = 0; g < m->a.nguests; g++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", m->a.out, m->names[g]);
		r = vt_dat_open(path, &files[g + 1], &eb);
		if (r < 0) {
			for (size_t i = 1; i <= g; i++)
				vt_dat_close(files[i]);
			return cli_error_eb(r, &eb, path);
		}
		for (size_t i = 0; i < m->res[g]->ncpus && nmap < sizeof(map) / sizeof(map[0]); i++)
			map[nmap++] = (struct vt_stream_tid){ .file = (unsigned)g + 1,
							      .buffer = m->res[g]->cpus[i].buffer,
							      .cpu = m->res[g]->cpus[i].cpu,
							      .tid = m->res[g]->cpus[i].tid };
	}
	cli_progress("checking containment ...");
	r = vt_containment_sweep(files, m->a.nguests + 1, map, nmap, &c, &eb);
	for (size_t g = 0; g < m->a.nguests; g++)
		vt_dat_close(files[g + 1]);
	if (r < 0)
		return cli_error_eb(r, &eb, "containment");
	m->host_events = c.host_events;
	if (vt_manifest_set_containment(m->manifest, &c) < 0)
		return cli_error("out of memory");
	if (c.available && c.inside < c.guest_events)
		vt_manifest_add_warning(m->manifest,
					"%" PRIu64 " of %" PRIu64 " guest events lie outside their "
					"vCPU's guest-mode intervals",
					c.guest_events - c.inside, c.guest_events);
	return 0;
}

/*
 * Everything after this reads the input files (a guest's, possibly hostile): no
 * capabilities, no_new_privs, writes only beneath @out (where Landlock or a mount
 * namespace can do it; else the manifest says so).
 */
static int enter_sandbox(const char *out, struct vt_sandbox_info *info)
{
	struct vt_sandbox_opts o = { .flags = VT_SANDBOX_FS_BEST_EFFORT };
	struct vt_errbuf eb = { "" };
	char real[PATH_MAX];

	if (!realpath(out, real))
		return cli_error("%s: %s", out, strerror(errno));
	o.write_dir = real;
	if (vt_sandbox_enter(&o, info, &eb) < 0)
		return cli_error("%s", eb.msg);
	return 0;
}

int cmd_merge(int argc, char **argv)
{
	struct vt_sandbox_info sandbox;
	struct merge_state m = { 0 };
	const char *members[MAX_GUESTS + 1];
	struct vt_errbuf eb = { "" };
	int r;

	r = parse_args(argc, argv, &m.a);
	if (r)
		return r < 0 ? 0 : r;
	r = make_outdir(m.a.out);
	if (!r)
		r = enter_sandbox(m.a.out, &sandbox);
	if (r)
		return r;
	r = vt_dat_open(m.a.host, &m.host, &eb);
	if (r < 0)
		return cli_error_eb(r, &eb, m.a.host);
	for (size_t g = 0; g < m.a.nguests; g++) {
		r = vt_dat_open(m.a.guests[g], &m.guests[g], &eb);
		if (r < 0) {
			m.a.nguests = g;
			merge_state_free(&m);
			return cli_error_eb(r, &eb, m.a.guests[g]);
		}
	}
	r = build_timeline(&m.a, m.host, m.guests, &m.tl);
	if (!r) {
		m.manifest = vt_manifest_new("complete");
		if (!m.manifest || vt_manifest_set_timeline(m.manifest, m.tl,
							    m.a.scale.ratio ? &m.a.scale : NULL) < 0 ||
		    json_object_object_add(m.manifest, "guest_sandbox",
					   vt_sandbox_info_json(&sandbox)) < 0)
			r = cli_error("out of memory");
		else if (!sandbox.fs_confined)
			vt_manifest_add_warning(m.manifest, "writes not confined to %s: %s", m.a.out,
						sandbox.fs_error);
	}
	if (!r)
		r = convert_guests(&m);
	if (!r)
		r = finish_host(&m);
	if (!r && m.a.nguests)
		r = check_containment(&m);
	if (!r && !m.a.nguests) {
		m.host_events = count_events(m.host, &eb, &r);
		if (r < 0)
			r = cli_error_eb(r, &eb, m.a.host);
	}
	if (!r && vt_manifest_set_host(m.manifest, "host.dat", m.host, m.host_trace_id,
				       m.host_events, m.host_lost) < 0)
		r = cli_error("out of memory");
	if (!r) {
		members[0] = "host.dat";
		for (size_t g = 0; g < m.a.nguests; g++)
			members[g + 1] = m.names[g];
		if (vt_manifest_add_members(m.manifest, m.a.out, members, m.a.nguests + 1, &eb) < 0 ||
		    vt_manifest_write(m.a.out, m.manifest, &eb) < 0)
			r = cli_error_eb(-EIO, &eb, m.a.out);
	}
	cli_progress("%s", "");
	merge_state_free(&m);
	return r;
}
