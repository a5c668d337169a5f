#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Heavy host event rate (bench/record-rate.sh, one run each): the real hook and
# recorder record all sched and irq events while a ping-pong workload runs. With
# 4 KiB ring buffers (host_buffer_kb in the config) the buffers overrun: the
# manifest must count lost events (> 0, from the ring buffers' counts), warn,
# and 'virt-trace show' must say so. At a modest rate with the default buffers
# nothing may be lost and nothing warned.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 90 "$@"

vt_need_root
vt_need_tracefs
vt_need_cmd python3 flock
[ -d $VT_TRACEFS/events/kvm/kvm_write_tsc_offset ] ||
	vt_skip "no kvm:kvm_write_tsc_offset tracepoint (kvm module not loaded?)"
[ -x "$VT_BUILD_DIR/hook/virt-trace-hook" ] && [ -x "$VT_CLI" ] ||
	vt_skip "hook or CLI not built in $VT_BUILD_DIR"
vt_workdir load-rate
bench=$VT_SOURCE_DIR/bench/record-rate.sh

field() { awk -v k="$1" 'NR == 1 { for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$2"; }

bash "$bench" --rate 0 --buffer-kb 4 --seconds 4 --show >overrun.txt 2>&1 ||
	{ cat overrun.txt; vt_fail "the overrun run failed"; }
cat overrun.txt | head -1
lost=$(field lost overrun.txt)
[ -n "$lost" ] && [ "$lost" != none ] || { cat overrun.txt; vt_fail "the manifest has no lost_events"; }
[ "$lost" -gt 0 ] || vt_fail "4 KiB buffers flat out, yet the manifest counts 0 lost events"
[ "$(field exact overrun.txt)" = True ] || vt_fail "the lost count is not from the ring buffers' counts"
[ "$(field warned overrun.txt)" = True ] || vt_fail "$lost events lost without a warning"
grep -Eq "^lost events: +$lost: .*WARNING" overrun.txt ||
	{ cat overrun.txt; vt_fail "virt-trace show does not report the $lost lost events"; }
grep -q "events lost in the ring buffers" overrun.txt || vt_fail "show lists no warning"
vt_log "overrun: $lost events lost, counted, warned, shown"

bash "$bench" --rate 500 --buffer-kb 8192 --seconds 3 --show >modest.txt 2>&1 ||
	{ cat modest.txt; vt_fail "the modest run failed"; }
cat modest.txt | head -1
[ "$(field lost modest.txt)" = 0 ] || { cat modest.txt; vt_fail "a modest rate lost events"; }
[ "$(field warned modest.txt)" = False ] || vt_fail "a warning without lost events"
[ "$(field events modest.txt)" -gt 1000 ] || vt_fail "the modest run recorded almost nothing"
grep -Eq "^lost events: +0$" modest.txt || { cat modest.txt; vt_fail "show does not say 0 lost"; }
vt_log "modest rate: $(field events modest.txt) events, 0 lost"
echo "PASS: $(basename "$0") ($(vt_elapsed))"
