#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fault: libvirtd restarted while a traced domain runs (libvirt calls the hook with
# 'reconnect begin'). 1) The recorder is independent of libvirtd: the same recorder
# goes on, notes the restart, and the run ends complete with the restart as its
# reason and every page. 2) The recorder was killed before the restart: the
# 'reconnect' hook starts a new recorder (a new run, capturing the running domain)
# and that recorder finalizes the orphaned run as incomplete ("recorder died") with
# every page spooled before the kill. No tracefs instance or recorder is left, and
# libvirtd runs again whatever happens.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 150 "$@"
. "$(dirname "$0")/libvirt.sh"
. "$(dirname "$0")/faults.sh"

vt_need_libvirt
vt_need_cmd pgrep libvirtd virtlogd
[ -r /run/libvirtd.pid ] || vt_skip "libvirtd does not run from /run/libvirtd.pid (systemd socket activation?): not restarted here"
vt_workdir libvirt-reconnect
dom=vt-e2e-$$-c

trap 'vt_libvirtd_up; vt_domains_cleanup' EXIT
trap 'exit 124' TERM INT

vt_domain_define_busy "$dom" "kvm:kvm_entry,kvm:kvm_exit,kvm:kvm_pio,sched:*,irq:*" 32

# 1) the recorder lives through the restart
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_wait_recording "$dom" 20 || vt_fail "$dom: the hook started no recording"
run1=$(basename "$("$VT_CLI" path "$dom")")
vt_wait_spool_pages "$dom" 8 15 || vt_fail "$dom: the spool holds less than 8 pages after 15 s"
rec=$(vt_recorder_pids "$dom")
vt_spool_snapshot "$dom" pages1 >pages1.n
vt_libvirtd_restart
[ "$(virsh_ domstate "$dom")" = running ] || vt_fail "$dom is not running after the restart"
[ "$(vt_recorder_pids "$dom")" = "$rec" ] || vt_fail "recorder $rec did not go on ($(vt_recorder_pids "$dom"))"
for _ in $(seq 50); do
	vt_manifest "$dom" "$run1" '"\n".join(m.get("warnings", []))' | grep -q "libvirtd restarted" && break
	sleep 0.1
done
vt_manifest "$dom" "$run1" '"\n".join(m.get("warnings", []))' | grep -q "libvirtd restarted" ||
	vt_fail "$dom/$run1: the recorder did not note the reconnect"
"$VT_CLI" status | grep -q "^$dom .* recording" || vt_fail "$dom: status does not say recording"
virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy failed"
st=$(vt_wait_final "$dom" 30) || vt_fail "$dom/$run1: not final after destroy ($st)"
vt_check_state "$dom" "$run1" complete "^libvirtd restarted \(reconnect at .*\); the recorder went on"
vt_check_kept "$dom" "$run1" pages1
vt_check_clean "$dom" 10

# 2) the recorder is dead when libvirtd comes back: 'reconnect' starts another
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom (again) failed"
vt_wait_recording "$dom" 20 || vt_fail "$dom: the hook started no second recording"
run2=$(basename "$("$VT_CLI" path "$dom")")
vt_wait_spool_pages "$dom" 8 15 || vt_fail "$dom: the spool holds less than 8 pages after 15 s"
rec=$(vt_recorder_pids "$dom")
vt_spool_snapshot "$dom" pages2 >pages2.n
kill -KILL "$rec"
for _ in $(seq 50); do kill -0 "$rec" 2>/dev/null || break; sleep 0.1; done
vt_log "recorder $rec of $dom killed with SIGKILL ($(cat pages2.n))"
vt_libvirtd_restart
for _ in $(seq 100); do
	[ -n "$(vt_recorder_pids "$dom")" ] && [ "$(vt_manifest "$dom" "$run2" 'm["state"]')" = incomplete ] && break
	sleep 0.1
done
rec3=$(vt_recorder_pids "$dom")
[ -n "$rec3" ] || vt_fail "$dom: 'reconnect' started no recorder"
run3=$(basename "$("$VT_CLI" path "$dom")")
[ "$run3" != "$run2" ] || vt_fail "$dom: the new recorder made no new run"
vt_log "reconnect: recorder $rec3 records run $run3"
vt_check_state "$dom" "$run2" incomplete "^recorder died"
vt_check_kept "$dom" "$run2" pages2
virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy failed"
st=$(vt_wait_final "$dom" 30) || vt_fail "$dom/$run3: not final after destroy ($st)"
vt_check_state "$dom" "$run3" complete "^recording restarted: the recorder of run $run2 had died"
vt_check_clean "$dom" 10
echo "PASS: $(basename "$0") ($(vt_elapsed))"
