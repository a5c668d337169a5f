#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real libvirtd, installed hook: a type='kvm' domain with 2 vCPUs is started and
# destroyed; its latest run must become complete, and its manifest's per-vCPU
# offset timeline must hold exactly the kvm_write_tsc_offset writes of that
# QEMU's vCPU threads that `trace-cmd report host.dat` shows (source
# tracepoint), nothing of another process. Then list/show/path/report/verify/
# export on the stored run.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 120 "$@"
. "$(dirname "$0")/libvirt.sh"

vt_need_libvirt
vt_workdir libvirt-lifecycle
dom=vt-e2e-$$-1
trap 'vt_domains_cleanup' EXIT
trap 'exit 124' TERM INT

vt_domain_define "$dom" 2
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_log "$dom started"
sleep 1
pid=$(vt_qemu_threads "$dom" threads.txt) && [ -n "$pid" ] || vt_fail "$dom: no QEMU pid"
vt_wait_recording "$dom" 10 || vt_fail "$dom: no run recording 10 s after the start (hook not called?)"
vt_log "$dom recording, QEMU pid $pid"
# another KVM process writes TSC offsets meanwhile: none of them may show up
noise=
if command -v qemu-system-x86_64 >/dev/null; then
	qemu-system-x86_64 -enable-kvm -smp 1 -m 64 -display none -nodefaults -S \
		-name guest=vt-noise,debug-threads=on </dev/null >noise.log 2>&1 &
	noise=$!
fi
sleep 2
if [ -n "$noise" ]; then
	grep -q 'CPU 0/KVM' /proc/"$noise"/task/*/comm 2>/dev/null &&
		vt_log "noise QEMU $noise created a vCPU while $dom recorded"
	kill "$noise" 2>/dev/null
	wait "$noise" 2>/dev/null
fi
virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy $dom failed"
vt_log "$dom destroyed"
state=$(vt_wait_final "$dom" 60) || vt_fail "$dom: latest run still '$state' 60 s after destroy"
vt_log "$dom: run $state"
[ "$state" = complete ] || { "$VT_CLI" show "$dom"; vt_fail "$dom: run is $state, want complete"; }

vt_check_offsets "$dom" threads.txt "$pid"

# the CLI on the stored run
"$VT_CLI" list >list.txt || vt_fail "virt-trace list failed"
grep -q "^$dom .* complete " list.txt || { cat list.txt; vt_fail "list does not show $dom complete"; }
"$VT_CLI" show "$dom" >show.txt || vt_fail "virt-trace show $dom failed"
grep -q '^sync: *tracepoint' show.txt || { cat show.txt; vt_fail "show: sync source is not tracepoint"; }
grep -q "vCPU 1 " show.txt || { cat show.txt; vt_fail "show lists no vCPU 1"; }
dir=$("$VT_CLI" path "$dom") && [ -f "$dir/manifest.json" ] || vt_fail "path: no run directory"
run=${dir##*/}
[ "$("$VT_CLI" path "$dom" "$run")" = "$dir" ] || vt_fail "path DOMAIN RUN differs from path DOMAIN"
"$VT_CLI" report "$dom" --events kvm_write_tsc_offset >report.txt || vt_fail "report $dom failed"
[ "$(grep -c kvm_write_tsc_offset report.txt)" -ge 2 ] || vt_fail "report shows no offset writes"
"$VT_CLI" report "$dir" --events kvm_write_tsc_offset | cmp -s - report.txt ||
	vt_fail "report DIR and report DOMAIN differ"
"$VT_CLI" verify "$dom" "$run" >verify.txt || { cat verify.txt; vt_fail "verify $dom $run failed"; }
"$VT_CLI" export "$dom" -o run.tar.zst || vt_fail "export failed"
tar --zstd -tf run.tar.zst >members.txt || vt_fail "run.tar.zst is not a zstd tar"
grep -q "^$dom-$run/host.dat$" members.txt && grep -q "^$dom-$run/manifest.json$" members.txt ||
	{ cat members.txt; vt_fail "archive lacks host.dat or manifest.json"; }
mkdir x && tar --zstd -xf run.tar.zst -C x && cmp -s "x/$dom-$run/host.dat" "$dir/host.dat" ||
	vt_fail "host.dat in the archive differs from the run's"
"$VT_CLI" path "$dom" 19700101T000000Z >/dev/null 2>err.txt && vt_fail "path of a missing run succeeded"
grep -q '^virt-trace: ' err.txt || vt_fail "error line does not start with 'virt-trace: '"
[ "$(wc -l <err.txt)" = 1 ] || vt_fail "more than one error line: $(cat err.txt)"
vt_log "list, show, path, report, verify and export work on $dom/$run"
for inst in "virt-trace-$dom" "virt-trace-$dom-tsc"; do
	[ -d "$VT_TRACEFS/instances/$inst" ] && vt_fail "instance $inst left behind"
done
echo "PASS: $(basename "$0") ($(vt_elapsed))"
