// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vt-gen: writes synthetic host/guest trace.dat pairs with known TSC offsets, plus the
 * expected host time of every guest event, as fixtures for the conversion and merge tests.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cleanup.h"
#include "util.h"
#include "vt-formats.h"
#include "vt/dat.h"

/* ---- the model ---- */

#define HOST_TSC_AT_CREATE	500000000000ULL	/* host TSC when QEMU creates vCPU 0 */
#define GUEST_RUN_DELAY		5000000000ULL	/* vCPU creation to the first traced event */
#define FORWARD_JUMP		4000000000ULL
#define BACKWARD_JUMP		3000000000ULL
#define AMBIGUOUS_JUMP		20000ULL	/* smaller than the gap around the write */
#define REBOOT_GAP		2000000000ULL
#define QEMU_TGID		3990
#define VCPU_TID0		4000
#define OTHER_QEMU_TGID		5990
#define OTHER_VCPU_TID0		6000
#define MSR_IA32_TSC		0x10
#define EXIT_MSR_WRITE		32
#define EXIT_IO_INSTRUCTION	30
#define TSC2NSEC_MULT		6710886	/* 2.5 GHz: (ticks * mult) >> shift = ns */
#define TSC2NSEC_SHIFT		24

enum write_kind {
	WRITE_NONE,
	WRITE_FORWARD,		/* guest TSC jumps forward */
	WRITE_BACKWARD,		/* guest TSC jumps back, far */
	WRITE_AMBIGUOUS,	/* back by less than the gap between the events around it */
	WRITE_RESET,		/* system reset: guest TSC restarts at 0, second guest boot */
};

struct scenario {
	const char *name;
	const char *what;
	enum write_kind write;
	bool marker;		/* the guest records msr:write_msr IA32_TSC before the write */
	bool kvm_events;	/* host.dat has kvm_entry/kvm_exit */
	bool noise;		/* another QEMU's offset writes in the tsc buffer */
	unsigned min_vcpus;
	uint64_t vcpu_offset_step;	/* boot offset difference between vCPUs */
};

static const struct scenario scenarios[] = {
	{ "boot", "one offset per vCPU, from vCPU creation on",
	  WRITE_NONE, false, true, false, 1, 0 },
	{ "forward", "guest writes IA32_TSC forward, msr:write_msr marker",
	  WRITE_FORWARD, true, true, false, 1, 0 },
	{ "forward-nomarker", "host-initiated forward jump, no marker",
	  WRITE_FORWARD, false, true, false, 1, 0 },
	{ "backward", "guest writes IA32_TSC backward, msr:write_msr marker",
	  WRITE_BACKWARD, true, true, false, 1, 0 },
	{ "backward-nomarker", "host-initiated backward jump, no marker",
	  WRITE_BACKWARD, false, true, false, 1, 0 },
	{ "two-vcpus", "two vCPUs with different boot offsets",
	  WRITE_NONE, false, true, false, 2, 7777777 },
	{ "noise", "forward jump without marker; another QEMU writes offsets too",
	  WRITE_FORWARD, false, true, true, 1, 0 },
	{ "two-boots", "system reset: guest-boot2.dat holds the second boot",
	  WRITE_RESET, false, true, false, 1, 0 },
	{ "ambiguous", "backward jump smaller than the event gap, no marker, no kvm events",
	  WRITE_AMBIGUOUS, false, false, false, 1, 0 },
	{ "ambiguous-contained", "as ambiguous, with kvm_entry/exit intervals that decide it",
	  WRITE_AMBIGUOUS, false, true, false, 1, 0 },
};

#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

struct gen {
	const struct scenario *sc;
	const char *dir;
	uint64_t events;	/* guest events in all */
	unsigned nvcpus;
	uint64_t seed;
	int version;
	bool expect;
	uint64_t host_trace_id;
	uint64_t guest_trace_id[2];
	uint64_t written;	/* events written to all files */
};

enum item_kind {
	IT_CREATE,	/* kvm_write_tsc_offset at vCPU creation */
	IT_ENTRY,
	IT_EXIT,
	IT_GUEST,	/* guest sched_switch */
	IT_MARKER,	/* guest msr:write_msr IA32_TSC, traced right after the write */
	IT_WRITE,	/* kvm_write_tsc_offset later on */
	IT_SWITCH_OUT,	/* host: vCPU thread scheduled out */
	IT_SWITCH_IN,
};

struct item {
	enum item_kind kind;
	uint64_t host_ts;
	uint64_t offset;	/* guest = host + offset; for writes the next offset */
	int boot;		/* guest boot (1, 2) the item belongs to */
	uint32_t exit_reason;
	uint32_t task;		/* guest task index */
	uint64_t msr_val;	/* IT_MARKER: the value written (guest TSC at the write) */
};

/* One vCPU's history, produced item by item the same way on every pass. */
struct sim {
	const struct gen *g;
	unsigned vcpu;
	uint64_t rng;
	uint64_t now;
	uint64_t offset;
	int boot;
	uint64_t nguest, quota, write_at;
	bool created, write_done, after_write, marker_pending;
	uint64_t marker_val;
	struct item q[32];
	unsigned qn, qi;
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t vcpu_create_ts(unsigned vcpu)
{
	return HOST_TSC_AT_CREATE + vcpu * 2000ULL;
}

static void sim_init(struct sim *s, const struct gen *g, unsigned vcpu)
{
	*s = (struct sim){ .g = g, .vcpu = vcpu, .boot = 1 };
	s->rng = g->seed * 0x100000001b3ULL + vcpu + 1;
	/* guest TSC starts at 0 when the vCPU is created */
	s->offset = -vcpu_create_ts(vcpu) + vcpu * g->sc->vcpu_offset_step;
	s->quota = g->events / g->nvcpus + (vcpu < g->events % g->nvcpus);
	s->write_at = g->sc->write == WRITE_NONE ? UINT64_MAX : s->quota / 2;
}

static struct item *sim_push(struct sim *s, enum item_kind kind, uint64_t host_ts)
{
	struct item *it = &s->q[s->qn++];

	*it = (struct item){ .kind = kind, .host_ts = host_ts, .offset = s->offset,
			     .boot = s->boot };
	return it;
}

/* the next offset after a write, and what else changes with it */
static uint64_t sim_next_offset(struct sim *s, uint64_t write_ts)
{
	switch (s->g->sc->write) {
	case WRITE_FORWARD:
		return s->offset + FORWARD_JUMP;
	case WRITE_BACKWARD:
		return s->offset - BACKWARD_JUMP;
	case WRITE_AMBIGUOUS:
		return s->offset - AMBIGUOUS_JUMP;
	case WRITE_RESET:
		s->boot = 2;
		return -write_ts;
	case WRITE_NONE:
		break;
	}
	return s->offset;
}

/*
 * One guest-mode interval and the host time after it. A write ends the interval it
 * falls in: the guest's wrmsr exits, KVM writes the offset, the guest resumes. The
 * guest's msr:write_msr is traced after the wrmsr, so the marker is the first event
 * after the write, on the new offset. For the ambiguous case the write comes late in
 * the exit: the first event after it is closer to it than the jump, the last before
 * it farther, so the guest clock shows no step and only containment can decide.
 */
static void sim_fill(struct sim *s)
{
	uint64_t entry, exit_ts, len, host_len, slot, left = s->quota - s->nguest;
	unsigned k = 2 + (unsigned)(rng_next(&s->rng) % 5);
	bool writes;

	s->qn = s->qi = 0;
	if (!s->created) {
		s->created = true;
		sim_push(s, IT_CREATE, vcpu_create_ts(s->vcpu));
		s->now = vcpu_create_ts(s->vcpu) + GUEST_RUN_DELAY + s->vcpu * 1000ULL;
		return;
	}
	if (!left)
		return;
	if (k > left)
		k = (unsigned)left;
	writes = !s->write_done && s->nguest + k > s->write_at;
	len = 20000 + rng_next(&s->rng) % 40000;
	host_len = 2000 + rng_next(&s->rng) % 8000;
	entry = s->now;
	exit_ts = entry + len;
	sim_push(s, IT_ENTRY, entry);
	slot = (len - 1000) / k;
	for (unsigned j = 0; j < k; j++) {
		uint64_t ts = entry + 500 + j * slot + rng_next(&s->rng) % (slot / 2);
		struct item *it;

		if (j == 0 && s->after_write)
			ts = entry + 500;	/* close to the entry: containment can decide */
		if (j == k - 1 && writes)
			ts = exit_ts - 300;
		it = sim_push(s, j == 0 && s->marker_pending ? IT_MARKER : IT_GUEST, ts);
		it->task = (uint32_t)(rng_next(&s->rng) % 4);
		if (it->kind == IT_MARKER) {
			it->msr_val = s->marker_val;
			it->task = 0;
			s->marker_pending = false;
		}
	}
	s->nguest += k;
	s->after_write = false;
	sim_push(s, IT_EXIT, exit_ts)->exit_reason =
		writes ? (s->g->sc->marker ? EXIT_MSR_WRITE : EXIT_IO_INSTRUCTION) :
			 (uint32_t[]){ 1, 12, 30, 48 }[rng_next(&s->rng) % 4];
	if (writes) {
		uint64_t write_ts;

		host_len = s->g->sc->write == WRITE_RESET ? REBOOT_GAP : 50000;
		write_ts = exit_ts + (s->g->sc->write == WRITE_AMBIGUOUS ? host_len * 4 / 5 :
									    host_len / 2);
		s->offset = sim_next_offset(s, write_ts);
		sim_push(s, IT_WRITE, write_ts);
		s->write_done = true;
		s->after_write = true;
		s->marker_pending = s->g->sc->marker;
		s->marker_val = write_ts + s->offset;
	} else if (rng_next(&s->rng) % 8 == 0) {
		sim_push(s, IT_SWITCH_OUT, exit_ts + host_len / 4);
		sim_push(s, IT_SWITCH_IN, exit_ts + host_len * 3 / 4);
	}
	s->now = exit_ts + host_len;
}

/* 1 with the next item, 0 when the vCPU's history is over */
static int sim_next(struct sim *s, const struct item **ret)
{
	if (s->qi == s->qn)
		sim_fill(s);
	if (s->qi == s->qn)
		return 0;
	*ret = &s->q[s->qi++];
	return 1;
}

/* ---- event payloads ---- */

static void put_common(uint8_t *p, uint16_t type, int32_t pid)
{
	vtc_put_le16(p, type);
	p[2] = 1;	/* common_flags: irqs off */
	p[3] = 0;
	vtc_put_le32(p + 4, (uint32_t)pid);
}

static void put_comm(uint8_t *p, const char *comm)
{
	memset(p, 0, 16);
	memcpy(p, comm, strnlen(comm, 15));
}

static void make_switch(uint8_t p[64], int32_t prev_pid, const char *prev_comm,
			int32_t next_pid, const char *next_comm, int64_t prev_state)
{
	memset(p, 0, 64);
	put_common(p, VT_ID_SCHED_SWITCH, prev_pid);
	put_comm(p + 8, prev_comm);
	vtc_put_le32(p + 24, (uint32_t)prev_pid);
	vtc_put_le32(p + 28, 120);
	vtc_put_le64(p + 32, (uint64_t)prev_state);
	put_comm(p + 40, next_comm);
	vtc_put_le32(p + 56, (uint32_t)next_pid);
	vtc_put_le32(p + 60, 120);
}

static void make_write_tsc(uint8_t p[32], int32_t tid, uint32_t vcpu, uint64_t next)
{
	memset(p, 0, 32);
	put_common(p, VT_ID_KVM_WRITE_TSC_OFFSET, tid);
	vtc_put_le32(p + 8, vcpu);
	vtc_put_le64(p + 16, 0);	/* previous_tsc_offset: always 0 on our host */
	vtc_put_le64(p + 24, next);
}

static const struct {
	int32_t pid;
	const char *comm;
} guest_tasks[4] = {
	{ 1, "systemd" },
	{ 120, "kworker/0:1" },
	{ 512, "bash" },
	{ 733, "sshd" },
};

/* ---- files ---- */

static int gen_err(const char *what, int r, const struct vt_errbuf *eb)
{
	fprintf(stderr, "vt-gen: %s: %s\n", what, eb && eb->msg[0] ? eb->msg : strerror(-r));
	return r;
}

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* offset writes of the tsc buffer (our vCPUs and, for noise, another VM's) */
struct tsc_write {
	uint64_t host_ts;
	uint32_t cpu, vcpu;
	int32_t tid;
	uint64_t next;
};

struct writes {
	struct tsc_write w[64];
	size_t n;
};

static void writes_add(struct writes *ws, uint64_t ts, uint32_t cpu, uint32_t vcpu, int32_t tid,
		       uint64_t next)
{
	if (ws->n < sizeof(ws->w) / sizeof(ws->w[0]))
		ws->w[ws->n++] = (struct tsc_write){ ts, cpu, vcpu, tid, next };
}

static int cmp_write(const void *a, const void *b)
{
	const struct tsc_write *x = a, *y = b;

	if (x->cpu != y->cpu)
		return x->cpu < y->cpu ? -1 : 1;
	return x->host_ts < y->host_ts ? -1 : x->host_ts > y->host_ts;
}

static void add_noise(const struct gen *g, struct writes *ws)
{
	uint64_t rng = g->seed ^ 0xabcdef;

	for (unsigned v = 0; v < 2; v++) {
		/* the other VM is created a bit later and resets its TSC once */
		uint64_t ts = HOST_TSC_AT_CREATE + 777777 + v * 3000ULL;

		writes_add(ws, ts, v % g->nvcpus, v, OTHER_VCPU_TID0 + (int32_t)v, -ts);
		ts += GUEST_RUN_DELAY / 2 + rng_next(&rng) % 100000;
		writes_add(ws, ts, v % g->nvcpus, v, OTHER_VCPU_TID0 + (int32_t)v,
			   -ts + rng_next(&rng) % 1000000);
	}
}

static int write_tsc_buffer(struct gen *g, struct vt_datw *w, struct writes *ws,
			    struct vt_errbuf *eb)
{
	uint8_t p[32];
	size_t i = 0;
	int r;

	qsort(ws->w, ws->n, sizeof(ws->w[0]), cmp_write);
	r = vt_datw_buffer_begin(w, "tsc", g->nvcpus, eb);
	for (unsigned cpu = 0; !r && cpu < g->nvcpus; cpu++) {
		r = vt_datw_cpu_begin(w, cpu, eb);
		for (; !r && i < ws->n && ws->w[i].cpu == cpu; i++) {
			make_write_tsc(p, ws->w[i].tid, ws->w[i].vcpu, ws->w[i].next);
			r = vt_datw_cpu_event(w, ws->w[i].host_ts, p, sizeof(p), eb);
			g->written++;
		}
		if (!r)
			r = vt_datw_cpu_end(w, eb);
	}
	return r ? r : vt_datw_buffer_end(w, eb);
}

static int host_cpu(struct gen *g, struct vt_datw *w, unsigned cpu, struct writes *ws,
		    struct vt_errbuf *eb)
{
	int32_t tid = VCPU_TID0 + (int32_t)cpu;
	uint8_t entry[36] = { 0 }, exit_p[72] = { 0 }, out[64], in[64];
	char comm[32];
	const struct item *it;
	struct sim s;
	int r;

	snprintf(comm, sizeof(comm), "CPU %u/KVM", cpu);
	put_common(entry, VT_ID_KVM_ENTRY, tid);
	vtc_put_le32(entry + 8, cpu);
	vtc_put_le64(entry + 16, 0xffffffff81e3a0b6ULL);
	put_common(exit_p, VT_ID_KVM_EXIT, tid);
	vtc_put_le64(exit_p + 16, 0xffffffff81e3a0b4ULL);
	vtc_put_le32(exit_p + 24, 1);	/* isa: VMX */
	vtc_put_le32(exit_p + 56, cpu);
	make_switch(out, tid, comm, 0, "swapper", 1);
	make_switch(in, 0, "swapper", tid, comm, 0);

	sim_init(&s, g, cpu);
	r = vt_datw_cpu_begin(w, cpu, eb);
	while (!r && sim_next(&s, &it) > 0) {
		switch (it->kind) {
		case IT_CREATE:
		case IT_WRITE:
			writes_add(ws, it->host_ts, cpu, cpu, tid, it->offset);
			continue;
		case IT_ENTRY:
			if (!g->sc->kvm_events)
				continue;
			r = vt_datw_cpu_event(w, it->host_ts, entry, sizeof(entry), eb);
			break;
		case IT_EXIT:
			if (!g->sc->kvm_events)
				continue;
			vtc_put_le32(exit_p + 8, it->exit_reason);
			r = vt_datw_cpu_event(w, it->host_ts, exit_p, sizeof(exit_p), eb);
			break;
		case IT_SWITCH_OUT:
			r = vt_datw_cpu_event(w, it->host_ts, out, sizeof(out), eb);
			break;
		case IT_SWITCH_IN:
			r = vt_datw_cpu_event(w, it->host_ts, in, sizeof(in), eb);
			break;
		case IT_GUEST:
		case IT_MARKER:
			continue;
		}
		g->written++;
	}
	return r ? r : vt_datw_cpu_end(w, eb);
}

static int write_saved_tgids(const struct gen *g)
{
	char path[PATH_MAX], buf[4096];
	size_t len = 0;

	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%d %d\n", QEMU_TGID, QEMU_TGID);
	for (unsigned v = 0; v < g->nvcpus && len < sizeof(buf) - 64; v++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %d\n", VCPU_TID0 + v,
					QEMU_TGID);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%d %d\n", OTHER_QEMU_TGID,
				OTHER_QEMU_TGID);
	for (unsigned v = 0; v < 2; v++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %d\n",
					OTHER_VCPU_TID0 + v, OTHER_QEMU_TGID);
	path_in(path, sizeof(path), g->dir, "saved_tgids");
	return vtc_write_file_atomic(path, buf, len);
}

static int write_host(struct gen *g, struct writes *ws)
{
	struct vt_tsc2nsec t2n = { TSC2NSEC_MULT, TSC2NSEC_SHIFT, 0 };
	struct vt_dat_guest guests[2];
	_cleanup_free_ uint32_t *tids = calloc(g->nvcpus, sizeof(uint32_t));
	_cleanup_free_ char *cmdlines = NULL;
	struct vt_errbuf eb = { { 0 } };
	struct vt_datw *w = NULL;
	char path[PATH_MAX];
	size_t len = 0, cap = 64 + 32 * (size_t)g->nvcpus;
	int r;

	cmdlines = malloc(cap);
	if (!tids || !cmdlines)
		return -ENOMEM;
	len += (size_t)snprintf(cmdlines, cap, "%d qemu-system-x86\n", QEMU_TGID);
	for (unsigned v = 0; v < g->nvcpus; v++) {
		tids[v] = VCPU_TID0 + v;
		len += (size_t)snprintf(cmdlines + len, cap - len, "%u CPU %u/KVM\n", tids[v], v);
	}
	for (int b = 0; b < (g->sc->write == WRITE_RESET ? 2 : 1); b++)
		guests[b] = (struct vt_dat_guest){ "vtgen", g->guest_trace_id[b], g->nvcpus, tids };

	path_in(path, sizeof(path), g->dir, "host.dat");
	const struct vt_dat_format formats[] = {
		vt_formats[VT_FMT_FTRACE_PRINT], vt_formats[VT_FMT_SCHED_SWITCH],
		vt_formats[VT_FMT_KVM_ENTRY], vt_formats[VT_FMT_KVM_EXIT],
		vt_formats[VT_FMT_KVM_WRITE_TSC_OFFSET],
	};
	struct vt_dat_meta meta = vt_formats_meta(formats, sizeof(formats) / sizeof(formats[0]),
						  cmdlines,
						  "Linux vt-gen-host 6.18.0 #1 SMP x86_64");
	struct vt_datw_opts opts = {
		.version = g->version, .clock = "x86-tsc", .trace_id = g->host_trace_id,
		.tsc2nsec = &t2n, .guests = guests,
		.nguests = g->sc->write == WRITE_RESET ? 2 : 1,
	};

	r = vt_datw_create(path, &meta, &opts, &w, &eb);
	if (r)
		return gen_err("host.dat", r, &eb);
	r = vt_datw_buffer_begin(w, "", g->nvcpus, &eb);
	for (unsigned cpu = 0; !r && cpu < g->nvcpus; cpu++)
		r = host_cpu(g, w, cpu, ws, &eb);
	if (!r)
		r = vt_datw_buffer_end(w, &eb);
	if (!r && g->sc->noise)
		add_noise(g, ws);
	if (!r)
		r = write_tsc_buffer(g, w, ws, &eb);
	if (r) {
		vt_datw_close(w, true, NULL);
		return gen_err("host.dat", r, &eb);
	}
	r = vt_datw_close(w, false, &eb);
	return r ? gen_err("host.dat", r, &eb) : 0;
}

/* expect.txt lines are many: format numbers by hand */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static int expect_header(FILE *f, const struct gen *g, int boot, const struct writes *ws)
{
	fprintf(f, "# vt-gen scenario=%s: %s\n", g->sc->name, g->sc->what);
	fprintf(f, "# seed=%" PRIu64 " vcpus=%u events=%" PRIu64 " file-version=%d boot=%d\n",
		g->seed, g->nvcpus, g->events, g->version, boot);
	fprintf(f, "# host_trace_id=0x%016" PRIx64 " guest_trace_id=0x%016" PRIx64 "\n",
		g->host_trace_id, g->guest_trace_id[boot - 1]);
	for (size_t i = 0; i < ws->n; i++)
		fprintf(f, "# write cpu=%u vcpu=%u tid=%d host_ts=%" PRIu64 " next_offset=%" PRId64
			   "%s\n", ws->w[i].cpu, ws->w[i].vcpu, ws->w[i].tid, ws->w[i].host_ts,
			(int64_t)ws->w[i].next, ws->w[i].tid >= OTHER_VCPU_TID0 ? " other-vm" : "");
	fprintf(f, "# guest_cpu index guest_ts host_ts\n");
	return ferror(f) ? -EIO : 0;
}

static int guest_cpu(struct gen *g, struct vt_datw *w, unsigned cpu, int boot, FILE *expect,
		     struct vt_errbuf *eb)
{
	uint8_t sw[4][64], msr[28];
	char line[128];
	const struct item *it;
	uint64_t index = 0;
	struct sim s;
	int r;

	for (int t = 0; t < 4; t++)
		make_switch(sw[t], guest_tasks[t].pid, guest_tasks[t].comm,
			    guest_tasks[(t + 1) % 4].pid, guest_tasks[(t + 1) % 4].comm, 1);
	memset(msr, 0, sizeof(msr));
	put_common(msr, VT_ID_WRITE_MSR, guest_tasks[0].pid);
	vtc_put_le32(msr + 8, MSR_IA32_TSC);

	sim_init(&s, g, cpu);
	r = vt_datw_cpu_begin(w, cpu, eb);
	while (!r && sim_next(&s, &it) > 0) {
		uint64_t guest_ts = it->host_ts + it->offset;
		char *p = line;

		if ((it->kind != IT_GUEST && it->kind != IT_MARKER) || it->boot != boot)
			continue;
		if (it->kind == IT_MARKER) {
			vtc_put_le64(msr + 16, it->msr_val);
			r = vt_datw_cpu_event(w, guest_ts, msr, sizeof(msr), eb);
		} else {
			r = vt_datw_cpu_event(w, guest_ts, sw[it->task], sizeof(sw[0]), eb);
		}
		g->written++;
		if (!expect)
			continue;
		p = put_u64(p, cpu);
		*p++ = ' ';
		p = put_u64(p, index++);
		*p++ = ' ';
		p = put_u64(p, guest_ts);
		*p++ = ' ';
		p = put_u64(p, it->host_ts);
		*p++ = '\n';
		fwrite(line, 1, (size_t)(p - line), expect);
	}
	return r ? r : vt_datw_cpu_end(w, eb);
}

static int write_guest(struct gen *g, int boot, const struct writes *ws)
{
	static const char cmdlines[] = "1 systemd\n120 kworker/0:1\n512 bash\n733 sshd\n";
	struct vt_tsc2nsec t2n = { TSC2NSEC_MULT, TSC2NSEC_SHIFT, 0 };
	struct vt_errbuf eb = { { 0 } };
	struct vt_datw *w = NULL;
	char path[PATH_MAX], epath[PATH_MAX], etmp[PATH_MAX + 8];
	_cleanup_fclose_ FILE *expect = NULL;
	int r;

	path_in(path, sizeof(path), g->dir, boot == 1 ? "guest.dat" : "guest-boot2.dat");
	path_in(epath, sizeof(epath), g->dir, boot == 1 ? "expect.txt" : "expect-boot2.txt");
	snprintf(etmp, sizeof(etmp), "%s.tmp", epath);
	if (g->expect) {
		expect = fopen(etmp, "we");
		if (!expect)
			return gen_err(etmp, -errno, NULL);
		static char expect_buf[1 << 20];

		setvbuf(expect, expect_buf, _IOFBF, sizeof(expect_buf));
		r = expect_header(expect, g, boot, ws);
		if (r)
			return gen_err(etmp, r, NULL);
	}
	const struct vt_dat_format formats[] = {
		vt_formats[VT_FMT_FTRACE_PRINT], vt_formats[VT_FMT_SCHED_SWITCH],
		vt_formats[VT_FMT_WRITE_MSR],
	};
	struct vt_dat_meta meta = vt_formats_meta(formats, sizeof(formats) / sizeof(formats[0]),
						  cmdlines, "Linux vtgen 6.1.0 #1 SMP x86_64");
	struct vt_datw_opts opts = {
		.version = g->version, .clock = "x86-tsc",
		.trace_id = g->guest_trace_id[boot - 1], .tsc2nsec = &t2n,
	};

	r = vt_datw_create(path, &meta, &opts, &w, &eb);
	if (r)
		return gen_err(path, r, &eb);
	r = vt_datw_buffer_begin(w, "", g->nvcpus, &eb);
	for (unsigned cpu = 0; !r && cpu < g->nvcpus; cpu++)
		r = guest_cpu(g, w, cpu, boot, expect, &eb);
	if (!r)
		r = vt_datw_buffer_end(w, &eb);
	if (r) {
		vt_datw_close(w, true, NULL);
		if (expect)
			unlink(etmp);
		return gen_err(path, r, &eb);
	}
	r = vt_datw_close(w, false, &eb);
	if (r)
		return gen_err(path, r, &eb);
	if (expect) {
		FILE *f = TAKE_PTR(expect);

		if (fflush(f) != 0 || ferror(f) || fclose(f) != 0 || rename(etmp, epath) < 0) {
			unlink(etmp);
			return gen_err(epath, -EIO, NULL);
		}
	}
	return 0;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: vt-gen pair -o DIR [--events N] [--vcpus N] [--scenario NAME]\n"
		   "                   [--seed S] [--file-version 6|7] [--no-expect]\n"
		   "       vt-gen list\n"
		   "\n"
		   "Writes DIR/host.dat (top buffer: sched_switch, kvm_entry/exit; buffer \"tsc\":\n"
		   "kvm_write_tsc_offset), DIR/guest.dat (guest TSC = host TSC + offset),\n"
		   "DIR/expect.txt (per guest event: cpu index guest_ts host_ts) and\n"
		   "DIR/saved_tgids. N is the number of guest events (default 1000).\n"
		   "two-boots adds guest-boot2.dat and expect-boot2.txt.\n");
}

static const struct scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < N_SCENARIOS; i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}

static int parse_u64_arg(const char *opt, const char *s, uint64_t min, uint64_t max,
			 uint64_t *ret)
{
	if (vtc_parse_u64(s, ret) < 0 || *ret < min || *ret > max) {
		fprintf(stderr, "vt-gen: %s: bad value '%s'\n", opt, s);
		return -1;
	}
	return 0;
}

static int cmd_pair(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "events", required_argument, NULL, 'n' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "scenario", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "file-version", required_argument, NULL, 'V' },
		{ "no-expect", no_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct gen g = { .events = 1000, .nvcpus = 1, .seed = 1, .version = 7, .expect = true };
	struct writes ws = { .n = 0 };
	uint64_t v;
	struct timespec t0, t1;
	double secs;
	int c, r;

	g.sc = &scenarios[0];
	while ((c = getopt_long(argc, argv, "o:n:c:s:S:V:Eh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			g.dir = optarg;
			break;
		case 'n':
			if (parse_u64_arg("--events", optarg, 1, UINT64_MAX / 2, &g.events))
				return 2;
			break;
		case 'c':
			if (parse_u64_arg("--vcpus", optarg, 1, 64, &v))
				return 2;
			g.nvcpus = (unsigned)v;
			break;
		case 's':
			g.sc = find_scenario(optarg);
			if (!g.sc) {
				fprintf(stderr, "vt-gen: unknown scenario '%s' (vt-gen list)\n",
					optarg);
				return 2;
			}
			break;
		case 'S':
			if (parse_u64_arg("--seed", optarg, 0, UINT64_MAX, &g.seed))
				return 2;
			break;
		case 'V':
			if (parse_u64_arg("--file-version", optarg, 6, 7, &v))
				return 2;
			g.version = (int)v;
			break;
		case 'E':
			g.expect = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!g.dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (g.nvcpus < g.sc->min_vcpus)
		g.nvcpus = g.sc->min_vcpus;
	if (g.events < 4ULL * g.nvcpus)
		g.events = 4ULL * g.nvcpus;
	g.host_trace_id = (g.seed * 0x9e3779b97f4a7c15ULL) ^ 0x7674686f73740000ULL;
	g.guest_trace_id[0] = g.host_trace_id ^ 0x0000000067756573ULL;
	g.guest_trace_id[1] = g.host_trace_id ^ 0x0000000062327432ULL;
	for (int i = 0; i < 3; i++)
		if (!g.host_trace_id || !g.guest_trace_id[i % 2])
			g.host_trace_id++, g.guest_trace_id[0]++, g.guest_trace_id[1]++;
	if (mkdir(g.dir, 0755) < 0 && errno != EEXIST)
		return gen_err(g.dir, -errno, NULL), 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = write_host(&g, &ws);
	if (!r)
		r = write_guest(&g, 1, &ws);
	if (!r && g.sc->write == WRITE_RESET)
		r = write_guest(&g, 2, &ws);
	if (!r && write_saved_tgids(&g) < 0)
		r = gen_err("saved_tgids", -EIO, NULL);
	if (r)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "vt-gen: %s: %" PRIu64 " events in %.2f s (%.1f M events/s)\n",
		g.sc->name, g.written, secs, secs > 0 ? (double)g.written / secs / 1e6 : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "pair"))
		return cmd_pair(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "list")) {
		for (size_t i = 0; i < N_SCENARIOS; i++)
			printf("%-20s %s\n", scenarios[i].name, scenarios[i].what);
		return 0;
	}
	usage(stderr);
	return 2;
}
