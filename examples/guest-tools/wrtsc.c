// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wrtsc: write IA32_TSC (MSR 0x10) of CPU 0 through /dev/cpu/0/msr (the msr
 * module) with the current TSC + 1e9 ticks, so that the guest's
 * msr:write_msr tracepoint records a TSC write (a segment boundary for
 * virt-trace). Built statically for the example guest image
 * (examples/build-guest-image.sh --demo): gcc -static -O2 -o wrtsc wrtsc.c
 *
 * usage: wrtsc [TICKS]   (default 1000000000; may be negative)
 * Exit status 0 written, 1 error (one line on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSR_IA32_TSC 0x10

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/cpu/0/msr";
	int64_t delta = 1000000000;
	cpu_set_t set;
	uint64_t now, val;
	ssize_t n;
	int fd;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1] == 'h')) {
		fprintf(stderr, "usage: wrtsc [TICKS]\n");
		return 2;
	}
	if (argc == 2) {
		char *end;

		errno = 0;
		delta = strtoll(argv[1], &end, 0);
		if (errno || *end || end == argv[1]) {
			fprintf(stderr, "wrtsc: %s: not a number of ticks\n", argv[1]);
			return 2;
		}
	}
	/* read the TSC on CPU 0, the one whose MSR is written */
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);

	fd = open(dev, O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, "wrtsc: %s: %s (modprobe msr)\n", dev, strerror(errno));
		return 1;
	}
	now = rdtsc();
	val = now + (uint64_t)delta;
	n = pwrite(fd, &val, sizeof(val), MSR_IA32_TSC);
	if (n != (ssize_t)sizeof(val)) {
		fprintf(stderr, "wrtsc: write MSR 0x%x: %s\n", MSR_IA32_TSC,
			n < 0 ? strerror(errno) : "short write");
		close(fd);
		return 1;
	}
	close(fd);
	printf("wrtsc: MSR 0x%x: 0x%" PRIx64 " -> 0x%" PRIx64 "\n", MSR_IA32_TSC, now, val);
	return 0;
}
