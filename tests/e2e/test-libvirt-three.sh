#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real libvirtd, installed hook: three domains started at the same moment and
# destroyed in another order give three separate, correct runs (each one's
# offsets are its own QEMU's writes), three archives, and no virt-trace
# instance left in tracefs.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 120 "$@"
. "$(dirname "$0")/libvirt.sh"

vt_need_libvirt
vt_workdir libvirt-three
trap 'vt_domains_cleanup' EXIT
trap 'exit 124' TERM INT

doms=(vt-e2e-$$-a vt-e2e-$$-b vt-e2e-$$-c)
for d in "${doms[@]}"; do
	vt_domain_define "$d" 2
done
pids=()
for d in "${doms[@]}"; do
	virsh_ start "$d" >"start-$d.log" 2>&1 &
	pids+=($!)
done
for i in 0 1 2; do
	wait "${pids[$i]}" || { cat "start-${doms[$i]}.log"; vt_fail "virsh start ${doms[$i]} failed"; }
done
vt_log "started ${doms[*]} at once"
sleep 1
declare -A qpid
for d in "${doms[@]}"; do
	qpid[$d]=$(vt_qemu_threads "$d" "threads-$d.txt")
	[ -n "${qpid[$d]}" ] || vt_fail "$d: no QEMU pid"
	vt_wait_recording "$d" 10 || vt_fail "$d: no run recording"
done
sleep 1
for d in "${doms[2]}" "${doms[0]}" "${doms[1]}"; do
	virsh_ destroy "$d" >/dev/null || vt_fail "virsh destroy $d failed"
	vt_log "$d destroyed"
	sleep 0.5
done
for d in "${doms[@]}"; do
	state=$(vt_wait_final "$d" 60) || vt_fail "$d: latest run still '$state' 60 s after destroy"
	[ "$state" = complete ] || { "$VT_CLI" show "$d"; vt_fail "$d: run is $state"; }
	vt_check_offsets "$d" "threads-$d.txt" "${qpid[$d]}"
	"$VT_CLI" export "$d" -o "$d.tar.zst" || vt_fail "export $d failed"
	tar --zstd -tf "$d.tar.zst" >"$d.members" || vt_fail "$d.tar.zst is not a zstd tar"
	grep -q "/host.dat$" "$d.members" || vt_fail "$d.tar.zst has no host.dat"
done
# three different runs, one per domain
dirs=$(for d in "${doms[@]}"; do "$VT_CLI" path "$d"; done | sort -u | wc -l)
[ "$dirs" = 3 ] || vt_fail "expected 3 run directories, got $dirs"
left=$(cd "$VT_TRACEFS/instances" && for i in virt-trace-vt-e2e-$$-*; do [ -e "$i" ] && echo "$i"; done)
[ -z "$left" ] || vt_fail "instances left in tracefs: $left"
vt_log "3 complete runs with their own offsets, 3 archives, no instance left"
echo "PASS: $(basename "$0") ($(vt_elapsed))"
