// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Event format texts for test fixtures and the trace.dat metadata built from them.
 */
#include <string.h>

#include "vt-formats.h"

/*
 * Format texts as this machine's tracefs shows them (Linux 6.18, x86_64), with their
 * ids fixed so the output does not depend on the machine. kvm_exit's symbol tables
 * are shortened.
 */
const char vt_fmt_header_page[] =
	"\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
	"\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
	"\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
	"\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n";

const char vt_fmt_header_event[] =
	"# compressed entry header\n"
	"\ttype_len    :    5 bits\n"
	"\ttime_delta  :   27 bits\n"
	"\tarray       :   32 bits\n"
	"\n"
	"\tpadding     : type == 29\n"
	"\ttime_extend : type == 30\n"
	"\ttime_stamp : type == 31\n"
	"\tdata max type_len  == 28\n";

static const char fmt_ftrace_print[] =
	"name: print\n"
	"ID: 5\n"
	"format:\n"
	VT_FMT_COMMON_FIELDS
	"\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n"
	"\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;\n"
	"\n"
	"print fmt: \"%ps: %s\", (void *)REC->ip, REC->buf\n";

static const char fmt_sched_switch[] =
	"name: sched_switch\n"
	"ID: 372\n"
	"format:\n"
	VT_FMT_COMMON_FIELDS
	"\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
	"\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n"
	"\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;\n"
	"\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n"
	"\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;\n"
	"\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n"
	"\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;\n"
	"\n"
	"print fmt: \"prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d\", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1), \"|\", { 0x00000001, \"S\" }, { 0x00000002, \"D\" }, { 0x00000004, \"T\" }, { 0x00000008, \"t\" }, { 0x00000010, \"X\" }, { 0x00000020, \"Z\" }, { 0x00000040, \"P\" }, { 0x00000080, \"I\" }) : \"R\", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? \"+\" : \"\", REC->next_comm, REC->next_pid, REC->next_prio\n";

static const char fmt_kvm_entry[] =
	"name: kvm_entry\n"
	"ID: 115\n"
	"format:\n"
	VT_FMT_COMMON_FIELDS
	"\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:unsigned long rip;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:bool immediate_exit;\toffset:24;\tsize:1;\tsigned:0;\n"
	"\tfield:u32 intr_info;\toffset:28;\tsize:4;\tsigned:0;\n"
	"\tfield:u32 error_code;\toffset:32;\tsize:4;\tsigned:0;\n"
	"\n"
	"print fmt: \"vcpu %u, rip 0x%lx intr_info 0x%08x error_code 0x%08x%s\", REC->vcpu_id, REC->rip, REC->intr_info, REC->error_code, REC->immediate_exit ? \"[immediate exit]\" : \"\"\n";

static const char fmt_kvm_exit[] =
	"name: kvm_exit\n"
	"ID: 103\n"
	"format:\n"
	VT_FMT_COMMON_FIELDS
	"\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:u32 isa;\toffset:24;\tsize:4;\tsigned:0;\n"
	"\tfield:u64 info1;\toffset:32;\tsize:8;\tsigned:0;\n"
	"\tfield:u64 info2;\toffset:40;\tsize:8;\tsigned:0;\n"
	"\tfield:u32 intr_info;\toffset:48;\tsize:4;\tsigned:0;\n"
	"\tfield:u32 error_code;\toffset:52;\tsize:4;\tsigned:0;\n"
	"\tfield:unsigned int vcpu_id;\toffset:56;\tsize:4;\tsigned:0;\n"
	"\tfield:u64 requests;\toffset:64;\tsize:8;\tsigned:0;\n"
	"\n"
	"print fmt: \"vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x requests 0x%016llx\", REC->vcpu_id, (REC->isa == 1) ? __print_symbolic(REC->exit_reason & 0xffff, { 0, \"EXCEPTION_NMI\" }, { 1, \"EXTERNAL_INTERRUPT\" }, { 10, \"CPUID\" }, { 12, \"HLT\" }, { 30, \"IO_INSTRUCTION\" }, { 31, \"MSR_READ\" }, { 32, \"MSR_WRITE\" }, { 48, \"EPT_VIOLATION\" }, { 49, \"EPT_MISCONFIG\" }) : __print_symbolic(REC->exit_reason, { 0x000, \"read_cr0\" }, { 0x060, \"interrupt\" }, { 0x078, \"hlt\" }, { 0x07b, \"io\" }, { 0x07c, \"msr\" }, { 0x400, \"npf\" }, { -1, \"invalid_guest_state\" }), (REC->isa == 1 && REC->exit_reason & ~0xffff) ? \" \" : \"\", (REC->isa == 1) ? __print_flags(REC->exit_reason & ~0xffff, \" \", { 0x80000000, \"FAILED_VMENTRY\" }) : \"\", REC->guest_rip, REC->info1, REC->info2, REC->intr_info, REC->error_code, REC->requests\n";

static const char fmt_kvm_write_tsc_offset[] =
	"name: kvm_write_tsc_offset\n"
	"ID: 83\n"
	"format:\n"
	VT_FMT_COMMON_FIELDS
	"\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:__u64 previous_tsc_offset;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:__u64 next_tsc_offset;\toffset:24;\tsize:8;\tsigned:0;\n"
	"\n"
	"print fmt: \"vcpu=%u prev=%llu next=%llu\", REC->vcpu_id, REC->previous_tsc_offset, REC->next_tsc_offset\n";

static const char fmt_write_msr[] =
	"name: write_msr\n"
	"ID: 2153\n"
	"format:\n"
	VT_FMT_COMMON_FIELDS
	"\tfield:unsigned msr;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:u64 val;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:int failed;\toffset:24;\tsize:4;\tsigned:1;\n"
	"\n"
	"print fmt: \"%x, value %llx%s\", REC->msr, REC->val, REC->failed ? \" #GP\" : \"\"\n";

#define TEXT(s) { s, sizeof(s) - 1 }

const struct vt_dat_format vt_formats[VT_FMT_COUNT] = {
	[VT_FMT_FTRACE_PRINT] = { "ftrace", TEXT(fmt_ftrace_print) },
	[VT_FMT_SCHED_SWITCH] = { "sched", TEXT(fmt_sched_switch) },
	[VT_FMT_KVM_ENTRY] = { "kvm", TEXT(fmt_kvm_entry) },
	[VT_FMT_KVM_EXIT] = { "kvm", TEXT(fmt_kvm_exit) },
	[VT_FMT_KVM_WRITE_TSC_OFFSET] = { "kvm", TEXT(fmt_kvm_write_tsc_offset) },
	[VT_FMT_WRITE_MSR] = { "msr", TEXT(fmt_write_msr) },
};

struct vt_dat_meta vt_formats_meta(const struct vt_dat_format *formats, size_t nformats,
				   const char *cmdlines, const char *uname)
{
	return (struct vt_dat_meta){
		.page_size = 4096,
		.long_size = 8,
		.header_page = TEXT(vt_fmt_header_page),
		.header_event = TEXT(vt_fmt_header_event),
		.formats = formats,
		.nformats = nformats,
		.kallsyms = { "", 0 },
		.printk = { "", 0 },
		.cmdlines = { cmdlines, strlen(cmdlines) },
		.uname = uname,
	};
}
