#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real libvirtd, installed hook: the recorder of a running domain is killed with
# SIGKILL; `virt-trace status` calls the run interrupted, `virt-trace recover`
# finalizes it as incomplete with a host.dat that trace-cmd reads, and after the
# domain is destroyed no instance is left.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 120 "$@"
. "$(dirname "$0")/libvirt.sh"

vt_need_libvirt
vt_need_cmd pgrep
vt_workdir libvirt-recover
dom=vt-e2e-$$-r
trap 'vt_domains_cleanup' EXIT
trap 'exit 124' TERM INT

vt_domain_define "$dom" 2
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_wait_recording "$dom" 10 || vt_fail "$dom: the hook started no recording"
sleep 2
rec=$(pgrep -f "virt-trace record --domain $dom( |\$)")
[ -n "$rec" ] && [ "$(wc -w <<<"$rec")" = 1 ] || vt_fail "$dom: cannot tell its recorder (pids: $rec)"
kill -KILL "$rec"
for _ in $(seq 50); do kill -0 "$rec" 2>/dev/null || break; sleep 0.1; done
vt_log "recorder $rec of $dom killed with SIGKILL"
"$VT_CLI" status >status.txt
grep -q "^$dom .* interrupted" status.txt || { cat status.txt; vt_fail "status does not call $dom interrupted"; }
"$VT_CLI" stop "$dom" >/dev/null 2>err.txt && vt_fail "stop succeeded without a recorder"
grep -q "recover" err.txt || vt_fail "stop does not point at recover: $(cat err.txt)"
timeout 60 "$VT_CLI" recover "$dom" >recover.txt || { cat recover.txt; vt_fail "virt-trace recover failed"; }
grep -q "^$dom/.*: incomplete$" recover.txt || { cat recover.txt; vt_fail "recover did not finalize $dom"; }
vt_log "$(grep "^$dom/" recover.txt)"
[ "$(vt_latest_state "$dom")" = incomplete ] || vt_fail "after recover: $(vt_latest_state "$dom")"
dir=$("$VT_CLI" path "$dom")
trace-cmd report -i "$dir/host.dat" >report.txt 2>report.err ||
	vt_fail "trace-cmd cannot read the recovered host.dat: $(head -3 report.err)"
"$VT_CLI" show "$dom" | grep -q "recorder died" || vt_fail "show does not give the reason"
"$VT_CLI" recover "$dom" | grep -q "^nothing to recover$" || vt_fail "a second recover found work"
virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy failed"
sleep 1
for inst in "virt-trace-$dom" "virt-trace-$dom-tsc"; do
	[ -d "$VT_TRACEFS/instances/$inst" ] && vt_fail "instance $inst left after destroy"
done
vt_log "recovered run: $(grep -c kvm_write_tsc_offset report.txt) offset writes in host.dat"
echo "PASS: $(basename "$0") ($(vt_elapsed))"
