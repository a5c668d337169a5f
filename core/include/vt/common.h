/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvtcore common types: the error buffer every fallible call fills.
 *
 * Conventions for all of libvtcore: functions return 0 (or a count) on success and
 * -errno on failure, never print and never exit. Malformed input is -EBADMSG. Where a
 * struct vt_errbuf is passed (it may be NULL), a failing call writes one line of context
 * into it ("host.dat: CPU 3 page 812: commit 9000 > 4080"). Returned strings are owned
 * by the caller and freed with free() unless a comment says they are borrowed.
 */
#ifndef VT_COMMON_H
#define VT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VT_ERRBUF_LEN 512

struct vt_errbuf {
	char msg[VT_ERRBUF_LEN];
};

#endif
