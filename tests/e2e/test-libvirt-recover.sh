#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fault: the recorder of a running domain is killed with SIGKILL. Real libvirtd,
# installed hook. 1) `virt-trace status` calls the run interrupted, `stop` points at
# recover, `virt-trace recover` finalizes it as incomplete ("recorder died") with
# every page spooled before the kill in a host.dat that trace-cmd reads. 2) Killed
# again in the next run, nobody runs recover: the hook's 'release' does it when the
# domain is destroyed. No tracefs instance and no recorder is left.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 120 "$@"
. "$(dirname "$0")/libvirt.sh"
. "$(dirname "$0")/faults.sh"

vt_need_libvirt
vt_need_cmd pgrep
vt_workdir libvirt-recover
dom=vt-e2e-$$-r
trap 'vt_domains_cleanup' EXIT
trap 'exit 124' TERM INT

# kill_recorder: SIGKILL to the domain's only recorder, after a spool snapshot
kill_recorder()
{
	local rec
	vt_wait_spool_pages "$dom" 8 15 || vt_fail "$dom: the spool holds less than 8 pages after 15 s"
	rec=$(vt_recorder_pids "$dom")
	[ -n "$rec" ] && [ "$(wc -w <<<"$rec")" = 1 ] || vt_fail "$dom: cannot tell its recorder (pids: $rec)"
	vt_spool_snapshot "$dom" "$1" >"$1.n"
	kill -KILL "$rec"
	for _ in $(seq 50); do kill -0 "$rec" 2>/dev/null || break; sleep 0.1; done
	vt_log "recorder $rec of $dom killed with SIGKILL ($(cat "$1.n"))"
}

# small ring buffers and a guest that reboots in a loop: pages reach the spool in a second
vt_domain_define_busy "$dom" "kvm:kvm_entry,kvm:kvm_exit,kvm:kvm_pio,sched:*,irq:*" 32
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_wait_recording "$dom" 10 || vt_fail "$dom: the hook started no recording"
run1=$(basename "$("$VT_CLI" path "$dom")")
kill_recorder pages1
"$VT_CLI" status >status.txt
grep -q "^$dom .* interrupted" status.txt || { cat status.txt; vt_fail "status does not call $dom interrupted"; }
"$VT_CLI" stop "$dom" >/dev/null 2>err.txt && vt_fail "stop succeeded without a recorder"
grep -q "recover" err.txt || vt_fail "stop does not point at recover: $(cat err.txt)"
timeout 60 "$VT_CLI" recover "$dom" >recover.txt || { cat recover.txt; vt_fail "virt-trace recover failed"; }
grep -q "^$dom/.*: incomplete$" recover.txt || { cat recover.txt; vt_fail "recover did not finalize $dom"; }
vt_log "$(grep "^$dom/" recover.txt)"
vt_check_state "$dom" "$run1" incomplete "^recorder died"
vt_check_kept "$dom" "$run1" pages1
"$VT_CLI" recover "$dom" | grep -q "^nothing to recover$" || vt_fail "a second recover found work"
virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy failed"
vt_check_clean "$dom" 10

# 2) no manual recover: 'release end' finds the run interrupted and recovers it
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom (again) failed"
vt_wait_recording "$dom" 10 || vt_fail "$dom: the hook started no second recording"
run2=$(basename "$("$VT_CLI" path "$dom")")
[ "$run2" != "$run1" ] || vt_fail "$dom: the second start made no new run"
kill_recorder pages2
virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy failed"
st=$(vt_wait_final "$dom" 30) || vt_fail "$dom/$run2: not final after destroy ($st)"
vt_check_state "$dom" "$run2" incomplete "^recorder died"
vt_check_kept "$dom" "$run2" pages2
vt_check_clean "$dom" 10
echo "PASS: $(basename "$0") ($(vt_elapsed))"
