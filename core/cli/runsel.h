/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which run a verb works on: a run directory (holds manifest.json) or DOMAIN [RUN] of
 * the run store; plus the few manifest readers and number formats the verbs share.
 */
#ifndef VT_RUNSEL_H
#define VT_RUNSEL_H

#include <stdint.h>
#include <stdio.h>

#include "vt/runstore.h"

struct json_object;

/*
 * runsel_resolve - the run named by the @npos positional arguments @pos of @verb:
 * one argument that is a directory holding manifest.json is taken as that directory
 * (@allow_dir), otherwise DOMAIN [RUN] (RUN defaults to the latest). Fills @run
 * (run->domain is empty for a plain directory). Prints one line and returns
 * EXIT_USAGE/EXIT_FAILURE on error, 0 on success.
 */
int runsel_resolve(const char *verb, char **pos, int npos, bool allow_dir, struct vt_run *run);

/* Borrowed string / number members of a JSON object (NULL / 0 when absent). */
const char *runsel_str(struct json_object *o, const char *key);
uint64_t runsel_u64(struct json_object *o, const char *key);
/* the array member @key, or NULL */
struct json_object *runsel_array(struct json_object *o, const char *key);

/* host events plus the events of every guest file */
uint64_t runsel_events(struct json_object *manifest);
/* bytes of the regular files under @dir (recursive) */
uint64_t runsel_dir_bytes(const char *dir);
/* duration of the run in seconds, -1 when unknown */
int64_t runsel_duration(struct json_object *manifest, const char *dir);

/* "1.2 MiB", "812 B" into @buf */
const char *runsel_fmt_bytes(uint64_t bytes, char *buf, size_t len);
/* "2h03m", "4m05s", "7s", "-" into @buf */
const char *runsel_fmt_duration(int64_t secs, char *buf, size_t len);

#endif
