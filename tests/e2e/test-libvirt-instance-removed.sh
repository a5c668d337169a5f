#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fault: someone removes the domain's tracefs instances (rmdir
# instances/virt-trace-DOMAIN and -tsc) while the recorder reads them. The kernel
# refuses with EBUSY while a trace_pipe_raw of the instance is open, and the
# recorder holds all of them for the whole run: the test shows the refusal, that
# the recording goes on (the spool grows) and that the run still ends complete
# with every page. On a kernel that lets the rmdir through, the recorder must
# notice and finalize incomplete with the reason instead.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 90 "$@"
. "$(dirname "$0")/libvirt.sh"
. "$(dirname "$0")/faults.sh"

vt_need_libvirt
vt_need_cmd pgrep
vt_workdir libvirt-instance-removed
dom=vt-e2e-$$-i
trap 'vt_domains_cleanup' EXIT
trap 'exit 124' TERM INT

spool_bytes()
{
	cat "$("$VT_CLI" path "$dom")"/spool/main/cpu*.raw 2>/dev/null | wc -c
}

vt_domain_define_busy "$dom" "kvm:kvm_entry,kvm:kvm_exit,kvm:kvm_pio,sched:*,irq:*" 32
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_wait_recording "$dom" 20 || vt_fail "$dom: the hook started no recording ($("$VT_CLI" list "$dom" 2>&1 | tail -1))"
run=$(basename "$("$VT_CLI" path "$dom")")
vt_wait_spool_pages "$dom" 8 15 || vt_fail "$dom: the spool holds less than 8 pages after 15 s"
rec=$(vt_recorder_pids "$dom")
vt_spool_snapshot "$dom" pages >pages.n
before=$(spool_bytes)
removed=0
for inst in "virt-trace-$dom" "virt-trace-$dom-tsc"; do
	if rmdir "$VT_TRACEFS/instances/$inst" 2>rmdir.err; then
		removed=$((removed + 1))
		vt_log "rmdir $inst succeeded under the recorder"
	else
		grep -q "Device or resource busy" rmdir.err || vt_fail "rmdir $inst: unexpected error: $(cat rmdir.err)"
		[ -d "$VT_TRACEFS/instances/$inst" ] || vt_fail "rmdir $inst failed, yet the instance is gone"
		vt_log "rmdir $inst: $(sed 's/.*: //' rmdir.err) (the recorder holds its trace_pipe_raw files)"
	fi
done
if [ "$removed" = 0 ]; then
	# refused: the recording goes on as if nothing happened
	for _ in $(seq 100); do [ "$(spool_bytes)" -gt "$before" ] && break; sleep 0.1; done
	[ "$(spool_bytes)" -gt "$before" ] || vt_fail "$dom: the spool stopped growing after the refused rmdir"
	[ "$(vt_recorder_pids "$dom")" = "$rec" ] || vt_fail "$dom: recorder $rec is gone"
	"$VT_CLI" status | grep -q "^$dom .* recording" || vt_fail "$dom: status does not say recording"
	vt_log "$dom: still recording, spool main $before -> $(spool_bytes) bytes"
	virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy failed"
	st=$(vt_wait_final "$dom" 30) || vt_fail "$dom/$run: not final after destroy ($st)"
	vt_check_state "$dom" "$run" complete "^$"
else
	# removed: the recorder notices within a tick and finalizes with the reason
	st=$(vt_wait_final "$dom" 30) || vt_fail "$dom/$run: not final after the instance went ($st)"
	vt_check_state "$dom" "$run" incomplete "tracefs instance .* removed under the recorder"
	virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy failed"
fi
vt_check_kept "$dom" "$run" pages
vt_check_clean "$dom" 10
echo "PASS: $(basename "$0") ($(vt_elapsed))"
