/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A run directory opened for reading: its manifest and its trace files (host first).
 */
#ifndef VT_RUNDIR_H
#define VT_RUNDIR_H

#include "vt/containment.h"
#include "vt/dat.h"

#define RUNDIR_MAX_FILES 17

struct json_object;

struct rundir {
	struct json_object *manifest;
	struct vt_dat *files[RUNDIR_MAX_FILES];
	char labels[RUNDIR_MAX_FILES][32];	/* "host", "guest", "guest-boot2", ... */
	char paths[RUNDIR_MAX_FILES][4096];
	size_t nfiles;
	struct vt_stream_tid map[RUNDIR_MAX_FILES * 64];	/* guest stream -> vCPU thread */
	size_t nmap;
};

/* Open @dir; on error prints one line and returns EXIT_FAILURE. */
int rundir_open(const char *dir, struct rundir *rd);
void rundir_close(struct rundir *rd);

#endif
