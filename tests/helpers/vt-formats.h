/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Event format texts for test fixtures (as tracefs shows them) and the trace.dat
 * metadata built from them, shared by vt-gen and the writer tests.
 */
#ifndef VT_FORMATS_H
#define VT_FORMATS_H

#include <stddef.h>

#include "vt/dat.h"

/* the event ids the format texts give (their "ID:" lines) */
enum {
	VT_ID_FTRACE_PRINT = 5,
	VT_ID_KVM_WRITE_TSC_OFFSET = 83,
	VT_ID_KVM_EXIT = 103,
	VT_ID_KVM_ENTRY = 115,
	VT_ID_SCHED_SWITCH = 372,
	VT_ID_WRITE_MSR = 2153,
};

/* header_page and header_event of an x86_64 kernel, as tracefs shows them */
extern const char vt_fmt_header_page[];
extern const char vt_fmt_header_event[];

/* the fields every event's format text starts with, for fixtures' own formats */
#define VT_FMT_COMMON_FIELDS                                                               \
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"             \
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"             \
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"     \
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"                         \
	"\n"

/* indexes into vt_formats[] */
enum vt_fmt {
	VT_FMT_FTRACE_PRINT,
	VT_FMT_SCHED_SWITCH,
	VT_FMT_KVM_ENTRY,
	VT_FMT_KVM_EXIT,
	VT_FMT_KVM_WRITE_TSC_OFFSET,
	VT_FMT_WRITE_MSR,
	VT_FMT_COUNT,
};

/* system and format text of each event; static storage */
extern const struct vt_dat_format vt_formats[VT_FMT_COUNT];

/*
 * vt_formats_meta - metadata of an x86_64 file with 4 KiB pages: this machine's
 * header_page and header_event, @formats, @cmdlines and @uname, no kallsyms or printk
 * formats. The result points at @formats, @cmdlines and @uname (not copied): they must
 * outlive it.
 */
struct vt_dat_meta vt_formats_meta(const struct vt_dat_format *formats, size_t nformats,
				   const char *cmdlines, const char *uname);

#endif
