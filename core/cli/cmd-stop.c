// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-trace stop and shutdown: end a domain's recording, without shutting the domain
 * down (stop) or flushing the guest first and then shutting it down (shutdown), and
 * wait until its run is final (complete, incomplete or failed).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "util.h"
#include "vt/control.h"
#include "vt/runstore.h"

static const char stop_help[] =
	"Usage: virt-trace stop [--timeout SEC] DOMAIN\n"
	"\n"
	"Tell DOMAIN's recorder to stop, and wait until its run is final: the recorder\n"
	"drains the ring buffers, writes host.dat and the manifest, and removes the\n"
	"domain's tracefs instances. The domain keeps running. Progress is shown on a\n"
	"terminal. Exit status 1 when the run ends up failed.\n"
	"\n"
	"Options:\n"
	"  --timeout SEC   give up waiting after SEC seconds (default 300)\n"
	"  -h, --help      this help\n";

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* the run the recorder records into, from its "ok recording RUN-DIR" reply */
int cli_current_run(const char *domain, struct vt_run *run)
{
	struct vt_errbuf eb = { "" };
	char reply[4096];
	const char *dir, *id;
	int r;

	r = vt_control_send(domain, "status", reply, sizeof(reply), 5000);
	if (r < 0) {
		enum vt_run_state st;

		if (r == -EREMOTEIO)
			return cli_error("domain %s: recorder: %s", domain, reply);
		if (vt_run_open(domain, NULL, run, &eb) == 0 &&
		    vt_run_get_state(run, &st, &eb) == 0 &&
		    (st == VT_RUN_RECORDING || st == VT_RUN_FINALIZING) &&
		    !vt_run_domain_locked(domain))
			return cli_error("domain %s: the recorder of run %s is gone (run 'virt-trace "
					 "recover')", domain, run->id);
		return cli_error("domain %s: no recording in progress", domain);
	}
	dir = strchr(reply + 3, ' ');
	dir = dir ? dir + 1 : NULL;
	id = dir ? strrchr(dir, '/') : NULL;
	if (!id || vt_run_open(domain, id + 1, run, &eb) < 0)
		return cli_error("domain %s: recorder answered '%s'", domain, reply);
	return 0;
}

int cli_wait_final(const char *domain, const struct vt_run *run, const char *doing,
		   uint64_t timeout, enum vt_run_state *ret_st)
{
	struct vt_errbuf eb = { "" };
	enum vt_run_state st = VT_RUN_RECORDING;
	int64_t t0, deadline;

	t0 = now_ms();
	deadline = t0 + (int64_t)timeout * 1000;
	/* final state first, then the recorder gone (it removes the instances last) */
	for (;;) {
		bool final = vt_run_get_state(run, &st, &eb) == 0 && st != VT_RUN_RECORDING &&
			     st != VT_RUN_FINALIZING;

		if (final && !vt_run_domain_locked(domain))
			break;
		if (now_ms() > deadline) {
			cli_progress("%s", "");
			return cli_error("domain %s: run %s still %s after %llu s", domain, run->id,
					 vt_run_state_name(st), (unsigned long long)timeout);
		}
		cli_progress("%s %s: %s (%llu s)", doing, domain, vt_run_state_name(st),
			     (unsigned long long)((now_ms() - t0) / 1000));
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000L }, NULL);
	}
	*ret_st = st;
	return 0;
}

/* The two verbs that end a recording: what they ask the recorder and how they wait. */
struct stop_verb {
	const char *name;
	const char *request;	/* to the recorder */
	const char *help;
	const char *doing;	/* progress text */
	bool no_wait_option;	/* --no-wait: return once the request is taken */
};

static int run_stop_verb(const struct stop_verb *v, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct vt_errbuf eb = { "" };
	enum vt_run_state st = VT_RUN_RECORDING;
	uint64_t timeout = 300;
	bool wait = true;
	const char *domain;
	struct vt_run run;
	char reply[4096];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (vtc_parse_u64(optarg, &timeout) < 0 || timeout > 86400)
				return cli_usage(v->name, "--timeout: '%s' is not a number of seconds",
						 optarg);
			break;
		case 'n':
			if (!v->no_wait_option)
				return cli_usage(v->name, "unknown option --no-wait");
			wait = false;
			break;
		case 'h':
			fputs(v->help, stdout);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage(v->name, "expected one DOMAIN");
	domain = argv[optind];
	r = cli_current_run(domain, &run);
	if (r)
		return r;
	r = vt_control_send(domain, v->request, reply, sizeof(reply), 10000);
	/* a recorder that is already finalizing (or just exited) needs no second request */
	if (r == -EREMOTEIO && vt_run_get_state(&run, &st, &eb) == 0 && st != VT_RUN_RECORDING)
		r = 0;
	if (r < 0 && r != -ECONNREFUSED && r != -ENOENT) {
		snprintf(eb.msg, sizeof(eb.msg), "%.400s", r == -EREMOTEIO ? reply : strerror(-r));
		return cli_error("domain %s: recorder: %s: %s", domain, v->request, eb.msg);
	}
	if (!wait) {
		printf("%s: %s, run %s (%s)\n", domain, v->doing, run.id, run.dir);
		return 0;
	}
	r = cli_wait_final(domain, &run, v->doing, timeout, &st);
	if (r)
		return r;
	cli_progress("%s", "");
	printf("%s: run %s %s (%s)\n", domain, run.id, vt_run_state_name(st), run.dir);
	return st == VT_RUN_FAILED ? EXIT_FAILURE : 0;
}

static const char shutdown_help[] =
	"Usage: virt-trace shutdown [--timeout SEC] [--no-wait] DOMAIN\n"
	"\n"
	"Shut DOMAIN down without losing guest events: its recorder pulls the guest agent's\n"
	"last chunk and stops the agent, then asks libvirt for a clean shutdown (like\n"
	"'virsh shutdown'). The run is finalized when QEMU exits; this waits for it.\n"
	"\n"
	"Options:\n"
	"  --timeout SEC   give up waiting after SEC seconds (default 300)\n"
	"  --no-wait       return once the shutdown is requested\n"
	"  -h, --help      this help\n";

int cmd_stop(int argc, char **argv)
{
	static const struct stop_verb stop = { "stop", "stop", stop_help, "stopping", false };

	return run_stop_verb(&stop, argc, argv);
}

int cmd_shutdown(int argc, char **argv)
{
	static const struct stop_verb shutdown = { "shutdown", "shutdown", shutdown_help,
						   "shutting down", true };

	return run_stop_verb(&shutdown, argc, argv);
}
