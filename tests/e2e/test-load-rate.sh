#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Heavy host event rate (bench/record-rate.sh, one run each): the real hook and
# recorder record all sched and irq events of a flat-out ping-pong workload whose
# parent stands for QEMU ('started begin' narrows the instance to it).
# Whether a small buffer overruns on its own depends on the scheduler: the reader
# mostly keeps up. So the overrun is forced: the recorder is stopped (SIGSTOP) for
# 2 s while the workload runs, and the 256 KiB ring buffers overwrite. The manifest
# must count the lost events, equal to the kernel's overrun/dropped counters, warn,
# and still end 'complete'; 'virt-trace show' says so and 'trace-cmd report' reads
# the archive (every event, and its dropped-events marks within the count). Then
# the default buffer size under the same workload, not stopped: the manifest
# states its lost count (0 expected; if not, it must match the kernel's and warn).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 120 "$@"

vt_need_root
vt_need_tracefs
vt_need_cmd python3 trace-cmd mkfifo pgrep
[ -d $VT_TRACEFS/events/kvm/kvm_write_tsc_offset ] ||
	vt_skip "no kvm:kvm_write_tsc_offset tracepoint (kvm module not loaded?)"
[ -x "$VT_BUILD_DIR/hook/virt-trace-hook" ] && [ -x "$VT_CLI" ] ||
	vt_skip "hook or CLI not built in $VT_BUILD_DIR"
vt_workdir load-rate
bench=$VT_SOURCE_DIR/bench/record-rate.sh

field() { awk -v k="$1" 'NR == 1 { for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$2"; }

# the lost count in the manifest, the kernel's counters and the warning agree
check_lost()
{
	local out=$1 lost kover kdrop rover rdrop
	lost=$(field lost "$out") kover=$(field k_overrun "$out") kdrop=$(field k_dropped "$out")
	rover=$(field ring_overrun "$out") rdrop=$(field ring_dropped "$out")
	[ -n "$lost" ] && [ "$lost" != none ] || { cat "$out"; vt_fail "the manifest has no lost_events"; }
	[ "$(field exact "$out")" = True ] || vt_fail "the lost count is not from the ring buffers' counts"
	# the kernel's counters read before the stop can only have grown by the stop
	[ "$rover" -ge "$kover" ] && [ "$rdrop" -ge "$kdrop" ] ||
		vt_fail "manifest ring counts (overrun $rover, dropped $rdrop) below the kernel's (overrun $kover, dropped $kdrop)"
	[ "$lost" -ge $((kover + kdrop)) ] ||
		vt_fail "manifest counts $lost lost, the kernel overran $kover and dropped $kdrop"
	if [ "$lost" -gt 0 ]; then
		[ "$(field warned "$out")" = True ] || vt_fail "$lost events lost without a warning"
		grep -Eq "^lost events: +$lost: .*WARNING" "$out" ||
			{ cat "$out"; vt_fail "virt-trace show does not report the $lost lost events"; }
		grep -q "events lost in the ring buffers" "$out" || vt_fail "show lists no warning"
	else
		[ "$(field warned "$out")" = False ] || vt_fail "a warning without lost events"
		grep -Eq "^lost events: +0$" "$out" || { cat "$out"; vt_fail "show does not say 0 lost"; }
	fi
}

# the run ends complete and trace-cmd reads every event of host.dat
check_archive()
{
	local out=$1
	[ "$(field state "$out")" = complete ] || { cat "$out"; vt_fail "the run is not complete"; }
	[ "$(field tc_status "$out")" = 0 ] || vt_fail "trace-cmd report cannot read host.dat"
	[ "$(field tc_events "$out")" = "$(field events "$out")" ] ||
		vt_fail "trace-cmd report shows $(field tc_events "$out") events, the manifest counts $(field events "$out")"
	[ "$(field tc_dropped "$out")" -le "$(field lost "$out")" ] ||
		vt_fail "trace-cmd report marks $(field tc_dropped "$out") dropped events, more than the $(field lost "$out") counted"
}

# forced overrun: the recorder stopped for 2 s of a 5 s flat-out workload
bash "$bench" --rate 0 --buffer-kb 256 --seconds 5 --qemu --pause 2 --report --show \
	>overrun.txt 2>&1 || { cat overrun.txt; vt_fail "the overrun run failed"; }
head -1 overrun.txt
seen=$(field buffer_kb_seen overrun.txt)
# the kernel rounds up to whole sub-buffers (4080 bytes of data each)
[ -n "$seen" ] && [ "$seen" != none ] && [ "$seen" -ge 256 ] && [ "$seen" -le 264 ] ||
	vt_fail "256 KiB asked, the instance's buffer_size_kb is '$seen'"
lost=$(field lost overrun.txt)
[ "$lost" != none ] && [ "$lost" -gt 0 ] ||
	{ cat overrun.txt; vt_fail "the recorder stopped for 2 s at 256 KiB, yet the manifest counts '$lost' lost events"; }
[ "$(field k_overrun overrun.txt)" -gt 0 ] || vt_fail "the kernel counted no overrun while the recorder was stopped"
check_lost overrun.txt
check_archive overrun.txt
[ "$(field tc_dropped overrun.txt)" -gt 0 ] || vt_fail "trace-cmd report shows no dropped-events mark"
vt_log "forced overrun: $lost events lost (kernel overrun $(field k_overrun overrun.txt)), counted, warned, shown; run complete"

# the default buffer size, same workload, not stopped: the lost count is stated
bash "$bench" --rate 0 --buffer-kb 8192 --seconds 5 --qemu --report --show \
	>default.txt 2>&1 || { cat default.txt; vt_fail "the default-size run failed"; }
head -1 default.txt
seen=$(field buffer_kb_seen default.txt)
[ "$seen" -ge 8192 ] && [ "$seen" -le 8200 ] || vt_fail "8192 KiB asked, the instance's buffer_size_kb is '$seen'"
[ "$(field events default.txt)" -gt 100000 ] || vt_fail "the default-size run recorded almost nothing"
check_lost default.txt
check_archive default.txt
vt_log "default buffers: $(field events default.txt) events ($(field events_per_s default.txt) events/s over the workload), $(field lost default.txt) lost, stated"
echo "PASS: $(basename "$0") ($(vt_elapsed))"
