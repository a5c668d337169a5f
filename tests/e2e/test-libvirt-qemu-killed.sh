#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fault: QEMU of a traced domain killed with SIGKILL. Real libvirtd, installed hook:
# libvirt sees the monitor close without a shutdown and runs 'stopped' and 'release';
# the recorder asks libvirt why QEMU ended and finalizes the run as incomplete
# ("QEMU died: ... crashed"), every page spooled before the kill in a host.dat that
# trace-cmd reads, and no tracefs instance or recorder is left.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 90 "$@"
. "$(dirname "$0")/libvirt.sh"
. "$(dirname "$0")/faults.sh"

vt_need_libvirt
vt_need_cmd pgrep
vt_workdir libvirt-qemu-killed
dom=vt-e2e-$$-q
trap 'vt_domains_cleanup' EXIT
trap 'exit 124' TERM INT

vt_domain_define_busy "$dom" "kvm:kvm_entry,kvm:kvm_exit,kvm:kvm_pio,sched:*,irq:*" 32
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_wait_recording "$dom" 20 || vt_fail "$dom: the hook started no recording ($("$VT_CLI" list "$dom" 2>&1 | tail -1))"
run=$(basename "$("$VT_CLI" path "$dom")")
vt_wait_spool_pages "$dom" 8 15 || vt_fail "$dom: the spool holds less than 8 pages after 15 s"
qemu=$(cat "/run/libvirt/qemu/$dom.pid") || vt_fail "$dom: no QEMU pid file"
vt_spool_snapshot "$dom" pages >pages.n
kill -KILL "$qemu" || vt_fail "cannot kill QEMU $qemu"
vt_log "QEMU $qemu of $dom killed with SIGKILL ($(cat pages.n))"
st=$(vt_wait_final "$dom" 30) || vt_fail "$dom/$run: not final 30 s after QEMU's death ($st)"
vt_log "libvirt: $dom is $(virsh_ domstate --reason "$dom" 2>&1)"
vt_check_state "$dom" "$run" incomplete "^QEMU died: .*crashed"
vt_check_kept "$dom" "$run" pages
vt_check_clean "$dom" 10
echo "PASS: $(basename "$0") ($(vt_elapsed))"
