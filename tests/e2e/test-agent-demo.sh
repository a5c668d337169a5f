#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The demo end to end, with real libvirtd, QEMU (TCG) and qemu-ga: examples/demo
# under a unique domain name boots the demo guest (no virt-trace-agent in the
# image), the collector pushes the agent in through qemu-ga and starts it, the
# guest workload runs, the guest is shut down. Then, on the stored run: it is
# complete, with guest.dat; `trace-cmd report -i host.dat -i guest.dat`
# interleaves host and guest events in timestamp order; guest.dat holds the
# workload's sched_switch events; the manifest's offset source is probe with
# error_ticks > 0; every guest event lies within the run's host time; the
# msr:write_msr marker of wrtsc (MSR 0x10) stands in guest.dat and the manifest
# names a boundary or marker for it (tests/e2e/agent-checks.py); the guest step
# ran sandboxed (guest_sandbox) and the recorder kept at most CAP_CHOWN and
# CAP_SETPCAP (recorder.privileges).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 240 "$@"
. "$(dirname "$0")/libvirt.sh"

VT_AGENT=/usr/lib/virt-trace/virt-trace-agent

vt_need_libvirt_tcg
[ -x "$VT_AGENT" ] || vt_skip "guest agent not installed at $VT_AGENT (agent/guest not built yet?)"
"$VT_CLI" --help 2>&1 | grep -qE '^ +agent-install ' ||
	vt_skip "$VT_CLI has no collector (no agent-install verb in virt-trace --help)"
vt_need_cmd gcc cpio gzip modprobe
vt_workdir agent-demo
dom=vt-e2e-$$-demo
console=/var/log/libvirt/qemu/$dom-console.log # examples/demo's
VT_CONSOLES+=("$console")
trap vt_domains_cleanup EXIT
trap 'exit 124' TERM INT

# 1. The image (cached; an input this machine lacks: skip).
vt_demo_image
zcat "$image/initrd.img" | cpio -t --quiet 2>/dev/null | grep -q 'virt-trace-agent' &&
	vt_fail "the demo image contains virt-trace-agent (it must arrive by the collector's push)"
vt_log "$(cat image.log)"

# 2. The demo under this test's name.
VT_DOMAINS+=("$dom")
VT_DEMO_IMAGE_DIR=$image "$VT_SOURCE_DIR/examples/demo" --name "$dom" --seconds 20 --lines 10 \
	>demo.log 2>&1
rc=$?
sed -n '1,8p' demo.log
[ $rc = 0 ] || {
	cat demo.log
	tail -20 "$console"
	vt_fail "examples/demo --name $dom: $(grep '^demo: ' demo.log | tail -1)"
}
agent_ms=$(sed -nE 's/.*guest agent answers ([0-9]+) ms after the start.*/\1/p' demo.log)
vt_log "demo done: qemu-ga answered ${agent_ms:-?} ms after virsh start"

# 3. The run: complete, guest.dat beside host.dat.
dir=$("$VT_CLI" path "$dom") || vt_fail "virt-trace path $dom failed"
state=$(vt_latest_state "$dom")
[ "$state" = complete ] || { "$VT_CLI" show "$dom"; vt_fail "$dom: run is $state, want complete"; }
[ -s "$dir/host.dat" ] || vt_fail "$dom: no host.dat in $dir"
[ -s "$dir/guest.dat" ] || {
	"$VT_CLI" show "$dom"
	tail -20 "$console"
	vt_fail "$dom: no guest.dat in $dir (the agent's half is missing)"
}
cp "$dir/manifest.json" manifest.json
# the recorder's guest step ran sandboxed, and the recorder itself kept only two capabilities
python3 - manifest.json <<'PY' || vt_fail "$dom: guest step or recorder not confined (manifest above)"
import json, sys
m = json.load(open(sys.argv[1]))
sb, rp = m.get("guest_sandbox", {}), m.get("recorder", {}).get("privileges", {})
print("guest_sandbox:", sb, "\nrecorder.privileges:", rp)
ok = (sb.get("no_new_privs") is True and sb.get("capabilities") == "0x0" and
      sb.get("bounding_set") == "0x0" and sb.get("writes_confined") is True and
      sb.get("result") == "ok" and rp.get("no_new_privs") is True and
      # CAP_SYS_ADMIN too where the kernel has no Landlock (the step's mount namespace)
      int(rp.get("capabilities", "0xffff"), 16) &
      ~(0x101 | (0 if sb.get("landlock_abi") else 1 << 21)) == 0)
sys.exit(not ok)
PY

# 4. trace-cmd reads them, alone and together (host first).
trace-cmd report --raw-ts -i "$dir/guest.dat" >guest.txt 2>guest.err ||
	{ head -5 guest.err; vt_fail "trace-cmd report cannot read guest.dat"; }
trace-cmd report --raw-ts -i "$dir/host.dat" >host.txt 2>host.err ||
	{ head -5 host.err; vt_fail "trace-cmd report cannot read host.dat"; }
trace-cmd report --raw-ts -i "$dir/host.dat" -i "$dir/guest.dat" >both.txt 2>both.err ||
	{ head -5 both.err; vt_fail "trace-cmd report -i host.dat -i guest.dat failed"; }
vt_log "trace-cmd report: $(vt_count_events host.txt) host, $(vt_count_events guest.txt) guest events"

# 5. Interleaving, workload, probe, bounds, marker.
python3 "$VT_SOURCE_DIR/tests/e2e/agent-checks.py" "$dir" both.txt guest.txt host.txt >checks.txt 2>&1
rc=$?
cat checks.txt
[ $rc = 0 ] || { "$VT_CLI" show "$dom"; vt_fail "$(grep '^FAIL: ' checks.txt | sed 's/^FAIL: //' | tail -1)"; }
"$VT_CLI" show "$dom" >show.txt || vt_fail "virt-trace show $dom failed"
grep -qi 'probe' show.txt || { cat show.txt; vt_fail "virt-trace show $dom does not name the probe source"; }
echo "PASS: $(basename "$0") ($(vt_elapsed))"
