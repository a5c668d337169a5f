#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fault: the host disk fills up under the recorder. The domain's store directory
# is a 48 MiB tmpfs for the test. 1) The recorder fills it itself (all kvm events of
# a rebooting guest, ~30 MB/s): it stops spooling while the archive still fits,
# drops and counts the rest, and finalizes incomplete ("host disk full (no space
# left on device)") with every page it spooled. 2) Another process fills the disk
# (dd): the recorder meets ENOSPC, stops spooling without spinning, keeps the pages,
# and as the archive cannot be written the run waits in state finalizing
# ('virt-trace status': disk-full) until `virt-trace recover` finishes it once the
# space is back. Both host.dat files are read by trace-cmd; nothing is left behind.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 120 "$@"
. "$(dirname "$0")/libvirt.sh"
. "$(dirname "$0")/faults.sh"

vt_need_libvirt
vt_need_cmd pgrep mount umount mountpoint dd
vt_workdir libvirt-disk-full
dom=vt-e2e-$$-d
mnt=$VT_STORE/$dom

cleanup()
{
	virsh_ destroy "$dom" >/dev/null 2>&1
	for _ in $(seq 100); do [ -z "$(vt_recorder_pids "$dom")" ] && break; sleep 0.1; done
	mountpoint -q "$mnt" && { umount "$mnt" 2>/dev/null || umount -l "$mnt"; }
	vt_domains_cleanup
	rm -rf "${mnt:?}"
}
trap cleanup EXIT
trap 'exit 124' TERM INT

# wait_warning RUN ERE SECS: until a manifest warning of RUN matches
wait_warning()
{
	for ((i = 0; i < $3 * 10; i++)); do
		vt_manifest "$dom" "$1" '"\n".join(m.get("warnings", []))' | grep -Eq "$2" && return 0
		sleep 0.1
	done
	return 1
}

# cpu_ticks PID: user + system clock ticks of a process
cpu_ticks()
{
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

mkdir -p "$mnt"
mount -t tmpfs -o size=48m,mode=0750 vt-e2e-disk-full "$mnt" || vt_skip "cannot mount a tmpfs on $mnt"

# 1) the recorder's own pages fill the disk
vt_domain_define_busy "$dom" "kvm:*" 256
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_wait_recording "$dom" 20 || vt_fail "$dom: the hook started no recording"
run1=$(basename "$("$VT_CLI" path "$dom")")
wait_warning "$run1" "host disk full" 20 || vt_fail "$dom/$run1: no disk-full warning within 20 s ($(df -h "$mnt" | tail -1))"
vt_log "$dom/$run1: the recorder stopped spooling: $(df -h --output=used,avail "$mnt" | tail -1 | xargs) used/free"
vt_spool_snapshot "$dom" pages1 >pages1.n
virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy failed"
st=$(vt_wait_final "$dom" 60) || vt_fail "$dom/$run1: not final after destroy ($st)"
vt_check_state "$dom" "$run1" incomplete "^host disk full \(no space left on device\): host pages dropped$"
vt_log "$dom/$run1: spooled $(vt_manifest "$dom" "$run1" 'm["recorder"]["spool_bytes"]') bytes, dropped $(vt_manifest "$dom" "$run1" 'm["recorder"]["disk_full_dropped_bytes"]') for want of space ($(cat pages1.n))"
vt_check_kept "$dom" "$run1" pages1
[ -d "$mnt/$run1/spool" ] && vt_fail "$dom/$run1: the spool is still there"
vt_check_clean "$dom" 10
rm -rf "${mnt:?}/$run1"

# 2) another process fills the disk
virsh_ undefine "$dom" >/dev/null || vt_fail "virsh undefine $dom failed"
vt_domain_define_busy "$dom" "kvm:kvm_entry,kvm:kvm_exit,kvm:kvm_pio,sched:*,irq:*" 32
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom (again) failed"
vt_wait_recording "$dom" 20 || vt_fail "$dom: the hook started no second recording"
run2=$(basename "$("$VT_CLI" path "$dom")")
vt_wait_spool_pages "$dom" 8 15 || vt_fail "$dom: the spool holds less than 8 pages after 15 s"
rec=$(vt_recorder_pids "$dom")
vt_spool_snapshot "$dom" pages2 >pages2.n
dd if=/dev/zero of="$mnt/filler" bs=1M 2>dd.err && vt_fail "dd did not fill $mnt"
grep -q "No space left on device" dd.err || vt_fail "dd: $(tail -1 dd.err)"
vt_log "$mnt filled by dd ($(du -m "$mnt/filler" | cut -f1) MiB)"
wait_warning "$run2" "host disk full" 20 || vt_fail "$dom/$run2: no disk-full warning within 20 s"
t0=$(cpu_ticks "$rec")
sleep 2
t1=$(cpu_ticks "$rec")
vt_log "$dom/$run2: recorder $rec used $((t1 - t0)) clock ticks of CPU in 2 s on the full disk"
[ $((t1 - t0)) -lt 50 ] || vt_fail "recorder $rec spins on the full disk ($((t1 - t0)) ticks in 2 s)"
virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy failed"
for _ in $(seq 300); do [ -z "$(vt_recorder_pids "$dom")" ] && break; sleep 0.1; done
[ -z "$(vt_recorder_pids "$dom")" ] || vt_fail "$dom: the recorder does not end on the full disk"
vt_check_state "$dom" "$run2" finalizing "no space left on device.*finalizing stopped: no space left on device for the archive$"
"$VT_CLI" status | grep -q "^$dom .* disk-full" || vt_fail "status does not say disk-full: $("$VT_CLI" status)"
"$VT_CLI" recover "$dom" >recover.txt 2>&1 && vt_fail "recover succeeded on the full disk"
vt_log "recover on the full disk: $(tail -1 recover.txt)"
[ "$(vt_manifest "$dom" "$run2" 'm["state"]')" = finalizing ] || vt_fail "a failed recover changed the state"
rm -f "$mnt/filler"
timeout 60 "$VT_CLI" recover "$dom" >recover.txt 2>&1 || vt_fail "recover failed with space back: $(cat recover.txt)"
grep -q "^$dom/$run2: incomplete$" recover.txt || vt_fail "recover did not finalize $run2: $(cat recover.txt)"
vt_check_state "$dom" "$run2" incomplete "^host disk full \(no space left on device\): host pages dropped; finalizing stopped: no space left on device for the archive$"
vt_check_kept "$dom" "$run2" pages2
vt_check_clean "$dom" 10
echo "PASS: $(basename "$0") ($(vt_elapsed))"
